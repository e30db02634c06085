package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/auther/auther/internal/auth"
	"github.com/auther/auther/internal/clock"
	"github.com/auther/auther/internal/httpapi"
	"github.com/auther/auther/internal/password"
	"github.com/auther/auther/internal/session"
	"github.com/auther/auther/internal/store/sqlstore"
	"github.com/auther/auther/internal/testdb"
)

const testSecret = "test-secret-test-secret-test-secret-0123"

// env is a running API on a real database, with a fake clock.
type env struct {
	t      testing.TB
	srv    *httptest.Server
	store  *sqlstore.Store
	clock  *clock.Fake
	auth   *auth.Service
	api    *httpapi.Server
	origin string
}

type envOption func(*auth.Service, *httpapi.Options)

// withRateLimit turns the per-IP limiter on (off by default in tests so
// that tests can sign in as often as they need).
func withRateLimit() envOption {
	return func(_ *auth.Service, o *httpapi.Options) { o.RateLimit = true }
}

func newEnv(t testing.TB, st *sqlstore.Store, opts ...envOption) *env {
	t.Helper()
	clk := clock.NewFake(time.Now().UTC().Truncate(time.Millisecond))
	svc := &auth.Service{
		Store: st, Hasher: password.NewPool(0), Clock: clk, Policy: session.DefaultPolicy,
		MinPassword: 8, MaxPassword: 128, Signup: auth.SignupOpen,
	}
	e := &env{t: t, store: st, clock: clk, auth: svc}
	e.srv = httptest.NewUnstartedServer(nil)
	e.origin = "http://" + e.srv.Listener.Addr().String()
	o := httpapi.Options{
		Auth: svc, Store: st, Secret: testSecret, BaseURL: e.origin, CookiePrefix: "auther",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Clock: clk,
	}
	for _, opt := range opts {
		opt(svc, &o)
	}
	api, err := httpapi.New(o)
	if err != nil {
		t.Fatal(err)
	}
	e.api = api
	e.srv.Config.Handler = api
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	return e
}

// eachBackend runs fn against an env on every configured database.
func eachBackend(t *testing.T, fn func(t *testing.T, e *env), opts ...envOption) {
	testdb.Each(t, func(t *testing.T, st *sqlstore.Store) { fn(t, newEnv(t, st, opts...)) })
}

// client is a browser-like client with its own cookie jar.
type client struct {
	e    *env
	http *http.Client
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{e: e, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// response is a decoded reply.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.Body, err)
	}
	return m
}

func (r response) code(t testing.TB) string {
	t.Helper()
	c, _ := r.json(t)["code"].(string)
	return c
}

// do sends a request; body may be a string (sent raw) or a value (JSON).
// POSTs carry the server's own Origin unless headers say otherwise.
func (c *client) do(method, path string, body any, headers ...string) response {
	c.e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		buf, _ := json.Marshal(b)
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, c.e.srv.URL+path, rd)
	if err != nil {
		c.e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if method != http.MethodGet {
		req.Header.Set("Origin", c.e.origin)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

func (c *client) post(path string, body any, headers ...string) response {
	return c.do(http.MethodPost, path, body, headers...)
}

func (c *client) get(path string, headers ...string) response {
	return c.do(http.MethodGet, path, nil, headers...)
}

// signUp creates a user and leaves the client signed in.
func (c *client) signUp(email, pw string) map[string]any {
	c.e.t.Helper()
	r := c.post("/api/auth/sign-up/email", map[string]any{"name": "Test User", "email": email, "password": pw})
	if r.Status != 200 {
		c.e.t.Fatalf("sign-up %s: %d %s", email, r.Status, r.Body)
	}
	return r.json(c.e.t)
}

// session returns get-session's decoded body, or nil when it is null.
func (c *client) session() map[string]any {
	c.e.t.Helper()
	r := c.get("/api/auth/get-session")
	if r.Status != 200 {
		c.e.t.Fatalf("get-session: %d %s", r.Status, r.Body)
	}
	if string(r.Body) == "null" {
		return nil
	}
	return r.json(c.e.t)
}

// cookie returns the named cookie's value from the client's jar.
func (c *client) cookie(name string) string {
	u, _ := http.NewRequest("GET", c.e.srv.URL, nil)
	for _, ck := range c.http.Jar.Cookies(u.URL) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// postForm sends an application/x-www-form-urlencoded POST with the
// server's Origin, as a browser form does.
func (c *client) postForm(path string, form url.Values) response {
	c.e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", c.e.origin)
	resp, err := c.http.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

func jsonBody(v any) io.Reader {
	b, _ := json.Marshal(v)
	return bytes.NewReader(b)
}
