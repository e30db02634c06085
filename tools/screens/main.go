// Command screens saves a screenshot of each hosted page at 1280 and 375 CSS
// pixels wide, for docs/ui.md:
//
//	go run ./tools/screens [-out docs/ui]
//
// It boots Auther in-process (SQLite in a temporary folder, mail kept in
// memory), walks through the pages in headless Chromium the way a user does
// (sign up, verify, reset a password, sign in on two devices, approve an
// app) and writes <out>/<page>-1280.png and <out>/<page>-375.png.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/auther/auther/internal/browsertest"
)

// widths of every screenshot, in CSS pixels.
var widths = []int64{1280, 375}

func main() {
	out := flag.String("out", "docs/ui", "folder for the PNG files")
	chromium := flag.String("chromium", "", "browser binary (default: /usr/bin/chromium, else chromium on PATH)")
	flag.Parse()
	if err := run(*out, *chromium); err != nil {
		fmt.Fprintln(os.Stderr, "screens:", err)
		os.Exit(1)
	}
}

// shooter walks the pages and saves screenshots.
type shooter struct {
	out     string
	a       *browsertest.Auther
	b       *browsertest.Browser
	box     *browsertest.Mailbox
	mails   int
	written []string
}

func run(out, chromium string) error {
	if chromium == "" {
		p, err := browsertest.ChromiumPath()
		if err != nil {
			return err
		}
		chromium = p
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "auther-screens-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	box := browsertest.NewMailbox()
	a, err := browsertest.Start(browsertest.Options{DataDir: filepath.Join(tmp, "data"), Sender: box})
	if err != nil {
		return fmt.Errorf("starting Auther: %w", err)
	}
	defer a.Close()
	rp, err := browsertest.StartRelyingParty()
	if err != nil {
		return err
	}
	defer rp.Close()
	ctx, cancel := context.WithTimeout(context.Background(), browsertest.StepTimeout)
	defer cancel()
	clientID, _, err := a.RegisterClient(ctx, "Example App", rp.CallbackURL)
	if err != nil {
		return err
	}
	b, err := browsertest.Launch(context.Background(), chromium, filepath.Join(tmp, "profile"), 1280, 800)
	if err != nil {
		return fmt.Errorf("launching %s: %w", chromium, err)
	}
	defer b.Close()
	// The account page names each device from its user agent: show a
	// desktop browser rather than "Headless Chrome".
	bctx, bcancel := b.Step()
	defer bcancel()
	if _, err := chromedp.Call(bctx, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{
		UserAgent: desktopUA, AcceptLanguage: "en"}); err != nil {
		return err
	}

	s := &shooter{out: out, a: a, b: b, box: box}
	if err := s.walk(clientID, rp.CallbackURL); err != nil {
		return err
	}
	for _, p := range s.written {
		fmt.Println(p)
	}
	return nil
}

const (
	desktopUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"
	phoneUA   = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)

const (
	name     = "Ada Lovelace"
	email    = "ada@example.com"
	password = "correct horse battery"
	newPW    = "analytical engine 1843"
)

func (s *shooter) walk(clientID, redirectURI string) error {
	steps := []struct {
		what string
		do   func() error
	}{
		{"sign-in", func() error { return s.page("/sign-in", "/sign-in", "sign-in") }},
		{"sign-up", func() error {
			if err := s.page("/sign-up", "/sign-up", "sign-up"); err != nil {
				return err
			}
			return s.form("form#sign-up", map[string]string{"name": name, "email": email, "password": password})
		}},
		{"check-inbox", func() error { return s.shootAt("/check-inbox", "check-inbox") }},
		{"verify-email", func() error {
			link, err := s.nextLink()
			if err != nil {
				return err
			}
			return s.page(link, "/verify-email", "verify-email")
		}},
		{"forgot-password", func() error {
			if err := s.page("/forgot-password", "/forgot-password", "forgot-password"); err != nil {
				return err
			}
			if err := s.form("form#forgot", map[string]string{"email": email}); err != nil {
				return err
			}
			_, err := s.b.WaitPath("/check-inbox")
			return err
		}},
		{"reset-password", func() error {
			link, err := s.nextLink()
			if err != nil {
				return err
			}
			if err := s.page(link, "/reset-password", "reset-password"); err != nil {
				return err
			}
			return s.form("form#reset", map[string]string{"password": newPW, "confirmPassword": newPW})
		}},
		{"account", func() error {
			// A second device, so that the session list has one to revoke.
			if err := s.signInElsewhere(email, newPW); err != nil {
				return err
			}
			if _, err := s.b.Open(s.a.URL + "/sign-in"); err != nil {
				return err
			}
			if err := s.form("form#sign-in", map[string]string{"email": email, "password": newPW}); err != nil {
				return err
			}
			return s.shootAt("/account", "account")
		}},
		{"consent", func() error {
			q := url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirectURI},
				"scope": {"openid profile email offline_access"}, "state": {"screens"}}
			return s.page("/api/auth/oauth2/authorize?"+q.Encode(), "/api/auth/oauth2/authorize", "consent")
		}},
		{"sign-out", func() error { return s.page("/sign-out", "/sign-out", "sign-out") }},
		{"error", func() error {
			q := url.Values{"response_type": {"code"}, "client_id": {"no-such-app"}, "redirect_uri": {"https://app.example.com/callback"}}
			return s.page("/api/auth/oauth2/authorize?"+q.Encode(), "/api/auth/oauth2/authorize", "error")
		}},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			return fmt.Errorf("%s: %w", st.what, err)
		}
	}
	return nil
}

// page opens target (a path on Auther or an absolute URL), checks it ends
// on path with a success status (an error status for the error page), and
// saves it as name.
func (s *shooter) page(target, path, name string) error {
	if strings.HasPrefix(target, "/") {
		target = s.a.URL + target
	}
	status, err := s.b.Open(target)
	if err != nil {
		return err
	}
	if ok := status < 400; ok != (name != "error") {
		return fmt.Errorf("%s answered %d", target, status)
	}
	return s.shootAt(path, name)
}

// shootAt waits for path and saves the page at every width.
func (s *shooter) shootAt(path, name string) error {
	if _, err := s.b.WaitPath(path); err != nil {
		return err
	}
	for _, w := range widths {
		png, err := s.b.Shot(w)
		if err != nil {
			return err
		}
		p := filepath.Join(s.out, fmt.Sprintf("%s-%d.png", name, w))
		if err := os.WriteFile(p, png, 0o644); err != nil {
			return err
		}
		s.written = append(s.written, p)
	}
	// Back to the desktop width for the next step.
	return s.b.Do(chromedp.EmulateViewport(widths[0], 800))
}

// form fills the named inputs of the form sel and submits it.
func (s *shooter) form(sel string, fields map[string]string) error {
	for k, v := range fields {
		if err := s.b.Fill(sel+" input[name="+k+"]", v); err != nil {
			return err
		}
	}
	_, err := s.b.Submit(sel + " button[type=submit]")
	return err
}

// nextLink waits for the next mail and returns its first link.
func (s *shooter) nextLink() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), browsertest.StepTimeout)
	defer cancel()
	s.mails++
	m, err := s.box.WaitFor(ctx, s.mails)
	if err != nil {
		return "", fmt.Errorf("waiting for mail %d: %w", s.mails, err)
	}
	link := browsertest.FirstLink(m.Text)
	if link == "" {
		return "", fmt.Errorf("no link in the mail %q", m.Subject)
	}
	return link, nil
}

// signInElsewhere signs in through the JSON API as a phone would.
func (s *shooter) signInElsewhere(email, password string) error {
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	req, _ := http.NewRequest(http.MethodPost, s.a.URL+"/api/auth/sign-in/email", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", phoneUA)
	c := &http.Client{Timeout: browsertest.StepTimeout}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New("sign-in on the second device: " + resp.Status)
	}
	return nil
}
