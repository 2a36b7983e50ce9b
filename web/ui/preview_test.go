package ui_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"gateway/unify"
	"gateway/web/ui"
)

// scriptedPreviewer answers every preview with the same renderings.
type scriptedPreviewer struct {
	rs  []unify.Rendering
	err error
}

func (s scriptedPreviewer) Preview(context.Context, *unify.Message, unify.Policy) ([]unify.Rendering, error) {
	return s.rs, s.err
}

func previewForm(token, content string, steps ...string) url.Values {
	v := url.Values{"csrf": {token}, "name": {"promo"}, "sample.to": {"+33612345678"}, "sample.from": {"acme"},
		"sample.content": {content}, "sms.number_replies": {"on"}}
	for i, s := range steps {
		ch, timeout, _ := strings.Cut(s, " ")
		v.Set(fieldPath(i, "channel"), ch)
		v.Set(fieldPath(i, "timeout"), timeout)
	}
	return v
}

const cardSample = `{"card": {"title": "Order 1001 has shipped", "description": "2 items, arriving Tuesday.",
  "media": {"url": "https://cdn.example/box.jpg", "mime_type": "image/jpeg"},
  "suggestions": [{"type": "reply", "text": "Track", "postback": "track"},
                  {"type": "open_url", "text": "Website", "url": "https://example.com"}]},
 "suggestions": [{"type": "dial", "text": "Call us", "phone": "+33100000000"}]}`

// TestPreviewFragments renders samples through the fake channels and
// compares the HTML fragments with golden files.
func TestPreviewFragments(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.client(t)
	token := c.signIn()
	for _, tc := range []struct {
		name    string
		content string
		steps   []string
	}{
		{"card", cardSample, []string{"rcs 30s", "mms 10m", "sms"}},
		{"text", `{"text": "Votre code est 123456 – valable 5 minutes", "suggestions": [{"type": "reply", "text": "Merci"}]}`, []string{"rcs 1m", "mms", "sms"}},
		{"carousel", `{"carousel": {"cards": [{"title": "Small", "media": {"url": "https://cdn.example/s.jpg", "mime_type": "image/jpeg"}},
			{"title": "Large", "suggestions": [{"type": "reply", "text": "Pick large"}]}]}}`, []string{"rcs"}},
		{"long sms", `{"text": "` + strings.Repeat("All work and no play. ", 10) + `"}`, []string{"sms"}},
	} {
		res := c.post("/ui/preview", previewForm(token, tc.content, tc.steps...))
		require.Equal(t, http.StatusOK, res.StatusCode, tc.name)
		require.Equal(t, "text/html; charset=UTF-8", res.Header.Get("Content-Type"))
		golden(t, "preview_"+strings.ReplaceAll(tc.name, " ", "_")+".html", res.Body)
	}
}

// TestPreviewRBM checks that the RBM AgentMessage JSON of shared/specs/rbm.md
// §4 is shown as the phone would: text, media, cards, carousels and each
// kind of chip.
func TestPreviewRBM(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		rbm  string
		want []string
	}{
		{
			name: "text with every chip",
			rbm: `{"contentMessage": {"text": "Hello", "suggestions": [
				{"reply": {"text": "Yes", "postbackData": "y"}},
				{"action": {"text": "Call us", "postbackData": "c", "dialAction": {"phoneNumber": "+15556667777"}}},
				{"action": {"text": "Directions", "postbackData": "m", "viewLocationAction": {"latLong": {"latitude": 37.4, "longitude": -122}, "label": "HQ"}}},
				{"action": {"text": "Save date", "postbackData": "d", "createCalendarEventAction": {"startTime": "2024-06-01T09:00:00Z", "endTime": "2024-06-01T10:00:00Z", "title": "A"}}},
				{"action": {"text": "Open site", "postbackData": "w", "openUrlAction": {"url": "https://example.com"}}},
				{"action": {"text": "Share location", "postbackData": "l", "shareLocationAction": {}}}]}}`,
			want: []string{`<div class="bubble">Hello</div>`, `<span class="chip chip-reply">Yes</span>`, `<span class="chip chip-dial">Call us</span>`,
				`<span class="chip chip-map">Directions</span>`, `<span class="chip chip-calendar">Save date</span>`,
				`<span class="chip chip-link">Open site</span>`, `<span class="chip chip-share">Share location</span>`},
		},
		{
			name: "media by url",
			rbm:  `{"contentMessage": {"contentInfo": {"fileUrl": "https://cdn.example/v.mp4", "thumbnailUrl": "https://cdn.example/t.jpg"}}}`,
			want: []string{`<img class="media" src="https://cdn.example/t.jpg" alt="The message's media">`},
		},
		{
			name: "standalone card",
			rbm: `{"contentMessage": {"richCard": {"standaloneCard": {"cardOrientation": "VERTICAL", "cardContent": {
				"title": "Order #123 shipped", "description": "Arrives Tuesday",
				"media": {"height": "MEDIUM", "contentInfo": {"fileUrl": "https://cdn.example/p.jpg"}},
				"suggestions": [{"reply": {"text": "Track", "postbackData": "track_123"}}]}}}}}`,
			want: []string{`<img src="https://cdn.example/p.jpg" alt="">`, `<p class="card-title">Order #123 shipped</p>`,
				`<p class="card-desc">Arrives Tuesday</p>`, `<span class="card-action chip-reply">Track</span>`},
		},
		{
			name: "carousel",
			rbm: `{"contentMessage": {"richCard": {"carouselCard": {"cardWidth": "MEDIUM", "cardContents": [
				{"title": "A"}, {"title": "B", "suggestions": [{"reply": {"text": "Pick B"}}]}]}}}}`,
			want: []string{`<div class="carousel">`, `<p class="card-title">A</p>`, `<p class="card-title">B</p>`, `chip-reply">Pick B</span>`},
		},
		{
			name: "content message alone",
			rbm:  `{"text": "Bare"}`,
			want: []string{`<div class="bubble">Bare</div>`},
		},
		{
			name: "markup is text",
			rbm:  `{"contentMessage": {"text": "<script>alert(1)</script>", "contentInfo": {"fileUrl": "javascript:alert(1)"}}}`,
			want: []string{`&lt;script&gt;alert(1)&lt;/script&gt;`, `src="#ZgotmplZ"`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, withConfig(func(cfg *ui.Config) {
				cfg.Previewer = scriptedPreviewer{rs: []unify.Rendering{{Channel: unify.ChannelRCS, RBM: json.RawMessage(tc.rbm), Protection: unify.Protection{Transport: "tls"}}}}
			}))
			c := b.client(t)
			res := c.post("/ui/preview", previewForm(c.signIn(), `{"text": "x"}`, "rcs 30s"))
			require.Equal(t, http.StatusOK, res.StatusCode)
			for _, w := range tc.want {
				require.Contains(t, res.Body, w)
			}
			require.Contains(t, res.Body, "not end-to-end encrypted; TLS to the carrier")
			require.Contains(t, res.Body, "<summary>RBM JSON</summary>")
			require.NotContains(t, res.Body, "<script>")
		})
	}
}

func TestPreviewProblems(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		previewer ui.Previewer
		to        string
		content   string
		steps     []string
		want      string
	}{
		{name: "not json", content: `{"text": `, steps: []string{"sms"}, want: "<code>content</code>: is not valid JSON for a message&#39;s content: unexpected EOF"},
		{name: "unknown field", content: `{"txt": "hi"}`, steps: []string{"sms"}, want: `json: unknown field &#34;txt&#34;`},
		{name: "invalid content", content: `{"card": {}}`, steps: []string{"sms"}, want: "<code>content.card</code>: must have a title, a description or media"},
		{name: "bad number", to: "0612", content: `{"text": "hi"}`, steps: []string{"sms"}, want: "<code>to</code>: must be an E.164 number"},
		{name: "no valid step", content: `{"text": "hi"}`, steps: []string{"fax"}, want: "add a step to see the preview"},
		{name: "refused by the core", content: `{"text": "hi"}`, steps: []string{"sms"},
			previewer: scriptedPreviewer{err: unify.Invalid(unify.FieldError{Field: "from", Message: "no sender \"acme\""})},
			want:      "<code>from</code>: no sender &#34;acme&#34;"},
		{name: "core failure", content: `{"text": "hi"}`, steps: []string{"sms"},
			previewer: scriptedPreviewer{err: errors.New("disk on fire")},
			want:      "the preview failed; the cause is in the gateway&#39;s log"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, withConfig(func(cfg *ui.Config) {
				if tc.previewer != nil {
					cfg.Previewer = tc.previewer
				}
			}))
			c := b.client(t)
			form := previewForm(c.signIn(), tc.content, tc.steps...)
			if tc.to != "" {
				form.Set("sample.to", tc.to)
			}
			res := c.post("/ui/preview", form)
			require.Equal(t, http.StatusOK, res.StatusCode)
			require.Contains(t, res.Body, "The sample message cannot be previewed")
			require.Contains(t, res.Body, tc.want)
			require.NotContains(t, res.Body, "disk on fire", "internal causes stay in the log")
		})
	}
}

// TestEditorShowsPreview checks that the editor renders the preview with the
// page, so it works without JavaScript, and that the default sample's image
// is served by the UI itself.
func TestEditorShowsPreview(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.client(t)
	c.signIn()
	page := c.get("/ui/policies/new")
	require.Contains(t, page.Body, `<li class="phone-step" data-channel="rcs">`)
	require.Contains(t, page.Body, `<p class="card-title">Order 1001 has shipped</p>`)
	require.Contains(t, page.Body, `src="`+b.srv.URL+`/ui/static/sample.png"`)
	img := b.client(t).get("/ui/static/sample.png")
	require.Equal(t, http.StatusOK, img.StatusCode, "static assets need no session")
	require.Equal(t, "image/png", img.Header.Get("Content-Type"))
}
