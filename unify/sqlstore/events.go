package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"gateway/unify"
)

// AddEvent puts an event for the unified back end in the outbox; it is
// delivered after the transaction commits.
//
// The body is sealed like message content: a reply's event carries the
// phone's text and number, a consent change the number.
func (t *Tx) AddEvent(e unify.OutboxEvent, messageID unify.MessageID) error {
	key, body, err := t.s.sealer.Seal(e.Body)
	if err != nil {
		return fmt.Errorf("sqlstore: seal event: %w", err)
	}
	_, err = t.exec(`INSERT INTO events (id, key, type, dialect, message_id, content_key, body, next_at, created_at) VALUES (?,?,?,?,?,?,?,?,?)`,
		e.ID, e.Key, e.Type, e.Dialect, messageID, key, body, micros(e.CreatedAt), micros(e.CreatedAt))
	if err != nil {
		return fmt.Errorf("sqlstore: add event: %w", err)
	}
	return nil
}

// claimScan bounds how many pending events one claim looks at, per event it
// may claim: enough to find work behind keys that wait out a back-off
// without reading the whole backlog on every poll.
const claimScan = 8

// ClaimEvents leases up to limit due events to owner, each the oldest
// undelivered event of its key, so that events of one message are delivered
// in order and one at a time while different messages go in parallel.
func (s *Store) ClaimEvents(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]unify.OutboxEvent, error) {
	type row struct {
		Seq        int64  `db:"seq"`
		ID         string `db:"id"`
		Key        string `db:"key"`
		Type       string `db:"type"`
		Dialect    string `db:"dialect"`
		Body       []byte `db:"body"`
		Attempts   int    `db:"attempts"`
		NextAt     int64  `db:"next_at"`
		LeaseUntil int64  `db:"lease_until"`
		CreatedAt  int64  `db:"created_at"`
	}
	var out []unify.OutboxEvent
	err := s.InTx(ctx, func(t *Tx) error {
		out = out[:0] // the unit may run twice (see InTx)
		if s.dialect == Postgres {
			// Claims from several instances must not interleave: one that
			// skipped a locked head-of-key event would send the next one early.
			if _, err := t.exec(`SELECT pg_advisory_xact_lock(7301)`); err != nil {
				return err
			}
		}
		var rows []row
		// Bodies are read only for the events chosen below.
		if err := t.sel(&rows, `SELECT seq, id, key, type, dialect, attempts, next_at, lease_until, created_at
			FROM events WHERE delivered_at IS NULL ORDER BY seq LIMIT ?`, claimScan*limit); err != nil {
			return classify(fmt.Errorf("sqlstore: scan events: %w", err))
		}
		seen := make(map[string]bool, len(rows))
		var seqs []any
		nowUS := micros(now)
		for _, r := range rows {
			if seen[r.Key] {
				continue
			}
			seen[r.Key] = true
			if r.NextAt > nowUS || r.LeaseUntil > nowUS {
				continue
			}
			out = append(out, unify.OutboxEvent{ID: r.ID, Key: r.Key, Type: r.Type, Dialect: r.Dialect, Body: r.Body, Attempts: r.Attempts, CreatedAt: fromMicros(r.CreatedAt)})
			seqs = append(seqs, r.Seq)
			if len(out) == limit {
				break
			}
		}
		if len(seqs) == 0 {
			return nil
		}
		ph := strings.TrimSuffix(strings.Repeat("?,", len(seqs)), ",")
		var bodies []struct {
			ID         string `db:"id"`
			ContentKey string `db:"content_key"`
			Body       []byte `db:"body"`
		}
		if err := t.sel(&bodies, `SELECT id, content_key, body FROM events WHERE seq IN (`+ph+`)`, seqs...); err != nil {
			return classify(fmt.Errorf("sqlstore: read events: %w", err))
		}
		byID := make(map[string][]byte, len(bodies))
		for _, b := range bodies {
			plain, err := s.sealer.Open(b.ContentKey, b.Body)
			if err != nil {
				return fmt.Errorf("sqlstore: open event %s: %w", b.ID, err)
			}
			byID[b.ID] = plain
		}
		for i := range out {
			out[i].Body = byID[out[i].ID]
		}
		_, err := t.exec(`UPDATE events SET lease_owner = ?, lease_until = ? WHERE seq IN (`+ph+`)`,
			append([]any{owner, micros(leaseUntil)}, seqs...)...)
		return err
	})
	return out, err
}

// EventDelivered marks an event delivered.
func (s *Store) EventDelivered(ctx context.Context, id string, at time.Time) error {
	return s.EventsDelivered(ctx, at, id)
}

// EventsDelivered marks events delivered, in one statement.
func (s *Store) EventsDelivered(ctx context.Context, at time.Time, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	args := make([]any, 0, len(ids)+1)
	args = append(args, micros(at))
	for _, id := range ids {
		args = append(args, id)
	}
	return s.exec(ctx, `UPDATE events SET delivered_at = ?, attempts = attempts + 1, lease_owner = '', lease_until = 0, last_error = ''
		WHERE id IN (?`+strings.Repeat(",?", len(ids)-1)+`)`, args...)
}

// EventFailed records a failed delivery and when to try again.
func (s *Store) EventFailed(ctx context.Context, id string, errText string, nextAt time.Time) error {
	return s.exec(ctx, `UPDATE events SET attempts = attempts + 1, next_at = ?, lease_owner = '', lease_until = 0, last_error = ? WHERE id = ?`,
		micros(nextAt), truncate(errText, 500), id)
}

// EventRecord is an event as the UI and the tests see it.
type EventRecord struct {
	ID          string
	Type        string
	Body        []byte
	Attempts    int
	LastError   string
	CreatedAt   time.Time
	DeliveredAt time.Time
}

// MessageEvents lists the events of a message, oldest first (timeline).
func (s *Store) MessageEvents(ctx context.Context, id unify.MessageID) ([]EventRecord, error) {
	type row struct {
		ID          string        `db:"id"`
		Type        string        `db:"type"`
		ContentKey  string        `db:"content_key"`
		Body        []byte        `db:"body"`
		Attempts    int           `db:"attempts"`
		LastError   string        `db:"last_error"`
		CreatedAt   int64         `db:"created_at"`
		DeliveredAt sql.NullInt64 `db:"delivered_at"`
	}
	var rows []row
	if err := s.r.SelectContext(ctx, &rows, s.r.Rebind(`SELECT id, type, content_key, body, attempts, last_error, created_at, delivered_at FROM events WHERE message_id = ? ORDER BY seq`), id); err != nil {
		return nil, classify(err)
	}
	out := make([]EventRecord, len(rows))
	for i, r := range rows {
		body, err := s.sealer.Open(r.ContentKey, r.Body)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: open event %s: %w", r.ID, err)
		}
		out[i] = EventRecord{ID: r.ID, Type: r.Type, Body: body, Attempts: r.Attempts, LastError: r.LastError, CreatedAt: fromMicros(r.CreatedAt)}
		if r.DeliveredAt.Valid {
			out[i].DeliveredAt = fromMicros(r.DeliveredAt.Int64)
		}
	}
	return out, nil
}

// PendingEvents counts undelivered events (metrics, readiness, tests).
func (s *Store) PendingEvents(ctx context.Context) (int, error) {
	var n int
	err := s.r.GetContext(ctx, &n, `SELECT COUNT(*) FROM events WHERE delivered_at IS NULL`)
	return n, classify(err)
}
