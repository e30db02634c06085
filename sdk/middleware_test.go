package sdk_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/auther/auther/sdk"
)

// whoami answers the subject of the request's claims, or "anonymous".
var whoami = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if c, ok := sdk.ClaimsFrom(r.Context()); ok {
		io.WriteString(w, c.Subject)
		return
	}
	io.WriteString(w, "anonymous")
})

type answer struct {
	status  int
	body    string
	wwwAuth string
	json    map[string]string
}

func call(t *testing.T, url, authorization string) answer {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, body: string(b), wwwAuth: resp.Header.Get("WWW-Authenticate")}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		json.Unmarshal(b, &a.json)
	}
	return a
}

func TestMiddlewareRequired(t *testing.T) {
	k := newKey(t, "RS256")
	is := newIssuer(t, k)
	clk := newClock()
	v := newVerifier(t, is, clk)
	app := httptest.NewServer(sdk.Middleware(v)(whoami))
	defer app.Close()

	good := k.sign(t, is.claims(clk.Now(), "user-7"))
	if a := call(t, app.URL, "Bearer "+good); a.status != 200 || a.body != "user-7" {
		t.Fatalf("valid token: %+v", a)
	}
	if a := call(t, app.URL, "bearer "+good); a.status != 200 {
		t.Fatalf("lower-case scheme: %+v", a)
	}
	a := call(t, app.URL, "")
	if a.status != 401 || a.json["error"] != "unauthenticated" || a.wwwAuth != "Bearer" {
		t.Fatalf("no token: %+v", a)
	}
	if a := call(t, app.URL, "Basic dXNlcjpwYXNz"); a.status != 401 {
		t.Fatalf("basic auth: %+v", a)
	}
	expired := is.claims(clk.Now().Add(-2*time.Hour), "user-7")
	a = call(t, app.URL, "Bearer "+k.sign(t, expired))
	if a.status != 401 || a.json["error"] != "unauthenticated" || a.json["message"] != "token expired" ||
		!strings.HasPrefix(a.wwwAuth, `Bearer error="invalid_token"`) {
		t.Fatalf("expired token: %+v", a)
	}
	if a := call(t, app.URL, "Bearer "); a.status != 401 || !strings.Contains(a.wwwAuth, "invalid_token") {
		t.Fatalf("empty token: %+v", a)
	}
}

func TestMiddlewareOptional(t *testing.T) {
	k := newKey(t, "EdDSA")
	is := newIssuer(t, k)
	clk := newClock()
	v := newVerifier(t, is, clk, func(c *sdk.Config) { c.Algorithms = []string{"EdDSA"} })
	app := httptest.NewServer(sdk.Middleware(v, sdk.Optional())(whoami))
	defer app.Close()

	if a := call(t, app.URL, ""); a.status != 200 || a.body != "anonymous" {
		t.Fatalf("no token: %+v", a)
	}
	if a := call(t, app.URL, "Bearer "+k.sign(t, is.claims(clk.Now(), "user-8"))); a.status != 200 || a.body != "user-8" {
		t.Fatalf("valid token: %+v", a)
	}
	// A token that is present but bad is refused, not downgraded.
	bad := is.claims(clk.Now(), "user-8")
	bad["aud"] = "someone-else"
	if a := call(t, app.URL, "Bearer "+k.sign(t, bad)); a.status != 401 || a.json["message"] != "wrong audience" {
		t.Fatalf("bad token: %+v", a)
	}
}

func TestMiddlewareKeysUnavailableIs503(t *testing.T) {
	gone := newIssuer(t, newKey(t, "RS256"))
	gone.srv.Close()
	clk := newClock()
	v := newVerifier(t, gone, clk, func(c *sdk.Config) { c.Lazy = true })
	app := httptest.NewServer(sdk.Middleware(v)(whoami))
	defer app.Close()
	k := newKey(t, "RS256")
	a := call(t, app.URL, "Bearer "+k.sign(t, gone.claims(clk.Now(), "u")))
	if a.status != 503 || a.json["error"] != "unavailable" {
		t.Fatalf("%+v", a)
	}
}

func TestRequireScope(t *testing.T) {
	k := newKey(t, "RS256")
	is := newIssuer(t, k)
	clk := newClock()
	v := newVerifier(t, is, clk)
	app := httptest.NewServer(sdk.Middleware(v)(sdk.RequireScope("email")(whoami)))
	defer app.Close()
	appAdmin := httptest.NewServer(sdk.Middleware(v)(sdk.RequireScope("admin")(whoami)))
	defer appAdmin.Close()
	tok := k.sign(t, is.claims(clk.Now(), "user-9"))
	if a := call(t, app.URL, "Bearer "+tok); a.status != 200 || a.body != "user-9" {
		t.Fatalf("granted scope: %+v", a)
	}
	a := call(t, appAdmin.URL, "Bearer "+tok)
	if a.status != 403 || a.json["error"] != "insufficient_scope" || !strings.Contains(a.wwwAuth, "insufficient_scope") {
		t.Fatalf("missing scope: %+v", a)
	}
}
