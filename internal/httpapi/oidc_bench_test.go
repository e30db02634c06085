package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/auther/auther/internal/keys"
	"github.com/auther/auther/internal/oidc"
	"github.com/auther/auther/internal/testdb"
)

// BenchmarkRefresh measures the token endpoint's refresh grant in process
// (no network): client authentication, rotation in one transaction, and
// signing a new access and ID token, per backend and algorithm.
func BenchmarkRefresh(b *testing.B) {
	for _, be := range testdb.Backends {
		for _, alg := range keys.Supported {
			b.Run(be.Name+"/"+alg, func(b *testing.B) {
				st := be.Open(b)
				o := newOIDCEnvWith(b, st, nil, alg)
				cb := "https://app.example.com/cb"
				id, secret := o.registerClient(b, oidc.ClientSpec{Name: "Bench", RedirectURIs: []string{cb}, SkipConsent: true})
				c := o.client()
				c.signUp("bench@example.com", pw)
				r := c.get(strings.TrimPrefix(authorizeURL(o, id, cb, "openid offline_access"), o.origin))
				loc, _ := url.Parse(r.Header.Get("Location"))
				form := url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")}, "redirect_uri": {cb}}
				rt := exchange(b, o, id, secret, form)["refresh_token"].(string)
				before := st.Queries()
				b.ResetTimer()
				for b.Loop() {
					rt = exchange(b, o, id, secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})["refresh_token"].(string)
				}
				b.ReportMetric(float64(st.Queries()-before)/float64(b.N), "queries/op")
			})
		}
	}
}

func exchange(b testing.TB, o *oidcEnv, id, secret string, form url.Values) map[string]any {
	req := httptest.NewRequest(http.MethodPost, "/api/auth/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	w := httptest.NewRecorder()
	o.api.ServeHTTP(w, req)
	var m map[string]any
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &m) != nil {
		b.Fatalf("token: %d %s", w.Code, w.Body)
	}
	return m
}
