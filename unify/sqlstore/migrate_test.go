package sqlstore

// White-box: the test migrates part way, writes rows as the older schema
// had them, then runs the rest.

import (
	"context"
	"io/fs"
	"testing"

	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/require"

	"gateway/unify"
)

// Migration 00008 puts each part's message id on the part: parts stored
// before it must be found by their receipts afterwards.
func TestPartsLearnTheirMessage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openSQLite(t)
	require.NoError(t, s.migrateTo(ctx, 7))
	for _, q := range []string{
		`INSERT INTO messages (id, to_number, sender, policy, status, created_at, updated_at) VALUES ('msg_old', '+33612345678', 'acme', 'default', 'sent', 1, 1)`,
		`INSERT INTO attempts (id, message_id, step, channel, carrier, status, segments, created_at, updated_at) VALUES ('att_old', 'msg_old', 0, 'sms', 'sim', 'sent', 1, 1, 1)`,
		`INSERT INTO parts (attempt_id, seq, carrier, ext_id, ext_raw, status) VALUES ('att_old', 1, 'sim', 'abc', 'abc', 'sent')`,
	} {
		_, err := s.w.ExecContext(ctx, q)
		require.NoError(t, err, q)
	}
	require.NoError(t, s.Migrate(ctx))
	var m PartMatch
	var found bool
	require.NoError(t, s.InTx(ctx, func(tx *Tx) error {
		var err error
		m, found, err = tx.FindPart("sim", unify.ExternalRef{ID: "abc", Raw: "abc"})
		return err
	}))
	require.True(t, found)
	require.Equal(t, PartMatch{AttemptID: "att_old", MessageID: "msg_old", Seq: 1}, m)
}

// Migration 00010 reads conversations from the messages; going back down
// rebuilds the table from them, each (sender, number) on its newest message
// that reached the carrier.
func TestConversationsTableRebuiltOnDown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openSQLite(t)
	require.NoError(t, s.Migrate(ctx))
	for _, q := range []string{
		`INSERT INTO messages (id, to_number, sender, policy, conversation_id, status, created_at, updated_at) VALUES ('msg_a', '+33612345678', 'acme', 'default', 'thread-a', 'delivered', 1, 1)`,
		`INSERT INTO messages (id, to_number, sender, policy, conversation_id, status, created_at, updated_at) VALUES ('msg_b', '+33612345678', 'acme', 'default', 'thread-b', 'sent', 2, 2)`,
		`INSERT INTO messages (id, to_number, sender, policy, conversation_id, status, created_at, updated_at) VALUES ('msg_c', '+33612345678', 'acme', 'default', 'thread-c', 'failed', 3, 3)`,
		`INSERT INTO messages (id, to_number, sender, policy, conversation_id, status, created_at, updated_at) VALUES ('msg_d', '+33612345678', 'globex', 'default', 'thread-d', 'read', 1, 1)`,
	} {
		_, err := s.w.ExecContext(ctx, q)
		require.NoError(t, err, q)
	}
	sub, err := fs.Sub(migrations, "migrations/sqlite")
	require.NoError(t, err)
	p, err := goose.NewProvider(goose.DialectSQLite3, s.w.DB, sub)
	require.NoError(t, err)
	_, err = p.DownTo(ctx, 9)
	require.NoError(t, err)
	type conversation struct {
		Sender string `db:"sender"`
		ID     string `db:"message_id"`
		Conv   string `db:"conversation_id"`
	}
	var rows []conversation
	require.NoError(t, s.w.SelectContext(ctx, &rows, `SELECT sender, message_id, conversation_id FROM conversations ORDER BY sender`))
	require.Equal(t, []conversation{{"acme", "msg_b", "thread-b"}, {"globex", "msg_d", "thread-d"}}, rows)
	require.NoError(t, s.Migrate(ctx))
}

// Migration 00013 rebuilds the events table without the unique index on
// the id: every event keeps its seq and state, and a seq once given (even
// to an event deleted since) is not given again.
func TestEventsKeepTheirSeqsThroughTheRebuild(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openSQLite(t)
	require.NoError(t, s.migrateTo(ctx, 12))
	for _, q := range []string{
		`INSERT INTO events (id, key, type, message_id, body, next_at, created_at, delivered_at) VALUES ('evt_1', 'msg_a', 'message.status', 'msg_a', x'7b7d', 1, 1, 5)`,
		`INSERT INTO events (id, key, type, message_id, body, next_at, created_at) VALUES ('evt_2', 'msg_a', 'message.status', 'msg_a', x'7b7d', 1, 1)`,
		`INSERT INTO events (id, key, type, message_id, body, next_at, created_at) VALUES ('evt_3', 'msg_b', 'message.status', 'msg_b', x'7b7d', 1, 1)`,
		`DELETE FROM events WHERE id = 'evt_3'`, // erased: seq 3 stays taken
	} {
		_, err := s.w.ExecContext(ctx, q)
		require.NoError(t, err, q)
	}
	require.NoError(t, s.Migrate(ctx))
	var seq int64
	require.NoError(t, s.InTx(ctx, func(tx *Tx) error {
		var err error
		seq, err = tx.AddEventSeq(unify.OutboxEvent{ID: "evt_4", Key: "msg_c", Type: unify.EventStatus, Body: []byte(`{}`)}, "msg_c")
		return err
	}))
	require.Equal(t, int64(4), seq)
	evs, err := s.MessageEvents(ctx, "msg_a")
	require.NoError(t, err)
	require.Len(t, evs, 2)
	require.Equal(t, []int64{1, 2}, []int64{evs[0].Seq, evs[1].Seq})
	require.False(t, evs[0].DeliveredAt.IsZero())
	require.True(t, evs[1].DeliveredAt.IsZero())
	// The claim's scan still has its index.
	pending, err := s.PendingEvents(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, pending)
	var indexes []string
	require.NoError(t, s.w.SelectContext(ctx, &indexes, `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' ORDER BY name`))
	require.Equal(t, []string{"events_message", "events_pending", "events_personal"}, indexes)
}
