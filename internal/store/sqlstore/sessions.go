package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/auther/auther/internal/event"
	"github.com/auther/auther/internal/store"
)

const sessionCols = `s.id, s.token, s.user_id, s.expires_at, s.created_at, s.updated_at, s.ip_address, s.user_agent, COALESCE(s.auth_method, '')`

func sessionDest(se *store.Session, ip, ua *sql.NullString) []any {
	return []any{&se.ID, &se.TokenHash, &se.UserID, scanTime{&se.ExpiresAt}, scanTime{&se.CreatedAt}, scanTime{&se.UpdatedAt}, ip, ua, &se.AuthMethod}
}

func (s *Store) insertSession(ctx context.Context, e execer, se *store.Session) error {
	_, err := e.ExecContext(ctx, s.d.q(`INSERT INTO session (id, token, user_id, expires_at, created_at, updated_at, ip_address, user_agent, auth_method) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		se.ID, se.TokenHash, se.UserID, s.d.t(se.ExpiresAt), s.d.t(se.CreatedAt), s.d.t(se.UpdatedAt), se.IPAddress, se.UserAgent, nullString(se.AuthMethod))
	return err
}

// CreateSession implements store.Store.
func (s *Store) CreateSession(ctx context.Context, se *store.Session, extra ...store.Event) error {
	return s.txEmit(ctx, func(tx *sql.Tx) ([]store.Event, error) {
		return append([]store.Event{event.OfSessionCreated(se)}, extra...), s.insertSession(ctx, tx, se)
	})
}

// GetSession implements store.Store: one indexed query, session joined to user.
func (s *Store) GetSession(ctx context.Context, tokenHash string) (*store.Session, *store.User, error) {
	var se store.Session
	var u store.User
	var ip, ua sql.NullString
	dest := append(sessionDest(&se, &ip, &ua), userDest(&u)...)
	err := s.r.QueryRowContext(ctx, s.d.q(`SELECT `+sessionCols+`, `+userCols+` FROM session s JOIN "user" u ON u.id = s.user_id WHERE s.token = ?`), tokenHash).Scan(dest...)
	if err != nil {
		return nil, nil, s.mapErr(err)
	}
	se.IPAddress, se.UserAgent = ip.String, ua.String
	return &se, &u, nil
}

// ExtendSession implements store.Store.
func (s *Store) ExtendSession(ctx context.Context, id string, expiresAt, updatedAt time.Time) error {
	res, err := s.w.ExecContext(ctx, s.d.q(`UPDATE session SET expires_at = ?, updated_at = ? WHERE id = ?`), s.d.t(expiresAt), s.d.t(updatedAt), id)
	if err != nil {
		return s.mapErr(err)
	}
	return mustAffect(res)
}

// ListSessions implements store.Store.
func (s *Store) ListSessions(ctx context.Context, userID string, now time.Time) ([]store.Session, error) {
	rows, err := s.r.QueryContext(ctx, s.d.q(`SELECT `+sessionCols+` FROM session s WHERE s.user_id = ? AND s.expires_at > ? ORDER BY s.created_at DESC, s.id DESC`), userID, s.d.t(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Session
	for rows.Next() {
		var se store.Session
		var ip, ua sql.NullString
		if err := rows.Scan(sessionDest(&se, &ip, &ua)...); err != nil {
			return nil, err
		}
		se.IPAddress, se.UserAgent = ip.String, ua.String
		out = append(out, se)
	}
	return out, rows.Err()
}

// DeleteSession implements store.Store.
func (s *Store) DeleteSession(ctx context.Context, userID, tokenHash string) error {
	return s.txEmit(ctx, func(tx *sql.Tx) ([]store.Event, error) {
		gone, n, err := s.deleteSessionsReturning(ctx, tx, `user_id = ? AND token = ?`, userID, tokenHash)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, store.ErrNotFound
		}
		return sessionsDeleted(gone), nil
	})
}

func sessionsDeleted(gone [][2]string) []store.Event {
	at := now()
	evs := make([]store.Event, len(gone))
	for i, g := range gone {
		evs[i] = event.OfSessionDeleted(g[0], g[1], at)
	}
	return evs
}

// DeleteUserSessions implements store.Store.
func (s *Store) DeleteUserSessions(ctx context.Context, userID, exceptID string) (int, error) {
	var n int
	err := s.txEmit(ctx, func(tx *sql.Tx) ([]store.Event, error) {
		gone, _, err := s.deleteSessionsReturning(ctx, tx, `user_id = ? AND id <> ?`, userID, exceptID)
		n = len(gone)
		return sessionsDeleted(gone), err
	})
	return n, err
}

// DeleteExpired implements store.Store. Each table is swept in a bounded
// batch so a large backlog never holds a long write lock.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time, limit int) (int, int, error) {
	var counts [2]int
	for i, table := range []string{"session", "verification"} {
		res, err := s.w.ExecContext(ctx, s.d.q(`DELETE FROM `+table+` WHERE id IN (SELECT id FROM `+table+` WHERE expires_at < ? LIMIT ?)`), s.d.t(now), limit)
		if err != nil {
			return counts[0], counts[1], err
		}
		n, _ := res.RowsAffected()
		counts[i] = int(n)
	}
	return counts[0], counts[1], nil
}
