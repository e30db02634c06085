package httpapi_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/auther/auther/internal/keys"
	"github.com/auther/auther/internal/oidc"
	"github.com/auther/auther/internal/testdb"
)

func authorizeURL(o *oidcEnv, clientID, redirect, scope string) string {
	return o.origin + "/api/auth/oauth2/authorize?" + url.Values{"response_type": {"code"}, "client_id": {clientID},
		"redirect_uri": {redirect}, "scope": {scope}, "state": {"s"}, "nonce": {"n"}}.Encode()
}

// Consent is asked once per client and scope set, asked again for a new
// scope, skipped for trusted clients, and revocable by the user.
func TestConsentIsRememberedAndRevocable(t *testing.T) {
	o := newOIDCEnv(t, testdb.SQLite(t), keys.ES256)
	b := o.client()
	b.signUp("consent@example.com", pw)
	cb := "https://app.example.com/cb"
	id, _ := o.registerClient(t, oidc.ClientSpec{Name: "App", RedirectURIs: []string{cb}})
	trusted, _ := o.registerClient(t, oidc.ClientSpec{Name: "Trusted", RedirectURIs: []string{cb}, SkipConsent: true})

	isConsentPage := func(u string) bool {
		r := b.get(strings.TrimPrefix(u, o.origin))
		return r.Status == 200 && strings.Contains(string(r.Body), "Allow App")
	}
	if !isConsentPage(authorizeURL(o, id, cb, "openid email")) {
		t.Fatal("first authorization did not ask for consent")
	}
	o.browse(t, b, authorizeURL(o, id, cb, "openid email"), "", "") // approves
	if isConsentPage(authorizeURL(o, id, cb, "openid email")) {
		t.Error("consent asked again for the same scopes")
	}
	if !isConsentPage(authorizeURL(o, id, cb, "openid email profile")) {
		t.Error("no consent asked for a new scope")
	}
	if r := b.get(strings.TrimPrefix(authorizeURL(o, trusted, cb, "openid email"), o.origin)); r.Status != 302 {
		t.Errorf("trusted client asked for consent: %d", r.Status)
	}
	var list []map[string]any
	json.Unmarshal(b.get("/api/auth/oauth2/get-consents").Body, &list)
	if len(list) != 1 || list[0]["clientId"] != id {
		t.Fatalf("consents = %v", list)
	}
	if r := b.post("/api/auth/oauth2/delete-consent", map[string]any{"clientId": id}); r.Status != 200 {
		t.Fatalf("delete-consent: %d %s", r.Status, r.Body)
	}
	if !isConsentPage(authorizeURL(o, id, cb, "openid email")) {
		t.Error("consent not asked after it was revoked")
	}
	// Denying sends access_denied back to the client.
	r := b.get(strings.TrimPrefix(authorizeURL(o, id, cb, "openid email"), o.origin))
	m := hiddenRE.FindAllStringSubmatch(string(r.Body), -1)
	deny := b.postForm("/api/auth/oauth2/consent", url.Values{m[0][1]: {htmlUnescape(m[0][2])}, m[1][1]: {htmlUnescape(m[1][2])}, "decision": {"deny"}})
	loc, _ := url.Parse(deny.Header.Get("Location"))
	if loc.Query().Get("error") != "access_denied" || loc.Query().Get("state") != "s" || loc.Query().Get("iss") != o.origin {
		t.Errorf("deny: %s", deny.Header.Get("Location"))
	}
	// A forged consent form (wrong CSRF token) is refused.
	forged := b.postForm("/api/auth/oauth2/consent", url.Values{"request": {htmlUnescape(m[0][2])}, "csrf": {"forged"}, "decision": {"approve"}})
	if forged.Status != 403 {
		t.Errorf("forged consent: %d", forged.Status)
	}
}
