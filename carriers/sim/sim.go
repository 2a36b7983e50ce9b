package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultReceiptDelay    = 50 * time.Millisecond
	DefaultDeliverTimeout  = 5 * time.Second
	DefaultRedeliverDelay  = 200 * time.Millisecond
	DefaultMaxRedeliveries = 10

	DefaultCallbackRetryDelay = 200 * time.Millisecond
	DefaultCallbackAttempts   = 8
	DefaultCallbackTimeout    = 5 * time.Second
)

// firstMessageID is the counter value of the first message id, so that
// decimal ids look like "1000000" and never start with a zero.
const firstMessageID = 1_000_000

// Sim is a simulated carrier. Its methods are safe for concurrent use.
type Sim struct {
	cfg   Config
	log   *slog.Logger
	now   func() time.Time
	sched *sched
	mux   *http.ServeMux

	stop chan struct{}
	wg   sync.WaitGroup
	// ctx is cancelled by Close; it bounds callbacks to the gateway.
	ctx    context.Context
	cancel context.CancelFunc
	hc     *http.Client

	mu       sync.Mutex
	started  bool
	closed   bool
	smppLn   net.Listener
	httpLn   net.Listener
	httpSrv  *http.Server
	conns    map[int]*conn
	nextConn int

	// faults
	refuseUntil time.Time
	throttleN   int
	queueFullN  int
	stall       bool
	tps         int
	tpsSecond   time.Time
	tpsCount    int
	auto        bool

	nextID  uint64
	moRef   uint16
	submits []Submit
	byID    map[string]int
	stats   Stats

	// RBM API, MM7 relay and their callbacks to the gateway (rbm.go, mm7.go,
	// callback.go), also guarded by mu.
	rbm rbmState
	mm7 mm7State
	out [numOut]outbox
}

// New returns a Sim with defaults applied; Start makes it listen.
func New(cfg Config) *Sim {
	if cfg.ReceiptDelay == 0 {
		cfg.ReceiptDelay = DefaultReceiptDelay
	}
	if cfg.ReceiptDelay < 0 {
		cfg.ReceiptDelay = 0
	}
	if cfg.IDFormat == "" {
		cfg.IDFormat = "dec"
	}
	if cfg.DeliverTimeout <= 0 {
		cfg.DeliverTimeout = DefaultDeliverTimeout
	}
	if cfg.RedeliverDelay <= 0 {
		cfg.RedeliverDelay = DefaultRedeliverDelay
	}
	if cfg.MaxRedeliveries <= 0 {
		cfg.MaxRedeliveries = DefaultMaxRedeliveries
	}
	if cfg.NowFunc == nil {
		cfg.NowFunc = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RBMToken == "" {
		cfg.RBMToken = DefaultRBMToken
	}
	if cfg.MM7Namespace == "" {
		cfg.MM7Namespace = DefaultMM7Namespace
	}
	if cfg.MM7Version == "" {
		cfg.MM7Version = DefaultMM7Version
	}
	if cfg.CallbackRetryDelay <= 0 {
		cfg.CallbackRetryDelay = DefaultCallbackRetryDelay
	}
	if cfg.CallbackAttempts <= 0 {
		cfg.CallbackAttempts = DefaultCallbackAttempts
	}
	if cfg.CallbackTimeout <= 0 {
		cfg.CallbackTimeout = DefaultCallbackTimeout
	}
	s := &Sim{
		cfg:    cfg,
		log:    cfg.Logger,
		now:    cfg.NowFunc,
		sched:  newSched(),
		stop:   make(chan struct{}),
		conns:  make(map[int]*conn),
		auto:   cfg.AutoReceipts,
		nextID: firstMessageID,
		byID:   make(map[string]int),
		hc:     &http.Client{Timeout: cfg.CallbackTimeout},
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.initRBM()
	s.initMM7()
	s.mux = http.NewServeMux()
	s.routes()
	s.routesRBM()
	s.routesMM7()
	s.routesHandset()
	return s
}

// Start listens on SMPPAddr (and HTTPAddr if set) and returns once both
// listeners are open. It fails on a bad configuration or a busy address.
func (s *Sim) Start() error {
	if s.cfg.SMPPAddr == "" {
		return errors.New("sim: SMPPAddr is empty")
	}
	if s.cfg.IDFormat != "dec" && s.cfg.IDFormat != "hex" {
		return fmt.Errorf("sim: IDFormat %q: want dec or hex", s.cfg.IDFormat)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("sim: already started")
	}
	ln, err := net.Listen("tcp", s.cfg.SMPPAddr)
	if err != nil {
		return fmt.Errorf("sim: listen smpp: %w", err)
	}
	if s.cfg.HTTPAddr != "" {
		hl, err := net.Listen("tcp", s.cfg.HTTPAddr)
		if err != nil {
			_ = ln.Close()
			return fmt.Errorf("sim: listen http: %w", err)
		}
		s.httpLn = hl
		s.httpSrv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.httpSrv.Serve(hl); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("sim: http serve", "err", err)
			}
		}()
	}
	s.smppLn = ln
	s.started = true
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		s.sched.run(s.stop)
	}()
	go func() {
		defer s.wg.Done()
		s.acceptLoop(ln)
	}()
	s.log.Info("sim: listening", "smpp", ln.Addr().String(), "http", s.httpURLLocked())
	return nil
}

// Close stops listening, drops every connection and waits for the Sim's
// goroutines. Undelivered receipts and MO messages are discarded, and so are
// RBM and MM7 callbacks not yet acknowledged.
func (s *Sim) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	var errs []error
	if s.smppLn != nil {
		if err := s.smppLn.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	conns := make([]*conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	srv := s.httpSrv
	s.mu.Unlock()
	close(s.stop)
	s.cancel()
	for _, c := range conns {
		c.close()
	}
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
		cancel()
	}
	s.wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sim: close: %w", err)
	}
	return nil
}

// SMPPAddr returns the actual host:port of the SMSC ("" before Start).
func (s *Sim) SMPPAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.smppLn == nil {
		return ""
	}
	return s.smppLn.Addr().String()
}

// HTTPURL returns "http://host:port" of the control API, or "" if there is
// no HTTP listener.
func (s *Sim) HTTPURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.httpURLLocked()
}

// httpURLLocked is HTTPURL for callers holding s.mu.
func (s *Sim) httpURLLocked() string {
	if s.httpLn == nil {
		return ""
	}
	return "http://" + s.httpLn.Addr().String()
}

func (s *Sim) acceptLoop(ln net.Listener) {
	for {
		nc, err := ln.Accept()
		if err != nil {
			select {
			case <-s.stop:
			default:
				if !errors.Is(err, net.ErrClosed) {
					s.log.Error("sim: accept", "err", err)
				}
			}
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = nc.Close()
			return
		}
		s.nextConn++
		c := newConn(s, s.nextConn, nc)
		s.conns[c.id] = c
		s.stats.Connections++
		s.wg.Add(2)
		s.mu.Unlock()
		s.log.Debug("sim: connection", "bind", c.id, "remote", nc.RemoteAddr().String())
		go func() {
			defer s.wg.Done()
			c.writeLoop()
		}()
		go func() {
			defer s.wg.Done()
			c.readLoop()
		}()
	}
}

// DropBinds closes every connection abruptly, without unbind. Receipts and
// MO messages in flight on them are redelivered after a rebind.
func (s *Sim) DropBinds() {
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
}

// RefuseBinds makes binds fail with ESME_RBINDFAIL for d from now.
func (s *Sim) RefuseBinds(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuseUntil = time.Now().Add(d)
}

// Throttle makes the next n submit_sm get ESME_RTHROTTLED.
func (s *Sim) Throttle(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttleN = max(n, 0)
}

// QueueFull makes the next n submit_sm get ESME_RMSGQFUL.
func (s *Sim) QueueFull(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queueFullN = max(n, 0)
}

// Stall on makes submit_sm be read and recorded but never answered, for
// window-expiry tests; off answers new submit_sm again (stalled ones stay
// unanswered).
func (s *Sim) Stall(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stall = on
}

// SetTPSLimit answers ESME_RTHROTTLED to submit_sm beyond tps in a calendar
// second (a fixed one-second window, as many SMSCs count); 0 turns it off.
func (s *Sim) SetTPSLimit(tps int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tps = max(tps, 0)
	s.tpsCount = 0
	s.tpsSecond = time.Time{}
}

// SetAutoReceipts turns automatic DELIVRD receipts on or off for submits
// accepted from now on (receipts already scheduled are still sent).
func (s *Sim) SetAutoReceipts(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.auto = on
}

// Submits returns a copy of every submit_sm received, in arrival order. The
// byte slices and maps inside are shared with the Sim and must not be modified.
func (s *Sim) Submits() []Submit {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Submit, len(s.submits))
	copy(out, s.submits)
	return out
}

// Stats returns a snapshot of the counters.
func (s *Sim) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// WaitFor polls Stats until cond returns true or ctx ends.
func (s *Sim) WaitFor(ctx context.Context, cond func(Stats) bool) error {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for {
		if cond(s.Stats()) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sim: wait for stats: %w (last %+v)", ctx.Err(), s.Stats())
		case <-t.C:
		}
	}
}

// Reset forgets recorded submits and messages, RBM agent messages and
// events, and MMS (SendReceipt, RBMDeliver and MM7Report then no longer know
// their ids). Binds, faults, capability call counts and Stats counters are
// kept, and so are callbacks already queued.
func (s *Sim) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.submits = nil
	s.byID = make(map[string]int)
	s.resetRBMLocked()
	s.resetMM7Locked()
}
