package sdk_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auther/auther/sdk"
)

const adminToken = "admin-session-token"

// adminAPI serves Auther's two admin user endpoints over a set of users,
// following the wire contract: users in id order, cursor = last id,
// 404 USER_NOT_FOUND, bearer authentication.
type adminAPI struct {
	srv   *httptest.Server
	mu    sync.Mutex
	users map[string]sdk.AdminUser
	lists atomic.Int64
	gets  atomic.Int64
	// afterList runs after each list page is served (and before the
	// client reads it): something that happens meanwhile at the app.
	afterList func()
	// descending lists users in the opposite order from the app's table,
	// as a database with another collation might.
	descending bool
}

func newAdminAPI(t *testing.T, users ...sdk.AdminUser) *adminAPI {
	a := &adminAPI{users: map[string]sdk.AdminUser{}}
	for _, u := range users {
		a.users[u.ID] = u
	}
	writeJSON := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	}
	mux := http.NewServeMux()
	auth := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer "+adminToken {
				writeJSON(w, 401, map[string]string{"code": "UNAUTHORIZED", "message": "sign in as an admin"})
				return
			}
			h(w, r)
		}
	}
	mux.HandleFunc("GET /api/admin/users", auth(func(w http.ResponseWriter, r *http.Request) {
		a.lists.Add(1)
		// As Auther: 100 by default, 1 to 500, anything else refused.
		limit := 100
		if l := r.URL.Query().Get("limit"); l != "" {
			var err error
			if limit, err = strconv.Atoi(l); err != nil || limit < 1 || limit > 500 {
				writeJSON(w, 400, map[string]string{"code": "VALIDATION_ERROR", "message": "[query.limit] Expected a number from 1 to 500"})
				return
			}
		}
		after := r.URL.Query().Get("after")
		a.mu.Lock()
		var ids []string
		for id := range a.users {
			if after == "" || (!a.descending && id > after) || (a.descending && id < after) {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids)
		if a.descending {
			slices.Reverse(ids)
		}
		page := []sdk.AdminUser{}
		for _, id := range ids {
			if len(page) == limit {
				break
			}
			page = append(page, a.users[id])
		}
		a.mu.Unlock()
		var next *string
		if len(page) == limit && len(ids) > limit {
			last := page[len(page)-1].ID
			next = &last
		}
		writeJSON(w, 200, map[string]any{"users": page, "nextCursor": next})
		if a.afterList != nil {
			a.afterList()
		}
	}))
	mux.HandleFunc("GET /api/admin/users/{id}", auth(func(w http.ResponseWriter, r *http.Request) {
		a.gets.Add(1)
		a.mu.Lock()
		u, ok := a.users[r.PathValue("id")]
		a.mu.Unlock()
		if !ok {
			writeJSON(w, 404, map[string]string{"code": "USER_NOT_FOUND", "message": "User not found"})
			return
		}
		writeJSON(w, 200, u)
	}))
	a.srv = httptest.NewServer(mux)
	t.Cleanup(a.srv.Close)
	return a
}

func (a *adminAPI) client() *sdk.AdminClient {
	return &sdk.AdminClient{BaseURL: a.srv.URL, Token: adminToken}
}

func strp(s string) *string { return &s }

func adminUser(id, email, name string, verified bool, image *string, updated time.Time) sdk.AdminUser {
	return sdk.AdminUser{ID: id, Email: email, Name: name, EmailVerified: verified, Image: image,
		CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), UpdatedAt: updated, Role: "user"}
}

func TestAdminClient(t *testing.T) {
	t1 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var users []sdk.AdminUser
	for i := range 5 {
		users = append(users, adminUser("u"+strconv.Itoa(i), "u"+strconv.Itoa(i)+"@example.com", "U", true, nil, t1))
	}
	api := newAdminAPI(t, users...)
	c := api.client()
	ctx := context.Background()
	var all []string
	after := ""
	for {
		page, next, err := c.ListUsers(ctx, 2, after)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range page {
			all = append(all, u.ID)
		}
		if next == "" {
			break
		}
		after = next
	}
	if strings.Join(all, ",") != "u0,u1,u2,u3,u4" {
		t.Fatalf("listed %v", all)
	}
	u, err := c.GetUser(ctx, "u3")
	if err != nil || u.Email != "u3@example.com" || !u.UpdatedAt.Equal(t1) || u.Role != "user" {
		t.Fatalf("%+v %v", u, err)
	}
	if _, err := c.GetUser(ctx, "nobody"); !errors.Is(err, sdk.ErrUserNotFound) {
		t.Fatalf("missing user: %v", err)
	}
	bad := &sdk.AdminClient{BaseURL: api.srv.URL, Token: "wrong"}
	var apiErr *sdk.APIError
	if _, err := bad.GetUser(ctx, "u3"); !errors.As(err, &apiErr) || apiErr.Status != 401 || errors.Is(err, sdk.ErrUserNotFound) {
		t.Fatalf("wrong token: %v", err)
	}
	// A 404 that is not Auther's USER_NOT_FOUND (wrong base URL) is an error,
	// never "the user is gone".
	wrong := &sdk.AdminClient{BaseURL: api.srv.URL + "/prefix", Token: adminToken}
	if _, err := wrong.GetUser(ctx, "u3"); err == nil || errors.Is(err, sdk.ErrUserNotFound) {
		t.Fatalf("wrong base URL: %v", err)
	}
}

func TestReconcileFixesDrift(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sql.DB, d sdk.Dialect) {
		clk := newClock()
		s := newShadow(t, db, d, clk)
		ctx := context.Background()
		t1 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		t2 := t1.Add(24 * time.Hour)
		apply := func(typ, data string) {
			t.Helper()
			if _, err := s.Apply(ctx, userEvent(typ, "x", clk.Now(), data)); err != nil {
				t.Fatal(err)
			}
		}
		// Local state: a in sync, b stale (missed user.updated), c deleted
		// in Auther while the app was down, d made from a token only, f
		// with the image removed in Auther.
		apply("user.created", `{"id":"a","email":"a@example.com","name":"A","emailVerified":true,"image":null,"createdAt":"2026-11-01T00:00:00.000Z"}`)
		apply("user.created", `{"id":"b","email":"b@old.example","name":"B old","emailVerified":false,"image":null,"createdAt":"2026-11-01T00:00:00.000Z"}`)
		apply("user.created", `{"id":"c","email":"c@example.com","name":"C","emailVerified":true,"image":null,"createdAt":"2026-11-01T00:00:00.000Z"}`)
		if _, _, err := s.EnsureFromClaims(ctx, &sdk.Claims{Subject: "d"}); err != nil {
			t.Fatal(err)
		}
		apply("user.created", `{"id":"f","email":"f@example.com","name":"F","emailVerified":true,"image":"https://img/f.png","createdAt":"2026-11-01T00:00:00.000Z"}`)

		api := newAdminAPI(t,
			adminUser("a", "a@example.com", "A", true, nil, t1),
			adminUser("b", "b@new.example", "B new", true, strp("https://img/b.png"), t2),
			adminUser("d", "d@example.com", "Dee", false, nil, t1),
			adminUser("e", "e@example.com", "E", false, nil, t1), // never used the app
			adminUser("f", "f@example.com", "F", true, nil, t2),
		)
		rec := &sdk.Reconciler{Shadow: s, Admin: api.client(), PageSize: 2}
		rep, err := rec.Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if rep != (sdk.ReconcileReport{Checked: 5, Updated: 3, Deleted: 1, NotFound: 1}) {
			t.Fatalf("report %+v", rep)
		}
		b, _ := s.Get(ctx, "b")
		if b.Email != "b@new.example" || b.Name != "B new" || !b.EmailVerified || b.Image == nil || *b.Image != "https://img/b.png" || !b.UpdatedAt.Equal(t2) {
			t.Fatalf("b after reconcile: %+v", b)
		}
		dd, _ := s.Get(ctx, "d")
		if dd.Email != "d@example.com" || dd.Name != "Dee" || dd.SyncedAt.IsZero() {
			t.Fatalf("d after reconcile: %+v", dd)
		}
		if f, _ := s.Get(ctx, "f"); f.Image != nil {
			t.Fatalf("f's image not removed: %+v", f)
		}
		if _, err := s.Get(ctx, "c"); !errors.Is(err, sdk.ErrNoShadowUser) {
			t.Fatalf("c survived: %v", err)
		}
		if ok, _ := s.Tombstoned(ctx, "c"); !ok {
			t.Fatal("c not tombstoned")
		}
		if _, err := s.Get(ctx, "e"); !errors.Is(err, sdk.ErrNoShadowUser) {
			t.Fatalf("reconcile created a user the app never saw: %v", err)
		}
		// The walk used the list: one GET, for the user the list lacked.
		if api.gets.Load() != 1 {
			t.Fatalf("%d single-user lookups", api.gets.Load())
		}
		// A second run finds nothing to do.
		rep, err = sdk.Reconcile(ctx, s, api.client())
		if err != nil || rep != (sdk.ReconcileReport{Checked: 4}) {
			t.Fatalf("second run %+v %v", rep, err)
		}
		// Auther unreachable or refusing: nothing is deleted.
		bad := &sdk.Reconciler{Shadow: s, Admin: &sdk.AdminClient{BaseURL: api.srv.URL, Token: "expired"}}
		if _, err := bad.Run(ctx); err == nil {
			t.Fatal("reconcile with a bad token succeeded")
		}
		if n := countRows(t, db, "SELECT COUNT(*) FROM users"); n != 4 {
			t.Fatalf("%d rows after a failed run", n)
		}
	})
}

func TestReconcileWithListInAnotherOrder(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sql.DB, d sdk.Dialect) {
		clk := newClock()
		s := newShadow(t, db, d, clk)
		ctx := context.Background()
		t1 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		var users []sdk.AdminUser
		for i := range 7 {
			id := "u" + strconv.Itoa(i)
			if _, _, err := s.EnsureFromClaims(ctx, &sdk.Claims{Subject: id}); err != nil {
				t.Fatal(err)
			}
			if i != 3 { // u3 was deleted in Auther
				users = append(users, adminUser(id, id+"@example.com", "User "+id, true, nil, t1))
			}
		}
		api := newAdminAPI(t, users...)
		api.descending = true
		rep, err := (&sdk.Reconciler{Shadow: s, Admin: api.client(), PageSize: 3}).Run(ctx)
		if err != nil || rep != (sdk.ReconcileReport{Checked: 7, Updated: 6, Deleted: 1, NotFound: 1}) {
			t.Fatalf("%+v %v", rep, err)
		}
		for _, u := range users {
			if got, err := s.Get(ctx, u.ID); err != nil || got.Name != u.Name {
				t.Fatalf("%s: %+v %v", u.ID, got, err)
			}
		}
	})
}

// TestReconcileKeepsDataAppliedMeanwhile: a webhook applied after the list
// page was fetched holds newer data than the page; reconciliation must not
// roll it back.
func TestReconcileKeepsDataAppliedMeanwhile(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sql.DB, d sdk.Dialect) {
		clk := newClock()
		s := newShadow(t, db, d, clk)
		ctx := context.Background()
		if _, err := s.Apply(ctx, userEvent("user.updated", "a", clk.Now(), `{"id":"a","email":"a@first.example","name":"A","emailVerified":true,"image":null,"updatedAt":"2026-11-01T00:00:00.000Z"}`)); err != nil {
			t.Fatal(err)
		}
		api := newAdminAPI(t, adminUser("a", "a@second.example", "A", true, nil, time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)))
		api.afterList = func() {
			out, err := s.Apply(ctx, userEvent("user.updated", "a", clk.Now(), `{"id":"a","email":"a@third.example","name":"A","emailVerified":true,"image":null,"updatedAt":"2026-11-03T00:00:00.000Z"}`))
			if err != nil || out != sdk.OutcomeUpdated {
				t.Errorf("webhook meanwhile: %v %v", out, err)
			}
		}
		rep, err := sdk.Reconcile(ctx, s, api.client())
		if err != nil || rep.Updated != 0 || rep.Checked != 1 {
			t.Fatalf("%+v %v", rep, err)
		}
		if a, _ := s.Get(ctx, "a"); a.Email != "a@third.example" {
			t.Fatalf("reconcile rolled back newer data: %+v", a)
		}
	})
}

// TestReconcileRepairsRowAheadOfAuther: a row whose version is ahead of
// Auther's (an event stamped by a replica whose clock ran fast) refuses
// every later event by version. Reconciliation and resync still bring it in
// line with Auther's copy, and later events apply again.
func TestReconcileRepairsRowAheadOfAuther(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sql.DB, d sdk.Dialect) {
		clk := newClock()
		s := newShadow(t, db, d, clk)
		ctx := context.Background()
		for _, id := range []string{"a", "b"} {
			if _, err := s.Apply(ctx, userEvent("user.updated", id, clk.Now(), `{"id":"`+id+`","email":"`+id+`@skewed.example","name":"Skewed","emailVerified":false,"image":null,"updatedAt":"2027-06-01T00:00:00.000Z"}`)); err != nil {
				t.Fatal(err)
			}
		}
		t2 := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
		api := newAdminAPI(t,
			adminUser("a", "a@example.com", "A", true, nil, t2),
			adminUser("b", "b@example.com", "B", true, nil, t2))
		rec := &sdk.Reconciler{Shadow: s, Admin: api.client()}

		if out, err := rec.ResyncUser(ctx, "b"); err != nil || out != sdk.OutcomeUpdated {
			t.Fatalf("resync: %v %v", out, err)
		}
		rep, err := rec.Run(ctx)
		if err != nil || rep.Checked != 2 || rep.Updated != 1 {
			t.Fatalf("reconcile: %+v %v", rep, err)
		}
		for _, id := range []string{"a", "b"} {
			u, err := s.Get(ctx, id)
			if err != nil || u.Email != id+"@example.com" || !u.EmailVerified || !u.SyncedAt.Equal(t2) {
				t.Fatalf("%s after repair: %+v %v", id, u, err)
			}
			// The next change at Auther applies normally.
			out, err := s.Apply(ctx, userEvent("user.updated", id, clk.Now(), `{"id":"`+id+`","email":"`+id+`@example.com","name":"Renamed","emailVerified":true,"image":null,"updatedAt":"2026-11-03T00:00:00.000Z"}`))
			if err != nil || out != sdk.OutcomeUpdated {
				t.Fatalf("%s: next event %v %v", id, out, err)
			}
			api.mu.Lock()
			api.users[id] = adminUser(id, id+"@example.com", "Renamed", true, nil, time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC))
			api.mu.Unlock()
		}
		if rep, err := rec.Run(ctx); err != nil || rep.Updated != 0 {
			t.Fatalf("second run %+v %v", rep, err)
		}
	})
}

// TestReconcilePageSizeCapped: Auther refuses pages over 500 users.
func TestReconcilePageSizeCapped(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sql.DB, d sdk.Dialect) {
		s := newShadow(t, db, d, newClock())
		ctx := context.Background()
		if _, _, err := s.EnsureFromClaims(ctx, &sdk.Claims{Subject: "a"}); err != nil {
			t.Fatal(err)
		}
		api := newAdminAPI(t, adminUser("a", "a@example.com", "A", true, nil, time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)))
		rep, err := (&sdk.Reconciler{Shadow: s, Admin: api.client(), PageSize: 1000}).Run(ctx)
		if err != nil || rep.Checked != 1 || rep.Updated != 1 {
			t.Fatalf("PageSize 1000: %+v %v", rep, err)
		}
	})
}

func TestResyncUser(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sql.DB, d sdk.Dialect) {
		clk := newClock()
		s := newShadow(t, db, d, clk)
		ctx := context.Background()
		t1 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		api := newAdminAPI(t, adminUser("a", "a@example.com", "A", true, nil, t1))
		r := &sdk.Reconciler{Shadow: s, Admin: api.client()}
		if out, err := r.ResyncUser(ctx, "a"); err != nil || out != sdk.OutcomeCreated {
			t.Fatalf("%v %v", out, err)
		}
		if out, err := r.ResyncUser(ctx, "a"); err != nil || out != sdk.OutcomeUpdated {
			t.Fatalf("%v %v", out, err)
		}
		if _, _, err := s.EnsureFromClaims(ctx, &sdk.Claims{Subject: "gone"}); err != nil {
			t.Fatal(err)
		}
		if out, err := r.ResyncUser(ctx, "gone"); err != nil || out != sdk.OutcomeDeleted {
			t.Fatalf("%v %v", out, err)
		}
		if _, _, err := s.EnsureFromClaims(ctx, &sdk.Claims{Subject: "gone"}); !errors.Is(err, sdk.ErrUserDeleted) {
			t.Fatalf("JIT after resync deleted the user: %v", err)
		}
	})
}

// TestReconcileMassDeletionGuard: an AdminClient pointed at another Auther
// (staging for production) answers USER_NOT_FOUND for most users. Reconcile
// then deletes nothing and says why, unless the guard is raised.
func TestReconcileMassDeletionGuard(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sql.DB, d sdk.Dialect) {
		clk := newClock()
		s := newShadow(t, db, d, clk)
		ctx := context.Background()
		t1 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		var known []sdk.AdminUser
		for i := range 30 {
			id := fmt.Sprintf("u%02d", i)
			if _, _, err := s.EnsureFromClaims(ctx, &sdk.Claims{Subject: id}); err != nil {
				t.Fatal(err)
			}
			if i < 10 {
				known = append(known, adminUser(id, id+"@example.com", "User "+id, true, nil, t1))
			}
		}
		other := newAdminAPI(t, known...) // knows 10 of the 30
		rep, err := sdk.Reconcile(ctx, s, other.client())
		if !errors.Is(err, sdk.ErrMassDeletion) {
			t.Fatalf("20 of 30 users missing: %+v %v, want ErrMassDeletion", rep, err)
		}
		if rep.Checked != 30 || rep.NotFound != 20 || rep.Deleted != 0 {
			t.Fatalf("report %+v", rep)
		}
		if n := countRows(t, db, "SELECT COUNT(*) FROM users"); n != 30 {
			t.Fatalf("%d rows left, want all 30", n)
		}
		if n := countRows(t, db, "SELECT COUNT(*) FROM user_tombstones"); n != 0 {
			t.Fatalf("%d tombstones", n)
		}
		// Raised on purpose: the deletions are made.
		rep, err = (&sdk.Reconciler{Shadow: s, Admin: other.client(), MaxDeleteFraction: 1}).Run(ctx)
		if err != nil || rep.Deleted != 20 || rep.NotFound != 20 {
			t.Fatalf("guard off: %+v %v", rep, err)
		}
		if n := countRows(t, db, "SELECT COUNT(*) FROM users"); n != 10 {
			t.Fatalf("%d rows left, want 10", n)
		}
		// At or under the fraction, or with few rows checked, the guard
		// does not stop anything.
		s2 := newShadow(t, db, d, clk)
		s2.UsersTable, s2.TombstonesTable = "users2", "tombstones2"
		if err := s2.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		for i := range 4 {
			if _, _, err := s2.EnsureFromClaims(ctx, &sdk.Claims{Subject: fmt.Sprintf("x%d", i)}); err != nil {
				t.Fatal(err)
			}
		}
		rep, err = sdk.Reconcile(ctx, s2, other.client())
		if err != nil || rep.Deleted != 4 {
			t.Fatalf("4 of 4 missing, under the 20-row minimum: %+v %v", rep, err)
		}
	})
}
