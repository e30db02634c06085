package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// target is a validated base URL that is known to point at loopback.
type target struct {
	base   string // scheme://host[:port][/prefix], no trailing slash
	origin string // scheme://host[:port], sent as the Origin header
}

// parseTarget validates raw and returns the target. It refuses any URL whose
// host is not a loopback literal (127.0.0.0/8, ::1) or the name "localhost":
// this tool must never send traffic anywhere else.
func parseTarget(raw string) (target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return target{}, fmt.Errorf("invalid -url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return target{}, fmt.Errorf("invalid -url %q: scheme must be http or https", raw)
	}
	if u.User != nil {
		return target{}, fmt.Errorf("invalid -url %q: user info is not allowed", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return target{}, fmt.Errorf("invalid -url %q: query and fragment are not allowed", raw)
	}
	if !isLoopbackHost(u.Hostname()) {
		return target{}, fmt.Errorf("refusing -url %q: host %q is not loopback (127.0.0.0/8, ::1 or localhost)", raw, u.Hostname())
	}
	origin := u.Scheme + "://" + u.Host
	return target{base: origin + strings.TrimRight(u.EscapedPath(), "/"), origin: origin}, nil
}

// isLoopbackHost reports whether host (as returned by url.URL.Hostname) is a
// loopback IP literal or exactly "localhost". Other names, even ones that
// resolve to loopback today, are refused.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	return ip.Unmap().IsLoopback()
}

// checkDialAddr is the second line of defence: every connection the HTTP
// client opens is checked after name resolution, so "localhost" mapped to a
// non-loopback address (or any redirect trickery) cannot leave the machine.
func checkDialAddr(address string) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("dial %q: %w", address, err)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.Unmap().IsLoopback() {
		return fmt.Errorf("refusing to dial non-loopback address %q", address)
	}
	return nil
}

// newClient returns the single HTTP client shared by all workers. Idle
// connections per host are sized to the total number of workers so that
// keep-alive connections are reused instead of churned. Redirects are never
// followed and proxies are never used.
func newClient(conns int, timeout time.Duration) *http.Client {
	dialer := &net.Dialer{
		Timeout:   5 * time.Second,
		KeepAlive: 30 * time.Second,
		ControlContext: func(_ context.Context, _, address string, _ syscall.RawConn) error {
			return checkDialAddr(address)
		},
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		MaxIdleConns:          conns,
		MaxIdleConnsPerHost:   conns,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
