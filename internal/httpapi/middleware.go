package httpapi

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/auther/auther/internal/ratelimit"
	"github.com/auther/auther/internal/web"
)

type ctxKey int

const ipKey ctxKey = 0

// clientIP is the address recorded on sessions and used for rate limiting:
// the right-most valid address in the trusted proxy's header (the one the
// proxy itself appended), else the TCP peer.
func (s *Server) clientIP(r *http.Request) string {
	if s.ipHeader != "" {
		parts := strings.Split(r.Header.Get(s.ipHeader), ",")
		for i := len(parts) - 1; i >= 0; i-- {
			if a, err := netip.ParseAddr(strings.TrimSpace(parts[i])); err == nil {
				return a.Unmap().String()
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return a.Unmap().String()
	}
	return host
}

func ipFrom(r *http.Request) string {
	ip, _ := r.Context().Value(ipKey).(string)
	return ip
}

// rateKey groups IPv6 clients by /64, as one host usually owns the prefix.
func rateKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err == nil && a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return ip
}

// methodLabel bounds the metrics label: clients can send any method name.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodOptions, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return m
	}
	return "OTHER"
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = 200
	}
	return w.ResponseWriter.Write(b)
}

// observe records metrics and logs, recovers panics, and stores the client IP.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		ip := s.clientIP(r)
		r = r.WithContext(context.WithValue(r.Context(), ipKey, ip))
		defer func() {
			if p := recover(); p != nil {
				ref := errorRef()
				s.log.Error("panic serving request", "route", r.Pattern, "ref", ref, "panic", p)
				if sw.status == 0 {
					// Nothing the failed handler set (cookies included) goes out.
					clear(sw.Header())
					if isPage(r.URL.Path) || strings.Contains(r.Header.Get("Accept"), "text/html") {
						s.internalErrorPage(sw, r, ref)
					} else {
						writeError(sw, errorf(500, "INTERNAL_SERVER_ERROR", "Internal server error"))
					}
				}
			}
			route := r.Pattern
			if route == "" || route == "/" { // "/" is the catch-all that answers unknown paths
				route = "unmatched"
			}
			d := time.Since(start)
			s.metrics.Requests.WithLabelValues(route, methodLabel(r.Method), strconv.Itoa(sw.status)).Inc()
			s.metrics.Latency.WithLabelValues(route).Observe(d.Seconds())
			level := slog.LevelDebug
			if sw.status >= 500 {
				level = slog.LevelError
			}
			if s.log.Enabled(r.Context(), level) { // skip building attributes on the hot path
				// The route pattern, not the path: paths can carry tokens
				// (/reset-password/{token}).
				s.log.Log(r.Context(), level, "request", "method", methodLabel(r.Method), "route", route, "status", sw.status,
					"ms", float64(d.Microseconds())/1000, "ip", ip)
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

// apiGuards applies, to /api/auth only: security headers, CORS for trusted
// origins, the Origin check on state-changing requests, and rate limits.
// The hosted pages get pageGuards instead.
func (s *Server) apiGuards(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path, ok := strings.CutPrefix(r.URL.Path, "/api/auth")
		switch {
		case ok:
		case strings.HasPrefix(r.URL.Path, "/api/admin/"):
			path = "/admin" + strings.TrimPrefix(r.URL.Path, "/api/admin") // the admin API gets the same guards
		case isPage(r.URL.Path):
			s.pageGuards(w, r, next)
			return
		default:
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		origin := r.Header.Get("Origin")
		machine := machineEndpoint(path)
		if machine {
			// Called by relying parties from anywhere (SPAs included) and
			// authenticated by client credentials, codes or tokens, never by
			// cookies: open CORS without credentials, no Origin check.
			h.Set("Access-Control-Allow-Origin", "*")
			if r.Method == http.MethodOptions {
				h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
				h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
				h.Set("Access-Control-Max-Age", "86400")
				w.WriteHeader(http.StatusNoContent)
				return
			}
		} else if origin != "" && s.origins.trusted(origin) {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Set("Access-Control-Expose-Headers", "set-auth-token")
			h.Add("Vary", "Origin")
		}
		if r.Method == http.MethodOptions {
			if h.Get("Access-Control-Allow-Origin") != "" {
				h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
				h.Set("Access-Control-Allow-Headers", "Content-Type, Authorization, x-internal-signup-secret")
				h.Set("Access-Control-Max-Age", "86400")
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if e := s.checkOrigin(r, path); e != nil && !machine {
			if browserFacing(path) {
				s.originRefusedPage(w, r, e)
				return
			}
			writeError(w, e)
			return
		}
		if s.limiter != nil {
			ok, retry := s.limiter.Allow(rateKey(ipFrom(r))+"|"+ratelimit.Bucket(path), ratelimit.RuleFor(path))
			if !ok {
				secs := strconv.Itoa(int((retry + time.Second - 1) / time.Second))
				h.Set("Retry-After", secs)
				h.Set("X-Retry-After", secs) // Better Auth's header
				s.metrics.RateHits.WithLabelValues(ratelimit.Bucket(path)).Inc()
				if browserFacing(path) {
					s.rateLimitedPage(w, r, int((retry+time.Second-1)/time.Second))
					return
				}
				writeError(w, errorf(http.StatusTooManyRequests, "TOO_MANY_REQUESTS", "Too many requests. Please try again later."))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// pageGuards applies to the hosted pages what apiGuards applies to the API,
// answered with a page: the Origin check on every POST (the forms' CSRF
// tokens are checked by the handlers too), and rate limits, under which the
// sign-in, sign-up, reset and account forms count like their JSON
// endpoints.
func (s *Server) pageGuards(w http.ResponseWriter, r *http.Request, next http.Handler) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method == http.MethodPost {
		if e := s.checkOrigin(r, r.URL.Path); e != nil {
			s.log.Info("page form refused", "reason", e.Code, "route", r.URL.Path, "ip", ipFrom(r))
			s.errorPage(w, r, http.StatusForbidden, web.M("error.origin.heading"), web.M("error.origin.text"), "")
			return
		}
		if status, ok := parsePageForm(w, r); !ok {
			s.errorPage(w, r, status, web.M("error.form.heading"), web.M("error.form.text"), "")
			return
		}
	}
	bucket := pageRateBucket(r)
	if s.limiter != nil {
		ok, retry := s.limiter.Allow(rateKey(ipFrom(r))+"|"+ratelimit.Bucket(bucket), ratelimit.RuleFor(bucket))
		if !ok {
			secs := int((retry + time.Second - 1) / time.Second)
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			s.metrics.RateHits.WithLabelValues(ratelimit.Bucket(bucket)).Inc()
			s.rateLimitedPage(w, r, secs)
			return
		}
	}
	next.ServeHTTP(w, r)
}

// htmlHeaders sets the security headers of every HTML page: a CSP without
// inline script or style (pages load only their own stylesheet; images may
// come from https, for the brand's logo and users' pictures), no framing,
// and forms that may only lead to this server and the given extra sources
// (form-action also governs the redirects after a post, e.g. to a client's
// redirect URI). The Referrer-Policy keeps URLs, which may carry reset
// tokens or authorization requests, from other sites while still letting
// browsers send Origin on posts (no-referrer would make it "null").
func htmlHeaders(h http.Header, formTargets ...string) {
	formAction := "'self'"
	for _, t := range formTargets {
		formAction += " " + t
	}
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "+
		"frame-ancestors 'none'; form-action "+formAction+"; base-uri 'none'")
	h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
}

// machineEndpoint lists the OAuth endpoints that relying parties call.
func machineEndpoint(path string) bool {
	switch path {
	case "/oauth2/token", "/oauth2/userinfo", "/oauth2/revoke", "/oauth2/introspect":
		return true
	}
	return false
}

// checkOrigin is Auther's CSRF defence for state-changing requests. A
// request whose Origin is present must come from a trusted origin. A request
// that carries cookies (and so could ride a browser session) must say where
// it comes from, by Origin or Referer. Sign-in and sign-up also refuse
// cross-site top-level form posts (login CSRF), as Better Auth does.
func (s *Server) checkOrigin(r *http.Request, path string) *apiError {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	if path == "/oauth2/end-session" {
		// RP-initiated logout may be POSTed by the relying party's page
		// (OIDC RP-Initiated Logout §2). Cross-site, SameSite=Lax keeps the
		// session cookie out, so such a post ends nothing; the user's own
		// confirmation carries a token bound to the session.
		return nil
	}
	if strings.HasPrefix(path, "/sign-in") || strings.HasPrefix(path, "/sign-up") {
		if r.Header.Get("Sec-Fetch-Site") == "cross-site" && r.Header.Get("Sec-Fetch-Mode") == "navigate" {
			return errorf(http.StatusForbidden, "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED", "Cross-site navigation login blocked")
		}
	}
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		if r.Header.Get("Cookie") == "" && origin == "" {
			return nil // not a browser riding a session: curl, servers, Bearer clients
		}
		if ref := r.Header.Get("Referer"); ref != "" && s.origins.trusted(originOf(ref)) {
			return nil
		}
		return errorf(http.StatusForbidden, "MISSING_OR_NULL_ORIGIN", "Missing or null Origin")
	}
	if !s.origins.trusted(origin) {
		return errorf(http.StatusForbidden, "INVALID_ORIGIN", "Invalid origin")
	}
	return nil
}

func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// origins matches request origins against the base URL's origin and the
// configured list; "https://*.example.com" matches any subdomain.
type origins struct {
	exact    map[string]bool
	suffixes []struct{ scheme, suffix string }
}

func newOrigins(base *url.URL, extra []string) *origins {
	o := &origins{exact: map[string]bool{strings.ToLower(base.Scheme + "://" + base.Host): true}}
	for _, e := range extra {
		e = strings.ToLower(strings.TrimRight(e, "/"))
		if scheme, rest, ok := strings.Cut(e, "://*."); ok {
			o.suffixes = append(o.suffixes, struct{ scheme, suffix string }{scheme, "." + rest})
			continue
		}
		o.exact[e] = true
	}
	return o
}

func (o *origins) trusted(origin string) bool {
	origin = strings.ToLower(origin)
	if o.exact[origin] {
		return true
	}
	for _, s := range o.suffixes {
		if host, ok := strings.CutPrefix(origin, s.scheme+"://"); ok && strings.HasSuffix(host, s.suffix) && len(host) > len(s.suffix) {
			return true
		}
	}
	return false
}

// safeCallback accepts relative paths and absolute URLs on trusted origins,
// so no endpoint can be made into an open redirect.
func (s *Server) safeCallback(raw string) bool {
	if raw == "" {
		return true
	}
	// Browsers drop tabs and newlines inside URLs and read "\\" as "/", so
	// "/\t/evil.example" or "/\\evil.example" would become "//evil.example":
	// refuse control characters and backslashes outright.
	for i := 0; i < len(raw); i++ {
		if raw[i] < 0x20 || raw[i] == 0x7f || raw[i] == '\\' {
			return false
		}
	}
	if strings.HasPrefix(raw, "/") {
		return !strings.HasPrefix(raw, "//")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil {
		return false
	}
	return s.origins.trusted(u.Scheme + "://" + u.Host)
}
