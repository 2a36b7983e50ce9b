package ui_test

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"gateway/unify"
	"gateway/unify/sqlstore"
	"gateway/web/ui"
)

// seedHour stores n messages, one every 30 seconds up to t0, cycling
// through numbers, senders, channels and statuses.
func seedHour(tb testing.TB, st *sqlstore.Store, n int) []*unify.Message {
	tb.Helper()
	statuses := []unify.Status{unify.StatusDelivered, unify.StatusRead, unify.StatusFailed, unify.StatusSent, unify.StatusDelivered}
	chans := []unify.ChannelKind{unify.ChannelRCS, unify.ChannelSMS, unify.ChannelMMS}
	var out []*unify.Message
	for i := range n {
		at := t0.Add(-time.Duration(n-1-i) * 30 * time.Second)
		m := &unify.Message{ID: unify.MessageID(fmt.Sprintf("msg_%04d", i)), To: fmt.Sprintf("+3361234500%d", i%3),
			From: []string{"acme", "globex"}[i%2], Policy: "default", Content: unify.Content{Text: "hello"},
			Status: statuses[i%5], Channel: chans[i%3], Carrier: "sim-fr", CreatedAt: at, UpdatedAt: at}
		seedMessage(tb, st, m, nil, nil, nil)
		out = append(out, m)
	}
	return out
}

var (
	rowRe  = regexp.MustCompile(`<a href="/ui/traffic/(msg_[^"]+)">`)
	nextRe = regexp.MustCompile(`<a href="([^"]+)" rel="next">`)
	prevRe = regexp.MustCompile(`<a href="([^"]+)" rel="prev">`)
)

func rowIDs(page string) []string {
	var out []string
	for _, m := range rowRe.FindAllStringSubmatch(page, -1) {
		out = append(out, m[1])
	}
	return out
}

func TestTrafficPaging(t *testing.T) {
	t.Parallel()
	b := setup(t)
	msgs := seedHour(t, b.store, 120)
	c := b.client(t)
	c.signIn()

	var ids []string
	var pages []string
	next := "/ui/traffic?sender=globex"
	for next != "" {
		res := c.get(next)
		require.Equal(t, http.StatusOK, res.StatusCode)
		ids = append(ids, rowIDs(res.Body)...)
		pages = append(pages, next)
		next = ""
		if m := nextRe.FindStringSubmatch(res.Body); m != nil {
			next = html.UnescapeString(m[1])
			require.Contains(t, next, "sender=globex", "paging keeps the filter")
		}
	}
	var want []string
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].From == "globex" {
			want = append(want, string(msgs[i].ID))
		}
	}
	require.Equal(t, want, ids)
	require.Len(t, pages, 2, "60 messages in pages of 50")

	// Back from the last page to the first.
	last := c.get(pages[1])
	m := prevRe.FindStringSubmatch(last.Body)
	require.NotNil(t, m)
	back := c.get(html.UnescapeString(m[1]))
	require.Equal(t, want[:50], rowIDs(back.Body))
	require.Nil(t, prevRe.FindStringSubmatch(back.Body), "the newest page has nothing newer")
	require.Contains(t, last.Body, "« Newest")
}

func TestTrafficFilters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	msgs := seedHour(t, b.store, 40)
	c := b.client(t)
	c.signIn()
	for _, tc := range []struct {
		query string
		keep  func(*unify.Message) bool
	}{
		{"number=%2B33612345001", func(m *unify.Message) bool { return m.To == "+33612345001" }},
		{"number=%2B33+6+12+34+50+01", func(m *unify.Message) bool { return m.To == "+33612345001" }},
		{"sender=acme", func(m *unify.Message) bool { return m.From == "acme" }},
		{"status=failed", func(m *unify.Message) bool { return m.Status == unify.StatusFailed }},
		{"channel=mms", func(m *unify.Message) bool { return m.Channel == unify.ChannelMMS }},
		{"since=2026-11-25T11:55&until=2026-11-25T11:58:00", func(m *unify.Message) bool {
			return !m.CreatedAt.Before(t0.Add(-5*time.Minute)) && m.CreatedAt.Before(t0.Add(-2*time.Minute))
		}},
		{"status=delivered&channel=rcs&sender=acme", func(m *unify.Message) bool {
			return m.Status == unify.StatusDelivered && m.Channel == unify.ChannelRCS && m.From == "acme"
		}},
		{"number=%2B33700000000", func(*unify.Message) bool { return false }},
	} {
		res := c.get("/ui/traffic?" + tc.query)
		require.Equal(t, http.StatusOK, res.StatusCode, tc.query)
		var want []string
		for i := len(msgs) - 1; i >= 0; i-- {
			if tc.keep(msgs[i]) {
				want = append(want, string(msgs[i].ID))
			}
		}
		require.Equal(t, want, rowIDs(res.Body), tc.query)
		if len(want) == 0 {
			require.Contains(t, res.Body, "No message matches.")
		}
	}
	// The form shows the filter back.
	res := c.get("/ui/traffic?status=failed&channel=mms&since=2026-11-25T11:55")
	require.Contains(t, res.Body, `<option value="failed" selected>failed</option>`)
	require.Contains(t, res.Body, `<option value="mms" selected>MMS</option>`)
	require.Contains(t, res.Body, `name="since" type="datetime-local" step="1" value="2026-11-25T11:55"`)
}

func TestTrafficFilterErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.client(t)
	c.signIn()
	for _, tc := range []struct {
		query, field, msg string
	}{
		{"number=0612345678", "number", "must be an E.164 number such as +33612345678"},
		{"status=lost", "status", "is not a message status"},
		{"channel=fax", "channel", "must be rcs, mms or sms"},
		{"since=yesterday", "since", "must be a date and time such as 2026-11-25T12:00 (UTC)"},
		{"since=2026-11-25T12:00&until=2026-11-25T11:00", "until", "must be after From"},
	} {
		res := c.get("/ui/traffic?" + tc.query)
		require.Equal(t, http.StatusBadRequest, res.StatusCode, tc.query)
		require.Contains(t, html.UnescapeString(res.Body), `<p class="err" id="f-`+tc.field+`-err">`+tc.msg+`</p>`, tc.query)
		require.Regexp(t, `id="f-`+tc.field+`"[^>]*aria-invalid="true"`, res.Body)
	}
}

func TestTrafficCountersAndChart(t *testing.T) {
	t.Parallel()
	b := setup(t)
	seedHour(t, b.store, 120) // 11:00:30 .. 12:00:00
	// One more from two hours ago: outside the window.
	seedMessage(t, b.store, &unify.Message{ID: "msg_old", To: "+33612345000", From: "acme", Policy: "default",
		Content: unify.Content{Text: "x"}, Status: unify.StatusFailed, CreatedAt: t0.Add(-2 * time.Hour), UpdatedAt: t0.Add(-2 * time.Hour)}, nil,
		[]unify.OutboxEvent{{ID: "evt_p", Key: "msg_old", Type: unify.EventStatus, Body: []byte(`{}`), CreatedAt: t0}}, nil)
	c := b.client(t)
	c.signIn()
	res := c.get("/ui/traffic")
	body := res.Body
	// The window is 11:01 to 12:01: msg_0000 (11:00:30) is out, the 119
	// others are in. i%5 gives delivered, read, failed, sent, delivered.
	require.Contains(t, body, `<span class="n">119</span> messages <span class="sub">11:01–12:01 UTC</span>`)
	require.Contains(t, body, `<span class="n">71</span> delivered or read`)
	require.Contains(t, body, `<span class="n">24</span> failed`)
	require.Contains(t, body, `<span class="n">24</span> in flight`)
	require.Contains(t, body, `<span class="n">1</span> events waiting for the back end`)

	// Two messages a minute (11:01:00 is msg_0001, 11:01:30 msg_0002).
	require.Contains(t, body, `<title>11:01 UTC: 1 read</title>`)
	require.Contains(t, body, `<title>11:01 UTC: 1 failed</title>`)
	require.Contains(t, body, `<title>11:05 UTC: 2 delivered</title>`)
	require.Contains(t, body, `<title>12:00 UTC: 1 delivered</title>`, "the current minute is the last bar")
	require.Contains(t, body, `<desc id="chart-status-d">119 messages in the last hour, peak 2 in a minute: 24 read, 47 delivered, 24 sent, 24 failed.</desc>`)
	require.Contains(t, body, `<desc id="chart-channel-d">119 messages in the last hour, peak 2 in a minute: 39 RCS, 40 MMS, 40 SMS.</desc>`)
	require.Contains(t, body, `<li><span class="swatch s-failed"></span>failed <span class="count">24</span></li>`)
	// A rect per minute and series. By status: 11:01 to 11:59 hold two
	// messages each, both delivered in the 11 minutes divisible by five;
	// 12:00 holds one. By channel, neighbours always differ.
	require.Equal(t, (48*2+11+1)+(59*2+1), strings.Count(body, "<rect "))
	// The tallest stack reaches the top of the plot.
	require.Contains(t, body, `<text class="axis" x="44" dx="-6" y="10" dy="4" text-anchor="end">2</text>`)

	empty := setup(t)
	ec := empty.client(t)
	ec.signIn()
	require.Contains(t, ec.get("/ui/traffic").Body, `<desc id="chart-status-d">No messages in the last hour.</desc>`)
}

func TestMessagePage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	m := &unify.Message{ID: "msg_tl", To: "+33612345678", From: "acme", Policy: "default", ClientRef: "order-1001",
		Content: unify.Content{Text: "Your order shipped"}, Status: unify.StatusDelivered, Channel: unify.ChannelSMS, Carrier: "sim-fr",
		CreatedAt: t0, UpdatedAt: t0.Add(40 * time.Second)}
	seedMessage(t, b.store, m,
		[]unify.Attempt{
			{ID: "a-rcs", Step: 0, Channel: unify.ChannelRCS, Carrier: "sim-fr", Status: unify.StatusRevoked, At: t0.Add(time.Second),
				Parts: []unify.Part{{Seq: 0, Ref: unify.ExternalRef{ID: "a-rcs", Raw: "a-rcs"}, Status: unify.StatusSent}}},
			{ID: "a-sms", Step: 1, Channel: unify.ChannelSMS, Carrier: "sim-fr", Status: unify.StatusDelivered, Segments: 2, At: t0.Add(31 * time.Second),
				Parts: []unify.Part{{Seq: 1, Ref: unify.ExternalRef{ID: "1A2B", Raw: "1a2b"}, Status: unify.StatusDelivered}, {Seq: 2, Ref: unify.ExternalRef{ID: "1A2C", Raw: "1a2c"}, Status: unify.StatusDelivered}}},
		},
		[]unify.OutboxEvent{
			{ID: "evt_sent", Key: "msg_tl", Type: unify.EventStatus, Body: []byte(`{"type":"message.status","status":"sent"}`), CreatedAt: t0.Add(32 * time.Second)},
			{ID: "evt_dlvr", Key: "msg_tl", Type: unify.EventStatus, Body: []byte(`{"type":"message.status","status":"delivered"}`), CreatedAt: t0.Add(40 * time.Second)},
		},
		[]sqlstore.InboundRecord{{ID: "in_1", MessageID: "msg_tl", Sender: "acme", Inbound: unify.Inbound{Channel: unify.ChannelSMS, Carrier: "sim-fr",
			From: "+33612345678", To: "ACME", Text: "1", Postback: "track", At: t0.Add(time.Minute)}}},
	)
	require.NoError(t, b.store.EventDelivered(t.Context(), "evt_sent", t0.Add(33*time.Second)))
	evs, err := b.store.MessageEvents(t.Context(), "msg_tl")
	require.NoError(t, err)
	require.Len(t, evs, 2)
	require.Equal(t, "evt_dlvr", evs[1].ID)
	require.NoError(t, b.store.EventFailed(t.Context(), evs[1].Seq, "POST http://127.0.0.1:9000/events: 503", t0.Add(time.Hour)))

	c := b.client(t)
	c.signIn()
	res := c.get("/ui/traffic/msg_tl")
	require.Equal(t, http.StatusOK, res.StatusCode)
	body := html.UnescapeString(res.Body)
	order := []string{
		"<strong>Accepted</strong> for +33612345678 from acme, policy default.",
		`<strong>Step 1: RCS</strong> via sim-fr · <span class="badge st-revoked">revoked</span>`,
		`<strong>Step 2: SMS</strong> via sim-fr · <span class="badge st-delivered">delivered</span> · 2 segments`,
		`<td>2</td><td><code>1A2C</code></td><td><span class="badge st-delivered">delivered</span></td>`,
		`<strong>Event message.status</strong> · sent · <span class="ok">delivered to the back end at 2026-11-25 12:00:33</span>`,
		`<strong>Event message.status</strong> · delivered · <span class="pending">not delivered yet: 1 tries, last error: POST http://127.0.0.1:9000/events: 503</span>`,
		`<strong>Reply</strong> from +33612345678 by SMS via sim-fr: “1” · postback <code>track</code>`,
	}
	last := -1
	for _, s := range order {
		i := strings.Index(body, s)
		require.Greater(t, i, last, "%q in timeline order", s)
		last = i
	}
	require.Contains(t, body, "<dt>Client ref</dt><dd>order-1001</dd>")
	require.Contains(t, body, "<summary>text: Your order shipped</summary>")

	res = c.get("/ui/traffic/msg_nope")
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	require.Contains(t, html.UnescapeString(res.Body), `Not found: no message "msg_nope"`)
}

func TestCarriersPage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.client(t)
	c.signIn()
	body := c.get("/ui/carriers").Body
	for _, s := range []string{
		`<h2 id="c-sim-fr">sim-fr</h2>`,
		`SMS throughput: <strong>42</strong> of 100 messages/s`,
		`<meter min="0" max="100" value="42"`,
		`<td data-label="State"><span class="badge st-delivered">up</span></td>`,
		`<td data-label="Window">3 / 10</td>`,
		`<td data-label="State"><span class="badge st-failed">down</span></td>`,
		`bind refused: ESME_RBINDFAIL`,
		`<dt>RBM (RCS)</dt><dd><span class="badge st-delivered">reachable</span> · checked 2026-11-25 11:59:50</dd>`,
		`<dt>MM7 (MMS)</dt><dd><span class="badge st-failed">unreachable</span> <span class="error-text">connection refused</span>`,
	} {
		require.Contains(t, body, s)
	}

	none := setup(t, withConfig(func(cfg *ui.Config) {
		cfg.Carriers = func() []ui.CarrierStatus { return []ui.CarrierStatus{{Name: "rbm-only", RBM: &ui.Reachability{}}} }
	}))
	nc := none.client(t)
	nc.signIn()
	body = nc.get("/ui/carriers").Body
	require.Contains(t, body, "No SMPP binds: this carrier carries no SMS.")
	require.Contains(t, body, "<dt>RBM (RCS)</dt><dd>not configured</dd>")
}

func TestHandset(t *testing.T) {
	t.Parallel()
	var seen []string
	handset := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		seen = append(seen, r.Method+" "+r.URL.Path+" "+string(body))
		fmt.Fprint(w, "handset "+r.URL.Path)
	})
	b := setup(t, withConfig(func(cfg *ui.Config) { cfg.Handset, cfg.HandsetPath = handset, "/phone/" }))
	c := b.client(t)
	c.signIn()

	page := c.get("/ui/sim")
	require.Equal(t, http.StatusOK, page.StatusCode)
	require.Contains(t, page.Body, `<iframe class="handset" src="/sim/phone/" title="Simulated handset"></iframe>`)
	require.Contains(t, page.Body, `<a href="/ui/sim" aria-current="page">Handset</a>`)

	res := c.get("/sim/phone/?n=%2B33612345678")
	require.Equal(t, "handset /phone/", res.Body, "the prefix is stripped")
	require.Equal(t, http.StatusSeeOther, c.get("/sim").StatusCode)

	// The handset's own script posts without our token, from our origin.
	c.headers.Set("Origin", b.srv.URL)
	c.headers.Set("Sec-Fetch-Site", "same-origin")
	require.Equal(t, http.StatusOK, c.post("/sim/reply", url.Values{"text": {"1"}}).StatusCode)
	for _, tc := range []struct{ origin, site string }{
		{"https://evil.example", ""},
		{"", "cross-site"},
		{"https://evil.example", "same-site"},
	} {
		c.headers.Del("Origin")
		c.headers.Del("Sec-Fetch-Site")
		if tc.origin != "" {
			c.headers.Set("Origin", tc.origin)
		}
		if tc.site != "" {
			c.headers.Set("Sec-Fetch-Site", tc.site)
		}
		require.Equal(t, http.StatusForbidden, c.post("/sim/reply", url.Values{"text": {"2"}}).StatusCode, "%+v", tc)
	}
	require.Equal(t, []string{"GET /phone/ ", "POST /reply text=1"}, seen)

	// Without a simulator there is no handset.
	none := setup(t)
	nc := none.client(t)
	nc.signIn()
	res = nc.get("/ui/sim")
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	require.NotContains(t, res.Body, ">Handset</a>")
	require.Equal(t, http.StatusNotFound, nc.get("/sim/").StatusCode)
}

func TestStaticAssets(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.client(t)
	page := c.get("/ui/signin")
	v := regexp.MustCompile(`/ui/static/app\.css\?v=(\w+)`).FindStringSubmatch(page.Body)
	require.NotNil(t, v)
	for _, tc := range []struct {
		path, ctype, cache string
	}{
		{"/ui/static/app.css?v=" + v[1], "text/css; charset=utf-8", "public, max-age=31536000, immutable"},
		{"/ui/static/app.js", "text/javascript; charset=utf-8", "no-cache"},
		{"/ui/static/icon.svg", "image/svg+xml", "no-cache"},
	} {
		res := c.get(tc.path)
		require.Equal(t, http.StatusOK, res.StatusCode, tc.path)
		require.Equal(t, tc.ctype, res.Header.Get("Content-Type"), tc.path)
		require.Equal(t, tc.cache, res.Header.Get("Cache-Control"), tc.path)
	}
	for _, path := range []string{"/ui/static/nope.css", "/ui/static/../ui.go", "/ui/static/%2e%2e/ui.go"} {
		require.Equal(t, http.StatusNotFound, c.get(path).StatusCode, path)
	}
}
