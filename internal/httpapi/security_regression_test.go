package httpapi_test

// Review findings: each test here fails on the current code and describes
// the behaviour a user of the identity provider should get.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auther/auther/internal/auth"
	"github.com/auther/auther/internal/httpapi"
	"github.com/auther/auther/internal/password"
	"github.com/auther/auther/internal/session"
	"github.com/auther/auther/internal/store/sqlstore"
	"github.com/auther/auther/internal/testdb"
)

// The send endpoints answer {success:true} for every address, padded to
// 300 ms, so they do not reveal accounts. But no code is stored for an
// unknown address, so the follow-up check reveals it anyway: after three
// wrong codes a known address answers 403 TOO_MANY_ATTEMPTS while an unknown
// one keeps answering 400 INVALID_OTP. Both must answer alike.
func TestReviewOTPCheckDoesNotRevealAccounts(t *testing.T) {
	eachMailBackend(t, auth.VerifyOff, func(t *testing.T, m *mailEnv) {
		m.client().signUp("known@example.com", pw)
		probe := func(email string) []string {
			c := m.client()
			r := c.post("/api/auth/email-otp/send-verification-otp", map[string]any{"email": email, "type": "forget-password"})
			if r.Status != 200 {
				t.Fatalf("send otp %s: %d %s", email, r.Status, r.Body)
			}
			var got []string
			for range 4 {
				r := c.post("/api/auth/email-otp/check-verification-otp", map[string]any{"email": email, "type": "forget-password", "otp": "000000"})
				got = append(got, fmt.Sprintf("%d %s", r.Status, r.code(t)))
			}
			return got
		}
		known, unknown := probe("known@example.com"), probe("nobody@example.com")
		if strings.Join(known, ",") != strings.Join(unknown, ",") {
			t.Errorf("wrong-code answers differ by account existence:\n known:   %v\n unknown: %v", known, unknown)
		}
	})
}

// README: "rememberMe: false gives a browser-session cookie and a one-day
// session that never slides". The no-slide rule lives only in a client-held
// cookie, so the same session used as a Bearer token (or by any client that
// does not send dont_remember back) is stretched to 7 days on get-session.
func TestReviewRememberMeFalseNeverSlidesForBearer(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.client().signUp("short-bearer@example.com", pw)
		r := e.client().post("/api/auth/sign-in/email", map[string]any{"email": "short-bearer@example.com", "password": pw, "rememberMe": false})
		if r.Status != 200 {
			t.Fatalf("sign-in: %d %s", r.Status, r.Body)
		}
		tok := r.json(t)["token"].(string)
		e.clock.Advance(time.Hour)
		e.client().get("/api/auth/get-session", "Authorization", "Bearer "+tok)
		se, _, err := e.store.GetSession(context.Background(), session.Hash(tok))
		if err != nil {
			t.Fatal(err)
		}
		if life := se.ExpiresAt.Sub(se.CreatedAt); life > 24*time.Hour {
			t.Errorf("a rememberMe:false session now lives %v (want at most 24h, never sliding)", life)
		}
	})
}

// A reset whose password hash is shed with 503 + Retry-After (hash pool
// busy) must leave the link usable: the client is told to retry. Today the
// token is consumed before hashing, so the retry gets INVALID_TOKEN and the
// user must start over. Same for email-otp/reset-password.
func TestReviewResetLinkSurvivesBusyHashPool(t *testing.T) {
	testdb.Each(t, func(t *testing.T, st *sqlstore.Store) {
		m := newMailEnv(t, st, auth.VerifyOff)
		m.client().signUp("busyreset@example.com", pw)
		if r := m.client().post("/api/auth/request-password-reset", map[string]any{"email": "busyreset@example.com"}); r.Status != 200 {
			t.Fatalf("request reset: %d %s", r.Status, r.Body)
		}
		link := m.linkIn(t, m.mailTo(t, 1, "busyreset@example.com"))
		tok := link[strings.LastIndex(link, "/")+1:]

		pool := password.NewPool(1)
		pool.MaxWait = time.Millisecond
		m.auth.Hasher = pool
		var stop atomic.Bool
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // keep the only hashing worker busy
			defer wg.Done()
			for !stop.Load() {
				pool.Hash(context.Background(), "hog password")
			}
		}()
		time.Sleep(20 * time.Millisecond)
		r := m.client().post("/api/auth/reset-password", map[string]any{"token": tok, "newPassword": "brand new password"})
		stop.Store(true)
		wg.Wait()
		if r.Status == 200 {
			t.Skip("the hash pool was free; could not provoke the 503")
		}
		if r.Status != 503 || r.Header.Get("Retry-After") == "" {
			t.Fatalf("busy reset: %d %s (want 503 with Retry-After)", r.Status, r.Body)
		}
		r = m.client().post("/api/auth/reset-password", map[string]any{"token": tok, "newPassword": "brand new password"})
		if r.Status != 200 {
			t.Errorf("retry after 503 Retry-After: %d %s; the link was burnt without the password changing", r.Status, r.Body)
		}
	})
}

// README: logs "never contain a password, token or cookie value". The
// request log (debug level, and error level on any 5xx) records the path,
// and GET /reset-password/:token carries the reset token in the path.
func TestReviewLogsNeverContainResetToken(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	e := newEnv(t, testdb.SQLite(t), func(_ *auth.Service, o *httpapi.Options) {
		o.Logger = slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	const secretTok = "SeCrEtReSeTtOkEnVaLuE0123456789abcdefghijk"
	e.client().get("/api/auth/reset-password/" + secretTok + "?callbackURL=/reset")
	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(buf.String(), secretTok) {
		t.Errorf("a reset token reached the log:\n%s", buf.String())
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// The rate limiter keys its windows by client IP and the raw request path,
// and only forgets them every sweep-interval (10 min). Any client can make
// every request a new key of up to ~64 KiB (the header limit) with an
// unknown path or a fake /reset-password/<token>, so memory grows without
// bound between sweeps. Keys should be per route, not per raw path.
func TestReviewRateLimiterMemoryIsBoundedByRoutes(t *testing.T) {
	e := newEnv(t, testdb.SQLite(t), withRateLimit())
	pad := strings.Repeat("a", 16<<10)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range 2000 {
		req := httptest.NewRequest(http.MethodGet, fmt.Sprintf("/api/auth/reset-password/%d%s", i, pad), nil)
		e.api.ServeHTTP(httptest.NewRecorder(), req)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 8<<20 {
		t.Errorf("2000 requests with distinct paths left %d MiB on the heap (rate-limit keys hold the raw path)", grew>>20)
	}
	runtime.KeepAlive(e)
}

// Metrics are labelled by the request method as the client sent it, so a
// client inventing methods creates unbounded Prometheus series (memory and
// scrape size grow without limit). Unknown methods should share one label.
func TestReviewMetricsMethodLabelIsBounded(t *testing.T) {
	e := newEnv(t, testdb.SQLite(t))
	for i := range 300 {
		req := httptest.NewRequest(fmt.Sprintf("M%d", i), "/api/auth/ok", nil)
		e.api.ServeHTTP(httptest.NewRecorder(), req)
	}
	rec := httptest.NewRecorder()
	e.api.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	n := strings.Count(rec.Body.String(), "\nauther_http_requests_total{")
	if n > 20 {
		t.Errorf("%d request-counter series after 300 invented methods; want a bounded set", n)
	}
}

// Account pre-hijacking: anyone can sign up with someone else's address and
// a password of their choosing. When the real owner later proves the address
// by magic link (or OTP / the verification link), the account is marked
// verified but keeps the stranger's password and sessions, so the stranger
// signs straight into the owner's now-verified account. Proving an address
// for an account that was unverified must drop credentials and sessions
// created before the proof.
func TestReviewMagicLinkOnUnverifiedAccountDropsStrangersPassword(t *testing.T) {
	eachMailBackend(t, auth.VerifyRequired, func(t *testing.T, m *mailEnv) {
		const victim = "owner@example.com"
		const attackerPw = "attacker chose this"
		if r := m.client().post("/api/auth/sign-up/email", map[string]any{"name": "x", "email": victim, "password": attackerPw}); r.Status != 200 {
			t.Fatalf("attacker sign-up: %d %s", r.Status, r.Body)
		}
		m.mailTo(t, 1, victim) // the verification mail the owner ignores
		owner := m.client()
		if r := owner.post("/api/auth/sign-in/magic-link", map[string]any{"email": victim}); r.Status != 200 {
			t.Fatalf("magic link: %d %s", r.Status, r.Body)
		}
		if r := owner.get(m.linkIn(t, m.mailTo(t, 2, victim))); r.Status != 200 {
			t.Fatalf("follow magic link: %d %s", r.Status, r.Body)
		}
		r := m.client().post("/api/auth/sign-in/email", map[string]any{"email": victim, "password": attackerPw})
		if r.Status == 200 {
			t.Errorf("the password set before the owner proved the address still signs in: %s", r.Body)
		}
	})
}
