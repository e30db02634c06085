package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/auther/auther/internal/auth"
)

// fail writes a domain or internal error.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ae *auth.Error
	if errors.As(err, &ae) {
		st := statusOf(ae.Code)
		if st == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "1")
		}
		writeError(w, errorf(st, ae.Code, ae.Message))
		return
	}
	if errors.Is(err, context.Canceled) {
		// The client went away; nobody reads this.
		writeError(w, errorf(http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE", "Request cancelled"))
		return
	}
	s.log.Error("internal error", "route", r.Pattern, "err", err)
	writeError(w, errorf(http.StatusInternalServerError, "INTERNAL_SERVER_ERROR", "Internal server error"))
}

func statusOf(code string) int {
	switch code {
	case "INVALID_EMAIL_OR_PASSWORD", "UNAUTHORIZED":
		return http.StatusUnauthorized
	case "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL":
		return http.StatusUnprocessableEntity
	case "SIGNUP_SECRET_REQUIRED", "SESSION_NOT_FRESH", "EMAIL_NOT_VERIFIED", "TOO_MANY_ATTEMPTS", "NEW_USER_SIGNUP_DISABLED":
		return http.StatusForbidden
	case "TOKEN_EXPIRED":
		return http.StatusUnauthorized
	case "USER_NOT_FOUND", "NOT_FOUND":
		return http.StatusNotFound
	case "SERVICE_UNAVAILABLE":
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}

func meta(r *http.Request) auth.Meta {
	return auth.Meta{IP: ipFrom(r), UserAgent: r.UserAgent()}
}

// issue sets the session cookie for a new or extended session.
func (s *Server) issue(w http.ResponseWriter, token string, remember bool) {
	s.cookies.setSession(w, s.signer.Sign(token), s.auth.Policy.ExpiresIn, remember, s.signer.Sign("true"))
	w.Header().Set("set-auth-token", token)
}

func boolOr(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}

type signUpReq struct {
	Name        *string `json:"name"`
	Email       *string `json:"email"`
	Password    *string `json:"password"`
	Image       *string `json:"image"`
	CallbackURL string  `json:"callbackURL"`
	RememberMe  *bool   `json:"rememberMe"`
}

func (s *Server) signUpEmail(w http.ResponseWriter, r *http.Request) {
	var req signUpReq
	if e := decode(r, &req); e != nil {
		writeError(w, e)
		return
	}
	if missing(w, field{"name", req.Name}, field{"email", req.Email}, field{"password", req.Password}) || s.badCallback(w, req.CallbackURL) {
		return
	}
	remember := boolOr(req.RememberMe, true)
	u, iss, err := s.auth.SignUp(r.Context(), auth.SignUpInput{
		Name: *req.Name, Email: *req.Email, Password: *req.Password, Image: req.Image,
		RememberMe: remember, Secret: r.Header.Get("x-internal-signup-secret"), CallbackURL: req.CallbackURL,
	}, meta(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if iss == nil {
		// Verification required: no session until the address is proven.
		writeJSON(w, 200, map[string]any{"token": nil, "user": toUser(u)})
		return
	}
	s.log.Info("user signed up", "user_id", u.ID, "ip", ipFrom(r))
	s.issue(w, iss.Token, remember)
	writeJSON(w, 200, map[string]any{"token": iss.Token, "user": toUser(u)})
}

type signInReq struct {
	Email       *string `json:"email"`
	Password    *string `json:"password"`
	CallbackURL string  `json:"callbackURL"`
	RememberMe  *bool   `json:"rememberMe"`
}

func (s *Server) signInEmail(w http.ResponseWriter, r *http.Request) {
	var req signInReq
	if e := decode(r, &req); e != nil {
		writeError(w, e)
		return
	}
	if missing(w, field{"email", req.Email}, field{"password", req.Password}) || s.badCallback(w, req.CallbackURL) {
		return
	}
	remember := boolOr(req.RememberMe, true)
	// A refusal for an unverified address mails the link again; it ends at
	// the app's callbackURL (already checked against the trusted origins).
	u, iss, err := s.auth.SignInVerifyingTo(r.Context(), *req.Email, *req.Password, remember, meta(r), req.CallbackURL)
	if err != nil {
		if errors.Is(err, auth.ErrInvalidCredentials) {
			s.log.Info("sign-in failed", "ip", ipFrom(r))
		}
		s.fail(w, r, err)
		return
	}
	s.log.Info("user signed in", "user_id", u.ID, "session_id", iss.Session.ID, "ip", ipFrom(r))
	s.issue(w, iss.Token, remember)
	resp := map[string]any{"redirect": false, "token": iss.Token, "user": toUser(u)}
	if req.CallbackURL != "" {
		resp["redirect"], resp["url"] = true, req.CallbackURL
		w.Header().Set("Location", req.CallbackURL)
	}
	writeJSON(w, 200, resp)
}

// token returns the session token a request presents: the signed cookie, or
// an Authorization Bearer token (raw, or signed like the cookie).
func (s *Server) token(r *http.Request) (tok string, fromCookie bool) {
	if v := read(r, s.cookies.sessionName); v != "" {
		t, ok := s.signer.Verify(v)
		if !ok {
			return "", true
		}
		return t, true
	}
	if b, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		b = strings.TrimSpace(b)
		if strings.Contains(b, ".") {
			t, ok := s.signer.Verify(b)
			if !ok {
				return "", false
			}
			return t, false
		}
		return b, false
	}
	return "", false
}

// current authenticates the request, extending the session when due, and
// re-issues or clears the cookie accordingly.
func (s *Server) current(w http.ResponseWriter, r *http.Request, refresh bool) (*auth.Current, error) {
	tok, fromCookie := s.token(r)
	dontRemember := false
	if v := read(r, s.cookies.dontRemember); v != "" {
		t, ok := s.signer.Verify(v)
		dontRemember = ok && t == "true"
	}
	c, err := s.auth.Authenticate(r.Context(), tok, refresh && !dontRemember)
	if err != nil {
		if errors.Is(err, auth.ErrNoSession) && fromCookie {
			s.cookies.clear(w)
		}
		return nil, err
	}
	if c.Refreshed && fromCookie {
		s.issue(w, c.Token, true)
	}
	return c, nil
}

type sessionHandler func(w http.ResponseWriter, r *http.Request, c *auth.Current)

// withSession requires a valid session (401 UNAUTHORIZED otherwise).
func (s *Server) withSession(h sessionHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := s.current(w, r, false)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		h(w, r, c)
	}
}

func (s *Server) getSession(w http.ResponseWriter, r *http.Request) {
	refresh := r.URL.Query().Get("disableRefresh") != "true"
	c, err := s.current(w, r, refresh)
	if errors.Is(err, auth.ErrNoSession) {
		writeJSON(w, 200, nil)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, 200, sessionResponse{toSession(&c.Session, c.Token), toUser(&c.User)})
}

func (s *Server) signOut(w http.ResponseWriter, r *http.Request, c *auth.Current) {
	if err := s.auth.SignOut(r.Context(), c); err != nil {
		s.fail(w, r, err)
		return
	}
	s.cookies.clear(w)
	writeJSON(w, 200, map[string]bool{"success": true})
}

func (s *Server) listSessions(w http.ResponseWriter, r *http.Request, c *auth.Current) {
	if err := s.auth.RequireFresh(c); err != nil {
		s.fail(w, r, err)
		return
	}
	list, err := s.auth.ListSessions(r.Context(), c)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]sessionJSON, 0, len(list))
	for i := range list {
		tok := list[i].TokenHash
		if list[i].ID == c.Session.ID {
			tok = c.Token
		}
		out = append(out, toSession(&list[i], tok))
	}
	writeJSON(w, 200, out)
}

func (s *Server) revokeSession(w http.ResponseWriter, r *http.Request, c *auth.Current) {
	var req struct {
		Token *string `json:"token"`
	}
	if e := decode(r, &req); e != nil {
		writeError(w, e)
		return
	}
	if req.Token == nil || *req.Token == "" {
		writeError(w, required("token"))
		return
	}
	if err := s.auth.RevokeSession(r.Context(), c, *req.Token); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]bool{"status": true})
}

func (s *Server) revokeSessions(w http.ResponseWriter, r *http.Request, c *auth.Current) {
	if err := s.auth.RevokeSessions(r.Context(), c); err != nil {
		s.fail(w, r, err)
		return
	}
	s.cookies.clear(w)
	writeJSON(w, 200, map[string]bool{"status": true})
}

func (s *Server) revokeOtherSessions(w http.ResponseWriter, r *http.Request, c *auth.Current) {
	if err := s.auth.RevokeOtherSessions(r.Context(), c); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]bool{"status": true})
}

// optionalString distinguishes an absent field from null and from a value.
type optionalString struct {
	Set   bool
	Value *string
}

func (o *optionalString) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Value = nil
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	o.Value = &s
	return nil
}

func (s *Server) updateUser(w http.ResponseWriter, r *http.Request, c *auth.Current) {
	var req struct {
		Name          *string         `json:"name"`
		Image         optionalString  `json:"image"`
		Email         *optionalString `json:"email"`
		EmailVerified any             `json:"emailVerified"`
		ID            any             `json:"id"`
		CreatedAt     any             `json:"createdAt"`
		UpdatedAt     any             `json:"updatedAt"`
	}
	if e := decode(r, &req); e != nil {
		writeError(w, e)
		return
	}
	if req.Email != nil {
		s.fail(w, r, auth.ErrEmailCannotBeUpdate)
		return
	}
	if req.EmailVerified != nil || req.ID != nil || req.CreatedAt != nil || req.UpdatedAt != nil {
		writeError(w, errorf(http.StatusBadRequest, "FIELD_NOT_ALLOWED", "Only name and image can be updated here"))
		return
	}
	if req.Name == nil && !req.Image.Set {
		writeError(w, errorf(http.StatusBadRequest, "VALIDATION_ERROR", "No fields to update"))
		return
	}
	if _, err := s.auth.UpdateUser(r.Context(), c, auth.ProfileUpdate{Name: req.Name, SetImage: req.Image.Set, Image: req.Image.Value}); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]bool{"status": true})
}

func (s *Server) changePassword(w http.ResponseWriter, r *http.Request, c *auth.Current) {
	var req struct {
		NewPassword         *string `json:"newPassword"`
		CurrentPassword     *string `json:"currentPassword"`
		RevokeOtherSessions bool    `json:"revokeOtherSessions"`
	}
	if e := decode(r, &req); e != nil {
		writeError(w, e)
		return
	}
	if missing(w, field{"newPassword", req.NewPassword}, field{"currentPassword", req.CurrentPassword}) {
		return
	}
	iss, err := s.auth.ChangePassword(r.Context(), c, *req.CurrentPassword, *req.NewPassword, req.RevokeOtherSessions, meta(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("password changed", "user_id", c.User.ID, "revoked_other_sessions", req.RevokeOtherSessions)
	var tok any
	if iss != nil {
		s.issue(w, iss.Token, true)
		tok = iss.Token
	}
	writeJSON(w, 200, map[string]any{"token": tok, "user": toUser(&c.User)})
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request, c *auth.Current) {
	var req struct {
		Password    *string `json:"password"`
		CallbackURL string  `json:"callbackURL"`
	}
	if e := decode(r, &req); e != nil {
		writeError(w, e)
		return
	}
	if s.badCallback(w, req.CallbackURL) {
		return
	}
	if err := s.auth.DeleteUser(r.Context(), c, req.Password); err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("user deleted", "user_id", c.User.ID)
	s.cookies.clear(w)
	writeJSON(w, 200, map[string]any{"success": true, "message": "User deleted"})
}
