package migrate_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/auther/auther/internal/migrate"
	"github.com/auther/auther/internal/testdb"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"
)

// ---------------------------------------------------------------------------
// Migration sets

const dir = "m"

// file is one migration file of an in-memory set.
type file struct{ name, sql string }

// set builds an in-memory migrations folder.
func set(files ...file) fstest.MapFS {
	fsys := fstest.MapFS{}
	for _, f := range files {
		fsys[dir+"/"+f.name] = &fstest.MapFile{Data: []byte(f.sql), Mode: 0o644}
	}
	return fsys
}

func load(t *testing.T, files ...file) []migrate.Migration {
	t.Helper()
	migs, err := migrate.Load(set(files...), dir)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return migs
}

// Each migration depends on the one before it, so applying them out of order
// fails, and none is idempotent, so applying one twice fails or leaves a
// duplicate row behind.
var (
	m1 = file{"0001_create_a.sql", "CREATE TABLE a (id integer PRIMARY KEY, note text NOT NULL);\n"}
	m2 = file{"0002_seed_a.sql", "INSERT INTO a (id, note) VALUES (1, 'from 0002');\n"}
	m3 = file{"0003_create_b.sql", "CREATE TABLE b (id integer PRIMARY KEY REFERENCES a (id));\nINSERT INTO b (id) VALUES (1);\n"}
	m4 = file{"0004_create_c.sql", "CREATE TABLE c (id integer PRIMARY KEY);\n"}
)

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func names(migs []migrate.Migration) []string {
	out := []string{}
	for _, m := range migs {
		out = append(out, m.Name)
	}
	return out
}

func appliedNames(as []migrate.Applied) []string {
	out := []string{}
	for _, a := range as {
		out = append(out, a.Name)
	}
	return out
}

// ---------------------------------------------------------------------------
// Databases

// env is one empty database of one dialect.
type env struct {
	dialect migrate.Dialect
	// open returns a new handle (its own pool) on the same database; it is
	// closed when the test ends.
	open func() *sql.DB
}

func sqliteEnv(t *testing.T) env {
	// The same connection settings as sqlstore.OpenSQLite's write pool. The
	// migrator relies on _txlock=immediate (with busy_timeout) to serialise
	// concurrent migrators on SQLite: with SQLite's default deferred
	// transactions, concurrent Up calls fail with SQLITE_BUSY.
	dsn := "file:" + filepath.Join(t.TempDir(), "migrate.db") +
		"?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_txlock=immediate"
	return env{migrate.SQLite, func() *sql.DB {
		db, err := sql.Open("sqlite", dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}}
}

func postgresEnv(t *testing.T) env {
	dsn := testdb.PostgresURL(t)
	return env{migrate.Postgres, func() *sql.DB {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}}
}

// eachDB runs fn against a fresh SQLite file and, when configured, a fresh
// PostgreSQL schema.
func eachDB(t *testing.T, fn func(t *testing.T, e env)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, sqliteEnv(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, postgresEnv(t)) })
}

// q rebinds "?" placeholders for PostgreSQL.
func (e env) q(query string) string {
	if e.dialect != migrate.Postgres {
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

// tables lists the tables of the database (PostgreSQL: of the test schema).
func (e env) tables(t *testing.T, db *sql.DB) []string {
	t.Helper()
	query := "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
	if e.dialect == migrate.Postgres {
		query = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name"
	}
	rows, err := db.Query(query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// objects counts every schema object (tables, indexes, sequences, …).
func (e env) objects(t *testing.T, db *sql.DB) int {
	t.Helper()
	query := "SELECT count(*) FROM sqlite_master"
	if e.dialect == migrate.Postgres {
		query = "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema()"
	}
	var n int
	if err := db.QueryRow(query).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

type historyRow struct {
	Version  int
	Name     string
	Checksum string
	At       string // applied_at as the database returns it, for equality
}

func history(t *testing.T, db *sql.DB) []historyRow {
	t.Helper()
	rows, err := db.Query("SELECT version, name, checksum, applied_at FROM " + migrate.HistoryTable + " ORDER BY version")
	if err != nil {
		t.Fatalf("read history: %v", err)
	}
	defer rows.Close()
	out := []historyRow{}
	for rows.Next() {
		var r historyRow
		var at any
		if err := rows.Scan(&r.Version, &r.Name, &r.Checksum, &at); err != nil {
			t.Fatal(err)
		}
		if at == nil {
			t.Errorf("history row %d has a NULL applied_at", r.Version)
		}
		r.At = fmt.Sprint(at)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func historyVersions(t *testing.T, db *sql.DB) []int {
	t.Helper()
	out := []int{}
	for _, r := range history(t, db) {
		out = append(out, r.Version)
	}
	return out
}

func count(t *testing.T, db *sql.DB, query string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func up(t *testing.T, m *migrate.Migrator) []migrate.Migration {
	t.Helper()
	applied, err := m.Up(context.Background())
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	return applied
}

// ---------------------------------------------------------------------------
// Load

// shuffledFS returns directory entries in reverse name order, so that Load's
// own ordering is what is tested, not the file system's.
type shuffledFS struct{ fstest.MapFS }

func (s shuffledFS) ReadDir(name string) ([]fs.DirEntry, error) {
	es, err := s.MapFS.ReadDir(name)
	slices.Reverse(es)
	return es, err
}

func TestLoadOrdersByVersionAndChecksums(t *testing.T) {
	fsys := shuffledFS{set(
		file{"0010_ten.sql", "SELECT 10;"},
		file{"0002_two.sql", "SELECT 2;"},
		file{"0001_one.sql", "SELECT 1;"},
		file{"0003_three_and_more.sql", "SELECT 3;\n-- comment\n"},
	)}
	if es, _ := fsys.ReadDir(dir); es[0].Name() != "0010_ten.sql" {
		t.Fatalf("test FS does not shuffle: first entry %s", es[0].Name())
	}
	migs, err := migrate.Load(fsys, dir)
	if err != nil {
		t.Fatal(err)
	}
	var versions []int
	for _, m := range migs {
		versions = append(versions, m.Version)
	}
	if want := []int{1, 2, 3, 10}; !slices.Equal(versions, want) {
		t.Fatalf("versions = %v, want %v", versions, want)
	}
	for _, m := range migs {
		want := map[int]string{1: "SELECT 1;", 2: "SELECT 2;", 3: "SELECT 3;\n-- comment\n", 10: "SELECT 10;"}[m.Version]
		if m.SQL != want {
			t.Errorf("%s: SQL = %q, want the file's exact bytes %q", m.Name, m.SQL, want)
		}
		if m.Checksum != sum(want) {
			t.Errorf("%s: checksum = %s, want sha256 %s", m.Name, m.Checksum, sum(want))
		}
	}
	if got := names(migs); !slices.Equal(got, []string{"0001_one.sql", "0002_two.sql", "0003_three_and_more.sql", "0010_ten.sql"}) {
		t.Errorf("names = %v", got)
	}
}

func TestLoadRejectsBadFileNames(t *testing.T) {
	for _, bad := range []string{
		"1_short.sql",         // version not four digits
		"00001_long.sql",      // five digits
		"0001-dash.sql",       // no underscore
		"0001_Upper.sql",      // upper case description
		"0001_.sql",           // empty description
		"0001_no_ext",         // no .sql
		"0001_wrong.txt",      // wrong extension
		"0001_spaces in.sql",  // spaces
		"README.md",           // stray file
		"abcd_letters.sql",    // not digits
		"0001_trailing.sql~",  // editor backup
		"0001_two.dots.sql",   // dot inside the description
		".0001_hidden.sql",    // dot file
		"0001_ok.sql.orig",    // leftover of a merge
		"0002_tab\tname.sql",  // control character
		"0002_unicode_é.sql",  // non-ASCII
		"0002_hyphen-ate.sql", // hyphen
	} {
		t.Run(bad, func(t *testing.T) {
			migs, err := migrate.Load(set(file{"0001_good.sql", "SELECT 1;"}, file{bad, "SELECT 2;"}), dir)
			if err == nil {
				t.Fatalf("Load accepted %q: %v", bad, names(migs))
			}
			if !strings.Contains(err.Error(), bad) {
				t.Errorf("error %q does not name the offending file %q", err, bad)
			}
		})
	}
}

func TestLoadRejectsDuplicateVersions(t *testing.T) {
	_, err := migrate.Load(set(
		file{"0001_first.sql", "SELECT 1;"},
		file{"0002_users.sql", "SELECT 2;"},
		file{"0002_sessions.sql", "SELECT 3;"},
	), dir)
	if err == nil {
		t.Fatal("Load accepted two migrations with version 2")
	}
	for _, n := range []string{"0002_users.sql", "0002_sessions.sql"} {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("error %q does not name %s", err, n)
		}
	}
}

func TestLoadMissingDirectory(t *testing.T) {
	if _, err := migrate.Load(set(m1), "nope"); err == nil {
		t.Fatal("Load of a missing directory succeeded")
	}
}

// ---------------------------------------------------------------------------
// Status, Plan, Up

func TestPlanWritesNothing(t *testing.T) {
	eachDB(t, func(t *testing.T, e env) {
		ctx := context.Background()
		db := e.open()
		migs := load(t, m1, m2, m3)
		m := migrate.New(db, e.dialect, migs)

		st, err := m.Status(ctx)
		if err != nil {
			t.Fatalf("Status on an empty database: %v", err)
		}
		if len(st.Applied)+len(st.Drifted)+len(st.Unknown) != 0 || len(st.Pending) != 3 {
			t.Fatalf("Status on an empty database = %+v", st)
		}
		if err := st.Err(); !errors.Is(err, migrate.ErrBehind) {
			t.Fatalf("Status.Err = %v, want ErrBehind", err)
		}

		plan, err := m.Plan(ctx)
		if err != nil {
			t.Fatalf("Plan: %v", err)
		}
		if got := names(plan); !slices.Equal(got, []string{m1.name, m2.name, m3.name}) {
			t.Fatalf("Plan = %v", got)
		}
		for i, f := range []file{m1, m2, m3} {
			if plan[i].SQL != f.sql || plan[i].Checksum != sum(f.sql) {
				t.Errorf("Plan[%d] does not carry the exact SQL and checksum of %s", i, f.name)
			}
		}
		if n := e.objects(t, db); n != 0 {
			t.Fatalf("Status/Plan created %d schema objects (%v); they must write nothing", n, e.tables(t, db))
		}
		// Seen from another connection too: nothing was left uncommitted.
		if n := e.objects(t, e.open()); n != 0 {
			t.Fatalf("Status/Plan created %d schema objects", n)
		}

		// Once part of the set is applied, Plan lists only the rest and
		// still changes nothing.
		up(t, migrate.New(db, e.dialect, load(t, m1)))
		before := history(t, db)
		tablesBefore := e.tables(t, db)
		plan, err = m.Plan(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := names(plan); !slices.Equal(got, []string{m2.name, m3.name}) {
			t.Fatalf("Plan after applying 0001 = %v", got)
		}
		if after := history(t, db); !slices.Equal(before, after) {
			t.Fatalf("Plan changed the history: %v -> %v", before, after)
		}
		if got := e.tables(t, db); !slices.Equal(got, tablesBefore) {
			t.Fatalf("Plan changed the tables: %v -> %v", tablesBefore, got)
		}
		if n := count(t, db, "SELECT count(*) FROM a"); n != 0 {
			t.Fatalf("Plan ran 0002: a has %d rows", n)
		}
	})
}

func TestUpAppliesInOrderAndRecords(t *testing.T) {
	eachDB(t, func(t *testing.T, e env) {
		ctx := context.Background()
		db := e.open()
		start := time.Now()
		m := migrate.New(db, e.dialect, load(t, m1, m2, m3))
		applied := up(t, m)
		if got := names(applied); !slices.Equal(got, []string{m1.name, m2.name, m3.name}) {
			t.Fatalf("Up applied %v", got)
		}
		if got := e.tables(t, db); !slices.Equal(got, []string{"a", migrate.HistoryTable, "b"}) {
			t.Fatalf("tables after Up = %v", got)
		}
		if n := count(t, db, "SELECT count(*) FROM a JOIN b ON b.id = a.id WHERE a.note = 'from 0002'"); n != 1 {
			t.Fatalf("the migrations' effects are not all there (%d joined rows)", n)
		}

		hist := history(t, db)
		if len(hist) != 3 {
			t.Fatalf("history = %+v", hist)
		}
		for i, f := range []file{m1, m2, m3} {
			if hist[i].Version != i+1 || hist[i].Name != f.name || hist[i].Checksum != sum(f.sql) {
				t.Errorf("history[%d] = %+v, want version %d, name %s, checksum %s", i, hist[i], i+1, f.name, sum(f.sql))
			}
		}

		st, err := m.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Err(); err != nil {
			t.Fatalf("Status.Err after Up = %v", err)
		}
		if got := appliedNames(st.Applied); !slices.Equal(got, []string{m1.name, m2.name, m3.name}) || len(st.Pending) != 0 {
			t.Fatalf("Status after Up = %+v", st)
		}
		for _, a := range st.Applied {
			// `auther migrate status` prints this time: it must be the
			// real one, not the zero time.
			if a.AppliedAt.Before(start.Add(-time.Minute)) || a.AppliedAt.After(time.Now().Add(time.Minute)) {
				t.Errorf("%s: AppliedAt = %v, want about %v", a.Name, a.AppliedAt, start)
			}
		}

		// A second Up (same or another handle) does nothing.
		for _, h := range []*sql.DB{db, e.open()} {
			again, err := migrate.New(h, e.dialect, load(t, m1, m2, m3)).Up(ctx)
			if err != nil {
				t.Fatalf("second Up: %v", err)
			}
			if len(again) != 0 {
				t.Fatalf("second Up applied %v", names(again))
			}
		}
		if after := history(t, db); !slices.Equal(after, hist) {
			t.Fatalf("second Up changed the history:\n%v\n%v", hist, after)
		}
		if n := count(t, db, "SELECT count(*) FROM a"); n != 1 {
			t.Fatalf("a has %d rows: 0002 ran twice", n)
		}

		// A newer binary applies only what is new.
		applied = up(t, migrate.New(db, e.dialect, load(t, m1, m2, m3, m4)))
		if got := names(applied); !slices.Equal(got, []string{m4.name}) {
			t.Fatalf("Up with one new migration applied %v", got)
		}
		if got := historyVersions(t, db); !slices.Equal(got, []int{1, 2, 3, 4}) {
			t.Fatalf("history versions = %v", got)
		}
	})
}

func TestFailedMigrationRollsBack(t *testing.T) {
	bad := map[string]string{
		// The CREATE TABLE runs before the failing statement in both.
		"syntax error":  "CREATE TABLE b (id integer PRIMARY KEY);\nINSERT INTO b (id) VALUES (1);\nTHIS IS NOT SQL;\n",
		"runtime error": "CREATE TABLE b (id integer PRIMARY KEY);\nINSERT INTO b (id) VALUES (1);\nINSERT INTO no_such_table (id) VALUES (1);\n",
	}
	for kind, badSQL := range bad {
		t.Run(kind, func(t *testing.T) {
			eachDB(t, func(t *testing.T, e env) {
				ctx := context.Background()
				db := e.open()
				broken := file{"0002_broken.sql", badSQL}
				third := file{"0003_create_c.sql", "CREATE TABLE c (id integer PRIMARY KEY);\n"}
				m := migrate.New(db, e.dialect, load(t, m1, broken, third))
				applied, err := m.Up(ctx)
				if err == nil {
					t.Fatal("Up succeeded with a broken migration")
				}
				if !strings.Contains(err.Error(), broken.name) {
					t.Errorf("error %q does not name %s", err, broken.name)
				}
				if got := names(applied); !slices.Equal(got, []string{m1.name}) {
					t.Errorf("Up reported applied %v, want only %s", got, m1.name)
				}
				// The broken migration left nothing behind, and the one
				// after it was not attempted.
				for _, h := range []*sql.DB{db, e.open()} {
					if got := e.tables(t, h); slices.Contains(got, "b") || slices.Contains(got, "c") || !slices.Contains(got, "a") {
						t.Fatalf("tables after the failed Up = %v, want a and the history only", got)
					}
					if got := historyVersions(t, h); !slices.Equal(got, []int{1}) {
						t.Fatalf("history after the failed Up = %v, want [1]", got)
					}
				}
				st, err := m.Status(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if got := names(st.Pending); !slices.Equal(got, []string{broken.name, third.name}) {
					t.Fatalf("pending after the failure = %v", got)
				}
				if err := st.Err(); !errors.Is(err, migrate.ErrBehind) || errors.Is(err, migrate.ErrDrift) {
					t.Fatalf("Status.Err after the failure = %v, want ErrBehind only", err)
				}

				// A fixed binary then applies cleanly.
				fixed := file{"0002_fixed.sql", "CREATE TABLE b (id integer PRIMARY KEY);\nINSERT INTO b (id) VALUES (1);\n"}
				applied = up(t, migrate.New(db, e.dialect, load(t, m1, fixed, third)))
				if got := names(applied); !slices.Equal(got, []string{fixed.name, third.name}) {
					t.Fatalf("Up after the fix applied %v", got)
				}
				if n := count(t, db, "SELECT count(*) FROM b"); n != 1 {
					t.Fatalf("b has %d rows, want 1", n)
				}
			})
		})
	}
}

// refuses asserts that Status, Plan and Up all refuse with want, and that
// Up changed nothing.
func refuses(t *testing.T, e env, db *sql.DB, m *migrate.Migrator, want error) {
	t.Helper()
	ctx := context.Background()
	st, err := m.Status(ctx)
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	if err := st.Err(); !errors.Is(err, want) {
		t.Fatalf("Status.Err = %v, want %v", err, want)
	}
	plan, err := m.Plan(ctx)
	if !errors.Is(err, want) {
		t.Fatalf("Plan = %v, %v; want error %v", names(plan), err, want)
	}
	histBefore := history(t, db)
	tablesBefore := e.tables(t, db)
	applied, err := m.Up(ctx)
	if !errors.Is(err, want) {
		t.Fatalf("Up = %v, %v; want error %v", names(applied), err, want)
	}
	if len(applied) != 0 {
		t.Fatalf("Up applied %v despite %v", names(applied), want)
	}
	if got := history(t, db); !slices.Equal(got, histBefore) {
		t.Fatalf("Up changed the history: %v -> %v", histBefore, got)
	}
	if got := e.tables(t, db); !slices.Equal(got, tablesBefore) {
		t.Fatalf("Up changed the tables: %v -> %v", tablesBefore, got)
	}
}

func TestDriftRefuses(t *testing.T) {
	t.Run("history edited", func(t *testing.T) {
		eachDB(t, func(t *testing.T, e env) {
			db := e.open()
			up(t, migrate.New(db, e.dialect, load(t, m1, m2)))
			if _, err := db.Exec("UPDATE " + migrate.HistoryTable + " SET checksum = 'x' WHERE version = 1"); err != nil {
				t.Fatal(err)
			}
			// A pending migration must not be applied over a drifted history.
			m := migrate.New(db, e.dialect, load(t, m1, m2, m4))
			st, err := m.Status(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got := appliedNames(st.Drifted); !slices.Equal(got, []string{m1.name}) {
				t.Fatalf("Drifted = %v, want [%s]", got, m1.name)
			}
			if err := st.Err(); err == nil || !strings.Contains(err.Error(), m1.name) {
				t.Errorf("Status.Err = %v, want it to name %s", err, m1.name)
			}
			refuses(t, e, db, m, migrate.ErrDrift)
		})
	})
	t.Run("binary changed", func(t *testing.T) {
		eachDB(t, func(t *testing.T, e env) {
			db := e.open()
			up(t, migrate.New(db, e.dialect, load(t, m1, m2)))
			edited := file{m2.name, m2.sql + "-- a comment is a change too\n"}
			m := migrate.New(db, e.dialect, load(t, m1, edited, m4))
			st, err := m.Status(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got := appliedNames(st.Drifted); !slices.Equal(got, []string{m2.name}) {
				t.Fatalf("Drifted = %v, want [%s]", got, m2.name)
			}
			refuses(t, e, db, m, migrate.ErrDrift)
		})
	})
}

func TestAheadRefuses(t *testing.T) {
	t.Run("older binary", func(t *testing.T) {
		eachDB(t, func(t *testing.T, e env) {
			db := e.open()
			up(t, migrate.New(db, e.dialect, load(t, m1, m2, m3)))
			m := migrate.New(db, e.dialect, load(t, m1, m2))
			st, err := m.Status(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got := appliedNames(st.Unknown); !slices.Equal(got, []string{m3.name}) {
				t.Fatalf("Unknown = %v, want [%s]", got, m3.name)
			}
			if errors.Is(st.Err(), migrate.ErrDrift) {
				t.Errorf("an older binary is reported as drift: %v", st.Err())
			}
			refuses(t, e, db, m, migrate.ErrAhead)
		})
	})
	t.Run("unknown history row", func(t *testing.T) {
		eachDB(t, func(t *testing.T, e env) {
			db := e.open()
			up(t, migrate.New(db, e.dialect, load(t, m1, m2)))
			if _, err := db.Exec(e.q("INSERT INTO "+migrate.HistoryTable+" (version, name, checksum, applied_at) VALUES (?, ?, ?, '2030-01-01T00:00:00.000Z')"),
				9999, "9999_from_the_future.sql", sum("future")); err != nil {
				t.Fatal(err)
			}
			// Even with a pending migration of its own, this binary must
			// not touch a database a newer one has migrated.
			m := migrate.New(db, e.dialect, load(t, m1, m2, m4))
			st, err := m.Status(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got := appliedNames(st.Unknown); !slices.Equal(got, []string{"9999_from_the_future.sql"}) {
				t.Fatalf("Unknown = %v", got)
			}
			refuses(t, e, db, m, migrate.ErrAhead)
		})
	})
}

// TestConcurrentUp starts several migrators at once (several replicas
// starting with --migrate) and checks that each migration ran exactly once.
func TestConcurrentUp(t *testing.T) {
	const workers = 8
	const rounds = 5
	// Every migration records its run; 0001 also fails if run twice.
	files := []file{
		{"0001_runs.sql", "CREATE TABLE runs (migration integer NOT NULL);\nINSERT INTO runs (migration) VALUES (1);\n"},
		{"0002_run.sql", "INSERT INTO runs (migration) VALUES (2);\n"},
		{"0003_run.sql", "CREATE TABLE three (id integer PRIMARY KEY);\nINSERT INTO runs (migration) VALUES (3);\n"},
		{"0004_run.sql", "INSERT INTO runs (migration) VALUES (4);\n"},
	}
	for _, mode := range []string{"one pool", "separate pools"} {
		t.Run(mode, func(t *testing.T) {
			eachDB(t, func(t *testing.T, e env) {
				for round := range rounds {
					var e2 env
					if round == 0 {
						e2 = e
					} else if e.dialect == migrate.SQLite {
						e2 = sqliteEnv(t)
					} else {
						e2 = postgresEnv(t)
					}
					concurrentRound(t, e2, mode, workers, files)
					if t.Failed() {
						t.Fatalf("round %d failed", round)
					}
				}
			})
		})
	}
}

func concurrentRound(t *testing.T, e env, mode string, workers int, files []file) {
	t.Helper()
	migs := load(t, files...)
	shared := e.open()
	shared.SetMaxOpenConns(workers)
	dbs := make([]*sql.DB, workers)
	for i := range dbs {
		if mode == "one pool" {
			dbs[i] = shared
		} else {
			dbs[i] = e.open()
		}
		// Connect before the start line so that the race is on Up.
		if err := dbs[i].Ping(); err != nil {
			t.Fatal(err)
		}
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	results := make([][]migrate.Migration, workers)
	errs := make([]error, workers)
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i], errs[i] = migrate.New(dbs[i], e.dialect, migs).Up(context.Background())
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("migrator %d: Up: %v", i, err)
		}
	}
	ran := map[string]int{}
	for _, r := range results {
		for _, m := range r {
			ran[m.Name]++
		}
	}
	for _, f := range files {
		if ran[f.name] != 1 {
			t.Errorf("%s reported applied by %d migrators, want exactly 1", f.name, ran[f.name])
		}
	}
	if got := historyVersions(t, shared); !slices.Equal(got, []int{1, 2, 3, 4}) {
		t.Errorf("history = %v, want [1 2 3 4]", got)
	}
	for v := 1; v <= 4; v++ {
		if n := count(t, shared, fmt.Sprintf("SELECT count(*) FROM runs WHERE migration = %d", v)); n != 1 {
			t.Errorf("migration %d ran %d times", v, n)
		}
	}
}
