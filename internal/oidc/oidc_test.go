package oidc

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auther/auther/internal/clock"
	"github.com/auther/auther/internal/keys"
	"github.com/auther/auther/internal/seal"
	"github.com/auther/auther/internal/store"
)

var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func TestValidateRedirectURI(t *testing.T) {
	accept := []string{
		"https://app.example.com/cb",
		"https://app.example.com:8443/oauth/callback?tenant=1",
		"https://app.example.com",
		"http://localhost/cb",
		"http://localhost:3000/cb",
		"http://127.0.0.1/cb",
		"http://127.0.0.1:51004/oauth2redirect",
		"http://[::1]:8080/cb",
		"com.example.app:/oauth2redirect",
		"com.example.app:/cb?x=1",
		"io.github.someone.notes:/callback",
	}
	reject := []string{
		"",
		"/cb",
		"cb",
		"//app.example.com/cb",
		"app.example.com/cb",
		"https://app.example.com/cb#",
		"https://app.example.com/cb#frag",
		"https://app.example.com/cb?x=1#frag",
		"http://localhost/cb#x",
		"com.example.app:/cb#x",
		"http://app.example.com/cb",
		"http://localhost.evil.example/cb",
		"http://127.0.0.1.nip.io/cb",
		"http://localhost@evil.example/cb",
		"http://evil.example#@localhost/cb",
		"http://evil.example/?@127.0.0.1",
		"https:///cb",
		"https:cb",
		"javascript:alert(1)",
		"JavaScript:alert(document.cookie)",
		"javascript://app.example.com/%0aalert(1)",
		"data:text/html,<script>alert(1)</script>",
		"vbscript:msgbox(1)",
		"file:///etc/passwd",
		"myapp:/cb",
		"myapp://cb",
		"https://app.example.com/cb\x00",
		"https://app.example.com/\ncb",
	}
	for _, u := range accept {
		if err := ValidateRedirectURI(u); err != nil {
			t.Errorf("ValidateRedirectURI(%q) = %v; want accepted", u, err)
		}
	}
	for _, u := range reject {
		if err := ValidateRedirectURI(u); err == nil {
			t.Errorf("ValidateRedirectURI(%q) accepted it; want refused", u)
		}
	}
}

func TestNewClientValidation(t *testing.T) {
	ok := []string{"https://app.example.com/cb"}
	cases := []struct {
		name string
		spec ClientSpec
		ok   bool
	}{
		{"minimal confidential", ClientSpec{Name: "App", RedirectURIs: ok}, true},
		{"minimal public", ClientSpec{Name: "SPA", Public: true, RedirectURIs: ok}, true},
		{"native loopback and custom scheme", ClientSpec{Name: "CLI", Public: true, RedirectURIs: []string{"http://127.0.0.1:8080/cb", "com.example.cli:/cb"}}, true},
		{"machine client without redirect", ClientSpec{Name: "Cron", GrantTypes: []string{GrantClientCredentials}}, true},
		{"post-logout URIs", ClientSpec{Name: "App", RedirectURIs: ok, PostLogoutRedirectURIs: []string{"https://app.example.com/bye"}}, true},
		{"restricted scopes", ClientSpec{Name: "App", RedirectURIs: ok, Scopes: []string{"openid", "email"}}, true},
		{"no name", ClientSpec{RedirectURIs: ok}, false},
		{"blank name", ClientSpec{Name: " \t", RedirectURIs: ok}, false},
		{"no redirect URI", ClientSpec{Name: "App"}, false},
		{"no redirect URI with code grant", ClientSpec{Name: "App", GrantTypes: []string{GrantAuthorizationCode, GrantClientCredentials}}, false},
		{"fragment", ClientSpec{Name: "App", RedirectURIs: []string{"https://app.example.com/cb#x"}}, false},
		{"http on a public host", ClientSpec{Name: "App", RedirectURIs: []string{"http://app.example.com/cb"}}, false},
		{"relative", ClientSpec{Name: "App", RedirectURIs: []string{"/cb"}}, false},
		{"javascript", ClientSpec{Name: "App", RedirectURIs: []string{"javascript:alert(1)"}}, false},
		{"one bad among good", ClientSpec{Name: "App", RedirectURIs: []string{"https://app.example.com/cb", "http://evil.example/cb"}}, false},
		{"bad post-logout URI", ClientSpec{Name: "App", RedirectURIs: ok, PostLogoutRedirectURIs: []string{"javascript:alert(1)"}}, false},
		{"post-logout fragment", ClientSpec{Name: "App", RedirectURIs: ok, PostLogoutRedirectURIs: []string{"https://app.example.com/bye#x"}}, false},
		{"public client_credentials", ClientSpec{Name: "SPA", Public: true, GrantTypes: []string{GrantClientCredentials}}, false},
		{"public mixed client_credentials", ClientSpec{Name: "SPA", Public: true, RedirectURIs: ok, GrantTypes: []string{GrantAuthorizationCode, GrantClientCredentials}}, false},
		{"implicit grant", ClientSpec{Name: "App", RedirectURIs: ok, GrantTypes: []string{"implicit"}}, false},
		{"password grant", ClientSpec{Name: "App", RedirectURIs: ok, GrantTypes: []string{"password"}}, false},
		{"unknown scope", ClientSpec{Name: "App", RedirectURIs: ok, Scopes: []string{"openid", "admin"}}, false},
		{"scope case", ClientSpec{Name: "App", RedirectURIs: ok, Scopes: []string{"OpenID"}}, false},
	}
	for _, c := range cases {
		cl, secret, err := NewClient(c.spec, testNow)
		if c.ok != (err == nil) {
			t.Errorf("%s: NewClient error = %v, want ok=%v", c.name, err, c.ok)
			continue
		}
		if err != nil {
			if cl != nil || secret != "" {
				t.Errorf("%s: a refused client came back with a client or a secret", c.name)
			}
			continue
		}
		if cl.ID == "" || cl.Name != c.spec.Name || cl.Public != c.spec.Public || !cl.CreatedAt.Equal(testNow) {
			t.Errorf("%s: client %+v", c.name, cl)
		}
		if c.spec.Public != (secret == "") || c.spec.Public != (cl.SecretHash == nil) {
			t.Errorf("%s: public=%v but secret %q / hash %v", c.name, c.spec.Public, secret, cl.SecretHash)
		}
	}
}

func TestNewClientDefaultsAndSecrets(t *testing.T) {
	spec := ClientSpec{Name: "App", RedirectURIs: []string{"https://app.example.com/cb"}}
	a, secretA, err := NewClient(spec, testNow)
	if err != nil {
		t.Fatal(err)
	}
	b, secretB, _ := NewClient(spec, testNow)
	if !slices.Equal(a.GrantTypes, []string{GrantAuthorizationCode, GrantRefreshToken}) {
		t.Errorf("default grant types %q", a.GrantTypes)
	}
	if !slices.Equal(a.Scopes, Scopes) {
		t.Errorf("default scopes %q, want %q", a.Scopes, Scopes)
	}
	// Secrets: at least 256 bits, shown once, stored only as a hash.
	raw, err := base64.RawURLEncoding.DecodeString(secretA)
	if err != nil || len(raw) < 32 {
		t.Errorf("secret %q is not ≥ 256 random bits: %v", secretA, err)
	}
	if a.SecretHash == nil || *a.SecretHash != HashSecret(secretA) || strings.Contains(*a.SecretHash, secretA) {
		t.Errorf("stored secret hash %v", a.SecretHash)
	}
	if a.ID == b.ID || secretA == secretB {
		t.Error("two clients share an id or a secret")
	}
	if len(a.ID) < 16 {
		t.Errorf("client id %q is short", a.ID)
	}
	// The defaults must not be shared with the package's list.
	a.Scopes[0] = "changed"
	if Scopes[0] != "openid" {
		t.Fatal("a client's default scopes alias the package's Scopes")
	}
	Scopes[0] = "openid"
	// A public client gets no secret at all.
	p, secret, err := NewClient(ClientSpec{Name: "SPA", Public: true, RedirectURIs: spec.RedirectURIs}, testNow)
	if err != nil || secret != "" || p.SecretHash != nil {
		t.Errorf("public client: secret %q hash %v err %v", secret, p.SecretHash, err)
	}
}

func TestHashSecret(t *testing.T) {
	// SHA-256("abc"), FIPS 180-2.
	if got := HashSecret("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Errorf("HashSecret(abc) = %s", got)
	}
	s1, h1 := NewSecret()
	s2, _ := NewSecret()
	if s1 == s2 || h1 != HashSecret(s1) || len(s1) != 43 {
		t.Errorf("NewSecret: %q %q %q", s1, s2, h1)
	}
}

func TestCheckSecret(t *testing.T) {
	c, secret, err := NewClient(ClientSpec{Name: "App", RedirectURIs: []string{"https://app.example.com/cb"}}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if !CheckSecret(c, secret) {
		t.Fatal("the right secret is refused")
	}
	for _, bad := range []string{
		"", " ", "x", secret[:len(secret)-1], secret + "x", secret + " ", " " + secret, strings.ToUpper(secret),
		*c.SecretHash,           // the stored hash is not a credential
		strings.Repeat("A", 43), // same length, different value
	} {
		if CheckSecret(c, bad) {
			t.Errorf("CheckSecret accepted %q", bad)
		}
	}
	// A public client has no secret: nothing matches, not even "".
	p, _, _ := NewClient(ClientSpec{Name: "SPA", Public: true, RedirectURIs: []string{"https://app.example.com/cb"}}, testNow)
	for _, s := range []string{"", secret, "x"} {
		if CheckSecret(p, s) {
			t.Errorf("CheckSecret(public, %q) = true", s)
		}
	}
	// A corrupt (empty) stored hash matches nothing either.
	empty := ""
	broken := &store.Client{SecretHash: &empty}
	for _, s := range []string{"", "x", secret} {
		if CheckSecret(broken, s) {
			t.Errorf("CheckSecret(empty hash, %q) = true", s)
		}
	}
	// An upper-case copy of the hash (hex case) is not the same hash.
	upper := strings.ToUpper(*c.SecretHash)
	if CheckSecret(&store.Client{SecretHash: &upper}, secret) {
		t.Error("CheckSecret compares hashes case-insensitively")
	}
}

func TestVerifyPKCE(t *testing.T) {
	// RFC 7636 Appendix B.
	const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	const challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	if !verifyPKCE(challenge, verifier) {
		t.Fatal("RFC 7636 Appendix B test vector fails")
	}
	s256 := sha256Base64
	if s256(verifier) != challenge {
		t.Fatal("test helper disagrees with RFC 7636")
	}
	long := strings.Repeat("a", 128)
	short := strings.Repeat("b", 43)
	cases := []struct {
		name                string
		challenge, verifier string
		want                bool
	}{
		{"no PKCE at all", "", "", true},
		{"verifier without challenge", "", verifier, false},
		{"challenge without verifier", challenge, "", false},
		{"plain: verifier equals challenge", challenge, challenge, false},
		{"plain method value", verifier, verifier, false},
		{"one character changed", challenge, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj", false},
		{"case changed", challenge, strings.ToUpper(verifier), false},
		{"trailing space", challenge, verifier + " ", false},
		{"padded challenge", challenge + "=", verifier, false},
		{"standard base64 challenge", strings.NewReplacer("-", "+", "_", "/").Replace(challenge), verifier, false},
		{"43 characters", s256(short), short, true},
		{"128 characters", s256(long), long, true},
		{"42 characters", s256(short[:42]), short[:42], false},
		{"129 characters", s256(long + "a"), long + "a", false},
	}
	for _, c := range cases {
		if got := verifyPKCE(c.challenge, c.verifier); got != c.want {
			t.Errorf("%s: verifyPKCE = %v, want %v", c.name, got, c.want)
		}
	}
}

func sha256Base64(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func TestMatchRedirectIsExact(t *testing.T) {
	reg := []string{"https://app.example.com/cb", "com.example.app:/cb"}
	for _, u := range reg {
		if !MatchRedirect(reg, u) {
			t.Errorf("registered %q refused", u)
		}
	}
	for _, u := range trickyURIs {
		if MatchRedirect(reg, u) {
			t.Errorf("MatchRedirect admitted %q", u)
		}
	}
	if MatchRedirect([]string{""}, "") {
		t.Error("an empty redirect_uri matched an empty registration")
	}
}

// ParseAuthorize classifies errors: an untrusted client or redirect URI is
// a page, everything else goes back to the redirect URI.
func TestParseAuthorizeClassifiesErrors(t *testing.T) {
	fx := newParseFixture(t)
	ctx := context.Background()
	base := url.Values{"response_type": {"code"}, "client_id": {"spa"}, "redirect_uri": {"https://app.example.com/cb"},
		"scope": {"openid"}, "state": {"s"}, "nonce": {"n"}, "code_challenge": {seedChallenge}, "code_challenge_method": {"S256"}}
	cases := []struct {
		name       string
		q          url.Values
		page, redi string
	}{
		{"valid", base, "", ""},
		{"unknown client", with(base, "client_id", "nope"), "invalid_client", ""},
		{"no client", with(base, "client_id", ""), "invalid_request", ""},
		{"unregistered redirect", with(base, "redirect_uri", "https://app.example.com/cb/"), "invalid_request", ""},
		{"no redirect", with(base, "redirect_uri", ""), "invalid_request", ""},
		{"duplicate", func() url.Values { q := with(base); q.Add("nonce", "m"); return q }(), "invalid_request", ""},
		{"disabled", with(base, "client_id", "off", "redirect_uri", "https://off.example/cb"), "", "unauthorized_client"},
		{"token", with(base, "response_type", "token"), "", "unsupported_response_type"},
		{"no response_type", with(base, "response_type", ""), "", "unsupported_response_type"},
		{"no openid", with(base, "scope", "profile"), "", "invalid_scope"},
		{"not allowed", with(base, "client_id", "narrow", "redirect_uri", "https://narrow.example/cb", "scope", "openid profile"), "", "invalid_scope"},
		{"no PKCE", with(base, "code_challenge", "", "code_challenge_method", ""), "", "invalid_request"},
		{"plain", with(base, "code_challenge_method", "plain"), "", "invalid_request"},
		{"no method", with(base, "code_challenge_method", ""), "", "invalid_request"},
		{"no state", with(base, "state", ""), "", "invalid_request"},
		{"no nonce", with(base, "nonce", ""), "", "invalid_request"},
		{"confidential without PKCE, state or nonce", url.Values{"response_type": {"code"}, "client_id": {"web"},
			"redirect_uri": {"http://127.0.0.1:8080/callback"}, "scope": {"openid"}}, "", ""},
		{"max_age", with(base, "max_age", "300"), "", ""},
		{"max_age negative", with(base, "max_age", "-5"), "", "invalid_request"},
	}
	for _, c := range cases {
		req, page, redi := fx.p.ParseAuthorize(ctx, c.q)
		if code(page) != c.page || code(redi) != c.redi {
			t.Errorf("%s: page %q redirect %q; want page %q redirect %q", c.name, code(page), code(redi), c.page, c.redi)
		}
		if page == nil && (req == nil || req.RedirectURI != c.q.Get("redirect_uri")) {
			t.Errorf("%s: request %+v", c.name, req)
		}
	}
}

func code(e *Error) string {
	if e == nil {
		return ""
	}
	return e.Code
}

// max_age is seconds from the relying party: any value that parses must
// mean at least that long, never wrap around to a negative or tiny
// duration (which would force a sign-in on every request), or else be
// refused as invalid_request.
func TestParseAuthorizeMaxAgeDoesNotOverflow(t *testing.T) {
	fx := newParseFixture(t)
	base := url.Values{"response_type": {"code"}, "client_id": {"web"}, "redirect_uri": {"http://127.0.0.1:8080/callback"}, "scope": {"openid"}}
	for _, ma := range []string{"9223372037", "18446744074", "9223372036854775807", "31536000000"} {
		req, page, redi := fx.p.ParseAuthorize(context.Background(), with(base, "max_age", ma))
		if page != nil {
			t.Fatalf("max_age=%s: page %v", ma, page)
		}
		if redi != nil {
			if redi.Code != "invalid_request" {
				t.Errorf("max_age=%s: %v", ma, redi)
			}
			continue
		}
		if req.MaxAge == nil || *req.MaxAge < 100*365*24*time.Hour {
			t.Errorf("max_age=%s parsed as %v; want at least 100 years (or refused)", ma, req.MaxAge)
		}
	}
}

// VerifyAccessToken accepts only at+jwt tokens of this issuer within their
// lifetime plus the 30 s leeway: an ID token (typ JWT) carrying the same
// claims is not an access token.
func TestVerifyAccessTokenChecksTypeIssuerAndExpiry(t *testing.T) {
	fx := newParseFixture(t)
	box, err := seal.New("oidc-test-secret-oidc-test-secret-0001", "signing-keys")
	if err != nil {
		t.Fatal(err)
	}
	clk := fx.p.Clock.(*clock.Fake)
	fx.p.Keys = &keys.Manager{Store: fx.p.Store, Box: box, Clock: clk, Algorithm: keys.ES256}
	if _, err := fx.p.Keys.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c := fx.clients["web"]
	now := fx.p.now()
	g := &store.Grant{ID: "cc", ClientID: c.ID, UserID: c.ID, Scopes: []string{"profile"}, AuthTime: now}
	sign := func(claims map[string]any, typ string) string {
		tok, err := fx.p.Keys.Sign(claims, typ)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	good := sign(fx.p.AccessClaims(c, g, now, time.Hour), "at+jwt")
	if _, err := fx.p.VerifyAccessToken(ctx, good); err != nil {
		t.Fatalf("a valid access token fails: %v", err)
	}
	for _, typ := range []string{"JWT", "", "jwt", "id_token+jwt"} {
		if _, err := fx.p.VerifyAccessToken(ctx, sign(fx.p.AccessClaims(c, g, now, time.Hour), typ)); err == nil {
			t.Errorf("a token with typ %q was accepted as an access token", typ)
		}
	}
	other := fx.p.AccessClaims(c, g, now, time.Hour)
	other["iss"] = "https://other.example"
	if _, err := fx.p.VerifyAccessToken(ctx, sign(other, "at+jwt")); err == nil {
		t.Error("a token of another issuer was accepted")
	}
	clk.Advance(time.Hour + 20*time.Second)
	if _, err := fx.p.VerifyAccessToken(ctx, good); err != nil {
		t.Errorf("within the 30 s leeway the token fails: %v", err)
	}
	clk.Advance(11 * time.Second)
	if _, err := fx.p.VerifyAccessToken(ctx, good); err == nil {
		t.Error("a token expired beyond the leeway was accepted")
	}
}
