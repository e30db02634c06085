package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/auther/auther/internal/httpapi"
	"github.com/auther/auther/internal/keys"
	"github.com/auther/auther/internal/store/sqlstore"
	"github.com/auther/auther/internal/testdb"
)

func TestAdminClientAPI(t *testing.T) {
	testdb.Each(t, func(t *testing.T, st *sqlstore.Store) {
		o := newOIDCEnv(t, st, keys.ES256)
		if _, err := o.auth.CreateUser(context.Background(), "Root", "root@example.com", pw, true, true); err != nil {
			t.Fatal(err)
		}
		admin := o.client()
		admin.post("/api/auth/sign-in/email", map[string]any{"email": "root@example.com", "password": pw})
		user := o.client()
		user.signUp("plain@example.com", pw)

		body := map[string]any{"name": "Billing", "redirect_uris": []string{"https://billing.example.com/cb"}, "skip_consent": true, "access_token_ttl": 600}
		if r := user.post("/api/admin/clients", body); r.Status != 403 || r.code(t) != "FORBIDDEN" {
			t.Fatalf("non-admin create: %d %s", r.Status, r.Body)
		}
		if r := o.client().get("/api/admin/clients"); r.Status != 401 {
			t.Fatalf("anonymous list: %d", r.Status)
		}
		if r := admin.post("/api/admin/clients", body, "Origin", ""); r.Status != 403 {
			t.Fatalf("cookie-bearing admin POST without Origin: %d", r.Status)
		}
		r := admin.post("/api/admin/clients", body)
		if r.Status != 201 {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
		created := r.json(t)
		id, secret := created["client_id"].(string), created["client_secret"].(string)
		if len(secret) < 43 || created["type"] != "confidential" || created["access_token_ttl"].(float64) != 600 {
			t.Fatalf("created = %v", created)
		}
		if r := admin.post("/api/admin/clients", map[string]any{"name": "Bad", "redirect_uris": []string{"http://evil.example/cb"}}); r.Status != 400 || r.code(t) != "INVALID_CLIENT_METADATA" {
			t.Errorf("plain-http redirect URI accepted: %d %s", r.Status, r.Body)
		}
		var list []map[string]any
		json.Unmarshal(admin.get("/api/admin/clients").Body, &list)
		if len(list) != 1 || list[0]["client_secret"] != nil {
			t.Fatalf("list = %v (secrets must never be listed)", list)
		}
		// The secret works at the token endpoint (client_credentials is not
		// granted, so the answer is unauthorized_client, not invalid_client).
		form := url.Values{"grant_type": {"client_credentials"}}
		if r := tokenPost(t, o, "/api/auth/oauth2/token", id, secret, form); r.json(t)["error"] != "unauthorized_client" {
			t.Fatalf("fresh secret: %s", r.Body)
		}
		rot := admin.post("/api/admin/clients/"+id+"/rotate-secret", nil)
		newSecret, _ := rot.json(t)["client_secret"].(string)
		if rot.Status != 200 || newSecret == "" || newSecret == secret {
			t.Fatalf("rotate: %d %s", rot.Status, rot.Body)
		}
		if r := tokenPost(t, o, "/api/auth/oauth2/token", id, secret, form); r.Status != 401 {
			t.Errorf("old secret still accepted after rotation: %d %s", r.Status, r.Body)
		}
		req, _ := http.NewRequest(http.MethodPatch, o.srv.URL+"/api/admin/clients/"+id, jsonBody(map[string]any{"disabled": true, "name": "Billing v2"}))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", o.origin)
		resp, err := admin.http.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("patch: %v %v", resp, err)
		}
		resp.Body.Close()
		if g := admin.get("/api/admin/clients/" + id).json(t); g["disabled"] != true || g["name"] != "Billing v2" {
			t.Errorf("after patch: %v", g)
		}
		if r := tokenPost(t, o, "/api/auth/oauth2/token", id, newSecret, form); r.Status != 401 {
			t.Errorf("disabled client authenticated: %d", r.Status)
		}
		del, _ := http.NewRequest(http.MethodDelete, o.srv.URL+"/api/admin/clients/"+id, nil)
		del.Header.Set("Origin", o.origin)
		resp, _ = admin.http.Do(del)
		resp.Body.Close()
		if r := admin.get("/api/admin/clients/" + id); r.Status != 404 {
			t.Errorf("deleted client still there: %d", r.Status)
		}
	})
}

func TestDynamicRegistrationIsGated(t *testing.T) {
	st := testdb.SQLite(t)
	off := newOIDCEnv(t, st, keys.ES256)
	body := map[string]any{"client_name": "Dyn", "redirect_uris": []string{"https://dyn.example.com/cb"}}
	if r := off.client().post("/api/auth/oauth2/register", body); r.Status != 404 {
		t.Fatalf("registration while off: %d", r.Status)
	}
	on := newOIDCEnvWith(t, st, func(o *httpapi.Options) {
		o.DynamicRegistration, o.RegistrationSecret = true, "registration-secret-123"
	})
	if r := on.client().post("/api/auth/oauth2/register", body); r.Status != 403 {
		t.Fatalf("registration without the secret: %d %s", r.Status, r.Body)
	}
	r := on.client().post("/api/auth/oauth2/register", body, "x-internal-signup-secret", "registration-secret-123")
	if r.Status != 201 {
		t.Fatalf("registration: %d %s", r.Status, r.Body)
	}
	got := r.json(t)
	if got["client_secret"] == nil || got["token_endpoint_auth_method"] != "client_secret_basic" {
		t.Errorf("registered = %v", got)
	}
	if _, err := st.GetClient(context.Background(), got["client_id"].(string)); err != nil {
		t.Error("registered client not stored")
	}
	bad := map[string]any{"client_name": "Bad", "redirect_uris": []string{"https://dyn.example.com/cb#frag"}}
	if r := on.client().post("/api/auth/oauth2/register", bad, "x-internal-signup-secret", "registration-secret-123"); r.Status != 400 || r.json(t)["error"] != "invalid_redirect_uri" {
		t.Errorf("fragment redirect: %d %s", r.Status, r.Body)
	}
}
