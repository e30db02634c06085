package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auther/auther/internal/store"
	"github.com/auther/auther/internal/store/sqlstore"
)

// run executes the CLI in-process with its own output buffers.
func run(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	root := newRoot(&out, &errb)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func TestMigrateAndUserCommands(t *testing.T) {
	dir := "--data-dir=" + t.TempDir()
	out, err := run(t, "", "migrate", "plan", dir)
	if err != nil || !strings.Contains(out, `CREATE TABLE "user"`) || !strings.HasPrefix(out, "-- migration 0001_core.sql") {
		t.Fatalf("migrate plan: %v\n%s", err, out)
	}
	if out, _ := run(t, "", "migrate", "status", dir); !strings.Contains(out, "pending   0001_core.sql") {
		t.Fatalf("plan applied something; status:\n%s", out)
	}
	if out, err := run(t, "", "migrate", "up", dir); err != nil || !strings.Contains(out, "applied 0001_core.sql") {
		t.Fatalf("migrate up: %v %s", err, out)
	}
	if out, _ := run(t, "", "migrate", "plan", dir); out != "" {
		t.Errorf("plan on a current schema printed %q", out)
	}

	out, err = run(t, "s3cret-passw0rd\n", "user", "create", dir, "--email", "Admin@Example.com", "--name", "Admin", "--verified", "--password-stdin")
	if err != nil || !strings.Contains(out, "created user") || !strings.Contains(out, "<admin@example.com>") {
		t.Fatalf("user create: %v %s", err, out)
	}
	if _, err := run(t, "short\n", "user", "create", dir, "--email", "b@example.com", "--password-stdin"); err == nil || !strings.Contains(err.Error(), "PASSWORD_TOO_SHORT") {
		t.Errorf("short password accepted: %v", err)
	}
	if _, err := run(t, "s3cret-passw0rd\n", "user", "create", dir, "--email", "admin@example.com", "--password-stdin"); err == nil {
		t.Error("duplicate email accepted")
	}
	out, _ = run(t, "", "user", "list", dir)
	if !strings.Contains(out, "admin@example.com") || !strings.Contains(out, "true") || strings.Count(out, "\n") != 2 {
		t.Errorf("user list:\n%s", out)
	}
	if out, err := run(t, "", "user", "delete", dir, "admin@example.com"); err != nil || !strings.Contains(out, "deleted user") {
		t.Fatalf("user delete: %v %s", err, out)
	}
	if out, _ := run(t, "", "user", "list", dir); strings.Contains(out, "admin@example.com") {
		t.Errorf("deleted user still listed:\n%s", out)
	}
	if _, err := run(t, "", "user", "delete", dir, "admin@example.com"); err == nil {
		t.Error("deleting a missing user succeeded")
	}
	if out, _ := run(t, "", "version"); !strings.HasPrefix(out, "auther ") {
		t.Errorf("version: %q", out)
	}
}

func TestKeysCommands(t *testing.T) {
	dir := "--data-dir=" + t.TempDir()
	if _, err := run(t, "", "keys", "rotate", dir); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "", "keys", "rotate", dir, "--signing-algorithm", "EdDSA")
	if err != nil || !strings.Contains(out, "(EdDSA)") {
		t.Fatalf("rotate: %v %s", err, out)
	}
	out, _ = run(t, "", "keys", "list", dir)
	if strings.Count(out, "\n") != 3 || !strings.Contains(out, "signing") || !strings.Contains(out, "retired, published until") ||
		!strings.Contains(out, "RS256") || !strings.Contains(out, "EdDSA") {
		t.Errorf("keys list:\n%s", out)
	}
}

func TestMailFailedListsPermanentFailures(t *testing.T) {
	dir := t.TempDir()
	if _, err := run(t, "", "migrate", "up", "--data-dir="+dir); err != nil {
		t.Fatal(err)
	}
	st, err := sqlstore.OpenSQLite(filepath.Join(dir, "auther.db"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	m := &store.Mail{ID: "mail-1", To: "gone@example.com", Subject: "Reset your password", Text: "sealed:x", HTML: "sealed:y", NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}
	st.CreateVerification(context.Background(), &store.Verification{ID: "v1", Identifier: "i", Value: "v", ExpiresAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}, m)
	st.MailFailed(context.Background(), "mail-1", "550 5.1.1 no such user", now)
	st.Close()
	out, err := run(t, "", "mail", "failed", "--data-dir="+dir)
	if err != nil || !strings.Contains(out, "gone@example.com") || !strings.Contains(out, "550 5.1.1 no such user") || strings.Contains(out, "sealed:") {
		t.Errorf("mail failed: %v\n%s", err, out)
	}
}
