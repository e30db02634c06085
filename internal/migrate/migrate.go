// Package migrate applies versioned SQL migrations and keeps a history that
// never lies: each migration runs in one transaction together with the
// history row that records it, and every recorded migration carries the
// SHA-256 of the exact SQL that ran, so an edited migration is detected.
//
// Migrations are files named NNNN_description.sql in an fs.FS (embedded in
// the binary). A person can read exactly what will run (Plan) before it runs.
package migrate

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// HistoryTable records applied migrations.
const HistoryTable = "auther_schema_migrations"

// Migration is one versioned SQL file.
type Migration struct {
	Version  int
	Name     string // file name
	SQL      string
	Checksum string // hex SHA-256 of SQL
}

// Applied is a row of the history table.
type Applied struct {
	Version   int
	Name      string
	Checksum  string
	AppliedAt time.Time
}

var fileRE = regexp.MustCompile(`^(\d{4})_[a-z0-9_]+\.sql$`)

// Load reads the migrations in dir of fsys, ordered by version.
func Load(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var out []Migration
	seen := map[int]string{}
	for _, e := range entries {
		m := fileRE.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migrate: %s: file name must be NNNN_description.sql", e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrate: version %d used by %s and %s", v, prev, e.Name())
		}
		seen[v] = e.Name()
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(b)
		out = append(out, Migration{Version: v, Name: e.Name(), SQL: string(b), Checksum: hex.EncodeToString(sum[:])})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Dialect is "sqlite" or "postgres".
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Migrator applies migrations to one database.
type Migrator struct {
	db         *sql.DB
	dialect    Dialect
	migrations []Migration
}

// New returns a migrator for db.
func New(db *sql.DB, d Dialect, migrations []Migration) *Migrator {
	return &Migrator{db: db, dialect: d, migrations: migrations}
}

// Status compares the database's history with the binary's migrations.
type Status struct {
	Applied []Applied   // in the history and known to this binary, checksum equal
	Drifted []Applied   // in the history, but the binary's SQL differs
	Unknown []Applied   // in the history, unknown to this binary: the database is ahead
	Pending []Migration // known to this binary, not applied
}

// Errors that Status.Err reports.
var (
	ErrDrift  = errors.New("migrate: an applied migration's checksum differs from this binary's")
	ErrAhead  = errors.New("migrate: the database has migrations this binary does not know (it is newer than this binary)")
	ErrBehind = errors.New("migrate: the database has pending migrations")
)

// Err says whether the database can be used by this binary as it is.
func (s Status) Err() error {
	switch {
	case len(s.Drifted) > 0:
		var names []string
		for _, d := range s.Drifted {
			names = append(names, d.Name)
		}
		return fmt.Errorf("%w: %s", ErrDrift, strings.Join(names, ", "))
	case len(s.Unknown) > 0:
		var names []string
		for _, u := range s.Unknown {
			names = append(names, u.Name)
		}
		return fmt.Errorf("%w: %s; upgrade auther", ErrAhead, strings.Join(names, ", "))
	case len(s.Pending) > 0:
		return fmt.Errorf("%w: %d to apply (run `auther migrate plan`, then `auther migrate up`)", ErrBehind, len(s.Pending))
	}
	return nil
}

// Status reads the history without changing anything.
func (m *Migrator) Status(ctx context.Context) (Status, error) {
	hist, err := m.history(ctx, m.db)
	if err != nil {
		return Status{}, err
	}
	return m.compare(hist), nil
}

func (m *Migrator) compare(hist []Applied) Status {
	var st Status
	known := map[int]Migration{}
	for _, mg := range m.migrations {
		known[mg.Version] = mg
	}
	done := map[int]bool{}
	for _, a := range hist {
		done[a.Version] = true
		mg, ok := known[a.Version]
		switch {
		case !ok:
			st.Unknown = append(st.Unknown, a)
		case mg.Checksum != a.Checksum:
			st.Drifted = append(st.Drifted, a)
		default:
			st.Applied = append(st.Applied, a)
		}
	}
	for _, mg := range m.migrations {
		if !done[mg.Version] {
			st.Pending = append(st.Pending, mg)
		}
	}
	return st
}

// Plan returns the migrations Up would apply, refusing when the history
// has drifted or is ahead. It writes nothing.
func (m *Migrator) Plan(ctx context.Context) ([]Migration, error) {
	st, err := m.Status(ctx)
	if err != nil {
		return nil, err
	}
	if err := st.Err(); err != nil && !errors.Is(err, ErrBehind) {
		return nil, err
	}
	return st.Pending, nil
}

// Up applies every pending migration, each in its own transaction together
// with its history row, and returns what it applied.
func (m *Migrator) Up(ctx context.Context) ([]Migration, error) {
	if err := m.createHistory(ctx); err != nil {
		return nil, fmt.Errorf("migrate: create history table: %w", err)
	}
	pending, err := m.Plan(ctx)
	if err != nil {
		return nil, err
	}
	var applied []Migration
	for _, mg := range pending {
		ran, err := m.apply(ctx, mg)
		if err != nil {
			return applied, fmt.Errorf("migrate: %s: %w", mg.Name, err)
		}
		if ran {
			applied = append(applied, mg)
		}
	}
	return applied, nil
}

// apply runs one migration. Concurrent migrators (several replicas starting
// with --migrate) are serialised by a transaction-scoped advisory lock on
// PostgreSQL and by SQLite's single writer; the loser sees the history row
// and skips.
func (m *Migrator) apply(ctx context.Context, mg Migration) (bool, error) {
	tx, err := m.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	if err := m.lock(ctx, tx); err != nil {
		return false, err
	}
	var n int
	if err := tx.QueryRowContext(ctx, m.bind("SELECT count(*) FROM "+HistoryTable+" WHERE version = ?"), mg.Version).Scan(&n); err != nil {
		return false, err
	}
	if n > 0 {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, mg.SQL); err != nil {
		return false, err
	}
	now := time.Now().UTC()
	var at any = now
	if m.dialect == SQLite {
		at = now.Format("2006-01-02T15:04:05.000Z")
	}
	if _, err := tx.ExecContext(ctx, m.bind("INSERT INTO "+HistoryTable+" (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)"),
		mg.Version, mg.Name, mg.Checksum, at); err != nil {
		return false, err
	}
	return true, tx.Commit()
}

// createHistory creates the history table if needed. On PostgreSQL
// CREATE TABLE IF NOT EXISTS is not safe against a concurrent twin (both see
// no table, one fails on the catalog's unique index), so it runs under the
// same advisory lock as the migrations.
func (m *Migrator) createHistory(ctx context.Context) error {
	tx, err := m.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := m.lock(ctx, tx); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, m.createHistorySQL()); err != nil {
		return err
	}
	return tx.Commit()
}

// lock serialises migrators on PostgreSQL until the transaction ends;
// SQLite's single writer already does.
func (m *Migrator) lock(ctx context.Context, tx *sql.Tx) error {
	if m.dialect != Postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(7411321890)")
	return err
}

func (m *Migrator) createHistorySQL() string {
	ts := "timestamptz"
	if m.dialect == SQLite {
		ts = "text"
	}
	return "CREATE TABLE IF NOT EXISTS " + HistoryTable + " (version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, applied_at " + ts + " NOT NULL)"
}

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (m *Migrator) history(ctx context.Context, q queryer) ([]Applied, error) {
	exists := "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
	if m.dialect == Postgres {
		exists = "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1"
	}
	var n int
	if err := q.QueryRowContext(ctx, exists, HistoryTable).Scan(&n); err != nil {
		return nil, fmt.Errorf("migrate: read history: %w", err)
	}
	if n == 0 {
		return nil, nil
	}
	rows, err := q.QueryContext(ctx, "SELECT version, name, checksum, applied_at FROM "+HistoryTable+" ORDER BY version")
	if err != nil {
		return nil, fmt.Errorf("migrate: read history: %w", err)
	}
	defer rows.Close()
	var out []Applied
	for rows.Next() {
		var a Applied
		var at any
		if err := rows.Scan(&a.Version, &a.Name, &a.Checksum, &at); err != nil {
			return nil, err
		}
		a.AppliedAt = parseTime(at)
		out = append(out, a)
	}
	return out, rows.Err()
}

func parseTime(v any) time.Time {
	switch x := v.(type) {
	case time.Time:
		return x
	case string:
		t, _ := time.Parse(time.RFC3339Nano, x)
		return t
	case []byte:
		t, _ := time.Parse(time.RFC3339Nano, string(x))
		return t
	}
	return time.Time{}
}

func (m *Migrator) bind(q string) string {
	if m.dialect != Postgres {
		return q
	}
	return Rebind(q)
}

// Rebind turns "?" placeholders into PostgreSQL's "$1", "$2"… (queries are
// written once, in SQLite's style).
func Rebind(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
