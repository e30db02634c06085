// Package mailqueue turns Auther's mail into outbox rows (rendered from
// templates and sealed) and delivers them with a worker that retries with
// exponential backoff, so an SMTP outage delays mail but never loses it.
package mailqueue

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/auther/auther/internal/auth"
	"github.com/auther/auther/internal/clock"
	"github.com/auther/auther/internal/id"
	"github.com/auther/auther/internal/mail"
	"github.com/auther/auther/internal/seal"
	"github.com/auther/auther/internal/store"
)

// Composer implements auth.MailComposer.
type Composer struct {
	Templates *mail.Templates
	Box       *seal.Box
	Product   string
	Clock     clock.Clock
}

var _ auth.MailComposer = (*Composer)(nil)

// Compose renders kind for to and seals the bodies (they carry sign-in
// links and codes) for the outbox.
func (c *Composer) Compose(kind, to string, d auth.MailData) (*store.Mail, error) {
	subject, text, html, err := c.Templates.Render(kind, mail.Data{
		Product: c.Product, Email: to, Name: d.Name, URL: d.URL, OTP: d.OTP, ExpiresIn: d.ExpiresIn, NewEmail: d.NewEmail,
	})
	if err != nil {
		return nil, err
	}
	now := c.Clock.Now().UTC().Truncate(time.Millisecond)
	return &store.Mail{ID: id.New(), To: to, Subject: subject, Text: c.Box.Seal(text), HTML: c.Box.Seal(html),
		NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}, nil
}

// Worker delivers queued mail.
type Worker struct {
	Store  store.Store
	Sender mail.Sender
	Box    *seal.Box
	Clock  clock.Clock
	Log    *slog.Logger
	// RetryFor is how long a mail is retried before it is marked failed
	// (default 24 h).
	RetryFor time.Duration
	// Poll is how often the queue is checked (default 1 s).
	Poll time.Duration
	// Lease is how long a claimed mail is reserved for this worker
	// (default 2 min); a worker that dies releases its mail when it ends.
	Lease time.Duration
	// OnResult, when set, observes each delivery outcome ("sent",
	// "retry", "failed").
	OnResult func(outcome string)
}

func (w *Worker) defaults() {
	if w.RetryFor == 0 {
		w.RetryFor = 24 * time.Hour
	}
	if w.Poll == 0 {
		w.Poll = time.Second
	}
	if w.Lease == 0 {
		w.Lease = 2 * time.Minute
	}
	if w.Clock == nil {
		w.Clock = clock.Real{}
	}
}

// Run delivers mail until ctx ends.
func (w *Worker) Run(ctx context.Context) {
	w.defaults()
	t := time.NewTicker(w.Poll)
	defer t.Stop()
	for {
		for w.Once(ctx) > 0 && ctx.Err() == nil {
			// keep draining while there is due mail
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Once claims and handles one batch of due mail; it returns how many mails
// it handled.
func (w *Worker) Once(ctx context.Context) int {
	w.defaults()
	now := w.Clock.Now().UTC()
	// One mail per claim: its lease (2 min) always outlasts its send (at
	// most 1 min), so another replica can never take a mail this worker is
	// still sending.
	batch, err := w.Store.ClaimMail(ctx, now, w.Lease, 1)
	if err != nil {
		if ctx.Err() == nil {
			w.Log.Warn("claiming mail failed", "err", err)
		}
		return 0
	}
	for _, m := range batch {
		w.deliver(ctx, m)
	}
	return len(batch)
}

// backoff is the wait before attempt n+1: 30 s doubling to at most 30 min,
// with ±20 % jitter so retries of many mails spread out.
func backoff(attempts int) time.Duration {
	d := 30 * time.Second
	for i := 1; i < attempts && d < 30*time.Minute; i++ {
		d *= 2
	}
	d = min(d, 30*time.Minute)
	jitter := 0.8 + 0.4*rand.Float64()
	return time.Duration(float64(d) * jitter)
}

func (w *Worker) deliver(ctx context.Context, m store.Mail) {
	text, err1 := w.Box.Open(m.Text)
	html, err2 := w.Box.Open(m.HTML)
	if err := errors.Join(err1, err2); err != nil {
		// Sealed under another secret: it can never be sent.
		w.finish(ctx, m, "failed", "cannot open the sealed body (was AUTHER_SECRET changed?)")
		return
	}
	sendCtx, cancel := context.WithTimeout(ctx, time.Minute)
	err := w.Sender.Send(sendCtx, mail.Message{ID: m.ID, To: m.To, Subject: m.Subject, Text: text, HTML: html})
	cancel()
	now := w.Clock.Now().UTC()
	switch {
	case err == nil:
		w.finish(ctx, m, "sent", "")
	case mail.IsPermanent(err):
		w.finish(ctx, m, "failed", err.Error())
	case now.Sub(m.CreatedAt) >= w.RetryFor:
		w.finish(ctx, m, "failed", "gave up after "+w.RetryFor.String()+": "+err.Error())
	default:
		next := now.Add(backoff(m.Attempts))
		if e := w.Store.MailRetry(ctx, m.ID, next, truncate(err.Error()), now); e != nil {
			w.Log.Warn("scheduling a mail retry failed", "mail_id", m.ID, "err", e)
		}
		w.Log.Warn("mail delivery failed; will retry", "mail_id", m.ID, "attempt", m.Attempts, "next_attempt", next, "err", err)
		w.observe("retry")
	}
}

func (w *Worker) finish(ctx context.Context, m store.Mail, outcome, reason string) {
	now := w.Clock.Now().UTC()
	var err error
	if outcome == "sent" {
		err = w.Store.MailSent(ctx, m.ID, now)
		w.Log.Info("mail sent", "mail_id", m.ID, "subject", m.Subject, "attempts", m.Attempts)
	} else {
		err = w.Store.MailFailed(ctx, m.ID, truncate(reason), now)
		w.Log.Error("mail failed permanently", "mail_id", m.ID, "subject", m.Subject, "attempts", m.Attempts, "reason", reason)
	}
	if err != nil {
		w.Log.Warn("recording a mail outcome failed", "mail_id", m.ID, "outcome", outcome, "err", err)
	}
	w.observe(outcome)
}

func (w *Worker) observe(outcome string) {
	if w.OnResult != nil {
		w.OnResult(outcome)
	}
}

func truncate(s string) string {
	if len(s) > 1000 {
		return s[:1000]
	}
	return s
}
