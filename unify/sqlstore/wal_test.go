package sqlstore_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gateway/unify"
	"gateway/unify/sqlstore"
)

// Writes that never pause must not grow SQLite's WAL without end: it has to
// be checkpointed and start over. (A checkpointer that ran beside the writer
// in PASSIVE mode never caught up with constant writes: a million accepts
// left a 14 GB WAL.)
func TestWALStaysBoundedUnderConstantWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gw.db")
	s, err := sqlstore.Open(ctx, "sqlite:"+path, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	body := strings.Repeat("x", 2000)
	var largest int64
	n := 0
	for stop := time.Now().Add(time.Second); time.Now().Before(stop); n++ {
		now := time.Now()
		m := &unify.Message{ID: unify.NewMessageID(), To: "+33612345678", From: "acme", Policy: "default",
			Content: unify.Content{Text: body}, Status: unify.StatusAccepted, CreatedAt: now, UpdatedAt: now}
		if err := s.InTx(ctx, func(tx *sqlstore.Tx) error { return tx.InsertMessage(m) }); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(path + "-wal"); err == nil {
			largest = max(largest, fi.Size())
		}
	}
	t.Logf("%d messages (%d MB of content), largest WAL %d MB", n, n*len(body)>>20, largest>>20)
	if limit := int64(16 << 20); largest > limit {
		t.Fatalf("the WAL reached %d bytes (limit %d): it is not starting over", largest, limit)
	}
}
