package sqlstore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"gateway/unify"
)

// The SQLite writer's statements run on the driver directly (rawexec.go):
// inside the transaction, with database/sql's conversions, results and
// errors, and back to database/sql for what the raw path does not take.
func TestWritesGoToTheDriverInsideTheTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openSQLite(t)
	require.NoError(t, s.Migrate(ctx))
	const insert = `INSERT INTO policies (name, body, updated_at) VALUES (?, ?, ?)`
	count := func(q string, args ...any) int {
		t.Helper()
		var n int
		require.NoError(t, s.r.GetContext(ctx, &n, q, args...))
		return n
	}

	type policyName string // a named string type, as statuses and ids are
	var raw *rawConn
	require.NoError(t, s.InTx(ctx, func(tx *Tx) error {
		raw = tx.raw
		res, err := tx.exec(insert, policyName("p1"), "{}", 7)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return errors.New("one row should be inserted")
		}
		return nil
	}))
	require.NotNil(t, raw, "the writer's transactions hold its connection")
	require.Contains(t, raw.stmts, insert, "prepared once, kept")
	require.Equal(t, 1, count(`SELECT COUNT(*) FROM policies WHERE name = 'p1' AND updated_at = 7`))

	// A unit that fails takes its raw writes with it.
	err := s.InTx(ctx, func(tx *Tx) error {
		if _, err := tx.exec(insert, "p2", "{}", 1); err != nil {
			return err
		}
		return errors.New("changed its mind")
	})
	require.Error(t, err)
	require.Zero(t, count(`SELECT COUNT(*) FROM policies WHERE name = 'p2'`))

	// The driver's errors come back as they were, and the statement
	// serves again after one.
	require.NoError(t, s.InTx(ctx, func(tx *Tx) error {
		if _, err := tx.exec(insert, "p1", "{}", 1); err == nil {
			return errors.New("a second p1 should break the primary key")
		}
		_, err := tx.exec(insert, "p3", "{}", 1)
		return err
	}))
	require.Equal(t, 1, count(`SELECT COUNT(*) FROM policies WHERE name = 'p3'`))

	// Several statements in one string go through database/sql, which runs
	// them all (the driver's prepared statement would run the first only).
	const both = `UPDATE policies SET body = 'a' WHERE name = 'p1'; UPDATE policies SET body = 'b' WHERE name = 'p3'`
	require.NoError(t, s.InTx(ctx, func(tx *Tx) error {
		_, err := tx.exec(both)
		return err
	}))
	require.NotContains(t, raw.stmts, both)
	require.Equal(t, 2, count(`SELECT COUNT(*) FROM policies WHERE body IN ('a', 'b')`))

	// Generated ids come back too (the outbox keeps events by them).
	var seqs []int64
	require.NoError(t, s.InTx(ctx, func(tx *Tx) error {
		seqs = seqs[:0]
		for _, id := range []string{"evt_1", "evt_2"} {
			seq, err := tx.AddEventSeq(unify.OutboxEvent{ID: id, Key: "k", Type: unify.EventStatus, Body: []byte(`{}`)}, "")
			if err != nil {
				return err
			}
			seqs = append(seqs, seq)
		}
		return nil
	}))
	require.Equal(t, []int64{1, 2}, seqs)
}

// The writer's prepared statements must not keep its connection open past
// Close: the last connection to close checkpoints the WAL and deletes it,
// and a WAL left behind keeps the old versions of rows an erasure removed.
func TestCloseLeavesNoWAL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gw.db")
	s, err := Open(ctx, "sqlite:"+path, Options{}) // closed here, not by a cleanup
	require.NoError(t, err)
	require.NoError(t, s.Migrate(ctx))
	require.NoError(t, s.InTx(ctx, func(tx *Tx) error {
		_, err := tx.exec(`INSERT INTO policies (name, body, updated_at) VALUES (?, ?, ?)`, "p1", "{}", 1)
		return err
	}))
	require.NotEmpty(t, s.writer.conn.Load().stmts)
	require.NoError(t, s.Close())
	_, err = os.Stat(path + "-wal")
	require.ErrorIs(t, err, os.ErrNotExist, "the WAL outlived the store")
}
