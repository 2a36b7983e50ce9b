package notify_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"gateway/web/notify"
)

// pipeServer is a webhook receiver that reads requests itself, so that a
// test sees how they arrive: how many were already waiting behind the one
// it reads (pipelined), on how many connections, and can end a connection
// after an answer.
type pipeServer struct {
	ln net.Listener
	// closeAfter, when positive, ends each connection after that many
	// answers, the last one saying Connection: close unless silent.
	closeAfter int
	silent     bool

	mu        sync.Mutex
	conns     int
	requests  int
	pipelined int                 // requests read while the next was already buffered
	order     map[string][]string // key → event ids, in arrival order
	badSigs   int
}

func newPipeServer(t *testing.T, closeAfter int, silent bool) *pipeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ps := &pipeServer{ln: ln, closeAfter: closeAfter, silent: silent, order: map[string][]string{}}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go ps.serve(c)
		}
	}()
	t.Cleanup(func() { _ = ln.Close() })
	return ps
}

func (ps *pipeServer) url() string { return "http://" + ps.ln.Addr().String() + "/events" }

func (ps *pipeServer) serve(c net.Conn) {
	defer func() { _ = c.Close() }()
	ps.mu.Lock()
	ps.conns++
	ps.mu.Unlock()
	br, bw := bufio.NewReader(c), bufio.NewWriter(c)
	for answered := 1; ; answered++ {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		body, _ := io.ReadAll(req.Body)
		var b struct {
			Key string `json:"message_id"`
		}
		_ = json.Unmarshal(body, &b)
		ps.mu.Lock()
		ps.requests++
		if br.Buffered() > 0 {
			ps.pipelined++
		}
		ps.order[b.Key] = append(ps.order[b.Key], req.Header.Get("X-Gateway-Event-Id"))
		if !notify.Verify(secret, body, req.Header.Get("X-Gateway-Signature")) {
			ps.badSigs++
		}
		ps.mu.Unlock()
		last := ps.closeAfter > 0 && answered == ps.closeAfter
		conn := ""
		if last && !ps.silent {
			conn = "Connection: close\r\n"
		}
		fmt.Fprintf(bw, "HTTP/1.1 204 No Content\r\n%s\r\n", conn)
		// Answers go out together when the next request is already here,
		// as a server answering a pipeline does.
		if br.Buffered() == 0 || last {
			if bw.Flush() != nil {
				return
			}
		}
		if last {
			return
		}
	}
}

func (ps *pipeServer) stats() (conns, requests, pipelined int) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.conns, ps.requests, ps.pipelined
}

// Events of many messages share a few connections, written several at a
// time, and each message's events still arrive one after another, in order.
func TestPipelinedPostsShareConnectionsInOrder(t *testing.T) {
	t.Parallel()
	ps := newPipeServer(t, 0, false)
	b := setup(t, nil)
	b.cfg.URL, b.cfg.Pipeline = ps.url(), 8
	now := b.clock.Now()
	want := map[string][]string{}
	var all []string
	for e := range 6 {
		for k := range 40 {
			key := fmt.Sprintf("msg_%02d", k)
			id := b.store.add(key, now.Add(time.Duration(e*40+k-1000)*time.Millisecond))
			want[key] = append(want[key], id)
			all = append(all, id)
		}
	}
	b.start(t)
	eventually(t, func() bool { return b.store.delivered(all...) }, "all delivered")

	conns, requests, pipelined := ps.stats()
	require.Equal(t, len(all), requests, "each event posted once")
	require.LessOrEqual(t, conns, 2, "Concurrency 16 over pipelines of 8: two connections")
	require.Positive(t, pipelined, "requests written ahead of their predecessors' answers")
	ps.mu.Lock()
	defer ps.mu.Unlock()
	require.Zero(t, ps.badSigs)
	require.Equal(t, want, ps.order)
}

// A receiver that ends every connection after two answers, saying so or
// not: the events written behind them go again on a new connection, and
// all arrive.
func TestPipelinedPostsSurviveClosedConnections(t *testing.T) {
	t.Parallel()
	for _, silent := range []bool{false, true} {
		t.Run(fmt.Sprintf("silent=%v", silent), func(t *testing.T) {
			t.Parallel()
			ps := newPipeServer(t, 2, silent)
			b := setup(t, nil)
			b.cfg.URL, b.cfg.Pipeline = ps.url(), 8
			now := b.clock.Now()
			var all []string
			for k := range 30 {
				all = append(all, b.store.add(fmt.Sprintf("msg_%02d", k), now.Add(-time.Second)))
			}
			b.start(t)
			eventually(t, func() bool { return b.store.delivered(all...) }, "all delivered")

			conns, requests, _ := ps.stats()
			require.GreaterOrEqual(t, conns, 15, "two answers a connection")
			require.GreaterOrEqual(t, requests, len(all))
			// An event cut off is handed back due at once, not backed
			// off: the receiver did not refuse it.
			for _, id := range all {
				for _, f := range b.store.event(id).failures {
					require.Contains(t, f.err, "closed before the answer", id)
					require.Equal(t, b.clock.Now(), f.nextAt, id)
				}
			}
			require.Zero(t, metricValue(t, b.reg, "gateway_webhook_events_failed_total", nil))
		})
	}
}

// Go's own HTTP server answers pipelined requests in order.
func TestPipelinedPostsToNetHTTP(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.cfg.Pipeline = 8
	now := b.clock.Now()
	var all []string
	for e := range 3 {
		for k := range 20 {
			all = append(all, b.store.add(fmt.Sprintf("msg_%02d", k), now.Add(time.Duration(e*20+k-1000)*time.Millisecond)))
		}
	}
	b.start(t)
	eventually(t, func() bool { return b.store.delivered(all...) }, "all delivered")
	b.recv.mu.Lock()
	defer b.recv.mu.Unlock()
	require.Zero(t, b.recv.badSigs)
	require.Equal(t, 1, b.recv.maxKey, "one event of a message at a time")
	seen := map[string]int{}
	for _, r := range b.recv.got {
		seen[r.ID]++
	}
	require.Len(t, seen, len(all))
}
