package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/auther/auther/internal/id"
	"github.com/auther/auther/internal/store"
)

func newMail(to string) *store.Mail {
	t := now()
	return &store.Mail{ID: id.New(), To: to, Subject: "Verify your email", Text: "sealed-text", HTML: "sealed-html",
		NextAttemptAt: t, CreatedAt: t, UpdatedAt: t}
}

func testVerificationLifecycle(t *testing.T, s store.Store) {
	v := &store.Verification{ID: id.New(), Identifier: "sign-in-otp-a@example.com", Value: "h1:0", ExpiresAt: now().Add(5 * time.Minute), CreatedAt: now(), UpdatedAt: now()}
	if err := s.CreateVerification(ctx, v, nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetVerification(ctx, v.Identifier)
	if err != nil || got.ID != v.ID || got.Value != "h1:0" {
		t.Fatalf("GetVerification = %+v, %v", got, err)
	}
	// Compare-and-swap: only from the value last read.
	if err := s.SwapVerificationValue(ctx, v.ID, "h1:0", "h1:1", now()); err != nil {
		t.Fatal(err)
	}
	if err := s.SwapVerificationValue(ctx, v.ID, "h1:0", "h1:2", now()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("stale swap err = %v, want ErrNotFound", err)
	}
	if got, _ := s.GetVerification(ctx, v.Identifier); got.Value != "h1:1" {
		t.Errorf("value = %q, want h1:1", got.Value)
	}
	// Replace drops every row with the identifier.
	v2 := &store.Verification{ID: id.New(), Identifier: v.Identifier, Value: "h2:0", ExpiresAt: now().Add(5 * time.Minute), CreatedAt: now(), UpdatedAt: now()}
	if err := s.ReplaceVerification(ctx, v2, newMail("a@example.com")); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetVerification(ctx, v.Identifier); got.ID != v2.ID {
		t.Errorf("after replace got %s, want %s", got.ID, v2.ID)
	}
	if err := s.DeleteVerification(ctx, v.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("replaced row still deletable: %v", err)
	}
	// Exactly one of two concurrent deletes wins.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = s.DeleteVerification(ctx, v2.ID) }()
	}
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Errorf("concurrent deletes: %v, %v; want exactly one success", errs[0], errs[1])
	}
	if _, err := s.GetVerification(ctx, v.Identifier); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetVerification after delete: %v", err)
	}
}

func testMailQueuedWithItsChange(t *testing.T, s store.Store) {
	u := newUser("queued@example.com")
	if err := s.CreateUser(ctx, u, credential(u, "s:k"), nil, &store.Followup{Mail: newMail(u.Email)}); err != nil {
		t.Fatal(err)
	}
	// A failed creation queues nothing.
	dup := newUser("queued@example.com")
	if err := s.CreateUser(ctx, dup, nil, nil, &store.Followup{Mail: newMail("dup@example.com")}); !errors.Is(err, store.ErrEmailTaken) {
		t.Fatalf("duplicate: %v", err)
	}
	v := &store.Verification{ID: id.New(), Identifier: "reset-password:x", Value: u.ID, ExpiresAt: now().Add(time.Hour), CreatedAt: now(), UpdatedAt: now()}
	if err := s.CreateVerification(ctx, v, newMail(u.Email)); err != nil {
		t.Fatal(err)
	}
	// A verification that cannot be stored (duplicate id) queues nothing.
	if err := s.CreateVerification(ctx, v, newMail("lost@example.com")); err == nil {
		t.Fatal("duplicate verification id accepted")
	}
	claimed, err := s.ClaimMail(ctx, now(), time.Minute, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(claimed) != 2 {
		t.Fatalf("claimed %d mails, want the 2 whose changes committed: %+v", len(claimed), claimed)
	}
	for _, m := range claimed {
		if m.To != u.Email || m.Text != "sealed-text" || m.HTML != "sealed-html" || m.Attempts != 1 || m.Status != store.MailPending {
			t.Errorf("claimed mail = %+v", m)
		}
	}
}

func testMailQueueLeases(t *testing.T, s store.Store) {
	m := newMail("lease@example.com")
	v := &store.Verification{ID: id.New(), Identifier: "x", Value: "y", ExpiresAt: now().Add(time.Hour), CreatedAt: now(), UpdatedAt: now()}
	if err := s.CreateVerification(ctx, v, m); err != nil {
		t.Fatal(err)
	}
	t0 := now()
	if got, _ := s.ClaimMail(ctx, t0, time.Minute, 10); len(got) != 1 {
		t.Fatalf("first claim got %d", len(got))
	}
	if got, _ := s.ClaimMail(ctx, t0.Add(30*time.Second), time.Minute, 10); len(got) != 0 {
		t.Fatalf("claimed again while leased: %d", len(got))
	}
	// A worker that died: the lease runs out and the mail is claimed again.
	got, _ := s.ClaimMail(ctx, t0.Add(61*time.Second), time.Minute, 10)
	if len(got) != 1 || got[0].Attempts != 2 {
		t.Fatalf("after lease expiry: %+v", got)
	}
	next := t0.Add(10 * time.Minute)
	if err := s.MailRetry(ctx, m.ID, next, "421 try later", t0); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ClaimMail(ctx, next.Add(-time.Second), time.Minute, 10); len(got) != 0 {
		t.Fatalf("claimed before its retry time")
	}
	got, _ = s.ClaimMail(ctx, next, time.Minute, 10)
	if len(got) != 1 || got[0].LastError != "421 try later" {
		t.Fatalf("retry claim: %+v", got)
	}
	if err := s.MailSent(ctx, m.ID, next); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ClaimMail(ctx, next.Add(time.Hour), time.Minute, 10); len(got) != 0 {
		t.Errorf("a sent mail was claimed again")
	}
	sent, _ := s.ListMail(ctx, store.MailSent, 10)
	if len(sent) != 1 || sent[0].Text != "" || sent[0].HTML != "" || sent[0].SentAt == nil {
		t.Errorf("sent mail keeps its bodies or lacks sent_at: %+v", sent)
	}
	// Permanent failure.
	f := newMail("bounce@example.com")
	s.CreateVerification(ctx, &store.Verification{ID: id.New(), Identifier: "z", Value: "y", ExpiresAt: now().Add(time.Hour), CreatedAt: now(), UpdatedAt: now()}, f)
	s.ClaimMail(ctx, now(), time.Minute, 10)
	if err := s.MailFailed(ctx, f.ID, "550 no such mailbox", now()); err != nil {
		t.Fatal(err)
	}
	failed, _ := s.ListMail(ctx, store.MailFailed, 10)
	if len(failed) != 1 || failed[0].LastError != "550 no such mailbox" || failed[0].Text != "" {
		t.Errorf("failed list = %+v", failed)
	}
	if err := s.MailSent(ctx, "unknown", now()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("MailSent(unknown) = %v", err)
	}
}

func testConcurrentMailClaims(t *testing.T, s store.Store) {
	const n = 30
	for i := range n {
		s.CreateVerification(ctx, &store.Verification{ID: id.New(), Identifier: fmt.Sprint("c", i), Value: "v",
			ExpiresAt: now().Add(time.Hour), CreatedAt: now(), UpdatedAt: now()}, newMail(fmt.Sprintf("c%d@example.com", i)))
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				got, err := s.ClaimMail(ctx, now(), time.Minute, 3)
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, m := range got {
					seen[m.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != n {
		t.Errorf("claimed %d distinct mails, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("mail %s claimed %d times", id, c)
		}
	}
}

func testClaimUser(t *testing.T, s store.Store) {
	u := newUser("claim@example.com")
	if err := s.CreateUser(ctx, u, credential(u, "stranger:hash"), newSession(u, time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.ClaimUser(ctx, u.ID, now())
	if err != nil || !got.EmailVerified {
		t.Fatalf("ClaimUser = %+v, %v", got, err)
	}
	if _, acc, _ := s.GetUserWithCredential(ctx, u.Email); acc != nil {
		t.Error("the unverified account's password survived the claim")
	}
	if list, _ := s.ListSessions(ctx, u.ID, now()); len(list) != 0 {
		t.Error("the unverified account's sessions survived the claim")
	}
	// A verified user keeps everything.
	v := newUser("verified@example.com")
	v.EmailVerified = true
	s.CreateUser(ctx, v, credential(v, "own:hash"), newSession(v, time.Hour), nil)
	s.ClaimUser(ctx, v.ID, now())
	if _, acc, _ := s.GetUserWithCredential(ctx, v.Email); acc == nil {
		t.Error("a verified user's password was removed")
	}
	if list, _ := s.ListSessions(ctx, v.ID, now()); len(list) != 1 {
		t.Error("a verified user's session was removed")
	}
}
