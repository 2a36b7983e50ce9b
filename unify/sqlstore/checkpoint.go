package sqlstore

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
)

// SQLite's automatic checkpoint runs inside the commit that crosses its
// threshold: that commit, and every transaction waiting behind it on the one
// writer, stalls while pages are copied into the database file and synced
// (the p99 of an accept at a steady load was mostly that). So the writer
// connection never checkpoints; this goroutine does, on a connection of its
// own, in PASSIVE mode, which copies what it can without blocking writers.
// Should it stop, the WAL only grows: no write is lost or slowed.

const checkpointEvery = 100 * time.Millisecond

type checkpointer struct {
	db   *sqlx.DB
	log  *slog.Logger
	stop chan struct{}
	wg   sync.WaitGroup
}

func startCheckpointer(db *sqlx.DB, log *slog.Logger) *checkpointer {
	c := &checkpointer{db: db, log: log, stop: make(chan struct{})}
	c.wg.Add(1)
	go c.loop()
	return c
}

func (c *checkpointer) loop() {
	defer c.wg.Done()
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := c.db.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`)
		cancel()
		if err != nil && !failing {
			c.log.Warn("sqlstore: WAL checkpoint failed; retrying", "err", err)
		}
		failing = err != nil
	}
}

func (c *checkpointer) close() error {
	close(c.stop)
	c.wg.Wait()
	return c.db.Close()
}
