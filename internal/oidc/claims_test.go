package oidc

import (
	"testing"
	"time"

	"github.com/auther/auther/internal/store"
)

// amr tells relying parties how the user signed in: the session's method,
// carried by the grant, or nothing when it is not known.
func TestIDTokenAMRComesFromTheSession(t *testing.T) {
	p := &Provider{Issuer: "https://id.example.com", IDTTL: time.Hour}
	c := &store.Client{ID: "c1"}
	u := &store.User{ID: "u1", Email: "a@example.com"}
	now := time.Now()
	for amr, want := range map[string]any{"otp": []string{"otp"}, "pwd": []string{"pwd"}, "": nil} {
		g := &store.Grant{ID: "g", UserID: "u1", Scopes: []string{"openid"}, AuthTime: now, AMR: amr}
		got, ok := p.IDClaims(c, g, u, now)["amr"]
		if want == nil && ok || want != nil && (!ok || got.([]string)[0] != want.([]string)[0]) {
			t.Errorf("AMR %q: amr claim = %v, want %v", amr, got, want)
		}
	}
}
