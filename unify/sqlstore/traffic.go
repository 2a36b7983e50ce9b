package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gateway/unify"
)

// The read side of the operator UI: the traffic list, a message's timeline,
// per-minute counts, and the UI's server-side sessions.

// TrafficCursor is a position in the traffic list: the (created_at, id) of a
// message. Paging by keyset rather than OFFSET keeps every page as cheap as
// the first, and a page does not shift while new messages arrive.
type TrafficCursor struct {
	CreatedAt time.Time
	ID        unify.MessageID
}

// TrafficFilter selects messages for the traffic list. Zero fields do not
// filter. At most one of Before and After is set; neither gives the newest
// page.
type TrafficFilter struct {
	Number  string // the recipient, E.164
	Sender  string
	Status  unify.Status
	Channel unify.ChannelKind
	Since   time.Time // created at or after
	Until   time.Time // created before
	Before  *TrafficCursor
	After   *TrafficCursor
	Limit   int // default 50, at most 500
}

// MessageSummary is one row of the traffic list: a message without its
// content or attempts.
type MessageSummary struct {
	ID             unify.MessageID
	To             string
	Sender         string
	Policy         string
	ConversationID string
	ClientRef      string
	Status         unify.Status
	Channel        unify.ChannelKind
	Carrier        string
	Error          string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// TrafficPage is one page of the traffic list, newest first. Newer and Older
// are the cursors of the neighbouring pages (After and Before of the next
// query), nil at either end.
type TrafficPage struct {
	Messages []MessageSummary
	Newer    *TrafficCursor
	Older    *TrafficCursor
}

const (
	defaultTrafficLimit = 50
	maxTrafficLimit     = 500
)

// indexedStatuses are the statuses messages_page_status holds (migration
// 00012): the messages waiting to be sent or switched and the failed ones,
// which may be one row in a million. The usual outcomes are found by walking
// messages_page.
var indexedStatuses = []unify.Status{unify.StatusAccepted, unify.StatusSending, unify.StatusSwitching, unify.StatusFailed}

// inStatusIndex is messages_page_status's condition word for word. A query
// meant for the index repeats it: SQLite uses a partial index only for a
// query whose WHERE contains its condition, and PostgreSQL cannot prove
// that a bound status satisfies it.
const inStatusIndex = "(status = 'accepted' OR status = 'sending' OR status = 'switching' OR status = 'failed')"

// trafficQuery builds the list query. A filter on the number or on one of
// indexedStatuses is an equality on the first column of its messages_page*
// index (00003_ui.sql, 00012), the time range and cursor bound the index's
// (created_at, id) tail, and the ORDER BY walks it, so the database reads
// one page of index entries. Senders and channels are few and have no
// index (00009), the usual statuses none since 00012: their filters are
// checked on the rows that walk (of messages_page when nothing else is
// filtered) comes to, which match often.
func trafficQuery(f TrafficFilter, limit int) (string, []any) {
	var where []string
	var args []any
	// The first indexed filter set, the more selective first, leads on its
	// index; the other is written as an expression (col || '') so that no
	// index serves it. SQLite has no statistics unless ANALYZE ran and would
	// otherwise pick by luck, say the status index for a number and a
	// status, reading every failed message to find one person's.
	led := false
	eq := func(col, v string, indexed bool) {
		if v == "" {
			return
		}
		if indexed && led {
			col += " || ''"
		}
		led = led || indexed
		where = append(where, col+" = ?")
		args = append(args, v)
	}
	eq("to_number", f.Number, true)
	statusLeads := f.Status != "" && !led && slices.Contains(indexedStatuses, f.Status)
	eq("status", string(f.Status), statusLeads)
	if statusLeads {
		where = append(where, inStatusIndex)
	}
	eq("sender", f.Sender, false)
	eq("channel", string(f.Channel), false)
	if !f.Since.IsZero() {
		where = append(where, "created_at >= ?")
		args = append(args, f.Since.UnixMicro())
	}
	if !f.Until.IsZero() {
		where = append(where, "created_at < ?")
		args = append(args, f.Until.UnixMicro())
	}
	order := "DESC"
	switch {
	case f.Before != nil:
		// A row value rather than "a < ? OR (a = ? AND b < ?)": SQLite (since
		// 3.15) and PostgreSQL both turn it into an index range, where the OR
		// form would make SQLite walk the index from the newest row.
		where = append(where, "(created_at, id) < (?, ?)")
		args = append(args, f.Before.CreatedAt.UnixMicro(), string(f.Before.ID))
	case f.After != nil:
		where = append(where, "(created_at, id) > (?, ?)")
		args = append(args, f.After.CreatedAt.UnixMicro(), string(f.After.ID))
		order = "ASC"
	}
	q := `SELECT ` + stateCols + ` FROM messages`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY created_at ` + order + `, id ` + order + ` LIMIT ?`
	args = append(args, limit)
	return q, args
}

// TrafficMessages returns one page of the traffic list.
func (s *Store) TrafficMessages(ctx context.Context, f TrafficFilter) (TrafficPage, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = defaultTrafficLimit
	}
	limit = min(limit, maxTrafficLimit)
	if f.Before != nil && f.After != nil {
		return TrafficPage{}, errors.New("sqlstore: traffic filter with both before and after")
	}
	q, args := trafficQuery(f, limit+1) // one more tells whether another page follows
	var rows []messageRow
	if err := s.r.SelectContext(ctx, &rows, s.r.Rebind(q), args...); err != nil {
		return TrafficPage{}, classify(fmt.Errorf("sqlstore: list traffic: %w", err))
	}
	more := len(rows) > limit
	if more {
		rows = rows[:limit]
	}
	if f.After != nil {
		slices.Reverse(rows)
	}
	page := TrafficPage{Messages: make([]MessageSummary, len(rows))}
	for i, r := range rows {
		page.Messages[i] = MessageSummary{
			ID: unify.MessageID(r.ID), To: r.To, Sender: r.Sender, Policy: r.Policy,
			ConversationID: r.ConversationID, ClientRef: r.ClientRef, Status: unify.Status(r.Status),
			Channel: unify.ChannelKind(r.Channel), Carrier: r.Carrier, Error: r.Error,
			CreatedAt: fromMicros(r.CreatedAt), UpdatedAt: fromMicros(r.UpdatedAt),
		}
	}
	if len(rows) == 0 {
		// An empty page past either end: offer the way back.
		switch {
		case f.Before != nil:
			page.Newer = &TrafficCursor{CreatedAt: f.Before.CreatedAt, ID: f.Before.ID}
			page.Newer.CreatedAt = page.Newer.CreatedAt.Add(-time.Microsecond)
		case f.After != nil:
			page.Older = &TrafficCursor{CreatedAt: f.After.CreatedAt.Add(time.Microsecond), ID: f.After.ID}
		}
		return page, nil
	}
	first, last := page.Messages[0], page.Messages[len(page.Messages)-1]
	newer := &TrafficCursor{CreatedAt: first.CreatedAt, ID: first.ID}
	older := &TrafficCursor{CreatedAt: last.CreatedAt, ID: last.ID}
	switch {
	case f.After != nil:
		// Walking towards the newest: the cursor's own message is older.
		page.Older = older
		if more {
			page.Newer = newer
		}
	case f.Before != nil:
		page.Newer = newer
		if more {
			page.Older = older
		}
	default:
		if more {
			page.Older = older
		}
	}
	return page, nil
}

// TrafficBucket counts the messages accepted in one minute that are now on
// one channel with one status.
type TrafficBucket struct {
	Minute  time.Time
	Channel unify.ChannelKind
	Status  unify.Status
	Count   int
}

// TrafficBuckets counts the messages created in [since, until) by minute,
// current channel and status, oldest minute first.
func (s *Store) TrafficBuckets(ctx context.Context, since, until time.Time) ([]TrafficBucket, error) {
	type row struct {
		Minute  int64  `db:"minute"`
		Channel string `db:"channel"`
		Status  string `db:"status"`
		N       int    `db:"n"`
	}
	var rows []row
	// created_at is unix microseconds: integer division gives the minute on
	// both engines.
	q := `SELECT created_at / 60000000 AS minute, channel, status, COUNT(*) AS n FROM messages
		WHERE created_at >= ? AND created_at < ? GROUP BY created_at / 60000000, channel, status ORDER BY minute, channel, status`
	if err := s.r.SelectContext(ctx, &rows, s.r.Rebind(q), since.UnixMicro(), until.UnixMicro()); err != nil {
		return nil, classify(fmt.Errorf("sqlstore: count traffic: %w", err))
	}
	out := make([]TrafficBucket, len(rows))
	for i, r := range rows {
		out[i] = TrafficBucket{Minute: time.Unix(r.Minute*60, 0).UTC(), Channel: unify.ChannelKind(r.Channel), Status: unify.Status(r.Status), Count: r.N}
	}
	return out, nil
}

// PartRecord is one part of an attempt with its receipt.
type PartRecord struct {
	Seq       int
	CarrierID string // the carrier's id for it
	Status    unify.Status
	Error     string
}

// AttemptRecord is an attempt as the message page shows it: when it started
// and last changed, and each part's receipt.
type AttemptRecord struct {
	ID        unify.AttemptID
	Step      int
	Channel   unify.ChannelKind
	Carrier   string
	Status    unify.Status
	Segments  int
	Error     string
	StartedAt time.Time
	UpdatedAt time.Time
	Parts     []PartRecord
}

// InboundReply is a message from the phone routed to a message we sent.
type InboundReply struct {
	ID       string
	Channel  unify.ChannelKind
	Carrier  string
	From     string
	Text     string
	Postback string
	Media    []unify.Media
	Location *unify.Location
	At       time.Time

	// ContentPurged says that retention or an erasure dropped the reply's
	// content: the UI shows "content purged" in its place.
	ContentPurged bool
}

// Timeline is everything the store knows about one message, for its page in
// the UI.
type Timeline struct {
	Message  *unify.Message // with its content (empty once retention dropped it)
	Attempts []AttemptRecord
	Events   []EventRecord
	Replies  []InboundReply
}

// MessageTimeline returns a message with its attempts, parts, events and
// replies. It returns a not_found *unify.Error when the id is unknown.
func (s *Store) MessageTimeline(ctx context.Context, id unify.MessageID) (Timeline, error) {
	m, err := s.Message(ctx, id)
	if err != nil {
		return Timeline{}, err
	}
	tl := Timeline{Message: m}
	var attempts []attemptRow
	if err := s.r.SelectContext(ctx, &attempts, s.r.Rebind(`SELECT * FROM attempts WHERE message_id = ? ORDER BY created_at, step`), id); err != nil {
		return Timeline{}, classify(fmt.Errorf("sqlstore: read attempts: %w", err))
	}
	var parts []partRow
	if len(attempts) > 0 {
		if err := s.r.SelectContext(ctx, &parts, s.r.Rebind(`SELECT p.* FROM parts p JOIN attempts a ON a.id = p.attempt_id WHERE a.message_id = ? ORDER BY p.attempt_id, p.seq`), id); err != nil {
			return Timeline{}, classify(fmt.Errorf("sqlstore: read parts: %w", err))
		}
	}
	for _, a := range attempts {
		rec := AttemptRecord{
			ID: unify.AttemptID(a.ID), Step: a.Step, Channel: unify.ChannelKind(a.Channel), Carrier: a.Carrier,
			Status: unify.Status(a.Status), Segments: a.Segments, Error: a.Error,
			StartedAt: fromMicros(a.CreatedAt), UpdatedAt: fromMicros(a.UpdatedAt),
		}
		for _, p := range partsOf(a, parts) {
			rec.Parts = append(rec.Parts, PartRecord{Seq: p.Seq, CarrierID: p.ExtID, Status: unify.Status(p.Status), Error: p.Error})
		}
		tl.Attempts = append(tl.Attempts, rec)
	}
	if tl.Events, err = s.MessageEvents(ctx, id); err != nil {
		return Timeline{}, fmt.Errorf("sqlstore: read events: %w", err)
	}
	type inRow struct {
		ID         string `db:"id"`
		Channel    string `db:"channel"`
		Carrier    string `db:"carrier"`
		From       string `db:"from_number"`
		ContentKey string `db:"content_key"`
		Content    []byte `db:"content"`
		PurgedAt   int64  `db:"content_purged_at"`
		CreatedAt  int64  `db:"created_at"`
	}
	var ins []inRow
	if err := s.r.SelectContext(ctx, &ins, s.r.Rebind(`SELECT id, channel, carrier, from_number, content_key, content, content_purged_at, created_at
		FROM inbound WHERE message_id = ? ORDER BY created_at, id`), id); err != nil {
		return Timeline{}, classify(fmt.Errorf("sqlstore: read replies: %w", err))
	}
	for _, r := range ins {
		rep := InboundReply{ID: r.ID, Channel: unify.ChannelKind(r.Channel), Carrier: r.Carrier, From: r.From, At: fromMicros(r.CreatedAt),
			ContentPurged: r.PurgedAt != 0}
		if r.Content != nil {
			plain, err := s.sealer.Open(r.ContentKey, r.Content)
			if err != nil {
				return Timeline{}, fmt.Errorf("sqlstore: open reply %s: %w", r.ID, err)
			}
			var c inboundContent
			if err := json.Unmarshal(plain, &c); err != nil {
				return Timeline{}, fmt.Errorf("sqlstore: decode reply %s: %w", r.ID, err)
			}
			rep.Text, rep.Postback, rep.Media, rep.Location = c.Text, c.Postback, c.Media, c.Location
		}
		tl.Replies = append(tl.Replies, rep)
	}
	return tl, nil
}

// UISession is a signed-in operator's session. ID is the SHA-256 (hex) of
// the token in the cookie, never the token itself.
type UISession struct {
	ID        string
	CSRF      string // the token every form of the session carries
	CreatedAt time.Time
	ExpiresAt time.Time
}

// CreateUISession stores a new session.
func (s *Store) CreateUISession(ctx context.Context, us UISession) error {
	err := s.exec(ctx, `INSERT INTO ui_sessions (id, csrf, created_at, expires_at) VALUES (?,?,?,?)`,
		us.ID, us.CSRF, micros(us.CreatedAt), micros(us.ExpiresAt))
	if err != nil {
		return fmt.Errorf("sqlstore: create session: %w", err)
	}
	return nil
}

// UISession reads a session by id. It returns a not_found *unify.Error when
// there is none; expiry is the caller's to check.
func (s *Store) UISession(ctx context.Context, id string) (UISession, error) {
	var row struct {
		ID        string `db:"id"`
		CSRF      string `db:"csrf"`
		CreatedAt int64  `db:"created_at"`
		ExpiresAt int64  `db:"expires_at"`
	}
	err := s.r.GetContext(ctx, &row, s.r.Rebind(`SELECT id, csrf, created_at, expires_at FROM ui_sessions WHERE id = ?`), id)
	if errors.Is(err, sql.ErrNoRows) {
		return UISession{}, &unify.Error{Code: unify.CodeNotFound, Message: "no such session"}
	}
	if err != nil {
		return UISession{}, classify(fmt.Errorf("sqlstore: read session: %w", err))
	}
	return UISession{ID: row.ID, CSRF: row.CSRF, CreatedAt: fromMicros(row.CreatedAt), ExpiresAt: fromMicros(row.ExpiresAt)}, nil
}

// DeleteUISession revokes a session; deleting an unknown one is not an error.
func (s *Store) DeleteUISession(ctx context.Context, id string) error {
	if err := s.exec(ctx, `DELETE FROM ui_sessions WHERE id = ?`, id); err != nil {
		return fmt.Errorf("sqlstore: delete session: %w", err)
	}
	return nil
}

// DeleteExpiredUISessions removes the sessions that expired before now.
func (s *Store) DeleteExpiredUISessions(ctx context.Context, now time.Time) error {
	if err := s.exec(ctx, `DELETE FROM ui_sessions WHERE expires_at < ?`, micros(now)); err != nil {
		return fmt.Errorf("sqlstore: delete expired sessions: %w", err)
	}
	return nil
}
