package mail_test

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"mime"
	"mime/multipart"
	netmail "net/mail"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/auther/auther/internal/mail"
	"github.com/auther/auther/internal/mail/mailtest"
)

// longURL is longer than a quoted-printable line (76) and full of
// characters QP must escape ('='), so a broken encoder would show.
const longURL = "https://id.example.com/api/auth/verify-email?token=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJlbWFpbCI6ImFkYUBleGFtcGxlLmNvbSJ9.c2lnbmF0dXJlLXBsYWNlaG9sZGVyLXZhbHVl&callbackURL=%2Fdashboard%3Fwelcome%3D1"

func testMessage(id string) mail.Message {
	return mail.Message{
		ID:      id,
		To:      "Ada Lovelace <ada@example.org>",
		Subject: "Vérifiez your email address",
		Text:    "Hi Ada,\n\nOpen this link:\n\n" + longURL + "\n\nThanks.\n",
		HTML:    `<!DOCTYPE html><html lang="en"><body><p><a href="` + html.EscapeString(longURL) + `">Verify</a></p></body></html>`,
	}
}

func newSender(t *testing.T, c mail.SMTPConfig) *mail.SMTPSender {
	t.Helper()
	if c.From == "" {
		c.From = "Auther <no-reply@example.com>"
	}
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Second
	}
	s, err := mail.NewSMTPSender(c)
	if err != nil {
		t.Fatalf("NewSMTPSender: %v", err)
	}
	return s
}

// parts returns content type => decoded body of a multipart/alternative
// message, failing when the message is not one.
func parts(t *testing.T, msg *netmail.Message) map[string]string {
	t.Helper()
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("Content-Type: %v", err)
	}
	if mt != "multipart/alternative" {
		t.Fatalf("Content-Type = %q, want multipart/alternative", mt)
	}
	out := map[string]string{}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("next part: %v", err)
		}
		// multipart.Reader decodes quoted-printable itself.
		b, err := io.ReadAll(p)
		if err != nil {
			t.Fatalf("read part: %v", err)
		}
		pt, pp, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if pp["charset"] != "" && !strings.EqualFold(pp["charset"], "utf-8") {
			t.Errorf("part %s charset = %q", pt, pp["charset"])
		}
		out[pt] = strings.ReplaceAll(string(b), "\r\n", "\n")
	}
	return out
}

func checkDelivered(t *testing.T, got mailtest.Received, id string) {
	t.Helper()
	if got.From != "no-reply@example.com" {
		t.Errorf("envelope from = %q", got.From)
	}
	if len(got.To) != 1 || got.To[0] != "ada@example.org" {
		t.Errorf("envelope to = %q", got.To)
	}
	msg, err := netmail.ReadMessage(strings.NewReader(string(got.Data)))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, got.Data)
	}
	from, err := netmail.ParseAddress(msg.Header.Get("From"))
	if err != nil || from.Name != "Auther" || from.Address != "no-reply@example.com" {
		t.Errorf("From = %q (%v)", msg.Header.Get("From"), err)
	}
	to, err := netmail.ParseAddress(msg.Header.Get("To"))
	if err != nil || to.Address != "ada@example.org" || to.Name != "Ada Lovelace" {
		t.Errorf("To = %q (%v)", msg.Header.Get("To"), err)
	}
	if got.Subject != "Vérifiez your email address" {
		t.Errorf("Subject = %q", got.Subject)
	}
	if mid := msg.Header.Get("Message-Id"); mid != "<"+id+"@example.com>" {
		t.Errorf("Message-ID = %q, want <%s@example.com>", mid, id)
	}
	if _, err := msg.Header.Date(); err != nil {
		t.Errorf("Date: %v", err)
	}
	if v := msg.Header.Get("Mime-Version"); v != "1.0" {
		t.Errorf("MIME-Version = %q", v)
	}
	p := parts(t, msg)
	if len(p) != 2 {
		t.Fatalf("parts = %d (%v), want text/plain and text/html", len(p), p)
	}
	if !strings.Contains(p["text/plain"], "\n"+longURL+"\n") {
		t.Errorf("text part lost the link:\n%s", p["text/plain"])
	}
	if !strings.Contains(p["text/html"], `href="`+html.EscapeString(longURL)+`"`) {
		t.Errorf("html part lost the link:\n%s", p["text/html"])
	}
	if !strings.Contains(got.Text, longURL) {
		t.Errorf("mailtest decoded text lost the link:\n%s", got.Text)
	}
}

func TestSMTPSendPlain(t *testing.T) {
	srv := mailtest.NewServer(t)
	host, port := srv.Addr()
	s := newSender(t, mail.SMTPConfig{Host: host, Port: port, TLS: "none"})
	id := "0198d1e2-7a3b-7c4d-8e5f-0123456789ab"
	if err := s.Send(context.Background(), testMessage(id)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := srv.WaitFor(t, 1, 5*time.Second)
	checkDelivered(t, got[0], id)
}

func TestSMTPSendTextOnly(t *testing.T) {
	srv := mailtest.NewServer(t)
	host, port := srv.Addr()
	s := newSender(t, mail.SMTPConfig{Host: host, Port: port, TLS: "none"})
	m := testMessage("text-only")
	m.HTML = ""
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := srv.WaitFor(t, 1, 5*time.Second)[0]
	msg, err := netmail.ReadMessage(strings.NewReader(string(got.Data)))
	if err != nil {
		t.Fatal(err)
	}
	if mt, _, _ := mime.ParseMediaType(msg.Header.Get("Content-Type")); mt != "text/plain" {
		t.Errorf("Content-Type = %q, want text/plain", mt)
	}
	if !strings.Contains(got.Text, "\n"+longURL+"\n") {
		t.Errorf("text lost the link:\n%s", got.Text)
	}
}

func TestSMTPSendAuthPlain(t *testing.T) {
	f := startFake(t, fakeOpts{user: "mailer", pass: "s3cret", insecureAuth: true})
	s := newSender(t, mail.SMTPConfig{Host: f.host, Port: f.port, TLS: "none", Username: "mailer", Password: "s3cret"})
	if err := s.Send(context.Background(), testMessage("auth-1")); err != nil {
		t.Fatalf("Send: %v", err)
	}
	msgs := f.messages()
	if len(msgs) != 1 {
		t.Fatalf("server got %d messages", len(msgs))
	}
	checkDelivered(t, msgs[0], "auth-1")
	if len(f.authed) != 1 || f.authed[0] != "mailer" {
		t.Errorf("authenticated as %q", f.authed)
	}
}

func TestSMTPAuthFailedIsPermanent(t *testing.T) {
	f := startFake(t, fakeOpts{user: "mailer", pass: "s3cret", insecureAuth: true})
	s := newSender(t, mail.SMTPConfig{Host: f.host, Port: f.port, TLS: "none", Username: "mailer", Password: "wrong"})
	err := s.Send(context.Background(), testMessage("auth-2"))
	if err == nil {
		t.Fatal("Send succeeded with a wrong password")
	}
	if !mail.IsPermanent(err) {
		t.Errorf("535 should be permanent: %v", err)
	}
	if len(f.messages()) != 0 {
		t.Error("message delivered")
	}
}

func TestSMTPRcptReplies(t *testing.T) {
	for _, tc := range []struct {
		name      string
		reply     *smtp.SMTPError
		permanent bool
	}{
		{"550 mailbox unavailable", &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}, true},
		{"553 bad mailbox name", &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 1, 3}, Message: "Bad address"}, true},
		{"451 local error", &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try again later"}, false},
		{"452 insufficient storage", &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 3, 1}, Message: "Full"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := startFake(t, fakeOpts{rcptErr: tc.reply})
			s := newSender(t, mail.SMTPConfig{Host: f.host, Port: f.port, TLS: "none"})
			err := s.Send(context.Background(), testMessage("rcpt"))
			if err == nil {
				t.Fatal("Send succeeded")
			}
			if got := mail.IsPermanent(err); got != tc.permanent {
				t.Errorf("IsPermanent = %v, want %v: %v", got, tc.permanent, err)
			}
			// Callers wrap; classification must survive that.
			if got := mail.IsPermanent(fmt.Errorf("outbox: %w", err)); got != tc.permanent {
				t.Errorf("IsPermanent(wrapped) = %v", got)
			}
			if !strings.Contains(err.Error(), fmt.Sprint(tc.reply.Code)) {
				t.Errorf("error does not name the reply code: %v", err)
			}
		})
	}
}

func TestSMTPServerDownIsTransient(t *testing.T) {
	srv := mailtest.NewServer(t)
	host, port := srv.Addr()
	s := newSender(t, mail.SMTPConfig{Host: host, Port: port, TLS: "none"})
	srv.SetDown(true)
	err := s.Send(context.Background(), testMessage("down"))
	if err == nil {
		t.Fatal("Send succeeded while the server is down")
	}
	if mail.IsPermanent(err) {
		t.Errorf("421 should be transient: %v", err)
	}
	srv.SetDown(false)
	if err := s.Send(context.Background(), testMessage("down")); err != nil {
		t.Fatalf("Send after recovery: %v", err)
	}
	if n := len(srv.WaitFor(t, 1, 5*time.Second)); n != 1 {
		t.Errorf("got %d messages", n)
	}
}

func TestSMTPConnectionRefusedIsTransient(t *testing.T) {
	srv := mailtest.NewServer(t)
	host, port := srv.Addr()
	srv.Close()
	s := newSender(t, mail.SMTPConfig{Host: host, Port: port, TLS: "none"})
	err := s.Send(context.Background(), testMessage("refused"))
	if err == nil {
		t.Fatal("Send succeeded against a closed server")
	}
	if mail.IsPermanent(err) {
		t.Errorf("connection refused should be transient: %v", err)
	}
}

func TestSMTPTimeoutIsTransient(t *testing.T) {
	host, port := hangingServer(t)
	s := newSender(t, mail.SMTPConfig{Host: host, Port: port, TLS: "none", Timeout: 300 * time.Millisecond})
	start := time.Now()
	err := s.Send(context.Background(), testMessage("slow"))
	if err == nil {
		t.Fatal("Send succeeded against a silent server")
	}
	if mail.IsPermanent(err) {
		t.Errorf("timeout should be transient: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Send took %s with a 300ms timeout", d)
	}
}

func TestSMTPContextCancelIsTransient(t *testing.T) {
	host, port := hangingServer(t)
	s := newSender(t, mail.SMTPConfig{Host: host, Port: port, TLS: "none", Timeout: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Send(ctx, testMessage("cancel"))
	if err == nil {
		t.Fatal("Send succeeded")
	}
	if mail.IsPermanent(err) {
		t.Errorf("cancellation should be transient: %v", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error should wrap the context's: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Send took %s after the context ended", d)
	}
}

func TestSMTPInvalidRecipientIsPermanent(t *testing.T) {
	srv := mailtest.NewServer(t)
	host, port := srv.Addr()
	s := newSender(t, mail.SMTPConfig{Host: host, Port: port, TLS: "none"})
	m := testMessage("bad-rcpt")
	m.To = "not an address"
	err := s.Send(context.Background(), m)
	if err == nil || !mail.IsPermanent(err) {
		t.Errorf("Send = %v, want a permanent error", err)
	}
}

func TestSMTPStartTLS(t *testing.T) {
	f := startFake(t, fakeOpts{startTLS: selfSigned(t), user: "mailer", pass: "s3cret"})
	s := newSender(t, mail.SMTPConfig{
		Host: f.host, Port: f.port, TLS: "starttls",
		Username: "mailer", Password: "s3cret",
		InsecureSkipVerify: true,
	})
	if err := s.Send(context.Background(), testMessage("tls-1")); err != nil {
		t.Fatalf("Send: %v", err)
	}
	msgs := f.messages()
	if len(msgs) != 1 {
		t.Fatalf("server got %d messages", len(msgs))
	}
	checkDelivered(t, msgs[0], "tls-1")
	if !f.tlsed[0] {
		t.Error("message went over an unencrypted connection")
	}
	if len(f.authed) != 1 {
		t.Error("no AUTH after STARTTLS")
	}
}

func TestSMTPStartTLSUntrustedCertIsTransient(t *testing.T) {
	f := startFake(t, fakeOpts{startTLS: selfSigned(t)})
	s := newSender(t, mail.SMTPConfig{Host: f.host, Port: f.port, TLS: "starttls"})
	err := s.Send(context.Background(), testMessage("tls-2"))
	if err == nil {
		t.Fatal("Send trusted a self-signed certificate")
	}
	if mail.IsPermanent(err) {
		t.Errorf("certificate failure should be transient: %v", err)
	}
	if len(f.messages()) != 0 {
		t.Error("message delivered")
	}
}

// TLS "starttls" against a relay that does not offer STARTTLS fails and the
// message is not sent in the clear. The error is transient: it is a relay or
// configuration problem, not a property of the message, so queued mail is
// kept until it is fixed.
func TestSMTPStartTLSNotOfferedIsTransient(t *testing.T) {
	f := startFake(t, fakeOpts{})
	s := newSender(t, mail.SMTPConfig{Host: f.host, Port: f.port, TLS: "starttls", InsecureSkipVerify: true})
	err := s.Send(context.Background(), testMessage("tls-3"))
	if err == nil {
		t.Fatal("Send succeeded without STARTTLS")
	}
	if mail.IsPermanent(err) {
		t.Errorf("missing STARTTLS should be transient: %v", err)
	}
	if !strings.Contains(err.Error(), "STARTTLS") {
		t.Errorf("error should mention STARTTLS: %v", err)
	}
	if len(f.messages()) != 0 {
		t.Error("message sent in the clear")
	}
}

func TestSMTPImplicitTLS(t *testing.T) {
	f := startFake(t, fakeOpts{implicitTLS: selfSigned(t), user: "mailer", pass: "s3cret"})
	s := newSender(t, mail.SMTPConfig{
		Host: f.host, Port: f.port, TLS: "tls",
		Username: "mailer", Password: "s3cret",
		InsecureSkipVerify: true,
	})
	if err := s.Send(context.Background(), testMessage("tls-4")); err != nil {
		t.Fatalf("Send: %v", err)
	}
	msgs := f.messages()
	if len(msgs) != 1 {
		t.Fatalf("server got %d messages", len(msgs))
	}
	checkDelivered(t, msgs[0], "tls-4")
	if !f.tlsed[0] {
		t.Error("message went over an unencrypted connection")
	}
}

func TestSMTPSendConcurrent(t *testing.T) {
	srv := mailtest.NewServer(t)
	host, port := srv.Addr()
	s := newSender(t, mail.SMTPConfig{Host: host, Port: port, TLS: "none"})
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func() { errs <- s.Send(context.Background(), testMessage(fmt.Sprintf("c%d", i))) }()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if got := len(srv.WaitFor(t, n, 5*time.Second)); got != n {
		t.Errorf("got %d messages", got)
	}
}

func TestNewSMTPSenderValidates(t *testing.T) {
	ok := mail.SMTPConfig{Host: "smtp.example.com", From: "Auther <no-reply@example.com>"}
	if _, err := mail.NewSMTPSender(ok); err != nil {
		t.Errorf("valid config: %v", err)
	}
	for _, tls := range []string{"", "starttls", "tls", "none"} {
		c := ok
		c.TLS = tls
		if _, err := mail.NewSMTPSender(c); err != nil {
			t.Errorf("TLS %q: %v", tls, err)
		}
	}
	for name, mut := range map[string]func(*mail.SMTPConfig){
		"empty host":    func(c *mail.SMTPConfig) { c.Host = "" },
		"unknown tls":   func(c *mail.SMTPConfig) { c.TLS = "ssl" },
		"empty from":    func(c *mail.SMTPConfig) { c.From = "" },
		"bad from":      func(c *mail.SMTPConfig) { c.From = "Auther no-reply" },
		"port too big":  func(c *mail.SMTPConfig) { c.Port = 70000 },
		"negative port": func(c *mail.SMTPConfig) { c.Port = -1 },
		"negative time": func(c *mail.SMTPConfig) { c.Timeout = -time.Second },
	} {
		c := ok
		mut(&c)
		if _, err := mail.NewSMTPSender(c); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestIsPermanentNil(t *testing.T) {
	if mail.IsPermanent(nil) {
		t.Error("IsPermanent(nil)")
	}
	if mail.IsPermanent(errors.New("x")) {
		t.Error("IsPermanent(plain error)")
	}
}
