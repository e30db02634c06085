package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auther/auther/internal/auth"
	"github.com/auther/auther/internal/httpapi"
	"github.com/auther/auther/internal/password"
	"github.com/auther/auther/internal/session"
	"github.com/auther/auther/internal/store"
	"github.com/auther/auther/internal/testdb"
)

const pw = "correct horse battery"

func TestSignUpSessionSignOut(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		c := e.client()
		r := c.post("/api/auth/sign-up/email", map[string]any{"name": "Ada", "email": "Ada@Example.COM", "password": pw})
		if r.Status != 200 {
			t.Fatalf("sign-up: %d %s", r.Status, r.Body)
		}
		body := r.json(t)
		user := body["user"].(map[string]any)
		if user["email"] != "ada@example.com" || user["emailVerified"] != false || user["image"] != nil || user["name"] != "Ada" {
			t.Errorf("user = %v", user)
		}
		tok, _ := body["token"].(string)
		if len(tok) < 43 {
			t.Errorf("token %q shorter than 256 bits", tok)
		}
		// The cookie: HttpOnly, SameSite=Lax, Path=/, not Secure on http loopback.
		setCookie := strings.Join(r.Header.Values("Set-Cookie"), "\n")
		for _, want := range []string{"auther.session_token=", "HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=604800"} {
			if !strings.Contains(setCookie, want) {
				t.Errorf("Set-Cookie %q lacks %q", setCookie, want)
			}
		}
		if strings.Contains(setCookie, "Secure") {
			t.Errorf("cookie is Secure on plain-http loopback: %q", setCookie)
		}
		s := c.session()
		if s == nil || s["user"].(map[string]any)["id"] != user["id"] || s["session"].(map[string]any)["token"] != tok {
			t.Fatalf("get-session = %v", s)
		}
		// The database holds only the token's hash.
		se, _, err := e.store.GetSession(context.Background(), session.Hash(tok))
		if err != nil {
			t.Fatalf("session not stored under its hash: %v", err)
		}
		if _, _, err := e.store.GetSession(context.Background(), tok); err == nil {
			t.Error("raw token found in session.token")
		}
		if r := c.post("/api/auth/sign-out", nil); r.Status != 200 || r.json(t)["success"] != true {
			t.Fatalf("sign-out: %d %s", r.Status, r.Body)
		}
		if c.session() != nil {
			t.Error("session survives sign-out")
		}
		if _, _, err := e.store.GetSession(context.Background(), se.TokenHash); err == nil {
			t.Error("sign-out left the session row")
		}
	})
}

func TestConcurrentSignUpsOneEmail(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		const n = 100
		var wg sync.WaitGroup
		statuses := make([]int, n)
		codes := make([]string, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := e.client().post("/api/auth/sign-up/email", map[string]any{"name": "Dup", "email": "dup@example.com", "password": pw})
				statuses[i] = r.Status
				if r.Status != 200 {
					codes[i] = r.code(t)
				}
			}()
		}
		wg.Wait()
		ok := 0
		for i, st := range statuses {
			switch {
			case st == 200:
				ok++
			case st != 422 || codes[i] != "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL":
				t.Errorf("request %d: %d %s", i, st, codes[i])
			}
		}
		if ok != 1 {
			t.Fatalf("%d sign-ups succeeded, want exactly 1", ok)
		}
		users, _ := e.store.ListUsers(context.Background(), store.ListUsersOptions{Limit: 1000})
		if len(users) != 1 {
			t.Fatalf("%d users, want 1", len(users))
		}
		accs, _ := e.store.ListAccounts(context.Background(), users[0].ID)
		if len(accs) != 1 || accs[0].ProviderID != "credential" || accs[0].AccountID != users[0].ID {
			t.Errorf("accounts = %+v, want one credential account", accs)
		}
		var orphans int
		e.store.DB().QueryRow(`SELECT (SELECT count(*) FROM account WHERE user_id NOT IN (SELECT id FROM "user")) + (SELECT count(*) FROM session WHERE user_id NOT IN (SELECT id FROM "user"))`).Scan(&orphans)
		if orphans != 0 {
			t.Errorf("%d orphan rows", orphans)
		}
	})
}

func TestRejectedSessions(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		owner := e.client()
		tok := owner.signUp("owner@example.com", pw)["token"].(string)
		signed := owner.cookie("auther.session_token")

		cases := map[string]string{
			"tampered signature": signed[:len(signed)-6] + "AAAA%3D",
			"tampered token":     flipFirst(signed),
			"unsigned token":     tok,
			"unknown token":      session.NewSigner(testSecret).Sign(session.NewToken()),
			"other secret":       session.NewSigner("another-secret-another-secret-another").Sign(tok),
			"garbage":            "%%%not-a-cookie",
		}
		for name, v := range cases {
			r := e.client().get("/api/auth/get-session", "Cookie", "auther.session_token="+v)
			if r.Status != 200 || string(r.Body) != "null" {
				t.Errorf("%s: get-session = %d %s, want 200 null", name, r.Status, r.Body)
			}
			if r := e.client().post("/api/auth/revoke-sessions", nil, "Cookie", "auther.session_token="+v); r.Status != 401 || r.code(t) != "UNAUTHORIZED" {
				t.Errorf("%s: protected endpoint = %d %s, want 401 UNAUTHORIZED", name, r.Status, r.Body)
			}
		}
		if owner.session() == nil {
			t.Fatal("the real session stopped working")
		}

		// Revoked from another device.
		other := e.client()
		other.post("/api/auth/sign-in/email", map[string]any{"email": "owner@example.com", "password": pw})
		if r := other.post("/api/auth/revoke-other-sessions", nil); r.Status != 200 {
			t.Fatalf("revoke-other-sessions: %d %s", r.Status, r.Body)
		}
		if owner.session() != nil {
			t.Error("revoked session still accepted")
		}
		if other.session() == nil {
			t.Error("revoke-other-sessions revoked the caller's own session")
		}

		// Expired: past seven days the session is refused and deleted.
		e.clock.Advance(7*24*time.Hour + time.Second)
		if other.session() != nil {
			t.Error("expired session accepted")
		}
		n, _ := e.store.ListSessions(context.Background(), "", time.Time{})
		_ = n
		var rows int
		e.store.DB().QueryRow(`SELECT count(*) FROM session`).Scan(&rows)
		if rows != 0 {
			t.Errorf("%d session rows left after the expired one was presented", rows)
		}
	})
}

func TestSlidingRefresh(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		c := e.client()
		tok := c.signUp("slide@example.com", pw)["token"].(string)
		expiry := func() time.Time {
			se, _, err := e.store.GetSession(context.Background(), session.Hash(tok))
			if err != nil {
				t.Fatal(err)
			}
			return se.ExpiresAt
		}
		first := expiry()
		e.clock.Advance(23 * time.Hour)
		r := c.get("/api/auth/get-session")
		if got := expiry(); !got.Equal(first) {
			t.Fatalf("expires_at moved before the update age: %v -> %v", first, got)
		}
		if strings.Contains(strings.Join(r.Header.Values("Set-Cookie"), ""), "session_token") {
			t.Error("cookie re-issued before the update age")
		}
		e.clock.Advance(time.Hour)
		r = c.get("/api/auth/get-session")
		want := e.clock.Now().UTC().Truncate(time.Millisecond).Add(7 * 24 * time.Hour)
		if got := expiry(); !got.Equal(want) {
			t.Fatalf("after the update age expires_at = %v, want %v", got, want)
		}
		if !strings.Contains(strings.Join(r.Header.Values("Set-Cookie"), ""), "auther.session_token=") {
			t.Error("cookie not re-issued on refresh")
		}
		// disableRefresh=true never writes.
		e.clock.Advance(2 * 24 * time.Hour)
		c.get("/api/auth/get-session?disableRefresh=true")
		if got := expiry(); !got.Equal(want) {
			t.Errorf("disableRefresh moved expires_at to %v", got)
		}
	})
}

func TestRememberMeFalse(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.client().signUp("short@example.com", pw)
		c := e.client()
		r := c.post("/api/auth/sign-in/email", map[string]any{"email": "short@example.com", "password": pw, "rememberMe": false})
		if r.Status != 200 {
			t.Fatalf("sign-in: %d %s", r.Status, r.Body)
		}
		for _, sc := range r.Header.Values("Set-Cookie") {
			if strings.HasPrefix(sc, "auther.session_token=") && strings.Contains(sc, "Max-Age") {
				t.Errorf("rememberMe:false cookie has Max-Age: %q", sc)
			}
		}
		if c.cookie("auther.dont_remember") == "" {
			t.Error("no dont_remember cookie")
		}
		tok := r.json(t)["token"].(string)
		se, _, _ := e.store.GetSession(context.Background(), session.Hash(tok))
		if d := se.ExpiresAt.Sub(se.CreatedAt); d != 24*time.Hour {
			t.Errorf("session lifetime %v, want 24h", d)
		}
		e.clock.Advance(23 * time.Hour)
		c.get("/api/auth/get-session")
		se2, _, _ := e.store.GetSession(context.Background(), session.Hash(tok))
		if !se2.ExpiresAt.Equal(se.ExpiresAt) {
			t.Error("a don't-remember session was extended")
		}
		e.clock.Advance(time.Hour + time.Second)
		if c.session() != nil {
			t.Error("a don't-remember session outlived one day")
		}
	})
}

func TestSignInAndBearer(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.client().signUp("bear@example.com", pw)
		wrong := e.client().post("/api/auth/sign-in/email", map[string]any{"email": "bear@example.com", "password": "wrong password"})
		unknown := e.client().post("/api/auth/sign-in/email", map[string]any{"email": "nobody@example.com", "password": "wrong password"})
		if wrong.Status != 401 || unknown.Status != 401 || string(wrong.Body) != string(unknown.Body) || wrong.code(t) != "INVALID_EMAIL_OR_PASSWORD" {
			t.Errorf("wrong password %d %s vs unknown email %d %s: must be identical 401s", wrong.Status, wrong.Body, unknown.Status, unknown.Body)
		}
		r := e.client().post("/api/auth/sign-in/email", map[string]any{"email": "BEAR@example.com", "password": pw, "callbackURL": "/dashboard"})
		body := r.json(t)
		if r.Status != 200 || body["redirect"] != true || body["url"] != "/dashboard" || r.Header.Get("Location") != "/dashboard" {
			t.Fatalf("sign-in with callbackURL: %d %s", r.Status, r.Body)
		}
		tok := body["token"].(string)
		if r.Header.Get("set-auth-token") != tok {
			t.Error("set-auth-token header missing")
		}
		api := e.client()
		s := api.get("/api/auth/get-session", "Authorization", "Bearer "+tok)
		if string(s.Body) == "null" || s.json(t)["user"].(map[string]any)["email"] != "bear@example.com" {
			t.Fatalf("Bearer get-session: %s", s.Body)
		}
		signed := session.NewSigner(testSecret).Sign(tok)
		if s := api.get("/api/auth/get-session", "Authorization", "Bearer "+signed); string(s.Body) == "null" {
			t.Error("signed Bearer token refused")
		}
		if s := api.get("/api/auth/get-session", "Authorization", "Bearer "+signed[:len(signed)-3]+"AA="); string(s.Body) != "null" {
			t.Error("tampered signed Bearer token accepted")
		}
		// Bearer clients without cookies may POST without an Origin.
		if r := api.post("/api/auth/sign-out", nil, "Authorization", "Bearer "+tok, "Origin", ""); r.Status != 200 {
			t.Errorf("Bearer sign-out without Origin: %d %s", r.Status, r.Body)
		}
	})
}

func TestSessionManagement(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		laptop := e.client()
		laptop.signUp("multi@example.com", pw)
		phone := e.client()
		phone.post("/api/auth/sign-in/email", map[string]any{"email": "multi@example.com", "password": pw}, "User-Agent", "Phone/1.0")
		r := laptop.get("/api/auth/list-sessions")
		var list []map[string]any
		if err := jsonUnmarshal(r.Body, &list); err != nil || len(list) != 2 {
			t.Fatalf("list-sessions: %d %s", r.Status, r.Body)
		}
		var phoneTok string
		for _, s := range list {
			if s["userAgent"] == "Phone/1.0" {
				phoneTok = s["token"].(string)
			}
		}
		if phoneTok == "" {
			t.Fatalf("phone session not listed: %v", list)
		}
		if r := laptop.post("/api/auth/revoke-session", map[string]any{"token": phoneTok}); r.Status != 200 || r.json(t)["status"] != true {
			t.Fatalf("revoke-session: %d %s", r.Status, r.Body)
		}
		if phone.session() != nil {
			t.Error("revoked phone session still works")
		}
		if laptop.session() == nil {
			t.Error("revoking the phone signed out the laptop")
		}
		// Another user's token from list-sessions cannot revoke anything of ours.
		mallory := e.client()
		mallory.signUp("mallory@example.com", pw)
		mallory.post("/api/auth/revoke-session", map[string]any{"token": laptop.session()["session"].(map[string]any)["token"]})
		if laptop.session() == nil {
			t.Error("another user revoked our session")
		}
		if r := laptop.post("/api/auth/revoke-sessions", nil); r.Status != 200 {
			t.Fatalf("revoke-sessions: %d", r.Status)
		}
		if laptop.session() != nil {
			t.Error("revoke-sessions left the current session")
		}
		// list-sessions needs a fresh session.
		old := e.client()
		old.post("/api/auth/sign-in/email", map[string]any{"email": "multi@example.com", "password": pw})
		e.clock.Advance(25 * time.Hour)
		if r := old.get("/api/auth/list-sessions"); r.Status != 403 || r.code(t) != "SESSION_NOT_FRESH" {
			t.Errorf("stale list-sessions: %d %s", r.Status, r.Body)
		}
	})
}

func TestUpdateUserAndChangePassword(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		c := e.client()
		c.signUp("pw@example.com", pw)
		if r := c.post("/api/auth/update-user", map[string]any{"name": "Grace", "image": "https://example.com/g.png"}); r.Status != 200 {
			t.Fatalf("update-user: %d %s", r.Status, r.Body)
		}
		u := c.session()["user"].(map[string]any)
		if u["name"] != "Grace" || u["image"] != "https://example.com/g.png" {
			t.Errorf("after update: %v", u)
		}
		c.post("/api/auth/update-user", map[string]any{"image": nil})
		if u := c.session()["user"].(map[string]any); u["image"] != nil || u["name"] != "Grace" {
			t.Errorf("clearing image: %v", u)
		}

		other := e.client()
		other.post("/api/auth/sign-in/email", map[string]any{"email": "pw@example.com", "password": pw})
		if r := c.post("/api/auth/change-password", map[string]any{"currentPassword": "not the password", "newPassword": "new password 123"}); r.Status != 400 || r.code(t) != "INVALID_PASSWORD" {
			t.Fatalf("wrong current password: %d %s", r.Status, r.Body)
		}
		r := c.post("/api/auth/change-password", map[string]any{"currentPassword": pw, "newPassword": "new password 123", "revokeOtherSessions": true})
		if r.Status != 200 {
			t.Fatalf("change-password: %d %s", r.Status, r.Body)
		}
		if tok, _ := r.json(t)["token"].(string); tok == "" {
			t.Error("no new token after revoking other sessions")
		}
		if other.session() != nil {
			t.Error("other session survived revokeOtherSessions")
		}
		if c.session() == nil {
			t.Error("the caller lost its (re-issued) session")
		}
		if r := e.client().post("/api/auth/sign-in/email", map[string]any{"email": "pw@example.com", "password": pw}); r.Status != 401 {
			t.Errorf("old password still signs in: %d", r.Status)
		}
		if r := e.client().post("/api/auth/sign-in/email", map[string]any{"email": "pw@example.com", "password": "new password 123"}); r.Status != 200 {
			t.Errorf("new password refused: %d %s", r.Status, r.Body)
		}
	})
}

func TestDeleteUser(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		c := e.client()
		id := c.signUp("del@example.com", pw)["user"].(map[string]any)["id"].(string)
		other := e.client()
		other.post("/api/auth/sign-in/email", map[string]any{"email": "del@example.com", "password": pw})
		if r := c.post("/api/auth/delete-user", map[string]any{}); r.Status != 400 || r.code(t) != "INVALID_PASSWORD" {
			t.Fatalf("delete without password: %d %s", r.Status, r.Body)
		}
		if r := c.post("/api/auth/delete-user", map[string]any{"password": "wrong password"}); r.Status != 400 {
			t.Fatalf("delete with wrong password: %d %s", r.Status, r.Body)
		}
		r := c.post("/api/auth/delete-user", map[string]any{"password": pw})
		if r.Status != 200 || r.json(t)["message"] != "User deleted" {
			t.Fatalf("delete-user: %d %s", r.Status, r.Body)
		}
		if _, err := e.store.GetUser(context.Background(), id); err == nil {
			t.Error("user still exists")
		}
		if other.session() != nil || c.session() != nil {
			t.Error("a deleted user's session still works")
		}
	})
}

func TestRateLimitSignIn(t *testing.T) {
	e := newEnv(t, testdb.SQLite(t), withRateLimit())
	c := e.client()
	for i := range 3 {
		if r := c.post("/api/auth/sign-in/email", map[string]any{"email": "x@example.com", "password": "whatever-pw"}); r.Status != 401 {
			t.Fatalf("attempt %d: %d", i+1, r.Status)
		}
	}
	r := c.post("/api/auth/sign-in/email", map[string]any{"email": "x@example.com", "password": "whatever-pw"})
	if r.Status != 429 || r.Header.Get("Retry-After") != "10" || r.code(t) != "TOO_MANY_REQUESTS" {
		t.Fatalf("4th sign-in in 10 s: %d Retry-After=%q %s", r.Status, r.Header.Get("Retry-After"), r.Body)
	}
	if r := c.get("/api/auth/get-session"); r.Status != 200 {
		t.Errorf("get-session limited by the sign-in rule: %d", r.Status)
	}
	e.clock.Advance(10 * time.Second)
	if r := c.post("/api/auth/sign-in/email", map[string]any{"email": "x@example.com", "password": "whatever-pw"}); r.Status != 401 {
		t.Errorf("after the window: %d", r.Status)
	}
}

func TestSignupModes(t *testing.T) {
	st := testdb.SQLite(t)
	closed := newEnv(t, st, func(s *auth.Service, _ *httpapi.Options) { s.Signup = auth.SignupClosed })
	if r := closed.client().post("/api/auth/sign-up/email", map[string]any{"name": "a", "email": "a@example.com", "password": pw}); r.Status != 400 || r.code(t) != "EMAIL_PASSWORD_SIGN_UP_DISABLED" {
		t.Errorf("closed sign-up: %d %s", r.Status, r.Body)
	}
	secret := newEnv(t, st, func(s *auth.Service, _ *httpapi.Options) {
		s.Signup, s.SignupSecret = auth.SignupSecret, "internal-signup-secret-123"
	})
	body := map[string]any{"name": "a", "email": "a@example.com", "password": pw}
	for _, h := range []string{"", "wrong"} {
		if r := secret.client().post("/api/auth/sign-up/email", body, "x-internal-signup-secret", h); r.Status != 403 || r.code(t) != "SIGNUP_SECRET_REQUIRED" {
			t.Errorf("secret sign-up with header %q: %d %s", h, r.Status, r.Body)
		}
	}
	if _, err := st.GetUserByEmail(context.Background(), "a@example.com"); err == nil {
		t.Fatal("a refused sign-up created a user")
	}
	if r := secret.client().post("/api/auth/sign-up/email", body, "x-internal-signup-secret", "internal-signup-secret-123"); r.Status != 200 {
		t.Errorf("secret sign-up with the secret: %d %s", r.Status, r.Body)
	}
}

func TestSecureCookiesOutsideLocalhost(t *testing.T) {
	e := newEnv(t, testdb.SQLite(t), func(_ *auth.Service, o *httpapi.Options) {
		o.BaseURL = "https://id.example.com"
		o.TrustedOrigins = []string{"https://*.example.com"}
	})
	c := e.client()
	r := c.post("/api/auth/sign-up/email", map[string]any{"name": "a", "email": "sec@example.com", "password": pw}, "Origin", "https://app.example.com")
	sc := strings.Join(r.Header.Values("Set-Cookie"), "\n")
	if r.Status != 200 || !strings.Contains(sc, "__Secure-auther.session_token=") || !strings.Contains(sc, "; Secure") {
		t.Fatalf("https base URL: %d, Set-Cookie %q", r.Status, sc)
	}
	if r.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" || r.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("CORS headers for a trusted origin: %v", r.Header)
	}
	if r := c.post("/api/auth/sign-in/email", map[string]any{"email": "sec@example.com", "password": pw}, "Origin", "https://example.com.evil.io"); r.Status != 403 {
		t.Errorf("look-alike origin: %d", r.Status)
	}
}

func TestHashPoolShedsLoadWith503(t *testing.T) {
	e := newEnv(t, testdb.SQLite(t))
	e.client().signUp("busy@example.com", pw)
	e.auth.Hasher = password.NewPool(1)
	e.auth.Hasher.MaxWait = time.Millisecond
	const n = 8
	var wg sync.WaitGroup
	statuses := make(chan int, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.client().post("/api/auth/sign-in/email", map[string]any{"email": "busy@example.com", "password": pw})
			if r.Status == 503 && (r.Header.Get("Retry-After") == "" || r.code(t) != "SERVICE_UNAVAILABLE") {
				t.Errorf("503 without Retry-After or code: %v %s", r.Header, r.Body)
			}
			statuses <- r.Status
		}()
	}
	wg.Wait()
	close(statuses)
	counts := map[int]int{}
	for s := range statuses {
		counts[s]++
	}
	if counts[200] < 1 || counts[503] < 1 || counts[200]+counts[503] != n {
		t.Errorf("statuses %v: want some 200s, some 503s, nothing else", counts)
	}
}

func TestMetricsAndHealth(t *testing.T) {
	e := newEnv(t, testdb.SQLite(t))
	c := e.client()
	c.get("/api/auth/get-session")
	c.get("/api/auth/ok")
	if r := c.get("/healthz"); r.Status != 200 {
		t.Errorf("healthz %d", r.Status)
	}
	if r := c.get("/readyz"); r.Status != 200 {
		t.Errorf("readyz %d", r.Status)
	}
	m := string(c.get("/metrics").Body)
	for _, want := range []string{
		`auther_http_requests_total{method="GET",route="/api/auth/get-session",status="200"} 1`,
		`auther_http_request_duration_seconds_bucket{route="/api/auth/ok"`,
		`auther_password_hash_wait_seconds`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	e.store.Close()
	if r := c.get("/readyz"); r.Status != 503 {
		t.Errorf("readyz with the database closed: %d", r.Status)
	}
}

func TestCORSPreflight(t *testing.T) {
	e := newEnv(t, testdb.SQLite(t), func(_ *auth.Service, o *httpapi.Options) { o.TrustedOrigins = []string{"http://app.localhost:5173"} })
	r := e.client().do(http.MethodOptions, "/api/auth/sign-in/email", nil, "Origin", "http://app.localhost:5173", "Access-Control-Request-Method", "POST")
	if r.Status != 204 || r.Header.Get("Access-Control-Allow-Origin") != "http://app.localhost:5173" || !strings.Contains(r.Header.Get("Access-Control-Allow-Headers"), "Content-Type") {
		t.Errorf("preflight from a trusted origin: %d %v", r.Status, r.Header)
	}
	r = e.client().do(http.MethodOptions, "/api/auth/sign-in/email", nil, "Origin", "http://evil.example", "Access-Control-Request-Method", "POST")
	if r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from an untrusted origin allowed: %v", r.Header)
	}
}

func TestClientIPFromTrustedProxyHeader(t *testing.T) {
	st := testdb.SQLite(t)
	direct := newEnv(t, st)
	r := direct.client().post("/api/auth/sign-up/email", map[string]any{"name": "a", "email": "peer@example.com", "password": pw},
		"X-Forwarded-For", "198.51.100.9")
	if ip := sessionIP(t, direct, r); ip != "127.0.0.1" {
		t.Errorf("without a trusted header the spoofable X-Forwarded-For was used: %s", ip)
	}
	proxied := newEnv(t, st, func(_ *auth.Service, o *httpapi.Options) { o.TrustedProxyHeader = "X-Forwarded-For" })
	r = proxied.client().post("/api/auth/sign-up/email", map[string]any{"name": "a", "email": "proxied@example.com", "password": pw},
		"X-Forwarded-For", "203.0.113.50, 198.51.100.9")
	if ip := sessionIP(t, proxied, r); ip != "198.51.100.9" {
		t.Errorf("behind a proxy: ip %s, want the right-most (proxy-appended) address", ip)
	}
}

func sessionIP(t *testing.T, e *env, r response) string {
	t.Helper()
	tok, _ := r.json(t)["token"].(string)
	se, _, err := e.store.GetSession(context.Background(), session.Hash(tok))
	if err != nil {
		t.Fatalf("no session: %v (%s)", err, r.Body)
	}
	return se.IPAddress
}

// flipFirst changes the first character (a fixed replacement would be a
// no-op for the one token in 64 that already starts with it).
func flipFirst(s string) string {
	if s[0] == 'x' {
		return "y" + s[1:]
	}
	return "x" + s[1:]
}
