package rcs

import (
	"container/list"
	"context"
	"errors"
	"sync"
	"time"
)

// Capability is what is known of a phone's RCS reachability for one agent.
type Capability struct {
	Capable bool `json:"capable"`
	// Features are RBM's feature names (RICHCARD_STANDALONE, ...); empty
	// when the phone is not capable or was learnt capable from traffic.
	Features  []string  `json:"features"`
	CheckedAt time.Time `json:"checked_at"`
}

// CheckFunc asks RBM about a phone: the features, or an error wrapping
// ErrNotRCS when the phone is not reachable. (*Client).Capabilities has this
// shape.
type CheckFunc func(ctx context.Context, phone, agentID string) ([]string, error)

// CacheConfig configures a CapabilityCache.
type CacheConfig struct {
	// PositiveTTL is how long "capable" is believed (default 24h).
	PositiveTTL time.Duration
	// NegativeTTL is how long "not capable" is believed (default 6h): a
	// person may turn RCS on, and a stale "no" costs an RCS message while a
	// stale "yes" only costs a failed attempt and a fallback.
	NegativeTTL time.Duration
	// MaxEntries bounds the memory used (default 100000); the least recently
	// used entries go first.
	MaxEntries int
	NowFunc    func() time.Time
	Metrics    *Metrics
}

// CapabilityCache remembers capability answers per (agent, phone) in memory,
// learns from traffic, and makes one RBM call at a time per key however many
// sends ask. It is safe for concurrent use.
type CapabilityCache struct {
	cfg CacheConfig

	mu       sync.Mutex
	lru      *list.List // of *cacheEntry, most recently used first
	byKey    map[cacheKey]*list.Element
	byPhone  map[string]map[string]*list.Element // phone → agent → entry
	inflight map[cacheKey]*flight
}

type cacheKey struct{ agent, phone string }

type cacheEntry struct {
	key   cacheKey
	cap   Capability
	stale bool
}

// flight is one RBM call that other lookups of the same key wait for.
type flight struct {
	done chan struct{}
	cap  Capability
	err  error
	drop bool // Forget was called meanwhile: do not remember the answer
}

// NewCapabilityCache builds an empty cache.
func NewCapabilityCache(cfg CacheConfig) *CapabilityCache {
	if cfg.PositiveTTL <= 0 {
		cfg.PositiveTTL = 24 * time.Hour
	}
	if cfg.NegativeTTL <= 0 {
		cfg.NegativeTTL = 6 * time.Hour
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = 100_000
	}
	if cfg.NowFunc == nil {
		cfg.NowFunc = time.Now
	}
	return &CapabilityCache{
		cfg: cfg, lru: list.New(),
		byKey:    map[cacheKey]*list.Element{},
		byPhone:  map[string]map[string]*list.Element{},
		inflight: map[cacheKey]*flight{},
	}
}

// Lookup answers from the cache when it holds a fresh entry for (agent,
// phone), and otherwise calls check once for all concurrent lookups of the
// key and remembers its answer. cached reports an answer from memory. A
// phone check says is not reachable is Capability{Capable: false} with a nil
// error; err is set only when the answer is unknown (RBM failed).
func (c *CapabilityCache) Lookup(ctx context.Context, agent, phone string, check CheckFunc) (cp Capability, cached bool, err error) {
	key := cacheKey{agent, phone}
	for {
		c.mu.Lock()
		if el, ok := c.byKey[key]; ok {
			e := el.Value.(*cacheEntry)
			now := c.cfg.NowFunc()
			if !e.stale && now.Sub(e.cap.CheckedAt) < c.ttl(e.cap) {
				c.lru.MoveToFront(el)
				cp = copyCap(e.cap)
				c.mu.Unlock()
				c.cfg.Metrics.hit(now.Sub(cp.CheckedAt))
				c.cfg.Metrics.lookup(outcome(cp, nil))
				return cp, true, nil
			}
		}
		if f, ok := c.inflight[key]; ok {
			c.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return Capability{}, false, ctx.Err()
			}
			if f.err != nil && isCanceled(f.err) && ctx.Err() == nil {
				continue // the caller that asked gave up; ask again for us
			}
			c.cfg.Metrics.miss()
			c.cfg.Metrics.lookup(outcome(f.cap, f.err))
			return copyCap(f.cap), false, f.err
		}
		f := &flight{done: make(chan struct{})}
		c.inflight[key] = f
		c.mu.Unlock()

		c.cfg.Metrics.miss()
		f.cap, f.err = c.ask(ctx, key, check)
		c.mu.Lock()
		delete(c.inflight, key)
		if f.err == nil && !f.drop {
			c.store(key, f.cap)
		}
		c.mu.Unlock()
		close(f.done)
		c.cfg.Metrics.lookup(outcome(f.cap, f.err))
		return copyCap(f.cap), false, f.err
	}
}

func (c *CapabilityCache) ask(ctx context.Context, key cacheKey, check CheckFunc) (Capability, error) {
	features, err := check(ctx, key.phone, key.agent)
	now := c.cfg.NowFunc()
	switch {
	case errors.Is(err, ErrNotRCS):
		return Capability{Features: []string{}, CheckedAt: now}, nil
	case err != nil:
		return Capability{}, err
	}
	if features == nil {
		features = []string{}
	}
	return Capability{Capable: true, Features: features, CheckedAt: now}, nil
}

func isCanceled(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

func outcome(cp Capability, err error) string {
	switch {
	case err != nil:
		return "error"
	case cp.Capable:
		return "capable"
	}
	return "not_capable"
}

func (c *CapabilityCache) ttl(cp Capability) time.Duration {
	if cp.Capable {
		return c.cfg.PositiveTTL
	}
	return c.cfg.NegativeTTL
}

func copyCap(cp Capability) Capability {
	if cp.Features != nil {
		cp.Features = append([]string{}, cp.Features...)
	}
	return cp
}

// store records an answer; c.mu is held.
func (c *CapabilityCache) store(key cacheKey, cp Capability) {
	if el, ok := c.byKey[key]; ok {
		e := el.Value.(*cacheEntry)
		e.cap, e.stale = cp, false
		c.lru.MoveToFront(el)
		return
	}
	el := c.lru.PushFront(&cacheEntry{key: key, cap: cp})
	c.byKey[key] = el
	agents := c.byPhone[key.phone]
	if agents == nil {
		agents = map[string]*list.Element{}
		c.byPhone[key.phone] = agents
	}
	agents[key.agent] = el
	for c.lru.Len() > c.cfg.MaxEntries {
		c.remove(c.lru.Back())
	}
	c.cfg.Metrics.setEntries(c.lru.Len())
}

// remove drops an entry; c.mu is held.
func (c *CapabilityCache) remove(el *list.Element) {
	e := c.lru.Remove(el).(*cacheEntry)
	delete(c.byKey, e.key)
	if agents := c.byPhone[e.key.phone]; agents != nil {
		delete(agents, e.key.agent)
		if len(agents) == 0 {
			delete(c.byPhone, e.key.phone)
		}
	}
	c.cfg.Metrics.setEntries(c.lru.Len())
}

// MarkStale makes the next lookup of the phone (for any agent) ask RBM
// again: a send got 404, so what the cache says is no longer true.
func (c *CapabilityCache) MarkStale(phone string) { c.markStale(phone, false) }

func (c *CapabilityCache) markStale(phone string, onlyCapable bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, el := range c.byPhone[phone] {
		e := el.Value.(*cacheEntry)
		if !onlyCapable || e.cap.Capable {
			e.stale = true
		}
	}
}

// MarkCapable records that the phone is reachable over RCS because an RCS
// event came from it: every entry of the phone becomes capable as of now,
// and agent (when not empty) gets an entry if it had none. Features already
// known are kept.
func (c *CapabilityCache) MarkCapable(agent, phone string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.NowFunc()
	for _, el := range c.byPhone[phone] {
		e := el.Value.(*cacheEntry)
		if !e.cap.Capable {
			e.cap.Features = []string{}
		}
		e.cap.Capable, e.cap.CheckedAt, e.stale = true, now, false
	}
	if _, ok := c.byKey[cacheKey{agent, phone}]; !ok && agent != "" {
		c.store(cacheKey{agent, phone}, Capability{Capable: true, Features: []string{}, CheckedAt: now})
	}
}

// Forget drops everything known about the phone (erasure of a subject).
func (c *CapabilityCache) Forget(phone string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, el := range c.byPhone[phone] {
		c.remove(el)
	}
	for k, f := range c.inflight {
		if k.phone == phone {
			f.drop = true
		}
	}
}

// Len is the number of entries held.
func (c *CapabilityCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}
