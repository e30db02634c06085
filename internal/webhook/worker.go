package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/auther/auther/internal/clock"
	"github.com/auther/auther/internal/event"
	"github.com/auther/auther/internal/id"
	"github.com/auther/auther/internal/store"
)

// Worker sends due deliveries. Several workers (in one process or in
// several replicas) can run at once: claims are leased, so an attempt is
// never made twice at the same time, and a worker that dies mid-send only
// delays its deliveries until the lease ends.
type Worker struct {
	Store     store.Store
	Endpoints *Manager
	Clock     clock.Clock
	Log       *slog.Logger
	// Client sends the requests (default: NewClient, public addresses only
	// unless Endpoints.AllowPrivate).
	Client *http.Client
	// RetryFor is how long a failing delivery is retried, from its first
	// attempt or last replay, before it is marked dead (default 24 h).
	RetryFor time.Duration
	// FirstRetry is the wait before the first retry; later waits double up
	// to an hour (default 10 s).
	FirstRetry time.Duration
	// Batch is how many deliveries are sent concurrently (default 16). A
	// claim never holds two events of one subject for one endpoint, so
	// concurrency never reorders a user's events.
	Batch int
	// Poll is how often the queue is checked when idle (default 1 s).
	Poll time.Duration
	// Lease reserves a claimed delivery (default 1 min; it must outlast the
	// request timeout).
	Lease time.Duration
	// OnResult, when set, observes each outcome: "delivered", "retry", "dead".
	OnResult func(outcome string)

	wake chan struct{}
	once sync.Once

	mu       sync.Mutex
	inFlight map[string]int // by endpoint
}

func (w *Worker) defaults() {
	w.once.Do(func() {
		if w.Clock == nil {
			w.Clock = clock.Real{}
		}
		if w.Log == nil {
			w.Log = slog.Default()
		}
		if w.Client == nil {
			w.Client = NewClient(w.Endpoints.AllowPrivate)
		}
		if w.RetryFor == 0 {
			w.RetryFor = 24 * time.Hour
		}
		if w.FirstRetry == 0 {
			w.FirstRetry = 10 * time.Second
		}
		if w.Batch == 0 {
			w.Batch = 16
		}
		if w.Poll == 0 {
			w.Poll = time.Second
		}
		if w.Lease == 0 {
			w.Lease = time.Minute
		}
		w.wake = make(chan struct{}, 1)
		w.inFlight = map[string]int{}
	})
}

// Wake makes a sleeping worker look at the queue now.
func (w *Worker) Wake() {
	w.defaults()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends. Deliveries left pending by a previous run
// (a crash between commit and send) are picked up on the first pass.
//
// Sending is a pool of Batch slots refilled as each request ends, not
// batch by batch, and one endpoint holds at most a quarter of the slots: a
// receiver that hangs for the full timeout cannot hold up the others.
func (w *Worker) Run(ctx context.Context) {
	w.defaults()
	t := time.NewTicker(w.Poll)
	defer t.Stop()
	slots := make(chan struct{}, w.Batch)
	done := make(chan struct{}, w.Batch)
	var wg sync.WaitGroup
	defer wg.Wait()
	for ctx.Err() == nil {
		free := w.Batch - len(slots)
		claimed := 0
		if free > 0 {
			batch, err := w.Store.ClaimDeliveries(ctx, w.Clock.Now().UTC(), w.Lease, free, w.saturated()...)
			if err != nil && ctx.Err() == nil {
				w.Log.Warn("claiming webhook deliveries failed", "err", err)
			}
			claimed = len(batch)
			for _, d := range batch {
				slots <- struct{}{}
				wg.Add(1)
				w.track(d.EndpointID, 1)
				go func() {
					defer wg.Done()
					w.deliver(ctx, d)
					w.track(d.EndpointID, -1)
					<-slots
					select {
					case done <- struct{}{}:
					default:
					}
				}()
			}
		}
		if claimed == free && free > 0 {
			continue // there may be more due right now
		}
		select {
		case <-ctx.Done():
		case <-t.C:
		case <-w.wake:
		case <-done: // a slot freed; a finished delivery may have unblocked the next of its subject
		}
	}
}

// perEndpoint is how many of the slots one endpoint may hold, so that a
// slow receiver leaves room for the others.
func (w *Worker) perEndpoint() int { return max(1, w.Batch/4) }

func (w *Worker) track(endpointID string, delta int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.inFlight[endpointID] += delta; w.inFlight[endpointID] <= 0 {
		delete(w.inFlight, endpointID)
	}
}

// saturated lists the endpoints holding their share of slots.
func (w *Worker) saturated() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for id, n := range w.inFlight {
		if n >= w.perEndpoint() {
			out = append(out, id)
		}
	}
	return out
}

// Once claims one batch, sends it and waits for it; it returns how many it
// handled. Tests and tools drive the worker step by step with it.
func (w *Worker) Once(ctx context.Context) int {
	w.defaults()
	batch, err := w.Store.ClaimDeliveries(ctx, w.Clock.Now().UTC(), w.Lease, w.Batch)
	if err != nil {
		if ctx.Err() == nil {
			w.Log.Warn("claiming webhook deliveries failed", "err", err)
		}
		return 0
	}
	var wg sync.WaitGroup
	for _, d := range batch {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.deliver(ctx, d)
		}()
	}
	wg.Wait()
	return len(batch)
}

// backoff is the wait before attempt n+1: first doubling to at most 1 h,
// with ±20 % jitter so retries to one receiver spread out.
func backoff(first time.Duration, attempts int) time.Duration {
	d := first
	for i := 1; i < attempts && d < time.Hour; i++ {
		d *= 2
	}
	d = min(d, time.Hour)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// Result is one attempt's outcome as the sender saw it.
type Result struct {
	StatusCode int
	Err        string
	Duration   time.Duration
	Response   string
}

// OK reports a 2xx answer.
func (r Result) OK() bool { return r.StatusCode >= 200 && r.StatusCode < 300 }

// Send posts one signed body to an endpoint.
func (w *Worker) Send(ctx context.Context, e *store.WebhookEndpoint, eventID string, payload []byte) Result {
	w.defaults()
	now := w.Clock.Now().UTC()
	secrets, err := w.Endpoints.Secrets(e, now)
	if err != nil {
		return Result{Err: err.Error()}
	}
	ts := now.UnixMilli()
	req, err := newRequest(ctx, e.URL, eventID, ts, Signatures(secrets, ts, payload), payload)
	if err != nil {
		return Result{Err: err.Error()}
	}
	start := time.Now()
	resp, err := w.Client.Do(req)
	res := Result{Duration: time.Since(start)}
	if err != nil {
		res.Err = err.Error()
		return res
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	res.StatusCode, res.Response = resp.StatusCode, clean(string(b), 1024)
	if !res.OK() {
		res.Err = "HTTP " + strconv.Itoa(resp.StatusCode)
	}
	return res
}

func newRequest(ctx context.Context, url, eventID string, ts int64, sig string, payload []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Auther-Webhooks/1")
	req.Header.Set("x-webhook-id", eventID)
	req.Header.Set("x-webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("x-webhook-signature", sig)
	req.Header.Set("x-webhook-origin", event.Origin)
	return req, nil
}

func (w *Worker) deliver(ctx context.Context, d store.Delivery) {
	res := w.Send(ctx, d.Endpoint, d.EventID, d.Payload)
	if ctx.Err() != nil && !res.OK() {
		return // shutting down: the lease ends and the delivery is retried
	}
	now := w.Clock.Now().UTC()
	out := store.DeliveryOutcome{Status: store.DeliveryDelivered}
	outcome := "delivered"
	switch {
	case res.OK():
	case d.Endpoint.RetryPolicy == store.RetryNone, now.Sub(d.RetryFrom) >= w.RetryFor:
		out.Status, outcome = store.DeliveryDead, "dead"
	default:
		out.Status, out.NextAttemptAt, outcome = store.DeliveryPending, now.Add(backoff(w.FirstRetry, d.Attempts)), "retry"
	}
	a := &store.DeliveryAttempt{ID: id.New(), DeliveryID: d.ID, Claim: d.Attempts, StatusCode: res.StatusCode, Error: clean(res.Err, 1000),
		Duration: res.Duration, Response: res.Response, CreatedAt: now.Truncate(time.Millisecond)}
	err := w.Store.RecordAttempt(context.WithoutCancel(ctx), a, out)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// The endpoint was deleted meanwhile, or the lease ran out and
		// another worker owns the delivery now: its outcome counts.
		w.Log.Debug("webhook outcome dropped: delivery gone or claimed again", "delivery_id", d.ID)
		return
	case err != nil:
		w.Log.Warn("recording a webhook attempt failed; it will be retried when the lease ends", "delivery_id", d.ID, "err", err)
		return
	}
	level := slog.LevelInfo
	if outcome != "delivered" {
		level = slog.LevelWarn
	}
	w.Log.Log(ctx, level, "webhook "+outcome, "delivery_id", d.ID, "event_type", d.EventType, "endpoint_id", d.EndpointID,
		"attempt", d.Attempts, "status", res.StatusCode, "duration_ms", res.Duration.Milliseconds(), "err", res.Err)
	if w.OnResult != nil {
		w.OnResult(outcome)
	}
}

// clean makes receiver-supplied text safe to store: valid UTF-8 (PostgreSQL
// refuses anything else, which would leave the delivery pending forever),
// no NUL bytes, at most n bytes cut on a character boundary.
func clean(s string, n int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// String helps logs and the CLI describe an attempt.
func (r Result) String() string {
	if r.Err != "" && r.StatusCode == 0 {
		return fmt.Sprintf("failed after %s: %s", r.Duration.Round(time.Millisecond), r.Err)
	}
	return fmt.Sprintf("HTTP %d in %s", r.StatusCode, r.Duration.Round(time.Millisecond))
}

// SendTest sends a webhook.test event to one endpoint right away, outside
// the queue, and reports what the receiver answered.
func (w *Worker) SendTest(ctx context.Context, endpointID string) (Result, error) {
	e, err := w.Store.GetWebhookEndpoint(ctx, endpointID)
	if err != nil {
		return Result{}, err
	}
	ev := event.OfTest(w.Clock.Now())
	return w.Send(ctx, e, ev.ID, ev.Payload), nil
}
