package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/auther/auther/internal/store/sqlstore"
	"github.com/auther/auther/internal/testdb"
)

// BenchmarkGetSession measures the server side of get-session (no network)
// and reports the database statements it costs.
func BenchmarkGetSession(b *testing.B) {
	for _, be := range testdb.Backends {
		b.Run(be.Name, func(b *testing.B) {
			st := be.Open(b)
			e := newEnv(b, st)
			c := e.client()
			c.signUp("bench@example.com", pw)
			cookie := "auther.session_token=" + c.cookie("auther.session_token")
			benchGet(b, e.api, st, cookie)
		})
	}
}

func benchGet(b *testing.B, h http.Handler, st *sqlstore.Store, cookie string) {
	req := httptest.NewRequest("GET", "/api/auth/get-session", nil)
	req.Header.Set("Cookie", cookie)
	before := st.Queries()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != 200 || w.Body.Len() < 10 {
				b.Fatalf("get-session: %d %s", w.Code, w.Body)
			}
		}
	})
	b.ReportMetric(float64(st.Queries()-before)/float64(b.N), "queries/op")
}
