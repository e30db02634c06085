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
			// The same browser, same old session, straight to the return URL.
			r = b.get(back)
			if l := r.Header.Get("Location"); strings.HasPrefix(l, cb) {
				t.Fatalf("%s skipped by opening the return URL: %s", extra, l)
			}
			// After a real sign-in it completes.
			r = b.signInForm(back, "step@example.com", pw)
			next := r.Header.Get("Location")
			if r = b.get(next); !strings.HasPrefix(r.Header.Get("Location"), cb+"?code=") {
				t.Fatalf("%s after signing in: %d %s", extra, r.Status, r.Header.Get("Location"))
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
