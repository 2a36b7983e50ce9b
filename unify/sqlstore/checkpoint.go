package sqlstore

import (
	"context"
	"sync"
	"sync/atomic"
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
// A PASSIVE checkpoint beside an appending writer never finds every frame
// copied, so the WAL would never start over (a million accepts once left a
// 14 GB WAL), and a RESTART checkpoint from this connection would wait for
// a writer that holds its lock nearly all the time. So once the WAL holds
// restartPages frames, the writer runs the RESTART itself, between two
// batches: it copies the few frames left and makes the next transaction
// start the WAL over. make bench, side by side: 3,850–3,990 delivered/s
// with SQLite's own checkpoints, 4,050–4,270 with these (a slow hour).
const (
	// The WAL grows by a few hundred frames between the checkpoint that
	// finds it full and the writer's restart: at 1,000 it stays near 10 MB
	// under constant writes (TestWALStaysBoundedUnderConstantWrites).
	restartPages = 1000
	// The writer's own automatic checkpoint stays, at twice that: for a WAL
	// that grows faster than the checkpointer looks (small transactions one
	// after the other: 10–13 MB in that test, 16 MB at 4×), or a stuck
	// checkpointer.
	writerCheckpointPages = 2 * restartPages
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
	// full: the WAL held restartPages frames at the last checkpoint.
	full atomic.Bool
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
		c.checkpoint()
		pause.Reset(checkpointPause)
		select {
		case <-c.stop:
			return
		case <-pause.C:
		}
	}
}

// checkpoint copies what it can; a failed checkpoint loses nothing (the
// frames stay in the WAL for the next one), so it is not reported.
func (c *checkpointer) checkpoint() {
	ctx := context.Background()
	var busy, frames, copied int
	if err := c.db.QueryRowxContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied); err != nil {
		return
	}
	if frames >= restartPages {
		c.full.Store(true)
	}
}

// restartIfFull is called by the writer between transactions: when the WAL
// is full, it checkpoints what is left and has the WAL start over.
func (c *checkpointer) restartIfFull(w *sqlx.DB) {
	if !c.full.CompareAndSwap(true, false) {
		return
	}
	_, _ = w.ExecContext(context.Background(), `PRAGMA wal_checkpoint(RESTART)`)
}

func (c *checkpointer) close() error {
	close(c.stop)
	c.wg.Wait()
	return c.db.Close()
}
