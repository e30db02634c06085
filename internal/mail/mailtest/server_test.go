package mailtest_test

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/auther/auther/internal/mail/mailtest"
)

func send(srv *mailtest.Server, from, to, subject, body string) error {
	host, port := srv.Addr()
	msg := "From: " + from + "\r\nTo: " + to + "\r\nSubject: " + subject +
		"\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + body
	c, err := smtp.Dial(net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SendMail(from, []string{to}, strings.NewReader(msg)); err != nil {
		return err
	}
	return c.Quit()
}

func TestServer(t *testing.T) {
	srv := mailtest.NewServer(t)
	host, port := srv.Addr()
	if host != "127.0.0.1" || port == 0 {
		t.Fatalf("Addr = %s:%d", host, port)
	}
	if err := send(srv, "a@example.com", "b@example.org", "=?utf-8?q?H=C3=A9llo?=", "line one=\r\n continues=3D\r\n"); err != nil {
		t.Fatal(err)
	}
	got := srv.WaitFor(t, 1, 5*time.Second)
	if len(got) != 1 {
		t.Fatalf("got %d", len(got))
	}
	r := got[0]
	if r.From != "a@example.com" || len(r.To) != 1 || r.To[0] != "b@example.org" {
		t.Errorf("envelope = %q %q", r.From, r.To)
	}
	if r.Subject != "Héllo" {
		t.Errorf("Subject = %q", r.Subject)
	}
	if r.Text != "line one continues=\n" {
		t.Errorf("Text = %q", r.Text)
	}
	if !strings.Contains(string(r.Data), "Subject: =?utf-8?q?H=C3=A9llo?=") {
		t.Errorf("Data = %q", r.Data)
	}

	// Messages returns a copy.
	got[0].To[0] = "changed"
	got[0].Data[0] = 'X'
	if m := srv.Messages(); m[0].To[0] != "b@example.org" || m[0].Data[0] == 'X' {
		t.Error("Messages shares memory with the server")
	}
}

func TestServerConcurrent(t *testing.T) {
	srv := mailtest.NewServer(t)
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			if err := send(srv, "a@example.com", fmt.Sprintf("u%d@example.org", i), "s", "body\r\n"); err != nil {
				t.Error(err)
			}
		})
	}
	got := srv.WaitFor(t, 10, 5*time.Second)
	wg.Wait()
	if len(got) != 10 {
		t.Errorf("got %d", len(got))
	}
}

func TestServerDown(t *testing.T) {
	srv := mailtest.NewServer(t)
	srv.SetDown(true)
	err := send(srv, "a@example.com", "b@example.org", "s", "body\r\n")
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 421 {
		t.Fatalf("send while down = %v, want 421", err)
	}
	srv.SetDown(false)
	if err := send(srv, "a@example.com", "b@example.org", "s", "body\r\n"); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("got %d messages", n)
	}
}

func TestServerClose(t *testing.T) {
	srv := mailtest.NewServer(t)
	host, port := srv.Addr()
	srv.Close()
	srv.Close() // idempotent
	c, err := net.DialTimeout("tcp", net.JoinHostPort(host, strconv.Itoa(port)), time.Second)
	if err == nil {
		c.Close()
		t.Fatal("connect after Close succeeded")
	}
}

// fakeTB records Fatalf instead of stopping the goroutine.
type fakeTB struct {
	testing.TB
	failed string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = fmt.Sprintf(format, args...)
}

func TestWaitForTimeout(t *testing.T) {
	srv := mailtest.NewServer(t)
	tb := &fakeTB{TB: t}
	start := time.Now()
	if got := srv.WaitFor(tb, 1, 100*time.Millisecond); got != nil {
		t.Errorf("WaitFor returned %v", got)
	}
	if tb.failed == "" {
		t.Error("WaitFor did not fail the test")
	}
	if d := time.Since(start); d < 100*time.Millisecond || d > 2*time.Second {
		t.Errorf("WaitFor took %s", d)
	}
}

func TestDecode(t *testing.T) {
	raw := "Subject: Hi\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=X\r\n\r\n" +
		"--X\r\nContent-Type: multipart/alternative; boundary=Y\r\n\r\n" +
		"--Y\r\nContent-Type: text/html\r\n\r\n<p>no</p>\r\n" +
		"--Y\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\naMOpbGxvCndvcmxk\r\n" +
		"--Y--\r\n--X--\r\n"
	subject, text := mailtest.Decode([]byte(raw))
	if subject != "Hi" || text != "héllo\nworld" {
		t.Errorf("Decode = %q, %q", subject, text)
	}
}
