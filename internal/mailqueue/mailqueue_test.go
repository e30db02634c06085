package mailqueue

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/auther/auther/internal/auth"
	"github.com/auther/auther/internal/clock"
	"github.com/auther/auther/internal/id"
	"github.com/auther/auther/internal/mail"
	"github.com/auther/auther/internal/mail/mailtest"
	"github.com/auther/auther/internal/seal"
	"github.com/auther/auther/internal/store"
	"github.com/auther/auther/internal/store/sqlstore"
	"github.com/auther/auther/internal/testdb"
)

const secret = "queue-secret-queue-secret-queue-secret"

type fixture struct {
	st       *sqlstore.Store
	smtp     *mailtest.Server
	clk      *clock.Fake
	composer *Composer
	worker   *Worker
	outcomes []string
}

func newFixture(t *testing.T, st *sqlstore.Store) *fixture {
	srv := mailtest.NewServer(t)
	host, port := srv.Addr()
	sender, err := mail.NewSMTPSender(mail.SMTPConfig{Host: host, Port: port, TLS: "none", From: "Auther <no-reply@auther.test>", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := mail.LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	box, _ := seal.New(secret, "mail")
	clk := clock.NewFake(time.Now().UTC().Truncate(time.Millisecond))
	f := &fixture{st: st, smtp: srv, clk: clk}
	f.composer = &Composer{Templates: tmpl, Box: box, Product: "Auther", Clock: clk}
	f.worker = &Worker{Store: st, Sender: sender, Box: box, Clock: clk, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnResult: func(o string) { f.outcomes = append(f.outcomes, o) }}
	return f
}

// enqueue queues a reset mail the way the auth flows do: with a verification.
func (f *fixture) enqueue(t *testing.T, to string) *store.Mail {
	t.Helper()
	m, err := f.composer.Compose("reset-password", to, auth.MailData{URL: "https://id.example.com/api/auth/reset-password/TOKEN123", ExpiresIn: "1 hour"})
	if err != nil {
		t.Fatal(err)
	}
	now := f.clk.Now()
	v := &store.Verification{ID: id.New(), Identifier: "reset-password:" + id.New(), Value: "u", ExpiresAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}
	if err := f.st.CreateVerification(context.Background(), v, m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestQueuedMailIsSealedAtRest(t *testing.T) {
	testdb.Each(t, func(t *testing.T, st *sqlstore.Store) {
		f := newFixture(t, st)
		f.enqueue(t, "sealed@example.com")
		var text, html string
		st.DB().QueryRow(`SELECT body_text, body_html FROM mail_outbox`).Scan(&text, &html)
		if strings.Contains(text, "TOKEN123") || strings.Contains(html, "TOKEN123") || !strings.HasPrefix(text, "sealed:") {
			t.Fatalf("the queued body holds the link in clear: %.80s", text)
		}
		f.worker.Once(context.Background())
		got := f.smtp.WaitFor(t, 1, 5*time.Second)[0]
		if !strings.Contains(got.Text, "https://id.example.com/api/auth/reset-password/TOKEN123") {
			t.Errorf("delivered text lacks the link:\n%s", got.Text)
		}
		st.DB().QueryRow(`SELECT body_text, body_html FROM mail_outbox`).Scan(&text, &html)
		if text != "" || html != "" {
			t.Error("a sent mail keeps its bodies")
		}
	})
}

// An SMTP server that is down for an hour delays mail; it does not lose it,
// and the mail is delivered exactly once when the server is back.
func TestSMTPDownThenUpDeliversOnce(t *testing.T) {
	testdb.Each(t, func(t *testing.T, st *sqlstore.Store) {
		f := newFixture(t, st)
		ctx := context.Background()
		f.smtp.SetDown(true)
		f.enqueue(t, "later@example.com")
		for range 6 { // an hour of retries
			f.worker.Once(ctx)
			f.clk.Advance(15 * time.Minute)
		}
		if n := len(f.smtp.Messages()); n != 0 {
			t.Fatalf("%d messages accepted while the server was down", n)
		}
		pending, _ := st.ListMail(ctx, store.MailPending, 10)
		if len(pending) != 1 || pending[0].Attempts < 2 || !strings.Contains(pending[0].LastError, "421") {
			t.Fatalf("queued mail while down: %+v", pending)
		}
		f.smtp.SetDown(false)
		f.clk.Advance(time.Hour)
		for range 3 {
			f.worker.Once(ctx)
		}
		if msgs := f.smtp.WaitFor(t, 1, 5*time.Second); len(msgs) != 1 || msgs[0].To[0] != "later@example.com" {
			t.Fatalf("after recovery: %+v", msgs)
		}
		time.Sleep(50 * time.Millisecond)
		if n := len(f.smtp.Messages()); n != 1 {
			t.Errorf("delivered %d times, want once", n)
		}
		if sent, _ := st.ListMail(ctx, store.MailSent, 10); len(sent) != 1 {
			t.Errorf("sent list: %+v", sent)
		}
	})
}

func TestBackoffGrowsAndIsCapped(t *testing.T) {
	prev := time.Duration(0)
	for n := 1; n <= 12; n++ {
		b := backoff(n)
		base := 30 * time.Second << (n - 1)
		if base > 30*time.Minute || base <= 0 {
			base = 30 * time.Minute
		}
		if b < base*8/10 || b > base*12/10 {
			t.Errorf("backoff(%d) = %v, want %v ±20%%", n, b, base)
		}
		if n > 1 && base < 30*time.Minute && b <= prev*8/10 {
			t.Errorf("backoff(%d) = %v did not grow from %v", n, b, prev)
		}
		prev = b
	}
}

func TestGivesUpAfterRetryWindowAndRecordsFailure(t *testing.T) {
	st := testdb.SQLite(t)
	f := newFixture(t, st)
	f.worker.RetryFor = 2 * time.Hour
	ctx := context.Background()
	f.smtp.SetDown(true)
	f.enqueue(t, "never@example.com")
	for range 20 {
		f.worker.Once(ctx)
		f.clk.Advance(20 * time.Minute)
	}
	failed, _ := st.ListMail(ctx, store.MailFailed, 10)
	if len(failed) != 1 || !strings.Contains(failed[0].LastError, "gave up after 2h") {
		t.Fatalf("failed = %+v", failed)
	}
	if f.outcomes[len(f.outcomes)-1] != "failed" {
		t.Errorf("outcomes %v", f.outcomes)
	}
}

func TestPermanentRejectionFailsAtOnce(t *testing.T) {
	st := testdb.SQLite(t)
	f := newFixture(t, st)
	f.enqueue(t, "bad address@@example.com")
	f.worker.Once(context.Background())
	failed, _ := st.ListMail(context.Background(), store.MailFailed, 10)
	if len(failed) != 1 || failed[0].Attempts != 1 {
		t.Fatalf("an unsendable address was not failed at once: %+v", failed)
	}
}

// A worker that claimed mail and died (process killed after commit, before
// or during the send) leaves nothing lost: the lease runs out and the next
// worker sends it.
func TestMailOfADeadWorkerIsSentAfterItsLease(t *testing.T) {
	testdb.Each(t, func(t *testing.T, st *sqlstore.Store) {
		f := newFixture(t, st)
		ctx := context.Background()
		f.enqueue(t, "crash@example.com")
		if got, _ := st.ClaimMail(ctx, f.clk.Now(), 2*time.Minute, 10); len(got) != 1 {
			t.Fatal("could not claim as the dying worker")
		}
		if n := f.worker.Once(ctx); n != 0 {
			t.Fatalf("a leased mail was taken by another worker")
		}
		f.clk.Advance(2*time.Minute + time.Second)
		f.worker.Once(ctx)
		if msgs := f.smtp.WaitFor(t, 1, 5*time.Second); msgs[0].To[0] != "crash@example.com" {
			t.Fatalf("got %+v", msgs)
		}
	})
}

func TestSecretChangeFailsMailInsteadOfLooping(t *testing.T) {
	st := testdb.SQLite(t)
	f := newFixture(t, st)
	f.enqueue(t, "x@example.com")
	f.worker.Box, _ = seal.New("a-different-secret-a-different-secret!", "mail")
	f.worker.Once(context.Background())
	if failed, _ := st.ListMail(context.Background(), store.MailFailed, 10); len(failed) != 1 || !strings.Contains(failed[0].LastError, "AUTHER_SECRET") {
		t.Errorf("failed = %+v", failed)
	}
}

// BenchmarkDelivery measures worker throughput: queued mails per second
// delivered to the in-process SMTP server.
func BenchmarkDelivery(b *testing.B) {
	st := testdb.SQLite(b)
	srv := mailtest.NewServer(b)
	host, port := srv.Addr()
	sender, _ := mail.NewSMTPSender(mail.SMTPConfig{Host: host, Port: port, TLS: "none", From: "Auther <no-reply@auther.test>"})
	tmpl, _ := mail.LoadTemplates("")
	box, _ := seal.New(secret, "mail")
	clk := clock.Real{}
	c := &Composer{Templates: tmpl, Box: box, Product: "Auther", Clock: clk}
	w := &Worker{Store: st, Sender: sender, Box: box, Clock: clk, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx := context.Background()
	for range b.N {
		m, _ := c.Compose("magic-link", "bench@example.com", auth.MailData{URL: "https://id.example.com/x?token=" + id.New(), ExpiresIn: "5 minutes"})
		now := time.Now().UTC()
		st.CreateVerification(ctx, &store.Verification{ID: id.New(), Identifier: "b" + id.New(), Value: "v", ExpiresAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}, m)
	}
	b.ResetTimer()
	sent := 0
	for sent < b.N {
		n := w.Once(ctx)
		if n == 0 {
			b.Fatalf("queue empty after %d of %d", sent, b.N)
		}
		sent += n
	}
	b.StopTimer()
	if got := len(srv.Messages()); got != b.N {
		b.Fatalf("server received %d, want %d", got, b.N)
	}
}
