package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/auther/auther/internal/webhook"
)

func TestWebhookCommands(t *testing.T) {
	dir := "--data-dir=" + t.TempDir()
	var got []string
	secret := ""
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts, _ := strconv.ParseInt(r.Header.Get("x-webhook-timestamp"), 10, 64)
		if !webhook.Verify([]string{secret}, r.Header.Get("x-webhook-signature"), ts, body) {
			http.Error(w, "bad signature", 401)
			return
		}
		got = append(got, string(body))
		w.Write([]byte("ok"))
	}))
	defer recv.Close()

	if _, err := run(t, "", "webhook", "create", dir, "--url", recv.URL+"/hooks"); err == nil || !strings.Contains(err.Error(), "--events") {
		t.Fatalf("create without --events: %v", err)
	}
	if _, err := run(t, "", "webhook", "create", dir, "--url", "ftp://x.example", "--events", "*"); err == nil {
		t.Fatal("ftp URL accepted")
	}
	out, err := run(t, "", "webhook", "create", dir, "--url", recv.URL+"/hooks", "--events", "user.created,user.deleted")
	m := regexp.MustCompile(`id:\s+(wh_\S+)\nsecret: (whsec_\S+)`).FindStringSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("create: %v\n%s", err, out)
	}
	id := m[1]
	secret = m[2]
	if out, _ := run(t, "", "webhook", "list", dir); !strings.Contains(out, id) || !strings.Contains(out, "user.created,user.deleted") || strings.Contains(out, "whsec_") {
		t.Fatalf("list:\n%s", out)
	}
	if out, err := run(t, "", "webhook", "test", dir, id); err != nil || !strings.Contains(out, "HTTP 200") || len(got) != 1 || !strings.Contains(got[0], `"type":"webhook.test"`) {
		t.Fatalf("test: %v %s (receiver got %v)", err, out, got)
	}
	if out, err := run(t, "", "webhook", "update", dir, id, "--events", "*"); err != nil || !strings.Contains(out, "[*]") {
		t.Fatalf("update: %v %s", err, out)
	}
	if _, err := run(t, "", "webhook", "disable", dir, id); err != nil {
		t.Fatal(err)
	}
	if out, _ := run(t, "", "webhook", "list", dir); !strings.Contains(out, "disabled") {
		t.Fatalf("list after disable:\n%s", out)
	}
	if _, err := run(t, "", "webhook", "enable", dir, id); err != nil {
		t.Fatal(err)
	}
	out, err = run(t, "", "webhook", "rotate-secret", dir, id)
	if err != nil || !strings.Contains(out, "the old secret also signs until") {
		t.Fatalf("rotate: %v %s", err, out)
	}
	if _, err := run(t, "", "webhook", "rotate-secret", dir, id); err == nil || !strings.Contains(err.Error(), "force") {
		t.Fatalf("second rotation during the overlap: %v", err)
	}
	if _, err := run(t, "", "webhook", "rotate-secret", dir, id, "--force"); err != nil {
		t.Fatalf("forced rotation: %v", err)
	}
	// A user created now queues a delivery that the list shows as pending.
	if _, err := run(t, "s3cret-passw0rd\n", "user", "create", dir, "--email", "hook@example.com", "--password-stdin"); err != nil {
		t.Fatal(err)
	}
	if out, _ := run(t, "", "webhook", "deliveries", dir, id, "--status", "pending"); !strings.Contains(out, "user.created") {
		t.Fatalf("deliveries:\n%s", out)
	}
	if _, err := run(t, "", "webhook", "deliveries", dir, id, "--status", "lost"); err == nil {
		t.Fatal("unknown --status accepted")
	}
	if _, err := run(t, "", "webhook", "replay", dir, "nope"); err == nil {
		t.Fatal("replay of an unknown delivery succeeded")
	}
	if out, err := run(t, "", "webhook", "delete", dir, id); err != nil || !strings.Contains(out, "deleted") {
		t.Fatalf("delete: %v %s", err, out)
	}
	if _, err := run(t, "", "webhook", "delete", dir, id); err == nil {
		t.Fatal("second delete succeeded")
	}
}
