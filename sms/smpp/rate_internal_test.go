package smpp

// White-box: the AIMD arithmetic is not observable from outside without
// waiting for real pauses.

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAIMD(t *testing.T) {
	t.Parallel()
	var gauge float64
	a := newAIMD(100, time.Hour, func(r float64) { gauge = r })
	require.Equal(t, 100.0, gauge)

	a.throttled()
	require.Equal(t, 50.0, gauge)
	a.throttled() // inside the pause: same congestion event
	require.Equal(t, 50.0, gauge)
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
	a := newAIMD(5, time.Nanosecond, func(r float64) { gauge = r })
	for range 10 {
		time.Sleep(time.Microsecond) // let the 1ns pause end
		a.throttled()
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
	a := newAIMD(50, time.Hour, func(r float64) { gauge = r })
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
			a.throttled()
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
