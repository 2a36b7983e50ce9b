package smpp

import (
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// aimd paces submit_sm for one Link. The token bucket starts at the
// contracted TPS (this instance's part of it, see setMax); a throttle answer
// (ESME_RTHROTTLED, ESME_RMSGQFUL) halves the rate (not below 1/s, or the
// maximum if lower) and stops all submits for one pause, then every pause
// without a throttle adds a tenth of the contract back, as TCP does with its
// window. Several throttles answering PDUs that were all sent before
// the pause began count as one congestion event.
type aimd struct {
	max   float64
	step  float64
	pause time.Duration
	onSet func(float64)
	// single limits bursts to one submit: set when instances share the
	// TPS, whose parts leave no room for one instance's burst.
	single bool

	mu          sync.Mutex
	cur         float64
	pausedUntil time.Time // monotonic (time.Now), never NowFunc; the pause began a.pause before
	lastChange  time.Time
	// lim is replaced, and changed closed, at every change of rate: a
	// rate.Limiter keeps the times it already handed out, so waiters
	// queued at the old rate would go on at it (seconds of it, with a
	// window's worth of waiters). They take a new reservation instead.
	lim     *rate.Limiter
	changed chan struct{}
}

func newAIMD(maxRate float64, pause time.Duration, single bool, onSet func(float64)) *aimd {
	a := &aimd{
		max:     maxRate,
		step:    math.Max(maxRate/10, 1),
		pause:   pause,
		cur:     maxRate,
		single:  single,
		onSet:   onSet,
		changed: make(chan struct{}),
	}
	a.lim = rate.NewLimiter(rate.Limit(maxRate), a.burst(maxRate))
	onSet(maxRate)
	return a
}

// burstFor allows a tenth of a second's worth of submits at once: SMSCs
// usually count over a second, and a burst of 1 would make high rates depend
// on timer precision.
func burstFor(r float64) int {
	return max(1, int(r/10))
}

func (a *aimd) burst(r float64) int {
	if a.single {
		return 1
	}
	return burstFor(r)
}

func (a *aimd) setLocked(r float64, now time.Time) {
	a.cur = r
	a.lastChange = now
	// The new bucket keeps the tokens the old one had saved (none when
	// waiters had run it into debt), up to its own burst.
	b := a.burst(r)
	saved := int(math.Max(0, math.Min(float64(b), a.lim.TokensAt(now))))
	a.lim = rate.NewLimiter(rate.Limit(r), b)
	if saved < b {
		a.lim.ReserveN(now, b-saved)
	}
	close(a.changed)
	a.changed = make(chan struct{})
	a.onSet(r)
}

// throttled records a throttle answer to a PDU written at sent. One that
// comes during a pause, or answers a PDU written before the last pause began
// (however late the answer: a loaded machine spreads a burst's answers), is
// part of the congestion event already counted.
func (a *aimd) throttled(sent time.Time) {
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if now.Before(a.pausedUntil) || sent.Before(a.pausedUntil.Add(-a.pause)) {
		return
	}
	a.pausedUntil = now.Add(a.pause)
	a.setLocked(math.Max(math.Min(1, a.max), a.cur/2), now)
}

// setMax changes the rate the limit recovers to: this instance's part of the
// contracted TPS when instances share the carrier's binds. A larger part is
// usable at once (the other instance gave its part up before we got it); a
// smaller one caps the current rate at once, before the part is given up.
func (a *aimd) setMax(m float64) {
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if m == a.max {
		return
	}
	cur := math.Min(a.cur, m)
	if m > a.max {
		cur = math.Min(m, a.cur+(m-a.max))
	}
	a.max, a.step = m, math.Max(m/10, 1)
	a.setLocked(cur, now)
}

// tick is the additive increase, called every pause.
func (a *aimd) tick(now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cur >= a.max || now.Before(a.pausedUntil) || now.Sub(a.lastChange) < a.pause {
		return
	}
	a.setLocked(math.Min(a.max, a.cur+a.step), now)
}

func (a *aimd) current() (limit float64, pausedUntil time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cur, a.pausedUntil
}

func (a *aimd) limiter() (*rate.Limiter, <-chan struct{}) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lim, a.changed
}

// wait blocks until a submit_sm may be written: outside a pause and with a
// token.
func (a *aimd) wait(ctx context.Context) error {
	retried := false
	for {
		_, until := a.current()
		if d := time.Until(until); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
		lim, changed := a.limiter()
		r := lim.Reserve()
		due := time.Now().Add(r.Delay())
		if d := time.Until(due); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				r.Cancel()
				return ctx.Err()
			case <-changed:
				t.Stop()
				continue // reserve again at the new rate
			case <-t.C:
			}
		}
		// A starved process (CPU, GC) wakes its waiters late and together:
		// sending every token that fell due meanwhile at once would put a
		// burst on the wire that the SMSC counts against the second it
		// lands in, and instances sharing the TPS have no slack for that. A
		// waiter late by more than one token's interval takes a fresh token
		// instead, which spaces them out again; once only, so that a
		// machine always late still sends.
		if !retried && time.Since(due) > a.slack() {
			retried = true
			continue
		}
		// A throttle may have arrived while waiting for the token.
		if _, until := a.current(); !time.Now().Before(until) {
			return nil
		}
	}
}

// slack is how late a waiter may wake and still use its token: the interval
// between two tokens, at least a few milliseconds of timer jitter.
func (a *aimd) slack() time.Duration {
	limit, _ := a.current()
	return max(time.Duration(float64(time.Second)/limit), 5*time.Millisecond)
}
