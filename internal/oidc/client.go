// Package oidc is Auther's OpenID Connect provider: clients, the
// authorization-code flow with PKCE, tokens and the one place that builds
// their claims. It knows nothing of HTTP; handlers translate. See
// docs/adr/0001-oidc-library.md for why it is written on go-jose directly.
package oidc

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/auther/auther/internal/store"
)

// Grant types and scopes Auther supports.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
)

// Scopes known to the provider.
var Scopes = []string{"openid", "profile", "email", "offline_access"}

// NewSecret returns 256 random bits, base64url, and its stored hash.
func NewSecret() (secret, hash string) {
	var b [32]byte
	rand.Read(b[:])
	secret = base64.RawURLEncoding.EncodeToString(b[:])
	return secret, HashSecret(secret)
}

// HashSecret is how client secrets, codes and refresh tokens are stored.
// They are 256-bit random values, so a fast hash is enough: there is nothing
// to brute-force.
func HashSecret(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// CheckSecret compares a presented secret with a client's in constant time.
func CheckSecret(c *store.Client, secret string) bool {
	if c.SecretHash == nil || secret == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(HashSecret(secret)), []byte(*c.SecretHash)) == 1
}

// MatchRedirect reports whether uri is registered, compared byte for byte:
// no normalisation, no prefix or wildcard matching, so "https://app/cb" does
// not admit "https://app/cb/../evil", "https://APP/cb" or "https://app/cb?x".
func MatchRedirect(registered []string, uri string) bool {
	return uri != "" && slices.Contains(registered, uri)
}

// ClientSpec describes a client to create.
type ClientSpec struct {
	Name                   string
	Public                 bool
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	GrantTypes             []string
	Scopes                 []string
	SkipConsent            bool
}

// ValidateRedirectURI accepts absolute https URLs, http on loopback (native
// and development clients), and private-use schemes (com.example.app:/cb),
// never with a fragment.
func ValidateRedirectURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return fmt.Errorf("redirect URI %q is not an absolute URL", raw)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return fmt.Errorf("redirect URI %q must not have a fragment", raw)
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			return fmt.Errorf("redirect URI %q has no host", raw)
		}
	case "http":
		h := u.Hostname()
		if h != "localhost" && h != "127.0.0.1" && h != "::1" {
			return fmt.Errorf("redirect URI %q: plain http only on localhost", raw)
		}
	default:
		if !strings.Contains(u.Scheme, ".") {
			return fmt.Errorf("redirect URI %q: custom schemes must be reverse-DNS (com.example.app)", raw)
		}
	}
	return nil
}

// NewClient validates spec and makes a client; the secret (for
// confidential clients) is returned once and stored only as a hash.
func NewClient(spec ClientSpec, now time.Time) (*store.Client, string, error) {
	if strings.TrimSpace(spec.Name) == "" {
		return nil, "", fmt.Errorf("a client needs a name")
	}
	if len(spec.RedirectURIs) == 0 && !slices.Equal(spec.GrantTypes, []string{GrantClientCredentials}) {
		return nil, "", fmt.Errorf("a client needs at least one redirect URI")
	}
	for _, u := range append(slices.Clone(spec.RedirectURIs), spec.PostLogoutRedirectURIs...) {
		if err := ValidateRedirectURI(u); err != nil {
			return nil, "", err
		}
	}
	if len(spec.GrantTypes) == 0 {
		spec.GrantTypes = []string{GrantAuthorizationCode, GrantRefreshToken}
	}
	for _, g := range spec.GrantTypes {
		switch g {
		case GrantAuthorizationCode, GrantRefreshToken:
		case GrantClientCredentials:
			if spec.Public {
				return nil, "", fmt.Errorf("public clients cannot use client_credentials")
			}
		default:
			return nil, "", fmt.Errorf("unknown grant type %q", g)
		}
	}
	if len(spec.Scopes) == 0 {
		spec.Scopes = slices.Clone(Scopes)
	}
	for _, s := range spec.Scopes {
		if !slices.Contains(Scopes, s) {
			return nil, "", fmt.Errorf("unknown scope %q", s)
		}
	}
	var idb [16]byte
	rand.Read(idb[:])
	c := &store.Client{ID: base64.RawURLEncoding.EncodeToString(idb[:]), Name: spec.Name, Public: spec.Public,
		RedirectURIs: spec.RedirectURIs, PostLogoutRedirectURIs: spec.PostLogoutRedirectURIs, GrantTypes: spec.GrantTypes,
		Scopes: spec.Scopes, SkipConsent: spec.SkipConsent, CreatedAt: now, UpdatedAt: now}
	secret := ""
	if !spec.Public {
		var hash string
		secret, hash = NewSecret()
		c.SecretHash = &hash
	}
	return c, secret, nil
}
