package ui_test

import (
	"bytes"
	"context"
	"fmt"
	stdpng "image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"gateway/carriers/sim"
	"gateway/internal/testenv"
	"gateway/unify"
	"gateway/unify/sqlstore"
	"gateway/web/ui"
)

// The browser tests drive Debian's Chromium headless through chromedp. In CI
// (CI=true) a missing browser fails them: they must never be skipped there.

// chromiumPath finds the browser: $CHROMIUM, then the usual names.
func chromiumPath() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browser starts a headless Chromium for the test and returns its tab's
// context, or skips (fails in CI) when there is none.
func browser(t *testing.T, width, height int) context.Context {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		testenv.Missing(t, "chromium not found: install it (apt-get install -y chromium) or set CHROMIUM to run the browser tests")
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.WindowSize(width, height),
	)
	t.Cleanup(cancel)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(cancelTab)
	// The first Run starts the browser and must not carry a timeout.
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(int64(width), int64(height))), "start chromium at %s", path)
	return ctx
}

// screenshotOnFailure saves what the tab shows when t fails, in a directory
// that outlives the test, and logs where.
func screenshotOnFailure(t *testing.T, tab context.Context) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		ctx, cancel := context.WithTimeout(tab, 10*time.Second)
		defer cancel()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Logf("no screenshot: %v", err)
			return
		}
		dir, err := os.MkdirTemp("", "ui-browser-")
		if err != nil {
			t.Logf("no screenshot: %v", err)
			return
		}
		path := filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())+".png")
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Logf("no screenshot: %v", err)
			return
		}
		t.Logf("screenshot of the failed page: %s", path)
	})
}

// step runs actions with a deadline, so a missing element fails the test
// instead of hanging it.
func step(t *testing.T, tab context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 15*time.Second)
	defer cancel()
	require.NoError(t, chromedp.Do(ctx, actions...), what)
}

func get[T any](t *testing.T, tab context.Context, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 15*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	require.NoError(t, err)
	return v
}

// clear empties an input the way a person selecting its text and deleting
// it would, without firing events.
func clear(id string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](`document.getElementById(` + strconv.Quote(id) + `).value = ''`)
}

func location(t *testing.T, tab context.Context) string {
	t.Helper()
	return get(t, tab, chromedp.Evaluate[string](`location.pathname + location.search`))
}

// seedTimeline stores a message that went RCS → SMS with receipts, events
// and a reply, as the core leaves one.
func seedTimeline(tb testing.TB, st *sqlstore.Store, id unify.MessageID, to string, at time.Time) {
	tb.Helper()
	m := &unify.Message{ID: id, To: to, From: "acme", Policy: "default", ClientRef: "order-1001",
		Content: unify.Content{Text: "Your order 1001 has shipped. Reply 1 to track it."}, Status: unify.StatusDelivered,
		Channel: unify.ChannelSMS, Carrier: "sim-fr", CreatedAt: at, UpdatedAt: at.Add(35 * time.Second)}
	seedMessage(tb, st, m,
		[]unify.Attempt{
			{ID: unify.AttemptID(string(id) + "-rcs"), Step: 0, Channel: unify.ChannelRCS, Carrier: "sim-fr", Status: unify.StatusRevoked, At: at.Add(time.Second),
				Parts: []unify.Part{{Seq: 0, Ref: unify.ExternalRef{ID: string(id) + "-rcs", Raw: string(id) + "-rcs"}, Status: unify.StatusSent}}},
			{ID: unify.AttemptID(string(id) + "-sms"), Step: 1, Channel: unify.ChannelSMS, Carrier: "sim-fr", Status: unify.StatusDelivered, Segments: 1, At: at.Add(31 * time.Second),
				Parts: []unify.Part{{Seq: 1, Ref: unify.ExternalRef{ID: "5F3A", Raw: "5f3a"}, Status: unify.StatusDelivered}}},
		},
		[]unify.OutboxEvent{
			{ID: "evt_" + string(id) + "_1", Key: string(id), Type: unify.EventStatus, Body: []byte(`{"type":"message.status","status":"switching","channel":"rcs"}`), CreatedAt: at.Add(30 * time.Second)},
			{ID: "evt_" + string(id) + "_2", Key: string(id), Type: unify.EventStatus, Body: []byte(`{"type":"message.status","status":"delivered","channel":"sms"}`), CreatedAt: at.Add(35 * time.Second)},
		},
		[]sqlstore.InboundRecord{{ID: "in_" + string(id), MessageID: id, Sender: "acme", Inbound: unify.Inbound{Channel: unify.ChannelSMS, Carrier: "sim-fr",
			From: to, To: "ACME", Text: "1", Postback: "track", At: at.Add(2 * time.Minute)}}},
	)
	require.NoError(tb, st.EventDelivered(context.Background(), "evt_"+string(id)+"_1", at.Add(30*time.Second)))
}

// TestBrowser walks an operator through the UI in a real browser: sign in,
// create a policy RCS 30s → SMS, get a validation error for a bad timeout,
// watch the preview follow the form, find a message in the traffic and read
// its timeline, sign out and be refused.
func TestBrowser(t *testing.T) {
	b := setup(t)
	seedTimeline(t, b.store, "msg_browser01", "+33612340001", t0.Add(-10*time.Minute))
	seedHour(t, b.store, 30)
	tab := browser(t, 1280, 900)
	screenshotOnFailure(t, tab)
	url := b.srv.URL

	t.Run("sign in", func(t *testing.T) {
		screenshotOnFailure(t, tab)
		step(t, tab, "open the traffic page", chromedp.Navigate(url+"/ui/traffic"), chromedp.WaitVisible(chromedp.ID("password")))
		require.Equal(t, "/ui/signin?next=%2Fui%2Ftraffic", location(t, tab), "sent to sign-in first")
		step(t, tab, "a wrong password",
			chromedp.SendKeys(chromedp.ID("password"), "guess\r"),
			chromedp.WaitVisible(chromedp.ID("signin-error")))
		require.Equal(t, "Wrong password.", get(t, tab, chromedp.Text(chromedp.ID("signin-error"))))
		step(t, tab, "the right one, with Enter",
			chromedp.SendKeys(chromedp.ID("password"), password+"\r"),
			chromedp.WaitVisible(chromedp.CSS(".counters")))
		require.Equal(t, "/ui/traffic", location(t, tab))
	})

	t.Run("create a policy RCS 30s then SMS", func(t *testing.T) {
		screenshotOnFailure(t, tab)
		step(t, tab, "open the editor",
			chromedp.Navigate(url+"/ui/policies"),
			chromedp.Click(chromedp.CSS(`a[href="/ui/policies/new"]`)),
			chromedp.WaitVisible(chromedp.ID("f-name")))
		step(t, tab, "name it, set the RCS timeout, add a step",
			chromedp.SendKeys(chromedp.ID("f-name"), "promo"),
			chromedp.SetValue(chromedp.ID("f-steps-0-channel"), "rcs"),
			clear("f-steps-0-timeout"),
			chromedp.SendKeys(chromedp.ID("f-steps-0-timeout"), "30s"),
			chromedp.Click(chromedp.ID("add-step")),
			chromedp.WaitVisible(chromedp.ID("f-steps-1-channel")))
		// The page came back with the added step focused, the rest as typed.
		require.Equal(t, "f-steps-1-channel", get(t, tab, chromedp.Evaluate[string](`document.activeElement.id`)))
		require.Equal(t, "promo", get(t, tab, chromedp.Value(chromedp.ID("f-name"))))
		require.Equal(t, "30s", get(t, tab, chromedp.Value(chromedp.ID("f-steps-0-timeout"))))
		step(t, tab, "make the second step SMS and create",
			chromedp.SetValue(chromedp.ID("f-steps-1-channel"), "sms"),
			chromedp.Click(chromedp.CSS(`button.primary[value="save"]`)),
			chromedp.WaitVisible(chromedp.CSS(".flash")))
		require.Equal(t, "Policy promo created.", get(t, tab, chromedp.Text(chromedp.CSS(".flash"))))
		require.Contains(t, get(t, tab, chromedp.Text(chromedp.CSS("table.list"))), "RCS 30s → SMS")
		p, ok := b.policies.get("promo")
		require.True(t, ok)
		require.Equal(t, []unify.Step{{Channel: unify.ChannelRCS, Timeout: 30 * time.Second}, {Channel: unify.ChannelSMS}}, p.Steps)
	})

	t.Run("a bad timeout is shown next to its field", func(t *testing.T) {
		screenshotOnFailure(t, tab)
		step(t, tab, "edit promo with a bad timeout",
			chromedp.Navigate(url+"/ui/policies/edit/promo"),
			chromedp.WaitVisible(chromedp.ID("f-steps-0-timeout")),
			clear("f-steps-0-timeout"),
			chromedp.SendKeys(chromedp.ID("f-steps-0-timeout"), "soon"),
			chromedp.Click(chromedp.CSS(`button.primary[value="save"]`)),
			chromedp.WaitVisible(chromedp.ID("f-steps-0-timeout-err")))
		require.Equal(t, "must be a duration such as 30s, 10m or 1h30m", get(t, tab, chromedp.Text(chromedp.ID("f-steps-0-timeout-err"))))
		require.Equal(t, "true", get(t, tab, chromedp.AttributeValue(chromedp.ID("f-steps-0-timeout"), "aria-invalid")).Value)
		require.Contains(t, get(t, tab, chromedp.Text(chromedp.ID("error-summary"))), "Nothing was saved")
		require.Equal(t, "soon", get(t, tab, chromedp.Value(chromedp.ID("f-steps-0-timeout"))), "kept as typed")
		p, _ := b.policies.get("promo")
		require.Equal(t, 30*time.Second, p.Steps[0].Timeout, "nothing saved")
	})

	t.Run("the preview follows the form", func(t *testing.T) {
		screenshotOnFailure(t, tab)
		step(t, tab, "open a new policy",
			chromedp.Navigate(url+"/ui/policies/new"),
			chromedp.WaitVisible(chromedp.CSS("#preview .card-title")))
		require.Equal(t, "Order 1001 has shipped", get(t, tab, chromedp.Text(chromedp.CSS("#preview .card-title"))))
		require.Equal(t, 1, get(t, tab, chromedp.Evaluate[int](`document.querySelectorAll('#preview .phone-step').length`)))

		// Typing a timeout updates the step's heading.
		step(t, tab, "type a timeout",
			clear("f-steps-0-timeout"),
			chromedp.SendKeys(chromedp.ID("f-steps-0-timeout"), "45s"),
			chromedp.Poll[chromedp.Void](`document.querySelector('#preview h3').textContent === 'Step 1 · RCS · 45s timeout'`, chromedp.WithPollingTimeout(10*time.Second)))

		// Editing the sample re-renders every step.
		sample := `{"card": {"title": "Order 2002 is late", "description": "Sorry: it leaves tomorrow.",
			"suggestions": [{"type": "reply", "text": "Cancel it"}]}}`
		step(t, tab, "edit the sample message",
			chromedp.SetValue(chromedp.ID("f-sample-content"), sample),
			chromedp.Evaluate[chromedp.Void](`document.getElementById('f-sample-content').dispatchEvent(new Event('input', {bubbles: true}))`),
			chromedp.Poll[chromedp.Void](`document.querySelector('#preview .card-title')?.textContent === 'Order 2002 is late'`, chromedp.WithPollingTimeout(10*time.Second)))
		require.Equal(t, "Cancel it", get(t, tab, chromedp.Text(chromedp.CSS("#preview .card-action"))))

		// A step added with the keyboard shows as its own phone; without
		// media the MMS step says it is skipped.
		step(t, tab, "add a step with the keyboard",
			chromedp.Focus(chromedp.ID("add-step")),
			chromedp.KeyEvent("\r"),
			chromedp.WaitVisible(chromedp.ID("f-steps-1-channel")),
			chromedp.WaitVisible(chromedp.CSS(`#preview [data-channel="mms"] .skipped`)))
		require.Equal(t, "Skipped: the content has no media", get(t, tab, chromedp.Text(chromedp.CSS(`#preview [data-channel="mms"] .skipped`))))
		step(t, tab, "switch it to SMS",
			chromedp.SetValue(chromedp.ID("f-steps-1-channel"), "sms"),
			chromedp.Evaluate[chromedp.Void](`document.getElementById('f-steps-1-channel').dispatchEvent(new Event('change', {bubbles: true}))`),
			chromedp.WaitVisible(chromedp.CSS(`#preview [data-channel="sms"] .bubble.sms`)))
		require.Equal(t, "GSM-7 · 1 segment · 67 septets", get(t, tab, chromedp.Text(chromedp.CSS(`#preview [data-channel="sms"] .meta`))))
		require.Contains(t, get(t, tab, chromedp.Text(chromedp.CSS(`#preview .bubble.sms`))), "Reply 1 for Cancel it")

		// Broken JSON is explained, not fatal.
		step(t, tab, "break the sample",
			chromedp.SetValue(chromedp.ID("f-sample-content"), `{"card": `),
			chromedp.Evaluate[chromedp.Void](`document.getElementById('f-sample-content').dispatchEvent(new Event('input', {bubbles: true}))`),
			chromedp.WaitVisible(chromedp.CSS(`#preview .problem`)))
		require.Contains(t, get(t, tab, chromedp.Text(chromedp.CSS("#preview .problem"))), "is not valid JSON")
	})

	t.Run("a message in the traffic and its timeline", func(t *testing.T) {
		screenshotOnFailure(t, tab)
		step(t, tab, "filter the traffic by number",
			chromedp.Navigate(url+"/ui/traffic"),
			chromedp.WaitVisible(chromedp.ID("f-number")),
			chromedp.SendKeys(chromedp.ID("f-number"), "+33 6 12 34 00 01"),
			chromedp.Submit(chromedp.ID("f-number")),
			chromedp.WaitVisible(chromedp.CSS(`a[href="/ui/traffic/msg_browser01"]`)))
		// The link is on the unfiltered page too: wait for the filtered one
		// to replace it rather than reading the old page mid-navigation.
		require.Eventually(t, func() bool {
			return get(t, tab, chromedp.Evaluate[int](`location.search.includes('number=') ? document.querySelectorAll('table.traffic tbody tr').length : -1`)) == 1
		}, 10*time.Second, 50*time.Millisecond)
		require.Equal(t, "+33612340001", get(t, tab, chromedp.Value(chromedp.ID("f-number"))))
		step(t, tab, "open the message",
			chromedp.Click(chromedp.CSS(`a[href="/ui/traffic/msg_browser01"]`)),
			chromedp.WaitVisible(chromedp.CSS(".timeline")))
		items := get(t, tab, chromedp.Evaluate[[]string](`[...document.querySelectorAll('.timeline > li > p')].map(p => p.textContent.replace(/\s+/g, ' ').trim())`))
		require.Len(t, items, 6)
		require.True(t, strings.HasPrefix(items[0], "Accepted for +33612340001"), items[0])
		require.True(t, strings.HasPrefix(items[1], "Step 1: RCS via sim-fr · revoked"), items[1])
		require.True(t, strings.HasPrefix(items[2], "Event message.status · switching · delivered to the back end"), items[2])
		require.True(t, strings.HasPrefix(items[3], "Step 2: SMS via sim-fr · delivered · 1 segment"), items[3])
		require.True(t, strings.HasPrefix(items[4], "Event message.status · delivered · waiting to be delivered to the back end"), items[4])
		require.Equal(t, "Reply from +33612340001 by SMS via sim-fr: “1” · postback track", items[5])
	})

	t.Run("sign out and be refused", func(t *testing.T) {
		screenshotOnFailure(t, tab)
		step(t, tab, "sign out",
			chromedp.Click(chromedp.CSS(`form.signout button`)),
			chromedp.WaitVisible(chromedp.ID("password")))
		require.Equal(t, "You are signed out.", get(t, tab, chromedp.Text(chromedp.CSS(".flash"))))
		step(t, tab, "go back to the policies", chromedp.Navigate(url+"/ui/policies"), chromedp.WaitVisible(chromedp.ID("password")))
		require.Equal(t, "/ui/signin?next=%2Fui%2Fpolicies", location(t, tab))
		status := get(t, tab, chromedp.Evaluate[int](`fetch('/ui/preview', {method: 'POST', headers: {'X-Requested-With': 'fetch'}}).then(r => r.status)`, chromedp.EvalAwaitPromise))
		require.Equal(t, 401, status)
	})
}

// TestBrowserPhone checks that the pages fit a phone's screen: nothing
// wider than the viewport, so nobody has to scroll sideways.
func TestBrowserPhone(t *testing.T) {
	b := setup(t)
	seedTimeline(t, b.store, "msg_phone01", "+33612340002", t0.Add(-5*time.Minute))
	seedHour(t, b.store, 60)
	tab := browser(t, 390, 844)
	screenshotOnFailure(t, tab)
	step(t, tab, "sign in",
		chromedp.Navigate(b.srv.URL+"/ui/signin"),
		chromedp.SendKeys(chromedp.ID("password"), password+"\r"),
		chromedp.WaitVisible(chromedp.CSS(".counters")))
	for _, path := range []string{"/ui/traffic", "/ui/traffic/msg_phone01", "/ui/policies", "/ui/policies/new", "/ui/policies/edit/default", "/ui/carriers"} {
		step(t, tab, path, chromedp.Navigate(b.srv.URL+path), chromedp.WaitVisible(chromedp.CSS("h1")))
		width := get(t, tab, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		require.LessOrEqual(t, width, 390, "%s is %dpx wide on a 390px screen", path, width)
	}
}

// TestScreenshots takes the README's screenshots, into a temporary
// directory unless UI_SCREENSHOTS names one: go test ./web/ui -run
// TestScreenshots with UI_SCREENSHOTS=$PWD/docs/screenshots refreshes them.
func TestScreenshots(t *testing.T) {
	dir := os.Getenv("UI_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	b := setup(t)
	seedTimeline(t, b.store, "msg_5c1e0f3a9b2d", "+33612345678", t0.Add(-3*time.Minute))
	seedBusyHour(t, b.store)
	tab := browser(t, 1440, 1000)
	step(t, tab, "sign in",
		chromedp.Navigate(b.srv.URL+"/ui/signin"),
		chromedp.SendKeys(chromedp.ID("password"), password+"\r"),
		chromedp.WaitVisible(chromedp.CSS(".counters")))
	for _, shot := range []struct {
		path, wait, file string
	}{
		{"/ui/policies/edit/default", "#preview .card-title", "policy-editor.png"},
		{"/ui/traffic", "table.traffic", "traffic.png"},
	} {
		step(t, tab, shot.path, chromedp.Navigate(b.srv.URL+shot.path), chromedp.WaitVisible(chromedp.CSS(shot.wait)))
		png := get(t, tab, chromedp.CaptureScreenshot())
		cfg, err := stdpng.DecodeConfig(bytes.NewReader(png))
		require.NoError(t, err, "%s is not a PNG", shot.file)
		require.Equal(t, 1440, cfg.Width, "%s width", shot.file)
		require.NoError(t, os.WriteFile(filepath.Join(dir, shot.file), png, 0o644))
		t.Logf("wrote %s", filepath.Join(dir, shot.file))
	}
}

// seedBusyHour fills the last hour with traffic that looks like a day at
// work: a few messages a minute, mostly delivered, some switching to SMS,
// a few failures.
func seedBusyHour(tb testing.TB, st *sqlstore.Store) {
	tb.Helper()
	numbers := []string{"+33612345678", "+33698765432", "+33655501234", "+33644412345", "+33677788899"}
	senders := []string{"acme", "globex"}
	for i := range 240 {
		at := t0.Add(-time.Hour).Add(time.Duration(i) * 15 * time.Second).Add(time.Duration(i%7) * time.Second)
		ch, st0 := unify.ChannelRCS, unify.StatusRead
		switch {
		case i%11 == 0:
			ch, st0 = unify.ChannelSMS, unify.StatusFailed
		case i%5 == 0:
			ch, st0 = unify.ChannelSMS, unify.StatusDelivered
		case i%7 == 0:
			ch, st0 = unify.ChannelMMS, unify.StatusDelivered
		case i%3 == 0:
			st0 = unify.StatusDelivered
		}
		if at.After(t0.Add(-2 * time.Minute)) {
			st0 = []unify.Status{unify.StatusSent, unify.StatusSending, unify.StatusSwitching}[i%3]
		}
		m := &unify.Message{ID: unify.MessageID(fmt.Sprintf("msg_%012x", 0x5c1e00000000+i*7919)), To: numbers[i%len(numbers)],
			From: senders[i%3%2], Policy: "default", Content: unify.Content{Text: "Your order has shipped"},
			Status: st0, Channel: ch, Carrier: "sim-fr", CreatedAt: at, UpdatedAt: at}
		if st0 == unify.StatusFailed {
			m.Error = "UNDELIV 013"
		}
		seedMessage(tb, st, m, nil, nil, nil)
	}
}

// TestBrowserHandset shows the simulated carrier's real handset page under
// /sim, framed at /ui/sim: its script reaches the simulator's JSON through
// the UI's proxy, and its posts pass the same-origin check.
func TestBrowserHandset(t *testing.T) {
	s := sim.New(sim.Config{})
	t.Cleanup(func() { _ = s.Close() })
	b := setup(t, withConfig(func(cfg *ui.Config) { cfg.Handset, cfg.HandsetPath = s.Handler(), "/handset" }))
	tab := browser(t, 1280, 900)
	screenshotOnFailure(t, tab)
	frame := func(js string) string {
		return `document.querySelector('iframe.handset').contentDocument.` + js
	}
	step(t, tab, "sign in and open the handset",
		chromedp.Navigate(b.srv.URL+"/ui/sim"),
		chromedp.SendKeys(chromedp.ID("password"), password+"\r"),
		chromedp.WaitVisible(chromedp.CSS("iframe.handset")),
		chromedp.Poll[chromedp.Void](frame(`querySelector('h1')?.textContent === 'Simulated handset'`), chromedp.WithPollingTimeout(10*time.Second)))
	require.Equal(t, "/ui/sim", location(t, tab))
	// Pick a number that received nothing and answer: the simulator's own
	// refusal comes back, so the post went through.
	step(t, tab, "reply from an empty handset",
		chromedp.Evaluate[chromedp.Void](frame(`getElementById('number').value = '+33612349999'`)),
		chromedp.Evaluate[chromedp.Void](frame(`getElementById('pick').requestSubmit()`)),
		chromedp.Evaluate[chromedp.Void](frame(`getElementById('text').value = 'hello'`)),
		chromedp.Evaluate[chromedp.Void](frame(`getElementById('reply').requestSubmit()`)),
		chromedp.Poll[chromedp.Void](frame(`getElementById('status').textContent.includes('received nothing to reply to')`), chromedp.WithPollingTimeout(10*time.Second)))
}
