package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"gateway/unify"
)

// Conversation is where replies from a phone to a sender go: the last message
// the gateway sent that phone from that sender.
type Conversation struct {
	MessageID      unify.MessageID
	ConversationID string
	// CreatedAt is when that message was accepted: of two senders sharing
	// an address, the one that wrote last has the reply.
	CreatedAt time.Time
}

// reachedStatuses are the statuses of a message that reached its carrier:
// a reply can only answer one of those. A message that failed, or is still
// on its way, is passed over for the one before it.
var reachedStatuses = []any{unify.StatusSent, unify.StatusDelivered, unify.StatusRead}

// Conversation returns the conversation of (sender, phone): the newest
// message to phone from sender that reached its carrier. It is read from the
// messages themselves, on the index the UI pages a number's traffic with,
// rather than kept in a table of its own, which cost a write on every send;
// it goes with its messages when retention deletes them or an erasure
// replaces the number.
func (t *Tx) Conversation(sender, phone string) (Conversation, bool, error) {
	var row struct {
		ID             string `db:"id"`
		ConversationID string `db:"conversation_id"`
		CreatedAt      int64  `db:"created_at"`
	}
	err := t.get(&row, `SELECT id, conversation_id, created_at FROM `+t.s.indexedBy("messages", "messages_page_to")+`
		WHERE to_number = ? AND sender = ? AND status IN (?,?,?) ORDER BY created_at DESC, id DESC LIMIT 1`,
		append([]any{phone, sender}, reachedStatuses...)...)
	if errors.Is(err, sql.ErrNoRows) {
		return Conversation{}, false, nil
	}
	if err != nil {
		return Conversation{}, false, classify(fmt.Errorf("sqlstore: read conversation: %w", err))
	}
	return Conversation{MessageID: unify.MessageID(row.ID), ConversationID: row.ConversationID, CreatedAt: fromMicros(row.CreatedAt)}, true, nil
}

// Idempotent returns the message an earlier request with the same key
// created, with that request's hash.
func (t *Tx) Idempotent(scope, key string) (hash string, id unify.MessageID, found bool, err error) {
	var row struct {
		Hash string `db:"request_hash"`
		ID   string `db:"message_id"`
	}
	err = t.get(&row, `SELECT request_hash, message_id FROM idempotency WHERE scope = ? AND key = ?`, scope, key)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, classify(fmt.Errorf("sqlstore: read idempotency key: %w", err))
	}
	return row.Hash, unify.MessageID(row.ID), true, nil
}

// SaveIdempotency remembers which message a request key created.
func (t *Tx) SaveIdempotency(idem unify.Idempotency, id unify.MessageID, now time.Time) error {
	_, err := t.exec(`INSERT INTO idempotency (scope, key, request_hash, message_id, created_at) VALUES (?,?,?,?,?)`,
		idem.Scope, idem.Key, idem.Hash, id, micros(now))
	if isUniqueViolation(err) {
		// Another instance saved the same key after our Idempotent found
		// none: the two requests raced.
		return &unify.Error{Code: unify.CodeConflict, Message: "a request with this Idempotency-Key is being processed", Err: err}
	}
	if err != nil {
		return fmt.Errorf("sqlstore: save idempotency key: %w", err)
	}
	return nil
}

// InboundRecord is a stored inbound message.
type InboundRecord struct {
	ID             string
	Inbound        unify.Inbound
	Sender         string
	MessageID      unify.MessageID
	ConversationID string
}

type inboundContent struct {
	Text     string          `json:"text,omitempty"`
	Postback string          `json:"postback,omitempty"`
	Media    []unify.Media   `json:"media,omitempty"`
	Location *unify.Location `json:"location,omitempty"`
}

// InsertInbound stores an inbound message. It reports duplicate=true, and
// stores nothing, when the carrier already delivered this external id.
func (t *Tx) InsertInbound(r InboundRecord) (duplicate bool, err error) {
	in := r.Inbound
	body, err := json.Marshal(inboundContent{Text: in.Text, Postback: in.Postback, Media: in.Media, Location: in.Location})
	if err != nil {
		return false, err
	}
	key, sealed, err := t.s.sealer.Seal(body)
	if err != nil {
		return false, fmt.Errorf("sqlstore: seal inbound: %w", err)
	}
	// The carrier's id is unique per carrier (inbound_external, partial on
	// external_id <> ''). Checking first and inserting after would let two
	// instances that got the same redelivered MO both pass the check on
	// PostgreSQL; the conflict clause decides in the insert itself.
	n, err := t.execRows(`INSERT INTO inbound (id, external_id, channel, carrier, from_number, sender, to_addr, content_key, content, message_id, conversation_id, created_at)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (carrier, external_id) WHERE external_id <> '' DO NOTHING`,
		r.ID, in.ExternalID, in.Channel, in.Carrier, in.From, r.Sender, in.To, key, sealed, r.MessageID, r.ConversationID, micros(in.At))
	if err != nil {
		return false, fmt.Errorf("sqlstore: insert inbound: %w", err)
	}
	return n == 0, nil
}

// Fragment is one part of a concatenated inbound SMS.
type Fragment struct {
	Carrier, From, To, Ref string
	Total, Seq             int
	Text                   string
	At                     time.Time
}

// GroupKey names the concatenated message a fragment belongs to.
func (f Fragment) GroupKey() string {
	return fmt.Sprintf("%s|%s|%s|%s|%d", f.Carrier, f.From, f.To, f.Ref, f.Total)
}

// AddFragment stores a fragment (a redelivered one replaces itself) and
// returns every fragment of its group stored so far, ordered by seq.
func (t *Tx) AddFragment(f Fragment) ([]Fragment, error) {
	key, sealed, err := t.s.sealer.Seal([]byte(f.Text))
	if err != nil {
		return nil, err
	}
	_, err = t.exec(`INSERT INTO mo_fragments (carrier, from_number, to_addr, ref, total, seq, content_key, content, created_at) VALUES (?,?,?,?,?,?,?,?,?)
		ON CONFLICT (carrier, from_number, to_addr, ref, total, seq) DO NOTHING`,
		f.Carrier, f.From, f.To, f.Ref, f.Total, f.Seq, key, sealed, micros(f.At))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: add fragment: %w", err)
	}
	return t.Fragments(f)
}

// Fragments returns the stored fragments of f's group, ordered by seq.
func (t *Tx) Fragments(f Fragment) ([]Fragment, error) {
	type row struct {
		Seq        int    `db:"seq"`
		ContentKey string `db:"content_key"`
		Content    []byte `db:"content"`
		CreatedAt  int64  `db:"created_at"`
	}
	var rows []row
	if err := t.sel(&rows, `SELECT seq, content_key, content, created_at FROM mo_fragments WHERE carrier = ? AND from_number = ? AND to_addr = ? AND ref = ? AND total = ? ORDER BY seq`,
		f.Carrier, f.From, f.To, f.Ref, f.Total); err != nil {
		return nil, classify(fmt.Errorf("sqlstore: read fragments: %w", err))
	}
	out := make([]Fragment, 0, len(rows))
	for _, r := range rows {
		plain, err := t.s.sealer.Open(r.ContentKey, r.Content)
		if err != nil {
			return nil, err
		}
		g := f
		g.Seq, g.Text, g.At = r.Seq, string(plain), fromMicros(r.CreatedAt)
		out = append(out, g)
	}
	return out, nil
}

// DeleteFragments forgets a group once it has been routed.
func (t *Tx) DeleteFragments(f Fragment) error {
	_, err := t.exec(`DELETE FROM mo_fragments WHERE carrier = ? AND from_number = ? AND to_addr = ? AND ref = ? AND total = ?`,
		f.Carrier, f.From, f.To, f.Ref, f.Total)
	return err
}

// FragmentFromKey rebuilds the group of a mo_flush job from its key.
func FragmentFromKey(key string) (Fragment, error) {
	var f Fragment
	parts := strings.SplitN(key, "|", 5)
	if len(parts) != 5 {
		return f, fmt.Errorf("sqlstore: bad fragment key %q", key)
	}
	f.Carrier, f.From, f.To, f.Ref = parts[0], parts[1], parts[2], parts[3]
	if _, err := fmt.Sscanf(parts[4], "%d", &f.Total); err != nil {
		return f, fmt.Errorf("sqlstore: bad fragment key %q", key)
	}
	return f, nil
}

// Policies

// UpsertPolicy stores a policy.
func (t *Tx) UpsertPolicy(p unify.Policy, now time.Time) error {
	body, err := json.Marshal(p)
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO policies (name, body, updated_at) VALUES (?,?,?)
		ON CONFLICT (name) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at`, p.Name, string(body), micros(now))
	return err
}

// SeedPolicy stores p only if no policy of that name exists: the config seeds
// policies, the UI owns them afterwards.
func (t *Tx) SeedPolicy(p unify.Policy, now time.Time) error {
	body, err := json.Marshal(p)
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO policies (name, body, updated_at) VALUES (?,?,?) ON CONFLICT (name) DO NOTHING`, p.Name, string(body), micros(now))
	return err
}

// DeletePolicy removes a policy.
func (t *Tx) DeletePolicy(name string) error {
	_, err := t.exec(`DELETE FROM policies WHERE name = ?`, name)
	return err
}

// Policy reads one policy.
func (s *Store) Policy(ctx context.Context, name string) (unify.Policy, error) {
	var body string
	if err := s.r.GetContext(ctx, &body, s.r.Rebind(`SELECT body FROM policies WHERE name = ?`), name); err != nil {
		return unify.Policy{}, notFound(err, "policy", name)
	}
	var p unify.Policy
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		return p, fmt.Errorf("sqlstore: decode policy %s: %w", name, err)
	}
	return p, nil
}

// Policies lists all policies by name.
func (s *Store) Policies(ctx context.Context) ([]unify.Policy, error) {
	var bodies []string
	if err := s.r.SelectContext(ctx, &bodies, `SELECT body FROM policies ORDER BY name`); err != nil {
		return nil, classify(err)
	}
	out := make([]unify.Policy, 0, len(bodies))
	for _, b := range bodies {
		var p unify.Policy
		if err := json.Unmarshal([]byte(b), &p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}
