package web

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"gateway/unify"
)

// Messages is the core the API drives (implemented by *dispatch.Service).
type Messages interface {
	// Accept validates sender and policy, stores the message durably (with
	// its first job) and returns it with its id and status "accepted". It is
	// called once per valid POST /v1/messages and blocks until the store has
	// committed. Errors are *unify.Error: invalid with fields "from" or
	// "policy", conflict for an idempotency key reused with another body,
	// unavailable when the store cannot commit. With idem.Key set and the same
	// Hash as before it returns the original message and replay=true.
	Accept(ctx context.Context, m *unify.Message, idem unify.Idempotency) (msg *unify.Message, replay bool, err error)
	// Message returns a message with its attempts, for GET /v1/messages/{id};
	// a *unify.Error with code not_found when the id is unknown.
	Message(ctx context.Context, id unify.MessageID) (*unify.Message, error)
}

// Checker reports the readiness of one dependency (the store, each carrier
// link) for /readyz. Check is called on every probe, concurrently with the
// other checkers, under a deadline; it returns nil when the dependency is
// usable. Its error is logged, never shown: it may name hosts or users.
type Checker interface {
	Name() string
	Check(ctx context.Context) error
}

// Config is what New needs. Messages is required; the rest has defaults.
type Config struct {
	// APIKeys maps each Bearer key to its name. The name is the scope of
	// idempotency keys and appears in access logs; the key never does.
	APIKeys map[string]string
	// KeyDialects maps a key name to the event dialect of the messages it
	// sends ("unified", "messenger" or "whatsapp"; absent: unified), which
	// shapes their status events and replies (see web/notify).
	KeyDialects map[string]string
	// KeySenders maps a key name to the sender its Messenger and WhatsApp
	// requests go from when the path names none (Meta's shapes have no
	// "from": the page or number is the caller's).
	KeySenders map[string]string
	// Messages is the core service.
	Messages Messages
	// Checkers are probed by /readyz.
	Checkers []Checker
	// ReadyTimeout bounds one /readyz probe; a checker still running then
	// counts as "timeout". Zero: DefaultReadyTimeout.
	ReadyTimeout time.Duration
	// Gatherer is exposed at /metrics. Nil: the Registerer if it is also a
	// Gatherer (a *prometheus.Registry); with no Registerer either, the
	// private registry of this server's own metrics.
	Gatherer prometheus.Gatherer
	// Registerer receives the HTTP metrics (requests by route, method and
	// status; latency). Nil: a fresh registry.
	Registerer prometheus.Registerer
	// Logger receives access logs and the causes of internal errors.
	// Nil: slog.Default().
	Logger *slog.Logger
	// NowFunc is the clock (request durations). Nil: time.Now.
	NowFunc func() time.Time
	// TransportTLS says whether the carrier's link uses TLS, which decides
	// the "transport" of a message's protection on SMS and MMS (RBM is always
	// HTTPS). Nil: no carrier link uses TLS.
	TransportTLS func(carrier string) bool
}

// Server is the gateway's HTTP server: an echo instance with the API, the
// operational endpoints and the shared middleware. It is an http.Handler.
type Server struct {
	e        *echo.Echo
	api      *echo.Group
	msgs     Messages
	checkers []Checker
	readyTTL time.Duration
	keys     []apiKey
	dialects map[string]string
	senders  map[string]string
	log      *slog.Logger
	now      func() time.Time
	tls      func(carrier string) bool
	gatherer prometheus.Gatherer
	metrics  *httpMetrics
}

// apiKey holds the SHA-256 of a key rather than the key, so that comparing
// digests in constant time does not leak the key's length.
type apiKey struct {
	sum  [sha256.Size]byte
	name string
}

// New builds the server and registers its routes. It panics if cfg.Messages
// is nil, a wiring mistake that no request could recover from.
func New(cfg Config) *Server {
	if cfg.Messages == nil {
		panic("web: Config.Messages is nil")
	}
	s := &Server{
		msgs:     cfg.Messages,
		checkers: cfg.Checkers,
		readyTTL: cfg.ReadyTimeout,
		log:      cfg.Logger,
		now:      cfg.NowFunc,
		tls:      cfg.TransportTLS,
		gatherer: cfg.Gatherer,
		dialects: cfg.KeyDialects,
		senders:  cfg.KeySenders,
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.readyTTL <= 0 {
		s.readyTTL = DefaultReadyTimeout
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.tls == nil {
		s.tls = func(string) bool { return false }
	}
	for key, name := range cfg.APIKeys {
		if key == "" {
			continue // an empty key would let "Authorization: Bearer " in
		}
		s.keys = append(s.keys, apiKey{sum: sha256.Sum256([]byte(key)), name: name})
	}
	reg := cfg.Registerer
	if reg == nil {
		r := prometheus.NewRegistry()
		reg = r
		if s.gatherer == nil {
			s.gatherer = r
		}
	}
	if s.gatherer == nil {
		if g, ok := reg.(prometheus.Gatherer); ok {
			s.gatherer = g
		} else {
			s.gatherer = prometheus.NewRegistry()
		}
	}
	s.metrics = newHTTPMetrics(reg)

	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.handleError
	// The peer's address, not X-Forwarded-For: behind a trusted proxy, set
	// Echo().IPExtractor to echo.ExtractIPFromXFFHeader(...) explicitly.
	e.IPExtractor = echo.ExtractIPDirect()
	e.Use(s.requestID, s.observe, s.recover)
	s.e = e

	s.registerOps()
	s.registerAPI()
	return s
}

// Echo returns the echo instance so that other packages can mount routes
// (see the package documentation). Routes must be added before serving:
// echo's router is not safe for concurrent changes.
func (s *Server) Echo() *echo.Echo { return s.e }

// API returns the /v1 group, behind Bearer authentication. Handlers on it can
// read the caller's key name with KeyName.
func (s *Server) API() *echo.Group { return s.api }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.e.ServeHTTP(w, r) }

// registerOps mounts the unauthenticated operational endpoints.
func (s *Server) registerOps() {
	s.e.GET("/healthz", s.healthz)
	s.e.GET("/readyz", s.readyz)
	s.e.GET("/metrics", echo.WrapHandler(metricsHandler(s.gatherer)))
	s.e.GET("/openapi.json", serveOpenAPI)
}

// registerAPI mounts the authenticated REST API under /v1.
func (s *Server) registerAPI() {
	// Group middleware must be in place before the group's routes are
	// added: echo binds it to each route when the route is registered.
	s.api = s.e.Group("/v1", s.authenticate)
	// The group's middleware makes echo answer every unknown /v1 path from
	// a catch-all route, which would also turn "wrong method" into 404.
	s.api.RouteNotFound("/*", s.notFoundOrMethod)
	s.api.POST("/messages", s.postMessage)
	s.api.GET("/messages/:id", s.getMessage)
	s.registerMeta()
}

// notFoundOrMethod answers an unmatched /v1 request: 405 with Allow when the
// path exists for other methods (RFC 9110 §15.5.6), 404 otherwise.
func (s *Server) notFoundOrMethod(c echo.Context) error {
	req := c.Request()
	catchAll := c.Path()
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := s.e.NewContext(req, nil)
		s.e.Router().Find(m, echo.GetPath(req), probe)
		if p := probe.Path(); p != "" && p != catchAll {
			allow = append(allow, m)
		}
	}
	if len(allow) == 0 {
		return echo.ErrNotFound
	}
	c.Response().Header().Set(echo.HeaderAllow, strings.Join(allow, ", "))
	return echo.ErrMethodNotAllowed
}
