package sdk_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	authclock "github.com/auther/auther/internal/clock"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auther/auther/internal/testdb"
	"github.com/auther/auther/sdk"
	"github.com/go-jose/go-jose/v4"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"
)

// testKey is a signing key the way Auther makes them: random kid, alg set,
// use sig.
type testKey struct {
	kid  string
	alg  string
	priv crypto.Signer
}

func newKey(t testing.TB, alg string) *testKey {
	t.Helper()
	var priv crypto.Signer
	var err error
	switch alg {
	case "RS256", "PS256":
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "EdDSA":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("no key for %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	var b [12]byte
	rand.Read(b[:])
	return &testKey{kid: base64.RawURLEncoding.EncodeToString(b[:]), alg: alg, priv: priv}
}

func (k *testKey) public() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: k.alg, Use: "sig"}
}

// sign makes a compact JWS with kid and typ (at+jwt unless given) in the
// header, signed with alg (the key's unless given).
func (k *testKey) sign(t testing.TB, claims map[string]any, opts ...func(*signOpts)) string {
	t.Helper()
	o := signOpts{typ: "at+jwt", alg: k.alg, kid: k.kid}
	for _, f := range opts {
		f(&o)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	so := (&jose.SignerOptions{}).WithHeader("kid", o.kid)
	if o.typ != "" {
		so = so.WithType(jose.ContentType(o.typ))
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(o.alg), Key: k.priv}, so)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type signOpts struct{ typ, alg, kid string }

func withTyp(typ string) func(*signOpts) { return func(o *signOpts) { o.typ = typ } }
func withAlg(alg string) func(*signOpts) { return func(o *signOpts) { o.alg = alg } }
func withKid(kid string) func(*signOpts) { return func(o *signOpts) { o.kid = kid } }

// issuer is a real HTTP server publishing a JWKS the way Auther does, and
// counting the fetches.
type issuer struct {
	srv  *httptest.Server
	mu   sync.Mutex
	keys []*testKey
	hits atomic.Int64
}

func newIssuer(t testing.TB, keys ...*testKey) *issuer {
	t.Helper()
	is := &issuer{keys: keys}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/auth/jwks", func(w http.ResponseWriter, r *http.Request) {
		is.hits.Add(1)
		is.mu.Lock()
		var set jose.JSONWebKeySet
		for _, k := range is.keys {
			set.Keys = append(set.Keys, k.public())
		}
		is.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(set)
	})
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"issuer": is.srv.URL, "jwks_uri": is.srv.URL + "/.well-known/jwks.json"})
	})
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

func (is *issuer) url() string { return is.srv.URL }

func (is *issuer) setKeys(keys ...*testKey) {
	is.mu.Lock()
	is.keys = keys
	is.mu.Unlock()
}

const audience = "client-123"

// claims returns Auther's access-token claims for user, issued at now.
func (is *issuer) claims(now time.Time, sub string) map[string]any {
	return map[string]any{
		"iss": is.url(), "sub": sub, "aud": audience, "client_id": audience,
		"scope": "openid profile email", "jti": "grant1.abc",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "auth_time": now.Add(-time.Minute).Unix(),
	}
}

// clock is Auther's settable test clock.
type clock = authclock.Fake

func newClock() *clock { return authclock.NewFake(time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)) }

func newVerifier(t testing.TB, is *issuer, clk *clock, mod ...func(*sdk.Config)) *sdk.Verifier {
	t.Helper()
	cfg := sdk.Config{Issuer: is.url(), Audience: audience, Now: clk.Now}
	for _, m := range mod {
		m(&cfg)
	}
	v, err := sdk.NewVerifier(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// database is a real database of one dialect.
type database struct {
	name    string
	dialect sdk.Dialect
	open    func(t testing.TB) *sql.DB
}

var databases = []database{
	{"sqlite", sdk.SQLite, func(t testing.TB) *sql.DB {
		dsn := "file:" + filepath.Join(t.TempDir(), "app.db") + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)"
		db, err := sql.Open("sqlite", dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}},
	{"postgres", sdk.Postgres, func(t testing.TB) *sql.DB {
		db, err := sql.Open("pgx", testdb.PostgresURL(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}},
}

// eachDB runs fn against SQLite and, when configured, PostgreSQL.
func eachDB(t *testing.T, fn func(t *testing.T, db *sql.DB, d sdk.Dialect)) {
	for _, d := range databases {
		t.Run(d.name, func(t *testing.T) { fn(t, d.open(t), d.dialect) })
	}
}
