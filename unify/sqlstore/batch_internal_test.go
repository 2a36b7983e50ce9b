package sqlstore

import (
	"strings"
	"testing"
	"time"
)

// A small batch that came to an idle writer waits a little for company: it
// takes what is queued until it has minShare units, and alone it gives up
// after linger.
func TestLingerWaitsForCompanyNotLonger(t *testing.T) {
	t.Parallel()
	b := &batcher{queue: make(chan txRequest, 4*minShare), stop: make(chan struct{})}
	wait := time.NewTimer(time.Hour)
	wait.Stop()

	for range 2 * minShare {
		b.queue <- txRequest{}
	}
	batch := []txRequest{{}}
	b.linger(&batch, wait)
	if len(batch) < minShare {
		t.Fatalf("the batch has %d units, want at least %d", len(batch), minShare)
	}

	for len(b.queue) > 0 {
		<-b.queue
	}
	batch = []txRequest{{}}
	start := time.Now()
	b.linger(&batch, wait)
	if d := time.Since(start); len(batch) != 1 || d < linger || d > time.Second {
		t.Fatalf("alone: %d units after %v, want 1 after %v", len(batch), d, linger)
	}
}

func TestInListPadsToAPowerOfTwo(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		n, padded int
	}{{1, 1}, {2, 2}, {3, 4}, {4, 4}, {5, 8}, {200, 256}} {
		vs := make([]any, tc.n)
		for i := range vs {
			vs[i] = i
		}
		ph, got := inList(vs)
		if len(got) != tc.padded || strings.Count(ph, "?") != tc.padded {
			t.Fatalf("%d values: %d values, %q; want %d", tc.n, len(got), ph, tc.padded)
		}
		for i, v := range got {
			if want := min(i, tc.n-1); v != want {
				t.Fatalf("%d values: value %d is %v, want %d (the last one repeated)", tc.n, i, v, want)
			}
		}
	}
}
