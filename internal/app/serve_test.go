package app

import (
	"bufio"
	"context"
	"errors"
	"github.com/auther/auther/internal/testlog"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auther/auther/internal/config"
	"github.com/auther/auther/internal/migrate"
	"github.com/auther/auther/internal/store/sqlstore"
	"github.com/auther/auther/internal/testdb"
)

const testSecret = "serve-test-secret-serve-test-secret-0123"

// loadConfig builds a config the way the binary does, from defaults plus
// the given AUTHER_* variables.
func loadConfig(t *testing.T, env map[string]string) *config.Config {
	t.Helper()
	c, err := config.Load(nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("config.Load: %v", err)
	}
	return c
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// backend is a way to configure storage for a test.
type backend struct {
	name   string
	config func(t *testing.T, extra map[string]string) *config.Config
}

var backends = []backend{
	{"sqlite", func(t *testing.T, extra map[string]string) *config.Config {
		env := map[string]string{"AUTHER_DATA_DIR": t.TempDir()}
		for k, v := range extra {
			env[k] = v
		}
		return loadConfig(t, env)
	}},
	{"postgres", func(t *testing.T, extra map[string]string) *config.Config {
		env := map[string]string{
			"AUTHER_DATA_DIR":     t.TempDir(),
			"AUTHER_DATABASE_URL": testdb.PostgresURL(t),
			"AUTHER_SECRET":       testSecret,
		}
		for k, v := range extra {
			env[k] = v
		}
		return loadConfig(t, env)
	}},
}

func eachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, b) })
	}
}

func openStore(t *testing.T, c *config.Config) *sqlstore.Store {
	t.Helper()
	st, err := OpenStore(context.Background(), c)
	if err != nil {
		t.Fatalf("OpenStore: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// schemaStatus reads the migration status of st.
func schemaStatus(t *testing.T, st *sqlstore.Store) migrate.Status {
	t.Helper()
	m, err := st.Migrator()
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// hasUserTable reports whether the "user" table exists.
func hasUserTable(t *testing.T, st *sqlstore.Store) bool {
	t.Helper()
	q := `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'user'`
	if st.Kind() == "postgres" {
		q = `SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'user'`
	}
	var n int
	if err := st.DB().QueryRow(q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// migrated opens the configured database and brings it up to date.
func migrated(t *testing.T, c *config.Config) *sqlstore.Store {
	t.Helper()
	st := openStore(t, c)
	m, err := st.Migrator()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Up(context.Background()); err != nil {
		t.Fatalf("migrate up: %v", err)
	}
	return st
}

// ---------------------------------------------------------------------------
// PrepareSchema

func TestPrepareSchemaSQLiteMigratesAutomatically(t *testing.T) {
	c := backends[0].config(t, nil)
	if c.Migrate {
		t.Fatal("test needs the default migrate=false")
	}
	st := openStore(t, c)
	var logs testlog.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	if err := PrepareSchema(context.Background(), c, st, log); err != nil {
		t.Fatalf("PrepareSchema on a new SQLite database: %v", err)
	}
	if !hasUserTable(t, st) {
		t.Fatal("PrepareSchema did not create the schema")
	}
	s := schemaStatus(t, st)
	if err := s.Err(); err != nil || len(s.Applied) == 0 {
		t.Fatalf("after PrepareSchema: status %+v, err %v", s, err)
	}
	for _, a := range s.Applied {
		if !strings.Contains(logs.String(), a.Name) {
			t.Errorf("the log does not mention the applied migration %s:\n%s", a.Name, logs.String())
		}
	}
	// Starting again on the current schema is fine and changes nothing.
	if err := PrepareSchema(context.Background(), c, st, quietLogger()); err != nil {
		t.Fatalf("second PrepareSchema: %v", err)
	}
	if again := schemaStatus(t, st); len(again.Applied) != len(s.Applied) {
		t.Fatalf("second PrepareSchema changed the history: %+v", again)
	}
}

func TestPrepareSchemaPostgresNeedsMigrateFlag(t *testing.T) {
	c := backends[1].config(t, nil)
	st := openStore(t, c)
	ctx := context.Background()

	err := PrepareSchema(ctx, c, st, quietLogger())
	if !errors.Is(err, migrate.ErrBehind) {
		t.Fatalf("PrepareSchema without --migrate on a new PostgreSQL database = %v, want ErrBehind", err)
	}
	if !strings.Contains(err.Error(), "--migrate") {
		t.Errorf("error %q does not tell the operator about --migrate", err)
	}
	if hasUserTable(t, st) {
		t.Fatal("PrepareSchema without --migrate created tables")
	}
	if s := schemaStatus(t, st); len(s.Applied) != 0 || len(s.Pending) == 0 {
		t.Fatalf("PrepareSchema without --migrate changed the history: %+v", s)
	}

	c.Migrate = true
	if err := PrepareSchema(ctx, c, st, quietLogger()); err != nil {
		t.Fatalf("PrepareSchema with --migrate: %v", err)
	}
	if !hasUserTable(t, st) {
		t.Fatal("PrepareSchema with --migrate did not create the schema")
	}
	if err := schemaStatus(t, st).Err(); err != nil {
		t.Fatalf("after --migrate: %v", err)
	}

	// A replica started later without --migrate accepts the current schema.
	c.Migrate = false
	if err := PrepareSchema(ctx, c, st, quietLogger()); err != nil {
		t.Fatalf("PrepareSchema without --migrate on a current database: %v", err)
	}
}

func TestPrepareSchemaRefusesDrift(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		for _, flag := range []string{"false", "true"} {
			t.Run("migrate="+flag, func(t *testing.T) {
				c := b.config(t, map[string]string{"AUTHER_MIGRATE": flag})
				st := migrated(t, c)
				if _, err := st.DB().Exec("UPDATE " + migrate.HistoryTable + " SET checksum = 'x'"); err != nil {
					t.Fatal(err)
				}
				err := PrepareSchema(context.Background(), c, st, quietLogger())
				if !errors.Is(err, migrate.ErrDrift) {
					t.Fatalf("PrepareSchema with a changed checksum = %v, want ErrDrift", err)
				}
				if s := schemaStatus(t, st); len(s.Drifted) == 0 {
					t.Fatalf("PrepareSchema repaired the drifted history: %+v", s)
				}
			})
		}
	})
}

func TestPrepareSchemaRefusesNewerDatabase(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		for _, flag := range []string{"false", "true"} {
			t.Run("migrate="+flag, func(t *testing.T) {
				c := b.config(t, map[string]string{"AUTHER_MIGRATE": flag})
				st := migrated(t, c)
				if _, err := st.DB().Exec("INSERT INTO " + migrate.HistoryTable +
					" (version, name, checksum, applied_at) VALUES (9999, '9999_from_a_newer_auther.sql', 'abc', '2030-01-01T00:00:00.000Z')"); err != nil {
					t.Fatal(err)
				}
				err := PrepareSchema(context.Background(), c, st, quietLogger())
				if !errors.Is(err, migrate.ErrAhead) {
					t.Fatalf("PrepareSchema on a newer database = %v, want ErrAhead", err)
				}
				if !strings.Contains(err.Error(), "9999_from_a_newer_auther.sql") {
					t.Errorf("error %q does not name the unknown migration", err)
				}
			})
		}
	})
}

// ---------------------------------------------------------------------------
// ResolveSecret

func TestResolveSecretGeneratesOnceOnSQLite(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "not", "yet", "there")
	c := loadConfig(t, map[string]string{"AUTHER_DATA_DIR": dataDir})
	s1, err := ResolveSecret(c, quietLogger())
	if err != nil {
		t.Fatalf("ResolveSecret: %v", err)
	}
	if len(s1) < 32 {
		t.Fatalf("generated secret %q is shorter than 32 bytes", s1)
	}
	path := filepath.Join(dataDir, "secret")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("secret file: %v", err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("secret file mode = %v, want 0600", perm)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(b)) != s1 {
		t.Errorf("secret file holds %q, ResolveSecret returned %q", b, s1)
	}

	// The next start (a fresh config) gets the same secret: sessions survive
	// a restart.
	s2, err := ResolveSecret(loadConfig(t, map[string]string{"AUTHER_DATA_DIR": dataDir}), quietLogger())
	if err != nil {
		t.Fatalf("second ResolveSecret: %v", err)
	}
	if s2 != s1 {
		t.Fatalf("second ResolveSecret = %q, want the saved %q", s2, s1)
	}

	// Another data dir gets another, random secret.
	s3, err := ResolveSecret(loadConfig(t, map[string]string{"AUTHER_DATA_DIR": t.TempDir()}), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	if s3 == s1 {
		t.Fatal("two data dirs got the same generated secret")
	}
}

func TestResolveSecretConfigured(t *testing.T) {
	dataDir := t.TempDir()
	c := loadConfig(t, map[string]string{"AUTHER_DATA_DIR": dataDir, "AUTHER_SECRET": testSecret})
	s, err := ResolveSecret(c, quietLogger())
	if err != nil || s != testSecret {
		t.Fatalf("ResolveSecret = %q, %v; want the configured secret", s, err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "secret")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a configured secret still wrote a secret file (stat: %v)", err)
	}
}

func TestResolveSecretRejectsShortSavedSecret(t *testing.T) {
	dataDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dataDir, "secret"), []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := ResolveSecret(loadConfig(t, map[string]string{"AUTHER_DATA_DIR": dataDir}), quietLogger()); err == nil {
		t.Fatalf("ResolveSecret accepted a 5-byte saved secret: %q", s)
	}
}

func TestResolveSecretRequiredWithPostgres(t *testing.T) {
	for _, url := range []string{"postgres://auther@127.0.0.1:1/auther", "postgresql://auther@127.0.0.1:1/auther"} {
		dataDir := t.TempDir()
		c := loadConfig(t, map[string]string{"AUTHER_DATA_DIR": dataDir, "AUTHER_DATABASE_URL": url})
		s, err := ResolveSecret(c, quietLogger())
		if err == nil {
			t.Fatalf("%s: ResolveSecret without a secret = %q, want an error", url, s)
		}
		if !strings.Contains(err.Error(), "AUTHER_SECRET") {
			t.Errorf("error %q does not name AUTHER_SECRET", err)
		}
		if _, err := os.Stat(filepath.Join(dataDir, "secret")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: a secret file was written for PostgreSQL (stat: %v)", url, err)
		}
	}
}

// ---------------------------------------------------------------------------
// Serve

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func get(client *http.Client, url string) (int, string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func TestServeStartsAndShutsDownGracefully(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		addr := freeAddr(t)
		c := b.config(t, map[string]string{"AUTHER_ADDR": addr, "AUTHER_MIGRATE": "true"})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var stdout testlog.Buffer
		done := make(chan error, 1)
		go func() { done <- Serve(ctx, c, &stdout, quietLogger()) }()

		client := &http.Client{Timeout: 2 * time.Second}
		base := "http://" + addr
		deadline := time.Now().Add(15 * time.Second)
		for {
			code, _, err := get(client, base+"/healthz")
			if err == nil && code == http.StatusOK {
				break
			}
			select {
			case err := <-done:
				t.Fatalf("Serve returned before serving: %v", err)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("/healthz not 200 within 15s (last: %d, %v)", code, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if code, body, err := get(client, base+"/readyz"); err != nil || code != http.StatusOK {
			t.Fatalf("/readyz = %d %q, %v; want 200", code, body, err)
		}
		if code, body, err := get(client, base+"/api/auth/ok"); err != nil || code != http.StatusOK || !strings.Contains(body, "true") {
			t.Errorf("/api/auth/ok = %d %q, %v", code, body, err)
		}
		if out := stdout.String(); !strings.Contains(out, "http://"+addr) {
			t.Errorf("stdout does not announce the listening address %s:\n%s", addr, out)
		}
		if b.name == "sqlite" {
			for _, f := range []string{"auther.db", "secret"} {
				if _, err := os.Stat(filepath.Join(c.DataDir, f)); err != nil {
					t.Errorf("data dir lacks %s after start: %v", f, err)
				}
			}
		}

		// A request in flight when the context ends must still be answered:
		// send a sign-in whose body is not complete yet, so the handler is
		// busy reading it.
		body := `{"email":"nobody@example.com","password":"not-the-password"}`
		conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(20 * time.Second))
		head := "POST /api/auth/sign-in/email HTTP/1.1\r\nHost: " + addr + "\r\nOrigin: " + base +
			"\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
		if _, err := io.WriteString(conn, head+body[:10]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond) // the server reads the headers

		cancel()
		time.Sleep(300 * time.Millisecond)
		select {
		case err := <-done:
			t.Fatalf("Serve returned (%v) while a request was in flight", err)
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Error("a new connection was accepted after shutdown began")
		}
		if _, err := io.WriteString(conn, body[10:]); err != nil {
			t.Fatalf("finishing the in-flight request: %v", err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("the in-flight request got no response: %v", err)
		}
		rb, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode >= 500 || !strings.Contains(string(rb), "code") {
			t.Fatalf("in-flight sign-in = %d %q, %v; want a complete 4xx answer", resp.StatusCode, rb, err)
		}
		conn.Close()

		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Serve after cancel = %v, want nil (graceful shutdown)", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Serve did not return within 5s of the last request ending")
		}
		client.CloseIdleConnections()
		if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			conn.Close()
			t.Error("the port still accepts connections after Serve returned")
		}
	})
}

// TestServeRefusesDriftedSchema: serve must not start on a database whose
// applied migrations differ from the binary's.
func TestServeRefusesDriftedSchema(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		addr := freeAddr(t)
		c := b.config(t, map[string]string{"AUTHER_ADDR": addr, "AUTHER_MIGRATE": "true"})
		st := migrated(t, c)
		if _, err := st.DB().Exec("UPDATE " + migrate.HistoryTable + " SET checksum = 'x'"); err != nil {
			t.Fatal(err)
		}
		st.Close()

		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- Serve(ctx, c, io.Discard, quietLogger()) }()
		select {
		case err := <-done:
			if !errors.Is(err, migrate.ErrDrift) {
				t.Fatalf("Serve on a drifted schema = %v, want ErrDrift", err)
			}
		case <-time.After(8 * time.Second):
			t.Fatal("Serve started on a drifted schema")
		}
		if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			conn.Close()
			t.Error("Serve listened although the schema drifted")
		}
	})
}
