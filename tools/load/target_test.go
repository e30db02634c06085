package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestParseTargetLoopbackOnly(t *testing.T) {
	allowed := map[string]target{
		"http://127.0.0.1:3000":          {"http://127.0.0.1:3000", "http://127.0.0.1:3000"},
		"http://127.0.0.1:3000/":         {"http://127.0.0.1:3000", "http://127.0.0.1:3000"},
		"http://127.255.255.254":         {"http://127.255.255.254", "http://127.255.255.254"},
		"http://localhost:8080":          {"http://localhost:8080", "http://localhost:8080"},
		"http://LocalHost:8080":          {"http://LocalHost:8080", "http://LocalHost:8080"},
		"https://[::1]:3443":             {"https://[::1]:3443", "https://[::1]:3443"},
		"http://[::ffff:127.0.0.1]:3000": {"http://[::ffff:127.0.0.1]:3000", "http://[::ffff:127.0.0.1]:3000"},
		"http://127.0.0.1:3000/prefix/":  {"http://127.0.0.1:3000/prefix", "http://127.0.0.1:3000"},
		"http://127.0.0.1:3000/a/b":      {"http://127.0.0.1:3000/a/b", "http://127.0.0.1:3000"},
		"http://127.1.2.3:9/":            {"http://127.1.2.3:9", "http://127.1.2.3:9"},
		"http://[0:0:0:0:0:0:0:1]:3000/": {"http://[0:0:0:0:0:0:0:1]:3000", "http://[0:0:0:0:0:0:0:1]:3000"},
		"http://localhost":               {"http://localhost", "http://localhost"},
	}
	for raw, want := range allowed {
		got, err := parseTarget(raw)
		if err != nil {
			t.Errorf("parseTarget(%q) refused: %v", raw, err)
			continue
		}
		if got != want {
			t.Errorf("parseTarget(%q) = %+v, want %+v", raw, got, want)
		}
	}

	refused := []string{
		"http://128.0.0.1:3000",          // just outside 127/8
		"http://126.255.255.255",         // just below
		"http://10.0.0.1:3000",           // private
		"http://192.168.1.10",            // private
		"http://0.0.0.0:3000",            // unspecified, not loopback
		"http://[::]:3000",               // unspecified v6
		"http://[::2]:3000",              // not ::1
		"http://[::ffff:10.0.0.1]:3000",  // mapped non-loopback
		"http://example.com",             // public name
		"http://localhost.example.com",   // name merely starting with localhost
		"http://foo.localhost",           // subdomain of localhost
		"http://127.0.0.1.nip.io",        // DNS name embedding a loopback IP
		"http://2130706433",              // decimal form of 127.0.0.1
		"http://0x7f000001",              // hex form
		"http://127.1",                   // short form (not a valid literal)
		"http://127.0.0.1@example.com/",  // userinfo trick: host is example.com
		"http://user:pw@127.0.0.1:3000/", // userinfo refused outright
		"ftp://127.0.0.1",                // wrong scheme
		"127.0.0.1:3000",                 // no scheme
		"//127.0.0.1:3000",               // scheme-relative
		"http:///api",                    // empty host
		"http://127.0.0.1:3000/?x=1",     // query
		"",
	}
	for _, raw := range refused {
		if got, err := parseTarget(raw); err == nil {
			t.Errorf("parseTarget(%q) = %+v, want refusal", raw, got)
		}
	}
}

func TestCheckDialAddr(t *testing.T) {
	for _, a := range []string{"127.0.0.1:3000", "127.9.9.9:1", "[::1]:3000", "[::ffff:127.0.0.1]:80"} {
		if err := checkDialAddr(a); err != nil {
			t.Errorf("checkDialAddr(%q) = %v, want nil", a, err)
		}
	}
	for _, a := range []string{"192.0.2.1:80", "[2001:db8::1]:443", "0.0.0.0:80", "localhost:80", "garbage"} {
		if err := checkDialAddr(a); err == nil {
			t.Errorf("checkDialAddr(%q) = nil, want refusal", a)
		}
	}
}

// The client must refuse to connect to a non-loopback address even if asked
// to directly. The check runs before connect(2), so nothing leaves the host
// (192.0.2.1 is TEST-NET-1 anyway).
func TestClientRefusesNonLoopbackDial(t *testing.T) {
	c := newClient(1, 2*time.Second)
	resp, err := c.Get("http://192.0.2.1:9/")
	if err == nil {
		resp.Body.Close()
		t.Fatal("request to a non-loopback address succeeded")
	}
	if !strings.Contains(err.Error(), "refusing to dial non-loopback") {
		t.Fatalf("unexpected error: %v", err)
	}
}

// Redirects are surfaced as responses, never followed.
func TestClientDoesNotFollowRedirects(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://192.0.2.1/elsewhere", http.StatusFound)
	}))
	defer srv.Close()
	resp, err := newClient(1, 2*time.Second).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("status = %d, want 302 (redirect not followed)", resp.StatusCode)
	}
}

func TestRunRefusesNonLoopbackURL(t *testing.T) {
	var out, errb strings.Builder
	code := run(t.Context(), []string{"-url", "http://example.com", "-d", "10ms"}, &out, &errb)
	if code != 2 {
		t.Fatalf("exit code = %d, want 2", code)
	}
	if !strings.Contains(errb.String(), "not loopback") || out.Len() != 0 {
		t.Fatalf("stdout=%q stderr=%q", out.String(), errb.String())
	}
}
