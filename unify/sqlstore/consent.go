package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"gateway/unify"
)

// Consent is whether a number has opted out of a sender's messages.
type Consent struct {
	OptedOut  bool
	Channel   unify.ChannelKind
	Keyword   string
	UpdatedAt time.Time
}

// SetConsent records a consent change; it reports whether anything changed
// (a second STOP is not news).
func (t *Tx) SetConsent(sender, number string, c Consent) (bool, error) {
	prev, found, err := t.consent(sender, number, t.forUpdate())
	if err != nil {
		return false, err
	}
	if found && prev.OptedOut == c.OptedOut {
		return false, nil
	}
	t.s.consented.add(sender, number) // before the row: the set may hold more, never less
	out := 0
	if c.OptedOut {
		out = 1
	}
	_, err = t.exec(`INSERT INTO consents (sender, number, opted_out, channel, keyword, updated_at) VALUES (?,?,?,?,?,?)
		ON CONFLICT (sender, number) DO UPDATE SET opted_out = excluded.opted_out, channel = excluded.channel,
		keyword = excluded.keyword, updated_at = excluded.updated_at`,
		sender, number, out, c.Channel, c.Keyword, micros(c.UpdatedAt))
	if err != nil {
		return false, fmt.Errorf("sqlstore: set consent: %w", err)
	}
	return true, nil
}

// ConsentOf returns the consent record of (sender, number) as tx sees it.
// On SQLite this is the writer's connection, whose cache is warm: a lookup
// here costs a third of one on a reader, whose cache every commit empties.
// Most numbers have no record, which SQLite answers from memory (see
// consentKeys) without a statement.
func (t *Tx) ConsentOf(sender, number string) (Consent, bool, error) {
	if t.s.soleWriter() {
		if err := t.s.consented.load(t); err != nil {
			return Consent{}, false, err
		}
		if !t.s.consented.has(sender, number) {
			return Consent{}, false, nil
		}
	}
	return t.consent(sender, number, "")
}

// consentKeys is, on SQLite, the set of (sender, number) pairs that may have
// a consent record: every pair stored when it was first asked for, and
// every pair written since. A send asks for its recipient's consent in the
// transaction that accepts it, and a statement there is about 5 µs of the
// one writer's time per message for a table that is almost always silent
// on the number. The set only grows: a pair is added before its record is
// written, so a rolled-back write or an erased record costs a lookup, and
// nothing can make a stored record go unseen. This process is the database's
// one writer on SQLite; on PostgreSQL other instances write and the set is
// not used. It holds 64-bit hashes, about 40 bytes a record.
type consentKeys struct {
	mu     sync.Mutex
	loaded bool
	keys   map[uint64]struct{}
}

func consentKey(sender, number string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(sender))
	h.Write([]byte{0})
	h.Write([]byte(number))
	return h.Sum64()
}

// load reads every stored pair, once, inside t (the writer's transaction,
// so that no write can come between the read and the set's first use).
func (c *consentKeys) load(t *Tx) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.loaded {
		return nil
	}
	rows, err := t.tx.QueryContext(t.ctx, `SELECT sender, number FROM consents`)
	if err != nil {
		return classify(fmt.Errorf("sqlstore: read consents: %w", err))
	}
	defer rows.Close()
	keys := map[uint64]struct{}{}
	for rows.Next() {
		var sender, number string
		if err := rows.Scan(&sender, &number); err != nil {
			return classify(fmt.Errorf("sqlstore: read consents: %w", err))
		}
		keys[consentKey(sender, number)] = struct{}{}
	}
	if err := rows.Err(); err != nil {
		return classify(fmt.Errorf("sqlstore: read consents: %w", err))
	}
	c.keys, c.loaded = keys, true
	return nil
}

func (c *consentKeys) has(sender, number string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.keys[consentKey(sender, number)]
	return ok
}

// add puts a pair in the set; before the set is loaded there is nothing to
// add to (the load reads the pair's record).
func (c *consentKeys) add(sender, number string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.loaded {
		c.keys[consentKey(sender, number)] = struct{}{}
	}
}

// consent reads a consent record; lock is the row lock clause, if any.
func (t *Tx) consent(sender, number, lock string) (Consent, bool, error) {
	var row consentRow
	err := t.get(&row, consentQuery+lock, sender, number)
	return row.consent(err)
}

// ConsentOf returns the consent record of (sender, number).
func (s *Store) ConsentOf(ctx context.Context, sender, number string) (Consent, bool, error) {
	var row consentRow
	ctx, err := s.brief(ctx)
	if err != nil {
		return Consent{}, false, err
	}
	err = s.r.GetContext(ctx, &row, s.r.Rebind(consentQuery), sender, number)
	return row.consent(err)
}

const consentQuery = `SELECT opted_out, channel, keyword, updated_at FROM consents WHERE sender = ? AND number = ?`

type consentRow struct {
	OptedOut  int    `db:"opted_out"`
	Channel   string `db:"channel"`
	Keyword   string `db:"keyword"`
	UpdatedAt int64  `db:"updated_at"`
}

func (r consentRow) consent(err error) (Consent, bool, error) {
	if errors.Is(err, sql.ErrNoRows) {
		return Consent{}, false, nil
	}
	if err != nil {
		return Consent{}, false, classify(fmt.Errorf("sqlstore: read consent: %w", err))
	}
	return Consent{OptedOut: r.OptedOut != 0, Channel: unify.ChannelKind(r.Channel), Keyword: r.Keyword, UpdatedAt: fromMicros(r.UpdatedAt)}, true, nil
}

// CreateWebLink stores the web fallback link of a message, or returns the
// one it already has.
func (t *Tx) CreateWebLink(id unify.MessageID, token string, expires, now time.Time) (string, error) {
	var existing string
	err := t.get(&existing, `SELECT token FROM web_links WHERE message_id = ?`, id)
	if err == nil {
		return existing, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return "", classify(err)
	}
	if _, err := t.exec(`INSERT INTO web_links (token, message_id, expires_at, created_at) VALUES (?,?,?,?)`, token, id, micros(expires), micros(now)); err != nil {
		return "", fmt.Errorf("sqlstore: create web link: %w", err)
	}
	return token, nil
}

// WebLink returns the message a link shows while it has not expired.
func (s *Store) WebLink(ctx context.Context, token string, now time.Time) (unify.MessageID, bool, error) {
	var id string
	err := s.r.GetContext(ctx, &id, s.r.Rebind(`SELECT message_id FROM web_links WHERE token = ? AND expires_at > ?`), token, micros(now))
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, classify(err)
	}
	return unify.MessageID(id), true, nil
}
