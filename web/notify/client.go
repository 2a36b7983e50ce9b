package notify

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// webhookClient sends the dispatcher's requests. It is fasthttp's client
// rather than net/http's: a net/http connection has a writer and a reader
// goroutine and every request passes through both, which made two POSTs a
// message cost about 15 % of the gateway's CPU under make bench; fasthttp
// writes and reads on the caller's goroutine.
//
// It never follows redirects, so that a signed event is never handed to
// another URL.
type webhookClient struct {
	c     *fasthttp.HostClient
	conns openConns
	// For the pipelined connections (pipeline.go), which fasthttp's
	// client does not make: where to dial, and TLS when https.
	addr string
	tls  *tls.Config // nil: plain http
}

// Answers larger than this are not read to the end: the connection is
// closed instead of drained.
const (
	answerSnippet = 512
	answerDrain   = 64 << 10
)

// newWebhookClient returns a client for the host of rawURL, with up to conns
// connections, each request within timeout, over TLS configured by
// tlsConfig for https (nil: the system's roots).
func newWebhookClient(rawURL, userAgent string, conns int, timeout time.Duration, tlsConfig *tls.Config) (*webhookClient, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("notify: webhook url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("notify: webhook url %q: want http:// or https:// and a host", rawURL)
	}
	w := &webhookClient{addr: fasthttp.AddMissingPort(u.Host, u.Scheme == "https")}
	if u.Scheme == "https" {
		w.tls = &tls.Config{ServerName: u.Hostname()}
		if tlsConfig != nil {
			w.tls = tlsConfig.Clone()
			if w.tls.ServerName == "" {
				w.tls.ServerName = u.Hostname()
			}
		}
	}
	w.c = &fasthttp.HostClient{
		Addr:                w.addr,
		IsTLS:               u.Scheme == "https",
		TLSConfig:           tlsConfig,
		Name:                userAgent,
		MaxConns:            conns,
		MaxConnWaitTimeout:  timeout,
		MaxIdleConnDuration: 30 * time.Second,
		StreamResponseBody:  true,
		DialTimeout: func(addr string, timeout time.Duration) (net.Conn, error) {
			return w.conns.dial(addr, timeout)
		},
		// A keep-alive connection the receiver closed while it was idle
		// fails the next request before any answer: send it once more on a
		// new connection (receivers tell repeats apart by event id anyway).
		RetryIfErr: func(_ *fasthttp.Request, attempts int, err error) (bool, bool) {
			return false, attempts == 1 && closedByPeer(err) && !w.conns.isCut()
		},
	}
	return w, nil
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

func closedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, fasthttp.ErrConnectionClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// do sends req and returns the status of the answer and the start of its
// body, within timeout.
func (w *webhookClient) do(req *fasthttp.Request, timeout time.Duration) (int, []byte, error) {
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	if err := w.c.DoTimeout(req, resp, timeout); err != nil {
		if isTimeout(err) {
			return 0, nil, fmt.Errorf("no answer within %s: %w", timeout, err)
		}
		return 0, nil, err
	}
	var head []byte
	if body := resp.BodyStream(); body != nil {
		head, _ = io.ReadAll(io.LimitReader(body, answerSnippet))
		// Drain a little more so the connection can be reused; a receiver
		// sending megabytes of answer gets its connection closed instead.
		_, _ = io.Copy(io.Discard, io.LimitReader(body, answerDrain))
		_ = resp.CloseBodyStream()
	} else {
		head = append(head, resp.Body()[:min(len(resp.Body()), answerSnippet)]...)
	}
	return resp.StatusCode(), head, nil
}

// cut closes every connection, which ends the requests in flight on them at
// once, and refuses new ones until resume (Run's end: fasthttp's requests
// take no context).
func (w *webhookClient) cut() {
	w.conns.cut()
	w.c.CloseIdleConnections()
}

func (w *webhookClient) resume() { w.conns.resume() }

// dial opens a connection of its own (TLS when https), tracked for cut like
// the client's.
func (w *webhookClient) dial(timeout time.Duration) (net.Conn, error) {
	c, err := w.conns.dial(w.addr, timeout)
	if err != nil || w.tls == nil {
		return c, err
	}
	tc := tls.Client(c, w.tls)
	_ = tc.SetDeadline(time.Now().Add(timeout))
	if err := tc.Handshake(); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("tls handshake with %s: %w", w.addr, err)
	}
	_ = tc.SetDeadline(time.Time{})
	return tc, nil
}

// openConns tracks the client's connections so that they can be cut.
type openConns struct {
	mu     sync.Mutex
	open   map[*trackedConn]struct{}
	closed bool
}

var errCut = errors.New("the dispatcher is stopping")

func (o *openConns) dial(addr string, timeout time.Duration) (net.Conn, error) {
	if o.isCut() {
		return nil, errCut
	}
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	t := &trackedConn{Conn: c, owner: o}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		_ = c.Close()
		return nil, errCut
	}
	if o.open == nil {
		o.open = map[*trackedConn]struct{}{}
	}
	o.open[t] = struct{}{}
	return t, nil
}

func (o *openConns) isCut() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.closed
}

func (o *openConns) cut() {
	o.mu.Lock()
	o.closed = true
	conns := make([]*trackedConn, 0, len(o.open))
	for c := range o.open {
		conns = append(conns, c)
	}
	o.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

func (o *openConns) resume() {
	o.mu.Lock()
	o.closed = false
	o.mu.Unlock()
}

type trackedConn struct {
	net.Conn
	owner *openConns
	once  sync.Once
}

func (t *trackedConn) Close() error {
	t.once.Do(func() {
		t.owner.mu.Lock()
		delete(t.owner.open, t)
		t.owner.mu.Unlock()
	})
	return t.Conn.Close()
}
