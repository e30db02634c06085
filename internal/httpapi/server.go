// Package httpapi serves Auther's JSON API under /api/auth with Better Auth's
// paths and shapes, plus /healthz, /readyz and /metrics. Handlers are thin:
// they decode, call the auth service, and encode.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/auther/auther/internal/auth"
	"github.com/auther/auther/internal/clock"
	"github.com/auther/auther/internal/keys"
	"github.com/auther/auther/internal/metrics"
	"github.com/auther/auther/internal/oidc"
	"github.com/auther/auther/internal/ratelimit"
	"github.com/auther/auther/internal/session"
	"github.com/auther/auther/internal/store"
	"github.com/auther/auther/internal/web"
	"github.com/auther/auther/internal/webhook"
)

// Options configure the HTTP API.
type Options struct {
	Auth               *auth.Service
	Store              store.Store
	Secret             string
	BaseURL            string
	TrustedOrigins     []string
	CookiePrefix       string
	RateLimit          bool
	TrustedProxyHeader string
	Metrics            *metrics.Metrics
	Logger             *slog.Logger
	Clock              clock.Clock
	// Keys publishes the JWKS (nil: no JWKS endpoints).
	Keys *keys.Manager
	// OIDC is the OpenID Connect provider (nil: no OAuth endpoints).
	OIDC *oidc.Provider
	// DynamicRegistration enables POST /oauth2/register, gated by the
	// x-internal-signup-secret header equal to RegistrationSecret.
	DynamicRegistration bool
	RegistrationSecret  string
	// Webhooks manages webhook endpoints and Deliverer sends test events and
	// is woken by replays (nil: no webhook admin API).
	Webhooks  *webhook.Manager
	Deliverer *webhook.Worker
	// Brand is the product name, logo and accent colour of the hosted
	// pages (zero: Auther's own).
	Brand web.Brand
}

// Server is the HTTP API.
type Server struct {
	auth      *auth.Service
	store     store.Store
	signer    session.Signer
	cookies   cookies
	origins   *origins
	limiter   *ratelimit.Limiter
	ipHeader  string
	metrics   *metrics.Metrics
	log       *slog.Logger
	keys      *keys.Manager
	oidc      *oidc.Provider
	secret    string
	regOn     bool
	regKey    string
	hooks     *webhook.Manager
	deliverer *webhook.Worker
	handler   http.Handler
	// web renders the hosted pages; csrfCookie names their CSRF cookie.
	web        *web.Renderer
	csrfCookie string
}

// New builds the API.
func New(o Options) (*Server, error) {
	base, err := url.Parse(o.BaseURL)
	if err != nil {
		return nil, err
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Metrics == nil {
		o.Metrics = metrics.New()
	}
	s := &Server{
		auth: o.Auth, store: o.Store, signer: session.NewSigner(o.Secret),
		cookies: newCookies(o.CookiePrefix, base), origins: newOrigins(base, o.TrustedOrigins),
		ipHeader: o.TrustedProxyHeader, metrics: o.Metrics, log: o.Logger, keys: o.Keys, oidc: o.OIDC, secret: o.Secret, regOn: o.DynamicRegistration, regKey: o.RegistrationSecret,
		hooks: o.Webhooks, deliverer: o.Deliverer,
	}
	if o.RateLimit {
		s.limiter = ratelimit.New(o.Clock)
	}
	if err := s.initPages(o); err != nil {
		return nil, err
	}
	s.handler = s.routes()
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// SweepLimiter forgets idle rate-limit windows; call it periodically.
func (s *Server) SweepLimiter() {
	if s.limiter != nil {
		s.limiter.Sweep(2 * time.Minute)
	}
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	api := func(method, path string, h http.HandlerFunc) {
		mux.Handle("/api/auth"+path, s.only(method, h))
	}
	api("POST", "/sign-up/email", s.signUpEmail)
	api("POST", "/sign-in/email", s.signInEmail)
	api("POST", "/sign-out", s.withSession(s.signOut))
	api("GET", "/get-session", s.getSession)
	api("GET", "/list-sessions", s.withSession(s.listSessions))
	api("POST", "/revoke-session", s.withSession(s.revokeSession))
	api("POST", "/revoke-sessions", s.withSession(s.revokeSessions))
	api("POST", "/revoke-other-sessions", s.withSession(s.revokeOtherSessions))
	api("POST", "/update-user", s.withSession(s.updateUser))
	api("POST", "/change-password", s.withSession(s.changePassword))
	api("POST", "/delete-user", s.withSession(s.deleteUser))
	api("POST", "/send-verification-email", s.sendVerificationEmail)
	api("GET", "/verify-email", s.verifyEmail)
	api("POST", "/request-password-reset", s.requestPasswordReset)
	api("GET", "/reset-password/{token}", s.resetPasswordLink)
	api("POST", "/reset-password", s.resetPassword)
	api("POST", "/sign-in/magic-link", s.signInMagicLink)
	api("GET", "/magic-link/verify", s.verifyMagicLink)
	api("POST", "/email-otp/send-verification-otp", s.sendOTP)
	api("POST", "/email-otp/request-password-reset", s.sendOTP)
	api("POST", "/forget-password/email-otp", s.sendOTP)
	api("POST", "/email-otp/check-verification-otp", s.checkOTP)
	api("POST", "/email-otp/verify-email", s.verifyEmailOTP)
	api("POST", "/sign-in/email-otp", s.signInOTP)
	api("POST", "/email-otp/reset-password", s.resetPasswordOTP)
	api("POST", "/change-email", s.withSession(s.changeEmail))
	api("GET", "/ok", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, map[string]bool{"ok": true}) })
	notFound := func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errorf(http.StatusNotFound, "NOT_FOUND", "No such endpoint"))
	}
	mux.HandleFunc("/api/auth/", notFound)
	mux.HandleFunc("/api/auth", notFound) // not the mux's HTML redirect to /api/auth/
	if s.keys != nil {
		api("GET", "/jwks", s.jwks)
		mux.Handle("/.well-known/jwks.json", s.only("GET", s.jwks))
	}
	if s.oidc != nil {
		mux.Handle("/.well-known/openid-configuration", s.only("GET", s.discovery))
		api("GET", "/.well-known/openid-configuration", s.discovery)
		api("GET", "/oauth2/authorize", s.authorize)
		mux.HandleFunc("/api/auth/oauth2/consent", s.consent) // a browser's form: answers are pages
		api("POST", "/oauth2/token", s.tokenEndpoint)
		mux.HandleFunc("/api/auth/oauth2/userinfo", s.userinfo)
		api("POST", "/oauth2/revoke", s.revoke)
		api("POST", "/oauth2/introspect", s.introspect)
		mux.HandleFunc("/api/auth/oauth2/end-session", s.endSession)
		api("POST", "/oauth2/register", s.register)
		api("GET", "/oauth2/get-consents", s.withSession(s.listConsents))
		api("POST", "/oauth2/delete-consent", s.withSession(s.deleteConsent))
		mux.Handle("GET /api/admin/clients", s.withAdmin(s.adminListClients))
		mux.Handle("POST /api/admin/clients", s.withAdmin(s.adminCreateClient))
		mux.Handle("GET /api/admin/clients/{id}", s.withAdmin(s.adminGetClient))
		mux.Handle("PATCH /api/admin/clients/{id}", s.withAdmin(s.adminUpdateClient))
		mux.Handle("DELETE /api/admin/clients/{id}", s.withAdmin(s.adminDeleteClient))
		mux.Handle("POST /api/admin/clients/{id}/rotate-secret", s.withAdmin(s.adminRotateSecret))
	}
	mux.Handle("GET /api/admin/users", s.withAdmin(s.adminListUsers))
	mux.Handle("GET /api/admin/users/{id}", s.withAdmin(s.adminGetUser))
	mux.Handle("DELETE /api/admin/users/{id}", s.withAdmin(s.adminDeleteUser))
	s.webhookRoutes(mux)
	s.pageRoutes(mux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) })
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", s.metrics.Handler())
	return s.observe(s.apiGuards(mux))
}

// only answers other methods with a JSON 405 (the mux's own is plain text).
func (s *Server) only(method string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method && !(method == "GET" && r.Method == "HEAD") {
			w.Header().Set("Allow", method)
			writeError(w, errorf(http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "Use "+method+" for this endpoint"))
			return
		}
		h(w, r)
	})
}

// jwks publishes the signing keys. Relying parties cache it; five minutes
// keeps a rotation visible quickly while sparing the server.
func (s *Server) jwks(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	writeJSON(w, 200, s.keys.JWKS())
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.Warn("readiness check failed", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "database unreachable"})
		return
	}
	writeJSON(w, 200, map[string]string{"status": "ok"})
}
