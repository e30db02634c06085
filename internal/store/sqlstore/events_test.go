package sqlstore_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auther/auther/internal/id"
	"github.com/auther/auther/internal/store"
	"github.com/auther/auther/internal/store/sqlstore"
	"github.com/auther/auther/internal/testdb"
)

// OnEvents lets the webhook worker wake on commit; it must fire for commits
// that recorded events and only for them.
func TestOnEventsFiresAfterCommitsWithEvents(t *testing.T) {
	testdb.Each(t, func(t *testing.T, st *sqlstore.Store) {
		ctx := context.Background()
		var n atomic.Int32
		st.OnEvents(func() { n.Add(1) })
		now := time.Now().UTC().Truncate(time.Millisecond)
		u := &store.User{ID: id.New(), Name: "W", Email: "wake@example.com", CreatedAt: now, UpdatedAt: now}
		if err := st.CreateUser(ctx, u, nil, nil, nil); err != nil {
			t.Fatal(err)
		}
		if n.Load() != 1 {
			t.Fatalf("after sign-up: %d wake-ups", n.Load())
		}
		dup := &store.User{ID: id.New(), Name: "W", Email: "wake@example.com", CreatedAt: now, UpdatedAt: now}
		st.CreateUser(ctx, dup, nil, nil, nil)                           // rolled back
		st.UpdateUser(ctx, u.ID, func(*store.User) error { return nil }) // nothing changed
		st.CreateVerification(ctx, &store.Verification{ID: id.New(), Identifier: "x", Value: "v", ExpiresAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}, nil)
		if n.Load() != 1 {
			t.Fatalf("commits without events woke the worker: %d", n.Load())
		}
	})
}
