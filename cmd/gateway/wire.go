package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"gateway/carriers"
	"gateway/carriers/sim"
	"gateway/cmd/gateway/config"
	"gateway/sms"
	"gateway/sms/smpp"
	"gateway/unify"
	"gateway/unify/dispatch"
	"gateway/unify/seal"
	"gateway/unify/sqlstore"
	"gateway/web"
	"gateway/web/notify"
)

// Interfaces satisfied across packages, checked where both sides are visible.
var (
	_ dispatch.Channel = (*sms.Channel)(nil)
	_ sms.Sink         = (*dispatch.Service)(nil)
	_ sms.Submitter    = (*smpp.Link)(nil)
	_ web.Messages     = (*dispatch.Service)(nil)
	_ notify.Store     = (*sqlstore.Store)(nil)
	_ web.Previewer    = (*dispatch.Service)(nil)
	_ web.WebLinks     = (*dispatch.Service)(nil)
)

// gateway is every long-lived part, built from a config file. wire is the
// only place that builds concrete types.
type gateway struct {
	cfg      *config.File
	log      *slog.Logger
	store    *sqlstore.Store
	svc      *dispatch.Service
	links    map[string]*smpp.Link
	notifier *notify.Dispatcher
	web      *web.Server
	sim      *sim.Sim
	registry *prometheus.Registry
	extra    []func(*web.Server) // routes mounted by the demo
}

func wire(ctx context.Context, cfg *config.File, logger *slog.Logger) (g *gateway, err error) {
	g = &gateway{cfg: cfg, log: logger, links: map[string]*smpp.Link{}, registry: prometheus.NewRegistry()}
	defer func() {
		if err != nil {
			g.close()
		}
	}()
	g.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	var sealer sqlstore.Sealer = sqlstore.PlainSealer{}
	if cfg.Privacy.Encrypted() {
		s, err := seal.New(cfg.Privacy.Key())
		if err != nil {
			return nil, err
		}
		sealer = s
	}
	g.store, err = sqlstore.Open(ctx, cfg.Database, sqlstore.Options{Sealer: sealer})
	if err != nil {
		return nil, err
	}
	if err := g.store.Migrate(ctx); err != nil {
		return nil, err
	}
	if g.store.Dialect() == sqlstore.SQLite {
		// One process owns a SQLite file: leases left by a killed
		// predecessor are stale, and waiting for them would only delay.
		if err := g.store.ReleaseLeases(ctx); err != nil {
			return nil, err
		}
	}
	now := time.Now()
	if err := g.store.InTx(ctx, func(tx *sqlstore.Tx) error {
		for _, p := range cfg.UnifyPolicies() {
			if err := tx.SeedPolicy(p, now); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}

	if cfg.Sim != nil {
		g.sim = sim.New(sim.Config{SMPPAddr: cfg.Sim.SMPP, HTTPAddr: cfg.Sim.HTTP, AutoReceipts: true,
			SystemID: simCredential(cfg, func(s *config.SMPP) string { return s.SystemID }),
			Password: simCredential(cfg, func(s *config.SMPP) string { return s.Password }),
			Logger:   logger.With("component", "carriersim")})
		if err := g.sim.Start(); err != nil {
			return nil, fmt.Errorf("carrier simulator: %w", err)
		}
	}

	tlsLinks := map[string]bool{}
	for _, c := range cfg.Carriers {
		if c.SMPP != nil && c.SMPP.TLS {
			tlsLinks[c.Name] = true
		}
	}
	var routes []carriers.Carrier
	submitters := map[string]sms.Submitter{}
	for _, c := range cfg.Carriers {
		rc := carriers.Carrier{Name: c.Name, Prefixes: c.Prefixes}
		if c.SMPP != nil {
			rc.Channels = append(rc.Channels, unify.ChannelSMS)
		}
		routes = append(routes, rc)
	}
	router, err := carriers.NewRouter(routes)
	if err != nil {
		return nil, err
	}
	senders := cfg.UnifySenders()
	smsLinks := &lateWebLinks{}
	smsChannel := sms.New(sms.Config{Links: submitters, Senders: senders, WebLinks: smsLinks,
		LinkTLS: func(carrier string) bool { return tlsLinks[carrier] }, Logger: logger})

	g.notifier = notify.New(notify.Config{
		URL: cfg.Webhook.URL, Secret: cfg.Webhook.Secret, Timeout: time.Duration(cfg.Webhook.Timeout),
		Logger: logger.With("component", "webhook"), Registerer: g.registry,
	}, g.store)

	g.svc = dispatch.New(dispatch.Config{
		Senders: senders, Router: router, Channels: []dispatch.Channel{smsChannel},
		LinkTLS:     func(carrier string, ch unify.ChannelKind) bool { return ch == unify.ChannelSMS && tlsLinks[carrier] },
		OnEvents:    g.notifier.Wake,
		WebLinkBase: cfg.PublicURL,
		Registerer:  g.registry, Logger: logger,
	}, g.store)

	smsLinks.svc = g.svc
	metrics := smpp.NewMetrics(g.registry)
	for _, c := range cfg.Carriers {
		if c.SMPP == nil {
			continue
		}
		lc, err := linkConfig(c)
		if err != nil {
			return nil, err
		}
		link := smpp.New(lc, sms.DeliverHandler(g.svc, logger.With("carrier", c.Name)), logger, metrics)
		g.links[c.Name] = link
		submitters[c.Name] = link
	}

	keys := map[string]string{}
	for _, k := range cfg.APIKeys {
		keys[k.Key] = k.Name
	}
	checkers := []web.Checker{checker{"store", g.store.Ping}}
	for name, l := range g.links {
		l := l
		checkers = append(checkers, checker{"smpp:" + name, func(context.Context) error {
			if !l.Ready() {
				return errors.New("no bind up")
			}
			return nil
		}})
	}
	g.web = web.New(web.Config{
		APIKeys: keys, Messages: g.svc, Checkers: checkers,
		Gatherer: g.registry, Registerer: g.registry, Logger: logger,
		TransportTLS: func(carrier string) bool { return tlsLinks[carrier] },
	})
	g.web.MountChannels(web.ChannelRoutes{Previews: g.svc, WebLinks: g.svc})
	return g, nil
}

// simCredential gives the in-process simulator the credentials of the first
// carrier that points at it, so the demo binds without more configuration.
func simCredential(cfg *config.File, pick func(*config.SMPP) string) string {
	for _, c := range cfg.Carriers {
		if c.SMPP != nil && c.SMPP.Address == cfg.Sim.SMPP {
			return pick(c.SMPP)
		}
	}
	return ""
}

func linkConfig(c config.Carrier) (smpp.Config, error) {
	s := c.SMPP
	lc := smpp.Config{
		Carrier: c.Name, Address: s.Address, SystemID: s.SystemID, Password: s.Password, SystemType: s.SystemType,
		Binds: s.Binds, TPS: s.TPS, Window: s.Window,
		EnquireLink: time.Duration(s.EnquireLink), ResponseTimeout: time.Duration(s.ResponseTimeout),
	}
	if s.TLS {
		host, _, err := net.SplitHostPort(s.Address)
		if err != nil {
			return lc, fmt.Errorf("carriers: %s: %w", c.Name, err)
		}
		tc := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		if s.CAFile != "" {
			pem, err := os.ReadFile(s.CAFile)
			if err != nil {
				return lc, fmt.Errorf("carriers: %s: %w", c.Name, err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return lc, fmt.Errorf("carriers: %s: no certificate in %s", c.Name, s.CAFile)
			}
			tc.RootCAs = pool
		}
		lc.TLS = tc
	}
	return lc, nil
}

type checker struct {
	name string
	fn   func(context.Context) error
}

func (c checker) Name() string                    { return c.name }
func (c checker) Check(ctx context.Context) error { return c.fn(ctx) }

// start opens the carrier links and runs the core, the webhook dispatcher
// and the HTTP server until ctx ends, then shuts them down in order: stop
// taking requests, finish sends in flight, close links, close the store.
func (g *gateway) serve(ctx context.Context, ready func(addr string)) error {
	for _, l := range g.links {
		l.Open()
	}
	ln, err := net.Listen("tcp", g.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", g.cfg.Listen, err)
	}
	for _, mount := range g.extra {
		mount(g.web)
	}
	srv := &http.Server{Handler: g.web, ReadHeaderTimeout: 10 * time.Second}
	if g.cfg.TLS != nil {
		cert, err := tls.LoadX509KeyPair(g.cfg.TLS.CertFile, g.cfg.TLS.KeyFile)
		if err != nil {
			_ = ln.Close()
			return fmt.Errorf("tls: %w", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 3)
	wg.Add(2)
	go func() { defer wg.Done(); errc <- g.svc.Run(runCtx) }()
	go func() { defer wg.Done(); errc <- g.notifier.Run(runCtx) }()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- err
			cancel()
		}
	}()
	if ready != nil {
		ready(ln.Addr().String())
	}
	<-runCtx.Done()
	shutCtx, done := context.WithTimeout(context.Background(), 10*time.Second)
	defer done()
	_ = srv.Shutdown(shutCtx)
	cancel()
	wg.Wait()
	g.close()
	select {
	case err := <-errc:
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	default:
	}
	return nil
}

func (g *gateway) close() {
	for _, l := range g.links {
		_ = l.Close()
	}
	if g.sim != nil {
		_ = g.sim.Close()
	}
	if g.store != nil {
		_ = g.store.Close()
	}
}

func newLogger(cfg *config.File, w *os.File) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.Log.SlogLevel()}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// lateWebLinks lets the SMS channel ask the core for web links although the
// core is built after the channel (it needs the channel list).
type lateWebLinks struct{ svc *dispatch.Service }

func (l *lateWebLinks) WebLink(ctx context.Context, m *unify.Message) (string, error) {
	return l.svc.WebLink(ctx, m)
}
