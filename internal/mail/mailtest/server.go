// Package mailtest runs an in-process SMTP server for tests: it listens on
// 127.0.0.1 (a random port), speaks plain SMTP without TLS or AUTH, and
// records every message it accepts.
//
//	srv := mailtest.NewServer(t)
//	host, port := srv.Addr()
//	sender, _ := mail.NewSMTPSender(mail.SMTPConfig{Host: host, Port: port, TLS: "none", From: "a@example.com"})
//	... code under test sends ...
//	got := srv.WaitFor(t, 1, 5*time.Second)
package mailtest

import (
	"bytes"
	"encoding/base64"
	"io"
	"log"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Received is one message the server accepted.
type Received struct {
	From    string   // envelope sender (MAIL FROM)
	To      []string // envelope recipients (RCPT TO)
	Data    []byte   // the message as sent (RFC 5322 headers and body)
	Subject string   // decoded Subject header
	Text    string   // decoded plain-text part with "\n" line ends ("" when there is none)
}

// Server is an SMTP server for tests. Its methods are safe for concurrent
// use.
type Server struct {
	srv  *smtp.Server
	ln   net.Listener
	host string
	port int

	mu      sync.Mutex
	msgs    []Received
	down    bool
	changed chan struct{} // closed and replaced whenever msgs grows

	closeOnce sync.Once
	served    chan struct{}
}

// NewServer starts a server on 127.0.0.1:0 with TLS none and no auth. It is
// closed when the test ends.
func NewServer(t testing.TB) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mailtest: listen: %v", err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	s := &Server{
		ln:      ln,
		host:    addr.IP.String(),
		port:    addr.Port,
		changed: make(chan struct{}),
		served:  make(chan struct{}),
	}
	srv := smtp.NewServer(backend{s})
	srv.Domain = "localhost"
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.MaxMessageBytes = 10 << 20
	srv.MaxRecipients = 50
	srv.ErrorLog = log.New(io.Discard, "", 0)
	s.srv = srv
	go func() {
		defer close(s.served)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(s.Close)
	return s
}

// Addr returns the host and port the server listens on.
func (s *Server) Addr() (host string, port int) { return s.host, s.port }

// Messages returns a copy of the messages accepted so far, oldest first.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Received, len(s.msgs))
	for i, m := range s.msgs {
		out[i] = m
		out[i].To = append([]string(nil), m.To...)
		out[i].Data = append([]byte(nil), m.Data...)
	}
	return out
}

// WaitFor waits until at least n messages have arrived and returns them
// (like Messages). It fails the test (t.Fatalf) when timeout passes first, so
// call it from the test's goroutine.
func (s *Server) WaitFor(t testing.TB, n int, timeout time.Duration) []Received {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		have, changed := len(s.msgs), s.changed
		s.mu.Unlock()
		if have >= n {
			return s.Messages()
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("mailtest: got %d message(s) within %s, want %d", have, timeout, n)
			return nil
		}
	}
}

// SetDown makes the server answer every MAIL FROM with 421 (temporary
// failure) while down is true, to simulate an SMTP server that is
// unavailable.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	s.down = down
	s.mu.Unlock()
}

// Close stops the server and closes open connections; afterwards connecting
// is refused. It is safe to call more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		_ = s.srv.Close()
		// Serve may not have registered the listener with srv yet.
		_ = s.ln.Close()
		<-s.served
	})
}

func (s *Server) isDown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.down
}

func (s *Server) add(r Received) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, r)
	close(s.changed)
	s.changed = make(chan struct{})
}

type backend struct{ s *Server }

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{s: b.s}, nil }

type session struct {
	s    *Server
	from string
	to   []string
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.isDown() {
		return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "Service not available, try again later"}
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	rec := Received{From: ss.from, To: append([]string(nil), ss.to...), Data: data}
	rec.Subject, rec.Text = Decode(data)
	ss.s.add(rec)
	return nil
}

func (ss *session) Reset() {
	ss.from = ""
	ss.to = nil
}

func (ss *session) Logout() error { return nil }

// Decode returns the decoded Subject and plain-text part of an RFC 5322
// message; the text has its transfer encoding undone and "\n" line ends.
// Parts it cannot parse decode to "".
func Decode(data []byte) (subject, text string) {
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return "", ""
	}
	subject = msg.Header.Get("Subject")
	if d, err := new(mime.WordDecoder).DecodeHeader(subject); err == nil {
		subject = d
	}
	text, _ = plainText(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body, 0)
	return subject, text
}

// plainText finds the first text/plain part, descending into multiparts.
func plainText(contentType, cte string, body io.Reader, depth int) (string, bool) {
	if contentType == "" {
		contentType = "text/plain"
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || depth > 10 {
		return "", false
	}
	switch {
	case strings.HasPrefix(mt, "multipart/"):
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err != nil {
				return "", false
			}
			// multipart.Reader has already undone quoted-printable (and
			// removed the header); base64 is left to us.
			if s, ok := plainText(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p, depth+1); ok {
				return s, true
			}
		}
	case mt == "text/plain":
		b, err := io.ReadAll(decodeCTE(cte, body))
		if err != nil {
			return "", false
		}
		return strings.ReplaceAll(string(b), "\r\n", "\n"), true
	}
	return "", false
}

func decodeCTE(cte string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, r)
	}
	return r
}
