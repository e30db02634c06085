package sdk_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auther/auther/sdk"
	"github.com/go-jose/go-jose/v4"
)

func TestVerifyValidTokenPerAlgorithm(t *testing.T) {
	for _, alg := range []string{"RS256", "ES256", "EdDSA", "PS256"} {
		t.Run(alg, func(t *testing.T) {
			k := newKey(t, alg)
			is := newIssuer(t, k)
			clk := newClock()
			v := newVerifier(t, is, clk, func(c *sdk.Config) { c.Algorithms = []string{alg} })
			cl := is.claims(clk.Now(), "user-1")
			cl["aud"] = []string{"other", audience}
			cl["email"] = "ada@example.com"
			cl["email_verified"] = true
			cl["name"] = "Ada"
			cl["picture"] = "https://img.example/ada.png"
			cl["permissions"] = map[string]any{"doc": []any{"read"}}
			c, err := v.Verify(context.Background(), k.sign(t, cl))
			if err != nil {
				t.Fatal(err)
			}
			if c.Subject != "user-1" || c.Issuer != is.url() || c.ClientID != audience || c.ID != "grant1.abc" {
				t.Fatalf("claims %+v", c)
			}
			if len(c.Audience) != 2 || c.Audience[1] != audience {
				t.Fatalf("aud %v", c.Audience)
			}
			if !c.HasScope("email") || c.HasScope("admin") || len(c.Scopes()) != 3 {
				t.Fatalf("scope %q", c.Scope)
			}
			if !c.ExpiresAt.Equal(clk.Now().Add(time.Hour)) || !c.IssuedAt.Equal(clk.Now()) || !c.AuthTime.Equal(clk.Now().Add(-time.Minute)) {
				t.Fatalf("times exp=%v iat=%v auth_time=%v", c.ExpiresAt, c.IssuedAt, c.AuthTime)
			}
			if c.Email != "ada@example.com" || !c.EmailVerified || c.Name != "Ada" || c.Picture != "https://img.example/ada.png" {
				t.Fatalf("profile claims %+v", c)
			}
			if _, ok := c.Raw()["permissions"].(map[string]any); !ok {
				t.Fatalf("raw claims lack permissions: %v", c.Raw())
			}
			var perms map[string][]string
			if ok, err := c.Claim("permissions", &perms); !ok || err != nil || perms["doc"][0] != "read" {
				t.Fatalf("Claim(permissions) = %v %v %v", perms, ok, err)
			}
			if ok, err := c.Claim("abac_required", &perms); ok || err != nil {
				t.Fatalf("absent claim reported present: %v %v", ok, err)
			}
			if c.IsClient() {
				t.Fatal("a user token reads as a client token")
			}
		})
	}
}

func TestVerifyTimeChecks(t *testing.T) {
	k := newKey(t, "RS256")
	is := newIssuer(t, k)
	clk := newClock()
	v := newVerifier(t, is, clk)
	now := clk.Now()
	cases := []struct {
		name string
		mod  func(map[string]any)
		want error
	}{
		{"expired beyond leeway", func(c map[string]any) { c["exp"] = now.Add(-31 * time.Second).Unix() }, sdk.ErrExpired},
		{"expired within leeway", func(c map[string]any) { c["exp"] = now.Add(-29 * time.Second).Unix() }, nil},
		{"exactly at exp plus leeway", func(c map[string]any) { c["exp"] = now.Add(-30 * time.Second).Unix() }, sdk.ErrExpired},
		{"nbf in the future", func(c map[string]any) { c["nbf"] = now.Add(time.Minute).Unix() }, sdk.ErrNotYetValid},
		{"nbf within leeway", func(c map[string]any) { c["nbf"] = now.Add(20 * time.Second).Unix() }, nil},
		{"iat in the future", func(c map[string]any) { c["iat"] = now.Add(time.Minute).Unix() }, sdk.ErrNotYetValid},
		{"no exp", func(c map[string]any) { delete(c, "exp") }, sdk.ErrClaims},
		{"exp not a number", func(c map[string]any) { c["exp"] = "tomorrow" }, sdk.ErrClaims},
		{"no sub", func(c map[string]any) { delete(c, "sub") }, sdk.ErrClaims},
		{"aud holds a number", func(c map[string]any) { c["aud"] = []any{audience, 5} }, sdk.ErrClaims},
		{"sub not a string", func(c map[string]any) { c["sub"] = 42 }, sdk.ErrClaims},
		{"fractional exp", func(c map[string]any) { c["exp"] = float64(now.Unix()) + 0.5 }, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cl := is.claims(now, "user-1")
			tc.mod(cl)
			_, err := v.Verify(context.Background(), k.sign(t, cl))
			if tc.want == nil && err != nil {
				t.Fatalf("want valid, got %v", err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("want %v, got %v", tc.want, err)
			}
		})
	}

	t.Run("negative leeway means none", func(t *testing.T) {
		strict := newVerifier(t, is, clk, func(c *sdk.Config) { c.Leeway = -1 })
		cl := is.claims(now, "user-1")
		cl["exp"] = now.Add(-time.Second).Unix()
		if _, err := strict.Verify(context.Background(), k.sign(t, cl)); !errors.Is(err, sdk.ErrExpired) {
			t.Fatalf("want expired, got %v", err)
		}
	})
	t.Run("leeway above 30s refused", func(t *testing.T) {
		_, err := sdk.NewVerifier(context.Background(), sdk.Config{Issuer: is.url(), Audience: audience, Leeway: time.Minute})
		if err == nil {
			t.Fatal("a 1m leeway was accepted")
		}
	})
}

func TestVerifyIssuerAudienceType(t *testing.T) {
	k := newKey(t, "RS256")
	is := newIssuer(t, k)
	clk := newClock()
	v := newVerifier(t, is, clk)
	ctx := context.Background()

	cl := is.claims(clk.Now(), "user-1")
	cl["iss"] = "https://evil.example"
	if _, err := v.Verify(ctx, k.sign(t, cl)); !errors.Is(err, sdk.ErrIssuer) {
		t.Fatalf("wrong iss: %v", err)
	}
	cl = is.claims(clk.Now(), "user-1")
	cl["aud"] = "another-client"
	if _, err := v.Verify(ctx, k.sign(t, cl)); !errors.Is(err, sdk.ErrAudience) {
		t.Fatalf("wrong aud: %v", err)
	}
	cl = is.claims(clk.Now(), "user-1")
	delete(cl, "aud")
	if _, err := v.Verify(ctx, k.sign(t, cl)); !errors.Is(err, sdk.ErrAudience) {
		t.Fatalf("no aud: %v", err)
	}
	// An ID token has the same iss and aud; its typ JWT gives it away.
	if _, err := v.Verify(ctx, k.sign(t, is.claims(clk.Now(), "user-1"), withTyp("JWT"))); !errors.Is(err, sdk.ErrTokenType) {
		t.Fatalf("ID token accepted as access token: %v", err)
	}
	if _, err := v.Verify(ctx, k.sign(t, is.claims(clk.Now(), "user-1"), withTyp(""))); !errors.Is(err, sdk.ErrTokenType) {
		t.Fatalf("token without typ: %v", err)
	}
	if _, err := v.Verify(ctx, k.sign(t, is.claims(clk.Now(), "user-1"), withTyp("application/AT+JWT"))); err != nil {
		t.Fatalf("application/at+jwt refused: %v", err)
	}
	loose := newVerifier(t, is, clk, func(c *sdk.Config) { c.Types = []string{"at+jwt", "JWT"} })
	if _, err := loose.Verify(ctx, k.sign(t, is.claims(clk.Now(), "user-1"), withTyp("JWT"))); err != nil {
		t.Fatalf("typ JWT refused although configured: %v", err)
	}
	cl = is.claims(clk.Now(), audience)
	if c, err := v.Verify(ctx, k.sign(t, cl)); err != nil || !c.IsClient() {
		t.Fatalf("client_credentials token: %v %+v", err, c)
	}
}

func TestVerifyAlgorithmPinning(t *testing.T) {
	rsaKey := newKey(t, "RS256")
	ecKey := newKey(t, "ES256")
	is := newIssuer(t, rsaKey, ecKey)
	clk := newClock()
	v := newVerifier(t, is, clk) // RS256 only
	ctx := context.Background()
	cl := is.claims(clk.Now(), "user-1")

	if _, err := v.Verify(ctx, rsaKey.sign(t, cl)); err != nil {
		t.Fatalf("RS256: %v", err)
	}
	// ES256 with a published ES256 key is still refused: not pinned.
	if _, err := v.Verify(ctx, ecKey.sign(t, cl)); !errors.Is(err, sdk.ErrAlgorithm) {
		t.Fatalf("ES256 accepted by an RS256 verifier: %v", err)
	}

	// alg none, with and without a signature part.
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt","kid":"` + rsaKey.kid + `"}`))
	body, _ := json.Marshal(cl)
	payload := base64.RawURLEncoding.EncodeToString(body)
	for _, tok := range []string{header + "." + payload + ".", header + "." + payload + ".c2ln"} {
		if _, err := v.Verify(ctx, tok); !errors.Is(err, sdk.ErrAlgorithm) {
			t.Fatalf("alg none: %v", err)
		}
	}

	// HS256 keyed with the RSA public key (the classic confusion attack).
	pub, _ := rsaKey.public().MarshalJSON()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: pub},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", rsaKey.kid))
	if err != nil {
		t.Fatal(err)
	}
	jws, _ := s.Sign(body)
	hs, _ := jws.CompactSerialize()
	if _, err := v.Verify(ctx, hs); !errors.Is(err, sdk.ErrAlgorithm) {
		t.Fatalf("HS256: %v", err)
	}

	// PS256 allowed, but the key is published for RS256 only.
	both := newVerifier(t, is, clk, func(c *sdk.Config) { c.Algorithms = []string{"RS256", "PS256"} })
	if _, err := both.Verify(ctx, rsaKey.sign(t, cl, withAlg("PS256"))); !errors.Is(err, sdk.ErrAlgorithm) {
		t.Fatalf("PS256 with an RS256 key: %v", err)
	}
	// An RS256 header naming the EC key.
	if _, err := both.Verify(ctx, rsaKey.sign(t, cl, withKid(ecKey.kid))); !errors.Is(err, sdk.ErrAlgorithm) {
		t.Fatalf("RS256 header with an EC key: %v", err)
	}

	for _, bad := range []string{"none", "HS256", "XX1"} {
		if _, err := sdk.NewVerifier(ctx, sdk.Config{Issuer: is.url(), Audience: audience, Algorithms: []string{bad}}); err == nil {
			t.Fatalf("NewVerifier accepted algorithm %s", bad)
		}
	}
}

func TestVerifyTamperedAndMalformed(t *testing.T) {
	k := newKey(t, "RS256")
	other := newKey(t, "RS256")
	is := newIssuer(t, k)
	clk := newClock()
	v := newVerifier(t, is, clk)
	ctx := context.Background()
	tok := k.sign(t, is.claims(clk.Now(), "user-1"))
	parts := strings.Split(tok, ".")

	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sig[10] ^= 0x01
	flipped := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
	if _, err := v.Verify(ctx, flipped); !errors.Is(err, sdk.ErrSignature) {
		t.Fatalf("flipped signature bit: %v", err)
	}

	cl := is.claims(clk.Now(), "admin")
	body, _ := json.Marshal(cl)
	swapped := parts[0] + "." + base64.RawURLEncoding.EncodeToString(body) + "." + parts[2]
	if _, err := v.Verify(ctx, swapped); !errors.Is(err, sdk.ErrSignature) {
		t.Fatalf("payload swapped: %v", err)
	}

	// Signed by a key that is not published, under a published kid.
	if _, err := v.Verify(ctx, other.sign(t, is.claims(clk.Now(), "user-1"), withKid(k.kid))); !errors.Is(err, sdk.ErrSignature) {
		t.Fatalf("foreign key under a known kid: %v", err)
	}

	for _, junk := range []string{"", "abc", "a.b", "a.b.c.d", parts[0] + ".!!!." + parts[2]} {
		if _, err := v.Verify(ctx, junk); !errors.Is(err, sdk.ErrMalformed) {
			t.Fatalf("%q: %v", junk, err)
		}
	}
	if _, err := v.Verify(ctx, k.sign(t, is.claims(clk.Now(), "u"), withKid(""))); !errors.Is(err, sdk.ErrUnknownKey) {
		t.Fatalf("no kid: %v", err)
	}
	// A critical header extension the verifier does not understand.
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: k.priv},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", k.kid).WithHeader("x-ext", "1").WithCritical("x-ext"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = json.Marshal(is.claims(clk.Now(), "u"))
	jws, _ := s.Sign(body)
	crit, _ := jws.CompactSerialize()
	if _, err := v.Verify(ctx, crit); !errors.Is(err, sdk.ErrMalformed) {
		t.Fatalf("crit header: %v", err)
	}
}

func TestJWKSUnknownKidRefetchAndRotation(t *testing.T) {
	k1 := newKey(t, "RS256")
	k2 := newKey(t, "RS256")
	is := newIssuer(t, k1)
	clk := newClock()
	v := newVerifier(t, is, clk)
	ctx := context.Background()
	if got := is.hits.Load(); got != 1 {
		t.Fatalf("NewVerifier fetched %d times, want 1", got)
	}
	old := k1.sign(t, is.claims(clk.Now(), "user-1"))
	for range 10 {
		if _, err := v.Verify(ctx, old); err != nil {
			t.Fatal(err)
		}
	}
	if got := is.hits.Load(); got != 1 {
		t.Fatalf("warm verifications fetched: %d", got)
	}

	// Auther rotates: k2 signs, k1 stays published for old tokens.
	is.setKeys(k2, k1)
	clk.Advance(11 * time.Second)
	rotated := k2.sign(t, is.claims(clk.Now(), "user-2"))
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := v.Verify(ctx, rotated); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("token of the new key: %v", err)
	}
	if got := is.hits.Load(); got != 2 {
		t.Fatalf("50 concurrent verifications with a new kid fetched %d times, want exactly 1 more", got-1)
	}
	if _, err := v.Verify(ctx, old); err != nil {
		t.Fatalf("old key after rotation: %v", err)
	}

	// Unknown kids within the cooldown do not reach Auther.
	stranger := newKey(t, "RS256")
	for range 20 {
		_, err := v.Verify(ctx, stranger.sign(t, is.claims(clk.Now(), "x")))
		if !errors.Is(err, sdk.ErrUnknownKey) {
			t.Fatalf("unknown kid: %v", err)
		}
	}
	if got := is.hits.Load(); got != 2 {
		t.Fatalf("unknown kids within the cooldown fetched: %d", got)
	}
	// After the cooldown one more fetch is allowed, and only one.
	clk.Advance(10 * time.Second)
	for range 5 {
		v.Verify(ctx, stranger.sign(t, is.claims(clk.Now(), "x")))
	}
	if got := is.hits.Load(); got != 3 {
		t.Fatalf("after the cooldown: %d fetches, want 3", got)
	}

	// Auther retires k1; once the cache lifetime passes, the background
	// refresh drops it.
	is.setKeys(k2)
	clk.Advance(time.Hour)
	if _, err := v.Verify(ctx, old); err != nil {
		t.Fatalf("stale cache still serves the known key: %v", err)
	}
	waitFor(t, func() bool { return is.hits.Load() == 4 })
	waitFor(t, func() bool {
		_, err := v.Verify(ctx, old)
		return errors.Is(err, sdk.ErrUnknownKey)
	})
	if _, err := v.Verify(ctx, rotated); err != nil {
		t.Fatalf("current key after refresh: %v", err)
	}
}

func TestJWKSServerDownKeepsStaleKeys(t *testing.T) {
	k := newKey(t, "ES256")
	is := newIssuer(t, k)
	clk := newClock()
	v := newVerifier(t, is, clk, func(c *sdk.Config) { c.Algorithms = []string{"ES256"}; c.CacheTTL = time.Minute })
	ctx := context.Background()
	tok := k.sign(t, is.claims(clk.Now(), "user-1"))
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	is.srv.Close() // Auther unreachable: connections are refused

	clk.Advance(2 * time.Minute) // cache lifetime over
	for range 3 {
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatalf("Auther down, stale key: %v", err)
		}
	}
	// Let the failing background refresh finish, then check again.
	time.Sleep(50 * time.Millisecond)
	clk.Advance(time.Minute)
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatalf("after a failed refresh: %v", err)
	}
	other := newKey(t, "ES256")
	if _, err := v.Verify(ctx, other.sign(t, is.claims(clk.Now(), "x"))); !errors.Is(err, sdk.ErrUnknownKey) {
		t.Fatalf("unknown kid while down: %v", err)
	}
}

func TestJWKSBadDocumentsKeepKeys(t *testing.T) {
	k := newKey(t, "RS256")
	is := newIssuer(t, k)
	clk := newClock()
	v := newVerifier(t, is, clk)
	ctx := context.Background()
	// An empty set (a broken proxy, a misdeploy) must not wipe the keys.
	is.setKeys()
	clk.Advance(11 * time.Second)
	if err := v.Refresh(ctx); err == nil {
		t.Fatal("an empty JWKS was accepted")
	}
	if _, err := v.Verify(ctx, k.sign(t, is.claims(clk.Now(), "u"))); err != nil {
		t.Fatalf("keys lost after an empty JWKS: %v", err)
	}
}

func TestNewVerifierNeedsKeysUnlessLazy(t *testing.T) {
	is := newIssuer(t, newKey(t, "RS256"))
	url := is.url()
	is.srv.Close()
	ctx := context.Background()
	if _, err := sdk.NewVerifier(ctx, sdk.Config{Issuer: url, Audience: audience}); err == nil {
		t.Fatal("NewVerifier succeeded without reaching the JWKS")
	}
	v, err := sdk.NewVerifier(ctx, sdk.Config{Issuer: url, Audience: audience, Lazy: true})
	if err != nil {
		t.Fatal(err)
	}
	k := newKey(t, "RS256")
	_, err = v.Verify(ctx, k.sign(t, map[string]any{"iss": url, "sub": "u", "aud": audience, "exp": time.Now().Add(time.Hour).Unix()}))
	if !errors.Is(err, sdk.ErrKeysUnavailable) {
		t.Fatalf("want ErrKeysUnavailable, got %v", err)
	}
	if _, err := sdk.NewVerifier(ctx, sdk.Config{Issuer: url}); err == nil {
		t.Fatal("NewVerifier accepted a config without audience")
	}
}

func TestDiscoverJWKSURL(t *testing.T) {
	is := newIssuer(t, newKey(t, "RS256"))
	u, err := sdk.DiscoverJWKSURL(context.Background(), nil, is.url())
	if err != nil || u != is.url()+"/.well-known/jwks.json" {
		t.Fatalf("%q %v", u, err)
	}
	gone := newIssuer(t, newKey(t, "RS256"))
	gone.srv.Close()
	if _, err := sdk.DiscoverJWKSURL(context.Background(), http.DefaultClient, gone.url()); err == nil {
		t.Fatal("discovery of an unreachable issuer succeeded")
	}
	// A document naming another issuer is refused.
	if _, err := sdk.DiscoverJWKSURL(context.Background(), nil, is.url()+"/"); err == nil {
		t.Fatal("discovery accepted a document for another issuer")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// FuzzVerify feeds arbitrary strings to Verify: it must never panic, and
// anything it accepts must carry the claims the issuer signed.
func FuzzVerify(f *testing.F) {
	k := newKey(f, "ES256")
	is := newIssuer(f, k)
	clk := newClock()
	v := newVerifier(f, is, clk, func(c *sdk.Config) { c.Algorithms = []string{"ES256", "RS256"}; c.RefreshCooldown = time.Hour })
	good := k.sign(f, is.claims(clk.Now(), "user-1"))
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add(strings.Replace(good, ".", "..", 1))
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("e30.e30.e30")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := v.Verify(context.Background(), tok)
		if err == nil && (c.Subject != "user-1" || c.Issuer != is.url()) {
			t.Fatalf("accepted %q as %+v", tok, c)
		}
	})
}

// TestVerifyContextEndsDuringKeyFetch: a request whose context ends while it
// waits for a refetch of the key set gets an error that wraps
// ErrKeysUnavailable (so the middleware answers 503, not 401) as well as the
// context's own error.
func TestVerifyContextEndsDuringKeyFetch(t *testing.T) {
	k := newKey(t, "RS256")
	is := newIssuer(t, k)
	hang := make(chan struct{})
	var fetches atomic.Int64
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fetches.Add(1) > 1 {
			<-hang // Auther stopped answering
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{k.public()}})
	}))
	t.Cleanup(jwks.Close)
	t.Cleanup(func() { close(hang) })
	clk := newClock()
	v := newVerifier(t, is, clk, func(c *sdk.Config) { c.JWKSURL = jwks.URL })
	clk.Advance(11 * time.Second) // past the refetch cooldown

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	rotated := newKey(t, "RS256")
	_, err := v.Verify(ctx, rotated.sign(t, is.claims(clk.Now(), "user-1")))
	if !errors.Is(err, sdk.ErrKeysUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("context ended during the refetch: %v, want ErrKeysUnavailable and DeadlineExceeded", err)
	}
	rec := httptest.NewRecorder()
	sdk.WriteAuthError(rec, err)
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("answered %d", rec.Code)
	}
}

// TestVerifyRefusesNonCanonicalBase64: a token has one string form. The last
// character of an unpadded base64url part may carry unused low bits; a token
// with them set decodes to the same bytes but is another string (a second
// jti-like identity for a cache or a deny list), so it is refused.
func TestVerifyRefusesNonCanonicalBase64(t *testing.T) {
	k := newKey(t, "RS256")
	is := newIssuer(t, k)
	clk := newClock()
	v := newVerifier(t, is, clk)
	ctx := context.Background()
	tok := k.sign(t, is.claims(clk.Now(), "user-1"))
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	// An RS256 signature is 256 bytes: 342 characters, the last holding 2
	// bits of data and 4 unused ones.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, tok[len(tok)-1])
	if last < 0 || last&0x0f != 0 {
		t.Fatalf("unexpected last character %q", tok[len(tok)-1])
	}
	alt := tok[:len(tok)-1] + string(alphabet[last|1])
	if a, b := strings.Split(tok, ".")[2], strings.Split(alt, ".")[2]; a == b {
		t.Fatal("same string")
	}
	if _, err := v.Verify(ctx, alt); !errors.Is(err, sdk.ErrMalformed) {
		t.Fatalf("non-canonical signature encoding: %v, want ErrMalformed", err)
	}
}
