package sdk_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auther/auther/sdk"
)

const secret = "whsec_dGhpcy1pcy1hLXRlc3Qtc2VjcmV0LW9mLTMyLWJ5dGVz"

// delivery is one webhook request as Auther sends it.
type delivery struct {
	id, typ  string
	data     string
	at       time.Time // x-webhook-timestamp
	secrets  []string  // signatures in the header, in order
	drop     string    // header to leave out
	headerID string    // x-webhook-id when it must differ from id
	body     []byte    // raw body override
	signBody []byte    // sign this instead of the body sent
}

func (d delivery) send(t *testing.T, url string) (int, map[string]string) {
	t.Helper()
	body := d.body
	if body == nil {
		data := d.data
		if data == "" {
			data = `{"message":"hi"}`
		}
		body = []byte(`{"id":"` + d.id + `","origin":"auther","type":"` + d.typ + `","timestamp":` +
			strconv.FormatInt(d.at.UnixMilli(), 10) + `,"data":` + data + `}`)
	}
	ts := strconv.FormatInt(d.at.UnixMilli(), 10)
	secrets := d.secrets
	if secrets == nil {
		secrets = []string{secret}
	}
	signed := body
	if d.signBody != nil {
		signed = d.signBody
	}
	var sigs []string
	for _, s := range secrets {
		sigs = append(sigs, sdk.SignWebhook(s, ts, signed))
	}
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Webhook-Origin", "auther")
	id := d.id
	if d.headerID != "" {
		id = d.headerID
	}
	for h, v := range map[string]string{"x-webhook-id": id, "x-webhook-timestamp": ts, "x-webhook-signature": strings.Join(sigs, ",")} {
		if h != d.drop {
			req.Header.Set(h, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]string
	b, _ := io.ReadAll(resp.Body)
	json.Unmarshal(b, &out)
	return resp.StatusCode, out
}

// receiver is an app's webhook endpoint recording what it applied.
type receiver struct {
	srv     *httptest.Server
	calls   atomic.Int64
	mu      sync.Mutex
	applied []sdk.Event
	failN   atomic.Int64 // fail this many next calls
	delay   time.Duration
}

func newReceiver(t *testing.T, cfg sdk.WebhookConfig) *receiver {
	rc := &receiver{}
	cfg.Handle = func(ctx context.Context, e sdk.Event) error {
		rc.calls.Add(1)
		if rc.delay > 0 {
			time.Sleep(rc.delay)
		}
		if rc.failN.Load() > 0 {
			rc.failN.Add(-1)
			return errors.New("database down")
		}
		rc.mu.Lock()
		rc.applied = append(rc.applied, e)
		rc.mu.Unlock()
		return nil
	}
	if cfg.Secrets == nil {
		cfg.Secrets = []string{secret}
	}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	rc.srv = httptest.NewServer(sdk.WebhookHandler(cfg))
	t.Cleanup(rc.srv.Close)
	return rc
}

// newWebhookServer serves WebhookHandler(cfg) and returns its URL.
func newWebhookServer(t *testing.T, cfg sdk.WebhookConfig) string {
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := httptest.NewServer(sdk.WebhookHandler(cfg))
	t.Cleanup(srv.Close)
	return srv.URL
}

func (rc *receiver) appliedIDs() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var ids []string
	for _, e := range rc.applied {
		ids = append(ids, e.ID)
	}
	return ids
}

// dedupers are the Deduper implementations, each on a fresh store.
func eachDeduper(t *testing.T, fn func(t *testing.T, mk func(now func() time.Time) sdk.Deduper)) {
	t.Run("memory", func(t *testing.T) {
		fn(t, func(now func() time.Time) sdk.Deduper { return &sdk.MemoryDeduper{Now: now} })
	})
	for _, d := range databases {
		t.Run("sql-"+d.name, func(t *testing.T) {
			db := d.open(t)
			fn(t, func(now func() time.Time) sdk.Deduper {
				dd := &sdk.SQLDeduper{DB: db, Dialect: d.dialect, Now: now}
				if err := dd.Migrate(context.Background()); err != nil {
					t.Fatal(err)
				}
				return dd
			})
		})
	}
}

func TestWebhookDeliveryAppliedOnce(t *testing.T) {
	eachDeduper(t, func(t *testing.T, mk func(func() time.Time) sdk.Deduper) {
		rc := newReceiver(t, sdk.WebhookConfig{Dedup: mk(nil)})
		now := time.Now()
		d := delivery{id: "evt_1", typ: "user.created", at: now,
			data: `{"id":"u1","email":"ada@example.com","name":"Ada","emailVerified":false,"image":null,"createdAt":"2026-11-29T10:00:00.000Z"}`}
		status, body := d.send(t, rc.srv.URL)
		if status != 200 || body["status"] != "ok" {
			t.Fatalf("first delivery: %d %v", status, body)
		}
		// Auther's retry re-signs with a fresh timestamp.
		d.at = now.Add(2 * time.Second)
		status, body = d.send(t, rc.srv.URL)
		if status != 200 || body["status"] != "duplicate" {
			t.Fatalf("replay: %d %v", status, body)
		}
		if rc.calls.Load() != 1 {
			t.Fatalf("handler called %d times", rc.calls.Load())
		}
		e := rc.applied[0]
		if e.ID != "evt_1" || e.Type != sdk.EventUserCreated || e.Origin != "auther" || e.Timestamp.UnixMilli() != now.UnixMilli() {
			t.Fatalf("event %+v", e)
		}
		u, err := e.User()
		if err != nil || u.ID != "u1" || u.Email != "ada@example.com" || *u.Name != "Ada" || *u.EmailVerified ||
			!u.ImageSet || u.Image != nil || !u.CreatedAt.Equal(time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)) {
			t.Fatalf("user data %+v %v", u, err)
		}
	})
}

func TestWebhookRejections(t *testing.T) {
	rc := newReceiver(t, sdk.WebhookConfig{})
	now := time.Now()
	cases := []struct {
		name   string
		d      delivery
		status int
	}{
		{"bad signature", delivery{secrets: []string{"whsec_wrong"}}, 401},
		{"signature of another body", delivery{signBody: []byte(`{"id":"evt_x","type":"user.deleted","data":{}}`)}, 401},
		{"timestamp 6 minutes old", delivery{at: now.Add(-6 * time.Minute)}, 401},
		{"timestamp 6 minutes ahead", delivery{at: now.Add(6 * time.Minute)}, 401},
		{"missing x-webhook-id", delivery{drop: "x-webhook-id"}, 400},
		{"missing x-webhook-timestamp", delivery{drop: "x-webhook-timestamp"}, 400},
		{"missing x-webhook-signature", delivery{drop: "x-webhook-signature"}, 400},
		{"header id differs from the signed body's", delivery{headerID: "evt_other"}, 400},
		{"body over 1 MiB", delivery{data: `{"message":"` + strings.Repeat("a", 1<<20) + `"}`}, 413},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.d
			d.id = "evt_r" + strconv.Itoa(i)
			d.typ = "webhook.test"
			if d.at.IsZero() {
				d.at = now
			}
			if status, body := d.send(t, rc.srv.URL); status != tc.status {
				t.Fatalf("want %d, got %d %v", tc.status, status, body)
			}
		})
	}
	if n := rc.calls.Load(); n != 0 {
		t.Fatalf("handler called %d times for rejected deliveries", n)
	}
	// Within the window, either way, is fine.
	for i, at := range []time.Time{now.Add(-4 * time.Minute), now.Add(4 * time.Minute)} {
		d := delivery{id: "evt_ok" + strconv.Itoa(i), typ: "webhook.test", at: at}
		if status, _ := d.send(t, rc.srv.URL); status != 200 {
			t.Fatalf("timestamp %v: %d", at, status)
		}
	}
	req, _ := http.NewRequest("GET", rc.srv.URL, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Fatalf("GET: %d", resp.StatusCode)
	}
}

func TestWebhookHandlerErrorThenRetry(t *testing.T) {
	eachDeduper(t, func(t *testing.T, mk func(func() time.Time) sdk.Deduper) {
		rc := newReceiver(t, sdk.WebhookConfig{Dedup: mk(nil)})
		rc.failN.Store(1)
		d := delivery{id: "evt_retry", typ: "user.updated", at: time.Now(), data: `{"id":"u1","email":"a@b.c","name":"A","emailVerified":true,"image":null,"updatedAt":"2026-11-29T10:00:00.000Z"}`}
		if status, body := d.send(t, rc.srv.URL); status != 500 || body["error"] != "handler_failed" {
			t.Fatalf("failing handler: %d %v", status, body)
		}
		if len(rc.appliedIDs()) != 0 {
			t.Fatal("a failed delivery was recorded as applied")
		}
		if status, body := d.send(t, rc.srv.URL); status != 200 || body["status"] != "ok" {
			t.Fatalf("retry: %d %v", status, body)
		}
		if status, body := d.send(t, rc.srv.URL); status != 200 || body["status"] != "duplicate" {
			t.Fatalf("retry after success: %d %v", status, body)
		}
		if got := rc.appliedIDs(); len(got) != 1 || rc.calls.Load() != 2 {
			t.Fatalf("applied %v after %d calls", got, rc.calls.Load())
		}
	})
}

func TestWebhookHandlerPanicIsRetried(t *testing.T) {
	var panicked atomic.Bool
	h := sdk.WebhookHandler(sdk.WebhookConfig{Secrets: []string{secret}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Handle: func(ctx context.Context, e sdk.Event) error {
		if !panicked.Swap(true) {
			panic("nil map")
		}
		return nil
	}})
	srv := httptest.NewServer(h)
	defer srv.Close()
	d := delivery{id: "evt_p", typ: "webhook.test", at: time.Now()}
	if status, _ := d.send(t, srv.URL); status != 500 {
		t.Fatalf("panicking handler: %d", status)
	}
	if status, body := d.send(t, srv.URL); status != 200 || body["status"] != "ok" {
		t.Fatalf("retry: %d %v", status, body)
	}
}

func TestWebhookSecretRotation(t *testing.T) {
	const old, fresh = "whsec_b2xkLW9sZC1vbGQtb2xkLW9sZC1vbGQtb2xkLW9sZA", "whsec_bmV3LW5ldy1uZXctbmV3LW5ldy1uZXctbmV3LW5ldw"
	now := time.Now()
	// Receiver still on the old secret; Auther sends new-first, old-second.
	onOld := newReceiver(t, sdk.WebhookConfig{Secrets: []string{old}})
	if status, _ := (delivery{id: "evt_a", typ: "webhook.test", at: now, secrets: []string{fresh, old}}).send(t, onOld.srv.URL); status != 200 {
		t.Fatalf("old-secret receiver, two signatures: %d", status)
	}
	// Receiver already configured with both; Auther still signs with the old only.
	onBoth := newReceiver(t, sdk.WebhookConfig{Secrets: []string{fresh, old}})
	if status, _ := (delivery{id: "evt_b", typ: "webhook.test", at: now, secrets: []string{old}}).send(t, onBoth.srv.URL); status != 200 {
		t.Fatalf("two-secret receiver, old signature: %d", status)
	}
	if status, _ := (delivery{id: "evt_c", typ: "webhook.test", at: now, secrets: []string{fresh}}).send(t, onBoth.srv.URL); status != 200 {
		t.Fatalf("two-secret receiver, new signature: %d", status)
	}
	// Rotation finished: the old secret is dropped on the receiver.
	onNew := newReceiver(t, sdk.WebhookConfig{Secrets: []string{fresh}})
	if status, _ := (delivery{id: "evt_d", typ: "webhook.test", at: now, secrets: []string{old}}).send(t, onNew.srv.URL); status != 401 {
		t.Fatalf("retired secret still accepted: %d", status)
	}
	if !sdk.VerifyWebhookSignature([]string{fresh}, "1", " "+sdk.SignWebhook(old, "1", nil)+" , "+sdk.SignWebhook(fresh, "1", nil), nil) {
		t.Fatal("spaces around comma-separated signatures")
	}
}

func TestWebhookConcurrentDuplicatesApplyOnce(t *testing.T) {
	eachDeduper(t, func(t *testing.T, mk func(func() time.Time) sdk.Deduper) {
		rc := newReceiver(t, sdk.WebhookConfig{Dedup: mk(nil)})
		rc.delay = 50 * time.Millisecond
		d := delivery{id: "evt_dup", typ: "user.verified", at: time.Now(), data: `{"id":"u1","email":"a@b.c","emailVerified":true,"updatedAt":"2026-11-29T10:00:00.000Z"}`}
		var wg sync.WaitGroup
		statuses := make(chan int, 20)
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				status, _ := d.send(t, rc.srv.URL)
				statuses <- status
			}()
		}
		wg.Wait()
		close(statuses)
		ok := 0
		for s := range statuses {
			switch s {
			case 200:
				ok++
			case 409: // in progress: Auther retries later
			default:
				t.Fatalf("status %d", s)
			}
		}
		if rc.calls.Load() != 1 || len(rc.appliedIDs()) != 1 {
			t.Fatalf("20 concurrent deliveries: handler called %d times", rc.calls.Load())
		}
		if status, body := d.send(t, rc.srv.URL); status != 200 || body["status"] != "duplicate" {
			t.Fatalf("after: %d %v", status, body)
		}
	})
}

func TestDeduperLeaseExpiry(t *testing.T) {
	eachDeduper(t, func(t *testing.T, mk func(func() time.Time) sdk.Deduper) {
		clk := newClock()
		d := mk(clk.Now)
		ctx := context.Background()
		begin := func(want sdk.DedupState) int64 {
			t.Helper()
			got, claim, err := d.Begin(ctx, "evt_lease")
			if err != nil || got != want {
				t.Fatalf("Begin = %v %v, want %v", got, err, want)
			}
			return claim
		}
		begin(sdk.DedupNew)
		begin(sdk.DedupBusy)
		clk.Advance(sdk.DefaultLease + time.Second) // holder died
		claim := begin(sdk.DedupNew)
		begin(sdk.DedupBusy)
		if err := d.Release(ctx, "evt_lease", claim); err != nil {
			t.Fatal(err)
		}
		claim = begin(sdk.DedupNew)
		if err := d.Complete(ctx, "evt_lease", claim); err != nil {
			t.Fatal(err)
		}
		begin(sdk.DedupDone)
		if err := d.Release(ctx, "evt_lease", claim); err != nil { // a late release must not undo completion
			t.Fatal(err)
		}
		clk.Advance(48 * time.Hour)
		begin(sdk.DedupDone)
	})
}

// TestDeduperStaleClaim: A claims an event and runs past the lease; B takes
// the event over. A's failure must not release B's claim (a third delivery
// would then apply the event while B still is), and A's success must not
// complete it.
func TestDeduperStaleClaim(t *testing.T) {
	eachDeduper(t, func(t *testing.T, mk func(func() time.Time) sdk.Deduper) {
		clk := newClock()
		d := mk(clk.Now)
		ctx := context.Background()
		begin := func(want sdk.DedupState) int64 {
			t.Helper()
			got, claim, err := d.Begin(ctx, "evt_slow")
			if err != nil || got != want {
				t.Fatalf("Begin = %v %v, want %v", got, err, want)
			}
			return claim
		}
		a := begin(sdk.DedupNew)
		clk.Advance(sdk.DefaultLease + time.Second)
		b := begin(sdk.DedupNew)
		if a == b {
			t.Fatalf("A and B hold the same claim %d", a)
		}
		if err := d.Release(ctx, "evt_slow", a); err != nil { // A fails
			t.Fatal(err)
		}
		begin(sdk.DedupBusy) // C: B is still applying
		if err := d.Complete(ctx, "evt_slow", a); !errors.Is(err, sdk.ErrClaimLost) {
			t.Fatalf("A completes B's claim: %v, want ErrClaimLost", err)
		}
		begin(sdk.DedupBusy)
		if err := d.Complete(ctx, "evt_slow", b); err != nil {
			t.Fatal(err)
		}
		if err := d.Complete(ctx, "evt_slow", b); err != nil {
			t.Fatalf("completing twice: %v", err)
		}
		begin(sdk.DedupDone)
	})
}

// TestCompleteTxAppliesExactlyOnce: the handler applies the event and marks
// it processed in one transaction, so a process that dies before
// WebhookHandler's own Complete does not apply the event again after the
// lease; and a handler that fails before committing leaves neither the row
// nor the mark.
func TestCompleteTxAppliesExactlyOnce(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sql.DB, dialect sdk.Dialect) {
		clk := newClock()
		s := newShadow(t, db, dialect, clk)
		d := &sdk.SQLDeduper{DB: db, Dialect: dialect, Now: clk.Now}
		ctx := context.Background()
		if err := d.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		ev := userEvent("user.created", "u-once", clk.Now(), `{"id":"u-once","email":"once@example.com","name":"Once","emailVerified":false,"image":null,"createdAt":"2026-11-29T09:00:00.000Z"}`)
		applyOnce := func(claim int64, fail bool) error {
			tx, err := s.BeginTx(ctx)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			if err := d.CompleteTx(ctx, tx, ev.ID, claim); err != nil {
				return err
			}
			if _, err := s.ApplyTx(ctx, tx, ev); err != nil {
				return err
			}
			if fail {
				return errors.New("handler failed after its writes")
			}
			return tx.Commit()
		}

		state, claim, err := d.Begin(ctx, ev.ID)
		if err != nil || state != sdk.DedupNew {
			t.Fatalf("%v %v", state, err)
		}
		if err := applyOnce(claim, true); err == nil {
			t.Fatal("no failure")
		}
		if _, err := s.Get(ctx, "u-once"); !errors.Is(err, sdk.ErrNoShadowUser) {
			t.Fatalf("a rolled-back handler left the row: %v", err)
		}
		if err := applyOnce(claim, false); err != nil {
			t.Fatal(err)
		}
		// The process dies here, before Complete. Auther retries after the
		// lease: the event is known as processed.
		clk.Advance(sdk.DefaultLease + time.Second)
		if state, _, err := d.Begin(ctx, ev.ID); err != nil || state != sdk.DedupDone {
			t.Fatalf("after a crash past CompleteTx: %v %v, want DedupDone", state, err)
		}
		if u, err := s.Get(ctx, "u-once"); err != nil || u.Name != "Once" {
			t.Fatalf("%+v %v", u, err)
		}

		// A handler whose claim was taken over cannot commit.
		ev2 := userEvent("user.created", "u-twice", clk.Now(), `{"id":"u-twice","email":"t@example.com","name":"T","emailVerified":false,"image":null,"createdAt":"2026-11-29T09:00:00.000Z"}`)
		_, stale, _ := d.Begin(ctx, ev2.ID)
		clk.Advance(sdk.DefaultLease + time.Second)
		if state, _, _ := d.Begin(ctx, ev2.ID); state != sdk.DedupNew {
			t.Fatalf("takeover: %v", state)
		}
		ev = ev2
		if err := applyOnce(stale, false); !errors.Is(err, sdk.ErrClaimLost) {
			t.Fatalf("stale claim: %v, want ErrClaimLost", err)
		}
		if _, err := s.Get(ctx, "u-twice"); !errors.Is(err, sdk.ErrNoShadowUser) {
			t.Fatalf("a handler that lost its claim committed: %v", err)
		}
	})
}

// TestWebhookHandlerWithCompleteTx: Handle marks the event processed in its
// own transaction through WebhookClaim; the handler's own Complete then
// finds it done, and redeliveries are duplicates.
func TestWebhookHandlerWithCompleteTx(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sql.DB, dialect sdk.Dialect) {
		clk := newClock()
		s := newShadow(t, db, dialect, clk)
		d := sdk.NewSQLDeduper(db, dialect)
		if err := d.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		var applied atomic.Int64
		srv := newWebhookServer(t, sdk.WebhookConfig{Secrets: []string{secret}, Dedup: d,
			Handle: func(ctx context.Context, e sdk.Event) error {
				claim, ok := sdk.WebhookClaim(ctx)
				if !ok {
					return errors.New("no claim in the context")
				}
				tx, err := s.BeginTx(ctx)
				if err != nil {
					return err
				}
				defer tx.Rollback()
				if err := d.CompleteTx(ctx, tx, e.ID, claim); err != nil {
					return err
				}
				if _, err := s.ApplyTx(ctx, tx, e); err != nil {
					return err
				}
				applied.Add(1)
				return tx.Commit()
			}})
		ev := delivery{id: "evt_tx1", typ: "user.created", at: time.Now(), data: `{"id":"u-tx","email":"tx@example.com","name":"Tx","emailVerified":false,"image":null,"createdAt":"2026-11-29T09:00:00.000Z"}`}
		if status, body := ev.send(t, srv); status != 200 || body["status"] != "ok" {
			t.Fatalf("%d %v", status, body)
		}
		if status, body := ev.send(t, srv); status != 200 || body["status"] != "duplicate" {
			t.Fatalf("redelivery: %d %v", status, body)
		}
		del := delivery{id: "evt_tx2", typ: "user.deleted", at: time.Now(), data: `{"id":"u-tx","email":"tx@example.com","deletedAt":"2026-11-29T10:00:00.000Z"}`}
		if status, _ := del.send(t, srv); status != 200 {
			t.Fatalf("user.deleted: %d", status)
		}
		if _, err := s.Get(context.Background(), "u-tx"); !errors.Is(err, sdk.ErrNoShadowUser) {
			t.Fatalf("row after user.deleted: %v", err)
		}
		if applied.Load() != 2 {
			t.Fatalf("applied %d times", applied.Load())
		}
	})
}

func TestSQLDeduperPrune(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sql.DB, dialect sdk.Dialect) {
		clk := newClock()
		d := &sdk.SQLDeduper{DB: db, Dialect: dialect, Now: clk.Now, Table: "seen_events"}
		ctx := context.Background()
		if err := d.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if err := d.Migrate(ctx); err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		_, c, _ := d.Begin(ctx, "old")
		d.Complete(ctx, "old", c)
		clk.Advance(8 * 24 * time.Hour)
		_, c, _ = d.Begin(ctx, "new")
		d.Complete(ctx, "new", c)
		n, err := d.Prune(ctx, clk.Now().Add(-sdk.DefaultRetention))
		if err != nil || n != 1 {
			t.Fatalf("pruned %d %v", n, err)
		}
		if s, _, _ := d.Begin(ctx, "new"); s != sdk.DedupDone {
			t.Fatalf("recent id forgotten: %v", s)
		}
		if s, _, _ := d.Begin(ctx, "old"); s != sdk.DedupNew {
			t.Fatalf("pruned id still known: %v", s)
		}
	})
}

// TestTableNamesValidated: every statement that interpolates a table name
// refuses one that is not a plain identifier, before touching the database.
func TestTableNamesValidated(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sql.DB, dialect sdk.Dialect) {
		ctx := context.Background()
		good := &sdk.SQLDeduper{DB: db, Dialect: dialect, Table: "seen_events"}
		if err := good.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		bad := &sdk.SQLDeduper{DB: db, Dialect: dialect, Table: "seen_events; DROP TABLE seen_events; --"}
		if _, err := bad.Schema(); err == nil {
			t.Error("Schema accepted an invalid table name")
		}
		if err := bad.Migrate(ctx); err == nil {
			t.Error("Migrate accepted an invalid table name")
		}
		if _, _, err := bad.Begin(ctx, "e"); err == nil {
			t.Error("Begin accepted an invalid table name")
		}
		if err := bad.Complete(ctx, "e", 1); err == nil || errors.Is(err, sdk.ErrClaimLost) {
			t.Errorf("Complete: %v", err)
		}
		if err := bad.Release(ctx, "e", 1); err == nil {
			t.Error("Release accepted an invalid table name")
		}
		if _, err := bad.Prune(ctx, time.Now()); err == nil {
			t.Error("Prune accepted an invalid table name")
		}
		if n := countRows(t, db, "SELECT COUNT(*) FROM seen_events"); n != 0 {
			t.Fatalf("%d rows", n)
		}
		shadow := &sdk.ShadowStore{DB: db, Dialect: dialect, UsersTable: "users (id TEXT); --"}
		if _, err := shadow.Schema(); err == nil {
			t.Error("ShadowStore.Schema accepted an invalid table name")
		}
		if err := shadow.Migrate(ctx); err == nil {
			t.Error("ShadowStore.Migrate accepted an invalid table name")
		}
		ok := &sdk.ShadowStore{DB: db, Dialect: dialect, UsersTable: "app_users", TombstonesTable: "app_tombstones"}
		stmts, err := ok.Schema()
		if err != nil || len(stmts) != 2 || !strings.Contains(stmts[0], "app_users") || !strings.Contains(stmts[1], "app_tombstones") {
			t.Fatalf("%q %v", stmts, err)
		}
	})
}

func TestEventJSONRoundTrip(t *testing.T) {
	in := []byte(`{"id":"evt_9","origin":"auther","type":"session.created","timestamp":1796032800123,"data":{"id":"s1","userId":"u1","expiresAt":"2026-12-06T10:00:00.000Z","ipAddress":"203.0.113.9","userAgent":"curl"}}`)
	var e sdk.Event
	if err := json.Unmarshal(in, &e); err != nil {
		t.Fatal(err)
	}
	if e.Timestamp.UnixMilli() != 1796032800123 {
		t.Fatalf("timestamp %v", e.Timestamp)
	}
	var s sdk.SessionData
	if err := e.Decode(&s); err != nil || s.UserID != "u1" || s.IPAddress != "203.0.113.9" || s.ExpiresAt.IsZero() {
		t.Fatalf("%+v %v", s, err)
	}
	if _, err := e.User(); err == nil {
		t.Fatal("a session event decoded as a user event")
	}
	out, _ := json.Marshal(e)
	var back sdk.Event
	json.Unmarshal(out, &back)
	if back.ID != e.ID || !back.Timestamp.Equal(e.Timestamp) || string(back.Data) != string(e.Data) {
		t.Fatalf("round trip: %s", out)
	}
	// user.verified omits name and image: they stay unset.
	v := sdk.Event{Type: sdk.EventUserVerified, Data: json.RawMessage(`{"id":"u1","email":"a@b.c","emailVerified":true,"updatedAt":"2026-11-29T10:00:00.000Z"}`)}
	u, err := v.User()
	if err != nil || u.Name != nil || u.ImageSet || u.EmailVerified == nil || !*u.EmailVerified {
		t.Fatalf("%+v %v", u, err)
	}
}
