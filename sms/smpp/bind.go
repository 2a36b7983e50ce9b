package smpp

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/linxGnu/gosmpp"
	"github.com/linxGnu/gosmpp/data"
	"github.com/linxGnu/gosmpp/pdu"
)

// bind is one slot of Config.Binds; its loop (runBind) keeps a conn in it.
type bind struct {
	idx int

	// Guarded by Link.mu.
	conn      *conn // nil while down
	since     time.Time
	lastErr   string
	loggedErr string // last bind error logged at Warn, to log each change once
	held      bool   // this instance holds the slot's lease (Config.Slots)
	slotErr   string // last leaser error logged, likewise
}

// conn is one bound gosmpp session. It is published in bind.conn only after
// sess is set, and never reused after it goes down.
type conn struct {
	b     *bind
	tap   *dcTap
	sess  *gosmpp.Session
	ready chan struct{} // closed once sess is set (callbacks may fire before)

	pending map[int32]*waiter // guarded by Link.mu; its size is the window in use
	// draining (guarded by Link.mu) takes no new submit: the bind is being
	// given up once those in flight are answered.
	draining bool

	done     chan struct{}
	doneOnce sync.Once
	reasonMu sync.Mutex
	reason   string // first cause of the close

	sem   chan struct{} // deliver_sm being handled
	elSeq atomic.Int32  // sequence_number of the enquire_link awaiting its resp
	elAck chan struct{}
}

func (c *conn) setReason(r string) {
	c.reasonMu.Lock()
	if c.reason == "" {
		c.reason = r
	}
	c.reasonMu.Unlock()
}

func (c *conn) getReason() string {
	c.reasonMu.Lock()
	defer c.reasonMu.Unlock()
	return c.reason
}

// markDone asks the bind loop to tear c down (idempotent).
func (c *conn) markDone(reason string) {
	c.setReason(reason)
	c.doneOnce.Do(func() { close(c.done) })
}

// runBind keeps bind b up until the link closes: dial and bind, wait for the
// session to end, back off (exponentially, with jitter), again.
//
// gosmpp's own auto-rebind is disabled (rebindingInterval 0): it retries at a
// fixed interval, replaces the session under us, and would need the pending
// waiters of the old connection failed anyway.
func (l *Link) runBind(b *bind) {
	defer l.wg.Done()
	backoff := l.cfg.RebindMin
	for {
		// With shared slots (Config.Slots) the bind may only be dialed while
		// this instance holds its slot.
		if !l.holdSlot(b) {
			return
		}
		c, err := l.connect(b)
		switch {
		case err == nil:
			upAt := time.Now()
			l.bindUp(b, c)
			if l.cfg.Slots != nil {
				l.wg.Add(1)
				go l.keepSlot(b, c)
			}
			select {
			case <-c.done:
			case <-l.ctx.Done():
				c.markDone("link closed")
			}
			l.bindDown(b, c)
			if time.Since(upAt) >= l.cfg.RebindMax {
				backoff = l.cfg.RebindMin
			}
		case l.ctx.Err() == nil:
			l.bindFailed(b, err)
		}
		// Given up between attempts, so that another instance may bind
		// while this one backs off.
		l.dropSlot(b)
		if l.ctx.Err() != nil || !l.sleep(jitter(backoff)) {
			return
		}
		backoff = min(2*backoff, l.cfg.RebindMax)
	}
}

// connect dials, binds and starts a session for b.
func (l *Link) connect(b *bind) (*conn, error) {
	c := &conn{
		b:       b,
		ready:   make(chan struct{}),
		pending: make(map[int32]*waiter),
		done:    make(chan struct{}),
		sem:     make(chan struct{}, l.cfg.DeliverConcurrency),
		elAck:   make(chan struct{}, 1),
	}
	settings := gosmpp.Settings{
		// Liveness is checked by keepAlive (enquire_link + ResponseTimeout);
		// the read deadline is only a backstop. gosmpp's own enquire_link
		// is off: it never checks for the response.
		ReadTimeout:  2 * (l.cfg.EnquireLink + l.cfg.ResponseTimeout),
		WriteTimeout: l.cfg.ResponseTimeout,
		// Manual mode rather than window mode: window mode's request store
		// answers "window full" asynchronously (OnSubmitError), has the
		// StoreAccessTimeOut unit bug, and hands deliver_sm to us on the
		// reader goroutine just the same; our own pending map gives each
		// Submit exactly its submit_sm_resp and lets us pick the least
		// loaded bind before writing.
		OnAllPDU:      func(p pdu.PDU) (pdu.PDU, bool) { return l.onPDU(c, p) },
		OnSubmitError: func(p pdu.PDU, err error) { l.onSubmitError(c, p, err) },
		OnReceivingError: func(err error) {
			c.setReason("read: " + err.Error())
		},
		OnClosed: func(s gosmpp.State) {
			c.markDone("closed (" + s.String() + ")")
		},
	}
	sess, err := gosmpp.NewSession(connector{l: l, c: c}, settings, 0)
	if err != nil {
		return nil, err
	}
	c.sess = sess
	close(c.ready)
	l.wg.Add(1)
	go l.keepAlive(c)
	return c, nil
}

func (l *Link) bindUp(b *bind, c *conn) {
	l.mu.Lock()
	b.conn = c
	b.since = l.now()
	b.loggedErr = ""
	n := l.upLocked()
	l.m.setBindsUp(n) // under the lock, or concurrent binds could publish a stale count
	l.signalLocked()
	l.mu.Unlock()
	l.log.Info("smpp: bound", "bind", b.idx, "binds_up", n)
}

// bindDown unpublishes c, unbinds and closes it, then fails what it left
// pending. Closing first lets responses already on the wire still land.
func (l *Link) bindDown(b *bind, c *conn) {
	l.mu.Lock()
	b.conn = nil
	b.since = l.now()
	reason := c.getReason()
	b.lastErr = reason
	n := l.upLocked()
	l.m.setBindsUp(n)
	l.mu.Unlock()

	_ = c.sess.Close() // writes unbind if the connection is still open
	l.failAll(c)
	l.mu.Lock()
	drained := c.draining
	l.mu.Unlock()
	if l.ctx.Err() != nil || drained {
		// Closing, or a bind slot given up on purpose (Config.Slots).
		l.log.Info("smpp: unbound", "bind", b.idx, "reason", reason)
	} else {
		l.log.Warn("smpp: bind lost", "bind", b.idx, "reason", reason, "binds_up", n)
	}
}

// bindFailed records a failed dial or bind, logging each distinct error once
// so that a wrong password does not flood the log at every back-off step.
func (l *Link) bindFailed(b *bind, err error) {
	msg := err.Error()
	l.mu.Lock()
	b.lastErr = msg
	changed := msg != b.loggedErr
	b.loggedErr = msg
	l.mu.Unlock()
	l.m.bindFailed()
	if changed {
		l.log.Warn("smpp: bind failed", "bind", b.idx, "err", msg)
	} else {
		l.log.Debug("smpp: bind failed again", "bind", b.idx, "err", msg)
	}
}

// keepAlive sends enquire_link every EnquireLink and closes the bind when
// the response does not come within ResponseTimeout (smpp.md §2).
func (l *Link) keepAlive(c *conn) {
	defer l.wg.Done()
	t := time.NewTicker(l.cfg.EnquireLink)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		el := pdu.NewEnquireLink()
		c.elSeq.Store(el.GetSequenceNumber())
		select {
		case <-c.elAck: // a late answer to the previous one
		default:
		}
		if err := c.sess.Transceiver().Submit(el); err != nil {
			c.markDone("enquire_link: " + err.Error())
			return
		}
		timer := time.NewTimer(l.cfg.ResponseTimeout)
		select {
		case <-c.done:
			timer.Stop()
			return
		case <-c.elAck:
			timer.Stop()
		case <-timer.C:
			c.markDone(fmt.Sprintf("no enquire_link_resp within %s", l.cfg.ResponseTimeout))
			return
		}
	}
}

// onPDU runs on gosmpp's reader goroutine for every PDU received; it must
// not block. What it returns is written back by gosmpp (nil: nothing).
func (l *Link) onPDU(c *conn, p pdu.PDU) (pdu.PDU, bool) {
	switch pd := p.(type) {
	case *pdu.SubmitSMResp:
		if !l.complete(c, pd.GetSequenceNumber(), result{status: uint32(pd.CommandStatus), id: pd.MessageID}) {
			l.log.Debug("smpp: submit_sm_resp for no pending submit", "bind", c.b.idx, "seq", pd.GetSequenceNumber())
		}
	case *pdu.GenericNack:
		// smpp.md §2: a generic_nack fails the request with its sequence_number.
		seq := pd.GetSequenceNumber()
		if !l.complete(c, seq, result{status: uint32(pd.CommandStatus), nack: true}) {
			l.log.Warn("smpp: generic_nack from SMSC", "bind", c.b.idx, "seq", seq,
				"status", StatusName(uint32(pd.CommandStatus)))
		}
	case *pdu.EnquireLinkResp:
		if pd.GetSequenceNumber() == c.elSeq.Load() {
			select {
			case c.elAck <- struct{}{}:
			default:
			}
		}
	case *pdu.EnquireLink:
		return pd.GetResponse(), false
	case *pdu.Unbind:
		c.setReason("unbind from SMSC")
		return pd.GetResponse(), true
	case *pdu.DeliverSM:
		return l.onDeliver(c, fromDeliverSM(l.cfg.Carrier, c.tap, pd, l.now()), pd.GetResponse()), false
	case *pdu.DataSM:
		return l.onDeliver(c, fromDataSM(l.cfg.Carrier, pd, l.now()), pd.GetResponse()), false
	case *pdu.UnbindResp, *pdu.AlertNotification, *pdu.DeliverSMResp, *pdu.DataSMResp:
		// Nothing to do: responses to our unbind, or requests without answer.
	default:
		if p.CanResponse() {
			// A request an ESME does not serve (query_sm, replace_sm…).
			nack := pdu.NewGenericNack().(*pdu.GenericNack)
			nack.SetSequenceNumber(p.GetSequenceNumber())
			nack.CommandStatus = data.ESME_RINVCMDID
			return nack, false
		}
	}
	return nil, false
}

// onSubmitError is gosmpp's report of a failed write. A write that errors
// never delivers a complete PDU (a truncated one is unparseable and the
// connection dies with it), so the submit is retried elsewhere; and a TCP
// connection that failed a write is done for (gosmpp v0.3.1 keeps it "open"
// after some non-timeout errors).
func (l *Link) onSubmitError(c *conn, p pdu.PDU, err error) {
	c.markDone("write: " + err.Error())
	if sm, ok := p.(*pdu.SubmitSM); ok {
		l.complete(c, sm.GetSequenceNumber(), result{err: errNotWritten})
	}
}

// connector dials and binds for gosmpp.NewSession. gosmpp's own connector has
// no timeout on bind_transceiver_resp and a dialer without context; this one
// bounds the whole handshake by ResponseTimeout and aborts it on Close.
type connector struct {
	l *Link
	c *conn
}

// GetBindType implements gosmpp.Connector.
func (k connector) GetBindType() pdu.BindingType { return pdu.Transceiver }

// Connect implements gosmpp.Connector.
func (k connector) Connect() (*gosmpp.Connection, error) {
	cfg := k.l.cfg
	ctx, cancel := context.WithTimeout(k.l.ctx, cfg.ResponseTimeout)
	defer cancel()
	raw, err := k.l.dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("smpp: dial %s: %w", cfg.Address, err)
	}
	stop := context.AfterFunc(ctx, func() { _ = raw.SetDeadline(time.Unix(1, 0)) })
	tap := newDCTap(&coarseDeadlines{Conn: raw})
	gc := gosmpp.NewConnection(tap)
	err = bindTransceiver(gc, cfg)
	if !stop() && err == nil {
		err = ctx.Err()
	}
	if err != nil {
		_ = raw.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("smpp: bind %s: %w", cfg.Address, ctx.Err())
		}
		return nil, err
	}
	_ = raw.SetDeadline(time.Time{})
	k.c.tap = tap
	return gc, nil
}

func (l *Link) dial(ctx context.Context) (net.Conn, error) {
	switch {
	case l.cfg.Dial != nil:
		return l.cfg.Dial(ctx, l.cfg.Address)
	case l.cfg.TLS != nil:
		d := tls.Dialer{Config: l.cfg.TLS}
		return d.DialContext(ctx, "tcp", l.cfg.Address)
	default:
		var d net.Dialer
		return d.DialContext(ctx, "tcp", l.cfg.Address)
	}
}

func bindTransceiver(gc *gosmpp.Connection, cfg Config) error {
	req := pdu.NewBindRequest(pdu.Transceiver)
	req.SystemID = cfg.SystemID
	req.Password = cfg.Password
	req.SystemType = cfg.SystemType
	if _, err := gc.WritePDU(req); err != nil {
		return fmt.Errorf("smpp: write bind_transceiver: %w", err)
	}
	for {
		p, err := pdu.Parse(gc)
		if err != nil {
			return fmt.Errorf("smpp: read bind_transceiver_resp: %w", err)
		}
		switch pd := p.(type) {
		case *pdu.BindResp:
			if pd.CommandStatus != data.ESME_ROK {
				return fmt.Errorf("smpp: bind refused: %s %s", StatusName(uint32(pd.CommandStatus)), pd.CommandStatus.Desc())
			}
			return nil
		case *pdu.GenericNack:
			return fmt.Errorf("smpp: bind answered with generic_nack: %s", StatusName(uint32(pd.CommandStatus)))
		}
		// Anything else before the bind response is ignored, as gosmpp does.
	}
}
