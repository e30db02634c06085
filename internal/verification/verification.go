// Package verification makes the secrets that prove control of an email
// address: link tokens and one-time codes. Only hashes of them are stored.
package verification

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// NewToken returns a link token of 256 random bits, base64url-encoded.
func NewToken() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Identifier is the verification.identifier stored for a link token:
// "<purpose>:" followed by the token's SHA-256 in base64url (Better Auth's
// "hashed identifier" layout). The token itself is never stored, so a
// database leak yields no usable link.
func Identifier(purpose, token string) string {
	sum := sha256.Sum256([]byte(token))
	return purpose + ":" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// NewOTP returns a uniformly random six-digit code from crypto/rand.
func NewOTP() string {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		panic(err)
	}
	return fmt.Sprintf("%06d", n.Int64())
}

// OTPHasher keys one-time-code hashes with a server secret: six digits have
// too little entropy for a plain hash to hide them.
type OTPHasher struct{ key []byte }

// NewOTPHasher derives the HMAC key from the server secret.
func NewOTPHasher(secret string) OTPHasher {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("auther email-otp v1"))
	return OTPHasher{key: m.Sum(nil)}
}

// Hash binds the code to its identifier, so a code for one purpose or
// address never matches another.
func (h OTPHasher) Hash(identifier, otp string) string {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(identifier))
	m.Write([]byte{0})
	m.Write([]byte(otp))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Value is the stored form of a code: "<hash>:<wrong attempts>".
func Value(hash string, attempts int) string { return hash + ":" + strconv.Itoa(attempts) }

// ParseValue splits a stored code value.
func ParseValue(v string) (hash string, attempts int, ok bool) {
	i := strings.LastIndexByte(v, ':')
	if i < 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(v[i+1:])
	if err != nil || n < 0 {
		return "", 0, false
	}
	return v[:i], n, true
}

// Equal compares two hashes in constant time.
func Equal(a, b string) bool { return hmac.Equal([]byte(a), []byte(b)) }
