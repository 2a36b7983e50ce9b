package notify_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"gateway/unify"
	"gateway/web/notify"
)

// put adds an event of key the way a store with a handoff does: it asks
// Reserve inside its transaction (older answering from what is stored),
// stores the event leased when the answer is yes, then commits, or rolls
// back when commit is false. It returns the event's id and the answer.
func (b *bundle) put(t *testing.T, d *notify.Dispatcher, key string, commit bool) (string, bool) {
	t.Helper()
	s := b.store
	s.mu.Lock()
	s.next++
	id := fmt.Sprintf("evt_%03d", s.next)
	s.mu.Unlock()
	body, _ := json.Marshal(map[string]string{"type": unify.EventStatus, "id": id, "message_id": key})
	ev := unify.OutboxEvent{ID: id, Key: key, Type: unify.EventStatus, Body: body, CreatedAt: b.clock.Now()}
	owner, until, ok, err := d.Reserve(ev, func() (bool, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.olderAsked++
		for _, e := range s.events {
			if e.ev.Key == key && e.delivered == 0 {
				return true, nil
			}
		}
		return false, nil
	})
	require.NoError(t, err)
	if !commit {
		if ok {
			d.Abandoned([]unify.OutboxEvent{ev})
		}
		return id, ok
	}
	s.mu.Lock()
	e := &memEvent{ev: ev, nextAt: ev.CreatedAt}
	if ok {
		e.owner, e.leaseUntil = owner, until
	}
	s.insertLocked(e)
	ev = e.ev // with its seq, as the store hands it over
	s.mu.Unlock()
	if ok {
		d.Committed([]unify.OutboxEvent{ev})
	} else {
		d.Wake()
	}
	return id, ok
}

func (s *memStore) olderQuestions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.olderAsked
}

// startIdle runs a dispatcher that polls once at start and then only when
// woken or when a settled event may have a follower in the store.
func (b *bundle) startIdle(t *testing.T) (*notify.Dispatcher, func()) {
	t.Helper()
	b.cfg.PollInterval = time.Hour
	d, stop := b.start(t)
	eventually(t, func() bool { return b.store.claimCalls() >= 1 }, "first poll")
	return d, stop
}

func TestHandedOverEventsNeedNoClaim(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	d, _ := b.startIdle(t)
	claims := b.store.claimCalls()

	d.NewKey("msg_new") // a new message: its first event needs no question
	var ids []string
	for _, key := range []string{"msg_new", "msg_1", "msg_2", "msg_1", "msg_new", "msg_1"} {
		id, ok := b.put(t, d, key, true)
		require.True(t, ok, "handed over: %s", key)
		ids = append(ids, id)
	}
	eventually(t, func() bool { return b.store.delivered(ids...) }, "all delivered")
	require.Equal(t, claims, b.store.claimCalls(), "no claim")
	require.Equal(t, 2, b.store.olderQuestions(), "asked the store for msg_1 and msg_2 only")
	require.Equal(t, 6.0, metricValue(t, b.reg, "gateway_webhook_events_handed_over_total", nil))
	require.Zero(t, b.recv.maxKey-1, "one POST of a key at a time")

	// Delivered, a key's next event needs no question either.
	id, ok := b.put(t, d, "msg_1", true)
	require.True(t, ok)
	eventually(t, func() bool { return b.store.delivered(id) }, "delivered")
	require.Equal(t, 2, b.store.olderQuestions())
	perKey := map[string][]string{}
	for _, r := range b.recv.got {
		perKey[r.Key] = append(perKey[r.Key], r.ID)
	}
	require.Equal(t, []string{ids[1], ids[3], ids[5], id}, perKey["msg_1"], "in the order stored")
}

func TestHandOverKeepsOrderThroughAFailure(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var first string
	fails := 1
	release := make(chan struct{})
	b := setup(t, func(r received, _ *http.Request) int {
		mu.Lock()
		failing := r.ID == first && fails > 0
		if failing {
			fails--
		}
		mu.Unlock()
		if failing {
			<-release // the next events of the key are handed over meanwhile
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	d, _ := b.startIdle(t)
	d.NewKey("msg_1")
	mu.Lock()
	first, _ = b.put(t, d, "msg_1", true)
	mu.Unlock()
	eventually(t, func() bool { return b.recv.inFlight() == 1 }, "first event posting")
	second, ok := b.put(t, d, "msg_1", true)
	require.True(t, ok, "a follower of an event in flight is handed over")
	close(release)

	eventually(t, func() bool { return len(b.store.event(first).failures) == 1 }, "failure recorded")
	eventually(t, func() bool { return b.store.leased() == 0 }, "the follower handed back")
	third, ok := b.put(t, d, "msg_1", true)
	require.False(t, ok, "after a failure the key's events wait in the store")
	require.Equal(t, []string{first}, b.recv.ids(), "nothing overtook the failed event")

	b.clock.Advance(time.Hour) // the retry is due
	d.Wake()
	eventually(t, func() bool { return b.store.delivered(first, second, third) }, "all delivered", func() string {
		return fmt.Sprint(b.recv.ids(), b.store.event(first), b.store.event(second), b.store.event(third), b.logs.String())
	})
	require.Equal(t, []string{first, first, second, third}, b.recv.ids())
	require.Equal(t, 1, b.store.event(second).claimed, "the follower was claimed once handed back")
}

func TestFullDispatcherLeavesEventsToClaims(t *testing.T) {
	t.Parallel()
	hold := make(chan struct{})
	b := setup(t, func(received, *http.Request) int {
		<-hold
		return http.StatusOK
	})
	b.cfg.Concurrency = 1 // notify.HandoffLimitPerPOST events handed over and unsettled at most
	d, _ := b.startIdle(t)
	var ids []string
	for i := range notify.HandoffLimitPerPOST {
		key := fmt.Sprintf("msg_%d", i%2)
		d.NewKey(key)
		id, ok := b.put(t, d, key, true)
		require.True(t, ok, "event %d", i)
		ids = append(ids, id)
	}
	id, ok := b.put(t, d, "msg_0", true)
	require.False(t, ok, "full")
	ids = append(ids, id)
	close(hold)
	// msg_0's later events must follow the one stored unleased.
	id, ok = b.put(t, d, "msg_0", true)
	require.False(t, ok, "the key went to the store")
	ids = append(ids, id)

	eventually(t, func() bool { return b.store.delivered(ids...) }, "all delivered")
	var got []string
	for _, r := range b.recv.got {
		if r.Key == "msg_0" {
			got = append(got, r.ID)
		}
	}
	want := []string{}
	for i, id := range ids {
		if i >= notify.HandoffLimitPerPOST || i%2 == 0 {
			want = append(want, id)
		}
	}
	require.Equal(t, want, got, "msg_0 in order")
}

func TestAbandonedReservationFreesItsPlace(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.cfg.Concurrency = 1
	d, _ := b.startIdle(t)
	for i := range 40 { // more than the 16 places, each given back
		key := fmt.Sprintf("msg_%d", i)
		d.NewKey(key)
		_, ok := b.put(t, d, key, false)
		require.True(t, ok, "reservation %d", i)
	}
	require.Empty(t, b.recv.ids())
}

func TestHandOverAfterStopGoesBackToTheStore(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	d, stop := b.startIdle(t)
	d.NewKey("msg_1")
	ev := unify.OutboxEvent{ID: "evt_late", Key: "msg_1", Type: unify.EventStatus, Body: []byte(`{}`), CreatedAt: b.clock.Now()}
	owner, until, ok, err := d.Reserve(ev, nil)
	require.NoError(t, err)
	require.True(t, ok)
	b.store.mu.Lock()
	e := &memEvent{ev: ev, nextAt: ev.CreatedAt, owner: owner, leaseUntil: until}
	b.store.insertLocked(e)
	b.store.mu.Unlock()

	stop() // the transaction commits as Run ends
	d.Committed([]unify.OutboxEvent{e.ev})
	eventually(t, func() bool { return b.store.leased() == 0 }, "handed back to the store")
	require.Empty(t, b.recv.ids())

	id, ok := b.put(t, d, "msg_2", true)
	require.False(t, ok, "nothing is reserved once Run has ended")
	require.False(t, b.store.delivered(id))
}
