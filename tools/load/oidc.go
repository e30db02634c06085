package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// OpenID Connect scenarios: jwks, discovery, code-exchange and refresh.

// oauthScope is requested by code-exchange and refresh; offline_access makes
// the token endpoint issue a refresh token.
const oauthScope = "openid offline_access"

// checkJWKS accepts a JSON object with a non-empty "keys" array.
func checkJWKS(body []byte) string {
	var v struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return "not a JSON object: " + snippet(body)
	}
	if len(v.Keys) == 0 {
		return `no "keys": ` + snippet(body)
	}
	return ""
}

// checkDiscovery accepts a JSON object with a non-empty "issuer".
func checkDiscovery(body []byte) string {
	var v struct {
		Issuer string `json:"issuer"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return "not a JSON object: " + snippet(body)
	}
	if v.Issuer == "" {
		return `no "issuer": ` + snippet(body)
	}
	return ""
}

// snippet shortens a body for an error message.
func snippet(b []byte) string {
	const n = 160
	s := strings.ToValidUTF8(string(b[:min(len(b), n)]), "?")
	if len(b) > n {
		s += "…"
	}
	return fmt.Sprintf("%q", s)
}

// jsonGetWorker GETs u and checks the body with check, which returns "" if
// the body is as expected or a description of what is wrong.
func (e *env) jsonGetWorker(u string, check func([]byte) string) reqFunc {
	var buf bytes.Buffer
	return func(ctx context.Context) result {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return result{err: err}
		}
		req.Header.Set("Accept", "application/json")
		_, res := e.send(req, http.StatusOK, &buf)
		if !res.failed() {
			if d := check(buf.Bytes()); d != "" {
				res.badBody, res.detail = true, d
			}
		}
		return res
	}
}

// send performs req, reads at most maxBody of the body into buf and
// classifies the status against want. The body is closed on return; the
// response is returned for its headers. A wrong status carries the start of
// the body as its detail.
func (e *env) send(req *http.Request, want int, buf *bytes.Buffer) (*http.Response, result) {
	resp, err := e.client.Do(req)
	if err != nil {
		return nil, result{want: want, err: err}
	}
	defer resp.Body.Close()
	buf.Reset()
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, maxBody)); err != nil {
		return resp, result{want: want, err: fmt.Errorf("reading body: %w", err)}
	}
	res := result{status: resp.StatusCode, want: want}
	if resp.StatusCode != want {
		res.detail = fmt.Sprintf("%s %s: status %d: %s", req.Method, req.URL.Path, resp.StatusCode, snippet(buf.Bytes()))
	}
	return resp, res
}

// basicAuth is the client_secret_basic Authorization header: id and secret
// are form-encoded before base64 (RFC 6749 §2.3.1). "" without a client.
func basicAuth(id, secret string) string {
	if id == "" {
		return ""
	}
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// randomToken returns n random bytes, base64url-encoded without padding.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// newVerifier returns a PKCE code verifier: 32 random bytes make 43
// base64url characters, the minimum RFC 7636 §4.1 allows.
func newVerifier() string { return randomToken(32) }

// s256 is the PKCE S256 code challenge of a verifier (RFC 7636 §4.2):
// BASE64URL(SHA256(ASCII(verifier))), unpadded.
func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// qesc escapes a query value with %20 for spaces.
func qesc(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }

// authorizeURLFor builds the authorization request.
func (e *env) authorizeURLFor(state, nonce, challenge string) string {
	o := e.cfg.oauth
	return e.authorizeURL + "?response_type=code&client_id=" + qesc(o.clientID) +
		"&redirect_uri=" + qesc(o.redirectURI) + "&scope=" + qesc(oauthScope) +
		"&state=" + qesc(state) + "&nonce=" + qesc(nonce) +
		"&code_challenge=" + qesc(challenge) + "&code_challenge_method=S256"
}

// codeFromLocation extracts the authorization code from the Location of the
// authorization response. The Location must point at redirectURI (same
// scheme, host and path), carry no error, echo state and hold a code.
func codeFromLocation(location, redirectURI, state string) (string, error) {
	if location == "" {
		return "", errors.New("no Location header")
	}
	u, err := url.Parse(location)
	if err != nil {
		return "", fmt.Errorf("malformed Location %q: %w", location, err)
	}
	ru, err := url.Parse(redirectURI)
	if err != nil {
		return "", fmt.Errorf("malformed redirect URI %q: %w", redirectURI, err)
	}
	if !strings.EqualFold(u.Scheme, ru.Scheme) || !strings.EqualFold(u.Host, ru.Host) || u.Path != ru.Path {
		return "", fmt.Errorf("redirected, but not to the redirect URI (sign-in or consent page?): %.120q", location)
	}
	q := u.Query()
	if e := q.Get("error"); e != "" {
		return "", fmt.Errorf("authorization error %s: %s", e, q.Get("error_description"))
	}
	if got := q.Get("state"); got != state {
		return "", fmt.Errorf("state %q in Location, want %q", got, state)
	}
	code := q.Get("code")
	if code == "" {
		return "", fmt.Errorf("no code in Location %.200q", location)
	}
	return code, nil
}

// authorize performs the authorization request with the session cookie and
// returns the code. The result is timed and expects a 302.
func (e *env) authorize(ctx context.Context, cookie, challenge string, buf *bytes.Buffer) (code string, res result) {
	state, nonce := randomToken(16), randomToken(16)
	t0 := time.Now()
	defer func() { res.timed, res.lat = true, time.Since(t0) }()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.authorizeURLFor(state, nonce, challenge), nil)
	if err != nil {
		return "", result{want: http.StatusFound, err: err}
	}
	req.Header.Set("Cookie", cookie)
	resp, res := e.send(req, http.StatusFound, buf)
	if res.failed() {
		return "", res
	}
	code, err = codeFromLocation(resp.Header.Get("Location"), e.cfg.oauth.redirectURI, state)
	if err != nil {
		res.badBody, res.detail = true, err.Error()
	}
	return code, res
}

// tokenResponse is the part of the token endpoint's answer the tool needs.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

// token POSTs form to the token endpoint with the client's Basic
// credentials. It expects 200 JSON with an access_token and, when
// needRefresh, a refresh_token. The result is timed.
func (e *env) token(ctx context.Context, form string, needRefresh bool, buf *bytes.Buffer) (tr tokenResponse, res result) {
	t0 := time.Now()
	defer func() { res.timed, res.lat = true, time.Since(t0) }()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.tokenURL, strings.NewReader(form))
	if err != nil {
		return tr, result{err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", e.basicAuth)
	_, res = e.send(req, http.StatusOK, buf)
	if res.failed() {
		return tr, res
	}
	switch err := json.Unmarshal(buf.Bytes(), &tr); {
	case err != nil:
		res.badBody, res.detail = true, "token response is not JSON: "+snippet(buf.Bytes())
	case tr.AccessToken == "":
		res.badBody, res.detail = true, "token response has no access_token"
	case needRefresh && tr.RefreshToken == "":
		res.badBody, res.detail = true, "token response has no refresh_token (does the client allow the refresh_token grant and offline_access?)"
	}
	return tr, res
}

// exchangeForm is the authorization_code grant request.
func (e *env) exchangeForm(code, verifier string) string {
	return "grant_type=authorization_code&code=" + url.QueryEscape(code) +
		"&redirect_uri=" + url.QueryEscape(e.cfg.oauth.redirectURI) +
		"&code_verifier=" + url.QueryEscape(verifier)
}

// codeExchange runs one authorization-code flow: authorize, then token.
// authz is the authorize step's result; tok is the token POST's, or a
// not-sent result when authorize failed.
func (e *env) codeExchange(ctx context.Context, cookie string, needRefresh bool, buf *bytes.Buffer) (tr tokenResponse, authz, tok result) {
	verifier := newVerifier()
	code, authz := e.authorize(ctx, cookie, s256(verifier), buf)
	if authz.failed() {
		return tr, authz, result{notSent: true, err: fmt.Errorf("authorize step failed: %w", authz.asError())}
	}
	tr, tok = e.token(ctx, e.exchangeForm(code, verifier), needRefresh, buf)
	return tr, authz, tok
}

// exchangeForSetup is codeExchange with the outcome as an error.
func (e *env) exchangeForSetup(ctx context.Context, cookie string, needRefresh bool, buf *bytes.Buffer) (tokenResponse, error) {
	tr, authz, tok := e.codeExchange(ctx, cookie, needRefresh, buf)
	if err := authz.asError(); err != nil {
		return tr, fmt.Errorf("authorize: %w", err)
	}
	if err := tok.asError(); err != nil {
		return tr, fmt.Errorf("token: %w", err)
	}
	return tr, nil
}

// oauthUsers signs up the accounts of n workers and checks they have a
// session cookie, which the authorization endpoint needs.
func (e *env) oauthUsers(ctx context.Context, tag string, n int) ([]auth, error) {
	users, err := e.createUsers(ctx, tag, e.userCount(n))
	if err != nil {
		return nil, err
	}
	for _, u := range users {
		if u.cookie == "" {
			return nil, fmt.Errorf("setup: sign-up %s returned no session cookie; the authorization endpoint needs one", u.email)
		}
	}
	return users, nil
}

// codeExchangeWorkers prepares code-exchange. One trial exchange checks the
// client before any loop runs, so a wrong secret or redirect URI fails
// fast with the server's reason.
func (e *env) codeExchangeWorkers(ctx context.Context, tag string, n int) ([]reqFunc, error) {
	users, err := e.oauthUsers(ctx, tag, n)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := e.exchangeForSetup(ctx, users[0].cookie, false, &buf); err != nil {
		return nil, fmt.Errorf("setup: trial code exchange: %w", err)
	}
	ws := make([]reqFunc, n)
	for w := range ws {
		ws[w] = e.codeExchangeWorker(users[w%len(users)].cookie)
	}
	return ws, nil
}

func (e *env) codeExchangeWorker(cookie string) reqFunc {
	var buf bytes.Buffer
	return func(ctx context.Context) result {
		_, authz, tok := e.codeExchange(ctx, cookie, false, &buf)
		tok.step = &authz
		return tok
	}
}

// refreshWorkers prepares refresh: one code exchange per worker gives each
// the start of its own chain of refresh tokens.
func (e *env) refreshWorkers(ctx context.Context, tag string, n int) ([]reqFunc, error) {
	users, err := e.oauthUsers(ctx, tag, n)
	if err != nil {
		return nil, err
	}
	first := make([]string, n)
	errs := make([]error, n)
	sem := make(chan struct{}, setupParallelism)
	var wg sync.WaitGroup
	for w := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			var buf bytes.Buffer
			tr, err := e.exchangeForSetup(ctx, users[w%len(users)].cookie, true, &buf)
			if err != nil {
				errs[w] = fmt.Errorf("worker %d: code exchange: %w", w, err)
			}
			first[w] = tr.RefreshToken
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	ws := make([]reqFunc, n)
	for w := range ws {
		ws[w] = e.refreshWorker(users[w%len(users)].cookie, first[w])
	}
	return ws, nil
}

// refreshWorker rotates its own chain of refresh tokens. A token is never
// sent twice: after any failure (even a timeout, after which the server may
// already have rotated it) the worker drops it and starts a new chain with
// a code exchange, which is not part of the measured latency.
func (e *env) refreshWorker(cookie, first string) reqFunc {
	cur := first
	var buf bytes.Buffer
	return func(ctx context.Context) result {
		if cur == "" {
			tr, err := e.exchangeForSetup(ctx, cookie, true, &buf)
			if err != nil {
				return result{notSent: true, err: fmt.Errorf("starting a new refresh chain: %w", err)}
			}
			cur = tr.RefreshToken
		}
		tr, res := e.token(ctx, "grant_type=refresh_token&refresh_token="+url.QueryEscape(cur), true, &buf)
		cur = ""
		if !res.failed() {
			cur = tr.RefreshToken
		}
		return res
	}
}
