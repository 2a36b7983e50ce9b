package smpp

// White-box: the AIMD arithmetic is not observable from outside without
// waiting for real pauses.

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAIMD(t *testing.T) {
	t.Parallel()
	var gauge float64
	a := newAIMD(100, time.Hour, false, func(r float64) { gauge = r })
	require.Equal(t, 100.0, gauge)

	sent := time.Now().Add(-2 * time.Hour) // written long before the pause began
	a.throttled(sent)
	require.Equal(t, 50.0, gauge)
	a.throttled(time.Now()) // inside the pause: same congestion event
	require.Equal(t, 50.0, gauge)
	a.pausedUntil = time.Now() // the pause over, a late answer to a PDU of the same burst
	a.throttled(sent)
	require.Equal(t, 50.0, gauge, "written before the pause began: the same congestion event")
	a.pausedUntil = time.Now().Add(time.Hour)
	_, until := a.current()
	require.True(t, until.After(time.Now()))

	now := time.Now()
	a.tick(now) // still paused: no increase
	require.Equal(t, 50.0, gauge)

	// Past the pause: +TPS/10 per period, capped at TPS.
	for i, want := range []float64{60, 70, 80, 90, 100, 100} {
		now = now.Add(2 * time.Hour)
		a.tick(now)
		require.Equal(t, want, gauge, "tick %d", i)
	}
}

func TestAIMDFloor(t *testing.T) {
	t.Parallel()
	var gauge float64
	a := newAIMD(5, time.Nanosecond, false, func(r float64) { gauge = r })
	for range 10 {
		time.Sleep(time.Microsecond) // let the 1ns pause end
		a.throttled(time.Now())
	}
	require.Equal(t, 1.0, gauge, "never below 1/s")
	require.Equal(t, 1, burstFor(gauge))
	// A small TPS still recovers by at least 1/s per period.
	a.tick(time.Now().Add(time.Second))
	require.Equal(t, 2.0, gauge)
}

// TestAIMDSetMax: the part of TPS an instance may use follows the bind
// slots it holds.
func TestAIMDSetMax(t *testing.T) {
	t.Parallel()
	var gauge float64
	a := newAIMD(50, time.Hour, true, func(r float64) { gauge = r })
	for _, tc := range []struct {
		name      string
		throttled bool
		max, want float64
	}{
		{"a second slot of two: the whole TPS at once", false, 100, 100},
		{"a slot handed over: capped at once", false, 50, 50},
		{"after a throttle", true, 50, 25},
		{"growing keeps the congestion's reduction", false, 100, 75},
		{"shrinking below the current rate", false, 20, 20},
		{"a part below 1/s", false, 0.5, 0.5},
		{"a throttle never goes above the part", true, 0.5, 0.5},
	} {
		if tc.throttled {
			a.pausedUntil = time.Time{} // a new congestion event
			a.throttled(time.Now())
		} else {
			a.setMax(tc.max)
		}
		require.Equal(t, tc.want, gauge, tc.name)
		limit, _ := a.current()
		require.Equal(t, tc.want, limit, tc.name)
	}
	// Recovery climbs to the new part, not to the old one.
	a.setMax(10)
	now := time.Now()
	for range 20 {
		now = now.Add(2 * time.Hour)
		a.tick(now)
	}
	require.Equal(t, 10.0, gauge)
}

// TestPartOf: instances sharing a carrier's binds split TPS less a headroom
// that covers their one-submit bursts.
func TestPartOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name             string
		tps, binds, held int
		want             float64
	}{
		{"one of three binds", 100, 3, 1, 97.0 / 3},
		{"all three", 100, 3, 3, 97},
		{"one bind", 50, 1, 1, 49},
		{"low tps: half of it kept back", 4, 3, 3, 2},
		{"low tps, one slot", 4, 3, 1, 2.0 / 3},
	} {
		got := partOf(Config{TPS: tc.tps, Binds: tc.binds}, tc.held)
		require.InDelta(t, tc.want, got, 1e-9, tc.name)
	}
	require.Equal(t, 1, (&aimd{single: true}).burst(1000), "shared: bursts of one")
	require.Equal(t, 100, (&aimd{}).burst(1000))
}

// TestAIMDRateChangeReachesWaiters: submits already waiting for a token go
// at the new rate once it changes, not at the one they queued under (with a
// window of waiters, that would be seconds more at a part given up).
func TestAIMDRateChangeReachesWaiters(t *testing.T) {
	t.Parallel()
	a := newAIMD(100, time.Hour, true, func(float64) {})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var done atomic.Int32
	for range 50 {
		go func() {
			if a.wait(ctx) == nil {
				done.Add(1)
			}
		}()
	}
	time.Sleep(50 * time.Millisecond) // all 50 queued, half a second's worth at 100/s
	a.setMax(5)
	before := done.Load()
	time.Sleep(600 * time.Millisecond)
	require.LessOrEqual(t, done.Load()-before, int32(6), "at most 5/s (and one token saved) after the change")
}
