package httpapi_test

import (
	"context"
	"html"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/auther/auther/internal/auth"
	"github.com/auther/auther/internal/httpapi"
	"github.com/auther/auther/internal/keys"
	"github.com/auther/auther/internal/oidc"
	"github.com/auther/auther/internal/seal"
	"github.com/auther/auther/internal/store/sqlstore"
)

// Helpers for driving the hosted pages like a browser with JavaScript off:
// GET a page (which sets the CSRF cookie in the client's jar), read its
// form's token, POST the form.

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]*)"`)

// formToken fetches a page and returns the CSRF token of its first form.
func (c *client) formToken(path string) string {
	c.e.t.Helper()
	r := c.get(path)
	m := csrfRE.FindSubmatch(r.Body)
	if m == nil {
		c.e.t.Fatalf("GET %s: %d, no CSRF field:\n%s", path, r.Status, r.Body)
	}
	return html.UnescapeString(string(m[1]))
}

// signInForm signs in through the sign-in page, returning the POST's answer
// (303 to the return target on success).
func (c *client) signInForm(ret, email, password string) response {
	c.e.t.Helper()
	tok := c.formToken("/sign-in?return=" + url.QueryEscape(ret))
	return c.postForm("/sign-in", url.Values{"csrf": {tok}, "return": {ret}, "email": {email}, "password": {password}})
}

// submit fetches page, then posts form (with the page's CSRF token) to
// action.
func (c *client) submit(page, action string, form url.Values) response {
	c.e.t.Helper()
	form.Set("csrf", c.formToken(page))
	return c.postForm(action, form)
}

// newMailOIDCEnv is an env with both the email flows (real SMTP to an
// in-process server, delivered by the outbox worker) and the OpenID Connect
// provider: what a sign-up that starts at an authorization request needs.
func newMailOIDCEnv(t *testing.T, st *sqlstore.Store, mode auth.EmailVerificationMode) (*mailEnv, *oidcEnv) {
	t.Helper()
	keyBox, _ := seal.New(testSecret, "signing-keys")
	km := &keys.Manager{Store: st, Box: keyBox, Algorithm: keys.ES256}
	o := &oidcEnv{keys: km}
	m := newMailEnvWith(t, st, mode, func(s *auth.Service, opts *httpapi.Options) {
		km.Clock = s.Clock
		if _, err := km.Ensure(context.Background()); err != nil {
			t.Fatal(err)
		}
		o.provider = &oidc.Provider{Store: st, Keys: km, Clock: s.Clock, Issuer: opts.BaseURL, CodeTTL: 10 * time.Minute,
			AccessTTL: time.Hour, IDTTL: time.Hour, RefreshTTL: 24 * time.Hour, Leeway: 30 * time.Second}
		opts.Keys, opts.OIDC = km, o.provider
	})
	o.env = m.env
	return m, o
}
