package httpapi_test

import (
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/auther/auther/internal/auth"
	"github.com/auther/auther/internal/httpapi"
	"github.com/auther/auther/internal/oidc"
	"github.com/auther/auther/internal/store/sqlstore"
	"github.com/auther/auther/internal/testdb"
	"github.com/auther/auther/internal/web"
)

// ---- helpers ----

func has(body []byte, s string) bool { return strings.Contains(string(body), s) }

var alertRE = regexp.MustCompile(`role="alert"[^>]*>([^<]*)<`)

// alert returns the text of the page's [role=alert], or "".
func alert(r response) string {
	m := alertRE.FindSubmatch(r.Body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(string(m[1]))
}

// hidden returns the unescaped value of the first hidden field named name.
func hidden(body []byte, name string) (string, bool) {
	m := regexp.MustCompile(`<input type="hidden" name="` + regexp.QuoteMeta(name) + `" value="([^"]*)"`).FindSubmatch(body)
	if m == nil {
		return "", false
	}
	return html.UnescapeString(string(m[1])), true
}

var continueRE = regexp.MustCompile(`<a id="continue"[^>]*href="([^"]*)"`)

func continueHref(t *testing.T, r response) string {
	t.Helper()
	m := continueRE.FindSubmatch(r.Body)
	if m == nil {
		t.Fatalf("no a#continue in:\n%s", r.Body)
	}
	return html.UnescapeString(string(m[1]))
}

// wantPageHeaders checks the security headers every HTML page carries.
func wantPageHeaders(t *testing.T, what string, r response) {
	t.Helper()
	h := r.Header
	csp := h.Get("Content-Security-Policy")
	for _, d := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'self'", "base-uri 'none'"} {
		if !strings.Contains(csp, d) {
			t.Errorf("%s: CSP %q lacks %s", what, csp, d)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("%s: CSP allows inline code: %q", what, csp)
	}
	for k, v := range map[string]string{"Referrer-Policy": "strict-origin-when-cross-origin", "X-Content-Type-Options": "nosniff",
		"X-Frame-Options": "DENY", "Cache-Control": "no-store"} {
		if h.Get(k) != v {
			t.Errorf("%s: %s = %q, want %q", what, k, h.Get(k), v)
		}
	}
	if !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		t.Errorf("%s: Content-Type %q", what, h.Get("Content-Type"))
	}
}

func (c *client) hasSessionCookie() bool { return c.cookie("auther.session_token") != "" }

// postFormFrom posts a form with an explicit Origin ("" for none).
func (c *client) postFormFrom(path, origin string, form url.Values, headers ...string) response {
	c.e.t.Helper()
	return c.do(http.MethodPost, path, form.Encode(), append([]string{"Content-Type", "application/x-www-form-urlencoded", "Origin", origin}, headers...)...)
}

// ---- every page renders ----

func TestPagesRenderWithTheirForms(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		anon := e.client()
		for path, wants := range map[string][]string{
			"/sign-in":         {`<form id="sign-in" method="post"`, `name="email"`, `name="password"`, `type="submit"`, `id="sign-up-link"`, `id="forgot-link"`, `name="csrf"`},
			"/sign-up":         {`<form id="sign-up" method="post"`, `name="name"`, `name="email"`, `name="password"`, `name="csrf"`},
			"/forgot-password": {`<form id="forgot" method="post"`, `name="email"`, `name="csrf"`},
			"/check-inbox":     {`<h1>Check your inbox</h1>`},
			"/verify-email":    {`<h1>`, `<a id="continue"`},
			"/reset-password":  {`role="alert"`, `id="forgot-again"`}, // no token: the page says so
			"/sign-out":        {`<h1>You are signed out</h1>`},
		} {
			r := anon.get(path)
			if r.Status != 200 && !(path == "/reset-password" && r.Status == 400) {
				t.Errorf("GET %s: %d", path, r.Status)
			}
			for _, w := range append(wants, `<html lang="en"`, `<main id="main"`, `href="#main"`) {
				if !has(r.Body, w) {
					t.Errorf("GET %s: missing %s", path, w)
				}
			}
			wantPageHeaders(t, path, r)
		}
		// Without mail there is no emailed sign-in to offer.
		if r := anon.get("/sign-in"); has(r.Body, "sign-in-email") {
			t.Error("sign-in offers emailed links without mail")
		}
		// The stylesheet the pages link is served, and cached for good.
		css := regexp.MustCompile(`href="(/assets/style\.[0-9a-f]+\.css)"`).FindSubmatch(anon.get("/sign-in").Body)
		if css == nil {
			t.Fatal("no stylesheet link")
		}
		if r := anon.get(string(css[1])); r.Status != 200 || !strings.Contains(r.Header.Get("Cache-Control"), "immutable") || !has(r.Body, "--accent:") {
			t.Errorf("stylesheet: %d %v", r.Status, r.Header)
		}

		b := e.client()
		b.signUp("pages@example.com", pw)
		r := b.get("/account")
		for _, w := range []string{`<form id="profile"`, `<form id="password"`, `<form id="email"`, `<ul id="sessions"`, `data-current="true"`,
			`<form id="revoke-others"`, `<ul id="accounts"`, `data-provider="credential"`, `name="currentPassword"`, `name="newPassword"`,
			`name="revokeOtherSessions"`, `name="newEmail"`, `name="image"`} {
			if !has(r.Body, w) {
				t.Errorf("account page: missing %s", w)
			}
		}
		wantPageHeaders(t, "/account", r)
		r = b.get("/sign-out")
		if r.Status != 200 || !has(r.Body, `<form id="sign-out" method="post" action="/sign-out">`) {
			t.Errorf("sign-out page: %d %s", r.Status, r.Body)
		}
		// The site root leads to the account.
		if r := b.get("/"); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/account" {
			t.Errorf("GET /: %d %s", r.Status, r.Header.Get("Location"))
		}
		// Unsupported methods are refused with a page.
		if r := b.do(http.MethodPut, "/sign-in", nil); r.Status != http.StatusMethodNotAllowed || !has(r.Body, "data-error-ref") {
			t.Errorf("PUT /sign-in: %d", r.Status)
		}
	})
}

func TestBrandingFromOptions(t *testing.T) {
	e := newEnv(t, testdb.SQLite(t), func(_ *auth.Service, o *httpapi.Options) {
		o.Brand = web.Brand{Name: "Acme Login", LogoURL: "https://cdn.acme.example/logo.svg", Accent: "#e11d48"}
	})
	r := e.client().get("/sign-in")
	if !has(r.Body, "Acme Login") || !has(r.Body, `src="https://cdn.acme.example/logo.svg"`) || has(r.Body, ">Auther<") {
		t.Errorf("brand not shown:\n%s", r.Body)
	}
	css := regexp.MustCompile(`href="(/assets/style\.[0-9a-f]+\.css)"`).FindSubmatch(r.Body)
	if s := e.client().get(string(css[1])); !has(s.Body, "--accent:#e11d48") {
		t.Errorf("accent colour not in the stylesheet: %.200s", s.Body)
	}
	// A brand the pages cannot show is refused at start.
	st := testdb.SQLite(t)
	_, err := httpapi.New(httpapi.Options{Store: st, Auth: &auth.Service{}, Secret: testSecret, BaseURL: "http://127.0.0.1:1", Brand: web.Brand{Accent: "purple"}})
	if err == nil {
		t.Error("an accent that is not a colour was accepted")
	}
}

// ---- sign-in ----

func TestSignInPage(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.client().signUp("signin@example.com", pw)

		// Wrong password and unknown address: the same alert, no session.
		wrong := e.client()
		r1 := wrong.signInForm("", "signin@example.com", "not the password")
		unknown := e.client()
		r2 := unknown.signInForm("", "nobody@example.com", "not the password")
		for _, r := range []response{r1, r2} {
			if r.Status != http.StatusUnauthorized || alert(r) != "Invalid email or password." || r.Header.Get("Location") != "" {
				t.Errorf("failed sign-in: %d alert %q", r.Status, alert(r))
			}
			if !has(r.Body, `value="`) || !has(r.Body, `autofocus`) {
				t.Error("the form is not shown again with the alert focused")
			}
			wantPageHeaders(t, "failed sign-in", r)
		}
		if wrong.hasSessionCookie() || wrong.session() != nil || unknown.session() != nil {
			t.Error("a failed sign-in left a session")
		}
		if !has(r1.Body, `value="signin@example.com"`) {
			t.Error("the email typed is not kept")
		}

		// Right password: a session and 303 to the account page.
		ok := e.client()
		r := ok.signInForm("", "signin@example.com", pw)
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/account" {
			t.Fatalf("sign-in: %d %s %s", r.Status, r.Header.Get("Location"), alert(r))
		}
		if s := ok.session(); s == nil || s["user"].(map[string]any)["email"] != "signin@example.com" {
			t.Fatalf("no session after signing in: %v", s)
		}
		if r := ok.get("/account"); r.Status != 200 || !has(r.Body, "signin@example.com") {
			t.Errorf("account after sign-in: %d", r.Status)
		}

		// login_hint fills the address.
		if r := e.client().get("/sign-in?login_hint=hint%40example.com"); !has(r.Body, `value="hint@example.com"`) {
			t.Error("login_hint not used")
		}
	})
}

// Every form refuses a post without its CSRF token, with another browser's
// token, or from another origin, and changes nothing.
func TestPageFormsRefuseForgedPosts(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.client().signUp("csrf@example.com", pw)
		good := url.Values{"email": {"csrf@example.com"}, "password": {pw}}

		c := e.client()
		c.formToken("/sign-in") // the CSRF cookie is set, but the token is not sent
		if r := c.postForm("/sign-in", good); r.Status != http.StatusForbidden || !has(r.Body, "data-error-ref") || c.session() != nil {
			t.Errorf("sign-in without a token: %d, signed in=%v", r.Status, c.session() != nil)
		}
		bad := url.Values{"csrf": {"forged"}, "email": {"csrf@example.com"}, "password": {pw}}
		if r := c.postForm("/sign-in", bad); r.Status != http.StatusForbidden || c.session() != nil {
			t.Errorf("sign-in with a wrong token: %d", r.Status)
		}
		// A token is worth nothing with another browser's cookie.
		other := e.client()
		stolen := url.Values{"csrf": {other.formToken("/sign-in")}, "email": {"csrf@example.com"}, "password": {pw}}
		if r := c.postForm("/sign-in", stolen); r.Status != http.StatusForbidden || c.session() != nil {
			t.Errorf("sign-in with another browser's token: %d", r.Status)
		}
		// No cookie at all.
		fresh := e.client()
		if r := fresh.postForm("/sign-in", stolen); r.Status != http.StatusForbidden || fresh.session() != nil {
			t.Errorf("sign-in without the CSRF cookie: %d", r.Status)
		}

		// Cross-origin posts are refused before the form is read.
		withTok := url.Values{"csrf": {c.formToken("/sign-in")}, "email": {"csrf@example.com"}, "password": {pw}}
		if r := c.postFormFrom("/sign-in", "https://evil.example", withTok); r.Status != http.StatusForbidden || c.session() != nil {
			t.Errorf("cross-origin sign-in: %d", r.Status)
		}
		if r := c.postFormFrom("/sign-in", "", withTok, "Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "navigate"); r.Status != http.StatusForbidden || c.session() != nil {
			t.Errorf("cross-site navigation sign-in: %d", r.Status)
		}
		wantPageHeaders(t, "refused post", c.postFormFrom("/sign-in", "https://evil.example", withTok))

		// Signed-in forms: the account and sign-out.
		b := e.client()
		b.signUp("victim@example.com", pw)
		tok := b.formToken("/account")
		for _, f := range []url.Values{
			{"intent": {"profile"}, "name": {"Hacked"}},
			{"intent": {"profile"}, "name": {"Hacked"}, "csrf": {"forged"}},
			{"intent": {"profile"}, "name": {"Hacked"}, "csrf": {other.formToken("/sign-in")}},
		} {
			if r := b.postForm("/account", f); r.Status != http.StatusForbidden {
				t.Errorf("account post %v: %d", f, r.Status)
			}
		}
		if r := b.postFormFrom("/account", "https://evil.example", url.Values{"intent": {"profile"}, "name": {"Hacked"}, "csrf": {tok}}); r.Status != http.StatusForbidden {
			t.Errorf("cross-origin account post: %d", r.Status)
		}
		if r := b.postFormFrom("/account", "null", url.Values{"intent": {"profile"}, "name": {"Hacked"}, "csrf": {tok}}); r.Status != http.StatusForbidden {
			t.Errorf("null-origin account post: %d", r.Status)
		}
		if name := b.session()["user"].(map[string]any)["name"]; name != "Test User" {
			t.Errorf("a refused post changed the name to %v", name)
		}
		// The sign-in page's token is bound to no session: it does not
		// work on the account page.
		if r := b.postForm("/account", url.Values{"intent": {"profile"}, "name": {"Hacked"}, "csrf": {b.formToken("/sign-in")}}); r.Status != http.StatusForbidden {
			t.Errorf("account post with the sign-in token: %d", r.Status)
		}
		if r := b.postForm("/sign-out", url.Values{"csrf": {"forged"}}); r.Status != http.StatusForbidden || b.session() == nil {
			t.Errorf("forged sign-out: %d, signed out=%v", r.Status, b.session() == nil)
		}
		if r := b.postFormFrom("/sign-out", "https://evil.example", url.Values{"csrf": {b.formToken("/sign-out")}}); r.Status != http.StatusForbidden || b.session() == nil {
			t.Errorf("cross-origin sign-out: %d", r.Status)
		}
	})
}

// The return target is a path on this server; anything else falls back to
// the account page, both in the form and after signing in.
func TestReturnTargetIsValidated(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.client().signUp("ret@example.com", pw)
		for ret, want := range map[string]string{
			"https://evil.example":                   "/account",
			"https://evil.example/api/auth/oauth2/x": "/account",
			"//evil.example":                         "/account",
			"/\\evil.example":                        "/account",
			"/\t/evil.example":                       "/account",
			"javascript:alert(1)":                    "/account",
			"evil.example":                           "/account",
			"/api/auth/delete-user":                  "/account",
			"/account/%252e%252e/api/auth/x":         "/account",
			"/account/..;/api/auth/x":                "/account",
			"/account;x=1":                           "/account",
			"/api/auth/verify-email?token=x":         "/account",
			"/sign-out":                              "/account",
			"":                                       "/account",
			"/account":                               "/account",
			"/api/auth/oauth2/authorize?client_id=a&x=1": "/api/auth/oauth2/authorize?client_id=a&x=1",
			// Browsers resolve dot segments before navigating: the checks
			// apply to where the browser would really go.
			"/account/../api/auth/magic-link/verify?token=T&callbackURL=/account": "/account",
			"/account/./../api/auth/delete-user":                                  "/account",
			"/./api/auth/delete-user":                                             "/account",
			"/account/%2e%2e/api/auth/magic-link/verify?token=T":                  "/account",
			"/account/%2E%2E/api/auth/delete-user":                                "/account",
			"/account/.%2e/api/auth/delete-user":                                  "/account",
			"/account/..%2fapi/auth/delete-user":                                  "/account",
			"/%2fevil.example":                                                    "/account",
			"/%2Fevil.example/x":                                                  "/account",
			"/%5cevil.example":                                                    "/account",
			"/.//evil.example":                                                    "/account",
			"/x/../sign-out":                                                      "/account",
			"/api/auth/oauth2/authorize/../../delete-user":                        "/account",
			"/x/./../account?tab=1":                                               "/account?tab=1",
			"/account/../api/auth/oauth2/authorize?client_id=a":                   "/api/auth/oauth2/authorize?client_id=a",
			"/verify-email/..":                                                    "/",
		} {
			c := e.client()
			page := c.get("/sign-in?return=" + url.QueryEscape(ret))
			if v, _ := hidden(page.Body, "return"); v != want {
				t.Errorf("return %q: the form carries something other than %q", ret, want)
			}
			if has(page.Body, "evil.example") {
				t.Errorf("return %q: the page mentions the untrusted target", ret)
			}
			r := c.signInForm(ret, "ret@example.com", pw)
			if r.Status != http.StatusSeeOther || r.Header.Get("Location") != want {
				t.Errorf("return %q: %d to %q, want %q", ret, r.Status, r.Header.Get("Location"), want)
			}
		}
		// Sign-up's link to sign-in and back carry only validated targets.
		if r := e.client().get("/sign-up?return=https%3A%2F%2Fevil.example"); has(r.Body, "evil.example") {
			t.Error("sign-up page carries the untrusted return target")
		}
	})
}

// ---- the authorization flow through the pages ----

func TestAuthorizeGoesThroughSignInAndBack(t *testing.T) {
	testdb.Each(t, func(t *testing.T, st *sqlstore.Store) {
		o := newOIDCEnv(t, st, "")
		o.client().signUp("flow@example.com", pw)
		cb := "https://notes.example.com/cb"
		id, _ := o.registerClient(t, oidc.ClientSpec{Name: "Notes", RedirectURIs: []string{cb}})
		b := o.client()

		auth := strings.TrimPrefix(authorizeURL(o, id, cb, "openid email profile offline_access"), o.origin)
		r := b.get(auth)
		loc, _ := url.Parse(r.Header.Get("Location"))
		if r.Status != http.StatusFound || loc.Path != "/sign-in" {
			t.Fatalf("authorize without a session: %d %s", r.Status, loc)
		}
		ret := loc.Query().Get("return")
		if !strings.HasPrefix(ret, "/api/auth/oauth2/authorize?") {
			t.Fatalf("return target %q", ret)
		}
		page := b.get(loc.RequestURI())
		if v, _ := hidden(page.Body, "return"); v != ret {
			t.Fatalf("the sign-in form lost the authorization request:\n%s", page.Body)
		}
		// The page's forms may lead on to the client's redirect URI.
		if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://notes.example.com;") {
			t.Errorf("CSP %q does not let the flow end at the client", csp)
		}
		// A wrong password keeps the request.
		bad := b.signInForm(ret, "flow@example.com", "wrong password")
		if v, _ := hidden(bad.Body, "return"); v != ret {
			t.Error("a failed sign-in dropped the return target")
		}
		in := b.signInForm(ret, "flow@example.com", pw)
		if in.Status != http.StatusSeeOther || in.Header.Get("Location") != ret {
			t.Fatalf("sign-in: %d to %q, want %q", in.Status, in.Header.Get("Location"), ret)
		}
		consent := b.get(ret)
		if consent.Status != 200 || !has(consent.Body, `<form id="consent"`) || !has(consent.Body, "Allow Notes to:") {
			t.Fatalf("consent page: %d\n%s", consent.Status, consent.Body)
		}
		wantPageHeaders(t, "consent", consent)
		if csp := consent.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "https://notes.example.com") {
			t.Errorf("consent CSP %q", csp)
		}
		items := regexp.MustCompile(`(?s)<ul id="scopes"[^>]*>(.*?)</ul>`).FindSubmatch(consent.Body)
		if items == nil || strings.Count(string(items[1]), "<li>") != 4 || !strings.Contains(string(items[1]), "See your email address") ||
			!strings.Contains(string(items[1]), "Stay signed in when you are away") {
			t.Errorf("scopes in words: %s", items)
		}
		for _, w := range []string{`name="decision" value="approve"`, `name="decision" value="deny"`, "flow@example.com"} {
			if !has(consent.Body, w) {
				t.Errorf("consent page lacks %s", w)
			}
		}
		m := hiddenRE.FindAllStringSubmatch(string(consent.Body), -1)
		ap := b.postForm("/api/auth/oauth2/consent", url.Values{m[0][1]: {htmlUnescape(m[0][2])}, m[1][1]: {htmlUnescape(m[1][2])}, "decision": {"approve"}})
		back := b.get(ap.Header.Get("Location"))
		to, _ := url.Parse(back.Header.Get("Location"))
		if !strings.HasPrefix(to.String(), cb+"?") || to.Query().Get("code") == "" || to.Query().Get("state") != "s" {
			t.Fatalf("the client did not get a code: %d %s", back.Status, to)
		}
	})
}

// ---- sign-up ----

func TestSignUpPage(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		c := e.client()
		ret := "/api/auth/oauth2/authorize?client_id=x&state=y"
		tok := c.formToken("/sign-up?return=" + url.QueryEscape(ret))
		form := func(name, email, password string) url.Values {
			return url.Values{"csrf": {tok}, "return": {ret}, "name": {name}, "email": {email}, "password": {password}}
		}
		for _, tc := range []struct {
			name, email, password string
			status                int
			alert                 string
		}{
			{"", "new@example.com", pw, 400, "Enter your name."},
			{"New", "not-an-email", pw, 400, "Enter a valid email address."},
			{"New", "new@example.com", "short", 400, "The password is too short: use at least 8 characters."},
		} {
			r := c.postForm("/sign-up", form(tc.name, tc.email, tc.password))
			if r.Status != tc.status || alert(r) != tc.alert {
				t.Errorf("sign-up %v: %d %q, want %d %q", tc, r.Status, alert(r), tc.status, tc.alert)
			}
			if c.session() != nil {
				t.Error("a refused sign-up signed in")
			}
		}
		r := c.postForm("/sign-up", form("New Person", "new@example.com", pw))
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != ret {
			t.Fatalf("sign-up: %d %q %s", r.Status, r.Header.Get("Location"), alert(r))
		}
		if s := c.session(); s == nil || s["user"].(map[string]any)["name"] != "New Person" {
			t.Fatalf("not signed in after sign-up: %v", s)
		}
		// A taken address, when verification is not required, is said to be
		// taken, as the API says it (422).
		d := e.client()
		r = d.submit("/sign-up", "/sign-up", url.Values{"name": {"Dup"}, "email": {"new@example.com"}, "password": {pw}})
		if r.Status != http.StatusUnprocessableEntity || !strings.Contains(alert(r), "already exists") || d.session() != nil {
			t.Errorf("duplicate sign-up: %d %q", r.Status, alert(r))
		}
	})
}

func TestSignUpPageClosed(t *testing.T) {
	e := newEnv(t, testdb.SQLite(t), func(s *auth.Service, _ *httpapi.Options) { s.Signup = auth.SignupClosed })
	c := e.client()
	if r := c.get("/sign-up"); has(r.Body, `<form id="sign-up"`) || !has(r.Body, "New accounts cannot be created here.") {
		t.Errorf("closed sign-up shows a form:\n%s", r.Body)
	}
	if r := c.get("/sign-in"); has(r.Body, "sign-up-link") {
		t.Error("sign-in page links to a closed sign-up")
	}
	r := c.postForm("/sign-up", url.Values{"csrf": {c.formToken("/sign-in")}, "name": {"N"}, "email": {"closed@example.com"}, "password": {pw}})
	if r.Status != http.StatusForbidden || c.session() != nil {
		t.Errorf("closed sign-up post: %d", r.Status)
	}
}

// With verification required: sign-up sends to check-inbox (also for a
// taken address, which must not be revealed), the mailed link ends on the
// verification result page, whose link leads back to the authorization
// request, which then asks for sign-in and comes back with a code.
func TestSignUpVerifyAndBackToTheClient(t *testing.T) {
	testdb.Each(t, func(t *testing.T, st *sqlstore.Store) {
		m, o := newMailOIDCEnv(t, st, auth.VerifyRequired)
		cb := "https://notes.example.com/cb"
		id, _ := o.registerClient(t, oidc.ClientSpec{Name: "Notes", RedirectURIs: []string{cb}, SkipConsent: true})
		b := m.client()
		r := b.get(strings.TrimPrefix(authorizeURL(o, id, cb, "openid email"), m.origin))
		loc, _ := url.Parse(r.Header.Get("Location"))
		ret := loc.Query().Get("return")

		page := b.get(loc.RequestURI())
		signUpHref := regexp.MustCompile(`<a id="sign-up-link" href="([^"]*)"`).FindSubmatch(page.Body)
		if signUpHref == nil {
			t.Fatal("no sign-up link on the sign-in page")
		}
		up := b.submit(html.UnescapeString(string(signUpHref[1])), "/sign-up", url.Values{"return": {ret}, "name": {"Vera"}, "email": {"vera@example.com"}, "password": {pw}})
		if up.Status != http.StatusSeeOther || up.Header.Get("Location") != "/check-inbox?for=verify&return="+url.QueryEscape(ret) || b.session() != nil {
			t.Fatalf("sign-up with verification required: %d %s", up.Status, up.Header.Get("Location"))
		}
		inbox := b.get(up.Header.Get("Location"))
		if !has(inbox.Body, "confirm your email address") {
			t.Errorf("check-inbox page:\n%s", inbox.Body)
		}
		// Its way back to sign-in keeps the authorization request.
		if got := continueHref(t, inbox); got != "/sign-in?return="+url.QueryEscape(ret) {
			t.Errorf("check-inbox leads to %q, which drops the return target", got)
		}
		// A second sign-up with the same address looks the same.
		dup := m.client().submit("/sign-up", "/sign-up", url.Values{"name": {"Mallory"}, "email": {"vera@example.com"}, "password": {"other password 1"}})
		if dup.Status != http.StatusSeeOther || dup.Header.Get("Location") != "/check-inbox?for=verify" {
			t.Errorf("duplicate sign-up reveals the account: %d %s %q", dup.Status, dup.Header.Get("Location"), alert(dup))
		}

		link := m.linkIn(t, m.mailTo(t, 1, "vera@example.com"))
		v := b.get(link)
		vloc, _ := url.Parse(v.Header.Get("Location"))
		if v.Status != http.StatusFound || vloc.Path != "/verify-email" || vloc.Host != "" {
			t.Fatalf("verification link: %d %s", v.Status, v.Header.Get("Location"))
		}
		result := b.get(v.Header.Get("Location"))
		if result.Status != 200 || !has(result.Body, "Your email address is confirmed") || continueHref(t, result) != ret {
			t.Fatalf("verification result: %d, continue=%q want %q", result.Status, continueHref(t, result), ret)
		}
		// Following it: sign in, then the client gets its code.
		back := o.browse(t, b, m.origin+continueHref(t, result), "vera@example.com", pw)
		if back.Get("code") == "" || back.Get("state") != "s" {
			t.Fatalf("no code after sign-up and verification: %v", back)
		}
		// A used link ends on the result page with the error.
		again := b.get(b.get(link).Header.Get("Location"))
		if again.Status != http.StatusBadRequest || !has(again.Body, "This link is not valid") || continueHref(t, again) != ret {
			t.Errorf("reused verification link: %d", again.Status)
		}
	})
}

// ---- forgot and reset password ----

func TestForgotAndResetPasswordPages(t *testing.T) {
	eachMailBackend(t, auth.VerifyOff, func(t *testing.T, m *mailEnv) {
		m.client().signUp("reset@example.com", pw)
		c := m.client()
		for _, addr := range []string{"nobody@example.com", "reset@example.com"} {
			r := c.submit("/forgot-password", "/forgot-password", url.Values{"email": {addr}})
			if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/check-inbox?for=reset" {
				t.Fatalf("forgot %s: %d %s", addr, r.Status, r.Header.Get("Location"))
			}
		}
		// Only the real address got mail (the first message is that one).
		msgs := m.smtp.WaitFor(t, 1, 5e9)
		if len(msgs) != 1 {
			t.Fatalf("%d mails, want 1", len(msgs))
		}
		link := m.linkIn(t, m.mailTo(t, 1, "reset@example.com"))
		hop := c.get(link)
		page := c.get(hop.Header.Get("Location"))
		if page.Status != 200 || !has(page.Body, `<form id="reset"`) || !has(page.Body, `name="confirmPassword"`) {
			t.Fatalf("reset page: %d %s\n%s", page.Status, hop.Header.Get("Location"), page.Body)
		}
		wantPageHeaders(t, "reset", page)
		token := regexp.MustCompile(`name="token" value="([^"]*)"`).FindSubmatch(page.Body)
		if token == nil {
			t.Fatal("no token in the reset form")
		}
		tok := c.formToken(hop.Header.Get("Location"))
		post := func(f url.Values) response {
			f.Set("token", html.UnescapeString(string(token[1])))
			return c.postForm("/reset-password", f)
		}
		signsIn := func(p string) bool {
			return m.client().post("/api/auth/sign-in/email", map[string]any{"email": "reset@example.com", "password": p}).Status == 200
		}
		// Mismatched passwords: refused, nothing changed.
		r := post(url.Values{"csrf": {tok}, "password": {"brand new password"}, "confirmPassword": {"brand new passw0rd"}})
		if r.Status != 400 || alert(r) != "The two passwords are not the same." || !has(r.Body, `<form id="reset"`) {
			t.Errorf("mismatch: %d %q", r.Status, alert(r))
		}
		// No CSRF token: refused, nothing changed.
		if r := post(url.Values{"password": {"brand new password"}, "confirmPassword": {"brand new password"}}); r.Status != 403 {
			t.Errorf("reset without a token: %d", r.Status)
		}
		if r := post(url.Values{"csrf": {tok}, "password": {"short"}, "confirmPassword": {"short"}}); r.Status != 400 || !strings.Contains(alert(r), "too short") {
			t.Errorf("short password: %d %q", r.Status, alert(r))
		}
		if !signsIn(pw) || signsIn("brand new password") {
			t.Fatal("a refused reset changed the password")
		}
		r = post(url.Values{"csrf": {tok}, "password": {"brand new password"}, "confirmPassword": {"brand new password"}})
		if r.Status != 200 || continueHref(t, r) != "/sign-in" || !has(r.Body, "Your password has been changed") {
			t.Fatalf("reset: %d\n%s", r.Status, r.Body)
		}
		if signsIn(pw) || !signsIn("brand new password") {
			t.Error("the reset did not replace the password")
		}
		// The link is used up.
		if r := c.get(c.get(link).Header.Get("Location")); r.Status != 400 || has(r.Body, `<form id="reset"`) || !has(r.Body, `id="forgot-again"`) {
			t.Errorf("used reset link: %d", r.Status)
		}
		if r := post(url.Values{"csrf": {tok}, "password": {"third password"}, "confirmPassword": {"third password"}}); r.Status != 400 || alert(r) != "This reset link is not valid or has expired." {
			t.Errorf("reusing the token: %d %q", r.Status, alert(r))
		}
	})
}

// ---- magic link and code from the sign-in page ----

func TestSignInByEmailLinkAndCode(t *testing.T) {
	eachMailBackend(t, auth.VerifyOff, func(t *testing.T, m *mailEnv) {
		m.client().signUp("email@example.com", pw)
		ret := "/account"
		c := m.client()
		page := c.get("/sign-in")
		for _, w := range []string{`<form id="sign-in-email"`, `name="method" value="magic-link"`, `name="method" value="otp"`,
			`<label for="link-email">Email for a link or code</label>`} {
			if !has(page.Body, w) {
				t.Errorf("sign-in page lacks %s", w)
			}
		}
		r := c.submit("/sign-in", "/sign-in", url.Values{"method": {"magic-link"}, "email": {"email@example.com"}, "return": {ret}})
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/check-inbox?for=sign-in" {
			t.Fatalf("magic link: %d %s", r.Status, r.Header.Get("Location"))
		}
		link := m.linkIn(t, m.mailTo(t, 1, "email@example.com"))
		if l := c.get(link); l.Status != http.StatusFound || l.Header.Get("Location") != ret || c.session() == nil {
			t.Fatalf("following the magic link: %d %s", l.Status, l.Header.Get("Location"))
		}
		// A used link comes back to sign-in with an alert.
		l := m.client().get(link)
		if loc := l.Header.Get("Location"); !strings.HasPrefix(loc, "/sign-in?") {
			t.Fatalf("used magic link went to %q", loc)
		} else if r := m.client().get(loc); alert(r) == "" {
			t.Error("no alert for a used sign-in link")
		}

		d := m.client()
		r = d.submit("/sign-in", "/sign-in", url.Values{"method": {"otp"}, "email": {"email@example.com"}, "return": {ret}})
		if r.Status != 200 || !has(r.Body, `<form id="sign-in-code"`) || !has(r.Body, `autocomplete="one-time-code"`) {
			t.Fatalf("code step: %d\n%s", r.Status, r.Body)
		}
		code := m.otpIn(t, m.mailTo(t, 2, "email@example.com"))
		tok := csrfRE.FindSubmatch(r.Body)[1]
		wrongCode := "000000"
		if code == wrongCode {
			wrongCode = "111111"
		}
		form := url.Values{"csrf": {html.UnescapeString(string(tok))}, "method": {"otp-verify"}, "email": {"email@example.com"}, "return": {ret}}
		form.Set("otp", wrongCode)
		if r := d.postForm("/sign-in", form); r.Status != 401 || alert(r) != "That code is not correct." || d.session() != nil ||
			!has(r.Body, `aria-invalid="true" aria-describedby="otp-hint alert"`) {
			t.Errorf("wrong code: %d %q", r.Status, alert(r))
		}
		form.Set("otp", code)
		if r := d.postForm("/sign-in", form); r.Status != http.StatusSeeOther || r.Header.Get("Location") != ret || d.session() == nil {
			t.Errorf("right code: %d %s %q", r.Status, r.Header.Get("Location"), alert(r))
		}
	})
}

// ---- account ----

func TestAccountPageNeedsASession(t *testing.T) {
	e := newEnv(t, testdb.SQLite(t))
	r := e.client().get("/account")
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/sign-in?return=%2Faccount" {
		t.Errorf("account without a session: %d %s", r.Status, r.Header.Get("Location"))
	}
}

// Like list-sessions, the account page lists devices only for a fresh
// session; an older one is asked to sign in again (the rest still works).
func TestAccountPageWithAnOldSession(t *testing.T) {
	e := newEnv(t, testdb.SQLite(t))
	b := e.client()
	b.signUp("old@example.com", pw)
	e.clock.Advance(25 * time.Hour)
	r := b.get("/account")
	if r.Status != 200 || has(r.Body, `<ul id="sessions"`) || !has(r.Body, `<a id="sign-in-again" href="/sign-in?return=%2Faccount"`) {
		t.Fatalf("old session: %d\n%s", r.Status, r.Body)
	}
	if !has(r.Body, `<form id="profile"`) || !has(r.Body, `<form id="password"`) {
		t.Error("an old session cannot edit the profile")
	}
	in := b.signInForm("/account", "old@example.com", pw)
	if r := b.get(in.Header.Get("Location")); !has(r.Body, `<ul id="sessions"`) {
		t.Error("signing in again does not show the devices")
	}
}

const (
	uaPhone   = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
	uaDesktop = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
)

var sessionItemRE = regexp.MustCompile(`(?s)<li data-session-id="([^"]+)"( data-current="true")?>(.*?)</li>`)

func TestAccountSessions(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		desk := e.client()
		desk.post("/api/auth/sign-up/email", map[string]any{"name": "Sam", "email": "sessions@example.com", "password": pw}, "User-Agent", uaDesktop)
		phone := e.client()
		phone.post("/api/auth/sign-in/email", map[string]any{"email": "sessions@example.com", "password": pw}, "User-Agent", uaPhone)
		tablet := e.client()
		tablet.post("/api/auth/sign-in/email", map[string]any{"email": "sessions@example.com", "password": pw})

		r := desk.get("/account", "User-Agent", uaDesktop)
		items := sessionItemRE.FindAllStringSubmatch(string(r.Body), -1)
		if len(items) != 3 {
			t.Fatalf("%d sessions listed, want 3:\n%s", len(items), r.Body)
		}
		if items[0][2] == "" || !strings.Contains(items[0][3], "Firefox on Linux") || !strings.Contains(items[0][3], "This device") ||
			strings.Contains(items[0][3], "revoke-session") {
			t.Errorf("this device is not first and marked: %s", items[0][3])
		}
		var phoneID string
		for _, it := range items[1:] {
			if it[2] != "" || !strings.Contains(it[3], `class="revoke-session"`) {
				t.Errorf("another device is marked current or cannot be revoked: %s", it[3])
			}
			if strings.Contains(it[3], "Safari on iOS") {
				phoneID = it[1]
			}
			for _, w := range []string{"127.0.0.1", "<time datetime=", "Signed in", "Session renewed"} {
				if !strings.Contains(it[3], w) {
					t.Errorf("session item lacks %s: %s", w, it[3])
				}
			}
		}
		if phoneID == "" {
			t.Fatal("the phone's session is not named Safari on iOS")
		}

		tok := desk.formToken("/account")
		rv := desk.postForm("/account", url.Values{"csrf": {tok}, "intent": {"revoke-session"}, "session": {phoneID}})
		if rv.Status != http.StatusSeeOther || rv.Header.Get("Location") != "/account?done=session-revoked" {
			t.Fatalf("revoke: %d %s", rv.Status, rv.Header.Get("Location"))
		}
		if phone.session() != nil {
			t.Error("the revoked device is still signed in")
		}
		if desk.session() == nil || tablet.session() == nil {
			t.Error("revoking one device signed out another")
		}
		if r := desk.get("/account?done=session-revoked"); !has(r.Body, `role="status"`) || len(sessionItemRE.FindAllString(string(r.Body), -1)) != 2 {
			t.Error("the page does not confirm the revocation or still lists the device")
		}
		// Another user's session id is not this user's to revoke.
		other := e.client()
		other.signUp("other@example.com", pw)
		otherID := sessionItemRE.FindStringSubmatch(string(other.get("/account").Body))[1]
		desk.postForm("/account", url.Values{"csrf": {tok}, "intent": {"revoke-session"}, "session": {otherID}})
		if other.session() == nil {
			t.Error("a user revoked another user's session")
		}

		ro := desk.postForm("/account", url.Values{"csrf": {tok}, "intent": {"revoke-others"}})
		if ro.Status != http.StatusSeeOther || tablet.session() != nil || desk.session() == nil {
			t.Errorf("revoke others: %d, tablet signed in=%v, desk signed in=%v", ro.Status, tablet.session() != nil, desk.session() != nil)
		}
	})
}

func TestAccountProfilePasswordAndEmail(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		b := e.client()
		b.signUp("profile@example.com", pw)
		other := e.client()
		other.post("/api/auth/sign-in/email", map[string]any{"email": "profile@example.com", "password": pw})
		tok := b.formToken("/account")
		post := func(f url.Values) response {
			f.Set("csrf", tok)
			return b.postForm("/account", f)
		}
		user := func() map[string]any { return b.session()["user"].(map[string]any) }

		r := post(url.Values{"intent": {"profile"}, "name": {"Ada Lovelace"}, "image": {"https://img.example.com/ada.png"}})
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/account?done=profile" {
			t.Fatalf("profile: %d %s", r.Status, alert(r))
		}
		if u := user(); u["name"] != "Ada Lovelace" || u["image"] != "https://img.example.com/ada.png" {
			t.Errorf("profile not saved: %v", u)
		}
		if p := b.get("/account?done=profile"); !has(p.Body, `value="Ada Lovelace"`) || !has(p.Body, `<img class="avatar" src="https://img.example.com/ada.png"`) ||
			!has(p.Body, "Your profile has been saved.") {
			t.Error("account page does not show the saved profile")
		}
		if r := post(url.Values{"intent": {"profile"}, "name": {""}}); r.Status != 400 || alert(r) != "Enter your name." || user()["name"] != "Ada Lovelace" {
			t.Errorf("empty name: %d %q", r.Status, alert(r))
		}
		if r := post(url.Values{"intent": {"profile"}, "name": {"Ada"}, "image": {"https://x/" + strings.Repeat("a", 2100)}}); r.Status != 400 || !strings.Contains(alert(r), "2048") {
			t.Errorf("long image URL: %d %q", r.Status, alert(r))
		}
		// An empty picture clears it.
		post(url.Values{"intent": {"profile"}, "name": {"Ada"}, "image": {""}})
		if u := user(); u["image"] != nil {
			t.Errorf("image not cleared: %v", u["image"])
		}

		// Password: the current one is checked.
		r = post(url.Values{"intent": {"password"}, "currentPassword": {"wrong password"}, "newPassword": {"another password 1"}})
		if r.Status != 400 || alert(r) != "Your current password is not correct." || !has(r.Body, `id="current-password" name="currentPassword" type="password" autocomplete="current-password" required aria-invalid="true"`) {
			t.Errorf("wrong current password: %d %q", r.Status, alert(r))
		}
		r = post(url.Values{"intent": {"password"}, "currentPassword": {pw}, "newPassword": {"another password 1"}, "revokeOtherSessions": {"true"}})
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/account?done=password" {
			t.Fatalf("password change: %d %q", r.Status, alert(r))
		}
		if other.session() != nil {
			t.Error("revokeOtherSessions left another device signed in")
		}
		if b.session() == nil {
			t.Fatal("changing the password signed this device out")
		}
		if r := e.client().post("/api/auth/sign-in/email", map[string]any{"email": "profile@example.com", "password": "another password 1"}); r.Status != 200 {
			t.Errorf("new password does not sign in: %d", r.Status)
		}

		// Email: an unverified address changes at once (no mail flows here).
		tok = b.formToken("/account") // the session was replaced
		r = post(url.Values{"intent": {"email"}, "newEmail": {"other@example.com"}})
		if r.Status != http.StatusSeeOther {
			t.Fatalf("email change: %d %q", r.Status, alert(r))
		}
		if user()["email"] != "other@example.com" {
			t.Errorf("email not changed: %v", user()["email"])
		}
		e.client().signUp("taken@example.com", pw)
		if r := post(url.Values{"intent": {"email"}, "newEmail": {"taken@example.com"}}); r.Status != 422 || !has(r.Body, `value="taken@example.com"`) {
			t.Errorf("taken email: %d %q", r.Status, alert(r))
		}
		if r := post(url.Values{"intent": {"email"}, "newEmail": {"other@example.com"}}); r.Status != 400 || alert(r) != "That is already your email address." {
			t.Errorf("same email: %d %q", r.Status, alert(r))
		}
		if r := post(url.Values{"intent": {"nonsense"}}); r.Status != 400 {
			t.Errorf("unknown intent: %d", r.Status)
		}
	})
}

// ---- sign-out ----

func TestSignOutPage(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		b := e.client()
		b.signUp("bye@example.com", pw)
		r := b.submit("/sign-out", "/sign-out", url.Values{})
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/sign-out" {
			t.Fatalf("sign-out: %d %s", r.Status, r.Header.Get("Location"))
		}
		if b.session() != nil || b.hasSessionCookie() {
			t.Error("still signed in after signing out")
		}
		if r := b.get("/sign-out"); !has(r.Body, "You are signed out") || continueHref(t, r) != "/sign-in" {
			t.Errorf("after sign-out: %s", r.Body)
		}
	})
}

// ---- errors, limits ----

func TestErrorPageShowsAReferenceAndNoInternals(t *testing.T) {
	o := newOIDCEnv(t, testdb.SQLite(t), "")
	r := o.client().get("/api/auth/oauth2/authorize?client_id=nope&response_type=code&redirect_uri=https%3A%2F%2Fevil.example%2Fcb")
	if r.Status != 400 {
		t.Fatalf("status %d", r.Status)
	}
	ref := regexp.MustCompile(`data-error-ref>([A-Za-z0-9_-]{8})<`).FindSubmatch(r.Body)
	if ref == nil {
		t.Fatalf("no reference id:\n%s", r.Body)
	}
	for _, bad := range []string{"goroutine", ".go:", "panic", "sql", "evil.example"} {
		if has(r.Body, bad) {
			t.Errorf("error page shows %q", bad)
		}
	}
	wantPageHeaders(t, "error page", r)
	if again := o.client().get("/api/auth/oauth2/authorize?client_id=nope"); has(again.Body, string(ref[1])) {
		t.Error("two errors share a reference")
	}
}

func TestPageFormsAreRateLimited(t *testing.T) {
	e := newEnv(t, testdb.SQLite(t), withRateLimit())
	c := e.client()
	tok := c.formToken("/forgot-password")
	for i := range 4 {
		r := c.postForm("/forgot-password", url.Values{"csrf": {tok}, "email": {"x@example.com"}})
		want := http.StatusSeeOther
		if i == 3 {
			want = http.StatusTooManyRequests
		}
		if r.Status != want {
			t.Fatalf("post %d: %d, want %d", i+1, r.Status, want)
		}
		if i == 3 && (r.Header.Get("Retry-After") == "" || !has(r.Body, "Too many attempts") || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html")) {
			t.Errorf("429 answer: %v %s", r.Header, r.Body)
		}
	}
	// Reading pages is not limited by the form rule.
	for range 5 {
		if r := c.get("/forgot-password"); r.Status != 200 {
			t.Fatalf("GET after the form limit: %d", r.Status)
		}
	}
	// The account's password form counts like change-password.
	c.signUp("limit@example.com", pw)
	tok = c.formToken("/account")
	var last response
	for range 4 {
		last = c.postForm("/account", url.Values{"csrf": {tok}, "intent": {"password"}, "currentPassword": {"wrong"}, "newPassword": {"whatever 123"}})
	}
	if last.Status != http.StatusTooManyRequests {
		t.Errorf("4th password attempt in 10 s: %d", last.Status)
	}
}

// The end-session confirmation looks like the sign-out page and carries the
// same headers.
func TestEndSessionConfirmationIsThePage(t *testing.T) {
	o := newOIDCEnv(t, testdb.SQLite(t), "")
	b := o.client()
	b.signUp("es@example.com", pw)
	r := b.get("/api/auth/oauth2/end-session")
	if !has(r.Body, `<form id="sign-out" method="post" action="/api/auth/oauth2/end-session">`) || !has(r.Body, `name="confirm" value="1"`) {
		t.Fatalf("end-session confirmation:\n%s", r.Body)
	}
	wantPageHeaders(t, "end-session", r)
}

// ---- review fixes: consent, return targets, limits, accessibility ----

// consentForm opens the consent page for a signed-in browser and returns
// the form's hidden fields.
func consentForm(t *testing.T, o *oidcEnv, b *client, authPath string) url.Values {
	t.Helper()
	page := b.get(authPath)
	if page.Status != 200 || !has(page.Body, `<form id="consent"`) {
		t.Fatalf("consent page: %d\n%s", page.Status, page.Body)
	}
	req, _ := hidden(page.Body, "request")
	tok, _ := hidden(page.Body, "csrf")
	return url.Values{"request": {req}, "csrf": {tok}}
}

// The consent form is a browser's: when the session ended before Allow was
// clicked, the answer is the sign-in page (which comes back to the
// request), and every refusal is a page, never JSON.
func TestConsentAnswersWithPages(t *testing.T) {
	testdb.Each(t, func(t *testing.T, st *sqlstore.Store) {
		o := newOIDCEnv(t, st, "")
		cb := "https://notes.example.com/cb"
		id, _ := o.registerClient(t, oidc.ClientSpec{Name: "Notes", RedirectURIs: []string{cb}})
		authPath := strings.TrimPrefix(authorizeURL(o, id, cb, "openid email"), o.origin)
		b := o.client()
		b.signUp("consent-gone@example.com", pw)
		form := consentForm(t, o, b, authPath)

		// Signed out in another tab, then Allow.
		if r := b.submit("/sign-out", "/sign-out", url.Values{}); r.Status != http.StatusSeeOther || b.session() != nil {
			t.Fatalf("sign-out: %d", r.Status)
		}
		form.Set("decision", "approve")
		r := b.postForm("/api/auth/oauth2/consent", form)
		loc, _ := url.Parse(r.Header.Get("Location"))
		if r.Status != http.StatusSeeOther || loc == nil || loc.Path != "/sign-in" {
			t.Fatalf("consent without a session: %d %q\n%s", r.Status, r.Header.Get("Location"), r.Body)
		}
		ret := loc.Query().Get("return")
		if ret != "/api/auth/oauth2/authorize?"+form.Get("request") {
			t.Fatalf("sign-in return %q is not the authorization request", ret)
		}
		// Signing in there comes back to the request, which asks again.
		in := b.signInForm(ret, "consent-gone@example.com", pw)
		if in.Status != http.StatusSeeOther || in.Header.Get("Location") != ret {
			t.Fatalf("sign-in: %d %q", in.Status, in.Header.Get("Location"))
		}
		again := consentForm(t, o, b, ret)
		again.Set("decision", "approve")
		ap := b.postForm("/api/auth/oauth2/consent", again)
		back := b.get(ap.Header.Get("Location"))
		if to, _ := url.Parse(back.Header.Get("Location")); to == nil || to.Query().Get("code") == "" {
			t.Fatalf("no code after signing in again: %d %s", back.Status, back.Header.Get("Location"))
		}

		// A body that cannot be read, another content type, another method
		// and another origin: error pages with their headers and a reference.
		for what, r := range map[string]response{
			"broken body":  b.do(http.MethodPost, "/api/auth/oauth2/consent", "request=%zz&csrf=x", "Content-Type", "application/x-www-form-urlencoded"),
			"content type": b.do(http.MethodPost, "/api/auth/oauth2/consent", `{"decision":"approve"}`, "Content-Type", "application/json"),
			"GET":          b.get("/api/auth/oauth2/consent"),
			"origin":       b.postFormFrom("/api/auth/oauth2/consent", "https://evil.example", again),
		} {
			if r.Status < 400 || !has(r.Body, "data-error-ref") {
				t.Errorf("consent, %s: %d\n%s", what, r.Status, r.Body)
			}
			wantPageHeaders(t, "consent, "+what, r)
		}
	})
}

// Rate limits on the OAuth endpoints a browser is sent to answer with the
// page; the JSON API keeps its JSON.
func TestOAuthBrowserEndpointsRateLimitWithAPage(t *testing.T) {
	o := newOIDCEnvWith(t, testdb.SQLite(t), func(opts *httpapi.Options) { opts.RateLimit = true })
	c := o.client()
	var r response
	for range 101 { // authorize: 100 per 10 s
		r = c.get("/api/auth/oauth2/authorize?client_id=nope")
	}
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" || !has(r.Body, "Too many attempts") || !has(r.Body, "data-error-ref") {
		t.Fatalf("101st authorize: %d %v\n%s", r.Status, r.Header, r.Body)
	}
	wantPageHeaders(t, "authorize 429", r)
	for range 4 {
		r = c.post("/api/auth/sign-in/email", map[string]any{"email": "x@example.com", "password": "whatever 123"})
	}
	if r.Status != http.StatusTooManyRequests || r.code(t) != "TOO_MANY_REQUESTS" {
		t.Errorf("the JSON API's 429: %d %s", r.Status, r.Body)
	}
}

// A sign-in refused because the address is unverified mails a new link;
// from the sign-in page, that link leads back to where the user was going.
// Through the JSON API it still ends on the plain result page.
func TestRefusedSignInLinkKeepsTheReturnTarget(t *testing.T) {
	eachMailBackend(t, auth.VerifyRequired, func(t *testing.T, m *mailEnv) {
		const email = "unverified@example.com"
		if r := m.client().post("/api/auth/sign-up/email", map[string]any{"name": "Una", "email": email, "password": pw}); r.Status != 200 {
			t.Fatalf("sign-up: %d %s", r.Status, r.Body)
		}
		m.mailTo(t, 1, email) // the sign-up's own link

		ret := "/api/auth/oauth2/authorize?client_id=app&state=s1"
		b := m.client()
		r := b.signInForm(ret, email, pw)
		if r.Status != http.StatusForbidden || alert(r) != "Verify your email address first, with the link we emailed you. If it has not arrived, a new one is on its way." {
			t.Fatalf("unverified sign-in: %d %q", r.Status, alert(r))
		}
		link := m.linkIn(t, m.mailTo(t, 2, email))
		lu, _ := url.Parse(link)
		if cb := lu.Query().Get("callbackURL"); cb != "/verify-email?return="+url.QueryEscape(ret) {
			t.Errorf("the new link's callbackURL is %q", cb)
		}

		// The API's refusal (next resend period) mails the plain page.
		m.clock.Advance(61 * time.Second)
		if r := m.client().post("/api/auth/sign-in/email", map[string]any{"email": email, "password": pw}); r.Status != http.StatusForbidden {
			t.Fatalf("API sign-in: %d %s", r.Status, r.Body)
		}
		apiLink, _ := url.Parse(m.linkIn(t, m.mailTo(t, 3, email)))
		if cb := apiLink.Query().Get("callbackURL"); cb != "/verify-email" {
			t.Errorf("the API's link now ends at %q", cb)
		}

		v := b.get(link)
		result := b.get(v.Header.Get("Location"))
		if result.Status != 200 || continueHref(t, result) != ret {
			t.Fatalf("after verifying: %d, continue %q, want %q", result.Status, continueHref(t, result), ret)
		}
	})
}

// wantLink checks that a link goes to path with the return target.
func wantLink(t *testing.T, what, href, path, ret string) {
	t.Helper()
	u, err := url.Parse(href)
	if err != nil || u.Path != path || u.Host != "" || u.Query().Get("return") != ret {
		t.Errorf("%s is %q, want %s with return %q", what, href, path, ret)
	}
}

var hrefRE = func(id string) *regexp.Regexp { return regexp.MustCompile(`<a id="` + id + `"[^>]*href="([^"]*)"`) }

func hrefOf(t *testing.T, r response, id string) string {
	t.Helper()
	m := hrefRE(id).FindSubmatch(r.Body)
	if m == nil {
		t.Fatalf("no a#%s in:\n%s", id, r.Body)
	}
	return html.UnescapeString(string(m[1]))
}

// Forgetting the password on the way to an app: every link, form, mail and
// the final sign-in keep the return target.
func TestForgotAndResetKeepTheReturnTarget(t *testing.T) {
	eachMailBackend(t, auth.VerifyOff, func(t *testing.T, m *mailEnv) {
		const email = "forgetful@example.com"
		m.client().signUp(email, pw)
		ret := "/api/auth/oauth2/authorize?client_id=app&state=s2"
		qr := url.QueryEscape(ret)
		c := m.client()

		forgotHref := hrefOf(t, c.get("/sign-in?return="+qr), "forgot-link")
		wantLink(t, "a#forgot-link", forgotHref, "/forgot-password", ret)
		forgot := c.get(forgotHref)
		if v, _ := hidden(forgot.Body, "return"); v != ret {
			t.Errorf("the forgot form carries return %q", v)
		}
		wantLink(t, "forgot's a#sign-in-link", hrefOf(t, forgot, "sign-in-link"), "/sign-in", ret)
		r := c.submit(forgotHref, "/forgot-password", url.Values{"email": {email}, "return": {ret}})
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/check-inbox?for=reset&return="+qr {
			t.Fatalf("forgot: %d %q", r.Status, r.Header.Get("Location"))
		}
		if h := continueHref(t, c.get(r.Header.Get("Location"))); h != "/sign-in?return="+qr {
			t.Errorf("check-inbox leads to %q", h)
		}

		hop := c.get(m.linkIn(t, m.mailTo(t, 1, email)))
		to, _ := url.Parse(hop.Header.Get("Location"))
		if to == nil || to.Path != "/reset-password" || to.Query().Get("return") != ret || to.Query().Get("token") == "" {
			t.Fatalf("the reset link went to %q", hop.Header.Get("Location"))
		}
		page := c.get(to.RequestURI())
		if v, _ := hidden(page.Body, "return"); v != ret {
			t.Errorf("the reset form carries return %q", v)
		}
		// Password managers learn whose password this is.
		if !has(page.Body, `<input type="email" autocomplete="username" value="`+email+`" readonly hidden>`) {
			t.Errorf("the reset form has no username field for %s:\n%s", email, page.Body)
		}
		token, _ := hidden(page.Body, "token")
		tok := c.formToken(to.RequestURI())
		short := c.postForm("/reset-password", url.Values{"csrf": {tok}, "token": {token}, "return": {ret}, "password": {"short"}, "confirmPassword": {"short"}})
		if !has(short.Body, `aria-invalid="true" aria-describedby="password-hint alert"`) {
			t.Errorf("the refused password is not tied to the alert:\n%s", short.Body)
		}
		done := c.postForm("/reset-password", url.Values{"csrf": {tok}, "token": {token}, "return": {ret}, "password": {"new password 42"}, "confirmPassword": {"new password 42"}})
		if done.Status != 200 || continueHref(t, done) != "/sign-in?return="+qr {
			t.Fatalf("after the reset: %d, continue %q", done.Status, continueHref(t, done))
		}
		if in := c.signInForm(ret, email, "new password 42"); in.Status != http.StatusSeeOther || in.Header.Get("Location") != ret {
			t.Errorf("signing in after the reset: %d %q", in.Status, in.Header.Get("Location"))
		}
	})
}

// Mailing a sign-in code from the page counts like the API's
// send-verification-otp (3 per minute), apart from password attempts.
func TestSignInPageCodesAreLimitedLikeTheAPI(t *testing.T) {
	e := newEnv(t, testdb.SQLite(t), withRateLimit())
	c := e.client()
	tok := c.formToken("/sign-in")
	otp := url.Values{"csrf": {tok}, "method": {"otp"}, "email": {"codes@example.com"}}
	pass := url.Values{"csrf": {tok}, "email": {"codes@example.com"}, "password": {"not the password"}}
	for i := range 3 {
		if r := c.postForm("/sign-in", otp); r.Status == http.StatusTooManyRequests {
			t.Fatalf("code request %d refused", i+1)
		}
	}
	// Codes do not use up the password attempts.
	if r := c.postForm("/sign-in", pass); r.Status == http.StatusTooManyRequests {
		t.Error("a password attempt was refused after three code requests")
	}
	e.clock.Advance(11 * time.Second)
	if r := c.postForm("/sign-in", otp); r.Status != http.StatusTooManyRequests || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		t.Errorf("a 4th code within the minute: %d", r.Status)
	}
	e.clock.Advance(50 * time.Second)
	if r := c.postForm("/sign-in", otp); r.Status == http.StatusTooManyRequests {
		t.Errorf("a code after the minute: %d", r.Status)
	}
	// The page and the API draw on one budget: two more through the API
	// and the next from either is refused.
	for i := range 2 {
		if r := c.post("/api/auth/email-otp/send-verification-otp", map[string]any{"email": "codes@example.com", "type": "sign-in"}); r.Status == http.StatusTooManyRequests {
			t.Fatalf("API code request %d refused", i+1)
		}
	}
	if r := c.postForm("/sign-in", otp); r.Status != http.StatusTooManyRequests {
		t.Errorf("page and API together sent more than 3 codes a minute: %d", r.Status)
	}
	if r := c.post("/api/auth/email-otp/send-verification-otp", map[string]any{"email": "codes@example.com", "type": "sign-in"}); r.Status != http.StatusTooManyRequests {
		t.Errorf("API after the page used the budget: %d", r.Status)
	}
	e.clock.Advance(61 * time.Second)
	// One second to wait is said in the singular.
	for range 3 {
		c.postForm("/sign-in", pass)
	}
	e.clock.Advance(9500 * time.Millisecond)
	r := c.postForm("/sign-in", pass)
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") != "1" || !has(r.Body, "Wait a second, then try again.") {
		t.Errorf("429 with a second left: %d %q\n%s", r.Status, r.Header.Get("Retry-After"), r.Body)
	}
}

// Notices are focused like alerts, invalid fields point at the alert,
// password managers get usernames, and the account page says what it knows.
func TestPagesAccessibilityDetails(t *testing.T) {
	e := newEnv(t, testdb.SQLite(t))
	b := e.client()
	b.signUp("a11y@example.com", pw)

	acc := b.get("/account?done=profile")
	if !has(acc.Body, `<div class="notice" id="notice" role="status" aria-live="polite" tabindex="-1" autofocus>`) {
		t.Errorf("the success notice is not focused:\n%s", acc.Body)
	}
	if !has(acc.Body, `<input type="email" autocomplete="username" value="a11y@example.com" readonly hidden>`) {
		t.Error("the change-password form has no username field")
	}
	if !has(acc.Body, `<strong>Password</strong>`) || has(acc.Body, `<strong>credential</strong>`) {
		t.Error("the ways to sign in are not named for people")
	}
	if has(acc.Body, "Last active") || !has(acc.Body, "Session renewed") {
		t.Error("sessions claim a last activity that is not tracked")
	}

	tok := b.formToken("/account")
	for field, f := range map[string]url.Values{
		`id="image"`:        {"intent": {"profile"}, "name": {"A"}, "image": {"https://x/" + strings.Repeat("a", 2100)}},
		`id="new-email"`:    {"intent": {"email"}, "newEmail": {"a11y@example.com"}},
		`id="new-password"`: {"intent": {"password"}, "currentPassword": {pw}, "newPassword": {"short"}},
	} {
		f.Set("csrf", tok)
		r := b.postForm("/account", f)
		in := regexp.MustCompile(`<input ` + field + `[^>]*>`).Find(r.Body)
		if r.Status != 400 || !strings.Contains(string(in), `aria-invalid="true"`) || !regexp.MustCompile(`aria-describedby="[^"]*\balert\b`).Match(in) {
			t.Errorf("%s: %d, not tied to the alert: %s", field, r.Status, in)
		}
	}

	// Revoking a session that is not there says so.
	r := b.postForm("/account", url.Values{"csrf": {tok}, "intent": {"revoke-session"}, "session": {"no-such-session"}})
	if r.Status != http.StatusNotFound || !strings.Contains(alert(r), "not found") {
		t.Errorf("revoking an unknown session: %d %q", r.Status, alert(r))
	}

	if r := e.client().get("/sign-up"); !has(r.Body, `id="email" name="email" type="email" autocomplete="username"`) {
		t.Error("sign-up's email is not the username for password managers")
	}
}

// Unknown paths answer with the error page, not the mux's plain text; the
// API keeps JSON; a panic in a page handler is a page with a reference.
func TestUnknownPathsAndPanicsArePages(t *testing.T) {
	e := newEnv(t, testdb.SQLite(t))
	c := e.client()
	for _, p := range []string{"/sign-in/", "/nothing-here", "/account/x"} {
		r := c.get(p)
		if r.Status != http.StatusNotFound || !has(r.Body, "Page not found") || !has(r.Body, "data-error-ref") {
			t.Errorf("GET %s: %d\n%s", p, r.Status, r.Body)
		}
		wantPageHeaders(t, p, r)
	}
	if r := c.get("/api/admin/nothing"); r.Status != http.StatusNotFound || r.code(t) != "NOT_FOUND" {
		t.Errorf("unknown API path: %d %s", r.Status, r.Body)
	}
	if r := c.do(http.MethodPut, "/api/admin/users", nil); r.Status != http.StatusMethodNotAllowed || !strings.Contains(r.Header.Get("Allow"), "GET") {
		t.Errorf("PUT on a GET-only API path: %d %v", r.Status, r.Header)
	}
	if r := c.do(http.MethodPost, "/healthz", nil); r.Status != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz: %d", r.Status)
	}

	// Unknown paths are counted under one label, not under "/".
	if m := string(c.get("/metrics").Body); !strings.Contains(m, `route="unmatched"`) || strings.Contains(m, `route="/"`) {
		t.Errorf("metrics label for unknown paths:\n%s", m)
	}

	boom := e.api.ObserveForTest(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "half-done", Value: "x"})
		panic("boom")
	}))
	for path, wantHTML := range map[string]bool{"/account": true, "/api/auth/get-session": false, "/.well-known/jwks.json": false, "/healthz": false} {
		rec := httptest.NewRecorder()
		boom.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		r := response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
		if r.Status != http.StatusInternalServerError || r.Header.Get("Set-Cookie") != "" {
			t.Errorf("panic on %s: %d, cookie %q", path, r.Status, r.Header.Get("Set-Cookie"))
		}
		if wantHTML {
			wantPageHeaders(t, "panic page", r)
			if !has(r.Body, "data-error-ref") || has(r.Body, "boom") {
				t.Errorf("panic page:\n%s", r.Body)
			}
		} else if r.code(t) != "INTERNAL_SERVER_ERROR" {
			t.Errorf("panic under /api/: %s", r.Body)
		}
	}
}

// A form that cannot be parsed is refused before anything looks at it.
func TestBrokenPageFormIsRefused(t *testing.T) {
	e := newEnv(t, testdb.SQLite(t))
	c := e.client()
	tok := c.formToken("/sign-in")
	for _, path := range []string{"/sign-in", "/forgot-password"} {
		r := c.do("POST", path, "csrf="+url.QueryEscape(tok)+"&email=x%40example.com&junk=%zz",
			"Content-Type", "application/x-www-form-urlencoded")
		if r.Status != http.StatusBadRequest || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
			t.Errorf("%s with a broken body: %d", path, r.Status)
		}
	}
}
