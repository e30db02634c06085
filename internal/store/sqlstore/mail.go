package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/auther/auther/internal/store"
)

func (s *Store) insertMail(ctx context.Context, e execer, m *store.Mail) error {
	if m == nil {
		return nil
	}
	_, err := e.ExecContext(ctx, s.d.q(`INSERT INTO mail_outbox (id, recipient, subject, body_text, body_html, status, attempts, next_attempt_at, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)`),
		m.ID, m.To, m.Subject, m.Text, m.HTML, s.d.t(m.NextAttemptAt), s.d.t(m.CreatedAt), s.d.t(m.UpdatedAt))
	return err
}

const mailCols = `id, recipient, subject, body_text, body_html, status, attempts, next_attempt_at, last_error, sent_at, created_at, updated_at`

func scanMails(rows *sql.Rows) ([]store.Mail, error) {
	defer rows.Close()
	var out []store.Mail
	for rows.Next() {
		var m store.Mail
		var lastErr sql.NullString
		if err := rows.Scan(&m.ID, &m.To, &m.Subject, &m.Text, &m.HTML, &m.Status, &m.Attempts, scanTime{&m.NextAttemptAt},
			&lastErr, scanNullTime{&m.SentAt}, scanTime{&m.CreatedAt}, scanTime{&m.UpdatedAt}); err != nil {
			return nil, err
		}
		m.LastError = lastErr.String
		out = append(out, m)
	}
	return out, rows.Err()
}

// ClaimMail implements store.Store. The UPDATE takes a lease (locked_until)
// on due rows in one statement; on PostgreSQL FOR UPDATE SKIP LOCKED lets
// replicas claim disjoint rows without waiting on each other, and on SQLite
// the single writer serialises claims.
func (s *Store) ClaimMail(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.Mail, error) {
	skip := ""
	if s.d == postgresDialect {
		skip = " FOR UPDATE SKIP LOCKED"
	}
	rows, err := s.w.QueryContext(ctx, s.d.q(`UPDATE mail_outbox SET locked_until = ?, attempts = attempts + 1, updated_at = ?
		WHERE id IN (SELECT id FROM mail_outbox WHERE status = 'pending' AND next_attempt_at <= ?
			AND (locked_until IS NULL OR locked_until <= ?) ORDER BY next_attempt_at LIMIT ?`+skip+`)
		RETURNING `+mailCols), s.d.t(now.Add(lease)), s.d.t(now), s.d.t(now), s.d.t(now), limit)
	if err != nil {
		return nil, s.mapErr(err)
	}
	return scanMails(rows)
}

// MailSent implements store.Store.
func (s *Store) MailSent(ctx context.Context, id string, now time.Time) error {
	return s.finishMail(ctx, `UPDATE mail_outbox SET status = 'sent', body_text = '', body_html = '', sent_at = ?, locked_until = NULL, updated_at = ? WHERE id = ?`,
		s.d.t(now), s.d.t(now), id)
}

// MailRetry implements store.Store.
func (s *Store) MailRetry(ctx context.Context, id string, next time.Time, lastError string, now time.Time) error {
	return s.finishMail(ctx, `UPDATE mail_outbox SET next_attempt_at = ?, last_error = ?, locked_until = NULL, updated_at = ? WHERE id = ? AND status = 'pending'`,
		s.d.t(next), lastError, s.d.t(now), id)
}

// MailFailed implements store.Store.
func (s *Store) MailFailed(ctx context.Context, id string, lastError string, now time.Time) error {
	return s.finishMail(ctx, `UPDATE mail_outbox SET status = 'failed', body_text = '', body_html = '', last_error = ?, locked_until = NULL, updated_at = ? WHERE id = ?`,
		lastError, s.d.t(now), id)
}

func (s *Store) finishMail(ctx context.Context, q string, args ...any) error {
	res, err := s.w.ExecContext(ctx, s.d.q(q), args...)
	if err != nil {
		return s.mapErr(err)
	}
	return mustAffect(res)
}

// ListMail implements store.Store.
func (s *Store) ListMail(ctx context.Context, status string, limit int) ([]store.Mail, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.r.QueryContext(ctx, s.d.q(`SELECT `+mailCols+` FROM mail_outbox WHERE status = ? ORDER BY created_at DESC, id DESC LIMIT ?`), status, limit)
	if err != nil {
		return nil, err
	}
	return scanMails(rows)
}
