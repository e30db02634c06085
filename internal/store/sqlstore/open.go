// Package sqlstore implements store.Store on SQLite (modernc.org/sqlite, pure
// Go) and PostgreSQL (pgx), with one set of queries. The dialects differ only
// in what dialect.go names: placeholders, how times are bound, and how a
// unique violation is recognised.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/auther/auther/internal/migrate"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver
)

//go:embed migrations
var migrationFS embed.FS

// Store is a SQL-backed store.Store.
type Store struct {
	d *dialect
	// r serves reads concurrently; w is the only connection that writes on
	// SQLite (one writer means no SQLITE_BUSY under load). On PostgreSQL
	// both are the same pool.
	r, w *pool
	// queries counts statements sent outside transactions, so benchmarks
	// can report queries per operation.
	queries atomic.Uint64
	// afterEvents, when set, runs after a commit that recorded events.
	afterEvents atomic.Pointer[func()]
}

// OnEvents sets fn to run after every commit that recorded lifecycle
// events, so the webhook worker of this process sends them at once instead
// of at its next poll (other replicas still poll).
func (s *Store) OnEvents(fn func()) { s.afterEvents.Store(&fn) }

// Queries returns how many statements the store has run outside
// transactions (each transaction's statements are not counted).
func (s *Store) Queries() uint64 { return s.queries.Load() }

// Kind names the backend for logs.
func (s *Store) Kind() string { return s.d.name }

// Migrator returns the migrator for this database's dialect.
func (s *Store) Migrator() (*migrate.Migrator, error) {
	migs, err := migrate.Load(migrationFS, "migrations/"+s.d.name)
	if err != nil {
		return nil, err
	}
	return migrate.New(s.w.db, migrate.Dialect(s.d.name), migs), nil
}

// IsPostgresURL reports whether dsn selects PostgreSQL.
func IsPostgresURL(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// OpenSQLite opens (creating if needed) the database file at path.
func OpenSQLite(path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	// Every connection gets the same pragmas; foreign_keys is per
	// connection in SQLite and off by default, so it must be in the DSN.
	pragmas := url.Values{}
	for _, p := range []string{"foreign_keys(1)", "journal_mode(WAL)", "busy_timeout(10000)", "synchronous(NORMAL)"} {
		pragmas.Add("_pragma", p)
	}
	base := "file:" + path + "?" + pragmas.Encode()
	w, err := sql.Open("sqlite", base+"&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	r, err := sql.Open("sqlite", base+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, err
	}
	r.SetMaxOpenConns(max(4, runtime.NumCPU()*2))
	r.SetMaxIdleConns(max(4, runtime.NumCPU()*2))
	s := &Store{d: sqliteDialect}
	s.r = &pool{db: r, cache: true, count: &s.queries}
	s.w = &pool{db: w, cache: true, count: &s.queries}
	if err := s.Ping(context.Background()); err != nil {
		s.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return s, nil
}

// OpenPostgres connects to the PostgreSQL database at dsn.
func OpenPostgres(ctx context.Context, dsn string) (*Store, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, err
	}
	n := max(8, runtime.NumCPU()*4)
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := &Store{d: postgresDialect}
	s.r = &pool{db: db, count: &s.queries}
	s.w = s.r
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.Ping(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	return s, nil
}

// Ping checks both pools.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.r.db.PingContext(ctx); err != nil {
		return err
	}
	return s.w.db.PingContext(ctx)
}

// Close closes the pools.
func (s *Store) Close() error {
	err := s.r.close()
	if s.w != s.r {
		if err2 := s.w.close(); err == nil {
			err = err2
		}
	}
	return err
}

// DB exposes the write pool for tests and tools that inspect the schema.
func (s *Store) DB() *sql.DB { return s.w.db }
