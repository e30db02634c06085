package sdk_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/auther/auther/sdk"
	"github.com/go-jose/go-jose/v4"
)

// standIn is a minimal stand-in for Auther in the examples: it publishes a
// JWKS at /api/auth/jwks and signs access tokens the way Auther does. In an
// application, Issuer is Auther's base URL and tokens come from clients.
type standIn struct {
	*httptest.Server
	key *rsa.PrivateKey
}

func startAuther() *standIn {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		log.Fatal(err)
	}
	a := &standIn{key: key}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"},
		}})
	}))
	return a
}

// accessToken returns an access token for user, issued to client "my-app".
func (a *standIn) accessToken(user, scope string) string {
	now := time.Now()
	claims, _ := json.Marshal(map[string]any{
		"iss": a.URL, "sub": user, "aud": "my-app", "client_id": "my-app", "scope": scope,
		"jti": "j1", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "auth_time": now.Unix(),
	})
	s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: a.key},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", "k1"))
	jws, _ := s.Sign(claims)
	tok, _ := jws.CompactSerialize()
	return tok
}

func ExampleNewVerifier() {
	auther := startAuther()
	defer auther.Close()

	v, err := sdk.NewVerifier(context.Background(), sdk.Config{
		Issuer:   auther.URL, // e.g. "https://id.example.com"
		Audience: "my-app",   // your OAuth client id
	})
	if err != nil {
		log.Fatal(err)
	}
	claims, err := v.Verify(context.Background(), auther.accessToken("user-42", "openid email"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(claims.Subject, claims.Scopes(), claims.HasScope("email"))

	_, err = v.Verify(context.Background(), "not-a-token")
	fmt.Println(errors.Is(err, sdk.ErrMalformed))
	// Output:
	// user-42 [openid email] true
	// true
}

func ExampleMiddleware() {
	auther := startAuther()
	defer auther.Close()
	v, err := sdk.NewVerifier(context.Background(), sdk.Config{Issuer: auther.URL, Audience: "my-app"})
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		c, _ := sdk.ClaimsFrom(r.Context()) // always present behind the required middleware
		fmt.Fprintf(w, "hello %s", c.Subject)
	})
	// With chi, the same value goes to r.Use(sdk.Middleware(v)).
	app := sdk.Middleware(v)(mux)

	for _, auth := range []string{"", "Bearer " + auther.accessToken("user-42", "openid")} {
		req := httptest.NewRequest("GET", "/me", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		app.ServeHTTP(rec, req)
		fmt.Println(rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	// Output:
	// 401 {"error":"unauthenticated","message":"missing bearer token"}
	// 200 hello user-42
}

func ExampleOptional() {
	auther := startAuther()
	defer auther.Close()
	v, err := sdk.NewVerifier(context.Background(), sdk.Config{Issuer: auther.URL, Audience: "my-app"})
	if err != nil {
		log.Fatal(err)
	}
	// A page that greets signed-in users and serves everyone else too.
	app := sdk.Middleware(v, sdk.Optional())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, ok := sdk.ClaimsFrom(r.Context()); ok {
			fmt.Fprint(w, "welcome back ", c.Subject)
			return
		}
		fmt.Fprint(w, "welcome, stranger")
	}))
	for _, auth := range []string{"", "Bearer " + auther.accessToken("user-42", "openid"), "Bearer forged"} {
		req := httptest.NewRequest("GET", "/", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		app.ServeHTTP(rec, req)
		fmt.Println(rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	// Output:
	// 200 welcome, stranger
	// 200 welcome back user-42
	// 401 {"error":"unauthenticated","message":"malformed token"}
}

// Frameworks with their own handler types (gin, echo) need a few lines of
// adapter around Authenticate and WriteAuthError; docs/sdk.md has both. The
// shape is the same as this plain net/http one.
func ExampleVerifier_Authenticate() {
	auther := startAuther()
	defer auther.Close()
	v, err := sdk.NewVerifier(context.Background(), sdk.Config{Issuer: auther.URL, Audience: "my-app"})
	if err != nil {
		log.Fatal(err)
	}
	handler := func(w http.ResponseWriter, r *http.Request) {
		claims, err := v.Authenticate(r)
		if err != nil {
			sdk.WriteAuthError(w, err) // 401 (or 503) with the SDK's JSON body
			return
		}
		r = r.WithContext(sdk.WithClaims(r.Context(), claims))
		fmt.Fprint(w, "ok ", claims.Subject)
	}
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Authorization", "Bearer "+auther.accessToken("user-7", "openid"))
	rec := httptest.NewRecorder()
	handler(rec, req)
	fmt.Println(rec.Code, rec.Body.String())
	// Output:
	// 200 ok user-7
}

func ExampleWebhookHandler() {
	const secret = "whsec_c2hvd24tb25jZS1pbi10aGUtYWRtaW4tdWktMDEyMzQ1"
	h := sdk.WebhookHandler(sdk.WebhookConfig{
		Secrets: []string{secret}, // during a rotation: {new, old}
		Dedup:   sdk.NewMemoryDeduper(),
		Handle: func(ctx context.Context, e sdk.Event) error {
			if e.Type == sdk.EventUserCreated {
				u, err := e.User()
				if err != nil {
					return err
				}
				fmt.Println("applying", e.Type, u.ID, u.Email)
			}
			return nil
		},
	})

	// What Auther sends.
	body := []byte(`{"id":"evt_1","origin":"auther","type":"user.created","timestamp":` + strconv.FormatInt(time.Now().UnixMilli(), 10) +
		`,"data":{"id":"u1","email":"ada@example.com","name":"Ada","emailVerified":false,"image":null,"createdAt":"2026-11-29T10:00:00.000Z"}}`)
	ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
	for range 2 { // a delivery and its replay
		req := httptest.NewRequest("POST", "/webhooks/auther", strings.NewReader(string(body)))
		req.Header.Set("x-webhook-id", "evt_1")
		req.Header.Set("x-webhook-timestamp", ts)
		req.Header.Set("x-webhook-signature", sdk.SignWebhook(secret, ts, body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Println(rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	// Output:
	// applying user.created u1 ada@example.com
	// 200 {"status":"ok"}
	// 200 {"status":"duplicate"}
}

// openSQLite opens a throw-away SQLite database the way an app should: with
// a busy timeout, so concurrent writers wait instead of failing.
func openSQLite() (*sql.DB, func()) {
	dir, err := os.MkdirTemp("", "sdk-example")
	if err != nil {
		log.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "app.db")+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
	if err != nil {
		log.Fatal(err)
	}
	return db, func() { db.Close(); os.RemoveAll(dir) }
}

func ExampleShadowStore_EnsureFromClaims() {
	db, done := openSQLite()
	defer done()
	shadow := sdk.NewShadowStore(db, sdk.SQLite) // sdk.Postgres with pgx
	if err := shadow.Migrate(context.Background()); err != nil {
		log.Fatal(err)
	}

	// In a handler behind the middleware: claims, _ := sdk.ClaimsFrom(r.Context())
	claims := &sdk.Claims{Subject: "user-42", ClientID: "my-app"}
	u, created, err := shadow.EnsureFromClaims(context.Background(), claims)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(u.ID, u.Email, created)
	_, created, _ = shadow.EnsureFromClaims(context.Background(), claims)
	fmt.Println("second request created:", created)
	// Output:
	// user-42 user-42@unknown.local true
	// second request created: false
}

func ExampleShadowStore_ApplyEvent() {
	db, done := openSQLite()
	defer done()
	shadow := sdk.NewShadowStore(db, sdk.SQLite)
	ctx := context.Background()
	if err := shadow.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	// Usually: sdk.WebhookConfig{..., Handle: shadow.ApplyEvent}
	created := sdk.Event{ID: "evt_1", Type: sdk.EventUserCreated, Data: json.RawMessage(
		`{"id":"u1","email":"ada@example.com","name":"Ada","emailVerified":true,"image":null,"createdAt":"2026-11-29T10:00:00.000Z"}`)}
	deleted := sdk.Event{ID: "evt_2", Type: sdk.EventUserDeleted, Data: json.RawMessage(
		`{"id":"u1","email":"ada@example.com","deletedAt":"2026-11-29T11:00:00.000Z"}`)}
	for _, e := range []sdk.Event{created, deleted} {
		out, err := shadow.Apply(ctx, e)
		fmt.Println(e.Type, out, err)
	}
	// Ada's access token is valid for a while longer; it cannot bring her back.
	_, _, err := shadow.EnsureFromClaims(ctx, &sdk.Claims{Subject: "u1"})
	fmt.Println(errors.Is(err, sdk.ErrUserDeleted))
	// Output:
	// user.created created <nil>
	// user.deleted deleted <nil>
	// true
}

func ExampleSQLDeduper_CompleteTx() {
	db, done := openSQLite()
	defer done()
	ctx := context.Background()
	shadow := sdk.NewShadowStore(db, sdk.SQLite)
	dedup := sdk.NewSQLDeduper(db, sdk.SQLite)
	if err := shadow.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	if err := dedup.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	const secret = "whsec_c2hvd24tb25jZS1pbi10aGUtYWRtaW4tdWktMDEyMzQ1"
	h := sdk.WebhookHandler(sdk.WebhookConfig{
		Secrets: []string{secret},
		Dedup:   dedup,
		// The event's writes and its "processed" mark commit together:
		// applied exactly once, even if the app dies right after.
		Handle: func(ctx context.Context, e sdk.Event) error {
			claim, _ := sdk.WebhookClaim(ctx)
			tx, err := shadow.BeginTx(ctx)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			if err := dedup.CompleteTx(ctx, tx, e.ID, claim); err != nil {
				return err // ErrClaimLost: another delivery took it over
			}
			out, err := shadow.ApplyTx(ctx, tx, e)
			if err != nil {
				return err
			}
			fmt.Println("applying", e.Type, out)
			return tx.Commit()
		},
	})

	body := []byte(`{"id":"evt_1","origin":"auther","type":"user.created","timestamp":` + strconv.FormatInt(time.Now().UnixMilli(), 10) +
		`,"data":{"id":"u1","email":"ada@example.com","name":"Ada","emailVerified":false,"image":null,"createdAt":"2026-11-29T10:00:00.000Z"}}`)
	ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
	for range 2 { // a delivery and its replay
		req := httptest.NewRequest("POST", "/webhooks/auther", strings.NewReader(string(body)))
		req.Header.Set("x-webhook-id", "evt_1")
		req.Header.Set("x-webhook-timestamp", ts)
		req.Header.Set("x-webhook-signature", sdk.SignWebhook(secret, ts, body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Println(rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	// Output:
	// applying user.created created
	// 200 {"status":"ok"}
	// 200 {"status":"duplicate"}
}

func ExampleReconcile() {
	// A stand-in for Auther's admin API holding one user, renamed while the
	// app missed the webhook.
	admin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ada := map[string]any{"id": "u1", "email": "ada@example.com", "name": "Ada Lovelace", "image": nil,
			"emailVerified": true, "createdAt": "2026-11-29T10:00:00.000Z", "updatedAt": "2026-11-30T08:00:00.000Z", "role": "user"}
		switch r.URL.Path {
		case "/api/admin/users":
			json.NewEncoder(w).Encode(map[string]any{"users": []any{ada}, "nextCursor": nil})
		case "/api/admin/users/u1":
			json.NewEncoder(w).Encode(ada)
		default:
			w.WriteHeader(404)
			json.NewEncoder(w).Encode(map[string]string{"code": "USER_NOT_FOUND", "message": "No such user"})
		}
	}))
	defer admin.Close()

	db, done := openSQLite()
	defer done()
	shadow := sdk.NewShadowStore(db, sdk.SQLite)
	ctx := context.Background()
	if err := shadow.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	shadow.Apply(ctx, sdk.Event{ID: "evt_1", Type: sdk.EventUserCreated, Data: json.RawMessage(
		`{"id":"u1","email":"ada@example.com","name":"Ada","emailVerified":true,"image":null,"createdAt":"2026-11-29T10:00:00.000Z"}`)})
	shadow.EnsureFromClaims(ctx, &sdk.Claims{Subject: "u2"}) // deleted in Auther since

	report, err := sdk.Reconcile(ctx, shadow, &sdk.AdminClient{BaseURL: admin.URL, Token: "admin-token"})
	if err != nil {
		log.Fatal(err)
	}
	u, _ := shadow.Get(ctx, "u1")
	fmt.Printf("%+v %s\n", report, u.Name)
	// Output:
	// {Checked:2 Updated:1 Deleted:1 NotFound:1} Ada Lovelace
}
