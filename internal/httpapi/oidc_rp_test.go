package httpapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/auther/auther/internal/keys"
	"github.com/auther/auther/internal/oidc"
	"github.com/auther/auther/internal/store/sqlstore"
	"github.com/auther/auther/internal/testdb"
)

// A real relying party (coreos/go-oidc + golang.org/x/oauth2) signs a user
// in through Auther: discovery, authorize with PKCE, sign-in and consent in
// a cookie-jar browser, code exchange, ID-token verification against the
// JWKS, userinfo, refresh rotation with reuse detection, introspection,
// revocation and RP-initiated logout.
func TestRelyingPartyFullFlow(t *testing.T) {
	testdb.Each(t, func(t *testing.T, st *sqlstore.Store) {
		o := newOIDCEnv(t, st, keys.RS256)
		ctx := context.Background()
		browser := o.client()
		browser.signUp("rp@example.com", pw)
		browser.post("/api/auth/sign-out", nil) // the flow must send the user through sign-in

		cb := "http://127.0.0.1:9/callback"
		clientID, secret := o.registerClient(t, oidc.ClientSpec{Name: "Notes App", RedirectURIs: []string{cb},
			PostLogoutRedirectURIs: []string{"http://127.0.0.1:9/bye"}})

		provider, err := gooidc.NewProvider(ctx, o.origin)
		if err != nil {
			t.Fatalf("discovery: %v", err)
		}
		conf := oauth2.Config{ClientID: clientID, ClientSecret: secret, Endpoint: provider.Endpoint(), RedirectURL: cb,
			Scopes: []string{gooidc.ScopeOpenID, "profile", "email", gooidc.ScopeOfflineAccess}}
		verifier := oauth2.GenerateVerifier()
		authURL := conf.AuthCodeURL("state-123", oauth2.S256ChallengeOption(verifier), gooidc.Nonce("nonce-456"))

		back := o.browse(t, browser, authURL, "rp@example.com", pw)
		if back.Get("state") != "state-123" || back.Get("iss") != o.origin || back.Get("code") == "" {
			t.Fatalf("authorization response: %v", back)
		}
		tok, err := conf.Exchange(ctx, back.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("code exchange: %v", err)
		}
		rawID, _ := tok.Extra("id_token").(string)
		idt, err := provider.Verifier(&gooidc.Config{ClientID: clientID}).Verify(ctx, rawID)
		if err != nil {
			t.Fatalf("ID token does not verify against the JWKS: %v", err)
		}
		var claims struct {
			Email         string   `json:"email"`
			EmailVerified bool     `json:"email_verified"`
			Name          string   `json:"name"`
			Sid           string   `json:"sid"`
			AMR           []string `json:"amr"`
			AuthTime      int64    `json:"auth_time"`
		}
		idt.Claims(&claims)
		if idt.Nonce != "nonce-456" || claims.Email != "rp@example.com" || claims.Sid == "" || claims.AuthTime == 0 || len(claims.AMR) != 1 || claims.AMR[0] != "pwd" {
			t.Errorf("ID token claims: nonce=%q %+v", idt.Nonce, claims)
		}
		// The access token is an RFC 9068 JWT.
		at := decodeJWT(t, tok.AccessToken)
		if at.header["typ"] != "at+jwt" || at.claims["client_id"] != clientID || at.claims["iss"] != o.origin ||
			at.claims["sub"] != idt.Subject || !strings.Contains(at.claims["scope"].(string), "email") || at.claims["jti"] == "" {
			t.Errorf("access token: %v %v", at.header, at.claims)
		}
		ui, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil || ui.Email != "rp@example.com" || ui.Subject != idt.Subject {
			t.Fatalf("userinfo: %+v %v", ui, err)
		}

		// Refresh: a new refresh token and a fresh ID token; the old one dies.
		old := tok.RefreshToken
		if old == "" {
			t.Fatal("no refresh token with offline_access")
		}
		fresh, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: old}).Token()
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if fresh.RefreshToken == "" || fresh.RefreshToken == old || fresh.Extra("id_token") == nil {
			t.Fatalf("refresh did not rotate or lacks an ID token: %+v", fresh)
		}
		if introspect(t, o, clientID, secret, fresh.RefreshToken)["active"] != true {
			t.Fatal("the new refresh token is not active")
		}
		// Reusing the old one fails and kills the whole family.
		if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: old}).Token(); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
			t.Fatalf("reused refresh token: %v", err)
		}
		if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: fresh.RefreshToken}).Token(); err == nil {
			t.Fatal("the family survived a reuse of an old refresh token")
		}
		if introspect(t, o, clientID, secret, fresh.AccessToken)["active"] != false {
			t.Error("an access token of the revoked family is still active")
		}

		// A second authorization: consent is remembered, so no page this time.
		verifier2 := oauth2.GenerateVerifier()
		back = o.browse(t, browser, conf.AuthCodeURL("s2", oauth2.S256ChallengeOption(verifier2), gooidc.Nonce("n2")), "", "")
		tok2, err := conf.Exchange(ctx, back.Get("code"), oauth2.VerifierOption(verifier2))
		if err != nil {
			t.Fatal(err)
		}
		if introspect(t, o, clientID, secret, tok2.AccessToken)["active"] != true {
			t.Fatal("access token not active")
		}
		// Revocation (RFC 7009) of the refresh token revokes its grant.
		form := url.Values{"token": {tok2.RefreshToken}}
		if r := tokenPost(t, o, "/api/auth/oauth2/revoke", clientID, secret, form); r.Status != 200 {
			t.Fatalf("revoke: %d %s", r.Status, r.Body)
		}
		if introspect(t, o, clientID, secret, tok2.AccessToken)["active"] != false {
			t.Error("access token active after its grant was revoked")
		}

		// RP-initiated logout ends the Auther session and returns exactly.
		raw2, _ := tok2.Extra("id_token").(string)
		r := browser.get("/api/auth/oauth2/end-session?" + url.Values{"id_token_hint": {raw2},
			"post_logout_redirect_uri": {"http://127.0.0.1:9/bye"}, "state": {"bye-1"}}.Encode())
		if r.Status != http.StatusFound || r.Header.Get("Location") != "http://127.0.0.1:9/bye?state=bye-1" {
			t.Fatalf("end-session: %d %s", r.Status, r.Header.Get("Location"))
		}
		if browser.session() != nil {
			t.Error("the Auther session survived end-session")
		}
		bad := browser.get("/api/auth/oauth2/end-session?" + url.Values{"id_token_hint": {raw2},
			"post_logout_redirect_uri": {"http://127.0.0.1:9/bye/other"}}.Encode())
		if bad.Status != http.StatusBadRequest || bad.Header.Get("Location") != "" {
			t.Errorf("unregistered post-logout URI: %d %s", bad.Status, bad.Header.Get("Location"))
		}
	})
}

type jwtParts struct {
	header, claims map[string]any
}

func decodeJWT(t *testing.T, tok string) jwtParts {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	var p jwtParts
	for i, dst := range []*map[string]any{&p.header, &p.claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil || json.Unmarshal(b, dst) != nil {
			t.Fatalf("bad JWT part %d", i)
		}
	}
	return p
}

func tokenPost(t *testing.T, o *oidcEnv, path, id, secret string, form url.Values) response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, o.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

func introspect(t *testing.T, o *oidcEnv, id, secret, tok string) map[string]any {
	t.Helper()
	r := tokenPost(t, o, "/api/auth/oauth2/introspect", id, secret, url.Values{"token": {tok}})
	if r.Status != 200 {
		t.Fatalf("introspect: %d %s", r.Status, r.Body)
	}
	return r.json(t)
}
