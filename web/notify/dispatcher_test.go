package notify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"gateway/unify"
	"gateway/web/notify"
)

// memStore is an in-memory outbox with the semantics the SQL store has:
// only the oldest undelivered event of a key is ever claimable, only when it
// is due and not leased.
type memStore struct {
	mu        sync.Mutex
	events    []*memEvent // in creation order
	byID      map[string]*memEvent
	bySeq     map[int64]*memEvent
	claims    int
	claimErrs int // fail this many ClaimEvents calls first
	// olderAsked counts the questions a handoff asked of the store (see store).
	olderAsked int
	// afterDelivered, when set, runs once EventsDelivered has marked its
	// events (outside the lock): the moment a claim may run before the
	// caller learns the outcome.
	afterDelivered func()
	next           int
	seq            int64 // the last seq given (see insertLocked)
}

type memEvent struct {
	ev          unify.OutboxEvent
	delivered   int // times marked delivered
	nextAt      time.Time
	owner       string
	leaseUntil  time.Time
	claimed     int
	failures    []failure
	deliveredAt time.Time
}

type failure struct {
	err    string
	nextAt time.Time
}

func newMemStore() *memStore {
	return &memStore{byID: map[string]*memEvent{}, bySeq: map[int64]*memEvent{}}
}

// add queues an event of key created at the given time; its body names the key
// so that the receiver can tell keys apart.
func (s *memStore) add(key string, created time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	id := fmt.Sprintf("evt_%03d", s.next)
	body, _ := json.Marshal(map[string]string{"type": unify.EventStatus, "id": id, "message_id": key})
	s.insertLocked(&memEvent{ev: unify.OutboxEvent{ID: id, Key: key, Type: unify.EventStatus, Body: body, CreatedAt: created}, nextAt: created})
	return id
}

// insertLocked stores e, giving it its seq as the SQL store does; s.mu is
// held.
func (s *memStore) insertLocked(e *memEvent) {
	s.seq++
	e.ev.Seq = s.seq
	s.events = append(s.events, e)
	s.byID[e.ev.ID] = e
	s.bySeq[e.ev.Seq] = e
}

func (s *memStore) ClaimEvents(_ context.Context, owner string, now, leaseUntil time.Time, limit int) ([]unify.OutboxEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.claims++
	if s.claimErrs > 0 {
		s.claimErrs--
		return nil, errors.New("memstore: database is locked")
	}
	var out []unify.OutboxEvent
	seen := map[string]bool{}
	for _, e := range s.events {
		if e.delivered > 0 || seen[e.ev.Key] {
			continue
		}
		seen[e.ev.Key] = true // later events of this key wait for this one
		if e.nextAt.After(now) || e.leaseUntil.After(now) || len(out) == limit {
			continue
		}
		e.owner, e.leaseUntil = owner, leaseUntil
		e.claimed++
		out = append(out, e.ev)
	}
	return out, nil
}

func (s *memStore) EventsDelivered(_ context.Context, at time.Time, seqs ...int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, seq := range seqs {
		if _, ok := s.bySeq[seq]; !ok {
			return fmt.Errorf("memstore: no event %d", seq)
		}
	}
	for _, seq := range seqs {
		e := s.bySeq[seq]
		e.delivered++
		e.deliveredAt = at
		e.owner, e.leaseUntil = "", time.Time{}
	}
	if hook := s.afterDelivered; hook != nil {
		s.mu.Unlock()
		hook()
		s.mu.Lock()
	}
	return nil
}

func (s *memStore) EventFailed(_ context.Context, seq int64, errText string, nextAt time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.bySeq[seq]
	if !ok {
		return fmt.Errorf("memstore: no event %d", seq)
	}
	e.ev.Attempts++
	e.failures = append(e.failures, failure{errText, nextAt})
	e.nextAt = nextAt
	e.owner, e.leaseUntil = "", time.Time{}
	return nil
}

func (s *memStore) ReleaseEvents(_ context.Context, owner string, seqs ...int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, seq := range seqs {
		if e, ok := s.bySeq[seq]; ok && e.owner == owner {
			e.owner, e.leaseUntil = "", time.Time{}
		}
	}
	return nil
}

func (s *memStore) event(id string) memEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := *s.byID[id]
	e.failures = slices.Clone(e.failures)
	return e
}

func (s *memStore) delivered(ids ...string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if s.byID[id].delivered == 0 {
			return false
		}
	}
	return true
}

// leased counts the events claimed and not yet settled.
func (s *memStore) leased() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, e := range s.events {
		if e.owner != "" && e.delivered == 0 {
			n++
		}
	}
	return n
}

func (s *memStore) claimCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.claims
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// receiver is the unified back end's webhook: it records every request and
// answers what status decides (which may block).
type receiver struct {
	mu      sync.Mutex
	got     []received
	cur     int
	maxCur  int
	perKey  map[string]int
	maxKey  int
	status  func(r received, req *http.Request) int
	srv     *httptest.Server
	secret  string
	badSigs int
}

type received struct {
	ID, Type, Key, Sig, UA, CT string
	Body                       []byte
}

func newReceiver(t testing.TB, secret string, status func(received, *http.Request) int) *receiver {
	t.Helper()
	rc := &receiver{status: status, perKey: map[string]int{}, secret: secret}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	var b struct {
		Key string `json:"message_id"`
	}
	_ = json.Unmarshal(body, &b)
	r := received{
		ID: req.Header.Get("X-Gateway-Event-Id"), Type: req.Header.Get("X-Gateway-Event-Type"),
		Key: b.Key, Sig: req.Header.Get("X-Gateway-Signature"), UA: req.UserAgent(),
		CT: req.Header.Get("Content-Type"), Body: body,
	}
	rc.mu.Lock()
	rc.got = append(rc.got, r)
	if !notify.Verify(rc.secret, body, r.Sig) {
		rc.badSigs++
	}
	rc.cur++
	rc.maxCur = max(rc.maxCur, rc.cur)
	rc.perKey[r.Key]++
	rc.maxKey = max(rc.maxKey, rc.perKey[r.Key])
	rc.mu.Unlock()

	code := http.StatusOK
	if rc.status != nil {
		code = rc.status(r, req)
	}

	rc.mu.Lock()
	rc.cur--
	rc.perKey[r.Key]--
	rc.mu.Unlock()
	if code/100 == 3 {
		w.Header().Set("Location", "/elsewhere")
	}
	w.WriteHeader(code)
	_, _ = io.WriteString(w, "answer\nfrom receiver")
}

func (rc *receiver) ids() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	ids := make([]string, len(rc.got))
	for i, r := range rc.got {
		ids[i] = r.ID
	}
	return ids
}

func (rc *receiver) inFlight() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.cur
}

type bundle struct {
	store *memStore
	clock *clock
	recv  *receiver
	reg   *prometheus.Registry
	logs  *syncBuffer
	cfg   notify.Config
}

const secret = "s3cret"

func setup(t testing.TB, status func(received, *http.Request) int) *bundle {
	t.Helper()
	b := &bundle{
		store: newMemStore(),
		clock: &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)},
		recv:  newReceiver(t, secret, status),
		reg:   prometheus.NewRegistry(),
		logs:  &syncBuffer{},
	}
	b.cfg = notify.Config{
		URL:          b.recv.srv.URL + "/events",
		Secret:       secret,
		PollInterval: 10 * time.Millisecond,
		Owner:        "test-instance",
		NowFunc:      b.clock.Now,
		Logger:       slog.New(slog.NewTextHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Registerer:   b.reg,
	}
	return b
}

// start runs a dispatcher for b.cfg until the test ends; stop (also called
// at cleanup) cancels it and waits for Run to return.
func (b *bundle) start(t testing.TB) (d *notify.Dispatcher, stop func()) {
	t.Helper()
	d = notify.New(b.cfg, b.store)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(5 * time.Second):
				t.Fatal("Run did not return after its context was cancelled")
			}
		})
	}
	t.Cleanup(stop)
	return d, stop
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func eventually(t testing.TB, cond func() bool, what string, dump ...func() string) {
	t.Helper()
	if !assertEventually(cond) {
		for _, f := range dump {
			t.Log(f())
		}
		t.Fatalf("condition never satisfied: %s", what)
	}
}

func assertEventually(cond func() bool) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

func metricValue(t testing.TB, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount())
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			}
		}
	}
	return 0
}

func TestDeliversSignedEvent(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	id := b.store.add("msg_1", b.clock.Now().Add(-3*time.Second))
	b.start(t)

	eventually(t, func() bool { return b.store.delivered(id) }, "event delivered")
	b.recv.mu.Lock()
	require.Len(t, b.recv.got, 1)
	got := b.recv.got[0]
	require.Zero(t, b.recv.badSigs)
	b.recv.mu.Unlock()

	e := b.store.event(id)
	require.Equal(t, e.ev.Body, got.Body, "body sent byte for byte")
	require.Equal(t, notify.Sign(secret, e.ev.Body), got.Sig)
	require.True(t, notify.Verify(secret, got.Body, got.Sig))
	require.False(t, notify.Verify("other", got.Body, got.Sig))
	require.Equal(t, id, got.ID)
	require.Equal(t, unify.EventStatus, got.Type)
	require.Equal(t, "application/json", got.CT)
	require.Equal(t, notify.DefaultUserAgent, got.UA)
	require.Equal(t, b.clock.Now(), e.deliveredAt)
	require.Equal(t, 1, e.delivered)

	require.Equal(t, 1.0, metricValue(t, b.reg, "gateway_webhook_events_delivered_total", map[string]string{"type": unify.EventStatus}))
	require.Equal(t, 1.0, metricValue(t, b.reg, "gateway_webhook_event_age_seconds", nil))
	require.Equal(t, 1.0, metricValue(t, b.reg, "gateway_webhook_post_duration_seconds", nil))
}

func TestRetriesWithBackoffInOrder(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	fails := 3
	var first string
	b := setup(t, func(r received, _ *http.Request) int {
		mu.Lock()
		defer mu.Unlock()
		if r.ID == first && fails > 0 {
			fails--
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	now := b.clock.Now()
	mu.Lock()
	first = b.store.add("msg_1", now.Add(-3*time.Second))
	mu.Unlock()
	second := b.store.add("msg_1", now.Add(-2*time.Second))
	third := b.store.add("msg_1", now.Add(-time.Second))
	b.start(t)

	for try := 1; try <= 3; try++ {
		eventually(t, func() bool { return len(b.store.event(first).failures) == try }, fmt.Sprintf("failure %d recorded", try))
		f := b.store.event(first).failures[try-1]
		require.Contains(t, f.err, "503")
		wait := f.nextAt.Sub(b.clock.Now())
		require.GreaterOrEqual(t, wait, notify.Backoff(try, 0), "try %d", try)
		require.LessOrEqual(t, wait, notify.Backoff(try, 1), "try %d", try)
		// Not due yet: nothing of this key may be sent before the clock
		// reaches the retry time.
		require.Equal(t, try, len(b.recv.ids()))
		b.clock.Advance(wait)
	}
	eventually(t, func() bool { return b.store.delivered(first, second, third) }, "all delivered")
	require.Equal(t, []string{first, first, first, first, second, third}, b.recv.ids())
	require.Equal(t, 3, b.store.event(first).ev.Attempts)
	require.Equal(t, 1, b.store.event(first).delivered)
	require.Equal(t, 3.0, metricValue(t, b.reg, "gateway_webhook_events_failed_total",
		map[string]string{"type": unify.EventStatus, "reason": "http_5xx"}))
	require.Equal(t, 3.0, metricValue(t, b.reg, "gateway_webhook_events_delivered_total", map[string]string{"type": unify.EventStatus}))
}

func TestBlockedKeyDoesNotHoldOthers(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	accept := false
	b := setup(t, func(r received, _ *http.Request) int {
		mu.Lock()
		defer mu.Unlock()
		if r.Key == "msg_a" && !accept {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	now := b.clock.Now().Add(-time.Minute)
	a1 := b.store.add("msg_a", now)
	b1 := b.store.add("msg_b", now.Add(time.Second))
	a2 := b.store.add("msg_a", now.Add(2*time.Second))
	b2 := b.store.add("msg_b", now.Add(3*time.Second))
	b3 := b.store.add("msg_b", now.Add(4*time.Second))
	d, _ := b.start(t)

	eventually(t, func() bool { return b.store.delivered(b1, b2, b3) && len(b.store.event(a1).failures) == 1 }, "b delivered, a1 failed",
		b.logs.String)
	// Let a few more polls go by: a1 is not due, a2 waits behind it.
	calls := b.store.claimCalls()
	eventually(t, func() bool { return b.store.claimCalls() > calls+3 }, "more polls")
	require.Equal(t, 0, b.store.event(a2).claimed, "a2 must wait for a1")
	require.Equal(t, 1, b.store.event(a1).claimed, "a1 retried before it was due")
	var order []string
	for _, id := range b.recv.ids() {
		if id != a1 {
			order = append(order, id)
		}
	}
	require.Equal(t, []string{b1, b2, b3}, order)

	mu.Lock()
	accept = true
	mu.Unlock()
	b.clock.Advance(notify.MaxBackoff)
	d.Wake()
	eventually(t, func() bool { return b.store.delivered(a1, a2) }, "a delivered")
	ids := b.recv.ids()
	require.Less(t, slices.Index(ids, a1), slices.Index(ids, a2))
	require.Equal(t, []string{a1, a1}, slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return id != a1 }))
}

func TestConcurrencyBound(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var once sync.Once
	open := func() { once.Do(func() { close(release) }) }
	b := setup(t, func(_ received, r *http.Request) int {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return http.StatusOK
	})
	t.Cleanup(open)
	b.cfg.Concurrency = 3
	created := b.clock.Now().Add(-time.Minute)
	var ids []string
	for i := range 60 {
		ids = append(ids, b.store.add(fmt.Sprintf("msg_%d", i), created))
	}
	// A second event of a key already in the first batch.
	ids = append(ids, b.store.add("msg_0", created.Add(time.Second)))
	b.start(t)

	eventually(t, func() bool { return b.recv.inFlight() == 3 }, "three POSTs in flight")
	eventually(t, func() bool { return b.store.leased() == 48 }, "sixteen times the POST slots claimed ahead")
	require.Never(t, func() bool { return b.recv.inFlight() > 3 || b.store.leased() > 48 },
		50*time.Millisecond, 2*time.Millisecond)
	open()
	eventually(t, func() bool { return b.store.delivered(ids...) }, "all delivered")
	b.recv.mu.Lock()
	defer b.recv.mu.Unlock()
	require.Equal(t, 3, b.recv.maxCur)
	require.Equal(t, 1, b.recv.maxKey, "two events of one key in flight at once")
	require.Len(t, b.recv.got, len(ids))
}

// A claim that runs between the store recording a delivery and the
// dispatcher learning of it meets the key's next event: that event must be
// sent, not skipped for a whole lease (the test's clock never lets a lease
// run out).
func TestClaimWhileADeliveryIsRecorded(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	var ids []string
	for i := range 5 {
		key := fmt.Sprintf("msg_%d", i)
		ids = append(ids, b.store.add(key, b.clock.Now()), b.store.add(key, b.clock.Now()))
	}
	var d *notify.Dispatcher
	ready := make(chan struct{})
	b.store.afterDelivered = func() {
		<-ready
		d.Wake()
		time.Sleep(20 * time.Millisecond) // the claim runs now
	}
	d, _ = b.start(t)
	close(ready)
	eventually(t, func() bool { return b.store.delivered(ids...) }, "every event delivered")
	require.NotContains(t, b.logs.String(), "cannot be sent now")
}

func TestWakePollsAtOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.cfg.PollInterval = time.Hour
	d, _ := b.start(t)
	eventually(t, func() bool { return b.store.claimCalls() >= 1 }, "first poll")
	id := b.store.add("msg_1", b.clock.Now())
	d.Wake()
	d.Wake() // merged with the first, never blocks
	eventually(t, func() bool { return b.store.delivered(id) }, "delivered after Wake")
}

func TestStatusOutcomes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		status    func(*http.Request) int
		delivered bool
		reason    string
		errText   string
	}{
		{"200", func(*http.Request) int { return 200 }, true, "", ""},
		{"202", func(*http.Request) int { return 202 }, true, "", ""},
		{"204", func(*http.Request) int { return 204 }, true, "", ""},
		{"redirect is not followed", func(*http.Request) int { return 307 }, false, "http_other", "307 Temporary Redirect"},
		{"400", func(*http.Request) int { return 400 }, false, "http_4xx", "400 Bad Request: answer from receiver"},
		{"410", func(*http.Request) int { return 410 }, false, "http_4xx", "410 Gone"},
		{"500", func(*http.Request) int { return 500 }, false, "http_5xx", "500 Internal Server Error"},
		{"timeout", func(r *http.Request) int { <-r.Context().Done(); return 200 }, false, "timeout", "no answer within 100ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(_ received, r *http.Request) int {
				if r.URL.Path == "/elsewhere" {
					return 200 // reached only if a redirect were followed
				}
				return tc.status(r)
			})
			b.cfg.Timeout = 100 * time.Millisecond
			id := b.store.add("msg_1", b.clock.Now())
			b.start(t)
			if tc.delivered {
				eventually(t, func() bool { return b.store.delivered(id) }, "delivered")
				require.Empty(t, b.store.event(id).failures)
				return
			}
			eventually(t, func() bool { return len(b.store.event(id).failures) == 1 }, "failure recorded")
			e := b.store.event(id)
			require.Zero(t, e.delivered)
			require.Contains(t, e.failures[0].err, tc.errText)
			require.NotContains(t, e.failures[0].err, "\n")
			require.Equal(t, 1.0, metricValue(t, b.reg, "gateway_webhook_events_failed_total",
				map[string]string{"type": unify.EventStatus, "reason": tc.reason}))
		})
	}
}

func TestNoURLKeepsEventsQueued(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.cfg.URL = ""
	b.store.add("msg_1", b.clock.Now())
	_, stop := b.start(t)
	eventually(t, func() bool { return strings.Contains(b.logs.String(), "no webhook url") }, "warning logged")
	stop()
	require.Zero(t, b.store.claimCalls())
	require.Equal(t, 1, strings.Count(b.logs.String(), "no webhook url"))
}

func TestStoreErrorsAreRetriedAndLoggedOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.store.claimErrs = 4
	id := b.store.add("msg_1", b.clock.Now())
	b.start(t)
	eventually(t, func() bool { return b.store.delivered(id) }, "delivered once the store recovers")
	logs := b.logs.String()
	require.Equal(t, 1, strings.Count(logs, "claiming events failed"), logs)
	require.Equal(t, 1, strings.Count(logs, "claiming events works again"), logs)
}

// TestShutdownReleasesAndRestartResumes is not parallel: it counts goroutines.
func TestShutdownReleasesAndRestartResumes(t *testing.T) {
	before := runtime.NumGoroutine()
	var mu sync.Mutex
	hang := true
	b := setup(t, func(_ received, r *http.Request) int {
		mu.Lock()
		h := hang
		mu.Unlock()
		if h {
			<-r.Context().Done()
		}
		return http.StatusOK
	})
	id := b.store.add("msg_1", b.clock.Now().Add(-time.Second))
	later := b.store.add("msg_1", b.clock.Now())
	_, stop := b.start(t)
	eventually(t, func() bool { return b.recv.inFlight() == 1 }, "POST in flight")
	stop()

	e := b.store.event(id)
	require.Zero(t, e.delivered)
	require.Len(t, e.failures, 1, "the interrupted event is handed back")
	require.Equal(t, b.clock.Now(), e.failures[0].nextAt, "due at once, not after a back-off")
	require.Zero(t, b.store.event(later).claimed)
	require.Zero(t, metricValue(t, b.reg, "gateway_webhook_events_failed_total",
		map[string]string{"type": unify.EventStatus, "reason": "timeout"}))

	eventually(t, func() bool { return b.recv.inFlight() == 0 }, "receiver done: the shutdown closed the connection under the POST")
	// Only the receiver's accept loop may remain: the dispatcher and its
	// HTTP connections must leave nothing behind.
	// Polled by hand: require.Eventually runs its condition on a goroutine
	// of its own, which would be counted.
	for deadline := time.Now().Add(5 * time.Second); goroutinesBut(fasthttpConnsCleaner) > before+1; {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines left behind: %d before, %d now\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(time.Millisecond)
	}

	// A new instance (same store, as after a restart) carries on in order.
	mu.Lock()
	hang = false
	mu.Unlock()
	b.cfg.Owner = "restarted"
	b.start(t)
	eventually(t, func() bool { return b.store.delivered(id, later) }, "delivered after restart")
	ids := b.recv.ids()
	require.Equal(t, []string{id, id, later}, ids)
}

// fasthttpConnsCleaner is the goroutine fasthttp starts with a client's
// first connection. It sleeps on a timer of its own and ends at its next
// wake-up once no connection is left, which the shutdown made sure of.
const fasthttpConnsCleaner = "fasthttp.(*HostClient).connsCleaner"

// goroutinesBut counts the goroutines whose stack does not mention except.
func goroutinesBut(except string) int {
	buf := make([]byte, 1<<20)
	stacks := strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n")
	n := 0
	for _, st := range stacks {
		if !strings.Contains(st, except) {
			n++
		}
	}
	return n
}

func TestSignVerify(t *testing.T) {
	t.Parallel()
	body := []byte("The quick brown fox jumps over the lazy dog")
	// HMAC-SHA256 test vector (key "key"), as published for the algorithm.
	const want = "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
	require.Equal(t, want, notify.Sign("key", body))
	for _, tc := range []struct {
		name   string
		secret string
		body   []byte
		header string
		ok     bool
	}{
		{"valid", "key", body, want, true},
		{"upper-case hex", "key", body, "sha256=" + strings.ToUpper(want[7:]), true},
		{"surrounding space", "key", body, " " + want + " ", true},
		{"wrong secret", "other", body, want, false},
		{"tampered body", "key", append(slices.Clone(body), '.'), want, false},
		{"no prefix", "key", body, want[7:], false},
		{"other algorithm", "key", body, "sha1=" + want[7:], false},
		{"truncated", "key", body, want[:len(want)-2], false},
		{"not hex", "key", body, "sha256=" + strings.Repeat("zz", 32), false},
		{"empty", "key", body, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.ok, notify.Verify(tc.secret, tc.body, tc.header))
		})
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		tries  int
		jitter float64
		want   time.Duration
	}{
		{0, 0.5, time.Second},
		{1, 0.5, time.Second},
		{1, 0, 750 * time.Millisecond},
		{1, 1, 1250 * time.Millisecond},
		{2, 0.5, 2 * time.Second},
		{3, 0.5, 4 * time.Second},
		{8, 0.5, 128 * time.Second},
		{9, 0.5, 256 * time.Second},
		{9, 1, notify.MaxBackoff},
		{10, 0.5, notify.MaxBackoff},
		{10, 0, 225 * time.Second},
		{1000, 0.5, notify.MaxBackoff},
		{3, -1, 3 * time.Second},
		{3, 7, 5 * time.Second},
	} {
		t.Run(fmt.Sprintf("%d/%v", tc.tries, tc.jitter), func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, notify.Backoff(tc.tries, tc.jitter))
		})
	}
}

func TestStatusErrorText(t *testing.T) {
	t.Parallel()
	err := error(&notify.StatusError{Code: 502, Body: "upstream down"})
	require.Equal(t, "notify: webhook answered 502 Bad Gateway: upstream down", err.Error())
	var se *notify.StatusError
	require.True(t, errors.As(fmt.Errorf("wrapped: %w", err), &se))
	require.Equal(t, 502, se.Code)
}

func ExampleVerify() {
	// A receiver checks the signature over the raw body before parsing it.
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil || !notify.Verify("s3cret", body, r.Header.Get("X-Gateway-Signature")) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		// De-duplicate on X-Gateway-Event-Id: delivery is at least once.
		w.WriteHeader(http.StatusNoContent)
	})
	body := []byte(`{"type":"message.status","id":"evt_1"}`)
	req := httptest.NewRequest(http.MethodPost, "/events", bytes.NewReader(body))
	req.Header.Set("X-Gateway-Signature", notify.Sign("s3cret", body))
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	fmt.Println(rec.Code)
	// Output: 204
}

// An event claimed ahead that waited for a POST slot until its lease could
// run out during its own POST is handed back unsent and claimed again: a
// peer instance could otherwise send it at the same time.
func TestLeaseTooShortToPostIsHandedBack(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var first atomic.Bool
	b := setup(t, func(_ received, r *http.Request) int {
		if first.CompareAndSwap(false, true) {
			select { // the first POST holds the only slot
			case <-release:
			case <-r.Context().Done():
			}
		}
		return http.StatusOK
	})
	b.cfg.Concurrency = 1
	b.cfg.Timeout = 10 * time.Second
	b.cfg.Lease = 25 * time.Second
	created := b.clock.Now().Add(-time.Minute)
	a, c := b.store.add("msg_a", created), b.store.add("msg_b", created)
	b.start(t)
	eventually(t, func() bool { return b.recv.inFlight() == 1 && b.store.leased() == 2 }, "one POST, both claimed")
	b.clock.Advance(20 * time.Second) // the waiting event's lease now ends 5 s from now: less than a POST may take
	close(release)
	eventually(t, func() bool { return b.store.delivered(a, c) }, "both delivered")
	require.Len(t, b.recv.ids(), 2, "each event POSTed once")
	var reasons []string
	for _, f := range b.store.event(b.recv.ids()[1]).failures {
		reasons = append(reasons, f.err)
	}
	require.Equal(t, []string{"notify: lease too short to post; released"}, reasons)
}
