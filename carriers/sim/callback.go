package sim

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"time"
)

// maxCallbackBackoff caps the doubling pause between callback attempts.
const maxCallbackBackoff = 5 * time.Second

// outKind names an outbox: callbacks of one service, posted in order.
type outKind int

const (
	outRBM outKind = iota
	outMM7
	numOut
)

// callback is one HTTP POST the Sim owes the gateway.
type callback struct {
	url         string
	contentType string
	header      http.Header
	body        []byte
	// ack says whether an answer acknowledges the callback; an error means
	// "post it again".
	ack func(code int, h http.Header, body []byte) error
}

// outbox is a FIFO of callbacks drained by at most one goroutine at a time.
// One queue per service, as on the real platforms: a callback that keeps
// failing holds back the ones behind it (rbm.md §8.2), which also keeps a
// message's DELIVERED ahead of its READ.
type outbox struct {
	q       []*callback
	running bool
}

// queueLocked appends cb to outbox k and starts its drainer if needed.
func (s *Sim) queueLocked(k outKind, cb *callback) {
	o := &s.out[k]
	o.q = append(o.q, cb)
	if o.running || s.closed {
		return
	}
	o.running = true
	s.wg.Add(1)
	go s.drain(k)
}

func (s *Sim) drain(k outKind) {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		o := &s.out[k]
		if len(o.q) == 0 || s.closed {
			o.running = false
			s.mu.Unlock()
			return
		}
		cb := o.q[0]
		s.mu.Unlock()
		acked := s.post(k, cb)
		s.mu.Lock()
		o.q[0] = nil
		o.q = o.q[1:]
		switch {
		case acked && k == outRBM:
			s.stats.RBMCallbacksAcked++
		case acked:
			s.stats.MM7CallbacksAcked++
		case s.closed:
		case k == outRBM:
			s.stats.RBMCallbacksLost++
		default:
			s.stats.MM7CallbacksLost++
		}
		s.mu.Unlock()
	}
}

// post delivers cb with back-off; false when given up or the Sim closed.
func (s *Sim) post(k outKind, cb *callback) bool {
	delay := s.cfg.CallbackRetryDelay
	for attempt := 1; ; attempt++ {
		err := s.postOnce(cb)
		if err == nil {
			return true
		}
		s.log.Warn("sim: callback not acknowledged", "url", cb.url, "attempt", attempt, "err", err)
		if attempt >= s.cfg.CallbackAttempts {
			s.log.Error("sim: callback dropped", "url", cb.url, "attempts", attempt)
			return false
		}
		t := time.NewTimer(delay)
		select {
		case <-s.stop:
			t.Stop()
			return false
		case <-t.C:
		}
		delay = min(delay*2, maxCallbackBackoff)
		s.mu.Lock()
		if k == outRBM {
			s.stats.RBMCallbackRetries++
		} else {
			s.stats.MM7CallbackRetries++
		}
		s.mu.Unlock()
	}
}

func (s *Sim) postOnce(cb *callback) error {
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, cb.url, bytes.NewReader(cb.body))
	if err != nil {
		return fmt.Errorf("sim: callback: %w", err)
	}
	for k, v := range cb.header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", cb.contentType)
	resp, err := s.hc.Do(req)
	if err != nil {
		return fmt.Errorf("sim: callback: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("sim: callback: read answer: %w", err)
	}
	return cb.ack(resp.StatusCode, resp.Header, body)
}

// laterLocked runs f after d on its own goroutine, unless the Sim closes
// first. f must take s.mu itself.
func (s *Sim) laterLocked(d time.Duration, f func()) {
	if s.closed {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-s.stop:
		case <-t.C:
			f()
		}
	}()
}
