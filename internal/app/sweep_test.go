package app

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/auther/auther/internal/id"
	"github.com/auther/auther/internal/metrics"
	"github.com/auther/auther/internal/store"
	"github.com/auther/auther/internal/testdb"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The sweeper removes every expired session and verification, however many
// batches that takes, and nothing that is still live.
func TestSweepOnceDeletesAllExpiredInBatches(t *testing.T) {
	st := testdb.SQLite(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	u := &store.User{ID: id.New(), Name: "s", Email: "sweep@example.com", CreatedAt: now, UpdatedAt: now}
	if err := st.CreateUser(ctx, u, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	const expired = 2300 // more than two batches of 1,000
	for i := range expired + 1 {
		exp := now.Add(-time.Minute)
		if i == expired {
			exp = now.Add(time.Hour) // the one live session
		}
		se := &store.Session{ID: id.New(), TokenHash: id.New(), UserID: u.ID, ExpiresAt: exp, CreatedAt: now, UpdatedAt: now}
		if err := st.CreateSession(ctx, se); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		st.CreateVerification(ctx, &store.Verification{ID: id.New(), Identifier: "v" + string(rune('a'+i)), Value: "x",
			ExpiresAt: now.Add(-time.Second), CreatedAt: now, UpdatedAt: now}, nil)
	}
	met := metrics.New()
	SweepOnce(ctx, st, met, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var left int
	st.DB().QueryRow(`SELECT count(*) FROM session`).Scan(&left)
	if left != 1 {
		t.Errorf("%d sessions left, want only the live one", left)
	}
	st.DB().QueryRow(`SELECT count(*) FROM verification`).Scan(&left)
	if left != 0 {
		t.Errorf("%d expired verifications left", left)
	}
	if got := testutil.ToFloat64(met.Swept.WithLabelValues("session")); got != expired {
		t.Errorf("swept-sessions metric = %v, want %d", got, expired)
	}
}
