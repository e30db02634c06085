package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/auther/auther/internal/store"
)

const endpointCols = `id, url, description, secret, previous_secret, previous_secret_expires_at, retry_policy, disabled, created_at, updated_at`

func endpointDest(e *store.WebhookEndpoint, prev *sql.NullString) []any {
	return []any{&e.ID, &e.URL, &e.Description, &e.Secret, prev, scanNullTime{&e.PreviousSecretExpiresAt}, &e.RetryPolicy, &e.Disabled,
		scanTime{&e.CreatedAt}, scanTime{&e.UpdatedAt}}
}

func (s *Store) saveSubscriptions(ctx context.Context, tx *sql.Tx, e *store.WebhookEndpoint) error {
	if _, err := tx.ExecContext(ctx, s.d.q(`DELETE FROM webhook_subscription WHERE endpoint_id = ?`), e.ID); err != nil {
		return err
	}
	for _, t := range e.EventTypes {
		if _, err := tx.ExecContext(ctx, s.d.q(`INSERT INTO webhook_subscription (endpoint_id, event_type, created_at, updated_at) VALUES (?, ?, ?, ?)`),
			e.ID, t, s.d.t(e.UpdatedAt), s.d.t(e.UpdatedAt)); err != nil {
			return err
		}
	}
	return nil
}

func nullIfEmpty(v string) any {
	if v == "" {
		return nil
	}
	return v
}

// CreateWebhookEndpoint implements store.Store.
func (s *Store) CreateWebhookEndpoint(ctx context.Context, e *store.WebhookEndpoint) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.d.q(`INSERT INTO webhook_endpoint (`+endpointCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			e.ID, e.URL, e.Description, e.Secret, nullIfEmpty(e.PreviousSecret), s.d.nt(e.PreviousSecretExpiresAt), e.RetryPolicy, e.Disabled,
			s.d.t(e.CreatedAt), s.d.t(e.UpdatedAt)); err != nil {
			return err
		}
		return s.saveSubscriptions(ctx, tx, e)
	})
}

func (s *Store) subscriptions(ctx context.Context, q querier, ids ...string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, endpointID := range ids {
		rows, err := q.QueryContext(ctx, s.d.q(`SELECT event_type FROM webhook_subscription WHERE endpoint_id = ? ORDER BY event_type`), endpointID)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var t string
			if err := rows.Scan(&t); err != nil {
				rows.Close()
				return nil, err
			}
			out[endpointID] = append(out[endpointID], t)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, err
		}
	}
	return out, nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// endpointRow reads an endpoint without its subscriptions (what sending
// needs).
func (s *Store) endpointRow(ctx context.Context, q querier, id, lock string) (*store.WebhookEndpoint, error) {
	var e store.WebhookEndpoint
	var prev sql.NullString
	if err := q.QueryRowContext(ctx, s.d.q(`SELECT `+endpointCols+` FROM webhook_endpoint WHERE id = ?`+lock), id).Scan(endpointDest(&e, &prev)...); err != nil {
		return nil, err
	}
	e.PreviousSecret = prev.String
	return &e, nil
}

func (s *Store) getEndpoint(ctx context.Context, q querier, id, lock string) (*store.WebhookEndpoint, error) {
	e, err := s.endpointRow(ctx, q, id, lock)
	if err != nil {
		return nil, err
	}
	subs, err := s.subscriptions(ctx, q, id)
	e.EventTypes = subs[id]
	return e, err
}

// GetWebhookEndpoint implements store.Store.
func (s *Store) GetWebhookEndpoint(ctx context.Context, id string) (*store.WebhookEndpoint, error) {
	e, err := s.getEndpoint(ctx, s.r, id, "")
	return e, s.mapErr(err)
}

// ListWebhookEndpoints implements store.Store.
func (s *Store) ListWebhookEndpoints(ctx context.Context) ([]store.WebhookEndpoint, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+endpointCols+` FROM webhook_endpoint ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	var out []store.WebhookEndpoint
	for rows.Next() {
		var e store.WebhookEndpoint
		var prev sql.NullString
		if err := rows.Scan(endpointDest(&e, &prev)...); err != nil {
			rows.Close()
			return nil, err
		}
		e.PreviousSecret = prev.String
		out = append(out, e)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, err
	}
	for i := range out {
		subs, err := s.subscriptions(ctx, s.r, out[i].ID)
		if err != nil {
			return nil, err
		}
		out[i].EventTypes = subs[out[i].ID]
	}
	return out, nil
}

// UpdateWebhookEndpoint implements store.Store.
func (s *Store) UpdateWebhookEndpoint(ctx context.Context, id string, fn func(*store.WebhookEndpoint) error) (*store.WebhookEndpoint, error) {
	var out *store.WebhookEndpoint
	err := s.tx(ctx, func(tx *sql.Tx) error {
		lock := ""
		if s.d == postgresDialect {
			// Not FOR UPDATE: that would conflict with the key-share lock
			// every delivery insert takes, stalling sign-ins while an
			// endpoint is edited.
			lock = " FOR NO KEY UPDATE"
		}
		e, err := s.getEndpoint(ctx, tx, id, lock)
		if err != nil {
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.d.q(`UPDATE webhook_endpoint SET url = ?, description = ?, secret = ?, previous_secret = ?,
			previous_secret_expires_at = ?, retry_policy = ?, disabled = ?, updated_at = ? WHERE id = ?`),
			e.URL, e.Description, e.Secret, nullIfEmpty(e.PreviousSecret), s.d.nt(e.PreviousSecretExpiresAt), e.RetryPolicy, e.Disabled,
			s.d.t(e.UpdatedAt), id); err != nil {
			return err
		}
		out = e
		return s.saveSubscriptions(ctx, tx, e)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteWebhookEndpoint implements store.Store. Its deliveries and their
// attempts go with it.
func (s *Store) DeleteWebhookEndpoint(ctx context.Context, id string) error {
	res, err := s.w.ExecContext(ctx, s.d.q(`DELETE FROM webhook_endpoint WHERE id = ?`), id)
	if err != nil {
		return s.mapErr(err)
	}
	return mustAffect(res)
}

// EmitTo implements store.Store.
func (s *Store) EmitTo(ctx context.Context, endpointID string, ev store.Event) (*store.Delivery, error) {
	d := store.Delivery{ID: ev.ID + ":" + endpointID, EventID: ev.ID, EventType: ev.Type, EndpointID: endpointID, Subject: ev.Subject,
		Status: store.DeliveryPending, NextAttemptAt: ev.CreatedAt, RetryFrom: ev.CreatedAt, CreatedAt: ev.CreatedAt, UpdatedAt: ev.CreatedAt}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, s.d.q(`SELECT id FROM webhook_endpoint WHERE id = ?`), endpointID).Scan(new(string)); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, s.d.q(`INSERT INTO webhook_event (id, type, subject, payload, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?) RETURNING seq`),
			ev.ID, ev.Type, ev.Subject, string(ev.Payload), s.d.t(ev.CreatedAt), s.d.t(ev.CreatedAt)).Scan(&ev.Seq); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.d.q(`INSERT INTO webhook_delivery (id, event_seq, endpoint_id, subject, status, attempts,
			next_attempt_at, retry_from, created_at, updated_at) VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?)`),
			d.ID, ev.Seq, endpointID, ev.Subject, s.d.t(ev.CreatedAt), s.d.t(ev.CreatedAt), s.d.t(ev.CreatedAt), s.d.t(ev.CreatedAt))
		return err
	})
	if err != nil {
		return nil, err
	}
	return &d, nil
}

const deliveryCols = `d.id, d.event_seq, ev.id, ev.type, d.endpoint_id, d.subject, d.status, d.attempts, d.next_attempt_at, d.retry_from,
	d.last_status_code, d.last_error, d.delivered_at, d.created_at, d.updated_at`

func deliveryDest(d *store.Delivery, code *sql.NullInt64, lastErr *sql.NullString) []any {
	return []any{&d.ID, &d.EventSeq, &d.EventID, &d.EventType, &d.EndpointID, &d.Subject, &d.Status, &d.Attempts, scanTime{&d.NextAttemptAt},
		scanTime{&d.RetryFrom}, code, lastErr, scanNullTime{&d.DeliveredAt}, scanTime{&d.CreatedAt}, scanTime{&d.UpdatedAt}}
}

func scanDeliveries(rows *sql.Rows, withPayload bool) ([]store.Delivery, error) {
	defer rows.Close()
	var out []store.Delivery
	for rows.Next() {
		var d store.Delivery
		var code sql.NullInt64
		var lastErr sql.NullString
		dest := deliveryDest(&d, &code, &lastErr)
		var payload string
		if withPayload {
			dest = append(dest, &payload)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		d.LastStatusCode, d.LastError, d.Payload = int(code.Int64), lastErr.String, []byte(payload)
		out = append(out, d)
	}
	return out, rows.Err()
}

// ClaimDeliveries implements store.Store. The lease is the delivery's
// next_attempt_at moved forward: a worker that dies mid-send leaves the
// delivery pending, and it is due again once the lease ends. On PostgreSQL
// FOR UPDATE SKIP LOCKED lets replicas claim disjoint rows; on SQLite the
// single writer serialises claims.
func (s *Store) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int, skipEndpoints ...string) ([]store.Delivery, error) {
	lock := ""
	if s.d == postgresDialect {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	args := []any{s.d.t(now.Add(lease)), s.d.t(now), s.d.t(now), s.d.t(now), false}
	busy := ""
	if len(skipEndpoints) > 0 {
		busy = ` AND d.endpoint_id NOT IN (?` + strings.Repeat(", ?", len(skipEndpoints)-1) + `)`
		for _, e := range skipEndpoints {
			args = append(args, e)
		}
	}
	args = append(args, limit)
	var out []store.Delivery
	err := s.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, s.d.q(`UPDATE webhook_delivery
			SET next_attempt_at = ?, attempts = attempts + 1, updated_at = ?,
				retry_from = CASE WHEN attempts = 0 THEN ? ELSE retry_from END
			WHERE id IN (SELECT d.id FROM webhook_delivery d
				WHERE d.status = 'pending' AND d.next_attempt_at <= ?
				AND d.endpoint_id IN (SELECT e.id FROM webhook_endpoint e WHERE e.disabled = ?)`+busy+`
				AND NOT EXISTS (SELECT 1 FROM webhook_delivery p WHERE p.status = 'pending' AND p.endpoint_id = d.endpoint_id
					AND p.subject = d.subject AND p.event_seq < d.event_seq)
				ORDER BY d.event_seq LIMIT ?`+lock+`)
			RETURNING id`), args...)
		if err != nil {
			return err
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		// One read for the whole batch: the claimed rows with their payloads.
		args := make([]any, len(ids))
		for i, id := range ids {
			args[i] = id
		}
		rows, err = tx.QueryContext(ctx, s.d.q(`SELECT `+deliveryCols+`, ev.payload FROM webhook_delivery d
			JOIN webhook_event ev ON ev.seq = d.event_seq WHERE d.id IN (?`+strings.Repeat(", ?", len(ids)-1)+`)`), args...)
		if err != nil {
			return err
		}
		if out, err = scanDeliveries(rows, true); err != nil {
			return err
		}
		endpoints := map[string]*store.WebhookEndpoint{}
		for i := range out {
			d := &out[i]
			if endpoints[d.EndpointID] == nil {
				if endpoints[d.EndpointID], err = s.endpointRow(ctx, tx, d.EndpointID, ""); err != nil {
					return err
				}
			}
			d.Endpoint = endpoints[d.EndpointID]
		}
		return nil
	})
	slices.SortFunc(out, func(a, b store.Delivery) int { return cmp.Compare(a.EventSeq, b.EventSeq) })
	return out, err
}

// RecordAttempt implements store.Store.
func (s *Store) RecordAttempt(ctx context.Context, a *store.DeliveryAttempt, out store.DeliveryOutcome) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var delivered any
		next := out.NextAttemptAt
		if out.Status == store.DeliveryDelivered {
			delivered = s.d.t(a.CreatedAt)
		}
		if out.Status != store.DeliveryPending {
			next = a.CreatedAt
		}
		res, err := tx.ExecContext(ctx, s.d.q(`UPDATE webhook_delivery SET status = ?, next_attempt_at = ?, last_status_code = ?, last_error = ?,
			delivered_at = ?, updated_at = ? WHERE id = ? AND attempts = ? AND status = 'pending'`),
			out.Status, s.d.t(next), nullIfZero(a.StatusCode), nullIfEmpty(a.Error), delivered, s.d.t(a.CreatedAt), a.DeliveryID, a.Claim)
		if err != nil {
			return err
		}
		if err := mustAffect(res); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.d.q(`INSERT INTO webhook_attempt (id, delivery_id, status_code, error, duration_ms, response_body, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`), a.ID, a.DeliveryID, nullIfZero(a.StatusCode), nullIfEmpty(a.Error), a.Duration.Milliseconds(),
			a.Response, s.d.t(a.CreatedAt), s.d.t(a.CreatedAt))
		return err
	})
}

func nullIfZero(n int) any {
	if n == 0 {
		return nil
	}
	return n
}

// GetDelivery implements store.Store.
func (s *Store) GetDelivery(ctx context.Context, id string) (*store.Delivery, error) {
	rows, err := s.r.QueryContext(ctx, s.d.q(`SELECT `+deliveryCols+` FROM webhook_delivery d JOIN webhook_event ev ON ev.seq = d.event_seq WHERE d.id = ?`), id)
	if err != nil {
		return nil, err
	}
	ds, err := scanDeliveries(rows, false)
	if err != nil {
		return nil, err
	}
	if len(ds) == 0 {
		return nil, store.ErrNotFound
	}
	return &ds[0], nil
}

// ListDeliveries implements store.Store.
func (s *Store) ListDeliveries(ctx context.Context, o store.ListDeliveriesOptions) ([]store.Delivery, error) {
	if o.Limit <= 0 {
		o.Limit = 50
	}
	q := `SELECT ` + deliveryCols + ` FROM webhook_delivery d JOIN webhook_event ev ON ev.seq = d.event_seq WHERE d.endpoint_id = ?`
	args := []any{o.EndpointID}
	if o.Status != "" {
		q += ` AND d.status = ?`
		args = append(args, o.Status)
	}
	rows, err := s.r.QueryContext(ctx, s.d.q(q+` ORDER BY d.event_seq DESC LIMIT ?`), append(args, o.Limit)...)
	if err != nil {
		return nil, err
	}
	return scanDeliveries(rows, false)
}

// ListAttempts implements store.Store.
func (s *Store) ListAttempts(ctx context.Context, deliveryID string) ([]store.DeliveryAttempt, error) {
	rows, err := s.r.QueryContext(ctx, s.d.q(`SELECT id, delivery_id, status_code, error, duration_ms, response_body, created_at
		FROM webhook_attempt WHERE delivery_id = ? ORDER BY created_at, id`), deliveryID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.DeliveryAttempt
	for rows.Next() {
		var a store.DeliveryAttempt
		var code sql.NullInt64
		var msg sql.NullString
		var ms int64
		if err := rows.Scan(&a.ID, &a.DeliveryID, &code, &msg, &ms, &a.Response, scanTime{&a.CreatedAt}); err != nil {
			return nil, err
		}
		a.StatusCode, a.Error, a.Duration = int(code.Int64), msg.String, time.Duration(ms)*time.Millisecond
		out = append(out, a)
	}
	return out, rows.Err()
}

// ReplayDelivery implements store.Store. Touching the event's updated_at
// in the same transaction keeps a concurrent retention sweep (which
// re-checks updated_at on the row it deletes) from removing it.
func (s *Store) ReplayDelivery(ctx context.Context, id string, now time.Time) (*store.Delivery, error) {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.d.q(`UPDATE webhook_delivery SET status = 'pending', next_attempt_at = ?, retry_from = ?, delivered_at = NULL, updated_at = ?
			WHERE id = ? AND status <> 'pending'`), s.d.t(now), s.d.t(now), s.d.t(now), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			if _, err := s.GetDelivery(ctx, id); err != nil {
				return err
			}
			return store.ErrConflict // still pending: nothing to replay
		}
		_, err = tx.ExecContext(ctx, s.d.q(`UPDATE webhook_event SET updated_at = ? WHERE seq = (SELECT event_seq FROM webhook_delivery WHERE id = ?)`), s.d.t(now), id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.GetDelivery(ctx, id)
}

// ListEvents implements store.Store.
func (s *Store) ListEvents(ctx context.Context, after int64, limit int) ([]store.Event, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.r.QueryContext(ctx, s.d.q(`SELECT seq, id, type, subject, payload, created_at FROM webhook_event WHERE seq > ? ORDER BY seq LIMIT ?`), after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Event
	for rows.Next() {
		var e store.Event
		var payload string
		if err := rows.Scan(&e.Seq, &e.ID, &e.Type, &e.Subject, &payload, scanTime{&e.CreatedAt}); err != nil {
			return nil, err
		}
		e.Payload = []byte(payload)
		out = append(out, e)
	}
	return out, rows.Err()
}

// DeleteOldEvents implements store.Store. The outer updated_at test is
// evaluated again on rows a concurrent replay just touched.
func (s *Store) DeleteOldEvents(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	res, err := s.w.ExecContext(ctx, s.d.q(`DELETE FROM webhook_event WHERE updated_at < ? AND seq IN (SELECT ev.seq FROM webhook_event ev
		WHERE ev.updated_at < ? AND NOT EXISTS (SELECT 1 FROM webhook_delivery d WHERE d.event_seq = ev.seq AND d.status = 'pending')
		ORDER BY ev.seq LIMIT ?)`), s.d.t(cutoff), s.d.t(cutoff), limit)
	if err != nil {
		return 0, s.mapErr(err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}
