package httpapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/auther/auther/internal/auth"
	"github.com/auther/auther/internal/keys"
	"github.com/auther/auther/internal/oidc"
	"github.com/auther/auther/internal/store"
	"github.com/auther/auther/internal/web"
)

// Endpoints of the OpenID Connect provider, all under /api/auth except the
// root discovery and JWKS documents. The pages it shows (consent, errors,
// the end-session confirmation) are rendered by pages.go.

func (s *Server) discovery(w http.ResponseWriter, r *http.Request) {
	iss := s.oidc.Issuer
	api := iss + "/api/auth"
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	writeJSON(w, 200, map[string]any{
		"issuer":                                         iss,
		"authorization_endpoint":                         api + "/oauth2/authorize",
		"token_endpoint":                                 api + "/oauth2/token",
		"userinfo_endpoint":                              api + "/oauth2/userinfo",
		"jwks_uri":                                       iss + "/.well-known/jwks.json",
		"revocation_endpoint":                            api + "/oauth2/revoke",
		"introspection_endpoint":                         api + "/oauth2/introspect",
		"end_session_endpoint":                           api + "/oauth2/end-session",
		"scopes_supported":                               oidc.Scopes,
		"response_types_supported":                       []string{"code"},
		"response_modes_supported":                       []string{"query"},
		"grant_types_supported":                          []string{oidc.GrantAuthorizationCode, oidc.GrantRefreshToken, oidc.GrantClientCredentials},
		"subject_types_supported":                        []string{"public"},
		"id_token_signing_alg_values_supported":          keys.Supported,
		"token_endpoint_auth_methods_supported":          []string{"client_secret_basic", "client_secret_post", "none"},
		"code_challenge_methods_supported":               []string{"S256"},
		"claims_supported":                               []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "amr", "sid", "azp", "email", "email_verified", "name", "picture", "updated_at"},
		"prompt_values_supported":                        []string{"none", "login", "consent"},
		"authorization_response_iss_parameter_supported": true,
		"request_parameter_supported":                    false,
		"claims_parameter_supported":                     false,
	})
}

// authRedirect sends the browser back to the client (RFC 6749 §4.1.2,
// with iss per RFC 9207).
func (s *Server) authRedirect(w http.ResponseWriter, req *oidc.AuthRequest, kv ...string) {
	u, _ := url.Parse(req.RedirectURI)
	q := u.Query()
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	if req.State != "" {
		q.Set("state", req.State)
	}
	q.Set("iss", s.oidc.Issuer)
	u.RawQuery = q.Encode()
	redirect(w, u.String())
}

func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	req, page, rerr := s.oidc.ParseAuthorize(r.Context(), r.URL.Query())
	if page != nil {
		s.log.Info("authorize refused", "reason", page.Code, "detail", page.Description)
		s.errorPage(w, r, http.StatusBadRequest, web.M("error.authorize.heading"), web.M("error.authorize.text"), page.Description)
		return
	}
	if rerr != nil {
		s.authRedirect(w, req, "error", rerr.Code, "error_description", rerr.Description)
		return
	}
	c, err := s.current(w, r, false)
	q := r.URL.Query()
	var fresh bool
	if after, ok := s.loginAfter(q, s.auth.Clock.Now()); ok {
		// Back from the sign-in this very request asked for (prompt=login
		// or max_age): a session made after that satisfies them.
		fresh = err == nil && !c.Session.CreatedAt.Before(after)
	} else {
		fresh = err == nil && !req.HasPrompt("login") &&
			(req.MaxAge == nil || s.auth.Clock.Now().Sub(c.Session.CreatedAt) <= *req.MaxAge)
	}
	if !fresh {
		if req.HasPrompt("none") {
			s.authRedirect(w, req, "error", "login_required", "error_description", "the user must sign in")
			return
		}
		// Back to this request after signing in, with a marker saying "a
		// sign-in after now satisfies prompt=login and max_age here"
		// (max_age=0 would otherwise send the user round forever). The
		// marker is bound to this exact request and expires; prompt and
		// max_age stay in the URL, so removing or transplanting the marker
		// brings the sign-in back instead of skipping it.
		q.Del(loginAfterParam)
		q.Set(loginAfterParam, s.loginMarker(q, s.auth.Clock.Now()))
		back := "/api/auth/oauth2/authorize?" + q.Encode()
		target := "/sign-in?return=" + url.QueryEscape(back)
		if req.LoginHint != "" {
			target += "&login_hint=" + url.QueryEscape(req.LoginHint)
		}
		redirect(w, target)
		return
	}
	need, err := s.oidc.NeedsConsent(r.Context(), req, c.User.ID)
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	if need {
		if req.HasPrompt("none") {
			s.authRedirect(w, req, "error", "consent_required", "error_description", "the user has not approved this client")
			return
		}
		q.Del("prompt")
		q.Del("max_age") // the session was already checked against it
		q.Del(loginAfterParam)
		s.consentPage(w, r, req, c, q.Encode())
		return
	}
	code, err := s.oidc.IssueCode(r.Context(), req, &c.User, &c.Session)
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	s.log.Info("authorization code issued", "client_id", req.Client.ID, "user_id", c.User.ID)
	s.authRedirect(w, req, "code", code)
}

// loginAfterParam carries, through the sign-in round trip, the time after
// which the user must have signed in.
const loginAfterParam = "auther_login_after"

// loginMarkerLife bounds how long a sign-in round trip may take.
const loginMarkerLife = time.Hour

// loginMAC binds a marker's time to the whole request it was made for
// (every parameter but the marker, in url.Values' sorted encoding; the
// authorize parser refuses repeated parameters, so it is canonical).
func (s *Server) loginMAC(q url.Values, ms string) string {
	rest := url.Values{}
	for k, v := range q {
		if k != loginAfterParam {
			rest[k] = v
		}
	}
	m := hmac.New(sha256.New, []byte(s.secret))
	m.Write([]byte("login-after\x00" + ms + "\x00" + rest.Encode()))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// loginMarker is "<unix ms>.<mac>" for request q at t.
func (s *Server) loginMarker(q url.Values, t time.Time) string {
	ms := strconv.FormatInt(t.UnixMilli(), 10)
	return ms + "." + s.loginMAC(q, ms)
}

// loginAfter checks q's marker: made for exactly this request, and not
// older than loginMarkerLife. Anything else is ignored, and the request is
// judged by its own prompt and max_age.
func (s *Server) loginAfter(q url.Values, now time.Time) (time.Time, bool) {
	ms, mac, ok := strings.Cut(q.Get(loginAfterParam), ".")
	if !ok || !hmac.Equal([]byte(mac), []byte(s.loginMAC(q, ms))) {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	t := time.UnixMilli(n)
	if now.Sub(t) > loginMarkerLife {
		return time.Time{}, false
	}
	return t, true
}

// consentToken binds a consent form to the session and the request, so a
// forged form cannot approve a client (CSRF).
func (s *Server) consentToken(sessionID, request string) string {
	m := hmac.New(sha256.New, []byte(s.secret))
	m.Write([]byte("consent\x00" + sessionID + "\x00" + request))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *Server) consent(w http.ResponseWriter, r *http.Request) {
	// A browser posts this form: every answer is a page or a redirect.
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		s.errorPage(w, r, http.StatusMethodNotAllowed, web.M("error.method.heading"), web.M("error.method.text"), "")
		return
	}
	if !s.pageForm(w, r) {
		return
	}
	request := r.PostForm.Get("request")
	c, err := s.current(w, r, false)
	if errors.Is(err, auth.ErrNoSession) {
		// Signed out meanwhile: sign in again, then back to the request.
		seeOther(w, "/sign-in?return="+url.QueryEscape(pageReturn(authorizePath+"?"+request)))
		return
	}
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	if !hmac.Equal([]byte(r.PostForm.Get("csrf")), []byte(s.consentToken(c.Session.ID, request))) {
		s.errorPage(w, r, http.StatusForbidden, web.M("error.csrf.heading"), web.M("error.consent_expired.text"), "")
		return
	}
	q, _ := url.ParseQuery(request)
	req, page, rerr := s.oidc.ParseAuthorize(r.Context(), q)
	if page != nil || rerr != nil {
		s.errorPage(w, r, http.StatusBadRequest, web.M("error.consent_invalid.heading"), web.M("error.authorize.text"), "")
		return
	}
	if r.PostForm.Get("decision") != "approve" {
		s.log.Info("consent denied", "client_id", req.Client.ID, "user_id", c.User.ID)
		s.authRedirect(w, req, "error", "access_denied", "error_description", "the user denied the request")
		return
	}
	if err := s.oidc.SaveConsent(r.Context(), req.Client.ID, c.User.ID, req.Scopes); err != nil {
		s.pageFail(w, r, err)
		return
	}
	redirect(w, "/api/auth/oauth2/authorize?"+request)
}

// clientAuth reads client credentials: HTTP Basic (RFC 6749 §2.3.1, form-
// encoded id and secret) or client_id/client_secret in the body.
func clientAuth(r *http.Request) (oidc.ClientAuth, bool) {
	if id, secret, ok := r.BasicAuth(); ok {
		id, err1 := url.QueryUnescape(id)
		secret, err2 := url.QueryUnescape(secret)
		if err1 != nil || err2 != nil || r.PostForm.Get("client_secret") != "" {
			return oidc.ClientAuth{}, false
		}
		return oidc.ClientAuth{ID: id, Secret: secret, Method: "client_secret_basic"}, true
	}
	a := oidc.ClientAuth{ID: r.PostForm.Get("client_id"), Secret: r.PostForm.Get("client_secret"), Method: "client_secret_post"}
	if a.Secret == "" {
		a.Method = "none"
	}
	return a, true
}

func oauthError(w http.ResponseWriter, e *oidc.Error) {
	status := http.StatusBadRequest
	if e.Code == "invalid_client" {
		status = http.StatusUnauthorized
		w.Header().Set("WWW-Authenticate", `Basic realm="auther"`)
	}
	if e.Code == "server_error" {
		status = http.StatusInternalServerError
		e = &oidc.Error{Code: "server_error", Description: "internal error"}
	}
	writeJSON(w, status, map[string]string{"error": e.Code, "error_description": e.Description})
}

// oauthForm parses an application/x-www-form-urlencoded POST.
func oauthForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		oauthError(w, &oidc.Error{Code: "invalid_request", Description: "use application/x-www-form-urlencoded"})
		return false
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, &oidc.Error{Code: "invalid_request", Description: "malformed form body"})
		return false
	}
	for k, v := range r.PostForm {
		if len(v) > 1 {
			oauthError(w, &oidc.Error{Code: "invalid_request", Description: "parameter " + k + " appears more than once"})
			return false
		}
	}
	return true
}

func (s *Server) authenticateClient(w http.ResponseWriter, r *http.Request, endpoint string) (*store.Client, bool) {
	a, ok := clientAuth(r)
	if !ok {
		oauthError(w, &oidc.Error{Code: "invalid_client", Description: "malformed client credentials"})
		return nil, false
	}
	c, e := s.oidc.AuthenticateClient(r.Context(), endpoint, a)
	if e != nil {
		oauthError(w, e)
		return nil, false
	}
	return c, true
}

func (s *Server) tokenEndpoint(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Pragma", "no-cache")
	if !oauthForm(w, r) {
		return
	}
	c, ok := s.authenticateClient(w, r, "token")
	if !ok {
		return
	}
	f := r.PostForm
	var resp *oidc.TokenResponse
	var e *oidc.Error
	switch f.Get("grant_type") {
	case oidc.GrantAuthorizationCode:
		resp, e = s.oidc.ExchangeCode(r.Context(), c, f.Get("code"), f.Get("redirect_uri"), f.Get("code_verifier"))
	case oidc.GrantRefreshToken:
		resp, e = s.oidc.Refresh(r.Context(), c, f.Get("refresh_token"), f.Get("scope"))
	case oidc.GrantClientCredentials:
		resp, e = s.oidc.ClientCredentials(c, f.Get("scope"))
	case "":
		e = &oidc.Error{Code: "invalid_request", Description: "grant_type is missing"}
	default:
		e = &oidc.Error{Code: "unsupported_grant_type", Description: "unsupported grant_type"}
	}
	if e != nil {
		s.log.Info("token refused", "client_id", c.ID, "grant_type", f.Get("grant_type"), "reason", e.Code, "detail", e.Description)
		oauthError(w, e)
		return
	}
	writeJSON(w, 200, resp)
}

func bearer(r *http.Request) string {
	if b, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return strings.TrimSpace(b)
	}
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(nil, r.Body, maxBody)
		if r.ParseForm() == nil {
			return r.PostForm.Get("access_token")
		}
	}
	return ""
}

func (s *Server) userinfo(w http.ResponseWriter, r *http.Request) {
	tok := bearer(r)
	claims, err := s.oidc.Userinfo(r.Context(), tok)
	if err != nil {
		if tok == "" {
			// RFC 6750 §3.1: no error code when no credentials were sent.
			w.Header().Set("WWW-Authenticate", `Bearer realm="auther"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_request", "error_description": "an access token is required"})
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": "the access token is not valid"})
		return
	}
	writeJSON(w, 200, claims)
}

func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	if !oauthForm(w, r) {
		return
	}
	c, ok := s.authenticateClient(w, r, "revoke")
	if !ok {
		return
	}
	s.oidc.Revoke(r.Context(), c, r.PostForm.Get("token"))
	w.WriteHeader(http.StatusOK)
}

func (s *Server) introspect(w http.ResponseWriter, r *http.Request) {
	if !oauthForm(w, r) {
		return
	}
	c, ok := s.authenticateClient(w, r, "introspect")
	if !ok {
		return
	}
	writeJSON(w, 200, s.oidc.Introspect(r.Context(), c, r.PostForm.Get("token")))
}

// endSession is RP-initiated logout. With a valid id_token_hint for the
// current session it ends the Auther session, revokes that client's tokens
// from it, and returns to an exactly registered post-logout URI. Without a
// hint (or for another session) it asks the user first, with a form bound to
// the session, so that no other site can sign a user out by embedding the
// URL.
func (s *Server) endSession(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		r.ParseForm()
		q = r.Form
	}
	clientID, _, sid, hinted := s.oidc.IDTokenHint(q.Get("id_token_hint"))
	if q.Get("id_token_hint") != "" && !hinted {
		s.errorPage(w, r, http.StatusBadRequest, web.M("error.logout.heading"), web.M("error.logout.text"), "id_token_hint was not issued here")
		return
	}
	if cid := q.Get("client_id"); cid != "" {
		if hinted && cid != clientID {
			s.errorPage(w, r, http.StatusBadRequest, web.M("error.logout.heading"), web.M("error.logout.text"), "client_id does not match the id_token_hint")
			return
		}
		clientID = cid
	}
	target := ""
	if pl := q.Get("post_logout_redirect_uri"); pl != "" {
		cl, err := s.store.GetClient(r.Context(), clientID)
		if err != nil || !oidc.MatchRedirect(cl.PostLogoutRedirectURIs, pl) {
			s.errorPage(w, r, http.StatusBadRequest, web.M("error.logout.heading"), web.M("error.logout.text"), "post_logout_redirect_uri is not registered")
			return
		}
		target = pl
		if st := q.Get("state"); st != "" {
			target = withQuery(pl, "state", st)
		}
	}
	done := func() {
		if target != "" {
			redirect(w, target)
			return
		}
		s.messagePage(w, r, http.StatusOK, web.M("signout.done.heading"), web.M("signout.done.text"), "", nil)
	}
	c, err := s.current(w, r, false)
	if err != nil {
		done() // no Auther session: nothing to end
		return
	}
	confirmed := r.Method == http.MethodPost && q.Get("confirm") != "" &&
		hmac.Equal([]byte(q.Get("csrf")), []byte(s.consentToken(c.Session.ID, "logout")))
	matched := hinted && (sid == "" || sid == c.Session.ID)
	if !matched && !confirmed {
		if q.Get("client_id") == "" && clientID != "" {
			q.Set("client_id", clientID) // named by the hint; the form must carry it to match the redirect URI
		}
		s.logoutConfirmPage(w, r, c, q, s.consentToken(c.Session.ID, "logout"), target)
		return
	}
	// The user confirming signs out everything done under this session;
	// a relying party's hint alone ends the session and that client's
	// grants, not other apps' (their offline access stays theirs).
	end := s.auth.SignOut
	if !confirmed {
		end = func(ctx context.Context, c *auth.Current) error { return s.auth.SignOutClient(ctx, c, clientID) }
	}
	if err := end(r.Context(), c); err != nil {
		s.pageFail(w, r, err)
		return
	}
	s.cookies.clear(w)
	s.log.Info("signed out by relying party", "client_id", clientID, "user_id", c.User.ID, "confirmed", confirmed)
	done()
}

// listConsents shows the signed-in user which clients they approved.
func (s *Server) listConsents(w http.ResponseWriter, r *http.Request, c *auth.Current) {
	list, err := s.store.ListConsents(r.Context(), c.User.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]map[string]any, 0, len(list))
	for _, cn := range list {
		out = append(out, map[string]any{"id": cn.ID, "clientId": cn.ClientID, "userId": cn.UserID, "scopes": cn.Scopes,
			"createdAt": isoTime(cn.CreatedAt), "updatedAt": isoTime(cn.UpdatedAt)})
	}
	writeJSON(w, 200, out)
}

// deleteConsent withdraws the user's consent to a client: the next
// authorization asks again. Tokens already issued stay until they expire or
// are revoked.
func (s *Server) deleteConsent(w http.ResponseWriter, r *http.Request, c *auth.Current) {
	var req struct {
		ClientID *string `json:"clientId"`
	}
	if e := decode(r, &req); e != nil {
		writeError(w, e)
		return
	}
	if req.ClientID == nil {
		writeError(w, required("clientId"))
		return
	}
	if err := s.store.DeleteConsent(r.Context(), *req.ClientID, c.User.ID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			writeError(w, errorf(http.StatusNotFound, "CONSENT_NOT_FOUND", "No consent for that client"))
			return
		}
		s.fail(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]bool{"status": true})
}
