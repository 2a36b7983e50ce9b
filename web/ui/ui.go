package ui

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"gateway/unify"
	"gateway/unify/sqlstore"
)

//go:embed templates static
var assets embed.FS

// Policies is the policy store the editor changes: the same policies the
// fallback engine uses. Implemented by the core.
type Policies interface {
	// List returns every policy, ordered by name.
	List(ctx context.Context) ([]unify.Policy, error)
	// Get returns one policy; a *unify.Error not_found when there is none.
	Get(ctx context.Context, name string) (unify.Policy, error)
	// Save stores p, a new policy when isNew. It validates p and returns a
	// *unify.Error invalid whose Fields use the policy's JSON paths
	// ("steps[1].timeout"), or conflict when isNew and the name is taken;
	// on error nothing is stored.
	Save(ctx context.Context, p unify.Policy, isNew bool) error
	// Delete removes a policy; a *unify.Error conflict (with a message the
	// operator can act on) while a sender uses it as its default.
	Delete(ctx context.Context, name string) error
}

// Previewer renders a message on each step of a policy without sending
// anything: the code behind POST /v1/previews. Implemented by the core.
type Previewer interface {
	// Preview returns one rendering per step of p, in step order. A
	// *unify.Error invalid (with fields under "content") reports content
	// the gateway would refuse.
	Preview(ctx context.Context, m *unify.Message, p unify.Policy) ([]unify.Rendering, error)
}

// Traffic is the read side of the message store. Implemented by
// *sqlstore.Store.
type Traffic interface {
	TrafficMessages(ctx context.Context, f sqlstore.TrafficFilter) (sqlstore.TrafficPage, error)
	TrafficBuckets(ctx context.Context, since, until time.Time) ([]sqlstore.TrafficBucket, error)
	// MessageTimeline returns a *unify.Error not_found for an unknown id.
	MessageTimeline(ctx context.Context, id unify.MessageID) (sqlstore.Timeline, error)
	PendingEvents(ctx context.Context) (int, error)
}

// Sessions keeps the UI's sessions server-side. Implemented by
// *sqlstore.Store.
type Sessions interface {
	CreateUISession(ctx context.Context, s sqlstore.UISession) error
	// UISession returns a *unify.Error not_found for an unknown id.
	UISession(ctx context.Context, id string) (sqlstore.UISession, error)
	DeleteUISession(ctx context.Context, id string) error
	DeleteExpiredUISessions(ctx context.Context, now time.Time) error
}

// CarrierStatus is the state of one carrier's links, for the carriers page.
type CarrierStatus struct {
	Name   string
	Binds  []BindStatus // SMPP binds, in bind order; empty: no SMS
	TPS    float64      // submit_sm per second now
	MaxTPS float64      // the configured ceiling
	RBM    *Reachability
	MM7    *Reachability
}

// BindStatus is one SMPP bind.
type BindStatus struct {
	Up        bool
	Since     time.Time // when it last went up or down
	LastError string
	InFlight  int // unacknowledged PDUs
	Window    int // the most it may have
}

// Reachability is whether an HTTP carrier API (RBM, MM7) answered its last
// check.
type Reachability struct {
	Configured bool
	OK         bool
	LastError  string
	CheckedAt  time.Time
}

// Config is what Mount needs. Policies, Previewer, Traffic and Sessions are
// required.
type Config struct {
	// AdminPassword opens the UI. Empty: nobody can sign in.
	AdminPassword string
	Policies      Policies
	Previewer     Previewer
	Traffic       Traffic
	Sessions      Sessions
	// Carriers reports the carriers' links; nil shows none.
	Carriers func() []CarrierStatus
	// Senders names the senders, offered in the preview's sample message
	// and the traffic filter. Optional.
	Senders []string
	// Handset, when set, is the simulated carrier's handset page. It is
	// served under /sim/ (the prefix stripped, so it must use relative
	// URLs) to signed-in operators, and shown framed at /ui/sim.
	Handset http.Handler
	// HandsetPath is the path of the handset page within Handset.
	// Default "/".
	HandsetPath string
	// Secure marks cookies Secure (the UI is served over TLS).
	Secure bool
	// SessionTTL is how long a session lasts after sign-in. Default 12h.
	SessionTTL time.Duration
	// SignInEvery and SignInBurst limit sign-in attempts per client
	// address: SignInBurst at once, then one per SignInEvery. Defaults 10s
	// and 5.
	SignInEvery time.Duration
	SignInBurst int
	// NowFunc is the clock. Default time.Now.
	NowFunc func() time.Time
	// Logger receives internal errors. Default slog.Default().
	Logger *slog.Logger
}

// handler holds the UI's state; one per Mount.
type handler struct {
	cfg      Config
	now      func() time.Time
	log      *slog.Logger
	pages    map[string]*template.Template
	frags    *template.Template
	static   fs.FS
	version  string // of the static assets, for cache busting
	limits   *limiter
	pwSum    [sha256.Size]byte
	cookie   string // session cookie name
	preCook  string // pre-session CSRF cookie name
	remoteIP func(c echo.Context) string
}

// Mount registers the UI's routes on e: /ui/... and, with a handset, /sim/....
// Call it before the server starts serving.
func Mount(e *echo.Echo, cfg Config) error {
	var missing []string
	if cfg.Policies == nil {
		missing = append(missing, "Policies")
	}
	if cfg.Previewer == nil {
		missing = append(missing, "Previewer")
	}
	if cfg.Traffic == nil {
		missing = append(missing, "Traffic")
	}
	if cfg.Sessions == nil {
		missing = append(missing, "Sessions")
	}
	if len(missing) > 0 {
		return fmt.Errorf("ui: config lacks %s", strings.Join(missing, ", "))
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.SignInEvery <= 0 {
		cfg.SignInEvery = 10 * time.Second
	}
	if cfg.SignInBurst <= 0 {
		cfg.SignInBurst = 5
	}
	if cfg.HandsetPath == "" {
		cfg.HandsetPath = "/"
	}
	if !strings.HasPrefix(cfg.HandsetPath, "/") {
		return fmt.Errorf("ui: handset path %q must start with /", cfg.HandsetPath)
	}
	h := &handler{
		cfg:     cfg,
		now:     cfg.NowFunc,
		log:     cfg.Logger,
		limits:  newLimiter(rate.Every(cfg.SignInEvery), cfg.SignInBurst),
		cookie:  "gateway_ui",
		preCook: "gateway_ui_signin",
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if cfg.Secure {
		// The __Host- prefix makes browsers refuse the cookie unless it is
		// Secure, host-only and for path /, so a sibling subdomain cannot
		// plant one (RFC 6265bis §4.1.3.2).
		h.cookie, h.preCook = "__Host-"+h.cookie, "__Host-"+h.preCook
	}
	if cfg.AdminPassword != "" {
		h.pwSum = sha256.Sum256([]byte(cfg.AdminPassword))
	}
	h.remoteIP = func(c echo.Context) string {
		// echo's fallback trusts X-Forwarded-For, which anyone can send
		// to dodge the sign-in limit; without an extractor configured, use
		// the peer's address.
		if e.IPExtractor != nil {
			return c.RealIP()
		}
		host, _, err := net.SplitHostPort(c.Request().RemoteAddr)
		if err != nil {
			return c.Request().RemoteAddr
		}
		return host
	}
	if err := h.loadAssets(); err != nil {
		return err
	}
	h.routes(e)
	return nil
}

func (h *handler) routes(e *echo.Echo) {
	page := func(f echo.HandlerFunc) echo.HandlerFunc { return h.headers(h.authed(f)) }
	open := func(f echo.HandlerFunc) echo.HandlerFunc { return h.headers(f) }

	e.GET("/ui/static/*", h.serveStatic)
	e.GET("/ui/signin", open(h.signInPage))
	e.POST("/ui/signin", open(h.signIn))
	e.POST("/ui/signout", page(h.signOut))

	e.GET("/ui", page(redirectTo("/ui/traffic")))
	e.GET("/ui/", page(redirectTo("/ui/traffic")))
	e.GET("/ui/traffic", page(h.trafficPage))
	e.GET("/ui/traffic/:id", page(h.messagePage))
	e.GET("/ui/policies", page(h.policiesPage))
	e.GET("/ui/policies/new", page(h.newPolicyPage))
	e.POST("/ui/policies/new", page(h.submitPolicy))
	e.GET("/ui/policies/edit/:name", page(h.editPolicyPage))
	e.POST("/ui/policies/edit/:name", page(h.submitPolicy))
	e.POST("/ui/policies/delete/:name", page(h.deletePolicy))
	e.POST("/ui/preview", page(h.preview))
	e.GET("/ui/carriers", page(h.carriersPage))
	e.GET("/ui/sim", page(h.simPage))
	if h.cfg.Handset != nil {
		sim := echo.WrapHandler(http.StripPrefix("/sim", h.cfg.Handset))
		e.GET("/sim", page(redirectTo("/sim/")))
		e.Any("/sim/*", h.authed(h.sameOrigin(sim)))
	}
}

func redirectTo(path string) echo.HandlerFunc {
	return func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, path) }
}

// csp keeps every script, style and frame on our own origin; images may come
// from anywhere because the preview shows the sample message's media where
// the phone would fetch it.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: http: https:; " +
	"frame-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'; object-src 'none'"

// headers sets the security headers of every page.
func (h *handler) headers(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		hd := c.Response().Header()
		hd.Set("Content-Security-Policy", csp)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("X-Frame-Options", "SAMEORIGIN")
		hd.Set("Cache-Control", "no-store")
		return next(c)
	}
}

func (h *handler) loadAssets() error {
	static, err := fs.Sub(assets, "static")
	if err != nil {
		return fmt.Errorf("ui: %w", err)
	}
	h.static = static
	sum := sha256.New()
	err = fs.WalkDir(static, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(static, path)
		sum.Write(b)
		return err
	})
	if err != nil {
		return fmt.Errorf("ui: %w", err)
	}
	h.version = hex.EncodeToString(sum.Sum(nil))[:12]

	funcs := h.funcs()
	base, err := template.New("base").Funcs(funcs).ParseFS(assets, "templates/partials/*.html")
	if err != nil {
		return fmt.Errorf("ui: parse templates: %w", err)
	}
	h.frags = base
	files, err := fs.Glob(assets, "templates/*.html")
	if err != nil {
		return fmt.Errorf("ui: %w", err)
	}
	h.pages = make(map[string]*template.Template, len(files))
	for _, f := range files {
		t, err := template.Must(base.Clone()).ParseFS(assets, f)
		if err != nil {
			return fmt.Errorf("ui: parse %s: %w", f, err)
		}
		name := strings.TrimSuffix(strings.TrimPrefix(f, "templates/"), ".html")
		h.pages[name] = t
	}
	return nil
}

func (h *handler) serveStatic(c echo.Context) error {
	// The file name is all a request can choose; fs.FS refuses "..".
	name := c.Param("*")
	b, err := fs.ReadFile(h.static, name)
	if err != nil {
		return echo.ErrNotFound
	}
	ctype := "application/octet-stream"
	switch {
	case strings.HasSuffix(name, ".css"):
		ctype = "text/css; charset=utf-8"
	case strings.HasSuffix(name, ".js"):
		ctype = "text/javascript; charset=utf-8"
	case strings.HasSuffix(name, ".png"):
		ctype = "image/png"
	case strings.HasSuffix(name, ".svg"):
		ctype = "image/svg+xml"
	}
	hd := c.Response().Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	if c.QueryParam("v") == h.version {
		hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hd.Set("Cache-Control", "no-cache")
	}
	return c.Blob(http.StatusOK, ctype, b)
}

// view is what every page template gets.
type view struct {
	Title      string
	Nav        string // the active section
	CSRF       string
	SignedIn   bool
	HasHandset bool
	Version    string
	Flash      string
	RequestID  string
	Data       any
}

func (h *handler) render(c echo.Context, status int, name, title string, data any) error {
	t, ok := h.pages[name]
	if !ok {
		return fmt.Errorf("ui: no template %q", name)
	}
	v := view{Title: title, Nav: name, Version: h.version, Data: data, HasHandset: h.cfg.Handset != nil,
		Flash: flash(c)}
	if s, ok := c.Get(ctxSession).(sqlstore.UISession); ok {
		v.SignedIn, v.CSRF = true, s.CSRF
	}
	v.RequestID = c.Response().Header().Get("X-Request-Id")
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		return fmt.Errorf("ui: render %s: %w", name, err)
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// flash is the notice after a redirect. The query names what happened, not
// the words shown, so that a link cannot make the UI say anything else.
func flash(c echo.Context) string {
	switch done := c.QueryParam("done"); done {
	case "created", "saved", "deleted":
		return fmt.Sprintf("Policy %s %s.", c.QueryParam("policy"), done)
	}
	return ""
}

// fragment renders a partial template alone (the live preview).
func (h *handler) fragment(c echo.Context, status int, name string, data any) error {
	var buf bytes.Buffer
	if err := h.frags.ExecuteTemplate(&buf, name, data); err != nil {
		return fmt.Errorf("ui: render %s: %w", name, err)
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// fail answers an error with a page: the operator sees what to do, internal
// causes go to the log only.
func (h *handler) fail(c echo.Context, err error) error {
	status, msg := http.StatusInternalServerError, "Something went wrong. The cause is in the gateway's log."
	var ue *unify.Error
	switch {
	case errors.As(err, &ue) && ue.Code == unify.CodeNotFound:
		status, msg = http.StatusNotFound, "Not found: "+ue.Message
	case errors.As(err, &ue) && ue.Code == unify.CodeUnavailable:
		status, msg = http.StatusServiceUnavailable, "The store is unavailable right now; try again in a moment."
	case errors.Is(err, context.Canceled):
		return nil
	default:
		h.log.ErrorContext(c.Request().Context(), "ui: request failed", slog.String("path", c.Path()), slog.Any("err", err))
	}
	return h.render(c, status, "error", "Error", msg)
}
