package smpp

import (
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// aimd paces submit_sm for one Link. The token bucket starts at the
// contracted TPS (this instance's part of it, see setMax); a throttle answer (ESME_RTHROTTLED, ESME_RMSGQFUL) halves
// the rate (not below 1/s, or the maximum if lower) and stops all submits for one pause, then every
// pause without a throttle adds a tenth of the contract back, as TCP does
// with its window. Several throttles answering PDUs that were all sent before
// the pause began count as one congestion event.
type aimd struct {
	max   float64
	step  float64
	pause time.Duration
	lim   *rate.Limiter
	onSet func(float64)

	mu          sync.Mutex
	cur         float64
	pausedUntil time.Time // monotonic (time.Now), never NowFunc
	lastChange  time.Time
}

func newAIMD(maxRate float64, pause time.Duration, onSet func(float64)) *aimd {
	a := &aimd{
		max:   maxRate,
		step:  math.Max(maxRate/10, 1),
		pause: pause,
		cur:   maxRate,
		lim:   rate.NewLimiter(rate.Limit(maxRate), burstFor(maxRate)),
		onSet: onSet,
	}
	onSet(maxRate)
	return a
}

// burstFor allows a tenth of a second's worth of submits at once: SMSCs
// usually count over a second, and a burst of 1 would make high rates depend
// on timer precision.
func burstFor(r float64) int {
	return max(1, int(r/10))
}

func (a *aimd) setLocked(r float64, now time.Time) {
	a.cur = r
	a.lastChange = now
	a.lim.SetLimitAt(now, rate.Limit(r))
	a.lim.SetBurstAt(now, burstFor(r))
	a.onSet(r)
}

// throttled records a throttle answer.
func (a *aimd) throttled() {
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if now.Before(a.pausedUntil) {
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

// wait blocks until a submit_sm may be written: outside a pause and with a
// token.
func (a *aimd) wait(ctx context.Context) error {
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
		if err := a.lim.Wait(ctx); err != nil {
			return err
		}
		// A throttle may have arrived while waiting for the token.
		if _, until := a.current(); !time.Now().Before(until) {
			return nil
		}
	}
}
