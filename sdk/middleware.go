package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
)

type claimsKey struct{}

// WithClaims returns a context carrying c; ClaimsFrom reads it back.
// Framework adapters and tests use it.
func WithClaims(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// ClaimsFrom returns the verified claims the middleware put on the request
// context, or false for an anonymous request.
func ClaimsFrom(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*Claims)
	return c, ok && c != nil
}

// ErrNoToken means the request carries no bearer token.
var ErrNoToken = errors.New("auther: missing bearer token")

// BearerToken extracts the token of an "Authorization: Bearer <token>"
// header (scheme case-insensitive). It returns false when the header is
// absent or uses another scheme, and ("", true) for a bare "Bearer".
func BearerToken(r *http.Request) (string, bool) {
	scheme, tok, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(tok), true
}

// Authenticate verifies the request's bearer token. It returns ErrNoToken
// when there is none; any other error comes from Verify.
func (v *Verifier) Authenticate(r *http.Request) (*Claims, error) {
	tok, ok := BearerToken(r)
	if !ok {
		return nil, ErrNoToken
	}
	if tok == "" {
		return nil, ErrMalformed
	}
	return v.Verify(r.Context(), tok)
}

// MiddlewareOption changes how Middleware treats requests.
type MiddlewareOption func(*middlewareConfig)

type middlewareConfig struct {
	optional bool
	onError  func(http.ResponseWriter, *http.Request, error)
}

// Optional lets requests without a bearer token through anonymously
// (ClaimsFrom then returns false). A request that does present a token
// that fails verification is still refused with 401: a broken or expired
// token is a client bug or an attack, and silently downgrading it to
// anonymous would hide both.
func Optional() MiddlewareOption { return func(c *middlewareConfig) { c.optional = true } }

// Required is the default: a request without a valid token is refused.
func Required() MiddlewareOption { return func(c *middlewareConfig) { c.optional = false } }

// OnError replaces the default error answer (WriteAuthError).
func OnError(f func(http.ResponseWriter, *http.Request, error)) MiddlewareOption {
	return func(c *middlewareConfig) { c.onError = f }
}

// Middleware verifies the bearer token of each request and puts its claims
// on the request context (read them with ClaimsFrom). By default a token
// is required; refused requests get WriteAuthError's answer.
//
// Its type is the usual func(http.Handler) http.Handler, so it plugs into
// chi (r.Use), gorilla/mux and any net/http stack as is.
func Middleware(v *Verifier, opts ...MiddlewareOption) func(http.Handler) http.Handler {
	cfg := middlewareConfig{onError: func(w http.ResponseWriter, _ *http.Request, err error) { WriteAuthError(w, err) }}
	for _, o := range opts {
		o(&cfg)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := v.Authenticate(r)
			if err != nil {
				if cfg.optional && errors.Is(err, ErrNoToken) {
					next.ServeHTTP(w, r)
					return
				}
				cfg.onError(w, r, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(WithClaims(r.Context(), c)))
		})
	}
}

// RequireScope refuses with 403 insufficient_scope the requests whose
// claims (set by Middleware, which must run first) lack any of scopes;
// anonymous requests get 401.
func RequireScope(scopes ...string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, ok := ClaimsFrom(r.Context())
			if !ok {
				WriteAuthError(w, ErrNoToken)
				return
			}
			for _, s := range scopes {
				if !c.HasScope(s) {
					w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="`+strings.Join(scopes, " ")+`"`)
					writeJSON(w, http.StatusForbidden, map[string]string{"error": "insufficient_scope", "message": "the token lacks scope " + s})
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// WriteAuthError writes the answer for an authentication failure:
//   - no token: 401 {"error":"unauthenticated","message":"missing bearer token"}
//     with "WWW-Authenticate: Bearer" (RFC 6750 §3.1: no error code when
//     no credentials were sent);
//   - a token that fails verification: 401 with
//     `WWW-Authenticate: Bearer error="invalid_token", error_description="…"`;
//   - ErrKeysUnavailable (Auther unreachable since start): 503
//     {"error":"unavailable"} with Retry-After, because the token may well be
//     valid (a request whose context ended while keys were being fetched
//     gets the same answer).
func WriteAuthError(w http.ResponseWriter, err error) {
	h := w.Header()
	switch {
	case errors.Is(err, ErrNoToken):
		h.Set("WWW-Authenticate", "Bearer")
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthenticated", "message": "missing bearer token"})
	case errors.Is(err, ErrKeysUnavailable), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		h.Set("Retry-After", "10")
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "unavailable", "message": "token signing keys are unavailable, try again"})
	default:
		msg := describe(err)
		h.Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="`+msg+`"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthenticated", "message": msg})
	}
}

// describe gives the client a short reason without echoing token content.
func describe(err error) string {
	for _, e := range []struct {
		err error
		msg string
	}{
		{ErrExpired, "token expired"},
		{ErrNotYetValid, "token not valid yet"},
		{ErrIssuer, "wrong issuer"},
		{ErrAudience, "wrong audience"},
		{ErrAlgorithm, "signing algorithm not allowed"},
		{ErrTokenType, "not an access token"},
		{ErrUnknownKey, "unknown signing key"},
		{ErrSignature, "invalid signature"},
		{ErrClaims, "invalid claims"},
		{ErrUserDeleted, "user deleted"},
		{ErrNotAUser, "not a user token"},
	} {
		if errors.Is(err, e.err) {
			return e.msg
		}
	}
	return "malformed token"
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
