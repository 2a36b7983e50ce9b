package mms

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gateway/unify"
)

// Sink is how the MMS channel reports back to the core. Both methods are
// called from HandleCallback while the MMSC waits for its answer, and return
// only once the report is durably recorded; an error makes the answer a SOAP
// Fault (3000, Server) so that the MMSC sends the request again.
type Sink interface {
	HandleReceipt(ctx context.Context, r unify.Receipt) error
	HandleInbound(ctx context.Context, in unify.Inbound) error
}

// CarrierConfig is the MM7 link to one carrier's MMSC.
type CarrierConfig struct {
	// URL is the MMSC's MM7 endpoint, where SubmitReq is POSTed.
	URL         string
	VASPID      string
	VASID       string
	ServiceCode string
	// Username and Password, when set, are sent as HTTP Basic auth.
	Username string
	Password string
	// Namespace and Version are the MM7 schema namespace and its MM7Version
	// (default REL-6-MM7-1-4 and 6.8.0).
	Namespace string
	Version   string
	// MaxSize is the largest MM the MMSC takes, in bytes (default 614400).
	MaxSize int
	// PlusNumbers writes phone numbers as "+33612345678" instead of
	// "33612345678": MMSCs differ (Sinch wants no '+', mm7.md §4).
	PlusNumbers bool
	// CallbackUsername and CallbackPassword, when set, are the HTTP Basic
	// credentials the MMSC must present on its requests to the gateway.
	CallbackUsername string
	CallbackPassword string
}

// Config configures a Channel.
type Config struct {
	// Carriers maps carrier names to their MM7 links.
	Carriers map[string]CarrierConfig
	// Senders maps sender names to the MMS sender address shown to the phone
	// (a short code or a number); a sender not listed is left to the MMSC's
	// default for the VASP.
	Senders map[string]string
	// Fetcher fetches media (default: a Fetcher with its defaults, which
	// refuses loopback and private addresses).
	Fetcher *Fetcher
	// HTTPClient posts to the MMSCs (default: a plain client).
	HTTPClient *http.Client
	// Timeout bounds one SubmitReq round trip (default 30s).
	Timeout    time.Duration
	Logger     *slog.Logger
	NowFunc    func() time.Time
	Registerer prometheus.Registerer
}

// Channel is the MMS channel over the carriers' MM7 links. Its methods are
// safe for concurrent use.
type Channel struct {
	carriers map[string]CarrierConfig
	senders  map[string]string
	fetcher  *Fetcher
	http     *http.Client
	timeout  time.Duration
	sink     Sink
	log      *slog.Logger
	now      func() time.Time
	metrics  *metrics
}

// New builds the channel; sink receives what HandleCallback reads.
func New(cfg Config, sink Sink) *Channel {
	c := &Channel{
		carriers: map[string]CarrierConfig{},
		senders:  cfg.Senders,
		fetcher:  cfg.Fetcher,
		http:     cfg.HTTPClient,
		timeout:  cfg.Timeout,
		sink:     sink,
		log:      cfg.Logger,
		now:      cfg.NowFunc,
		metrics:  newMetrics(cfg.Registerer),
	}
	for name, cc := range cfg.Carriers {
		if cc.Namespace == "" {
			cc.Namespace = DefaultNamespace
		}
		if cc.Version == "" {
			cc.Version = DefaultVersion
		}
		if cc.MaxSize <= 0 {
			cc.MaxSize = DefaultMaxSize
		}
		c.carriers[name] = cc
	}
	if c.fetcher == nil {
		c.fetcher = &Fetcher{}
	}
	if c.http == nil {
		// Submits to one MMSC run in parallel: keep their connections
		// (the default keeps two and dials for the rest).
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 64
		c.http = &http.Client{Transport: t}
	}
	if c.timeout <= 0 {
		c.timeout = 30 * time.Second
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c
}

// Kind is unify.ChannelMMS.
func (c *Channel) Kind() unify.ChannelKind { return unify.ChannelMMS }

// Render lays m out as the MMS it would send: the SMIL, each part with its
// Content-ID, type and size, and the total after images were scaled down. It
// fetches the media (sizes depend on them) but sends nothing. The size limit
// is the smaller of the policy's mms.max_size and the max_size of m.Carrier,
// or, when m has no MM7 carrier yet (a preview), of the strictest carrier.
//
// Plain text (with or without suggestions), and cards or carousels with no
// media, are Skipped: the core does not take an MMS step without media. A
// location is the exception and becomes a text slide with a map link. Media
// that cannot be carried (refused address, HTTP error, a type other than
// image, video or audio, too large to scale) also makes a Skipped rendering;
// a fetch that may work later (timeout, 5xx) is an error of kind
// unify.ErrTemporary.
func (c *Channel) Render(ctx context.Context, m *unify.Message, p *unify.Policy) (unify.Rendering, error) {
	cc := c.renderCarrier(m)
	r := unify.Rendering{Channel: unify.ChannelMMS, Protection: unify.ProtectionOf(unify.ChannelMMS, isHTTPS(cc.URL))}
	if reason := skipReason(&m.Content); reason != "" {
		r.Skipped = reason
		return r, nil
	}
	comp, err := c.compose(ctx, m, p, maxSize(cc, p))
	if err != nil {
		var se *unify.SendError
		if errors.As(err, &se) && se.Kind == unify.ErrInvalidContent {
			r.Skipped = strings.TrimPrefix(se.Err.Error(), "mms: ")
			return r, nil
		}
		return r, err
	}
	r.MMS = comp.rendering()
	return r, nil
}

// skipReason says why content is not worth an MMS, or "".
func skipReason(c *unify.Content) string {
	if !c.HasMedia() && c.Location == nil {
		return "the content has no media"
	}
	return ""
}

// renderCarrier picks the carrier whose limits a rendering follows.
func (c *Channel) renderCarrier(m *unify.Message) CarrierConfig {
	if cc, ok := c.carriers[m.Carrier]; ok {
		return cc
	}
	names := make([]string, 0, len(c.carriers))
	for n := range c.carriers {
		names = append(names, n)
	}
	sort.Strings(names)
	best := CarrierConfig{MaxSize: DefaultMaxSize}
	for i, n := range names {
		if cc := c.carriers[n]; i == 0 || cc.MaxSize < best.MaxSize {
			best = cc
		}
	}
	return best
}

func maxSize(cc CarrierConfig, p *unify.Policy) int {
	n := cc.MaxSize
	if n <= 0 {
		n = DefaultMaxSize
	}
	if p != nil && p.MMS.MaxSize > 0 && p.MMS.MaxSize < n {
		n = p.MMS.MaxSize
	}
	return n
}

func isHTTPS(u string) bool { return strings.HasPrefix(strings.ToLower(u), "https://") }
