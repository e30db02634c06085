package keys

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/auther/auther/internal/clock"
	"github.com/auther/auther/internal/seal"
	"github.com/auther/auther/internal/store"
	"github.com/auther/auther/internal/store/sqlstore"
	"github.com/auther/auther/internal/testdb"
)

const secret = "keys-secret-keys-secret-keys-secret-00"

func newManager(t testing.TB, st store.Store, alg string) (*Manager, *clock.Fake) {
	box, _ := seal.New(secret, "signing-keys")
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	return &Manager{Store: st, Box: box, Clock: clk, Algorithm: alg}, clk
}

func header(t *testing.T, tok string) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	json.Unmarshal(raw, &h)
	return h
}

func TestRotationKeepsOldKeysPublishedUntilRetentionEnds(t *testing.T) {
	testdb.Each(t, func(t *testing.T, st *sqlstore.Store) {
		ctx := context.Background()
		m, clk := newManager(t, st, RS256)
		if rotated, err := m.Ensure(ctx); err != nil || !rotated {
			t.Fatalf("first Ensure = %v, %v; want a new key", rotated, err)
		}
		if rotated, _ := m.Ensure(ctx); rotated {
			t.Fatal("Ensure rotated a fresh key")
		}
		old, err := m.Sign(map[string]any{"sub": "u1"}, "JWT")
		if err != nil {
			t.Fatal(err)
		}
		oldKid := header(t, old)["kid"].(string)

		clk.Advance(30 * 24 * time.Hour) // the rotation period
		if rotated, _ := m.Ensure(ctx); !rotated {
			t.Fatal("no automatic rotation after 30 days")
		}
		fresh, _ := m.Sign(map[string]any{"sub": "u1"}, "JWT")
		newKid := header(t, fresh)["kid"].(string)
		if newKid == oldKid {
			t.Fatal("new tokens still carry the old kid")
		}
		if set := m.JWKS(); len(set.Keys) != 2 {
			t.Fatalf("JWKS has %d keys after rotation, want both", len(set.Keys))
		}
		if _, _, err := m.Verify(old); err != nil {
			t.Errorf("a token of the retired key no longer verifies: %v", err)
		}
		// Another replica sees the rotation by loading.
		other, _ := newManager(t, st, RS256)
		other.Clock = clk
		other.Load(ctx)
		if tok, _ := other.Sign(map[string]any{}, "JWT"); header(t, tok)["kid"] != newKid {
			t.Error("a second manager signs with a retired key")
		}

		clk.Advance(60*24*time.Hour + time.Second) // retention of the old key ends
		m.Prune(ctx)
		if set := m.JWKS(); len(set.Keys) != 1 || set.Keys[0].KeyID != newKid {
			t.Fatalf("after retention JWKS = %+v", set.Keys)
		}
		if _, _, err := m.Verify(old); err == nil {
			t.Error("a pruned key's token still verifies")
		}
		// The signing key is never pruned, however old.
		clk.Advance(365 * 24 * time.Hour)
		if n, _ := m.Prune(ctx); n != 0 {
			t.Errorf("pruned %d keys; the signing key must stay", n)
		}
		if _, _, err := m.Verify(fresh); err != nil {
			t.Errorf("the signing key's token fails: %v", err)
		}
	})
}

func TestPrivateKeysAreSealedAtRest(t *testing.T) {
	st := testdb.SQLite(t)
	m, _ := newManager(t, st, ES256)
	if _, err := m.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	var priv string
	st.DB().QueryRow(`SELECT private_key FROM jwks`).Scan(&priv)
	if !strings.HasPrefix(priv, "sealed:v1:") {
		t.Fatalf("private key stored unsealed: %.40s", priv)
	}
	for _, k := range m.JWKS().Keys {
		if !k.IsPublic() {
			t.Fatal("JWKS publishes a private key")
		}
	}
	wrong, _ := seal.New("another-secret-another-secret-another", "signing-keys")
	m2 := &Manager{Store: st, Box: wrong}
	if err := m2.Load(context.Background()); err == nil {
		t.Error("keys opened with the wrong secret")
	}
}

func TestEachAlgorithmSignsAndVerifies(t *testing.T) {
	for _, alg := range Supported {
		t.Run(alg, func(t *testing.T) {
			m, _ := newManager(t, testdb.SQLite(t), alg)
			if _, err := m.Ensure(context.Background()); err != nil {
				t.Fatal(err)
			}
			tok, err := m.Sign(map[string]any{"sub": "u1", "scope": "openid"}, "at+jwt")
			if err != nil {
				t.Fatal(err)
			}
			h := header(t, tok)
			if h["alg"] != alg || h["typ"] != "at+jwt" || h["kid"] == "" {
				t.Errorf("header = %v", h)
			}
			p, typ, err := m.Verify(tok)
			if err != nil || typ != "at+jwt" || !strings.Contains(string(p), `"sub":"u1"`) {
				t.Fatalf("Verify = %s, %q, %v", p, typ, err)
			}
			parts := strings.Split(tok, ".")
			forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"admin"}`)) + "." + parts[2]
			if _, _, err := m.Verify(forged); err == nil {
				t.Error("a tampered payload verified")
			}
			none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"`+h["kid"].(string)+`"}`)) + "." + parts[1] + "."
			if _, _, err := m.Verify(none); err == nil {
				t.Error("alg=none accepted")
			}
		})
	}
}

func TestUnknownAlgorithmIsAClearError(t *testing.T) {
	m, _ := newManager(t, testdb.SQLite(t), "HS256")
	if _, err := m.Ensure(context.Background()); err == nil || !strings.Contains(err.Error(), "HS256") {
		t.Errorf("HS256: %v", err)
	}
}

func benchManager(b *testing.B, alg string) *Manager {
	m, _ := newManager(b, testdb.SQLite(b), alg)
	if _, err := m.Ensure(context.Background()); err != nil {
		b.Fatal(err)
	}
	return m
}

var accessClaims = map[string]any{"iss": "https://id.example.com", "sub": "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "aud": "client-1",
	"client_id": "client-1", "scope": "openid profile email", "jti": "x", "iat": 1, "exp": 2}

func BenchmarkSign(b *testing.B) {
	for _, alg := range Supported {
		b.Run(alg, func(b *testing.B) {
			m := benchManager(b, alg)
			for b.Loop() {
				if _, err := m.Sign(accessClaims, "at+jwt"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, alg := range Supported {
		b.Run(alg, func(b *testing.B) {
			m := benchManager(b, alg)
			tok, _ := m.Sign(accessClaims, "at+jwt")
			for b.Loop() {
				if _, _, err := m.Verify(tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
