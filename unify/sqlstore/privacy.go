package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"gateway/unify"
)

// Privacy (issue 9): the SQL of the retention sweeper, of a subject's
// erasure and of key rotation. Every sweep works in bounded batches, each its
// own short transaction, so that it never holds SQLite's single write lock
// for long and the send path keeps its throughput.

// finalStatuses are the message statuses after which nothing more is sent,
// so content is no longer needed (unify.Status.Final).
var finalStatuses = []any{unify.StatusDelivered, unify.StatusRead, unify.StatusFailed, unify.StatusRevoked, unify.StatusExpired}

// SenderScope narrows a sweep by sender, so that senders with retention of
// their own are swept with their own cutoffs: Only, when set, keeps just
// those senders; Except leaves those out. The zero value is every sender.
type SenderScope struct {
	Only   []string
	Except []string
}

func (sc SenderScope) clause(col string) (string, []any) {
	var b strings.Builder
	var args []any
	if len(sc.Only) > 0 {
		b.WriteString(" AND " + col + " IN (" + placeholders(len(sc.Only)) + ")")
		for _, s := range sc.Only {
			args = append(args, s)
		}
	}
	if len(sc.Except) > 0 {
		b.WriteString(" AND " + col + " NOT IN (" + placeholders(len(sc.Except)) + ")")
		for _, s := range sc.Except {
			args = append(args, s)
		}
	}
	return b.String(), args
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

func anys[T ~string](vs []T) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

func int64s(vs []int64) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = v
	}
	return out
}

// unpurged names the partial index of rows that still hold content.
func (s *Store) unpurged(table string) string { return s.indexedBy(table, table+"_unpurged") }

// indexedBy names the index a sweep reads in time order. SQLite has no
// statistics unless ANALYZE ran and would pick the status index instead,
// reading and sorting every failed message ever sent on each tick;
// PostgreSQL plans from statistics and needs no hint.
func (s *Store) indexedBy(table, index string) string {
	if s.dialect == SQLite {
		return table + " INDEXED BY " + index
	}
	return table
}

// PurgeContent drops the content of up to limit messages of scope that
// reached a final status before cutoff, and their web fallback links (which
// show the content). It returns how many messages it purged; fewer than
// limit means none is left. The rows stay, with content_purged_at set.
func (s *Store) PurgeContent(ctx context.Context, scope SenderScope, cutoff, now time.Time, limit int) (int, error) {
	where, args := scope.clause("sender")
	// created_at < cutoff bounds the index range: a message final before the
	// cutoff was created before it too.
	q := `SELECT id FROM ` + s.unpurged("messages") + ` WHERE content IS NOT NULL AND created_at < ? AND updated_at < ?
		AND status IN (` + placeholders(len(finalStatuses)) + `)` + where + ` ORDER BY created_at LIMIT ?`
	all := append([]any{micros(cutoff), micros(cutoff)}, finalStatuses...)
	all = append(append(all, args...), limit)
	var n int
	err := s.InTx(ctx, func(t *Tx) error {
		var ids []string
		if err := t.sel(&ids, q, all...); err != nil {
			return classify(fmt.Errorf("sqlstore: find content to purge: %w", err))
		}
		n = len(ids)
		if n == 0 {
			return nil
		}
		in := placeholders(n)
		idArgs := anys(ids)
		if _, err := t.exec(`UPDATE messages SET content = NULL, content_key = '', content_purged_at = ? WHERE id IN (`+in+`)`,
			append([]any{micros(now)}, idArgs...)...); err != nil {
			return fmt.Errorf("sqlstore: purge content: %w", err)
		}
		if _, err := t.exec(`DELETE FROM web_links WHERE message_id IN (`+in+`)`, idArgs...); err != nil {
			return fmt.Errorf("sqlstore: purge web links: %w", err)
		}
		return nil
	})
	return n, err
}

// PurgeInboundContent drops the content of up to limit inbound messages of
// scope (by the sender they answered) received before cutoff.
func (s *Store) PurgeInboundContent(ctx context.Context, scope SenderScope, cutoff, now time.Time, limit int) (int, error) {
	where, args := scope.clause("sender")
	q := `SELECT id FROM ` + s.unpurged("inbound") + ` WHERE content IS NOT NULL AND created_at < ?` + where + ` ORDER BY created_at LIMIT ?`
	all := append(append([]any{micros(cutoff)}, args...), limit)
	var n int
	err := s.InTx(ctx, func(t *Tx) error {
		var ids []string
		if err := t.sel(&ids, q, all...); err != nil {
			return classify(fmt.Errorf("sqlstore: find inbound content to purge: %w", err))
		}
		n = len(ids)
		if n == 0 {
			return nil
		}
		_, err := t.exec(`UPDATE inbound SET content = NULL, content_key = '', content_purged_at = ? WHERE id IN (`+placeholders(n)+`)`,
			append([]any{micros(now)}, anys(ids)...)...)
		if err != nil {
			return fmt.Errorf("sqlstore: purge inbound content: %w", err)
		}
		return nil
	})
	return n, err
}

// DeletePersonalEvents deletes up to limit delivered events other than
// status events (replies carry a text and a number, consent changes and
// erasures a number) created before cutoff. Undelivered events are never
// deleted: the back end has not heard of them yet.
func (s *Store) DeletePersonalEvents(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	var n int
	err := s.InTx(ctx, func(t *Tx) error {
		res, err := t.exec(`DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE type <> 'message.status'
			AND created_at < ? AND delivered_at IS NOT NULL ORDER BY created_at LIMIT ?)`, micros(cutoff), limit)
		if err != nil {
			return fmt.Errorf("sqlstore: delete events: %w", err)
		}
		n = affected(res)
		return nil
	})
	return n, err
}

// DeleteMessages deletes up to limit final messages of scope accepted
// before cutoff, with their attempts, parts, web links and delivered events
// (metadata retention).
func (s *Store) DeleteMessages(ctx context.Context, scope SenderScope, cutoff time.Time, limit int) (int, error) {
	where, args := scope.clause("sender")
	q := `SELECT id FROM ` + s.indexedBy("messages", "messages_page") + ` WHERE created_at < ? AND status IN (` + placeholders(len(finalStatuses)) + `)` + where + ` ORDER BY created_at LIMIT ?`
	all := append([]any{micros(cutoff)}, finalStatuses...)
	all = append(append(all, args...), limit)
	var n int
	err := s.InTx(ctx, func(t *Tx) error {
		var ids []string
		if err := t.sel(&ids, q, all...); err != nil {
			return classify(fmt.Errorf("sqlstore: find messages past retention: %w", err))
		}
		n = len(ids)
		if n == 0 {
			return nil
		}
		in, idArgs := placeholders(n), anys(ids)
		if _, err := t.exec(`DELETE FROM events WHERE message_id IN (`+in+`) AND delivered_at IS NOT NULL`, idArgs...); err != nil {
			return fmt.Errorf("sqlstore: delete events: %w", err)
		}
		// Attempts, parts and web links go by ON DELETE CASCADE.
		if _, err := t.exec(`DELETE FROM messages WHERE id IN (`+in+`)`, idArgs...); err != nil {
			return fmt.Errorf("sqlstore: delete messages: %w", err)
		}
		return nil
	})
	return n, err
}

// DeleteInbound deletes up to limit inbound messages of scope received
// before cutoff (metadata retention).
func (s *Store) DeleteInbound(ctx context.Context, scope SenderScope, cutoff time.Time, limit int) (int, error) {
	where, args := scope.clause("sender")
	var n int
	err := s.InTx(ctx, func(t *Tx) error {
		res, err := t.exec(`DELETE FROM inbound WHERE id IN (SELECT id FROM inbound WHERE created_at < ?`+where+` ORDER BY created_at LIMIT ?)`,
			append(append([]any{micros(cutoff)}, args...), limit)...)
		if err != nil {
			return fmt.Errorf("sqlstore: delete inbound: %w", err)
		}
		n = affected(res)
		return nil
	})
	return n, err
}

// DeleteOrphanReceipts deletes up to limit receipts received before cutoff
// that never found their message.
func (s *Store) DeleteOrphanReceipts(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	var n int
	err := s.InTx(ctx, func(t *Tx) error {
		res, err := t.exec(`DELETE FROM orphan_receipts WHERE id IN (SELECT id FROM orphan_receipts WHERE at < ? ORDER BY id LIMIT ?)`, micros(cutoff), limit)
		if err != nil {
			return fmt.Errorf("sqlstore: delete orphan receipts: %w", err)
		}
		n = affected(res)
		return nil
	})
	return n, err
}

// KeyCursor is where a walk over a table by its primary key stands. The zero
// value starts at the beginning; a walk that reaches the end hands back the
// zero value, so the next one starts over.
type KeyCursor struct {
	k1, k2  string
	started bool
}

// Walkable tables: those without an index on their time column, which the
// sweeper visits a page at a time in key order rather than adding an index
// write to every send.
const (
	WalkIdempotency = "idempotency" // (scope, key), created_at
)

var walks = map[string][3]string{
	WalkIdempotency: {"scope", "key", "created_at"},
}

// SweepWalk reads up to limit rows of table (WalkIdempotency) after cur,
// deletes those older than the cutoff of their first key column (the scope
// of an idempotency key; the zero time keeps every row), and returns the
// cursor to go on from with how many rows it deleted.
func (s *Store) SweepWalk(ctx context.Context, table string, cur KeyCursor, cutoff func(k1 string) time.Time, limit int) (KeyCursor, int, error) {
	cols, ok := walks[table]
	if !ok {
		return cur, 0, fmt.Errorf("sqlstore: no walk over %q", table)
	}
	type row struct {
		K1 string `db:"k1"`
		K2 string `db:"k2"`
		At int64  `db:"at"`
	}
	var (
		next KeyCursor
		n    int
	)
	err := s.InTx(ctx, func(t *Tx) error {
		q := `SELECT ` + cols[0] + ` AS k1, ` + cols[1] + ` AS k2, ` + cols[2] + ` AS at FROM ` + table
		var args []any
		if cur.started {
			q += ` WHERE (` + cols[0] + `, ` + cols[1] + `) > (?, ?)`
			args = append(args, cur.k1, cur.k2)
		}
		q += ` ORDER BY ` + cols[0] + `, ` + cols[1] + ` LIMIT ?`
		var rows []row
		if err := t.sel(&rows, q, append(args, limit)...); err != nil {
			return classify(fmt.Errorf("sqlstore: walk %s: %w", table, err))
		}
		n, next = 0, KeyCursor{}
		if len(rows) == limit {
			last := rows[len(rows)-1]
			next = KeyCursor{k1: last.K1, k2: last.K2, started: true}
		}
		for _, r := range rows {
			if c := cutoff(r.K1); c.IsZero() || r.At >= micros(c) {
				continue
			}
			if _, err := t.exec(`DELETE FROM `+table+` WHERE `+cols[0]+` = ? AND `+cols[1]+` = ?`, r.K1, r.K2); err != nil {
				return fmt.Errorf("sqlstore: sweep %s: %w", table, err)
			}
			n++
		}
		return nil
	})
	if err != nil {
		return cur, 0, err
	}
	return next, n, nil
}

// ErasureCounts says what the erasure of a number removed or pseudonymised.
type ErasureCounts struct {
	// Messages sent to the number: content dropped, number replaced by its
	// pseudonym, conversation id cleared. The rest stays for accounting.
	Messages int `json:"messages"`
	// Cancelled is how many of those were not final yet: failed unsent.
	Cancelled int `json:"cancelled"`
	// Inbound messages from the number: content dropped, number replaced.
	Inbound int `json:"inbound"`
	// Conversations: senders whose replies from the number no longer find
	// a message to go to.
	Conversations int `json:"conversations"`
	Consents      int `json:"consents"`
	WebLinks      int `json:"web_links"`
	Fragments     int `json:"fragments"`
	Idempotency   int `json:"idempotency_keys"`
	// Events about the number or its messages, delivered or not.
	Events int `json:"events"`
}

// Add adds o to c.
func (c *ErasureCounts) Add(o ErasureCounts) {
	c.Messages += o.Messages
	c.Cancelled += o.Cancelled
	c.Inbound += o.Inbound
	c.Conversations += o.Conversations
	c.Consents += o.Consents
	c.WebLinks += o.WebLinks
	c.Fragments += o.Fragments
	c.Idempotency += o.Idempotency
	c.Events += o.Events
}

// Any reports whether anything was erased.
func (c ErasureCounts) Any() bool { return c != ErasureCounts{} }

// ErasedError is the error a message cancelled by an erasure fails with.
const ErasedError = "cancelled: the recipient's data was erased"

// EraseSubject erases up to limit messages and limit inbound messages of
// number, replacing the number kept for accounting by pseudonym, and, once
// those are done (more is false), everything else that names the number:
// consent records, MO fragments and their timers, and the events about it
// (its conversations end with its messages). Call it again while more is
// true; a number with nothing left is a no-op with zero counts.
func (t *Tx) EraseSubject(number, pseudonym string, now time.Time, limit int) (c ErasureCounts, more bool, err error) {
	// Carriers may report a number without its '+'; stored forms are
	// normally E.164, but the other form is cheap to cover.
	digits := strings.TrimPrefix(number, "+")
	forms := []any{number, digits}
	var msgs []struct {
		ID     string `db:"id"`
		Status string `db:"status"`
	}
	if err := t.sel(&msgs, `SELECT id, status FROM messages WHERE to_number = ? ORDER BY created_at LIMIT ?`, number, limit); err != nil {
		return c, false, classify(fmt.Errorf("sqlstore: find messages to erase: %w", err))
	}
	if n := len(msgs); n > 0 {
		c.Messages = n
		ids := make([]any, n)
		var pending []any
		for i, m := range msgs {
			ids[i] = m.ID
			if !unify.Status(m.Status).Final() {
				pending = append(pending, m.ID)
			}
		}
		in := placeholders(n)
		// A conversation is its sender's newest message that reached the
		// number (Conversation): it ends with the batch that takes the
		// sender's last such message, and is counted there, once. Counted
		// before the batch cancels what is still on its way.
		if err := t.get(&c.Conversations, `SELECT COUNT(DISTINCT m.sender) FROM messages m WHERE m.id IN (`+in+`) AND m.status IN (?,?,?)
			AND NOT EXISTS (SELECT 1 FROM messages o WHERE o.to_number = ? AND o.sender = m.sender AND o.status IN (?,?,?)
			AND o.id NOT IN (`+in+`))`,
			slices.Concat(ids, reachedStatuses, []any{number}, reachedStatuses, ids)...); err != nil {
			return c, false, classify(fmt.Errorf("sqlstore: count conversations: %w", err))
		}
		if len(pending) > 0 {
			c.Cancelled = len(pending)
			pin := placeholders(len(pending))
			if _, err := t.exec(`DELETE FROM jobs WHERE kind = ? AND ref IN (`+pin+`)`, append([]any{JobSend}, pending...)...); err != nil {
				return c, false, fmt.Errorf("sqlstore: erase jobs: %w", err)
			}
			if _, err := t.exec(`DELETE FROM jobs WHERE kind = ? AND ref IN (SELECT id FROM attempts WHERE message_id IN (`+pin+`))`,
				append([]any{JobTimeout}, pending...)...); err != nil {
				return c, false, fmt.Errorf("sqlstore: erase jobs: %w", err)
			}
			if _, err := t.exec(`UPDATE messages SET status = ?, error = ?, updated_at = ? WHERE id IN (`+pin+`)`,
				append([]any{unify.StatusFailed, ErasedError, micros(now)}, pending...)...); err != nil {
				return c, false, fmt.Errorf("sqlstore: cancel messages: %w", err)
			}
		}
		if c.WebLinks, err = t.count(`DELETE FROM web_links WHERE message_id IN (`+in+`)`, ids...); err != nil {
			return c, false, err
		}
		if c.Idempotency, err = t.count(`DELETE FROM idempotency WHERE message_id IN (`+in+`)`, ids...); err != nil {
			return c, false, err
		}
		// Status events hold no number, but their error text may, and the
		// back end asked the gateway to stop speaking of this person.
		if c.Events, err = t.count(`DELETE FROM events WHERE message_id IN (`+in+`)`, ids...); err != nil {
			return c, false, err
		}
		// Error texts may quote the number ("no carrier serves +33…").
		if _, err := t.exec(`UPDATE attempts SET error = REPLACE(REPLACE(error, ?, ?), ?, ?) WHERE message_id IN (`+in+`)`,
			append([]any{number, pseudonym, digits, pseudonym}, ids...)...); err != nil {
			return c, false, fmt.Errorf("sqlstore: erase attempts: %w", err)
		}
		if _, err := t.exec(`UPDATE messages SET to_number = ?, conversation_id = '', content = NULL, content_key = '',
			content_purged_at = CASE WHEN content_purged_at = 0 THEN ? ELSE content_purged_at END,
			error = REPLACE(REPLACE(error, ?, ?), ?, ?) WHERE id IN (`+in+`)`,
			append([]any{pseudonym, micros(now), number, pseudonym, digits, pseudonym}, ids...)...); err != nil {
			return c, false, fmt.Errorf("sqlstore: erase messages: %w", err)
		}
	}
	var ins []string
	if err := t.sel(&ins, `SELECT id FROM inbound WHERE from_number IN (?, ?) ORDER BY created_at LIMIT ?`, number, digits, limit); err != nil {
		return c, false, classify(fmt.Errorf("sqlstore: find inbound to erase: %w", err))
	}
	if n := len(ins); n > 0 {
		c.Inbound = n
		if _, err := t.exec(`UPDATE inbound SET from_number = ?, conversation_id = '', content = NULL, content_key = '',
			content_purged_at = CASE WHEN content_purged_at = 0 THEN ? ELSE content_purged_at END WHERE id IN (`+placeholders(n)+`)`,
			append([]any{pseudonym, micros(now)}, anys(ins)...)...); err != nil {
			return c, false, fmt.Errorf("sqlstore: erase inbound: %w", err)
		}
	}
	if len(msgs) == limit || len(ins) == limit {
		return c, true, nil
	}
	if c.Consents, err = t.count(`DELETE FROM consents WHERE number IN (?, ?)`, forms...); err != nil {
		return c, false, err
	}
	if c.Fragments, err = t.count(`DELETE FROM mo_fragments WHERE from_number IN (?, ?)`, forms...); err != nil {
		return c, false, err
	}
	// A mo_flush job's ref is its fragment group: carrier|from|to|ref|total.
	if _, err := t.exec(`DELETE FROM jobs WHERE kind = ? AND (ref LIKE ? OR ref LIKE ?)`,
		JobMOFlush, "%|"+number+"|%", "%|"+digits+"|%"); err != nil {
		return c, false, fmt.Errorf("sqlstore: erase jobs: %w", err)
	}
	// Reply and consent events are keyed "in:SENDER:NUMBER" and
	// "consent:SENDER:NUMBER" (dispatch), and their bodies are sealed: the
	// key is what finds them.
	n, err := t.count(`DELETE FROM events WHERE type <> 'message.status' AND (key LIKE ? OR key LIKE ?)`, "%:"+number, "%:"+digits)
	if err != nil {
		return c, false, err
	}
	c.Events += n
	return c, false, nil
}

func (t *Tx) count(q string, args ...any) (int, error) {
	res, err := t.exec(q, args...)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: erase: %w", err)
	}
	return affected(res), nil
}

func affected(res interface{ RowsAffected() (int64, error) }) int {
	n, err := res.RowsAffected()
	if err != nil {
		return 0
	}
	return int(n)
}

// Sealed tables: every table with a sealed column, for rotation and audits.
var sealedTables = []struct {
	name, key, content string
}{
	{"messages", "id", "content"},
	{"inbound", "id", "content"},
	{"events", "seq", "body"},
	{"mo_fragments", "", "content"},
}

// primaryKeyID is the id of the key the store seals with now ("" when
// encryption is off): sealing nothing costs a nonce and reveals it.
func (s *Store) primaryKeyID() (string, error) {
	id, _, err := s.sealer.Seal(nil)
	if err != nil {
		return "", fmt.Errorf("sqlstore: %w", err)
	}
	return id, nil
}

// Unsealed counts, per table, the rows whose content is not sealed under the
// store's current key: stored in clear (encryption was off) or under a key
// being rotated out. After a complete Reseal every count is 0.
func (s *Store) Unsealed(ctx context.Context) (map[string]int, error) {
	primary, err := s.primaryKeyID()
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, tb := range sealedTables {
		var n int
		q := `SELECT COUNT(*) FROM ` + tb.name + ` WHERE ` + tb.content + ` IS NOT NULL AND content_key <> ?`
		if err := s.r.GetContext(ctx, &n, s.r.Rebind(q), primary); err != nil {
			return nil, classify(fmt.Errorf("sqlstore: count unsealed %s: %w", tb.name, err))
		}
		out[tb.name] = n
	}
	return out, nil
}

// Reseal re-seals, in transactions of batch rows, every row whose content
// is not sealed under the store's current key: rows under an older key (the
// store's Sealer must still open them) and rows stored in clear. It walks
// each table once in key order, so rows written meanwhile by a gateway that
// seals with the current key need no second pass. progress, when set, hears
// each batch. It returns the rows re-sealed per table.
func (s *Store) Reseal(ctx context.Context, batch int, progress func(table string, n int)) (map[string]int, error) {
	if batch <= 0 {
		batch = 500
	}
	primary, err := s.primaryKeyID()
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, tb := range sealedTables {
		cursor := ""
		for {
			n, next, err := s.resealBatch(ctx, tb.name, tb.key, tb.content, primary, cursor, batch)
			if err != nil {
				return out, err
			}
			out[tb.name] += n
			if n > 0 && progress != nil {
				progress(tb.name, n)
			}
			if next == "" {
				break
			}
			cursor = next
		}
	}
	return out, nil
}

// resealBatch re-seals up to limit rows after cursor and returns the cursor
// to go on from ("" when the table is done).
func (s *Store) resealBatch(ctx context.Context, table, key, col, primary, cursor string, limit int) (int, string, error) {
	if key == "" {
		return s.resealFragments(ctx, primary, limit)
	}
	type row struct {
		Key        string `db:"k"`
		ContentKey string `db:"content_key"`
		Content    []byte `db:"c"`
	}
	var (
		n    int
		next string
	)
	err := s.InTx(ctx, func(t *Tx) error {
		n, next = 0, ""
		q := `SELECT ` + key + ` AS k, content_key, ` + col + ` AS c FROM ` + table + ` WHERE ` + col + ` IS NOT NULL AND content_key <> ?`
		args := []any{primary}
		if cursor != "" {
			q += ` AND ` + key + ` > ?`
			args = append(args, keyArg(key, cursor))
		}
		q += ` ORDER BY ` + key + ` LIMIT ?` + t.forUpdate()
		var rows []row
		if err := t.sel(&rows, q, append(args, limit)...); err != nil {
			return classify(fmt.Errorf("sqlstore: read %s to re-seal: %w", table, err))
		}
		for _, r := range rows {
			k, sealed, err := s.reseal(r.ContentKey, r.Content)
			if err != nil {
				return fmt.Errorf("sqlstore: re-seal %s %s: %w", table, r.Key, err)
			}
			if _, err := t.exec(`UPDATE `+table+` SET content_key = ?, `+col+` = ? WHERE `+key+` = ?`, k, sealed, keyArg(key, r.Key)); err != nil {
				return fmt.Errorf("sqlstore: re-seal %s %s: %w", table, r.Key, err)
			}
		}
		n = len(rows)
		if n == limit {
			next = rows[n-1].Key
		}
		return nil
	})
	return n, next, err
}

// resealFragments re-seals a batch of MO fragments. The table has no
// single-column key to walk by, but it only holds parts of concatenated
// replies for a few minutes: each batch takes whatever rows are still not
// under the current key.
func (s *Store) resealFragments(ctx context.Context, primary string, limit int) (int, string, error) {
	var n int
	err := s.InTx(ctx, func(t *Tx) error {
		var rows []struct {
			Carrier    string `db:"carrier"`
			From       string `db:"from_number"`
			To         string `db:"to_addr"`
			Ref        string `db:"ref"`
			Total      int    `db:"total"`
			Seq        int    `db:"seq"`
			ContentKey string `db:"content_key"`
			Content    []byte `db:"content"`
		}
		if err := t.sel(&rows, `SELECT carrier, from_number, to_addr, ref, total, seq, content_key, content FROM mo_fragments
			WHERE content IS NOT NULL AND content_key <> ? LIMIT ?`+t.forUpdate(), primary, limit); err != nil {
			return classify(fmt.Errorf("sqlstore: read mo_fragments to re-seal: %w", err))
		}
		for _, r := range rows {
			k, sealed, err := s.reseal(r.ContentKey, r.Content)
			if err != nil {
				return fmt.Errorf("sqlstore: re-seal a fragment: %w", err)
			}
			if _, err := t.exec(`UPDATE mo_fragments SET content_key = ?, content = ? WHERE carrier = ? AND from_number = ? AND to_addr = ? AND ref = ? AND total = ? AND seq = ?`,
				k, sealed, r.Carrier, r.From, r.To, r.Ref, r.Total, r.Seq); err != nil {
				return fmt.Errorf("sqlstore: re-seal a fragment: %w", err)
			}
		}
		n = len(rows)
		return nil
	})
	next := ""
	if n == limit {
		next = "more"
	}
	return n, next, err
}

func (s *Store) reseal(keyID string, content []byte) (string, []byte, error) {
	plain, err := s.sealer.Open(keyID, content)
	if err != nil {
		return "", nil, err
	}
	return s.sealer.Seal(plain)
}

// keyArg turns a cursor back into the type of its column, so that integer
// keys compare as numbers.
func keyArg(key, v string) any {
	if key == "seq" {
		var i int64
		if _, err := fmt.Sscan(v, &i); err == nil {
			return i
		}
	}
	return v
}

// Checkpoint copies SQLite's write-ahead log into the database file and
// truncates it, so that the log no longer holds versions of rows from
// before an erasure (deleted content itself is overwritten in the file:
// the store runs with secure_delete). It waits for readers to finish. A
// no-op on PostgreSQL, whose WAL is the server's concern.
func (s *Store) Checkpoint(ctx context.Context) error {
	if s.dialect != SQLite {
		return nil
	}
	if _, err := s.w.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return classify(fmt.Errorf("sqlstore: checkpoint: %w", err))
	}
	return nil
}
