package httpapi_test

import (
	"context"
	"html"
	"net/http"
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

// oidcEnv is an env with the OpenID Connect provider switched on.
type oidcEnv struct {
	*env
	provider *oidc.Provider
	keys     *keys.Manager
}

func newOIDCEnv(t testing.TB, st *sqlstore.Store, alg string) *oidcEnv {
	return newOIDCEnvWith(t, st, nil, alg)
}

// newOIDCEnvWith is newOIDCEnv with extra server options (RS256 keys unless
// alg is given).
func newOIDCEnvWith(t testing.TB, st *sqlstore.Store, tweak func(*httpapi.Options), alg ...string) *oidcEnv {
	t.Helper()
	a := keys.RS256
	if len(alg) > 0 {
		a = alg[0]
	}
	box, _ := seal.New(testSecret, "signing-keys")
	km := &keys.Manager{Store: st, Box: box, Algorithm: a}
	o := &oidcEnv{keys: km}
	o.env = newEnv(t, st, func(s *auth.Service, opts *httpapi.Options) {
		km.Clock = s.Clock
		if _, err := km.Ensure(context.Background()); err != nil {
			t.Fatal(err)
		}
		o.provider = &oidc.Provider{Store: st, Keys: km, Clock: s.Clock, Issuer: opts.BaseURL, CodeTTL: 10 * time.Minute,
			AccessTTL: time.Hour, IDTTL: time.Hour, RefreshTTL: 7 * 24 * time.Hour, Leeway: 30 * time.Second}
		opts.Keys, opts.OIDC = km, o.provider
		if tweak != nil {
			tweak(opts)
		}
	})
	return o
}

// registerClient stores a client and returns it with its secret.
func (o *oidcEnv) registerClient(t testing.TB, spec oidc.ClientSpec) (id, secret string) {
	t.Helper()
	c, secret, err := oidc.NewClient(spec, o.clock.Now().UTC().Truncate(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if err := o.store.CreateClient(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return c.ID, secret
}

var hiddenRE = regexp.MustCompile(`name="(request|csrf)" value="([^"]*)"`)

// browse follows an authorization request like a browser that signs in
// (when asked) and approves consent (when asked), until Auther redirects to
// the client; it returns that redirect's query.
func (o *oidcEnv) browse(t *testing.T, c *client, authURL, email, password string) url.Values {
	t.Helper()
	u, _ := url.Parse(authURL)
	next := u.RequestURI()
	for range 8 {
		r := c.get(next)
		switch {
		case r.Status == http.StatusFound:
			loc := r.Header.Get("Location")
			lu, _ := url.Parse(loc)
			switch {
			case lu.Path == "/sign-in":
				r2 := c.signInForm(lu.Query().Get("return"), email, password)
				if r2.Status != http.StatusSeeOther {
					t.Fatalf("sign-in form: %d %s", r2.Status, r2.Body)
				}
				next = r2.Header.Get("Location")
			case lu.Host != "" && lu.Host != u.Host:
				return lu.Query() // back at the client
			default:
				next = loc
			}
		case r.Status == http.StatusOK:
			m := hiddenRE.FindAllStringSubmatch(string(r.Body), -1)
			if len(m) != 2 {
				t.Fatalf("expected the consent page, got:\n%s", r.Body)
			}
			form := url.Values{m[0][1]: {htmlUnescape(m[0][2])}, m[1][1]: {htmlUnescape(m[1][2])}, "decision": {"approve"}}
			r2 := c.postForm("/api/auth/oauth2/consent", form)
			if r2.Status != http.StatusFound {
				t.Fatalf("consent: %d %s", r2.Status, r2.Body)
			}
			next = r2.Header.Get("Location")
		default:
			t.Fatalf("authorize step %s: %d %s", next, r.Status, r.Body)
		}
	}
	t.Fatal("too many redirects")
	return nil
}

func htmlUnescape(s string) string { return html.UnescapeString(s) }
