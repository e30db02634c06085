package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/auther/auther/internal/store"
)

// AddSigningKey implements store.Store. On PostgreSQL the table lock keeps
// two replicas rotating at once from leaving two keys in use; SQLite's
// single writer already serialises.
func (s *Store) AddSigningKey(ctx context.Context, k *store.SigningKey, retireAt time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if s.d == postgresDialect {
			if _, err := tx.ExecContext(ctx, `LOCK TABLE jwks IN SHARE ROW EXCLUSIVE MODE`); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, s.d.q(`UPDATE jwks SET expires_at = ? WHERE expires_at IS NULL`), s.d.t(retireAt)); err != nil {
			return err
		}
		var crv any
		if k.Curve != "" {
			crv = k.Curve
		}
		_, err := tx.ExecContext(ctx, s.d.q(`INSERT INTO jwks (id, alg, crv, public_key, private_key, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, NULL)`),
			k.ID, k.Algorithm, crv, k.PublicKey, k.PrivateKey, s.d.t(k.CreatedAt))
		return err
	})
}

// ListSigningKeys implements store.Store.
func (s *Store) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, alg, crv, public_key, private_key, created_at, expires_at FROM jwks ORDER BY created_at DESC, id DESC`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.SigningKey
	for rows.Next() {
		var k store.SigningKey
		var crv sql.NullString
		if err := rows.Scan(&k.ID, &k.Algorithm, &crv, &k.PublicKey, &k.PrivateKey, scanTime{&k.CreatedAt}, scanNullTime{&k.ExpiresAt}); err != nil {
			return nil, err
		}
		k.Curve = crv.String
		out = append(out, k)
	}
	return out, rows.Err()
}

// DeleteExpiredSigningKeys implements store.Store.
func (s *Store) DeleteExpiredSigningKeys(ctx context.Context, now time.Time) (int, error) {
	res, err := s.w.ExecContext(ctx, s.d.q(`DELETE FROM jwks WHERE expires_at IS NOT NULL AND expires_at < ?`), s.d.t(now))
	if err != nil {
		return 0, s.mapErr(err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}
