package mail_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	netmail "net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/auther/auther/internal/mail"
	"github.com/auther/auther/internal/mail/mailtest"
)

func TestDirSender(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox", "mail")
	var logBuf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logBuf, nil))
	d := mail.NewDirSender(dir, log)

	var s mail.Sender = d // DirSender is a Sender
	if err := s.Send(context.Background(), testMessage("0198d1e2-7a3b")); err != nil {
		t.Fatalf("Send: %v", err)
	}

	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("dir mode = %o, want 700", perm)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("%d files, want 1", len(entries))
	}
	name := entries[0].Name()
	if !regexp.MustCompile(`^[0-9]+-0198d1e2-7a3b\.eml$`).MatchString(name) {
		t.Errorf("file name = %q", name)
	}
	path := filepath.Join(dir, name)
	fi, err = os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("file mode = %o, want 600", perm)
	}

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := netmail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("not a parseable message: %v", err)
	}
	if to, err := netmail.ParseAddress(msg.Header.Get("To")); err != nil || to.Address != "ada@example.org" {
		t.Errorf("To = %q", msg.Header.Get("To"))
	}
	if _, err := netmail.ParseAddress(msg.Header.Get("From")); err != nil {
		t.Errorf("From = %q: %v", msg.Header.Get("From"), err)
	}
	if !strings.HasPrefix(msg.Header.Get("Message-Id"), "<0198d1e2-7a3b@") {
		t.Errorf("Message-ID = %q", msg.Header.Get("Message-Id"))
	}
	subject, text := mailtest.Decode(data)
	if subject != "Vérifiez your email address" {
		t.Errorf("Subject = %q", subject)
	}
	if !strings.Contains(text, "\n"+longURL+"\n") {
		t.Errorf("text lost the link:\n%s", text)
	}
	msg, _ = netmail.ReadMessage(bytes.NewReader(data))
	if p := parts(t, msg); p["text/html"] == "" {
		t.Error("no HTML part")
	}

	// One info line with recipient, subject, path and the plain text.
	lines := strings.Split(strings.TrimSpace(logBuf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("%d log lines, want 1:\n%s", len(lines), logBuf.String())
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["level"] != "INFO" {
		t.Errorf("level = %v", rec["level"])
	}
	for k, want := range map[string]string{
		"to":      "Ada Lovelace <ada@example.org>",
		"subject": "Vérifiez your email address",
		"path":    path,
		"text":    testMessage("").Text,
		"link":    longURL,
	} {
		if rec[k] != want {
			t.Errorf("log %s = %v, want %q", k, rec[k], want)
		}
	}
}

func TestDirSenderUnsafeID(t *testing.T) {
	dir := t.TempDir()
	d := mail.NewDirSender(dir, slog.New(slog.DiscardHandler))
	for _, id := range []string{"../../etc/passwd", "", "a/b"} {
		if err := d.Send(context.Background(), testMessage(id)); err != nil {
			t.Fatalf("Send(%q): %v", id, err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 {
		t.Fatalf("%d files in dir, want 3", len(entries))
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".eml") || strings.ContainsAny(e.Name(), "/\\") {
			t.Errorf("file %q", e.Name())
		}
	}
}

func TestDirSenderErrorsAreTransient(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	d := mail.NewDirSender(filepath.Join(file, "sub"), slog.New(slog.DiscardHandler))
	err := d.Send(context.Background(), testMessage("x"))
	if err == nil {
		t.Fatal("Send into a path below a file succeeded")
	}
	if mail.IsPermanent(err) {
		t.Errorf("DirSender error is permanent: %v", err)
	}
}
