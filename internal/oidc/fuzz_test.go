package oidc

// Fuzz tests for the two places untrusted input decides where a browser is
// sent: redirect-URI matching and the authorization-request parser. Run
// `go test -fuzz FuzzMatchRedirect ./internal/oidc/` (or FuzzParseAuthorize);
// as plain tests only the seed corpus below runs.

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auther/auther/internal/clock"
	"github.com/auther/auther/internal/store"
	"github.com/auther/auther/internal/testdb"
)

// Registered redirect URIs the fuzz targets compare against.
var fuzzRegistered = []string{
	"https://app.example.com/cb",
	"https://app.example.com/cb?tenant=1",
	"http://127.0.0.1:8080/callback",
	"http://[::1]:8080/callback",
	"com.example.app:/oauth2redirect",
	"https://xn--bcher-kva.example/cb",
}

// trickyURIs are near misses of the registered URIs: each must not match.
var trickyURIs = []string{
	"https://evil.example@app.example.com/cb",
	"https://app.example.com@evil.example/cb",
	"https://app.example.com:443@evil.example/cb",
	"https://app.example.com%2F@evil.example/cb",
	"https://app.example.com/cb%2F..%2F..%2Fevil",
	"https://app.example.com%2Fcb",
	"https://app.example.com/cb%2f",
	"https://app.example.com/%63b",
	"https://app.example.com/cb#",
	"https://app.example.com/cb#frag",
	"https://app.example.com/cb#@evil.example",
	"https://app.example.com:443/cb",
	"https://app.example.com:8443/cb",
	"http://127.0.0.1:8081/callback",
	"http://127.0.0.1/callback",
	"http://127.1:8080/callback",
	"http://localhost:8080/callback",
	"http://[0:0:0:0:0:0:0:1]:8080/callback",
	"https://app.example.com./cb",
	"https://app.example.com../cb",
	"https://APP.example.com/cb",
	"HTTPS://app.example.com/cb",
	"https://app.example.com/CB",
	"https://app.example.com/cb/../cb",
	"https://app.example.com/./cb",
	"https://app.example.com//cb",
	"https://app.example.com/cb/",
	"https://app.example.com/cb/..",
	"https://app.example.com/cb?",
	"https://app.example.com/cb?x=1",
	"https://app.example.com/cb?tenant=1&x=1",
	"https://app.example.com/cb?tenant=2",
	"https://app.example.com/cb?TENANT=1",
	"https://app.example.com/cb&tenant=1",
	"https://app.example.com/c",
	"https://app.example.com/cbx",
	"https://app.example.com",
	"https://app.example.com/cb ",
	" https://app.example.com/cb",
	"https://app.example.com/cb\t",
	"https://app.example.com/cb\n",
	"https://app.example.com/cb\x00",
	"https://app.example.com/cb\u200b",
	"https://app.examp\u0131e.com/cb",
	"https://bücher.example/cb",
	"https://ａｐｐ.example.com/cb",
	"https://app.example.com\\@evil.example/cb",
	"https:\\\\app.example.com/cb",
	"//app.example.com/cb",
	"app.example.com/cb",
	"https:/app.example.com/cb",
	"http://app.example.com/cb",
	"com.example.app:/oauth2redirect/",
	"com.example.app://oauth2redirect",
	"COM.EXAMPLE.APP:/oauth2redirect",
	"com.example.ap:/oauth2redirect",
	"javascript:alert(1)//https://app.example.com/cb",
	"data:text/html,https://app.example.com/cb",
	"",
}

func FuzzMatchRedirect(f *testing.F) {
	for _, u := range append(slices.Clone(fuzzRegistered), trickyURIs...) {
		f.Add("", u)
	}
	for _, u := range trickyURIs {
		f.Add(u, u) // registered as given: an exact match is fine
		f.Add(u, "https://app.example.com/cb")
	}
	f.Fuzz(func(t *testing.T, extra, u string) {
		reg := append(slices.Clone(fuzzRegistered), extra)
		want := false
		for _, r := range reg {
			if u != "" && u == r {
				want = true
			}
		}
		if got := MatchRedirect(reg, u); got != want {
			t.Fatalf("MatchRedirect(%q, %q) = %v; want a match only for a byte-equal registered URI", reg, u, got)
		}
		// Only the listed URIs count, never a prefix of the input or any
		// normalisation of it.
		if MatchRedirect(fuzzRegistered, u) != slices.Contains(fuzzRegistered, u) {
			t.Fatalf("MatchRedirect(registered, %q) disagrees with byte equality", u)
		}
		if MatchRedirect(nil, u) || MatchRedirect([]string{}, u) {
			t.Fatalf("MatchRedirect with nothing registered admitted %q", u)
		}
	})
}

// parseFixture is a store-backed provider with a public client "spa", a
// confidential client "web", a restricted client "narrow" (openid only, no
// refresh) and a disabled client "off".
type parseFixture struct {
	p       *Provider
	clients map[string]*store.Client
}

func newParseFixture(tb testing.TB) *parseFixture {
	tb.Helper()
	st := testdb.SQLite(tb)
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	fx := &parseFixture{p: &Provider{Store: st, Clock: clock.NewFake(now), Issuer: "https://auther.example",
		CodeTTL: 10 * time.Minute, AccessTTL: time.Hour, IDTTL: time.Hour, RefreshTTL: 7 * 24 * time.Hour, Leeway: 30 * time.Second},
		clients: map[string]*store.Client{}}
	add := func(id string, spec ClientSpec, disabled bool) {
		c, _, err := NewClient(spec, now)
		if err != nil {
			tb.Fatal(err)
		}
		c.ID, c.Disabled = id, disabled
		if err := st.CreateClient(context.Background(), c); err != nil {
			tb.Fatal(err)
		}
		fx.clients[id] = c
	}
	add("spa", ClientSpec{Name: "SPA", Public: true, RedirectURIs: []string{"https://app.example.com/cb", "com.example.app:/oauth2redirect"}}, false)
	add("web", ClientSpec{Name: "Web", RedirectURIs: []string{"http://127.0.0.1:8080/callback", "https://app.example.com/cb?tenant=1"}}, false)
	add("narrow", ClientSpec{Name: "Narrow", RedirectURIs: []string{"https://narrow.example/cb"}, Scopes: []string{"openid"},
		GrantTypes: []string{GrantAuthorizationCode}}, false)
	add("off", ClientSpec{Name: "Off", RedirectURIs: []string{"https://off.example/cb"}}, true)
	return fx
}

// A valid S256 challenge (RFC 7636 Appendix B).
const seedChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"

var rfcErrorCodes = []string{"invalid_request", "unauthorized_client", "access_denied", "unsupported_response_type",
	"invalid_scope", "server_error", "temporarily_unavailable", "request_not_supported", "request_uri_not_supported",
	"login_required", "consent_required", "interaction_required", "invalid_request_object"}

func FuzzParseAuthorize(f *testing.F) {
	spa := url.Values{"response_type": {"code"}, "client_id": {"spa"}, "redirect_uri": {"https://app.example.com/cb"},
		"scope": {"openid profile"}, "state": {"s"}, "nonce": {"n"}, "code_challenge": {seedChallenge}, "code_challenge_method": {"S256"}}
	web := url.Values{"response_type": {"code"}, "client_id": {"web"}, "redirect_uri": {"http://127.0.0.1:8080/callback"}, "scope": {"openid"}}
	f.Add(spa.Encode())
	f.Add(web.Encode())
	f.Add("response_type=code&client_id=web&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb%3Ftenant%3D1&scope=openid+email+offline_access&prompt=consent&max_age=60")
	f.Add("response_type=code&client_id=narrow&redirect_uri=https%3A%2F%2Fnarrow.example%2Fcb&scope=openid")
	f.Add("response_type=code&client_id=narrow&redirect_uri=https%3A%2F%2Fnarrow.example%2Fcb&scope=openid+email")
	f.Add("response_type=code&client_id=off&redirect_uri=https%3A%2F%2Foff.example%2Fcb&scope=openid")
	f.Add("")
	f.Add("client_id=spa")
	f.Add("client_id=spa&client_id=spa&redirect_uri=https://app.example.com/cb")
	f.Add("client_id=spa&redirect_uri=https://app.example.com/cb&redirect_uri=https://evil.example/cb")
	f.Add("%zz=1&client_id=spa&redirect_uri=https://app.example.com/cb")
	f.Add("client_id=spa;redirect_uri=https://app.example.com/cb")
	f.Add("client_id=web&redirect_uri=http://127.0.0.1:8080/callback&response_type=code&scope=openid&code_challenge=" + seedChallenge)
	f.Add("client_id=web&redirect_uri=http://127.0.0.1:8080/callback&response_type=code&scope=openid&code_challenge=" + seedChallenge + "&code_challenge_method=plain")
	f.Add("client_id=web&redirect_uri=http://127.0.0.1:8080/callback&response_type=code&scope=openid&prompt=none+login&max_age=-1")
	f.Add("client_id=web&redirect_uri=http://127.0.0.1:8080/callback&response_type=code&scope=openid&request=x")
	for _, ru := range trickyURIs {
		f.Add(with(spa, "redirect_uri", ru).Encode())
	}
	for _, k := range []string{"state", "nonce", "code_challenge", "code_challenge_method", "scope", "response_type"} {
		f.Add(with(spa, k, "").Encode())
	}
	f.Add(with(spa, "code_challenge_method", "plain", "code_challenge", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").Encode())
	f.Add(with(spa, "code_challenge", seedChallenge+"=").Encode())
	f.Add(with(spa, "scope", "openid\tprofile\u00a0email").Encode())
	f.Add(with(spa, "client_id", "SPA").Encode())
	f.Add(with(spa, "client_id", "spa ").Encode())
	f.Add(with(spa, "client_id", "spa\x00").Encode())

	fx := newParseFixture(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, raw string) {
		q, _ := url.ParseQuery(raw) // the handler ignores malformed pairs as r.URL.Query() does
		req, page, redirect := fx.p.ParseAuthorize(ctx, q)
		if page != nil {
			if req != nil || redirect != nil {
				t.Fatalf("page error %v came with a request or a redirect error", page)
			}
			if page.Code == "" {
				t.Fatal("page error without a code")
			}
			return
		}
		// Without a page error the request may redirect: the client and the
		// redirect URI must be exactly registered.
		if req == nil || req.Client == nil {
			t.Fatalf("no page error but no request (redirect error %v)", redirect)
		}
		c := fx.clients[q.Get("client_id")]
		if c == nil || req.Client.ID != c.ID {
			t.Fatalf("no page error for client_id %q (parsed as %q)", q.Get("client_id"), req.Client.ID)
		}
		if !slices.Contains(c.RedirectURIs, req.RedirectURI) || req.RedirectURI != q.Get("redirect_uri") {
			t.Fatalf("redirect URI %q is not byte-equal to one registered for %s: %q", req.RedirectURI, c.ID, c.RedirectURIs)
		}
		for k, v := range q {
			if len(v) != 1 {
				t.Fatalf("parameter %q appears %d times but no page error", k, len(v))
			}
		}
		if redirect != nil {
			if !slices.Contains(rfcErrorCodes, redirect.Code) {
				t.Fatalf("redirect error code %q is not an RFC 6749 / OIDC code", redirect.Code)
			}
			return
		}
		// Accepted: every rule holds.
		switch {
		case c.Disabled:
			t.Fatal("a disabled client was accepted")
		case q.Get("response_type") != "code":
			t.Fatalf("response_type %q accepted", q.Get("response_type"))
		case !slices.Contains(req.Scopes, "openid"):
			t.Fatalf("scopes %q accepted without openid", req.Scopes)
		case req.CodeChallenge != "" && q.Get("code_challenge_method") != "S256":
			t.Fatalf("code_challenge_method %q accepted", q.Get("code_challenge_method"))
		case req.CodeChallenge != "" && !validChallenge(req.CodeChallenge):
			t.Fatalf("malformed code_challenge %q accepted", req.CodeChallenge)
		case c.Public && (req.CodeChallenge == "" || req.State == "" || req.Nonce == ""):
			t.Fatalf("public client accepted without S256 challenge, state and nonce: %+v", req)
		case q.Get("request") != "" || q.Get("request_uri") != "":
			t.Fatal("a request object was accepted")
		}
		for _, s := range req.Scopes {
			if !slices.Contains(c.Scopes, s) || !slices.Contains(Scopes, s) {
				t.Fatalf("scope %q accepted for %s (allowed %q)", s, c.ID, c.Scopes)
			}
		}
		if req.HasPrompt("none") && len(req.Prompt) != 1 {
			t.Fatalf("prompt %q accepted", req.Prompt)
		}
		if req.CodeChallenge != q.Get("code_challenge") || req.State != q.Get("state") || req.Nonce != q.Get("nonce") ||
			strings.Join(req.Scopes, " ") != strings.Join(strings.Fields(q.Get("scope")), " ") {
			t.Fatalf("the request does not carry the query's values: %+v", req)
		}
	})
}

// with returns a copy of q with each key set to its value ("" deletes).
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
