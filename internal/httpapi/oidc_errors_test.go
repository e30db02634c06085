package httpapi_test

// Every error branch of the authorization and token endpoints answers with
// its RFC 6749 / OpenID Connect error code and changes nothing: a refused
// request leaves the code redeemable, the refresh token usable, and no grant
// or consent behind. Also: userinfo's Bearer errors, refresh after the user
// is deleted, and signing-key rotation seen through the endpoints.

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auther/auther/internal/keys"
	"github.com/auther/auther/internal/oidc"
	"github.com/auther/auther/internal/store"
	"github.com/auther/auther/internal/store/sqlstore"
	"github.com/auther/auther/internal/testdb"
)

// rp is a registered client as the tests use it.
type rp struct {
	id, secret, redirect string
	public               bool
}

// errFixture is an OIDC env with a signed-in browser and a few clients:
// conf (confidential, consent already given), other (a second confidential
// client, consent given), pub (public, consent given), fresh (never
// approved), narrow (only openid and profile) and off (disabled).
type errFixture struct {
	o                                    *oidcEnv
	browser                              *client
	email                                string
	conf, other, pub, fresh, narrow, off rp
}

const fxEmail = "errors@example.com"

func newErrFixture(t *testing.T, st *sqlstore.Store) *errFixture {
	t.Helper()
	o := newOIDCEnv(t, st, keys.ES256)
	f := &errFixture{o: o, browser: o.client(), email: fxEmail}
	f.browser.signUp(fxEmail, pw)
	reg := func(spec oidc.ClientSpec) rp {
		id, secret := o.registerClient(t, spec)
		return rp{id: id, secret: secret, redirect: spec.RedirectURIs[0], public: spec.Public}
	}
	f.conf = reg(oidc.ClientSpec{Name: "Conf", RedirectURIs: []string{"http://127.0.0.1:9/cb", "https://app.example.com/cb"}})
	f.other = reg(oidc.ClientSpec{Name: "Other", RedirectURIs: []string{"http://127.0.0.1:9/other"}})
	f.pub = reg(oidc.ClientSpec{Name: "Pub", Public: true, RedirectURIs: []string{"http://127.0.0.1:9/pub"}})
	f.fresh = reg(oidc.ClientSpec{Name: "Fresh", RedirectURIs: []string{"http://127.0.0.1:9/fresh"}})
	f.narrow = reg(oidc.ClientSpec{Name: "Narrow", RedirectURIs: []string{"http://127.0.0.1:9/narrow"}, Scopes: []string{"openid", "profile"}})
	f.off = reg(oidc.ClientSpec{Name: "Off", RedirectURIs: []string{"http://127.0.0.1:9/off"}})
	if _, err := st.UpdateClient(context.Background(), f.off.id, func(c *store.Client) error { c.Disabled = true; return nil }); err != nil {
		t.Fatal(err)
	}
	// Consent once for the clients the token tests use.
	for _, c := range []rp{f.conf, f.other, f.pub} {
		f.code(t, c, true)
	}
	return f
}

func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// newVerifier is a random RFC 7636 code verifier (43 base64url characters).
func newVerifier() string {
	v, _ := oidc.NewSecret()
	return v
}

// authParams is a valid authorization request for c.
func authParams(c rp, challenge string) url.Values {
	q := url.Values{"response_type": {"code"}, "client_id": {c.id}, "redirect_uri": {c.redirect},
		"scope": {"openid profile email offline_access"}, "state": {"st-1"}, "nonce": {"n-1"}}
	if c.id == "" {
		q.Del("client_id")
	}
	if challenge != "" {
		q.Set("code_challenge", challenge)
		q.Set("code_challenge_method", "S256")
	}
	return q
}

// with returns a copy of q with key set to value ("" deletes it).
func with(q url.Values, kv ...string) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = slices.Clone(v)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			out.Del(kv[i])
		} else {
			out.Set(kv[i], kv[i+1])
		}
	}
	return out
}

const authorizePath = "/api/auth/oauth2/authorize?"

// code runs an authorization for c in the signed-in browser and returns
// the code and the PKCE verifier ("" when pkce is false).
func (f *errFixture) code(t *testing.T, c rp, pkce bool) (code, verifier string) {
	t.Helper()
	challenge := ""
	if pkce {
		verifier = newVerifier()
		challenge = s256(verifier)
	}
	back := f.o.browse(t, f.browser, f.o.srv.URL+authorizePath+authParams(c, challenge).Encode(), f.email, pw)
	if back.Get("code") == "" || back.Get("state") != "st-1" || back.Get("iss") != f.o.origin {
		t.Fatalf("authorization response: %v", back)
	}
	return back.Get("code"), verifier
}

// token posts to the token endpoint as c: HTTP Basic for confidential
// clients, client_id in the body for public ones.
func (f *errFixture) token(t *testing.T, c rp, form url.Values) response {
	t.Helper()
	if c.public {
		form = with(form, "client_id", c.id)
		return tokenPost(t, f.o, "/api/auth/oauth2/token", "", "", form)
	}
	return tokenPost(t, f.o, "/api/auth/oauth2/token", c.id, c.secret, form)
}

func (f *errFixture) exchange(t *testing.T, c rp, code, redirect, verifier string) response {
	t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	return f.token(t, c, form)
}

func (f *errFixture) refresh(t *testing.T, c rp, rt, scope string) response {
	t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	if scope != "" {
		form.Set("scope", scope)
	}
	return f.token(t, c, form)
}

// tokens decodes a successful token response.
func tokens(t *testing.T, r response) oidc.TokenResponse {
	t.Helper()
	if r.Status != 200 {
		t.Fatalf("token endpoint: %d %s", r.Status, r.Body)
	}
	if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("token response Cache-Control = %q, want no-store", cc)
	}
	var tr oidc.TokenResponse
	if err := json.Unmarshal(r.Body, &tr); err != nil || tr.AccessToken == "" {
		t.Fatalf("token response %s: %v", r.Body, err)
	}
	return tr
}

// wantOAuthError checks an RFC 6749 §5.2 error answer.
func wantOAuthError(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.Status != status {
		t.Errorf("status %d, want %d (%s)", r.Status, status, r.Body)
	}
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.Unmarshal(r.Body, &e); err != nil || e.Error != code {
		t.Errorf("error %q, want %q (body %s)", e.Error, code, r.Body)
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		t.Errorf("Content-Type %q, want JSON", r.Header.Get("Content-Type"))
	}
	if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("error response Cache-Control = %q, want no-store", cc)
	}
	if e.Error == "invalid_client" && r.Status == http.StatusUnauthorized && r.Header.Get("WWW-Authenticate") == "" {
		t.Error("401 invalid_client without WWW-Authenticate")
	}
}

// codeUntouched checks that a refused exchange neither used nor revoked
// the code's grant.
func (f *errFixture) codeUntouched(t *testing.T, code string) {
	t.Helper()
	g, err := f.o.store.GetGrantByCode(context.Background(), oidc.HashSecret(code))
	if err != nil {
		t.Fatalf("the code's grant is gone: %v", err)
	}
	if g.CodeUsedAt != nil || g.RevokedAt != nil {
		t.Errorf("a refused exchange changed the grant: used %v revoked %v", g.CodeUsedAt, g.RevokedAt)
	}
}

func (f *errFixture) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	if err := f.o.store.DB().QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// unchanged runs fn and fails if it created grants, refresh tokens or
// consents.
func (f *errFixture) unchanged(t *testing.T, fn func()) {
	t.Helper()
	tables := []string{"oauth_grant", "oauth_refresh_token", "oauth_consent"}
	before := make([]int, len(tables))
	for i, tb := range tables {
		before[i] = f.count(t, tb)
	}
	fn()
	for i, tb := range tables {
		if n := f.count(t, tb); n != before[i] {
			t.Errorf("%s: %d rows before, %d after a refused request", tb, before[i], n)
		}
	}
}

// wantPage checks an authorize answer that must be an error page: 400,
// HTML, and never a redirect.
func wantPage(t *testing.T, r response) {
	t.Helper()
	if r.Status != http.StatusBadRequest || r.Header.Get("Location") != "" {
		t.Errorf("status %d Location %q, want a 400 error page and no redirect", r.Status, r.Header.Get("Location"))
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		t.Errorf("Content-Type %q, want an HTML page", r.Header.Get("Content-Type"))
	}
}

// wantRedirectError checks an error sent back to redirect per RFC 6749
// §4.1.2.1 with RFC 9207's iss; state is echoed when it was sent.
func wantRedirectError(t *testing.T, o *oidcEnv, r response, redirect, code, state string) {
	t.Helper()
	if r.Status != http.StatusFound {
		t.Fatalf("status %d, want a redirect with error=%s (%s)", r.Status, code, r.Body)
	}
	loc, err := url.Parse(r.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	q := loc.Query()
	base := *loc
	base.RawQuery = ""
	if base.String() != redirect {
		t.Errorf("redirected to %q, want the registered %q", base.String(), redirect)
	}
	if q.Get("error") != code || q.Get("iss") != o.origin || q.Get("code") != "" {
		t.Errorf("error response %v, want error=%s iss=%s and no code", q, code, o.origin)
	}
	if _, has := q["state"]; state == "" && has {
		t.Errorf("state %q echoed though none was sent", q.Get("state"))
	} else if q.Get("state") != state {
		t.Errorf("state %q, want %q", q.Get("state"), state)
	}
}

func TestOIDCAuthorizeUntrustedClientOrRedirectShowsPage(t *testing.T) {
	testdb.Each(t, func(t *testing.T, st *sqlstore.Store) {
		f := newErrFixture(t, st)
		anon := f.o.client()
		base := authParams(f.conf, "")
		cases := map[string]url.Values{
			"unknown client":     with(base, "client_id", "no-such-client"),
			"missing client_id":  with(base, "client_id", ""),
			"missing redirect":   with(base, "redirect_uri", ""),
			"another's redirect": with(base, "redirect_uri", f.other.redirect),
			"dup client_id":      func() url.Values { q := with(base); q.Add("client_id", f.conf.id); return q }(),
			"dup redirect_uri":   func() url.Values { q := with(base); q.Add("redirect_uri", "https://evil.example/cb"); return q }(),
			"dup state":          func() url.Values { q := with(base); q.Add("state", "other"); return q }(),
			"dup scope":          func() url.Values { q := with(base); q.Add("scope", "openid"); return q }(),
			// Unknown client with a redirect_uri registered by someone.
			"unknown client, known uri": with(base, "client_id", "x"+f.conf.id),
		}
		for _, ru := range []string{
			"http://127.0.0.1:9/cb?x=1", "http://127.0.0.1:9/cb?", "http://127.0.0.1:9/cb/", "http://127.0.0.1:9/CB",
			"HTTP://127.0.0.1:9/cb", "http://127.0.0.1:9/cb#frag", "http://127.0.0.1:9/cb#", "http://127.0.0.1:9/cb/../cb",
			"http://127.0.0.1:9/%63b", "http://127.0.0.1:9/cb%2F", "http://127.0.0.1:10/cb", "http://127.0.0.1/cb",
			"http://localhost:9/cb", "http://127.0.0.1:9/c", "http://127.0.0.1:9", "http://127.0.0.1:9/cb ", " http://127.0.0.1:9/cb",
			"https://APP.example.com/cb", "https://app.example.com./cb", "https://app.example.com:443/cb", "http://app.example.com/cb",
			"https://evil.example@app.example.com/cb", "https://app.example.com@evil.example/cb", "https://app.example.com/cb\u0000",
			"https://app.example.com/cb?redirect=https://evil.example", "https://app.example.com/cb#@evil.example", "//app.example.com/cb",
		} {
			cases["redirect "+ru] = with(base, "redirect_uri", ru)
		}
		for name, q := range cases {
			t.Run(name, func(t *testing.T) {
				f.unchanged(t, func() {
					for _, c := range []*client{f.browser, anon} {
						r := c.get(authorizePath + q.Encode())
						wantPage(t, r)
						if strings.Contains(string(r.Body), "https://evil.example") {
							t.Error("the error page links to the untrusted URI")
						}
					}
				})
			})
		}
		// A disabled client with an unregistered redirect_uri: still a page.
		wantPage(t, f.browser.get(authorizePath+with(authParams(f.off, ""), "redirect_uri", "https://evil.example/cb").Encode()))
		// Nothing above broke the client: a valid request still gets a code.
		f.code(t, f.conf, true)
	})
}

func TestOIDCAuthorizeErrorsRedirectWithRFCCode(t *testing.T) {
	testdb.Each(t, func(t *testing.T, st *sqlstore.Store) {
		f := newErrFixture(t, st)
		v := newVerifier()
		ch := s256(v)
		conf, pub := authParams(f.conf, ""), authParams(f.pub, ch)
		type tc struct {
			q           url.Values
			redirect    string
			code, state string
		}
		cases := map[string]tc{
			"response_type=token":         {with(conf, "response_type", "token"), f.conf.redirect, "unsupported_response_type", "st-1"},
			"response_type=id_token":      {with(conf, "response_type", "id_token"), f.conf.redirect, "unsupported_response_type", "st-1"},
			"response_type=code token":    {with(conf, "response_type", "code token"), f.conf.redirect, "unsupported_response_type", "st-1"},
			"response_type=token public":  {with(pub, "response_type", "token"), f.pub.redirect, "unsupported_response_type", "st-1"},
			"missing openid":              {with(conf, "scope", "profile email"), f.conf.redirect, "invalid_scope", "st-1"},
			"missing scope":               {with(conf, "scope", ""), f.conf.redirect, "invalid_scope", "st-1"},
			"unknown scope":               {with(conf, "scope", "openid admin"), f.conf.redirect, "invalid_scope", "st-1"},
			"case of openid":              {with(conf, "scope", "OpenID"), f.conf.redirect, "invalid_scope", "st-1"},
			"scope not allowed":           {with(authParams(f.narrow, ""), "scope", "openid email"), f.narrow.redirect, "invalid_scope", "st-1"},
			"offline not allowed":         {with(authParams(f.narrow, ""), "scope", "openid offline_access"), f.narrow.redirect, "invalid_scope", "st-1"},
			"public without PKCE":         {with(pub, "code_challenge", "", "code_challenge_method", ""), f.pub.redirect, "invalid_request", "st-1"},
			"public without challenge":    {with(pub, "code_challenge", ""), f.pub.redirect, "invalid_request", "st-1"},
			"public plain":                {with(pub, "code_challenge_method", "plain", "code_challenge", v), f.pub.redirect, "invalid_request", "st-1"},
			"public plain S256 value":     {with(pub, "code_challenge_method", "plain"), f.pub.redirect, "invalid_request", "st-1"},
			"public method missing":       {with(pub, "code_challenge_method", ""), f.pub.redirect, "invalid_request", "st-1"},
			"public method lower case":    {with(pub, "code_challenge_method", "s256"), f.pub.redirect, "invalid_request", "st-1"},
			"confidential plain":          {with(conf, "code_challenge", ch, "code_challenge_method", "plain"), f.conf.redirect, "invalid_request", "st-1"},
			"confidential method missing": {with(conf, "code_challenge", ch), f.conf.redirect, "invalid_request", "st-1"},
			"challenge too short":         {with(pub, "code_challenge", ch[:42]), f.pub.redirect, "invalid_request", "st-1"},
			"challenge not base64url":     {with(pub, "code_challenge", strings.Repeat("+", 43)), f.pub.redirect, "invalid_request", "st-1"},
			"public without state":        {with(pub, "state", ""), f.pub.redirect, "invalid_request", ""},
			"public without nonce":        {with(pub, "nonce", ""), f.pub.redirect, "invalid_request", "st-1"},
			"disabled client":             {authParams(f.off, ""), f.off.redirect, "unauthorized_client", "st-1"},
			"disabled client token":       {with(authParams(f.off, ""), "response_type", "token"), f.off.redirect, "unauthorized_client", "st-1"},
			"request object":              {with(conf, "request", "eyJhbGciOiJub25lIn0.e30."), f.conf.redirect, "request_not_supported", "st-1"},
			"request_uri":                 {with(conf, "request_uri", "https://evil.example/r"), f.conf.redirect, "request_not_supported", "st-1"},
			"unknown prompt":              {with(conf, "prompt", "bogus"), f.conf.redirect, "invalid_request", "st-1"},
			"prompt none combined":        {with(conf, "prompt", "none login"), f.conf.redirect, "invalid_request", "st-1"},
			"max_age negative":            {with(conf, "max_age", "-1"), f.conf.redirect, "invalid_request", "st-1"},
			"max_age not a number":        {with(conf, "max_age", "1h"), f.conf.redirect, "invalid_request", "st-1"},
			"second registered uri":       {with(conf, "redirect_uri", "https://app.example.com/cb", "scope", "profile"), "https://app.example.com/cb", "invalid_scope", "st-1"},
			"state with special chars":    {with(conf, "scope", "x", "state", "a b&c=d/é"), f.conf.redirect, "invalid_scope", "a b&c=d/é"},
		}
		for name, c := range cases {
			t.Run(name, func(t *testing.T) {
				f.unchanged(t, func() {
					for _, b := range []*client{f.browser, f.o.client()} {
						wantRedirectError(t, f.o, b.get(authorizePath+c.q.Encode()), c.redirect, c.code, c.state)
					}
				})
			})
		}
		// The same requests, corrected, succeed.
		f.code(t, f.conf, false)
		f.code(t, f.pub, true)
	})
}

func TestOIDCAuthorizePromptAndConsentErrors(t *testing.T) {
	testdb.Each(t, func(t *testing.T, st *sqlstore.Store) {
		f := newErrFixture(t, st)
		t.Run("prompt=none without a session is login_required", func(t *testing.T) {
			f.unchanged(t, func() {
				r := f.o.client().get(authorizePath + with(authParams(f.conf, ""), "prompt", "none").Encode())
				wantRedirectError(t, f.o, r, f.conf.redirect, "login_required", "st-1")
			})
		})
		t.Run("prompt=none needing consent is consent_required", func(t *testing.T) {
			f.unchanged(t, func() {
				r := f.browser.get(authorizePath + with(authParams(f.fresh, ""), "prompt", "none").Encode())
				wantRedirectError(t, f.o, r, f.fresh.redirect, "consent_required", "st-1")
			})
		})
		t.Run("prompt=none needing more scopes is consent_required", func(t *testing.T) {
			// conf was approved for openid profile email offline_access: the
			// same scopes pass silently...
			r := f.browser.get(authorizePath + with(authParams(f.conf, ""), "prompt", "none").Encode())
			if loc, _ := url.Parse(r.Header.Get("Location")); r.Status != http.StatusFound || loc.Query().Get("code") == "" {
				t.Fatalf("prompt=none with consent given: %d %s", r.Status, r.Header.Get("Location"))
			}
			// ...but an approval of fewer scopes does not cover more.
			q := with(authParams(f.fresh, ""), "scope", "openid")
			if back := f.o.browse(t, f.browser, f.o.srv.URL+authorizePath+q.Encode(), f.email, pw); back.Get("code") == "" {
				t.Fatalf("approving openid: %v", back)
			}
			f.unchanged(t, func() {
				r := f.browser.get(authorizePath + with(authParams(f.fresh, ""), "prompt", "none", "scope", "openid email").Encode())
				wantRedirectError(t, f.o, r, f.fresh.redirect, "consent_required", "st-1")
			})
		})
		t.Run("consent denied is access_denied", func(t *testing.T) {
			c := rp{id: f.narrow.id, redirect: f.narrow.redirect}
			q := with(authParams(c, ""), "scope", "openid profile")
			f.unchanged(t, func() {
				r := f.browser.get(authorizePath + q.Encode())
				m := hiddenRE.FindAllStringSubmatch(string(r.Body), -1)
				if r.Status != http.StatusOK || len(m) != 2 {
					t.Fatalf("expected the consent page: %d %s", r.Status, r.Body)
				}
				form := url.Values{m[0][1]: {htmlUnescape(m[0][2])}, m[1][1]: {htmlUnescape(m[1][2])}, "decision": {"deny"}}
				wantRedirectError(t, f.o, f.browser.postForm("/api/auth/oauth2/consent", form), c.redirect, "access_denied", "st-1")
				// A forged decision (bad CSRF token) is refused without a redirect.
				form.Set("decision", "approve")
				form.Set("csrf", "forged")
				if r := f.browser.postForm("/api/auth/oauth2/consent", form); r.Status != http.StatusForbidden || r.Header.Get("Location") != "" {
					t.Errorf("forged consent: %d %s", r.Status, r.Header.Get("Location"))
				}
			})
			// Denial was not remembered: the next request asks again.
			if r := f.browser.get(authorizePath + q.Encode()); r.Status != http.StatusOK || !hiddenRE.Match(r.Body) {
				t.Errorf("after a denial the consent page is not shown again: %d %s", r.Status, r.Header.Get("Location"))
			}
		})
	})
}

func TestOIDCTokenErrorsChangeNothing(t *testing.T) {
	testdb.Each(t, func(t *testing.T, st *sqlstore.Store) {
		f := newErrFixture(t, st)
		ctx := context.Background()

		t.Run("wrong PKCE verifier", func(t *testing.T) {
			code, v := f.code(t, f.conf, true)
			for _, bad := range []string{newVerifier(), s256(v), v[:42], v + "x", strings.ToUpper(v)} {
				wantOAuthError(t, f.exchange(t, f.conf, code, f.conf.redirect, bad), 400, "invalid_grant")
			}
			wantOAuthError(t, f.exchange(t, f.conf, code, f.conf.redirect, ""), 400, "invalid_grant")
			f.codeUntouched(t, code)
			tokens(t, f.exchange(t, f.conf, code, f.conf.redirect, v))
		})
		t.Run("PKCE verifier for a code issued without PKCE", func(t *testing.T) {
			code, _ := f.code(t, f.conf, false)
			wantOAuthError(t, f.exchange(t, f.conf, code, f.conf.redirect, newVerifier()), 400, "invalid_grant")
			f.codeUntouched(t, code)
			tokens(t, f.exchange(t, f.conf, code, f.conf.redirect, ""))
		})
		t.Run("code for another client", func(t *testing.T) {
			code, v := f.code(t, f.conf, true)
			wantOAuthError(t, f.exchange(t, f.other, code, f.conf.redirect, v), 400, "invalid_grant")
			wantOAuthError(t, f.exchange(t, f.other, code, f.other.redirect, v), 400, "invalid_grant")
			wantOAuthError(t, f.exchange(t, f.pub, code, f.conf.redirect, v), 400, "invalid_grant")
			f.codeUntouched(t, code)
			tokens(t, f.exchange(t, f.conf, code, f.conf.redirect, v))
		})
		t.Run("redirect_uri mismatch", func(t *testing.T) {
			code, v := f.code(t, f.conf, true)
			for _, ru := range []string{"", "https://app.example.com/cb", f.conf.redirect + "/", f.conf.redirect + "?x=1", strings.ToUpper(f.conf.redirect)} {
				wantOAuthError(t, f.exchange(t, f.conf, code, ru, v), 400, "invalid_grant")
			}
			f.codeUntouched(t, code)
			tokens(t, f.exchange(t, f.conf, code, f.conf.redirect, v))
		})
		t.Run("unknown code", func(t *testing.T) {
			wantOAuthError(t, f.exchange(t, f.conf, "no-such-code", f.conf.redirect, ""), 400, "invalid_grant")
			wantOAuthError(t, f.exchange(t, f.conf, "", f.conf.redirect, ""), 400, "invalid_grant")
		})
		t.Run("public client without PKCE verifier", func(t *testing.T) {
			code, v := f.code(t, f.pub, true)
			wantOAuthError(t, f.exchange(t, f.pub, code, f.pub.redirect, ""), 400, "invalid_grant")
			f.codeUntouched(t, code)
			tr := tokens(t, f.exchange(t, f.pub, code, f.pub.redirect, v))
			if tr.RefreshToken == "" || tr.IDToken == "" {
				t.Errorf("public client tokens: %+v", tr)
			}
		})
		t.Run("public client code stored without a challenge", func(t *testing.T) {
			// Authorize refuses this, so the grant is made directly, as a
			// row written by an older version or another path would be.
			u, err := st.GetUserByEmail(ctx, f.email)
			if err != nil {
				t.Fatal(err)
			}
			c, _ := st.GetClient(ctx, f.pub.id)
			code, err := f.o.provider.IssueCode(ctx, &oidc.AuthRequest{Client: c, RedirectURI: f.pub.redirect, State: "s", Nonce: "n",
				Scopes: []string{"openid"}}, u, &store.Session{ID: "no-pkce-session", CreatedAt: f.o.clock.Now()})
			if err != nil {
				t.Fatal(err)
			}
			wantOAuthError(t, f.exchange(t, f.pub, code, f.pub.redirect, ""), 400, "invalid_grant")
			wantOAuthError(t, f.exchange(t, f.pub, code, f.pub.redirect, newVerifier()), 400, "invalid_grant")
			f.codeUntouched(t, code)
		})
		t.Run("disabled client", func(t *testing.T) {
			code, v := f.code(t, f.conf, true)
			tr := tokens(t, f.exchange(t, f.conf, code, f.conf.redirect, v))
			code2, v2 := f.code(t, f.conf, true)
			setDisabled(t, st, f.conf.id, true)
			wantOAuthError(t, f.exchange(t, f.conf, code2, f.conf.redirect, v2), 401, "invalid_client")
			wantOAuthError(t, f.refresh(t, f.conf, tr.RefreshToken, ""), 401, "invalid_client")
			setDisabled(t, st, f.conf.id, false)
			f.codeUntouched(t, code2)
			tokens(t, f.exchange(t, f.conf, code2, f.conf.redirect, v2))
			tokens(t, f.refresh(t, f.conf, tr.RefreshToken, ""))
		})
		t.Run("wrong client secret", func(t *testing.T) {
			code, v := f.code(t, f.conf, true)
			form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {f.conf.redirect}, "code_verifier": {v}}
			for _, secret := range []string{"wrong", "", f.conf.secret + "x", strings.ToUpper(f.conf.secret), oidc.HashSecret(f.conf.secret)} {
				r := tokenPost(t, f.o, "/api/auth/oauth2/token", f.conf.id, secret, form)
				wantOAuthError(t, r, 401, "invalid_client")
				if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Basic") {
					t.Errorf("WWW-Authenticate %q after Basic authentication failed", r.Header.Get("WWW-Authenticate"))
				}
			}
			// client_secret_post with a wrong secret, an unknown client, and
			// a confidential client posing as public.
			wantOAuthError(t, tokenPost(t, f.o, "/api/auth/oauth2/token", "", "", with(form, "client_id", f.conf.id, "client_secret", "wrong")), 401, "invalid_client")
			wantOAuthError(t, tokenPost(t, f.o, "/api/auth/oauth2/token", "", "", with(form, "client_id", f.conf.id)), 401, "invalid_client")
			wantOAuthError(t, tokenPost(t, f.o, "/api/auth/oauth2/token", "nobody", "x", form), 401, "invalid_client")
			wantOAuthError(t, tokenPost(t, f.o, "/api/auth/oauth2/token", "", "", form), 401, "invalid_client")
			// A secret for a public client is refused too.
			wantOAuthError(t, tokenPost(t, f.o, "/api/auth/oauth2/token", f.pub.id, "made-up", form), 401, "invalid_client")
			f.codeUntouched(t, code)
			tokens(t, f.exchange(t, f.conf, code, f.conf.redirect, v))
		})
		t.Run("unsupported or missing grant_type", func(t *testing.T) {
			code, v := f.code(t, f.conf, true)
			form := url.Values{"code": {code}, "redirect_uri": {f.conf.redirect}, "code_verifier": {v}}
			for _, g := range []string{"password", "implicit", "urn:ietf:params:oauth:grant-type:device_code", "AUTHORIZATION_CODE", "authorization_code "} {
				wantOAuthError(t, f.token(t, f.conf, with(form, "grant_type", g)), 400, "unsupported_grant_type")
			}
			wantOAuthError(t, f.token(t, f.conf, form), 400, "invalid_request")
			f.codeUntouched(t, code)
			tokens(t, f.token(t, f.conf, with(form, "grant_type", "authorization_code")))
		})
		t.Run("body that is not a form", func(t *testing.T) {
			code, v := f.code(t, f.conf, true)
			body, _ := json.Marshal(map[string]string{"grant_type": "authorization_code", "code": code, "redirect_uri": f.conf.redirect, "code_verifier": v})
			for _, ct := range []string{"application/json", "text/plain", ""} {
				req, _ := http.NewRequest(http.MethodPost, f.o.srv.URL+"/api/auth/oauth2/token", strings.NewReader(string(body)))
				if ct != "" {
					req.Header.Set("Content-Type", ct)
				}
				req.SetBasicAuth(f.conf.id, f.conf.secret)
				wantOAuthError(t, doRaw(t, req), 400, "invalid_request")
			}
			// The same form parameters in the query string are not a form body.
			req, _ := http.NewRequest(http.MethodPost, f.o.srv.URL+"/api/auth/oauth2/token?"+url.Values{"grant_type": {"authorization_code"},
				"code": {code}, "redirect_uri": {f.conf.redirect}, "code_verifier": {v}}.Encode(), nil)
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(f.conf.id, f.conf.secret)
			if r := doRaw(t, req); r.Status == 200 {
				t.Error("the token endpoint accepted parameters in the query string")
			}
			// A duplicated parameter is refused.
			dup := url.Values{"grant_type": {"authorization_code"}, "code": {code, code}, "redirect_uri": {f.conf.redirect}, "code_verifier": {v}}
			wantOAuthError(t, f.token(t, f.conf, dup), 400, "invalid_request")
			// GET is not allowed.
			if r := f.o.client().get("/api/auth/oauth2/token?" + dup.Encode()); r.Status != http.StatusMethodNotAllowed {
				t.Errorf("GET token: %d", r.Status)
			}
			f.codeUntouched(t, code)
			tokens(t, f.exchange(t, f.conf, code, f.conf.redirect, v))
		})
		t.Run("replayed code revokes its tokens", func(t *testing.T) {
			code, v := f.code(t, f.conf, true)
			first := tokens(t, f.exchange(t, f.conf, code, f.conf.redirect, v))
			if first.RefreshToken == "" {
				t.Fatal("no refresh token with offline_access")
			}
			if introspect(t, f.o, f.conf.id, f.conf.secret, first.AccessToken)["active"] != true {
				t.Fatal("the first access token is not active")
			}
			wantOAuthError(t, f.exchange(t, f.conf, code, f.conf.redirect, v), 400, "invalid_grant")
			if introspect(t, f.o, f.conf.id, f.conf.secret, first.AccessToken)["active"] != false {
				t.Error("the access token from a replayed code is still active")
			}
			if introspect(t, f.o, f.conf.id, f.conf.secret, first.RefreshToken)["active"] != false {
				t.Error("the refresh token from a replayed code is still active")
			}
			wantOAuthError(t, f.refresh(t, f.conf, first.RefreshToken, ""), 400, "invalid_grant")
			if r := userinfo(t, f.o, first.AccessToken); r.Status != http.StatusUnauthorized {
				t.Errorf("userinfo with a revoked token: %d", r.Status)
			}
			// A third presentation still fails.
			wantOAuthError(t, f.exchange(t, f.conf, code, f.conf.redirect, v), 400, "invalid_grant")
		})
		t.Run("replay by a public client revokes too", func(t *testing.T) {
			code, v := f.code(t, f.pub, true)
			first := tokens(t, f.exchange(t, f.pub, code, f.pub.redirect, v))
			wantOAuthError(t, f.exchange(t, f.pub, code, f.pub.redirect, v), 400, "invalid_grant")
			wantOAuthError(t, f.refresh(t, f.pub, first.RefreshToken, ""), 400, "invalid_grant")
			if r := userinfo(t, f.o, first.AccessToken); r.Status != http.StatusUnauthorized {
				t.Errorf("userinfo with a revoked token: %d", r.Status)
			}
		})
		t.Run("expired code", func(t *testing.T) {
			code, v := f.code(t, f.conf, true)
			f.o.clock.Advance(9 * time.Minute) // still within the 10 minutes
			code2, v2 := f.code(t, f.conf, true)
			f.o.clock.Advance(2 * time.Minute) // code is now 11 minutes old
			wantOAuthError(t, f.exchange(t, f.conf, code, f.conf.redirect, v), 400, "invalid_grant")
			f.codeUntouched(t, code)
			tokens(t, f.exchange(t, f.conf, code2, f.conf.redirect, v2))
			f.o.clock.Advance(11 * time.Minute)
			code3, v3 := f.code(t, f.pub, true)
			f.o.clock.Advance(11 * time.Minute)
			wantOAuthError(t, f.exchange(t, f.pub, code3, f.pub.redirect, v3), 400, "invalid_grant")
			f.codeUntouched(t, code3)
		})
	})
}

func TestOIDCRefreshErrorsChangeNothing(t *testing.T) {
	testdb.Each(t, func(t *testing.T, st *sqlstore.Store) {
		f := newErrFixture(t, st)
		code, v := f.code(t, f.conf, true)
		tr := tokens(t, f.exchange(t, f.conf, code, f.conf.redirect, v))
		rt := tr.RefreshToken

		t.Run("another client's refresh token", func(t *testing.T) {
			for _, c := range []rp{f.other, f.pub} {
				wantOAuthError(t, f.refresh(t, c, rt, ""), 400, "invalid_grant")
			}
			if introspect(t, f.o, f.conf.id, f.conf.secret, rt)["active"] != true {
				t.Error("the refresh token died after another client presented it")
			}
			if introspect(t, f.o, f.other.id, f.other.secret, rt)["active"] != false {
				t.Error("another client can introspect the refresh token")
			}
		})
		t.Run("refresh adding a scope", func(t *testing.T) {
			// A grant with fewer scopes: openid profile offline_access.
			v := newVerifier()
			q := with(authParams(f.conf, s256(v)), "scope", "openid profile offline_access")
			back := f.o.browse(t, f.browser, f.o.srv.URL+authorizePath+q.Encode(), f.email, pw)
			small := tokens(t, f.exchange(t, f.conf, back.Get("code"), f.conf.redirect, v))
			for _, scope := range []string{"openid profile offline_access email", "email", "openid admin", "OPENID"} {
				wantOAuthError(t, f.refresh(t, f.conf, small.RefreshToken, scope), 400, "invalid_scope")
			}
			// The token still works, and narrowing is allowed.
			next := tokens(t, f.refresh(t, f.conf, small.RefreshToken, "openid"))
			if next.Scope != "openid" {
				t.Errorf("narrowed refresh scope %q", next.Scope)
			}
		})
		t.Run("unknown or malformed refresh token", func(t *testing.T) {
			wantOAuthError(t, f.refresh(t, f.conf, "nope", ""), 400, "invalid_grant")
			wantOAuthError(t, f.refresh(t, f.conf, "", ""), 400, "invalid_grant")
			wantOAuthError(t, f.refresh(t, f.conf, tr.AccessToken, ""), 400, "invalid_grant")
		})
		// After all the refused refreshes, the original token still works once.
		next := tokens(t, f.refresh(t, f.conf, rt, ""))
		if next.RefreshToken == "" || next.RefreshToken == rt || next.IDToken == "" {
			t.Fatalf("refresh: %+v", next)
		}
	})
}

func TestOIDCUserinfoBearerErrors(t *testing.T) {
	testdb.Each(t, func(t *testing.T, st *sqlstore.Store) {
		f := newErrFixture(t, st)
		code, v := f.code(t, f.conf, true)
		tr := tokens(t, f.exchange(t, f.conf, code, f.conf.redirect, v))
		if r := userinfo(t, f.o, tr.AccessToken); r.Status != 200 || r.json(t)["email"] != f.email {
			t.Fatalf("userinfo with a good token: %d %s", r.Status, r.Body)
		}
		wantBearer401 := func(name string, r response) {
			t.Helper()
			if r.Status != http.StatusUnauthorized || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s: %d WWW-Authenticate %q, want 401 with a Bearer challenge", name, r.Status, r.Header.Get("WWW-Authenticate"))
			}
			if strings.Contains(string(r.Body), f.email) {
				t.Errorf("%s: claims leaked: %s", name, r.Body)
			}
		}
		wantBearer401("no token", userinfo(t, f.o, ""))
		wantBearer401("garbage", userinfo(t, f.o, "not-a-jwt"))
		parts := strings.Split(tr.AccessToken, ".")
		tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"someone-else"}`)) + "." + parts[2]
		wantBearer401("tampered", userinfo(t, f.o, tampered))
		wantBearer401("unsigned", userinfo(t, f.o, base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt"}`))+"."+parts[1]+"."))
		wantBearer401("ID token of client A", userinfo(t, f.o, tr.IDToken))
		wantBearer401("refresh token", userinfo(t, f.o, tr.RefreshToken))
		// POST with a form-encoded access_token of the wrong kind, too.
		req, _ := http.NewRequest(http.MethodPost, f.o.srv.URL+"/api/auth/oauth2/userinfo", strings.NewReader(url.Values{"access_token": {tr.IDToken}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		wantBearer401("ID token by POST", doRaw(t, req))
		// Expired access token (1 h + 30 s leeway).
		f.o.clock.Advance(time.Hour + 31*time.Second)
		wantBearer401("expired", userinfo(t, f.o, tr.AccessToken))
	})
}

func TestOIDCRefreshFailsAfterUserDeleted(t *testing.T) {
	testdb.Each(t, func(t *testing.T, st *sqlstore.Store) {
		f := newErrFixture(t, st)
		code, v := f.code(t, f.conf, true)
		tr := tokens(t, f.exchange(t, f.conf, code, f.conf.redirect, v))
		code2, v2 := f.code(t, f.conf, true)
		sub, _ := decodeJWT(t, tr.AccessToken).claims["sub"].(string)
		if err := st.DeleteUser(context.Background(), sub); err != nil {
			t.Fatal(err)
		}
		wantOAuthError(t, f.refresh(t, f.conf, tr.RefreshToken, ""), 400, "invalid_grant")
		wantOAuthError(t, f.exchange(t, f.conf, code2, f.conf.redirect, v2), 400, "invalid_grant")
		if r := userinfo(t, f.o, tr.AccessToken); r.Status != http.StatusUnauthorized {
			t.Errorf("userinfo for a deleted user: %d %s", r.Status, r.Body)
		}
		if introspect(t, f.o, f.conf.id, f.conf.secret, tr.AccessToken)["active"] != false {
			t.Error("a deleted user's access token is still active")
		}
	})
}

func TestOIDCKeyRotation(t *testing.T) {
	testdb.Each(t, func(t *testing.T, st *sqlstore.Store) {
		ctx := context.Background()
		o := newOIDCEnv(t, st, keys.RS256)
		browser := o.client()
		browser.signUp("rotate@example.com", pw)
		// A client whose access tokens outlive the key retention, so that
		// only the key decides whether an old token verifies.
		long := 90 * 24 * time.Hour
		c, secret, err := oidc.NewClient(oidc.ClientSpec{Name: "Long", RedirectURIs: []string{"http://127.0.0.1:9/long"}}, o.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		c.AccessTokenTTL = &long
		if err := st.CreateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
		f := &errFixture{o: o, browser: browser, email: "rotate@example.com"}
		cl := rp{id: c.ID, secret: secret, redirect: "http://127.0.0.1:9/long"}
		code, v := f.code(t, cl, true)
		old := tokens(t, f.exchange(t, cl, code, cl.redirect, v))
		oldKid, _ := decodeJWT(t, old.AccessToken).header["kid"].(string)
		if oldKid == "" || decodeJWT(t, old.IDToken).header["kid"] != oldKid {
			t.Fatalf("kid missing: %v", decodeJWT(t, old.AccessToken).header)
		}

		if _, err := o.keys.Rotate(ctx); err != nil {
			t.Fatal(err)
		}
		if introspect(t, o, cl.id, cl.secret, old.AccessToken)["active"] != true {
			t.Error("a token signed before the rotation is not active")
		}
		if r := userinfo(t, o, old.AccessToken); r.Status != 200 {
			t.Errorf("userinfo with a pre-rotation token: %d %s", r.Status, r.Body)
		}
		if _, _, err := o.keys.Verify(old.IDToken); err != nil {
			t.Errorf("a pre-rotation ID token does not verify: %v", err)
		}
		fresh := tokens(t, f.refresh(t, cl, old.RefreshToken, ""))
		newKid, _ := decodeJWT(t, fresh.AccessToken).header["kid"].(string)
		if newKid == "" || newKid == oldKid || decodeJWT(t, fresh.IDToken).header["kid"] != newKid {
			t.Fatalf("new tokens carry kid %q / %v, old was %q", newKid, decodeJWT(t, fresh.IDToken).header["kid"], oldKid)
		}
		jwksKids := func() []string {
			r := o.client().get("/.well-known/jwks.json")
			var set struct {
				Keys []struct {
					Kid string `json:"kid"`
					D   string `json:"d"`
				} `json:"keys"`
			}
			if r.Status != 200 || json.Unmarshal(r.Body, &set) != nil {
				t.Fatalf("jwks: %d %s", r.Status, r.Body)
			}
			var kids []string
			for _, k := range set.Keys {
				if k.D != "" {
					t.Error("the JWKS serves a private key")
				}
				kids = append(kids, k.Kid)
			}
			slices.Sort(kids)
			return kids
		}
		want := []string{oldKid, newKid}
		slices.Sort(want)
		if got := jwksKids(); !slices.Equal(got, want) {
			t.Errorf("JWKS kids after rotation %v, want %v", got, want)
		}

		// Still within the 60-day retention: the old token verifies.
		o.clock.Advance(59 * 24 * time.Hour)
		if n, _ := o.keys.Prune(ctx); n != 0 {
			t.Errorf("pruned %d keys within retention", n)
		}
		if introspect(t, o, cl.id, cl.secret, old.AccessToken)["active"] != true {
			t.Error("a token of the retired key stopped verifying before the retention ended")
		}
		// After the retention the old key is gone.
		o.clock.Advance(2 * 24 * time.Hour)
		if n, err := o.keys.Prune(ctx); n != 1 || err != nil {
			t.Errorf("Prune after retention = %d, %v; want the old key pruned", n, err)
		}
		if _, _, err := o.keys.Verify(old.AccessToken); err == nil {
			t.Error("a token of the pruned key still verifies")
		}
		if _, _, err := o.keys.Verify(fresh.AccessToken); err != nil {
			t.Errorf("a token of the current key fails: %v", err)
		}
		if introspect(t, o, cl.id, cl.secret, old.AccessToken)["active"] != false {
			t.Error("introspection accepts a token of a pruned key")
		}
		if r := userinfo(t, o, old.AccessToken); r.Status != http.StatusUnauthorized {
			t.Errorf("userinfo accepts a token of a pruned key: %d", r.Status)
		}
		if got := jwksKids(); !slices.Equal(got, []string{newKid}) {
			t.Errorf("JWKS after retention %v, want only %s", got, newKid)
		}
	})
}

func setDisabled(t *testing.T, st *sqlstore.Store, id string, off bool) {
	t.Helper()
	if _, err := st.UpdateClient(context.Background(), id, func(c *store.Client) error { c.Disabled = off; return nil }); err != nil {
		t.Fatal(err)
	}
}

func userinfo(t *testing.T, o *oidcEnv, tok string) response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, o.srv.URL+"/api/auth/oauth2/userinfo", nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return doRaw(t, req)
}

func doRaw(t *testing.T, req *http.Request) response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// prompt=login and max_age=0 (OIDC Core §3.1.2.1: "max_age=0 is equivalent
// to prompt=login") both send a signed-in user through sign-in once, then
// back to the same request, which must then complete. The sign-in round
// trip takes a moment of real time, which the fake clock plays.
func TestOIDCAuthorizeReauthenticationCompletes(t *testing.T) {
	testdb.Each(t, func(t *testing.T, st *sqlstore.Store) {
		f := newErrFixture(t, st)
		for _, c := range []struct {
			name        string
			kv          []string
			wantSignIns int
		}{
			{"prompt=login", []string{"prompt", "login"}, 1},
			{"max_age=0", []string{"max_age", "0"}, 1},
			{"max_age=1", []string{"max_age", "1"}, 1},
			{"max_age=86400", []string{"max_age", "86400"}, 0},
			// Large values must not wrap around to a negative duration.
			{"max_age=9223372037", []string{"max_age", "9223372037"}, 0},
			{"max_age=18446744074", []string{"max_age", "18446744074"}, 0},
		} {
			t.Run(c.name, func(t *testing.T) {
				f.o.clock.Advance(time.Hour) // the browser's session is an hour old
				next := authorizePath + with(authParams(f.conf, ""), c.kv...).Encode()
				signIns := 0
				for range 6 {
					r := f.browser.get(next)
					if r.Status != http.StatusFound {
						t.Fatalf("GET %s: %d %s", next, r.Status, r.Body)
					}
					loc, _ := url.Parse(r.Header.Get("Location"))
					if loc.Path == "/sign-in" {
						if signIns++; signIns > c.wantSignIns {
							what := "the session already satisfies the request"
							if signIns > 1 {
								what = "a sign-in loop: the fresh session does not satisfy the request"
							}
							t.Fatalf("%s: sent to sign-in %d times, want %d (%s)", c.name, signIns, c.wantSignIns, what)
						}
						r2 := f.browser.signInForm(loc.Query().Get("return"), f.email, pw)
						if r2.Status != http.StatusSeeOther {
							t.Fatalf("sign-in: %d %s", r2.Status, r2.Body)
						}
						f.o.clock.Advance(300 * time.Millisecond) // the redirect back takes a moment
						next = r2.Header.Get("Location")
						continue
					}
					if loc.Query().Get("code") == "" || signIns != c.wantSignIns {
						t.Fatalf("%s: ended at %s after %d sign-ins, want a code after %d", c.name, loc, signIns, c.wantSignIns)
					}
					return
				}
				t.Fatal("too many redirects")
			})
		}
	})
}

// Signing a device out — from that device or from another one — ends the
// apps it signed in to: their refresh tokens stop working.
func TestOIDCRefreshFailsAfterTheDeviceIsSignedOut(t *testing.T) {
	testdb.Each(t, func(t *testing.T, st *sqlstore.Store) {
		f := newErrFixture(t, st)
		code, v := f.code(t, f.conf, true)
		onDevice := tokens(t, f.exchange(t, f.conf, code, f.conf.redirect, v))

		// Another device of the same user revokes the first one by the
		// hash list-sessions shows.
		other := f.o.client()
		if r := other.post("/api/auth/sign-in/email", map[string]any{"email": f.email, "password": pw}); r.Status != 200 {
			t.Fatalf("second device: %d %s", r.Status, r.Body)
		}
		device := f.browser.session()["session"].(map[string]any)
		var listed []map[string]any
		jsonUnmarshal(other.get("/api/auth/list-sessions").Body, &listed)
		hash := ""
		for _, s := range listed {
			if s["id"] == device["id"] {
				hash, _ = s["token"].(string)
			}
		}
		if hash == "" {
			t.Fatalf("first device not listed: %v", listed)
		}
		if r := other.post("/api/auth/revoke-session", map[string]any{"token": hash}); r.Status != 200 {
			t.Fatalf("revoke-session: %d %s", r.Status, r.Body)
		}
		wantOAuthError(t, f.refresh(t, f.conf, onDevice.RefreshToken, ""), 400, "invalid_grant")

		// Signing out on the device itself does the same; the other
		// device's apps are not touched.
		code, v = f.code(t, f.conf, true) // signs the first browser in again
		again := tokens(t, f.exchange(t, f.conf, code, f.conf.redirect, v))
		if r := f.browser.post("/api/auth/sign-out", nil); r.Status != 200 {
			t.Fatalf("sign-out: %d %s", r.Status, r.Body)
		}
		wantOAuthError(t, f.refresh(t, f.conf, again.RefreshToken, ""), 400, "invalid_grant")
		if other.session() == nil {
			t.Fatal("the other device was signed out too")
		}
	})
}

// A replayed refresh token revokes the family whatever else the request
// says, and a blank scope means "the grant's scope", not "none".
func TestOIDCRefreshReplayWithAnyScopeRevokes(t *testing.T) {
	testdb.Each(t, func(t *testing.T, st *sqlstore.Store) {
		f := newErrFixture(t, st)
		code, v := f.code(t, f.conf, true)
		first := tokens(t, f.exchange(t, f.conf, code, f.conf.redirect, v))
		r := f.refresh(t, f.conf, first.RefreshToken, "   ")
		second := tokens(t, r)
		if got := r.json(t)["scope"]; got != "openid profile email offline_access" {
			t.Fatalf("blank scope narrowed the tokens to %q", got)
		}
		wantOAuthError(t, f.refresh(t, f.conf, first.RefreshToken, "admin"), 400, "invalid_grant")
		wantOAuthError(t, f.refresh(t, f.conf, second.RefreshToken, ""), 400, "invalid_grant")
	})
}
