package sqlstore

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
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

// Background work (a send recorded, a receipt) keeps nobody waiting on the
// other end: its units wait up to deferMax for one another and commit
// together, in a transaction of their own after the batch of API requests'
// units that is running, which they do not slow down. A commit writes every
// page its transaction touched to the WAL, and the three stages of a
// message touch different tables: batches of one stage write about half the
// pages per message of batches that mix a few of each (WAL frames per
// message 5.2 against 3.0 in a replay of make bench's statements;
// docs/BENCHMARKS.md §7).
const (
	deferMax = 5 * time.Millisecond
	// deferLimit background units commit at once, due or not.
	deferLimit = maxBatch / 2
)

type deferrableKey struct{}

// Deferrable marks ctx's transactions as background work, which may wait
// a few milliseconds (deferMax) to share a commit with more of its kind.
func Deferrable(ctx context.Context) context.Context {
	return context.WithValue(ctx, deferrableKey{}, true)
}

func isDeferrable(ctx context.Context) bool {
	v, _ := ctx.Value(deferrableKey{}).(bool)
	return v
}

type txRequest struct {
	ctx  context.Context
	fn   func(*Tx) error
	done chan error
	// queued is when a deferrable unit was submitted; zero for the others.
	queued time.Time
}

type batcher struct {
	s     *Store
	queue chan txRequest
	stop  chan struct{}
	wg    sync.WaitGroup
	// deferFor is deferMax (tests change it).
	deferFor time.Duration
	// waiting counts the background units held back, as of the loop's
	// last look (tests).
	waiting atomic.Int32
}

func newBatcher(s *Store) *batcher {
	b := &batcher{s: s, queue: make(chan txRequest, 4*maxBatch), stop: make(chan struct{}), deferFor: deferMax}
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
	if isDeferrable(ctx) {
		req.queued = time.Now()
	}
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
	var (
		batch    = make([]txRequest, 0, maxBatch)
		deferred []txRequest // background units waiting for company, oldest first
		wait     = time.NewTimer(time.Hour)
		due      = time.NewTimer(time.Hour)
		ended    time.Time // when the last batch was done
	)
	wait.Stop()
	due.Stop()
	// take sorts a queued unit: urgent ones join the batch.
	take := func(r txRequest) {
		if r.queued.IsZero() {
			batch = append(batch, r)
		} else {
			deferred = append(deferred, r)
		}
	}
	for {
		if len(deferred) > 0 {
			due.Reset(time.Until(deferred[0].queued.Add(b.deferFor)))
		}
		select {
		case <-b.stop:
			// What was taken is committed (a send recorded late is better
			// than one sent again after the restart); what is still queued
			// is refused.
			due.Stop()
			b.runAll(append(batch, deferred...))
			b.refuseQueued()
			return
		case r := <-b.queue:
			due.Stop()
			idle := time.Since(ended) > idleGap
			take(r)
			for round := 0; ; round++ {
				b.fill(take)
				if len(batch) == 0 || len(batch) >= minShare || round == yieldRounds {
					break
				}
				runtime.Gosched()
			}
			if idle && len(batch) > 0 && len(batch) < minShare {
				b.linger(take, func() bool { return len(batch) >= minShare }, wait)
			}
		case <-due.C:
			b.fill(take) // what the API queued meanwhile goes first
		}
		if len(batch) > 0 {
			b.runAll(batch)
			batch = batch[:0]
			ended = time.Now()
		}
		// Deferred units commit once the oldest has waited long enough or
		// they are many; otherwise they wait for more.
		if len(deferred) > 0 && (len(deferred) >= deferLimit || time.Since(deferred[0].queued) >= b.deferFor) {
			b.runAll(deferred)
			deferred = deferred[:0]
			ended = time.Now()
		}
		b.waiting.Store(int32(len(deferred)))
	}
}

// runAll runs units in batches of at most maxBatch.
func (b *batcher) runAll(units []txRequest) {
	for len(units) > 0 {
		n := min(len(units), maxBatch)
		b.run(units[:n])
		if b.s.ckpt != nil {
			b.s.ckpt.restartIfFull(b.s.w)
		}
		units = units[n:]
	}
}

// refuseQueued answers the units still queued: the store is closing.
func (b *batcher) refuseQueued() {
	for {
		select {
		case r := <-b.queue:
			r.done <- fmt.Errorf("sqlstore: store closed")
		default:
			return
		}
	}
}

// linger waits up to linger for enough more units (enough tells).
func (b *batcher) linger(take func(txRequest), enough func() bool, wait *time.Timer) {
	wait.Reset(linger)
	defer wait.Stop()
	for !enough() {
		select {
		case r := <-b.queue:
			take(r)
			b.fill(take)
		case <-wait.C:
			return
		case <-b.stop:
			return
		}
	}
}

// fill takes what is queued, without waiting, up to a batch's worth.
func (b *batcher) fill(take func(txRequest)) {
	for range maxBatch {
		select {
		case r := <-b.queue:
			take(r)
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
