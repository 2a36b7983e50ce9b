package smpp

import (
	"context"
	"time"
)

// SlotLeaser shares a carrier's bind slots between the gateway instances
// that serve it (PostgreSQL-backed in the gateway: sqlstore.BindLeaser).
// Slot i (0 ≤ i < Binds) is held by at most one instance at a time, so the
// carrier never sees more than Binds binds however many instances run. Every
// method is called from a bind loop, blocks for one round trip to the shared
// store and is bounded by ctx; an error means the outcome is unknown.
type SlotLeaser interface {
	// Acquire takes slot of carrier for this instance, before its bind loop
	// dials. It returns false when another instance holds the slot.
	Acquire(ctx context.Context, carrier string, slot int) (bool, error)
	// Renew extends this instance's hold on slot, every Config.SlotRenew
	// while the bind is up. False means the slot was lost (its lease ran
	// out and another instance took it): the bind is closed at once. An
	// error closes it too, after the submits in flight are answered, since
	// the slot may be lost by the time the store answers again.
	Renew(ctx context.Context, carrier string, slot int) (bool, error)
	// Release gives slot up once its bind is down (or never came up).
	Release(ctx context.Context, carrier string, slot int) error
}

// SlotSharer is implemented by a SlotLeaser that knows how many instances
// want a carrier's binds. With it each instance keeps to its fair share,
// ⌈Binds/instances⌉ slots: a first instance takes every slot, and hands one
// over (draining its submits first) when another instance arrives.
// Without it slots go to whoever asks first.
type SlotSharer interface {
	// Sharers counts the instances that want carrier's binds, this one
	// included; calling it also keeps this instance counted. It is called
	// before every Acquire and after every Renew.
	Sharers(ctx context.Context, carrier string) (int, error)
	// Leave stops counting this instance (Close).
	Leave(ctx context.Context, carrier string) error
}

// The rate limit follows the slots: an instance holding h of the carrier's
// Binds slots submits at most (TPS−r)·h/Binds per second, where r, the
// headroom, is Binds (TPS/2 when TPS < 2·Binds), with bursts of one submit.
// Leases are exclusive, so the parts of all instances add up to TPS−r at
// most, and each instance's token bucket lets through at most one submit
// more than its part in any window: at most Binds instances hold slots, so
// the carrier never counts more than TPS in any second, nor on average over
// any longer window. The part grows only after a slot is acquired and
// shrinks before one is released.

// holdSlot waits until b's slot is held by this instance; false when the
// link closes first. Without a SlotLeaser every slot is ours.
func (l *Link) holdSlot(b *bind) bool {
	if l.cfg.Slots == nil {
		return true
	}
	waiting := false
	for {
		if l.ctx.Err() != nil {
			return false
		}
		if l.tryAcquire(b) {
			l.log.Info("smpp: bind slot acquired", "bind", b.idx, "slots_held", l.heldCount())
			return true
		}
		if !waiting {
			waiting = true
			l.log.Info("smpp: waiting for a bind slot another instance holds", "bind", b.idx)
		}
		if !l.sleep(jitter(l.cfg.SlotRenew)) {
			return false
		}
	}
}

func (l *Link) tryAcquire(b *bind) bool {
	ctx, cancel := context.WithTimeout(l.ctx, l.cfg.SlotRenew)
	defer cancel()
	share, err := l.fairShare(ctx)
	if err != nil {
		l.slotError(b, "count instances", err)
		return false
	}
	if l.heldCount() >= share {
		return false
	}
	ok, err := l.cfg.Slots.Acquire(ctx, l.cfg.Carrier, b.idx)
	if err != nil {
		l.slotError(b, "acquire", err)
		return false
	}
	if !ok {
		return false
	}
	l.mu.Lock()
	b.held = true
	b.slotErr = ""
	l.setPartLocked()
	l.mu.Unlock()
	return true
}

// fairShare is how many slots this instance may hold: ⌈Binds/instances⌉
// with a SlotSharer, all of them without.
func (l *Link) fairShare(ctx context.Context) (int, error) {
	sh, ok := l.cfg.Slots.(SlotSharer)
	if !ok {
		return l.cfg.Binds, nil
	}
	n, err := sh.Sharers(ctx, l.cfg.Carrier)
	if err != nil {
		return 0, err
	}
	n = max(n, 1)
	return (l.cfg.Binds + n - 1) / n, nil
}

// keepSlot renews b's slot while c is up, and hands the slot over when this
// instance holds more than its share. It runs beside the bind loop.
func (l *Link) keepSlot(b *bind, c *conn) {
	defer l.wg.Done()
	t := time.NewTicker(l.cfg.SlotRenew)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(l.ctx, l.cfg.SlotRenew)
		ok, err := l.cfg.Slots.Renew(ctx, l.cfg.Carrier, b.idx)
		var share int
		if err == nil && ok {
			share, err = l.fairShare(ctx)
		}
		cancel()
		switch {
		case l.ctx.Err() != nil:
			return // closing: the bind loop unbinds and releases
		case err != nil:
			l.slotError(b, "renew", err)
			l.drain(c, "bind slot lease not renewed: "+err.Error())
			return
		case !ok:
			l.log.Warn("smpp: bind slot lost to another instance; closing its bind", "bind", b.idx)
			c.markDone("bind slot lease lost")
			return
		}
		if l.surplus(b, share) {
			l.log.Info("smpp: handing a bind slot over to another instance", "bind", b.idx, "share", share)
			l.drain(c, "bind slot handed over")
			return
		}
	}
}

// surplus reports whether b is the slot to give up: this instance holds more
// than share slots and b is the highest of them (one per renewal period, so
// that instances converge without handing slots back and forth).
func (l *Link) surplus(b *bind, share int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.heldLocked() <= share {
		return false
	}
	for _, o := range l.binds {
		if o.held && o.idx > b.idx {
			return false
		}
	}
	return true
}

// drain stops new submits on c, waits (a little) for those in flight to be
// answered, and closes c: a bind given up cleanly leaves no submit with an
// unknown outcome, hence no duplicate.
func (l *Link) drain(c *conn, reason string) {
	l.mu.Lock()
	c.draining = true
	l.mu.Unlock()
	t := time.NewTimer(min(l.cfg.ResponseTimeout, l.cfg.SlotRenew))
	defer t.Stop()
	l.mu.Lock()
	l.waitLocked(func() bool { return len(c.pending) == 0 }, c.done, t.C)
	l.mu.Unlock()
	c.markDone(reason)
}

// dropSlot gives b's slot up after its bind went down (or failed to come
// up). The rate part shrinks first.
func (l *Link) dropSlot(b *bind) {
	if l.cfg.Slots == nil {
		return
	}
	l.mu.Lock()
	if !b.held {
		l.mu.Unlock()
		return
	}
	b.held = false
	l.setPartLocked()
	l.mu.Unlock()
	// The link's own context may be over (Close): the release still goes out.
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.SlotRenew)
	defer cancel()
	if err := l.cfg.Slots.Release(ctx, l.cfg.Carrier, b.idx); err != nil {
		l.slotError(b, "release", err)
	}
}

// leave withdraws this instance from the carrier's sharers (Close).
func (l *Link) leave() {
	sh, ok := l.cfg.Slots.(SlotSharer)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.SlotRenew)
	defer cancel()
	if err := sh.Leave(ctx, l.cfg.Carrier); err != nil {
		l.log.Warn("smpp: leaving the carrier's bind slots failed; they are shared again once the membership runs out", "err", err)
	}
}

// setPartLocked sets the rate limit to the part of the slots held now.
// Under Link.mu, so that two bind loops changing their slots at once cannot
// apply their parts in the wrong order. Holding none leaves it be: nothing
// is sent without a bind.
func (l *Link) setPartLocked() {
	if n := l.heldLocked(); n > 0 {
		l.rate.setMax(l.part(n))
	}
}

// part is this instance's share of TPS while it holds n slots.
func (l *Link) part(n int) float64 {
	return partOf(l.cfg, n)
}

func partOf(cfg Config, n int) float64 {
	headroom := min(float64(cfg.Binds), float64(cfg.TPS)/2)
	return (float64(cfg.TPS) - headroom) * float64(n) / float64(cfg.Binds)
}

func (l *Link) heldCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.heldLocked()
}

func (l *Link) heldLocked() int {
	n := 0
	for _, b := range l.binds {
		if b.held {
			n++
		}
	}
	return n
}

// slotError logs a failed call to the leaser, each distinct error once per
// bind (the store being down would otherwise log at every retry).
func (l *Link) slotError(b *bind, op string, err error) {
	msg := op + ": " + err.Error()
	l.mu.Lock()
	changed := msg != b.slotErr
	b.slotErr = msg
	l.mu.Unlock()
	if changed {
		l.log.Warn("smpp: bind slot lease failed", "bind", b.idx, "op", op, "err", err)
	}
}

// initialRate is the limit before any slot is held: all of TPS for a single
// instance, one slot's part when slots are shared (nothing is sent before a
// slot is held anyway).
func initialRate(cfg Config) float64 {
	if cfg.Slots == nil {
		return float64(cfg.TPS)
	}
	return partOf(cfg, 1)
}
