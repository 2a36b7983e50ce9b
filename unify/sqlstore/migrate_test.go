package sqlstore

// White-box: the test migrates part way, writes rows as the older schema
// had them, then runs the rest.

import (
	"context"
	"testing"

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
