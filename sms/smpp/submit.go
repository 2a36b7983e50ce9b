package smpp

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/linxGnu/gosmpp/data"
	"github.com/linxGnu/gosmpp/pdu"
)

// Part is the content of one submit_sm. The caller has done the encoding and
// segmentation: ShortMessage is the UDH (if any, with EsmClass&0x40 set) plus
// the user data, at most 254 octets.
type Part struct {
	SourceTON, SourceNPI byte
	Source               string
	DestTON, DestNPI     byte
	// Dest is the destination, international digits without '+'.
	Dest                                     string
	EsmClass, DataCoding, RegisteredDelivery byte
	ShortMessage                             []byte
}

// maxAddr is the longest source_addr/destination_addr (C-Octet of 21
// including the NUL, smpp.md §3).
const maxAddr = 20

func (p Part) validate() error {
	var errs []error
	if len(p.ShortMessage) > data.SM_MSG_LEN {
		errs = append(errs, fmt.Errorf("smpp: short_message is %d octets, at most %d", len(p.ShortMessage), data.SM_MSG_LEN))
	}
	if p.Dest == "" {
		errs = append(errs, errors.New("smpp: destination_addr is empty"))
	}
	if len(p.Dest) > maxAddr {
		errs = append(errs, fmt.Errorf("smpp: destination_addr %q longer than %d", p.Dest, maxAddr))
	}
	if len(p.Source) > maxAddr {
		errs = append(errs, fmt.Errorf("smpp: source_addr %q longer than %d", p.Source, maxAddr))
	}
	return errors.Join(errs...)
}

// pdu builds a submit_sm with a fresh sequence_number (each attempt needs
// its own: a retried PDU is a new request).
func (p Part) pdu() *pdu.SubmitSM {
	sm := pdu.NewSubmitSM().(*pdu.SubmitSM)
	sm.SourceAddr = pdu.NewAddressWithTonNpi(p.SourceTON, p.SourceNPI)
	_ = sm.SourceAddr.SetAddress(p.Source) // length checked by validate
	sm.DestAddr = pdu.NewAddressWithTonNpi(p.DestTON, p.DestNPI)
	_ = sm.DestAddr.SetAddress(p.Dest)
	sm.EsmClass = p.EsmClass
	sm.RegisteredDelivery = p.RegisteredDelivery
	_ = sm.Message.SetMessageDataWithEncoding(p.ShortMessage, rawCoding(p.DataCoding))
	return sm
}

// rawCoding is a data.Encoding that only carries a data_coding value: the
// link sends octets the caller already encoded.
type rawCoding byte

func (c rawCoding) Encode(s string) ([]byte, error) { return []byte(s), nil }
func (c rawCoding) Decode(b []byte) (string, error) { return string(b), nil }
func (c rawCoding) DataCoding() byte                { return byte(c) }

// waiter is one submit_sm awaiting its response, holding a window slot on
// its conn from acquire until complete.
type waiter struct {
	c   *conn
	seq int32
	res chan result // buffered: complete never blocks

	// Guarded by Link.mu.
	sent  bool
	timer *time.Timer
}

type result struct {
	id     string
	status uint32
	nack   bool
	err    error
}

// errNotWritten is an internal result: the PDU never reached the wire, so the
// submit can safely be tried again.
var errNotWritten = errors.New("smpp: not written")

// Submit sends one part and blocks until its submit_sm_resp, the end of ctx,
// or a classified failure. It returns the SMSC's message_id, or a
// *SubmitError:
//
//   - ESME_RTHROTTLED / ESME_RMSGQFUL are not returned: the link halves its
//     rate, pauses and resubmits (new sequence_number) until ctx ends, then
//     returns Kind Throttled.
//   - ErrNotBound (Temporary): no bind came up before ctx ended.
//   - ErrUnknownOutcome (Temporary): the PDU was written but no response came
//     (bind dropped, ResponseTimeout, or ctx ended); it may be delivered.
//   - ErrClosed (Temporary): the link is closing.
//   - other statuses per smpp.md §9 (Temporary or Rejected); an invalid Part
//     is Rejected with Status 0.
func (l *Link) Submit(ctx context.Context, p Part) (string, error) {
	start := time.Now()
	id, err := l.submit(ctx, p)
	outcome := "ok"
	if err != nil {
		outcome = "error"
		if se := (*SubmitError)(nil); errors.As(err, &se) {
			outcome = se.Kind.String()
		}
		if errors.Is(err, ErrUnknownOutcome) {
			outcome = "unknown"
		}
	}
	l.m.submit(outcome, time.Since(start).Seconds())
	return id, err
}

func (l *Link) submit(ctx context.Context, p Part) (string, error) {
	if err := p.validate(); err != nil {
		return "", &SubmitError{Kind: Rejected, Err: err}
	}
	// gosmpp marshals in its writer goroutine, possibly after we returned.
	p.ShortMessage = append([]byte(nil), p.ShortMessage...)

	// Until the PDU is written, Close also ends the wait.
	pre, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(l.closeCtx, cancel)()

	var throttled uint32 // last throttle status, once the SMSC has pushed back
	for {
		sm := p.pdu()
		w, err := l.acquire(pre, sm.GetSequenceNumber())
		if err == nil {
			if err = l.rate.wait(pre); err != nil {
				l.complete(w.c, w.seq, result{err: errNotWritten})
			}
		}
		if err != nil {
			return "", l.preWriteError(ctx, err, throttled)
		}
		sent := time.Now()
		if !l.write(w, sm) {
			continue
		}

		var r result
		select {
		case r = <-w.res:
		case <-ctx.Done():
			select {
			case r = <-w.res: // answered just in time
			default:
				// The slot stays taken until the response or the timeout:
				// the SMSC still counts this PDU as outstanding.
				return "", &SubmitError{Kind: Temporary, Err: fmt.Errorf("%w: %w", ErrUnknownOutcome, ctx.Err())}
			}
		}
		switch {
		case errors.Is(r.err, errNotWritten):
			continue
		case r.err != nil:
			return "", &SubmitError{Kind: Temporary, Err: r.err}
		case r.status == 0 && !r.nack:
			return r.id, nil
		}

		kind := classify(r.status)
		var cause error
		if r.nack {
			cause = errors.New("smpp: generic_nack")
			if r.status == 0 {
				kind = Rejected
			}
		}
		switch {
		case kind == Throttled:
			// smpp.md §11: slow down and resubmit the same message.
			throttled = r.status
			l.m.throttle(r.status)
			l.rate.throttled(sent)
			l.log.Debug("smpp: throttled by SMSC", "bind", w.c.b.idx, "status", StatusName(r.status))
			continue
		case data.CommandStatusType(r.status) == data.ESME_RINVBNDSTS:
			// The SMSC no longer considers this bind bound: rebuild it.
			w.c.markDone("submit_sm_resp " + StatusName(r.status))
		}
		return "", &SubmitError{Kind: kind, Status: r.status, Err: cause}
	}
}

// preWriteError turns a failure before anything was written into a
// SubmitError.
func (l *Link) preWriteError(ctx context.Context, err error, throttled uint32) error {
	switch {
	case errors.Is(err, ErrClosed), ctx.Err() == nil && l.closeCtx.Err() != nil:
		return &SubmitError{Kind: Temporary, Err: ErrClosed}
	case throttled != 0:
		return &SubmitError{Kind: Throttled, Status: throttled, Err: err}
	default:
		return &SubmitError{Kind: Temporary, Err: err}
	}
}

// acquire takes a window slot on the least loaded bound bind, waiting for one
// if needed, and registers a waiter for seq there.
func (l *Link) acquire(ctx context.Context, seq int32) (*waiter, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var best *conn
	up := false
	l.waitLocked(func() bool {
		best, up = l.leastLoadedLocked()
		return l.closing || best != nil
	}, ctx.Done(), nil)
	switch {
	case l.closing:
		return nil, ErrClosed
	case best != nil:
		w := &waiter{c: best, seq: seq, res: make(chan result, 1)}
		best.pending[seq] = w
		l.m.setWindow(best.b.idx, len(best.pending))
		return w, nil
	case !up:
		return nil, fmt.Errorf("%w: %w", ErrNotBound, ctx.Err())
	}
	return nil, fmt.Errorf("smpp: every window full: %w", ctx.Err())
}

// leastLoadedLocked returns the bound bind with the most room in its
// window (nil when every window is full), and whether any bind is up.
func (l *Link) leastLoadedLocked() (best *conn, up bool) {
	for _, b := range l.binds {
		c := b.conn
		if c == nil {
			continue
		}
		select {
		case <-c.done: // going down; bindDown will unpublish it
			continue
		default:
		}
		if c.draining {
			continue
		}
		up = true
		if n := len(c.pending); n < l.cfg.Window && (best == nil || n < len(best.pending)) {
			best = c
		}
	}
	return best, up
}

// write hands sm to gosmpp; false means it was certainly not written (the
// bind went down first) and the submit should be tried again.
func (l *Link) write(w *waiter, sm *pdu.SubmitSM) bool {
	c := w.c
	l.mu.Lock()
	if c.pending[w.seq] != w {
		l.mu.Unlock()
		return false
	}
	w.sent = true
	w.timer = time.AfterFunc(l.cfg.ResponseTimeout, func() {
		l.complete(c, w.seq, result{err: l.errTimeout})
	})
	l.mu.Unlock()
	// Submit only enqueues for gosmpp's writer; it fails (without writing)
	// once the session is closing. Write errors come via onSubmitError.
	if err := c.sess.Transceiver().Submit(sm); err != nil {
		l.complete(c, w.seq, result{err: errNotWritten})
		return false
	}
	return true
}

// complete delivers r to the waiter of seq on c, freeing its window slot;
// false if there is none (already completed, or never ours).
func (l *Link) complete(c *conn, seq int32, r result) bool {
	l.mu.Lock()
	w, ok := c.pending[seq]
	if !ok {
		l.mu.Unlock()
		return false
	}
	delete(c.pending, seq)
	if w.timer != nil {
		w.timer.Stop()
	}
	l.m.setWindow(c.b.idx, len(c.pending))
	l.signalLocked()
	l.mu.Unlock()
	w.res <- r
	return true
}

// failAll completes everything c left pending once it is closed: written
// PDUs have an unknown outcome, the others are simply retried.
func (l *Link) failAll(c *conn) {
	l.mu.Lock()
	ws := c.pending
	c.pending = make(map[int32]*waiter)
	l.m.setWindow(c.b.idx, 0)
	l.signalLocked()
	rs := make([]result, 0, len(ws))
	list := make([]*waiter, 0, len(ws))
	for _, w := range ws {
		if w.timer != nil {
			w.timer.Stop()
		}
		r := result{err: errNotWritten}
		if w.sent {
			r.err = l.errDropped
		}
		list = append(list, w)
		rs = append(rs, r)
	}
	l.mu.Unlock()
	for i, w := range list {
		w.res <- rs[i]
	}
}
