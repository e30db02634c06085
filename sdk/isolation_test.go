package sdk_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/auther/auther/internal/testdb"
	"github.com/auther/auther/sdk"
)

// openRepeatableRead opens the test schema with every transaction defaulting
// to REPEATABLE READ, as on a database configured with
// default_transaction_isolation = 'repeatable read'.
func openRepeatableRead(t *testing.T) *sql.DB {
	t.Helper()
	u, err := url.Parse(testdb.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("default_transaction_isolation", "repeatable read")
	u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20") // pgx reads + literally
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var level string
	if err := db.QueryRow(`SHOW default_transaction_isolation`).Scan(&level); err != nil || level != "repeatable read" {
		t.Fatalf("default_transaction_isolation = %q %v", level, err)
	}
	return db
}

func randomID(prefix string) string {
	var b [6]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// holdUserLock takes id's advisory lock in a transaction of its own, so that
// the SDK's next write of id waits for it.
func holdUserLock(t *testing.T, db *sql.DB, id string) *sql.Tx {
	t.Helper()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback() })
	k1, k2 := sdk.UserLockKey(id)
	if _, err := tx.Exec(`SELECT pg_advisory_xact_lock($1, $2)`, k1, k2); err != nil {
		t.Fatal(err)
	}
	return tx
}

// waitForLockWaiter returns once some session is waiting for id's lock.
func waitForLockWaiter(t *testing.T, db *sql.DB, id string) {
	t.Helper()
	k1, k2 := sdk.UserLockKey(id)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		err := db.QueryRow(`SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 2`, int64(uint32(k1)), int64(uint32(k2))).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("no write started waiting for the user's lock")
}

// TestRepeatableReadDatabase: on a database whose transactions default to
// REPEATABLE READ, a write that waited for a user's lock must still see what
// the lock's holder committed meanwhile. Otherwise a first login that waited
// for a deletion inserts the row anyway, and a deletion that waited for a
// first login misses the new row (no cascade): both leave a deleted user
// with a row.
func TestRepeatableReadDatabase(t *testing.T) {
	db := openRepeatableRead(t)
	clk := newClock()
	s := newShadow(t, db, sdk.Postgres, clk)
	ctx := context.Background()

	t.Run("JIT waits while a deletion commits", func(t *testing.T) {
		id := randomID("u-rr-jit-")
		holder := holdUserLock(t, db, id)
		done := make(chan error, 1)
		go func() {
			_, _, err := s.EnsureFromClaims(ctx, &sdk.Claims{Subject: id, IssuedAt: clk.Now().Add(-time.Minute)})
			done <- err
		}()
		waitForLockWaiter(t, db, id)
		if _, err := holder.Exec(`INSERT INTO user_tombstones (id, deleted_at) VALUES ($1, $2)`, id, clk.Now().UnixMilli()); err != nil {
			t.Fatal(err)
		}
		if err := holder.Commit(); err != nil {
			t.Fatal(err)
		}
		if err := <-done; !errors.Is(err, sdk.ErrUserDeleted) {
			t.Fatalf("first login after a deletion committed: %v, want ErrUserDeleted", err)
		}
		if n := countRows(t, db, `SELECT COUNT(*) FROM users WHERE id = $1`, id); n != 0 {
			t.Fatal("the deleted user has a row")
		}
	})

	t.Run("Delete waits while a first login commits", func(t *testing.T) {
		id := randomID("u-rr-del-")
		holder := holdUserLock(t, db, id)
		done := make(chan error, 1)
		go func() { done <- s.Delete(ctx, id) }()
		waitForLockWaiter(t, db, id)
		if _, err := holder.Exec(`INSERT INTO users (id, email, name, email_verified, created_at, updated_at) VALUES ($1, $2, $1, false, now(), now())`, id, id+"@unknown.local"); err != nil {
			t.Fatal(err)
		}
		if err := holder.Commit(); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, db, `SELECT COUNT(*) FROM users WHERE id = $1`, id); n != 0 {
			t.Fatal("Delete missed the row a first login had just committed")
		}
		if ok, err := s.Tombstoned(ctx, id); !ok || err != nil {
			t.Fatalf("Tombstoned = %v %v", ok, err)
		}
	})
}

// TestEnsureRefusesTombstonedRow: a row that exists next to a tombstone (left
// by an earlier race or restored from a backup) is not served to a token
// issued before the deletion.
func TestEnsureRefusesTombstonedRow(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sql.DB, d sdk.Dialect) {
		clk := newClock()
		s := newShadow(t, db, d, clk)
		ctx := context.Background()
		claims := &sdk.Claims{Subject: "u-both", IssuedAt: clk.Now().Add(-time.Hour)}
		if _, _, err := s.EnsureFromClaims(ctx, claims); err != nil {
			t.Fatal(err)
		}
		ph := "?"
		if d == sdk.Postgres {
			ph = "$1"
		}
		if _, err := db.Exec(`INSERT INTO user_tombstones (id, deleted_at) VALUES ('u-both', `+ph+`)`, clk.Now().UnixMilli()); err != nil {
			t.Fatal(err)
		}
		if u, _, err := s.EnsureFromClaims(ctx, claims); !errors.Is(err, sdk.ErrUserDeleted) {
			t.Fatalf("row of a tombstoned user served: %+v %v", u, err)
		}
	})
}
