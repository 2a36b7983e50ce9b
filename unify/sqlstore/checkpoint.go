package sqlstore

import (
	"context"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
)

// WAL checkpoints on SQLite. The automatic checkpoint runs inside the commit
// that crosses its threshold, on the one writer, which everything else
// waits on: copying pages back into the database file and two fsyncs took
// about 3 ms every 500 pages, a fifth of the writer's time under make bench.
// So a goroutine of its own copies the WAL as it grows, on a connection of
// its own, in PASSIVE mode, which never blocks the writer.
//
// That alone never lets the WAL start over under constant writes (a
// checkpoint beside an appending writer never finds every frame copied: a
// million accepts once left a 14 GB WAL), so the writer still checkpoints
// at writerCheckpointPages. By then the checkpointer has copied and synced
// nearly every frame, the writer's checkpoint is short, and the WAL starts
// over after it. make bench, side by side: 4,300–4,650 delivered/s without
// the checkpointer, 4,800–5,000 with it.
const (
	writerCheckpointPages = 2000
	// checkpointPause spaces the background checkpoints, each of which has
	// a fixed cost (locks, fsyncs): at most one per pause, after a commit.
	// 5 ms cost more CPU than it saved; 50 ms left more for the writer.
	checkpointPause = 20 * time.Millisecond
)

type checkpointer struct {
	db   *sqlx.DB
	kick chan struct{}
	stop chan struct{}
	wg   sync.WaitGroup
}

func startCheckpointer(db *sqlx.DB) *checkpointer {
	c := &checkpointer{db: db, kick: make(chan struct{}, 1), stop: make(chan struct{})}
	c.wg.Add(1)
	go c.loop()
	return c
}

// committed tells the checkpointer the WAL grew.
func (c *checkpointer) committed() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *checkpointer) loop() {
	defer c.wg.Done()
	pause := time.NewTimer(0)
	defer pause.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-c.kick:
		}
		// A failed checkpoint loses nothing (the frames stay in the WAL
		// and the writer's own checkpoint copies them): not reported.
		_, _ = c.db.ExecContext(context.Background(), `PRAGMA wal_checkpoint(PASSIVE)`)
		pause.Reset(checkpointPause)
		select {
		case <-c.stop:
			return
		case <-pause.C:
		}
	}
}

func (c *checkpointer) close() error {
	close(c.stop)
	c.wg.Wait()
	return c.db.Close()
}
