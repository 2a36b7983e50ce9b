package rcs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"gateway/unify"
)

// Sink is how the RCS channel reports back to the core. Each method returns
// only once the report is durably recorded; an error makes the webhook
// answer 500 so that RBM delivers the callback again.
type Sink interface {
	HandleReceipt(ctx context.Context, r unify.Receipt) error
	HandleInbound(ctx context.Context, in unify.Inbound) error
	HandleConsent(ctx context.Context, c unify.ConsentChange) error
}

// Config configures a Channel.
type Config struct {
	// Clients maps carrier names to the RBM client of that carrier.
	Clients map[string]*Client
	// Agents maps sender names (the "from" of the send API) to RBM agent ids.
	Agents map[string]string
	// Secrets maps carrier names to their webhook secret (RBM's clientToken),
	// which signs callbacks.
	Secrets map[string]string
	// Cache remembers capability answers (default: a cache with default TTLs).
	Cache *CapabilityCache
	// RouteFunc names the carrier that serves a phone, for capability
	// lookups that come without an attempt (GET /v1/capabilities). When nil,
	// the only client is used if there is exactly one.
	RouteFunc func(phone string) (carrier string, ok bool)
	// TrafficType, when set, is sent as every message's messageTrafficType.
	TrafficType string
	// TTL, when set, asks RBM to revoke a message still undelivered after it;
	// the core's own step timeouts revoke explicitly, so this is only a
	// safety net and should be longer than any RCS step of a policy.
	TTL time.Duration
	// ReadEvents makes the channel send RBM a READ event for each user
	// message it has handed to the core, so the person sees it was read.
	ReadEvents bool
	Metrics    *Metrics
	Logger     *slog.Logger
	NowFunc    func() time.Time
}

// Channel is the RCS channel over RBM: it implements dispatch.Channel and
// dispatch.Revoker, and handles RBM's webhook.
type Channel struct {
	cfg   Config
	sink  Sink
	cache *CapabilityCache
	log   *slog.Logger
	now   func() time.Time
	seen  *recent

	// Background READ events: bounded, awaited (then cancelled) by Close.
	bg      context.Context
	stop    context.CancelFunc
	wg      sync.WaitGroup
	readSem chan struct{}
	closeMu sync.Mutex
	closed  bool
}

// closeGrace is how long Close lets READ events in flight finish.
const closeGrace = 5 * time.Second

// New builds the channel; sink receives what the webhook reports.
func New(cfg Config, sink Sink) *Channel {
	if cfg.NowFunc == nil {
		cfg.NowFunc = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Cache == nil {
		cfg.Cache = NewCapabilityCache(CacheConfig{NowFunc: cfg.NowFunc, Metrics: cfg.Metrics})
	}
	bg, stop := context.WithCancel(context.Background())
	return &Channel{
		cfg: cfg, sink: sink, cache: cfg.Cache, log: cfg.Logger, now: cfg.NowFunc,
		seen: newRecent(4096), bg: bg, stop: stop, readSem: make(chan struct{}, 64),
	}
}

// Close waits for READ events still in flight (cancelling them after a few
// seconds) and sends no more.
func (c *Channel) Close() error {
	c.closeMu.Lock()
	c.closed = true
	c.closeMu.Unlock()
	done := make(chan struct{})
	go func() {
		c.wg.Wait()
		close(done)
	}()
	t := time.NewTimer(closeGrace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		c.stop()
		<-done
	}
	c.stop()
	return nil
}

// Kind is unify.ChannelRCS.
func (c *Channel) Kind() unify.ChannelKind { return unify.ChannelRCS }

// message is the AgentMessage for m, with the channel's options.
func (c *Channel) message(m *unify.Message) *AgentMessage {
	msg := Convert(&m.Content)
	msg.MessageTrafficType = c.cfg.TrafficType
	if c.cfg.TTL > 0 {
		// A protobuf Duration in JSON: decimal seconds with an "s".
		msg.TTL = strconv.FormatFloat(c.cfg.TTL.Seconds(), 'f', -1, 64) + "s"
	}
	return msg
}

// Render writes m as the RBM AgentMessage JSON it would be sent as. The
// rendering is Skipped when the sender has no RBM agent or the content
// exceeds RBM's limits (the reason names the fields); it sends nothing.
func (c *Channel) Render(_ context.Context, m *unify.Message, _ *unify.Policy) (unify.Rendering, error) {
	r := unify.Rendering{Channel: unify.ChannelRCS, Protection: unify.ProtectionOf(unify.ChannelRCS, false)}
	b, err := json.Marshal(c.message(m))
	if err != nil {
		r.Skipped = "the content cannot be written as RBM JSON"
		return r, nil
	}
	r.RBM = b
	if c.cfg.Agents[m.From] == "" {
		r.Skipped = fmt.Sprintf("sender %s has no RBM agent", m.From)
	} else if errs := CheckLimits(&m.Content); len(errs) > 0 {
		r.Skipped = describe(errs)
	}
	return r, nil
}

func describe(errs []unify.FieldError) string {
	parts := make([]string, len(errs))
	for i, e := range errs {
		parts[i] = e.Field + ": " + e.Message
	}
	return strings.Join(parts, "; ")
}

// Send sends m as one RBM agent message whose messageId is the attempt id.
// It checks, in order: that the carrier has an RBM client and the sender an
// agent, RBM's limits, and the phone's capability (cached); each failure is
// a *unify.SendError (not capable, invalid content, or what RBM's answer
// means, see APIError.Kind). A 404 at send time also marks the cached
// capability stale.
func (c *Channel) Send(ctx context.Context, m *unify.Message, a *unify.Attempt, _ *unify.Policy) (unify.SendResult, error) {
	cl, agent, err := c.route(m, a)
	if err != nil {
		return unify.SendResult{}, err
	}
	if !unify.LooksE164(m.To) {
		return unify.SendResult{}, &unify.SendError{Kind: unify.ErrRejected, Err: fmt.Errorf("rcs: %q is not an E.164 number", m.To)}
	}
	if errs := CheckLimits(&m.Content); len(errs) > 0 {
		return unify.SendResult{}, &unify.SendError{Kind: unify.ErrInvalidContent, Err: errors.New("rcs: " + describe(errs))}
	}
	msg := c.message(m)

	cp, _, err := c.cache.Lookup(ctx, agent, m.To, c.checker(cl))
	if err != nil {
		se := SendError(err)
		if errors.Is(se, unify.ErrInvalidContent) {
			// A 400 to a capability check is about our request (the agent
			// id), not the content: no use trying RCS again.
			se = &unify.SendError{Kind: unify.ErrRejected, Code: se.Code, Err: se.Err}
		}
		return unify.SendResult{}, se
	}
	if !cp.Capable {
		return unify.SendResult{}, &unify.SendError{Kind: unify.ErrNotCapable, Err: errors.New("rcs: the phone is not reachable over rcs")}
	}
	if missing := missingFeatures(cp.Features, RequiredFeatures(msg)); len(missing) > 0 {
		return unify.SendResult{}, &unify.SendError{Kind: unify.ErrNotCapable, Err: fmt.Errorf("rcs: the phone lacks %s", strings.Join(missing, ", "))}
	}

	if err := cl.SendMessage(ctx, m.To, agent, string(a.ID), msg); err != nil {
		var ae *APIError
		if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
			c.cache.MarkStale(m.To)
		}
		return unify.SendResult{}, SendError(err)
	}
	return unify.SendResult{
		Parts:    []unify.Part{{Seq: 1, Status: unify.StatusSent, Ref: attemptRef(string(a.ID))}},
		Segments: 1,
	}, nil
}

// attemptRef is how RCS receipts find their attempt: by the messageId we
// chose, which RBM echoes in DELIVERED and READ events.
func attemptRef(id string) unify.ExternalRef {
	return unify.ExternalRef{ID: id, Raw: strings.ToLower(id)}
}

// missingFeatures lists what need has that have lacks. An empty have means
// unknown (learnt from traffic, or an RBM that lists nothing): nothing is
// missing then.
func missingFeatures(have, need []string) []string {
	if len(have) == 0 {
		return nil
	}
	var missing []string
	for _, f := range need {
		if !slices.Contains(have, f) {
			missing = append(missing, f)
		}
	}
	return missing
}

func (c *Channel) route(m *unify.Message, a *unify.Attempt) (*Client, string, error) {
	cl, ok := c.cfg.Clients[a.Carrier]
	if !ok || cl == nil {
		return nil, "", &unify.SendError{Kind: unify.ErrNotCapable, Err: fmt.Errorf("rcs: carrier %s has no RBM client", a.Carrier)}
	}
	agent, ok := c.cfg.Agents[m.From]
	if !ok || agent == "" {
		return nil, "", &unify.SendError{Kind: unify.ErrNotCapable, Err: fmt.Errorf("rcs: sender %s has no RBM agent", m.From)}
	}
	return cl, agent, nil
}

// checker asks cl about a phone. A 403 (agent not launched for this user or
// carrier) is remembered like a 404: this agent cannot reach this phone.
func (c *Channel) checker(cl *Client) CheckFunc {
	return func(ctx context.Context, phone, agent string) ([]string, error) {
		f, err := cl.Capabilities(ctx, phone, agent)
		var ae *APIError
		if errors.As(err, &ae) && ae.Status == http.StatusForbidden {
			return nil, fmt.Errorf("%w (%w)", ErrNotRCS, ae)
		}
		return f, err
	}
}

// Revoke withdraws the attempt's message. nil: revoked; an error wrapping
// unify.ErrAlreadyDelivered: the phone got it first; any other error: the
// outcome is unknown.
func (c *Channel) Revoke(ctx context.Context, m *unify.Message, a *unify.Attempt) error {
	cl, agent, err := c.route(m, a)
	if err != nil {
		return err
	}
	return cl.Revoke(ctx, m.To, agent, string(a.ID))
}

// Capability answers GET /v1/capabilities/{phone}: whether sender's agent
// can reach phone over RCS, from the cache when it can (cached reports
// that; the age is now minus CheckedAt). A phone no RBM carrier serves is
// not capable (and not cached). Errors are *unify.Error: invalid for a
// malformed phone, not_found for a sender without an agent, unavailable
// when RBM did not answer.
func (c *Channel) Capability(ctx context.Context, sender, phone string) (Capability, bool, error) {
	agent, ok := c.cfg.Agents[sender]
	if !ok || agent == "" {
		return Capability{}, false, unify.Errorf(unify.CodeNotFound, "sender %s has no RBM agent", sender)
	}
	if !unify.LooksE164(phone) {
		return Capability{}, false, unify.Invalid(unify.FieldError{Field: "phone", Message: "must be an E.164 number such as +33612345678"})
	}
	cl := c.clientFor(phone)
	if cl == nil {
		return Capability{Features: []string{}, CheckedAt: c.now()}, false, nil
	}
	cp, cached, err := c.cache.Lookup(ctx, agent, phone, c.checker(cl))
	if err != nil {
		return Capability{}, false, &unify.Error{Code: unify.CodeUnavailable, Message: "RBM did not answer the capability check", Err: err}
	}
	return cp, cached, nil
}

func (c *Channel) clientFor(phone string) *Client {
	if c.cfg.RouteFunc != nil {
		carrier, ok := c.cfg.RouteFunc(phone)
		if !ok {
			return nil
		}
		return c.cfg.Clients[carrier]
	}
	if len(c.cfg.Clients) == 1 {
		for _, cl := range c.cfg.Clients {
			return cl
		}
	}
	return nil
}

// ObserveSMSReply tells the channel a phone answered by SMS: if the cache
// holds it as RCS-capable, that may no longer be true (a person who has RCS
// answers over RCS), so the next send checks again.
func (c *Channel) ObserveSMSReply(phone string) { c.cache.markStale(phone, true) }

// Forget drops what the channel remembers about a phone (erasure).
func (c *Channel) Forget(phone string) { c.cache.Forget(phone) }

// CheckContent reports what RBM cannot carry of c (its limits), with field
// paths: the core refuses a message at the API when no step of its policy
// could carry it.
func (c *Channel) CheckContent(content *unify.Content) []unify.FieldError {
	return CheckLimits(content)
}
