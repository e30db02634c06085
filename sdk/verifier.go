package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"
	"unicode"
)

// Errors returned by Verifier.Verify. Every error Verify returns wraps exactly
// one of them, so callers can branch with errors.Is.
var (
	// ErrMalformed: the string is not a compact JWS with a JSON claims set.
	ErrMalformed = errors.New("auther: malformed token")
	// ErrAlgorithm: the header's alg is not one of Config.Algorithms
	// (this covers "none" and every HMAC algorithm), or does not match the
	// alg the key is published with.
	ErrAlgorithm = errors.New("auther: signing algorithm not allowed")
	// ErrUnknownKey: no published key has the token's kid, even after the
	// JWKS was refetched (or the refetch was throttled).
	ErrUnknownKey = errors.New("auther: unknown signing key")
	// ErrSignature: the signature does not verify with the published key.
	ErrSignature = errors.New("auther: invalid signature")
	// ErrTokenType: the header's typ is not an accepted type (at+jwt by
	// default), for instance an ID token presented as an access token.
	ErrTokenType = errors.New("auther: wrong token type")
	// ErrExpired: exp is in the past by more than the leeway.
	ErrExpired = errors.New("auther: token expired")
	// ErrNotYetValid: nbf or iat is in the future by more than the leeway.
	ErrNotYetValid = errors.New("auther: token not valid yet")
	// ErrIssuer: iss is not Config.Issuer.
	ErrIssuer = errors.New("auther: wrong issuer")
	// ErrAudience: aud does not contain Config.Audience.
	ErrAudience = errors.New("auther: wrong audience")
	// ErrClaims: a required claim (sub, exp) is missing or has the wrong type.
	ErrClaims = errors.New("auther: invalid claims")
	// ErrKeysUnavailable: no key set has ever been fetched (Auther
	// unreachable since start), so nothing can be verified, or the
	// request's context ended while it waited for a refetch (the error then
	// also wraps the context's). The middleware answers 503 rather than 401
	// for it.
	ErrKeysUnavailable = errors.New("auther: signing keys unavailable")
)

// MaxLeeway is the largest clock-skew tolerance a Verifier accepts. Fix the
// clocks (NTP) rather than widening it.
const MaxLeeway = 30 * time.Second

// MaxCacheTTL is the longest a fetched key set is trusted before it is
// refetched.
const MaxCacheTTL = 12 * time.Hour

// Config configures a Verifier. Issuer and Audience are required.
type Config struct {
	// Issuer is Auther's base URL exactly as it appears in the iss claim,
	// e.g. "https://id.example.com".
	Issuer string
	// Audience is the client id the tokens must be issued to (the aud claim
	// must contain it).
	Audience string
	// Algorithms are the signing algorithms accepted; default RS256. Only
	// asymmetric algorithms are allowed (RS256/384/512, PS256/384/512,
	// ES256/384/512, EdDSA): "none" and HS* are always rejected.
	Algorithms []string
	// JWKSURL defaults to Issuer + "/api/auth/jwks". DiscoverJWKSURL reads
	// it from the discovery document instead.
	JWKSURL string
	// Types are the accepted values of the header typ, compared without
	// case and without an "application/" prefix. Default: "at+jwt" only,
	// so that an ID token (typ "JWT", same iss and aud) is never accepted
	// as an access token. Add "JWT" only if tokens of another profile
	// must pass.
	Types []string
	// Leeway tolerated on exp, nbf and iat: 0 means 30 s, a negative value
	// means none, more than 30 s is refused.
	Leeway time.Duration
	// HTTPClient fetches the JWKS; default a client with a 10 s timeout.
	HTTPClient *http.Client
	// CacheTTL is how long a fetched key set is used before it is
	// refetched in the background: default 1 h, at most 12 h.
	CacheTTL time.Duration
	// RefreshCooldown is the least time between two fetches of the key
	// set, whatever triggers them (unknown kid, expired cache, failure):
	// default 10 s.
	RefreshCooldown time.Duration
	// Lazy skips the fetch NewVerifier otherwise does, so that an app can
	// start while Auther is down; the first Verify fetches instead.
	Lazy bool
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Verifier verifies Auther access tokens offline against Auther's published
// keys. It is safe for concurrent use; create one per process and share it.
type Verifier struct {
	issuer   string
	audience string
	algs     []string
	types    []string
	leeway   time.Duration
	now      func() time.Time
	keys     *keyCache
}

var asymmetric = map[string]bool{
	"RS256": true, "RS384": true, "RS512": true,
	"PS256": true, "PS384": true, "PS512": true,
	"ES256": true, "ES384": true, "ES512": true,
	"EdDSA": true,
}

// NewVerifier checks cfg and, unless cfg.Lazy, fetches the key set once so
// that the first requests do not wait for it; it fails when that fetch fails.
func NewVerifier(ctx context.Context, cfg Config) (*Verifier, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("auther: Config.Issuer is required")
	}
	if cfg.Audience == "" {
		return nil, errors.New("auther: Config.Audience is required (the client id tokens are issued to)")
	}
	algs := cfg.Algorithms
	if len(algs) == 0 {
		algs = []string{"RS256"}
	}
	v := &Verifier{issuer: cfg.Issuer, audience: cfg.Audience, now: cfg.Now}
	for _, a := range algs {
		if !asymmetric[a] {
			return nil, fmt.Errorf("auther: algorithm %q is not allowed (use RS256, ES256 or EdDSA)", a)
		}
		v.algs = append(v.algs, a)
	}
	types := cfg.Types
	if len(types) == 0 {
		types = []string{"at+jwt"}
	}
	for _, t := range types {
		v.types = append(v.types, normalizeType(t))
	}
	switch {
	case cfg.Leeway == 0:
		v.leeway = MaxLeeway
	case cfg.Leeway < 0:
		v.leeway = 0
	case cfg.Leeway > MaxLeeway:
		return nil, fmt.Errorf("auther: leeway %v is above the 30s maximum", cfg.Leeway)
	default:
		v.leeway = cfg.Leeway
	}
	if v.now == nil {
		v.now = time.Now
	}
	ttl := cfg.CacheTTL
	if ttl == 0 {
		ttl = time.Hour
	}
	if ttl < 0 || ttl > MaxCacheTTL {
		return nil, fmt.Errorf("auther: CacheTTL %v must be between 0 and 12h", ttl)
	}
	cooldown := cfg.RefreshCooldown
	if cooldown == 0 {
		cooldown = 10 * time.Second
	}
	if cooldown < 0 {
		return nil, errors.New("auther: RefreshCooldown must not be negative")
	}
	url := cfg.JWKSURL
	if url == "" {
		url = strings.TrimRight(cfg.Issuer, "/") + "/api/auth/jwks"
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	v.keys = &keyCache{url: url, client: client, ttl: ttl, cooldown: cooldown, now: v.now}
	if !cfg.Lazy {
		if err := v.keys.refresh(ctx); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// Refresh fetches the key set now, ignoring the cache lifetime but not the
// cooldown. It is seldom needed: Verify refreshes on its own.
func (v *Verifier) Refresh(ctx context.Context) error { return v.keys.refresh(ctx) }

// Claims are the verified claims of an access token.
type Claims struct {
	Issuer    string
	Subject   string // the user id; for client_credentials tokens the client id
	Audience  []string
	ClientID  string
	Scope     string // space-separated
	ID        string // jti
	IssuedAt  time.Time
	ExpiresAt time.Time
	NotBefore time.Time // zero when absent
	AuthTime  time.Time // zero when absent

	// Profile claims; empty when the token does not carry them (Auther's
	// access tokens do not today, its ID tokens do).
	Email         string
	EmailVerified bool
	Name          string
	Picture       string

	// Payload is the claims set exactly as signed. Claims this type does
	// not name (such as a future permissions claim) are read from it with
	// Claim or Raw; it is not decoded into a map up front because most
	// requests never need one.
	Payload json.RawMessage
}

// Claim decodes the claim called name into v (any type encoding/json can
// fill) and reports whether the token carries it.
func (c *Claims) Claim(name string, v any) (bool, error) {
	var all map[string]json.RawMessage
	if err := json.Unmarshal(c.Payload, &all); err != nil {
		return false, err
	}
	raw, ok := all[name]
	if !ok {
		return false, nil
	}
	return true, json.Unmarshal(raw, v)
}

// Raw returns every claim decoded by encoding/json (numbers as float64),
// the named ones included. It decodes Payload on each call.
func (c *Claims) Raw() map[string]any {
	var m map[string]any
	json.Unmarshal(c.Payload, &m)
	return m
}

// Scopes splits Scope.
func (c *Claims) Scopes() []string { return strings.Fields(c.Scope) }

// HasScope reports whether the token was granted scope s.
func (c *Claims) HasScope(s string) bool {
	for _, x := range strings.Fields(c.Scope) {
		if x == s {
			return true
		}
	}
	return false
}

// IsClient reports whether the token was issued to a client for itself
// (client_credentials grant) rather than to a user: then sub is the client id.
func (c *Claims) IsClient() bool { return c.ClientID != "" && c.Subject == c.ClientID }

// Verify checks token and returns its claims. In order: compact JWS form;
// alg among Config.Algorithms; typ accepted; kid published (refetching the
// key set once per cooldown when it is not); signature; iss; aud; exp, nbf
// and iat within the leeway; sub present.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	jws, err := parseCompact(token)
	if err != nil {
		return nil, err
	}
	h := &jws.header
	if !v.algAllowed(h.Alg) {
		return nil, fmt.Errorf("%w: %q", ErrAlgorithm, h.Alg)
	}
	if !v.typeAccepted(h.Typ) {
		return nil, fmt.Errorf("%w: typ %q", ErrTokenType, h.Typ)
	}
	if h.Kid == "" {
		return nil, fmt.Errorf("%w: token has no kid", ErrUnknownKey)
	}
	key, err := v.keys.get(ctx, h.Kid)
	if err != nil {
		return nil, err
	}
	if key.Algorithm != "" && key.Algorithm != h.Alg {
		return nil, fmt.Errorf("%w: key %s is for %s, token says %s", ErrAlgorithm, h.Kid, key.Algorithm, h.Alg)
	}
	if !keyFits(h.Alg, key.Key) {
		return nil, fmt.Errorf("%w: key %s cannot verify %s", ErrAlgorithm, h.Kid, h.Alg)
	}
	if !verifySignature(h.Alg, key.Key, jws.signingInput, jws.signature) {
		return nil, ErrSignature
	}
	c, err := claimsFrom(jws.payload)
	if err != nil {
		return nil, err
	}
	if c.Issuer != v.issuer {
		return nil, fmt.Errorf("%w: %q", ErrIssuer, c.Issuer)
	}
	if !contains(c.Audience, v.audience) {
		return nil, fmt.Errorf("%w: %q", ErrAudience, c.Audience)
	}
	now := v.now()
	if c.ExpiresAt.IsZero() {
		return nil, fmt.Errorf("%w: exp is required", ErrClaims)
	}
	if !now.Before(c.ExpiresAt.Add(v.leeway)) {
		return nil, fmt.Errorf("%w at %s", ErrExpired, c.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if !c.NotBefore.IsZero() && now.Add(v.leeway).Before(c.NotBefore) {
		return nil, fmt.Errorf("%w: nbf %s", ErrNotYetValid, c.NotBefore.UTC().Format(time.RFC3339))
	}
	if !c.IssuedAt.IsZero() && now.Add(v.leeway).Before(c.IssuedAt) {
		return nil, fmt.Errorf("%w: iat %s", ErrNotYetValid, c.IssuedAt.UTC().Format(time.RFC3339))
	}
	if c.Subject == "" {
		return nil, fmt.Errorf("%w: sub is required", ErrClaims)
	}
	return c, nil
}

func (v *Verifier) algAllowed(alg string) bool {
	for _, a := range v.algs {
		if a == alg {
			return true
		}
	}
	return false
}

func (v *Verifier) typeAccepted(typ string) bool {
	t := normalizeType(typ)
	for _, a := range v.types {
		if a == t {
			return true
		}
	}
	return false
}

func normalizeType(t string) string {
	t = strings.ToLower(t)
	return strings.TrimPrefix(t, "application/")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// wireClaims is the claims set as encoding/json decodes it.
type wireClaims struct {
	Iss           string          `json:"iss"`
	Sub           string          `json:"sub"`
	Aud           json.RawMessage `json:"aud"`
	ClientID      string          `json:"client_id"`
	Scope         string          `json:"scope"`
	Jti           string          `json:"jti"`
	Iat           *float64        `json:"iat"`
	Exp           *float64        `json:"exp"`
	Nbf           *float64        `json:"nbf"`
	AuthTime      *float64        `json:"auth_time"`
	Email         string          `json:"email"`
	EmailVerified bool            `json:"email_verified"`
	Name          string          `json:"name"`
	Picture       string          `json:"picture"`
}

func claimsFrom(payload []byte) (*Claims, error) {
	if i := bytes.IndexFunc(payload, func(r rune) bool { return !unicode.IsSpace(r) }); i < 0 || payload[i] != '{' {
		return nil, fmt.Errorf("%w: claims are not a JSON object", ErrMalformed)
	}
	var w wireClaims
	if err := json.Unmarshal(payload, &w); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, fmt.Errorf("%w: %s has the wrong type", ErrClaims, typeErr.Field)
		}
		return nil, fmt.Errorf("%w: claims: %v", ErrMalformed, err)
	}
	c := &Claims{Issuer: w.Iss, Subject: w.Sub, ClientID: w.ClientID, Scope: w.Scope, ID: w.Jti,
		Email: w.Email, EmailVerified: w.EmailVerified, Name: w.Name, Picture: w.Picture, Payload: payload}
	var err error
	date := func(name string, f *float64) time.Time {
		if f == nil {
			return time.Time{}
		}
		if *f < 0 || *f > 1e12 {
			if err == nil {
				err = fmt.Errorf("%w: %s is not a NumericDate", ErrClaims, name)
			}
			return time.Time{}
		}
		sec, frac := math.Modf(*f)
		return time.Unix(int64(sec), int64(frac*1e9))
	}
	c.IssuedAt = date("iat", w.Iat)
	c.ExpiresAt = date("exp", w.Exp)
	c.NotBefore = date("nbf", w.Nbf)
	c.AuthTime = date("auth_time", w.AuthTime)
	if err != nil {
		return nil, err
	}
	if len(w.Aud) > 0 && string(w.Aud) != "null" {
		if w.Aud[0] == '"' {
			var a string
			if err := json.Unmarshal(w.Aud, &a); err != nil {
				return nil, fmt.Errorf("%w: aud: %v", ErrClaims, err)
			}
			c.Audience = []string{a}
		} else if err := json.Unmarshal(w.Aud, &c.Audience); err != nil {
			return nil, fmt.Errorf("%w: aud is neither a string nor a list of strings", ErrClaims)
		}
	}
	return c, nil
}

// DiscoverJWKSURL reads jwks_uri from issuer's OpenID Connect discovery
// document (<issuer>/.well-known/openid-configuration) and checks that the
// document names the same issuer. Pass the result as Config.JWKSURL.
func DiscoverJWKSURL(ctx context.Context, client *http.Client, issuer string) (string, error) {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(issuer, "/")+"/.well-known/openid-configuration", nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("auther: discovery: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("auther: discovery: HTTP %d", resp.StatusCode)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.NewDecoder(limitReader(resp.Body)).Decode(&doc); err != nil {
		return "", fmt.Errorf("auther: discovery: %w", err)
	}
	if doc.Issuer != issuer {
		return "", fmt.Errorf("auther: discovery names issuer %q, expected %q", doc.Issuer, issuer)
	}
	if doc.JWKSURI == "" {
		return "", errors.New("auther: discovery has no jwks_uri")
	}
	return doc.JWKSURI, nil
}
