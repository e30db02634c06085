package httpapi_test

import (
	"context"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/auther/auther/internal/auth"
	"github.com/auther/auther/internal/httpapi"
	"github.com/auther/auther/internal/mail"
	"github.com/auther/auther/internal/mail/mailtest"
	"github.com/auther/auther/internal/mailqueue"
	"github.com/auther/auther/internal/seal"
	"github.com/auther/auther/internal/store/sqlstore"
	"github.com/auther/auther/internal/testdb"
	"github.com/auther/auther/internal/verification"
)

// mailEnv is an env whose mail goes through a real SMTP exchange to an
// in-process SMTP server, delivered by the real outbox worker.
type mailEnv struct {
	*env
	smtp *mailtest.Server
}

// newMailEnv starts an env on st with the email flows enabled in mode and a
// worker delivering the outbox.
func newMailEnv(t *testing.T, st *sqlstore.Store, mode auth.EmailVerificationMode, tweak ...func(*auth.EmailOptions)) *mailEnv {
	t.Helper()
	return newMailEnvWith(t, st, mode, nil, tweak...)
}

// newMailEnvWith is newMailEnv with one more server option (nil: none).
func newMailEnvWith(t *testing.T, st *sqlstore.Store, mode auth.EmailVerificationMode, extra envOption, tweak ...func(*auth.EmailOptions)) *mailEnv {
	t.Helper()
	srv := mailtest.NewServer(t)
	host, port := srv.Addr()
	sender, err := mail.NewSMTPSender(mail.SMTPConfig{Host: host, Port: port, TLS: "none", From: "Auther <no-reply@auther.test>"})
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := mail.LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	box, _ := seal.New(testSecret, "mail")
	var worker *mailqueue.Worker
	env := newEnv(t, st, func(s *auth.Service, o *httpapi.Options) {
		opts := auth.DefaultEmailOptions()
		opts.Mail = &mailqueue.Composer{Templates: tmpl, Box: box, Product: "Auther", Clock: s.Clock}
		opts.BaseURL = o.BaseURL
		opts.OTP = verification.NewOTPHasher(testSecret)
		opts.Verification = mode
		for _, f := range tweak {
			f(&opts)
		}
		s.Email = opts
		worker = &mailqueue.Worker{Store: s.Store, Sender: sender, Box: box, Clock: s.Clock,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Poll: 20 * time.Millisecond}
		if extra != nil {
			extra(s, o)
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go worker.Run(ctx)
	return &mailEnv{env: env, smtp: srv}
}

// eachMailBackend runs fn on every backend with mail enabled.
func eachMailBackend(t *testing.T, mode auth.EmailVerificationMode, fn func(t *testing.T, m *mailEnv), tweak ...func(*auth.EmailOptions)) {
	testdb.Each(t, func(t *testing.T, st *sqlstore.Store) { fn(t, newMailEnv(t, st, mode, tweak...)) })
}

var linkRE = regexp.MustCompile(`https?://[^\s"<>]+`)

// mailTo waits for the n-th message (1-based, counting all) and checks its
// recipient; it returns the decoded text.
func (m *mailEnv) mailTo(t *testing.T, n int, to string) mailtest.Received {
	t.Helper()
	msgs := m.smtp.WaitFor(t, n, 5*time.Second)
	got := msgs[n-1]
	if len(got.To) != 1 || !strings.EqualFold(got.To[0], to) {
		t.Fatalf("mail %d went to %v, want %s", n, got.To, to)
	}
	return got
}

// linkIn returns the first link in a mail's text, made relative to the
// test server so the client can follow it.
func (m *mailEnv) linkIn(t *testing.T, r mailtest.Received) string {
	t.Helper()
	l := linkRE.FindString(r.Text)
	if l == "" {
		t.Fatalf("no link in mail:\n%s", r.Text)
	}
	if !strings.HasPrefix(l, m.origin) {
		t.Fatalf("link %q does not point at the server %s", l, m.origin)
	}
	return strings.TrimPrefix(l, m.origin)
}

var otpRE = regexp.MustCompile(`\b\d{6}\b`)

func (m *mailEnv) otpIn(t *testing.T, r mailtest.Received) string {
	t.Helper()
	o := otpRE.FindString(r.Text)
	if o == "" {
		t.Fatalf("no code in mail:\n%s", r.Text)
	}
	return o
}
