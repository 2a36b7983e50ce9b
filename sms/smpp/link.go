package smpp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// Link is the gateway's connection to one carrier's SMSC: Config.Binds
// transceiver binds, each kept up by its own loop, sharing one adaptive rate
// limit. With Config.Slots the binds and the rate are shared with other
// gateway instances (see SlotLeaser). Its methods are safe for concurrent use.
type Link struct {
	cfg     Config
	deliver DeliverFunc
	log     *slog.Logger
	m       *linkMetrics
	now     func() time.Time
	rate    *aimd

	errTimeout error // ErrUnknownOutcome, saying how long we waited
	errDropped error // ErrUnknownOutcome, saying the bind went away

	// ctx lives until the end of Close: bind loops, keep-alives, dialing.
	ctx    context.Context
	cancel context.CancelFunc
	// closeCtx ends when Close starts: Submits not yet written give up.
	closeCtx   context.Context
	closeStart context.CancelFunc
	// dctx is handed to DeliverFunc; it ends only when Close stops waiting
	// for deliveries in flight.
	dctx    context.Context
	dcancel context.CancelFunc

	wg         sync.WaitGroup // bind loops, keep-alives, the rate ticker
	dwg        sync.WaitGroup // DeliverFunc calls in flight
	deliveries chan delivery  // to an idle delivery worker (see deliverWorker)

	mu            sync.Mutex
	binds         []*bind
	changed       chan struct{} // closed (and replaced) when a window slot frees or a bind comes up
	waiting       int           // goroutines waiting on changed
	opened        bool
	closing       bool
	refuseDeliver bool
}

// New returns a Link for cfg (defaults applied; validate it beforehand with
// cfg.WithDefaults().Validate()). deliver receives every deliver_sm and
// data_sm; logger may be nil (discard); m may be nil (no metrics). Nothing
// happens on the network until Open.
func New(cfg Config, deliver DeliverFunc, logger *slog.Logger, m *Metrics) *Link {
	cfg = cfg.WithDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if deliver == nil {
		deliver = func(context.Context, Deliver) error { return errors.New("smpp: no DeliverFunc") }
	}
	l := &Link{
		cfg:        cfg,
		deliver:    deliver,
		log:        logger.With("carrier", cfg.Carrier),
		m:          m.forLink(cfg.Carrier, cfg.Binds),
		now:        cfg.NowFunc,
		changed:    make(chan struct{}),
		deliveries: make(chan delivery),
		errTimeout: fmt.Errorf("%w: no submit_sm_resp within %s",
			ErrUnknownOutcome, cfg.ResponseTimeout),
		errDropped: fmt.Errorf("%w: bind closed before submit_sm_resp", ErrUnknownOutcome),
	}
	if l.now == nil {
		l.now = time.Now
	}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	l.closeCtx, l.closeStart = context.WithCancel(context.Background())
	l.dctx, l.dcancel = context.WithCancel(context.Background())
	l.rate = newAIMD(initialRate(cfg), cfg.ThrottlePause, cfg.Slots != nil, l.m.setRate)
	for i := range cfg.Binds {
		l.binds = append(l.binds, &bind{idx: i})
	}
	l.m.setBindsUp(0)
	return l
}

// Open starts the bind loops and returns at once; binds keep retrying in the
// background until Close. Calling it again, or after Close, does nothing.
func (l *Link) Open() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.opened || l.closing {
		return
	}
	l.opened = true
	now := l.now()
	l.wg.Add(len(l.binds) + 1)
	for _, b := range l.binds {
		b.since = now
		go l.runBind(b)
	}
	go l.tickRate()
}

// Close stops accepting Submits (they fail Temporary with ErrClosed), waits
// up to ResponseTimeout for submit_sm already written, answers new deliver_sm
// with ESME_RX_T_APPN and waits up to ResponseTimeout for DeliverFuncs in
// flight (then cancels their ctx), unbinds every bind and waits for all its
// goroutines. It always returns nil; a second call returns at once.
func (l *Link) Close() error {
	l.mu.Lock()
	if l.closing {
		l.mu.Unlock()
		return nil
	}
	l.closing = true
	opened := l.opened
	l.mu.Unlock()
	l.closeStart()

	if opened {
		l.drainSubmits(l.cfg.ResponseTimeout)
		l.mu.Lock()
		l.refuseDeliver = true
		l.mu.Unlock()
		done := make(chan struct{})
		go func() {
			l.dwg.Wait()
			close(done)
		}()
		t := time.NewTimer(l.cfg.ResponseTimeout)
		select {
		case <-done:
		case <-t.C:
			l.log.Warn("smpp: close: cancelling deliveries still in flight")
			l.dcancel()
			<-done
		}
		t.Stop()
	}
	l.cancel()
	l.wg.Wait() // bind loops release their slots on the way out
	l.dcancel()
	if opened && l.cfg.Slots != nil {
		l.leave()
	}
	return nil
}

// drainSubmits waits until no submit_sm awaits its response, or d.
func (l *Link) drainSubmits(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.waitLocked(func() bool { return l.inFlightLocked() == 0 }, nil, t.C)
}

// waitLocked waits, with l.mu held, until cond holds (rechecked at every
// change of the link) or stop or timeout fires; a nil channel never fires.
func (l *Link) waitLocked(cond func() bool, stop <-chan struct{}, timeout <-chan time.Time) {
	for !cond() {
		ch := l.changed
		l.waiting++
		l.mu.Unlock()
		gaveUp := false
		select {
		case <-ch:
		case <-stop:
			gaveUp = true
		case <-timeout:
			gaveUp = true
		}
		l.mu.Lock()
		l.waiting--
		if gaveUp {
			return
		}
	}
}

func (l *Link) inFlightLocked() int {
	n := 0
	for _, b := range l.binds {
		if b.conn != nil {
			n += len(b.conn.pending)
		}
	}
	return n
}

// signalLocked wakes everyone waiting for a window slot or a bind.
func (l *Link) signalLocked() {
	if l.waiting > 0 {
		close(l.changed)
		l.changed = make(chan struct{})
	}
}

func (l *Link) upLocked() int {
	n := 0
	for _, b := range l.binds {
		if b.conn != nil {
			n++
		}
	}
	return n
}

// tickRate drives the additive increase of the rate limit.
func (l *Link) tickRate() {
	defer l.wg.Done()
	t := time.NewTicker(l.cfg.ThrottlePause)
	defer t.Stop()
	for {
		select {
		case <-l.ctx.Done():
			return
		case now := <-t.C:
			l.rate.tick(now)
		}
	}
}

// sleep waits d unless the link is closing; it reports whether it slept.
func (l *Link) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-l.ctx.Done():
		return false
	}
}

// jitter spreads d over [d/2, d] so that binds (and gateways) knocked off
// together do not come back in lockstep.
func jitter(d time.Duration) time.Duration {
	half := d / 2
	return half + rand.N(half+1)
}

// Status is a snapshot of a Link for /readyz and the UI.
type Status struct {
	Carrier string
	// Binds has one entry per configured bind.
	Binds []BindStatus
	// RateLimit is the current adaptive limit (submit_sm per second);
	// MaxRate the configured TPS it recovers to.
	RateLimit, MaxRate float64
	// Paused is true while submits are held back after a throttle answer.
	Paused bool
	// Closed is true once Close has started.
	Closed bool
}

// BindStatus describes one bind slot.
type BindStatus struct {
	Up bool
	// Since is when the bind last went up or down.
	Since time.Time
	// LastError is why the bind last went down or failed to come up ("" if
	// it never did).
	LastError string
	// InFlight is the number of submit_sm awaiting a response, out of Window.
	InFlight, Window int
	// Held is true while this instance holds the bind's slot (always, once
	// open, without Config.Slots).
	Held bool
}

// Status returns a snapshot of the binds and the rate limit.
func (l *Link) Status() Status {
	limit, until := l.rate.current()
	l.mu.Lock()
	defer l.mu.Unlock()
	s := Status{
		Carrier:   l.cfg.Carrier,
		RateLimit: limit,
		MaxRate:   float64(l.cfg.TPS),
		Paused:    time.Now().Before(until),
		Closed:    l.closing,
	}
	for _, b := range l.binds {
		bs := BindStatus{Up: b.conn != nil, Since: b.since, LastError: b.lastErr, Window: l.cfg.Window,
			Held: b.held || (l.cfg.Slots == nil && l.opened && !l.closing)}
		if b.conn != nil {
			bs.InFlight = len(b.conn.pending)
		}
		s.Binds = append(s.Binds, bs)
	}
	return s
}

// Ready reports whether at least one bind is up and the link is not closing.
func (l *Link) Ready() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.closing && l.upLocked() > 0
}
