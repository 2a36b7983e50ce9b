package dispatch

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gateway/carriers"
	"gateway/unify"
	"gateway/unify/sqlstore"
)

// Channel carries one attempt of a message over one channel kind.
type Channel interface {
	Kind() unify.ChannelKind
	// Render says what the channel would carry for m under policy p, without
	// sending anything (previews). A message the channel cannot carry is a
	// Rendering with Skipped set, not an error.
	Render(ctx context.Context, m *unify.Message, p *unify.Policy) (unify.Rendering, error)
	// Send submits the message to carrier and blocks until the carrier
	// accepted or refused it. Failures are *unify.SendError of one of unify's
	// kinds: throttled and temporary ones are retried later by the core,
	// not capable / rejected / invalid content move on to the next step.
	Send(ctx context.Context, m *unify.Message, a *unify.Attempt, p *unify.Policy) (unify.SendResult, error)
}

// ContentChecker is implemented by channels that have limits of their own
// (RBM's): what they cannot carry, with JSON paths under "content".
type ContentChecker interface {
	CheckContent(c *unify.Content) []unify.FieldError
}

// Readier is implemented by channels whose carrier links can be down, or
// held by another instance (SMPP binds). A message whose first channel is
// not ready here is left to the queue, where any instance may take it,
// instead of waiting in this one's lane for a link.
type Readier interface {
	Ready(carrier string) bool
}

// Revoker is implemented by channels that can withdraw a message the phone
// has not received yet (RCS). Revoke returns nil when the message is
// withdrawn, an error wrapping unify.ErrAlreadyDelivered when it reached the
// phone first, and any other error when the outcome is unknown.
type Revoker interface {
	Revoke(ctx context.Context, m *unify.Message, a *unify.Attempt) error
}

// Config configures a Service.
type Config struct {
	Senders  []unify.Sender
	Router   *carriers.Router
	Channels []Channel
	// Owner names this instance in job and event leases.
	Owner string
	// Workers is how many sends of queued jobs may be in flight at once
	// (default 256): enough to keep every bind's window full. As many again
	// serve the lane (messages this instance just accepted).
	Workers int
	// Lease is how long a claimed job is ours without news from us (default
	// 30s): Run renews the leases of the jobs in progress every third of it,
	// so a job outlives its lease only when this instance stopped (then
	// another instance takes it over after at most Lease).
	Lease       time.Duration
	SendTimeout time.Duration
	// MaxAge is how long a message may wait for a carrier that keeps failing
	// temporarily before it is failed as expired (default 48h).
	MaxAge time.Duration
	// MOTimeout is how long the parts of a concatenated inbound SMS are waited
	// for before what arrived is routed alone (default 2m).
	MOTimeout time.Duration
	// LinkTLS reports whether the link of a carrier for a channel uses TLS,
	// for the protection each status event reports.
	LinkTLS func(carrier string, ch unify.ChannelKind) bool
	// StopWords and StartWords opt a number out of / back into a sender's
	// messages when sent alone by SMS or MMS (defaults DefaultStopWords and
	// DefaultStartWords).
	StopWords, StartWords []string
	// WebLinkBase is the public URL of the gateway for web fallback links
	// ("https://gw.example" → "https://gw.example/m/TOKEN"); WebLinkTTL is
	// how long a link works (default 7 days).
	WebLinkBase string
	WebLinkTTL  time.Duration
	// OnInbound, when set, is told of every inbound message once routed (the
	// RCS capability cache learns from SMS replies).
	OnInbound  func(unify.Inbound)
	Registerer prometheus.Registerer
	NowFunc    func() time.Time
	Logger     *slog.Logger
}

// Service is the core. Its methods are safe for concurrent use.
type Service struct {
	cfg      Config
	store    *sqlstore.Store
	senders  map[string]*unify.Sender
	channels map[unify.ChannelKind]Channel
	now      func() time.Time
	log      *slog.Logger
	wake     chan struct{}
	metrics  *metrics

	// The lane: messages this instance accepted, their send job created
	// already leased to it, handed to its workers in memory. It spares each
	// message a claim and a read of what the API had just written; jobs
	// that do not fit (lane full, Run not running) take the claim path.
	lane      chan laneJob
	laneOpen  atomic.Bool
	laneTaken atomic.Int64

	policyMu    sync.Mutex
	policyCache map[string]cachedPolicy

	recent *recentSends
}

// recentSendsKept bounds the sends whose state waits in memory for their
// receipt (about 700 bytes each, 11 MB at most): the receipts of the last
// 16 s at 1,000 messages a second; a receipt that comes later is applied
// from the store.
const recentSendsKept = 1 << 14

type cachedPolicy struct {
	p  unify.Policy
	at time.Time
}

// New builds the core on store.
func New(cfg Config, store *sqlstore.Store) *Service {
	if cfg.Workers <= 0 {
		cfg.Workers = 256
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 30 * time.Second
	}
	if cfg.SendTimeout <= 0 {
		cfg.SendTimeout = 60 * time.Second
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = 48 * time.Hour
	}
	if cfg.MOTimeout <= 0 {
		cfg.MOTimeout = 2 * time.Minute
	}
	if cfg.NowFunc == nil {
		cfg.NowFunc = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Owner == "" {
		cfg.Owner = "gw-" + string(unify.NewMessageID())[4:12]
	}
	if cfg.StopWords == nil {
		cfg.StopWords = DefaultStopWords
	}
	if cfg.StartWords == nil {
		cfg.StartWords = DefaultStartWords
	}
	if cfg.WebLinkTTL <= 0 {
		cfg.WebLinkTTL = 7 * 24 * time.Hour
	}
	s := &Service{
		cfg:         cfg,
		store:       store,
		senders:     map[string]*unify.Sender{},
		channels:    map[unify.ChannelKind]Channel{},
		now:         func() time.Time { return cfg.NowFunc().UTC() },
		log:         cfg.Logger,
		wake:        make(chan struct{}, 1),
		lane:        make(chan laneJob, cfg.Workers),
		metrics:     newMetrics(cfg.Registerer),
		policyCache: map[string]cachedPolicy{},
		recent:      newRecentSends(recentSendsKept),
	}
	for i := range cfg.Senders {
		s.senders[cfg.Senders[i].Name] = &cfg.Senders[i]
	}
	for _, ch := range cfg.Channels {
		s.channels[ch.Kind()] = ch
	}
	return s
}

// Accept validates a message against the senders and policies, stores it
// with the job that will send it, and returns it once committed: a 202 is
// only ever answered for a message that survives a crash.
func (s *Service) Accept(ctx context.Context, m *unify.Message, idem unify.Idempotency) (*unify.Message, bool, error) {
	sender, ok := s.senders[m.From]
	if !ok {
		return nil, false, unify.Invalid(unify.FieldError{Field: "from", Message: fmt.Sprintf("no sender named %q", m.From)})
	}
	if m.Policy == "" {
		m.Policy = sender.DefaultPolicy
		if m.Policy == "" {
			m.Policy = "default"
		}
	}
	pol, err := s.policy(ctx, m.Policy)
	if err != nil {
		if unify.CodeOf(err) == unify.CodeNotFound {
			return nil, false, unify.Invalid(unify.FieldError{Field: "policy", Message: fmt.Sprintf("no policy named %q", m.Policy)})
		}
		return nil, false, err
	}
	if fields := s.uncarriable(&pol, &m.Content); len(fields) > 0 {
		return nil, false, unify.Invalid(fields...)
	}
	now := s.now()
	m.ID = unify.NewMessageID()
	m.Status = unify.StatusAccepted
	m.CreatedAt, m.UpdatedAt = now, now
	m.Attempts = []unify.Attempt{}
	var replay *unify.Message
	var job sqlstore.Job
	var optOut string
	laned := s.readyFor(m, &pol) && s.takeLane()
	err = s.store.InTx(ctx, func(tx *sqlstore.Tx) error {
		if idem.Key != "" {
			hash, id, found, err := tx.Idempotent(idem.Scope, idem.Key)
			if err != nil {
				return err
			}
			if found {
				if hash != idem.Hash {
					return &unify.Error{Code: unify.CodeConflict, Message: "this Idempotency-Key was used with a different request"}
				}
				replay, err = tx.Message(id)
				return err
			}
			if err := tx.SaveIdempotency(idem, m.ID, now); err != nil {
				return err
			}
		}
		if err := tx.InsertMessage(m); err != nil {
			return err
		}
		if laned {
			// The lane's worker sends within milliseconds: the recipient's
			// consent as of now is as fresh as one it would read itself.
			if optOut, err = optOutReason(m)(tx.ConsentOf(m.From, m.To)); err != nil {
				return err
			}
			job, err = tx.AddLeasedJob(sqlstore.JobSend, string(m.ID), now, s.cfg.Owner, now.Add(s.cfg.Lease))
			return err
		}
		return tx.AddJob(sqlstore.JobSend, string(m.ID), now)
	})
	if err != nil || replay != nil {
		if laned {
			s.giveLaneBack()
		}
		if err != nil {
			return nil, false, err
		}
		return replay, true, nil
	}
	s.metrics.accepted.Inc()
	if laned {
		s.metrics.toLane.Inc()
		// The worker gets its own copy: the caller goes on reading m.
		own := *m
		own.Attempts = nil
		s.lane <- laneJob{job: job, m: &own, optOut: optOut}
	} else {
		s.metrics.toQueue.Inc()
		s.kick()
	}
	return m, false, nil
}

// laneJob is a send job with what the API's transaction knew: the message
// as stored, and why its recipient cannot be sent to ("" if they can).
type laneJob struct {
	job    sqlstore.Job
	m      *unify.Message
	optOut string
}

// takeLane reserves a place in the lane, which is bounded so that it never
// blocks and never holds more leased jobs than the workers can start soon.
func (s *Service) takeLane() bool {
	if !s.laneOpen.Load() {
		return false
	}
	if s.laneTaken.Add(1) > int64(cap(s.lane)) {
		s.laneTaken.Add(-1)
		return false
	}
	return true
}

func (s *Service) giveLaneBack() { s.laneTaken.Add(-1) }

// readyFor reports whether the channel of the first step that applies to m
// under p can send from this instance now.
func (s *Service) readyFor(m *unify.Message, p *unify.Policy) bool {
	for _, step := range p.Steps {
		carrier, skip := s.carrierFor(m, step)
		if skip != "" {
			continue
		}
		r, ok := s.channels[step.Channel].(Readier)
		return !ok || r.Ready(carrier)
	}
	return false
}

// uncarriable returns the content problems that rule out every step of p,
// so the API refuses a message no channel could carry (RCS-only policy,
// content over RBM's limits) instead of accepting it to fail later. When
// some step can carry it, the others are skipped at send time with the
// reason recorded.
func (s *Service) uncarriable(p *unify.Policy, c *unify.Content) []unify.FieldError {
	var first []unify.FieldError
	for _, step := range p.Steps {
		ch, ok := s.channels[step.Channel]
		if !ok {
			continue
		}
		checker, ok := ch.(ContentChecker)
		if !ok {
			return nil
		}
		fields := checker.CheckContent(c)
		if len(fields) == 0 {
			return nil
		}
		if first == nil {
			first = fields
		}
	}
	return first
}

// Message returns a message with its attempts.
func (s *Service) Message(ctx context.Context, id unify.MessageID) (*unify.Message, error) {
	return s.store.Message(ctx, id)
}

// policy reads a policy, cached for a few seconds: every send needs one and
// they change only when an operator edits them.
func (s *Service) policy(ctx context.Context, name string) (unify.Policy, error) {
	s.policyMu.Lock()
	c, ok := s.policyCache[name]
	s.policyMu.Unlock()
	if ok && s.now().Sub(c.at) < 5*time.Second {
		return c.p, nil
	}
	p, err := s.store.Policy(ctx, name)
	if err != nil {
		if name == "default" && unify.CodeOf(err) == unify.CodeNotFound {
			p, err = unify.DefaultPolicy(), nil
		} else {
			return p, err
		}
	}
	s.policyMu.Lock()
	s.policyCache[name] = cachedPolicy{p: p, at: s.now()}
	s.policyMu.Unlock()
	return p, nil
}

// ForgetPolicies drops the policy cache (after an edit in the UI).
func (s *Service) ForgetPolicies() {
	s.policyMu.Lock()
	s.policyCache = map[string]cachedPolicy{}
	s.policyMu.Unlock()
}

func (s *Service) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// statusEvent builds the outbox entry for a message status change.
func (s *Service) statusEvent(m *unify.Message, now time.Time) (unify.OutboxEvent, error) {
	ev := unify.StatusEvent{
		Type: unify.EventStatus, ID: unify.NewEventID(), MessageID: m.ID, ClientRef: m.ClientRef, To: m.To, From: m.From,
		Status: m.Status, Channel: m.Channel, Carrier: m.Carrier, Error: m.Error, At: now,
	}
	if m.Channel != "" {
		tls := false
		if s.cfg.LinkTLS != nil {
			tls = s.cfg.LinkTLS(m.Carrier, m.Channel)
		}
		p := unify.ProtectionOf(m.Channel, tls)
		ev.Protection = &p
	}
	oe, err := outboxEvent(ev.ID, string(m.ID), ev.Type, ev, now)
	oe.Dialect = m.Dialect
	return oe, err
}

// setStatus moves a message to a new status inside tx and queues its event.
// Receipts only move a message forward (a late "sent" after "delivered" is
// ignored); a fallback moving it to its next channel passes force, since the
// new attempt starts over from sending.
func (s *Service) setStatus(tx *sqlstore.Tx, m *unify.Message, st unify.Status, errText string, now time.Time, force bool) (bool, error) {
	if m.Status == st && m.Error == errText || !force && !m.Status.Advances(st) {
		return false, nil
	}
	m.Status, m.Error, m.UpdatedAt = st, errText, now
	if err := tx.UpdateMessage(m, now); err != nil {
		return false, err
	}
	return true, s.announce(tx, m, now)
}

// announce queues the status event of a message whose new status tx stored.
func (s *Service) announce(tx *sqlstore.Tx, m *unify.Message, now time.Time) error {
	ev, err := s.statusEvent(m, now)
	if err != nil {
		return err
	}
	return s.announceEvent(tx, m, ev)
}

// announceEvent is announce with the event built beforehand, off the
// store's one writer, by a caller that knew the status tx would store.
func (s *Service) announceEvent(tx *sqlstore.Tx, m *unify.Message, ev unify.OutboxEvent) error {
	if err := tx.AddEvent(ev, m.ID); err != nil {
		return err
	}
	s.metrics.status.WithLabelValues(string(m.Channel), string(m.Status)).Inc()
	return nil
}
