package browsertest

import (
	"context"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Callback is one authorization response the relying party received.
type Callback struct {
	Query url.Values // code, state, iss, or error and error_description
}

// RelyingParty is a minimal OIDC client web app: its callback URL records
// every query it is sent and shows a small page.
type RelyingParty struct {
	// CallbackURL is the redirect URI to register.
	CallbackURL string

	srv     *http.Server
	mu      sync.Mutex
	got     []Callback
	changed chan struct{}
}

var rpPage = template.Must(template.New("rp").Parse(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Test app</title></head>
<body><main><h1 id="rp-result">{{if .Get "code"}}Signed in to the test app{{else}}Sign-in failed: {{.Get "error"}}{{end}}</h1></main></body></html>`))

// StartRelyingParty listens on a free loopback port.
func StartRelyingParty() (*RelyingParty, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rp := &RelyingParty{CallbackURL: "http://" + ln.Addr().String() + "/callback", changed: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /callback", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		rp.mu.Lock()
		rp.got = append(rp.got, Callback{Query: q})
		close(rp.changed)
		rp.changed = make(chan struct{})
		rp.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		rpPage.Execute(w, q)
	})
	rp.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go rp.srv.Serve(ln)
	return rp, nil
}

// Received returns the callbacks so far, oldest first.
func (rp *RelyingParty) Received() []Callback {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return append([]Callback(nil), rp.got...)
}

// Wait returns the first callback, waiting until one arrives or ctx ends.
func (rp *RelyingParty) Wait(ctx context.Context) (Callback, error) {
	for {
		rp.mu.Lock()
		got, changed := rp.got, rp.changed
		rp.mu.Unlock()
		if len(got) > 0 {
			return got[0], nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return Callback{}, ctx.Err()
		}
	}
}

// Close stops the server.
func (rp *RelyingParty) Close() { rp.srv.Close() }
