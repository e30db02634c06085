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
	// then call Complete (applied) or Release (failed) with the claim
	// Begin returned.
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
//	Begin → DedupNew, claim → (handler) → Complete(claim)  or  Release(claim)
//
// A claim that is never completed nor released (the process died, or the
// handler outran the lease) expires after a lease, after which Begin hands
// the id out again with a new claim. Complete and Release act only while
// the caller's claim is the current one: a holder whose claim was taken
// over cannot release the new holder's claim (which would let a third
// delivery apply the event concurrently), nor complete it.
type Deduper interface {
	// Begin claims id. The claim is meaningful only with DedupNew.
	Begin(ctx context.Context, id string) (state DedupState, claim int64, err error)
	// Complete marks id processed, if claim is still the current claim
	// (or already completed it); otherwise it returns ErrClaimLost.
	Complete(ctx context.Context, id string, claim int64) error
	// Release gives id up so that a retry can apply it, if claim is still
	// the current, unfinished claim; otherwise it does nothing.
	Release(ctx context.Context, id string, claim int64) error
}

// ErrClaimLost: the claim outlived its lease and another delivery took the
// event over (or it was released), so it cannot be completed with this
// claim.
var ErrClaimLost = errors.New("auther: the webhook event's claim was taken over by another delivery")

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
	claims    int64
}

type memEntry struct {
	at    time.Time // claimed at, or completed at when done
	claim int64
	done  bool
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

// Begin implements Deduper. Claims are numbered 1, 2, 3…
func (d *MemoryDeduper) Begin(_ context.Context, id string) (DedupState, int64, error) {
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
			return DedupDone, 0, nil
		}
		if now.Sub(e.at) < orDefault(d.Lease, DefaultLease) {
			return DedupBusy, 0, nil
		}
	}
	d.claims++
	d.seen[id] = memEntry{at: now, claim: d.claims}
	return DedupNew, d.claims, nil
}

// Complete implements Deduper.
func (d *MemoryDeduper) Complete(_ context.Context, id string, claim int64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.seen[id]
	if !ok || e.claim != claim {
		return ErrClaimLost
	}
	if !e.done {
		d.seen[id] = memEntry{at: d.now(), claim: claim, done: true}
	}
	return nil
}

// Release implements Deduper.
func (d *MemoryDeduper) Release(_ context.Context, id string, claim int64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e, ok := d.seen[id]; ok && !e.done && e.claim == claim {
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
// event was applied (NULL while in progress), both unix milliseconds. The
// claim Begin returns is the received_at it wrote; Complete and Release
// match it. It works on SQLite and PostgreSQL (INSERT … ON CONFLICT DO
// NOTHING).
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

func (d *SQLDeduper) check() error {
	if d.DB == nil {
		return errors.New("auther: SQLDeduper.DB is nil")
	}
	if !identRe.MatchString(d.table()) {
		return fmt.Errorf("auther: invalid table name %q", d.table())
	}
	return nil
}

// Schema returns the CREATE TABLE statement (the same on both dialects),
// or an error when the table name is not a plain (optionally
// schema-qualified) SQL identifier.
func (d *SQLDeduper) Schema() (string, error) {
	if !identRe.MatchString(d.table()) {
		return "", fmt.Errorf("auther: invalid table name %q", d.table())
	}
	return d.q(`CREATE TABLE IF NOT EXISTS $T (
	id TEXT PRIMARY KEY,
	received_at BIGINT NOT NULL,
	processed_at BIGINT NULL
)`), nil
}

// Migrate creates the table if it does not exist.
func (d *SQLDeduper) Migrate(ctx context.Context) error {
	if err := d.check(); err != nil {
		return err
	}
	ddl, err := d.Schema()
	if err != nil {
		return err
	}
	_, err = d.DB.ExecContext(ctx, ddl)
	return err
}

// Begin implements Deduper. The claim is the received_at it wrote (unix
// ms); a takeover happens a lease after the claim it replaces, so the two
// differ.
func (d *SQLDeduper) Begin(ctx context.Context, id string) (DedupState, int64, error) {
	if err := d.check(); err != nil {
		return 0, 0, err
	}
	for attempt := 0; attempt < 3; attempt++ {
		now := d.now().UnixMilli()
		res, err := d.DB.ExecContext(ctx, d.q(`INSERT INTO $T (id, received_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`), id, now)
		if err != nil {
			return 0, 0, err
		}
		if n, err := res.RowsAffected(); err != nil {
			return 0, 0, err
		} else if n == 1 {
			return DedupNew, now, nil
		}
		var received int64
		var processed sql.NullInt64
		err = d.DB.QueryRowContext(ctx, d.q(`SELECT received_at, processed_at FROM $T WHERE id = ?`), id).Scan(&received, &processed)
		if errors.Is(err, sql.ErrNoRows) {
			continue // released in between: try to claim again
		}
		if err != nil {
			return 0, 0, err
		}
		if processed.Valid {
			return DedupDone, 0, nil
		}
		if now-received < orDefault(d.Lease, DefaultLease).Milliseconds() {
			return DedupBusy, 0, nil
		}
		// The claim outlived its lease (its holder died or is too slow):
		// take it over, unless someone else just did.
		res, err = d.DB.ExecContext(ctx, d.q(`UPDATE $T SET received_at = ? WHERE id = ? AND processed_at IS NULL AND received_at = ?`), now, id, received)
		if err != nil {
			return 0, 0, err
		}
		if n, err := res.RowsAffected(); err != nil {
			return 0, 0, err
		} else if n == 1 {
			return DedupNew, now, nil
		}
		return DedupBusy, 0, nil
	}
	return DedupBusy, 0, nil
}

// Complete implements Deduper.
func (d *SQLDeduper) Complete(ctx context.Context, id string, claim int64) error {
	if err := d.check(); err != nil {
		return err
	}
	return d.complete(ctx, d.DB, id, claim)
}

// CompleteTx is Complete inside the caller's transaction: the event is
// marked processed if and only if tx commits, so when tx also holds the
// event's writes (ShadowStore.ApplyTx, or the app's own), the event is
// applied exactly once even if the process dies between the writes and
// WebhookHandler's own Complete. claim is WebhookClaim(ctx) in
// WebhookConfig.Handle. tx must be on the database of d.DB. It returns
// ErrClaimLost when another delivery took the event over: roll back.
func (d *SQLDeduper) CompleteTx(ctx context.Context, tx *sql.Tx, id string, claim int64) error {
	if err := d.check(); err != nil {
		return err
	}
	if tx == nil {
		return errors.New("auther: CompleteTx with a nil transaction")
	}
	return d.complete(ctx, tx, id, claim)
}

func (d *SQLDeduper) complete(ctx context.Context, ex querier, id string, claim int64) error {
	res, err := ex.ExecContext(ctx, d.q(`UPDATE $T SET processed_at = COALESCE(processed_at, ?) WHERE id = ? AND received_at = ?`), d.now().UnixMilli(), id, claim)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrClaimLost
	}
	return nil
}

// Release implements Deduper.
func (d *SQLDeduper) Release(ctx context.Context, id string, claim int64) error {
	if err := d.check(); err != nil {
		return err
	}
	_, err := d.DB.ExecContext(ctx, d.q(`DELETE FROM $T WHERE id = ? AND received_at = ? AND processed_at IS NULL`), id, claim)
	return err
}

// Prune forgets ids processed (or claimed and abandoned) before cutoff;
// run it daily with cutoff = now - DefaultRetention. Deliveries of pruned
// ids would be applied again, but Auther stops retrying long before.
func (d *SQLDeduper) Prune(ctx context.Context, cutoff time.Time) (int64, error) {
	if err := d.check(); err != nil {
		return 0, err
	}
	ms := cutoff.UnixMilli()
	res, err := d.DB.ExecContext(ctx, d.q(`DELETE FROM $T WHERE received_at < ? AND (processed_at IS NULL OR processed_at < ?)`), ms, ms)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
