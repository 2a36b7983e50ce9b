package sqlstore

import (
	"context"
	"path/filepath"
	"strings"
	"sync/atomic"
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
	take := func(r txRequest) { batch = append(batch, r) }
	enough := func() bool { return len(batch) >= minShare }
	b.linger(take, enough, wait)
	if len(batch) < minShare {
		t.Fatalf("the batch has %d units, want at least %d", len(batch), minShare)
	}

	for len(b.queue) > 0 {
		<-b.queue
	}
	batch = []txRequest{{}}
	start := time.Now()
	b.linger(take, enough, wait)
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

// Background units wait for company: an API request's unit commits without
// them while they are few and young, deferLimit of them commit at once, a
// lone one commits after deferFor, and closing the store commits those
// still waiting.
func TestDeferrableUnitsWaitForCompany(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "gw.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := s.batch
	b.deferFor = time.Hour // set before the first unit: the loop reads it after
	var ran atomic.Int32
	unit := func(*Tx) error { ran.Add(1); return nil }
	background := Deferrable(ctx)
	submitted := make(chan error, deferLimit+1)
	submitBackground := func(n int) {
		for range n {
			go func() { submitted <- s.InTx(background, unit) }()
		}
	}
	waitFor := func(n int) {
		t.Helper()
		for range n {
			select {
			case err := <-submitted:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("a background unit was never committed")
			}
		}
	}

	heldBack := func(n int32) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); b.waiting.Load() != n; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d background units held back, want %d", b.waiting.Load(), n)
			}
		}
	}

	submitBackground(deferLimit - 1)
	heldBack(deferLimit - 1)
	if err := s.InTx(ctx, unit); err != nil {
		t.Fatal(err)
	}
	// The urgent unit committed; the background ones, not due and too few,
	// did not go with it.
	if got := ran.Load(); got != 1 {
		t.Fatalf("%d units ran with the urgent one, want it alone", got)
	}
	submitBackground(1) // the deferLimit-th
	waitFor(deferLimit)
	if got := ran.Load(); got != deferLimit+1 {
		t.Fatalf("%d units ran, want %d", got, deferLimit+1)
	}

	b.deferFor = 40 * time.Millisecond // no unit waits: the loop is idle
	start := time.Now()
	submitBackground(1)
	waitFor(1)
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Fatalf("a lone background unit committed after %v, before deferFor", d)
	}

	b.deferFor = time.Hour
	submitBackground(3)
	heldBack(3)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(3)
	if got := ran.Load(); got != deferLimit+5 {
		t.Fatalf("%d units ran, want %d: closing commits the waiting ones", got, deferLimit+5)
	}
}
