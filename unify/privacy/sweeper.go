package privacy

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"gateway/unify/sqlstore"
)

// Retention is how long a message's content and its metadata are kept.
// Content counts from the message's final status (an inbound message's
// arrival); metadata from its acceptance. Zero content retention drops the
// content at the first sweep after the final status, as an app that stores
// nothing would; zero metadata retention keeps metadata forever.
type Retention struct {
	Content  time.Duration
	Metadata time.Duration
}

// SweeperConfig configures a Sweeper.
type SweeperConfig struct {
	Store *sqlstore.Store
	// Default applies to every sender without an override.
	Default Retention
	// Senders overrides Default per sender name.
	Senders map[string]Retention
	// Interval between sweeps. Default: a tenth of the shortest content
	// retention, between 1s and 1m.
	Interval time.Duration
	// Batch is the rows changed per transaction (default 500): small enough
	// that one never holds SQLite's write lock for more than a few
	// milliseconds.
	Batch int
	// MaxPerTick bounds the rows of each kind one sweep changes (default
	// 20 batches); a backlog is worked off over several ticks.
	MaxPerTick int
	// Pause is the shortest wait between two batches (default 2ms); the
	// wait is at least as long as the batch took, which lets the send
	// path's transactions in between.
	Pause   time.Duration
	NowFunc func() time.Time
	Logger  *slog.Logger
}

// Sweeper enforces retention in the background.
type Sweeper struct {
	cfg    SweeperConfig
	groups []sweepGroup
	now    func() time.Time
	log    *slog.Logger
	mu     sync.Mutex // one sweep at a time
	// Cursors of the tables walked a page at a time, kept between ticks.
	walks map[string]sqlstore.KeyCursor
}

type sweepGroup struct {
	name  string // "" for the default group
	ret   Retention
	scope sqlstore.SenderScope
}

// Report counts what one sweep did.
type Report struct {
	ContentPurged  int // messages whose content was dropped
	InboundPurged  int // inbound messages whose content was dropped
	EventsDeleted  int // delivered reply, consent and erasure events
	Messages       int // messages deleted with their attempts
	Inbound        int // inbound messages deleted
	Idempotency    int
	OrphanReceipts int
}

func (r Report) total() int {
	return r.ContentPurged + r.InboundPurged + r.EventsDeleted + r.Messages + r.Inbound + r.Idempotency + r.OrphanReceipts
}

// NewSweeper builds a sweeper; Run starts it.
func NewSweeper(cfg SweeperConfig) *Sweeper {
	if cfg.Batch <= 0 {
		cfg.Batch = 500
	}
	if cfg.MaxPerTick <= 0 {
		cfg.MaxPerTick = 20 * cfg.Batch
	}
	if cfg.Pause <= 0 {
		cfg.Pause = 2 * time.Millisecond
	}
	if cfg.NowFunc == nil {
		cfg.NowFunc = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Sweeper{cfg: cfg, now: cfg.NowFunc, log: cfg.Logger, walks: map[string]sqlstore.KeyCursor{}}
	names := make([]string, 0, len(cfg.Senders))
	for n := range cfg.Senders {
		names = append(names, n)
	}
	slices.Sort(names)
	s.groups = append(s.groups, sweepGroup{ret: cfg.Default, scope: sqlstore.SenderScope{Except: names}})
	shortest := cfg.Default.Content
	for _, n := range names {
		r := cfg.Senders[n]
		s.groups = append(s.groups, sweepGroup{name: n, ret: r, scope: sqlstore.SenderScope{Only: []string{n}}})
		shortest = min(shortest, r.Content)
	}
	if s.cfg.Interval <= 0 {
		s.cfg.Interval = min(max(shortest/10, time.Second), time.Minute)
	}
	return s
}

// Interval is the time between two sweeps.
func (s *Sweeper) Interval() time.Duration { return s.cfg.Interval }

// Run sweeps at once and then every Interval until ctx ends. A failed sweep
// is logged and tried again at the next tick.
func (s *Sweeper) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		r, err := s.Sweep(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			s.log.Warn("privacy: sweep failed", "err", err)
		case r.total() > 0:
			s.log.Info("privacy: retention sweep", "content_purged", r.ContentPurged, "inbound_purged", r.InboundPurged,
				"events_deleted", r.EventsDeleted, "messages_deleted", r.Messages, "inbound_deleted", r.Inbound,
				"idempotency_deleted", r.Idempotency, "orphan_receipts_deleted", r.OrphanReceipts)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Sweep runs one bounded pass over every kind of row retention applies to.
func (s *Sweeper) Sweep(ctx context.Context) (Report, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var r Report
	now := s.now()
	var errs []error
	step := func(dst *int, fn func(limit int) (int, error)) {
		n, err := s.drain(ctx, fn)
		*dst += n
		if err != nil {
			errs = append(errs, err)
		}
	}
	shortest := s.cfg.Default.Content
	for _, g := range s.groups {
		shortest = min(shortest, g.ret.Content)
		// Rows past metadata retention go first: purging their content
		// just before would be wasted writes.
		if g.ret.Metadata > 0 {
			meta := now.Add(-g.ret.Metadata)
			step(&r.Messages, func(limit int) (int, error) {
				return s.cfg.Store.DeleteMessages(ctx, g.scope, meta, limit)
			})
			step(&r.Inbound, func(limit int) (int, error) {
				return s.cfg.Store.DeleteInbound(ctx, g.scope, meta, limit)
			})
		}
		content := now.Add(-g.ret.Content)
		step(&r.ContentPurged, func(limit int) (int, error) {
			return s.cfg.Store.PurgeContent(ctx, g.scope, content, s.now(), limit)
		})
		step(&r.InboundPurged, func(limit int) (int, error) {
			return s.cfg.Store.PurgeInboundContent(ctx, g.scope, content, s.now(), limit)
		})
	}
	// Events and orphan receipts name no sender: the shortest retention of
	// all applies. Events are a delivery queue, not the record: the record
	// is the message and its replies.
	step(&r.EventsDeleted, func(limit int) (int, error) {
		return s.cfg.Store.DeletePersonalEvents(ctx, now.Add(-shortest), limit)
	})
	if s.cfg.Default.Metadata > 0 {
		step(&r.OrphanReceipts, func(limit int) (int, error) {
			return s.cfg.Store.DeleteOrphanReceipts(ctx, now.Add(-s.cfg.Default.Metadata), limit)
		})
		cutoff := now.Add(-s.cfg.Default.Metadata)
		n, err := s.walk(ctx, sqlstore.WalkIdempotency, func(string) time.Time { return cutoff })
		r.Idempotency += n
		if err != nil {
			errs = append(errs, err)
		}
	}
	return r, errors.Join(errs...)
}

// drain calls fn with the batch size until a batch comes back short or the
// tick's bound is reached.
func (s *Sweeper) drain(ctx context.Context, fn func(limit int) (int, error)) (int, error) {
	total := 0
	for total < s.cfg.MaxPerTick {
		if ctx.Err() != nil {
			return total, nil
		}
		start := time.Now()
		n, err := fn(min(s.cfg.Batch, s.cfg.MaxPerTick-total))
		total += n
		if err != nil || n < s.cfg.Batch {
			return total, err
		}
		// Rest at least as long as the batch took: the sweeper never holds
		// the single writer more than half the time while sends wait.
		select {
		case <-ctx.Done():
			return total, nil
		case <-time.After(max(s.cfg.Pause, time.Since(start))):
		}
	}
	return total, nil
}

// walk goes up to a tick's bound of pages further through a table without
// a time index, and returns how many rows it deleted. A large table is
// crossed over several ticks; at its end the walk starts over.
func (s *Sweeper) walk(ctx context.Context, table string, cutoff func(k1 string) time.Time) (int, error) {
	total := 0
	for pages := max(s.cfg.MaxPerTick/s.cfg.Batch, 1); pages > 0 && ctx.Err() == nil; pages-- {
		next, n, err := s.cfg.Store.SweepWalk(ctx, table, s.walks[table], cutoff, s.cfg.Batch)
		if err != nil {
			return total, err
		}
		total += n
		s.walks[table] = next
		if next == (sqlstore.KeyCursor{}) {
			break
		}
	}
	return total, nil
}
