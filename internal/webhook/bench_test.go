package webhook_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auther/auther/internal/clock"
	"github.com/auther/auther/internal/event"
	"github.com/auther/auther/internal/id"
	"github.com/auther/auther/internal/seal"
	"github.com/auther/auther/internal/store"
	"github.com/auther/auther/internal/testdb"
	"github.com/auther/auther/internal/webhook"
)

// BenchmarkDelivery measures how fast the worker drains the outbox to a
// local receiver that verifies every signature: one op is one event
// delivered and recorded. Events belong to distinct users, so the worker's
// concurrency is not held back by per-user ordering.
func BenchmarkDelivery(b *testing.B) {
	for _, backend := range testdb.Backends {
		b.Run(backend.Name, func(b *testing.B) {
			st := backend.Open(b)
			box, _ := seal.New(strings.Repeat("s", 32), "webhooks")
			mgr := &webhook.Manager{Store: st, Box: box, Clock: clock.Real{}, AllowPrivate: true}
			var got atomic.Int64
			var secret string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				ts, _ := strconv.ParseInt(r.Header.Get("x-webhook-timestamp"), 10, 64)
				if !webhook.Verify([]string{secret}, r.Header.Get("x-webhook-signature"), ts, body) {
					w.WriteHeader(401)
					return
				}
				got.Add(1)
			}))
			defer srv.Close()
			types := []string{event.UserCreated}
			url := srv.URL
			_, secret, _ = mgr.Create(ctx, webhook.EndpointInput{URL: &url, EventTypes: &types})
			now := time.Now().UTC().Truncate(time.Millisecond)
			for i := range b.N {
				u := &store.User{ID: id.New(), Name: "B", Email: "b" + strconv.Itoa(i) + "@example.com", CreatedAt: now, UpdatedAt: now}
				if err := st.CreateUser(ctx, u, nil, nil, nil); err != nil {
					b.Fatal(err)
				}
			}
			w := &webhook.Worker{Store: st, Endpoints: mgr, Log: slog.New(slog.DiscardHandler)}
			b.ResetTimer()
			for w.Once(ctx) > 0 {
			}
			b.StopTimer()
			if got.Load() != int64(b.N) {
				b.Fatalf("receiver accepted %d of %d events", got.Load(), b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
