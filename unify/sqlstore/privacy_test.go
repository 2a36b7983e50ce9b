package sqlstore_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"gateway/unify"
	"gateway/unify/seal"
	"gateway/unify/sqlstore"
)

var p0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func openStore(tb testing.TB, path string, sealer sqlstore.Sealer) *sqlstore.Store {
	tb.Helper()
	s := openUnclosed(tb, path, sealer)
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// openUnclosed opens a store the test closes itself (Close is not
// idempotent).
func openUnclosed(tb testing.TB, path string, sealer sqlstore.Sealer) *sqlstore.Store {
	tb.Helper()
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, "sqlite:"+path, sqlstore.Options{Sealer: sealer})
	require.NoError(tb, err)
	require.NoError(tb, s.Migrate(ctx))
	return s
}

// rawDB opens the file as anyone holding a copy of it would.
func rawDB(tb testing.TB, path string) *sql.DB {
	tb.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = db.Close() })
	return db
}

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func mustSealer(tb testing.TB, primary []byte, older ...[]byte) *seal.Sealer {
	tb.Helper()
	s, err := seal.New(primary, older...)
	require.NoError(tb, err)
	return s
}

// tag names a number's test rows without the number in it, so that the
// number found in a dump is one the store kept, not one the test wrote.
func tag(n string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return 'a' + (r - '0')
		}
		return -1
	}, n)
}

type seeded struct {
	msgs []*unify.Message
}

// seed stores, for each number, a delivered message (its conversation), a
// message still sending, a reply with a consent change, a web link, an
// idempotency key, an MO fragment with its timer and events.
func seed(tb testing.TB, s *sqlstore.Store, numbers ...string) seeded {
	tb.Helper()
	var out seeded
	require.NoError(tb, s.InTx(context.Background(), func(tx *sqlstore.Tx) error {
		for _, n := range numbers {
			for j, st := range []unify.Status{unify.StatusDelivered, unify.StatusSending} {
				m := &unify.Message{ID: unify.MessageID(fmt.Sprintf("msg_%s_%d", tag(n), j)), To: n, From: "acme", Policy: "default",
					ConversationID: "thread-" + n, Content: unify.Content{Text: "secret text for " + n},
					Status: st, CreatedAt: p0, UpdatedAt: p0}
				if err := tx.InsertMessage(m); err != nil {
					return err
				}
				a := &unify.Attempt{ID: unify.AttemptID(fmt.Sprintf("att_%s_%d", tag(n), j)), MessageID: m.ID, Channel: unify.ChannelSMS,
					Carrier: "sim", Status: unify.StatusSent, Error: "no route to " + n}
				if err := tx.InsertAttempt(a, p0); err != nil {
					return err
				}
				if err := tx.AddJob(sqlstore.JobTimeout, string(a.ID), p0.Add(time.Hour)); err != nil {
					return err
				}
				if err := tx.AddEvent(unify.OutboxEvent{ID: fmt.Sprintf("evt_s_%s_%d", tag(n), j), Key: string(m.ID), Type: unify.EventStatus,
					Body: []byte(`{"status":"sent"}`), CreatedAt: p0}, m.ID); err != nil {
					return err
				}
				out.msgs = append(out.msgs, m)
			}
			first := out.msgs[len(out.msgs)-2]
			if err := tx.AddJob(sqlstore.JobSend, string(out.msgs[len(out.msgs)-1].ID), p0); err != nil {
				return err
			}
			if _, err := tx.CreateWebLink(first.ID, "tok-"+tag(n), p0.Add(time.Hour), p0); err != nil {
				return err
			}
			if err := tx.SaveIdempotency(unify.Idempotency{Scope: "backend", Key: "idem-" + tag(n), Hash: "h"}, first.ID, p0); err != nil {
				return err
			}
			if _, err := tx.SetConsent("acme", n, sqlstore.Consent{OptedOut: true, Channel: unify.ChannelSMS, Keyword: "STOP", UpdatedAt: p0}); err != nil {
				return err
			}
			in := unify.Inbound{ExternalID: "ext-" + tag(n), Channel: unify.ChannelSMS, Carrier: "sim", From: n, To: "ACME", Text: "reply from " + n, At: p0}
			if _, err := tx.InsertInbound(sqlstore.InboundRecord{ID: "in_" + tag(n), Inbound: in, Sender: "acme", MessageID: first.ID}); err != nil {
				return err
			}
			if err := tx.AddEvent(unify.OutboxEvent{ID: "evt_in_" + tag(n), Key: "in:acme:" + n, Type: unify.EventInbound,
				Body: []byte(`{"text":"reply from ` + n + `"}`), CreatedAt: p0}, first.ID); err != nil {
				return err
			}
			if err := tx.AddEvent(unify.OutboxEvent{ID: "evt_c_" + tag(n), Key: "consent:acme:" + n, Type: unify.EventConsentChanged,
				Body: []byte(`{"number":"` + n + `"}`), CreatedAt: p0}, ""); err != nil {
				return err
			}
			f := sqlstore.Fragment{Carrier: "sim", From: n, To: "ACME", Ref: "7", Total: 2, Seq: 1, Text: "half of a reply from " + n, At: p0}
			if _, err := tx.AddFragment(f); err != nil {
				return err
			}
			if err := tx.AddJob(sqlstore.JobMOFlush, f.GroupKey(), p0.Add(time.Minute)); err != nil {
				return err
			}
		}
		return nil
	}))
	return out
}

// dump returns every value of every table as text, the way a copy of the
// database would show it.
func dump(tb testing.TB, db *sql.DB) string {
	tb.Helper()
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table'`)
	require.NoError(tb, err)
	var tables []string
	for rows.Next() {
		var n string
		require.NoError(tb, rows.Scan(&n))
		tables = append(tables, n)
	}
	require.NoError(tb, rows.Close())
	var b strings.Builder
	for _, t := range tables {
		rs, err := db.Query(`SELECT * FROM "` + t + `"`)
		require.NoError(tb, err)
		cols, _ := rs.Columns()
		for rs.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(tb, rs.Scan(ptrs...))
			b.WriteString(t + ":")
			for _, v := range vals {
				fmt.Fprintf(&b, " %s", v)
			}
			b.WriteString("\n")
		}
		require.NoError(tb, rs.Close())
	}
	return b.String()
}

func TestEraseSubject(t *testing.T) {
	t.Parallel()
	const a, b = "+33612345678", "+33698765432"
	path := filepath.Join(t.TempDir(), "t.db")
	s := openStore(t, path, sqlstore.PlainSealer{})
	seed(t, s, a, b)
	ctx := context.Background()

	erase := func(limit int) (sqlstore.ErasureCounts, int) {
		var total sqlstore.ErasureCounts
		rounds := 0
		for more := true; more; rounds++ {
			var c sqlstore.ErasureCounts
			require.NoError(t, s.InTx(ctx, func(tx *sqlstore.Tx) error {
				var err error
				c, more, err = tx.EraseSubject(a, "erased:hash", p0.Add(time.Hour), limit)
				return err
			}))
			total.Add(c)
		}
		return total, rounds
	}
	// A batch of one message at a time: the erasure takes several rounds
	// and the counts add up.
	c, rounds := erase(1)
	require.Equal(t, 3, rounds)
	require.Equal(t, sqlstore.ErasureCounts{Messages: 2, Cancelled: 1, Inbound: 1, Conversations: 1, Consents: 1, WebLinks: 1,
		Fragments: 1, Idempotency: 1, Events: 4}, c)

	all := dump(t, rawDB(t, path))
	require.NotContains(t, all, a)
	require.NotContains(t, all, strings.TrimPrefix(a, "+"))
	require.NotContains(t, all, "secret text for "+a)
	require.NotContains(t, all, "reply from "+a)
	require.NotContains(t, all, "thread-"+a)
	require.NotContains(t, all, "half of a reply from "+a)
	require.Contains(t, all, "erased:hash")
	// The other number is untouched.
	require.Contains(t, all, "secret text for "+b)
	require.Contains(t, all, "reply from "+b)
	for _, kind := range []sqlstore.JobKind{sqlstore.JobSend, sqlstore.JobTimeout, sqlstore.JobMOFlush} {
		n, err := s.CountJobs(ctx, kind)
		require.NoError(t, err)
		require.Equal(t, map[sqlstore.JobKind]int{sqlstore.JobSend: 1, sqlstore.JobTimeout: 3, sqlstore.JobMOFlush: 1}[kind], n, kind)
	}

	m, err := s.Message(ctx, unify.MessageID("msg_"+tag(a)+"_1"))
	require.NoError(t, err)
	require.Equal(t, unify.StatusFailed, m.Status, "a message not sent yet is cancelled")
	require.Equal(t, sqlstore.ErasedError, m.Error)
	require.True(t, m.ContentPurged)
	require.Equal(t, "erased:hash", m.To)
	require.Equal(t, "no route to erased:hash", m.Attempts[0].Error)

	again, _ := erase(500)
	require.False(t, again.Any(), "a second erasure is a no-op: %+v", again)
}

func TestPurgeContentScopesAndBounds(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "t.db")
	s := openStore(t, path, mustSealer(t, key(1)))
	ctx := context.Background()
	require.NoError(t, s.InTx(ctx, func(tx *sqlstore.Tx) error {
		for i, tc := range []struct {
			sender string
			status unify.Status
			at     time.Time
		}{
			{"acme", unify.StatusDelivered, p0},
			{"acme", unify.StatusFailed, p0},
			{"acme", unify.StatusSent, p0},                     // not final: kept
			{"acme", unify.StatusDelivered, p0.Add(time.Hour)}, // final after the cutoff: kept
			{"globex", unify.StatusDelivered, p0},
		} {
			m := &unify.Message{ID: unify.MessageID(fmt.Sprintf("msg_%d", i)), To: "+33612345678", From: tc.sender, Policy: "default",
				Content: unify.Content{Text: "hi"}, Status: tc.status, CreatedAt: p0, UpdatedAt: tc.at}
			if err := tx.InsertMessage(m); err != nil {
				return err
			}
			if _, err := tx.CreateWebLink(m.ID, fmt.Sprintf("tok%d", i), p0.Add(time.Hour), p0); err != nil {
				return err
			}
		}
		return nil
	}))
	cutoff := p0.Add(time.Minute)
	n, err := s.PurgeContent(ctx, sqlstore.SenderScope{Except: []string{"globex"}}, cutoff, p0, 1)
	require.NoError(t, err)
	require.Equal(t, 1, n, "bounded by the limit")
	n, err = s.PurgeContent(ctx, sqlstore.SenderScope{Except: []string{"globex"}}, cutoff, p0, 10)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	n, err = s.PurgeContent(ctx, sqlstore.SenderScope{Except: []string{"globex"}}, cutoff, p0, 10)
	require.NoError(t, err)
	require.Zero(t, n)
	for i, purged := range []bool{true, true, false, false, false} {
		m, err := s.Message(ctx, unify.MessageID(fmt.Sprintf("msg_%d", i)))
		require.NoError(t, err)
		require.Equal(t, purged, m.ContentPurged, i)
		require.Equal(t, !purged, m.Content.Text == "hi", i)
		_, found, err := s.WebLink(ctx, fmt.Sprintf("tok%d", i), p0)
		require.NoError(t, err)
		require.Equal(t, !purged, found, "web link of %d", i)
	}
	n, err = s.PurgeContent(ctx, sqlstore.SenderScope{Only: []string{"globex"}}, cutoff, p0, 10)
	require.NoError(t, err)
	require.Equal(t, 1, n)
}

// The sweeper's queries read the partial index of unpurged rows, not the
// whole table or the status index, however many rows were purged before.
func TestSweepQueriesUseTheirIndex(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "t.db")
	openStore(t, path, nil)
	db := rawDB(t, path)
	for _, tc := range []struct{ q, index string }{
		{`SELECT id FROM messages INDEXED BY messages_unpurged WHERE content IS NOT NULL AND created_at < 1 AND updated_at < 1 AND status IN ('delivered','failed') AND sender NOT IN ('x') ORDER BY created_at LIMIT 5`, "messages_unpurged"},
		{`SELECT id FROM inbound INDEXED BY inbound_unpurged WHERE content IS NOT NULL AND created_at < 1 ORDER BY created_at LIMIT 5`, "inbound_unpurged"},
		{`SELECT seq FROM events WHERE type <> 'message.status' AND created_at < 1 AND delivered_at IS NOT NULL ORDER BY created_at LIMIT 5`, "events_personal"},
		{`SELECT id FROM inbound WHERE created_at < 1 ORDER BY created_at LIMIT 5`, "inbound_created"},
		{`SELECT id FROM messages INDEXED BY messages_page WHERE created_at < 1 AND status IN ('delivered','failed') ORDER BY created_at LIMIT 5`, "messages_page"},
		// Not a sweep either: a start-up finds the sends a crash cut short
		// (RequeueUnsent) among the few messages the status index holds.
		{`SELECT id FROM messages WHERE status = 'accepted' AND (status = 'accepted' OR status = 'sending' OR status = 'switching' OR status = 'failed')`, "messages_page_status"},
		// Not a sweep, but as hot: every reply finds its conversation so
		// (Tx.Conversation), newest first, without sorting.
		{`SELECT id, conversation_id, created_at FROM messages INDEXED BY messages_page_to
			WHERE to_number = '+33612345678' AND sender = 'acme' AND status IN ('sent','delivered','read') ORDER BY created_at DESC, id DESC LIMIT 1`, "messages_page_to"},
	} {
		rows, err := db.Query(`EXPLAIN QUERY PLAN ` + tc.q)
		require.NoError(t, err)
		var plan strings.Builder
		for rows.Next() {
			var id, parent, notused int
			var detail string
			require.NoError(t, rows.Scan(&id, &parent, &notused, &detail))
			plan.WriteString(detail + "\n")
		}
		require.NoError(t, rows.Close())
		require.Contains(t, plan.String(), "INDEX "+tc.index, tc.q)
		require.NotContains(t, plan.String(), "TEMP B-TREE", tc.q)
	}
}

func TestResealRotatesEveryRow(t *testing.T) {
	t.Parallel()
	const a = "+33612345678"
	path := filepath.Join(t.TempDir(), "t.db")
	// Rows from before encryption was on, then rows under the old key.
	plain := openUnclosed(t, path, sqlstore.PlainSealer{})
	seed(t, plain, "+33611111111")
	require.NoError(t, plain.Close())
	old := openUnclosed(t, path, mustSealer(t, key(1)))
	seeded := seed(t, old, a)
	require.NoError(t, old.Close())

	rotated := openUnclosed(t, path, mustSealer(t, key(2), key(1)))
	ctx := context.Background()
	before, err := rotated.Unsealed(ctx)
	require.NoError(t, err)
	require.Equal(t, map[string]int{"messages": 4, "inbound": 2, "events": 8, "mo_fragments": 2}, before)

	var batches int
	counts, err := rotated.Reseal(ctx, 3, func(string, int) { batches++ })
	require.NoError(t, err)
	require.Equal(t, before, counts)
	require.Greater(t, batches, 4, "small batches")
	after, err := rotated.Unsealed(ctx)
	require.NoError(t, err)
	require.Equal(t, map[string]int{"messages": 0, "inbound": 0, "events": 0, "mo_fragments": 0}, after)
	require.NoError(t, rotated.Close())

	// Only the new key is needed from now on, and everything reads back.
	fresh := openStore(t, path, mustSealer(t, key(2)))
	for _, m := range seeded.msgs {
		got, err := fresh.Message(ctx, m.ID)
		require.NoError(t, err)
		require.Equal(t, m.Content, got.Content)
	}
	evs, err := fresh.MessageEvents(ctx, seeded.msgs[0].ID)
	require.NoError(t, err)
	require.Len(t, evs, 2)
	require.JSONEq(t, `{"text":"reply from `+a+`"}`, string(evs[1].Body))
	all := dump(t, rawDB(t, path))
	require.NotContains(t, all, "secret text")
	require.NotContains(t, all, "reply from")
	require.NotContains(t, all, "half of a reply")
}

// Every privacy query runs on both engines; the file-level checks above are
// SQLite's, these are what PostgreSQL must agree with.
func TestPrivacyOnEveryEngine(t *testing.T) {
	t.Parallel()
	for _, e := range []struct {
		name string
		dsn  func(tb testing.TB) string
	}{
		{"sqlite", func(tb testing.TB) string { return "sqlite:" + filepath.Join(tb.TempDir(), "gw.db") }},
		{"postgres", freshSchema},
	} {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dsn := e.dsn(t)
			open := func(sealer sqlstore.Sealer) *sqlstore.Store {
				s, err := sqlstore.Open(ctx, dsn, sqlstore.Options{Sealer: sealer})
				require.NoError(t, err)
				require.NoError(t, s.Migrate(ctx))
				return s
			}
			const a, b = "+33612345678", "+33698765432"
			plain := open(sqlstore.PlainSealer{})
			seed(t, plain, b)
			require.NoError(t, plain.Close())
			old := open(mustSealer(t, key(1)))
			seed(t, old, a)
			require.NoError(t, old.Close())
			s := open(mustSealer(t, key(2), key(1)))
			defer s.Close()

			unsealed, err := s.Unsealed(ctx)
			require.NoError(t, err)
			require.Equal(t, map[string]int{"messages": 4, "inbound": 2, "events": 8, "mo_fragments": 2}, unsealed)
			counts, err := s.Reseal(ctx, 3, nil)
			require.NoError(t, err)
			require.Equal(t, unsealed, counts)
			unsealed, err = s.Unsealed(ctx)
			require.NoError(t, err)
			require.Equal(t, map[string]int{"messages": 0, "inbound": 0, "events": 0, "mo_fragments": 0}, unsealed)

			var c sqlstore.ErasureCounts
			for more := true; more; {
				require.NoError(t, s.InTx(ctx, func(tx *sqlstore.Tx) error {
					var n sqlstore.ErasureCounts
					var err error
					n, more, err = tx.EraseSubject(a, "erased:h", p0.Add(time.Hour), 1)
					c.Add(n)
					return err
				}))
			}
			require.Equal(t, sqlstore.ErasureCounts{Messages: 2, Cancelled: 1, Inbound: 1, Conversations: 1, Consents: 1, WebLinks: 1,
				Fragments: 1, Idempotency: 1, Events: 4}, c)
			m, err := s.Message(ctx, unify.MessageID("msg_"+tag(a)+"_0"))
			require.NoError(t, err)
			require.Equal(t, "erased:h", m.To)
			require.True(t, m.ContentPurged)
			require.NoError(t, s.Checkpoint(ctx))

			later := p0.Add(24 * time.Hour)
			n, err := s.PurgeContent(ctx, sqlstore.SenderScope{Except: []string{"other"}}, later, later, 10)
			require.NoError(t, err)
			require.Equal(t, 1, n, "b's delivered message; the one sending stays")
			n, err = s.PurgeInboundContent(ctx, sqlstore.SenderScope{Only: []string{"acme"}}, later, later, 10)
			require.NoError(t, err)
			require.Equal(t, 1, n)
			require.NoError(t, s.EventDelivered(ctx, "evt_c_"+tag(b), p0))
			n, err = s.DeletePersonalEvents(ctx, later, 10)
			require.NoError(t, err)
			require.Equal(t, 1, n, "delivered only")
			n, err = s.DeleteMessages(ctx, sqlstore.SenderScope{}, later, 10)
			require.NoError(t, err)
			require.Equal(t, 3, n, "every final message; the one still sending stays")
			n, err = s.DeleteInbound(ctx, sqlstore.SenderScope{}, later, 10)
			require.NoError(t, err)
			require.Equal(t, 2, n)
			require.NoError(t, s.InTx(ctx, func(tx *sqlstore.Tx) error {
				return tx.AddOrphanReceipt(unify.Receipt{Carrier: "sim", Ref: unify.ExternalRef{Raw: "1"}, Status: unify.StatusDelivered, At: p0})
			}))
			n, err = s.DeleteOrphanReceipts(ctx, later, 10)
			require.NoError(t, err)
			require.Equal(t, 1, n)
			var cur sqlstore.KeyCursor
			total := 0
			for range 3 {
				var n int
				cur, n, err = s.SweepWalk(ctx, sqlstore.WalkIdempotency, cur, func(string) time.Time { return later }, 1)
				require.NoError(t, err)
				total += n
			}
			require.Equal(t, 1, total)
		})
	}
}
