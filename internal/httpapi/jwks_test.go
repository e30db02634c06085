package httpapi_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/auther/auther/internal/auth"
	"github.com/auther/auther/internal/httpapi"
	"github.com/auther/auther/internal/keys"
	"github.com/auther/auther/internal/seal"
	"github.com/auther/auther/internal/testdb"
)

func TestJWKSEndpointsPublishSigningKeys(t *testing.T) {
	st := testdb.SQLite(t)
	box, _ := seal.New(testSecret, "signing-keys")
	km := &keys.Manager{Store: st, Box: box, Algorithm: keys.ES256}
	if _, err := km.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, st, func(_ *auth.Service, o *httpapi.Options) { o.Keys = km })
	read := func(path string) []map[string]any {
		t.Helper()
		r := e.client().get(path)
		if r.Status != 200 || r.Header.Get("Cache-Control") != "public, max-age=300" {
			t.Fatalf("%s: %d %v", path, r.Status, r.Header)
		}
		var set struct{ Keys []map[string]any }
		if err := json.Unmarshal(r.Body, &set); err != nil {
			t.Fatal(err)
		}
		return set.Keys
	}
	for _, p := range []string{"/api/auth/jwks", "/.well-known/jwks.json"} {
		ks := read(p)
		if len(ks) != 1 || ks[0]["alg"] != "ES256" || ks[0]["kid"] == "" || ks[0]["use"] != "sig" || ks[0]["d"] != nil {
			t.Errorf("%s = %v", p, ks)
		}
	}
	km.Rotate(context.Background())
	if ks := read("/.well-known/jwks.json"); len(ks) != 2 {
		t.Errorf("after rotation %d keys, want 2", len(ks))
	}
}
