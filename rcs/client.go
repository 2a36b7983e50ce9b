package rcs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"golang.org/x/oauth2/jwt"

	"gateway/unify"
)

// Defaults of ClientConfig (rbm.md §1).
const (
	DefaultBaseURL  = "https://rcsbusinessmessaging.googleapis.com"
	DefaultTokenURL = "https://oauth2.googleapis.com/token"
	// Scope is the OAuth2 scope of the RBM API.
	Scope = "https://www.googleapis.com/auth/rcsbusinessmessaging"
)

// maxResponse bounds what is read of an API answer: real ones are a few
// hundred bytes (an echoed AgentMessage is at most 250 KB).
const maxResponse = 1 << 20

// tokenEarlyRefresh is how long before its expiry a token is replaced: a
// request signed just before expiry must not reach Google just after it.
const tokenEarlyRefresh = 3 * time.Minute

// ClientConfig configures a Client. Exactly one of CredentialsFile,
// CredentialsJSON and Token is needed.
type ClientConfig struct {
	// Carrier names the carrier in metrics and logs.
	Carrier string
	// BaseURL is the API root (default DefaultBaseURL); paths start with /v1.
	BaseURL string
	// TokenURL is where service-account JWTs are exchanged for access tokens
	// (default DefaultTokenURL); it overrides the key file's token_uri.
	TokenURL string
	// CredentialsFile is a Google service-account JSON key, read by NewClient.
	CredentialsFile string
	// CredentialsJSON is the content of such a key.
	CredentialsJSON []byte
	// Token is a static bearer token (tests, simulators).
	Token string
	// Timeout bounds one HTTP request, token requests included (default 10s).
	Timeout time.Duration
	// MaxAttempts bounds the tries of one call on 429, 5xx and network
	// errors (default 4).
	MaxAttempts int
	// MinBackoff and MaxBackoff bound the pause between tries (defaults
	// 250ms and 5s); it doubles each time, with jitter.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// HTTPClient makes the requests (default: a new http.Client).
	HTTPClient *http.Client
	// NewIDFunc makes the requestId of capability checks (default: a random
	// UUID, as RBM requires).
	NewIDFunc func() string
	Metrics   *Metrics
	Logger    *slog.Logger
}

// Client calls the RBM REST API of one carrier's RBM account. It is safe for
// concurrent use.
type Client struct {
	cfg  ClientConfig
	base string
	auth *auth
}

// NewClient builds a Client. It reads and checks the credentials but makes no
// request.
func NewClient(cfg ClientConfig) (*Client, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	if cfg.TokenURL == "" {
		cfg.TokenURL = DefaultTokenURL
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 4
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 250 * time.Millisecond
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(5*time.Second, cfg.MinBackoff)
	}
	if cfg.HTTPClient == nil {
		// Sends to one platform host run in parallel: keep their
		// connections (the default keeps two and dials for the rest).
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 64
		cfg.HTTPClient = &http.Client{Transport: t}
	}
	if cfg.NewIDFunc == nil {
		cfg.NewIDFunc = func() string { return string(unify.NewAttemptID()) }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("rcs: base url %q is not an absolute http or https URL", cfg.BaseURL)
	}
	a, err := newAuth(cfg)
	if err != nil {
		return nil, err
	}
	return &Client{cfg: cfg, base: strings.TrimRight(cfg.BaseURL, "/"), auth: a}, nil
}

// auth hands out bearer tokens: a static one, or service-account tokens
// fetched with the JWT-bearer flow (rbm.md §1) and cached until shortly
// before they expire.
type auth struct {
	static string
	conf   *jwt.Config
	ctx    context.Context // carries the HTTP client of token requests

	mu sync.Mutex
	ts oauth2.TokenSource
}

func newAuth(cfg ClientConfig) (*auth, error) {
	key := cfg.CredentialsJSON
	n := 0
	for _, set := range []bool{cfg.CredentialsFile != "", len(cfg.CredentialsJSON) > 0, cfg.Token != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, errors.New("rcs: exactly one of credentials file, credentials JSON and token is needed")
	}
	if cfg.Token != "" {
		return &auth{static: cfg.Token}, nil
	}
	if cfg.CredentialsFile != "" {
		b, err := os.ReadFile(cfg.CredentialsFile)
		if err != nil {
			return nil, fmt.Errorf("rcs: read credentials: %w", err)
		}
		key = b
	}
	conf, err := google.JWTConfigFromJSON(key, Scope)
	if err != nil {
		// The error may quote the key: say only that it is not one.
		return nil, errors.New("rcs: credentials are not a Google service-account JSON key")
	}
	conf.TokenURL = cfg.TokenURL
	hc := &http.Client{Timeout: cfg.Timeout, Transport: cfg.HTTPClient.Transport}
	a := &auth{conf: conf, ctx: context.WithValue(context.Background(), oauth2.HTTPClient, hc)}
	a.reset()
	return a, nil
}

// freshJWT fetches a new token on every call; auth wraps it in its own cache
// so that tokens are replaced minutes, not seconds, before they expire.
type freshJWT struct {
	ctx  context.Context
	conf *jwt.Config
}

func (f freshJWT) Token() (*oauth2.Token, error) { return f.conf.TokenSource(f.ctx).Token() }

func (a *auth) reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ts = oauth2.ReuseTokenSourceWithExpiry(nil, freshJWT{a.ctx, a.conf}, tokenEarlyRefresh)
}

func (a *auth) token() (string, error) {
	if a.static != "" {
		return a.static, nil
	}
	a.mu.Lock()
	ts := a.ts
	a.mu.Unlock()
	t, err := ts.Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil {
			// The body may echo the assertion: keep only the status.
			return "", fmt.Errorf("rcs: token request refused with status %d", re.Response.StatusCode)
		}
		return "", fmt.Errorf("rcs: token request: %w", err)
	}
	return t.AccessToken, nil
}

// refreshable reports whether a new token could differ from the last one.
func (a *auth) refreshable() bool { return a.static == "" }

// ErrNotRCS is returned by Capabilities when RBM answers 404: the phone is
// not reachable over RCS. It is a normal outcome, not a failure.
var ErrNotRCS = errors.New("rcs: phone is not reachable over rcs")

// APIError is an RBM API answer other than 2xx, read from Google's JSON error
// body (rbm.md §7).
type APIError struct {
	Status  int    // HTTP status
	Code    string // Google's status name, e.g. NOT_FOUND
	Message string
	// RetryAfter is what a Retry-After header asked for (429, 503), if any.
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	s := "rcs: rbm answered " + strconv.Itoa(e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Kind maps the failure onto unify's send failure kinds. This is the one
// place where RBM's answers get their meaning for the gateway (rbm.md §7).
func (e *APIError) Kind() error {
	switch {
	case e.Status == http.StatusNotFound, e.Status == http.StatusForbidden:
		// 404: not an RCS user; 403: agent not launched for this user or
		// carrier. Either way SMS or MMS can still reach the phone.
		return unify.ErrNotCapable
	case e.Status == http.StatusBadRequest, e.Status == http.StatusRequestEntityTooLarge:
		return unify.ErrInvalidContent
	case e.Status == http.StatusTooManyRequests:
		return unify.ErrThrottled
	case e.Status == http.StatusUnauthorized, e.Status == http.StatusRequestTimeout, e.Status >= 500:
		// 401 reaches here only after a fresh token was refused too: a
		// credentials problem an operator can fix, so not permanent.
		return unify.ErrTemporary
	}
	return unify.ErrRejected
}

// SendError wraps err, a failure of a Client call, in a *unify.SendError of
// the right kind: API errors by their status, anything else (network,
// timeout, token) as temporary.
func SendError(err error) *unify.SendError {
	var se *unify.SendError
	if errors.As(err, &se) {
		return se
	}
	var ae *APIError
	if errors.As(err, &ae) {
		code := strconv.Itoa(ae.Status)
		if ae.Code != "" {
			code += " " + ae.Code
		}
		return &unify.SendError{Kind: ae.Kind(), Code: code, Err: err}
	}
	return &unify.SendError{Kind: unify.ErrTemporary, Err: err}
}

// Capabilities asks RBM which RCS features the phone supports (rbm.md §3).
// A phone RBM cannot reach gives ErrNotRCS.
func (c *Client) Capabilities(ctx context.Context, phone, agentID string) ([]string, error) {
	q := url.Values{"requestId": {c.cfg.NewIDFunc()}, "agentId": {agentID}}
	var out struct {
		Features []string `json:"features"`
	}
	err := c.do(ctx, "capabilities", http.MethodGet, phone, "/capabilities", q, nil, &out)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return nil, fmt.Errorf("%w (%w)", ErrNotRCS, ae)
	}
	if err != nil {
		return nil, err
	}
	if out.Features == nil {
		out.Features = []string{}
	}
	return out.Features, nil
}

// SendMessage sends an agent message with our messageID (a UUID: the
// attempt id). Retries reuse the id, so RBM delivers the message once even
// when an answer was lost (rbm.md §2).
func (c *Client) SendMessage(ctx context.Context, phone, agentID, messageID string, msg *AgentMessage) error {
	body, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("rcs: encode agent message: %w", err)
	}
	q := url.Values{"messageId": {messageID}, "agentId": {agentID}}
	return c.do(ctx, "send", http.MethodPost, phone, "/agentMessages", q, body, nil)
}

// Revoke withdraws an agent message the phone has not received yet. A 404
// means it was delivered first: the error then wraps
// unify.ErrAlreadyDelivered. Other errors leave the outcome unknown.
func (c *Client) Revoke(ctx context.Context, phone, agentID, messageID string) error {
	q := url.Values{"agentId": {agentID}}
	err := c.do(ctx, "revoke", http.MethodDelete, phone, "/agentMessages/"+url.PathEscape(messageID), q, nil, nil)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return fmt.Errorf("rcs: revoke %s: %w (%w)", messageID, unify.ErrAlreadyDelivered, ae)
	}
	return err
}

// Agent event types (rbm.md §5).
const (
	EventRead     = "READ"
	EventIsTyping = "IS_TYPING"
)

// AgentEvent is an event the agent shows the user: READ of one of the user's
// messages, or IS_TYPING.
type AgentEvent struct {
	EventType string `json:"eventType"`
	MessageID string `json:"messageId,omitempty"` // READ only: the user's messageId
}

// SendEvent sends an agent event with our eventID (a UUID; reused on retry).
func (c *Client) SendEvent(ctx context.Context, phone, agentID, eventID string, ev AgentEvent) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("rcs: encode agent event: %w", err)
	}
	q := url.Values{"eventId": {eventID}, "agentId": {agentID}}
	return c.do(ctx, "event", http.MethodPost, phone, "/agentEvents", q, body, nil)
}

// do makes one API call on the phone's resource, with retries on 429, 5xx
// and network errors and one token refresh on 401.
func (c *Client) do(ctx context.Context, op, method, phone, suffix string, q url.Values, body []byte, out any) error {
	if !unify.LooksE164(phone) {
		return fmt.Errorf("rcs: %q is not an E.164 number", phone)
	}
	// The '+' of the number stays literal in the path (rbm.md §2).
	target := c.base + "/v1/phones/" + phone + suffix + "?" + q.Encode()
	start := time.Now()
	defer func() { c.cfg.Metrics.call(c.cfg.Carrier, op, time.Since(start)) }()

	refreshed := false
	for try := 1; ; try++ {
		status, err := c.once(ctx, method, target, body, out)
		c.cfg.Metrics.request(c.cfg.Carrier, op, status)
		if err == nil {
			return nil
		}
		if cerr := ctx.Err(); cerr != nil {
			// The caller gave up, maybe just as an answer came: say so,
			// with the answer, as pause does.
			if errors.Is(err, cerr) {
				return err
			}
			return fmt.Errorf("rcs: %w (last error: %w)", cerr, err)
		}
		retry := status == 0 || status == http.StatusTooManyRequests || status >= 500
		if status == http.StatusUnauthorized && !refreshed && c.auth.refreshable() {
			// An expired or revoked token: fetch a new one and go again at
			// once; this try does not count.
			refreshed = true
			c.auth.reset()
			c.cfg.Metrics.retry(c.cfg.Carrier, op)
			try--
			continue
		}
		if !retry || try >= c.cfg.MaxAttempts {
			return err
		}
		c.cfg.Logger.Debug("rbm call failed, will retry", "carrier", c.cfg.Carrier, "op", op, "try", try, "err", err)
		c.cfg.Metrics.retry(c.cfg.Carrier, op)
		if err := c.pause(ctx, try, err); err != nil {
			return err
		}
	}
}

// once makes one HTTP request. status is 0 when no answer came.
func (c *Client) once(ctx context.Context, method, target string, body []byte, out any) (status int, err error) {
	tok, err := c.auth.token()
	if err != nil {
		return 0, err
	}
	rctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(rctx, method, target, rd)
	if err != nil {
		return 0, fmt.Errorf("rcs: build request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL, said once below
		}
		return 0, fmt.Errorf("rcs: %s %s: %w", method, redact(target), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return 0, fmt.Errorf("rcs: read answer: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, apiError(resp, data)
	}
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("rcs: decode answer: %w", err)
		}
	}
	return resp.StatusCode, nil
}

// redact drops the query (message and agent ids) from a URL for errors that
// end up in logs; the path keeps the resource.
func redact(target string) string {
	if i := strings.IndexByte(target, '?'); i >= 0 {
		return target[:i]
	}
	return target
}

func apiError(resp *http.Response, data []byte) *APIError {
	e := &APIError{Status: resp.StatusCode}
	var body struct {
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
			Status  string `json:"status"`
		} `json:"error"`
	}
	if json.Unmarshal(data, &body) == nil {
		e.Code, e.Message = body.Error.Status, body.Error.Message
	}
	if e.Message == "" {
		e.Message = strings.ToLower(http.StatusText(resp.StatusCode))
	}
	if ra, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && ra > 0 {
		e.RetryAfter = time.Duration(ra) * time.Second
	}
	return e
}

// pause waits after the failed try number try (1-based): exponential back-off
// with jitter, at least what a Retry-After asked for, at most MaxBackoff.
func (c *Client) pause(ctx context.Context, try int, last error) error {
	d := c.cfg.MinBackoff
	for i := 1; i < try && d < c.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, c.cfg.MaxBackoff)
	// Jitter in [d/2, d): many gateways backing off together do not come
	// back together.
	d = d/2 + rand.N(d/2+1)
	if ra := retryAfter(last); ra > d {
		d = min(ra, c.cfg.MaxBackoff)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("rcs: %w (last error: %w)", ctx.Err(), last)
	case <-t.C:
		return nil
	}
}

func retryAfter(err error) time.Duration {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.RetryAfter
	}
	return 0
}
