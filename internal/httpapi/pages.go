package httpapi

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/auther/auther/internal/auth"
	"github.com/auther/auther/internal/oidc"
	"github.com/auther/auther/internal/verification"
	"github.com/auther/auther/internal/web"
)

// The hosted pages: sign-in, sign-up, password reset, verification results,
// sign-out and the account page, server-rendered at the site root by
// internal/web. Handlers are thin, like the JSON ones: they read the form,
// call the auth service and render or redirect (303 after a successful
// POST). Every form carries a CSRF token; pageGuards (middleware.go) adds
// the Origin check and rate limits to their POSTs.

const authorizePath = "/api/auth/oauth2/authorize"

func (s *Server) initPages(o Options) error {
	r, err := web.New(o.Brand)
	if err != nil {
		return err
	}
	s.web = r
	// __Host- pins the cookie to this host and path /, so a sibling
	// subdomain cannot plant one (browsers accept the prefix only on
	// Secure cookies, hence not in plain-http development).
	s.csrfCookie = o.CookiePrefix + ".csrf"
	if s.cookies.secure {
		s.csrfCookie = "__Host-" + s.csrfCookie
	}
	return nil
}

func (s *Server) pageRoutes(mux *http.ServeMux) {
	mux.Handle("/assets/", s.web.Assets())
	mux.HandleFunc("/sign-in", s.pageSignIn)
	mux.HandleFunc("/sign-up", s.pageSignUp)
	mux.HandleFunc("/forgot-password", s.pageForgot)
	mux.HandleFunc("/reset-password", s.pageReset)
	mux.HandleFunc("/verify-email", s.pageVerifyEmail)
	mux.HandleFunc("/check-inbox", s.pageCheckInbox)
	mux.HandleFunc("/sign-out", s.pageSignOut)
	mux.HandleFunc("/account", s.pageAccount)
	mux.HandleFunc("/", s.unmatched(mux)) // anything no other route serves
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		if !s.pageMethod(w, r, false) {
			return
		}
		seeOther(w, "/account")
	})
}

// isPage tells pageGuards which paths are pages.
func isPage(path string) bool {
	switch path {
	case "/", "/sign-in", "/sign-up", "/forgot-password", "/reset-password", "/verify-email", "/check-inbox", "/sign-out", "/account":
		return true
	}
	return false
}

// pageRateBucket names the rate-limit rule and counter of a page request.
// Form posts that guess passwords or send mail count under the very
// counters of their JSON endpoints (ratelimit.RuleFor), so a client cannot
// double its budget by using both; everything else shares one generous
// rule. The form must already be parsed (pageGuards does it).
func pageRateBucket(r *http.Request) string {
	if r.Method != http.MethodPost {
		return "/page"
	}
	f := r.PostForm
	switch r.URL.Path {
	case "/sign-in":
		switch f.Get("method") {
		case "otp":
			return "/email-otp/send-verification-otp"
		case "otp-verify":
			return "/sign-in/email-otp"
		case "magic-link":
			return "/sign-in/magic-link"
		}
		return "/sign-in/email"
	case "/sign-up":
		return "/sign-up/email"
	case "/forgot-password":
		return "/request-password-reset"
	case "/account":
		switch f.Get("intent") {
		case "password":
			return "/change-password"
		case "email":
			return "/change-email"
		}
	}
	return "/page" + r.URL.Path
}

// parsePageForm reads a page's form post once, before the rate limiter
// looks at it; the handler then finds it parsed. Only urlencoded forms of
// at most 1 MiB are read.
func parsePageForm(w http.ResponseWriter, r *http.Request) (status int, ok bool) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		return http.StatusUnsupportedMediaType, false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		return http.StatusBadRequest, false
	}
	return 0, true
}

// pageReturn validates where a page may send the browser when it is done:
// a path on this server (the authorization endpoint, or a page), never
// another origin, never protocol-relative, never a way to smuggle one
// (backslashes, control characters). Browsers resolve dot segments before
// they navigate, so "/account/../api/…" would land on the API: encoded dots,
// slashes and backslashes are refused, plain dot segments are resolved, and
// the checks apply to (and the answer is) the resolved path. Anything else
// is the account page.
func pageReturn(raw string) string {
	const fallback = "/account"
	if raw == "" || len(raw) > 8192 || !strings.HasPrefix(raw, "/") {
		return fallback
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] < 0x20 || raw[i] == 0x7f || raw[i] == '\\' {
			return fallback
		}
	}
	p, rest := raw, ""
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		p, rest = raw[:i], raw[i:]
	}
	lp := strings.ToLower(p)
	if strings.Contains(lp, "%2e") || strings.Contains(lp, "%2f") || strings.Contains(lp, "%5c") ||
		strings.Contains(lp, "%25") || strings.Contains(p, ";") {
		// Also no double encoding and no path parameters: a proxy that
		// decodes twice or cuts at ";" must not see a different path.
		return fallback
	}
	p = removeDotSegments(p)
	if strings.Contains(p, "//") {
		return fallback // protocol-relative, or a path the server would clean into another
	}
	cleaned := p + rest
	u, err := url.Parse(cleaned)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") ||
		strings.Contains(u.Path, "//") || strings.ContainsAny(u.Path, "\\\x00") {
		return fallback
	}
	if strings.HasPrefix(u.Path, "/api/") && u.Path != authorizePath {
		return fallback
	}
	switch u.Path {
	case "/sign-in", "/sign-up", "/sign-out":
		return fallback
	}
	return cleaned
}

// removeDotSegments resolves "." and ".." in an absolute path as a browser
// does before requesting it (RFC 3986 §5.2.4).
func removeDotSegments(p string) string {
	if !strings.Contains(p, ".") {
		return p
	}
	in := strings.Split(p[1:], "/")
	out := make([]string, 0, len(in))
	for i, seg := range in {
		last := i == len(in)-1
		switch seg {
		case ".":
			if last {
				out = append(out, "")
			}
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, seg)
		}
	}
	return "/" + strings.Join(out, "/")
}

// ---- rendering ----

func (s *Server) lang(r *http.Request) string { return s.web.Language(r.Header.Get("Accept-Language")) }

// page renders a page with the security headers. formTargets are origins
// besides this server that a form on the page may end up at (a client's
// redirect URI): CSP's form-action also governs the redirects that follow a
// form post.
func (s *Server) page(w http.ResponseWriter, r *http.Request, status int, name string, p *web.Page, formTargets ...string) {
	p.Lang = s.lang(r)
	htmlHeaders(w.Header(), formTargets...)
	if err := s.web.Render(w, status, name, p); err != nil {
		s.log.Error("rendering a page", "page", name, "err", err)
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
	}
}

// errorPage shows an error without redirecting, with a reference id that is
// also logged; never a stack trace or an internal error text. detail is a
// technical explanation for the developer of the application that sent the
// user (OAuth parameter errors), or "".
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, status int, heading, text *web.Message, detail string) {
	ref := errorRef()
	level := slog.LevelInfo
	if status == http.StatusNotFound || status == http.StatusMethodNotAllowed {
		level = slog.LevelDebug // scanners probe paths all day
	}
	s.log.Log(r.Context(), level, "error page", "ref", ref, "route", r.Pattern, "status", status, "heading", heading.Key, "detail", detail)
	p := &web.Page{Heading: heading, Text: text, Ref: ref}
	if detail != "" {
		p.Detail = web.M("error.details", detail)
	}
	s.page(w, r, status, "error", p)
}

// messagePage shows a short message with an optional way on.
func (s *Server) messagePage(w http.ResponseWriter, r *http.Request, status int, heading, text *web.Message, next string, nextLabel *web.Message) {
	s.page(w, r, status, "message", &web.Page{Heading: heading, Text: text, Continue: next, ContinueLabel: nextLabel})
}

// browserFacing lists the OAuth endpoints (relative to /api/auth) that a
// browser is sent to and shows: their refusals are pages, not JSON.
func browserFacing(path string) bool {
	switch path {
	case "/oauth2/authorize", "/oauth2/consent", "/oauth2/end-session":
		return true
	}
	return false
}

// rateLimitedPage answers a request over its rate limit (Retry-After is
// set by the caller).
func (s *Server) rateLimitedPage(w http.ResponseWriter, r *http.Request, secs int) {
	text := web.M("error.rate.text", secs)
	if secs <= 1 {
		text = web.M("error.rate.text_one")
	}
	s.errorPage(w, r, http.StatusTooManyRequests, web.M("error.rate.heading"), text, "")
}

// originRefusedPage answers a browser-facing post that failed the Origin
// check.
func (s *Server) originRefusedPage(w http.ResponseWriter, r *http.Request, e *apiError) {
	s.log.Info("page form refused", "reason", e.Code, "route", r.URL.Path, "ip", ipFrom(r))
	s.errorPage(w, r, http.StatusForbidden, web.M("error.origin.heading"), web.M("error.origin.text"), "")
}

// internalErrorPage answers a request whose handler failed unexpectedly
// (a panic); ref is already logged with the details.
func (s *Server) internalErrorPage(w http.ResponseWriter, r *http.Request, ref string) {
	htmlHeaders(w.Header())
	p := &web.Page{Lang: s.lang(r), Heading: web.M("error.generic.heading"), Text: web.M("error.generic.text"), Ref: ref}
	if err := s.web.Render(w, http.StatusInternalServerError, "error", p); err != nil {
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
	}
}

// unmatched answers what no route of mux serves, in place of the mux's
// plain-text answers: JSON under /api/, a page elsewhere. A path served
// for other methods is a 405 with Allow, as the mux would say.
func (s *Server) unmatched(mux *http.ServeMux) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pat := mux.Handler(probe); pat != "" && pat != "/" {
				allow = append(allow, m)
			}
		}
		api := strings.HasPrefix(r.URL.Path, "/api/")
		switch {
		case len(allow) > 0 && api:
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeError(w, errorf(http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "Use "+strings.Join(allow, " or ")+" for this endpoint"))
		case len(allow) > 0:
			w.Header().Set("Allow", strings.Join(allow, ", "))
			s.errorPage(w, r, http.StatusMethodNotAllowed, web.M("error.method.heading"), web.M("error.method.text"), "")
		case api:
			writeError(w, errorf(http.StatusNotFound, "NOT_FOUND", "No such endpoint"))
		default:
			s.errorPage(w, r, http.StatusNotFound, web.M("error.not_found.heading"), web.M("error.not_found.text"), "")
		}
	}
}

func errorRef() string {
	var b [6]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// pageFail answers an unexpected error on a page.
func (s *Server) pageFail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, auth.ErrBusy):
		w.Header().Set("Retry-After", "1")
		s.errorPage(w, r, http.StatusServiceUnavailable, web.M("error.generic.heading"), web.M("error.busy.text"), "")
	case errors.Is(err, context.Canceled):
		w.WriteHeader(http.StatusServiceUnavailable) // the client went away
	default:
		ref := errorRef()
		s.log.Error("internal error", "route", r.Pattern, "ref", ref, "err", err)
		s.internalErrorPage(w, r, ref)
	}
}

// pageMethod admits GET and HEAD, and POST when post is true.
func (s *Server) pageMethod(w http.ResponseWriter, r *http.Request, post bool) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return true
	case http.MethodPost:
		if post {
			return true
		}
	}
	allow := "GET, HEAD"
	if post {
		allow += ", POST"
	}
	w.Header().Set("Allow", allow)
	s.errorPage(w, r, http.StatusMethodNotAllowed, web.M("error.method.heading"), web.M("error.method.text"), "")
	return false
}

// pageForm parses a form post (urlencoded, at most 1 MiB).
func (s *Server) pageForm(w http.ResponseWriter, r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		s.errorPage(w, r, http.StatusUnsupportedMediaType, web.M("error.form.heading"), web.M("error.form.text"), "")
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, r, http.StatusBadRequest, web.M("error.form.heading"), web.M("error.form.text"), "")
		return false
	}
	return true
}

// postedForm parses a page's form and checks its CSRF token (bound to
// sessionID, "" before sign-in); false means the refusal was written.
func (s *Server) postedForm(w http.ResponseWriter, r *http.Request, sessionID string) bool {
	if !s.pageForm(w, r) {
		return false
	}
	if !s.csrfOK(r, sessionID) {
		s.csrfRefused(w, r)
		return false
	}
	return true
}

func seeOther(w http.ResponseWriter, to string) {
	w.Header().Set("Location", to)
	w.WriteHeader(http.StatusSeeOther)
}

// startSession sets the session cookie after a page signed the user in.
func (s *Server) startSession(w http.ResponseWriter, token string) {
	s.cookies.setSession(w, s.signer.Sign(token), s.auth.Policy.ExpiresIn, true, s.signer.Sign("true"))
}

// ---- CSRF ----
//
// Every page form carries a token that is an HMAC, under the server secret,
// of a random value kept in an HttpOnly cookie and of the session id (""
// before sign-in). A forged form from another site can neither read the
// cookie nor compute the MAC; a token taken from another session does not
// match this one. The Origin check (pageGuards) is the second layer.

func (s *Server) csrfMAC(cookie, sessionID string) string {
	m := hmac.New(sha256.New, []byte(s.secret))
	m.Write([]byte("page-csrf\x00" + cookie + "\x00" + sessionID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *Server) csrfCookieValue(r *http.Request) string {
	ck, err := r.Cookie(s.csrfCookie)
	if err != nil || len(ck.Value) != 43 {
		return ""
	}
	if _, err := base64.RawURLEncoding.DecodeString(ck.Value); err != nil {
		return ""
	}
	return ck.Value
}

// csrfToken returns the token for a form, setting the cookie first when the
// browser has none.
func (s *Server) csrfToken(w http.ResponseWriter, r *http.Request, sessionID string) string {
	v := s.csrfCookieValue(r)
	if v == "" {
		var b [32]byte
		rand.Read(b[:])
		v = base64.RawURLEncoding.EncodeToString(b[:])
		http.SetCookie(w, &http.Cookie{Name: s.csrfCookie, Value: v, Path: "/", HttpOnly: true,
			Secure: s.cookies.secure, SameSite: http.SameSiteLaxMode})
		// Forms rendered later in this request use the same value.
		r.AddCookie(&http.Cookie{Name: s.csrfCookie, Value: v})
	}
	return s.csrfMAC(v, sessionID)
}

// csrfOK checks a posted form's token in constant time.
func (s *Server) csrfOK(r *http.Request, sessionID string) bool {
	v, got := s.csrfCookieValue(r), r.PostForm.Get("csrf")
	if v == "" || got == "" {
		return false
	}
	return hmac.Equal([]byte(got), []byte(s.csrfMAC(v, sessionID)))
}

func (s *Server) csrfRefused(w http.ResponseWriter, r *http.Request) {
	s.log.Info("page form refused", "reason", "csrf", "route", r.Pattern, "ip", ipFrom(r))
	s.errorPage(w, r, http.StatusForbidden, web.M("error.csrf.heading"), web.M("error.csrf.text"), "")
}

// ---- form-action sources ----

// cspSource turns a redirect URI into a CSP source expression: its origin,
// or "scheme:" for an app's private-use scheme; "" when it cannot be
// expressed safely.
func cspSource(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return ""
	}
	scheme := strings.ToLower(u.Scheme)
	for _, c := range scheme {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.') {
			return ""
		}
	}
	if scheme != "http" && scheme != "https" {
		return scheme + ":"
	}
	for _, c := range u.Host {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.ContainsRune(".-:[]", c)) {
			return ""
		}
	}
	if u.Host == "" {
		return ""
	}
	return scheme + "://" + u.Host
}

// returnTargets lists the form-action sources a page needs whose forms
// lead back to ret: when ret is a valid authorization request, its client's
// redirect URI (the flow may end there without another page).
func (s *Server) returnTargets(r *http.Request, ret string) []string {
	q, ok := strings.CutPrefix(ret, authorizePath+"?")
	if !ok || s.oidc == nil {
		return nil
	}
	vals, err := url.ParseQuery(q)
	if err != nil {
		return nil
	}
	req, page, _ := s.oidc.ParseAuthorize(r.Context(), vals)
	if page != nil || req == nil {
		return nil
	}
	if src := cspSource(req.RedirectURI); src != "" {
		return []string{src}
	}
	return nil
}

// ---- sign-in ----

func (s *Server) signInBase(w http.ResponseWriter, r *http.Request, ret string) *web.Page {
	e := s.auth.Email
	return &web.Page{CSRF: s.csrfToken(w, r, ""), Return: ret, Values: map[string]string{},
		MagicLink: e.Mail != nil && e.MagicLink, EmailOTP: e.Mail != nil && e.EmailOTP,
		SignUpOpen: s.auth.Signup == auth.SignupOpen, MinLength: s.auth.MinPassword}
}

func (s *Server) pageSignIn(w http.ResponseWriter, r *http.Request) {
	if !s.pageMethod(w, r, true) {
		return
	}
	if r.Method == http.MethodPost {
		s.signInPost(w, r)
		return
	}
	q := r.URL.Query()
	ret := pageReturn(q.Get("return"))
	p := s.signInBase(w, r, ret)
	p.Values["email"] = q.Get("login_hint")
	switch q.Get("error") { // a magic link that failed comes back here
	case "":
	case "new_user_signup_disabled":
		p.Alert = web.M("signin.error.new_user")
	default:
		p.Alert = web.M("signin.error.link")
	}
	s.page(w, r, http.StatusOK, "sign-in", p, s.returnTargets(r, ret)...)
}

func (s *Server) signInPost(w http.ResponseWriter, r *http.Request) {
	if !s.postedForm(w, r, "") {
		return
	}
	f := r.PostForm
	ret := pageReturn(f.Get("return"))
	email := strings.TrimSpace(f.Get("email"))
	p := s.signInBase(w, r, ret)
	p.Values["email"] = email
	show := func(status int, field string, m *web.Message) {
		p.Alert, p.InvalidFor = m, field
		s.page(w, r, status, "sign-in", p, s.returnTargets(r, ret)...)
	}
	ctx := r.Context()
	switch f.Get("method") {
	case "", "password":
		u, iss, err := s.auth.SignInVerifyingTo(ctx, email, f.Get("password"), true, meta(r), verifyCallback(ret))
		switch {
		case err == nil:
			s.log.Info("user signed in", "method", "page", "user_id", u.ID, "session_id", iss.Session.ID, "ip", ipFrom(r))
			s.startSession(w, iss.Token)
			seeOther(w, ret)
		case errors.Is(err, auth.ErrInvalidCredentials):
			s.log.Info("sign-in failed", "ip", ipFrom(r))
			show(http.StatusUnauthorized, "", web.M("signin.error.invalid"))
		case errors.Is(err, auth.ErrInvalidEmail):
			show(http.StatusBadRequest, "email", web.M("signin.error.email"))
		case errors.Is(err, auth.ErrEmailNotVerified):
			show(http.StatusForbidden, "", web.M("signin.error.unverified"))
		default:
			s.pageFail(w, r, err)
		}
	case "magic-link":
		start := time.Now()
		err := s.auth.SendMagicLink(ctx, email, "", auth.MagicLinkURLs{Callback: ret, NewUserCallback: ret,
			ErrorCallback: "/sign-in?return=" + url.QueryEscape(ret)})
		padUntil(start, answerFloor)
		if s.emailStepFailed(w, r, err, show) {
			return
		}
		seeOther(w, checkInbox("sign-in", ret))
	case "otp":
		start := time.Now()
		err := s.auth.SendOTP(ctx, email, auth.OTPSignIn)
		padUntil(start, answerFloor)
		if s.emailStepFailed(w, r, err, show) {
			return
		}
		p.CodeSent = true
		s.page(w, r, http.StatusOK, "sign-in", p, s.returnTargets(r, ret)...)
	case "otp-verify":
		p.CodeSent = true
		res, err := s.auth.SignInOTP(ctx, email, strings.TrimSpace(f.Get("otp")), "", meta(r))
		switch {
		case err == nil:
			s.log.Info("user signed in", "method", "page-email-otp", "user_id", res.User.ID, "new_user", res.NewUser, "ip", ipFrom(r))
			s.startSession(w, res.Issued.Token)
			seeOther(w, ret)
		case errors.Is(err, auth.ErrInvalidOTP):
			show(http.StatusUnauthorized, "otp", web.M("signin.error.code"))
		case errors.Is(err, auth.ErrOTPExpired):
			show(http.StatusUnauthorized, "otp", web.M("signin.error.code_expired"))
		case errors.Is(err, auth.ErrTooManyAttempts):
			show(http.StatusForbidden, "otp", web.M("signin.error.code_attempts"))
		case errors.Is(err, auth.ErrNewUserSignupDisabled):
			show(http.StatusForbidden, "", web.M("signin.error.new_user"))
		default:
			if !s.emailStepFailed(w, r, err, show) {
				s.pageFail(w, r, err)
			}
		}
	default:
		s.errorPage(w, r, http.StatusBadRequest, web.M("error.form.heading"), web.M("error.form.text"), "")
	}
}

// emailStepFailed answers the errors common to the emailed sign-in ways and
// reports whether there was one.
func (s *Server) emailStepFailed(w http.ResponseWriter, r *http.Request, err error, show func(int, string, *web.Message)) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, auth.ErrInvalidEmail):
		show(http.StatusBadRequest, "email", web.M("signin.error.email"))
	case errors.Is(err, auth.ErrFeatureDisabled), errors.Is(err, auth.ErrInvalidOTPType):
		show(http.StatusNotFound, "", web.M("signin.error.disabled"))
	default:
		s.pageFail(w, r, err)
	}
	return true
}

// ---- sign-up ----

func (s *Server) pageSignUp(w http.ResponseWriter, r *http.Request) {
	if !s.pageMethod(w, r, true) {
		return
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		ret := pageReturn(r.URL.Query().Get("return"))
		s.page(w, r, http.StatusOK, "sign-up", s.signInBase(w, r, ret), s.returnTargets(r, ret)...)
		return
	}
	if !s.postedForm(w, r, "") {
		return
	}
	f := r.PostForm
	ret := pageReturn(f.Get("return"))
	p := s.signInBase(w, r, ret)
	name, email := strings.TrimSpace(f.Get("name")), strings.TrimSpace(f.Get("email"))
	p.Values["name"], p.Values["email"] = name, email
	show := func(status int, field string, m *web.Message) {
		p.Alert, p.InvalidFor = m, field
		s.page(w, r, status, "sign-up", p, s.returnTargets(r, ret)...)
	}
	if s.auth.Signup != auth.SignupOpen {
		show(http.StatusForbidden, "", web.M("signup.closed"))
		return
	}
	if name == "" {
		show(http.StatusBadRequest, "name", web.M("signup.error.name"))
		return
	}
	// The verification link comes back to the result page, which leads on
	// to the return target: an authorization request survives the trip.
	u, iss, err := s.auth.SignUp(r.Context(), auth.SignUpInput{Name: name, Email: email, Password: f.Get("password"),
		RememberMe: true, CallbackURL: verifyCallback(ret)}, meta(r))
	switch {
	case err == nil:
	case errors.Is(err, auth.ErrUserExists):
		// Only reached when the API too says so (verification not
		// required); otherwise a duplicate looks like a new sign-up.
		show(http.StatusUnprocessableEntity, "email", web.M("signup.error.exists"))
		return
	case errors.Is(err, auth.ErrInvalidEmail):
		show(http.StatusBadRequest, "email", web.M("signin.error.email"))
		return
	case errors.Is(err, auth.ErrPasswordTooShort):
		show(http.StatusBadRequest, "password", web.M("password.too_short", s.auth.MinPassword))
		return
	case errors.Is(err, auth.ErrPasswordTooLong):
		show(http.StatusBadRequest, "password", web.M("password.too_long", s.auth.MaxPassword))
		return
	case errors.Is(err, auth.ErrNameTooLong), errors.Is(err, auth.ErrNameInvalid):
		show(http.StatusBadRequest, "name", web.M("signup.error.name_invalid"))
		return
	case errors.Is(err, auth.ErrSignUpDisabled), errors.Is(err, auth.ErrSignUpSecret):
		show(http.StatusForbidden, "", web.M("signup.closed"))
		return
	default:
		s.pageFail(w, r, err)
		return
	}
	if iss == nil {
		seeOther(w, checkInbox("verify", ret))
		return
	}
	s.log.Info("user signed up", "method", "page", "user_id", u.ID, "ip", ipFrom(r))
	s.startSession(w, iss.Token)
	seeOther(w, ret)
}

// ---- verification result, check your inbox ----

func (s *Server) pageVerifyEmail(w http.ResponseWriter, r *http.Request) {
	if !s.pageMethod(w, r, false) {
		return
	}
	q := r.URL.Query()
	ret := pageReturn(q.Get("return"))
	if q.Get("error") != "" {
		s.messagePage(w, r, http.StatusBadRequest, web.M("verify.bad.heading"), web.M("verify.bad.text"), ret, web.M("label.continue"))
		return
	}
	s.messagePage(w, r, http.StatusOK, web.M("verify.ok.heading"), web.M("verify.ok.text"), ret, web.M("label.continue"))
}

var inboxTexts = map[string]string{"verify": "checkinbox.verify", "reset": "checkinbox.reset", "sign-in": "checkinbox.sign_in"}

func (s *Server) pageCheckInbox(w http.ResponseWriter, r *http.Request) {
	if !s.pageMethod(w, r, false) {
		return
	}
	q := r.URL.Query()
	text, ok := inboxTexts[q.Get("for")]
	if !ok {
		text = "checkinbox.generic"
	}
	s.messagePage(w, r, http.StatusOK, web.M("checkinbox.title"), web.M(text), signInHref(pageReturn(q.Get("return"))), web.M("forgot.back"))
}

// Links and callbacks that carry a page's return target; the default target
// (the account page) is left out, so plain flows keep plain URLs.

func withReturn(path, ret string) string {
	if ret == "" || ret == "/account" {
		return path
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + "return=" + url.QueryEscape(ret)
}

func signInHref(ret string) string { return withReturn("/sign-in", ret) }

// checkInbox is the "check your inbox" page for what was sent.
func checkInbox(sent, ret string) string { return withReturn("/check-inbox?for="+sent, ret) }

// verifyCallback is where a verification link sent from a page ends: the
// result page, whose Continue leads to the return target.
func verifyCallback(ret string) string { return "/verify-email?return=" + url.QueryEscape(ret) }

// ---- forgot and reset password ----

func (s *Server) pageForgot(w http.ResponseWriter, r *http.Request) {
	if !s.pageMethod(w, r, true) {
		return
	}
	if r.Method != http.MethodPost {
		s.page(w, r, http.StatusOK, "forgot-password", &web.Page{CSRF: s.csrfToken(w, r, ""), Return: pageReturn(r.URL.Query().Get("return"))})
		return
	}
	if !s.postedForm(w, r, "") {
		return
	}
	// The same answer, after the same time, whether or not the address
	// has an account.
	// The mailed link's page carries the return target on to sign-in.
	ret := pageReturn(r.PostForm.Get("return"))
	start := time.Now()
	err := s.auth.RequestPasswordReset(r.Context(), r.PostForm.Get("email"), withReturn("/reset-password", ret))
	padUntil(start, answerFloor)
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	seeOther(w, checkInbox("reset", ret))
}

func (s *Server) pageReset(w http.ResponseWriter, r *http.Request) {
	if !s.pageMethod(w, r, true) {
		return
	}
	if r.Method != http.MethodPost {
		q := r.URL.Query()
		p := &web.Page{CSRF: s.csrfToken(w, r, ""), MinLength: s.auth.MinPassword, Return: pageReturn(q.Get("return"))}
		p.Token = q.Get("token")
		var err error = auth.ErrInvalidToken
		if q.Get("error") == "" && p.Token != "" {
			err = s.auth.CheckResetToken(r.Context(), p.Token)
		}
		if err != nil && !errors.Is(err, auth.ErrInvalidToken) {
			s.pageFail(w, r, err)
			return
		}
		status := http.StatusOK
		if p.TokenGood = err == nil; !p.TokenGood {
			p.Alert, status = web.M("reset.error.token"), http.StatusBadRequest
		} else {
			p.Email = s.resetEmail(r, p.Token)
		}
		s.page(w, r, status, "reset-password", p)
		return
	}
	if !s.postedForm(w, r, "") {
		return
	}
	f := r.PostForm
	ret := pageReturn(f.Get("return"))
	p := &web.Page{CSRF: s.csrfToken(w, r, ""), MinLength: s.auth.MinPassword, Token: f.Get("token"), TokenGood: true, Return: ret}
	show := func(status int, field string, m *web.Message) {
		p.Alert, p.InvalidFor = m, field
		if p.TokenGood {
			p.Email = s.resetEmail(r, p.Token)
		}
		s.page(w, r, status, "reset-password", p)
	}
	pw := f.Get("password")
	if pw != f.Get("confirmPassword") {
		show(http.StatusBadRequest, "confirmPassword", web.M("reset.error.mismatch"))
		return
	}
	err := s.auth.ResetPassword(r.Context(), p.Token, pw)
	switch {
	case err == nil:
		s.log.Info("password reset", "method", "page")
		s.messagePage(w, r, http.StatusOK, web.M("reset.done.heading"), web.M("reset.done.text"), signInHref(ret), web.M("label.sign_in"))
	case errors.Is(err, auth.ErrInvalidToken), errors.Is(err, auth.ErrTokenExpired):
		p.TokenGood = false
		show(http.StatusBadRequest, "", web.M("reset.error.token"))
	case errors.Is(err, auth.ErrPasswordTooShort):
		show(http.StatusBadRequest, "password", web.M("password.too_short", s.auth.MinPassword))
	case errors.Is(err, auth.ErrPasswordTooLong):
		show(http.StatusBadRequest, "password", web.M("password.too_long", s.auth.MaxPassword))
	default:
		s.pageFail(w, r, err)
	}
}

// resetEmail is the address a valid reset token belongs to, for the form's
// hidden username field (password managers save the new password under
// it); "" when it cannot be told. Only the holder of the mailed link sees
// it.
func (s *Server) resetEmail(r *http.Request, token string) string {
	if token == "" || len(token) > 128 {
		return ""
	}
	// "reset-password" is the identifier prefix of reset links (auth).
	v, err := s.store.GetVerification(r.Context(), verification.Identifier("reset-password", token))
	if err != nil {
		return ""
	}
	var userID string
	if json.Unmarshal([]byte(v.Value), &userID) != nil {
		return ""
	}
	u, err := s.store.GetUser(r.Context(), userID)
	if err != nil {
		return ""
	}
	return u.Email
}

// ---- sign-out ----

func (s *Server) pageSignOut(w http.ResponseWriter, r *http.Request) {
	if !s.pageMethod(w, r, true) {
		return
	}
	c, err := s.current(w, r, false)
	if err != nil && !errors.Is(err, auth.ErrNoSession) {
		s.pageFail(w, r, err)
		return
	}
	if r.Method != http.MethodPost {
		if c == nil {
			s.messagePage(w, r, http.StatusOK, web.M("signout.done.heading"), web.M("signout.done.text"), "/sign-in", web.M("label.sign_in"))
			return
		}
		s.page(w, r, http.StatusOK, "sign-out", &web.Page{Action: "/sign-out", Email: c.User.Email, CSRF: s.csrfToken(w, r, c.Session.ID)})
		return
	}
	if c == nil {
		seeOther(w, "/sign-out") // nothing to end
		return
	}
	if !s.postedForm(w, r, c.Session.ID) {
		return
	}
	if err := s.auth.SignOut(r.Context(), c); err != nil {
		s.pageFail(w, r, err)
		return
	}
	s.cookies.clear(w)
	s.log.Info("user signed out", "method", "page", "user_id", c.User.ID)
	seeOther(w, "/sign-out")
}

// logoutConfirmPage asks before an end-session request without a matching
// id_token_hint signs the user out; it looks like the sign-out page.
func (s *Server) logoutConfirmPage(w http.ResponseWriter, r *http.Request, c *auth.Current, q url.Values, csrf, target string) {
	p := &web.Page{Action: "/api/auth/oauth2/end-session", Email: c.User.Email, CSRF: csrf}
	for _, k := range []string{"post_logout_redirect_uri", "state", "client_id"} {
		if v := q.Get(k); v != "" {
			p.Hidden = append(p.Hidden, web.Field{Name: k, Value: v})
		}
	}
	var targets []string
	if src := cspSource(target); src != "" {
		targets = append(targets, src)
	}
	s.page(w, r, http.StatusOK, "sign-out", p, targets...)
}

// ---- consent ----

var scopeKeys = map[string]string{
	"openid":         "scope.openid",
	"profile":        "scope.profile",
	"email":          "scope.email",
	"offline_access": "scope.offline_access",
}

func (s *Server) consentPage(w http.ResponseWriter, r *http.Request, req *oidc.AuthRequest, c *auth.Current, request string) {
	scopes := make([]*web.Message, 0, len(req.Scopes))
	for _, sc := range req.Scopes {
		if k, ok := scopeKeys[sc]; ok {
			scopes = append(scopes, web.M(k))
		} else {
			scopes = append(scopes, web.M("scope.other", sc))
		}
	}
	name := req.Client.Name
	if name == "" {
		name = req.Client.ID
	}
	var targets []string
	if src := cspSource(req.RedirectURI); src != "" {
		targets = append(targets, src)
	}
	s.page(w, r, http.StatusOK, "consent", &web.Page{Client: name, Scopes: scopes, Email: c.User.Email, Request: request,
		CSRF: s.consentToken(c.Session.ID, request)}, targets...)
}

// ---- account ----

// providerNames are the ways to sign in shown by name; another provider is
// shown by its id.
var providerNames = map[string]string{
	"credential": "account.linked.password",
	"apple":      "provider.apple",
	"discord":    "provider.discord",
	"facebook":   "provider.facebook",
	"github":     "provider.github",
	"gitlab":     "provider.gitlab",
	"google":     "provider.google",
	"linkedin":   "provider.linkedin",
	"microsoft":  "provider.microsoft",
	"twitter":    "provider.twitter",
}

func providerName(id string) *web.Message {
	if k, ok := providerNames[id]; ok {
		return web.M(k)
	}
	return web.M("provider.other", id)
}

var accountNotices = map[string]string{
	"profile":          "account.notice.profile",
	"password":         "account.notice.password",
	"email-changed":    "account.notice.email_changed",
	"email-sent-new":   "account.notice.email_sent_new",
	"email-sent-old":   "account.notice.email_sent_old",
	"session-revoked":  "account.notice.session_revoked",
	"sessions-revoked": "account.notice.sessions_revoked",
}

func (s *Server) pageAccount(w http.ResponseWriter, r *http.Request) {
	if !s.pageMethod(w, r, true) {
		return
	}
	c, err := s.current(w, r, r.Method != http.MethodPost)
	if errors.Is(err, auth.ErrNoSession) {
		seeOther(w, "/sign-in?return=%2Faccount")
		return
	}
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	if r.Method == http.MethodPost {
		s.accountPost(w, r, c)
		return
	}
	p, err := s.accountPage(w, r, c)
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	if k, ok := accountNotices[r.URL.Query().Get("done")]; ok {
		p.Notice = web.M(k)
	}
	s.page(w, r, http.StatusOK, "account", p)
}

func (s *Server) accountPage(w http.ResponseWriter, r *http.Request, c *auth.Current) (*web.Page, error) {
	ctx, lang := r.Context(), s.lang(r)
	a := &web.Account{Name: c.User.Name, Email: c.User.Email, EmailVerified: c.User.EmailVerified}
	if c.User.Image != nil {
		a.Image = *c.User.Image
		if strings.HasPrefix(a.Image, "https://") {
			a.Avatar = a.Image // the CSP allows https images only
		}
	}
	if s.auth.RequireFresh(c) != nil {
		a.SessionsStale = true // as list-sessions: an old session may not list them
	} else {
		list, err := s.auth.ListSessions(ctx, c)
		if err != nil {
			return nil, err
		}
		for _, se := range list {
			a.Sessions = append(a.Sessions, web.Session{ID: se.ID, Device: s.web.DeviceName(lang, se.UserAgent), IP: se.IPAddress,
				Created: se.CreatedAt, Renewed: se.UpdatedAt, Current: se.ID == c.Session.ID})
		}
		sort.SliceStable(a.Sessions, func(i, j int) bool { return a.Sessions[i].Current && !a.Sessions[j].Current })
	}
	accounts, err := s.store.ListAccounts(ctx, c.User.ID)
	if err != nil {
		return nil, err
	}
	for _, ac := range accounts {
		a.Linked = append(a.Linked, web.Linked{Provider: ac.ProviderID, Name: providerName(ac.ProviderID), Since: ac.CreatedAt})
	}
	return &web.Page{Account: a, CSRF: s.csrfToken(w, r, c.Session.ID), MinLength: s.auth.MinPassword, Values: map[string]string{}}, nil
}

func (s *Server) accountPost(w http.ResponseWriter, r *http.Request, c *auth.Current) {
	if !s.postedForm(w, r, c.Session.ID) {
		return
	}
	f, ctx := r.PostForm, r.Context()
	show := func(status int, field string, m *web.Message, edit func(*web.Account)) {
		p, err := s.accountPage(w, r, c)
		if err != nil {
			s.pageFail(w, r, err)
			return
		}
		if edit != nil {
			edit(p.Account)
		}
		p.Alert, p.InvalidFor = m, field
		p.Values["newEmail"] = f.Get("newEmail")
		s.page(w, r, status, "account", p)
	}
	switch f.Get("intent") {
	case "profile":
		name, img := strings.TrimSpace(f.Get("name")), strings.TrimSpace(f.Get("image"))
		typed := func(a *web.Account) { a.Name, a.Image = name, img } // show what was typed
		if name == "" {
			show(http.StatusBadRequest, "name", web.M("signup.error.name"), typed)
			return
		}
		var image *string
		if img != "" {
			image = &img
		}
		_, err := s.auth.UpdateUser(ctx, c, auth.ProfileUpdate{Name: &name, SetImage: true, Image: image})
		switch {
		case err == nil:
			seeOther(w, "/account?done=profile")
		case errors.Is(err, auth.ErrNameTooLong), errors.Is(err, auth.ErrNameInvalid):
			show(http.StatusBadRequest, "name", web.M("signup.error.name_invalid"), typed)
		case errors.Is(err, auth.ErrImageTooLong), errors.Is(err, auth.ErrImageInvalid):
			show(http.StatusBadRequest, "image", web.M("account.error.image"), typed)
		default:
			s.pageFail(w, r, err)
		}
	case "password":
		iss, err := s.auth.ChangePassword(ctx, c, f.Get("currentPassword"), f.Get("newPassword"), f.Get("revokeOtherSessions") != "", meta(r))
		switch {
		case err == nil:
			s.log.Info("password changed", "method", "page", "user_id", c.User.ID, "revoked_other_sessions", iss != nil)
			if iss != nil {
				s.startSession(w, iss.Token) // every session was replaced by this one
			}
			seeOther(w, "/account?done=password")
		case errors.Is(err, auth.ErrInvalidPassword):
			show(http.StatusBadRequest, "currentPassword", web.M("account.error.password_wrong"), nil)
		case errors.Is(err, auth.ErrPasswordTooShort):
			show(http.StatusBadRequest, "newPassword", web.M("password.too_short", s.auth.MinPassword), nil)
		case errors.Is(err, auth.ErrPasswordTooLong):
			show(http.StatusBadRequest, "newPassword", web.M("password.too_long", s.auth.MaxPassword), nil)
		case errors.Is(err, auth.ErrNoCredential):
			show(http.StatusBadRequest, "", web.M("account.error.no_password"), nil)
		default:
			s.pageFail(w, r, err)
		}
	case "email":
		err := s.auth.ChangeEmail(ctx, c, f.Get("newEmail"), "/verify-email?return=%2Faccount")
		switch {
		case err == nil:
			done := "email-changed"
			if c.User.EmailVerified {
				done = "email-sent-new"
				if s.auth.Email.ChangeEmailConfirmOld {
					done = "email-sent-old"
				}
			}
			seeOther(w, "/account?done="+done)
		case errors.Is(err, auth.ErrInvalidEmail):
			show(http.StatusBadRequest, "newEmail", web.M("signin.error.email"), nil)
		case errors.Is(err, auth.ErrEmailIsSame):
			show(http.StatusBadRequest, "newEmail", web.M("account.error.email_same"), nil)
		case errors.Is(err, auth.ErrUserExists):
			show(http.StatusUnprocessableEntity, "newEmail", web.M("account.error.email_exists"), nil)
		case errors.Is(err, auth.ErrChangeEmailNeedsMail):
			show(http.StatusBadRequest, "newEmail", web.M("account.error.email_needs_mail"), nil)
		default:
			s.pageFail(w, r, err)
		}
	case "revoke-session":
		id := f.Get("session")
		list, err := s.auth.ListSessions(ctx, c)
		if err != nil {
			s.pageFail(w, r, err)
			return
		}
		for _, se := range list {
			if se.ID != id {
				continue
			}
			if err := s.auth.RevokeSession(ctx, c, se.TokenHash); err != nil {
				s.pageFail(w, r, err)
				return
			}
			s.log.Info("session revoked", "method", "page", "user_id", c.User.ID, "session_id", se.ID)
			if se.ID == c.Session.ID {
				s.cookies.clear(w)
			}
			seeOther(w, "/account?done=session-revoked")
			return
		}
		// Not one of this user's sessions (already ended, or never theirs).
		show(http.StatusNotFound, "", web.M("account.error.session_not_found"), nil)
	case "revoke-others":
		if err := s.auth.RevokeOtherSessions(ctx, c); err != nil {
			s.pageFail(w, r, err)
			return
		}
		s.log.Info("other sessions revoked", "method", "page", "user_id", c.User.ID)
		seeOther(w, "/account?done=sessions-revoked")
	default:
		s.errorPage(w, r, http.StatusBadRequest, web.M("error.form.heading"), web.M("error.form.text"), "")
	}
}
