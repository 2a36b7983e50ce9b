package privacy_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"gateway/unify"
	"gateway/unify/privacy"
	"gateway/unify/seal"
	"gateway/unify/sqlstore"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

type bundle struct {
	store *sqlstore.Store
	path  string
}

func setup(tb testing.TB) *bundle {
	tb.Helper()
	ctx := context.Background()
	path := filepath.Join(tb.TempDir(), "gw.db")
	sealer, err := seal.New(bytes.Repeat([]byte{7}, 32))
	require.NoError(tb, err)
	s, err := sqlstore.Open(ctx, "sqlite:"+path, sqlstore.Options{Sealer: sealer})
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = s.Close() })
	require.NoError(tb, s.Migrate(ctx))
	return &bundle{store: s, path: path}
}

// message stores a message to number from sender, in status st since at.
func (b *bundle) message(tb testing.TB, id, sender, number string, st unify.Status, at time.Time) {
	tb.Helper()
	require.NoError(tb, b.store.InTx(context.Background(), func(tx *sqlstore.Tx) error {
		m := &unify.Message{ID: unify.MessageID(id), To: number, From: sender, Policy: "default",
			Content: unify.Content{Text: "body of " + id}, Status: st, CreatedAt: at, UpdatedAt: at}
		return tx.InsertMessage(m)
	}))
}

func (b *bundle) inbound(tb testing.TB, id, sender, number string, at time.Time) {
	tb.Helper()
	require.NoError(tb, b.store.InTx(context.Background(), func(tx *sqlstore.Tx) error {
		in := unify.Inbound{Channel: unify.ChannelSMS, Carrier: "sim", From: number, To: "ACME", Text: "text of " + id, At: at}
		if _, err := tx.InsertInbound(sqlstore.InboundRecord{ID: id, Inbound: in, Sender: sender}); err != nil {
			return err
		}
		return tx.AddEvent(unify.OutboxEvent{ID: "evt_" + id, Key: "in:" + sender + ":" + number, Type: unify.EventInbound,
			Body: []byte(`{"text":"text of ` + id + `"}`), CreatedAt: at}, "")
	}))
}

func (b *bundle) db(tb testing.TB) *sql.DB {
	tb.Helper()
	db, err := sql.Open("sqlite3", "file:"+b.path+"?mode=ro")
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = db.Close() })
	return db
}

func (b *bundle) count(tb testing.TB, q string, args ...any) int {
	tb.Helper()
	var n int
	require.NoError(tb, b.db(tb).QueryRow(q, args...).Scan(&n))
	return n
}

func (b *bundle) purged(tb testing.TB, id string) bool {
	tb.Helper()
	m, err := b.store.Message(context.Background(), unify.MessageID(id))
	require.NoError(tb, err)
	require.Equal(tb, m.ContentPurged, m.Content.Text == "", "content and flag agree")
	return m.ContentPurged
}

func (b *bundle) exists(tb testing.TB, id string) bool {
	tb.Helper()
	_, err := b.store.Message(context.Background(), unify.MessageID(id))
	if unify.CodeOf(err) == unify.CodeNotFound {
		return false
	}
	require.NoError(tb, err)
	return true
}

func TestSweeperRetention(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const day = 24 * time.Hour
	now := t0.Add(100 * day)
	// Default: content 7 days after the final status, metadata 90 days.
	// "otp" keeps nothing; "archive" keeps content 30 days, metadata for ever.
	for _, m := range []struct {
		id, sender string
		st         unify.Status
		age        time.Duration
	}{
		{"fresh", "acme", unify.StatusDelivered, day},
		{"week", "acme", unify.StatusDelivered, 8 * day},
		{"stuck", "acme", unify.StatusSending, 8 * day},
		{"old", "acme", unify.StatusFailed, 91 * day},
		{"otp", "otp", unify.StatusDelivered, time.Second},
		{"otp-sending", "otp", unify.StatusSent, time.Second},
		{"archive", "archive", unify.StatusDelivered, 8 * day},
		{"archive-old", "archive", unify.StatusDelivered, 95 * day},
	} {
		b.message(t, m.id, m.sender, "+336123456"+fmt.Sprint(10+len(m.id)), m.st, now.Add(-m.age))
	}
	b.inbound(t, "in-fresh", "acme", "+33612345601", now.Add(-day))
	b.inbound(t, "in-week", "acme", "+33612345602", now.Add(-8*day))
	b.inbound(t, "in-otp", "otp", "+33612345603", now.Add(-time.Second))
	b.inbound(t, "in-old", "acme", "+33612345604", now.Add(-91*day))
	ctx := context.Background()
	// Events are delivered before they may go; one is still pending.
	for _, id := range []string{"evt_in-fresh", "evt_in-week", "evt_in-otp"} {
		require.NoError(t, b.store.EventDelivered(ctx, id, now))
	}

	sw := privacy.NewSweeper(privacy.SweeperConfig{
		Store:   b.store,
		Default: privacy.Retention{Content: 7 * day, Metadata: 90 * day},
		Senders: map[string]privacy.Retention{"otp": {Content: 0, Metadata: 90 * day}, "archive": {Content: 30 * day}},
		NowFunc: func() time.Time { return now },
	})
	require.Equal(t, time.Second, sw.Interval(), "0s retention sweeps every second")
	r, err := sw.Sweep(ctx)
	require.NoError(t, err)
	// Content: week, otp and archive-old (past archive's 30 days); replies:
	// in-week and in-otp. The delivered reply events all go: "otp" keeps
	// nothing, and events are a delivery queue, not the record.
	require.Equal(t, privacy.Report{ContentPurged: 3, InboundPurged: 2, EventsDeleted: 3, Messages: 1, Inbound: 1}, r)

	for id, want := range map[string]bool{"fresh": false, "week": true, "stuck": false, "otp": true, "otp-sending": false, "archive": false, "archive-old": true} {
		require.Equal(t, want, b.purged(t, id), id)
	}
	require.False(t, b.exists(t, "old"), "metadata past 90 days is deleted")
	require.True(t, b.exists(t, "archive-old"), "archive keeps metadata for ever")
	require.Equal(t, 2, b.count(t, `SELECT COUNT(*) FROM inbound WHERE content IS NULL AND content_purged_at > 0`))
	require.Equal(t, 0, b.count(t, `SELECT COUNT(*) FROM inbound WHERE id = 'in-old'`))
	require.Equal(t, 0, b.count(t, `SELECT COUNT(*) FROM events WHERE delivered_at IS NOT NULL`), "delivered, past the shortest retention")
	require.Equal(t, 1, b.count(t, `SELECT COUNT(*) FROM events WHERE id = 'evt_in-old'`), "never delivered: kept")

	again, err := sw.Sweep(ctx)
	require.NoError(t, err)
	require.Equal(t, privacy.Report{}, again)
}

// A backlog is worked off a bounded number of rows per tick.
func TestSweeperBoundsEachTick(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for i := range 25 {
		b.message(t, fmt.Sprintf("m%02d", i), "acme", "+33612345678", unify.StatusDelivered, t0)
	}
	sw := privacy.NewSweeper(privacy.SweeperConfig{Store: b.store, Batch: 4, MaxPerTick: 10, Pause: time.Microsecond,
		NowFunc: func() time.Time { return t0.Add(time.Hour) }})
	var got []int
	for range 4 {
		r, err := sw.Sweep(context.Background())
		require.NoError(t, err)
		got = append(got, r.ContentPurged)
	}
	require.Equal(t, []int{10, 10, 5, 0}, got)
}

func TestSweeperRun(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.message(t, "m", "acme", "+33612345678", unify.StatusDelivered, time.Now().Add(-time.Minute))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	sw := privacy.NewSweeper(privacy.SweeperConfig{Store: b.store, Interval: 10 * time.Millisecond})
	go func() { done <- sw.Run(ctx) }()
	require.Eventually(t, func() bool { return b.purged(t, "m") }, 5*time.Second, 10*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
}

func TestPseudonyms(t *testing.T) {
	t.Parallel()
	p1, err := privacy.NewPseudonyms(bytes.Repeat([]byte{1}, 32))
	require.NoError(t, err)
	p1again, err := privacy.NewPseudonyms(bytes.Repeat([]byte{1}, 32))
	require.NoError(t, err)
	p2, err := privacy.NewPseudonyms(bytes.Repeat([]byte{2}, 32))
	require.NoError(t, err)
	random, err := privacy.NewPseudonyms(nil)
	require.NoError(t, err)
	const n = "+33612345678"
	require.Len(t, p1.Hash(n), 32)
	require.Equal(t, p1.Hash(n), p1again.Hash(n), "stable under one key")
	require.NotEqual(t, p1.Hash(n), p2.Hash(n), "keyed")
	require.NotEqual(t, p1.Hash(n), p1.Hash("+33612345679"))
	require.NotEqual(t, p1.Hash(n), random.Hash(n))
	require.Equal(t, privacy.PseudonymPrefix+p1.Hash(n), p1.Pseudonym(n))
	require.NotContains(t, p1.Pseudonym(n), "612345678")
}

func TestEraser(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const number, other = "+33612345678", "+33698765432"
	b.message(t, "m1", "acme", number, unify.StatusDelivered, t0)
	b.message(t, "m2", "acme", number, unify.StatusSending, t0)
	b.message(t, "m3", "acme", other, unify.StatusDelivered, t0)
	// Two messages of one conversation, erased a batch apart: it ends once.
	b.message(t, "m4", "acme", number, unify.StatusSent, t0.Add(time.Second))
	b.inbound(t, "i1", "acme", number, t0)
	ctx := context.Background()
	require.NoError(t, b.store.InTx(ctx, func(tx *sqlstore.Tx) error {
		_, err := tx.SetConsent("acme", number, sqlstore.Consent{OptedOut: true, Channel: unify.ChannelSMS, Keyword: "STOP", UpdatedAt: t0})
		return err
	}))
	pseudo, err := privacy.NewPseudonyms(bytes.Repeat([]byte{7}, 32))
	require.NoError(t, err)
	var (
		mu     sync.Mutex
		forgot []string
		wakes  int
	)
	e := privacy.NewEraser(privacy.EraserConfig{
		Store: b.store, Pseudonyms: pseudo, Batch: 1,
		Forget:   func(p string) { mu.Lock(); forgot = append(forgot, p); mu.Unlock() },
		OnEvents: func() { wakes++ },
		NowFunc:  func() time.Time { return t0.Add(time.Hour) },
	})

	er, err := e.Erase(ctx, number)
	require.NoError(t, err)
	require.Equal(t, pseudo.Hash(number), er.NumberHash)
	require.Equal(t, sqlstore.ErasureCounts{Messages: 3, Cancelled: 2, Inbound: 1, Conversations: 1, Consents: 1, Events: 1}, er.Counts)
	require.NotEmpty(t, er.EventID)
	require.Equal(t, []string{number}, forgot)
	require.Equal(t, 1, wakes)

	evs, err := b.store.ClaimEvents(ctx, "test", t0.Add(2*time.Hour), t0.Add(3*time.Hour), 10)
	require.NoError(t, err)
	var erased []privacy.ErasedEvent
	for _, ev := range evs {
		if ev.Type == unify.EventSubjectErased {
			var body privacy.ErasedEvent
			require.NoError(t, json.Unmarshal(ev.Body, &body))
			erased = append(erased, body)
		}
	}
	require.Equal(t, []privacy.ErasedEvent{{Type: "subject.erased", ID: er.EventID, Number: number, NumberHash: er.NumberHash,
		Counts: er.Counts, At: t0.Add(time.Hour)}}, erased)
	for _, q := range []string{
		`SELECT COUNT(*) FROM messages WHERE to_number = ?`,
		`SELECT COUNT(*) FROM inbound WHERE from_number = ?`,
		`SELECT COUNT(*) FROM consents WHERE number = ?`,
		`SELECT COUNT(*) FROM events WHERE key LIKE '%' || ?`,
	} {
		require.Zero(t, b.count(t, q, number), q)
	}
	require.Equal(t, 3, b.count(t, `SELECT COUNT(*) FROM messages WHERE to_number = ?`, pseudo.Pseudonym(number)), "kept for accounting")
	require.True(t, b.purged(t, "m1"))
	require.False(t, b.purged(t, "m3"), "another number is untouched")

	// A second call changes nothing and queues no event; the cache is
	// asked to forget again, which costs nothing.
	again, err := e.Erase(ctx, number)
	require.NoError(t, err)
	require.False(t, again.Counts.Any())
	require.Empty(t, again.EventID)
	require.Equal(t, 1, wakes)
	require.Len(t, forgot, 2)
	require.Equal(t, 1, b.count(t, `SELECT COUNT(*) FROM events WHERE type = 'subject.erased'`))
	raw := b.count(t, `SELECT COUNT(*) FROM events WHERE type = 'subject.erased' AND body LIKE '%' || ? || '%'`, strings.TrimPrefix(number, "+"))
	require.Zero(t, raw, "the event's body is sealed at rest")

	hash, counts, err := e.EraseSubject(ctx, other)
	require.NoError(t, err)
	require.Equal(t, pseudo.Hash(other), hash)
	require.Equal(t, 1, counts["messages"])
	require.Contains(t, counts, "idempotency_keys")

	_, err = e.Erase(ctx, "0612345678")
	require.Equal(t, unify.CodeInvalid, unify.CodeOf(err))
}
