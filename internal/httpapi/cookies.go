package httpapi

import (
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// cookies names and writes Auther's cookies the way Better Auth does:
// "[__Secure-]<prefix>.session_token" holding url-encoded "<token>.<sig>".
type cookies struct {
	secure       bool
	sessionName  string
	dontRemember string
}

func newCookies(prefix string, baseURL *url.URL) cookies {
	// Secure everywhere except plain-http loopback development, where a
	// browser would drop a Secure cookie.
	secure := !(baseURL.Scheme == "http" && isLoopbackHost(baseURL.Hostname()))
	p := prefix
	if secure {
		p = "__Secure-" + prefix
	}
	return cookies{secure: secure, sessionName: p + ".session_token", dontRemember: p + ".dont_remember"}
}

func isLoopbackHost(h string) bool {
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func (c cookies) make(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: url.QueryEscape(value), Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: c.secure, MaxAge: maxAge}
}

// setSession sets the session cookie. remember=false makes it a browser
// session cookie (no Max-Age) and marks the session as not to be extended.
func (c cookies) setSession(w http.ResponseWriter, signed string, life time.Duration, remember bool, signedTrue string) {
	if remember {
		http.SetCookie(w, c.make(c.sessionName, signed, int(life.Seconds())))
		return
	}
	http.SetCookie(w, c.make(c.sessionName, signed, 0))
	http.SetCookie(w, c.make(c.dontRemember, signedTrue, 0))
}

func (c cookies) clear(w http.ResponseWriter) {
	http.SetCookie(w, c.make(c.sessionName, "", -1))
	http.SetCookie(w, c.make(c.dontRemember, "", -1))
}

// read returns the url-decoded value of the named cookie.
func read(r *http.Request, name string) string {
	ck, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	v, err := url.PathUnescape(ck.Value)
	if err != nil {
		return ""
	}
	return v
}
