package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"gateway/internal/recency"
	"gateway/unify"
)

// Store is what the dispatcher needs from the outbox. The SQL store
// implements it; every method may be called from several goroutines at once.
type Store interface {
	// ClaimEvents returns up to limit events that are due (next attempt
	// time ≤ now), each the oldest undelivered event of its key, leased to
	// owner until leaseUntil so that another gateway instance does not send
	// it at the same time. An event whose key has an older undelivered
	// event, or that is leased to anyone until after now, is never
	// returned. It returns no events and no error when nothing is due.
	ClaimEvents(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]unify.OutboxEvent, error)
	// EventsDelivered marks events delivered, which makes the next event
	// of each of their keys eligible.
	EventsDelivered(ctx context.Context, at time.Time, seqs ...int64) error
	// EventFailed records a failed try (incrementing the event's attempts
	// and keeping errText as its last error), releases the lease and makes
	// the event due again at nextAt.
	EventFailed(ctx context.Context, seq int64, errText string, nextAt time.Time) error
	// ReleaseEvents ends owner's leases of events without counting a try:
	// they are due as they were, to be claimed in order.
	ReleaseEvents(ctx context.Context, owner string, seqs ...int64) error
}

// Config configures a Dispatcher. Zero values take the defaults noted.
type Config struct {
	// URL is the unified back end's webhook. Empty: Run delivers nothing
	// and events stay queued. Whether a plain-http URL is acceptable is
	// decided by the configuration layer, not here.
	URL string
	// Secret keys the HMAC-SHA256 of X-Gateway-Signature, and of
	// X-Hub-Signature-256 on Messenger and WhatsApp events (it stands for
	// Meta's app secret).
	Secret string
	// VerifyToken, when set, is the hub.verify_token of Meta's subscription
	// handshake, performed before the first Messenger or WhatsApp event (see
	// Render and verifySubscription). Empty: no handshake.
	VerifyToken string
	// Timeout bounds one POST, response included (default 10s).
	Timeout time.Duration
	// Concurrency bounds the POSTs in flight, each for a different key
	// (default 16). Up to sixteen times as many events are claimed ahead.
	Concurrency int
	// Pipeline, above 1, lets up to that many POSTs share a connection:
	// written together, answered in order (HTTP/1.1 pipelining; see
	// pipeline.go). Concurrency still bounds the POSTs in flight, over
	// Concurrency/Pipeline connections. Default 1: one POST at a time on
	// each connection.
	Pipeline int
	// PollInterval is how often the outbox is looked at when nothing wakes
	// the dispatcher (default 500ms). See Dispatcher.Wake.
	PollInterval time.Duration
	// Owner names this gateway instance in leases (default host name,
	// process id and a random suffix).
	Owner string
	// Lease is how long a claimed event is reserved for this instance
	// (default 60s). It is raised to twice Timeout if shorter, so that a
	// lease never runs out while its POST may still be in flight and a
	// peer instance sends the same event concurrently.
	Lease time.Duration
	// TLS configures https webhooks (default: the system's roots, the
	// URL's host name).
	TLS *tls.Config
	// UserAgent is sent with every POST (default "gateway-webhook/1").
	UserAgent string
	// NowFunc is the clock for due times, leases and event age (default
	// time.Now).
	NowFunc func() time.Time
	// Logger receives delivery failures and store errors (default
	// slog.Default()). Event bodies and secrets are never logged.
	Logger *slog.Logger
	// Registerer, when set, registers the dispatcher's metrics.
	Registerer prometheus.Registerer
}

// Defaults applied by New.
const (
	DefaultTimeout      = 10 * time.Second
	DefaultConcurrency  = 16
	DefaultPollInterval = 500 * time.Millisecond
	DefaultLease        = 60 * time.Second
	DefaultUserAgent    = "gateway-webhook/1"
)

// storeTimeout bounds recording a result. It is detached from Run's context
// so that a POST that completed while shutting down still gets recorded.
const storeTimeout = 5 * time.Second

// Dispatcher drains the outbox to the webhook. Build it with New and run it
// with Run; it is safe to call Wake from any goroutine.
type Dispatcher struct {
	cfg     Config
	store   Store
	log     *slog.Logger
	metrics *metrics
	wake    chan struct{}
	hub     hubState
	current atomic.Pointer[run] // the running Run, which takes hand-overs
	signer  *signer
	// client is nil when there is no URL; clientErr says what is wrong
	// with one that cannot be used, as the error of every delivery.
	client    *webhookClient
	clientErr error
}

// New returns a Dispatcher for cfg (with defaults filled in) over store.
func New(cfg Config, store Store) *Dispatcher {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	cfg.Pipeline = min(max(cfg.Pipeline, 1), cfg.Concurrency)
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	cfg.Lease = max(cfg.Lease, 2*cfg.Timeout)
	if cfg.Owner == "" {
		cfg.Owner = defaultOwner()
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	if cfg.NowFunc == nil {
		cfg.NowFunc = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	d := &Dispatcher{
		cfg:     cfg,
		store:   store,
		log:     log.With("component", "notify"),
		metrics: newMetrics(cfg.Registerer, log),
		wake:    make(chan struct{}, 1),
		signer:  newSigner(cfg.Secret),
	}
	if cfg.URL != "" {
		// One connection per POST worker: fewer would make workers wait,
		// more would never be used.
		d.client, d.clientErr = newWebhookClient(cfg.URL, cfg.UserAgent, cfg.Concurrency, cfg.Timeout, cfg.TLS)
	}
	return d
}

func defaultOwner() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "gateway"
	}
	return host + "-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatUint(rand.Uint64()&0xffffff, 36)
}

// Wake tells the dispatcher that new events may be waiting, so that it looks
// at the outbox now instead of at its next poll. It never blocks; wakes that
// arrive while one is pending are merged.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run delivers events until ctx is done, then cancels the POSTs in flight,
// hands their events back to the store (due at once) and returns nil. Store
// errors are logged and retried at the next poll, never returned: events are
// safe in the store meanwhile. Call it once per Dispatcher; several gateway
// instances sharing a store each run their own, kept apart by leases.
func (d *Dispatcher) Run(ctx context.Context) error {
	if d.cfg.URL == "" {
		d.log.Warn("notify: no webhook url configured; events stay queued until one is")
		<-ctx.Done()
		return nil
	}
	limit := prefetch * d.cfg.Concurrency
	handoffLimit := handoffShare * limit
	held := limit + handoffLimit // at most, settled or not: see claimSlots
	r := &run{
		d:            d,
		limit:        limit,
		handoffLimit: handoffLimit,
		keys:         make(map[string]*keyState, limit),
		clean:        recency.New[string, struct{}](cleanKeysKept),
		queue:        make(chan claimed, held),
		done:         make(chan struct{}, 1),
		ok:           make(chan unify.OutboxEvent, held),
	}
	if d.client != nil {
		// In-flight POSTs end with Run: fasthttp's requests take no context,
		// so their connections are closed under them.
		d.client.resume()
		defer context.AfterFunc(ctx, d.client.cut)()
	}
	recorded := make(chan struct{})
	go func() {
		defer close(recorded)
		r.recordDeliveries(ctx)
	}()
	// A fixed pool of POST workers rather than a goroutine per event: each
	// POST goes deep into the HTTP client, and a new goroutine's stack
	// would grow (and be copied) several times on every one.
	if d.cfg.Pipeline > 1 {
		for range (d.cfg.Concurrency + d.cfg.Pipeline - 1) / d.cfg.Pipeline {
			r.wg.Go(func() { r.postPipelined(ctx) })
		}
	} else {
		for range d.cfg.Concurrency {
			r.wg.Go(func() { r.postEvents(ctx) })
		}
	}
	d.current.Store(r)
	defer func() {
		d.current.CompareAndSwap(r, nil)
		r.stop()
		r.wg.Wait()
		close(r.ok)
		<-recorded
		r.handing.Wait()
	}()

	timer := time.NewTimer(0) // look at the outbox at once
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-d.wake:
			r.markBacklog()
		case <-timer.C:
			// Events due after a back-off, leases run out, another
			// instance's events: nothing announces those.
			r.markBacklog()
			timer.Reset(d.cfg.PollInterval)
		case <-r.done:
			// A settled event may have had a follower waiting in the store.
		}
		// Claims come in chunks of at least a POST slot's worth: each one
		// rereads the head of the outbox, in flight events included. Events
		// handed over at commit need none (see Reserve).
		if gen, backlog := r.backlogged(); backlog {
			if n := r.claimSlots(d.cfg.Concurrency); n > 0 {
				r.claim(ctx, n, gen)
				timer.Reset(d.cfg.PollInterval)
			}
		}
	}
}

// prefetch × Concurrency bounds the events claimed and not yet settled
// (waiting for a POST slot, posting, or being recorded); hand-overs have a
// bound of their own (handoffShare).
// Claiming more than the POST slots keeps them busy while a claim or a
// record waits its turn at the store, which under load takes longer than a
// POST to a nearby receiver: make bench delivers 3,500 events/s with 4,
// 3,900 with 16 (the API's rate: the outbox no longer falls behind).
// Bounding it leaves the rest of the outbox to other instances. An event
// that waited so long for a slot that its lease could run out during its
// POST is handed back instead (see errLeaseShort).
const prefetch = 16

// handoffShare × the limit bounds the events handed over and not yet
// settled. Hand-overs cost no claim and are this instance's own by
// construction (SQLite, one writer), so they get more room than claims: a
// group commit of background work (sqlstore's deferred units) hands over a
// hundred events at once, and with room for only the limit about one event
// in six went to the store and came back through a claim (make bench).
const handoffShare = 4

// errLeaseShort: the event's lease ends before a POST started now would.
// Posting anyway could let another instance send it at the same time.
var errLeaseShort = errors.New("notify: lease too short to post; released")

// run is the state of one Run call.
type run struct {
	d     *Dispatcher
	limit int // events claimed and not yet settled, at most (see claimSlots)
	// handoffLimit: events reserved or handed over and not yet settled, at
	// most (see Reserve).
	handoffLimit int
	wg           sync.WaitGroup
	handing      sync.WaitGroup         // events being handed back to the store
	queue        chan claimed           // events waiting for a POST worker
	done         chan struct{}          // events were settled while a claim is wanted
	ok           chan unify.OutboxEvent // POSTed events whose delivery is to be recorded
	failing      bool                   // the last claim failed (log once per outage); Run's goroutine only

	mu   sync.Mutex
	keys map[string]*keyState // keys with an event reserved, claimed or not yet settled
	// clean: keys without an undelivered event in the store, nor in keys:
	// new messages', and those whose events were all handed over and
	// delivered (see cleanKeysKept).
	clean   *recency.Map[string, struct{}]
	pending int  // events reserved, claimed or handed over and not yet settled
	booked  int  // places booked by the claim running (see claimSlots)
	stopped bool // Run is ending: queue is closed
	// backlog: the store may hold events a claim would return. gen counts
	// the times it was set, so that a claim that started before the last
	// one does not clear it.
	backlog bool
	gen     uint64
}

// claimSlots books the free places for a claim, when there are at least
// least of them. Hand-overs do not count them (Reserve only looks at
// pending), so that a claim running does not send every event committed
// meanwhile to the store, and from there to the next claim: the queue holds
// the limit and the hand-over limit together, which pending and booked never
// pass (pending grows past the hand-over limit only by claimed events, in
// booked places, and a claim books places only while pending is under the
// limit).
func (r *run) claimSlots(least int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.limit - r.pending - r.booked
	if n < least {
		return 0
	}
	r.booked += n
	return n
}

// unbookSlots ends a claim's booking of n places.
func (r *run) unbookSlots(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.booked -= n
}

func (r *run) markBacklog() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.setBacklog()
}

func (r *run) setBacklog() {
	r.backlog = true
	r.gen++
}

func (r *run) backlogged() (uint64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.gen, r.backlog
}

// take starts a claimed event of key, in a place booked by claimSlots; false
// if the key has events in memory, which a correct store never lets happen
// (the claimed event is the oldest undelivered of its key: every earlier one
// was POSTed).
func (r *run) take(key string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	ks := r.keys[key]
	if ks == nil {
		ks = &keyState{}
		r.keys[key] = ks
	} else if ks.busy || len(ks.waiting) > 0 || len(ks.reserved) > 0 {
		return false
	}
	// Claimed: later events of the key may be in the store, so none is
	// handed over until this one is settled.
	r.clean.Delete(key)
	ks.open = false
	ks.busy = true
	ks.unsettled++
	r.pending++
	return true
}

// claim takes up to n events from the store, in n places booked by
// claimSlots; gen is the backlog's generation when it was decided.
func (r *run) claim(ctx context.Context, n int, gen uint64) {
	d := r.d
	now := d.cfg.NowFunc()
	leaseUntil := now.Add(d.cfg.Lease)
	evs, err := d.store.ClaimEvents(ctx, d.cfg.Owner, now, leaseUntil, n)
	defer r.unbookSlots(n)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		if !r.failing {
			d.log.Error("notify: claiming events failed; retrying at each poll", "err", err)
		}
		r.failing = true
		return
	}
	if r.failing {
		d.log.Info("notify: claiming events works again")
		r.failing = false
	}
	if len(evs) < n {
		r.clearBacklog(gen)
	}
	for _, ev := range evs {
		// An event skipped here comes back when its lease runs out.
		if !r.take(ev.Key) {
			d.log.Warn("notify: store returned an event that cannot be sent now; it will come back after its lease",
				"event_id", ev.ID)
			continue
		}
		r.queue <- claimed{ev: ev, leaseUntil: leaseUntil} // never blocks: see claimSlots
	}
}

// clearBacklog: a claim that started at gen found all there was.
func (r *run) clearBacklog(gen uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gen == gen {
		r.backlog = false
	}
}

// claimed is an event leased to this instance until leaseUntil.
type claimed struct {
	ev         unify.OutboxEvent
	leaseUntil time.Time
}

// postEvents is a POST worker: it sends events until the queue is closed.
// Once ctx is done, what is left is handed back unsent.
func (r *run) postEvents(ctx context.Context) {
	d := r.d
	for c := range r.queue {
		ev := c.ev
		err := ctx.Err()
		if err == nil {
			if !d.leaseLasts(c) {
				err = errLeaseShort
			} else {
				err = d.post(ctx, ev)
			}
		}
		r.complete(ctx, ev, err)
	}
}

// complete ends ev's POST: delivered (err nil) or recorded as failed.
func (r *run) complete(ctx context.Context, ev unify.OutboxEvent, err error) {
	// The key's next event in memory goes now: this one reached the
	// receiver, whenever its delivery is recorded.
	r.finish(ev.Key, err == nil)
	if err == nil {
		r.ok <- ev
		return
	}
	r.d.record(ctx, ev, err)
	r.settled(ev)
}

// settled counts events as recorded, forgets the keys with nothing left in
// memory, and wakes Run when a claim is wanted: the places just freed may be
// what it waited for, or a key's next event may now be claimable. Without a
// backlog, Run has nothing to do, and waking it would cost a thread switch
// per delivery recorded.
func (r *run) settled(evs ...unify.OutboxEvent) {
	r.mu.Lock()
	for _, ev := range evs {
		r.pending--
		ks := r.keys[ev.Key]
		ks.unsettled--
		r.forgetIfIdle(ev.Key, ks)
	}
	backlog := r.backlog
	r.mu.Unlock()
	if backlog {
		select {
		case r.done <- struct{}{}:
		default:
		}
	}
}

// closeKeys hands no more events of the keys of evs over: they stay in the
// store, undelivered, for a claim to take again.
func (r *run) closeKeys(evs []unify.OutboxEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ev := range evs {
		r.keys[ev.Key].open = false
	}
}

// recordDeliveries records the events POSTed with success, as many at once
// as have piled up while the store was busy with the previous ones: one
// statement for all of them instead of one each.
func (r *run) recordDeliveries(ctx context.Context) {
	d := r.d
	batch := make([]unify.OutboxEvent, 0, cap(r.ok))
	seqs := make([]int64, 0, cap(r.ok))
	for ev := range r.ok {
		batch = takeReady(r.ok, append(batch[:0], ev), cap(batch))
		now := d.cfg.NowFunc()
		seqs = seqs[:0]
		for _, ev := range batch {
			d.metrics.delivered.WithLabelValues(ev.Type).Inc()
			d.metrics.age.Observe(max(now.Sub(ev.CreatedAt), 0).Seconds())
			seqs = append(seqs, ev.Seq)
		}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
		if err := d.store.EventsDelivered(sctx, now, seqs...); err != nil {
			d.log.Error("notify: recording deliveries failed; the events will be sent again after their lease",
				"events", len(seqs), "err", err)
			r.closeKeys(batch)
		}
		cancel()
		r.settled(batch...)
	}
}

// record stores the outcome of a failed try of ev.
func (d *Dispatcher) record(ctx context.Context, ev unify.OutboxEvent, err error) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	now := d.cfg.NowFunc()
	log := d.log.With("event_id", ev.ID, "event_type", ev.Type)
	if ctx.Err() != nil || errors.Is(err, errLeaseShort) || errors.Is(err, errUnanswered) {
		// Shutting down cut the POST short, or it never started, or its
		// pipelined connection ended before its answer: the receiver did
		// not refuse it. Hand the event back due now, so that a restart or
		// a peer instance resends it without waiting for the lease to run
		// out.
		reason := err.Error()
		if ctx.Err() != nil {
			reason = "notify: interrupted by shutdown"
		}
		if serr := d.store.EventFailed(sctx, ev.Seq, reason, now); serr != nil {
			log.Warn("notify: releasing an event failed; it will be sent again after its lease", "err", serr)
		}
		return
	}
	tries := ev.Attempts + 1
	wait := Backoff(tries, rand.Float64())
	d.metrics.failed.WithLabelValues(ev.Type, failureReason(err)).Inc()
	log.Warn("notify: webhook delivery failed", "attempt", tries, "retry_in", wait, "err", err)
	if serr := d.store.EventFailed(sctx, ev.Seq, err.Error(), now.Add(wait)); serr != nil {
		log.Error("notify: recording a failed delivery failed; the event will be sent again after its lease", "err", serr)
	}
}

// post sends ev once; nil means the receiver answered 2xx.
func (d *Dispatcher) post(ctx context.Context, ev unify.OutboxEvent) error {
	body, skip, err := Render(ev)
	if err != nil || skip {
		return err
	}
	d.metrics.inflight.Inc()
	defer d.metrics.inflight.Dec()
	defer func(start time.Time) { d.metrics.latency.Observe(time.Since(start).Seconds()) }(time.Now())
	if d.clientErr != nil {
		return d.clientErr
	}
	timeout := d.cfg.Timeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	if isMeta(ev.Dialect) {
		if err := d.verifySubscription(timeout); err != nil {
			return err
		}
	}
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	d.fillRequest(req, ev, body)
	status, head, err := d.client.do(req, timeout)
	if err != nil {
		return fmt.Errorf("notify: post event: %w", err)
	}
	return answerError(status, head)
}

// fillRequest makes req the signed POST of ev, whose rendered body is body.
func (d *Dispatcher) fillRequest(req *fasthttp.Request, ev unify.OutboxEvent, body []byte) {
	req.SetRequestURI(d.cfg.URL)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	req.Header.SetUserAgent(d.cfg.UserAgent)
	req.Header.Set("X-Gateway-Event-Id", ev.ID)
	req.Header.Set("X-Gateway-Event-Type", ev.Type)
	req.Header.Set("X-Gateway-Signature", d.signer.sign(body))
	if isMeta(ev.Dialect) {
		signHub(req.Header.Set, d.cfg.Secret, body)
	}
	req.SetBodyRaw(body)
}

// answerError is nil for a 2xx answer, a StatusError otherwise.
func answerError(status int, head []byte) error {
	if status >= 200 && status < 300 {
		return nil
	}
	return &StatusError{Code: status, Body: snippet(head)}
}

// StatusError is a webhook answer other than 2xx. Its text, with the start of
// the answer's body, is what the store keeps as the event's last error.
type StatusError struct {
	Code int
	Body string
}

func (e *StatusError) Error() string {
	msg := "notify: webhook answered " + strconv.Itoa(e.Code)
	if t := http.StatusText(e.Code); t != "" {
		msg += " " + t
	}
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// snippet makes the start of a receiver's answer safe to store and log: valid
// UTF-8, one line, at most 200 characters.
func snippet(b []byte) string {
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return s
}

func failureReason(err error) string {
	var se *StatusError
	if errors.As(err, &se) {
		switch {
		case se.Code >= 500:
			return "http_5xx"
		case se.Code >= 400:
			return "http_4xx"
		}
		return "http_other"
	}
	if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		return "timeout"
	}
	return "transport"
}
