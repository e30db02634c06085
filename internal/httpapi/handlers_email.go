package httpapi

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/auther/auther/internal/auth"
)

// answerFloor pads the answers of endpoints that must not reveal whether an
// address has an account (reset, magic link, codes): whatever work was done,
// the response leaves no earlier than this after the request arrived.
const answerFloor = 300 * time.Millisecond

func padUntil(start time.Time, d time.Duration) {
	if rest := d - time.Since(start); rest > 0 {
		time.Sleep(rest)
	}
}

// withQuery adds key=value to a callback URL, keeping its own query.
func withQuery(raw string, kv ...string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// noSideEffectsForHEAD answers HEAD on link endpoints without using the
// token: mail scanners and link previews send HEAD, and must not spend a
// one-time link or receive its session.
func noSideEffectsForHEAD(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodHead {
		return false
	}
	w.WriteHeader(http.StatusOK)
	return true
}

func redirect(w http.ResponseWriter, to string) {
	w.Header().Set("Location", to)
	w.WriteHeader(http.StatusFound)
}

func errCode(err error) string {
	var ae *auth.Error
	if errors.As(err, &ae) {
		return ae.Code
	}
	return "INTERNAL_SERVER_ERROR"
}

// badCallback answers 403 when any of the named URL parameters is not a
// safe callback.
func (s *Server) badCallback(w http.ResponseWriter, urls ...string) bool {
	for _, u := range urls {
		if !s.safeCallback(u) {
			writeError(w, errorf(http.StatusForbidden, "INVALID_CALLBACK_URL", "Invalid callbackURL"))
			return true
		}
	}
	return false
}

// optionalSession returns the request's session or nil, never failing.
func (s *Server) optionalSession(w http.ResponseWriter, r *http.Request) *auth.Current {
	c, err := s.current(w, r, false)
	if err != nil {
		return nil
	}
	return c
}

type emailReq struct {
	Email       *string `json:"email"`
	CallbackURL string  `json:"callbackURL"`
	RedirectTo  string  `json:"redirectTo"`
}

func (s *Server) sendVerificationEmail(w http.ResponseWriter, r *http.Request) {
	var req emailReq
	if e := decode(r, &req); e != nil {
		writeError(w, e)
		return
	}
	if missing(w, field{"email", req.Email}) {
		return
	}
	if s.badCallback(w, req.CallbackURL) {
		return
	}
	start := time.Now()
	c := s.optionalSession(w, r)
	err := s.auth.SendVerificationEmail(r.Context(), *req.Email, req.CallbackURL, c)
	if c == nil {
		padUntil(start, answerFloor)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]bool{"status": true})
}

// verifyEmail follows a verification (or change-of-email) link.
func (s *Server) verifyEmail(w http.ResponseWriter, r *http.Request) {
	if noSideEffectsForHEAD(w, r) {
		return
	}
	q := r.URL.Query()
	cb := q.Get("callbackURL")
	if s.badCallback(w, cb) {
		return
	}
	res, err := s.auth.VerifyEmail(r.Context(), q.Get("token"), meta(r))
	if err != nil {
		if cb != "" {
			redirect(w, withQuery(cb, "error", errCode(err)))
			return
		}
		if errors.Is(err, auth.ErrInvalidToken) {
			writeError(w, errorf(http.StatusUnauthorized, "INVALID_TOKEN", "Invalid token"))
			return
		}
		s.fail(w, r, err)
		return
	}
	if res.Issued != nil {
		s.issue(w, res.Issued.Token, true)
	}
	s.log.Info("email verified", "user_id", res.User.ID, "pending_change", res.Pending)
	if cb != "" {
		redirect(w, cb)
		return
	}
	var user any
	if res.Issued != nil || res.Pending == false {
		user = toUser(res.User)
	}
	writeJSON(w, 200, map[string]any{"status": true, "user": user})
}

func (s *Server) requestPasswordReset(w http.ResponseWriter, r *http.Request) {
	var req emailReq
	if e := decode(r, &req); e != nil {
		writeError(w, e)
		return
	}
	if missing(w, field{"email", req.Email}) {
		return
	}
	if s.badCallback(w, req.RedirectTo) {
		return
	}
	start := time.Now()
	err := s.auth.RequestPasswordReset(r.Context(), *req.Email, req.RedirectTo)
	padUntil(start, answerFloor)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]any{"status": true, "message": "If this email exists in our system, check your email for the reset link"})
}

// resetPasswordLink is where the emailed link lands: it checks the token
// without using it and sends the browser to the app's reset form.
func (s *Server) resetPasswordLink(w http.ResponseWriter, r *http.Request) {
	cb := r.URL.Query().Get("callbackURL")
	if cb == "" {
		writeError(w, errorf(http.StatusBadRequest, "CALLBACK_URL_REQUIRED", "callbackURL is required"))
		return
	}
	if s.badCallback(w, cb) {
		return
	}
	tok := r.PathValue("token")
	if err := s.auth.CheckResetToken(r.Context(), tok); err != nil {
		redirect(w, withQuery(cb, "error", "INVALID_TOKEN"))
		return
	}
	redirect(w, withQuery(cb, "token", tok))
}

func (s *Server) resetPassword(w http.ResponseWriter, r *http.Request) {
	var req struct {
		NewPassword *string `json:"newPassword"`
		Token       string  `json:"token"`
	}
	if e := decode(r, &req); e != nil {
		writeError(w, e)
		return
	}
	if req.Token == "" {
		req.Token = r.URL.Query().Get("token")
	}
	if missing(w, field{"newPassword", req.NewPassword}) {
		return
	}
	if err := s.auth.ResetPassword(r.Context(), req.Token, *req.NewPassword); err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("password reset")
	writeJSON(w, 200, map[string]bool{"status": true})
}

func (s *Server) signInMagicLink(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Email              *string `json:"email"`
		Name               string  `json:"name"`
		CallbackURL        string  `json:"callbackURL"`
		NewUserCallbackURL string  `json:"newUserCallbackURL"`
		ErrorCallbackURL   string  `json:"errorCallbackURL"`
	}
	if e := decode(r, &req); e != nil {
		writeError(w, e)
		return
	}
	if missing(w, field{"email", req.Email}) {
		return
	}
	if s.badCallback(w, req.CallbackURL, req.NewUserCallbackURL, req.ErrorCallbackURL) {
		return
	}
	start := time.Now()
	err := s.auth.SendMagicLink(r.Context(), *req.Email, req.Name, auth.MagicLinkURLs{
		Callback: req.CallbackURL, NewUserCallback: req.NewUserCallbackURL, ErrorCallback: req.ErrorCallbackURL})
	padUntil(start, answerFloor)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]bool{"status": true})
}

func (s *Server) verifyMagicLink(w http.ResponseWriter, r *http.Request) {
	if noSideEffectsForHEAD(w, r) {
		return
	}
	q := r.URL.Query()
	cb, newCB, errCB := q.Get("callbackURL"), q.Get("newUserCallbackURL"), q.Get("errorCallbackURL")
	if s.badCallback(w, cb, newCB, errCB) {
		return
	}
	res, err := s.auth.VerifyMagicLink(r.Context(), q.Get("token"), meta(r))
	if err != nil {
		if to := firstNonEmpty(errCB, cb); to != "" {
			code := errCode(err)
			if errors.Is(err, auth.ErrNewUserSignupDisabled) {
				code = "new_user_signup_disabled" // Better Auth's redirect code
			}
			redirect(w, withQuery(to, "error", code))
			return
		}
		s.fail(w, r, err)
		return
	}
	s.issue(w, res.Issued.Token, true)
	s.log.Info("user signed in", "method", "magic-link", "user_id", res.User.ID, "new_user", res.NewUser)
	if to := cb; to != "" {
		if res.NewUser && newCB != "" {
			to = newCB
		}
		redirect(w, to)
		return
	}
	writeJSON(w, 200, map[string]any{"token": res.Issued.Token, "user": toUser(res.User), "session": toSession(&res.Issued.Session, res.Issued.Token)})
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

type otpReq struct {
	Email    *string `json:"email"`
	Type     string  `json:"type"`
	OTP      *string `json:"otp"`
	Name     string  `json:"name"`
	Password *string `json:"password"`
}

func (s *Server) decodeOTP(w http.ResponseWriter, r *http.Request, needOTP bool) (*otpReq, bool) {
	var req otpReq
	if e := decode(r, &req); e != nil {
		writeError(w, e)
		return nil, false
	}
	if missing(w, field{"email", req.Email}) || needOTP && missing(w, field{"otp", req.OTP}) {
		return nil, false
	}
	return &req, true
}

func (s *Server) sendOTP(w http.ResponseWriter, r *http.Request) {
	req, ok := s.decodeOTP(w, r, false)
	if !ok {
		return
	}
	typ := req.Type
	if strings.HasSuffix(r.URL.Path, "/request-password-reset") || strings.HasSuffix(r.URL.Path, "/forget-password/email-otp") {
		typ = auth.OTPForgetPassword
	}
	start := time.Now()
	err := s.auth.SendOTP(r.Context(), *req.Email, typ)
	padUntil(start, answerFloor)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]bool{"success": true})
}

func (s *Server) checkOTP(w http.ResponseWriter, r *http.Request) {
	req, ok := s.decodeOTP(w, r, true)
	if !ok {
		return
	}
	if err := s.auth.CheckOTP(r.Context(), *req.Email, req.Type, *req.OTP); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]bool{"success": true})
}

func (s *Server) signInOTP(w http.ResponseWriter, r *http.Request) {
	req, ok := s.decodeOTP(w, r, true)
	if !ok {
		return
	}
	res, err := s.auth.SignInOTP(r.Context(), *req.Email, *req.OTP, req.Name, meta(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.issue(w, res.Issued.Token, true)
	s.log.Info("user signed in", "method", "email-otp", "user_id", res.User.ID, "new_user", res.NewUser)
	writeJSON(w, 200, map[string]any{"token": res.Issued.Token, "user": toUser(res.User)})
}

func (s *Server) verifyEmailOTP(w http.ResponseWriter, r *http.Request) {
	req, ok := s.decodeOTP(w, r, true)
	if !ok {
		return
	}
	res, err := s.auth.VerifyEmailOTP(r.Context(), *req.Email, *req.OTP, meta(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var tok any
	if res.Issued != nil {
		s.issue(w, res.Issued.Token, true)
		tok = res.Issued.Token
	}
	writeJSON(w, 200, map[string]any{"status": true, "token": tok, "user": toUser(res.User)})
}

func (s *Server) resetPasswordOTP(w http.ResponseWriter, r *http.Request) {
	req, ok := s.decodeOTP(w, r, true)
	if !ok {
		return
	}
	if missing(w, field{"password", req.Password}) {
		return
	}
	if err := s.auth.ResetPasswordOTP(r.Context(), *req.Email, *req.OTP, *req.Password); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]bool{"success": true})
}

func (s *Server) changeEmail(w http.ResponseWriter, r *http.Request, c *auth.Current) {
	var req struct {
		NewEmail    *string `json:"newEmail"`
		CallbackURL string  `json:"callbackURL"`
	}
	if e := decode(r, &req); e != nil {
		writeError(w, e)
		return
	}
	if missing(w, field{"newEmail", req.NewEmail}) {
		return
	}
	if s.badCallback(w, req.CallbackURL) {
		return
	}
	if err := s.auth.ChangeEmail(r.Context(), c, *req.NewEmail, req.CallbackURL); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]bool{"status": true})
}
