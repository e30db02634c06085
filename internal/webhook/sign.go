// Package webhook manages the endpoints that receive Auther's lifecycle
// events and delivers the event outbox to them: signed, retried with
// backoff, in order per subject, and recorded attempt by attempt.
package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
)

// SecretPrefix starts every endpoint secret, so a leaked one is recognisable.
const SecretPrefix = "whsec_"

// NewSecret returns a fresh endpoint secret: the prefix and 32 random bytes.
func NewSecret() string {
	var b [32]byte
	rand.Read(b[:])
	return SecretPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// Sign is the x-webhook-signature of one secret: lower-hex HMAC-SHA256, keyed
// with the secret string as shown to the user, over "<timestamp ms>.<body>".
// Binding the timestamp stops a captured delivery being replayed later with
// a fresh timestamp.
func Sign(secret string, timestampMs int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(timestampMs, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Signatures signs with every secret (the current one first) and joins the
// results with commas: during a rotation receivers holding either the old or
// the new secret accept the delivery.
func Signatures(secrets []string, timestampMs int64, body []byte) string {
	sigs := make([]string, len(secrets))
	for i, s := range secrets {
		sigs[i] = Sign(s, timestampMs, body)
	}
	return strings.Join(sigs, ",")
}

// Verify reports whether header (one or more comma-separated signatures)
// holds a valid signature of body under any of secrets, comparing in
// constant time.
func Verify(secrets []string, header string, timestampMs int64, body []byte) bool {
	ok := false
	for _, s := range secrets {
		want := []byte(Sign(s, timestampMs, body))
		for _, got := range strings.Split(header, ",") {
			if hmac.Equal(want, []byte(strings.TrimSpace(got))) {
				ok = true
			}
		}
	}
	return ok
}
