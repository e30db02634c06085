package httpapi_test

// The bad-input suite: every route under /api/auth is sent malformed,
// mis-typed, oversized, unauthenticated, cross-origin and wrongly-routed
// requests. Each case must get its exact status and a JSON {code, message}
// error (never a 500), and must leave the database exactly as it was: users,
// credential hashes and sessions are snapshotted before and after every case,
// and the victim's browser session must still work afterwards.
//
// One user (alice) with two sessions and a second user (bob) are created per
// backend and shared by all cases, so the suite pays for only a handful of
// scrypt hashes. Requests that a lenient server would act on carry otherwise
// valid bodies (alice's real password, her second session's token…), so a
// case that is wrongly accepted shows up as a change in the snapshot.

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/auther/auther/internal/session"
	"github.com/auther/auther/internal/store"
)

const (
	biAliceEmail   = "alice@example.com"
	biAlicePass    = "alice-password-1"
	biBobEmail     = "bob@example.com"
	biBobPass      = "bob-password-1"
	biNewPass      = "brand-new-password-1"
	biCookieName   = "auther.session_token" // no __Secure- on http loopback
	biMaxBody      = 1 << 20
	biOtherSecret  = "another-secret-another-secret-0123456789"
	biEvil         = "https://evil.example"
	biValidation   = "VALIDATION_ERROR"
	biBodyNotObj   = "BODY_MUST_BE_AN_OBJECT"
	biMediaType    = "UNSUPPORTED_MEDIA_TYPE"
	biUnauthorized = "UNAUTHORIZED"
)

// biWho says which client sends a case.
type biWho int

const (
	biAlice biWho = iota // alice's browser, holding her session cookie
	biAnon               // a fresh client without cookies
)

type biCase struct {
	name    string
	method  string // "" = the endpoint's method
	path    string // "" = the endpoint's path
	as      biWho
	body    any // nil: no body; string: sent raw, as application/json unless headers say otherwise
	headers []string
	status  int
	code    string // expected error code (unless want is set)
	msgHas  string // the error message must contain this
	allow   string // expected Allow header
	want    string // for answers that are not errors: the exact JSON body
	email   string // an address that must still have no user afterwards
}

type biGroup struct {
	name, method, path string
	cases              []biCase
}

type biFixture struct {
	e           *env
	host        string // host:port of the API
	alice       *client
	aliceID     string
	alice2      string // raw token of alice's second session
	bob         *client
	bobToken    string // raw token of bob's session
	bobHash     string // stored hash of bob's session (what list-sessions shows)
	other       session.Signer
	emails      int
	aliceBefore string // alice's user row, for the final check
}

func TestBadInput(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		f := newBIFixture(t, e)
		for _, g := range f.groups() {
			f.runGroup(t, g)
		}
		t.Run("no-op answers", func(t *testing.T) {
			for _, tc := range f.noOpCases() {
				t.Run(tc.name, func(t *testing.T) { f.runCase(t, tc) })
			}
		})
		t.Run("hostile User-Agent", func(t *testing.T) { f.hostileUserAgent(t) })
		t.Run("nothing changed overall", func(t *testing.T) { f.finalChecks(t) })
		// Last, because it moves the clock past the fresh age.
		t.Run("list-sessions on a stale session", func(t *testing.T) {
			e.clock.Advance(25 * time.Hour)
			f.runCase(t, biCase{name: "stale", method: http.MethodGet, path: "/api/auth/list-sessions", as: biAlice,
				status: http.StatusForbidden, code: "SESSION_NOT_FRESH"})
		})
	})
}

func newBIFixture(t *testing.T, e *env) *biFixture {
	t.Helper()
	f := &biFixture{e: e, host: strings.TrimPrefix(e.origin, "http://"), other: session.NewSigner(biOtherSecret)}
	f.alice = e.client()
	body := f.alice.signUp(biAliceEmail, biAlicePass)
	f.aliceID, _ = body["user"].(map[string]any)["id"].(string)
	r := e.client().post("/api/auth/sign-in/email", map[string]any{"email": biAliceEmail, "password": biAlicePass})
	if r.Status != 200 {
		t.Fatalf("second sign-in: %d %s", r.Status, r.Body)
	}
	f.alice2, _ = r.json(t)["token"].(string)
	f.bob = e.client()
	f.bobToken, _ = f.bob.signUp(biBobEmail, biBobPass)["token"].(string)
	f.bobHash = session.Hash(f.bobToken)
	if f.aliceID == "" || f.alice2 == "" || f.bobToken == "" {
		t.Fatal("fixture: missing ids or tokens")
	}
	u, err := e.store.GetUser(context.Background(), f.aliceID)
	if err != nil {
		t.Fatal(err)
	}
	f.aliceBefore = biUserLine(u)
	return f
}

func (f *biFixture) nextEmail() string {
	f.emails++
	return fmt.Sprintf("bi-new-%d@example.com", f.emails)
}

// ---- running a case ----

func (f *biFixture) runGroup(t *testing.T, g biGroup) {
	t.Run(g.name, func(t *testing.T) {
		for _, tc := range g.cases {
			if tc.method == "" {
				tc.method = g.method
			}
			if tc.path == "" {
				tc.path = g.path
			}
			t.Run(tc.name, func(t *testing.T) { f.runCase(t, tc) })
		}
	})
}

func (f *biFixture) runCase(t *testing.T, tc biCase) {
	// Every write stamps updatedAt from the clock: moving it makes even a
	// write of identical values show in the snapshot.
	f.e.clock.Advance(time.Millisecond)
	before := f.snapshot(t)
	c := f.alice
	if tc.as == biAnon {
		c = f.e.client()
	}
	r := c.do(tc.method, tc.path, tc.body, tc.headers...)
	if tc.want != "" {
		biAssertBody(t, r, tc.status, tc.want)
	} else {
		biAssertError(t, r, tc.status, tc.code, tc.msgHas)
	}
	if tc.allow != "" && r.Header.Get("Allow") != tc.allow {
		t.Errorf("Allow = %q, want %q", r.Header.Get("Allow"), tc.allow)
	}
	if after := f.snapshot(t); after != before {
		t.Errorf("the request changed the database:\n%s", biDiff(before, after))
	}
	if tc.email != "" {
		if u, err := f.e.store.GetUserByEmail(context.Background(), tc.email); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a user exists for %s after a rejected sign-up: %v %v", tc.email, u, err)
		}
	}
	f.checkAlice(t)
}

// checkAlice: alice's browser session still works, without refreshing it.
func (f *biFixture) checkAlice(t *testing.T) {
	t.Helper()
	r := f.alice.get("/api/auth/get-session?disableRefresh=true")
	if r.Status != 200 || string(r.Body) == "null" {
		t.Fatalf("alice's session no longer works: %d %s", r.Status, r.Body)
	}
	var s struct {
		User struct{ ID, Name, Email string }
	}
	if err := json.Unmarshal(r.Body, &s); err != nil || s.User.ID != f.aliceID || s.User.Email != biAliceEmail {
		t.Fatalf("alice's session answers %s (%v)", r.Body, err)
	}
}

func biAssertError(t *testing.T, r response, status int, code, msgHas string) {
	t.Helper()
	if r.Status != status {
		t.Errorf("status = %d, want %d (body %.300s)", r.Status, status, r.Body)
	}
	if r.Status >= 500 {
		t.Errorf("server error %d", r.Status)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var e map[string]any
	if err := json.Unmarshal(r.Body, &e); err != nil {
		t.Errorf("body %.300q is not a JSON object: %v", r.Body, err)
		return
	}
	if got, _ := e["code"].(string); got != code {
		t.Errorf("code = %q, want %q (body %.300s)", got, code, r.Body)
	}
	msg, _ := e["message"].(string)
	if strings.TrimSpace(msg) == "" {
		t.Errorf("empty message: %s", r.Body)
	}
	if msgHas != "" && !strings.Contains(msg, msgHas) {
		t.Errorf("message %q does not mention %q", msg, msgHas)
	}
	biNoNewSession(t, r)
}

func biAssertBody(t *testing.T, r response, status int, want string) {
	t.Helper()
	if r.Status != status {
		t.Errorf("status = %d, want %d (body %.300s)", r.Status, status, r.Body)
	}
	var got, exp any
	if err := json.Unmarshal(r.Body, &got); err != nil {
		t.Errorf("body %.300q is not JSON: %v", r.Body, err)
	}
	if err := json.Unmarshal([]byte(want), &exp); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, exp) {
		t.Errorf("body = %.300s, want %s", r.Body, want)
	}
	biNoNewSession(t, r)
}

// biNoNewSession: a rejected request never hands out a session.
func biNoNewSession(t *testing.T, r response) {
	t.Helper()
	if tok := r.Header.Get("set-auth-token"); tok != "" {
		t.Errorf("response carries set-auth-token %q", tok)
	}
	for _, v := range r.Header.Values("Set-Cookie") {
		ck, err := http.ParseSetCookie(v)
		if err == nil && strings.HasSuffix(ck.Name, ".session_token") && ck.Value != "" && ck.MaxAge >= 0 {
			t.Errorf("response sets a session cookie: %s", v)
		}
	}
}

// snapshot renders every user with its accounts (password hashes included)
// and sessions, so that any write shows up as a difference.
func (f *biFixture) snapshot(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	st := f.e.store
	users, err := st.ListUsers(ctx, store.ListUsersOptions{Limit: 1000})
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	var b strings.Builder
	for i := range users {
		u := &users[i]
		b.WriteString(biUserLine(u))
		accs, err := st.ListAccounts(ctx, u.ID)
		if err != nil {
			t.Fatalf("snapshot: %v", err)
		}
		for _, a := range accs {
			pw := "<nil>"
			if a.Password != nil {
				sum := sha256.Sum256([]byte(*a.Password))
				pw = hex.EncodeToString(sum[:8])
			}
			fmt.Fprintf(&b, "  account %s %s/%s password#%s updated=%s\n", a.ID, a.ProviderID, a.AccountID, pw, biTime(a.UpdatedAt))
		}
		sessions, err := st.ListSessions(ctx, u.ID, time.Time{})
		if err != nil {
			t.Fatalf("snapshot: %v", err)
		}
		for _, s := range sessions {
			fmt.Fprintf(&b, "  session %s %s expires=%s updated=%s\n", s.ID, s.TokenHash, biTime(s.ExpiresAt), biTime(s.UpdatedAt))
		}
	}
	return b.String()
}

// biDiff lists the lines only in a (-) and only in b (+).
func biDiff(a, b string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	ina, inb := in(a), in(b)
	var out strings.Builder
	for _, l := range strings.Split(a, "\n") {
		if !inb[l] {
			out.WriteString("- " + l + "\n")
		}
	}
	for _, l := range strings.Split(b, "\n") {
		if !ina[l] {
			out.WriteString("+ " + l + "\n")
		}
	}
	return out.String()
}

func biUserLine(u *store.User) string {
	img := "<nil>"
	if u.Image != nil {
		img = fmt.Sprintf("%q", *u.Image)
	}
	return fmt.Sprintf("user %s %q %q verified=%v image=%s created=%s updated=%s\n",
		u.ID, u.Name, u.Email, u.EmailVerified, img, biTime(u.CreatedAt), biTime(u.UpdatedAt))
}

func biTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// ---- building bodies ----

// biObj renders key/value pairs as a JSON object, in order.
func biObj(kv ...any) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(kv[i].(string))
		v, err := json.Marshal(kv[i+1])
		if err != nil {
			panic(err)
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.String()
}

// biSet returns a copy of kv with key set to v (replaced or appended).
func biSet(kv []any, key string, v any) []any {
	out := append([]any(nil), kv...)
	for i := 0; i+1 < len(out); i += 2 {
		if out[i] == key {
			out[i+1] = v
			return out
		}
	}
	return append(out, key, v)
}

func biDel(kv []any, key string) []any {
	var out []any
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i] != key {
			out = append(out, kv[i], kv[i+1])
		}
	}
	return out
}

func biStr(kv []any, key string) string {
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i] == key {
			s, _ := kv[i+1].(string)
			return s
		}
	}
	return ""
}

// biFresh is the body's email when it is one of the never-registered
// addresses that sign-up cases use.
func biFresh(kv []any) string {
	if e := biStr(kv, "email"); strings.HasPrefix(e, "bi-new-") {
		return e
	}
	return ""
}

func biForm(kv []any) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i].(string), fmt.Sprint(kv[i+1]))
	}
	return v.Encode()
}

type biEdit func([]any) []any

func biSetF(key string, v any) biEdit { return func(kv []any) []any { return biSet(kv, key, v) } }
func biDelF(key string) biEdit        { return func(kv []any) []any { return biDel(kv, key) } }
func biKeep(kv []any) []any           { return kv }
func biEdits(es ...biEdit) biEdit {
	return func(kv []any) []any {
		for _, e := range es {
			kv = e(kv)
		}
		return kv
	}
}

// ---- generic case families ----

// biBodyCases are unparseable, non-object, wrongly-labelled and oversized
// variants of base(), a body the endpoint would act on.
func biBodyCases(who biWho, base func() []any) []biCase {
	var cs []biCase
	add := func(name string, status int, code string, body func(kv []any, obj string) string, headers ...string) {
		kv := base()
		cs = append(cs, biCase{name: name, as: who, body: body(kv, biObj(kv...)), headers: headers,
			status: status, code: code, email: biFresh(kv)})
	}
	add("malformed JSON: trailing comma", 400, biValidation, func(_ []any, o string) string { return o[:len(o)-1] + ",}" })
	add("malformed JSON: single quotes", 400, biValidation, func(_ []any, o string) string { return strings.ReplaceAll(o, `"`, `'`) })
	add("malformed JSON: raw control character", 400, biValidation, func(_ []any, o string) string { return "{\x01" + o[1:] })
	add("truncated JSON: cut in half", 400, biValidation, func(_ []any, o string) string { return o[:len(o)/2] })
	add("truncated JSON: no closing brace", 400, biValidation, func(_ []any, o string) string { return o[:len(o)-1] })
	add("trailing data after the object", 400, biValidation, func(_ []any, o string) string { return o + ` {"x":1}` })
	add("JSON array holding the object", 400, biBodyNotObj, func(_ []any, o string) string { return "[" + o + "]" })
	add("empty JSON array", 400, biBodyNotObj, func(_ []any, o string) string { return "[]" })
	add("JSON string", 400, biBodyNotObj, func(_ []any, o string) string { b, _ := json.Marshal(o); return string(b) })
	add("JSON number", 400, biBodyNotObj, func(_ []any, o string) string { return "42" })
	add("JSON null", 400, biBodyNotObj, func(_ []any, o string) string { return "null" })
	add("JSON boolean", 400, biBodyNotObj, func(_ []any, o string) string { return "true" })
	add("Content-Type text/plain", 400, biMediaType, func(_ []any, o string) string { return o }, "Content-Type", "text/plain")
	add("Content-Type text/plain;charset=UTF-8", 400, biMediaType, func(_ []any, o string) string { return o }, "Content-Type", "text/plain;charset=UTF-8")
	add("Content-Type x-www-form-urlencoded", 400, biMediaType, func(kv []any, _ string) string { return biForm(kv) },
		"Content-Type", "application/x-www-form-urlencoded")
	add("Content-Type multipart/form-data", 400, biMediaType, func(_ []any, o string) string { return o }, "Content-Type", "multipart/form-data; boundary=xyz")
	add("no Content-Type", 400, biMediaType, func(_ []any, o string) string { return o }, "Content-Type", "")
	add("nesting deeper than the decoder allows", 400, biValidation, func(_ []any, o string) string {
		return o[:len(o)-1] + `,"deep":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + "}"
	})
	add("body one byte over 1 MiB", 413, "PAYLOAD_TOO_LARGE", func(_ []any, o string) string {
		prefix := o[:len(o)-1] + `,"pad":"`
		return prefix + strings.Repeat("a", biMaxBody+1-len(prefix)-2) + `"}`
	})
	add("body over 1 MiB with the wrong Content-Type", 413, "PAYLOAD_TOO_LARGE", func(_ []any, o string) string {
		return o + strings.Repeat(" ", biMaxBody)
	}, "Content-Type", "text/plain")
	return cs
}

// guardCases: cross-origin and Origin-less state-changing requests.
func (f *biFixture) guardCases(who biWho, base func() []any) []biCase {
	body := func() (any, string) {
		if base == nil {
			return nil, ""
		}
		kv := base()
		return biObj(kv...), biFresh(kv)
	}
	var cs []biCase
	add := func(name string, as biWho, status int, code string, headers ...string) {
		b, email := body()
		cs = append(cs, biCase{name: name, as: as, body: b, headers: headers, status: status, code: code, email: email})
	}
	add("untrusted Origin", who, 403, "INVALID_ORIGIN", "Origin", biEvil)
	add("look-alike Origin", who, 403, "INVALID_ORIGIN", "Origin", f.e.origin+".evil.example")
	add("own host over https as Origin", who, 403, "INVALID_ORIGIN", "Origin", "https://"+f.host)
	add("Origin: null", who, 403, "MISSING_OR_NULL_ORIGIN", "Origin", "null")
	if who != biAlice {
		add("cookie with an untrusted Origin", biAlice, 403, "INVALID_ORIGIN", "Origin", biEvil)
	}
	add("cookie without Origin", biAlice, 403, "MISSING_OR_NULL_ORIGIN", "Origin", "")
	add("cookie, no Origin, untrusted Referer", biAlice, 403, "MISSING_OR_NULL_ORIGIN", "Origin", "", "Referer", biEvil+"/page")
	add("cookie, no Origin, look-alike Referer", biAlice, 403, "MISSING_OR_NULL_ORIGIN", "Origin", "", "Referer", f.e.origin+".evil.example/page")
	return cs
}

// noSessionCases: requests to a session-only endpoint without a valid session.
func (f *biFixture) noSessionCases(base func() []any) []biCase {
	forged := f.alice2 + "." + strings.Repeat("A", 43) + "="
	var cs []biCase
	add := func(name string, headers ...string) {
		var b any
		if base != nil {
			b = biObj(base()...)
		}
		cs = append(cs, biCase{name: name, as: biAnon, body: b, headers: headers, status: 401, code: biUnauthorized})
	}
	add("no session")
	add("garbage Bearer token", "Authorization", "Bearer not-a-session-token")
	add("Bearer token signed with another secret", "Authorization", "Bearer "+f.other.Sign(f.alice2))
	add("Bearer token with a forged signature", "Authorization", "Bearer "+forged)
	add("Bearer holding a stored session hash", "Authorization", "Bearer "+f.bobHash)
	add("Basic credentials", "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(biAliceEmail+":"+biAlicePass)))
	add("unsigned session cookie", "Cookie", biCookieName+"="+f.alice2)
	add("session cookie signed with another secret", "Cookie", biCookieName+"="+url.QueryEscape(f.other.Sign(f.alice2)))
	add("session cookie with a forged signature", "Cookie", biCookieName+"="+url.QueryEscape(forged))
	return cs
}

// methodCases: every other method, from alice's browser, must be a JSON 405
// that does nothing (GET requests skip the Origin check, so they must not act).
func biMethodCases(allowed string, base func() []any) []biCase {
	var cs []biCase
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if m == allowed {
			continue
		}
		var b any
		if m != http.MethodGet && base != nil {
			b = biObj(base()...)
		}
		cs = append(cs, biCase{name: "method " + m, method: m, as: biAlice, body: b, status: 405, code: "METHOD_NOT_ALLOWED", allow: allowed})
	}
	return cs
}

// badCallbacks are callbackURLs that would make Auther an open redirect.
func (f *biFixture) badCallbacks() []struct{ name, url string } {
	return []struct{ name, url string }{
		{"foreign origin", biEvil + "/welcome"},
		{"protocol-relative //evil.example", "//evil.example"},
		{"protocol-relative with a path", "//evil.example/welcome"},
		{"backslash /\\evil.example", "/\\evil.example"},
		{"javascript: URL", "javascript:alert(document.cookie)"},
		{"data: URL", "data:text/html,<script>alert(1)</script>"},
		{"own host with userinfo", "http://user:pass@" + f.host + "/"},
		{"look-alike host", f.e.origin + ".evil.example/"},
		{"own host over https", "https://" + f.host + "/"},
		{"upper-case foreign origin", "HTTPS://EVIL.EXAMPLE/"},
		{"newline inside a relative path", "/\n/evil.example"},
		// Browsers strip tabs and newlines from URLs, so this is //evil.example.
		{"tab inside a relative path", "/\t/evil.example"},
	}
}

// ---- the table ----

func (f *biFixture) groups() []biGroup {
	return []biGroup{
		f.okGroup(), f.unknownGroup(), f.getSessionGroup(), f.listSessionsGroup(),
		f.bodilessGroup("/sign-out"), f.bodilessGroup("/revoke-sessions"), f.bodilessGroup("/revoke-other-sessions"),
		f.signUpGroup(), f.signInGroup(), f.revokeSessionGroup(), f.updateUserGroup(), f.changePasswordGroup(),
		f.deleteUserGroup(), // last: its cases carry alice's real password
	}
}

func (f *biFixture) okGroup() biGroup {
	return biGroup{name: "ok", method: http.MethodGet, path: "/api/auth/ok", cases: biMethodCases(http.MethodGet, nil)}
}

func (f *biFixture) unknownGroup() biGroup {
	var cs []biCase
	for _, p := range []string{
		"/api/auth/does-not-exist", "/api/auth/", "/api/auth", "/api/auth/sign-up", "/api/auth/sign-in",
		"/api/auth/sign-in/email/extra", "/api/auth/ok/", "/api/auth/OK", "/api/auth/SIGN-OUT",
		"/api/auth/sign-in/social", "/api/auth/forget-password", "/api/auth/delete-user/callback",
	} {
		cs = append(cs,
			biCase{name: "GET " + p, method: http.MethodGet, path: p, as: biAlice, status: 404, code: "NOT_FOUND"},
			biCase{name: "POST " + p, method: http.MethodPost, path: p, as: biAlice, body: `{"email":"` + biAliceEmail + `"}`, status: 404, code: "NOT_FOUND"},
		)
	}
	return biGroup{name: "unknown path", cases: cs}
}

func (f *biFixture) getSessionGroup() biGroup {
	return biGroup{name: "get-session", method: http.MethodGet, path: "/api/auth/get-session", cases: biMethodCases(http.MethodGet, nil)}
}

func (f *biFixture) listSessionsGroup() biGroup {
	var cs []biCase
	for _, c := range f.noSessionCases(nil) {
		c.method = http.MethodGet
		cs = append(cs, c)
	}
	cs = append(cs, biMethodCases(http.MethodGet, nil)...)
	return biGroup{name: "list-sessions", method: http.MethodGet, path: "/api/auth/list-sessions", cases: cs}
}

// bodilessGroup: POST endpoints that take no parameters.
func (f *biFixture) bodilessGroup(p string) biGroup {
	cs := f.guardCases(biAlice, nil)
	cs = append(cs, f.noSessionCases(nil)...)
	cs = append(cs, biMethodCases(http.MethodPost, nil)...)
	return biGroup{name: strings.TrimPrefix(p, "/"), method: http.MethodPost, path: "/api/auth" + p, cases: cs}
}

func (f *biFixture) signUpGroup() biGroup {
	base := func() []any {
		return []any{"name", "New User", "email", f.nextEmail(), "password", biNewPass}
	}
	var cs []biCase
	add := func(name string, status int, code, msgHas string, edit biEdit, headers ...string) {
		kv := base()
		email := biStr(kv, "email")
		cs = append(cs, biCase{name: name, as: biAnon, body: biObj(edit(kv)...), headers: headers,
			status: status, code: code, msgHas: msgHas, email: email})
	}
	cs = append(cs, biBodyCases(biAnon, base)...)
	cs = append(cs, f.guardCases(biAnon, base)...)
	cs = append(cs, biMethodCases(http.MethodPost, base)...)

	// Wrong types.
	for _, tc := range []struct {
		field string
		v     any
		what  string
	}{
		{"email", 42, "a number"}, {"email", map[string]any{"address": "x@example.com"}, "an object"},
		{"email", []string{"x@example.com"}, "an array"}, {"email", true, "a boolean"},
		{"password", map[string]any{"value": biNewPass}, "an object"}, {"password", 12345678, "a number"},
		{"password", []string{biNewPass}, "an array"},
		{"name", 7, "a number"}, {"name", map[string]any{}, "an object"},
		{"image", 1, "a number"}, {"image", map[string]any{"url": "https://img.example/a.png"}, "an object"},
		{"rememberMe", "yes", "a string"}, {"rememberMe", "true", `the string "true"`}, {"rememberMe", 1, "a number"},
		{"callbackURL", 5, "a number"}, {"callbackURL", map[string]any{"url": "/"}, "an object"},
	} {
		add(tc.field+" is "+tc.what, 400, biValidation, "[body."+tc.field+"]", biSetF(tc.field, tc.v))
	}
	// Missing and null required fields.
	add("empty object", 400, biValidation, "[body.name]", func([]any) []any { return nil })
	for _, field := range []string{"name", "email", "password"} {
		add(field+" missing", 400, biValidation, "[body."+field+"]", biDelF(field))
		add(field+" null", 400, biValidation, "[body."+field+"]", biSetF(field, nil))
	}
	// JSON object keys are case-sensitive: "EMAIL" is not "email".
	add("keys in the wrong case", 400, biValidation, "[body.name]", func(kv []any) []any {
		return []any{"Name", biStr(kv, "name"), "EMAIL", biStr(kv, "email"), "Password", biStr(kv, "password")}
	})
	cs = append(cs,
		biCase{name: "empty body", as: biAnon, body: "", status: 400, code: biValidation, msgHas: "[body.name]"},
		biCase{name: "whitespace-only body", as: biAnon, body: " \n\t ", status: 400, code: biValidation, msgHas: "[body.name]"},
	)
	// Invalid emails.
	for _, tc := range []struct{ name, email string }{
		{"empty", ""}, {"only spaces", "   "}, {"no @", "new-user.example.com"}, {"no dot in the domain", "new-user@localhost"},
		{"space in the local part", "new user@example.com"}, {"space in the domain", "new-user@exam ple.com"},
		{"300 characters", strings.Repeat("a", 288) + "@example.com"}, {"display-name form", "A <a@b.co>"},
		{"two addresses", "a@b.co, c@d.co"}, {"empty local part", "@example.com"}, {"empty domain", "new-user@"},
		{"double @", "new-user@@example.com"}, {"empty domain label", "new-user@example..com"},
		{"leading dot in the domain", "new-user@.example.com"}, {"trailing dot", "new-user@example.com."},
		{"trailing comment", "new-user@example.com (comment)"}, {"NUL byte", "new-user\x00@example.com"},
		{"header injection", "new-user@example.com\r\nBcc: victim@example.com"},
	} {
		add("email "+tc.name, 400, "INVALID_EMAIL", "", biSetF("email", tc.email))
	}
	add("email in display-name form around a fresh address", 400, "INVALID_EMAIL", "", func(kv []any) []any {
		return biSet(kv, "email", "New User <"+biStr(kv, "email")+">")
	})
	// Password length, counted in characters (runes), not bytes.
	for _, tc := range []struct {
		name, pw, code string
	}{
		{"empty", "", "PASSWORD_TOO_SHORT"},
		{"of 7 characters", "1234567", "PASSWORD_TOO_SHORT"},
		{"of 7 two-byte runes (14 bytes)", strings.Repeat("é", 7), "PASSWORD_TOO_SHORT"},
		{"of 5 three-byte runes (15 bytes)", strings.Repeat("€", 5), "PASSWORD_TOO_SHORT"},
		{"of 129 characters", strings.Repeat("p", 129), "PASSWORD_TOO_LONG"},
		{"of 129 two-byte runes", strings.Repeat("é", 129), "PASSWORD_TOO_LONG"},
		{"of 10000 characters", strings.Repeat("p", 10000), "PASSWORD_TOO_LONG"},
	} {
		add("password "+tc.name, 400, tc.code, "", biSetF("password", tc.pw))
	}
	// Name and image.
	image := "https://img.example/"
	add("name of 257 characters", 400, biValidation, "[body.name]", biSetF("name", strings.Repeat("n", 257)))
	add("name of 257 two-byte runes", 400, biValidation, "[body.name]", biSetF("name", strings.Repeat("é", 257)))
	add("name of 10000 characters", 400, biValidation, "[body.name]", biSetF("name", strings.Repeat("n", 10000)))
	add("image URL of 2049 bytes", 400, biValidation, "[body.image]", biSetF("image", image+strings.Repeat("i", 2049-len(image))))
	add("name containing a NUL byte", 400, biValidation, "[body.name]", biSetF("name", "New\x00User"))
	add("image containing a NUL byte", 400, biValidation, "[body.image]", biSetF("image", image+"\x00.png"))
	// Duplicates; the limits on these bodies count runes, so the only
	// thing wrong is the taken address.
	exists := "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL"
	add("existing email", 422, exists, "", biSetF("email", biAliceEmail))
	add("existing email in another case, padded", 422, exists, "", biSetF("email", "  ALICE@Example.COM "))
	add("existing email, password of 128 two-byte runes (256 bytes)", 422, exists, "",
		biEdits(biSetF("email", biAliceEmail), biSetF("password", strings.Repeat("é", 128))))
	add("existing email, password of 8 three-byte runes", 422, exists, "",
		biEdits(biSetF("email", biAliceEmail), biSetF("password", strings.Repeat("€", 8))))
	add("existing email, name of 256 two-byte runes (512 bytes)", 422, exists, "",
		biEdits(biSetF("email", biAliceEmail), biSetF("name", strings.Repeat("é", 256))))
	// Open redirects and login CSRF.
	for _, cb := range f.badCallbacks() {
		add("callbackURL "+cb.name, 403, "INVALID_CALLBACK_URL", "", biSetF("callbackURL", cb.url))
	}
	add("cross-site top-level form post", 403, "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED", "", biKeep,
		"Origin", "", "Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "navigate")
	return biGroup{name: "sign-up-email", method: http.MethodPost, path: "/api/auth/sign-up/email", cases: cs}
}

func (f *biFixture) signInGroup() biGroup {
	base := func() []any { return []any{"email", biAliceEmail, "password", biAlicePass} }
	var cs []biCase
	add := func(name string, status int, code, msgHas string, edit biEdit, headers ...string) {
		cs = append(cs, biCase{name: name, as: biAnon, body: biObj(edit(base())...), headers: headers,
			status: status, code: code, msgHas: msgHas})
	}
	cs = append(cs, biBodyCases(biAnon, base)...)
	cs = append(cs, f.guardCases(biAnon, base)...)
	cs = append(cs, biMethodCases(http.MethodPost, base)...)

	for _, tc := range []struct {
		field string
		v     any
		what  string
	}{
		{"email", 1, "a number"}, {"email", []string{biAliceEmail}, "an array"}, {"email", map[string]any{}, "an object"},
		{"password", map[string]any{"value": biAlicePass}, "an object"}, {"password", 12345678, "a number"},
		{"password", true, "a boolean"},
		{"rememberMe", "no", "a string"}, {"rememberMe", 0, "a number"},
		{"callbackURL", 1, "a number"}, {"callbackURL", []string{"/"}, "an array"},
	} {
		add(tc.field+" is "+tc.what, 400, biValidation, "[body."+tc.field+"]", biSetF(tc.field, tc.v))
	}
	add("empty object", 400, biValidation, "[body.email]", func([]any) []any { return nil })
	for _, field := range []string{"email", "password"} {
		add(field+" missing", 400, biValidation, "[body."+field+"]", biDelF(field))
		add(field+" null", 400, biValidation, "[body."+field+"]", biSetF(field, nil))
	}
	add("keys in the wrong case", 400, biValidation, "[body.email]", func([]any) []any {
		return []any{"EMAIL", biAliceEmail, "Password", biAlicePass}
	})
	cs = append(cs, biCase{name: "empty body", as: biAnon, body: "", status: 400, code: biValidation, msgHas: "[body.email]"})
	for _, tc := range []struct{ name, email string }{
		{"empty", ""}, {"no @", "alice"}, {"no dot in the domain", "alice@localhost"},
		{"space in the local part", "ali ce@example.com"}, {"display-name form of a real account", "Alice <" + biAliceEmail + ">"},
		{"300 characters", strings.Repeat("a", 288) + "@example.com"},
		{"header injection", biAliceEmail + "\r\nBcc: victim@example.com"},
	} {
		add("email "+tc.name, 400, "INVALID_EMAIL", "", biSetF("email", tc.email))
	}
	bad := "INVALID_EMAIL_OR_PASSWORD"
	add("wrong password", 401, bad, "", biSetF("password", "wrong-password-1"))
	add("empty password", 401, bad, "", biSetF("password", ""))
	add("unknown email", 401, bad, "", biSetF("email", "nobody@example.com"))
	add("password of 129 characters", 401, bad, "", biSetF("password", biAlicePass+strings.Repeat("p", 129-len(biAlicePass))))
	add("password of 10000 characters", 401, bad, "", biSetF("password", strings.Repeat("p", 10000)))
	for _, cb := range f.badCallbacks() {
		add("correct password, callbackURL "+cb.name, 403, "INVALID_CALLBACK_URL", "", biSetF("callbackURL", cb.url))
	}
	add("cross-site top-level form post", 403, "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED", "", biKeep,
		"Origin", "", "Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "navigate")
	return biGroup{name: "sign-in-email", method: http.MethodPost, path: "/api/auth/sign-in/email", cases: cs}
}

func (f *biFixture) revokeSessionGroup() biGroup {
	// The base body names alice's second session: accepting any of these
	// cases would delete it.
	base := func() []any { return []any{"token", f.alice2} }
	var cs []biCase
	add := func(name string, msgHas string, edit biEdit) {
		cs = append(cs, biCase{name: name, as: biAlice, body: biObj(edit(base())...), status: 400, code: biValidation, msgHas: msgHas})
	}
	cs = append(cs, biBodyCases(biAlice, base)...)
	cs = append(cs, f.guardCases(biAlice, base)...)
	cs = append(cs, f.noSessionCases(base)...)
	cs = append(cs, biMethodCases(http.MethodPost, base)...)
	add("token is a number", "[body.token]", biSetF("token", 42))
	add("token is an object", "[body.token]", biSetF("token", map[string]any{"token": f.alice2}))
	add("token is an array", "[body.token]", biSetF("token", []string{f.alice2}))
	add("token is a boolean", "[body.token]", biSetF("token", true))
	add("empty object", "[body.token]", func([]any) []any { return nil })
	add("token null", "[body.token]", biSetF("token", nil))
	add("token empty", "[body.token]", biSetF("token", ""))
	cs = append(cs, biCase{name: "empty body", as: biAlice, body: "", status: 400, code: biValidation, msgHas: "[body.token]"})
	return biGroup{name: "revoke-session", method: http.MethodPost, path: "/api/auth/revoke-session", cases: cs}
}

func (f *biFixture) updateUserGroup() biGroup {
	base := func() []any { return []any{"name", "Renamed"} }
	var cs []biCase
	add := func(name string, status int, code, msgHas string, edit biEdit) {
		cs = append(cs, biCase{name: name, as: biAlice, body: biObj(edit(base())...), status: status, code: code, msgHas: msgHas})
	}
	cs = append(cs, biBodyCases(biAlice, base)...)
	cs = append(cs, f.guardCases(biAlice, base)...)
	cs = append(cs, f.noSessionCases(base)...)
	cs = append(cs, biMethodCases(http.MethodPost, base)...)
	for _, tc := range []struct {
		field string
		v     any
		what  string
	}{
		{"name", 7, "a number"}, {"name", map[string]any{"first": "A"}, "an object"}, {"name", []string{"A"}, "an array"},
		{"name", false, "a boolean"}, {"image", 1, "a number"}, {"image", map[string]any{}, "an object"},
		{"image", []string{"https://img.example/a.png"}, "an array"},
	} {
		add(tc.field+" is "+tc.what, 400, biValidation, "[body."+tc.field+"]", biSetF(tc.field, tc.v))
	}
	none := func([]any) []any { return nil }
	add("no fields", 400, biValidation, "", none)
	add("name null and nothing else", 400, biValidation, "", biSetF("name", nil))
	add("only an unknown field", 400, biValidation, "", func([]any) []any { return []any{"role", "admin"} })
	cs = append(cs,
		biCase{name: "empty body", as: biAlice, body: "", status: 400, code: biValidation},
		biCase{name: "whitespace-only body", as: biAlice, body: "\r\n ", status: 400, code: biValidation},
	)
	noEmail := "EMAIL_CAN_NOT_BE_UPDATED"
	add("email", 400, noEmail, "", func([]any) []any { return []any{"email", "other@example.com"} })
	add("name and email", 400, noEmail, "", biSetF("email", "other@example.com"))
	add("own email", 400, noEmail, "", func([]any) []any { return []any{"email", biAliceEmail} })
	add("another user's email", 400, noEmail, "", biSetF("email", biBobEmail))
	notAllowed := "FIELD_NOT_ALLOWED"
	add("emailVerified true", 400, notAllowed, "", func([]any) []any { return []any{"emailVerified", true} })
	add("name and emailVerified true", 400, notAllowed, "", biSetF("emailVerified", true))
	add("emailVerified false", 400, notAllowed, "", biSetF("emailVerified", false))
	add("id", 400, notAllowed, "", biSetF("id", "00000000-0000-0000-0000-000000000000"))
	add("createdAt", 400, notAllowed, "", biSetF("createdAt", "2000-01-01T00:00:00.000Z"))
	add("updatedAt", 400, notAllowed, "", biSetF("updatedAt", "2000-01-01T00:00:00.000Z"))
	image := "https://img.example/"
	add("name of 257 characters", 400, biValidation, "[body.name]", biSetF("name", strings.Repeat("n", 257)))
	add("name of 257 two-byte runes", 400, biValidation, "[body.name]", biSetF("name", strings.Repeat("é", 257)))
	add("name of 10000 characters", 400, biValidation, "[body.name]", biSetF("name", strings.Repeat("n", 10000)))
	add("image URL of 2049 bytes", 400, biValidation, "[body.image]", biSetF("image", image+strings.Repeat("i", 2049-len(image))))
	add("name containing a NUL byte", 400, biValidation, "[body.name]", biSetF("name", "Re\x00named"))
	add("image containing a NUL byte", 400, biValidation, "[body.image]", func([]any) []any { return []any{"image", image + "\x00.png"} })
	// Exactly 1 MiB is within the limit: the body is read and refused for
	// what it says, not for its size.
	prefix := `{"email":"other@example.com"`
	cs = append(cs, biCase{name: "body of exactly 1 MiB is parsed", as: biAlice,
		body:   prefix + strings.Repeat(" ", biMaxBody-len(prefix)-1) + "}",
		status: 400, code: noEmail})
	return biGroup{name: "update-user", method: http.MethodPost, path: "/api/auth/update-user", cases: cs}
}

func (f *biFixture) changePasswordGroup() biGroup {
	// With the right current password and revokeOtherSessions, accepting
	// any of these would change the hash and delete alice's other session.
	base := func() []any {
		return []any{"currentPassword", biAlicePass, "newPassword", biNewPass, "revokeOtherSessions", true}
	}
	var cs []biCase
	add := func(name string, status int, code, msgHas string, edit biEdit) {
		cs = append(cs, biCase{name: name, as: biAlice, body: biObj(edit(base())...), status: status, code: code, msgHas: msgHas})
	}
	cs = append(cs, biBodyCases(biAlice, base)...)
	cs = append(cs, f.guardCases(biAlice, base)...)
	cs = append(cs, f.noSessionCases(base)...)
	cs = append(cs, biMethodCases(http.MethodPost, base)...)
	for _, tc := range []struct {
		field string
		v     any
		what  string
	}{
		{"newPassword", 12345678, "a number"}, {"newPassword", map[string]any{"value": biNewPass}, "an object"},
		{"currentPassword", 12345678, "a number"}, {"currentPassword", []string{biAlicePass}, "an array"},
		{"revokeOtherSessions", "yes", "a string"}, {"revokeOtherSessions", 1, "a number"},
	} {
		add(tc.field+" is "+tc.what, 400, biValidation, "[body."+tc.field+"]", biSetF(tc.field, tc.v))
	}
	add("empty object", 400, biValidation, "[body.newPassword]", func([]any) []any { return nil })
	for _, field := range []string{"newPassword", "currentPassword"} {
		add(field+" missing", 400, biValidation, "[body."+field+"]", biDelF(field))
		add(field+" null", 400, biValidation, "[body."+field+"]", biSetF(field, nil))
	}
	cs = append(cs, biCase{name: "empty body", as: biAlice, body: "", status: 400, code: biValidation, msgHas: "[body.newPassword]"})
	for _, tc := range []struct {
		name, pw, code string
	}{
		{"empty", "", "PASSWORD_TOO_SHORT"},
		{"of 7 characters", "1234567", "PASSWORD_TOO_SHORT"},
		{"of 7 two-byte runes (14 bytes)", strings.Repeat("é", 7), "PASSWORD_TOO_SHORT"},
		{"of 129 characters", strings.Repeat("p", 129), "PASSWORD_TOO_LONG"},
		{"of 129 two-byte runes", strings.Repeat("é", 129), "PASSWORD_TOO_LONG"},
		{"of 10000 characters", strings.Repeat("p", 10000), "PASSWORD_TOO_LONG"},
	} {
		add("correct current password, new password "+tc.name, 400, tc.code, "", biSetF("newPassword", tc.pw))
	}
	add("wrong current password", 400, "INVALID_PASSWORD", "", biSetF("currentPassword", "wrong-password-1"))
	// 128 runes is within the limit even at 256 bytes: the only fault left
	// is the wrong current password.
	add("wrong current password, new password of 128 two-byte runes", 400, "INVALID_PASSWORD", "",
		biEdits(biSetF("currentPassword", "wrong-password-1"), biSetF("newPassword", strings.Repeat("é", 128))))
	add("current password of 129 characters", 400, "INVALID_PASSWORD", "",
		biSetF("currentPassword", biAlicePass+strings.Repeat("p", 129-len(biAlicePass))))
	add("current password of 10000 characters", 400, "INVALID_PASSWORD", "", biSetF("currentPassword", strings.Repeat("p", 10000)))
	return biGroup{name: "change-password", method: http.MethodPost, path: "/api/auth/change-password", cases: cs}
}

func (f *biFixture) deleteUserGroup() biGroup {
	base := func() []any { return []any{"password", biAlicePass} }
	var cs []biCase
	add := func(name string, status int, code, msgHas string, edit biEdit) {
		cs = append(cs, biCase{name: name, as: biAlice, body: biObj(edit(base())...), status: status, code: code, msgHas: msgHas})
	}
	cs = append(cs, biBodyCases(biAlice, base)...)
	cs = append(cs, f.guardCases(biAlice, base)...)
	cs = append(cs, f.noSessionCases(base)...)
	cs = append(cs, biMethodCases(http.MethodPost, base)...)
	add("password is a number", 400, biValidation, "[body.password]", biSetF("password", 12345678))
	add("password is an object", 400, biValidation, "[body.password]", biSetF("password", map[string]any{"value": biAlicePass}))
	add("password is an array", 400, biValidation, "[body.password]", biSetF("password", []string{biAlicePass}))
	add("callbackURL is a number", 400, biValidation, "[body.callbackURL]", biSetF("callbackURL", 1))
	// alice has a password, so deleting her account needs it.
	add("no password", 400, "INVALID_PASSWORD", "", func([]any) []any { return nil })
	add("password null", 400, "INVALID_PASSWORD", "", biSetF("password", nil))
	cs = append(cs, biCase{name: "empty body", as: biAlice, body: "", status: 400, code: "INVALID_PASSWORD"})
	add("wrong password", 400, "INVALID_PASSWORD", "", biSetF("password", "wrong-password-1"))
	add("empty password", 400, "INVALID_PASSWORD", "", biSetF("password", ""))
	add("password of 129 characters", 400, "INVALID_PASSWORD", "", biSetF("password", biAlicePass+strings.Repeat("p", 129-len(biAlicePass))))
	add("password of 10000 characters", 400, "INVALID_PASSWORD", "", biSetF("password", strings.Repeat("p", 10000)))
	// The callbackURL is refused before the password is looked at; these
	// carry a wrong password so that a missed check cannot delete alice.
	for _, cb := range f.badCallbacks() {
		add("callbackURL "+cb.name, 403, "INVALID_CALLBACK_URL", "",
			biEdits(biSetF("password", "wrong-password-1"), biSetF("callbackURL", cb.url)))
	}
	add("correct password, callbackURL to a foreign origin", 403, "INVALID_CALLBACK_URL", "", biSetF("callbackURL", biEvil+"/bye"))
	return biGroup{name: "delete-user", method: http.MethodPost, path: "/api/auth/delete-user", cases: cs}
}

// noOpCases are bad inputs that the contract answers with success but that
// must not do anything: get-session without a valid session is null, and
// revoking a token that is not one of your sessions is a no-op.
func (f *biFixture) noOpCases() []biCase {
	var cs []biCase
	for _, c := range f.noSessionCases(nil) {
		cs = append(cs, biCase{name: "get-session, " + c.name, method: http.MethodGet, path: "/api/auth/get-session",
			as: biAnon, headers: c.headers, status: 200, want: "null"})
	}
	for _, tc := range []struct{ name, token string }{
		{"another user's session token", f.bobToken},
		{"another user's session hash", f.bobHash},
		{"unknown token", "not-a-session-token"},
		{"token of 10000 characters", strings.Repeat("t", 10000)},
		{"token containing a NUL byte", "tok\x00en"},
		{"token containing invalid escapes", "%zz\\u0000"},
	} {
		cs = append(cs, biCase{name: "revoke-session, " + tc.name, method: http.MethodPost, path: "/api/auth/revoke-session",
			as: biAlice, body: biObj("token", tc.token), status: 200, want: `{"status":true}`})
	}
	return cs
}

// hostileUserAgent: a User-Agent that is not valid UTF-8 is recorded
// sanitised (or dropped); it must not stop people signing in or up.
func (f *biFixture) hostileUserAgent(t *testing.T) {
	ua := "Mozilla/5.0 \xff\xfe (bad bytes)"
	check := func(t *testing.T, r response, userID string) {
		t.Helper()
		if r.Status != 200 {
			t.Fatalf("status = %d, want 200 (body %.300s)", r.Status, r.Body)
		}
		tok, _ := r.json(t)["token"].(string)
		se, _, err := f.e.store.GetSession(context.Background(), session.Hash(tok))
		if err != nil {
			t.Fatalf("no session stored: %v", err)
		}
		if se.UserID != userID && userID != "" {
			t.Errorf("session belongs to %s, want %s", se.UserID, userID)
		}
		if !utf8.ValidString(se.UserAgent) {
			t.Errorf("stored user agent %q is not valid UTF-8", se.UserAgent)
		}
	}
	t.Run("sign-in", func(t *testing.T) {
		r := f.e.client().post("/api/auth/sign-in/email", map[string]any{"email": biAliceEmail, "password": biAlicePass}, "User-Agent", ua)
		check(t, r, f.aliceID)
	})
	t.Run("sign-up", func(t *testing.T) {
		r := f.e.client().post("/api/auth/sign-up/email",
			map[string]any{"name": "UA", "email": "bi-ua@example.com", "password": biNewPass}, "User-Agent", ua)
		check(t, r, "")
	})
}

// finalChecks: after the whole table, alice and bob are as they were, both
// of alice's sessions and bob's still work, and only the old password signs in.
func (f *biFixture) finalChecks(t *testing.T) {
	ctx := context.Background()
	u, err := f.e.store.GetUser(ctx, f.aliceID)
	if err != nil {
		t.Fatalf("alice is gone: %v", err)
	}
	if got := biUserLine(u); got != f.aliceBefore {
		t.Errorf("alice changed:\n%s\nwant\n%s", got, f.aliceBefore)
	}
	users, err := f.e.store.ListUsers(ctx, store.ListUsersOptions{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if strings.HasPrefix(u.Email, "bi-new-") {
			t.Errorf("a rejected sign-up created %s", u.Email)
		}
	}
	f.checkAlice(t)
	if s := f.bob.session(); s == nil {
		t.Error("bob's session no longer works")
	}
	r := f.e.client().get("/api/auth/get-session?disableRefresh=true", "Authorization", "Bearer "+f.alice2)
	if r.Status != 200 || string(r.Body) == "null" {
		t.Errorf("alice's second session no longer works: %d %s", r.Status, r.Body)
	}
	if r := f.e.client().post("/api/auth/sign-in/email", map[string]any{"email": biAliceEmail, "password": biAlicePass}); r.Status != 200 {
		t.Errorf("alice's old password no longer signs in: %d %s", r.Status, r.Body)
	}
	if r := f.e.client().post("/api/auth/sign-in/email", map[string]any{"email": biAliceEmail, "password": biNewPass}); r.Status != 401 {
		t.Errorf("the new password from a rejected change-password signs in: %d %s", r.Status, r.Body)
	}
}
