package sqlstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/auther/auther/internal/id"
	"github.com/auther/auther/internal/store"
	"github.com/auther/auther/internal/store/sqlstore"
	"github.com/auther/auther/internal/testdb"
)

// ReplaceVerification promises to delete every verification with the
// identifier and insert the new one atomically, so an address has at most
// one live code ("a new code replaces any earlier one"). On PostgreSQL
// (READ COMMITTED) concurrent replaces each delete nothing and each insert,
// leaving several live codes: when the newest is used up or killed after 3
// wrong tries, GetVerification falls back to an older one, which is then
// valid again with a fresh attempt budget. SQLite's single writer hides it.
func TestReviewConcurrentReplaceLeavesOneVerification(t *testing.T) {
	testdb.Each(t, func(t *testing.T, st *sqlstore.Store) {
		ctx := context.Background()
		for round := range 5 {
			ident := fmt.Sprintf("forget-password-otp-race%d@example.com", round)
			now := time.Now().UTC().Truncate(time.Millisecond)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					v := &store.Verification{ID: id.New(), Identifier: ident, Value: "code", ExpiresAt: now.Add(5 * time.Minute),
						CreatedAt: now.Add(time.Duration(i) * time.Millisecond), UpdatedAt: now}
					if err := st.ReplaceVerification(ctx, v, nil); err != nil {
						t.Errorf("replace: %v", err)
					}
				}()
			}
			close(start)
			wg.Wait()
			live := 0
			for {
				if _, err := st.TakeVerification(ctx, ident); err != nil {
					break
				}
				live++
			}
			if live != 1 {
				t.Fatalf("%d live verifications for one identifier after concurrent replaces; want exactly 1", live)
			}
		}
	})
}
