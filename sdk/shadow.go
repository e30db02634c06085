package sdk

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"regexp"
	"strings"
	"time"
)

// ShadowSchemaSQLite is the DDL of the shadow tables on SQLite (what
// ShadowStore.Migrate runs with the default table names).
//
// users.synced_at is the unix-millisecond version (Auther's createdAt or
// updatedAt) of the data last applied from Auther, NULL for a row made
// from token claims alone; an event older than it is not applied, so
// retried or reordered deliveries cannot roll a row back.
// user_tombstones.deleted_at is unix milliseconds too: both are compared
// in SQL, and integers compare the same on every engine and driver.
// A tombstone is kept until PruneTombstones removes it, which it only does
// when ShadowStore.MaxTokenLifetime is set.
const ShadowSchemaSQLite = `CREATE TABLE IF NOT EXISTS users (
	id TEXT PRIMARY KEY,
	email TEXT NOT NULL,
	name TEXT NOT NULL,
	email_verified BOOLEAN NOT NULL DEFAULT FALSE,
	image TEXT NULL,
	created_at TIMESTAMP NOT NULL,
	updated_at TIMESTAMP NOT NULL,
	synced_at BIGINT NULL
);
CREATE TABLE IF NOT EXISTS user_tombstones (
	id TEXT PRIMARY KEY,
	deleted_at BIGINT NOT NULL
);`

// ShadowSchemaPostgres is the DDL of the shadow tables on PostgreSQL.
const ShadowSchemaPostgres = `CREATE TABLE IF NOT EXISTS users (
	id TEXT PRIMARY KEY,
	email TEXT NOT NULL,
	name TEXT NOT NULL,
	email_verified BOOLEAN NOT NULL DEFAULT FALSE,
	image TEXT NULL,
	created_at TIMESTAMPTZ NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL,
	synced_at BIGINT NULL
);
CREATE TABLE IF NOT EXISTS user_tombstones (
	id TEXT PRIMARY KEY,
	deleted_at BIGINT NOT NULL
);`

// Errors of the shadow store.
var (
	// ErrUserDeleted: the user was deleted in Auther after the token was
	// issued (a tombstone says so), so the still-valid token must not
	// recreate the row. Answer it like an invalid token (401).
	ErrUserDeleted = errors.New("auther: user was deleted")
	// ErrNotAUser: the token was issued to a client for itself
	// (client_credentials), so there is no user to provision.
	ErrNotAUser = errors.New("auther: token subject is a client, not a user")
	// ErrNoShadowUser: no shadow row has this id.
	ErrNoShadowUser = errors.New("auther: no such shadow user")
)

// ShadowUser is the app's local copy of an Auther user.
type ShadowUser struct {
	ID            string    `json:"id"`
	Email         string    `json:"email"`
	Name          string    `json:"name"`
	EmailVerified bool      `json:"emailVerified"`
	Image         *string   `json:"image"`
	CreatedAt     time.Time `json:"createdAt"`
	UpdatedAt     time.Time `json:"updatedAt"`
	// SyncedAt is the version of the data last applied from Auther (zero
	// for a row made from token claims that no event has confirmed yet).
	SyncedAt time.Time `json:"-"`
}

// ShadowStore keeps the app's shadow copy of Auther's users in a table the
// app owns (FKs of the app's own tables point at users.id with ON DELETE
// CASCADE). It provisions users just in time from token claims, applies
// user webhooks and serves reconciliation. A deleted user's id is
// tombstoned: a token issued before the deletion never recreates the row,
// and neither does a late user.created, user.updated or user.verified.
//
// For SQLite, open the database with a busy timeout (for modernc.org/sqlite:
// "file:app.db?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)"), or
// concurrent first logins fail with "database is locked".
type ShadowStore struct {
	DB      *sql.DB
	Dialect Dialect
	// UsersTable and TombstonesTable default to users and user_tombstones.
	UsersTable      string
	TombstonesTable string
	// MaxTokenLifetime, when set, lets PruneTombstones remove tombstones
	// older than it (plus MaxLeeway). Set it to at least the longest
	// lifetime of an access token Auther issues to this app (the largest
	// access-token TTL among its clients: a client may be given up to a
	// year) and at least Auther's webhook retry window (--webhook-retry-for,
	// 24 h by default), or a still-valid token or a late event could bring a
	// deleted user back once the tombstone is gone. Zero (the default) keeps
	// tombstones forever, which is always safe: Auther never reuses a user
	// id, and a tombstone is one small row.
	MaxTokenLifetime time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// NewShadowStore returns a ShadowStore on the default tables.
func NewShadowStore(db *sql.DB, dialect Dialect) *ShadowStore {
	return &ShadowStore{DB: db, Dialect: dialect}
}

func (s *ShadowStore) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *ShadowStore) users() string {
	if s.UsersTable == "" {
		return "users"
	}
	return s.UsersTable
}

func (s *ShadowStore) tombstones() string {
	if s.TombstonesTable == "" {
		return "user_tombstones"
	}
	return s.TombstonesTable
}

func (s *ShadowStore) check() error {
	if s.DB == nil {
		return errors.New("auther: ShadowStore.DB is nil")
	}
	if !identRe.MatchString(s.users()) || !identRe.MatchString(s.tombstones()) {
		return fmt.Errorf("auther: invalid table names %q, %q", s.users(), s.tombstones())
	}
	return nil
}

var castRe = regexp.MustCompile(`\?::[a-z]+`)

// q substitutes table names ($U, $D) and, on SQLite, strips the casts
// (?::boolean) that PostgreSQL needs to type parameters of INSERT … SELECT.
func (s *ShadowStore) q(query string) string {
	query = strings.NewReplacer("$U", s.users(), "$D", s.tombstones()).Replace(query)
	if s.Dialect != Postgres {
		query = castRe.ReplaceAllString(query, "?")
	}
	return s.Dialect.rebind(query)
}

// Schema returns the DDL statements for the configured tables and dialect,
// or an error when a table name is not a plain (optionally
// schema-qualified) SQL identifier.
func (s *ShadowStore) Schema() ([]string, error) {
	if !identRe.MatchString(s.users()) || !identRe.MatchString(s.tombstones()) {
		return nil, fmt.Errorf("auther: invalid table names %q, %q", s.users(), s.tombstones())
	}
	ddl := ShadowSchemaSQLite
	if s.Dialect == Postgres {
		ddl = ShadowSchemaPostgres
	}
	ddl = strings.Replace(ddl, "EXISTS users (", "EXISTS "+s.users()+" (", 1)
	ddl = strings.Replace(ddl, "EXISTS user_tombstones (", "EXISTS "+s.tombstones()+" (", 1)
	var out []string
	for _, st := range strings.Split(ddl, ";") {
		if st = strings.TrimSpace(st); st != "" {
			out = append(out, st)
		}
	}
	return out, nil
}

// Migrate creates the shadow tables if they do not exist.
func (s *ShadowStore) Migrate(ctx context.Context) error {
	if err := s.check(); err != nil {
		return err
	}
	stmts, err := s.Schema()
	if err != nil {
		return err
	}
	for _, st := range stmts {
		if _, err := s.DB.ExecContext(ctx, st); err != nil {
			return err
		}
	}
	return nil
}

const userColumns = `id, email, name, email_verified, image, created_at, updated_at, synced_at`

type rowScanner interface{ Scan(...any) error }

// scanUser reads the userColumns, then into extra any further columns.
func scanUser(r rowScanner, extra ...any) (*ShadowUser, error) {
	var u ShadowUser
	var image sql.NullString
	var created, updated any
	var synced sql.NullInt64
	if err := r.Scan(append([]any{&u.ID, &u.Email, &u.Name, &u.EmailVerified, &image, &created, &updated, &synced}, extra...)...); err != nil {
		return nil, err
	}
	if image.Valid {
		u.Image = &image.String
	}
	var err error
	if u.CreatedAt, err = asTime(created); err != nil {
		return nil, fmt.Errorf("auther: users.created_at: %w", err)
	}
	if u.UpdatedAt, err = asTime(updated); err != nil {
		return nil, fmt.Errorf("auther: users.updated_at: %w", err)
	}
	if synced.Valid {
		u.SyncedAt = time.UnixMilli(synced.Int64).UTC()
	}
	return &u, nil
}

// asTime reads a timestamp column whatever form the driver returns it in.
func asTime(v any) (time.Time, error) {
	switch t := v.(type) {
	case time.Time:
		return t.UTC(), nil
	case []byte:
		return parseTimeText(string(t))
	case string:
		return parseTimeText(t)
	case int64:
		return time.Unix(t, 0).UTC(), nil
	case nil:
		return time.Time{}, nil
	}
	return time.Time{}, fmt.Errorf("unexpected %T", v)
}

func parseTimeText(s string) (time.Time, error) {
	for _, layout := range []string{
		time.RFC3339Nano,
		"2006-01-02 15:04:05.999999999-07:00",
		"2006-01-02 15:04:05.999999999 -0700 MST",
		"2006-01-02T15:04:05.999999999",
		"2006-01-02 15:04:05.999999999",
	} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("cannot parse %q as a time", s)
}

// Get returns the shadow row of id, or ErrNoShadowUser.
func (s *ShadowStore) Get(ctx context.Context, id string) (*ShadowUser, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	u, err := scanUser(s.DB.QueryRowContext(ctx, s.q(`SELECT `+userColumns+` FROM $U WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNoShadowUser
	}
	return u, err
}

// List returns up to limit shadow rows with ids above after, in the
// database's order of id (keyset pagination on the primary key).
func (s *ShadowStore) List(ctx context.Context, after string, limit int) ([]ShadowUser, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.DB.QueryContext(ctx, s.q(`SELECT `+userColumns+` FROM $U WHERE id > ? ORDER BY id LIMIT ?`), after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ShadowUser
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *u)
	}
	return out, rows.Err()
}

// Tombstoned reports whether id is tombstoned (its user was deleted).
func (s *ShadowStore) Tombstoned(ctx context.Context, id string) (bool, error) {
	if err := s.check(); err != nil {
		return false, err
	}
	var n int
	err := s.DB.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM $D WHERE id = ?`), id).Scan(&n)
	return n > 0, err
}

// ErrNoTokenLifetime: PruneTombstones was called without
// ShadowStore.MaxTokenLifetime, so no tombstone may be removed.
var ErrNoTokenLifetime = errors.New("auther: ShadowStore.MaxTokenLifetime is not set, so tombstones are kept forever")

// PruneTombstones deletes tombstones older than MaxTokenLifetime plus
// MaxLeeway: by then every token issued before the deletion has expired.
// Without MaxTokenLifetime it deletes nothing and returns
// ErrNoTokenLifetime.
func (s *ShadowStore) PruneTombstones(ctx context.Context) (int64, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	if s.MaxTokenLifetime <= 0 {
		return 0, ErrNoTokenLifetime
	}
	cutoff := s.now().Add(-s.MaxTokenLifetime - MaxLeeway).UnixMilli()
	res, err := s.DB.ExecContext(ctx, s.q(`DELETE FROM $D WHERE deleted_at < ?`), cutoff)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// issuedBound is the smallest deleted_at that refuses a token issued at
// iat: a tombstone refuses every token issued before the deletion, and
// MaxLeeway after it, for clocks that disagree. A token without iat is
// refused by any tombstone.
func issuedBound(iat time.Time) int64 {
	if iat.IsZero() {
		return math.MinInt64
	}
	return iat.Add(-MaxLeeway).UnixMilli()
}

// querier is what *sql.DB and *sql.Tx share.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// lockClass is the first key of the PostgreSQL advisory locks this package
// takes ("AUTH"), so they do not collide with an app's own.
const lockClass = 0x41555448

// userLockKey is the two-part key of id's advisory lock.
func userLockKey(id string) (int32, int32) {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int32(lockClass), int32(h.Sum32())
}

// txOptions are the options of the transactions this package opens. On
// PostgreSQL they are READ COMMITTED whatever the database's default: a
// write waits for a user's advisory lock and must then see what the lock's
// holder committed, while under REPEATABLE READ or SERIALIZABLE its
// snapshot would date from before the wait.
func (s *ShadowStore) txOptions() *sql.TxOptions {
	if s.Dialect == Postgres {
		return &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	}
	return nil
}

// BeginTx starts a transaction for ApplyTx (and, in the same transaction,
// SQLDeduper.CompleteTx): READ COMMITTED on PostgreSQL, as ApplyTx needs.
func (s *ShadowStore) BeginTx(ctx context.Context) (*sql.Tx, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	return s.DB.BeginTx(ctx, s.txOptions())
}

// withUserLock runs fn so that it cannot interleave with another write of
// the same user id. On PostgreSQL fn always runs in a transaction holding
// an advisory lock on the id, because under READ COMMITTED an "insert
// unless tombstoned" and a concurrent "tombstone, then delete" can
// otherwise both miss each other's uncommitted rows and leave a deleted
// user's row behind; the transaction is READ COMMITTED (see txOptions) so
// that the statements after the lock see what was committed while waiting.
// On SQLite writers are serialised by the database and fn runs in a
// transaction only when it asks for one (several writes that must commit
// together); single statements are atomic on their own.
//
// With a caller's transaction (tx != nil), fn runs in it after taking the
// lock there, and the caller commits.
func (s *ShadowStore) withUserLock(ctx context.Context, tx *sql.Tx, id string, needTx bool, fn func(querier) error) error {
	if tx != nil {
		if err := s.lockUser(ctx, tx, id); err != nil {
			return err
		}
		return fn(tx)
	}
	if s.Dialect != Postgres && !needTx {
		return fn(s.DB)
	}
	tx, err := s.DB.BeginTx(ctx, s.txOptions())
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := s.lockUser(ctx, tx, id); err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

func (s *ShadowStore) lockUser(ctx context.Context, tx *sql.Tx, id string) error {
	if s.Dialect != Postgres {
		return nil
	}
	k1, k2 := userLockKey(id)
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, k1, k2)
	return err
}

// getForToken reads id's row and whether a tombstone refuses a token issued
// at iat, in one statement.
func (s *ShadowStore) getForToken(ctx context.Context, ex querier, id string, iat time.Time) (*ShadowUser, bool, error) {
	var refused bool
	u, err := scanUser(ex.QueryRowContext(ctx, s.q(`SELECT `+userColumns+`,
	EXISTS (SELECT 1 FROM $D WHERE $D.id = $U.id AND $D.deleted_at >= ?)
FROM $U WHERE id = ?`), issuedBound(iat), id), &refused)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, ErrNoShadowUser
	}
	return u, refused, err
}

// EnsureFromClaims returns the shadow row of the token's user, creating it
// from the claims when absent (just-in-time provisioning), and reports
// whether it created it. Concurrent first requests of one user all get the
// same row (INSERT … ON CONFLICT DO NOTHING, then SELECT). An existing row
// is never modified here: webhooks and reconciliation keep it current.
//
// The new row is {id: sub, email: email or sub+"@unknown.local", name:
// name or email or sub, email_verified: email_verified, image: picture}.
// It returns ErrUserDeleted when the id is tombstoned and the token was
// issued before the deletion (or up to MaxLeeway after it, or carries no
// iat), however long ago that was, and ErrNotAUser for client_credentials
// tokens.
func (s *ShadowStore) EnsureFromClaims(ctx context.Context, c *Claims) (*ShadowUser, bool, error) {
	if c == nil || c.Subject == "" {
		return nil, false, errors.New("auther: claims without sub")
	}
	if c.IsClient() {
		return nil, false, ErrNotAUser
	}
	if err := s.check(); err != nil {
		return nil, false, err
	}
	u, refused, err := s.getForToken(ctx, s.DB, c.Subject, c.IssuedAt)
	switch {
	case err == nil && refused:
		return nil, false, ErrUserDeleted
	case err == nil:
		return u, false, nil
	case !errors.Is(err, ErrNoShadowUser):
		return nil, false, err
	}
	email := c.Email
	if email == "" {
		email = c.Subject + "@unknown.local"
	}
	name := c.Name
	if name == "" {
		name = c.Email
	}
	if name == "" {
		name = c.Subject
	}
	var image *string
	if c.Picture != "" {
		image = &c.Picture
	}
	now := s.now()
	created := false
	err = s.withUserLock(ctx, nil, c.Subject, false, func(ex querier) error {
		res, err := ex.ExecContext(ctx, s.q(`INSERT INTO $U (`+userColumns+`)
SELECT ?::text, ?::text, ?::text, ?::boolean, ?::text, ?::timestamptz, ?::timestamptz, NULL
WHERE NOT EXISTS (SELECT 1 FROM $D WHERE id = ?::text AND deleted_at >= ?::bigint)
ON CONFLICT (id) DO NOTHING`), c.Subject, email, name, c.EmailVerified, image, now, now, c.Subject, issuedBound(c.IssuedAt))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		created = n == 1
		u, refused, err = s.getForToken(ctx, ex, c.Subject, c.IssuedAt)
		return err
	})
	switch {
	case errors.Is(err, ErrNoShadowUser) || (err == nil && refused):
		// Nothing was inserted and no row is served: a tombstone refused it.
		return nil, false, ErrUserDeleted
	case err != nil:
		return nil, false, err
	}
	return u, created, nil
}

// Outcome says what applying an event or a resync did to the shadow table.
type Outcome string

const (
	OutcomeCreated   Outcome = "created"   // a row was inserted
	OutcomeUpdated   Outcome = "updated"   // an existing row was changed
	OutcomeDeleted   Outcome = "deleted"   // the row was deleted and the id tombstoned
	OutcomeUnchanged Outcome = "unchanged" // the row already held this or newer data
	OutcomeRefused   Outcome = "refused"   // the id is tombstoned; nothing written
	OutcomeIgnored   Outcome = "ignored"   // not a user event
)

// ApplyEvent applies a user.* event (see Apply) and ignores other types.
// Use it as, or from, WebhookConfig.Handle.
func (s *ShadowStore) ApplyEvent(ctx context.Context, e Event) error {
	_, err := s.Apply(ctx, e)
	return err
}

// Apply applies a user.* event and says what it did:
//   - user.created: insert the row, or fill the fields of a row made from
//     token claims (edge case "JIT before webhook");
//   - user.updated: upsert; user.verified: set email and email_verified
//     (inserting the row when absent);
//   - user.deleted: in one transaction, tombstone the id and delete the
//     row (the app's foreign keys cascade).
//
// Creations and updates of a tombstoned id are refused (OutcomeRefused,
// nil error, so that Auther does not retry them), and an event older than
// the data already applied changes nothing (OutcomeUnchanged). Applying an
// event twice leaves the row as applying it once did, so Apply is safe
// under at-least-once delivery; ApplyTx lets the app record the event as
// processed in the same transaction.
func (s *ShadowStore) Apply(ctx context.Context, e Event) (Outcome, error) {
	return s.apply(ctx, nil, e)
}

// ApplyTx is Apply inside the caller's transaction, which the caller
// commits: the app can then mark the event processed
// (SQLDeduper.CompleteTx) in the same transaction, so that it is applied
// exactly once even if the process dies right after. Begin tx with
// BeginTx (on PostgreSQL it must be READ COMMITTED); on SQLite, run
// CompleteTx first, so that the transaction takes the write lock with its
// first statement.
func (s *ShadowStore) ApplyTx(ctx context.Context, tx *sql.Tx, e Event) (Outcome, error) {
	if tx == nil {
		return "", errors.New("auther: ApplyTx with a nil transaction")
	}
	return s.apply(ctx, tx, e)
}

func (s *ShadowStore) apply(ctx context.Context, tx *sql.Tx, e Event) (Outcome, error) {
	switch e.Type {
	case EventUserCreated, EventUserUpdated, EventUserVerified, EventUserDeleted:
	default:
		return OutcomeIgnored, nil
	}
	if err := s.check(); err != nil {
		return "", err
	}
	u, err := e.User()
	if err != nil {
		return "", err
	}
	switch e.Type {
	case EventUserDeleted:
		return OutcomeDeleted, s.delete(ctx, tx, u.ID, u.DeletedAt)
	case EventUserCreated:
		at := u.CreatedAt
		if at.IsZero() {
			at = e.Timestamp
		}
		return s.write(ctx, tx, userWrite{id: u.ID, email: u.Email, name: u.Name, verified: u.EmailVerified,
			image: u.Image, imageSet: u.ImageSet, createdAt: at, updatedAt: at, version: at, setCreated: true})
	default:
		at := u.UpdatedAt
		if at.IsZero() {
			at = e.Timestamp
		}
		w := userWrite{id: u.ID, email: u.Email, name: u.Name, verified: u.EmailVerified,
			image: u.Image, imageSet: u.ImageSet, updatedAt: at, version: at}
		if e.Type == EventUserVerified && w.verified == nil {
			t := true
			w.verified = &t
		}
		return s.write(ctx, tx, w)
	}
}

// userWrite is an upsert of Auther's data: nil fields keep the row's value
// (or get a fallback on insert).
type userWrite struct {
	id, email  string
	name       *string
	verified   *bool
	image      *string
	imageSet   bool
	createdAt  time.Time // zero: now, on insert
	updatedAt  time.Time
	version    time.Time // becomes synced_at; older than the row's: no change
	setCreated bool      // overwrite created_at (user.created, reconciliation)
}

func (s *ShadowStore) write(ctx context.Context, tx *sql.Tx, w userWrite) (Outcome, error) {
	if w.id == "" {
		return "", errors.New("auther: user event without id")
	}
	now := s.now()
	created := w.createdAt
	if created.IsZero() {
		created = now
	}
	updated := w.updatedAt
	if updated.IsZero() {
		updated = now
	}
	email := w.email
	insName := w.name
	if insName == nil {
		insName = &email
	}
	insVerified := false
	if w.verified != nil {
		insVerified = *w.verified
	}
	var existed bool
	var n int64
	err := s.withUserLock(ctx, tx, w.id, false, func(ex querier) error {
		// Only to tell "created" from "updated" in the outcome.
		var one int
		err := ex.QueryRowContext(ctx, s.q(`SELECT 1 FROM $U WHERE id = ?`), w.id).Scan(&one)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		existed = err == nil
		res, err := ex.ExecContext(ctx, s.q(`INSERT INTO $U (`+userColumns+`)
SELECT ?::text, ?::text, ?::text, ?::boolean, ?::text, ?::timestamptz, ?::timestamptz, ?::bigint
WHERE NOT EXISTS (SELECT 1 FROM $D WHERE id = ?::text)
ON CONFLICT (id) DO UPDATE SET
	email = CASE WHEN ?::text = '' THEN $U.email ELSE excluded.email END,
	name = COALESCE(?::text, $U.name),
	email_verified = COALESCE(?::boolean, $U.email_verified),
	image = CASE WHEN ?::boolean THEN excluded.image ELSE $U.image END,
	created_at = CASE WHEN ?::boolean THEN excluded.created_at ELSE $U.created_at END,
	updated_at = excluded.updated_at,
	synced_at = excluded.synced_at
WHERE $U.synced_at IS NULL OR $U.synced_at <= excluded.synced_at`),
			w.id, email, *insName, insVerified, w.image, created, updated, w.version.UnixMilli(),
			w.id,
			email, w.name, w.verified, w.imageSet, w.setCreated)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	switch {
	case err != nil:
		return "", err
	case n == 0 && existed:
		return OutcomeUnchanged, nil
	case n == 0:
		return OutcomeRefused, nil
	case existed:
		return OutcomeUpdated, nil
	}
	return OutcomeCreated, nil
}

// rewrite overwrites id's row with Auther's copy a when the row's synced_at
// is still the one the caller read before fetching a (compare-and-set), and
// whatever version a carries. Reconciliation uses it when the version guard
// of write refuses a copy that differs: a row stamped with a version ahead
// of Auther's (a replica's clock ran fast) could otherwise never be fixed.
func (s *ShadowStore) rewrite(ctx context.Context, read *ShadowUser, a *AdminUser) (Outcome, error) {
	w := fromAdmin(a)
	syncedCond, args := "synced_at IS NULL", []any{}
	if !read.SyncedAt.IsZero() {
		syncedCond, args = "synced_at = ?::bigint", []any{read.SyncedAt.UnixMilli()}
	}
	updated := w.updatedAt
	if updated.IsZero() {
		updated = s.now()
	}
	var n int64
	err := s.withUserLock(ctx, nil, a.ID, false, func(ex querier) error {
		res, err := ex.ExecContext(ctx, s.q(`UPDATE $U SET email = ?::text, name = ?::text, email_verified = ?::boolean,
	image = ?::text, created_at = CASE WHEN ?::boolean THEN ?::timestamptz ELSE created_at END,
	updated_at = ?::timestamptz, synced_at = ?::bigint
WHERE id = ?::text AND `+syncedCond+` AND NOT EXISTS (SELECT 1 FROM $D WHERE $D.id = $U.id)`),
			append([]any{w.email, *w.name, *w.verified, w.image, w.setCreated, w.createdAt, updated, w.version.UnixMilli(), a.ID}, args...)...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	switch {
	case err != nil:
		return "", err
	case n == 0:
		return OutcomeUnchanged, nil
	}
	return OutcomeUpdated, nil
}

// Delete removes id's shadow row (the app's foreign keys cascade) and
// tombstones the id, in one transaction, so that tokens the user still
// holds cannot bring the row back through EnsureFromClaims.
func (s *ShadowStore) Delete(ctx context.Context, id string) error {
	if err := s.check(); err != nil {
		return err
	}
	return s.delete(ctx, nil, id, time.Time{})
}

// delete tombstones id as deleted at the later of now and deletedAt
// (Auther's time of the deletion, on the clock that stamps tokens' iat),
// and deletes the row. A tombstone that already exists keeps the later of
// the two times.
func (s *ShadowStore) delete(ctx context.Context, tx *sql.Tx, id string, deletedAt time.Time) error {
	if id == "" {
		return errors.New("auther: empty user id")
	}
	at := s.now()
	if deletedAt.After(at) {
		at = deletedAt
	}
	return s.withUserLock(ctx, tx, id, true, func(ex querier) error {
		if _, err := ex.ExecContext(ctx, s.q(`INSERT INTO $D (id, deleted_at) VALUES (?, ?)
ON CONFLICT (id) DO UPDATE SET deleted_at = CASE WHEN excluded.deleted_at > $D.deleted_at THEN excluded.deleted_at ELSE $D.deleted_at END`), id, at.UnixMilli()); err != nil {
			return err
		}
		_, err := ex.ExecContext(ctx, s.q(`DELETE FROM $U WHERE id = ?`), id)
		return err
	})
}
