// Package seal encrypts small values at rest (mail bodies carrying sign-in
// links, later signing keys and webhook secrets) with AES-256-GCM under a key
// derived from Auther's secret with HKDF, one key per purpose.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
)

// prefix marks sealed values (and their format version).
const prefix = "sealed:v1:"

// ErrOpen means a value was not sealed by this key or was tampered with.
var ErrOpen = errors.New("seal: cannot open value (wrong secret or tampered)")

// Box seals and opens values for one purpose.
type Box struct{ aead cipher.AEAD }

// New derives the key for purpose from secret.
func New(secret, purpose string) (*Box, error) {
	key, err := hkdf.Key(sha256.New, []byte(secret), nil, "auther seal "+purpose, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plaintext with a random nonce.
func (b *Box) Seal(plaintext string) string {
	nonce := make([]byte, b.aead.NonceSize(), b.aead.NonceSize()+len(plaintext)+b.aead.Overhead())
	rand.Read(nonce)
	out := b.aead.Seal(nonce, nonce, []byte(plaintext), nil)
	return prefix + base64.RawStdEncoding.EncodeToString(out)
}

// Open decrypts a value made by Seal.
func (b *Box) Open(sealed string) (string, error) {
	rest, ok := strings.CutPrefix(sealed, prefix)
	if !ok {
		return "", ErrOpen
	}
	raw, err := base64.RawStdEncoding.DecodeString(rest)
	if err != nil || len(raw) < b.aead.NonceSize() {
		return "", ErrOpen
	}
	n := b.aead.NonceSize()
	pt, err := b.aead.Open(nil, raw[:n], raw[n:], nil)
	if err != nil {
		return "", ErrOpen
	}
	return string(pt), nil
}
