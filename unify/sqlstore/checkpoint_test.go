package sqlstore

import (
	"context"
	"os"
	"testing"
	"time"

	"gateway/unify"
)

// The writer checkpoints only every writerCheckpointPages pages; before
// that, the background checkpointer copies the WAL into the database file.
func TestCheckpointerCopiesTheWAL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, path := openSQLite(t)
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var auto int
	if err := s.w.GetContext(ctx, &auto, `PRAGMA wal_autocheckpoint`); err != nil || auto != writerCheckpointPages {
		t.Fatalf("writer's wal_autocheckpoint = %d (%v), want %d", auto, err, writerCheckpointPages)
	}
	waitForCopy := func(what string, longer func(int64) bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !longer(fileSize(t, path)) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: the database file stayed at %d bytes", what, fileSize(t, path))
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	before := fileSize(t, path)
	now := time.Now()
	for range 200 {
		m := &unify.Message{ID: unify.NewMessageID(), To: "+33612345678", From: "acme", Policy: "default",
			Content: unify.Content{Text: "checkpoint me"}, Status: unify.StatusAccepted, CreatedAt: now, UpdatedAt: now}
		if err := s.InTx(ctx, func(tx *Tx) error { return tx.InsertMessage(m) }); err != nil {
			t.Fatal(err)
		}
	}
	waitForCopy("200 messages", func(size int64) bool { return size > before })
	var n int
	if err := s.r.GetContext(ctx, &n, `SELECT count(*) FROM messages`); err != nil || n != 200 {
		t.Fatalf("count = %d (%v), want 200", n, err)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
