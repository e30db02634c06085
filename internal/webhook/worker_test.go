package webhook_test

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

	"github.com/auther/auther/internal/clock"
	"github.com/auther/auther/internal/event"
	"github.com/auther/auther/internal/id"
	"github.com/auther/auther/internal/seal"
	"github.com/auther/auther/internal/store"
	"github.com/auther/auther/internal/store/sqlstore"
	"github.com/auther/auther/internal/testdb"
	"github.com/auther/auther/internal/webhook"
)

var ctx = context.Background()

// receiver is a real HTTP server that checks signatures the way an app
// must, deduplicates by event id and records what it applied, in order.
type receiver struct {
	srv     *httptest.Server
	mu      sync.Mutex
	secrets []string
	down    bool
	applied []string // "type/subject" in arrival order, after dedup
	seen    map[string]int
	headers http.Header
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{seen: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.down {
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
			return
		}
		ts, _ := strconv.ParseInt(req.Header.Get("x-webhook-timestamp"), 10, 64)
		if !webhook.Verify(r.secrets, req.Header.Get("x-webhook-signature"), ts, body) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		r.headers = req.Header.Clone()
		var ev struct {
			ID, Type string
			Data     map[string]any
		}
		json.Unmarshal(body, &ev)
		if ev.ID != req.Header.Get("x-webhook-id") {
			http.Error(w, "id mismatch", http.StatusBadRequest)
			return
		}
		r.seen[ev.ID]++
		if r.seen[ev.ID] == 1 {
			subject, _ := ev.Data["id"].(string)
			if uid, ok := ev.Data["userId"].(string); ok {
				subject = uid
			}
			r.applied = append(r.applied, ev.Type+"/"+subject)
		}
		w.Write([]byte("thanks"))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) set(fn func(r *receiver)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fn(r)
}

type env struct {
	st     *sqlstore.Store
	clk    *clock.Fake
	mgr    *webhook.Manager
	worker *webhook.Worker
}

func newEnv(t *testing.T, st *sqlstore.Store) *env {
	box, err := seal.New(strings.Repeat("s", 32), "webhooks")
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Now().UTC().Truncate(time.Millisecond))
	mgr := &webhook.Manager{Store: st, Box: box, Clock: clk, Overlap: time.Hour, AllowPrivate: true}
	w := &webhook.Worker{Store: st, Endpoints: mgr, Clock: clk, Log: slog.New(slog.DiscardHandler)}
	return &env{st: st, clk: clk, mgr: mgr, worker: w}
}

func strp(s string) *string { return &s }

func (e *env) endpoint(t *testing.T, r *receiver, retry string, types ...string) (*store.WebhookEndpoint, string) {
	t.Helper()
	ep, secret, err := e.mgr.Create(ctx, webhook.EndpointInput{URL: strp(r.srv.URL + "/hooks"), EventTypes: &types, RetryPolicy: &retry})
	if err != nil {
		t.Fatal(err)
	}
	r.set(func(r *receiver) { r.secrets = append(r.secrets, secret) })
	return ep, secret
}

func (e *env) user(t *testing.T, email string) *store.User {
	t.Helper()
	now := e.clk.Now()
	u := &store.User{ID: id.New(), Name: "N", Email: email, CreatedAt: now, UpdatedAt: now}
	if err := e.st.CreateUser(ctx, u, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	return u
}

func (e *env) rename(t *testing.T, u *store.User, name string) {
	t.Helper()
	if _, err := e.st.UpdateUser(ctx, u.ID, func(u *store.User) error { u.Name, u.UpdatedAt = name, e.clk.Now(); return nil }); err != nil {
		t.Fatal(err)
	}
}

// drain runs the worker until nothing is due now.
func (e *env) drain() {
	for e.worker.Once(ctx) > 0 {
	}
}

func TestDeliversSignedEventsWithTheDocumentedHeaders(t *testing.T) {
	testdb.Each(t, func(t *testing.T, st *sqlstore.Store) {
		e, r := newEnv(t, st), newReceiver(t)
		ep, _ := e.endpoint(t, r, store.RetryStandard, event.UserCreated)
		u := e.user(t, "hdr@example.com")
		e.drain()
		if len(r.applied) != 1 || r.applied[0] != "user.created/"+u.ID {
			t.Fatalf("applied = %v", r.applied)
		}
		h := r.headers
		ts, err := strconv.ParseInt(h.Get("x-webhook-timestamp"), 10, 64)
		if err != nil || ts != e.clk.Now().UnixMilli() || h.Get("x-webhook-origin") != "auther" ||
			h.Get("Content-Type") != "application/json" || !strings.HasPrefix(h.Get("x-webhook-id"), "evt_") {
			t.Fatalf("headers = %v", h)
		}
		ds, _ := st.ListDeliveries(ctx, store.ListDeliveriesOptions{EndpointID: ep.ID})
		if len(ds) != 1 || ds[0].Status != store.DeliveryDelivered || ds[0].LastStatusCode != 200 {
			t.Fatalf("deliveries = %+v", ds)
		}
		atts, _ := st.ListAttempts(ctx, ds[0].ID)
		if len(atts) != 1 || atts[0].Response != "thanks" || atts[0].StatusCode != 200 {
			t.Fatalf("attempts = %+v", atts)
		}
	})
}

func TestReceiverDownThenUpGetsEverythingInOrderOnce(t *testing.T) {
	testdb.Each(t, func(t *testing.T, st *sqlstore.Store) {
		e, r := newEnv(t, st), newReceiver(t)
		e.endpoint(t, r, store.RetryStandard, "*")
		r.set(func(r *receiver) { r.down = true })
		a, b := e.user(t, "a@example.com"), e.user(t, "b@example.com")
		for i := range 3 {
			e.rename(t, a, "A"+strconv.Itoa(i))
			e.rename(t, b, "B"+strconv.Itoa(i))
		}
		// Down for six hours of retries: only the head of each user's
		// queue is ever attempted.
		for range 40 {
			e.drain()
			e.clk.Advance(10 * time.Minute)
		}
		if len(r.applied) != 0 {
			t.Fatalf("applied while down: %v", r.applied)
		}
		r.set(func(r *receiver) { r.down = false })
		for range 20 {
			e.clk.Advance(time.Hour)
			e.drain()
		}
		var gotA, gotB []string
		for _, x := range r.applied {
			if strings.HasSuffix(x, a.ID) {
				gotA = append(gotA, x)
			} else {
				gotB = append(gotB, x)
			}
		}
		want := func(u *store.User) []string {
			return []string{"user.created/" + u.ID, "user.updated/" + u.ID, "user.updated/" + u.ID, "user.updated/" + u.ID}
		}
		if strings.Join(gotA, " ") != strings.Join(want(a), " ") || strings.Join(gotB, " ") != strings.Join(want(b), " ") {
			t.Fatalf("applied a=%v b=%v", gotA, gotB)
		}
		for id, n := range r.seen {
			if n != 1 {
				t.Fatalf("event %s arrived %d times", id, n)
			}
		}
	})
}

func TestRetryPolicyAndRetryWindowEndInDead(t *testing.T) {
	testdb.Each(t, func(t *testing.T, st *sqlstore.Store) {
		e, r := newEnv(t, st), newReceiver(t)
		none, _ := e.endpoint(t, r, store.RetryNone, event.UserCreated)
		std, _ := e.endpoint(t, r, store.RetryStandard, event.UserCreated)
		e.worker.RetryFor = 2 * time.Hour
		r.set(func(r *receiver) { r.down = true })
		e.user(t, "dead@example.com")
		e.drain()
		if ds, _ := st.ListDeliveries(ctx, store.ListDeliveriesOptions{EndpointID: none.ID}); ds[0].Status != store.DeliveryDead || ds[0].Attempts != 1 {
			t.Fatalf("retry none: %+v", ds[0])
		}
		for range 30 {
			e.clk.Advance(10 * time.Minute)
			e.drain()
		}
		ds, _ := st.ListDeliveries(ctx, store.ListDeliveriesOptions{EndpointID: std.ID})
		if ds[0].Status != store.DeliveryDead || ds[0].Attempts < 4 || ds[0].LastStatusCode != 503 {
			t.Fatalf("standard after the window: %+v", ds[0])
		}
		// A replay after the receiver is back delivers it.
		r.set(func(r *receiver) { r.down = false })
		if _, err := st.ReplayDelivery(ctx, ds[0].ID, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		e.drain()
		if d, _ := st.GetDelivery(ctx, ds[0].ID); d.Status != store.DeliveryDelivered {
			t.Fatalf("after replay: %+v", d)
		}
	})
}

func TestRotatedSecretSignsWithBothDuringTheOverlap(t *testing.T) {
	st := testdb.SQLite(t)
	e, r := newEnv(t, st), newReceiver(t)
	ep, old := e.endpoint(t, r, store.RetryStandard, event.UserUpdated)
	_, fresh, err := e.mgr.RotateSecret(ctx, ep.ID, false)
	if err != nil || fresh == old || !strings.HasPrefix(fresh, "whsec_") {
		t.Fatalf("rotate = %q, %v", fresh, err)
	}
	// A second rotation inside the overlap would stop the old secret at
	// once; it needs force.
	if _, _, err := e.mgr.RotateSecret(ctx, ep.ID, false); err != webhook.ErrRotationInProgress {
		t.Fatalf("second rotation during the overlap: %v", err)
	}
	r.set(func(r *receiver) { r.secrets = []string{old} }) // not yet updated
	u := e.user(t, "rot@example.com")
	e.rename(t, u, "x")
	e.drain()
	if len(r.applied) != 1 || len(strings.Split(r.headers.Get("x-webhook-signature"), ",")) != 2 {
		t.Fatalf("during overlap: applied %v, signature %q", r.applied, r.headers.Get("x-webhook-signature"))
	}
	e.clk.Advance(2 * time.Hour) // overlap over: the old secret no longer signs
	e.rename(t, u, "y")
	e.drain()
	if len(r.applied) != 1 {
		t.Fatalf("old secret still accepted after the overlap: %v", r.applied)
	}
	r.set(func(r *receiver) { r.secrets = []string{fresh} })
	e.clk.Advance(time.Hour)
	e.drain()
	if len(r.applied) != 2 || strings.Contains(r.headers.Get("x-webhook-signature"), ",") {
		t.Fatalf("after overlap: applied %v, signature %q", r.applied, r.headers.Get("x-webhook-signature"))
	}
}

func TestReplicasNeverSendOneAttemptTwice(t *testing.T) {
	testdb.Each(t, func(t *testing.T, st *sqlstore.Store) {
		e, r := newEnv(t, st), newReceiver(t)
		e.endpoint(t, r, store.RetryStandard, event.UserCreated)
		for i := range 40 {
			e.user(t, "r"+strconv.Itoa(i)+"@example.com")
		}
		second := &webhook.Worker{Store: st, Endpoints: e.mgr, Clock: e.clk, Log: slog.New(slog.DiscardHandler), Batch: 3}
		e.worker.Batch = 3
		var wg sync.WaitGroup
		for _, w := range []*webhook.Worker{e.worker, second, e.worker, second} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for w.Once(ctx) > 0 {
				}
			}()
		}
		wg.Wait()
		if len(r.seen) != 40 {
			t.Fatalf("%d events arrived, want 40", len(r.seen))
		}
		for id, n := range r.seen {
			if n != 1 {
				t.Fatalf("event %s sent %d times", id, n)
			}
		}
	})
}

func TestEndpointValidation(t *testing.T) {
	e := newEnv(t, testdb.SQLite(t))
	e.mgr.AllowPrivate = false
	types := []string{event.UserCreated}
	for _, u := range []string{"ftp://x.example", "http://hooks.example.com/x", "/relative", "https://user:pw@x.example/", "",
		"https://localhost/h", "https://127.0.0.1/h", "https://10.1.2.3/h", "https://169.254.169.254/latest/meta-data", "https://[::1]/h", "https://app.localhost/h"} {
		if _, _, err := e.mgr.Create(ctx, webhook.EndpointInput{URL: strp(u), EventTypes: &types}); err != webhook.ErrInvalidURL {
			t.Errorf("URL %q: %v", u, err)
		}
	}
	bad := []string{"user.exploded"}
	if _, _, err := e.mgr.Create(ctx, webhook.EndpointInput{URL: strp("https://x.example/h"), EventTypes: &bad}); err == nil {
		t.Error("unknown event type accepted")
	}
	if _, _, err := e.mgr.Create(ctx, webhook.EndpointInput{URL: strp("https://x.example/h"), EventTypes: &[]string{}}); err != webhook.ErrNoEventTypes {
		t.Errorf("no types: %v", err)
	}
	if _, _, err := e.mgr.Create(ctx, webhook.EndpointInput{URL: strp("https://x.example/h"), EventTypes: &types, RetryPolicy: strp("often")}); err != webhook.ErrInvalidRetryPolicy {
		t.Errorf("retry policy: %v", err)
	}
	if list, _ := e.st.ListWebhookEndpoints(ctx); len(list) != 0 {
		t.Fatalf("refused endpoints were stored: %+v", list)
	}
	ep, secret, err := e.mgr.Create(ctx, webhook.EndpointInput{URL: strp("https://hooks.example.com/h"), EventTypes: &[]string{"user.deleted", "*", "user.created"}})
	if err != nil || len(ep.EventTypes) != 1 || ep.EventTypes[0] != "*" || ep.Secret == secret || len(secret) != len("whsec_")+43 {
		t.Fatalf("create = %+v %q %v", ep, secret, err)
	}
}

// A name that resolves to an internal address is refused when dialled, not
// only when the URL is checked (DNS can change after registration).
func TestDeliveryRefusesPrivateAddressesWhenDialling(t *testing.T) {
	st := testdb.SQLite(t)
	e, r := newEnv(t, st), newReceiver(t)
	ep, _ := e.endpoint(t, r, store.RetryStandard, "*")
	port := r.srv.URL[strings.LastIndex(r.srv.URL, ":")+1:]
	if _, err := e.mgr.Update(ctx, ep.ID, webhook.EndpointInput{URL: strp("http://localhost:" + port + "/hooks")}); err != nil {
		t.Fatal(err)
	}
	strict := &webhook.Worker{Store: st, Endpoints: &webhook.Manager{Store: st, Box: e.mgr.Box, Clock: e.clk}, Clock: e.clk, Log: slog.New(slog.DiscardHandler)}
	res, err := strict.SendTest(ctx, ep.ID)
	if err != nil || res.OK() || !strings.Contains(res.Err, "loopback, private or link-local") {
		t.Fatalf("send to localhost without allow-private = %+v, %v", res, err)
	}
	if len(r.applied) != 0 || len(r.seen) != 0 {
		t.Fatal("the request reached the receiver")
	}
}

// Whatever a receiver answers is stored safely: invalid UTF-8 and NUL bytes
// in a 2xx body must not stop the delivery from being recorded (PostgreSQL
// refuses them in text columns).
func TestReceiverGarbageIsRecorded(t *testing.T) {
	testdb.Each(t, func(t *testing.T, st *sqlstore.Store) {
		e := newEnv(t, st)
		garbage := append([]byte(strings.Repeat("é", 511)), 0xff, 0x00, 0xfe, 'x')
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(garbage) }))
		defer srv.Close()
		types := []string{event.UserCreated}
		ep, _, err := e.mgr.Create(ctx, webhook.EndpointInput{URL: strp(srv.URL), EventTypes: &types})
		if err != nil {
			t.Fatal(err)
		}
		e.user(t, "garbage@example.com")
		e.drain()
		ds, _ := st.ListDeliveries(ctx, store.ListDeliveriesOptions{EndpointID: ep.ID})
		if len(ds) != 1 || ds[0].Status != store.DeliveryDelivered {
			t.Fatalf("deliveries = %+v", ds)
		}
		atts, _ := st.ListAttempts(ctx, ds[0].ID)
		if len(atts) != 1 || len(atts[0].Response) > 1024 || strings.ContainsRune(atts[0].Response, 0) || !strings.HasPrefix(atts[0].Response, "ééé") {
			t.Fatalf("attempt = %+v", atts)
		}
	})
}

// Run keeps every slot busy: one receiver that hangs until the timeout
// does not hold back deliveries to a healthy one.
func TestHangingReceiverDoesNotStallOthers(t *testing.T) {
	st := testdb.SQLite(t)
	e := newEnv(t, st)
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer hang.Close()
	defer close(release)
	fast := newReceiver(t)
	types := []string{event.UserCreated}
	if _, _, err := e.mgr.Create(ctx, webhook.EndpointInput{URL: strp(hang.URL), EventTypes: &types}); err != nil {
		t.Fatal(err)
	}
	e.endpoint(t, fast, store.RetryStandard, event.UserCreated)
	for i := range 8 {
		e.user(t, "h"+strconv.Itoa(i)+"@example.com")
	}
	w := &webhook.Worker{Store: st, Endpoints: e.mgr, Clock: clock.Real{}, Log: slog.New(slog.DiscardHandler), Batch: 4,
		Client: &http.Client{Timeout: 30 * time.Second}}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go w.Run(runCtx)
	deadline := time.Now().Add(10 * time.Second)
	for {
		fast.mu.Lock()
		n := len(fast.applied)
		fast.mu.Unlock()
		if n == 8 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the healthy receiver got %d of 8 events while the other hung", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
