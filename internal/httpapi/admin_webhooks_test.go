package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auther/auther/internal/auth"
	"github.com/auther/auther/internal/httpapi"
	"github.com/auther/auther/internal/seal"
	"github.com/auther/auther/internal/store/sqlstore"
	"github.com/auther/auther/internal/testdb"
	"github.com/auther/auther/internal/webhook"
)

// hookSink is a real receiver: it keeps every request it was sent.
type hookSink struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []sunk
}

type sunk struct {
	header http.Header
	body   []byte
}

func newHookSink(t *testing.T) *hookSink {
	s := &hookSink{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.reqs = append(s.reqs, sunk{r.Header.Clone(), b})
		s.mu.Unlock()
		w.Write([]byte("received"))
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *hookSink) received() []sunk {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sunk(nil), s.reqs...)
}

// withWebhooks gives the server a webhook manager and worker; the worker is
// returned through w so the test can run it.
func withWebhooks(w **webhook.Worker) envOption {
	return func(svc *auth.Service, o *httpapi.Options) {
		box, _ := seal.New(testSecret, "webhook-secrets")
		st := o.Store
		mgr := &webhook.Manager{Store: st, Box: box, Clock: svc.Clock, Overlap: time.Hour, AllowPrivate: true}
		*w = &webhook.Worker{Store: st, Endpoints: mgr, Clock: svc.Clock, Log: slog.New(slog.DiscardHandler)}
		o.Webhooks, o.Deliverer = mgr, *w
	}
}

func adminClient(t *testing.T, e *env) *client {
	t.Helper()
	if _, err := e.auth.CreateUser(context.Background(), "Root", "root@example.com", pw, true, true); err != nil {
		t.Fatal(err)
	}
	admin := e.client()
	if r := admin.post("/api/auth/sign-in/email", map[string]any{"email": "root@example.com", "password": pw}); r.Status != 200 {
		t.Fatalf("admin sign-in: %d %s", r.Status, r.Body)
	}
	return admin
}

func list(t *testing.T, r response) []map[string]any {
	t.Helper()
	var out []map[string]any
	if err := json.Unmarshal(r.Body, &out); err != nil {
		t.Fatalf("%d %s: %v", r.Status, r.Body, err)
	}
	return out
}

func TestAdminWebhookAPI(t *testing.T) {
	testdb.Each(t, func(t *testing.T, st *sqlstore.Store) {
		var worker *webhook.Worker
		e := newEnv(t, st, withWebhooks(&worker))
		sink := newHookSink(t)
		admin := adminClient(t, e)
		user := e.client()
		user.signUp("plain@example.com", pw)
		for worker.Once(context.Background()) > 0 { // nothing subscribed yet: nothing sent
		}

		body := map[string]any{"url": sink.srv.URL + "/hooks", "events": []string{"user.created", "user.updated"}, "description": "CRM"}
		if r := user.post("/api/admin/webhooks", body); r.Status != 403 {
			t.Fatalf("non-admin create: %d", r.Status)
		}
		for _, bad := range []struct {
			body map[string]any
			code string
		}{
			{map[string]any{"events": []string{"*"}}, "VALIDATION_ERROR"},
			{map[string]any{"url": sink.srv.URL}, "VALIDATION_ERROR"},
			{map[string]any{"url": "ftp://crm.example.com/hooks", "events": []string{"*"}}, "INVALID_WEBHOOK_URL"},
			{map[string]any{"url": sink.srv.URL, "events": []string{"user.exploded"}}, "INVALID_EVENT_TYPE"},
			{map[string]any{"url": sink.srv.URL, "events": []string{}}, "INVALID_EVENT_TYPE"},
			{map[string]any{"url": sink.srv.URL, "events": []string{"*"}, "retry_policy": "often"}, "INVALID_RETRY_POLICY"},
		} {
			if r := admin.post("/api/admin/webhooks", bad.body); r.Status != 400 || r.code(t) != bad.code {
				t.Errorf("create %v: %d %s, want 400 %s", bad.body, r.Status, r.Body, bad.code)
			}
		}
		if got := list(t, admin.get("/api/admin/webhooks")); len(got) != 0 {
			t.Fatalf("refused creates left endpoints: %v", got)
		}
		r := admin.post("/api/admin/webhooks", body)
		if r.Status != 201 {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
		created := r.json(t)
		id, secret := created["id"].(string), created["secret"].(string)
		if !strings.HasPrefix(secret, "whsec_") || created["retry_policy"] != "standard" || created["disabled"] != false {
			t.Fatalf("created = %v", created)
		}
		if got := list(t, admin.get("/api/admin/webhooks")); len(got) != 1 || got[0]["secret"] != nil {
			t.Fatalf("list = %v (secrets are shown once)", got)
		}

		// A change now reaches the endpoint, signed with that secret.
		if r := user.post("/api/auth/update-user", map[string]any{"name": "Renamed"}); r.Status != 200 {
			t.Fatalf("update-user: %d %s", r.Status, r.Body)
		}
		for worker.Once(context.Background()) > 0 {
		}
		got := sink.received()
		if len(got) != 1 {
			t.Fatalf("receiver got %d requests", len(got))
		}
		ts, _ := strconv.ParseInt(got[0].header.Get("x-webhook-timestamp"), 10, 64)
		if !webhook.Verify([]string{secret}, got[0].header.Get("x-webhook-signature"), ts, got[0].body) {
			t.Fatalf("signature does not verify with the secret the API returned")
		}
		var ev struct {
			Type string
			Data map[string]any
		}
		json.Unmarshal(got[0].body, &ev)
		if ev.Type != "user.updated" || ev.Data["name"] != "Renamed" || ev.Data["email"] != "plain@example.com" {
			t.Fatalf("event = %s", got[0].body)
		}

		ds := list(t, admin.get("/api/admin/webhooks/"+id+"/deliveries"))
		if len(ds) != 1 || ds[0]["status"] != "delivered" || ds[0]["event_type"] != "user.updated" {
			t.Fatalf("deliveries = %v", ds)
		}
		did := ds[0]["id"].(string)
		d := admin.get("/api/admin/webhook-deliveries/" + did).json(t)
		if log, _ := d["attempt_log"].([]any); len(log) != 1 || log[0].(map[string]any)["response"] != "received" {
			t.Fatalf("delivery = %v", d)
		}
		if r := admin.get("/api/admin/webhooks/" + id + "/deliveries?status=lost"); r.Status != 400 {
			t.Fatalf("bad status filter: %d", r.Status)
		}

		// Replay sends it again; a pending delivery cannot be replayed.
		if r := admin.post("/api/admin/webhook-deliveries/"+did+"/replay", nil); r.Status != 200 || r.json(t)["status"] != "pending" {
			t.Fatalf("replay: %d %s", r.Status, r.Body)
		}
		if r := admin.post("/api/admin/webhook-deliveries/"+did+"/replay", nil); r.Status != 409 || r.code(t) != "DELIVERY_PENDING" {
			t.Fatalf("replay of a pending delivery: %d %s", r.Status, r.Body)
		}
		for worker.Once(context.Background()) > 0 {
		}
		if n := len(sink.received()); n != 2 {
			t.Fatalf("after replay the receiver has %d requests, want 2", n)
		}
		if r := admin.post("/api/admin/webhook-deliveries/nope/replay", nil); r.Status != 404 || r.code(t) != "DELIVERY_NOT_FOUND" {
			t.Fatalf("replay unknown: %d %s", r.Status, r.Body)
		}

		// Test event, rotation, disable, delete.
		if r := admin.post("/api/admin/webhooks/"+id+"/test", nil); r.Status != 200 || r.json(t)["delivered"] != true {
			t.Fatalf("test: %d %s", r.Status, r.Body)
		}
		if last := sink.received()[2]; !strings.Contains(string(last.body), `"type":"webhook.test"`) {
			t.Fatalf("test event body = %s", last.body)
		}
		rot := admin.post("/api/admin/webhooks/"+id+"/rotate-secret", nil).json(t)
		if s2, _ := rot["secret"].(string); s2 == secret || !strings.HasPrefix(s2, "whsec_") || rot["previous_secret_expires_at"] == nil {
			t.Fatalf("rotate = %v", rot)
		}
		if r := admin.post("/api/admin/webhooks/"+id+"/rotate-secret", nil); r.Status != 409 || r.code(t) != "ROTATION_IN_PROGRESS" {
			t.Fatalf("second rotation inside the overlap: %d %s", r.Status, r.Body)
		}
		if r := admin.post("/api/admin/webhooks/"+id+"/rotate-secret?force=true", nil); r.Status != 200 {
			t.Fatalf("forced rotation: %d %s", r.Status, r.Body)
		}
		if r := admin.do("PATCH", "/api/admin/webhooks/"+id, map[string]any{"disabled": true, "events": []string{"*"}}); r.Status != 200 ||
			r.json(t)["disabled"] != true {
			t.Fatalf("disable: %d %s", r.Status, r.Body)
		}
		user.post("/api/auth/update-user", map[string]any{"name": "Again"})
		for worker.Once(context.Background()) > 0 {
		}
		if n := len(sink.received()); n != 3 {
			t.Fatalf("a disabled endpoint was sent to: %d requests", n)
		}
		if r := admin.do("DELETE", "/api/admin/webhooks/"+id, nil); r.Status != 200 {
			t.Fatalf("delete: %d", r.Status)
		}
		for _, p := range []string{"/api/admin/webhooks/" + id, "/api/admin/webhooks/" + id + "/deliveries"} {
			if r := admin.get(p); r.Status != 404 || r.code(t) != "WEBHOOK_NOT_FOUND" {
				t.Errorf("GET %s after delete: %d %s", p, r.Status, r.Body)
			}
		}
	})
}

func TestAdminUsersAPI(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		admin := adminClient(t, e)
		for _, m := range []string{"u1@example.com", "u2@example.com", "u3@example.com"} {
			e.client().signUp(m, pw)
		}
		var page struct {
			Users []map[string]any
			Next  *string `json:"nextCursor"`
		}
		json.Unmarshal(admin.get("/api/admin/users?limit=2").Body, &page)
		if len(page.Users) != 2 || page.Next == nil || page.Users[0]["role"] != "admin" {
			t.Fatalf("first page = %+v", page)
		}
		first := page.Users[0]["id"].(string)
		json.Unmarshal(admin.get("/api/admin/users?limit=2&after="+*page.Next).Body, &page)
		if len(page.Users) != 2 || page.Next == nil {
			t.Fatalf("second page = %+v", page)
		}
		last := page.Users[1]
		json.Unmarshal(admin.get("/api/admin/users?limit=2&after="+*page.Next).Body, &page)
		if len(page.Users) != 0 || page.Next != nil {
			t.Fatalf("past the end = %+v", page)
		}
		if r := admin.get("/api/admin/users?limit=0"); r.Status != 400 {
			t.Fatalf("limit=0: %d", r.Status)
		}
		id := last["id"].(string)
		u := admin.get("/api/admin/users/" + id).json(t)
		if u["email"] != last["email"] || u["emailVerified"] != false || u["role"] != nil {
			t.Fatalf("get = %v", u)
		}
		if r := e.client().get("/api/admin/users/" + id); r.Status != 401 {
			t.Fatalf("anonymous get: %d", r.Status)
		}
		if r := admin.do("DELETE", "/api/admin/users/"+first, nil); r.Status != 400 || r.code(t) != "CANNOT_DELETE_SELF" {
			t.Fatalf("self delete: %d %s", r.Status, r.Body)
		}
		if r := admin.do("DELETE", "/api/admin/users/"+id, nil); r.Status != 200 {
			t.Fatalf("delete: %d %s", r.Status, r.Body)
		}
		for _, r := range []response{admin.get("/api/admin/users/" + id), admin.do("DELETE", "/api/admin/users/"+id, nil)} {
			if r.Status != 404 || r.code(t) != "USER_NOT_FOUND" {
				t.Fatalf("after delete: %d %s", r.Status, r.Body)
			}
		}
	})
}
