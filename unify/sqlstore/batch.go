package sqlstore

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"
)

// Group commit. SQLite has one writer and most of a small transaction's cost
// is its commit, so the store runs the work of many concurrent InTx calls in
// one transaction (a failing one makes the others run again alone), one
// commit for all, and every caller learns its own outcome only after that
// commit. Callers see ordinary transactions; throughput sees one
// commit per batch.

// maxBatch bounds how many units of work share a commit, so that one batch
// never holds the write lock for long.
const maxBatch = 256

// A batch of fewer than minShare units lets the goroutines that are about to
// submit run first (up to yieldRounds times): on a busy machine the writer
// otherwise commits one or two units at a time, and a commit costs as much
// as the work of several units. On an idle one it costs a few microseconds.
const (
	minShare    = 8
	yieldRounds = 2
)

// A batch still smaller than minShare that came after the writer had been
// waiting for work (idleGap) waits up to linger for more: below full load,
// units arrive a few hundred microseconds apart and each would otherwise
// be a transaction of its own. Under full load the next unit is always
// queued when a batch ends, and nothing lingers.
const (
	idleGap = 50 * time.Microsecond
	linger  = 500 * time.Microsecond
)

type txRequest struct {
	ctx  context.Context
	fn   func(*Tx) error
	done chan error
}

type batcher struct {
	s     *Store
	queue chan txRequest
	stop  chan struct{}
	wg    sync.WaitGroup
}

func newBatcher(s *Store) *batcher {
	b := &batcher{s: s, queue: make(chan txRequest, 4*maxBatch), stop: make(chan struct{})}
	b.wg.Add(1)
	go b.loop()
	return b
}

func (b *batcher) close() {
	close(b.stop)
	b.wg.Wait()
}

func (b *batcher) submit(ctx context.Context, fn func(*Tx) error) error {
	req := txRequest{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case b.queue <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-b.stop:
		return fmt.Errorf("sqlstore: store closed")
	}
	// Once queued the work may be committed: wait for the outcome even if
	// ctx ends, or a caller could report failure for something stored.
	return <-req.done
}

func (b *batcher) loop() {
	defer b.wg.Done()
	batch := make([]txRequest, 0, maxBatch)
	wait := time.NewTimer(time.Hour)
	wait.Stop()
	var ended time.Time // when the last batch was done
	for {
		select {
		case <-b.stop:
			for {
				select {
				case r := <-b.queue:
					r.done <- fmt.Errorf("sqlstore: store closed")
				default:
					return
				}
			}
		case r := <-b.queue:
			idle := time.Since(ended) > idleGap
			batch = append(batch[:0], r)
			for round := 0; ; round++ {
				b.fill(&batch)
				if len(batch) >= minShare || round == yieldRounds {
					break
				}
				runtime.Gosched()
			}
			if idle && len(batch) < minShare {
				b.linger(&batch, wait)
			}
			b.run(batch)
			if b.s.ckpt != nil {
				b.s.ckpt.restartIfFull(b.s.w)
			}
			ended = time.Now()
		}
	}
}

// linger waits up to linger for the batch to reach minShare units.
func (b *batcher) linger(batch *[]txRequest, wait *time.Timer) {
	wait.Reset(linger)
	defer wait.Stop()
	for len(*batch) < minShare {
		select {
		case r := <-b.queue:
			*batch = append(*batch, r)
			b.fill(batch)
		case <-wait.C:
			return
		case <-b.stop:
			return
		}
	}
}

func (b *batcher) fill(batch *[]txRequest) {
	for len(*batch) < maxBatch {
		select {
		case r := <-b.queue:
			*batch = append(*batch, r)
		default:
			return
		}
	}
}

func (b *batcher) run(batch []txRequest) {
	if len(batch) == 1 {
		batch[0].done <- b.s.runTx(batch[0].ctx, batch[0].fn)
		return
	}
	// Optimistically, the whole batch in one transaction without savepoints
	// (two statements per unit saved): units almost never fail. When one
	// does, the transaction is rolled back and every unit runs again in a
	// transaction of its own, so that one failure cannot undo the others.
	// The batch runs under a context of its own: one caller's cancellation
	// must not roll back the others' work.
	ctx := context.Background()
	err := b.s.runTx(ctx, func(t *Tx) error {
		for _, r := range batch {
			if err := r.ctx.Err(); err != nil {
				return err
			}
			t.ctx = context.WithoutCancel(r.ctx) // see runTx
			err := r.fn(t)
			t.ctx = ctx
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		for _, r := range batch {
			r.done <- nil
		}
		return
	}
	for _, r := range batch {
		r.done <- b.s.runTx(r.ctx, r.fn)
	}
}
