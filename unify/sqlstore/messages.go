package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"gateway/unify"
)

type messageRow struct {
	ID             string `db:"id"`
	To             string `db:"to_number"`
	Sender         string `db:"sender"`
	Policy         string `db:"policy"`
	ConversationID string `db:"conversation_id"`
	ClientRef      string `db:"client_ref"`
	Dialect        string `db:"dialect"`
	ContentKey     string `db:"content_key"`
	Content        []byte `db:"content"`
	PurgedAt       int64  `db:"content_purged_at"`
	Status         string `db:"status"`
	Channel        string `db:"channel"`
	Carrier        string `db:"carrier"`
	Error          string `db:"error"`
	CreatedAt      int64  `db:"created_at"`
	UpdatedAt      int64  `db:"updated_at"`
}

type attemptRow struct {
	ID        string `db:"id"`
	MessageID string `db:"message_id"`
	Step      int    `db:"step"`
	Channel   string `db:"channel"`
	Carrier   string `db:"carrier"`
	Status    string `db:"status"`
	Segments  int    `db:"segments"`
	Error     string `db:"error"`
	CreatedAt int64  `db:"created_at"`
	UpdatedAt int64  `db:"updated_at"`
}

type partRow struct {
	AttemptID string `db:"attempt_id"`
	MessageID string `db:"message_id"`
	Seq       int    `db:"seq"`
	Carrier   string `db:"carrier"`
	ExtID     string `db:"ext_id"`
	ExtRaw    string `db:"ext_raw"`
	ExtDec    string `db:"ext_dec"`
	ExtHex    string `db:"ext_hex"`
	Status    string `db:"status"`
	Error     string `db:"error"`
}

const (
	messageCols = `id, to_number, sender, policy, conversation_id, client_ref, dialect, content_key, content, content_purged_at, status, channel, carrier, error, created_at, updated_at`
	stateCols   = `id, to_number, sender, policy, conversation_id, client_ref, dialect, status, channel, carrier, error, created_at, updated_at`
)

// InsertMessage stores a newly accepted message.
func (t *Tx) InsertMessage(m *unify.Message) error {
	body, err := json.Marshal(m.Content)
	if err != nil {
		return fmt.Errorf("sqlstore: encode content: %w", err)
	}
	key, sealed, err := t.s.sealer.Seal(body)
	if err != nil {
		return fmt.Errorf("sqlstore: seal content: %w", err)
	}
	_, err = t.exec(`INSERT INTO messages (`+messageCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		m.ID, m.To, m.From, m.Policy, m.ConversationID, m.ClientRef, m.Dialect, key, sealed, 0,
		m.Status, m.Channel, m.Carrier, m.Error, micros(m.CreatedAt), micros(m.UpdatedAt))
	if err != nil {
		return fmt.Errorf("sqlstore: insert message: %w", err)
	}
	if h := t.s.handoffs(); h != nil {
		h.NewKey(string(m.ID)) // its status events' key: none can be stored yet
	}
	return nil
}

// Message reads a message with its attempts and parts inside the transaction,
// locking it on PostgreSQL. It returns a not_found *unify.Error when unknown.
func (t *Tx) Message(id unify.MessageID) (*unify.Message, error) {
	var row messageRow
	if err := t.get(&row, `SELECT `+messageCols+` FROM messages WHERE id = ?`+t.forUpdate(), id); err != nil {
		return nil, notFound(err, "message", string(id))
	}
	return t.s.assemble(t.ctx, t.tx, row)
}

// MessageState is Message without the content: what status changes need,
// without reading and opening the body on every receipt.
func (t *Tx) MessageState(id unify.MessageID) (*unify.Message, error) {
	var row messageRow
	if err := t.get(&row, `SELECT `+stateCols+` FROM messages WHERE id = ?`+t.forUpdate(), id); err != nil {
		return nil, notFound(err, "message", string(id))
	}
	return t.s.assemble(t.ctx, t.tx, row)
}

// AttemptState reads what a receipt for a part of attempt id of message mid
// needs: the message's head (no content), the attempt with its parts, and
// whether it is the newest of the message's attempts (the one its status
// follows). It returns a not_found *unify.Error when either is unknown.
//
// Three single-table lookups: on SQLite each costs 3–5 µs where a join of
// the same tables costs 10 µs and a correlated subquery 50.
func (t *Tx) AttemptState(mid unify.MessageID, id unify.AttemptID) (m *unify.Message, a *unify.Attempt, newest bool, err error) {
	if m, err = t.MessageHead(mid); err != nil {
		return nil, nil, false, err
	}
	var attempts []attemptRow
	if err := t.sel(&attempts, `SELECT * FROM attempts WHERE message_id = ?`, mid); err != nil {
		return nil, nil, false, classify(fmt.Errorf("sqlstore: read attempts: %w", err))
	}
	i := slices.IndexFunc(attempts, func(r attemptRow) bool { return r.ID == string(id) })
	if i < 0 {
		return nil, nil, false, &unify.Error{Code: unify.CodeNotFound, Message: fmt.Sprintf("no attempt %q of message %q", id, mid)}
	}
	row := &attempts[i]
	newest = !slices.ContainsFunc(attempts, func(o attemptRow) bool { return attemptOrder(o, *row) > 0 })
	var parts []partRow
	if err := t.sel(&parts, `SELECT * FROM parts WHERE attempt_id = ?`, id); err != nil {
		return nil, nil, false, classify(fmt.Errorf("sqlstore: read parts: %w", err))
	}
	slices.SortFunc(parts, func(x, y partRow) int { return cmp.Compare(x.Seq, y.Seq) })
	att := attemptOf(*row, m.ID, parts)
	return m, &att, newest, nil
}

// attemptOrder orders a message's attempts: by creation, then step.
func attemptOrder(a, b attemptRow) int {
	return cmp.Or(cmp.Compare(a.CreatedAt, b.CreatedAt), cmp.Compare(a.Step, b.Step))
}

func attemptOf(a attemptRow, mid unify.MessageID, parts []partRow) unify.Attempt {
	att := unify.Attempt{
		ID: unify.AttemptID(a.ID), MessageID: mid, Step: a.Step, Channel: unify.ChannelKind(a.Channel),
		Carrier: a.Carrier, Status: unify.Status(a.Status), Segments: a.Segments, Error: a.Error,
		At: fromMicros(a.UpdatedAt),
	}
	own := partsOf(a, parts)
	for _, p := range own {
		att.Parts = append(att.Parts, unify.Part{Seq: p.Seq, Status: unify.Status(p.Status),
			Ref: unify.ExternalRef{ID: p.ExtID, Raw: p.ExtRaw, Dec: p.ExtDec, Hex: p.ExtHex}})
	}
	return att
}

// PartSettledByAttempt says whether a receipt that moves the one part of an
// attempt, and the attempt with it, to status with error text errText may
// leave the part's row as it was sent: its status and error are then its
// attempt's (see partsOf). That is the case of most receipts, so their
// transaction writes the attempt and not the part. A receipt that fails a
// part is written, since its attempt's error says more than the carrier's.
func PartSettledByAttempt(status unify.Status, errText string) bool {
	return errText == "" && (status == unify.StatusDelivered || status == unify.StatusRead)
}

// partsOf returns a's parts among parts, the one part of an attempt that a
// receipt settled with it (PartSettledByAttempt) showing the attempt's
// status.
func partsOf(a attemptRow, parts []partRow) []partRow {
	var own []partRow
	for _, p := range parts {
		if p.AttemptID == a.ID {
			own = append(own, p)
		}
	}
	if len(own) == 1 && own[0].Status == string(unify.StatusSent) && PartSettledByAttempt(unify.Status(a.Status), a.Error) {
		own[0].Status, own[0].Error = a.Status, ""
	}
	return own
}

// MessageHead is MessageState without the attempts: what a status change
// that does not look at earlier attempts needs.
func (t *Tx) MessageHead(id unify.MessageID) (*unify.Message, error) {
	var row messageRow
	if err := t.get(&row, `SELECT `+stateCols+` FROM messages WHERE id = ?`+t.forUpdate(), id); err != nil {
		return nil, notFound(err, "message", string(id))
	}
	return headOf(row), nil
}

// Message reads a message with its attempts and parts.
func (s *Store) Message(ctx context.Context, id unify.MessageID) (*unify.Message, error) {
	var row messageRow
	if err := s.r.GetContext(ctx, &row, s.r.Rebind(`SELECT `+messageCols+` FROM messages WHERE id = ?`), id); err != nil {
		return nil, notFound(err, "message", string(id))
	}
	return s.assemble(ctx, s.r, row)
}

func notFound(err error, what, id string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return &unify.Error{Code: unify.CodeNotFound, Message: fmt.Sprintf("no %s %q", what, id)}
	}
	return classify(fmt.Errorf("sqlstore: read %s: %w", what, err))
}

func headOf(row messageRow) *unify.Message {
	return &unify.Message{
		ID: unify.MessageID(row.ID), To: row.To, From: row.Sender, Policy: row.Policy,
		ConversationID: row.ConversationID, ClientRef: row.ClientRef, Dialect: row.Dialect,
		Status: unify.Status(row.Status), Channel: unify.ChannelKind(row.Channel), Carrier: row.Carrier,
		Error: row.Error, CreatedAt: fromMicros(row.CreatedAt), UpdatedAt: fromMicros(row.UpdatedAt),
		Attempts: []unify.Attempt{}, ContentPurged: row.PurgedAt != 0,
	}
}

func (s *Store) assemble(ctx context.Context, q sqlx.QueryerContext, row messageRow) (*unify.Message, error) {
	m := headOf(row)
	if row.Content != nil {
		plain, err := s.sealer.Open(row.ContentKey, row.Content)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: open content of %s: %w", row.ID, err)
		}
		if err := json.Unmarshal(plain, &m.Content); err != nil {
			return nil, fmt.Errorf("sqlstore: decode content of %s: %w", row.ID, err)
		}
	}
	// Single-table queries sorted here: on SQLite a join, a subquery or an
	// ORDER BY costs more than the lookups themselves, and this runs on
	// every send and every receipt.
	var attempts []attemptRow
	if err := sqlx.SelectContext(ctx, q, &attempts, s.w.Rebind(`SELECT * FROM attempts WHERE message_id = ?`), row.ID); err != nil {
		return nil, classify(fmt.Errorf("sqlstore: read attempts: %w", err))
	}
	slices.SortFunc(attempts, attemptOrder)
	var parts []partRow
	if len(attempts) > 0 {
		ids := make([]any, len(attempts))
		for i, a := range attempts {
			ids[i] = a.ID
		}
		if err := sqlx.SelectContext(ctx, q, &parts, s.w.Rebind(`SELECT * FROM parts WHERE attempt_id IN (`+placeholders(len(ids))+`)`), ids...); err != nil {
			return nil, classify(fmt.Errorf("sqlstore: read parts: %w", err))
		}
		slices.SortFunc(parts, func(a, b partRow) int { return cmp.Compare(a.Seq, b.Seq) })
	}
	for _, a := range attempts {
		m.Attempts = append(m.Attempts, attemptOf(a, m.ID, parts))
	}
	return m, nil
}

// UpdateMessage sets a message's status, current channel and carrier, and
// error text.
func (t *Tx) UpdateMessage(m *unify.Message, now time.Time) error {
	_, err := t.exec(`UPDATE messages SET status = ?, channel = ?, carrier = ?, error = ?, updated_at = ? WHERE id = ?`,
		m.Status, m.Channel, m.Carrier, m.Error, micros(now), m.ID)
	if err != nil {
		return fmt.Errorf("sqlstore: update message: %w", err)
	}
	return nil
}

// MoveMessage is UpdateMessage for a caller that knows the message as it
// was (status was, and its number): it changes nothing and returns false
// when the stored message is no longer so (a receipt, an erasure or
// another instance got there first), sparing the read of its head otherwise.
func (t *Tx) MoveMessage(m *unify.Message, was unify.Status, now time.Time) (bool, error) {
	res, err := t.exec(`UPDATE messages SET status = ?, channel = ?, carrier = ?, error = ?, updated_at = ?
		WHERE id = ? AND status = ? AND to_number = ?`,
		m.Status, m.Channel, m.Carrier, m.Error, micros(now), m.ID, was, m.To)
	if err != nil {
		return false, fmt.Errorf("sqlstore: update message: %w", err)
	}
	return affected(res) == 1, nil // an unknown count reads the head: safe
}

// InsertAttempt stores a new attempt with its parts.
func (t *Tx) InsertAttempt(a *unify.Attempt, now time.Time) error {
	_, err := t.exec(`INSERT INTO attempts (id, message_id, step, channel, carrier, status, segments, error, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)`,
		a.ID, a.MessageID, a.Step, a.Channel, a.Carrier, a.Status, a.Segments, a.Error, micros(now), micros(now))
	if err != nil {
		return fmt.Errorf("sqlstore: insert attempt: %w", err)
	}
	if t.s.dialect == Postgres && len(a.Parts) > 0 {
		// See AddOrphanReceipt: the receipts of these parts wait for this
		// transaction, or it for them.
		var keys []unify.ExternalRef
		for _, p := range a.Parts {
			keys = append(keys, p.Ref)
		}
		if err := t.lockRefs(a.Carrier, keys, true); err != nil {
			return err
		}
	}
	for _, p := range a.Parts {
		_, err := t.exec(`INSERT INTO parts (attempt_id, message_id, seq, carrier, ext_id, ext_raw, ext_dec, ext_hex, status) VALUES (?,?,?,?,?,?,?,?,?)`,
			a.ID, a.MessageID, p.Seq, a.Carrier, p.Ref.ID, p.Ref.Raw, p.Ref.Dec, p.Ref.Hex, p.Status)
		if err != nil {
			return fmt.Errorf("sqlstore: insert part: %w", err)
		}
	}
	return nil
}

// UpdateAttempt sets an attempt's status and error text.
func (t *Tx) UpdateAttempt(a *unify.Attempt, now time.Time) error {
	_, err := t.exec(`UPDATE attempts SET status = ?, error = ?, segments = ?, updated_at = ? WHERE id = ?`,
		a.Status, a.Error, a.Segments, micros(now), a.ID)
	if err != nil {
		return fmt.Errorf("sqlstore: update attempt: %w", err)
	}
	return nil
}

// SettleAttempt is UpdateAttempt for a caller that knows the attempt as it
// was (status was, last written at), not read: it changes nothing and
// returns false when the stored attempt is no longer so.
func (t *Tx) SettleAttempt(a *unify.Attempt, was unify.Status, at, now time.Time) (bool, error) {
	n, err := t.execRows(`UPDATE attempts SET status = ?, error = ?, segments = ?, updated_at = ? WHERE id = ? AND status = ? AND updated_at = ?`,
		a.Status, a.Error, a.Segments, micros(now), a.ID, was, micros(at))
	if err != nil {
		return false, fmt.Errorf("sqlstore: update attempt: %w", err)
	}
	return n == 1, nil
}

// UpdatePart sets the status of one part of an attempt.
func (t *Tx) UpdatePart(attempt unify.AttemptID, seq int, status unify.Status, errText string) error {
	_, err := t.exec(`UPDATE parts SET status = ?, error = ? WHERE attempt_id = ? AND seq = ?`, status, errText, attempt, seq)
	if err != nil {
		return fmt.Errorf("sqlstore: update part: %w", err)
	}
	return nil
}

// PartMatch is a part found by a receipt.
type PartMatch struct {
	AttemptID unify.AttemptID
	MessageID unify.MessageID
	Seq       int
}

// FindPart finds the part a receipt names on a carrier. An exact match of the
// id wins over a match by numeric value (a decimal receipt id for a
// hexadecimal submit id or the reverse); among equals the newest part wins,
// since SMSCs recycle ids.
func (t *Tx) FindPart(carrier string, ref unify.ExternalRef) (PartMatch, bool, error) {
	// One indexed lookup per form, in order of preference; almost every
	// receipt is found by the first. (A single query OR-ing the three forms
	// makes SQLite scan every part of the carrier.)
	//
	// Every form is looked up as a raw form (lower case, no leading zeros),
	// through parts_raw: the index of each cross form had cost every part a
	// write (migrations 00011, 00012). A decimal receipt for a hexadecimal
	// submit id: the hexadecimal digits of its value are the part's raw
	// form. A hexadecimal receipt for a decimal submit id: a decimal id's
	// raw form is its decimal value, which ref.Hex is.
	for _, raw := range []string{ref.Raw, hexDigits(ref.Dec), ref.Hex} {
		if raw == "" {
			continue
		}
		var hits []struct {
			AttemptID string `db:"attempt_id"`
			MessageID string `db:"message_id"`
			Seq       int    `db:"seq"`
		}
		q := `SELECT attempt_id, message_id, seq FROM parts WHERE carrier = ? AND ext_raw = ?`
		if err := t.sel(&hits, q, carrier, raw); err != nil {
			return PartMatch{}, false, classify(fmt.Errorf("sqlstore: find part: %w", err))
		}
		if len(hits) == 1 {
			h := hits[0]
			return PartMatch{AttemptID: unify.AttemptID(h.AttemptID), MessageID: unify.MessageID(h.MessageID), Seq: h.Seq}, true, nil
		}
		// A recycled id: the newest attempt wins. Looked up one by one: on
		// SQLite a join costs more than the lookups.
		var best PartMatch
		var bestAt int64
		for _, h := range hits {
			var createdAt int64
			if err := t.get(&createdAt, `SELECT created_at FROM attempts WHERE id = ?`, h.AttemptID); err != nil {
				return PartMatch{}, false, classify(fmt.Errorf("sqlstore: find part's attempt: %w", err))
			}
			if best.AttemptID == "" || createdAt > bestAt {
				best = PartMatch{AttemptID: unify.AttemptID(h.AttemptID), MessageID: unify.MessageID(h.MessageID), Seq: h.Seq}
				bestAt = createdAt
			}
		}
		if best.AttemptID != "" {
			return best, true, nil
		}
	}
	return PartMatch{}, false, nil
}

// hexDigits writes decimal digits' value in hexadecimal, lower case and
// without leading zeros: the raw form of a submit id the carrier wrote in
// hexadecimal. "" for "".
func hexDigits(dec string) string {
	if dec == "" {
		return ""
	}
	if v, err := strconv.ParseUint(dec, 10, 64); err == nil {
		return strconv.FormatUint(v, 16)
	}
	v, ok := new(big.Int).SetString(dec, 10)
	if !ok {
		return ""
	}
	return v.Text(16)
}

// AddOrphanReceipt keeps a receipt whose part is not known yet.
//
// On PostgreSQL a receipt and the send that stores its part may run at once
// (on one instance or two): the receipt's FindPart misses the part not yet
// committed while the send misses the orphan not yet committed, and the
// orphan would wait forever. So an orphan is stored under exclusive advisory
// locks on the forms of its id, which InsertAttempt takes shared on the
// forms of each part's id: a matching receipt and part share a form, so one
// of the two transactions waits for the other to commit and then sees its
// row. A part committed meanwhile makes AddOrphanReceipt refuse with an
// unavailable *unify.Error, so that the carrier delivers the receipt again
// (it then finds its part).
func (t *Tx) AddOrphanReceipt(r unify.Receipt) error {
	if t.s.dialect == Postgres {
		if err := t.lockRefs(r.Carrier, []unify.ExternalRef{r.Ref}, false); err != nil {
			return err
		}
		if _, found, err := t.FindPart(r.Carrier, r.Ref); err != nil {
			return err
		} else if found {
			return &unify.Error{Code: unify.CodeUnavailable, Message: "the receipt's part was stored meanwhile: deliver the receipt again"}
		}
	}
	t.s.noOrphans.Store(false)
	_, err := t.exec(`INSERT INTO orphan_receipts (carrier, ext_raw, ext_dec, ext_hex, status, error, at) VALUES (?,?,?,?,?,?,?)`,
		r.Carrier, r.Ref.Raw, r.Ref.Dec, r.Ref.Hex, r.Status, r.Error, micros(r.At))
	if err != nil {
		return fmt.Errorf("sqlstore: insert orphan receipt: %w", err)
	}
	return nil
}

// TakeOrphanReceipts removes and returns the orphan receipts that name ref.
func (t *Tx) TakeOrphanReceipts(carrier string, ref unify.ExternalRef) ([]unify.Receipt, error) {
	type row struct {
		ID     int64  `db:"id"`
		Raw    string `db:"ext_raw"`
		Dec    string `db:"ext_dec"`
		Hex    string `db:"ext_hex"`
		Status string `db:"status"`
		Error  string `db:"error"`
		At     int64  `db:"at"`
	}
	q := `SELECT id, ext_raw, ext_dec, ext_hex, status, error, at FROM orphan_receipts WHERE carrier = ? AND (ext_raw = ?`
	args := []any{carrier, ref.Raw}
	if ref.Hex != "" {
		q += ` OR ext_dec = ?`
		args = append(args, ref.Hex)
	}
	if ref.Dec != "" {
		q += ` OR ext_hex = ?`
		args = append(args, ref.Dec)
	}
	q += `) ORDER BY id`
	var rows []row
	if err := t.sel(&rows, q, args...); err != nil {
		return nil, classify(fmt.Errorf("sqlstore: read orphan receipts: %w", err))
	}
	out := make([]unify.Receipt, 0, len(rows))
	for _, r := range rows {
		if _, err := t.exec(`DELETE FROM orphan_receipts WHERE id = ?`, r.ID); err != nil {
			return nil, err
		}
		out = append(out, unify.Receipt{Carrier: carrier, Status: unify.Status(r.Status), Error: r.Error, At: fromMicros(r.At),
			Ref: unify.ExternalRef{Raw: r.Raw, Dec: r.Dec, Hex: r.Hex}})
	}
	return out, nil
}

// HasOrphanReceipts reports whether any receipt waits for its part; the
// reconciliation query is skipped when none does, which is almost always.
func (t *Tx) HasOrphanReceipts() (bool, error) {
	if t.s.soleWriter() && t.s.noOrphans.Load() {
		return false, nil
	}
	var n int
	if err := t.get(&n, `SELECT COUNT(*) FROM (SELECT 1 FROM orphan_receipts LIMIT 1) x`); err != nil {
		return false, classify(err)
	}
	// Until the next insert (a rolled-back one only makes the next call
	// look again).
	t.s.noOrphans.Store(n == 0)
	return n > 0, nil
}

// lockRefs takes PostgreSQL advisory locks, until the transaction ends, on
// the forms by which a receipt and a part can match (FindPart): the id as
// written, and its numeric value read as decimal and as hexadecimal. Shared
// locks (parts) do not wait for each other; an exclusive one (an orphan
// receipt) waits for and holds off the parts that share a form with it.
// Keys are taken in order, so that two transactions never wait for each
// other in a cycle.
func (t *Tx) lockRefs(carrier string, refs []unify.ExternalRef, shared bool) error {
	var keys []int64
	key := func(kind, v string) {
		if v == "" {
			return
		}
		h := fnv.New64a()
		h.Write([]byte("gateway/sqlstore receipt\x00" + carrier + "\x00" + kind + "\x00" + v))
		keys = append(keys, int64(h.Sum64()))
	}
	for _, r := range refs {
		key("raw", r.Raw)
		key("num", r.Dec)
		key("num", r.Hex)
	}
	if len(keys) == 0 {
		return nil
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	fn := "pg_advisory_xact_lock"
	if shared {
		fn += "_shared"
	}
	args := make([]any, len(keys))
	for i, k := range keys {
		args[i] = k
	}
	// PostgreSQL evaluates volatile functions of the select list after the
	// sort, one row at a time: the locks are taken in key order.
	q := `SELECT ` + fn + `(k) FROM (VALUES ` + strings.TrimSuffix(strings.Repeat("(?::bigint),", len(keys)), ",") + `) v(k) ORDER BY k`
	if _, err := t.exec(q, args...); err != nil {
		return fmt.Errorf("sqlstore: lock receipt forms: %w", err)
	}
	return nil
}

// MessageOfAttempt reads the message an attempt belongs to, with its
// attempts and parts, outside any transaction.
func (s *Store) MessageOfAttempt(ctx context.Context, id unify.AttemptID) (*unify.Message, error) {
	var mid string
	if err := s.r.GetContext(ctx, &mid, s.r.Rebind(`SELECT message_id FROM attempts WHERE id = ?`), id); err != nil {
		return nil, notFound(err, "attempt", string(id))
	}
	return s.Message(ctx, unify.MessageID(mid))
}
