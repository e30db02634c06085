package mailqueue

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/auther/auther/internal/mail"
	"github.com/auther/auther/internal/store/sqlstore"
	"github.com/auther/auther/internal/testdb"
)

// deliveries counts sends per mail id across workers.
type deliveries struct {
	mu sync.Mutex
	n  map[string]int
}

// countingSender records each send; during, when set, runs after it (here:
// the SMTP exchange takes time, and another replica polls meanwhile).
type countingSender struct {
	d      *deliveries
	during func()
}

func (s countingSender) Send(_ context.Context, m mail.Message) error {
	s.d.mu.Lock()
	s.d.n[m.ID]++
	s.d.mu.Unlock()
	if s.during != nil {
		s.during()
	}
	return nil
}

// A claimed mail is leased for 2 minutes and sent with a 1-minute timeout.
// With a slow SMTP server (50 s per mail here, under the timeout) and a
// second replica polling meanwhile, each mail must still be delivered once:
// a worker never holds unsent mail past its lease.
func TestReviewSlowBatchIsNotDeliveredTwice(t *testing.T) {
	testdb.Each(t, func(t *testing.T, st *sqlstore.Store) {
		f := newFixture(t, st)
		for range 5 {
			f.enqueue(t, "slow@example.com")
		}
		d := &deliveries{n: map[string]int{}}
		replicaB := &Worker{Store: st, Sender: countingSender{d: d}, Box: f.worker.Box, Clock: f.clk,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		f.worker.Sender = countingSender{d: d, during: func() {
			f.clk.Advance(50 * time.Second)     // a slow SMTP exchange
			replicaB.Once(context.Background()) // the other replica polls meanwhile
		}}
		for f.worker.Once(context.Background()) > 0 { // drain, as Run does
		}
		for id, n := range d.n {
			if n != 1 {
				t.Errorf("mail %s delivered %d times", id, n)
			}
		}
		if len(d.n) != 5 {
			t.Errorf("%d distinct mails delivered, want 5", len(d.n))
		}
	})
}
