package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/auther/auther/internal/store"
)

// emit records events in the caller's transaction and, in the same
// statement pair, queues one delivery per active endpoint subscribed to each
// event's type. Because it shares the transaction of the change, an event
// exists exactly when its change was committed.
func (s *Store) emit(ctx context.Context, tx *sql.Tx, evs ...store.Event) error {
	for i := range evs {
		ev := &evs[i]
		if err := tx.QueryRowContext(ctx, s.d.q(`INSERT INTO webhook_event (id, type, subject, payload, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?) RETURNING seq`),
			ev.ID, ev.Type, ev.Subject, string(ev.Payload), s.d.t(ev.CreatedAt), s.d.t(ev.CreatedAt)).Scan(&ev.Seq); err != nil {
			return err
		}
		// The delivery columns come from the event row, not parameters, so
		// the statement needs no casts on PostgreSQL.
		if _, err := tx.ExecContext(ctx, s.d.q(`INSERT INTO webhook_delivery (id, event_seq, endpoint_id, subject, status, attempts,
				next_attempt_at, retry_from, created_at, updated_at)
			SELECT ev.id || ':' || e.id, ev.seq, e.id, ev.subject, 'pending', 0, ev.created_at, ev.created_at, ev.created_at, ev.created_at
			FROM webhook_event ev, webhook_endpoint e
			WHERE ev.seq = ? AND e.disabled = ? AND EXISTS (
				SELECT 1 FROM webhook_subscription w WHERE w.endpoint_id = e.id AND w.event_type IN (ev.type, '*'))`),
			ev.Seq, false); err != nil {
			return err
		}
	}
	return nil
}

// txEmit runs fn and then records the events it returns, in one transaction.
func (s *Store) txEmit(ctx context.Context, fn func(*sql.Tx) ([]store.Event, error)) error {
	emitted := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		evs, err := fn(tx)
		if err != nil {
			return err
		}
		emitted = len(evs) > 0
		return s.emit(ctx, tx, evs...)
	})
	if f := s.afterEvents.Load(); err == nil && emitted && f != nil {
		(*f)()
	}
	return err
}

// deleteSessionsReturning deletes sessions matching where (with args) and
// returns the ids and users of the live ones that went, for session.deleted
// events (a session that had already expired is not announced), and how
// many rows went in all.
func (s *Store) deleteSessionsReturning(ctx context.Context, tx *sql.Tx, where string, args ...any) ([][2]string, int, error) {
	rows, err := tx.QueryContext(ctx, s.d.q(`DELETE FROM session WHERE `+where+` RETURNING id, user_id, expires_at`), args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var live [][2]string
	n, at := 0, now()
	for rows.Next() {
		var p [2]string
		var exp time.Time
		if err := rows.Scan(&p[0], &p[1], scanTime{&exp}); err != nil {
			return nil, 0, err
		}
		n++
		if exp.After(at) {
			live = append(live, p)
		}
	}
	return live, n, rows.Err()
}

func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }
