package oidc

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/auther/auther/internal/clock"
	"github.com/auther/auther/internal/id"
	"github.com/auther/auther/internal/keys"
	"github.com/auther/auther/internal/store"
)

// Error is an OAuth 2.0 error (RFC 6749 §5.2, §4.1.2.1).
type Error struct {
	Code        string
	Description string
}

func (e *Error) Error() string { return e.Code + ": " + e.Description }

func oerr(code, desc string) *Error { return &Error{Code: code, Description: desc} }

// Provider is the OpenID Connect provider.
type Provider struct {
	Store  store.Store
	Keys   *keys.Manager
	Clock  clock.Clock
	Issuer string // the base URL; discovery lives at Issuer/.well-known/openid-configuration

	CodeTTL    time.Duration // 10 min
	AccessTTL  time.Duration // 1 h
	IDTTL      time.Duration // 1 h
	RefreshTTL time.Duration // 7 days
	Leeway     time.Duration // accepted clock skew, 30 s

	// OnFailure, when set, observes every refused request by reason code.
	OnFailure func(endpoint, code string)
}

func (p *Provider) now() time.Time { return p.Clock.Now().UTC().Truncate(time.Millisecond) }

func (p *Provider) fail(endpoint string, e *Error) *Error {
	if p.OnFailure != nil {
		p.OnFailure(endpoint, e.Code)
	}
	return e
}

func ttl(override *time.Duration, def time.Duration) time.Duration {
	if override != nil && *override > 0 {
		return *override
	}
	return def
}

// AuthRequest is a validated authorization request.
type AuthRequest struct {
	Client        *store.Client
	RedirectURI   string
	State         string
	Nonce         string
	Scopes        []string
	CodeChallenge string
	Prompt        []string
	MaxAge        *time.Duration
	LoginHint     string
	ACRValues     string
}

// authorizeParams are the authorization request parameters Auther reads.
var authorizeParams = []string{"client_id", "redirect_uri", "response_type", "scope", "state", "nonce", "code_challenge",
	"code_challenge_method", "prompt", "max_age", "login_hint", "response_mode", "ui_locales", "id_token_hint", "acr_values"}

// HasPrompt reports whether prompt includes v.
func (r *AuthRequest) HasPrompt(v string) bool { return slices.Contains(r.Prompt, v) }

// ParseAuthorize validates an authorization request. A non-nil page error
// means the client or redirect URI cannot be trusted: show it, never
// redirect. A non-nil redirect error goes back to the redirect URI.
func (p *Provider) ParseAuthorize(ctx context.Context, q url.Values) (req *AuthRequest, page, redirect *Error) {
	for k, v := range q {
		if len(v) > 1 {
			// Name only parameters of the protocol: the page shows this text,
			// and an invented name would let anyone write on it.
			what := "a parameter"
			if slices.Contains(authorizeParams, k) {
				what = "parameter " + k
			}
			return nil, p.fail("authorize", oerr("invalid_request", what+" appears more than once")), nil
		}
	}
	clientID := q.Get("client_id")
	if clientID == "" {
		return nil, p.fail("authorize", oerr("invalid_request", "client_id is missing")), nil
	}
	c, err := p.Store.GetClient(ctx, clientID)
	if err != nil {
		return nil, p.fail("authorize", oerr("invalid_client", "unknown client")), nil
	}
	ru := q.Get("redirect_uri")
	if !MatchRedirect(c.RedirectURIs, ru) {
		return nil, p.fail("authorize", oerr("invalid_request", "redirect_uri is not registered for this client")), nil
	}
	req = &AuthRequest{Client: c, RedirectURI: ru, State: q.Get("state"), Nonce: q.Get("nonce"),
		LoginHint: q.Get("login_hint"), ACRValues: q.Get("acr_values")}
	bad := func(code, desc string) (*AuthRequest, *Error, *Error) {
		return req, nil, p.fail("authorize", oerr(code, desc))
	}
	switch {
	case c.Disabled:
		return bad("unauthorized_client", "the client is disabled")
	case q.Get("response_type") != "code":
		return bad("unsupported_response_type", "only response_type=code is supported")
	case !slices.Contains(c.GrantTypes, GrantAuthorizationCode):
		return bad("unauthorized_client", "the client may not use the authorization code grant")
	case q.Get("request") != "" || q.Get("request_uri") != "":
		return bad("request_not_supported", "request objects are not supported")
	}
	req.Scopes = strings.Fields(q.Get("scope"))
	if !slices.Contains(req.Scopes, "openid") {
		return bad("invalid_scope", "the openid scope is required")
	}
	for _, s := range req.Scopes {
		if !slices.Contains(c.Scopes, s) {
			return bad("invalid_scope", "scope "+s+" is not allowed for this client")
		}
	}
	req.CodeChallenge = q.Get("code_challenge")
	method := q.Get("code_challenge_method")
	switch {
	case req.CodeChallenge == "" && c.Public:
		return bad("invalid_request", "public clients must use PKCE (code_challenge with S256)")
	case req.CodeChallenge != "" && method != "S256":
		return bad("invalid_request", "code_challenge_method must be S256; plain is not supported")
	case req.CodeChallenge != "" && !validChallenge(req.CodeChallenge):
		return bad("invalid_request", "code_challenge must be 43 base64url characters")
	case c.Public && (req.State == "" || req.Nonce == ""):
		return bad("invalid_request", "public clients must send state and nonce")
	}
	if pr := q.Get("prompt"); pr != "" {
		req.Prompt = strings.Fields(pr)
		for _, v := range req.Prompt {
			if !slices.Contains([]string{"none", "login", "consent", "select_account"}, v) {
				return bad("invalid_request", "unknown prompt value "+v)
			}
		}
		if req.HasPrompt("none") && len(req.Prompt) > 1 {
			return bad("invalid_request", "prompt=none cannot be combined")
		}
	}
	if ma := q.Get("max_age"); ma != "" {
		n, err := strconv.ParseUint(ma, 10, 64)
		if err != nil {
			return bad("invalid_request", "max_age must be a non-negative integer of seconds")
		}
		n = min(n, 1<<33) // ~272 years: no session is older, and the Duration cannot overflow
		d := time.Duration(n) * time.Second
		req.MaxAge = &d
	}
	return req, nil, nil
}

func validChallenge(c string) bool {
	if len(c) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(c)
	return err == nil
}

// NeedsConsent reports whether the user must approve this request.
func (p *Provider) NeedsConsent(ctx context.Context, req *AuthRequest, userID string) (bool, error) {
	if req.HasPrompt("consent") {
		return true, nil
	}
	if req.Client.SkipConsent {
		return false, nil
	}
	c, err := p.Store.GetConsent(ctx, req.Client.ID, userID)
	if errors.Is(err, store.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	for _, s := range req.Scopes {
		if !slices.Contains(c.Scopes, s) {
			return true, nil
		}
	}
	return false, nil
}

// SaveConsent remembers that the user approved these scopes (merged with
// what was approved before).
func (p *Provider) SaveConsent(ctx context.Context, clientID, userID string, scopes []string) error {
	now := p.now()
	all := slices.Clone(scopes)
	if old, err := p.Store.GetConsent(ctx, clientID, userID); err == nil {
		for _, s := range old.Scopes {
			if !slices.Contains(all, s) {
				all = append(all, s)
			}
		}
	}
	return p.Store.SaveConsent(ctx, &store.Consent{ID: id.New(), ClientID: clientID, UserID: userID, Scopes: all, CreatedAt: now, UpdatedAt: now})
}

// IssueCode records the authorization and returns the code.
func (p *Provider) IssueCode(ctx context.Context, req *AuthRequest, user *store.User, sess *store.Session) (string, error) {
	var b [32]byte
	rand.Read(b[:])
	code := base64.RawURLEncoding.EncodeToString(b[:])
	now := p.now()
	g := &store.Grant{ID: id.New(), ClientID: req.Client.ID, UserID: user.ID, SessionID: sess.ID, Scopes: req.Scopes,
		Nonce: req.Nonce, AuthTime: sess.CreatedAt, RedirectURI: req.RedirectURI, CodeHash: HashSecret(code),
		CodeChallenge: req.CodeChallenge, CodeExpiresAt: now.Add(p.CodeTTL), CreatedAt: now, AMR: sess.AuthMethod}
	return code, p.Store.CreateGrant(ctx, g)
}

// ClientAuth is how the client authenticated at the token, introspection
// or revocation endpoint.
type ClientAuth struct {
	ID     string
	Secret string // "" for public clients
	Method string // client_secret_basic, client_secret_post or none
}

// AuthenticateClient checks a client's credentials.
func (p *Provider) AuthenticateClient(ctx context.Context, endpoint string, a ClientAuth) (*store.Client, *Error) {
	if a.ID == "" {
		return nil, p.fail(endpoint, oerr("invalid_client", "client authentication is required"))
	}
	c, err := p.Store.GetClient(ctx, a.ID)
	if err != nil {
		// Spend a comparison anyway so timing does not reveal client ids.
		subtle.ConstantTimeCompare([]byte(HashSecret(a.Secret)), []byte(HashSecret("x")))
		return nil, p.fail(endpoint, oerr("invalid_client", "unknown client or bad credentials"))
	}
	if c.Public {
		if a.Secret != "" {
			return nil, p.fail(endpoint, oerr("invalid_client", "public clients have no secret"))
		}
	} else if !CheckSecret(c, a.Secret) {
		return nil, p.fail(endpoint, oerr("invalid_client", "unknown client or bad credentials"))
	}
	if c.Disabled {
		return nil, p.fail(endpoint, oerr("invalid_client", "the client is disabled"))
	}
	return c, nil
}

// TokenResponse is the token endpoint's answer.
type TokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	Scope        string `json:"scope"`
}

// verifyPKCE checks an S256 verifier against the stored challenge.
func verifyPKCE(challenge, verifier string) bool {
	if challenge == "" {
		return verifier == ""
	}
	if len(verifier) < 43 || len(verifier) > 128 {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	return subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(challenge)) == 1
}

// ExchangeCode redeems an authorization code. Every check runs before the
// code is used up, so a wrong request changes nothing; a code presented a
// second time revokes every token issued from it.
func (p *Provider) ExchangeCode(ctx context.Context, c *store.Client, code, redirectURI, verifier string) (*TokenResponse, *Error) {
	if !slices.Contains(c.GrantTypes, GrantAuthorizationCode) {
		return nil, p.fail("token", oerr("unauthorized_client", "the client may not use the authorization code grant"))
	}
	h := HashSecret(code)
	g, err := p.Store.GetGrantByCode(ctx, h)
	if err != nil {
		return nil, p.fail("token", oerr("invalid_grant", "unknown authorization code"))
	}
	now := p.now()
	switch {
	case g.CodeUsedAt != nil:
		// A used code presented again, by anyone, means it leaked.
		_ = p.Store.RevokeGrant(ctx, g.ID, now)
		return nil, p.fail("token", oerr("invalid_grant", "the code was already used; its tokens are revoked"))
	case g.ClientID != c.ID:
		return nil, p.fail("token", oerr("invalid_grant", "the code was issued to another client"))
	case g.RevokedAt != nil:
		return nil, p.fail("token", oerr("invalid_grant", "the authorization was revoked"))
	case !g.CodeExpiresAt.After(now):
		return nil, p.fail("token", oerr("invalid_grant", "the code has expired"))
	case g.RedirectURI != redirectURI:
		return nil, p.fail("token", oerr("invalid_grant", "redirect_uri does not match the authorization request"))
	case c.Public && g.CodeChallenge == "":
		return nil, p.fail("token", oerr("invalid_grant", "PKCE is required"))
	case !verifyPKCE(g.CodeChallenge, verifier):
		return nil, p.fail("token", oerr("invalid_grant", "code_verifier does not match the code_challenge"))
	}
	g, err = p.Store.RedeemCode(ctx, h, now)
	if errors.Is(err, store.ErrReused) {
		_ = p.Store.RevokeGrant(ctx, g.ID, now)
		return nil, p.fail("token", oerr("invalid_grant", "the code was already used; its tokens are revoked"))
	}
	if err != nil {
		return nil, oerr("server_error", err.Error())
	}
	u, err := p.Store.GetUser(ctx, g.UserID)
	if err != nil {
		return nil, p.fail("token", oerr("invalid_grant", "the user no longer exists"))
	}
	return p.issue(ctx, c, g, u, nil, now)
}

// Refresh rotates a refresh token. Presenting a used one revokes the whole
// family.
func (p *Provider) Refresh(ctx context.Context, c *store.Client, token, scope string) (*TokenResponse, *Error) {
	if !slices.Contains(c.GrantTypes, GrantRefreshToken) {
		return nil, p.fail("token", oerr("unauthorized_client", "the client may not use refresh tokens"))
	}
	h := HashSecret(token)
	rt, g, u, err := p.Store.GetRefreshTokenUser(ctx, h)
	if errors.Is(err, store.ErrNotFound) {
		// Unknown, or its grant or user is gone (deleting a user deletes
		// their grants and tokens).
		return nil, p.fail("token", oerr("invalid_grant", "unknown refresh token"))
	}
	if err != nil {
		// Not the token's fault: the client must keep it and try again.
		return nil, oerr("server_error", "the refresh token could not be checked; try again")
	}
	now := p.now()
	if g.ClientID != c.ID {
		return nil, p.fail("token", oerr("invalid_grant", "the refresh token was issued to another client"))
	}
	reused := func() (*TokenResponse, *Error) {
		_ = p.Store.RevokeGrant(ctx, g.ID, now)
		return nil, p.fail("token", oerr("invalid_grant", "the refresh token was already used; the whole family is revoked"))
	}
	// A replayed token is theft until shown otherwise, whatever else the
	// request asks (RFC 9700 §4.14.2): checked before the scope.
	if rt.UsedAt != nil {
		return reused()
	}
	var narrowed []string
	if strings.TrimSpace(scope) != "" {
		narrowed = strings.Fields(scope)
		for _, s := range narrowed {
			if !slices.Contains(g.Scopes, s) {
				return nil, p.fail("token", oerr("invalid_scope", "a refresh cannot add scope "+s))
			}
		}
	}
	if g.RevokedAt != nil || !rt.ExpiresAt.After(now) {
		return nil, p.fail("token", oerr("invalid_grant", "the refresh token has expired or was revoked"))
	}
	next, nt := p.newRefresh(g, c, now)
	switch err := p.Store.RotateRefreshToken(ctx, h, now, nt); {
	case errors.Is(err, store.ErrReused): // used concurrently since the read
		return reused()
	case errors.Is(err, store.ErrNotFound): // revoked or deleted since the read
		return nil, p.fail("token", oerr("invalid_grant", "the authorization was revoked"))
	case err != nil:
		return nil, oerr("server_error", err.Error())
	}
	if narrowed != nil {
		g.Scopes = narrowed
	}
	return p.issue(ctx, c, g, u, &next, now)
}

func (p *Provider) newRefresh(g *store.Grant, c *store.Client, now time.Time) (string, *store.RefreshToken) {
	var b [32]byte
	rand.Read(b[:])
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	return tok, &store.RefreshToken{ID: id.New(), GrantID: g.ID, TokenHash: HashSecret(tok),
		ExpiresAt: now.Add(ttl(c.RefreshTokenTTL, p.RefreshTTL)), CreatedAt: now}
}

// issue mints the tokens of a grant. refresh is the already stored
// rotated token, or nil to create the first one when offline_access was
// granted.
func (p *Provider) issue(ctx context.Context, c *store.Client, g *store.Grant, u *store.User, refresh *string, now time.Time) (*TokenResponse, *Error) {
	accessTTL := ttl(c.AccessTokenTTL, p.AccessTTL)
	at, err := p.Keys.Sign(p.AccessClaims(c, g, now, accessTTL), "at+jwt")
	if err != nil {
		return nil, oerr("server_error", "signing failed")
	}
	resp := &TokenResponse{AccessToken: at, TokenType: "Bearer", ExpiresIn: int(accessTTL / time.Second), Scope: strings.Join(g.Scopes, " ")}
	if slices.Contains(g.Scopes, "openid") {
		idc := p.IDClaims(c, g, u, now)
		if refresh != nil {
			delete(idc, "nonce") // OIDC Core §12.2: no nonce in a refreshed ID token
		}
		if resp.IDToken, err = p.Keys.Sign(idc, "JWT"); err != nil {
			return nil, oerr("server_error", "signing failed")
		}
	}
	switch {
	case refresh != nil:
		resp.RefreshToken = *refresh
	case slices.Contains(g.Scopes, "offline_access") && slices.Contains(c.GrantTypes, GrantRefreshToken):
		tok, rt := p.newRefresh(g, c, now)
		if err := p.Store.AddRefreshToken(ctx, rt); err != nil {
			return nil, oerr("server_error", err.Error())
		}
		resp.RefreshToken = tok
	}
	return resp, nil
}

// ClientCredentials issues an access token to a confidential client for
// itself (machine to machine); sub is the client id.
func (p *Provider) ClientCredentials(c *store.Client, scope string) (*TokenResponse, *Error) {
	if c.Public || !slices.Contains(c.GrantTypes, GrantClientCredentials) {
		return nil, p.fail("token", oerr("unauthorized_client", "the client may not use client_credentials"))
	}
	scopes := strings.Fields(scope)
	for _, s := range scopes {
		if s == "openid" || s == "offline_access" || !slices.Contains(c.Scopes, s) {
			return nil, p.fail("token", oerr("invalid_scope", "scope "+s+" is not available to a client acting for itself"))
		}
	}
	now := p.now()
	accessTTL := ttl(c.AccessTokenTTL, p.AccessTTL)
	g := &store.Grant{ID: "cc", ClientID: c.ID, UserID: c.ID, Scopes: scopes, AuthTime: now}
	at, err := p.Keys.Sign(p.AccessClaims(c, g, now, accessTTL), "at+jwt")
	if err != nil {
		return nil, oerr("server_error", "signing failed")
	}
	return &TokenResponse{AccessToken: at, TokenType: "Bearer", ExpiresIn: int(accessTTL / time.Second), Scope: strings.Join(scopes, " ")}, nil
}

// AccessClaims is the one place access-token claims are built (RFC 9068).
// The jti carries the grant id so a revoked grant's tokens can be refused.
func (p *Provider) AccessClaims(c *store.Client, g *store.Grant, now time.Time, life time.Duration) map[string]any {
	var r [9]byte
	rand.Read(r[:])
	return map[string]any{
		"iss": p.Issuer, "sub": g.UserID, "aud": c.ID, "client_id": c.ID,
		"scope": strings.Join(g.Scopes, " "), "jti": g.ID + "." + base64.RawURLEncoding.EncodeToString(r[:]),
		"iat": now.Unix(), "exp": now.Add(life).Unix(), "auth_time": g.AuthTime.Unix(),
	}
}

// IDClaims is the one place ID-token claims are built.
func (p *Provider) IDClaims(c *store.Client, g *store.Grant, u *store.User, now time.Time) map[string]any {
	cl := map[string]any{
		"iss": p.Issuer, "sub": u.ID, "aud": c.ID, "azp": c.ID,
		"iat": now.Unix(), "exp": now.Add(ttl(c.IDTokenTTL, p.IDTTL)).Unix(),
		"auth_time": g.AuthTime.Unix(),
	}
	if g.AMR != "" {
		cl["amr"] = []string{g.AMR}
	}
	if g.SessionID != "" {
		cl["sid"] = g.SessionID
	}
	if g.Nonce != "" {
		cl["nonce"] = g.Nonce
	}
	for k, v := range UserClaims(u, g.Scopes) {
		cl[k] = v
	}
	return cl
}

// UserClaims are the profile claims a set of scopes releases (ID token and
// userinfo alike).
func UserClaims(u *store.User, scopes []string) map[string]any {
	cl := map[string]any{"sub": u.ID}
	if slices.Contains(scopes, "email") {
		cl["email"], cl["email_verified"] = u.Email, u.EmailVerified
	}
	if slices.Contains(scopes, "profile") {
		cl["name"], cl["updated_at"] = u.Name, u.UpdatedAt.Unix()
		if u.Image != nil {
			cl["picture"] = *u.Image
		}
	}
	return cl
}

// AccessToken is a verified access token.
type AccessToken struct {
	Claims map[string]any
	Grant  *store.Grant // nil for client_credentials tokens
	Scopes []string
}

// VerifyAccessToken checks signature, type, issuer, expiry (with leeway)
// and that its grant is not revoked.
func (p *Provider) VerifyAccessToken(ctx context.Context, tok string) (*AccessToken, error) {
	payload, typ, err := p.Keys.Verify(tok)
	if err != nil || !strings.EqualFold(typ, "at+jwt") {
		return nil, errors.New("invalid token")
	}
	var cl map[string]any
	if err := json.Unmarshal(payload, &cl); err != nil || cl["iss"] != p.Issuer {
		return nil, errors.New("invalid token")
	}
	exp, _ := cl["exp"].(float64)
	if time.Unix(int64(exp), 0).Add(p.Leeway).Before(p.now()) {
		return nil, errors.New("token expired")
	}
	// A disabled or deleted client's tokens stop working at once.
	cid, _ := cl["client_id"].(string)
	client, err := p.Store.GetClient(ctx, cid)
	if err != nil || client.Disabled {
		return nil, errors.New("client disabled or deleted")
	}
	at := &AccessToken{Claims: cl}
	scope, _ := cl["scope"].(string)
	at.Scopes = strings.Fields(scope)
	jti, _ := cl["jti"].(string)
	gid, _, _ := strings.Cut(jti, ".")
	if gid == "cc" {
		// Machine tokens have no grant: any change to the client (secret
		// rotated, disabled) invalidates those issued before it.
		iat, _ := cl["iat"].(float64)
		if int64(iat) < client.UpdatedAt.Unix() {
			return nil, errors.New("client changed since the token was issued")
		}
		return at, nil
	}
	g, err := p.Store.GetGrant(ctx, gid)
	if err != nil || g.RevokedAt != nil {
		return nil, errors.New("token revoked")
	}
	at.Grant = g
	return at, nil
}

// Userinfo returns the claims an access token's scopes release.
func (p *Provider) Userinfo(ctx context.Context, tok string) (map[string]any, error) {
	at, err := p.VerifyAccessToken(ctx, tok)
	if err != nil || at.Grant == nil || !slices.Contains(at.Scopes, "openid") {
		return nil, errors.New("invalid token")
	}
	u, err := p.Store.GetUser(ctx, at.Grant.UserID)
	if err != nil {
		return nil, errors.New("invalid token")
	}
	return UserClaims(u, at.Scopes), nil
}

// Introspect answers RFC 7662 for an access or refresh token of c.
func (p *Provider) Introspect(ctx context.Context, c *store.Client, tok string) map[string]any {
	inactive := map[string]any{"active": false}
	if at, err := p.VerifyAccessToken(ctx, tok); err == nil {
		if cid, _ := at.Claims["client_id"].(string); cid != c.ID {
			return inactive
		}
		out := map[string]any{"active": true, "token_type": "access_token"}
		for _, k := range []string{"scope", "client_id", "sub", "exp", "iat", "iss", "aud", "jti"} {
			out[k] = at.Claims[k]
		}
		return out
	}
	rt, g, err := p.Store.GetRefreshToken(ctx, HashSecret(tok))
	if err != nil || g.ClientID != c.ID || rt.UsedAt != nil || g.RevokedAt != nil || !rt.ExpiresAt.After(p.now()) {
		return inactive
	}
	return map[string]any{"active": true, "token_type": "refresh_token", "scope": strings.Join(g.Scopes, " "),
		"client_id": c.ID, "sub": g.UserID, "exp": rt.ExpiresAt.Unix(), "iat": rt.CreatedAt.Unix(), "iss": p.Issuer}
}

// Revoke revokes the grant behind an access or refresh token of c (RFC
// 7009: unknown tokens are not an error).
func (p *Provider) Revoke(ctx context.Context, c *store.Client, tok string) {
	now := p.now()
	if at, err := p.VerifyAccessToken(ctx, tok); err == nil && at.Grant != nil && at.Grant.ClientID == c.ID {
		_ = p.Store.RevokeGrant(ctx, at.Grant.ID, now)
		return
	}
	if _, g, err := p.Store.GetRefreshToken(ctx, HashSecret(tok)); err == nil && g.ClientID == c.ID {
		_ = p.Store.RevokeGrant(ctx, g.ID, now)
	}
}

// IDTokenHint reads an ID token we issued (expired ones included, as
// logout hints often are), returning its client, subject and session.
func (p *Provider) IDTokenHint(tok string) (clientID, sub, sid string, ok bool) {
	payload, typ, err := p.Keys.Verify(tok)
	if err != nil || strings.EqualFold(typ, "at+jwt") {
		return "", "", "", false
	}
	var cl struct {
		Iss string `json:"iss"`
		Aud any    `json:"aud"`
		Sub string `json:"sub"`
		Sid string `json:"sid"`
	}
	if json.Unmarshal(payload, &cl) != nil || cl.Iss != p.Issuer {
		return "", "", "", false
	}
	switch a := cl.Aud.(type) {
	case string:
		clientID = a
	case []any:
		if len(a) == 1 {
			clientID, _ = a[0].(string)
		}
	}
	return clientID, cl.Sub, cl.Sid, clientID != ""
}
