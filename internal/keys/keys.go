// Package keys owns Auther's token signing keys: it generates them, keeps
// their private halves sealed in the store, rotates them on a schedule, keeps
// retired public keys published until every token they signed has expired,
// and signs and verifies JWTs with them.
package keys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/auther/auther/internal/clock"
	"github.com/auther/auther/internal/seal"
	"github.com/auther/auther/internal/store"
	"github.com/go-jose/go-jose/v4"
)

// Algorithms Auther can sign with.
const (
	RS256 = "RS256"
	ES256 = "ES256"
	EdDSA = "EdDSA"
)

// Supported lists the algorithms, in the order discovery announces them.
var Supported = []string{RS256, ES256, EdDSA}

// Manager signs with the newest key and publishes all unexpired ones.
type Manager struct {
	Store store.Store
	Box   *seal.Box
	Clock clock.Clock
	// Algorithm for new keys (RS256 by default).
	Algorithm string
	// RotateEvery is the age at which Ensure replaces the signing key
	// (default 30 days).
	RotateEvery time.Duration
	// Retention is how long a retired key stays published (default 60
	// days); it must exceed the longest token lifetime.
	Retention time.Duration

	mu   sync.RWMutex
	keys []*Key // newest first
}

// Key is a loaded key.
type Key struct {
	Record store.SigningKey
	signer crypto.Signer
	public jose.JSONWebKey
}

// ErrNoKey means no signing key exists yet (call Ensure).
var ErrNoKey = errors.New("keys: no signing key")

func (m *Manager) defaults() {
	if m.Algorithm == "" {
		m.Algorithm = RS256
	}
	if m.RotateEvery == 0 {
		m.RotateEvery = 30 * 24 * time.Hour
	}
	if m.Retention == 0 {
		m.Retention = 60 * 24 * time.Hour
	}
	if m.Clock == nil {
		m.Clock = clock.Real{}
	}
}

func (m *Manager) now() time.Time { return m.Clock.Now().UTC().Truncate(time.Millisecond) }

// Load reads every key from the store (call periodically so that replicas
// see each other's rotations).
func (m *Manager) Load(ctx context.Context) error {
	m.defaults()
	recs, err := m.Store.ListSigningKeys(ctx)
	if err != nil {
		return err
	}
	loaded := make([]*Key, 0, len(recs))
	for _, r := range recs {
		k, err := m.open(r)
		if err != nil {
			return fmt.Errorf("keys: key %s: %w", r.ID, err)
		}
		loaded = append(loaded, k)
	}
	m.mu.Lock()
	m.keys = loaded
	m.mu.Unlock()
	return nil
}

func (m *Manager) open(r store.SigningKey) (*Key, error) {
	der, err := m.Box.Open(r.PrivateKey)
	if err != nil {
		return nil, err
	}
	raw, err := base64.StdEncoding.DecodeString(der)
	if err != nil {
		return nil, err
	}
	priv, err := x509.ParsePKCS8PrivateKey(raw)
	if err != nil {
		return nil, err
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return nil, errors.New("not a signing key")
	}
	var pub jose.JSONWebKey
	if err := json.Unmarshal([]byte(r.PublicKey), &pub); err != nil {
		return nil, err
	}
	return &Key{Record: r, signer: signer, public: pub}, nil
}

// Ensure makes sure a signing key exists and is younger than RotateEvery,
// rotating otherwise, then prunes keys past their retention. It reports
// whether it rotated.
func (m *Manager) Ensure(ctx context.Context) (bool, error) {
	if err := m.Load(ctx); err != nil {
		return false, err
	}
	rotated := false
	if cur := m.current(); cur == nil || m.now().Sub(cur.Record.CreatedAt) >= m.RotateEvery {
		if _, err := m.Rotate(ctx); err != nil {
			return false, err
		}
		rotated = true
	}
	if _, err := m.Prune(ctx); err != nil {
		return rotated, err
	}
	return rotated, nil
}

// Rotate makes a new signing key; the previous one is retired and stays
// published for Retention.
func (m *Manager) Rotate(ctx context.Context) (*Key, error) {
	m.defaults()
	rec, err := m.generate()
	if err != nil {
		return nil, err
	}
	if err := m.Store.AddSigningKey(ctx, &rec, m.now().Add(m.Retention)); err != nil {
		return nil, err
	}
	if err := m.Load(ctx); err != nil {
		return nil, err
	}
	return m.current(), nil
}

// Prune deletes keys whose retention has passed; the signing key is never
// pruned.
func (m *Manager) Prune(ctx context.Context) (int, error) {
	n, err := m.Store.DeleteExpiredSigningKeys(ctx, m.now())
	if err != nil || n == 0 {
		return n, err
	}
	return n, m.Load(ctx)
}

func (m *Manager) generate() (store.SigningKey, error) {
	var signer crypto.Signer
	var err error
	crv := ""
	switch m.Algorithm {
	case RS256:
		signer, err = rsa.GenerateKey(rand.Reader, 2048)
	case ES256:
		signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		crv = "P-256"
	case EdDSA:
		_, signer, err = ed25519.GenerateKey(rand.Reader)
		crv = "Ed25519"
	default:
		return store.SigningKey{}, fmt.Errorf("keys: unsupported algorithm %q (use RS256, ES256 or EdDSA)", m.Algorithm)
	}
	if err != nil {
		return store.SigningKey{}, err
	}
	var kid [12]byte
	rand.Read(kid[:])
	id := base64.RawURLEncoding.EncodeToString(kid[:])
	pub, err := json.Marshal(jose.JSONWebKey{Key: signer.Public(), KeyID: id, Algorithm: m.Algorithm, Use: "sig"})
	if err != nil {
		return store.SigningKey{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(signer)
	if err != nil {
		return store.SigningKey{}, err
	}
	return store.SigningKey{ID: id, Algorithm: m.Algorithm, Curve: crv, PublicKey: string(pub),
		PrivateKey: m.Box.Seal(base64.StdEncoding.EncodeToString(der)), CreatedAt: m.now()}, nil
}

func (m *Manager) current() *Key {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, k := range m.keys {
		if k.Record.ExpiresAt == nil {
			return k
		}
	}
	if len(m.keys) > 0 {
		return m.keys[0]
	}
	return nil
}

// Keys returns the loaded keys, newest first.
func (m *Manager) Keys() []*Key {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return append([]*Key(nil), m.keys...)
}

// JWKS returns the public keys to publish: the signing key and every
// retired key still within its retention.
func (m *Manager) JWKS() jose.JSONWebKeySet {
	now := m.now()
	var set jose.JSONWebKeySet
	for _, k := range m.Keys() {
		if k.Record.ExpiresAt == nil || k.Record.ExpiresAt.After(now) {
			set.Keys = append(set.Keys, k.public)
		}
	}
	return set
}

// Sign signs claims as a compact JWS with the signing key, with kid and
// the given typ ("JWT", "at+jwt") in the header.
func (m *Manager) Sign(claims any, typ string) (string, error) {
	k := m.current()
	if k == nil {
		return "", ErrNoKey
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	opts := (&jose.SignerOptions{}).WithType(jose.ContentType(typ)).WithHeader(jose.HeaderKey("kid"), k.Record.ID)
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.Record.Algorithm), Key: k.signer}, opts)
	if err != nil {
		return "", err
	}
	jws, err := s.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// ErrInvalidSignature means a token was not signed by a published key.
var ErrInvalidSignature = errors.New("keys: invalid signature or unknown key")

// Verify checks a compact JWS against the published keys and returns its
// payload and header type. The algorithm is pinned to the key's own.
func (m *Manager) Verify(token string) (payload []byte, typ string, err error) {
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA})
	if err != nil || len(jws.Signatures) != 1 {
		return nil, "", ErrInvalidSignature
	}
	h := jws.Signatures[0].Header
	now := m.now()
	for _, k := range m.Keys() {
		if k.Record.ID != h.KeyID || h.Algorithm != k.Record.Algorithm {
			continue
		}
		if k.Record.ExpiresAt != nil && !k.Record.ExpiresAt.After(now) {
			break
		}
		p, err := jws.Verify(k.public)
		if err != nil {
			return nil, "", ErrInvalidSignature
		}
		t, _ := h.ExtraHeaders[jose.HeaderType].(string)
		return p, t, nil
	}
	return nil, "", ErrInvalidSignature
}
