// Package testdb gives tests real, migrated databases: a SQLite file in the
// test's temp folder always, and a fresh schema in the PostgreSQL database
// named by AUTHER_TEST_POSTGRES_URL when that is set. Under CI=true a missing
// AUTHER_TEST_POSTGRES_URL fails the test instead of skipping it.
package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/auther/auther/internal/store/sqlstore"
)

// PostgresEnv names the variable holding the test database URL.
const PostgresEnv = "AUTHER_TEST_POSTGRES_URL"

// SQLite returns a migrated store on a new SQLite file.
func SQLite(t testing.TB) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.OpenSQLite(filepath.Join(t.TempDir(), "auther.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	migrateUp(t, s)
	return s
}

// PostgresURL returns a DSN for a new, empty schema that is dropped when the
// test ends, or skips (fails under CI=true) when PostgreSQL is not configured.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(PostgresEnv)
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: under CI=true the PostgreSQL suite must run", PostgresEnv)
		}
		t.Skipf("%s not set; skipping PostgreSQL", PostgresEnv)
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var b [6]byte
	rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		a, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer a.Close()
		a.Exec("DROP SCHEMA " + schema + " CASCADE")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Postgres returns a migrated store on a fresh schema.
func Postgres(t testing.TB) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.OpenPostgres(context.Background(), PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	migrateUp(t, s)
	return s
}

func migrateUp(t testing.TB, s *sqlstore.Store) {
	t.Helper()
	m, err := s.Migrator()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Up(context.Background()); err != nil {
		t.Fatalf("migrate up: %v", err)
	}
}

// Backends lists the backends to run a test against, by name.
var Backends = []struct {
	Name string
	Open func(testing.TB) *sqlstore.Store
}{
	{"sqlite", SQLite},
	{"postgres", Postgres},
}

// Each runs fn once per backend as a subtest.
func Each(t *testing.T, fn func(t *testing.T, s *sqlstore.Store)) {
	for _, b := range Backends {
		t.Run(b.Name, func(t *testing.T) { fn(t, b.Open(t)) })
	}
}
