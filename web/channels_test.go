package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"gateway/unify"
	"gateway/unify/dispatch"
	"gateway/web"
)

type fakePreviewer struct{}

func (fakePreviewer) Preview(_ context.Context, m *unify.Message, _ *unify.Policy) (*dispatch.Preview, error) {
	return &dispatch.Preview{Policy: "default", Channels: []unify.Rendering{{Channel: unify.ChannelSMS, Protection: unify.ProtectionOf(unify.ChannelSMS, false),
		SMS: &unify.SMSRendering{Text: m.Content.Text, Encoding: "gsm7", Segments: 1, Units: len(m.Content.Text)}}}}, nil
}

func fakeCapability(_ context.Context, sender, phone string) (web.Capability, error) {
	return web.Capability{Phone: phone, RCS: phone == "+33612345678", Features: []string{}, CheckedAt: testNow, Cached: sender == "acme"}, nil
}

type fakeLinks struct{ replies []int }

func (f *fakeLinks) WebLinkMessage(_ context.Context, token string) (*unify.Message, error) {
	if token != "tok" {
		return nil, unify.Errorf(unify.CodeNotFound, "expired")
	}
	return &unify.Message{Content: unify.Content{Card: &unify.Card{Title: "Order <1001>", Media: &unify.Media{URL: "https://cdn.example/a.jpg", MimeType: "image/jpeg"},
		Suggestions: []unify.Suggestion{{Type: unify.SuggestReply, Text: "Track"}, {Type: unify.SuggestOpenURL, Text: "Site", URL: "https://example.com"}}}}}, nil
}

func (f *fakeLinks) WebReply(_ context.Context, token string, i int) error {
	f.replies = append(f.replies, i)
	return nil
}

func TestChannelRoutes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	links := &fakeLinks{}
	var gotCarrier string
	b.srv.MountChannels(web.ChannelRoutes{
		Previews: fakePreviewer{}, Capabilities: fakeCapability, DefaultSender: "acme", WebLinks: links,
		RBMCallback: func(_ context.Context, carrier string, h http.Header, body []byte) (int, string, []byte) {
			gotCarrier = carrier
			if h.Get("X-Goog-Signature") == "" {
				return http.StatusUnauthorized, "", nil
			}
			return http.StatusOK, "text/plain", []byte("ok")
		},
	})

	rec := b.do(t, request(http.MethodPost, "/v1/previews", `{"to":"+33612345678","from":"acme","content":{"text":"hi"}}`))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var p dispatch.Preview
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
	require.Equal(t, "hi", p.Channels[0].SMS.Text)

	rec = b.do(t, request(http.MethodPost, "/v1/previews", `{"to":"+33612345678","from":"acme","content":{}}`))
	require.Equal(t, http.StatusBadRequest, rec.Code)

	rec = b.do(t, request(http.MethodGet, "/v1/capabilities/+33612345678", ""))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), `"rcs":true`)
	require.Contains(t, rec.Body.String(), `"cached":true`)
	rec = b.do(t, request(http.MethodGet, "/v1/capabilities/0612", ""))
	require.Equal(t, http.StatusBadRequest, rec.Code)

	r := httptest.NewRequest(http.MethodPost, "/webhooks/rbm/sim-fr", strings.NewReader("{}"))
	w := httptest.NewRecorder()
	b.srv.ServeHTTP(w, r)
	require.Equal(t, http.StatusUnauthorized, w.Code)
	require.Equal(t, "sim-fr", gotCarrier)

	w = httptest.NewRecorder()
	b.srv.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/m/tok", nil))
	require.Equal(t, http.StatusOK, w.Code)
	page := w.Body.String()
	require.Contains(t, page, "Order &lt;1001&gt;", "content is escaped")
	require.Contains(t, page, `<button type="submit" name="suggestion" value="0">Track</button>`)
	require.Contains(t, page, `<a href="https://example.com">Site</a>`)

	form := url.Values{"suggestion": {"0"}}
	r = httptest.NewRequest(http.MethodPost, "/m/tok", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w = httptest.NewRecorder()
	b.srv.ServeHTTP(w, r)
	require.Equal(t, http.StatusOK, w.Code)
	require.Contains(t, w.Body.String(), "your answer was sent")
	require.Equal(t, []int{0}, links.replies)

	w = httptest.NewRecorder()
	b.srv.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/m/expired", nil))
	require.Equal(t, http.StatusNotFound, w.Code)
}
