package main

// End to end: Auther built from this repository runs as a subprocess, the
// app serves HTTP on a real port, users sign up and sign in the way a
// browser does, and webhooks travel over the loopback. Between Auther and
// the app's webhook route sits a gate the tests close (the receiver is
// down: 503) or make lossy (the app applies the event but Auther never
// hears the answer), to exercise retries and deduplication.

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/auther/auther/internal/testdb"
	"github.com/auther/auther/sdk"
)

const (
	webhookPath  = "/api/auth/webhooks/auther"
	autherSecret = "shadow-app-e2e-secret-0123456789abcdef"
	password     = "correct horse battery staple"
)

var autherBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "shadow-app-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	autherBin = filepath.Join(dir, "auther")
	build := exec.Command("go", "build", "-o", autherBin, "./cmd/auther")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building auther: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestEndToEnd runs every scenario against one Auther and one app per
// database the app can use. The scenarios run in order and share the gate;
// each uses users of its own.
func TestEndToEnd(t *testing.T) {
	backends := []struct {
		name  string
		dbURL func(t *testing.T) string
	}{
		{"sqlite", func(*testing.T) string { return "" }},
		{"postgres", func(t *testing.T) string { return testdb.PostgresURL(t) }},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			h := start(t, b.dbURL(t))
			for _, s := range []struct {
				name string
				fn   func(*testing.T, *harness)
			}{
				{"SignUpCreatesShadowRow", testSignUpCreatesShadowRow},
				{"JITThenWebhookConverge", testJITThenWebhook},
				{"WebhookThenJIT", testWebhookThenJIT},
				{"BrowserSignInAndOut", testBrowserSignIn},
				{"NameChangeUpdatesRow", testNameChange},
				{"DeleteCascadesAndRefusesToken", testDelete},
				{"ReceiverDownThenUp", testReceiverDown},
				{"ForgedDeliveriesRefused", testForgedDeliveries},
				{"Reconcile", testReconcile},
				{"SecretRotation", testSecretRotation},
				{"AutherKilledBeforeDelivery", testAutherKilled},
			} {
				if !t.Run(s.name, func(t *testing.T) {
					t.Cleanup(func() { h.gate.set(gateOpen) })
					s.fn(t, h)
				}) {
					h.dumpLogs(t)
				}
			}
		})
	}
}

// 1. Sign up → user.created arrives and the shadow row exists.
func testSignUpCreatesShadowRow(t *testing.T, h *harness) {
	u := h.signUp(t, "Ada Lovelace")
	row := h.waitRow(t, u.id, "the user.created webhook", func(r *sdk.ShadowUser) bool { return !r.SyncedAt.IsZero() })
	if row.Email != u.email || row.Name != "Ada Lovelace" || row.EmailVerified {
		t.Fatalf("shadow row = %+v, want email %s, name Ada Lovelace, unverified", row, u.email)
	}
	got := h.events.ofUser(u.id, "user.created")
	if len(got) != 1 || got[0].Outcome != sdk.OutcomeCreated {
		t.Fatalf("user.created applied %v, want once with outcome created", got)
	}
}

// 2a. The token is used before user.created arrives: the row is made from
// the token, then the event fills it in; one row throughout.
func testJITThenWebhook(t *testing.T, h *harness) {
	h.gate.set(gateDown)
	u := h.signUp(t, "Grace Hopper")
	tok := h.accessToken(t, u)

	status, body := h.api(t, "GET", "/api/me", tok, nil)
	if status != 200 || body["created"] != true {
		t.Fatalf("first /api/me = %d %v, want 200 with created=true", status, body)
	}
	row := h.row(t, u.id)
	if row == nil || !row.SyncedAt.IsZero() || row.Name == "Grace Hopper" {
		t.Fatalf("before the webhook the row should come from the token alone (which carries no profile), got %+v", row)
	}
	if status, _ := h.api(t, "POST", "/api/notes", tok, map[string]string{"body": "written before the webhook"}); status != 201 {
		t.Fatalf("POST /api/notes = %d, want 201", status)
	}
	if n := len(h.events.ofUser(u.id, "")); n != 0 {
		t.Fatalf("%d events applied while the receiver was down", n)
	}

	h.gate.set(gateOpen)
	row = h.waitRow(t, u.id, "user.created to fill in the JIT row", func(r *sdk.ShadowUser) bool { return !r.SyncedAt.IsZero() })
	if row.Name != "Grace Hopper" || row.Email != u.email {
		t.Fatalf("after user.created the row is %+v, want the name and email from Auther", row)
	}
	if got := h.events.ofUser(u.id, "user.created"); len(got) != 1 || got[0].Outcome != sdk.OutcomeUpdated {
		t.Fatalf("user.created applied %v, want once, updating the existing row", got)
	}
	if n := h.count(t, `SELECT COUNT(*) FROM users WHERE id = ? OR email = ?`, u.id, u.email); n != 1 {
		t.Fatalf("%d rows for the user, want 1", n)
	}
	status, body = h.api(t, "GET", "/api/notes", tok, nil)
	if notes, _ := body["notes"].([]any); status != 200 || len(notes) != 1 {
		t.Fatalf("GET /api/notes = %d %v, want the note written before the webhook", status, body)
	}
	if status, body := h.api(t, "GET", "/api/me", tok, nil); status != 200 || body["created"] != false {
		t.Fatalf("later /api/me = %d %v, want created=false", status, body)
	}
}

// 2b. user.created arrives first; the token then finds the row.
func testWebhookThenJIT(t *testing.T, h *harness) {
	u := h.signUp(t, "Katherine Johnson")
	h.waitRow(t, u.id, "user.created", func(r *sdk.ShadowUser) bool { return !r.SyncedAt.IsZero() })
	tok := h.accessToken(t, u)
	status, body := h.api(t, "GET", "/api/me", tok, nil)
	user, _ := body["user"].(map[string]any)
	if status != 200 || body["created"] != false || user["name"] != "Katherine Johnson" || user["email"] != u.email {
		t.Fatalf("/api/me = %d %v, want the existing row with created=false", status, body)
	}
	if n := h.count(t, `SELECT COUNT(*) FROM users WHERE id = ?`, u.id); n != 1 {
		t.Fatalf("%d rows, want 1", n)
	}
}

// The app's own sign-in: /login → Auther → /callback, the token in an
// HttpOnly cookie, the row made from the ID token; then /logout.
func testBrowserSignIn(t *testing.T, h *harness) {
	h.gate.set(gateDown) // so the profile can only come from the ID token
	u := h.signUp(t, "Mary Jackson")
	res, err := u.browser.Get(h.appURL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.Request.URL.String() != h.appURL+"/" {
		t.Fatalf("sign-in ended at %s with %d, want the app's home page", res.Request.URL, res.StatusCode)
	}
	appURL, _ := url.Parse(h.appURL)
	var tokenCookie *http.Cookie
	for _, c := range u.browser.Jar.Cookies(appURL) {
		if c.Name == "shadow_token" {
			tokenCookie = c
		}
	}
	if tokenCookie == nil {
		t.Fatal("no shadow_token cookie after /callback")
	}
	row := h.row(t, u.id)
	if row == nil || row.Name != "Mary Jackson" || row.Email != u.email {
		t.Fatalf("after /callback the row is %+v, want it made from the ID token's profile", row)
	}

	status, body := h.browserCall(t, u, "GET", "/api/me", nil, "")
	if status != 200 || body["created"] != false {
		t.Fatalf("/api/me with the cookie = %d %v", status, body)
	}
	// A write carried by the cookie must say it comes from the app.
	if status, body := h.browserCall(t, u, "POST", "/api/notes", map[string]string{"body": "x"}, "http://evil.example"); status != 403 {
		t.Fatalf("cross-origin POST with the cookie = %d %v, want 403", status, body)
	}
	if status, body := h.browserCall(t, u, "POST", "/api/notes", map[string]string{"body": "from the browser"}, h.appURL); status != 201 {
		t.Fatalf("same-origin POST with the cookie = %d %v, want 201", status, body)
	}

	// Sign-out is a POST from the app's page; from elsewhere it is refused.
	if status, _ := h.browserCall(t, u, "POST", "/logout", nil, "http://evil.example"); status != 403 {
		t.Fatalf("cross-origin POST /logout = %d, want 403", status)
	}
	req, _ := http.NewRequest("POST", h.appURL+"/logout", nil)
	req.Header.Set("Origin", h.appURL)
	res, err = u.browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.Request.URL.String() != h.appURL+"/" {
		t.Fatalf("sign-out ended at %s, want the app's home page", res.Request.URL)
	}
	if status, _ := h.browserCall(t, u, "GET", "/api/me", nil, ""); status != 401 {
		t.Fatalf("/api/me after /logout = %d, want 401", status)
	}
	res, err = u.browser.Get(h.base + "/api/auth/get-session")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if strings.TrimSpace(string(b)) != "null" {
		t.Fatalf("Auther session after /logout: %s, want null", b)
	}
	// The receiver comes back: the sign-up's events and the end of the
	// session arrive, and user.created confirms the row from the ID token.
	h.gate.set(gateOpen)
	h.waitFor(t, "session.deleted", func() bool { return len(h.events.ofUser(u.id, "session.deleted")) > 0 })
	if r := h.row(t, u.id); r == nil || r.SyncedAt.IsZero() || r.Name != "Mary Jackson" {
		t.Fatalf("row after the webhooks: %+v", r)
	}
}

// 3. A name change → user.updated updates the row.
func testNameChange(t *testing.T, h *harness) {
	u := h.signUp(t, "Dorothy Vaughan")
	h.waitRow(t, u.id, "user.created", func(r *sdk.ShadowUser) bool { return r.Name == "Dorothy Vaughan" })
	h.updateName(t, u, "Dorothy J. Vaughan")
	h.waitRow(t, u.id, "user.updated", func(r *sdk.ShadowUser) bool { return r.Name == "Dorothy J. Vaughan" })
	if got := h.events.ofUser(u.id, "user.updated"); len(got) != 1 || got[0].Outcome != sdk.OutcomeUpdated {
		t.Fatalf("user.updated applied %v, want once", got)
	}
}

// 4. Deleting the user → user.deleted removes the row and its notes, and
// the user's still-valid access token is refused.
func testDelete(t *testing.T, h *harness) {
	u := h.signUp(t, "Margaret Hamilton")
	tok := h.accessToken(t, u)
	for _, body := range []string{"one", "two"} {
		if status, b := h.api(t, "POST", "/api/notes", tok, map[string]string{"body": body}); status != 201 {
			t.Fatalf("POST /api/notes = %d %v", status, b)
		}
	}
	h.waitRow(t, u.id, "user.created", func(r *sdk.ShadowUser) bool { return !r.SyncedAt.IsZero() })
	if n := h.count(t, `SELECT COUNT(*) FROM notes WHERE user_id = ?`, u.id); n != 2 {
		t.Fatalf("%d notes, want 2", n)
	}

	h.admin(t, "DELETE", "/api/admin/users/"+u.id, 200)
	h.waitFor(t, "user.deleted to remove the row", func() bool { return h.row(t, u.id) == nil })
	if n := h.count(t, `SELECT COUNT(*) FROM notes WHERE user_id = ?`, u.id); n != 0 {
		t.Fatalf("%d notes left after the user was deleted, want 0 (ON DELETE CASCADE)", n)
	}
	if got := h.events.ofUser(u.id, "user.deleted"); len(got) != 1 || got[0].Outcome != sdk.OutcomeDeleted {
		t.Fatalf("user.deleted applied %v", got)
	}
	for _, m := range []string{"GET", "POST"} {
		status, body := h.api(t, m, "/api/notes", tok, map[string]string{"body": "back from the dead"})
		if status != 401 || body["error"] != "user_deleted" {
			t.Fatalf("%s /api/notes with the deleted user's token = %d %v, want 401 user_deleted", m, status, body)
		}
	}
	if h.row(t, u.id) != nil {
		t.Fatal("the deleted user's token brought the row back")
	}
}

// 5. The receiver is down while several users change; then it comes back
// lossy (each first delivery is applied but its answer lost), then
// healthy. Every event arrives, in order per user, applied exactly once.
func testReceiverDown(t *testing.T, h *harness) {
	h.gate.set(gateDown)
	names := func(i int) []string {
		return []string{fmt.Sprintf("User %d", i), fmt.Sprintf("User %d b", i), fmt.Sprintf("User %d c", i), fmt.Sprintf("User %d d", i)}
	}
	var users []*testUser
	for i := range 3 {
		u := h.signUp(t, names(i)[0])
		for _, n := range names(i)[1:] {
			h.updateName(t, u, n)
		}
		users = append(users, u)
	}
	// Auther tried, and the receiver refused, every user's first event.
	for _, u := range users {
		h.waitFor(t, "a refused delivery", func() bool {
			return h.gate.refused(func(b map[string]any) bool {
				d, _ := b["data"].(map[string]any)
				return d["id"] == u.id || d["userId"] == u.id
			})
		})
	}
	for _, u := range users {
		if n := len(h.events.ofUser(u.id, "")); n != 0 {
			t.Fatalf("%d events applied while the receiver was down", n)
		}
	}

	h.gate.set(gateLossy)
	for i, u := range users {
		final := names(i)[3]
		h.waitRow(t, u.id, "the user's events", func(r *sdk.ShadowUser) bool { return r.Name == final })
	}
	h.gate.set(gateOpen)
	// Every delivery, including the session and account events, is done.
	h.waitFor(t, "no pending deliveries", func() bool { return len(h.deliveries(t, "pending")) == 0 })

	dups := h.gate.duplicateAnswers()
	for i, u := range users {
		var seq []string
		seen := map[string]bool{}
		types := map[string]bool{}
		last := time.Time{}
		for _, e := range h.events.ofUser(u.id, "") {
			if seen[e.ID] {
				t.Fatalf("event %s (%s) applied twice", e.ID, e.Type)
			}
			seen[e.ID] = true
			types[e.Type] = true
			if e.At.Before(last) {
				t.Fatalf("user %d: %s at %s applied after an event of %s", i, e.Type, e.At, last)
			}
			last = e.At
			if strings.HasPrefix(e.Type, "user.") {
				seq = append(seq, e.Type+":"+e.Name)
			}
			if !dups[e.ID] {
				t.Errorf("event %s (%s) was applied, but no retry of it was answered as a duplicate", e.ID, e.Type)
			}
		}
		want := []string{"user.created:" + names(i)[0]}
		for _, n := range names(i)[1:] {
			want = append(want, "user.updated:"+n)
		}
		if !slices.Equal(seq, want) {
			t.Fatalf("user %d: user events applied in the order %v, want %v", i, seq, want)
		}
		if !types["session.created"] || !types["account.linked"] {
			t.Fatalf("user %d: the sign-up's session.created and account.linked were not all applied: %v", i, types)
		}
	}
}

// 7. Deliveries that did not come from Auther, or came too late, or came
// again, are refused (or answered as duplicates) and change nothing.
func testForgedDeliveries(t *testing.T, h *harness) {
	u := h.signUp(t, "Frances Allen")
	h.waitRow(t, u.id, "user.created", func(r *sdk.ShadowUser) bool { return !r.SyncedAt.IsZero() })
	h.updateName(t, u, "Frances E. Allen")
	h.waitRow(t, u.id, "user.updated", func(r *sdk.ShadowUser) bool { return r.Name == "Frances E. Allen" })
	genuine := h.gate.find(func(b map[string]any) bool {
		d, _ := b["data"].(map[string]any)
		return b["type"] == "user.updated" && d["id"] == u.id && d["name"] == "Frances E. Allen"
	})
	if genuine == nil {
		t.Fatal("the gate saw no user.updated delivery")
	}
	h.updateName(t, u, "Fran Allen")
	h.waitRow(t, u.id, "the second user.updated", func(r *sdk.ShadowUser) bool { return r.Name == "Fran Allen" })
	before := h.row(t, u.id)
	applied := len(h.events.ofUser(u.id, ""))
	seenBefore := h.count(t, `SELECT COUNT(*) FROM webhook_events_seen`)

	now := time.Now()
	forged := fmt.Sprintf(`{"id":"evt_forged-%s","origin":"auther","type":"user.updated","timestamp":%d,"data":{"id":%q,"email":"mallory@example.com","name":"Mallory","emailVerified":true,"image":null,"updatedAt":%q}}`,
		randHex(8), now.UnixMilli(), u.id, now.UTC().Format("2006-01-02T15:04:05.000Z"))
	id := regexp.MustCompile(`"id":"(evt_[^"]+)"`).FindStringSubmatch(forged)[1]
	ts := strconv.FormatInt(now.UnixMilli(), 10)
	good := sdk.SignWebhook(h.webhookSecret, ts, []byte(forged))
	old := strconv.FormatInt(now.Add(-6*time.Minute).UnixMilli(), 10)

	cases := []struct {
		name    string
		headers map[string]string
		body    string
		status  int
		code    string
	}{
		{"signed with another secret", map[string]string{"id": id, "ts": ts, "sig": sdk.SignWebhook("whsec_not-the-secret", ts, []byte(forged))}, forged, 401, "bad_signature"},
		{"signature of another body", map[string]string{"id": id, "ts": ts, "sig": good}, strings.Replace(forged, "Mallory", "Mallory2", 1), 401, "bad_signature"},
		{"garbage signature", map[string]string{"id": id, "ts": ts, "sig": "deadbeef"}, forged, 401, "bad_signature"},
		{"timestamp six minutes old", map[string]string{"id": id, "ts": old, "sig": sdk.SignWebhook(h.webhookSecret, old, []byte(forged))}, forged, 401, "stale_timestamp"},
		{"no x-webhook-id", map[string]string{"ts": ts, "sig": good}, forged, 400, "missing_headers"},
		{"no x-webhook-timestamp", map[string]string{"id": id, "sig": good}, forged, 400, "missing_headers"},
		{"no x-webhook-signature", map[string]string{"id": id, "ts": ts}, forged, 400, "missing_headers"},
		{"no headers at all", map[string]string{}, forged, 400, "missing_headers"},
	}
	for _, c := range cases {
		hdr := http.Header{"Content-Type": {"application/json"}}
		for k, name := range map[string]string{"id": sdk.HeaderWebhookID, "ts": sdk.HeaderWebhookTimestamp, "sig": sdk.HeaderWebhookSignature} {
			if v, ok := c.headers[k]; ok {
				hdr.Set(name, v)
			}
		}
		status, body := h.postWebhook(t, hdr, []byte(c.body))
		if status != c.status || body["error"] != c.code {
			t.Errorf("%s: %d %v, want %d %s", c.name, status, body, c.status, c.code)
		}
	}

	// A genuine delivery sent again (captured on the wire, same headers and
	// body, still within five minutes): answered as a duplicate, not applied,
	// so it cannot roll the name back.
	status, body := h.postWebhook(t, genuine.header, genuine.body)
	if status != 200 || body["status"] != "duplicate" {
		t.Errorf("replayed delivery: %d %v, want 200 duplicate", status, body)
	}

	after := h.row(t, u.id)
	if after == nil || after.Name != before.Name || after.Email != before.Email || after.EmailVerified != before.EmailVerified || !after.SyncedAt.Equal(before.SyncedAt) {
		t.Fatalf("the row changed: %+v, was %+v", after, before)
	}
	if n := len(h.events.ofUser(u.id, "")); n != applied {
		t.Fatalf("%d events applied by refused deliveries", n-applied)
	}
	if n := h.count(t, `SELECT COUNT(*) FROM webhook_events_seen`); n != seenBefore {
		t.Fatalf("refused deliveries left %d rows in the dedup table", n-seenBefore)
	}

	// None of the refusals used up the id: the same event, correctly signed
	// (which only Auther can do), is applied. The checks above were what
	// kept it out.
	hdr := http.Header{"Content-Type": {"application/json"}}
	hdr.Set(sdk.HeaderWebhookID, id)
	hdr.Set(sdk.HeaderWebhookTimestamp, ts)
	hdr.Set(sdk.HeaderWebhookSignature, good)
	if status, body := h.postWebhook(t, hdr, []byte(forged)); status != 200 || body["status"] != "ok" {
		t.Fatalf("correctly signed delivery: %d %v, want 200 ok", status, body)
	}
	if r := h.row(t, u.id); r == nil || r.Name != "Mallory" {
		t.Fatalf("correctly signed delivery not applied: %+v", r)
	}
}

// The reconcile subcommand repairs what webhooks missed: a rename and a
// deletion that happened while the receiver was down.
func testReconcile(t *testing.T, h *harness) {
	a := h.signUp(t, "Annie Easley")
	b := h.signUp(t, "Evelyn Boyd")
	h.waitRow(t, a.id, "user.created", func(r *sdk.ShadowUser) bool { return !r.SyncedAt.IsZero() })
	h.waitRow(t, b.id, "user.created", func(r *sdk.ShadowUser) bool { return !r.SyncedAt.IsZero() })
	tok := h.accessToken(t, b)
	if status, _ := h.api(t, "POST", "/api/notes", tok, map[string]string{"body": "b's note"}); status != 201 {
		t.Fatalf("POST /api/notes = %d", status)
	}

	h.gate.set(gateDown)
	h.updateName(t, a, "Annie J. Easley")
	h.admin(t, "DELETE", "/api/admin/users/"+b.id, 200)
	// A user deleted two days ago: their tokens may live longer than that,
	// so reconcile keeps the tombstone unless told the longest lifetime.
	old := "0190aaaa-0000-7000-8000-" + strings.Repeat("0", 11) + "1"
	if _, err := h.app.db.ExecContext(t.Context(), h.app.db.q(`INSERT INTO user_tombstones (id, deleted_at) VALUES (?, ?)`),
		old, time.Now().Add(-48*time.Hour).UnixMilli()); err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	err := run(t.Context(), []string{"reconcile", "--auther-url", h.base, "--admin-token", h.adminToken,
		"--database-url", h.cfg.DatabaseURL, "--data-dir", h.cfg.DataDir}, &out)
	if err != nil {
		t.Fatalf("reconcile: %v (%s)", err, out.String())
	}
	var checked, updated, deleted int
	if _, err := fmt.Sscanf(out.String(), "checked %d, updated %d, deleted %d", &checked, &updated, &deleted); err != nil {
		t.Fatalf("reconcile printed %q", out.String())
	}
	if updated < 1 || deleted < 1 || checked < 2 {
		t.Fatalf("reconcile: %q, want at least one update and one deletion", out.String())
	}
	if r := h.row(t, a.id); r == nil || r.Name != "Annie J. Easley" {
		t.Fatalf("renamed user's row after reconcile: %+v", r)
	}
	if h.row(t, b.id) != nil || h.count(t, `SELECT COUNT(*) FROM notes WHERE user_id = ?`, b.id) != 0 {
		t.Fatal("deleted user's row or notes survived reconcile")
	}
	if status, body := h.api(t, "GET", "/api/notes", tok, nil); status != 401 {
		t.Fatalf("deleted user's token after reconcile: %d %v, want 401", status, body)
	}
	if h.count(t, `SELECT COUNT(*) FROM user_tombstones WHERE id = ?`, old) != 1 {
		t.Fatal("reconcile pruned a tombstone without --max-token-lifetime")
	}
	out.Reset()
	if err := run(t.Context(), []string{"reconcile", "--auther-url", h.base, "--admin-token", h.adminToken,
		"--database-url", h.cfg.DatabaseURL, "--data-dir", h.cfg.DataDir, "--max-token-lifetime", "24h"}, &out); err != nil {
		t.Fatalf("reconcile --max-token-lifetime 24h: %v (%s)", err, out.String())
	}
	if h.count(t, `SELECT COUNT(*) FROM user_tombstones WHERE id = ?`, old) != 0 {
		t.Fatal("a tombstone older than --max-token-lifetime survived")
	}
	if h.count(t, `SELECT COUNT(*) FROM user_tombstones WHERE id = ?`, b.id) != 1 {
		t.Fatal("the fresh tombstone was pruned")
	}

	// The late webhooks agree with what reconcile did.
	h.gate.set(gateOpen)
	h.waitFor(t, "the late user.deleted", func() bool { return len(h.events.ofUser(b.id, "user.deleted")) == 1 })
	h.waitFor(t, "the late user.updated", func() bool { return len(h.events.ofUser(a.id, "user.updated")) == 1 })
	if r := h.row(t, a.id); r == nil || r.Name != "Annie J. Easley" {
		t.Fatalf("row after the late webhooks: %+v", r)
	}
	if h.row(t, b.id) != nil {
		t.Fatal("the late webhooks brought the deleted user back")
	}
}

// After the endpoint's secret is rotated Auther signs with both secrets for
// a while, so the app keeps working with the old one until its
// WEBHOOK_SECRET is switched to the new one.
func testSecretRotation(t *testing.T, h *harness) {
	u := h.signUp(t, "Radia Perlman")
	h.waitRow(t, u.id, "user.created", func(r *sdk.ShadowUser) bool { return !r.SyncedAt.IsZero() })
	rotated := h.admin(t, "POST", "/api/admin/webhooks/"+h.webhookID+"/rotate-secret", 200)
	newSecret, _ := rotated["secret"].(string)
	if !strings.HasPrefix(newSecret, "whsec_") || newSecret == h.webhookSecret {
		t.Fatalf("rotate-secret answered %v", rotated)
	}

	h.updateName(t, u, "Radia J. Perlman")
	h.waitRow(t, u.id, "user.updated signed with both secrets", func(r *sdk.ShadowUser) bool { return r.Name == "Radia J. Perlman" })
	c := h.gate.find(func(b map[string]any) bool {
		d, _ := b["data"].(map[string]any)
		return d["id"] == u.id && d["name"] == "Radia J. Perlman"
	})
	if c == nil || strings.Count(c.header.Get(sdk.HeaderWebhookSignature), ",") != 1 {
		t.Fatalf("during the overlap the delivery should carry two signatures: %v", c)
	}

	// The app now holds only the new secret (WEBHOOK_SECRET changed, app restarted).
	cfg := h.cfg
	cfg.WebhookSecrets = []string{newSecret}
	app2, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.gate.setNext(app2.Handler())
	t.Cleanup(func() {
		h.gate.setNext(h.app.Handler())
		app2.Close()
	})
	h.updateName(t, u, "Radia Perlman")
	h.waitRow(t, u.id, "user.updated verified with the new secret", func(r *sdk.ShadowUser) bool { return r.Name == "Radia Perlman" })

	// A delivery signed with the old secret alone is refused now.
	body := fmt.Appendf(nil, `{"id":"evt_old-%s","origin":"auther","type":"user.updated","timestamp":%d,"data":{"id":%q,"email":%q,"name":"Old Secret"}}`,
		randHex(8), time.Now().UnixMilli(), u.id, u.email)
	ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
	hdr := http.Header{"Content-Type": {"application/json"}}
	hdr.Set(sdk.HeaderWebhookID, regexp.MustCompile(`evt_old-[0-9a-f]+`).FindString(string(body)))
	hdr.Set(sdk.HeaderWebhookTimestamp, ts)
	hdr.Set(sdk.HeaderWebhookSignature, sdk.SignWebhook(h.webhookSecret, ts, body))
	if status, b := h.postWebhook(t, hdr, body); status != 401 {
		t.Fatalf("delivery signed with the replaced secret: %d %v, want 401", status, b)
	}
	if r := h.row(t, u.id); r == nil || r.Name != "Radia Perlman" {
		t.Fatalf("row = %+v", r)
	}
}

// 6. Auther is killed (SIGKILL) after committing a change and before
// delivering its event; after a restart the event arrives.
func testAutherKilled(t *testing.T, h *harness) {
	u := h.signUp(t, "Hedy Lamarr")
	h.waitRow(t, u.id, "user.created", func(r *sdk.ShadowUser) bool { return !r.SyncedAt.IsZero() })
	h.waitFor(t, "the user's other events", func() bool { return len(h.deliveries(t, "pending")) == 0 })

	h.gate.set(gateDown)
	h.updateName(t, u, "Hedy Kiesler Lamarr") // committed when this returns
	// Kill while the delivery is between attempts (failed at least once, the
	// next one not due yet), not in the middle of one: a delivery claimed by
	// a worker that dies stays leased for a minute, which is correct but
	// would only slow this test down.
	h.waitFor(t, "a failed attempt, the next one not yet due", func() bool {
		for _, d := range h.deliveries(t, "pending") {
			if d.EventType != "user.updated" || d.LastStatusCode != 503 || d.NextAttemptAt == nil {
				continue
			}
			if left := time.Until(*d.NextAttemptAt); left > 150*time.Millisecond && left < 30*time.Second {
				return true
			}
		}
		return false
	})
	h.killAuther(t)
	if r := h.row(t, u.id); r == nil || r.Name != "Hedy Lamarr" {
		t.Fatalf("the event was applied before Auther was killed: %+v", r)
	}

	h.gate.set(gateOpen)
	h.startAuther(t)
	h.waitRow(t, u.id, "user.updated after the restart", func(r *sdk.ShadowUser) bool { return r.Name == "Hedy Kiesler Lamarr" })
}

// ---------------------------------------------------------------------------
// Harness.

type harness struct {
	dir           string
	base          string // Auther's base URL (the issuer)
	autherAddr    string
	auther        *exec.Cmd
	autherExited  chan struct{}
	autherLog     *syncBuffer
	appLog        *syncBuffer
	appURL        string
	app           *App
	cfg           Config
	gate          *gate
	events        *eventLog
	webhookID     string
	webhookSecret string
	adminToken    string
}

// start builds the world: the app's listener (its URL is needed to
// register it), the client and webhook endpoint registered with Auther's
// CLI, an admin, Auther itself, and the app.
func start(t *testing.T, dbURL string) *harness {
	h := &harness{dir: t.TempDir(), autherLog: &syncBuffer{}, appLog: &syncBuffer{}, events: &eventLog{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.appURL = "http://" + ln.Addr().String()
	h.autherAddr = freeAddr(t)
	h.base = "http://" + h.autherAddr

	out := h.cli(t, "", "client", "create", "--name", "shadow-app", "--redirect-uri", h.appURL+"/callback",
		"--post-logout-redirect-uri", h.appURL+"/", "--skip-consent")
	clientID, clientSecret := field(t, out, "client_id"), field(t, out, "client_secret")
	out = h.cli(t, "", "webhook", "create", "--url", h.appURL+webhookPath, "--events", "*")
	h.webhookID, h.webhookSecret = field(t, out, "id"), field(t, out, "secret")
	h.cli(t, password+"\n", "user", "create", "--email", "root@example.com", "--name", "Root", "--admin", "--password-stdin")

	h.startAuther(t)
	t.Cleanup(func() { h.stopAuther() })

	res, body := h.postJSON(t, http.DefaultClient, h.base+"/api/auth/sign-in/email", map[string]string{"email": "root@example.com", "password": password})
	if res.StatusCode != 200 {
		t.Fatalf("admin sign-in: %d %v", res.StatusCode, body)
	}
	h.adminToken, _ = body["token"].(string)

	h.cfg = Config{
		AutherURL:      h.base,
		ClientID:       clientID,
		ClientSecret:   clientSecret,
		WebhookSecrets: []string{h.webhookSecret},
		DatabaseURL:    dbURL,
		DataDir:        filepath.Join(h.dir, "app"),
		PublicURL:      h.appURL,
		OnEvent:        h.events.record,
		Logger:         slog.New(slog.NewTextHandler(h.appLog, nil)),
	}
	h.app, err = New(t.Context(), h.cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.gate = &gate{next: h.app.Handler(), passed: map[string]bool{}}
	srv := &http.Server{Handler: h.gate}
	go srv.Serve(ln)
	t.Cleanup(func() {
		srv.Close()
		h.app.Close()
	})
	return h
}

// autherEnv is the environment of Auther's processes: ours without any
// AUTHER_* setting that could point it elsewhere.
func (h *harness) autherEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AUTHER_") {
			env = append(env, kv)
		}
	}
	return append(env, "AUTHER_DATA_DIR="+filepath.Join(h.dir, "auther"), "AUTHER_SECRET="+autherSecret, "AUTHER_LOG_LEVEL=warn")
}

func (h *harness) cli(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(autherBin, args...)
	cmd.Env = h.autherEnv()
	cmd.Stdin = strings.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("auther %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return string(out)
}

func field(t *testing.T, out, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + name + `:\s+(\S+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no %s in:\n%s", name, out)
	}
	return m[1]
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func (h *harness) startAuther(t *testing.T) {
	t.Helper()
	cmd := exec.Command(autherBin, "serve", "--addr", h.autherAddr, "--base-url", h.base,
		"--data-dir", filepath.Join(h.dir, "auther"), "--secret", autherSecret,
		"--webhook-first-retry", "200ms", "--rate-limit=off")
	cmd.Env = h.autherEnv()
	cmd.Stdout, cmd.Stderr = h.autherLog, h.autherLog
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	h.auther, h.autherExited = cmd, exited
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatalf("auther exited: %v\n%s", cmd.ProcessState, h.autherLog.String())
		default:
		}
		if res, err := http.Get(h.base + "/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("auther not healthy after 20 s:\n%s", h.autherLog.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (h *harness) killAuther(t *testing.T) {
	t.Helper()
	if err := h.auther.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-h.autherExited
}

func (h *harness) stopAuther() {
	select {
	case <-h.autherExited:
		return
	default:
	}
	h.auther.Process.Signal(syscall.SIGKILL)
	<-h.autherExited
}

func (h *harness) dumpLogs(t *testing.T) {
	t.Logf("auther log:\n%s\napp log:\n%s", h.autherLog.String(), h.appLog.String())
}

// testUser is a user signed in to Auther in a browser-like client.
type testUser struct {
	id, email string
	browser   *http.Client // cookie jar; follows redirects
}

func (h *harness) signUp(t *testing.T, name string) *testUser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	u := &testUser{email: "u" + randHex(6) + "@example.com", browser: &http.Client{Jar: jar, Timeout: 20 * time.Second}}
	res, body := h.postJSON(t, u.browser, h.base+"/api/auth/sign-up/email", map[string]string{"name": name, "email": u.email, "password": password})
	user, _ := body["user"].(map[string]any)
	u.id, _ = user["id"].(string)
	if res.StatusCode != 200 || u.id == "" {
		t.Fatalf("sign-up: %d %v", res.StatusCode, body)
	}
	return u
}

// accessToken runs the authorization code flow with PKCE for u's Auther
// session, as a browser would, and redeems the code like the app's backend.
func (h *harness) accessToken(t *testing.T, u *testUser) string {
	t.Helper()
	verifier := randHex(32)
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"response_type": {"code"}, "client_id": {h.cfg.ClientID}, "redirect_uri": {h.appURL + "/callback"},
		"scope": {"openid profile email"}, "state": {randHex(8)},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	noFollow := *u.browser
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := noFollow.Get(h.base + "/api/auth/oauth2/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, err := url.Parse(res.Header.Get("Location"))
	if res.StatusCode != http.StatusFound || err != nil || loc.Query().Get("code") == "" || loc.Query().Get("state") != q.Get("state") {
		t.Fatalf("authorize: %d, Location %q", res.StatusCode, res.Header.Get("Location"))
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"redirect_uri": {h.appURL + "/callback"}, "code_verifier": {verifier}}
	req, _ := http.NewRequest("POST", h.base+"/api/auth/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(h.cfg.ClientID), url.QueryEscape(h.cfg.ClientSecret))
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&tok); err != nil || res.StatusCode != 200 || tok.AccessToken == "" {
		t.Fatalf("token: %d %v", res.StatusCode, err)
	}
	return tok.AccessToken
}

func (h *harness) updateName(t *testing.T, u *testUser, name string) {
	t.Helper()
	res, body := h.postJSON(t, u.browser, h.base+"/api/auth/update-user", map[string]string{"name": name})
	if res.StatusCode != 200 {
		t.Fatalf("update-user: %d %v", res.StatusCode, body)
	}
}

// postJSON posts to Auther as its own pages would (Origin = Auther).
func (h *harness) postJSON(t *testing.T, c *http.Client, u string, v any) (*http.Response, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(v)
	req, _ := http.NewRequest("POST", u, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", h.base)
	return do(t, c, req)
}

func (h *harness) admin(t *testing.T, method, path string, want int) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(method, h.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+h.adminToken)
	res, body := do(t, http.DefaultClient, req)
	if res.StatusCode != want {
		t.Fatalf("%s %s: %d %v, want %d", method, path, res.StatusCode, body, want)
	}
	return body
}

type delivery struct {
	EventID        string     `json:"event_id"`
	EventType      string     `json:"event_type"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	LastStatusCode int        `json:"last_status_code"`
	NextAttemptAt  *time.Time `json:"next_attempt_at"`
}

// deliveries lists the endpoint's deliveries in a status (admin API).
func (h *harness) deliveries(t *testing.T, status string) []delivery {
	t.Helper()
	req, _ := http.NewRequest("GET", h.base+"/api/admin/webhooks/"+h.webhookID+"/deliveries?limit=500&status="+status, nil)
	req.Header.Set("Authorization", "Bearer "+h.adminToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out []delivery
	if err := json.Unmarshal(raw, &out); err != nil || res.StatusCode != 200 {
		t.Fatalf("deliveries: %d %s", res.StatusCode, raw)
	}
	return out
}

// api calls the app with a Bearer token.
func (h *harness) api(t *testing.T, method, path, token string, v any) (int, map[string]any) {
	t.Helper()
	var body io.Reader
	if v != nil && method != "GET" {
		b, _ := json.Marshal(v)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, h.appURL+path, body)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, m := do(t, http.DefaultClient, req)
	return res.StatusCode, m
}

// browserCall calls the app with u's cookies (no Authorization header).
func (h *harness) browserCall(t *testing.T, u *testUser, method, path string, v any, origin string) (int, map[string]any) {
	t.Helper()
	var body io.Reader
	if v != nil {
		b, _ := json.Marshal(v)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, h.appURL+path, body)
	req.Header.Set("Content-Type", "application/json")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	res, m := do(t, u.browser, req)
	return res.StatusCode, m
}

// postWebhook sends a delivery straight to the app, past the gate.
func (h *harness) postWebhook(t *testing.T, hdr http.Header, body []byte) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", h.appURL+webhookPath, bytes.NewReader(body))
	req.Header = hdr.Clone()
	res, m := do(t, http.DefaultClient, req)
	return res.StatusCode, m
}

func do(t *testing.T, c *http.Client, req *http.Request) (*http.Response, map[string]any) {
	t.Helper()
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var m map[string]any
	json.Unmarshal(raw, &m)
	if m == nil {
		m = map[string]any{"raw": string(raw)}
	}
	return res, m
}

// row reads the user's shadow row straight from the app's database.
func (h *harness) row(t *testing.T, id string) *sdk.ShadowUser {
	t.Helper()
	u, err := h.app.shadow.Get(t.Context(), id)
	if err == sdk.ErrNoShadowUser {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (h *harness) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	if err := h.app.db.QueryRowContext(t.Context(), h.app.db.q(query), args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// waitFor polls cond until it holds, for at most 20 s.
func (h *harness) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitRow waits until the user's shadow row exists and satisfies ok.
func (h *harness) waitRow(t *testing.T, id, what string, ok func(*sdk.ShadowUser) bool) *sdk.ShadowUser {
	t.Helper()
	var r *sdk.ShadowUser
	deadline := time.Now().Add(20 * time.Second)
	for {
		if r = h.row(t, id); r != nil && ok(r) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; row is %+v", what, r)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ---------------------------------------------------------------------------
// The gate in front of the app, and the record of applied events.

type gateMode int

const (
	gateOpen  gateMode = iota
	gateDown           // webhooks get 503 without reaching the app
	gateLossy          // each event's first delivery reaches the app, but Auther gets 503
)

type captured struct {
	header http.Header
	body   []byte
	status int    // what the app answered (0: it never saw the request)
	answer []byte // the app's answer
}

type gate struct {
	mu     sync.Mutex
	next   http.Handler
	mode   gateMode
	passed map[string]bool // lossy: ids whose first delivery went through
	log    []captured
}

func (g *gate) set(m gateMode) {
	g.mu.Lock()
	g.mode = m
	g.mu.Unlock()
}

func (g *gate) setNext(h http.Handler) {
	g.mu.Lock()
	g.next = h
	g.mu.Unlock()
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	next := g.next
	g.mu.Unlock()
	if r.URL.Path != webhookPath {
		next.ServeHTTP(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	id := r.Header.Get(sdk.HeaderWebhookID)
	g.mu.Lock()
	mode := g.mode
	lose := mode == gateLossy && !g.passed[id]
	if lose {
		g.passed[id] = true
	}
	g.mu.Unlock()
	c := captured{header: r.Header.Clone(), body: body}
	if mode == gateDown {
		http.Error(w, "receiver down", http.StatusServiceUnavailable)
	} else {
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		c.status, c.answer = rec.Code, rec.Body.Bytes()
		if lose {
			http.Error(w, "answer lost", http.StatusServiceUnavailable)
		} else {
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			w.Write(rec.Body.Bytes())
		}
	}
	g.mu.Lock()
	g.log = append(g.log, c)
	g.mu.Unlock()
}

// refused reports whether a delivery whose body matches was turned away
// while the gate was down.
func (g *gate) refused(match func(map[string]any) bool) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, c := range g.log {
		var b map[string]any
		if c.status == 0 && json.Unmarshal(c.body, &b) == nil && match(b) {
			return true
		}
	}
	return false
}

// duplicateAnswers returns the ids the app answered as duplicates.
func (g *gate) duplicateAnswers() map[string]bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := map[string]bool{}
	for _, c := range g.log {
		if c.status == 200 && bytes.Contains(c.answer, []byte(`"duplicate"`)) {
			out[c.header.Get(sdk.HeaderWebhookID)] = true
		}
	}
	return out
}

// find returns the last delivery the app applied whose body matches.
func (g *gate) find(match func(map[string]any) bool) *captured {
	g.mu.Lock()
	defer g.mu.Unlock()
	for i := len(g.log) - 1; i >= 0; i-- {
		var b map[string]any
		if json.Unmarshal(g.log[i].body, &b) == nil && g.log[i].status == 200 && match(b) {
			c := g.log[i]
			return &c
		}
	}
	return nil
}

type appliedEvent struct {
	ID, Type, UserID, Name string
	At                     time.Time // when the event happened (body timestamp)
	Outcome                sdk.Outcome
}

type eventLog struct {
	mu  sync.Mutex
	all []appliedEvent
}

func (l *eventLog) record(e sdk.Event, o sdk.Outcome) {
	var d struct {
		ID     string  `json:"id"`
		UserID string  `json:"userId"`
		Name   *string `json:"name"`
	}
	json.Unmarshal(e.Data, &d)
	a := appliedEvent{ID: e.ID, Type: e.Type, UserID: d.UserID, At: e.Timestamp, Outcome: o}
	if strings.HasPrefix(e.Type, "user.") {
		a.UserID = d.ID
	}
	if d.Name != nil {
		a.Name = *d.Name
	}
	l.mu.Lock()
	l.all = append(l.all, a)
	l.mu.Unlock()
}

// ofUser returns the events applied about a user, of one type or (typ "")
// all, in the order they were applied.
func (l *eventLog) ofUser(id, typ string) []appliedEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []appliedEvent
	for _, a := range l.all {
		if a.UserID == id && (typ == "" || a.Type == typ) {
			out = append(out, a)
		}
	}
	return out
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
