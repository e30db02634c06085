package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/auther/auther/sdk"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Cookies. The browser never sees a token in JavaScript: the app keeps the
// access token in an HttpOnly cookie and its API reads it from there
// (backend-for-frontend).
const (
	loginCookie = "shadow_login" // state, nonce and PKCE verifier of a sign-in in progress
	tokenCookie = "shadow_token" // the access token
	idCookie    = "shadow_id"    // the ID token, sent back to Auther as id_token_hint at sign-out
)

// oidcClient signs users in with Auther's authorization code flow + PKCE.
type oidcClient struct {
	oauth      oauth2.Config
	idTokens   *oidc.IDTokenVerifier
	issuer     string
	endSession string
	home       string // where sign-in and sign-out land
	secure     bool   // mark cookies Secure (the app is served over https)
}

// newOIDCClient needs no network: Auther's endpoints are at fixed paths
// under its base URL (the same ones its discovery document lists), and the
// ID-token keys are fetched on first use.
func newOIDCClient(cfg Config) *oidcClient {
	issuer := cfg.AutherURL
	keys := oidc.NewRemoteKeySet(context.Background(), issuer+"/api/auth/jwks")
	return &oidcClient{
		oauth: oauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			Endpoint: oauth2.Endpoint{
				AuthURL:   issuer + "/api/auth/oauth2/authorize",
				TokenURL:  issuer + "/api/auth/oauth2/token",
				AuthStyle: oauth2.AuthStyleInHeader,
			},
			RedirectURL: cfg.PublicURL + "/callback",
			Scopes:      []string{oidc.ScopeOpenID, "profile", "email"},
		},
		idTokens: oidc.NewVerifier(issuer, keys, &oidc.Config{
			ClientID:             cfg.ClientID,
			SupportedSigningAlgs: []string{cfg.SigningAlg},
		}),
		issuer:     issuer,
		endSession: issuer + "/api/auth/oauth2/end-session",
		home:       cfg.PublicURL + "/",
		secure:     strings.HasPrefix(cfg.PublicURL, "https://"),
	}
}

func (o *oidcClient) setCookie(w http.ResponseWriter, name, value, path string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: path, MaxAge: int(maxAge.Seconds()),
		HttpOnly: true, Secure: o.secure,
		// Lax: sent when Auther redirects the browser back to /callback (a
		// top-level GET), not on cross-site POSTs.
		SameSite: http.SameSiteLaxMode,
	})
}

func (o *oidcClient) clearCookie(w http.ResponseWriter, name, path string) {
	http.SetCookie(w, &http.Cookie{Name: name, Path: path, MaxAge: -1, HttpOnly: true, Secure: o.secure, SameSite: http.SameSiteLaxMode})
}

// login sends the browser to Auther's authorization endpoint.
func (a *App) login(w http.ResponseWriter, r *http.Request) {
	o := a.oidc
	state, nonce, verifier := oauth2.GenerateVerifier(), oauth2.GenerateVerifier(), oauth2.GenerateVerifier()
	// Kept in the browser, only for /callback and ten minutes: /callback
	// accepts a code only together with the state it was sent with, so a
	// code someone else obtained cannot be planted in this browser.
	o.setCookie(w, loginCookie, state+"."+nonce+"."+verifier, "/callback", 10*time.Minute)
	http.Redirect(w, r, o.oauth.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)), http.StatusFound)
}

// callback finishes the sign-in: it checks state, exchanges the code (with
// the PKCE verifier), verifies the ID token, makes sure the shadow row
// exists and keeps the access token in a cookie.
func (a *App) callback(w http.ResponseWriter, r *http.Request) {
	o := a.oidc
	q := r.URL.Query()
	c, err := r.Cookie(loginCookie)
	if err != nil {
		writeError(w, http.StatusBadRequest, "no_login", "no sign-in in progress; start again at /login")
		return
	}
	o.clearCookie(w, loginCookie, "/callback")
	parts := strings.Split(c.Value, ".")
	if len(parts) != 3 || subtle.ConstantTimeCompare([]byte(parts[0]), []byte(q.Get("state"))) != 1 {
		writeError(w, http.StatusBadRequest, "bad_state", "state does not match; start again at /login")
		return
	}
	nonce, verifier := parts[1], parts[2]
	if e := q.Get("error"); e != "" {
		writeError(w, http.StatusForbidden, e, q.Get("error_description"))
		return
	}
	// RFC 9207: the answer names the server that sent it.
	if iss := q.Get("iss"); iss != "" && iss != o.issuer {
		writeError(w, http.StatusBadRequest, "bad_issuer", "the answer comes from another issuer")
		return
	}
	tok, err := o.oauth.Exchange(r.Context(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		a.log.Warn("code exchange failed", "err", err)
		writeError(w, http.StatusBadGateway, "exchange_failed", "could not redeem the code with Auther")
		return
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := o.idTokens.Verify(r.Context(), rawID)
	if err != nil || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		a.log.Warn("ID token refused", "err", err)
		writeError(w, http.StatusBadGateway, "bad_id_token", "Auther's ID token did not verify")
		return
	}
	var profile struct {
		Email         string `json:"email"`
		EmailVerified bool   `json:"email_verified"`
		Name          string `json:"name"`
		Picture       string `json:"picture"`
	}
	if err := idt.Claims(&profile); err != nil {
		a.serverError(w, r, err)
		return
	}
	// Provision the shadow row now, from the ID token, which (unlike the
	// access token) carries the profile. Webhooks keep it current later.
	_, _, err = a.shadow.EnsureFromClaims(r.Context(), &sdk.Claims{
		Subject: idt.Subject, Email: profile.Email, EmailVerified: profile.EmailVerified,
		Name: profile.Name, Picture: profile.Picture,
	})
	if errors.Is(err, sdk.ErrUserDeleted) {
		writeError(w, http.StatusUnauthorized, "user_deleted", "this user was deleted")
		return
	}
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	life := time.Until(tok.Expiry)
	if tok.Expiry.IsZero() || life <= 0 {
		life = time.Hour
	}
	o.setCookie(w, tokenCookie, tok.AccessToken, "/", life)
	o.setCookie(w, idCookie, rawID, "/logout", life)
	http.Redirect(w, r, o.home, http.StatusFound)
}

// logout forgets the tokens and asks Auther to end its session too. With
// the ID token as a hint Auther does it without asking and comes back to
// the app's home page (register it with --post-logout-redirect-uri). It is
// a POST from the app's own page, so that no other site can sign users out.
func (a *App) logout(w http.ResponseWriter, r *http.Request) {
	o := a.oidc
	if !a.sameOrigin(r) {
		writeError(w, http.StatusForbidden, "cross_origin", "sign out from this app's pages")
		return
	}
	o.clearCookie(w, tokenCookie, "/")
	o.clearCookie(w, idCookie, "/logout")
	v := url.Values{"client_id": {o.oauth.ClientID}, "post_logout_redirect_uri": {o.home}}
	if c, err := r.Cookie(idCookie); err == nil && c.Value != "" {
		v.Set("id_token_hint", c.Value)
	}
	http.Redirect(w, r, o.endSession+"?"+v.Encode(), http.StatusFound)
}

// tokenFromCookie lets browser requests, which carry the token cookie
// rather than an Authorization header, through sdk.Middleware.
func (a *App) tokenFromCookie(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := sdk.BearerToken(r); !ok {
			if c, err := r.Cookie(tokenCookie); err == nil && c.Value != "" {
				// Browsers attach cookies to requests other sites trigger:
				// a write must come from a page of this app (CSRF).
				if r.Method != http.MethodGet && r.Method != http.MethodHead && !a.sameOrigin(r) {
					writeError(w, http.StatusForbidden, "cross_origin", "requests that change data must come from this app's pages")
					return
				}
				r = r.Clone(r.Context())
				r.Header.Set("Authorization", "Bearer "+c.Value)
			}
		}
		next.ServeHTTP(w, r)
	})
}

// sameOrigin reports whether the browser says the request comes from one
// of the app's own pages.
func (a *App) sameOrigin(r *http.Request) bool {
	if origin := r.Header.Get("Origin"); origin != "" {
		return a.cfg.PublicURL != "" && origin == originOf(a.cfg.PublicURL)
	}
	return r.Header.Get("Sec-Fetch-Site") == "same-origin"
}

func originOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return p.Scheme + "://" + p.Host
}
