package notify

import "time"

// The retry schedule: the first retry after MinBackoff, doubling with every
// failed try, never longer than MaxBackoff.
const (
	MinBackoff = time.Second
	MaxBackoff = 5 * time.Minute
)

// Backoff returns how long to wait before the next try of an event that has
// failed tries times (1 after the first failure). jitter, in [0, 1), spreads
// the delay over ±25% of the doubling schedule so that many events failing
// together (the receiver was down) do not all come back in the same instant.
// The result never exceeds MaxBackoff.
func Backoff(tries int, jitter float64) time.Duration {
	if tries < 1 {
		tries = 1
	}
	jitter = min(max(jitter, 0), 1)
	d := MaxBackoff
	// 1s << 9 is already past five minutes; the bound also keeps the shift
	// from overflowing for events that have failed for days.
	if tries <= 9 {
		d = min(MinBackoff<<(tries-1), MaxBackoff)
	}
	d = time.Duration(float64(d) * (0.75 + 0.5*jitter))
	return min(d, MaxBackoff)
}
