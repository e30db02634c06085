package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeAuther mimics the parts of the Auther API the tool uses.
type fakeAuther struct {
	cookieName string
	broken     bool // sign-in answers 429, get-session always null
	failSignUp bool

	mu       sync.Mutex
	users    map[string]string // email -> password
	sessions map[string]bool   // token

	origin         string
	badOrigin      atomic.Int64 // POSTs without the right Origin/Content-Type
	invalidCookies atomic.Int64 // get-session with our cookie name, unknown token
	sessionHits    atomic.Int64

	oidc fakeOIDC
}

func newFake(t *testing.T, f *fakeAuther) *httptest.Server {
	if f.cookieName == "" {
		f.cookieName = "__Secure-myapp.session_token"
	}
	f.users = map[string]string{}
	f.sessions = map[string]bool{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/auth/sign-up/email", f.signUp)
	mux.HandleFunc("POST /api/auth/sign-in/email", f.signIn)
	mux.HandleFunc("GET /api/auth/get-session", f.getSession)
	f.oidc.register(mux, f)
	srv := httptest.NewServer(mux)
	f.origin = srv.URL
	t.Cleanup(srv.Close)
	return srv
}

func (f *fakeAuther) newSession() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	tok := hex.EncodeToString(b)
	f.mu.Lock()
	f.sessions[tok] = true
	f.mu.Unlock()
	return tok
}

func (f *fakeAuther) decode(w http.ResponseWriter, r *http.Request) (credentials, bool) {
	if r.Header.Get("Origin") != f.origin || r.Header.Get("Content-Type") != "application/json" {
		f.badOrigin.Add(1)
	}
	var c credentials
	if err := json.NewDecoder(r.Body).Decode(&c); err != nil || c.Email == "" || c.Password == "" {
		http.Error(w, `{"code":"BAD"}`, http.StatusBadRequest)
		return c, false
	}
	return c, true
}

func (f *fakeAuther) signUp(w http.ResponseWriter, r *http.Request) {
	c, ok := f.decode(w, r)
	if !ok {
		return
	}
	if f.failSignUp {
		http.Error(w, `{"code":"INTERNAL"}`, http.StatusInternalServerError)
		return
	}
	f.mu.Lock()
	_, dup := f.users[c.Email]
	f.users[c.Email] = c.Password
	f.mu.Unlock()
	if dup {
		http.Error(w, `{"code":"USER_ALREADY_EXISTS"}`, http.StatusUnprocessableEntity)
		return
	}
	tok := f.newSession()
	// A signed, URL-encoded value like Better Auth's, plus a second cookie
	// that must not be mistaken for the session token.
	w.Header().Add("Set-Cookie", "__Secure-myapp.session_data=abc; Path=/")
	w.Header().Add("Set-Cookie", f.cookieName+"="+tok+".c2lnbmF0dXJl%2B%2F%3D; Path=/; HttpOnly; Secure; SameSite=Lax")
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"token":"` + tok + `","user":{"email":"` + c.Email + `"}}`))
}

func (f *fakeAuther) signIn(w http.ResponseWriter, r *http.Request) {
	c, ok := f.decode(w, r)
	if !ok {
		return
	}
	if f.broken {
		http.Error(w, `{"code":"RATE_LIMITED"}`, http.StatusTooManyRequests)
		return
	}
	f.mu.Lock()
	pw, exists := f.users[c.Email]
	f.mu.Unlock()
	if !exists || pw != c.Password {
		http.Error(w, `{"code":"INVALID_EMAIL_OR_PASSWORD"}`, http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"redirect":false,"token":"` + f.newSession() + `","user":{}}`))
}

func (f *fakeAuther) getSession(w http.ResponseWriter, r *http.Request) {
	f.sessionHits.Add(1)
	w.Header().Set("Content-Type", "application/json")
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if c := f.cookieToken(r); c != "" {
		tok = c
	}
	f.mu.Lock()
	valid := f.sessions[tok]
	f.mu.Unlock()
	if !valid && len(r.CookiesNamed(f.cookieName)) > 0 {
		f.invalidCookies.Add(1)
	}
	if !valid || f.broken {
		_, _ = w.Write([]byte("null"))
		return
	}
	_, _ = w.Write([]byte(`{"session":{"token":"x"},"user":{"id":"u"}}`))
}

// cookieToken returns the session token of the request's cookie, or "".
func (f *fakeAuther) cookieToken(r *http.Request) string {
	tok := ""
	for _, c := range r.CookiesNamed(f.cookieName) {
		v, err := url.QueryUnescape(c.Value)
		if err != nil {
			continue
		}
		tok, _, _ = strings.Cut(v, ".")
	}
	return tok
}

func runTool(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb strings.Builder
	code = run(t.Context(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// reqsOf finds the report line for name and returns its reqs and errors.
func reqsOf(t *testing.T, out, name string) (reqs, errs int) {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` +c=\d+  d=\S+  reqs=(\d+)  rps=[\d.]+  p50=\S+ p90=\S+ p99=\S+ max=\S+ errors=(\d+)$`)
	m := re.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no report line for %q in:\n%s", name, out)
	}
	reqs, _ = strconv.Atoi(m[1])
	errs, _ = strconv.Atoi(m[2])
	return reqs, errs
}

func TestAllScenariosAgainstFakeServer(t *testing.T) {
	f := &fakeAuther{}
	srv := newFake(t, f)
	code, out, errOut := runTool(t, "-url", srv.URL, "-c", "3", "-flood-concurrency", "2",
		"-d", "150ms", "-warmup", "30ms", "-json", "-pid", strconv.Itoa(os.Getpid()))
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, name := range []string{"signup", "signin", "session", "session-invalid", "session-flood", "session-flood/signin", "jwks", "discovery"} {
		reqs, errs := reqsOf(t, out, name)
		if reqs == 0 || errs != 0 {
			t.Errorf("%s: reqs=%d errors=%d, want >0 and 0\n%s", name, reqs, errs, out)
		}
	}
	if !strings.Contains(out, "session-flood        c=3 ") || !strings.Contains(out, "session-flood/signin c=2 ") {
		t.Errorf("session-flood groups should report c=3 and c=2:\n%s", out)
	}
	if strings.Contains(out, "code-exchange") || strings.Contains(out, "refresh") {
		t.Errorf("all without client flags ran an OAuth client scenario:\n%s", out)
	}
	if n := strings.Count(out, "server pid="+strconv.Itoa(os.Getpid())); n != 7 {
		t.Errorf("memory lines = %d, want 7", n)
	}
	if f.badOrigin.Load() != 0 {
		t.Errorf("%d POSTs lacked Origin/Content-Type", f.badOrigin.Load())
	}
	if f.invalidCookies.Load() == 0 {
		t.Error("session-invalid never sent a cookie with the server's (prefixed) cookie name")
	}

	var lines []scenarioLine
	for l := range strings.SplitSeq(out, "\n") {
		if strings.HasPrefix(l, "{") {
			var sl scenarioLine
			if err := json.Unmarshal([]byte(l), &sl); err != nil {
				t.Fatalf("bad JSON line %q: %v", l, err)
			}
			lines = append(lines, sl)
		}
	}
	if len(lines) != 7 {
		t.Fatalf("JSON lines = %d, want 7", len(lines))
	}
	for _, l := range lines {
		if l.Requests == 0 || l.Errors != 0 || l.Concurrency != 3 || l.Mem == nil || l.Mem.RSSAfter <= 0 {
			t.Errorf("JSON %+v", l)
		}
		if (l.Scenario == "session-flood") != (l.Flood != nil) || l.Authorize != nil {
			t.Errorf("%s: flood = %+v, authorize = %+v", l.Scenario, l.Flood, l.Authorize)
		}
	}
	if fl := lines[4].Flood; fl == nil || fl.Concurrency != 2 || fl.Requests == 0 {
		t.Errorf("session-flood flood figures = %+v", fl)
	}
}

func TestUnexpectedResponsesAreCounted(t *testing.T) {
	f := &fakeAuther{broken: true}
	srv := newFake(t, f)
	code, out, errOut := runTool(t, "-url", srv.URL, "-c", "2", "-d", "100ms", "-warmup", "0",
		"-scenario", "signin,session")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, name := range []string{"signin", "session"} {
		reqs, errs := reqsOf(t, out, name)
		if reqs == 0 || errs != reqs {
			t.Errorf("%s: reqs=%d errors=%d, want every request to be an error", name, reqs, errs)
		}
	}
	if !regexp.MustCompile(`unexpected: status 429×\d+`).MatchString(out) {
		t.Errorf("missing 429 breakdown:\n%s", out)
	}
	if !regexp.MustCompile(`unexpected: unexpected-body×\d+`).MatchString(out) {
		t.Errorf("missing body breakdown:\n%s", out)
	}
}

func TestMaxRequestsCapsTheRun(t *testing.T) {
	f := &fakeAuther{}
	srv := newFake(t, f)
	start := time.Now()
	code, out, errOut := runTool(t, "-url", srv.URL, "-c", "3", "-d", "1m", "-warmup", "0",
		"-max-requests", "10", "-scenario", "session-invalid")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if time.Since(start) > 20*time.Second {
		t.Fatal("run was not stopped by -max-requests")
	}
	if reqs, errs := reqsOf(t, out, "session-invalid"); reqs != 10 || errs != 0 {
		t.Errorf("reqs=%d errors=%d, want 10 and 0", reqs, errs)
	}
	// 1 preflight + 10 measured requests.
	if got := f.sessionHits.Load(); got != 11 {
		t.Errorf("server saw %d get-session requests, want 11", got)
	}
}

func TestSetupFailureIsReported(t *testing.T) {
	srv := newFake(t, &fakeAuther{failSignUp: true})
	code, out, errOut := runTool(t, "-url", srv.URL, "-c", "2", "-d", "50ms", "-warmup", "0", "-scenario", "session")
	if code != 1 || !strings.Contains(errOut, "status 500") || strings.Contains(out, "reqs=") {
		t.Fatalf("exit=%d stdout=%q stderr=%q", code, out, errOut)
	}
}

func TestPreflightFailsFastWithoutServer(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL
	srv.Close() // nothing listens there any more
	code, out, errOut := runTool(t, "-url", u, "-scenario", "signup", "-d", "1m")
	if code != 1 || !strings.Contains(errOut, "not reachable") || out != "" {
		t.Fatalf("exit=%d stdout=%q stderr=%q", code, out, errOut)
	}
}

func TestSessionCookie(t *testing.T) {
	tests := []struct {
		headers    []string
		name, pair string
	}{
		{[]string{"auther.session_token=abc.sig%3D; Path=/; HttpOnly"}, "auther.session_token", "auther.session_token=abc.sig%3D"},
		{[]string{"__Secure-auther.session_token=v; Secure"}, "__Secure-auther.session_token", "__Secure-auther.session_token=v"},
		{[]string{"auther.session_data=x; Path=/", "custom.session_token=t.s"}, "custom.session_token", "custom.session_token=t.s"},
		{[]string{"auther.session_token=; Max-Age=0", "other=1"}, "", ""},
		{[]string{"session_token=nodot"}, "", ""},
		{nil, "", ""},
	}
	for _, tt := range tests {
		name, pair := sessionCookie(tt.headers)
		if name != tt.name || pair != tt.pair {
			t.Errorf("sessionCookie(%q) = %q, %q; want %q, %q", tt.headers, name, pair, tt.name, tt.pair)
		}
	}
}

func TestInvalidCookieValueIsWellFormed(t *testing.T) {
	a, b := invalidCookieValue(), invalidCookieValue()
	if a == b {
		t.Fatal("invalid cookie values should be random")
	}
	tok, sig, ok := strings.Cut(a, ".")
	if !ok || !regexp.MustCompile(`^[A-Za-z0-9]{32}$`).MatchString(tok) {
		t.Fatalf("token part of %q is malformed", a)
	}
	raw, err := url.QueryUnescape(sig)
	if err != nil {
		t.Fatal(err)
	}
	if mac, err := base64.StdEncoding.DecodeString(raw); err != nil || len(mac) != 32 {
		t.Fatalf("signature %q is not base64 of 32 bytes: %v", raw, err)
	}
	// Must be valid as a Cookie header value (no spaces, quotes, ; or ,).
	if strings.ContainsAny(a, " \";,\\") {
		t.Fatalf("%q is not a valid cookie value", a)
	}
}

func TestBodyMatches(t *testing.T) {
	tests := []struct {
		want expectation
		head string
		full bool
		ok   bool
	}{
		{expectObject, `{"session":{}}`, false, true},
		{expectObject, "  \n{", true, true},
		{expectObject, "null", false, false},
		{expectObject, "", false, false},
		{expectNull, "null", false, true},
		{expectNull, "null\n", false, true},
		{expectNull, "nullx", false, false},
		{expectNull, `{"session":{}}`, false, false},
		{expectNull, "null", true, false}, // body longer than the buffer
		{expectStatus, "", false, true},
	}
	for _, tt := range tests {
		if got := bodyMatches(tt.want, []byte(tt.head), tt.full); got != tt.ok {
			t.Errorf("bodyMatches(%d, %q, %v) = %v, want %v", tt.want, tt.head, tt.full, got, tt.ok)
		}
	}
}

func TestParseScenarios(t *testing.T) {
	got, err := parseScenarios("session, signin,session", false)
	if err != nil || strings.Join(got, ",") != "session,signin" {
		t.Errorf("got %v, %v", got, err)
	}
	got, err = parseScenarios("all", false)
	if want := "signup,signin,session,session-invalid,session-flood,jwks,discovery"; err != nil || strings.Join(got, ",") != want {
		t.Errorf("all without a client = %v, %v; want %s", got, err, want)
	}
	got, err = parseScenarios("all", true)
	if err != nil || strings.Join(got, ",") != strings.Join(scenarioNames, ",") {
		t.Errorf("all with a client = %v, %v", got, err)
	}
	got, err = parseScenarios("refresh,all", false)
	if err != nil || got[0] != "refresh" || len(got) != 8 {
		t.Errorf("refresh,all = %v, %v", got, err)
	}
	if _, err := parseScenarios("sessions", false); err == nil {
		t.Error("unknown scenario accepted")
	}
	if _, err := parseScenarios(" , ", false); err == nil {
		t.Error("empty selection accepted")
	}
}
