package notify

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/valyala/fasthttp"
)

// Pipelined POSTs (Config.Pipeline > 1). A message's two status events cost
// the gateway a write and a read each, and the receiver as much again: with
// make bench's events left out, the gateway delivered about a fifth more
// (docs/BENCHMARKS.md). A pipelined worker takes what the queue holds, up
// to Pipeline events, writes their POSTs in one go on its own connection
// and reads the answers in order, so that a batch costs a write and a read
// or two on each side.
//
// The queue never holds two events of one key (one per message is in
// flight), so a batch is in order whatever happens to it. HTTP/1.1 asks a
// client pipelining POSTs to recover from a connection that ends part way
// (RFC 7230 §6.3.2): the events without an answer are written again once on
// a new connection, and each carries its id for the receiver to tell a
// repeat, as at-least-once delivery requires anyway.

// errUnanswered: the connection ended before this event's answer.
var errUnanswered = errors.New("notify: the connection closed before the answer")

// pipe is one pipelined worker's connection.
type pipe struct {
	conn net.Conn
	bw   *bufio.Writer
	br   *bufio.Reader
}

func (p *pipe) close() {
	if p.conn != nil {
		_ = p.conn.Close()
		p.conn = nil
	}
}

// postPipelined is a POST worker that sends the queue's events in batches.
func (r *run) postPipelined(ctx context.Context) {
	d := r.d
	var p pipe
	defer p.close()
	batch := make([]claimed, 0, d.cfg.Pipeline)
	errs := make([]error, d.cfg.Pipeline)
	for c := range r.queue {
		batch = takeReady(r.queue, append(batch[:0], c), d.cfg.Pipeline)
		// Meta's dialects have a subscription handshake before their
		// first POST (post does it): they go one at a time.
		send := batch[:0]
		for _, c := range batch {
			err := ctx.Err()
			if err == nil && !d.leaseLasts(c) {
				err = errLeaseShort
			}
			switch {
			case err != nil:
				r.complete(ctx, c.ev, err)
			case isMeta(c.ev.Dialect):
				r.complete(ctx, c.ev, d.post(ctx, c.ev))
			default:
				send = append(send, c)
			}
		}
		if len(send) == 0 {
			continue
		}
		d.postBatch(&p, send, errs[:len(send)])
		for i, c := range send {
			r.complete(ctx, c.ev, errs[i])
		}
	}
}

// postBatch sends batch on p and sets errs[i] to the outcome of batch[i]'s
// POST. When the connection ends part way (or a kept-alive one turns out
// closed), the events without an answer are sent once more on a new one;
// those still unanswered after that keep errUnanswered and go back to the
// store due at once (record).
func (d *Dispatcher) postBatch(p *pipe, batch []claimed, errs []error) {
	d.metrics.inflight.Add(float64(len(batch)))
	defer d.metrics.inflight.Sub(float64(len(batch)))
	start := time.Now()
	for i := range errs {
		errs[i] = errUnanswered
	}
	for try := 0; try < 2; try++ {
		reused := p.conn != nil
		answered, err := d.roundTrip(p, batch, errs)
		if err == nil {
			break
		}
		if try == 0 && (answered > 0 || reused && closedByPeer(err)) && d.leaseLasts(batch...) {
			continue
		}
		if answered == 0 {
			for i := range errs {
				if errors.Is(errs[i], errUnanswered) {
					errs[i] = fmt.Errorf("notify: post event: %w", err)
				}
			}
		}
		break
	}
	took := time.Since(start).Seconds()
	for range batch {
		d.metrics.latency.Observe(took)
	}
}

// leaseLasts says whether every lease of batch outlasts a POST started now
// (see errLeaseShort).
func (d *Dispatcher) leaseLasts(batch ...claimed) bool {
	end := d.cfg.NowFunc().Add(d.cfg.Timeout)
	for _, c := range batch {
		if end.After(c.leaseUntil) {
			return false
		}
	}
	return true
}

// roundTrip writes the POSTs of batch's unanswered events on p (connecting
// it first if need be) and reads their answers in order, setting errs[i]
// for each answered one. It returns how many were answered, and the error
// that ended the connection (p is closed then); a receiver closing it after
// an answer ends it without an error.
func (d *Dispatcher) roundTrip(p *pipe, batch []claimed, errs []error) (int, error) {
	if d.clientErr != nil {
		return 0, d.clientErr
	}
	if p.conn == nil {
		c, err := d.client.dial(d.cfg.Timeout)
		if err != nil {
			return 0, err
		}
		p.conn, p.bw, p.br = c, bufio.NewWriterSize(c, 16<<10), bufio.NewReaderSize(c, 4<<10)
	}
	_ = p.conn.SetDeadline(time.Now().Add(d.cfg.Timeout))
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	// Events answered by an earlier try, or not for this receiver, have
	// their outcome; the others, still errUnanswered, are written.
	for i, c := range batch {
		if !errors.Is(errs[i], errUnanswered) {
			continue
		}
		body, skip, err := Render(c.ev)
		if err != nil || skip {
			errs[i] = err // skip: not for this receiver, delivered by not sending it
			continue
		}
		req.Reset()
		d.fillRequest(req, c.ev, body)
		if err := req.Write(p.bw); err != nil {
			return 0, d.broken(p, err)
		}
	}
	if err := p.bw.Flush(); err != nil {
		return 0, d.broken(p, err)
	}
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	answered := 0
	for i := range batch {
		if !errors.Is(errs[i], errUnanswered) {
			continue
		}
		resp.Reset()
		if err := resp.ReadLimitBody(p.br, answerDrain); err != nil {
			return answered, d.broken(p, err)
		}
		answered++
		body := resp.Body()
		errs[i] = answerError(resp.StatusCode(), body[:min(len(body), answerSnippet)])
		if resp.ConnectionClose() {
			p.close()
			if slices.ContainsFunc(errs[i+1:], func(err error) bool { return errors.Is(err, errUnanswered) }) {
				return answered, errUnanswered
			}
			return answered, nil
		}
	}
	_ = p.conn.SetDeadline(time.Time{})
	return answered, nil
}

// broken closes p after err.
func (d *Dispatcher) broken(p *pipe, err error) error {
	p.close()
	if isTimeout(err) {
		return fmt.Errorf("no answer within %s: %w", d.cfg.Timeout, err)
	}
	return err
}

// takeReady appends to batch what ch holds already, until batch has limit
// elements: it never waits.
func takeReady[T any](ch <-chan T, batch []T, limit int) []T {
	for len(batch) < limit {
		select {
		case v, open := <-ch:
			if !open {
				return batch
			}
			batch = append(batch, v)
		default:
			return batch
		}
	}
	return batch
}
