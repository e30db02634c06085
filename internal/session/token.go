// Package session makes and checks session tokens and decides when a session
// is refreshed. It knows nothing of HTTP or SQL.
package session

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"time"
)

// NewToken returns 256 random bits, base64url-encoded (43 characters).
func NewToken() string {
	var b [32]byte
	rand.Read(b[:]) // never fails; panics on a broken system RNG (Go ≥ 1.24)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Hash is what the store keeps in place of a token: hex SHA-256. A leaked
// database therefore yields no usable session.
func Hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Signer signs cookie values the way Better Auth (better-call) does:
// "<token>.<base64std(HMAC-SHA256(secret, token))>" — the signature is always
// 44 characters ending in "=".
type Signer struct{ key []byte }

// NewSigner returns a signer keyed by secret.
func NewSigner(secret string) Signer { return Signer{key: []byte(secret)} }

func (s Signer) mac(token string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(token))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Sign returns the signed cookie value for token.
func (s Signer) Sign(token string) string { return token + "." + s.mac(token) }

// Verify returns the token inside a signed value, or ok=false when the value
// is malformed or its signature does not match (compared in constant time).
func (s Signer) Verify(value string) (token string, ok bool) {
	i := strings.LastIndexByte(value, '.')
	if i <= 0 {
		return "", false
	}
	token, sig := value[:i], value[i+1:]
	if len(sig) != 44 || sig[43] != '=' {
		return "", false
	}
	if !hmac.Equal([]byte(sig), []byte(s.mac(token))) {
		return "", false
	}
	return token, true
}

// Policy holds session lifetimes.
type Policy struct {
	ExpiresIn time.Duration // lifetime of a remembered session (7 days)
	UpdateAge time.Duration // extend when last extended longer ago than this (1 day)
	FreshAge  time.Duration // sensitive actions need a session younger than this (1 day); 0 = off
	ShortLife time.Duration // lifetime when rememberMe is false (1 day)
}

// DefaultPolicy is Better Auth's.
var DefaultPolicy = Policy{ExpiresIn: 7 * 24 * time.Hour, UpdateAge: 24 * time.Hour, FreshAge: 24 * time.Hour, ShortLife: 24 * time.Hour}

// NeedsRefresh reports whether a session expiring at expiresAt should be
// extended now (Better Auth's rule: expiresAt - expiresIn + updateAge <= now).
func (p Policy) NeedsRefresh(expiresAt, now time.Time) bool {
	return !expiresAt.Add(-p.ExpiresIn).Add(p.UpdateAge).After(now)
}

// Fresh reports whether a session created at createdAt is fresh enough for
// sensitive actions.
func (p Policy) Fresh(createdAt, now time.Time) bool {
	return p.FreshAge == 0 || now.Sub(createdAt) <= p.FreshAge
}
