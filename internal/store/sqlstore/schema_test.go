package sqlstore_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auther/auther/internal/store/sqlstore"
	"github.com/auther/auther/internal/testdb"
)

// The live schema after the real migrations, read back from the database's
// own catalog and checked against the Better Auth schema contract (section 1
// of better-auth-contract.md) with Auther's snake_case column names.

// kind is a contract type; each dialect accepts these column types for it
// (Better Auth's Kysely migrator: string text, boolean integer on SQLite,
// date timestamptz on PostgreSQL). On SQLite Better Auth declares dates
// "date" and Auther "text"; both hold the ISO-8601 text that
// TestColumnDefaults checks, so either is accepted.
type kind int

const (
	kText kind = iota
	kBool
	kTime
)

var columnType = map[string]map[kind][]string{
	"sqlite":   {kText: {"text"}, kBool: {"integer"}, kTime: {"text", "date"}},
	"postgres": {kText: {"text"}, kBool: {"boolean"}, kTime: {"timestamp with time zone"}},
}

type wantCol struct {
	name    string
	kind    kind
	notNull bool
}

var wantColumns = map[string][]wantCol{
	"user": {
		{"id", kText, true},
		{"name", kText, true},
		{"email", kText, true},
		{"email_verified", kBool, true},
		{"image", kText, false},
		{"created_at", kTime, true},
		{"updated_at", kTime, true},
		{"role", kText, false},
	},
	"session": {
		{"id", kText, true},
		{"expires_at", kTime, true},
		{"token", kText, true},
		{"created_at", kTime, true},
		{"updated_at", kTime, true},
		{"ip_address", kText, false},
		{"user_agent", kText, false},
		{"user_id", kText, true},
		{"auth_method", kText, false},
	},
	"account": {
		{"id", kText, true},
		{"account_id", kText, true},
		{"provider_id", kText, true},
		{"user_id", kText, true},
		{"access_token", kText, false},
		{"refresh_token", kText, false},
		{"id_token", kText, false},
		{"access_token_expires_at", kTime, false},
		{"refresh_token_expires_at", kTime, false},
		{"scope", kText, false},
		{"password", kText, false},
		{"created_at", kTime, true},
		{"updated_at", kTime, true},
	},
	"verification": {
		{"id", kText, true},
		{"identifier", kText, true},
		{"value", kText, true},
		{"expires_at", kTime, true},
		{"created_at", kTime, true},
		{"updated_at", kTime, true},
	},
}

// Unique keys other than the primary key, as sorted column lists.
var wantUnique = map[string][][]string{
	"user":         {{"email"}},
	"session":      {{"token"}},
	"account":      {{"account_id", "provider_id"}},
	"verification": nil,
}

// Columns that must lead some index (lookups and the expiry sweep).
var wantIndexed = map[string][]string{
	"session":      {"user_id", "expires_at"},
	"account":      {"user_id"},
	"verification": {"identifier", "expires_at"},
}

type fk struct{ from, table, to, onDelete string }

var wantFKs = map[string][]fk{
	"user":         nil,
	"session":      {{"user_id", "user", "id", "CASCADE"}},
	"account":      {{"user_id", "user", "id", "CASCADE"}},
	"verification": nil, // a verification can exist before its user
}

// ---------------------------------------------------------------------------
// Catalog readers

type colInfo struct {
	name    string
	typ     string
	notNull bool
	dflt    sql.NullString
	pk      bool
}

func columnsOf(t *testing.T, s *sqlstore.Store, table string) map[string]colInfo {
	t.Helper()
	query := `SELECT name, lower(type), "notnull" <> 0, dflt_value, pk > 0 FROM pragma_table_info(?)`
	if s.Kind() == "postgres" {
		query = `
SELECT c.column_name, c.data_type, c.is_nullable = 'NO', c.column_default,
       EXISTS (SELECT 1
                 FROM pg_index ix
                 JOIN pg_class t ON t.oid = ix.indrelid
                 JOIN pg_namespace n ON n.oid = t.relnamespace
                 JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY (ix.indkey::int2[])
                WHERE ix.indisprimary AND n.nspname = current_schema()
                  AND t.relname = c.table_name AND a.attname = c.column_name)
  FROM information_schema.columns c
 WHERE c.table_schema = current_schema() AND c.table_name = $1`
	}
	rows, err := s.DB().Query(query, table)
	if err != nil {
		t.Fatalf("columns of %s: %v", table, err)
	}
	defer rows.Close()
	out := map[string]colInfo{}
	for rows.Next() {
		var c colInfo
		if err := rows.Scan(&c.name, &c.typ, &c.notNull, &c.dflt, &c.pk); err != nil {
			t.Fatal(err)
		}
		out[c.name] = c
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

type index struct {
	name            string
	unique, primary bool
	partial         bool
	cols            []string // in index order
}

func indexesOf(t *testing.T, s *sqlstore.Store, table string) []index {
	t.Helper()
	db := s.DB()
	var out []index
	if s.Kind() == "postgres" {
		rows, err := db.Query(`
SELECT ic.relname, ix.indisunique, ix.indisprimary, ix.indpred IS NOT NULL, coalesce(a.attname, '')
  FROM pg_index ix
  JOIN pg_class t ON t.oid = ix.indrelid
  JOIN pg_namespace n ON n.oid = t.relnamespace
  JOIN pg_class ic ON ic.oid = ix.indexrelid
 CROSS JOIN LATERAL unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
  LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
 WHERE n.nspname = current_schema() AND t.relname = $1
 ORDER BY ic.relname, k.ord`, table)
		if err != nil {
			t.Fatalf("indexes of %s: %v", table, err)
		}
		defer rows.Close()
		for rows.Next() {
			var ix index
			var col string
			if err := rows.Scan(&ix.name, &ix.unique, &ix.primary, &ix.partial, &col); err != nil {
				t.Fatal(err)
			}
			if n := len(out); n > 0 && out[n-1].name == ix.name {
				out[n-1].cols = append(out[n-1].cols, col)
				continue
			}
			ix.cols = []string{col}
			out = append(out, ix)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	rows, err := db.Query(`SELECT name, "unique" <> 0, origin = 'pk', partial <> 0 FROM pragma_index_list(?)`, table)
	if err != nil {
		t.Fatalf("indexes of %s: %v", table, err)
	}
	for rows.Next() {
		var ix index
		if err := rows.Scan(&ix.name, &ix.unique, &ix.primary, &ix.partial); err != nil {
			t.Fatal(err)
		}
		out = append(out, ix)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close() // the write pool has one connection: release it first
	for i := range out {
		rows, err := db.Query(`SELECT coalesce(name, '') FROM pragma_index_info(?) ORDER BY seqno`, out[i].name)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var col string
			if err := rows.Scan(&col); err != nil {
				t.Fatal(err)
			}
			out[i].cols = append(out[i].cols, col)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return out
}

func foreignKeysOf(t *testing.T, s *sqlstore.Store, table string) []fk {
	t.Helper()
	query := `SELECT "from", "table", coalesce("to", ''), upper(on_delete) FROM pragma_foreign_key_list(?)`
	if s.Kind() == "postgres" {
		query = `
SELECT a.attname, rt.relname, ra.attname,
       CASE c.confdeltype WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' WHEN 'd' THEN 'SET DEFAULT'
                          WHEN 'r' THEN 'RESTRICT' ELSE 'NO ACTION' END
        || CASE WHEN rn.nspname = n.nspname THEN '' ELSE ' (other schema ' || rn.nspname || ')' END
        || CASE WHEN cardinality(c.conkey) = 1 THEN '' ELSE ' (multi-column)' END
  FROM pg_constraint c
  JOIN pg_class t ON t.oid = c.conrelid
  JOIN pg_namespace n ON n.oid = t.relnamespace
  JOIN pg_class rt ON rt.oid = c.confrelid
  JOIN pg_namespace rn ON rn.oid = rt.relnamespace
  JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
  JOIN pg_attribute ra ON ra.attrelid = c.confrelid AND ra.attnum = c.confkey[1]
 WHERE c.contype = 'f' AND n.nspname = current_schema() AND t.relname = $1
 ORDER BY a.attname`
	}
	rows, err := s.DB().Query(query, table)
	if err != nil {
		t.Fatalf("foreign keys of %s: %v", table, err)
	}
	defer rows.Close()
	var out []fk
	for rows.Next() {
		var f fk
		if err := rows.Scan(&f.from, &f.table, &f.to, &f.onDelete); err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// ---------------------------------------------------------------------------
// Catalog tests

func TestSchemaColumns(t *testing.T) {
	testdb.Each(t, func(t *testing.T, s *sqlstore.Store) {
		types := columnType[s.Kind()]
		for _, table := range slices.Sorted(maps.Keys(wantColumns)) {
			want := wantColumns[table]
			got := columnsOf(t, s, table)
			if len(got) == 0 {
				t.Errorf("table %s does not exist", table)
				continue
			}
			var wantNames []string
			for _, c := range want {
				wantNames = append(wantNames, c.name)
			}
			slices.Sort(wantNames)
			if gotNames := slices.Sorted(maps.Keys(got)); !slices.Equal(gotNames, wantNames) {
				t.Errorf("%s columns = %v, want exactly %v", table, gotNames, wantNames)
			}
			for _, w := range want {
				c, ok := got[w.name]
				if !ok {
					continue
				}
				if !slices.Contains(types[w.kind], c.typ) {
					t.Errorf("%s.%s type = %q, want one of %q", table, w.name, c.typ, types[w.kind])
				}
				if c.notNull != w.notNull {
					t.Errorf("%s.%s NOT NULL = %v, want %v", table, w.name, c.notNull, w.notNull)
				}
				if c.pk != (w.name == "id") {
					t.Errorf("%s.%s primary key = %v, want %v", table, w.name, c.pk, w.name == "id")
				}
			}
		}
		// The contract's one literal default: email_verified is false.
		ev := columnsOf(t, s, "user")["email_verified"]
		if d := strings.ToLower(strings.Trim(ev.dflt.String, "'()")); !ev.dflt.Valid || (d != "false" && d != "0") {
			t.Errorf("user.email_verified default = %v, want false", ev.dflt)
		}
	})
}

func TestSchemaUniqueKeys(t *testing.T) {
	testdb.Each(t, func(t *testing.T, s *sqlstore.Store) {
		for _, table := range slices.Sorted(maps.Keys(wantUnique)) {
			var got [][]string
			var primary [][]string
			for _, ix := range indexesOf(t, s, table) {
				if !ix.unique || ix.partial {
					continue
				}
				cols := slices.Sorted(slices.Values(ix.cols))
				if ix.primary {
					primary = append(primary, cols)
					continue
				}
				got = append(got, cols)
			}
			if len(primary) != 1 || !slices.Equal(primary[0], []string{"id"}) {
				t.Errorf("%s primary key = %v, want [id]", table, primary)
			}
			eq := func(a, b []string) bool { return slices.Equal(a, b) }
			for _, w := range wantUnique[table] {
				if !slices.ContainsFunc(got, func(g []string) bool { return eq(g, w) }) {
					t.Errorf("%s: no unique key on %v (unique keys: %v)", table, w, got)
				}
			}
			for _, g := range got {
				if !slices.ContainsFunc(wantUnique[table], func(w []string) bool { return eq(g, w) }) {
					t.Errorf("%s: unexpected unique key on %v", table, g)
				}
			}
		}
	})
}

func TestSchemaIndexes(t *testing.T) {
	testdb.Each(t, func(t *testing.T, s *sqlstore.Store) {
		for _, table := range slices.Sorted(maps.Keys(wantIndexed)) {
			ixs := indexesOf(t, s, table)
			for _, col := range wantIndexed[table] {
				if !slices.ContainsFunc(ixs, func(ix index) bool { return !ix.partial && len(ix.cols) > 0 && ix.cols[0] == col }) {
					t.Errorf("no index leads with %s.%s (indexes: %+v)", table, col, ixs)
				}
			}
		}
	})
}

func TestSchemaForeignKeys(t *testing.T) {
	testdb.Each(t, func(t *testing.T, s *sqlstore.Store) {
		for _, table := range slices.Sorted(maps.Keys(wantFKs)) {
			got := foreignKeysOf(t, s, table)
			if !slices.Equal(got, wantFKs[table]) {
				t.Errorf("%s foreign keys = %+v, want %+v", table, got, wantFKs[table])
			}
		}
	})
}

// ---------------------------------------------------------------------------
// Behaviour

// bind rebinds "?" placeholders for the store's dialect.
func bind(s *sqlstore.Store, q string) string {
	if s.Kind() != "postgres" {
		return q
	}
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

func exec(s *sqlstore.Store, q string, args ...any) error {
	_, err := s.DB().Exec(bind(s, q), args...)
	return err
}

func mustExec(t *testing.T, s *sqlstore.Store, q string, args ...any) {
	t.Helper()
	if err := exec(s, q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func countRows(t *testing.T, s *sqlstore.Store, q string, args ...any) int {
	t.Helper()
	var n int
	if err := s.DB().QueryRow(bind(s, q), args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

const future = "'2999-01-01T00:00:00.000Z'"

func addUser(t *testing.T, s *sqlstore.Store, id, email string) {
	t.Helper()
	mustExec(t, s, `INSERT INTO "user" (id, name, email) VALUES (?, ?, ?)`, id, "User "+id, email)
}

func addSession(s *sqlstore.Store, id, token, userID string) error {
	return exec(s, "INSERT INTO session (id, expires_at, token, user_id) VALUES (?, "+future+", ?, ?)", id, token, userID)
}

func addAccount(s *sqlstore.Store, id, accountID, providerID, userID string) error {
	return exec(s, "INSERT INTO account (id, account_id, provider_id, user_id) VALUES (?, ?, ?, ?)", id, accountID, providerID, userID)
}

func TestDeletingUserCascades(t *testing.T) {
	testdb.Each(t, func(t *testing.T, s *sqlstore.Store) {
		for _, u := range []string{"u1", "u2"} {
			addUser(t, s, u, u+"@example.com")
			for i := range 2 {
				if err := addSession(s, fmt.Sprintf("%s-s%d", u, i), fmt.Sprintf("%s-token%d", u, i), u); err != nil {
					t.Fatal(err)
				}
			}
			if err := addAccount(s, u+"-a", u, "credential", u); err != nil {
				t.Fatal(err)
			}
		}
		mustExec(t, s, "INSERT INTO verification (id, identifier, value, expires_at) VALUES (?, ?, ?, "+future+")", "v1", "email-verification:u1@example.com", "x")

		mustExec(t, s, `DELETE FROM "user" WHERE id = ?`, "u1")

		if n := countRows(t, s, "SELECT count(*) FROM session WHERE user_id = ?", "u1"); n != 0 {
			t.Errorf("%d sessions of the deleted user remain", n)
		}
		if n := countRows(t, s, "SELECT count(*) FROM account WHERE user_id = ?", "u1"); n != 0 {
			t.Errorf("%d accounts of the deleted user remain", n)
		}
		if n := countRows(t, s, "SELECT count(*) FROM session WHERE user_id = ?", "u2"); n != 2 {
			t.Errorf("the other user has %d sessions left, want 2", n)
		}
		if n := countRows(t, s, "SELECT count(*) FROM account WHERE user_id = ?", "u2"); n != 1 {
			t.Errorf("the other user has %d accounts left, want 1", n)
		}
		if n := countRows(t, s, "SELECT count(*) FROM verification"); n != 1 {
			t.Errorf("deleting a user touched verification rows (%d left, want 1)", n)
		}
	})
}

func TestConstraintsEnforced(t *testing.T) {
	testdb.Each(t, func(t *testing.T, s *sqlstore.Store) {
		addUser(t, s, "u1", "same@example.com")
		if err := exec(s, `INSERT INTO "user" (id, name, email) VALUES (?, ?, ?)`, "u2", "Other", "same@example.com"); err == nil {
			t.Error("a second user with the same email was accepted")
		}
		if n := countRows(t, s, `SELECT count(*) FROM "user" WHERE email = ?`, "same@example.com"); n != 1 {
			t.Errorf("%d users with the same email", n)
		}

		// Foreign keys are enforced (on SQLite only when the connection
		// has foreign_keys on).
		if err := addSession(s, "s-ghost", "t-ghost", "no-such-user"); err == nil {
			t.Error("a session for a user that does not exist was accepted")
		}
		if err := addAccount(s, "a-ghost", "x", "credential", "no-such-user"); err == nil {
			t.Error("an account for a user that does not exist was accepted")
		}

		if err := addSession(s, "s1", "tok", "u1"); err != nil {
			t.Fatal(err)
		}
		addUser(t, s, "u3", "third@example.com")
		if err := addSession(s, "s2", "tok", "u3"); err == nil {
			t.Error("a second session with the same token hash was accepted")
		}

		if err := addAccount(s, "a1", "sub-1", "google", "u1"); err != nil {
			t.Fatal(err)
		}
		if err := addAccount(s, "a2", "sub-1", "google", "u3"); err == nil {
			t.Error("a second account with the same (provider_id, account_id) was accepted")
		}
		if err := addAccount(s, "a3", "sub-1", "github", "u3"); err != nil {
			t.Errorf("the same account_id at another provider was refused: %v", err)
		}

		// No foreign key on verification: its identifier need not be a user.
		if err := exec(s, "INSERT INTO verification (id, identifier, value, expires_at) VALUES (?, ?, ?, "+future+")", "v1", "reset-password:nobody", "u-does-not-exist"); err != nil {
			t.Errorf("a verification without a user was refused: %v", err)
		}
		if err := exec(s, "INSERT INTO verification (id, identifier, value, expires_at) VALUES (?, ?, ?, "+future+")", "v2", "reset-password:nobody", "other"); err != nil {
			t.Errorf("a second verification with the same identifier was refused: %v", err)
		}
	})
}

var isoMillis = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

// TestColumnDefaults inserts rows with only the required columns and reads
// back what the database filled in.
func TestColumnDefaults(t *testing.T) {
	testdb.Each(t, func(t *testing.T, s *sqlstore.Store) {
		before := time.Now().Add(-time.Minute)
		addUser(t, s, "u1", "u1@example.com")
		var verified bool
		if err := s.DB().QueryRow(bind(s, `SELECT email_verified FROM "user" WHERE id = ?`), "u1").Scan(&verified); err != nil {
			t.Fatal(err)
		}
		if verified {
			t.Error("a new user's email_verified defaults to true")
		}
		if err := addSession(s, "s1", "tok", "u1"); err != nil {
			t.Fatal(err)
		}
		mustExec(t, s, "INSERT INTO verification (id, identifier, value, expires_at) VALUES (?, ?, ?, "+future+")", "v1", "i", "v")

		for _, table := range []string{"user", "session", "verification"} {
			for _, col := range []string{"created_at", "updated_at"} {
				q := `SELECT ` + col + ` FROM "` + table + `"`
				var at time.Time
				if s.Kind() == "sqlite" {
					// Stored text must be in the fixed-width format Auther
					// and Better Auth write, so that text comparison orders
					// times correctly.
					var raw string
					if err := s.DB().QueryRow(`SELECT CAST(` + col + ` AS TEXT) FROM "` + table + `"`).Scan(&raw); err != nil {
						t.Fatal(err)
					}
					if !isoMillis.MatchString(raw) {
						t.Errorf("%s.%s default = %q, want ISO-8601 UTC with milliseconds", table, col, raw)
						continue
					}
					at, _ = time.Parse(time.RFC3339Nano, raw)
				} else if err := s.DB().QueryRow(q).Scan(&at); err != nil {
					t.Fatal(err)
				}
				if at.Before(before) || at.After(time.Now().Add(time.Minute)) {
					t.Errorf("%s.%s default = %v, want now", table, col, at)
				}
			}
		}
	})
}

// TestSQLiteForeignKeysOnEveryConnection: foreign_keys is a per-connection
// setting in SQLite and off by default, so every connection the pool opens
// must turn it on, not just the first.
func TestSQLiteForeignKeysOnEveryConnection(t *testing.T) {
	s := testdb.SQLite(t)
	db := s.DB()
	ctx := context.Background()

	fkOn := func(c *sql.Conn) int {
		t.Helper()
		var on int
		if err := c.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&on); err != nil {
			t.Fatal(err)
		}
		return on
	}

	// Hold as many connections at once as the pool allows (up to 4).
	hold := 4
	if m := db.Stats().MaxOpenConnections; m > 0 && m < hold {
		hold = m
	}
	var conns []*sql.Conn
	for i := range hold {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		if on := fkOn(c); on != 1 {
			t.Errorf("held connection %d: PRAGMA foreign_keys = %d, want 1", i, on)
		}
	}
	for _, c := range conns {
		c.Close()
	}

	// Then open fresh physical connections one after another by discarding
	// each (a driver.ErrBadConn from Raw makes the pool close it).
	var seen []any // kept so that addresses are not reused
	for i := range 5 {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if on := fkOn(c); on != 1 {
			t.Errorf("connection %d: PRAGMA foreign_keys = %d, want 1", i, on)
		}
		c.Raw(func(dc any) error {
			if slices.ContainsFunc(seen, func(p any) bool { return p == dc }) {
				t.Errorf("connection %d was reused; the test did not get a fresh connection", i)
			}
			seen = append(seen, dc)
			return driver.ErrBadConn
		})
		c.Close()
	}
	// And a fresh connection still enforces the rule.
	if err := addSession(s, "s", "t", "no-such-user"); err == nil {
		t.Error("a fresh connection accepted a session for a missing user")
	}
}
