package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"gateway/unify"
)

// AddEvent puts an event for the unified back end in the outbox; it is
// delivered after the transaction commits.
//
// The body is sealed like message content: a reply's event carries the
// phone's text and number, a consent change the number.
func (t *Tx) AddEvent(e unify.OutboxEvent, messageID unify.MessageID) error {
	_, err := t.AddEventSeq(e, messageID)
	return err
}

// AddEventSeq is AddEvent, returning the event's seq, by which the outbox
// records its delivery.
func (t *Tx) AddEventSeq(e unify.OutboxEvent, messageID unify.MessageID) (int64, error) {
	owner, leaseUntil, handed, err := t.handOver(e, messageID)
	if err != nil {
		return 0, err
	}
	sealKey, body, err := t.s.sealer.Seal(e.Body)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: seal event: %w", err)
	}
	const insert = `INSERT INTO events (id, key, type, dialect, message_id, content_key, body, next_at, created_at, lease_owner, lease_until) VALUES (?,?,?,?,?,?,?,?,?,?,?)`
	args := []any{e.ID, e.Key, e.Type, e.Dialect, string(messageID), sealKey, body, micros(e.CreatedAt), micros(e.CreatedAt), owner, leaseUntil}
	if t.s.dialect == Postgres {
		err = t.get(&e.Seq, insert+` RETURNING seq`, args...)
	} else {
		var res sql.Result
		if res, err = t.exec(insert, args...); err == nil {
			e.Seq, err = res.LastInsertId()
		}
	}
	if err != nil {
		return 0, fmt.Errorf("sqlstore: add event: %w", err)
	}
	if handed {
		t.handed = append(t.handed, e)
	} else {
		t.queued = true
	}
	return e.Seq, nil
}

// Handoff takes events as the transaction that stores them commits, instead
// of waiting for a claim to find them (notify.Dispatcher implements it; see
// its Reserve). Its methods run on the store's writer and must not wait for
// the store.
type Handoff interface {
	// Reserve says whether ev is to be stored leased to owner until
	// leaseUntil and handed over at commit. older reports whether an
	// undelivered event of ev's key is stored already.
	Reserve(ev unify.OutboxEvent, older func() (bool, error)) (owner string, leaseUntil time.Time, ok bool, err error)
	// Committed takes the reserved events of a committed transaction.
	Committed([]unify.OutboxEvent)
	// Abandoned drops the reservations of a transaction rolled back.
	Abandoned([]unify.OutboxEvent)
	// Wake: events were stored for a claim to find.
	Wake()
	// NewKey: key has no event stored, and gets none but through Reserve
	// (a new message's id, the key of its status events).
	NewKey(key string)
}

// SetHandoff makes h the taker of new events; call it before the store is
// used. Events are handed over on SQLite only, where this process is the one
// writer, so that the question Reserve asks of the store has an answer
// nobody else can change before the commit; on PostgreSQL h is only woken.
func (s *Store) SetHandoff(h Handoff) { s.handoff = h }

// handOver asks the handoff whether it takes e. Only status events qualify:
// their key is their message, whose events the index on message_id finds.
func (t *Tx) handOver(e unify.OutboxEvent, messageID unify.MessageID) (owner string, leaseUntil int64, ok bool, err error) {
	h := t.s.handoffs()
	if h == nil || e.Key != string(messageID) {
		return "", 0, false, nil
	}
	owner, until, ok, err := h.Reserve(e, func() (bool, error) {
		var one int
		err := t.tx.QueryRowContext(t.ctx, `SELECT 1 FROM events WHERE message_id = ? AND key = ? AND delivered_at IS NULL LIMIT 1`,
			string(messageID), e.Key).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil
		}
		return err == nil, classify(err)
	})
	if err != nil || !ok {
		return "", 0, false, err
	}
	return owner, micros(until), true, nil
}

// ReleaseEvents ends owner's leases of events, counting no try: they are due
// as before, for a claim to take in order.
func (s *Store) ReleaseEvents(ctx context.Context, owner string, seqs ...int64) error {
	if len(seqs) == 0 {
		return nil
	}
	ph, in := inList(int64s(seqs))
	return s.exec(ctx, `UPDATE events SET lease_owner = '', lease_until = 0 WHERE lease_owner = ? AND seq IN (`+ph+`)`,
		append([]any{owner}, in...)...)
}

// claimScan bounds how many pending events one claim looks at, per event it
// may claim: enough to find work behind keys that wait out a back-off
// without reading the whole backlog on every poll.
const claimScan = 8

// ClaimEvents leases up to limit due events to owner, each the oldest
// undelivered event of its key, so that events of one message are delivered
// in order and one at a time while different messages go in parallel.
func (s *Store) ClaimEvents(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]unify.OutboxEvent, error) {
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
		// The scan reads only what picks the events, and stops once it has
		// enough: the events in flight are at its head on every claim.
		seqs, err := t.pickEvents(micros(now), claimScan*limit, limit)
		if err != nil || len(seqs) == 0 {
			return err
		}
		ph, seqs := inList(seqs)
		var rows []struct {
			Seq        int64  `db:"seq"`
			ID         string `db:"id"`
			Key        string `db:"key"`
			Type       string `db:"type"`
			Dialect    string `db:"dialect"`
			Attempts   int    `db:"attempts"`
			CreatedAt  int64  `db:"created_at"`
			ContentKey string `db:"content_key"`
			Body       []byte `db:"body"`
		}
		if err := t.sel(&rows, `SELECT seq, id, key, type, dialect, attempts, created_at, content_key, body FROM events WHERE seq IN (`+ph+`) ORDER BY seq`, seqs...); err != nil {
			return classify(fmt.Errorf("sqlstore: read events: %w", err))
		}
		for _, r := range rows {
			plain, err := s.sealer.Open(r.ContentKey, r.Body)
			if err != nil {
				return fmt.Errorf("sqlstore: open event %s: %w", r.ID, err)
			}
			out = append(out, unify.OutboxEvent{Seq: r.Seq, ID: r.ID, Key: r.Key, Type: r.Type, Dialect: r.Dialect, Body: plain,
				Attempts: r.Attempts, CreatedAt: fromMicros(r.CreatedAt)})
		}
		_, err = t.exec(`UPDATE events SET lease_owner = ?, lease_until = ? WHERE seq IN (`+ph+`)`,
			append([]any{owner, micros(leaseUntil)}, seqs...)...)
		return err
	})
	return out, err
}

// pickEvents returns the seqs of up to limit events due at now that are
// each the oldest undelivered event of their key, among the first scan
// undelivered events.
func (t *Tx) pickEvents(now int64, scan, limit int) ([]any, error) {
	rows, err := t.tx.QueryContext(t.ctx, t.tx.Rebind(`SELECT seq, key, next_at, lease_until FROM events WHERE delivered_at IS NULL ORDER BY seq LIMIT ?`), scan)
	if err != nil {
		return nil, classify(fmt.Errorf("sqlstore: scan events: %w", err))
	}
	defer rows.Close()
	// Sized for a small outbox: scan (up to 2,048) as a size hint made
	// every claim allocate a map that large, 70 µs of a claim that found
	// three events.
	seen := make(map[string]bool, min(scan, 64))
	var seqs []any
	for rows.Next() && len(seqs) < limit {
		var (
			seq               int64
			key               string
			nextAt, leaseTill int64
		)
		if err := rows.Scan(&seq, &key, &nextAt, &leaseTill); err != nil {
			return nil, classify(fmt.Errorf("sqlstore: scan events: %w", err))
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		if nextAt > now || leaseTill > now {
			continue
		}
		seqs = append(seqs, seq)
	}
	if err := rows.Err(); err != nil {
		return nil, classify(fmt.Errorf("sqlstore: scan events: %w", err))
	}
	return seqs, nil
}

// EventDelivered marks the event with this id delivered. Events have no
// index by id (the outbox works by seq): it reads the whole table, for
// tests and tools.
func (s *Store) EventDelivered(ctx context.Context, id string, at time.Time) error {
	return s.exec(ctx, `UPDATE events SET `+deliveredSet+` WHERE id = ?`, micros(at), id)
}

const deliveredSet = `delivered_at = ?, attempts = attempts + 1, lease_owner = '', lease_until = 0, last_error = ''`

// EventsDelivered marks events delivered, in one statement. Nobody waits
// on the other end (the dispatcher posts a key's next event before the
// record): it commits with the background work (Deferrable). In the API's
// batches the marks added four event pages to most commits (of about 18)
// and commits of their own: with the background work, make bench's WAL
// takes 5 % fewer frames a message and its writer 12 % fewer commits. A
// kill -9 may lose up to deferMax more of them, whose events are posted
// again after the restart (every event carries its id).
func (s *Store) EventsDelivered(ctx context.Context, at time.Time, seqs ...int64) error {
	if len(seqs) == 0 {
		return nil
	}
	ph, in := inList(int64s(seqs))
	return s.exec(Deferrable(ctx), `UPDATE events SET `+deliveredSet+` WHERE seq IN (`+ph+`)`, append([]any{micros(at)}, in...)...)
}

// inList returns the placeholders of an IN list for vs, and vs padded with
// its last value to the next power of two: IN lists of every length up to
// 256 make nine statements, which stay in the connection's statement cache,
// instead of 256 that push each other out of it and are prepared anew. vs
// must not be empty.
func inList(vs []any) (string, []any) {
	n := 1
	for n < len(vs) {
		n *= 2
	}
	for len(vs) < n {
		vs = append(vs, vs[len(vs)-1])
	}
	return placeholders(n), vs
}

// EventFailed records a failed delivery and when to try again.
func (s *Store) EventFailed(ctx context.Context, seq int64, errText string, nextAt time.Time) error {
	return s.exec(ctx, `UPDATE events SET attempts = attempts + 1, next_at = ?, lease_owner = '', lease_until = 0, last_error = ? WHERE seq = ?`,
		micros(nextAt), truncate(errText, 500), seq)
}

// EventRecord is an event as the UI and the tests see it.
type EventRecord struct {
	Seq         int64
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
		Seq         int64         `db:"seq"`
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
	if err := s.r.SelectContext(ctx, &rows, s.r.Rebind(`SELECT seq, id, type, content_key, body, attempts, last_error, created_at, delivered_at FROM events WHERE message_id = ? ORDER BY seq`), id); err != nil {
		return nil, classify(err)
	}
	out := make([]EventRecord, len(rows))
	for i, r := range rows {
		body, err := s.sealer.Open(r.ContentKey, r.Body)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: open event %s: %w", r.ID, err)
		}
		out[i] = EventRecord{Seq: r.Seq, ID: r.ID, Type: r.Type, Body: body, Attempts: r.Attempts, LastError: r.LastError, CreatedAt: fromMicros(r.CreatedAt)}
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
