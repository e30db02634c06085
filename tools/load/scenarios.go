package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	loadPassword = "correct-horse-battery"
	// defaultCookieName is used by session-invalid if sign-up returns no
	// session cookie from which to learn the configured name.
	defaultCookieName = "auther.session_token"
	// maxBody bounds how much of any response body is read.
	maxBody = 1 << 20
	// setupParallelism bounds concurrent sign-ups during setup.
	setupParallelism = 8
)

// scenarioNames lists the scenarios in the order "all" runs them.
// clientScenarios among them need an OAuth client (-client-id ...) and are
// part of "all" only when one is given.
var (
	scenarioNames   = []string{"signup", "signin", "session", "session-invalid", "session-flood", "jwks", "discovery", "code-exchange", "refresh"}
	clientScenarios = []string{"code-exchange", "refresh"}
)

// reqFunc performs one iteration and classifies the outcome. Each worker
// owns its reqFunc, which may keep private state (counters, buffers).
type reqFunc func(ctx context.Context) result

// group is a set of workers measured together.
type group struct {
	name    string
	workers []reqFunc
	key     string // JSON field of a secondary group ("flood")
	// step, when set, names a setup request each iteration makes before the
	// measured one (result.step); it is reported as name+"/"+step and under
	// the JSON field step.
	step string
}

// report is one printed line: a worker group, or the setup step of one.
type report struct {
	name string
	c    int
	key  string // JSON field; "" for the primary figure
	sum  summary
}

// env is what scenarios need to build requests.
type env struct {
	cfg          config
	client       *http.Client
	runID        string
	signUpURL    string
	signInURL    string
	sessURL      string
	jwksURL      string
	discoveryURL string
	authorizeURL string
	tokenURL     string
	basicAuth    string // Authorization header value for the token endpoint
}

func newEnv(cfg config, client *http.Client, runID string) *env {
	api := cfg.target.base + "/api/auth/"
	return &env{
		cfg:          cfg,
		client:       client,
		runID:        runID,
		signUpURL:    api + "sign-up/email",
		signInURL:    api + "sign-in/email",
		sessURL:      api + "get-session",
		jwksURL:      cfg.target.base + "/.well-known/jwks.json",
		discoveryURL: cfg.target.base + "/.well-known/openid-configuration",
		authorizeURL: api + "oauth2/authorize",
		tokenURL:     api + "oauth2/token",
		basicAuth:    basicAuth(cfg.oauth.clientID, cfg.oauth.clientSecret),
	}
}

// setup prepares the worker groups of a scenario. The first group is the
// primary figure.
func (e *env) setup(ctx context.Context, name string) ([]group, error) {
	c := e.cfg.concurrency
	switch name {
	case "signup":
		ws := make([]reqFunc, c)
		for w := range ws {
			ws[w] = e.signUpWorker(w)
		}
		return []group{{name: name, workers: ws}}, nil
	case "signin":
		ws, err := e.signInWorkers(ctx, "in", c)
		return []group{{name: name, workers: ws}}, err
	case "session":
		ws, err := e.sessionWorkers(ctx, "ses", c)
		return []group{{name: name, workers: ws}}, err
	case "session-invalid":
		users, err := e.createUsers(ctx, "inv", 1)
		if err != nil {
			return nil, err
		}
		cookieName := users[0].cookieName
		if cookieName == "" {
			cookieName = defaultCookieName
		}
		ws := make([]reqFunc, c)
		for w := range ws {
			ws[w] = e.sessionWorker(auth{cookie: cookieName + "=" + invalidCookieValue()}, expectNull)
		}
		return []group{{name: name, workers: ws}}, nil
	case "session-flood":
		ses, err := e.sessionWorkers(ctx, "fses", c)
		if err != nil {
			return nil, err
		}
		flood, err := e.signInWorkers(ctx, "fin", e.cfg.flood)
		return []group{{name: name, workers: ses}, {name: name + "/signin", workers: flood, key: "flood"}}, err
	case "jwks":
		ws := make([]reqFunc, c)
		for w := range ws {
			ws[w] = e.jsonGetWorker(e.jwksURL, checkJWKS)
		}
		return []group{{name: name, workers: ws}}, nil
	case "discovery":
		ws := make([]reqFunc, c)
		for w := range ws {
			ws[w] = e.jsonGetWorker(e.discoveryURL, checkDiscovery)
		}
		return []group{{name: name, workers: ws}}, nil
	case "code-exchange":
		ws, err := e.codeExchangeWorkers(ctx, "cx", c)
		return []group{{name: name, workers: ws, step: "authorize"}}, err
	case "refresh":
		ws, err := e.refreshWorkers(ctx, "rt", c)
		return []group{{name: name, workers: ws}}, err
	}
	return nil, fmt.Errorf("unknown scenario %q", name)
}

// userCount is how many accounts setup creates for n workers.
func (e *env) userCount(n int) int {
	if u := e.cfg.users; u > 0 && u < n {
		return u
	}
	return n
}

func (e *env) signInWorkers(ctx context.Context, tag string, n int) ([]reqFunc, error) {
	users, err := e.createUsers(ctx, tag, e.userCount(n))
	if err != nil {
		return nil, err
	}
	ws := make([]reqFunc, n)
	for w := range ws {
		ws[w] = e.signInWorker(users[w%len(users)].email)
	}
	return ws, nil
}

func (e *env) sessionWorkers(ctx context.Context, tag string, n int) ([]reqFunc, error) {
	users, err := e.createUsers(ctx, tag, e.userCount(n))
	if err != nil {
		return nil, err
	}
	ws := make([]reqFunc, n)
	for w := range ws {
		ws[w] = e.sessionWorker(users[w%len(users)], expectObject)
	}
	return ws, nil
}

type credentials struct {
	Name     string `json:"name,omitempty"`
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (e *env) signUpWorker(w int) reqFunc {
	n := 0
	return func(ctx context.Context) result {
		n++
		body, _ := json.Marshal(credentials{
			Name:     "Load Test",
			Email:    fmt.Sprintf("load-%s-up-%d-%d@example.test", e.runID, w, n),
			Password: loadPassword,
		})
		req, err := e.post(ctx, e.signUpURL, body)
		if err != nil {
			return result{err: err}
		}
		return e.exec(req, expectStatus, nil)
	}
}

func (e *env) signInWorker(email string) reqFunc {
	// The body is never mutated, so it is safe to reuse across requests.
	body, _ := json.Marshal(credentials{Email: email, Password: loadPassword})
	return func(ctx context.Context) result {
		req, err := e.post(ctx, e.signInURL, body)
		if err != nil {
			return result{err: err}
		}
		return e.exec(req, expectStatus, nil)
	}
}

func (e *env) sessionWorker(a auth, want expectation) reqFunc {
	buf := make([]byte, 64)
	return func(ctx context.Context) result {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.sessURL, nil)
		if err != nil {
			return result{err: err}
		}
		req.Header.Set("Accept", "application/json")
		if a.cookie != "" {
			req.Header.Set("Cookie", a.cookie)
		} else {
			req.Header.Set("Authorization", "Bearer "+a.token)
		}
		return e.exec(req, want, buf)
	}
}

func (e *env) post(ctx context.Context, u string, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Origin", e.cfg.target.origin)
	return req, nil
}

// expectation is what a 200 response body must look like.
type expectation uint8

const (
	expectStatus expectation = iota // any body
	expectObject                    // a JSON object (valid session)
	expectNull                      // the literal null (no session)
)

// exec sends req, drains the body and classifies the outcome. buf receives
// the start of the body when want needs to inspect it.
func (e *env) exec(req *http.Request, want expectation, buf []byte) result {
	resp, err := e.client.Do(req)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	n := 0
	if want != expectStatus {
		n, err = io.ReadFull(resp.Body, buf)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = nil
		}
	}
	if err == nil {
		_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	}
	if err != nil {
		return result{err: fmt.Errorf("reading body: %w", err)}
	}
	if resp.StatusCode != http.StatusOK {
		return result{status: resp.StatusCode}
	}
	return result{status: resp.StatusCode, badBody: !bodyMatches(want, buf[:n], n == len(buf))}
}

// bodyMatches checks the start of a body cheaply. full means head filled
// the whole buffer, i.e. the body may be longer than head.
func bodyMatches(want expectation, head []byte, full bool) bool {
	switch want {
	case expectObject:
		t := bytes.TrimLeft(head, " \t\r\n")
		return len(t) > 0 && t[0] == '{'
	case expectNull:
		return !full && string(bytes.TrimSpace(head)) == "null"
	}
	return true
}

// auth is a signed-up account and how to present its session.
type auth struct {
	email      string
	cookieName string // e.g. "auther.session_token"
	cookie     string // "name=value" for the Cookie header; "" to use token
	token      string // bearer token from the response body
}

// createUsers signs up n fresh accounts (bounded parallelism) and returns
// their sessions. Any failure aborts the scenario.
func (e *env) createUsers(ctx context.Context, tag string, n int) ([]auth, error) {
	users := make([]auth, n)
	errs := make([]error, n)
	sem := make(chan struct{}, setupParallelism)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			email := fmt.Sprintf("load-%s-%s-%d@example.test", e.runID, tag, i)
			users[i], errs[i] = e.signUp(ctx, email)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	return users, nil
}

// signUp creates one account and extracts its session cookie and token.
func (e *env) signUp(ctx context.Context, email string) (auth, error) {
	body, _ := json.Marshal(credentials{Name: "Load Test", Email: email, Password: loadPassword})
	req, err := e.post(ctx, e.signUpURL, body)
	if err != nil {
		return auth{}, err
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return auth{}, fmt.Errorf("sign-up %s: %w", email, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return auth{}, fmt.Errorf("sign-up %s: reading body: %w", email, err)
	}
	if resp.StatusCode != http.StatusOK {
		return auth{}, fmt.Errorf("sign-up %s: status %d: %.200s", email, resp.StatusCode, data)
	}
	var out struct {
		Token string `json:"token"`
	}
	_ = json.Unmarshal(data, &out) // the cookie alone is enough
	a := auth{email: email, token: out.Token}
	a.cookieName, a.cookie = sessionCookie(resp.Header.Values("Set-Cookie"))
	if a.cookie == "" && a.token == "" {
		return auth{}, fmt.Errorf("sign-up %s: %w", email, errNoSession)
	}
	return a, nil
}

// sessionCookie finds the Set-Cookie whose name ends in ".session_token" and
// returns its name and the raw "name=value" pair to send back. The value is
// taken verbatim (not re-validated) so signed, URL-encoded values round-trip.
func sessionCookie(setCookies []string) (name, pair string) {
	for _, sc := range setCookies {
		first, _, _ := strings.Cut(sc, ";")
		n, v, ok := strings.Cut(strings.TrimSpace(first), "=")
		n = strings.TrimSpace(n)
		v = strings.TrimSpace(v)
		if ok && v != "" && v != `""` && strings.HasSuffix(n, ".session_token") {
			return n, n + "=" + v
		}
	}
	return "", ""
}

// invalidCookieValue returns a value shaped like a real Better Auth session
// cookie — a 32-character token, a dot and a URL-encoded base64 HMAC — that
// no server will accept.
func invalidCookieValue() string {
	const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	tok := make([]byte, 32)
	_, _ = rand.Read(tok)
	for i, b := range tok {
		tok[i] = alnum[int(b)%len(alnum)]
	}
	sig := make([]byte, 32)
	_, _ = rand.Read(sig)
	return string(tok) + "." + url.QueryEscape(base64.StdEncoding.EncodeToString(sig))
}

var errNoSession = errors.New("response carried neither a *.session_token cookie nor a token")

// runPhase runs every worker of every group until dur has elapsed, its share
// of maxRequests (counted in iterations) is used up, or stop is set. All
// workers start together. With record false (warm-up) nothing is kept. It
// returns one report per group, each followed by its step's if it has one.
func runPhase(ctx context.Context, groups []group, dur time.Duration, maxRequests int, record bool, stop *atomic.Bool) []report {
	recs := make([][]*recorder, len(groups))
	stepRecs := make([][]*recorder, len(groups))
	newRec := func(limit int) *recorder {
		if record {
			return newRecorder(min(limit, 1<<18))
		}
		return &recorder{discard: true}
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	var deadline time.Time
	for g, gr := range groups {
		n := len(gr.workers)
		recs[g] = make([]*recorder, n)
		stepRecs[g] = make([]*recorder, n)
		for w, fn := range gr.workers {
			limit := workerLimit(maxRequests, n, w)
			rec, stepRec := newRec(limit), &recorder{discard: true}
			if gr.step != "" {
				stepRec = newRec(limit)
			}
			recs[g][w], stepRecs[g][w] = rec, stepRec
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for range limit {
					t0 := time.Now()
					if !t0.Before(deadline) || stop.Load() {
						return
					}
					res := fn(ctx)
					d := time.Since(t0)
					if res.step != nil {
						stepRec.add(d, *res.step)
					}
					rec.add(d, res)
				}
			}()
		}
	}
	t0 := time.Now()
	deadline = t0.Add(dur)
	close(start) // publishes deadline to the workers
	wg.Wait()
	elapsed := time.Since(t0)

	var out []report
	for g, gr := range groups {
		c := len(gr.workers)
		out = append(out, report{gr.name, c, gr.key, summarize(recs[g], elapsed)})
		if gr.step != "" {
			out = append(out, report{gr.name + "/" + gr.step, c, gr.step, summarize(stepRecs[g], elapsed)})
		}
	}
	return out
}

// workerLimit splits total requests across n workers so that the shares sum
// to exactly total.
func workerLimit(total, n, w int) int {
	l := total / n
	if w < total%n {
		l++
	}
	return l
}
