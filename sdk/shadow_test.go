package sdk_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/auther/auther/sdk"
)

func newShadow(t *testing.T, db *sql.DB, d sdk.Dialect, clk *clock) *sdk.ShadowStore {
	t.Helper()
	s := &sdk.ShadowStore{DB: db, Dialect: d, Now: clk.Now}
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate is not idempotent: %v", err)
	}
	return s
}

func userEvent(typ, id string, at time.Time, data string) sdk.Event {
	return sdk.Event{ID: "evt_" + typ + "_" + id + fmt.Sprint(at.UnixNano()), Origin: "auther", Type: typ, Timestamp: at, Data: json.RawMessage(data)}
}

func countRows(t *testing.T, db *sql.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestEnsureFromClaims(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sql.DB, d sdk.Dialect) {
		clk := newClock()
		s := newShadow(t, db, d, clk)
		ctx := context.Background()

		// Access tokens carry no profile: fallbacks from sub.
		u, created, err := s.EnsureFromClaims(ctx, &sdk.Claims{Subject: "u-bare", ClientID: "c1"})
		if err != nil || !created {
			t.Fatalf("%v %v", created, err)
		}
		if u.Email != "u-bare@unknown.local" || u.Name != "u-bare" || u.EmailVerified || u.Image != nil || !u.CreatedAt.Equal(clk.Now()) || !u.SyncedAt.IsZero() {
			t.Fatalf("bare row %+v", u)
		}
		// Profile claims when present; name falls back to the email.
		u, created, err = s.EnsureFromClaims(ctx, &sdk.Claims{Subject: "u-full", Email: "ada@example.com", EmailVerified: true, Picture: "https://img/x.png"})
		if err != nil || !created || u.Email != "ada@example.com" || u.Name != "ada@example.com" || !u.EmailVerified || u.Image == nil || *u.Image != "https://img/x.png" {
			t.Fatalf("%+v %v %v", u, created, err)
		}
		// Second sight: the row is returned, not changed.
		clk.Advance(time.Minute)
		u2, created, err := s.EnsureFromClaims(ctx, &sdk.Claims{Subject: "u-full", Email: "new@example.com", Name: "Other"})
		if err != nil || created || u2.Email != "ada@example.com" || !u2.CreatedAt.Equal(u.CreatedAt) {
			t.Fatalf("%+v %v %v", u2, created, err)
		}
		// client_credentials tokens are not users.
		if _, _, err := s.EnsureFromClaims(ctx, &sdk.Claims{Subject: "c1", ClientID: "c1"}); !errors.Is(err, sdk.ErrNotAUser) {
			t.Fatalf("client token: %v", err)
		}
		if n := countRows(t, db, "SELECT COUNT(*) FROM users"); n != 2 {
			t.Fatalf("%d rows", n)
		}
	})
}

func TestEnsureFromClaimsRace(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sql.DB, d sdk.Dialect) {
		clk := newClock()
		s := newShadow(t, db, d, clk)
		ctx := context.Background()
		claims := &sdk.Claims{Subject: "u-race", Email: "race@example.com", Name: "Race"}
		var wg sync.WaitGroup
		var mu sync.Mutex
		creators := 0
		var errs []error
		start := make(chan struct{})
		for range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				u, created, err := s.EnsureFromClaims(ctx, claims)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
					return
				}
				if u.ID != "u-race" || u.Name != "Race" {
					errs = append(errs, fmt.Errorf("row %+v", u))
				}
				if created {
					creators++
				}
			}()
		}
		close(start)
		wg.Wait()
		if len(errs) > 0 {
			t.Fatalf("%d of 50 first requests failed, e.g. %v", len(errs), errs[0])
		}
		if creators != 1 {
			t.Fatalf("%d requests report creating the row", creators)
		}
		if n := countRows(t, db, "SELECT COUNT(*) FROM users WHERE id = 'u-race'"); n != 1 {
			t.Fatalf("%d rows", n)
		}
	})
}

func TestTombstoneBlocksJITAndCreated(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sql.DB, d sdk.Dialect) {
		clk := newClock()
		s := newShadow(t, db, d, clk)
		ctx := context.Background()
		// The app has its own table pointing at users, cascading.
		if _, err := db.Exec(`CREATE TABLE notes (id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE)`); err != nil {
			t.Fatal(err)
		}
		claims := &sdk.Claims{Subject: "u-del", Email: "del@example.com"}
		if _, _, err := s.EnsureFromClaims(ctx, claims); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`INSERT INTO notes (id, user_id) VALUES ('n1', 'u-del')`); err != nil {
			t.Fatal(err)
		}
		out, err := s.Apply(ctx, userEvent("user.deleted", "u-del", clk.Now(), `{"id":"u-del","email":"del@example.com","deletedAt":"2026-11-29T10:00:00.000Z"}`))
		if err != nil || out != sdk.OutcomeDeleted {
			t.Fatalf("%v %v", out, err)
		}
		if _, err := s.Get(ctx, "u-del"); !errors.Is(err, sdk.ErrNoShadowUser) {
			t.Fatalf("row survived deletion: %v", err)
		}
		if n := countRows(t, db, "SELECT COUNT(*) FROM notes"); n != 0 {
			t.Fatalf("app rows did not cascade: %d", n)
		}
		// The user's access token is still valid for a while: no resurrection.
		clk.Advance(30 * time.Minute)
		if _, _, err := s.EnsureFromClaims(ctx, claims); !errors.Is(err, sdk.ErrUserDeleted) {
			t.Fatalf("JIT after deletion: %v", err)
		}
		// A late (retried) user.created is refused too, without error so
		// that Auther stops retrying it.
		out, err = s.Apply(ctx, userEvent("user.created", "u-del", clk.Now(), `{"id":"u-del","email":"del@example.com","name":"Del","emailVerified":true,"image":null,"createdAt":"2026-11-29T09:00:00.000Z"}`))
		if err != nil || out != sdk.OutcomeRefused {
			t.Fatalf("user.created on a tombstone: %v %v", out, err)
		}
		out, err = s.Apply(ctx, userEvent("user.updated", "u-del", clk.Now(), `{"id":"u-del","email":"del@example.com","name":"Del","emailVerified":true,"image":null,"updatedAt":"2026-11-29T09:30:00.000Z"}`))
		if err != nil || out != sdk.OutcomeRefused {
			t.Fatalf("user.updated on a tombstone: %v %v", out, err)
		}
		if n := countRows(t, db, "SELECT COUNT(*) FROM users"); n != 0 {
			t.Fatalf("%d rows", n)
		}
		if ok, err := s.Tombstoned(ctx, "u-del"); !ok || err != nil {
			t.Fatalf("Tombstoned = %v %v", ok, err)
		}
	})
}

// TestTombstoneOutlivesLongLivedTokens: an access token can live far longer
// than a day (a client's TTL may be up to a year). A token issued before the
// deletion never brings the user back, however old the tombstone.
func TestTombstoneOutlivesLongLivedTokens(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sql.DB, d sdk.Dialect) {
		clk := newClock()
		s := newShadow(t, db, d, clk)
		ctx := context.Background()
		issued := clk.Now().Add(-time.Hour)
		claims := &sdk.Claims{Subject: "u-long", IssuedAt: issued, ExpiresAt: issued.Add(365 * 24 * time.Hour)}
		if _, _, err := s.EnsureFromClaims(ctx, claims); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, "u-long"); err != nil {
			t.Fatal(err)
		}
		for _, later := range []time.Duration{25 * time.Hour, 30 * 24 * time.Hour, 300 * 24 * time.Hour} {
			clk.Advance(later)
			if _, _, err := s.EnsureFromClaims(ctx, claims); !errors.Is(err, sdk.ErrUserDeleted) {
				t.Fatalf("%s after the deletion, a token issued before it: %v, want ErrUserDeleted", later, err)
			}
			out, err := s.Apply(ctx, userEvent("user.updated", "u-long", clk.Now(), `{"id":"u-long","email":"l@example.com","name":"L","emailVerified":true,"image":null,"updatedAt":"2026-11-29T09:30:00.000Z"}`))
			if err != nil || out != sdk.OutcomeRefused {
				t.Fatalf("%s after the deletion, a late user.updated: %v %v", later, out, err)
			}
			if ok, err := s.Tombstoned(ctx, "u-long"); !ok || err != nil {
				t.Fatalf("Tombstoned = %v %v", ok, err)
			}
		}
		if n := countRows(t, db, "SELECT COUNT(*) FROM users"); n != 0 {
			t.Fatalf("%d rows", n)
		}
		// Tombstones are kept unless the app states how long its tokens
		// can live.
		if n, err := s.PruneTombstones(ctx); !errors.Is(err, sdk.ErrNoTokenLifetime) || n != 0 {
			t.Fatalf("PruneTombstones without MaxTokenLifetime: %d %v", n, err)
		}
		s.MaxTokenLifetime = 365 * 24 * time.Hour
		if n, err := s.PruneTombstones(ctx); err != nil || n != 0 { // 331 days old
			t.Fatalf("pruned %d %v before MaxTokenLifetime", n, err)
		}
		clk.Advance(35 * 24 * time.Hour)
		if n, err := s.PruneTombstones(ctx); err != nil || n != 1 {
			t.Fatalf("pruned %d %v after MaxTokenLifetime", n, err)
		}
	})
}

// TestTokenIssuedAfterDeletion: user ids are never reused, so a token
// issued after the recorded deletion means the user exists after all (a
// deletion by mistake, since undone in Auther): its first request
// provisions the row again. A token issued before it is still refused.
func TestTokenIssuedAfterDeletion(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sql.DB, d sdk.Dialect) {
		clk := newClock()
		s := newShadow(t, db, d, clk)
		ctx := context.Background()
		before := &sdk.Claims{Subject: "u-back", IssuedAt: clk.Now().Add(-time.Minute)}
		if _, _, err := s.EnsureFromClaims(ctx, before); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, "u-back"); err != nil {
			t.Fatal(err)
		}
		// Within the leeway after the deletion: still refused.
		if _, _, err := s.EnsureFromClaims(ctx, &sdk.Claims{Subject: "u-back", IssuedAt: clk.Now().Add(20 * time.Second)}); !errors.Is(err, sdk.ErrUserDeleted) {
			t.Fatalf("token issued 20 s after the deletion: %v", err)
		}
		clk.Advance(time.Hour)
		after := &sdk.Claims{Subject: "u-back", IssuedAt: clk.Now()}
		if _, created, err := s.EnsureFromClaims(ctx, after); err != nil || !created {
			t.Fatalf("token issued after the deletion: %v %v", created, err)
		}
		if _, _, err := s.EnsureFromClaims(ctx, before); !errors.Is(err, sdk.ErrUserDeleted) {
			t.Fatalf("token issued before the deletion, row back: %v", err)
		}
		if _, _, err := s.EnsureFromClaims(ctx, after); err != nil {
			t.Fatalf("token issued after the deletion, second request: %v", err)
		}
	})
}

// TestDeletedAtFromEvent: user.deleted records Auther's time of deletion
// when it is later than the app's clock (the app's clock lags), so a token
// Auther issued just before the deletion is refused.
func TestDeletedAtFromEvent(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sql.DB, d sdk.Dialect) {
		clk := newClock() // 10:00 at the app
		s := newShadow(t, db, d, clk)
		ctx := context.Background()
		// Auther's clock is 5 minutes ahead: it issued a token at 10:04
		// and deleted the user at 10:05.
		claims := &sdk.Claims{Subject: "u-lag", IssuedAt: clk.Now().Add(4 * time.Minute)}
		if _, _, err := s.EnsureFromClaims(ctx, claims); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Apply(ctx, userEvent("user.deleted", "u-lag", clk.Now(), `{"id":"u-lag","email":"lag@example.com","deletedAt":"2026-11-29T10:05:00.000Z"}`)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.EnsureFromClaims(ctx, claims); !errors.Is(err, sdk.ErrUserDeleted) {
			t.Fatalf("token issued before the deletion by Auther's clock: %v", err)
		}
	})
}

// TestDeleteRacesJIT runs deletions against concurrent first logins of the
// same users: whatever the interleaving, a tombstoned user has no row.
func TestDeleteRacesJIT(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sql.DB, d sdk.Dialect) {
		clk := newClock()
		s := newShadow(t, db, d, clk)
		ctx := context.Background()
		for i := range 20 {
			id := fmt.Sprintf("u-%d", i)
			var wg sync.WaitGroup
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, _, err := s.EnsureFromClaims(ctx, &sdk.Claims{Subject: id})
					if err != nil && !errors.Is(err, sdk.ErrUserDeleted) {
						t.Errorf("JIT: %v", err)
					}
				}()
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := s.Delete(ctx, id); err != nil {
					t.Errorf("delete: %v", err)
				}
			}()
			wg.Wait()
		}
		if n := countRows(t, db, "SELECT COUNT(*) FROM users u JOIN user_tombstones t ON t.id = u.id"); n != 0 {
			t.Fatalf("%d deleted users have a row again", n)
		}
	})
}

func TestApplyUserEvents(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sql.DB, d sdk.Dialect) {
		clk := newClock()
		s := newShadow(t, db, d, clk)
		ctx := context.Background()
		apply := func(e sdk.Event, want sdk.Outcome) {
			t.Helper()
			got, err := s.Apply(ctx, e)
			if err != nil || got != want {
				t.Fatalf("%s: got %v %v, want %v", e.Type, got, err, want)
			}
		}
		get := func(id string) *sdk.ShadowUser {
			t.Helper()
			u, err := s.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			return u
		}
		t0 := time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)

		// JIT first, webhook later: user.created fills what the token lacked.
		if _, _, err := s.EnsureFromClaims(ctx, &sdk.Claims{Subject: "u1"}); err != nil {
			t.Fatal(err)
		}
		apply(userEvent("user.created", "u1", clk.Now(), `{"id":"u1","email":"ada@example.com","name":"Ada","emailVerified":false,"image":"https://img/ada.png","createdAt":"2026-11-29T09:00:00.000Z"}`), sdk.OutcomeUpdated)
		u := get("u1")
		if u.Email != "ada@example.com" || u.Name != "Ada" || u.Image == nil || *u.Image != "https://img/ada.png" || !u.CreatedAt.Equal(t0) || !u.SyncedAt.Equal(t0) {
			t.Fatalf("after user.created: %+v", u)
		}
		// Webhook first, JIT later: JIT finds the row.
		apply(userEvent("user.created", "u2", clk.Now(), `{"id":"u2","email":"bob@example.com","name":"Bob","emailVerified":true,"image":null,"createdAt":"2026-11-29T09:00:00.000Z"}`), sdk.OutcomeCreated)
		u, created, err := s.EnsureFromClaims(ctx, &sdk.Claims{Subject: "u2"})
		if err != nil || created || u.Name != "Bob" || !u.EmailVerified {
			t.Fatalf("JIT after webhook: %+v %v %v", u, created, err)
		}
		// A redelivered user.created changes nothing.
		apply(userEvent("user.created", "u2", clk.Now(), `{"id":"u2","email":"bob@example.com","name":"Bob","emailVerified":true,"image":null,"createdAt":"2026-11-29T09:00:00.000Z"}`), sdk.OutcomeUpdated)

		// user.updated at 10:00, then a late user.updated from 09:30.
		apply(userEvent("user.updated", "u1", clk.Now(), `{"id":"u1","email":"ada@new.example","name":"Ada L.","emailVerified":true,"image":null,"updatedAt":"2026-11-29T10:00:00.000Z"}`), sdk.OutcomeUpdated)
		apply(userEvent("user.updated", "u1", clk.Now(), `{"id":"u1","email":"ada@old.example","name":"Ada Old","emailVerified":false,"image":"x","updatedAt":"2026-11-29T09:30:00.000Z"}`), sdk.OutcomeUnchanged)
		u = get("u1")
		if u.Email != "ada@new.example" || u.Name != "Ada L." || !u.EmailVerified || u.Image != nil || !u.CreatedAt.Equal(t0) || !u.UpdatedAt.Equal(t0.Add(time.Hour)) {
			t.Fatalf("after updates: %+v", u)
		}
		// user.verified touches email and emailVerified only.
		apply(userEvent("user.updated", "u3", clk.Now(), `{"id":"u3","email":"cy@example.com","name":"Cy","emailVerified":false,"image":"https://img/cy.png","updatedAt":"2026-11-29T10:00:00.000Z"}`), sdk.OutcomeCreated)
		apply(userEvent("user.verified", "u3", clk.Now(), `{"id":"u3","email":"cy@example.com","emailVerified":true,"updatedAt":"2026-11-29T10:05:00.000Z"}`), sdk.OutcomeUpdated)
		u = get("u3")
		if !u.EmailVerified || u.Name != "Cy" || u.Image == nil || *u.Image != "https://img/cy.png" {
			t.Fatalf("after user.verified: %+v", u)
		}
		// user.verified of an unknown user creates the row (name = email).
		apply(userEvent("user.verified", "u4", clk.Now(), `{"id":"u4","email":"di@example.com","emailVerified":true,"updatedAt":"2026-11-29T10:05:00.000Z"}`), sdk.OutcomeCreated)
		if u = get("u4"); u.Name != "di@example.com" || !u.EmailVerified {
			t.Fatalf("verified-created: %+v", u)
		}
		// Other event types are not the shadow store's business.
		apply(userEvent("session.created", "s1", clk.Now(), `{"id":"s1","userId":"u1"}`), sdk.OutcomeIgnored)
		if _, err := s.Apply(ctx, userEvent("user.updated", "", clk.Now(), `{"email":"x@y.z"}`)); err == nil {
			t.Fatal("a user event without id was applied")
		}
	})
}

func TestShadowStoreWithWebhookHandler(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sql.DB, d sdk.Dialect) {
		clk := newClock()
		s := newShadow(t, db, d, clk)
		dedup := sdk.NewSQLDeduper(db, d)
		if err := dedup.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		srv := newWebhookServer(t, sdk.WebhookConfig{Secrets: []string{secret}, Dedup: dedup, Handle: s.ApplyEvent})
		now := time.Now()
		ev := delivery{id: "evt_s1", typ: "user.created", at: now, data: `{"id":"u9","email":"e@example.com","name":"E","emailVerified":false,"image":null,"createdAt":"2026-11-29T09:00:00.000Z"}`}
		if status, _ := ev.send(t, srv); status != 200 {
			t.Fatalf("user.created: %d", status)
		}
		del := delivery{id: "evt_s2", typ: "user.deleted", at: now, data: `{"id":"u9","email":"e@example.com","deletedAt":"2026-11-29T10:00:00.000Z"}`}
		if status, _ := del.send(t, srv); status != 200 {
			t.Fatalf("user.deleted: %d", status)
		}
		// Replaying user.created under a new id (a manual re-send) is refused
		// by the tombstone, and answered 200 so Auther does not retry.
		ev.id = "evt_s3"
		if status, body := ev.send(t, srv); status != 200 || body["status"] != "ok" {
			t.Fatalf("re-sent user.created: %d %v", status, body)
		}
		if _, err := s.Get(context.Background(), "u9"); !errors.Is(err, sdk.ErrNoShadowUser) {
			t.Fatalf("deleted user back: %v", err)
		}
	})
}
