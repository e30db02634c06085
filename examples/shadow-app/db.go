package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/auther/auther/sdk"
	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	_ "modernc.org/sqlite"             // registers "sqlite"
)

// DB is the app's database handle and its SQL flavour.
type DB struct {
	*sql.DB
	Dialect sdk.Dialect
}

// openDB opens PostgreSQL when dsn is a postgres:// URL and otherwise the
// SQLite file dsn names (default <dataDir>/shadow-app.db).
func openDB(ctx context.Context, dsn, dataDir string) (*DB, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return nil, err
		}
		if err := db.PingContext(ctx); err != nil {
			db.Close()
			return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
		}
		return &DB{db, sdk.Postgres}, nil
	}

	path := strings.TrimPrefix(dsn, "file:")
	if path == "" {
		path = filepath.Join(dataDir, "shadow-app.db")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	// The driver runs these pragmas on every new connection. foreign_keys
	// is per connection and off by default in SQLite: without it deleting a
	// user would leave its notes behind. busy_timeout makes concurrent
	// writers wait instead of failing with "database is locked", and
	// _txlock=immediate takes the write lock when a transaction begins,
	// so two transactions never deadlock upgrading a read lock.
	q := url.Values{}
	for _, p := range []string{"foreign_keys(1)", "busy_timeout(10000)", "journal_mode(WAL)", "synchronous(NORMAL)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open SQLite %s: %w", path, err)
	}
	return &DB{db, sdk.SQLite}, nil
}

// migrate creates the tables when they do not exist: the SDK's shadow
// users table and tombstones, its table of processed webhook ids, and the
// app's own notes, which belong to a user and go when the user goes.
func (db *DB) migrate(ctx context.Context) error {
	if err := sdk.NewShadowStore(db.DB, db.Dialect).Migrate(ctx); err != nil {
		return fmt.Errorf("shadow tables: %w", err)
	}
	if err := sdk.NewSQLDeduper(db.DB, db.Dialect).Migrate(ctx); err != nil {
		return fmt.Errorf("webhook dedup table: %w", err)
	}
	ts := "TIMESTAMP"
	if db.Dialect == sdk.Postgres {
		ts = "TIMESTAMPTZ"
	}
	for _, stmt := range []string{
		`CREATE TABLE IF NOT EXISTS notes (
	id TEXT PRIMARY KEY,
	user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	body TEXT NOT NULL,
	created_at ` + ts + ` NOT NULL,
	updated_at ` + ts + ` NOT NULL
)`,
		`CREATE INDEX IF NOT EXISTS notes_user_id ON notes (user_id, created_at)`,
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("notes table: %w", err)
		}
	}
	return nil
}

// q rewrites ? placeholders to $1, $2… for PostgreSQL. The app's queries
// hold no ? inside string literals.
func (db *DB) q(query string) string {
	if db.Dialect != sdk.Postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
