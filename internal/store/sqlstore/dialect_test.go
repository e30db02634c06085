package sqlstore

import (
	"testing"
	"time"
)

func TestScanTimeFormats(t *testing.T) {
	want := time.Date(2026, 11, 29, 20, 30, 55, 123_000_000, time.UTC)
	for _, in := range []any{
		"2026-11-29T20:30:55.123Z",         // Auther's and Better Auth's SQLite format
		[]byte("2026-11-29T20:30:55.123Z"), // as some drivers return text
		"2026-11-29T21:30:55.123+01:00",    // RFC 3339 with an offset
		"2026-11-29 20:30:55.123+00:00",    // modernc's own time format
		want.UnixMilli(),                   // unix milliseconds
		want.In(time.FixedZone("x", 3600)), // a time.Time from pgx
	} {
		var got time.Time
		if err := (scanTime{&got}).Scan(in); err != nil || !got.Equal(want) {
			t.Errorf("Scan(%v) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []any{"2026-13-29T20:30:55.123Z", "yesterday", 3.5, nil} {
		var got time.Time
		if err := (scanTime{&got}).Scan(bad); err == nil {
			t.Errorf("Scan(%v) accepted: %v", bad, got)
		}
	}
}

func TestRebind(t *testing.T) {
	if got := postgresDialect.q(`SELECT a FROM t WHERE b = ? AND c IN (?, ?)`); got != `SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)` {
		t.Errorf("rebind = %q", got)
	}
	if got := sqliteDialect.q(`x = ?`); got != `x = ?` {
		t.Errorf("sqlite rebind changed the query: %q", got)
	}
}

func BenchmarkScanTime(b *testing.B) {
	var t time.Time
	for b.Loop() {
		(scanTime{&t}).Scan("2026-11-29T20:30:55.123Z")
	}
}
