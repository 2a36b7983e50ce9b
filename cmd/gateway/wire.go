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
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"gateway/carriers"
	"gateway/carriers/sim"
	"gateway/cmd/gateway/config"
	"gateway/rcs"
	"gateway/sms"
	"gateway/sms/mms"
	"gateway/sms/smpp"
	"gateway/unify"
	"gateway/unify/dispatch"
	"gateway/unify/privacy"
	"gateway/unify/seal"
	"gateway/unify/sqlstore"
	"gateway/web"
	"gateway/web/notify"
	"gateway/web/ui"
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
	_ dispatch.Channel = (*rcs.Channel)(nil)
	_ dispatch.Revoker = (*rcs.Channel)(nil)
	_ dispatch.Channel = (*mms.Channel)(nil)
	_ rcs.Sink         = (*dispatch.Service)(nil)
	_ mms.Sink         = (*dispatch.Service)(nil)
	_ ui.Traffic       = (*sqlstore.Store)(nil)
	_ ui.Sessions      = (*sqlstore.Store)(nil)
	_ ui.Policies      = uiPolicies{}
	_ ui.Previewer     = uiPreviewer{}
)

// gateway is every long-lived part, built from a config file. wire is the
// only place that builds concrete types.
type gateway struct {
	cfg      *config.File
	log      *slog.Logger
	store    *sqlstore.Store
	svc      *dispatch.Service
	links    map[string]*smpp.Link
	rcs      *rcs.Channel
	mms      *mms.Channel
	notifier *notify.Dispatcher
	web      *web.Server
	sim      *sim.Sim
	registry *prometheus.Registry
	extra    []func(*web.Server) // routes mounted by the demo
	sweeper  *privacy.Sweeper
}

// The SMS channel tells the core when its binds are down here, so that
// accepted messages are left to the queue rather than wait in the lane.
var _ dispatch.Readier = (*sms.Channel)(nil)

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
		// Keys being rotated out still open what they sealed, until
		// "gateway rotate-key" has re-sealed it under the current key.
		s, err := seal.New(cfg.Privacy.Key(), cfg.Privacy.OldKeys()...)
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
	// One name for this process in job, event and bind slot leases: the
	// instances sharing a PostgreSQL database tell their leases apart by it.
	owner := instanceName()
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
		if err := g.startSim(); err != nil {
			return nil, err
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
		if c.RBM != nil {
			rc.Channels = append(rc.Channels, unify.ChannelRCS)
		}
		if c.MM7 != nil {
			rc.Channels = append(rc.Channels, unify.ChannelMMS)
		}
		routes = append(routes, rc)
	}
	router, err := carriers.NewRouter(routes)
	if err != nil {
		return nil, err
	}
	senders := cfg.UnifySenders()
	core := &lateCore{}
	smsChannel := sms.New(sms.Config{Links: submitters, Senders: senders, WebLinks: core,
		LinkTLS: func(carrier string) bool { return tlsLinks[carrier] }, Logger: logger})
	channels := []dispatch.Channel{smsChannel}
	if g.rcs, err = g.rcsChannel(router, senders, core); err != nil {
		return nil, err
	}
	if g.rcs != nil {
		channels = append(channels, g.rcs)
	}
	if g.mms = g.mmsChannel(senders, core); g.mms != nil {
		channels = append(channels, g.mms)
	}

	g.notifier = notify.New(notify.Config{
		URL: cfg.Webhook.URL, Secret: cfg.Webhook.Secret, Timeout: time.Duration(cfg.Webhook.Timeout), VerifyToken: cfg.Webhook.VerifyToken,
		Pipeline: cfg.Webhook.Pipeline,
		Owner:    owner,
		Logger:   logger.With("component", "webhook"), Registerer: g.registry,
	}, g.store)
	// The store hands the dispatcher the events it can post at once, and
	// wakes it for the others.
	g.store.SetHandoff(g.notifier)

	g.svc = dispatch.New(dispatch.Config{
		Senders: senders, Router: router, Channels: channels, Owner: owner,
		LinkTLS:     func(carrier string, ch unify.ChannelKind) bool { return ch == unify.ChannelSMS && tlsLinks[carrier] },
		WebLinkBase: cfg.PublicURL,
		OnInbound: func(in unify.Inbound) {
			if g.rcs != nil && in.Channel == unify.ChannelSMS {
				g.rcs.ObserveSMSReply(in.From)
			}
		},
		Registerer: g.registry, Logger: logger,
	}, g.store)

	core.svc = g.svc
	metrics := smpp.NewMetrics(g.registry)
	for _, c := range cfg.Carriers {
		if c.SMPP == nil {
			continue
		}
		lc, err := linkConfig(c)
		if err != nil {
			return nil, err
		}
		lc.Slots = bindSlots(g.store, owner) // binds is the carrier's total across instances
		link := smpp.New(lc, sms.DeliverHandler(g.svc, logger.With("carrier", c.Name)), logger, metrics)
		g.links[c.Name] = link
		submitters[c.Name] = link
	}

	keys, dialects, keySenders := map[string]string{}, map[string]string{}, map[string]string{}
	for _, k := range cfg.APIKeys {
		keys[k.Key] = k.Name
		dialects[k.Name] = k.Dialect
		if k.Sender != "" {
			keySenders[k.Name] = k.Sender
		}
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
		APIKeys: keys, KeyDialects: dialects, KeySenders: keySenders, Messages: g.svc, Checkers: checkers,
		Gatherer: g.registry, Registerer: g.registry, Logger: logger,
		TransportTLS: func(carrier string) bool { return tlsLinks[carrier] },
	})
	routesCfg := web.ChannelRoutes{Previews: g.svc, WebLinks: g.svc}
	if g.rcs != nil {
		for _, sd := range senders {
			if sd.RBMAgent != "" {
				routesCfg.DefaultSender = sd.Name
				break
			}
		}
		routesCfg.Capabilities = func(ctx context.Context, sender, phone string) (web.Capability, error) {
			capa, cached, err := g.rcs.Capability(ctx, sender, phone)
			if err != nil {
				return web.Capability{}, err
			}
			features := capa.Features
			if features == nil {
				features = []string{}
			}
			return web.Capability{Phone: phone, RCS: capa.Capable, Features: features, CheckedAt: capa.CheckedAt,
				AgeSeconds: time.Since(capa.CheckedAt).Seconds(), Cached: cached}, nil
		}
		routesCfg.RBMCallback = func(ctx context.Context, carrier string, h http.Header, body []byte) (int, string, []byte) {
			status, reply, err := g.rcs.HandleCallback(ctx, carrier, h, body)
			if err != nil && status >= 500 {
				logger.Warn("rbm callback failed", "carrier", carrier, "err", err)
			}
			if reply != "" {
				return status, "text/plain; charset=utf-8", []byte(reply)
			}
			return status, "", nil
		}
	}
	if g.mms != nil {
		routesCfg.MM7Callback = g.mms.HandleCallback
	}
	g.web.MountChannels(routesCfg)
	if err := g.wirePrivacy(); err != nil {
		return nil, err
	}
	if err := g.mountUI(senders); err != nil {
		return nil, err
	}
	return g, nil
}

// wirePrivacy builds the retention sweeper and the erasure of
// DELETE /v1/subjects/{phone} (issue 9).
func (g *gateway) wirePrivacy() error {
	cfg := g.cfg
	var key []byte
	if cfg.Privacy.Encrypted() {
		key = cfg.Privacy.Key()
	}
	pseudonyms, err := privacy.NewPseudonyms(key)
	if err != nil {
		return err
	}
	sc := privacy.SweeperConfig{Store: g.store, Senders: map[string]privacy.Retention{},
		Default: privacy.Retention{Content: time.Duration(cfg.Privacy.ContentRetention), Metadata: time.Duration(cfg.Privacy.MetadataRetention)},
		Logger:  g.log.With("component", "privacy")}
	for _, sd := range cfg.Senders {
		if sd.Retention != nil {
			c, m := cfg.SenderRetention(sd)
			sc.Senders[sd.Name] = privacy.Retention{Content: c, Metadata: m}
		}
	}
	g.sweeper = privacy.NewSweeper(sc)
	ec := privacy.EraserConfig{Store: g.store, Pseudonyms: pseudonyms, OnEvents: g.notifier.Wake, Logger: g.log.With("component", "privacy")}
	if g.rcs != nil {
		ec.Forget = g.rcs.Forget
	}
	g.web.MountSubjects(privacy.NewEraser(ec))
	return nil
}

// mountUI adds the operator's web UI (and, with the in-process simulator,
// its handset page at /sim).
func (g *gateway) mountUI(senders []unify.Sender) error {
	names := make([]string, 0, len(senders))
	for _, sd := range senders {
		names = append(names, sd.Name)
	}
	uc := ui.Config{
		AdminPassword: g.cfg.UI.AdminPassword,
		Policies:      uiPolicies{g.svc},
		Previewer:     uiPreviewer{g.svc},
		Traffic:       g.store,
		Sessions:      g.store,
		Carriers:      g.carrierStatus,
		Senders:       names,
		Secure:        g.cfg.TLS != nil,
		Logger:        g.log,
	}
	g.web.Echo().GET("/", func(c echo.Context) error { return c.Redirect(http.StatusFound, "/ui/traffic") })
	if g.sim != nil {
		uc.Handset, uc.HandsetPath = g.sim.Handler(), "/handset"
		g.web.Echo().GET("/sim", func(c echo.Context) error { return c.Redirect(http.StatusFound, "/ui/sim") })
	}
	return ui.Mount(g.web.Echo(), uc)
}

// carrierStatus reports each carrier's links for the UI.
func (g *gateway) carrierStatus() []ui.CarrierStatus {
	out := make([]ui.CarrierStatus, 0, len(g.cfg.Carriers))
	for _, c := range g.cfg.Carriers {
		cs := ui.CarrierStatus{Name: c.Name}
		if l, ok := g.links[c.Name]; ok {
			st := l.Status()
			cs.TPS, cs.MaxTPS = st.RateLimit, st.MaxRate
			for _, b := range st.Binds {
				cs.Binds = append(cs.Binds, ui.BindStatus{Up: b.Up, Since: b.Since, LastError: b.LastError, InFlight: b.InFlight, Window: b.Window})
			}
		}
		// RBM and MM7 are HTTP APIs without a session to watch: their
		// health shows in the attempts' errors and the metrics.
		if c.RBM != nil {
			cs.RBM = &ui.Reachability{Configured: true, OK: true}
		}
		if c.MM7 != nil {
			cs.MM7 = &ui.Reachability{Configured: true, OK: true}
		}
		out = append(out, cs)
	}
	return out
}

// uiPolicies adapts the core's policy methods to the UI.
type uiPolicies struct{ svc *dispatch.Service }

func (p uiPolicies) List(ctx context.Context) ([]unify.Policy, error) { return p.svc.Policies(ctx) }
func (p uiPolicies) Get(ctx context.Context, name string) (unify.Policy, error) {
	return p.svc.GetPolicy(ctx, name)
}
func (p uiPolicies) Save(ctx context.Context, pol unify.Policy, isNew bool) error {
	return p.svc.SavePolicy(ctx, pol, isNew)
}
func (p uiPolicies) Delete(ctx context.Context, name string) error {
	return p.svc.DeletePolicy(ctx, name)
}

// uiPreviewer gives the UI the renderings of /v1/previews.
type uiPreviewer struct{ svc *dispatch.Service }

func (p uiPreviewer) Preview(ctx context.Context, m *unify.Message, pol unify.Policy) ([]unify.Rendering, error) {
	pv, err := p.svc.Preview(ctx, m, &pol)
	if err != nil {
		return nil, err
	}
	return pv.Channels, nil
}

// rcsChannel builds an RBM client per carrier with an rbm section, and the
// RCS channel over them; nil when no carrier has one.
func (g *gateway) rcsChannel(router *carriers.Router, senders []unify.Sender, sink rcs.Sink) (*rcs.Channel, error) {
	cfg := rcs.Config{Clients: map[string]*rcs.Client{}, Agents: map[string]string{}, Secrets: map[string]string{},
		Metrics: rcs.NewMetrics(g.registry), Logger: g.log,
		RouteFunc: func(phone string) (string, bool) {
			c, ok := router.Route(phone)
			if !ok {
				return "", false
			}
			return c.Name, true
		}}
	for _, c := range g.cfg.Carriers {
		if c.RBM == nil {
			continue
		}
		client, err := rcs.NewClient(rcs.ClientConfig{Carrier: c.Name, BaseURL: c.RBM.BaseURL, TokenURL: c.RBM.TokenURL,
			CredentialsFile: c.RBM.CredentialsFile, Token: c.RBM.Token, Timeout: time.Duration(c.RBM.Timeout),
			Metrics: cfg.Metrics, Logger: g.log})
		if err != nil {
			return nil, fmt.Errorf("carriers: %s: rbm: %w", c.Name, err)
		}
		cfg.Clients[c.Name] = client
		cfg.Secrets[c.Name] = c.RBM.WebhookSecret
	}
	if len(cfg.Clients) == 0 {
		return nil, nil
	}
	for _, sd := range senders {
		if sd.RBMAgent != "" {
			cfg.Agents[sd.Name] = sd.RBMAgent
		}
	}
	cfg.Cache = rcs.NewCapabilityCache(rcs.CacheConfig{Metrics: cfg.Metrics})
	return rcs.New(cfg, sink), nil
}

// mmsChannel builds the MMS channel over every carrier with an mm7 section;
// nil when none has one.
func (g *gateway) mmsChannel(senders []unify.Sender, sink mms.Sink) *mms.Channel {
	cfg := mms.Config{Carriers: map[string]mms.CarrierConfig{}, Senders: map[string]string{}, Logger: g.log, Registerer: g.registry,
		Fetcher: &mms.Fetcher{AllowLoopback: g.cfg.Media.AllowLoopback, AllowPrivate: g.cfg.Media.AllowPrivate,
			MaxSize: g.cfg.Media.MaxSize, Timeout: time.Duration(g.cfg.Media.Timeout)}}
	for _, c := range g.cfg.Carriers {
		if c.MM7 == nil {
			continue
		}
		cfg.Carriers[c.Name] = mms.CarrierConfig{URL: c.MM7.URL, VASPID: c.MM7.VASPID, VASID: c.MM7.VASID, ServiceCode: c.MM7.ServiceCode,
			Username: c.MM7.Username, Password: c.MM7.Password, Namespace: c.MM7.Namespace, Version: c.MM7.Version, MaxSize: c.MM7.MaxSize}
	}
	if len(cfg.Carriers) == 0 {
		return nil
	}
	// An MMS comes from the sender's short code or first two-way number.
	for _, sd := range senders {
		switch {
		case len(sd.SMSNumbers) > 0:
			cfg.Senders[sd.Name] = sd.SMSNumbers[0]
		case sd.SMSSource != "":
			cfg.Senders[sd.Name] = sd.SMSSource
		}
	}
	return mms.New(cfg, sink)
}

// startSim starts the in-process carrier simulator: SMSC, RBM API and MMSC,
// with the credentials and callback addresses of the carriers that point at
// it, so that the demo works without more configuration.
func (g *gateway) startSim() error {
	cfg := g.cfg
	sc := sim.Config{SMPPAddr: cfg.Sim.SMPP, HTTPAddr: cfg.Sim.HTTP, AutoReceipts: true,
		RCSNumbers: cfg.Sim.RCSNumbers, RBMAutoDeliver: time.Duration(cfg.Sim.AutoDeliver), MM7AutoReport: time.Duration(cfg.Sim.AutoDeliver),
		Logger: g.log.With("component", "carriersim")}
	simHTTP := "http://" + cfg.Sim.HTTP
	base := strings.TrimRight(cfg.PublicURL, "/")
	for _, c := range cfg.Carriers {
		if c.SMPP != nil && c.SMPP.Address == cfg.Sim.SMPP && sc.SystemID == "" {
			sc.SystemID, sc.Password = c.SMPP.SystemID, c.SMPP.Password
		}
		if c.RBM != nil && strings.HasPrefix(c.RBM.BaseURL, simHTTP) && sc.RBMCallbackURL == "" {
			sc.RBMToken, sc.RBMClientToken = c.RBM.Token, c.RBM.WebhookSecret
			sc.RBMCallbackURL = base + "/webhooks/rbm/" + c.Name
		}
		if c.MM7 != nil && strings.HasPrefix(c.MM7.URL, simHTTP) && sc.MM7CallbackURL == "" {
			sc.MM7CallbackURL = base + "/webhooks/mm7/" + c.Name
			sc.MM7VASPID = c.MM7.VASPID
		}
	}
	g.sim = sim.New(sc)
	if err := g.sim.Start(); err != nil {
		return fmt.Errorf("carrier simulator: %w", err)
	}
	return nil
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
	errc := make(chan error, 4)
	wg.Add(3)
	go func() { defer wg.Done(); errc <- g.svc.Run(runCtx) }()
	go func() { defer wg.Done(); errc <- g.notifier.Run(runCtx) }()
	go func() { defer wg.Done(); errc <- g.sweeper.Run(runCtx) }()
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
	if g.rcs != nil {
		_ = g.rcs.Close()
	}
	if g.sim != nil {
		_ = g.sim.Close()
	}
	if g.store != nil {
		_ = g.store.Close()
	}
}

// newLogger builds the process's logger. Every record goes through
// privacy.MaskHandler: no full phone number, content or secret reaches the
// logs, at any level, whichever package logs it.
func newLogger(cfg *config.File, w *os.File) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.Log.SlogLevel()}
	if cfg.Log.Format == "json" {
		return slog.New(privacy.MaskHandler(slog.NewJSONHandler(w, opts)))
	}
	return slog.New(privacy.MaskHandler(slog.NewTextHandler(w, opts)))
}

// lateCore lets the channels report to the core although the core is built
// after them (it needs the channel list). It is complete before anything
// runs.
type lateCore struct{ svc *dispatch.Service }

func (l *lateCore) WebLink(ctx context.Context, m *unify.Message) (string, error) {
	return l.svc.WebLink(ctx, m)
}

func (l *lateCore) HandleReceipt(ctx context.Context, r unify.Receipt) error {
	return l.svc.HandleReceipt(ctx, r)
}

func (l *lateCore) HandleInbound(ctx context.Context, in unify.Inbound) error {
	return l.svc.HandleInbound(ctx, in)
}

func (l *lateCore) HandleConsent(ctx context.Context, c unify.ConsentChange) error {
	return l.svc.HandleConsent(ctx, c)
}
