package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/auther/auther/internal/id"
	"github.com/auther/auther/internal/store"
)

func newGrant(t *testing.T, s store.Store, u *store.User, clientID string) *store.Grant {
	t.Helper()
	g := &store.Grant{ID: id.New(), ClientID: clientID, UserID: u.ID, Scopes: []string{"openid", "offline_access"}, AuthTime: now(),
		RedirectURI: "https://app.example.com/cb", CodeHash: "code-" + id.New(), CodeExpiresAt: now().Add(time.Minute), CreatedAt: now()}
	if err := s.CreateGrant(ctx, g); err != nil {
		t.Fatal(err)
	}
	return g
}

func newRefreshToken(g *store.Grant, ttl time.Duration) *store.RefreshToken {
	return &store.RefreshToken{ID: id.New(), GrantID: g.ID, TokenHash: "rt-" + id.New(), ExpiresAt: now().Add(ttl), CreatedAt: now()}
}

// Rotation is the refresh path: it must succeed once per token, tell a
// reuse apart (the caller revokes the family), and refuse tokens that
// expired, belong to another grant or whose grant was revoked.
func testRefreshRotation(t *testing.T, s store.Store) {
	u := mustCreate(t, s, "refresh@example.com")
	c := &store.Client{ID: "app", Name: "App", RedirectURIs: []string{"https://app.example.com/cb"}, CreatedAt: now(), UpdatedAt: now()}
	if err := s.CreateClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	g := newGrant(t, s, u, c.ID)
	first := newRefreshToken(g, time.Hour)
	if err := s.AddRefreshToken(ctx, first); err != nil {
		t.Fatal(err)
	}
	rt, gg, uu, err := s.GetRefreshTokenUser(ctx, first.TokenHash)
	if err != nil || rt.ID != first.ID || gg.ID != g.ID || uu.ID != u.ID || uu.Email != u.Email {
		t.Fatalf("GetRefreshTokenUser = %+v %+v %+v, %v", rt, gg, uu, err)
	}
	second := newRefreshToken(g, time.Hour)
	if err := s.RotateRefreshToken(ctx, first.TokenHash, now(), second); err != nil {
		t.Fatalf("rotate: %v", err)
	}
	if rt, _, err := s.GetRefreshToken(ctx, first.TokenHash); err != nil || rt.UsedAt == nil {
		t.Fatalf("the rotated token is not marked used: %+v, %v", rt, err)
	}
	if _, _, err := s.GetRefreshToken(ctx, second.TokenHash); err != nil {
		t.Fatalf("the next token was not stored: %v", err)
	}
	if err := s.RotateRefreshToken(ctx, first.TokenHash, now(), newRefreshToken(g, time.Hour)); !errors.Is(err, store.ErrReused) {
		t.Fatalf("reusing a rotated token: %v, want ErrReused", err)
	}
	other := newGrant(t, s, u, c.ID)
	if err := s.RotateRefreshToken(ctx, second.TokenHash, now(), newRefreshToken(other, time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("rotating into another grant: %v, want ErrNotFound", err)
	}
	if err := s.RotateRefreshToken(ctx, second.TokenHash, now().Add(2*time.Hour), newRefreshToken(g, time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("rotating an expired token: %v, want ErrNotFound", err)
	}
	if err := s.RevokeGrant(ctx, g.ID, now()); err != nil {
		t.Fatal(err)
	}
	if err := s.RotateRefreshToken(ctx, second.TokenHash, now(), newRefreshToken(g, time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("rotating under a revoked grant: %v, want ErrNotFound", err)
	}
	if err := s.RotateRefreshToken(ctx, "no-such-token", now(), newRefreshToken(g, time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("rotating an unknown token: %v, want ErrNotFound", err)
	}
	if rt, _, err := s.GetRefreshToken(ctx, second.TokenHash); err != nil || rt.UsedAt != nil {
		t.Fatalf("a refused rotation used the token up: %+v, %v", rt, err)
	}
}

// Of concurrent rotations of one token exactly one succeeds; the others
// see a reuse (and the caller revokes the family).
func testConcurrentRefreshRotation(t *testing.T, s store.Store) {
	u := mustCreate(t, s, "race@example.com")
	c := &store.Client{ID: "racer", Name: "Racer", RedirectURIs: []string{"https://app.example.com/cb"}, CreatedAt: now(), UpdatedAt: now()}
	if err := s.CreateClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	g := newGrant(t, s, u, c.ID)
	rt := newRefreshToken(g, time.Hour)
	if err := s.AddRefreshToken(ctx, rt); err != nil {
		t.Fatal(err)
	}
	const n = 8
	errs := make(chan error, n)
	for range n {
		go func() { errs <- s.RotateRefreshToken(ctx, rt.TokenHash, now(), newRefreshToken(g, time.Hour)) }()
	}
	ok, reused := 0, 0
	for range n {
		switch err := <-errs; {
		case err == nil:
			ok++
		case errors.Is(err, store.ErrReused):
			reused++
		default:
			t.Errorf("concurrent rotation: %v", err)
		}
	}
	if ok != 1 || reused != n-1 {
		t.Fatalf("%d rotations succeeded and %d saw a reuse, want 1 and %d", ok, reused, n-1)
	}
}
