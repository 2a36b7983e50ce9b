package smpp_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/linxGnu/gosmpp/pdu"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"gateway/carriers/sim"
	"gateway/sms/smpp"
)

const (
	sysID    = "gw"
	password = "secret"
)

func startSim(tb testing.TB, cfg sim.Config) *sim.Sim {
	tb.Helper()
	cfg.SMPPAddr = "127.0.0.1:0"
	if cfg.SystemID == "" {
		cfg.SystemID, cfg.Password = sysID, password
	}
	s := sim.New(cfg)
	require.NoError(tb, s.Start())
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// testConfig has timings short enough for tests.
func testConfig(addr string) smpp.Config {
	return smpp.Config{
		Carrier:         "test",
		Address:         addr,
		SystemID:        sysID,
		Password:        password,
		TPS:             10000,
		EnquireLink:     time.Second,
		ResponseTimeout: 2 * time.Second,
		RebindMin:       10 * time.Millisecond,
		RebindMax:       100 * time.Millisecond,
		ThrottlePause:   50 * time.Millisecond,
	}
}

// openLink opens a link on cfg and closes it at the end of the test.
func openLink(tb testing.TB, cfg smpp.Config, deliver smpp.DeliverFunc, opts ...func(*linkOpts)) *smpp.Link {
	tb.Helper()
	var o linkOpts
	for _, f := range opts {
		f(&o)
	}
	require.NoError(tb, cfg.WithDefaults().Validate())
	if deliver == nil {
		deliver = func(context.Context, smpp.Deliver) error { return nil }
	}
	if o.logger == nil {
		o.logger = slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	l := smpp.New(cfg, deliver, o.logger, o.metrics)
	l.Open()
	tb.Cleanup(func() { _ = l.Close() })
	return l
}

// tbWriter sends log lines to the test log (shown on failure or with -v).
type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Helper()
	w.tb.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

type linkOpts struct {
	logger  *slog.Logger
	metrics *smpp.Metrics
}

func withLogger(lg *slog.Logger) func(*linkOpts) { return func(o *linkOpts) { o.logger = lg } }
func withMetrics(m *smpp.Metrics) func(*linkOpts) {
	return func(o *linkOpts) { o.metrics = m }
}

// eventually polls cond until it holds or d passes.
func eventually(tb testing.TB, d time.Duration, cond func() bool, what string) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func waitReady(tb testing.TB, l *smpp.Link) {
	tb.Helper()
	eventually(tb, 5*time.Second, l.Ready, "link ready")
}

// waitBinds waits until all n binds are up on both sides.
func waitBinds(tb testing.TB, l *smpp.Link, s *sim.Sim, n int) {
	tb.Helper()
	eventually(tb, 5*time.Second, func() bool {
		up := 0
		for _, b := range l.Status().Binds {
			if b.Up {
				up++
			}
		}
		return up == n && s.Stats().Binds == n
	}, fmt.Sprintf("%d binds up", n))
}

func textPart(dest, text string) smpp.Part {
	return smpp.Part{
		SourceTON: 5, Source: "ACME",
		DestTON: 1, DestNPI: 1, Dest: dest,
		ShortMessage: []byte(text), // ASCII letters and digits are GSM 03.38 septets as is
	}
}

func submitCtx(tb testing.TB, d time.Duration) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return ctx
}

// kindOf returns the Kind of a Submit error, failing if it is not a
// *SubmitError.
func kindOf(tb testing.TB, err error) smpp.Kind {
	tb.Helper()
	var se *smpp.SubmitError
	require.True(tb, errors.As(err, &se), "not a *SubmitError: %v", err)
	return se.Kind
}

// metricValue reads one sample from reg (0 if absent).
func metricValue(tb testing.TB, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	tb.Helper()
	fams, err := reg.Gather()
	require.NoError(tb, err)
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				if want, ok := labels[lp.GetName()]; ok && want != lp.GetValue() {
					continue next
				}
			}
			switch {
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return 0
}

// countingHandler counts log records by message.
type countingHandler struct {
	mu     sync.Mutex
	counts map[string]int
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.counts == nil {
		h.counts = map[string]int{}
	}
	h.counts[r.Level.String()+" "+r.Message]++
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }
func (h *countingHandler) count(key string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.counts[key]
}

// fakeSMSC is a scripted SMSC for what carriers/sim cannot do (arbitrary
// command_status, generic_nack, silence on enquire_link, odd data_coding).
// It accepts any bind, and hands every other PDU to handle.
type fakeSMSC struct {
	ln       net.Listener
	handle   func(c *fakeConn, p pdu.PDU)
	conns    atomic.Int32
	wg       sync.WaitGroup
	mu       sync.Mutex
	open     []*fakeConn
	noEnqAck bool
}

type fakeConn struct {
	net.Conn
	mu sync.Mutex
}

func (c *fakeConn) send(p pdu.PDU) {
	buf := pdu.NewBuffer(nil)
	p.Marshal(buf)
	c.mu.Lock()
	defer c.mu.Unlock()
	_, _ = c.Write(buf.Bytes())
}

func startFake(tb testing.TB, noEnquireAck bool, handle func(c *fakeConn, p pdu.PDU)) *fakeSMSC {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	f := &fakeSMSC{ln: ln, handle: handle, noEnqAck: noEnquireAck}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			c := &fakeConn{Conn: nc}
			f.mu.Lock()
			f.open = append(f.open, c)
			f.mu.Unlock()
			f.conns.Add(1)
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				f.serve(c)
			}()
		}
	}()
	tb.Cleanup(func() {
		_ = ln.Close()
		f.mu.Lock()
		for _, c := range f.open {
			_ = c.Close()
		}
		f.mu.Unlock()
		f.wg.Wait()
	})
	return f
}

func (f *fakeSMSC) addr() string { return f.ln.Addr().String() }

func (f *fakeSMSC) serve(c *fakeConn) {
	defer c.Close()
	for {
		p, err := pdu.Parse(c)
		if err != nil {
			return
		}
		switch pd := p.(type) {
		case *pdu.BindRequest:
			c.send(pd.GetResponse())
		case *pdu.EnquireLink:
			if !f.noEnqAck {
				c.send(pd.GetResponse())
			}
		case *pdu.Unbind:
			c.send(pd.GetResponse())
			return
		default:
			if f.handle != nil {
				f.handle(c, p)
			}
		}
	}
}
