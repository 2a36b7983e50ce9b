package ui_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"gateway/unify"
	"gateway/unify/sqlstore"
	"gateway/web/ui"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const password = "correct horse battery staple"

// t0 is the tests' "now": the traffic seeded below happened in the hour
// before it.
var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// clock is a settable NowFunc.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fakePolicies is an in-memory policy store that validates like the core:
// Policy.Validate, conflict on a taken name, and delete refused for the
// policies in inUse.
type fakePolicies struct {
	mu    sync.Mutex
	m     map[string]unify.Policy
	inUse map[string]string // policy → sender that uses it
	saves int
}

func newFakePolicies(ps ...unify.Policy) *fakePolicies {
	f := &fakePolicies{m: map[string]unify.Policy{}, inUse: map[string]string{}}
	for _, p := range ps {
		f.m[p.Name] = p
	}
	return f
}

func (f *fakePolicies) List(context.Context) ([]unify.Policy, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []unify.Policy
	for _, p := range f.m {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b unify.Policy) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (f *fakePolicies) Get(_ context.Context, name string) (unify.Policy, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.m[name]
	if !ok {
		return p, unify.Errorf(unify.CodeNotFound, "no policy %q", name)
	}
	return p, nil
}

func (f *fakePolicies) Save(_ context.Context, p unify.Policy, isNew bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if errs := p.Validate(""); len(errs) > 0 {
		return unify.Invalid(errs...)
	}
	if p.Name == "reserved" {
		return unify.Invalid(unify.FieldError{Field: "name", Message: "is reserved by the gateway"})
	}
	_, exists := f.m[p.Name]
	if isNew && exists {
		return unify.Errorf(unify.CodeConflict, "policy %q exists", p.Name)
	}
	if !isNew && !exists {
		return unify.Errorf(unify.CodeNotFound, "no policy %q", p.Name)
	}
	f.m[p.Name] = p
	f.saves++
	return nil
}

func (f *fakePolicies) Delete(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.inUse[name]; ok {
		return unify.Errorf(unify.CodeConflict, "used as default by sender %s", s)
	}
	if _, ok := f.m[name]; !ok {
		return unify.Errorf(unify.CodeNotFound, "no policy %q", name)
	}
	delete(f.m, name)
	return nil
}

func (f *fakePolicies) get(name string) (unify.Policy, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.m[name]
	return p, ok
}

func (f *fakePolicies) saveCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.saves
}

// fakePreviewer renders content the way the channels do, simply but
// deterministically: RBM JSON for RCS, an image and a text part for MMS
// (skipped without media), and a text with its segment count for SMS.
type fakePreviewer struct{}

func (fakePreviewer) Preview(_ context.Context, m *unify.Message, p unify.Policy) ([]unify.Rendering, error) {
	var out []unify.Rendering
	for _, st := range p.Steps {
		r := unify.Rendering{Channel: st.Channel, Protection: unify.ProtectionOf(st.Channel, false)}
		switch st.Channel {
		case unify.ChannelRCS:
			r.RBM = fakeRBM(m.Content)
		case unify.ChannelMMS:
			if !m.Content.HasMedia() {
				r.Skipped = "the content has no media"
				break
			}
			media := m.Content.Media
			if m.Content.Card != nil {
				media = m.Content.Card.Media
			}
			txt := smsText(m.Content, false)
			r.MMS = &unify.MMSRendering{SMIL: "<smil/>", TotalSize: 48000 + len(txt), Parts: []unify.MMSPart{
				{ContentID: "smil", ContentType: "application/smil", Size: 300},
				{ContentID: "img", ContentType: media.MimeType, Size: 48000, SourceURL: media.URL},
				{ContentID: "txt", ContentType: "text/plain", Size: len(txt), Text: txt},
			}}
		case unify.ChannelSMS:
			txt := smsText(m.Content, p.SMS.NumberReplies)
			enc, per, single := "gsm7", 153, 160
			n := utf8.RuneCountInString(txt)
			for _, r := range txt {
				if r > 0x7e {
					enc, per, single = "ucs2", 67, 70
					break
				}
			}
			seg := 1
			if n > single {
				seg = (n + per - 1) / per
			}
			r.SMS = &unify.SMSRendering{Text: txt, Encoding: enc, Segments: seg, Units: n}
		}
		out = append(out, r)
	}
	return out, nil
}

func smsText(c unify.Content, number bool) string {
	var parts []string
	if c.Text != "" {
		parts = append(parts, c.Text)
	}
	if c.Card != nil {
		parts = append(parts, c.Card.Title, c.Card.Description)
	}
	if number {
		for i, s := range c.AllSuggestions() {
			if s.Type == unify.SuggestReply {
				parts = append(parts, fmt.Sprintf("Reply %d for %s", i+1, s.Text))
			}
		}
	}
	return strings.Join(parts, "\n")
}

func fakeRBM(c unify.Content) json.RawMessage {
	chips := func(ss []unify.Suggestion) []any {
		var out []any
		for _, s := range ss {
			switch s.Type {
			case unify.SuggestReply:
				out = append(out, map[string]any{"reply": map[string]any{"text": s.Text, "postbackData": s.PostbackOrText()}})
			case unify.SuggestOpenURL:
				out = append(out, map[string]any{"action": map[string]any{"text": s.Text, "postbackData": s.PostbackOrText(), "openUrlAction": map[string]any{"url": s.URL}}})
			case unify.SuggestDial:
				out = append(out, map[string]any{"action": map[string]any{"text": s.Text, "postbackData": s.PostbackOrText(), "dialAction": map[string]any{"phoneNumber": s.Phone}}})
			}
		}
		return out
	}
	card := func(cd unify.Card) map[string]any {
		out := map[string]any{"title": cd.Title, "description": cd.Description, "suggestions": chips(cd.Suggestions)}
		if cd.Media != nil {
			out["media"] = map[string]any{"height": "MEDIUM", "contentInfo": map[string]any{"fileUrl": cd.Media.URL}}
		}
		return out
	}
	cm := map[string]any{}
	switch {
	case c.Card != nil:
		cm["richCard"] = map[string]any{"standaloneCard": map[string]any{"cardOrientation": "VERTICAL", "cardContent": card(*c.Card)}}
	case c.Carousel != nil:
		var cards []any
		for _, cd := range c.Carousel.Cards {
			cards = append(cards, card(cd))
		}
		cm["richCard"] = map[string]any{"carouselCard": map[string]any{"cardWidth": "MEDIUM", "cardContents": cards}}
	case c.Media != nil:
		cm["contentInfo"] = map[string]any{"fileUrl": c.Media.URL}
	default:
		cm["text"] = c.Text
	}
	if s := chips(c.Suggestions); len(s) > 0 {
		cm["suggestions"] = s
	}
	b, _ := json.Marshal(map[string]any{"contentMessage": cm})
	return b
}

// bundle is a mounted UI on a real SQLite store.
type bundle struct {
	srv      *httptest.Server
	e        *echo.Echo
	store    *sqlstore.Store
	policies *fakePolicies
	clock    *clock
	cfg      ui.Config
}

// setupOpts are what an option may change before Mount: the config, the
// echo instance the UI is mounted on and the handler the server runs.
type setupOpts struct {
	cfg     *ui.Config
	e       *echo.Echo
	handler http.Handler
}

type option func(*setupOpts)

// withConfig changes the UI's config.
func withConfig(f func(*ui.Config)) option { return func(o *setupOpts) { f(o.cfg) } }

func setup(tb testing.TB, opts ...option) *bundle {
	tb.Helper()
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, "sqlite:"+filepath.Join(tb.TempDir(), "ui.db"), sqlstore.Options{})
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = st.Close() })
	require.NoError(tb, st.Migrate(ctx))
	b := &bundle{store: st, clock: &clock{now: t0},
		policies: newFakePolicies(
			unify.Policy{Name: "default", Steps: []unify.Step{{Channel: unify.ChannelRCS, Timeout: time.Minute}, {Channel: unify.ChannelMMS, Timeout: 10 * time.Minute}, {Channel: unify.ChannelSMS}},
				SMS: unify.SMSOptions{NumberReplies: true}},
			unify.Policy{Name: "otp", Steps: []unify.Step{{Channel: unify.ChannelSMS}}, OnRevokeFailure: unify.RevokeSendAnyway},
		)}
	b.policies.inUse["default"] = "acme"
	e := echo.New()
	b.cfg = ui.Config{
		AdminPassword: password,
		Policies:      b.policies,
		Previewer:     fakePreviewer{},
		Traffic:       st,
		Sessions:      st,
		Senders:       []string{"acme", "globex"},
		NowFunc:       b.clock.Now,
		Logger:        slog.New(slog.DiscardHandler),
		Carriers: func() []ui.CarrierStatus {
			return []ui.CarrierStatus{{
				Name: "sim-fr", TPS: 42, MaxTPS: 100,
				Binds: []ui.BindStatus{{Up: true, Since: t0.Add(-time.Hour), InFlight: 3, Window: 10},
					{Up: false, Since: t0.Add(-time.Minute), LastError: "bind refused: ESME_RBINDFAIL"}},
				RBM: &ui.Reachability{Configured: true, OK: true, CheckedAt: t0.Add(-10 * time.Second)},
				MM7: &ui.Reachability{Configured: true, OK: false, LastError: "connection refused", CheckedAt: t0},
			}}
		},
	}
	o := setupOpts{cfg: &b.cfg, e: e}
	for _, opt := range opts {
		opt(&o)
	}
	require.NoError(tb, ui.Mount(o.e, b.cfg))
	if o.handler == nil {
		o.handler = o.e
	}
	b.e = o.e
	b.srv = httptest.NewServer(o.handler)
	tb.Cleanup(b.srv.Close)
	return b
}

// client is a browser without JavaScript: it keeps cookies by hand (so tests
// can replay old ones) and never follows redirects.
type client struct {
	tb      testing.TB
	b       *bundle
	hc      *http.Client
	cookies map[string]*http.Cookie
	headers http.Header
}

func (b *bundle) client(tb testing.TB) *client {
	return &client{tb: tb, b: b, cookies: map[string]*http.Cookie{}, headers: http.Header{},
		hc: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type response struct {
	*http.Response
	Body string
}

func (c *client) do(method, path string, form url.Values) response {
	c.tb.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.b.srv.URL+path, body)
	require.NoError(c.tb, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range c.headers {
		req.Header[k] = v
	}
	for _, ck := range c.cookies {
		req.AddCookie(ck)
	}
	res, err := c.hc.Do(req)
	require.NoError(c.tb, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(c.tb, err)
	for _, ck := range res.Cookies() {
		if ck.MaxAge < 0 {
			delete(c.cookies, ck.Name)
		} else {
			c.cookies[ck.Name] = ck
		}
	}
	return response{res, string(b)}
}

func (c *client) get(path string) response { return c.do(http.MethodGet, path, nil) }

func (c *client) post(path string, form url.Values) response {
	return c.do(http.MethodPost, path, form)
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrfOf finds the CSRF token in a page.
func csrfOf(tb testing.TB, page string) string {
	tb.Helper()
	m := csrfRe.FindStringSubmatch(page)
	require.NotNil(tb, m, "no csrf field in the page")
	return m[1]
}

// signIn signs the client in and returns the session's CSRF token.
func (c *client) signIn() string {
	c.tb.Helper()
	page := c.get("/ui/signin")
	require.Equal(c.tb, http.StatusOK, page.StatusCode)
	res := c.post("/ui/signin", url.Values{"csrf": {csrfOf(c.tb, page.Body)}, "password": {password}})
	require.Equal(c.tb, http.StatusSeeOther, res.StatusCode, res.Body)
	home := c.get("/ui/policies")
	require.Equal(c.tb, http.StatusOK, home.StatusCode)
	return csrfOf(c.tb, home.Body)
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(tb testing.TB, name, got string) {
	tb.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(tb, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(tb, err, "run go test -update to create %s", path)
	require.Equal(tb, string(want), got, "%s differs; run go test -update if the change is intended", path)
}

// seedMessage stores a message with its attempts, events and replies, as
// the core would have.
func seedMessage(tb testing.TB, st *sqlstore.Store, m *unify.Message, attempts []unify.Attempt, events []unify.OutboxEvent, replies []sqlstore.InboundRecord) {
	tb.Helper()
	require.NoError(tb, st.InTx(context.Background(), func(tx *sqlstore.Tx) error {
		if err := tx.InsertMessage(m); err != nil {
			return err
		}
		for i := range attempts {
			attempts[i].MessageID = m.ID
			if err := tx.InsertAttempt(&attempts[i], attempts[i].At); err != nil {
				return err
			}
		}
		for _, e := range events {
			if err := tx.AddEvent(e, m.ID); err != nil {
				return err
			}
		}
		for _, r := range replies {
			if _, err := tx.InsertInbound(r); err != nil {
				return err
			}
		}
		return nil
	}))
}
