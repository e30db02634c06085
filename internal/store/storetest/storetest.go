// Package storetest is the conformance suite every store.Store backend must
// pass. A backend's test file calls Run with a function that opens a fresh,
// migrated, empty store.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/auther/auther/internal/id"
	"github.com/auther/auther/internal/store"
)

// Run runs every conformance test against stores made by open.
func Run(t *testing.T, open func(t testing.TB) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"UserRoundTrip", testUserRoundTrip},
		{"DuplicateEmail", testDuplicateEmail},
		{"CreateUserIsAtomic", testCreateUserIsAtomic},
		{"ConcurrentSignUpsOneEmail", testConcurrentCreate},
		{"UserWithCredential", testUserWithCredential},
		{"UpdateUser", testUpdateUser},
		{"DeleteUserCascades", testDeleteUserCascades},
		{"ListUsersPages", testListUsers},
		{"Sessions", testSessions},
		{"DeleteUserSessions", testDeleteUserSessions},
		{"SetPassword", testSetPassword},
		{"VerificationTakeIsSingleUse", testVerificationTake},
		{"DeleteExpiredIsBounded", testDeleteExpired},
		{"VerificationLifecycle", testVerificationLifecycle},
		{"MailQueuedWithItsChange", testMailQueuedWithItsChange},
		{"MailQueueLeases", testMailQueueLeases},
		{"ConcurrentMailClaimsAreDisjoint", testConcurrentMailClaims},
		{"ClaimUserDropsStrangersAccess", testClaimUser},
	}
	for _, tc := range append(tests, laterCases...) {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

var ctx = context.Background()

// now is millisecond-precise, as the store keeps times.
func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

func newUser(email string) *store.User {
	t := now()
	return &store.User{ID: id.New(), Name: "Ada Lovelace", Email: email, CreatedAt: t, UpdatedAt: t}
}

func credential(u *store.User, hash string) *store.Account {
	return &store.Account{ID: id.New(), AccountID: u.ID, ProviderID: store.ProviderCredential, UserID: u.ID,
		Password: &hash, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

func newSession(u *store.User, ttl time.Duration) *store.Session {
	t := now()
	return &store.Session{ID: id.New(), TokenHash: "hash-" + id.New(), UserID: u.ID, ExpiresAt: t.Add(ttl),
		CreatedAt: t, UpdatedAt: t, IPAddress: "203.0.113.7", UserAgent: "test-agent/1.0", AuthMethod: store.AuthOTP}
}

func mustCreate(t *testing.T, s store.Store, email string) *store.User {
	t.Helper()
	u := newUser(email)
	if err := s.CreateUser(ctx, u, credential(u, "salt:key"), nil, nil); err != nil {
		t.Fatalf("CreateUser(%s): %v", email, err)
	}
	return u
}

func testUserRoundTrip(t *testing.T, s store.Store) {
	u := newUser("ada@example.com")
	img := "https://example.com/a.png"
	u.Image = &img
	if err := s.CreateUser(ctx, u, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	for name, get := range map[string]func() (*store.User, error){
		"GetUser":        func() (*store.User, error) { return s.GetUser(ctx, u.ID) },
		"GetUserByEmail": func() (*store.User, error) { return s.GetUserByEmail(ctx, "ada@example.com") },
	} {
		got, err := get()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.ID != u.ID || got.Name != u.Name || got.Email != u.Email || got.EmailVerified ||
			got.Image == nil || *got.Image != img || !got.CreatedAt.Equal(u.CreatedAt) || !got.UpdatedAt.Equal(u.UpdatedAt) {
			t.Errorf("%s = %+v, want %+v", name, got, u)
		}
	}
	if _, err := s.GetUser(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetUser(unknown) err = %v, want ErrNotFound", err)
	}
	if _, err := s.GetUserByEmail(ctx, "nobody@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetUserByEmail(unknown) err = %v, want ErrNotFound", err)
	}
}

func testDuplicateEmail(t *testing.T, s store.Store) {
	mustCreate(t, s, "dup@example.com")
	u2 := newUser("dup@example.com")
	if err := s.CreateUser(ctx, u2, credential(u2, "x:y"), newSession(u2, time.Hour), nil); !errors.Is(err, store.ErrEmailTaken) {
		t.Fatalf("second CreateUser err = %v, want ErrEmailTaken", err)
	}
	if _, err := s.GetUser(ctx, u2.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("losing user was stored: %v", err)
	}
	if accs, _ := s.ListAccounts(ctx, u2.ID); len(accs) != 0 {
		t.Errorf("losing user's account was stored: %+v", accs)
	}
}

func testCreateUserIsAtomic(t *testing.T, s store.Store) {
	first := mustCreate(t, s, "first@example.com")
	// A second user whose account collides with the first's (provider_id,
	// account_id): the whole creation must roll back.
	u := newUser("second@example.com")
	a := credential(u, "x:y")
	a.AccountID = first.ID
	se := newSession(u, time.Hour)
	if err := s.CreateUser(ctx, u, a, se, nil); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CreateUser with colliding account err = %v, want ErrConflict", err)
	}
	if _, err := s.GetUserByEmail(ctx, "second@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("user survived a failed CreateUser: %v", err)
	}
	if _, _, err := s.GetSession(ctx, se.TokenHash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("session survived a failed CreateUser: %v", err)
	}
}

func testConcurrentCreate(t *testing.T, s store.Store) {
	const n = 50
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := newUser("race@example.com")
			errs[i] = s.CreateUser(ctx, u, credential(u, "s:k"), newSession(u, time.Hour), nil)
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, store.ErrEmailTaken):
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d concurrent creates succeeded, want 1", ok)
	}
	users, err := s.ListUsers(ctx, store.ListUsersOptions{Limit: 1000})
	if err != nil || len(users) != 1 {
		t.Fatalf("users = %d (%v), want 1", len(users), err)
	}
	if accs, _ := s.ListAccounts(ctx, users[0].ID); len(accs) != 1 {
		t.Errorf("accounts = %d, want 1", len(accs))
	}
	if sess, _ := s.ListSessions(ctx, users[0].ID, now()); len(sess) != 1 {
		t.Errorf("sessions = %d, want 1", len(sess))
	}
}

func testUserWithCredential(t *testing.T, s store.Store) {
	u := mustCreate(t, s, "cred@example.com")
	got, acc, err := s.GetUserWithCredential(ctx, "cred@example.com")
	if err != nil || got.ID != u.ID || acc == nil || acc.Password == nil || *acc.Password != "salt:key" {
		t.Fatalf("GetUserWithCredential = %+v, %+v, %v", got, acc, err)
	}
	nopw := newUser("social@example.com")
	tok := "gho_xyz"
	social := &store.Account{ID: id.New(), AccountID: "gh-123", ProviderID: "github", UserID: nopw.ID, AccessToken: &tok,
		CreatedAt: nopw.CreatedAt, UpdatedAt: nopw.UpdatedAt}
	if err := s.CreateUser(ctx, nopw, social, nil, nil); err != nil {
		t.Fatal(err)
	}
	got, acc, err = s.GetUserWithCredential(ctx, "social@example.com")
	if err != nil || got.ID != nopw.ID || acc != nil {
		t.Fatalf("user without password: %+v, %+v, %v; want user and nil account", got, acc, err)
	}
	if _, _, err := s.GetUserWithCredential(ctx, "none@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown email err = %v", err)
	}
}

func testUpdateUser(t *testing.T, s store.Store) {
	u := mustCreate(t, s, "upd@example.com")
	later := now().Add(time.Minute)
	got, err := s.UpdateUser(ctx, u.ID, func(u *store.User) error {
		u.Name = "Grace Hopper"
		u.EmailVerified = true
		u.UpdatedAt = later
		return nil
	})
	if err != nil || got.Name != "Grace Hopper" {
		t.Fatalf("UpdateUser = %+v, %v", got, err)
	}
	re, _ := s.GetUser(ctx, u.ID)
	if re.Name != "Grace Hopper" || !re.EmailVerified || !re.UpdatedAt.Equal(later) || !re.CreatedAt.Equal(u.CreatedAt) {
		t.Errorf("after update: %+v", re)
	}
	boom := errors.New("boom")
	if _, err := s.UpdateUser(ctx, u.ID, func(u *store.User) error { u.Name = "lost"; return boom }); !errors.Is(err, boom) {
		t.Errorf("fn error not returned: %v", err)
	}
	if re, _ := s.GetUser(ctx, u.ID); re.Name != "Grace Hopper" {
		t.Errorf("failed update was saved: %q", re.Name)
	}
	other := mustCreate(t, s, "other@example.com")
	if _, err := s.UpdateUser(ctx, other.ID, func(u *store.User) error { u.Email = "upd@example.com"; return nil }); !errors.Is(err, store.ErrEmailTaken) {
		t.Errorf("update to a taken email err = %v, want ErrEmailTaken", err)
	}
	if _, err := s.UpdateUser(ctx, "missing", func(*store.User) error { return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("update of unknown user err = %v", err)
	}
}

func testDeleteUserCascades(t *testing.T, s store.Store) {
	u := mustCreate(t, s, "gone@example.com")
	keep := mustCreate(t, s, "keep@example.com")
	se := newSession(u, time.Hour)
	kse := newSession(keep, time.Hour)
	for _, x := range []*store.Session{se, kse} {
		if err := s.CreateSession(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	v := &store.Verification{ID: id.New(), Identifier: "reset-password:abc", Value: u.ID, ExpiresAt: now().Add(time.Hour), CreatedAt: now(), UpdatedAt: now()}
	if err := s.CreateVerification(ctx, v, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.GetSession(ctx, se.TokenHash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("session survived user deletion: %v", err)
	}
	if accs, _ := s.ListAccounts(ctx, u.ID); len(accs) != 0 {
		t.Errorf("accounts survived user deletion: %d", len(accs))
	}
	if _, _, err := s.GetSession(ctx, kse.TokenHash); err != nil {
		t.Errorf("another user's session was deleted: %v", err)
	}
	// Verifications have no foreign key: they are not the user's to cascade.
	if _, err := s.TakeVerification(ctx, "reset-password:abc"); err != nil {
		t.Errorf("verification was removed with the user: %v", err)
	}
	if err := s.DeleteUser(ctx, u.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second delete err = %v, want ErrNotFound", err)
	}
}

func testListUsers(t *testing.T, s store.Store) {
	var want []string
	for i := range 5 {
		want = append(want, mustCreate(t, s, fmt.Sprintf("u%d@example.com", i)).ID)
	}
	page1, err := s.ListUsers(ctx, store.ListUsersOptions{Limit: 3})
	if err != nil || len(page1) != 3 {
		t.Fatalf("page1 = %d, %v", len(page1), err)
	}
	page2, _ := s.ListUsers(ctx, store.ListUsersOptions{After: page1[2].ID, Limit: 3})
	var got []string
	for _, u := range append(page1, page2...) {
		got = append(got, u.ID)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("paged ids = %v, want creation order %v", got, want)
	}
}

func testSessions(t *testing.T, s store.Store) {
	u := mustCreate(t, s, "sess@example.com")
	other := mustCreate(t, s, "other@example.com")
	live := newSession(u, time.Hour)
	expired := newSession(u, -time.Minute)
	for _, x := range []*store.Session{live, expired} {
		if err := s.CreateSession(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	dup := newSession(u, time.Hour)
	dup.TokenHash = live.TokenHash
	if err := s.CreateSession(ctx, dup); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate token err = %v, want ErrConflict", err)
	}
	gs, gu, err := s.GetSession(ctx, live.TokenHash)
	if err != nil || gs.ID != live.ID || gu.ID != u.ID || gu.Email != u.Email ||
		!gs.ExpiresAt.Equal(live.ExpiresAt) || gs.IPAddress != "203.0.113.7" || gs.UserAgent != "test-agent/1.0" || gs.AuthMethod != store.AuthOTP {
		t.Fatalf("GetSession = %+v, %+v, %v", gs, gu, err)
	}
	// Expired sessions are returned: the caller decides (and deletes).
	if gs, _, err := s.GetSession(ctx, expired.TokenHash); err != nil || !gs.ExpiresAt.Before(now()) {
		t.Errorf("expired session: %+v, %v", gs, err)
	}
	list, err := s.ListSessions(ctx, u.ID, now())
	if err != nil || len(list) != 1 || list[0].ID != live.ID {
		t.Errorf("ListSessions = %+v, %v; want only the live one", list, err)
	}
	newExp := now().Add(48 * time.Hour)
	if err := s.ExtendSession(ctx, live.ID, newExp, now()); err != nil {
		t.Fatal(err)
	}
	if gs, _, _ := s.GetSession(ctx, live.TokenHash); !gs.ExpiresAt.Equal(newExp) {
		t.Errorf("ExtendSession: expires_at = %v, want %v", gs.ExpiresAt, newExp)
	}
	if err := s.DeleteSession(ctx, other.ID, live.TokenHash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleting another user's session err = %v, want ErrNotFound", err)
	}
	if err := s.DeleteSession(ctx, u.ID, live.TokenHash); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.GetSession(ctx, live.TokenHash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted session still found: %v", err)
	}
}

func testDeleteUserSessions(t *testing.T, s store.Store) {
	u := mustCreate(t, s, "many@example.com")
	var ids []string
	for range 3 {
		se := newSession(u, time.Hour)
		if err := s.CreateSession(ctx, se); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, se.ID)
	}
	n, err := s.DeleteUserSessions(ctx, u.ID, ids[1])
	if err != nil || n != 2 {
		t.Fatalf("DeleteUserSessions = %d, %v; want 2", n, err)
	}
	list, _ := s.ListSessions(ctx, u.ID, now())
	if len(list) != 1 || list[0].ID != ids[1] {
		t.Errorf("left %+v, want only the kept session", list)
	}
	if n, _ := s.DeleteUserSessions(ctx, u.ID, ""); n != 1 {
		t.Errorf("delete all: %d, want 1", n)
	}
}

func testSetPassword(t *testing.T, s store.Store) {
	u := mustCreate(t, s, "pw@example.com")
	old := newSession(u, time.Hour)
	if err := s.CreateSession(ctx, old); err != nil {
		t.Fatal(err)
	}
	a := credential(u, "new:hash")
	if err := s.SetPassword(ctx, a, false, nil); err != nil {
		t.Fatal(err)
	}
	_, acc, _ := s.GetUserWithCredential(ctx, u.Email)
	if acc == nil || *acc.Password != "new:hash" {
		t.Fatalf("password not updated: %+v", acc)
	}
	if accs, _ := s.ListAccounts(ctx, u.ID); len(accs) != 1 {
		t.Errorf("SetPassword on an existing credential made %d accounts", len(accs))
	}
	repl := newSession(u, time.Hour)
	a2 := credential(u, "newer:hash")
	if err := s.SetPassword(ctx, a2, true, repl); err != nil {
		t.Fatal(err)
	}
	list, _ := s.ListSessions(ctx, u.ID, now())
	if len(list) != 1 || list[0].ID != repl.ID {
		t.Errorf("sessions after replace = %+v, want only the replacement", list)
	}
	// A user without a credential account gets one.
	nopw := newUser("nopw@example.com")
	if err := s.CreateUser(ctx, nopw, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPassword(ctx, credential(nopw, "first:hash"), false, nil); err != nil {
		t.Fatal(err)
	}
	if _, acc, _ := s.GetUserWithCredential(ctx, nopw.Email); acc == nil || *acc.Password != "first:hash" {
		t.Errorf("credential account not created: %+v", acc)
	}
}

func testVerificationTake(t *testing.T, s store.Store) {
	v := &store.Verification{ID: id.New(), Identifier: "magic:tok", Value: `{"email":"a@b.c"}`, ExpiresAt: now().Add(time.Hour), CreatedAt: now(), UpdatedAt: now()}
	if err := s.CreateVerification(ctx, v, nil); err != nil {
		t.Fatal(err)
	}
	const n = 20
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := s.TakeVerification(ctx, "magic:tok")
			if err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
				if got.Value != v.Value || !got.ExpiresAt.Equal(v.ExpiresAt) {
					t.Errorf("taken = %+v", got)
				}
			} else if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("take: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d concurrent takes won, want exactly 1", wins)
	}
}

func testDeleteExpired(t *testing.T, s store.Store) {
	u := mustCreate(t, s, "exp@example.com")
	for range 5 {
		if err := s.CreateSession(ctx, newSession(u, -time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	live := newSession(u, time.Hour)
	s.CreateSession(ctx, live)
	for i := range 3 {
		s.CreateVerification(ctx, &store.Verification{ID: id.New(), Identifier: fmt.Sprint("v", i), Value: "x", ExpiresAt: now().Add(-time.Second), CreatedAt: now(), UpdatedAt: now()}, nil)
	}
	ns, nv, err := s.DeleteExpired(ctx, now(), 2)
	if err != nil || ns != 2 || nv != 2 {
		t.Fatalf("first batch = %d, %d, %v; want 2, 2", ns, nv, err)
	}
	ns, nv, _ = s.DeleteExpired(ctx, now(), 10)
	if ns != 3 || nv != 1 {
		t.Errorf("second batch = %d, %d; want 3, 1", ns, nv)
	}
	if _, _, err := s.GetSession(ctx, live.TokenHash); err != nil {
		t.Errorf("live session swept: %v", err)
	}
}
