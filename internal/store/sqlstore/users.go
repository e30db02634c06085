package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/auther/auther/internal/event"
	"github.com/auther/auther/internal/store"
)

var _ store.Store = (*Store)(nil)

const userCols = `u.id, u.name, u.email, u.email_verified, u.image, u.role, u.created_at, u.updated_at`

func userDest(u *store.User) []any {
	return []any{&u.ID, &u.Name, &u.Email, &u.EmailVerified, &u.Image, &u.Role, scanTime{&u.CreatedAt}, scanTime{&u.UpdatedAt}}
}

// mapErr turns driver errors into the store's errors.
func (s *Store) mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	if what, ok := s.d.uniqueViolation(err); ok {
		if strings.Contains(what, "email") {
			return store.ErrEmailTaken
		}
		return store.ErrConflict
	}
	return err
}

// tx runs fn in a write transaction.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.w.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return s.mapErr(err)
	}
	return s.mapErr(tx.Commit())
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func (s *Store) insertUser(ctx context.Context, e execer, u *store.User) error {
	_, err := e.ExecContext(ctx, s.d.q(`INSERT INTO "user" (id, name, email, email_verified, image, role, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
		u.ID, u.Name, u.Email, u.EmailVerified, u.Image, u.Role, s.d.t(u.CreatedAt), s.d.t(u.UpdatedAt))
	return err
}

func (s *Store) insertAccount(ctx context.Context, e execer, a *store.Account) error {
	_, err := e.ExecContext(ctx, s.d.q(`INSERT INTO account (id, account_id, provider_id, user_id, access_token, refresh_token, id_token,
		access_token_expires_at, refresh_token_expires_at, scope, password, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		a.ID, a.AccountID, a.ProviderID, a.UserID, a.AccessToken, a.RefreshToken, a.IDToken,
		s.d.nt(a.AccessTokenExpiresAt), s.d.nt(a.RefreshTokenExpiresAt), a.Scope, a.Password, s.d.t(a.CreatedAt), s.d.t(a.UpdatedAt))
	return err
}

// CreateUser implements store.Store.
func (s *Store) CreateUser(ctx context.Context, u *store.User, a *store.Account, sess *store.Session, f *store.Followup) error {
	return s.txEmit(ctx, func(tx *sql.Tx) ([]store.Event, error) {
		if err := s.insertUser(ctx, tx, u); err != nil {
			return nil, err
		}
		evs := []store.Event{event.OfUserCreated(u)}
		if a != nil {
			if err := s.insertAccount(ctx, tx, a); err != nil {
				return nil, err
			}
			evs = append(evs, event.OfAccountLinked(a, u.CreatedAt))
		}
		if sess != nil {
			if err := s.insertSession(ctx, tx, sess); err != nil {
				return nil, err
			}
			evs = append(evs, event.OfSessionCreated(sess))
		}
		if f == nil {
			return evs, nil
		}
		if f.Verification != nil {
			if err := s.insertVerification(ctx, tx, f.Verification); err != nil {
				return nil, err
			}
		}
		return append(evs, f.Events...), s.insertMail(ctx, tx, f.Mail)
	})
}

// GetUser implements store.Store.
func (s *Store) GetUser(ctx context.Context, id string) (*store.User, error) {
	var u store.User
	err := s.r.QueryRowContext(ctx, s.d.q(`SELECT `+userCols+` FROM "user" u WHERE u.id = ?`), id).Scan(userDest(&u)...)
	if err != nil {
		return nil, s.mapErr(err)
	}
	return &u, nil
}

// GetUserByEmail implements store.Store.
func (s *Store) GetUserByEmail(ctx context.Context, email string) (*store.User, error) {
	var u store.User
	err := s.r.QueryRowContext(ctx, s.d.q(`SELECT `+userCols+` FROM "user" u WHERE u.email = ?`), email).Scan(userDest(&u)...)
	if err != nil {
		return nil, s.mapErr(err)
	}
	return &u, nil
}

// GetUserWithCredential implements store.Store.
func (s *Store) GetUserWithCredential(ctx context.Context, email string) (*store.User, *store.Account, error) {
	var u store.User
	var accID, accPassword sql.NullString
	dest := append(userDest(&u), &accID, &accPassword)
	err := s.r.QueryRowContext(ctx, s.d.q(`SELECT `+userCols+`, a.id, a.password FROM "user" u
		LEFT JOIN account a ON a.user_id = u.id AND a.provider_id = 'credential'
		WHERE u.email = ?`), email).Scan(dest...)
	if err != nil {
		return nil, nil, s.mapErr(err)
	}
	if !accID.Valid {
		return &u, nil, nil
	}
	a := &store.Account{ID: accID.String, AccountID: u.ID, ProviderID: store.ProviderCredential, UserID: u.ID}
	if accPassword.Valid {
		a.Password = &accPassword.String
	}
	return &u, a, nil
}

// UpdateUser implements store.Store. It records user.updated when anything
// changed, and user.verified when the address became verified.
func (s *Store) UpdateUser(ctx context.Context, id string, fn func(*store.User) error, extra ...store.Event) (*store.User, error) {
	var u store.User
	err := s.txEmit(ctx, func(tx *sql.Tx) ([]store.Event, error) {
		if err := tx.QueryRowContext(ctx, s.d.q(`SELECT `+userCols+` FROM "user" u WHERE u.id = ?`+s.forUpdate()), id).Scan(userDest(&u)...); err != nil {
			return nil, err
		}
		before := u
		if err := fn(&u); err != nil {
			return nil, err
		}
		at := u.UpdatedAt // when the change was made, by the caller's clock
		if userChanged(&before, &u) {
			u.UpdatedAt = after(before.UpdatedAt, u.UpdatedAt)
		}
		_, err := tx.ExecContext(ctx, s.d.q(`UPDATE "user" SET name = ?, email = ?, email_verified = ?, image = ?, role = ?, updated_at = ? WHERE id = ?`),
			u.Name, u.Email, u.EmailVerified, u.Image, u.Role, s.d.t(u.UpdatedAt), u.ID)
		var evs []store.Event
		if userChanged(&before, &u) {
			evs = append(evs, event.OfUserUpdated(&u, at))
		}
		if u.EmailVerified && (!before.EmailVerified || u.Email != before.Email) {
			evs = append(evs, event.OfUserVerified(&u, at)) // a newly proven address
		}
		return append(evs, extra...), err
	})
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// after keeps a user's updated_at strictly increasing, whatever the clocks
// of the replicas that write it say: apps order the user.* events they
// apply by it, so a later change must never carry an earlier time.
func after(prev, next time.Time) time.Time {
	if next.After(prev) {
		return next
	}
	return prev.Add(time.Millisecond)
}

// userChanged reports whether a field receivers see changed.
func userChanged(a, b *store.User) bool {
	return a.Name != b.Name || a.Email != b.Email || a.EmailVerified != b.EmailVerified ||
		(a.Image == nil) != (b.Image == nil) || (a.Image != nil && *a.Image != *b.Image) ||
		(a.Role == nil) != (b.Role == nil) || (a.Role != nil && *a.Role != *b.Role)
}

// forUpdate locks the read row on PostgreSQL; SQLite's single writer with
// immediate transactions already serialises read-modify-write.
func (s *Store) forUpdate() string {
	if s.d == postgresDialect {
		return " FOR UPDATE"
	}
	return ""
}

// ClaimUser implements store.Store.
func (s *Store) ClaimUser(ctx context.Context, id string, now time.Time) (*store.User, error) {
	var u store.User
	err := s.txEmit(ctx, func(tx *sql.Tx) ([]store.Event, error) {
		if err := tx.QueryRowContext(ctx, s.d.q(`SELECT `+userCols+` FROM "user" u WHERE u.id = ?`+s.forUpdate()), id).Scan(userDest(&u)...); err != nil {
			return nil, err
		}
		if u.EmailVerified {
			return nil, nil
		}
		var evs []store.Event
		rows, err := tx.QueryContext(ctx, s.d.q(`DELETE FROM account WHERE user_id = ? AND provider_id = 'credential' RETURNING id, account_id`), id)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			a := store.Account{UserID: id, ProviderID: store.ProviderCredential}
			if err := rows.Scan(&a.ID, &a.AccountID); err != nil {
				rows.Close()
				return nil, err
			}
			evs = append(evs, event.OfAccountUnlinked(&a, now))
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, err
		}
		gone, _, err := s.deleteSessionsReturning(ctx, tx, `user_id = ?`, id)
		if err != nil {
			return nil, err
		}
		for _, g := range gone {
			evs = append(evs, event.OfSessionDeleted(g[0], g[1], now))
		}
		u.EmailVerified, u.UpdatedAt = true, after(u.UpdatedAt, now)
		_, err = tx.ExecContext(ctx, s.d.q(`UPDATE "user" SET email_verified = ?, updated_at = ? WHERE id = ?`), true, s.d.t(u.UpdatedAt), id)
		return append(evs, event.OfUserUpdated(&u, now), event.OfUserVerified(&u, now)), err
	})
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// DeleteUser implements store.Store.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	return s.txEmit(ctx, func(tx *sql.Tx) ([]store.Event, error) {
		u := store.User{ID: id}
		if err := tx.QueryRowContext(ctx, s.d.q(`DELETE FROM "user" WHERE id = ? RETURNING email`), id).Scan(&u.Email); err != nil {
			return nil, err
		}
		return []store.Event{event.OfUserDeleted(&u, now())}, nil
	})
}

func mustAffect(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// ListUsers implements store.Store.
func (s *Store) ListUsers(ctx context.Context, opts store.ListUsersOptions) ([]store.User, error) {
	limit := opts.Limit
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.r.QueryContext(ctx, s.d.q(`SELECT `+userCols+` FROM "user" u WHERE u.id > ? ORDER BY u.id LIMIT ?`), opts.After, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.User
	for rows.Next() {
		var u store.User
		if err := rows.Scan(userDest(&u)...); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

const accountCols = `id, account_id, provider_id, user_id, access_token, refresh_token, id_token,
	access_token_expires_at, refresh_token_expires_at, scope, password, created_at, updated_at`

// ListAccounts implements store.Store.
func (s *Store) ListAccounts(ctx context.Context, userID string) ([]store.Account, error) {
	rows, err := s.r.QueryContext(ctx, s.d.q(`SELECT `+accountCols+` FROM account WHERE user_id = ? ORDER BY created_at, id`), userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Account
	for rows.Next() {
		var a store.Account
		if err := rows.Scan(&a.ID, &a.AccountID, &a.ProviderID, &a.UserID, &a.AccessToken, &a.RefreshToken, &a.IDToken,
			scanNullTime{&a.AccessTokenExpiresAt}, scanNullTime{&a.RefreshTokenExpiresAt}, &a.Scope, &a.Password,
			scanTime{&a.CreatedAt}, scanTime{&a.UpdatedAt}); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// SetPassword implements store.Store.
func (s *Store) SetPassword(ctx context.Context, a *store.Account, revoke bool, replace *store.Session, extra ...store.Event) error {
	return s.txEmit(ctx, func(tx *sql.Tx) ([]store.Event, error) {
		var evs []store.Event
		if s.d == postgresDialect {
			// Serialise first passwords of one user, so exactly one of two
			// concurrent resets sees no account and announces the link.
			if _, err := tx.ExecContext(ctx, `SELECT 1 FROM "user" WHERE id = $1 FOR NO KEY UPDATE`, a.UserID); err != nil {
				return nil, err
			}
		}
		var existing string
		err := tx.QueryRowContext(ctx, s.d.q(`SELECT id FROM account WHERE provider_id = 'credential' AND account_id = ?`), a.UserID).Scan(&existing)
		if errors.Is(err, sql.ErrNoRows) {
			evs = append(evs, event.OfAccountLinked(&store.Account{ID: a.ID, UserID: a.UserID, ProviderID: store.ProviderCredential, AccountID: a.UserID}, a.UpdatedAt))
		} else if err != nil {
			return nil, err
		}
		// An upsert, so two concurrent first passwords cannot both insert.
		if _, err := tx.ExecContext(ctx, s.d.q(`INSERT INTO account (id, account_id, provider_id, user_id, password, created_at, updated_at)
			VALUES (?, ?, 'credential', ?, ?, ?, ?)
			ON CONFLICT (provider_id, account_id) DO UPDATE SET password = excluded.password, updated_at = excluded.updated_at`),
			a.ID, a.UserID, a.UserID, a.Password, s.d.t(a.CreatedAt), s.d.t(a.UpdatedAt)); err != nil {
			return nil, err
		}
		if revoke {
			gone, _, err := s.deleteSessionsReturning(ctx, tx, `user_id = ?`, a.UserID)
			if err != nil {
				return nil, err
			}
			for _, g := range gone {
				evs = append(evs, event.OfSessionDeleted(g[0], g[1], a.UpdatedAt))
			}
		}
		if replace != nil {
			if err := s.insertSession(ctx, tx, replace); err != nil {
				return nil, err
			}
			evs = append(evs, event.OfSessionCreated(replace))
		}
		return append(evs, extra...), nil
	})
}
