package sqlstore

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gateway/unify"
)

// The writer never checkpoints (wal_autocheckpoint = 0); the checkpointer
// must copy the WAL into the database file in the background, or the WAL
// would grow without end.
func TestCheckpointerCopiesTheWAL(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gw.db")
	s, err := Open(ctx, "sqlite:"+path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var auto int
	if err := s.w.GetContext(ctx, &auto, `PRAGMA wal_autocheckpoint`); err != nil || auto != 0 {
		t.Fatalf("writer's wal_autocheckpoint = %d (%v), want 0", auto, err)
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
	deadline := time.Now().Add(10 * time.Second)
	for fileSize(t, path) <= before {
		if time.Now().After(deadline) {
			t.Fatalf("the database file stayed at %d bytes: nothing was checkpointed", before)
		}
		time.Sleep(20 * time.Millisecond)
	}
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
