package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"
	"github.com/valyala/fasthttp"
)

// runBench is the load tool: it drives N messages through POST /v1/messages
// of a running gateway with bounded concurrency, plays the unified back
// end's webhook to count delivered events, and reports one line of figures.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer, lookupEnv env) error {
	fs := newFlagSet("bench", stderr)
	url := fs.String("url", "", "gateway base URL (default $GATEWAY_URL or http://127.0.0.1:8080)")
	key := fs.String("key", "", "API key (default $GATEWAY_API_KEY)")
	n := fs.Int("n", 20000, "messages to send")
	conc := fs.Int("concurrency", 32, "requests in flight")
	rate := fs.Float64("rate", 0, "steady rate in messages/s (0: as fast as possible)")
	from := fs.String("from", "acme", "sender name")
	to := fs.String("to", "+33612345678", "recipient (E.164)")
	sink := fs.String("sink", "", "listen address for the webhook sink counting delivered events (e.g. 127.0.0.1:9000); empty: none")
	wait := fs.Duration("wait", 2*time.Minute, "how long to wait for delivery after the last accept")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *url == "" {
		if *url, _ = lookupEnv("GATEWAY_URL"); *url == "" {
			*url = "http://127.0.0.1:8080"
		}
	}
	if *key == "" {
		if *key, _ = lookupEnv("GATEWAY_API_KEY"); *key == "" {
			return usageError("bench: an API key is needed (--key or GATEWAY_API_KEY)")
		}
	}
	if *n <= 0 || *conc <= 0 {
		return usageError("bench: --n and --concurrency must be > 0")
	}
	var counter *eventCounter
	if *sink != "" {
		c, stop, err := startEventSink(*sink)
		if err != nil {
			return err
		}
		defer stop()
		counter = c
	}
	b := &bench{url: strings.TrimRight(*url, "/"), key: *key, from: *from, to: *to,
		// The load tool shares the machine with what it measures: its
		// requests go through fasthttp, which costs a fraction of
		// net/http's CPU per request (a connection per request in flight,
		// and one for the metrics).
		client: &fasthttp.Client{MaxConnsPerHost: *conc + 1, MaxConnWaitTimeout: 30 * time.Second}}
	before, _ := b.scrape(ctx)

	var bar *progressbar.ProgressBar
	if f, ok := stderr.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
		bar = progressbar.NewOptions(*n, progressbar.OptionSetWriter(stderr), progressbar.OptionSetDescription("accepting"),
			progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionClearOnFinish())
	}
	start := time.Now()
	lat := b.drive(ctx, *n, *conc, *rate, func() {
		if bar != nil {
			_ = bar.Add(1)
		}
	})
	acceptDur := time.Since(start)
	accepted := len(lat)

	// Wait until the gateway reports every accepted message submitted (and
	// delivered, when receipts flow), or the wait runs out.
	var after metricsSnapshot
	deadline := time.Now().Add(*wait)
	var submitDone, deliverDone time.Duration
	for time.Now().Before(deadline) {
		after, _ = b.scrape(ctx)
		sent := after.sent - before.sent
		if submitDone == 0 && sent >= float64(accepted) {
			submitDone = time.Since(start)
		}
		deliveredNow := after.delivered - before.delivered
		if counter != nil {
			deliveredNow = float64(counter.delivered.Load())
		}
		if submitDone != 0 && deliveredNow >= float64(accepted) {
			deliverDone = time.Since(start)
			if counter != nil {
				deliverDone = time.Unix(0, counter.lastDelivered.Load()).Sub(start)
				// Every message was submitted before it was delivered.
				submitDone = min(submitDone, deliverDone)
			}
			break
		}
		if ctx.Err() != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(float64(len(lat))*p))]
	}
	per := func(d time.Duration) string {
		if d == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.0f", float64(accepted)/d.Seconds())
	}
	errs := b.errorSummary()
	fmt.Fprintf(stdout, "bench: n=%d concurrency=%d accepted=%d accepted/s=%.0f p50=%s p90=%s p99=%s submitted/s=%s delivered/s=%s rss=%.0fMB errors=%s\n",
		*n, *conc, accepted, float64(accepted)/acceptDur.Seconds(), pct(0.50).Round(10*time.Microsecond), pct(0.90).Round(10*time.Microsecond),
		pct(0.99).Round(10*time.Microsecond), per(submitDone), per(deliverDone), after.rss/1e6, errs)
	if accepted < *n {
		return fmt.Errorf("bench: %d of %d messages were not accepted", *n-accepted, *n)
	}
	return nil
}

type bench struct {
	url, key, from, to string
	client             *fasthttp.Client
	mu                 sync.Mutex
	errs               map[string]int
}

// drive sends n messages and returns the accept latency of each accepted one.
func (b *bench) drive(ctx context.Context, n, conc int, rate float64, tick func()) []time.Duration {
	var (
		next atomic.Int64
		mu   sync.Mutex
		lat  = make([]time.Duration, 0, n)
		wg   sync.WaitGroup
	)
	start := time.Now()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				if rate > 0 {
					// Open-loop pacing: message i leaves at its slot, so a slow
					// answer shows up as latency, not as a lower rate.
					if d := time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))); d > 0 {
						time.Sleep(d)
					}
				}
				t0 := time.Now()
				if err := b.send(ctx, i); err != nil {
					b.fail(err)
					continue
				}
				d := time.Since(t0)
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
				tick()
			}
		}()
	}
	wg.Wait()
	return lat
}

func (b *bench) send(ctx context.Context, i int64) error {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(b.url + "/v1/messages")
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.Set("Authorization", "Bearer "+b.key)
	req.Header.SetContentType("application/json")
	req.SetBodyString(`{"to":"` + b.to + `","from":"` + b.from + `","content":{"text":"bench message ` + strconv.FormatInt(i, 10) + `"}}`)
	if err := b.do(ctx, req, resp); err != nil {
		return err
	}
	if resp.StatusCode() != http.StatusAccepted {
		return fmt.Errorf("http %d", resp.StatusCode())
	}
	return nil
}

// do sends req within 30 s, or less if ctx ends sooner.
func (b *bench) do(ctx context.Context, req *fasthttp.Request, resp *fasthttp.Response) error {
	timeout := 30 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	return b.client.DoTimeout(req, resp, timeout)
}

func (b *bench) fail(err error) {
	kind := err.Error()
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		kind = "timeout"
	} else if strings.Contains(kind, "connection refused") {
		kind = "connection refused"
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.errs == nil {
		b.errs = map[string]int{}
	}
	b.errs[kind]++
}

func (b *bench) errorSummary() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.errs) == 0 {
		return "none"
	}
	var parts []string
	for k, v := range b.errs {
		parts = append(parts, fmt.Sprintf("%q:%d", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

type metricsSnapshot struct {
	sent, delivered, rss float64
}

// scrape reads the gateway's own counts from /metrics.
func (b *bench) scrape(ctx context.Context) (metricsSnapshot, error) {
	var s metricsSnapshot
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(b.url + "/metrics")
	if err := b.do(ctx, req, resp); err != nil {
		return s, err
	}
	sc := bufio.NewScanner(bytes.NewReader(resp.Body()))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			continue
		}
		switch {
		case strings.HasPrefix(name, "gateway_message_status_total{") && strings.Contains(name, `status="sent"`):
			s.sent += v
		case strings.HasPrefix(name, "gateway_message_status_total{") && strings.Contains(name, `status="delivered"`):
			s.delivered += v
		case name == "process_resident_memory_bytes":
			s.rss = v
		}
	}
	return s, sc.Err()
}

type eventCounter struct {
	delivered atomic.Int64
	events    atomic.Int64
	// lastDelivered is when the latest delivered status arrived (Unix
	// nanoseconds): the end of the run, to the event, where polling the
	// count would add up to a polling period to every run.
	lastDelivered atomic.Int64
}

// startEventSink plays the unified back end: it answers every event 204 and
// counts the delivered statuses.
func startEventSink(addr string) (*eventCounter, func(), error) {
	c := &eventCounter{}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("bench: sink: %w", err)
	}
	srv := &fasthttp.Server{ReadTimeout: 5 * time.Second, Handler: func(rc *fasthttp.RequestCtx) {
		body := rc.PostBody()
		c.events.Add(1)
		if bytes.Contains(body, []byte(`"status":"delivered"`)) {
			var ev struct{ Type, Status string }
			if json.Unmarshal(body, &ev) == nil && ev.Type == "message.status" && ev.Status == "delivered" {
				c.lastDelivered.Store(time.Now().UnixNano())
				c.delivered.Add(1)
			}
		}
		rc.SetStatusCode(fasthttp.StatusNoContent)
	}}
	go func() { _ = srv.Serve(ln) }()
	return c, func() { _ = srv.Shutdown() }, nil
}
