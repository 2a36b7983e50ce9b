package smpp_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"gateway/carriers/sim"
	"gateway/sms/smpp"
)

// fakeSlots is the shared store of bind slots that several gateway
// instances (links) lease from; each link sees it through a view with its
// own owner name.
type fakeSlots struct {
	mu       sync.Mutex
	holders  map[int]string       // slot → owner
	members  map[string]time.Time // owner → last seen
	ttl      time.Duration        // of memberships
	renewErr map[string]error     // owner → error its renewals get
	calls    map[string]int       // "owner op" → count
}

func newFakeSlots() *fakeSlots {
	return &fakeSlots{holders: map[int]string{}, members: map[string]time.Time{}, ttl: 300 * time.Millisecond,
		renewErr: map[string]error{}, calls: map[string]int{}}
}

func (f *fakeSlots) count(owner, op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[owner+" "+op]
}

func (f *fakeSlots) held(owner string) []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []int
	for slot, o := range f.holders {
		if o == owner {
			out = append(out, slot)
		}
	}
	return out
}

// steal gives slot to another owner, as if our lease had run out and
// another instance had taken it.
func (f *fakeSlots) steal(slot int, owner string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.holders[slot] = owner
}

func (f *fakeSlots) setRenewErr(owner string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.renewErr[owner] = err
}

// leaser is one instance's view: a SlotLeaser without SlotSharer.
type leaser struct {
	f     *fakeSlots
	owner string
}

func (l leaser) Acquire(_ context.Context, carrier string, slot int) (bool, error) {
	l.f.mu.Lock()
	defer l.f.mu.Unlock()
	l.f.calls[l.owner+" acquire"]++
	if err := l.f.renewErr[l.owner]; err != nil {
		return false, err
	}
	if h, ok := l.f.holders[slot]; ok && h != l.owner {
		return false, nil
	}
	if carrier != "test" {
		return false, fmt.Errorf("carrier %q", carrier)
	}
	l.f.holders[slot] = l.owner
	return true, nil
}

func (l leaser) Renew(_ context.Context, _ string, slot int) (bool, error) {
	l.f.mu.Lock()
	defer l.f.mu.Unlock()
	l.f.calls[l.owner+" renew"]++
	if err := l.f.renewErr[l.owner]; err != nil {
		return false, err
	}
	return l.f.holders[slot] == l.owner, nil
}

func (l leaser) Release(_ context.Context, _ string, slot int) error {
	l.f.mu.Lock()
	defer l.f.mu.Unlock()
	l.f.calls[l.owner+" release"]++
	if l.f.holders[slot] == l.owner {
		delete(l.f.holders, slot)
	}
	return nil
}

// sharer is a view that also counts the instances (SlotSharer).
type sharer struct{ leaser }

func (s sharer) Sharers(_ context.Context, _ string) (int, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	now := time.Now()
	s.f.members[s.owner] = now
	n := 0
	for o, seen := range s.f.members {
		if now.Sub(seen) < s.f.ttl {
			n++
		} else {
			delete(s.f.members, o)
		}
	}
	return n, nil
}

func (s sharer) Leave(_ context.Context, _ string) error {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	s.f.calls[s.owner+" leave"]++
	delete(s.f.members, s.owner)
	return nil
}

var (
	_ smpp.SlotLeaser = leaser{}
	_ smpp.SlotSharer = sharer{}
)

func slotConfig(addr string, binds int, slots smpp.SlotLeaser) smpp.Config {
	cfg := testConfig(addr)
	cfg.Binds, cfg.TPS = binds, 1000
	cfg.Slots = slots
	cfg.SlotRenew = 50 * time.Millisecond
	return cfg
}

func upBinds(l *smpp.Link) (up, held int) {
	for _, b := range l.Status().Binds {
		if b.Up {
			up++
		}
		if b.Held {
			held++
		}
	}
	return up, held
}

func waitUp(tb testing.TB, l *smpp.Link, want int, what string) {
	tb.Helper()
	eventually(tb, 10*time.Second, func() bool { up, _ := upBinds(l); return up == want }, what)
}

// TestSlotsLimitBindsAcrossInstances runs two instances of a two-bind
// carrier: the first takes both slots, the second binds only once the first
// closes, and the SMSC never sees more than two binds.
func TestSlotsLimitBindsAcrossInstances(t *testing.T) {
	t.Parallel()
	s := startSim(t, sim.Config{MaxBinds: 2})
	f := newFakeSlots()
	a := smpp.New(slotConfig(s.SMPPAddr(), 2, leaser{f, "a"}), nil, nil, nil)
	a.Open()
	t.Cleanup(func() { _ = a.Close() })
	waitUp(t, a, 2, "instance a holds both binds")
	b := openLink(t, slotConfig(s.SMPPAddr(), 2, leaser{f, "b"}), nil)
	eventually(t, 5*time.Second, func() bool { return f.count("b", "acquire") >= 4 }, "b asks for slots")
	up, held := upBinds(b)
	require.Zero(t, up)
	require.Zero(t, held)
	require.False(t, b.Ready())
	require.Equal(t, 2, s.Stats().Binds)

	// Without its part of the rate, the waiting instance sends nothing: its
	// submits wait for a bind.
	_, err := b.Submit(submitCtx(t, 100*time.Millisecond), textPart("33612345678", "early"))
	require.ErrorIs(t, err, smpp.ErrNotBound)

	require.NoError(t, a.Close())
	require.Empty(t, f.held("a"), "a closing releases its slots")
	waitUp(t, b, 2, "instance b takes both over")
	_, err = b.Submit(submitCtx(t, 5*time.Second), textPart("33612345678", "hi"))
	require.NoError(t, err)
	st := s.Stats()
	require.LessOrEqual(t, st.MaxBinds, 2)
	require.Zero(t, st.BindsRefused, "never a bind beyond the carrier's total")
}

// TestSlotsFairShare: with a SlotSharer, a second instance gets its share
// (the first hands a slot over, draining it: no submit is left with an
// unknown outcome), and the rate limit follows the slots held.
func TestSlotsFairShare(t *testing.T) {
	t.Parallel()
	s := startSim(t, sim.Config{MaxBinds: 2})
	f := newFakeSlots()
	a := openLink(t, slotConfig(s.SMPPAddr(), 2, sharer{leaser{f, "a"}}), nil)
	waitUp(t, a, 2, "a alone holds both binds")
	// The parts add up to TPS less one submit per second and bind of
	// headroom, for the one-submit bursts of each instance.
	require.Equal(t, 998.0, a.Status().RateLimit, "two slots of two: all of the shared TPS")

	// Keep a's windows busy while b arrives.
	stop := make(chan struct{})
	var unknown, failed atomic.Int32
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				_, err := a.Submit(submitCtx(t, 5*time.Second), textPart("33612345678", fmt.Sprintf("a%d-%d", w, i)))
				switch {
				case errors.Is(err, smpp.ErrUnknownOutcome):
					unknown.Add(1)
				case err != nil:
					failed.Add(1)
				}
			}
		}()
	}

	eventually(t, 5*time.Second, func() bool { return s.Stats().Accepted > 200 }, "traffic")
	b := openLink(t, slotConfig(s.SMPPAddr(), 2, sharer{leaser{f, "b"}}), nil)
	waitUp(t, b, 1, "b gets one slot")
	waitUp(t, a, 1, "a keeps one")
	close(stop)
	wg.Wait()
	require.Zero(t, unknown.Load(), "the slot was drained before it was handed over")
	require.Zero(t, failed.Load())
	require.Equal(t, 499.0, a.Status().RateLimit, "one slot of two: half")
	require.Equal(t, 499.0, b.Status().RateLimit)
	require.Len(t, f.held("a"), 1)
	require.Len(t, f.held("b"), 1)

	// b leaves: a grows back to both slots and the whole rate.
	require.NoError(t, b.Close())
	require.Equal(t, 1, f.count("b", "leave"))
	waitUp(t, a, 2, "a takes the slot b left")
	eventually(t, 5*time.Second, func() bool { return a.Status().RateLimit == 998 }, "all of it again")
	st := s.Stats()
	require.LessOrEqual(t, st.MaxBinds, 2)
	require.Zero(t, st.BindsRefused)
}

// TestSlotsLostOrUnrenewed: a slot taken by another instance closes its bind
// at once; a renewal that fails closes it too, and it comes back once the
// store answers again.
func TestSlotsLostOrUnrenewed(t *testing.T) {
	t.Parallel()
	s := startSim(t, sim.Config{})
	f := newFakeSlots()
	l := openLink(t, slotConfig(s.SMPPAddr(), 2, leaser{f, "a"}), nil)
	waitUp(t, l, 2, "both binds")

	f.steal(1, "z")
	waitUp(t, l, 1, "the stolen slot's bind closes")
	eventually(t, 5*time.Second, func() bool { return s.Stats().Binds == 1 }, "the SMSC sees it go")
	// The bind goes down before the slot is let go: wait for both.
	eventually(t, 5*time.Second, func() bool { _, held := upBinds(l); return held == 1 }, "one slot held")
	eventually(t, 5*time.Second, func() bool { return l.Status().RateLimit == 499.0 }, "the rate part shrinks with the slot")

	f.setRenewErr("a", errors.New("database unreachable"))
	waitUp(t, l, 0, "no bind without a renewed lease")
	f.setRenewErr("a", nil)
	waitUp(t, l, 1, "back once the store answers")
	require.Equal(t, []int{0}, f.held("a"))
	require.NoError(t, leaser{f, "z"}.Release(context.Background(), "test", 1))
	waitUp(t, l, 2, "the freed slot is taken again")
	require.Positive(t, f.count("a", "release"))
}
