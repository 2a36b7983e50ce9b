package sqlstore

// White-box: the plan test runs EXPLAIN QUERY PLAN on the query the traffic
// list builds, which is not exported.

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"gateway/unify"
)

func openTestStore(tb testing.TB) *Store {
	tb.Helper()
	ctx := context.Background()
	s, err := Open(ctx, "sqlite:"+filepath.Join(tb.TempDir(), "t.db"), Options{})
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = s.Close() })
	require.NoError(tb, s.Migrate(ctx))
	return s
}

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// seedTraffic stores n messages, one per second from t0, with the fields
// cycling so that every filter matches some of them. Messages 10 and 11
// share a creation time, to exercise ties in the keyset.
func seedTraffic(tb testing.TB, s *Store, n int) []*unify.Message {
	tb.Helper()
	statuses := []unify.Status{unify.StatusDelivered, unify.StatusFailed, unify.StatusSent}
	channels := []unify.ChannelKind{unify.ChannelSMS, unify.ChannelRCS, unify.ChannelMMS}
	var out []*unify.Message
	require.NoError(tb, s.InTx(context.Background(), func(t *Tx) error {
		for i := range n {
			at := t0.Add(time.Duration(i) * time.Second)
			if i == 11 {
				at = t0.Add(10 * time.Second)
			}
			m := &unify.Message{
				ID: unify.MessageID(fmt.Sprintf("msg_%04d", i)), To: fmt.Sprintf("+3361234567%d", i%4),
				From: []string{"acme", "globex"}[i%2], Policy: "default",
				Content: unify.Content{Text: "hi"}, Status: statuses[i%3], Channel: channels[i%3],
				CreatedAt: at, UpdatedAt: at,
			}
			if i%5 == 0 {
				m.Channel = unify.ChannelSMS
			}
			if err := t.InsertMessage(m); err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	}))
	return out
}

func TestTrafficFilters(t *testing.T) {
	t.Parallel()
	s := openTestStore(t)
	all := seedTraffic(t, s, 60)
	for _, tc := range []struct {
		name string
		f    TrafficFilter
		keep func(m *unify.Message) bool
	}{
		{"none", TrafficFilter{}, func(*unify.Message) bool { return true }},
		{"number", TrafficFilter{Number: "+33612345671"}, func(m *unify.Message) bool { return m.To == "+33612345671" }},
		{"sender", TrafficFilter{Sender: "globex"}, func(m *unify.Message) bool { return m.From == "globex" }},
		{"status", TrafficFilter{Status: unify.StatusFailed}, func(m *unify.Message) bool { return m.Status == unify.StatusFailed }},
		{"channel", TrafficFilter{Channel: unify.ChannelSMS}, func(m *unify.Message) bool { return m.Channel == unify.ChannelSMS }},
		{"since", TrafficFilter{Since: t0.Add(50 * time.Second)}, func(m *unify.Message) bool { return !m.CreatedAt.Before(t0.Add(50 * time.Second)) }},
		{"until", TrafficFilter{Until: t0.Add(5 * time.Second)}, func(m *unify.Message) bool { return m.CreatedAt.Before(t0.Add(5 * time.Second)) }},
		{"combined", TrafficFilter{Sender: "acme", Channel: unify.ChannelSMS, Since: t0.Add(10 * time.Second), Until: t0.Add(40 * time.Second)},
			func(m *unify.Message) bool {
				return m.From == "acme" && m.Channel == unify.ChannelSMS && !m.CreatedAt.Before(t0.Add(10*time.Second)) && m.CreatedAt.Before(t0.Add(40*time.Second))
			}},
		{"no match", TrafficFilter{Number: "+33700000000"}, func(*unify.Message) bool { return false }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var want []unify.MessageID
			for i := len(all) - 1; i >= 0; i-- { // newest first; ties by id descending
				if tc.keep(all[i]) {
					want = append(want, all[i].ID)
				}
			}
			require.Equal(t, want, collectPages(t, s, tc.f, 7))
		})
	}
}

// collectPages walks the list from the newest page to the oldest through
// the Older cursors, checks that walking back through the Newer cursors
// gives the same pages, and returns the ids in list order.
func collectPages(tb testing.TB, s *Store, f TrafficFilter, limit int) []unify.MessageID {
	tb.Helper()
	ctx := context.Background()
	f.Limit = limit
	var ids []unify.MessageID
	var pages [][]unify.MessageID
	var last TrafficPage
	for cur := (*TrafficCursor)(nil); ; {
		g := f
		g.Before = cur
		p, err := s.TrafficMessages(ctx, g)
		require.NoError(tb, err)
		require.LessOrEqual(tb, len(p.Messages), limit)
		if cur == nil {
			require.Nil(tb, p.Newer, "the first page has nothing newer")
		} else {
			require.NotNil(tb, p.Newer)
		}
		var pg []unify.MessageID
		for _, m := range p.Messages {
			pg = append(pg, m.ID)
		}
		ids = append(ids, pg...)
		pages = append(pages, pg)
		last = p
		if p.Older == nil {
			break
		}
		cur = p.Older
	}
	// And back again.
	for i := len(pages) - 2; i >= 0; i-- {
		g := f
		g.After = last.Newer
		p, err := s.TrafficMessages(ctx, g)
		require.NoError(tb, err)
		var pg []unify.MessageID
		for _, m := range p.Messages {
			pg = append(pg, m.ID)
		}
		require.Equal(tb, pages[i], pg, "page %d walking back", i)
		require.NotNil(tb, p.Older)
		if i == 0 {
			require.Nil(tb, p.Newer)
		}
		last = p
	}
	if len(ids) == 0 {
		return nil
	}
	return ids
}

func TestTrafficPageFields(t *testing.T) {
	t.Parallel()
	s := openTestStore(t)
	seedTraffic(t, s, 3)
	p, err := s.TrafficMessages(context.Background(), TrafficFilter{Limit: 1})
	require.NoError(t, err)
	require.Equal(t, []MessageSummary{{
		ID: "msg_0002", To: "+33612345672", Sender: "acme", Policy: "default", Status: unify.StatusSent,
		Channel: unify.ChannelMMS, CreatedAt: t0.Add(2 * time.Second), UpdatedAt: t0.Add(2 * time.Second),
	}}, p.Messages)
	require.Equal(t, &TrafficCursor{CreatedAt: t0.Add(2 * time.Second), ID: "msg_0002"}, p.Older)

	_, err = s.TrafficMessages(context.Background(), TrafficFilter{Before: p.Older, After: p.Older})
	require.Error(t, err)
}

// TestTrafficPlans checks on 50,000 rows that every filter of the traffic
// list, on its first page and deep into the list, is answered from an index
// walked in order, with no sort: a filter on the number or the status enters
// its index at its key, so its page costs the same at a million rows; one on
// the sender or the channel (few, unindexed) keeps the matching rows of the
// walk.
func TestTrafficPlans(t *testing.T) {
	t.Parallel()
	s := openTestStore(t)
	ctx := context.Background()
	const rows = 50_000
	// Bulk rows straight in SQL: the plan depends on the indexes, not on how
	// the rows came.
	require.NoError(t, s.InTx(ctx, func(tx *Tx) error {
		_, err := tx.exec(`INSERT INTO messages (id, to_number, sender, policy, status, channel, created_at, updated_at)
			WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
			SELECT printf('msg_%08d', i), printf('+336%08d', i % 5000), 'sender' || (i % 20), 'default',
				CASE i % 5 WHEN 0 THEN 'delivered' WHEN 1 THEN 'failed' WHEN 2 THEN 'sent' WHEN 3 THEN 'read' ELSE 'accepted' END,
				CASE i % 3 WHEN 0 THEN 'sms' WHEN 1 THEN 'rcs' ELSE 'mms' END,
				? + i * 1000000, ? + i * 1000000 FROM n`, rows-1, t0.UnixMicro(), t0.UnixMicro())
		return err
	}))
	var n int
	require.NoError(t, s.r.GetContext(ctx, &n, `SELECT COUNT(*) FROM messages`))
	require.Equal(t, rows, n)

	deep := &TrafficCursor{CreatedAt: t0.Add(1000 * time.Second), ID: "msg_00001000"}
	since, until := t0.Add(100*time.Second), t0.Add(40000*time.Second)
	for _, tc := range []struct {
		name  string
		f     TrafficFilter
		index string
	}{
		{"newest", TrafficFilter{}, "messages_page"},
		{"number", TrafficFilter{Number: "+33600000042"}, "messages_page_to"},
		{"sender", TrafficFilter{Sender: "sender3"}, "messages_page"},
		{"status", TrafficFilter{Status: unify.StatusFailed}, "messages_page_status"},
		{"channel", TrafficFilter{Channel: unify.ChannelRCS}, "messages_page"},
		{"time range", TrafficFilter{Since: since, Until: until}, "messages_page"},
		{"deep", TrafficFilter{Before: deep}, "messages_page"},
		{"deep newer", TrafficFilter{After: deep}, "messages_page"},
		{"number deep", TrafficFilter{Number: "+33600000042", Before: deep}, "messages_page_to"},
		{"sender deep", TrafficFilter{Sender: "sender3", Before: deep}, "messages_page"},
		{"status deep", TrafficFilter{Status: unify.StatusFailed, Before: deep}, "messages_page_status"},
		{"channel deep", TrafficFilter{Channel: unify.ChannelRCS, After: deep}, "messages_page"},
		{"usual status", TrafficFilter{Status: unify.StatusDelivered}, "messages_page"},
		{"usual status deep", TrafficFilter{Status: unify.StatusSent, Before: deep}, "messages_page"},
		{"status in range", TrafficFilter{Status: unify.StatusRead, Since: since, Until: until, Before: deep}, "messages_page"},
		{"waiting status in range", TrafficFilter{Status: unify.StatusAccepted, Since: since, Until: until, Before: deep}, "messages_page_status"},
		{"number and status", TrafficFilter{Number: "+33600000042", Status: unify.StatusSent}, "messages_page_to"},
		{"sender and channel", TrafficFilter{Sender: "sender3", Channel: unify.ChannelRCS, Before: deep}, "messages_page"},
		{"number and sender", TrafficFilter{Number: "+33600000042", Sender: "sender2"}, "messages_page_to"},
		{"status and sender", TrafficFilter{Sender: "sender1", Status: unify.StatusFailed}, "messages_page_status"},
		{"status and channel", TrafficFilter{Channel: unify.ChannelRCS, Status: unify.StatusFailed}, "messages_page_status"},
		{"number in range", TrafficFilter{Number: "+33600000042", Since: since, Until: until}, "messages_page_to"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			q, args := trafficQuery(tc.f, 51)
			var plan []struct {
				ID     int    `db:"id"`
				Parent int    `db:"parent"`
				NotUse int    `db:"notused"`
				Detail string `db:"detail"`
			}
			require.NoError(t, s.r.SelectContext(ctx, &plan, `EXPLAIN QUERY PLAN `+q, args...))
			var details []string
			for _, p := range plan {
				details = append(details, p.Detail)
			}
			all := strings.Join(details, " | ")
			require.Len(t, details, 1, all)
			require.Regexp(t, `USING INDEX `+tc.index+`( |$)`, all)
			require.NotContains(t, all, "TEMP B-TREE", "a sort reads every matching row: %s", all)
			// Senders, channels and the usual statuses have no index: their
			// filters are checked on the rows walked, which may start at one
			// end.
			entered := tc.f.Number != "" || slices.Contains(indexedStatuses, tc.f.Status) ||
				!tc.f.Since.IsZero() || tc.f.Before != nil || tc.f.After != nil
			if entered {
				// SEARCH: the index is entered at the filter's key or the
				// cursor, not read from one end.
				require.True(t, strings.HasPrefix(all, "SEARCH messages USING INDEX"), all)
			}

			// And the query answers with the right rows.
			page, err := s.TrafficMessages(ctx, tc.f)
			require.NoError(t, err)
			require.NotEmpty(t, page.Messages)
		})
	}
}

func TestTrafficBuckets(t *testing.T) {
	t.Parallel()
	s := openTestStore(t)
	seedTraffic(t, s, 150) // 12:00:00 to 12:02:29
	got, err := s.TrafficBuckets(context.Background(), t0.Add(time.Minute), t0.Add(2*time.Minute))
	require.NoError(t, err)
	total := 0
	for _, b := range got {
		require.Equal(t, t0.Add(time.Minute), b.Minute)
		total += b.Count
	}
	require.Equal(t, 60, total)
	// Messages 60..119: i%3 gives the status and channel, every fifth is sms.
	want := map[string]int{}
	for i := 60; i < 120; i++ {
		st := []string{"delivered", "failed", "sent"}[i%3]
		ch := []string{"sms", "rcs", "mms"}[i%3]
		if i%5 == 0 {
			ch = "sms"
		}
		want[ch+"/"+st]++
	}
	gotMap := map[string]int{}
	for _, b := range got {
		gotMap[string(b.Channel)+"/"+string(b.Status)] = b.Count
	}
	require.Equal(t, want, gotMap)

	got, err = s.TrafficBuckets(context.Background(), t0.Add(-time.Hour), t0)
	require.NoError(t, err)
	require.Empty(t, got)
}

func TestMessageTimeline(t *testing.T) {
	t.Parallel()
	s := openTestStore(t)
	ctx := context.Background()
	m := &unify.Message{ID: "msg_tl", To: "+33612345678", From: "acme", Policy: "default",
		Content: unify.Content{Text: "Your order shipped"}, Status: unify.StatusSent, Channel: unify.ChannelSMS,
		Carrier: "sim-fr", CreatedAt: t0, UpdatedAt: t0}
	rcs := unify.Attempt{ID: "a-rcs", MessageID: m.ID, Step: 0, Channel: unify.ChannelRCS, Carrier: "sim-fr", Status: unify.StatusExpired,
		Parts: []unify.Part{{Seq: 0, Ref: unify.ExternalRef{ID: "a-rcs", Raw: "a-rcs"}, Status: unify.StatusSent}}}
	sms := unify.Attempt{ID: "a-sms", MessageID: m.ID, Step: 1, Channel: unify.ChannelSMS, Carrier: "sim-fr", Status: unify.StatusSent, Segments: 2,
		Parts: []unify.Part{{Seq: 1, Ref: unify.ExternalRef{ID: "1A", Raw: "1a"}, Status: unify.StatusSent}, {Seq: 2, Ref: unify.ExternalRef{ID: "1B", Raw: "1b"}, Status: unify.StatusSent}}}
	require.NoError(t, s.InTx(ctx, func(tx *Tx) error {
		if err := tx.InsertMessage(m); err != nil {
			return err
		}
		if err := tx.InsertAttempt(&rcs, t0.Add(time.Second)); err != nil {
			return err
		}
		if err := tx.InsertAttempt(&sms, t0.Add(31*time.Second)); err != nil {
			return err
		}
		if err := tx.UpdatePart("a-sms", 2, unify.StatusFailed, "013"); err != nil {
			return err
		}
		if err := tx.AddEvent(unify.OutboxEvent{ID: "evt_1", Key: string(m.ID), Type: unify.EventStatus, Body: []byte(`{"status":"sent"}`), CreatedAt: t0.Add(32 * time.Second)}, m.ID); err != nil {
			return err
		}
		_, err := tx.InsertInbound(InboundRecord{ID: "in_1", MessageID: m.ID, Sender: "acme", Inbound: unify.Inbound{
			Channel: unify.ChannelSMS, Carrier: "sim-fr", From: "+33612345678", To: "ACME", Text: "1", Postback: "track", At: t0.Add(time.Minute)}})
		return err
	}))
	require.NoError(t, s.EventDelivered(ctx, "evt_1", t0.Add(33*time.Second)))

	tl, err := s.MessageTimeline(ctx, m.ID)
	require.NoError(t, err)
	require.Equal(t, "Your order shipped", tl.Message.Content.Text)
	require.Equal(t, []AttemptRecord{
		{ID: "a-rcs", Step: 0, Channel: unify.ChannelRCS, Carrier: "sim-fr", Status: unify.StatusExpired,
			StartedAt: t0.Add(time.Second), UpdatedAt: t0.Add(time.Second),
			Parts: []PartRecord{{Seq: 0, CarrierID: "a-rcs", Status: unify.StatusSent}}},
		{ID: "a-sms", Step: 1, Channel: unify.ChannelSMS, Carrier: "sim-fr", Status: unify.StatusSent, Segments: 2,
			StartedAt: t0.Add(31 * time.Second), UpdatedAt: t0.Add(31 * time.Second),
			Parts: []PartRecord{{Seq: 1, CarrierID: "1A", Status: unify.StatusSent}, {Seq: 2, CarrierID: "1B", Status: unify.StatusFailed, Error: "013"}}},
	}, tl.Attempts)
	require.Len(t, tl.Events, 1)
	require.Equal(t, t0.Add(33*time.Second), tl.Events[0].DeliveredAt)
	require.Equal(t, []InboundReply{{ID: "in_1", Channel: unify.ChannelSMS, Carrier: "sim-fr", From: "+33612345678", Text: "1", Postback: "track", At: t0.Add(time.Minute)}}, tl.Replies)

	_, err = s.MessageTimeline(ctx, "msg_nope")
	require.Equal(t, unify.CodeNotFound, unify.CodeOf(err))
}

func TestUISessions(t *testing.T) {
	t.Parallel()
	s := openTestStore(t)
	ctx := context.Background()
	a := UISession{ID: "aaa", CSRF: "tok-a", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	b := UISession{ID: "bbb", CSRF: "tok-b", CreatedAt: t0, ExpiresAt: t0.Add(2 * time.Hour)}
	require.NoError(t, s.CreateUISession(ctx, a))
	require.NoError(t, s.CreateUISession(ctx, b))
	require.Error(t, s.CreateUISession(ctx, a), "ids are unique")

	got, err := s.UISession(ctx, "aaa")
	require.NoError(t, err)
	require.Equal(t, a, got)

	require.NoError(t, s.DeleteUISession(ctx, "aaa"))
	_, err = s.UISession(ctx, "aaa")
	require.Equal(t, unify.CodeNotFound, unify.CodeOf(err))
	require.NoError(t, s.DeleteUISession(ctx, "aaa"), "deleting twice is fine")

	require.NoError(t, s.DeleteExpiredUISessions(ctx, t0.Add(90*time.Minute)))
	_, err = s.UISession(ctx, "bbb")
	require.NoError(t, err)
	require.NoError(t, s.DeleteExpiredUISessions(ctx, t0.Add(3*time.Hour)))
	_, err = s.UISession(ctx, "bbb")
	require.Equal(t, unify.CodeNotFound, unify.CodeOf(err))
}
