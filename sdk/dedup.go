package sdk

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DedupState is what a Deduper says about an event id.
type DedupState int

const (
	// DedupNew: the caller now holds the id and must process the event,
	// then call Complete (applied) or Release (failed).
	DedupNew DedupState = iota
	// DedupDone: the event was processed already.
	DedupDone
	// DedupBusy: another delivery holds the id and has not finished.
	DedupBusy
)

// Deduper remembers which webhook events were processed, in two phases so
// that two concurrent deliveries of one event never both apply it and a
// failed one can be retried:
//
//	Begin → DedupNew → (handler) → Complete  or  Release
//
// A claim that is never completed nor released (the process died) expires
// after a lease, after which Begin hands the id out again.
type Deduper interface {
	Begin(ctx context.Context, id string) (DedupState, error)
	Complete(ctx context.Context, id string) error
	Release(ctx context.Context, id string) error
}

// DefaultLease is how long an unfinished claim blocks other deliveries of
// the same event; it must exceed the longest a handler runs.
const DefaultLease = 5 * time.Minute

// DefaultRetention is how long processed ids are remembered.
const DefaultRetention = 7 * 24 * time.Hour

// MemoryDeduper is a Deduper for a single process. Processed ids are
// forgotten after Retention.
type MemoryDeduper struct {
	Lease     time.Duration
	Retention time.Duration
	Now       func() time.Time

	mu        sync.Mutex
	seen      map[string]memEntry
	lastPrune time.Time
}

type memEntry struct {
	at   time.Time // claimed at, or completed at when done
	done bool
}

// NewMemoryDeduper returns a MemoryDeduper with the default lease and
// retention.
func NewMemoryDeduper() *MemoryDeduper { return &MemoryDeduper{} }

func (d *MemoryDeduper) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func orDefault(v, def time.Duration) time.Duration {
	if v <= 0 {
		return def
	}
	return v
}

// Begin implements Deduper.
func (d *MemoryDeduper) Begin(_ context.Context, id string) (DedupState, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	if d.seen == nil {
		d.seen = make(map[string]memEntry)
	}
	if now.Sub(d.lastPrune) > time.Minute {
		d.lastPrune = now
		keep := orDefault(d.Retention, DefaultRetention)
		for k, e := range d.seen {
			if e.done && now.Sub(e.at) > keep {
				delete(d.seen, k)
			}
		}
	}
	if e, ok := d.seen[id]; ok {
		if e.done {
			return DedupDone, nil
		}
		if now.Sub(e.at) < orDefault(d.Lease, DefaultLease) {
			return DedupBusy, nil
		}
	}
	d.seen[id] = memEntry{at: now}
	return DedupNew, nil
}

// Complete implements Deduper.
func (d *MemoryDeduper) Complete(_ context.Context, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.seen == nil {
		d.seen = make(map[string]memEntry)
	}
	d.seen[id] = memEntry{at: d.now(), done: true}
	return nil
}

// Release implements Deduper.
func (d *MemoryDeduper) Release(_ context.Context, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e, ok := d.seen[id]; ok && !e.done {
		delete(d.seen, id)
	}
	return nil
}

// Dialect names the SQL flavour of a database handle: it decides the
// placeholder style and the DDL.
type Dialect int

const (
	// SQLite uses ? placeholders (also right for other ?-style drivers).
	SQLite Dialect = iota
	// Postgres uses $1, $2… placeholders.
	Postgres
)

func (d Dialect) String() string {
	if d == Postgres {
		return "postgres"
	}
	return "sqlite"
}

// rebind rewrites ? placeholders for the dialect. Queries in this package
// hold no ? inside literals.
func (d Dialect) rebind(q string) string {
	if d != Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$`)

// SQLDeduper is a Deduper over database/sql, shared by every replica of an
// app. Its table (default webhook_events_seen) holds one row per event id:
// received_at is when the current claim was taken and processed_at when the
// event was applied (NULL while in progress), both unix milliseconds. It
// works on SQLite and PostgreSQL (INSERT … ON CONFLICT DO NOTHING).
type SQLDeduper struct {
	DB      *sql.DB
	Dialect Dialect
	// Table defaults to webhook_events_seen.
	Table string
	// Lease defaults to DefaultLease.
	Lease time.Duration
	Now   func() time.Time
}

// NewSQLDeduper returns a SQLDeduper on the default table.
func NewSQLDeduper(db *sql.DB, dialect Dialect) *SQLDeduper {
	return &SQLDeduper{DB: db, Dialect: dialect}
}

func (d *SQLDeduper) table() string {
	if d.Table == "" {
		return "webhook_events_seen"
	}
	return d.Table
}

func (d *SQLDeduper) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *SQLDeduper) q(s string) string {
	return d.Dialect.rebind(strings.ReplaceAll(s, "$T", d.table()))
}

// Schema returns the CREATE TABLE statement (the same on both dialects).
func (d *SQLDeduper) Schema() string {
	return d.q(`CREATE TABLE IF NOT EXISTS $T (
	id TEXT PRIMARY KEY,
	received_at BIGINT NOT NULL,
	processed_at BIGINT NULL
)`)
}

// Migrate creates the table if it does not exist.
func (d *SQLDeduper) Migrate(ctx context.Context) error {
	if !identRe.MatchString(d.table()) {
		return fmt.Errorf("auther: invalid table name %q", d.table())
	}
	_, err := d.DB.ExecContext(ctx, d.Schema())
	return err
}

// Begin implements Deduper.
func (d *SQLDeduper) Begin(ctx context.Context, id string) (DedupState, error) {
	if !identRe.MatchString(d.table()) {
		return 0, fmt.Errorf("auther: invalid table name %q", d.table())
	}
	for attempt := 0; attempt < 3; attempt++ {
		now := d.now().UnixMilli()
		res, err := d.DB.ExecContext(ctx, d.q(`INSERT INTO $T (id, received_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`), id, now)
		if err != nil {
			return 0, err
		}
		if n, err := res.RowsAffected(); err != nil {
			return 0, err
		} else if n == 1 {
			return DedupNew, nil
		}
		var received int64
		var processed sql.NullInt64
		err = d.DB.QueryRowContext(ctx, d.q(`SELECT received_at, processed_at FROM $T WHERE id = ?`), id).Scan(&received, &processed)
		if errors.Is(err, sql.ErrNoRows) {
			continue // released in between: try to claim again
		}
		if err != nil {
			return 0, err
		}
		if processed.Valid {
			return DedupDone, nil
		}
		if now-received < orDefault(d.Lease, DefaultLease).Milliseconds() {
			return DedupBusy, nil
		}
		// The claim outlived its lease (its holder died): take it over,
		// unless someone else just did.
		res, err = d.DB.ExecContext(ctx, d.q(`UPDATE $T SET received_at = ? WHERE id = ? AND processed_at IS NULL AND received_at = ?`), now, id, received)
		if err != nil {
			return 0, err
		}
		if n, err := res.RowsAffected(); err != nil {
			return 0, err
		} else if n == 1 {
			return DedupNew, nil
		}
		return DedupBusy, nil
	}
	return DedupBusy, nil
}

// Complete implements Deduper.
func (d *SQLDeduper) Complete(ctx context.Context, id string) error {
	now := d.now().UnixMilli()
	res, err := d.DB.ExecContext(ctx, d.q(`UPDATE $T SET processed_at = ? WHERE id = ?`), now, id)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		_, err = d.DB.ExecContext(ctx, d.q(`INSERT INTO $T (id, received_at, processed_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING`), id, now, now)
		return err
	}
	return nil
}

// Release implements Deduper.
func (d *SQLDeduper) Release(ctx context.Context, id string) error {
	_, err := d.DB.ExecContext(ctx, d.q(`DELETE FROM $T WHERE id = ? AND processed_at IS NULL`), id)
	return err
}

// Prune forgets ids processed (or claimed and abandoned) before cutoff;
// run it daily with cutoff = now - DefaultRetention. Deliveries of pruned
// ids would be applied again, but Auther stops retrying long before.
func (d *SQLDeduper) Prune(ctx context.Context, cutoff time.Time) (int64, error) {
	ms := cutoff.UnixMilli()
	res, err := d.DB.ExecContext(ctx, d.q(`DELETE FROM $T WHERE received_at < ? AND (processed_at IS NULL OR processed_at < ?)`), ms, ms)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
