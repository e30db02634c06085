package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/auther/auther/internal/store"
)

func (s *Store) insertVerification(ctx context.Context, e execer, v *store.Verification) error {
	_, err := e.ExecContext(ctx, s.d.q(`INSERT INTO verification (id, identifier, value, expires_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`),
		v.ID, v.Identifier, v.Value, s.d.t(v.ExpiresAt), s.d.t(v.CreatedAt), s.d.t(v.UpdatedAt))
	return err
}

// CreateVerification implements store.Store.
func (s *Store) CreateVerification(ctx context.Context, v *store.Verification, m *store.Mail, evs ...store.Event) error {
	if m == nil && len(evs) == 0 {
		return s.mapErr(s.insertVerification(ctx, s.w, v))
	}
	return s.txEmit(ctx, func(tx *sql.Tx) ([]store.Event, error) {
		if err := s.insertVerification(ctx, tx, v); err != nil {
			return nil, err
		}
		return evs, s.insertMail(ctx, tx, m)
	})
}

// ReplaceVerification implements store.Store.
func (s *Store) ReplaceVerification(ctx context.Context, v *store.Verification, m *store.Mail, evs ...store.Event) error {
	return s.txEmit(ctx, func(tx *sql.Tx) ([]store.Event, error) {
		if s.d == postgresDialect {
			// Under READ COMMITTED two concurrent replaces would each delete
			// nothing and insert their own row; serialise them per identifier.
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, v.Identifier); err != nil {
				return nil, err
			}
		}
		if _, err := tx.ExecContext(ctx, s.d.q(`DELETE FROM verification WHERE identifier = ?`), v.Identifier); err != nil {
			return nil, err
		}
		if err := s.insertVerification(ctx, tx, v); err != nil {
			return nil, err
		}
		return evs, s.insertMail(ctx, tx, m)
	})
}

const verificationCols = `id, identifier, value, expires_at, created_at, updated_at`

func verificationDest(v *store.Verification) []any {
	return []any{&v.ID, &v.Identifier, &v.Value, scanTime{&v.ExpiresAt}, scanTime{&v.CreatedAt}, scanTime{&v.UpdatedAt}}
}

// GetVerification implements store.Store.
func (s *Store) GetVerification(ctx context.Context, identifier string) (*store.Verification, error) {
	var v store.Verification
	err := s.r.QueryRowContext(ctx, s.d.q(`SELECT `+verificationCols+` FROM verification WHERE identifier = ? ORDER BY created_at DESC, id DESC LIMIT 1`), identifier).
		Scan(verificationDest(&v)...)
	if err != nil {
		return nil, s.mapErr(err)
	}
	return &v, nil
}

// TakeVerification implements store.Store. DELETE … RETURNING makes the take
// atomic: a concurrent second caller finds the row gone.
func (s *Store) TakeVerification(ctx context.Context, identifier string) (*store.Verification, error) {
	var v store.Verification
	err := s.w.QueryRowContext(ctx, s.d.q(`DELETE FROM verification WHERE id = (
			SELECT id FROM verification WHERE identifier = ? ORDER BY created_at DESC, id DESC LIMIT 1)
		RETURNING `+verificationCols), identifier).Scan(verificationDest(&v)...)
	if err != nil {
		return nil, s.mapErr(err)
	}
	return &v, nil
}

// DeleteVerification implements store.Store.
func (s *Store) DeleteVerification(ctx context.Context, id string) error {
	res, err := s.w.ExecContext(ctx, s.d.q(`DELETE FROM verification WHERE id = ?`), id)
	if err != nil {
		return s.mapErr(err)
	}
	return mustAffect(res)
}

// SwapVerificationValue implements store.Store.
func (s *Store) SwapVerificationValue(ctx context.Context, id, prev, next string, now time.Time) error {
	res, err := s.w.ExecContext(ctx, s.d.q(`UPDATE verification SET value = ?, updated_at = ? WHERE id = ? AND value = ?`), next, s.d.t(now), id, prev)
	if err != nil {
		return s.mapErr(err)
	}
	return mustAffect(res)
}
