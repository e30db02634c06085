// Package password hashes and verifies passwords exactly as Better Auth stores
// them, so users imported from a Better Auth database keep their passwords.
//
// Better Auth's format (better-auth/utils password.node.ts): scrypt with
// N=16384, r=16, p=1, a 64-byte key; the password is NFKC-normalised; the salt
// is 16 random bytes hex-encoded, and the 32-character hex *string* is what is
// passed to scrypt as the salt. Stored as "<saltHex>:<keyHex>".
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"strings"

	"golang.org/x/crypto/scrypt"
	"golang.org/x/text/unicode/norm"
)

const (
	scryptN      = 16384
	scryptR      = 16
	scryptP      = 1
	scryptKeyLen = 64
	saltBytes    = 16
)

// ErrMalformedHash is returned when a stored hash is not "<saltHex>:<keyHex>".
var ErrMalformedHash = errors.New("password: malformed hash")

// Hash returns a Better-Auth-compatible scrypt hash of pw. It costs about
// 32 MiB of memory and tens of milliseconds of CPU; call it through a Pool.
func Hash(pw string) (string, error) {
	var raw [saltBytes]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	salt := hex.EncodeToString(raw[:])
	key, err := derive(pw, salt)
	if err != nil {
		return "", err
	}
	return salt + ":" + hex.EncodeToString(key), nil
}

// Verify reports whether pw matches hash, comparing in constant time.
func Verify(hash, pw string) (bool, error) {
	salt, keyHex, ok := strings.Cut(hash, ":")
	if !ok || salt == "" || keyHex == "" {
		return false, ErrMalformedHash
	}
	want, err := hex.DecodeString(keyHex)
	if err != nil {
		return false, ErrMalformedHash
	}
	got, err := derive(pw, salt)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

func derive(pw, salt string) ([]byte, error) {
	return scrypt.Key([]byte(norm.NFKC.String(pw)), []byte(salt), scryptN, scryptR, scryptP, scryptKeyLen)
}
