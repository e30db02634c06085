package sdk

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	_ "crypto/sha256" // registers SHA-256 for crypto.Hash
	_ "crypto/sha512" // registers SHA-384 and SHA-512
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
)

// The compact JWS is checked here with the standard library's primitives
// rather than through go-jose's generic JWS object: a verification is then
// one header decode, one hash and one public-key operation, and nothing is
// re-encoded (go-jose re-serialises the protected header and payload to
// rebuild the signing input). go-jose still parses the JWKS.

// jwsHeader is the protected header fields the verifier reads.
type jwsHeader struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Typ  string          `json:"typ"`
	Crit json.RawMessage `json:"crit"`
	B64  json.RawMessage `json:"b64"`
}

type compactJWS struct {
	header       jwsHeader
	signingInput string // "<header>.<payload>" as received
	payload      []byte
	signature    []byte
}

// b64url decodes the parts of a compact JWS: unpadded base64url, and
// strict, so that unused low bits of the last character must be zero and a
// token has exactly one string form.
var b64url = base64.RawURLEncoding.Strict()

// parseCompact splits and decodes a compact JWS. It does not verify.
func parseCompact(token string) (*compactJWS, error) {
	h, rest, ok := strings.Cut(token, ".")
	if !ok {
		return nil, fmt.Errorf("%w: not three dot-separated parts", ErrMalformed)
	}
	p, s, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(s, ".") {
		return nil, fmt.Errorf("%w: not three dot-separated parts", ErrMalformed)
	}
	hb, err := b64url.DecodeString(h)
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	payload, err := b64url.DecodeString(p)
	if err != nil {
		return nil, fmt.Errorf("%w: payload: %v", ErrMalformed, err)
	}
	sig, err := b64url.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: signature: %v", ErrMalformed, err)
	}
	j := &compactJWS{signingInput: token[:len(h)+1+len(p)], payload: payload, signature: sig}
	if err := json.Unmarshal(hb, &j.header); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	// No JWS extension is understood, so a critical one must be refused
	// (RFC 7515 §4.1.11); b64=false (RFC 7797) would change what is signed.
	if j.header.Crit != nil || j.header.B64 != nil {
		return nil, fmt.Errorf("%w: unsupported crit or b64 header", ErrMalformed)
	}
	return j, nil
}

func hashFor(alg string) crypto.Hash {
	switch alg[2:] {
	case "256":
		return crypto.SHA256
	case "384":
		return crypto.SHA384
	case "512":
		return crypto.SHA512
	}
	return 0
}

// keyFits reports whether a public key is of the family (and, for ECDSA,
// the curve) alg needs, so that for instance an RSA key published for
// RS256 is never used with an EC algorithm.
func keyFits(alg string, key any) bool {
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		_, ok := key.(*rsa.PublicKey)
		return ok
	case "ES256", "ES384", "ES512":
		k, ok := key.(*ecdsa.PublicKey)
		if !ok {
			return false
		}
		want := map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()}[alg]
		return k.Curve == want
	case "EdDSA":
		k, ok := key.(ed25519.PublicKey)
		return ok && len(k) == ed25519.PublicKeySize
	}
	return false
}

// verifySignature checks sig over input with key under alg; keyFits(alg,
// key) must hold.
func verifySignature(alg string, key any, input string, sig []byte) bool {
	if alg == "EdDSA" {
		return ed25519.Verify(key.(ed25519.PublicKey), []byte(input), sig)
	}
	hf := hashFor(alg)
	h := hf.New()
	h.Write([]byte(input))
	digest := h.Sum(nil)
	switch alg[:2] {
	case "RS":
		return rsa.VerifyPKCS1v15(key.(*rsa.PublicKey), hf, digest, sig) == nil
	case "PS":
		return rsa.VerifyPSS(key.(*rsa.PublicKey), hf, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}) == nil
	case "ES":
		k := key.(*ecdsa.PublicKey)
		size := (k.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*size {
			return false
		}
		r := new(big.Int).SetBytes(sig[:size])
		s := new(big.Int).SetBytes(sig[size:])
		return ecdsa.Verify(k, digest, r, s)
	}
	return false
}
