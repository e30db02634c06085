package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// fakeOIDC mimics Auther's authorization and token endpoints closely enough
// to catch a misbehaving client: exact redirect URI, S256 PKCE, single-use
// codes, client_secret_basic with form-encoded credentials, and rotating
// refresh tokens whose reuse revokes the family.
type fakeOIDC struct {
	clientID, secret, redirect string
	failAuthorizeAfter         int64 // authorize sends to the sign-in page after this many hits (0: never)
	failRefreshEvery           int64 // every n-th refresh rotates the token but answers 500 (0: never)

	mu       sync.Mutex
	codes    map[string]fakeCode
	refresh  map[string]*fakeRefresh
	revoked  map[int]bool // refresh families
	families int

	authorizeHits atomic.Int64
	exchanges     atomic.Int64
	refreshes     atomic.Int64
	reuse         atomic.Int64 // a used refresh token was presented again
	protocolErrs  atomic.Int64 // malformed requests from the tool
	lastRawQuery  atomic.Value
}

type fakeCode struct{ challenge, redirect string }

type fakeRefresh struct {
	family int
	used   bool
}

func (o *fakeOIDC) register(mux *http.ServeMux, f *fakeAuther) {
	if o.clientID == "" {
		o.clientID = "perf client/é"
	}
	if o.secret == "" {
		o.secret = "s3cr:et/+=%&"
	}
	if o.redirect == "" {
		o.redirect = "http://127.0.0.1:9/cb"
	}
	o.codes = map[string]fakeCode{}
	o.refresh = map[string]*fakeRefresh{}
	o.revoked = map[int]bool{}
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`))
	})
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"issuer":"` + f.origin + `","token_endpoint":"` + f.origin + `/api/auth/oauth2/token"}`))
	})
	mux.HandleFunc("GET /api/auth/oauth2/authorize", func(w http.ResponseWriter, r *http.Request) { o.authorize(w, r, f) })
	mux.HandleFunc("POST /api/auth/oauth2/token", o.token)
}

func (o *fakeOIDC) authorize(w http.ResponseWriter, r *http.Request, f *fakeAuther) {
	n := o.authorizeHits.Add(1)
	o.lastRawQuery.Store(r.URL.RawQuery)
	q := r.URL.Query()
	if q.Get("client_id") != o.clientID || q.Get("redirect_uri") != o.redirect {
		o.protocolErrs.Add(1)
		http.Error(w, "bad client or redirect_uri", http.StatusBadRequest)
		return
	}
	scopes := strings.Fields(q.Get("scope"))
	ch := q.Get("code_challenge")
	if q.Get("response_type") != "code" || !slices.Contains(scopes, "openid") || !slices.Contains(scopes, "offline_access") ||
		q.Get("code_challenge_method") != "S256" || len(ch) != 43 || q.Get("state") == "" || q.Get("nonce") == "" {
		o.protocolErrs.Add(1)
		http.Redirect(w, r, o.redirect+"?error=invalid_request&state="+url.QueryEscape(q.Get("state")), http.StatusFound)
		return
	}
	f.mu.Lock()
	valid := f.sessions[f.cookieToken(r)]
	f.mu.Unlock()
	if !valid || (o.failAuthorizeAfter > 0 && n > o.failAuthorizeAfter) {
		http.Redirect(w, r, "/sign-in?return="+url.QueryEscape("/api/auth/oauth2/authorize?"+r.URL.RawQuery), http.StatusFound)
		return
	}
	code := randomToken(32)
	o.mu.Lock()
	o.codes[code] = fakeCode{challenge: ch, redirect: q.Get("redirect_uri")}
	o.mu.Unlock()
	http.Redirect(w, r, o.redirect+"?code="+code+"&state="+url.QueryEscape(q.Get("state"))+"&iss="+url.QueryEscape(f.origin), http.StatusFound)
}

func oauthErr(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"error":"` + code + `"}`))
}

func (o *fakeOIDC) token(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || r.ParseForm() != nil {
		o.protocolErrs.Add(1)
		oauthErr(w, 400, "invalid_request")
		return
	}
	id, secret, ok := r.BasicAuth()
	id, err1 := url.QueryUnescape(id)
	secret, err2 := url.QueryUnescape(secret)
	if !ok || err1 != nil || err2 != nil || id != o.clientID || secret != o.secret {
		oauthErr(w, 401, "invalid_client")
		return
	}
	f := r.PostForm
	o.mu.Lock()
	defer o.mu.Unlock()
	var family int
	switch f.Get("grant_type") {
	case "authorization_code":
		c, found := o.codes[f.Get("code")]
		delete(o.codes, f.Get("code"))
		if !found || c.redirect != f.Get("redirect_uri") || s256(f.Get("code_verifier")) != c.challenge {
			o.protocolErrs.Add(1)
			oauthErr(w, 400, "invalid_grant")
			return
		}
		o.exchanges.Add(1)
		o.families++
		family = o.families
	case "refresh_token":
		rt, found := o.refresh[f.Get("refresh_token")]
		switch {
		case !found:
			o.protocolErrs.Add(1)
			oauthErr(w, 400, "invalid_grant")
			return
		case rt.used:
			o.reuse.Add(1)
			o.revoked[rt.family] = true
			oauthErr(w, 400, "invalid_grant")
			return
		case o.revoked[rt.family]:
			oauthErr(w, 400, "invalid_grant")
			return
		}
		rt.used = true
		family = rt.family
		n := o.refreshes.Add(1)
		if o.failRefreshEvery > 0 && n%o.failRefreshEvery == 0 {
			// Rotated, but the answer is lost: the client must not retry.
			o.refresh[randomToken(32)] = &fakeRefresh{family: family}
			oauthErr(w, 500, "server_error")
			return
		}
	default:
		o.protocolErrs.Add(1)
		oauthErr(w, 400, "unsupported_grant_type")
		return
	}
	next := randomToken(32)
	o.refresh[next] = &fakeRefresh{family: family}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "at." + randomToken(16), "token_type": "Bearer",
		"expires_in": 3600, "refresh_token": next, "id_token": "id." + randomToken(16), "scope": "openid offline_access"})
}

func clientArgs(f *fakeAuther) []string {
	return []string{"-client-id", f.oidc.clientID, "-client-secret", f.oidc.secret, "-redirect-uri", f.oidc.redirect}
}

// RFC 7636 Appendix B.
func TestS256MatchesRFC7636(t *testing.T) {
	const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	if got, want := s256(verifier), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"; got != want {
		t.Fatalf("s256 = %q, want %q", got, want)
	}
}

func TestNewVerifier(t *testing.T) {
	unreserved := regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)
	seen := map[string]bool{}
	for range 100 {
		v := newVerifier()
		if !unreserved.MatchString(v) || len(v) < 43 {
			t.Fatalf("verifier %q is not 43-128 unreserved characters", v)
		}
		if seen[v] {
			t.Fatalf("verifier %q repeated", v)
		}
		seen[v] = true
		if c := s256(v); len(c) != 43 || strings.ContainsAny(c, "+/=") {
			t.Fatalf("challenge %q is not 43 unpadded base64url characters", c)
		}
	}
}

func TestCodeFromLocation(t *testing.T) {
	const ru = "http://127.0.0.1:9/cb"
	good := map[string]string{
		"http://127.0.0.1:9/cb?code=abc&state=S&iss=http%3A%2F%2F127.0.0.1%3A3999": "abc",
		"http://127.0.0.1:9/cb?iss=x&state=S&code=a-b_c":                           "a-b_c",
		"HTTP://127.0.0.1:9/cb?code=%2Fx%3D&state=S":                               "/x=",
	}
	for loc, want := range good {
		got, err := codeFromLocation(loc, ru, "S")
		if err != nil || got != want {
			t.Errorf("codeFromLocation(%q) = %q, %v; want %q", loc, got, err, want)
		}
	}
	bad := map[string]string{
		"":                                       "no Location",
		"http://127.0.0.1:9/cb?state=S":          "no code",
		"http://127.0.0.1:9/cb?code=abc&state=T": "state",
		"http://127.0.0.1:9/cb?code=abc":         "state",
		"http://127.0.0.1:9/cb?error=access_denied&error_description=no&state=S":    "access_denied",
		"/sign-in?return=%2Fapi%2Fauth%2Foauth2%2Fauthorize%3Fcode%3Dx%26state%3DS": "not to the redirect URI",
		"/api/auth/oauth2/authorize?code=x&state=S":                                 "not to the redirect URI",
		"http://127.0.0.1:9/other?code=abc&state=S":                                 "not to the redirect URI",
		"http://127.0.0.1:10/cb?code=abc&state=S":                                   "not to the redirect URI",
		"http://127.0.0.1:9/cb%zz?code=abc&state=S":                                 "malformed",
	}
	for loc, want := range bad {
		got, err := codeFromLocation(loc, ru, "S")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("codeFromLocation(%q) = %q, %v; want an error containing %q", loc, got, err, want)
		}
	}
}

func TestBasicAuthIsFormEncoded(t *testing.T) {
	const id, secret = "perf client/é", "s3cr:et/+=%&"
	r, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1/", nil)
	r.Header.Set("Authorization", basicAuth(id, secret))
	u, p, ok := r.BasicAuth()
	if !ok || strings.ContainsAny(u, ": ") {
		t.Fatalf("BasicAuth() = %q, %q, %v", u, p, ok)
	}
	if gu, _ := url.QueryUnescape(u); gu != id {
		t.Errorf("id round-trips as %q", gu)
	}
	if gp, _ := url.QueryUnescape(p); gp != secret {
		t.Errorf("secret round-trips as %q", gp)
	}
	if basicAuth("", "") != "" {
		t.Error("no client should mean no header")
	}
}

func TestAuthorizeURL(t *testing.T) {
	cfg, err := parseConfig([]string{"-url", "http://127.0.0.1:3999/", "-scenario", "code-exchange",
		"-client-id", "a b&c", "-client-secret", "x", "-redirect-uri", "http://127.0.0.1:9/cb?x=1"}, new(strings.Builder))
	if err != nil {
		t.Fatal(err)
	}
	raw := newEnv(cfg, nil, "r").authorizeURLFor("st", "no", "ch")
	if !strings.HasPrefix(raw, "http://127.0.0.1:3999/api/auth/oauth2/authorize?") || !strings.Contains(raw, "scope=openid%20offline_access") {
		t.Errorf("authorize URL %q", raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := url.Values{"response_type": {"code"}, "client_id": {"a b&c"}, "redirect_uri": {"http://127.0.0.1:9/cb?x=1"},
		"scope": {"openid offline_access"}, "state": {"st"}, "nonce": {"no"}, "code_challenge": {"ch"}, "code_challenge_method": {"S256"}}
	if got := u.Query(); got.Encode() != want.Encode() {
		t.Errorf("query = %v, want %v", got, want)
	}
}

func TestClientFlagValidation(t *testing.T) {
	base := []string{"-url", "http://127.0.0.1:3999"}
	ok := []string{"-client-id", "id", "-client-secret", "sec", "-redirect-uri", "http://127.0.0.1:9/cb"}
	parse := func(args ...string) (config, error) {
		return parseConfig(append(slices.Clone(base), args...), new(strings.Builder))
	}
	for _, sc := range []string{"code-exchange", "refresh", "jwks,refresh"} {
		_, err := parse("-scenario", sc)
		if err == nil || !strings.Contains(err.Error(), "-client-id, -client-secret and -redirect-uri") ||
			!strings.Contains(err.Error(), "auther client create") {
			t.Errorf("-scenario %s without a client: err = %v", sc, err)
		}
	}
	for _, sc := range []string{"jwks,discovery", "all", "signin"} {
		if _, err := parse("-scenario", sc); err != nil {
			t.Errorf("-scenario %s without a client: %v", sc, err)
		}
	}
	cfg, err := parse(append([]string{"-scenario", "all"}, ok...)...)
	if err != nil || !slices.Contains(cfg.scenarios, "code-exchange") || !slices.Contains(cfg.scenarios, "refresh") {
		t.Errorf("all with a client = %v, %v", cfg.scenarios, err)
	}
	if cfg.oauth != (oauthClient{"id", "sec", "http://127.0.0.1:9/cb"}) {
		t.Errorf("oauth = %+v", cfg.oauth)
	}
	bad := map[string][]string{
		"-client-secret, -redirect-uri missing": {"-scenario", "jwks", "-client-id", "id"},
		"-client-id missing":                    {"-client-secret", "s", "-redirect-uri", "http://127.0.0.1:9/cb"},
		"-redirect-uri missing":                 {"-scenario", "refresh", "-client-id", "id", "-client-secret", "s"},
		"invalid -redirect-uri":                 {"-client-id", "id", "-client-secret", "s", "-redirect-uri", "/cb"},
		"without a fragment":                    {"-client-id", "id", "-client-secret", "s", "-redirect-uri", "http://127.0.0.1:9/cb#x"},
		"want an absolute":                      {"-client-id", "id", "-client-secret", "s", "-redirect-uri", "myapp:/cb"},
		"control characters":                    {"-client-id", "id\n", "-client-secret", "s", "-redirect-uri", "http://127.0.0.1:9/cb"},
	}
	for want, args := range bad {
		if _, err := parse(args...); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want it to mention %q", args, err, want)
		}
	}
	// A usage error exits 2 and sends nothing.
	code, out, errOut := runTool(t, "-url", "http://127.0.0.1:1", "-scenario", "refresh")
	if code != 2 || out != "" || !strings.Contains(errOut, "needs an OAuth client") {
		t.Errorf("exit=%d stdout=%q stderr=%q", code, out, errOut)
	}
}

func TestOIDCScenariosAgainstFakeServer(t *testing.T) {
	f := &fakeAuther{}
	srv := newFake(t, f)
	args := append([]string{"-url", srv.URL, "-c", "3", "-d", "150ms", "-warmup", "30ms", "-json",
		"-scenario", "jwks,discovery,code-exchange,refresh"}, clientArgs(f)...)
	code, out, errOut := runTool(t, args...)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	counts := map[string]int{}
	for _, name := range []string{"jwks", "discovery", "code-exchange", "code-exchange/authorize", "refresh"} {
		reqs, errs := reqsOf(t, out, name)
		if reqs == 0 || errs != 0 {
			t.Errorf("%s: reqs=%d errors=%d, want >0 and 0\n%s", name, reqs, errs, out)
		}
		counts[name] = reqs
	}
	if counts["code-exchange"] != counts["code-exchange/authorize"] {
		t.Errorf("code-exchange reqs=%d but authorize reqs=%d", counts["code-exchange"], counts["code-exchange/authorize"])
	}
	if n := f.oidc.protocolErrs.Load(); n != 0 {
		t.Errorf("fake server saw %d malformed OAuth requests", n)
	}
	if n := f.oidc.reuse.Load(); n != 0 {
		t.Errorf("a refresh token was presented twice %d times", n)
	}
	if f.oidc.refreshes.Load() < int64(counts["refresh"]) {
		t.Errorf("server counted %d refreshes, tool reported %d", f.oidc.refreshes.Load(), counts["refresh"])
	}
	if q, _ := f.oidc.lastRawQuery.Load().(string); !strings.Contains(q, "scope=openid%20offline_access") {
		t.Errorf("authorize query %q", q)
	}
	var jl []scenarioLine
	for l := range strings.SplitSeq(out, "\n") {
		if strings.HasPrefix(l, "{") {
			var sl scenarioLine
			if err := json.Unmarshal([]byte(l), &sl); err != nil {
				t.Fatalf("bad JSON line %q: %v", l, err)
			}
			jl = append(jl, sl)
		}
	}
	if len(jl) != 4 {
		t.Fatalf("JSON lines = %d, want 4", len(jl))
	}
	for _, l := range jl {
		if (l.Scenario == "code-exchange") != (l.Authorize != nil) || l.Flood != nil || l.Errors != 0 {
			t.Errorf("JSON %+v", l)
		}
	}
	if a := jl[2].Authorize; a == nil || a.Requests == 0 || a.Errors != 0 || a.Concurrency != 3 {
		t.Errorf("authorize figures = %+v", a)
	}
}

// After a failed refresh the worker must not resend the token (the server
// may have rotated it) but start a new chain.
func TestRefreshRecoversWithoutReuse(t *testing.T) {
	f := &fakeAuther{oidc: fakeOIDC{failRefreshEvery: 5}}
	srv := newFake(t, f)
	args := append([]string{"-url", srv.URL, "-c", "2", "-d", "150ms", "-warmup", "0", "-scenario", "refresh"}, clientArgs(f)...)
	code, out, errOut := runTool(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	reqs, errs := reqsOf(t, out, "refresh")
	if errs == 0 || reqs <= errs*3 {
		t.Errorf("reqs=%d errors=%d, want about one error in five\n%s", reqs, errs, out)
	}
	if !strings.Contains(out, "status 500×") || !strings.Contains(out, "server_error") {
		t.Errorf("breakdown should show the 500s and the server's answer:\n%s", out)
	}
	if n := f.oidc.reuse.Load(); n != 0 {
		t.Errorf("a refresh token was presented twice %d times", n)
	}
	// Two setup exchanges plus one per failure, except a worker's last
	// failure if the phase ended right after it.
	if got := f.oidc.exchanges.Load(); got > int64(2+errs) || got < int64(errs) {
		t.Errorf("code exchanges = %d, want %d at most and %d at least", got, 2+errs, errs)
	}
}

// When authorize stops handing out codes, the token POST is not sent and
// counts as not-sent; the authorize line says why.
func TestAuthorizeFailureIsNotSent(t *testing.T) {
	f := &fakeAuther{oidc: fakeOIDC{failAuthorizeAfter: 1}} // the trial exchange succeeds
	srv := newFake(t, f)
	args := append([]string{"-url", srv.URL, "-c", "2", "-d", "100ms", "-warmup", "0", "-scenario", "code-exchange"}, clientArgs(f)...)
	code, out, errOut := runTool(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	reqs, errs := reqsOf(t, out, "code-exchange")
	areqs, aerrs := reqsOf(t, out, "code-exchange/authorize")
	if reqs != 0 || errs == 0 || areqs != errs || aerrs != areqs {
		t.Errorf("token reqs=%d errors=%d, authorize reqs=%d errors=%d\n%s", reqs, errs, areqs, aerrs, out)
	}
	for _, want := range []string{"not-sent×", "authorize step failed", "unexpected-body×", "not to the redirect URI"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if n := f.oidc.exchanges.Load(); n != 1 {
		t.Errorf("exchanges = %d, want only the trial", n)
	}
}

func TestCodeExchangeSetupFailsOnBadSecret(t *testing.T) {
	f := &fakeAuther{}
	srv := newFake(t, f)
	for _, sc := range []string{"code-exchange", "refresh"} {
		code, out, errOut := runTool(t, "-url", srv.URL, "-c", "2", "-d", "50ms", "-warmup", "0", "-scenario", sc,
			"-client-id", f.oidc.clientID, "-client-secret", "wrong", "-redirect-uri", f.oidc.redirect)
		if code != 1 || strings.Contains(out, "reqs=") || !strings.Contains(errOut, "status 401") || !strings.Contains(errOut, "invalid_client") {
			t.Errorf("%s: exit=%d stdout=%q stderr=%q", sc, code, out, errOut)
		}
	}
	// A redirect URI the server does not know fails in setup too.
	code, _, errOut := runTool(t, "-url", srv.URL, "-c", "1", "-d", "50ms", "-warmup", "0", "-scenario", "code-exchange",
		"-client-id", f.oidc.clientID, "-client-secret", f.oidc.secret, "-redirect-uri", "http://127.0.0.1:9/other")
	if code != 1 || !strings.Contains(errOut, "status 400") {
		t.Errorf("unknown redirect URI: exit=%d stderr=%q", code, errOut)
	}
}

func TestJSONChecks(t *testing.T) {
	for body, want := range map[string]bool{`{"keys":[{"kty":"EC"}]}`: true, `{"keys":[]}`: false, `{}`: false, `null`: false, `<html>`: false} {
		if got := checkJWKS([]byte(body)) == ""; got != want {
			t.Errorf("checkJWKS(%s) ok=%v, want %v", body, got, want)
		}
	}
	for body, want := range map[string]bool{`{"issuer":"http://127.0.0.1:3999"}`: true, `{"issuer":""}`: false, `{"keys":[]}`: false, `[]`: false} {
		if got := checkDiscovery([]byte(body)) == ""; got != want {
			t.Errorf("checkDiscovery(%s) ok=%v, want %v", body, got, want)
		}
	}
	if s := snippet([]byte(strings.Repeat("x", 500))); len(s) > 200 || !strings.HasSuffix(s, `…"`) {
		t.Errorf("snippet = %q", s)
	}
}
