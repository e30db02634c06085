package httpapi_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/auther/auther/internal/httpapi"
	"github.com/auther/auther/internal/keys"
	"github.com/auther/auther/internal/oidc"
	"github.com/auther/auther/internal/store"
	"github.com/auther/auther/internal/store/sqlstore"
	"github.com/auther/auther/internal/testdb"
)

// signedInGrant runs a code flow with offline_access for a fresh user and
// returns the token response.
func signedInGrant(t *testing.T, o *oidcEnv, b *client, id, secret, cb string) map[string]any {
	t.Helper()
	back := o.browse(t, b, authorizeURL(o, id, cb, "openid email offline_access"), "", "")
	return tokenPost(t, o, "/api/auth/oauth2/token", id, secret, url.Values{"grant_type": {"authorization_code"},
		"code": {back.Get("code")}, "redirect_uri": {cb}}).json(t)
}

func TestEndSessionWithoutHintAsksFirst(t *testing.T) {
	o := newOIDCEnv(t, testdb.SQLite(t), keys.EdDSA)
	b := o.client()
	b.signUp("logout@example.com", pw)
	cb := "https://app.example.com/cb"
	id, secret := o.registerClient(t, oidc.ClientSpec{Name: "App", RedirectURIs: []string{cb}, SkipConsent: true})
	tok := signedInGrant(t, o, b, id, secret, cb)
	// A bare GET, as an <img> on another site would send: nothing happens.
	r := b.get("/api/auth/oauth2/end-session")
	if r.Status != 200 || !strings.Contains(string(r.Body), "Sign out?") || b.session() == nil {
		t.Fatalf("bare end-session: %d, signed out=%v", r.Status, b.session() == nil)
	}
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(string(r.Body))[1]
	if r := b.postForm("/api/auth/oauth2/end-session", url.Values{"confirm": {"1"}, "csrf": {"forged"}}); b.session() == nil {
		t.Fatalf("forged confirmation signed out: %d", r.Status)
	}
	b.postForm("/api/auth/oauth2/end-session", url.Values{"confirm": {"1"}, "csrf": {htmlUnescape(csrf)}})
	if b.session() != nil {
		t.Fatal("confirmed sign-out did not end the session")
	}
	// Signing this device out ends what apps got through it.
	if introspect(t, o, id, secret, tok["refresh_token"].(string))["active"] != false {
		t.Error("the app's refresh token outlived the sign-out of the session it came from")
	}
}

func TestSignOutEverywhereRevokesAppTokens(t *testing.T) {
	testdb.Each(t, func(t *testing.T, st *sqlstore.Store) {
		o := newOIDCEnv(t, st, keys.EdDSA)
		b := o.client()
		b.signUp("everywhere@example.com", pw)
		cb := "https://app.example.com/cb"
		id, secret := o.registerClient(t, oidc.ClientSpec{Name: "App", RedirectURIs: []string{cb}, SkipConsent: true})
		tok := signedInGrant(t, o, b, id, secret, cb)
		if r := b.post("/api/auth/revoke-sessions", nil); r.Status != 200 {
			t.Fatal(r.Status)
		}
		r := tokenPost(t, o, "/api/auth/oauth2/token", id, secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}})
		if r.Status != 400 || r.json(t)["error"] != "invalid_grant" {
			t.Errorf("refresh after signing out everywhere: %d %s", r.Status, r.Body)
		}
	})
}

func TestDisabledClientTokensStopAtOnce(t *testing.T) {
	o := newOIDCEnv(t, testdb.SQLite(t), keys.EdDSA)
	b := o.client()
	b.signUp("dis@example.com", pw)
	cb := "https://app.example.com/cb"
	id, secret := o.registerClient(t, oidc.ClientSpec{Name: "App", RedirectURIs: []string{cb}, SkipConsent: true})
	tok := signedInGrant(t, o, b, id, secret, cb)
	at := tok["access_token"].(string)
	if r := o.client().get("/api/auth/oauth2/userinfo", "Authorization", "Bearer "+at); r.Status != 200 {
		t.Fatalf("userinfo: %d", r.Status)
	}
	o.store.UpdateClient(context.Background(), id, func(c *store.Client) error { c.Disabled = true; return nil })
	if r := o.client().get("/api/auth/oauth2/userinfo", "Authorization", "Bearer "+at); r.Status != 401 {
		t.Errorf("a disabled client's token still reads userinfo: %d", r.Status)
	}
	// A refreshed ID token carries no nonce (OIDC Core §12.2).
	o.store.UpdateClient(context.Background(), id, func(c *store.Client) error { c.Disabled = false; return nil })
	first := decodeJWT(t, tok["id_token"].(string))
	if first.claims["nonce"] != "n" {
		t.Fatalf("first ID token nonce = %v", first.claims["nonce"])
	}
	ref := tokenPost(t, o, "/api/auth/oauth2/token", id, secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}}).json(t)
	if _, has := decodeJWT(t, ref["id_token"].(string)).claims["nonce"]; has {
		t.Error("refreshed ID token carries the nonce")
	}
	// An access token is not an ID token hint.
	r := b.get("/api/auth/oauth2/end-session?" + url.Values{"id_token_hint": {at}}.Encode())
	if r.Status != 400 {
		t.Errorf("access token as id_token_hint: %d", r.Status)
	}
}

// The server-rendered sign-in form is rate limited like the JSON sign-in:
// it must not be a way around the limit for guessing passwords.
func TestSignInFormIsRateLimited(t *testing.T) {
	o := newOIDCEnvWith(t, testdb.SQLite(t), func(opts *httpapi.Options) { opts.RateLimit = true })
	c := o.client()
	tok := c.formToken("/sign-in") // fetching the form does not count
	for i := range 4 {
		r := c.postForm("/sign-in", url.Values{"csrf": {tok}, "email": {"x@example.com"}, "password": {"guess-guess"}})
		want := 401 // the form's answer to a wrong password
		if i == 3 {
			want = 429
		}
		if r.Status != want {
			t.Fatalf("sign-in form post %d: %d, want %d", i+1, r.Status, want)
		}
	}
}

// prompt=login and max_age send the user to sign in and back; the return
// URL must not be usable with the old session to skip that sign-in.
func TestPromptLoginCannotBeSkippedByReplayingTheReturnURL(t *testing.T) {
	testdb.Each(t, func(t *testing.T, st *sqlstore.Store) {
		o := newOIDCEnv(t, st, keys.ES256)
		b := o.client()
		b.signUp("step@example.com", pw)
		cb := "https://app.example.com/cb"
		id, _ := o.registerClient(t, oidc.ClientSpec{Name: "App", RedirectURIs: []string{cb}, SkipConsent: true})
		for _, extra := range []string{"&prompt=login", "&max_age=0"} {
			o.clock.Advance(time.Second) // the session is older than this request
			r := b.get(strings.TrimPrefix(authorizeURL(o, id, cb, "openid"), o.origin) + extra)
			loc, _ := url.Parse(r.Header.Get("Location"))
			if r.Status != http.StatusFound || loc.Path != "/sign-in" {
				t.Fatalf("%s with a session: %d %s", extra, r.Status, r.Header.Get("Location"))
			}
			back := loc.Query().Get("return")
			// The same browser, same old session, straight to the return URL;
			// or with the marker removed; or with the marker moved onto
			// another request (other state): never a code.
			bu, _ := url.Parse(back)
			bq := bu.Query()
			marker := bq.Get("auther_login_after")
			if marker == "" {
				t.Fatalf("return URL without a marker: %s", back)
			}
			bq.Del("auther_login_after")
			stripped := bu.Path + "?" + bq.Encode()
			bq.Set("state", "other")
			bq.Set("auther_login_after", marker)
			moved := bu.Path + "?" + bq.Encode()
			for _, try := range []string{back, stripped, moved} {
				if l := b.get(try).Header.Get("Location"); strings.HasPrefix(l, cb) {
					t.Fatalf("%s skipped with %s: %s", extra, try, l)
				}
			}
			// After a real sign-in it completes.
			r = b.signInForm(back, "step@example.com", pw)
			next := r.Header.Get("Location")
			if r = b.get(next); !strings.HasPrefix(r.Header.Get("Location"), cb+"?code=") {
				t.Fatalf("%s after signing in: %d %s", extra, r.Status, r.Header.Get("Location"))
			}
			// A marker older than the round trip may take counts for nothing.
			o.clock.Advance(2 * time.Hour)
			if l := b.get(back).Header.Get("Location"); strings.HasPrefix(l, cb) {
				t.Fatalf("%s: an expired marker still satisfied the request: %s", extra, l)
			}
		}
	})
}

// prompt=consent survives the sign-in round trip: consent is asked even
// though the user approved the client before.
func TestPromptConsentSurvivesSignIn(t *testing.T) {
	o := newOIDCEnv(t, testdb.SQLite(t), keys.ES256)
	b := o.client()
	b.signUp("again@example.com", pw)
	cb := "https://app.example.com/cb"
	id, _ := o.registerClient(t, oidc.ClientSpec{Name: "App", RedirectURIs: []string{cb}})
	if back := o.browse(t, b, authorizeURL(o, id, cb, "openid"), "again@example.com", pw); back.Get("code") == "" {
		t.Fatalf("first authorization: %v", back)
	}
	b.post("/api/auth/sign-out", nil)
	r := b.get(strings.TrimPrefix(authorizeURL(o, id, cb, "openid"), o.origin) + "&prompt=consent")
	loc, _ := url.Parse(r.Header.Get("Location"))
	back := loc.Query().Get("return")
	if !strings.Contains(back, "prompt=consent") {
		t.Fatalf("return target lost prompt=consent: %s", back)
	}
	r = b.signInForm(back, "again@example.com", pw)
	r = b.get(r.Header.Get("Location"))
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `id="consent"`) {
		t.Fatalf("after sign-in with prompt=consent: %d %s", r.Status, r.Header.Get("Location"))
	}
}

// The authorize error page does not repeat attacker-chosen parameter names.
func TestAuthorizeErrorPageDoesNotEchoInventedParameters(t *testing.T) {
	o := newOIDCEnv(t, testdb.SQLite(t), keys.ES256)
	r := o.client().get("/api/auth/oauth2/authorize?Call+555-0100+now=1&Call+555-0100+now=2")
	if r.Status != http.StatusBadRequest || strings.Contains(string(r.Body), "555-0100") {
		t.Fatalf("%d, body echoes the parameter name: %s", r.Status, r.Body)
	}
}

// A relying party's id_token_hint alone ends the session and its own
// grants; other apps' refresh tokens are the user's to end.
func TestEndSessionByHintRevokesOnlyThatClient(t *testing.T) {
	testdb.Each(t, func(t *testing.T, st *sqlstore.Store) {
		o := newOIDCEnv(t, st, keys.EdDSA)
		b := o.client()
		b.signUp("hint@example.com", pw)
		cb := "https://app.example.com/cb"
		a, aSecret := o.registerClient(t, oidc.ClientSpec{Name: "A", RedirectURIs: []string{cb}, SkipConsent: true})
		other, otherSecret := o.registerClient(t, oidc.ClientSpec{Name: "B", RedirectURIs: []string{cb}, SkipConsent: true})
		tokA := signedInGrant(t, o, b, a, aSecret, cb)
		tokB := signedInGrant(t, o, b, other, otherSecret, cb)
		r := b.get("/api/auth/oauth2/end-session?" + url.Values{"id_token_hint": {tokA["id_token"].(string)}}.Encode())
		if r.Status != http.StatusOK || b.session() != nil {
			t.Fatalf("hinted end-session: %d, still signed in=%v", r.Status, b.session() != nil)
		}
		if introspect(t, o, a, aSecret, tokA["refresh_token"].(string))["active"] != false {
			t.Error("the hinting client's refresh token survived")
		}
		if introspect(t, o, other, otherSecret, tokB["refresh_token"].(string))["active"] != true {
			t.Error("another app's refresh token was revoked by a relying party's logout")
		}
	})
}

// An id_token_hint from an earlier session, without client_id, still lets
// the user confirm and be sent back to the client's post-logout URI.
func TestEndSessionConfirmationKeepsTheHintedClient(t *testing.T) {
	o := newOIDCEnv(t, testdb.SQLite(t), keys.EdDSA)
	b := o.client()
	b.signUp("old-hint@example.com", pw)
	cb, after := "https://app.example.com/cb", "https://app.example.com/bye"
	id, secret := o.registerClient(t, oidc.ClientSpec{Name: "A", RedirectURIs: []string{cb}, PostLogoutRedirectURIs: []string{after}, SkipConsent: true})
	old := signedInGrant(t, o, b, id, secret, cb)["id_token"].(string)
	b.post("/api/auth/sign-out", nil)
	b.post("/api/auth/sign-in/email", map[string]any{"email": "old-hint@example.com", "password": pw}) // a new session: the hint's sid no longer matches
	r := b.get("/api/auth/oauth2/end-session?" + url.Values{"id_token_hint": {old}, "post_logout_redirect_uri": {after}, "state": {"s1"}}.Encode())
	m := regexp.MustCompile(`name="client_id" value="([^"]+)"`).FindStringSubmatch(string(r.Body))
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(string(r.Body))
	if r.Status != http.StatusOK || m == nil || m[1] != id || csrf == nil {
		t.Fatalf("confirmation page: %d, client_id field %v", r.Status, m)
	}
	r = b.postForm("/api/auth/oauth2/end-session", url.Values{"confirm": {"1"}, "csrf": {htmlUnescape(csrf[1])}, "client_id": {m[1]},
		"post_logout_redirect_uri": {after}, "state": {"s1"}})
	if loc := r.Header.Get("Location"); r.Status != http.StatusFound || loc != after+"?state=s1" || b.session() != nil {
		t.Fatalf("confirmed: %d %s, signed in=%v", r.Status, loc, b.session() != nil)
	}
}

// RP-initiated logout may be POSTed from the relying party's own page.
func TestEndSessionAcceptsAPostFromTheRelyingParty(t *testing.T) {
	o := newOIDCEnv(t, testdb.SQLite(t), keys.EdDSA)
	b := o.client()
	b.signUp("post-logout@example.com", pw)
	cb, after := "https://app.example.com/cb", "https://app.example.com/bye"
	id, secret := o.registerClient(t, oidc.ClientSpec{Name: "A", RedirectURIs: []string{cb}, PostLogoutRedirectURIs: []string{after}, SkipConsent: true})
	hint := signedInGrant(t, o, b, id, secret, cb)["id_token"].(string)
	form := url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {after}}
	req, _ := http.NewRequest(http.MethodPost, o.srv.URL+"/api/auth/oauth2/end-session", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://app.example.com")
	resp, err := b.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != after {
		t.Fatalf("POST end-session from the RP: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}
