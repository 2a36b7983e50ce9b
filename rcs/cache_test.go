package rcs_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"gateway/rcs"
)

// checker is a scripted capability check that counts its calls.
type checker struct {
	calls   atomic.Int32
	capable func(phone string) bool
	err     error
	gate    chan struct{} // when set, each call waits for it
}

func (c *checker) check(ctx context.Context, phone, agent string) ([]string, error) {
	c.calls.Add(1)
	if c.gate != nil {
		select {
		case <-c.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if c.err != nil {
		return nil, c.err
	}
	if c.capable != nil && !c.capable(phone) {
		return nil, fmt.Errorf("%w (404)", rcs.ErrNotRCS)
	}
	return []string{rcs.FeatureRichCardStandalone}, nil
}

func capableExcept(no ...string) func(string) bool {
	return func(p string) bool {
		for _, n := range no {
			if p == n {
				return false
			}
		}
		return true
	}
}

func TestCacheTTLs(t *testing.T) {
	t.Parallel()
	clock := newClock()
	reg := prometheus.NewRegistry()
	m := rcs.NewMetrics(reg)
	cache := rcs.NewCapabilityCache(rcs.CacheConfig{PositiveTTL: 24 * time.Hour, NegativeTTL: 6 * time.Hour, NowFunc: clock.Now, Metrics: m})
	ck := &checker{capable: capableExcept("+33600000002")}
	ctx := context.Background()
	lookup := func(phone string) (rcs.Capability, bool) {
		t.Helper()
		cp, cached, err := cache.Lookup(ctx, "acme_agent", phone, ck.check)
		require.NoError(t, err)
		return cp, cached
	}

	cp, cached := lookup("+33600000001")
	require.False(t, cached)
	require.Equal(t, rcs.Capability{Capable: true, Features: []string{rcs.FeatureRichCardStandalone}, CheckedAt: clock.Now()}, cp)
	cp, cached = lookup("+33600000002")
	require.False(t, cached)
	require.Equal(t, rcs.Capability{Features: []string{}, CheckedAt: clock.Now()}, cp, "404 is a normal, cached outcome")
	require.EqualValues(t, 2, ck.calls.Load())

	clock.Advance(6*time.Hour - time.Second)
	_, cached = lookup("+33600000001")
	require.True(t, cached)
	cp, cached = lookup("+33600000002")
	require.True(t, cached)
	require.False(t, cp.Capable)
	require.EqualValues(t, 2, ck.calls.Load())

	clock.Advance(time.Second) // the negative answer is now 6h old
	_, cached = lookup("+33600000002")
	require.False(t, cached)
	_, cached = lookup("+33600000001")
	require.True(t, cached)
	require.EqualValues(t, 3, ck.calls.Load())

	clock.Advance(18 * time.Hour) // the positive one is now 24h old
	_, cached = lookup("+33600000001")
	require.False(t, cached)
	require.EqualValues(t, 4, ck.calls.Load())

	require.Equal(t, 3.0, metricValue(t, reg, "gateway_rcs_capability_cache_hits_total"))
	require.Equal(t, 4.0, metricValue(t, reg, "gateway_rcs_capability_cache_misses_total"))
	require.Equal(t, 7.0, metricValue(t, reg, "gateway_rcs_capability_lookups_total"))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == "gateway_rcs_capability_entry_age_seconds" {
			h := mf.GetMetric()[0].GetHistogram()
			require.EqualValues(t, 3, h.GetSampleCount())
			require.InDelta(t, (6*time.Hour-time.Second).Seconds()*2+(6*time.Hour).Seconds(), h.GetSampleSum(), 0.001)
		}
	}
}

// metricValue sums the counter series of a metric.
func metricValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			sum := 0.0
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
			return sum
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

func TestCacheKeysByAgentAndPhone(t *testing.T) {
	t.Parallel()
	cache := rcs.NewCapabilityCache(rcs.CacheConfig{})
	ck := &checker{}
	ctx := context.Background()
	for _, agent := range []string{"a1", "a2", "a1"} {
		_, _, err := cache.Lookup(ctx, agent, phone, ck.check)
		require.NoError(t, err)
	}
	require.EqualValues(t, 2, ck.calls.Load())
}

func TestCacheDoesNotRememberErrors(t *testing.T) {
	t.Parallel()
	cache := rcs.NewCapabilityCache(rcs.CacheConfig{})
	ck := &checker{err: errors.New("rbm unreachable")}
	ctx := context.Background()
	_, _, err := cache.Lookup(ctx, "acme_agent", phone, ck.check)
	require.ErrorContains(t, err, "unreachable")
	ck.err = nil
	cp, cached, err := cache.Lookup(ctx, "acme_agent", phone, ck.check)
	require.NoError(t, err)
	require.False(t, cached)
	require.True(t, cp.Capable)
	require.EqualValues(t, 2, ck.calls.Load())
}

func TestCacheSingleFlight(t *testing.T) {
	t.Parallel()
	cache := rcs.NewCapabilityCache(rcs.CacheConfig{})
	ck := &checker{gate: make(chan struct{})}
	ctx := context.Background()
	const n = 20
	var wg sync.WaitGroup
	results := make(chan bool, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cp, _, err := cache.Lookup(ctx, "acme_agent", phone, ck.check)
			results <- err == nil && cp.Capable
		}()
	}
	deadline := time.Now().Add(5 * time.Second)
	for ck.calls.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(ck.gate)
	wg.Wait()
	close(results)
	for ok := range results {
		require.True(t, ok)
	}
	require.EqualValues(t, 1, ck.calls.Load())
}

func TestCacheWaiterAsksAgainWhenTheAskerGivesUp(t *testing.T) {
	t.Parallel()
	cache := rcs.NewCapabilityCache(rcs.CacheConfig{})
	ck := &checker{gate: make(chan struct{})}
	leaderCtx, cancel := context.WithCancel(context.Background())
	leaderDone := make(chan error, 1)
	go func() {
		_, _, err := cache.Lookup(leaderCtx, "acme_agent", phone, ck.check)
		leaderDone <- err
	}()
	for ck.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	waiterDone := make(chan error, 1)
	go func() {
		_, _, err := cache.Lookup(context.Background(), "acme_agent", phone, ck.check)
		waiterDone <- err
	}()
	time.Sleep(5 * time.Millisecond) // let the waiter join the flight (harmless if it does not)
	cancel()
	require.ErrorIs(t, <-leaderDone, context.Canceled)
	close(ck.gate)
	require.NoError(t, <-waiterDone)
}

func TestCacheLearnsFromTraffic(t *testing.T) {
	t.Parallel()
	clock := newClock()
	cache := rcs.NewCapabilityCache(rcs.CacheConfig{NowFunc: clock.Now})
	ck := &checker{capable: capableExcept(phone)}
	ctx := context.Background()
	lookup := func() (rcs.Capability, bool) {
		t.Helper()
		cp, cached, err := cache.Lookup(ctx, "acme_agent", phone, ck.check)
		require.NoError(t, err)
		return cp, cached
	}
	cp, _ := lookup()
	require.False(t, cp.Capable)

	// An RCS event from the phone: capable from now on, without asking.
	clock.Advance(time.Minute)
	cache.MarkCapable("acme_agent", phone)
	cp, cached := lookup()
	require.True(t, cached)
	require.Equal(t, rcs.Capability{Capable: true, Features: []string{}, CheckedAt: clock.Now()}, cp)
	require.EqualValues(t, 1, ck.calls.Load())

	// A 404 at send time: ask again.
	cache.MarkStale(phone)
	cp, cached = lookup()
	require.False(t, cached)
	require.False(t, cp.Capable)
	require.EqualValues(t, 2, ck.calls.Load())

	// Erasure forgets the phone.
	cache.Forget(phone)
	require.Zero(t, cache.Len())
	_, cached = lookup()
	require.False(t, cached)
	require.EqualValues(t, 3, ck.calls.Load())

	// An event for an agent never asked about creates its entry.
	cache.MarkCapable("other_agent", "+33600000009")
	cp, cached, err := cache.Lookup(ctx, "other_agent", "+33600000009", ck.check)
	require.NoError(t, err)
	require.True(t, cached)
	require.True(t, cp.Capable)
	require.EqualValues(t, 3, ck.calls.Load())
}

func TestCacheBoundedLRU(t *testing.T) {
	t.Parallel()
	cache := rcs.NewCapabilityCache(rcs.CacheConfig{MaxEntries: 2})
	ck := &checker{}
	ctx := context.Background()
	look := func(p string) bool {
		_, cached, err := cache.Lookup(ctx, "a", p, ck.check)
		require.NoError(t, err)
		return cached
	}
	look("+33600000001")
	look("+33600000002")
	require.True(t, look("+33600000001")) // 1 is now the most recently used
	look("+33600000003")                  // evicts 2
	require.Equal(t, 2, cache.Len())
	require.True(t, look("+33600000001"))
	require.True(t, look("+33600000003"))
	require.False(t, look("+33600000002"))
}

func TestCacheReturnsCopies(t *testing.T) {
	t.Parallel()
	cache := rcs.NewCapabilityCache(rcs.CacheConfig{})
	ck := &checker{}
	cp, _, err := cache.Lookup(context.Background(), "a", phone, ck.check)
	require.NoError(t, err)
	cp.Features[0] = "MUTATED"
	cp, _, err = cache.Lookup(context.Background(), "a", phone, ck.check)
	require.NoError(t, err)
	require.Equal(t, []string{rcs.FeatureRichCardStandalone}, cp.Features)
}
