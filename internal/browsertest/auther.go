// Package browsertest drives Auther's hosted pages in a real headless
// Chromium. Its non-test files are shared with tools/screens: they boot a
// complete Auther in-process (the production wiring of storage, identity
// core, OIDC provider, mail outbox and HTTP API) on a free loopback port,
// launch Debian's chromium through chromedp, and run a small relying party
// that records the authorization responses it receives.
package browsertest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/auther/auther/internal/app"
	"github.com/auther/auther/internal/auth"
	"github.com/auther/auther/internal/config"
	"github.com/auther/auther/internal/mail"
	"github.com/auther/auther/internal/oidc"
	"github.com/auther/auther/internal/store/sqlstore"
)

// Options configure an in-process Auther.
type Options struct {
	// DataDir holds the SQLite database and the generated secret.
	DataDir string
	// SMTPHost and SMTPPort name a plain SMTP server (no TLS, no AUTH) that
	// receives the outgoing mail; leave SMTPHost empty and set Sender
	// instead to capture mail in memory.
	SMTPHost string
	SMTPPort int
	// Sender replaces the configured sender when set.
	Sender mail.Sender
	// Env holds extra AUTHER_* settings (e.g. AUTHER_EMAIL_VERIFICATION),
	// applied over the defaults of the real binary.
	Env map[string]string
	// Logger receives the server's log (nil: discarded).
	Logger *slog.Logger
}

// Auther is a running server.
type Auther struct {
	URL      string // http://127.0.0.1:<port>, also the issuer
	Config   *config.Config
	Store    *sqlstore.Store
	Auth     *auth.Service
	Provider *oidc.Provider

	srv  *http.Server
	stop func() // the background workers
	done chan struct{}
}

// Start boots Auther on 127.0.0.1 with a free port, wired by app.Build as
// `auther serve` is, with email verification required unless opts.Env says
// otherwise, and the rate limiter off (tests sign in many times from one
// address).
func Start(opts Options) (a *Auther, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			ln.Close()
		}
	}()
	base := "http://" + ln.Addr().String()
	env := map[string]string{
		"AUTHER_ADDR":               ln.Addr().String(),
		"AUTHER_BASE_URL":           base,
		"AUTHER_DATA_DIR":           opts.DataDir,
		"AUTHER_EMAIL_VERIFICATION": "required",
		"AUTHER_RATE_LIMIT":         "off",
		"AUTHER_MAIL_FROM":          "Auther <no-reply@auther.test>",
	}
	if opts.SMTPHost != "" {
		env["AUTHER_SMTP_HOST"] = opts.SMTPHost
		env["AUTHER_SMTP_PORT"] = strconv.Itoa(opts.SMTPPort)
		env["AUTHER_SMTP_TLS"] = "none"
	}
	for k, v := range opts.Env {
		env[k] = v
	}
	c, err := config.Load(nil, func(k string) string { return env[k] })
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ctx := context.Background()
	st, err := app.OpenStore(ctx, c)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			st.Close()
		}
	}()
	srv, err := app.Build(ctx, c, st, log)
	if err != nil {
		return nil, err
	}
	if opts.Sender != nil {
		srv.Mailer.Sender = opts.Sender
	}
	srv.Mailer.Poll = 25 * time.Millisecond
	a = &Auther{URL: c.BaseURL, Config: c, Store: st, Auth: srv.Auth, Provider: srv.OIDC,
		srv:  &http.Server{Handler: srv.API, ReadHeaderTimeout: 10 * time.Second},
		stop: srv.Run(), done: make(chan struct{})}
	go func() {
		a.srv.Serve(ln)
		close(a.done)
	}()
	return a, nil
}

// Close stops the server and the mail worker, then closes the database.
func (a *Auther) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.srv.Shutdown(ctx); err != nil {
		a.srv.Close()
	}
	<-a.done
	a.stop()
	a.Store.Close()
}

// RegisterClient stores a confidential OIDC client whose consent is not
// skipped, and returns its id and secret.
func (a *Auther) RegisterClient(ctx context.Context, name string, redirectURIs ...string) (id, secret string, err error) {
	c, secret, err := oidc.NewClient(oidc.ClientSpec{
		Name: name, RedirectURIs: redirectURIs, PostLogoutRedirectURIs: redirectURIs,
		Scopes: []string{"openid", "profile", "email", "offline_access"},
	}, time.Now().UTC().Truncate(time.Millisecond))
	if err != nil {
		return "", "", err
	}
	if err := a.Store.CreateClient(ctx, c); err != nil {
		return "", "", err
	}
	return c.ID, secret, nil
}
