package storetest

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auther/auther/internal/event"
	"github.com/auther/auther/internal/id"
	"github.com/auther/auther/internal/store"
)

// laterCases are the conformance cases of the event outbox, webhook
// deliveries and refresh rotation; Run includes them.
var laterCases = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"EndpointRoundTrip", testEndpointRoundTrip},
	{"EventsRecordedWithTheirChange", testEventsRecorded},
	{"FailedChangeRecordsNoEvent", testFailedChangeNoEvent},
	{"DeliveriesFollowSubscriptions", testSubscriptions},
	{"DeliveriesInOrderPerSubject", testDeliveryOrder},
	{"DeliveryLeaseAndOutcomes", testDeliveryOutcomes},
	{"ConcurrentDeliveryClaimsAreDisjoint", testConcurrentDeliveryClaims},
	{"DeleteOldEventsKeepsPending", testDeleteOldEvents},
	{"ClientEventsOnlyForChanges", testClientEvents},
	{"UserVersionOnlyMovesForward", testUserVersionMonotonic},
	{"RefreshRotation", testRefreshRotation},
	{"ConcurrentRefreshRotation", testConcurrentRefreshRotation},
}

func newEndpoint(t *testing.T, s store.Store, types ...string) *store.WebhookEndpoint {
	t.Helper()
	e := &store.WebhookEndpoint{ID: "wh_" + id.New(), URL: "https://hooks.example.com/auther", EventTypes: types, Secret: "sealed",
		RetryPolicy: store.RetryStandard, CreatedAt: now(), UpdatedAt: now()}
	if err := s.CreateWebhookEndpoint(ctx, e); err != nil {
		t.Fatal(err)
	}
	return e
}

func eventTypes(t *testing.T, s store.Store) []string {
	t.Helper()
	evs, err := s.ListEvents(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

func pending(t *testing.T, s store.Store, endpointID string) []store.Delivery {
	t.Helper()
	ds, err := s.ListDeliveries(ctx, store.ListDeliveriesOptions{EndpointID: endpointID, Status: store.DeliveryPending, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func testEndpointRoundTrip(t *testing.T, s store.Store) {
	e := newEndpoint(t, s, event.UserCreated, event.UserDeleted)
	got, err := s.GetWebhookEndpoint(ctx, e.ID)
	if err != nil || got.URL != e.URL || !slices.Equal(got.EventTypes, []string{event.UserCreated, event.UserDeleted}) || got.Disabled ||
		got.RetryPolicy != store.RetryStandard || got.PreviousSecret != "" || got.PreviousSecretExpiresAt != nil {
		t.Fatalf("GetWebhookEndpoint = %+v, %v", got, err)
	}
	until := now().Add(time.Hour)
	_, err = s.UpdateWebhookEndpoint(ctx, e.ID, func(e *store.WebhookEndpoint) error {
		e.PreviousSecret, e.PreviousSecretExpiresAt, e.Secret = e.Secret, &until, "sealed-2"
		e.EventTypes, e.Disabled, e.UpdatedAt = []string{"*"}, true, now()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetWebhookEndpoint(ctx, e.ID)
	if got.Secret != "sealed-2" || got.PreviousSecret != "sealed" || got.PreviousSecretExpiresAt == nil || !got.PreviousSecretExpiresAt.Equal(until) ||
		!slices.Equal(got.EventTypes, []string{"*"}) || !got.Disabled {
		t.Fatalf("after update: %+v", got)
	}
	list, err := s.ListWebhookEndpoints(ctx)
	if err != nil || len(list) != 1 || !slices.Equal(list[0].EventTypes, []string{"*"}) {
		t.Fatalf("ListWebhookEndpoints = %+v, %v", list, err)
	}
	if err := s.DeleteWebhookEndpoint(ctx, e.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetWebhookEndpoint(ctx, e.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if err := s.DeleteWebhookEndpoint(ctx, e.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

func testEventsRecorded(t *testing.T, s store.Store) {
	e := newEndpoint(t, s, "*")
	u := newUser("events@example.com")
	sess := newSession(u, time.Hour)
	sent := event.OfVerificationSent(u.ID, u.Email, event.PurposeEmailVerification, now())
	if err := s.CreateUser(ctx, u, credential(u, "s:k"), sess, &store.Followup{Mail: newMail(u.Email), Events: []store.Event{sent}}); err != nil {
		t.Fatal(err)
	}
	want := []string{event.UserCreated, event.AccountLinked, event.SessionCreated, event.VerificationSent}
	if got := eventTypes(t, s); !slices.Equal(got, want) {
		t.Fatalf("events after sign-up = %v, want %v", got, want)
	}
	// Unchanged update: nothing to announce.
	if _, err := s.UpdateUser(ctx, u.ID, func(u *store.User) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateUser(ctx, u.ID, func(u *store.User) error { u.Name, u.EmailVerified, u.UpdatedAt = "Ada King", true, now(); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSession(ctx, u.ID, sess.TokenHash); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	want = append(want, event.UserUpdated, event.UserVerified, event.SessionDeleted, event.UserDeleted)
	if got := eventTypes(t, s); !slices.Equal(got, want) {
		t.Fatalf("events = %v, want %v", got, want)
	}
	evs, _ := s.ListEvents(ctx, 0, 100)
	var body struct {
		ID, Origin, Type string
		Timestamp        int64
		Data             map[string]any
	}
	for i, ev := range evs {
		if err := json.Unmarshal(ev.Payload, &body); err != nil || body.ID != ev.ID || body.Type != ev.Type || body.Origin != "auther" ||
			body.Timestamp != ev.CreatedAt.UnixMilli() || !strings.HasPrefix(ev.ID, "evt_") || ev.Subject != u.ID {
			t.Fatalf("event %d = %+v body %s (%v)", i, ev, ev.Payload, err)
		}
		if i > 0 && ev.Seq <= evs[i-1].Seq {
			t.Fatalf("seq not increasing: %d after %d", ev.Seq, evs[i-1].Seq)
		}
	}
	if err := json.Unmarshal(evs[4].Payload, &body); err != nil || body.Data["name"] != "Ada King" || body.Data["emailVerified"] != true {
		t.Fatalf("user.updated data = %v", body.Data)
	}
	if err := json.Unmarshal(evs[7].Payload, &body); err != nil || body.Data["id"] != u.ID || body.Data["email"] != u.Email {
		t.Fatalf("user.deleted data = %v", body.Data)
	}
	// Every event was queued for the endpoint that takes all of them.
	if got := len(pending(t, s, e.ID)); got != len(want) {
		t.Fatalf("%d pending deliveries, want %d", got, len(want))
	}
}

func testFailedChangeNoEvent(t *testing.T, s store.Store) {
	newEndpoint(t, s, "*")
	mustCreate(t, s, "taken@example.com")
	before := len(eventTypes(t, s))
	dup := newUser("taken@example.com")
	if err := s.CreateUser(ctx, dup, nil, newSession(dup, time.Hour), nil); !errors.Is(err, store.ErrEmailTaken) {
		t.Fatalf("duplicate CreateUser: %v", err)
	}
	if err := s.DeleteUser(ctx, "no-such-user"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("DeleteUser(unknown): %v", err)
	}
	if after := len(eventTypes(t, s)); after != before {
		t.Fatalf("a failed change left %d events", after-before)
	}
}

func testSubscriptions(t *testing.T, s store.Store) {
	all := newEndpoint(t, s, "*")
	deletes := newEndpoint(t, s, event.UserDeleted)
	off := newEndpoint(t, s, "*")
	if _, err := s.UpdateWebhookEndpoint(ctx, off.ID, func(e *store.WebhookEndpoint) error { e.Disabled = true; return nil }); err != nil {
		t.Fatal(err)
	}
	u := mustCreate(t, s, "subs@example.com") // user.created + account.linked
	if err := s.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if n := len(pending(t, s, all.ID)); n != 3 {
		t.Fatalf("catch-all endpoint has %d deliveries, want 3", n)
	}
	ds := pending(t, s, deletes.ID)
	if len(ds) != 1 || ds[0].EventType != event.UserDeleted {
		t.Fatalf("user.deleted endpoint got %+v", ds)
	}
	if n := len(pending(t, s, off.ID)); n != 0 {
		t.Fatalf("disabled endpoint got %d deliveries", n)
	}
}

func deliver(t *testing.T, s store.Store, d store.Delivery, status string, at time.Time) {
	t.Helper()
	a := &store.DeliveryAttempt{ID: id.New(), DeliveryID: d.ID, Claim: d.Attempts, StatusCode: 200, Duration: 3 * time.Millisecond, Response: "ok", CreatedAt: at}
	out := store.DeliveryOutcome{Status: status}
	if status == store.DeliveryPending {
		a.StatusCode, a.Error, out.NextAttemptAt = 503, "HTTP 503", at.Add(time.Minute)
	}
	if err := s.RecordAttempt(ctx, a, out); err != nil {
		t.Fatal(err)
	}
}

func testDeliveryOrder(t *testing.T, s store.Store) {
	e := newEndpoint(t, s, "*")
	a := mustCreate(t, s, "a@example.com")
	b := mustCreate(t, s, "b@example.com")
	for _, u := range []*store.User{a, b} {
		if _, err := s.UpdateUser(ctx, u.ID, func(u *store.User) error { u.Name, u.UpdatedAt = "Renamed", now(); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	at := now().Add(time.Second)
	if busy, _ := s.ClaimDeliveries(ctx, at, time.Minute, 10, e.ID); len(busy) != 0 {
		t.Fatalf("claimed deliveries of a skipped endpoint: %v", summary(busy))
	}
	// Each user has user.created, account.linked, user.updated queued; only
	// the first of each subject may go.
	claimed, err := s.ClaimDeliveries(ctx, at, time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(claimed) != 2 || claimed[0].EventType != event.UserCreated || claimed[1].EventType != event.UserCreated ||
		claimed[0].Subject == claimed[1].Subject || claimed[0].Attempts != 1 || len(claimed[0].Payload) == 0 ||
		claimed[0].Endpoint == nil || claimed[0].Endpoint.URL != e.URL {
		t.Fatalf("first claim = %v", summary(claimed))
	}
	// A failed first event holds back the rest of its subject.
	deliver(t, s, claimed[0], store.DeliveryPending, at)
	deliver(t, s, claimed[1], store.DeliveryDelivered, at)
	next, _ := s.ClaimDeliveries(ctx, at, time.Minute, 10)
	if len(next) != 1 || next[0].Subject != claimed[1].Subject || next[0].EventType != event.AccountLinked {
		t.Fatalf("second claim = %v", summary(next))
	}
	deliver(t, s, next[0], store.DeliveryDelivered, at)
	later, _ := s.ClaimDeliveries(ctx, at.Add(2*time.Minute), time.Minute, 10)
	if len(later) != 2 || later[0].ID != claimed[0].ID || later[0].Attempts != 2 ||
		later[1].Subject != claimed[1].Subject || later[1].EventType != event.UserUpdated {
		t.Fatalf("third claim = %v", summary(later))
	}
}

func summary(ds []store.Delivery) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.EventType+"/"+d.Subject+"/"+d.Status)
	}
	return out
}

func testDeliveryOutcomes(t *testing.T, s store.Store) {
	e := newEndpoint(t, s, event.UserCreated)
	mustCreate(t, s, "lease@example.com")
	at := now().Add(time.Second)
	c, _ := s.ClaimDeliveries(ctx, at, time.Minute, 10)
	if len(c) != 1 {
		t.Fatalf("claimed %d", len(c))
	}
	// Leased: nobody else gets it until the lease ends (a dead worker).
	if again, _ := s.ClaimDeliveries(ctx, at.Add(30*time.Second), time.Minute, 10); len(again) != 0 {
		t.Fatalf("leased delivery claimed again: %+v", again)
	}
	again, _ := s.ClaimDeliveries(ctx, at.Add(61*time.Second), time.Minute, 10)
	if len(again) != 1 || again[0].ID != c[0].ID || again[0].Attempts != 2 || !again[0].RetryFrom.Equal(at) {
		t.Fatalf("after the lease: %v (retry window from %v, want the first claim %v)", summary(again), again[0].RetryFrom, at)
	}
	// The worker whose lease ran out reports late: its outcome is dropped,
	// so it cannot overwrite what the newer claim will record.
	late := &store.DeliveryAttempt{ID: id.New(), DeliveryID: c[0].ID, Claim: c[0].Attempts, StatusCode: 500, CreatedAt: at.Add(62 * time.Second)}
	if err := s.RecordAttempt(ctx, late, store.DeliveryOutcome{Status: store.DeliveryPending, NextAttemptAt: at.Add(time.Hour)}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("stale claim recorded: %v", err)
	}
	if atts, _ := s.ListAttempts(ctx, c[0].ID); len(atts) != 0 {
		t.Fatalf("stale attempt stored: %+v", atts)
	}
	deliver(t, s, again[0], store.DeliveryDead, at.Add(62*time.Second))
	d, err := s.GetDelivery(ctx, c[0].ID)
	if err != nil || d.Status != store.DeliveryDead || d.LastStatusCode != 200 {
		t.Fatalf("after dead: %+v, %v", d, err)
	}
	atts, err := s.ListAttempts(ctx, d.ID)
	if err != nil || len(atts) != 1 || atts[0].Response != "ok" || atts[0].Duration != 3*time.Millisecond {
		t.Fatalf("attempts = %+v, %v", atts, err)
	}
	if ds, _ := s.ListDeliveries(ctx, store.ListDeliveriesOptions{EndpointID: e.ID, Status: store.DeliveryDead}); len(ds) != 1 {
		t.Fatalf("dead list = %+v", ds)
	}
	replayAt := at.Add(time.Hour)
	r, err := s.ReplayDelivery(ctx, d.ID, replayAt)
	if err != nil || r.Status != store.DeliveryPending || !r.RetryFrom.Equal(replayAt) {
		t.Fatalf("replay = %+v, %v", r, err)
	}
	if _, err := s.ReplayDelivery(ctx, d.ID, replayAt); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("replaying a pending delivery: %v", err)
	}
	if _, err := s.ReplayDelivery(ctx, "nope", replayAt); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("replaying an unknown delivery: %v", err)
	}
	c, _ = s.ClaimDeliveries(ctx, replayAt, time.Minute, 10)
	if len(c) != 1 {
		t.Fatalf("replayed delivery not claimable: %+v", c)
	}
	deliver(t, s, c[0], store.DeliveryDelivered, replayAt)
	if d, _ := s.GetDelivery(ctx, c[0].ID); d.Status != store.DeliveryDelivered || d.DeliveredAt == nil {
		t.Fatalf("after delivered: %+v", d)
	}
	// The test event goes to one endpoint whatever it subscribes to.
	td, err := s.EmitTo(ctx, e.ID, event.OfTest(now()))
	if err != nil || td.EventType != event.Test {
		t.Fatalf("EmitTo = %+v, %v", td, err)
	}
	if _, err := s.EmitTo(ctx, "nope", event.OfTest(now())); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("EmitTo(unknown) = %v", err)
	}
}

func testConcurrentDeliveryClaims(t *testing.T, s store.Store) {
	newEndpoint(t, s, event.UserCreated)
	const users = 30
	for i := range users {
		mustCreate(t, s, "c"+strings.Repeat("x", i)+"@example.com")
	}
	at := now().Add(time.Second)
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c, err := s.ClaimDeliveries(ctx, at, time.Minute, 3)
				if err != nil {
					t.Error(err)
					return
				}
				if len(c) == 0 {
					return
				}
				mu.Lock()
				for _, d := range c {
					seen[d.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != users {
		t.Fatalf("claimed %d distinct deliveries, want %d", len(seen), users)
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("delivery %s claimed %d times under one lease", id, n)
		}
	}
}

func testDeleteOldEvents(t *testing.T, s store.Store) {
	e := newEndpoint(t, s, event.UserCreated)
	mustCreate(t, s, "old1@example.com") // user.created (delivered below) + account.linked (no delivery)
	mustCreate(t, s, "old2@example.com") // user.created stays pending
	at := now().Add(time.Second)
	c, _ := s.ClaimDeliveries(ctx, at, time.Minute, 1)
	deliver(t, s, c[0], store.DeliveryDelivered, at)
	n, err := s.DeleteOldEvents(ctx, at.Add(time.Hour), 100)
	if err != nil || n != 3 {
		t.Fatalf("DeleteOldEvents = %d, %v; want 3 (the pending one stays)", n, err)
	}
	if left := pending(t, s, e.ID); len(left) != 1 {
		t.Fatalf("pending after sweep: %+v", left)
	}
}

func testClientEvents(t *testing.T, s store.Store) {
	c := &store.Client{ID: "billing", Name: "Billing", RedirectURIs: []string{"https://b.example/cb"}, GrantTypes: []string{"authorization_code"},
		Scopes: []string{"openid"}, CreatedAt: now(), UpdatedAt: now()}
	if err := s.CreateClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	// Re-applying the same settings (as the clients file does at every
	// start) announces nothing.
	if _, err := s.UpdateClient(ctx, c.ID, func(c *store.Client) error { c.UpdatedAt = now().Add(time.Second); return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateClient(ctx, c.ID, func(c *store.Client) error {
		c.RedirectURIs = append(c.RedirectURIs, "https://b.example/cb2")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteClient(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	want := []string{event.ClientCreated, event.ClientUpdated, event.ClientDeleted}
	if got := eventTypes(t, s); !slices.Equal(got, want) {
		t.Fatalf("client events = %v, want %v", got, want)
	}
	evs, _ := s.ListEvents(ctx, 0, 10)
	if !strings.Contains(string(evs[2].Payload), `"clientId":"billing","name":"Billing"`) {
		t.Fatalf("client.deleted = %s", evs[2].Payload)
	}
}

// Apps order user.* events by updatedAt, so a change written with an
// earlier clock (another replica, a time taken before a lock) must still
// get a later updatedAt than the one before it.
func testUserVersionMonotonic(t *testing.T, s store.Store) {
	u := mustCreate(t, s, "versions@example.com")
	first, err := s.UpdateUser(ctx, u.ID, func(u *store.User) error { u.Name, u.UpdatedAt = "Later", now().Add(time.Hour); return nil })
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.UpdateUser(ctx, u.ID, func(u *store.User) error { u.Name, u.UpdatedAt = "Skewed", now(); return nil })
	if err != nil || !second.UpdatedAt.After(first.UpdatedAt) {
		t.Fatalf("a skewed clock moved updatedAt back: %v then %v (%v)", first.UpdatedAt, second.UpdatedAt, err)
	}
	claimed, err := s.ClaimUser(ctx, u.ID, now())
	if err != nil || !claimed.UpdatedAt.After(second.UpdatedAt) {
		t.Fatalf("ClaimUser moved updatedAt back: %v then %v (%v)", second.UpdatedAt, claimed.UpdatedAt, err)
	}
	got, _ := s.GetUser(ctx, u.ID)
	if !got.UpdatedAt.Equal(claimed.UpdatedAt) {
		t.Fatalf("stored %v, returned %v", got.UpdatedAt, claimed.UpdatedAt)
	}
	evs, _ := s.ListEvents(ctx, 0, 100)
	var last int64
	for _, e := range evs {
		var b struct {
			Type string
			Data struct{ UpdatedAt time.Time }
		}
		json.Unmarshal(e.Payload, &b)
		if b.Type != event.UserUpdated {
			continue
		}
		if ms := b.Data.UpdatedAt.UnixMilli(); ms <= last {
			t.Fatalf("user.updated versions not increasing: %d after %d", ms, last)
		} else {
			last = ms
		}
	}
}
