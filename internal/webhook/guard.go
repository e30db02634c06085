package webhook

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrPrivateAddress: the receiver resolved to an address webhooks may not
// reach.
var ErrPrivateAddress = errors.New("webhook: the receiver's address is loopback, private or link-local")

// publicOnly refuses loopback, private, link-local, multicast and
// unspecified addresses. It runs on the address actually dialled, after
// DNS, so a name that resolves (or later rebinds) to an internal address is
// caught too: an admin-registered URL must not become a way to read
// internal services (a debug listener, a cloud metadata endpoint) through
// the test call or the attempt log.
func publicOnly(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrPrivateAddress, address)
	}
	if a := ap.Addr(); !isPublic(a) {
		return fmt.Errorf("%w: %s", ErrPrivateAddress, a.Unmap())
	}
	return nil
}

// isPublic reports whether a is a global unicast address outside the
// private ranges (global unicast already excludes loopback, link-local,
// multicast and unspecified addresses).
func isPublic(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsGlobalUnicast() && !a.IsPrivate()
}

// NewClient is the HTTP client deliveries use: 10 s timeout, redirects not
// followed (a redirect is a failed delivery, not a new destination) and,
// unless allowPrivate, only public addresses.
func NewClient(allowPrivate bool) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = publicOnly
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = d.DialContext
	t.Proxy = nil // a proxy would dial for us and bypass the address check
	t.MaxIdleConnsPerHost = 16
	return &http.Client{Timeout: 10 * time.Second, Transport: t,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}
