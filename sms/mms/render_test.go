package mms_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"gateway/sms/mms"
	"gateway/unify"
)

type renderFixture struct {
	media *mediaServer
	jpg   []byte
	png   []byte
}

func setupRender(tb testing.TB) *renderFixture {
	tb.Helper()
	f := &renderFixture{
		jpg: encodeJPEG(tb, photo(320, 240, 10, false), 90),
		png: encodePNG(tb, photo(48, 48, 11, true)),
	}
	f.media = newMediaServer(tb, map[string]file{
		"/box.jpg":   {ctype: "image/jpeg", data: f.jpg},
		"/icon.png":  {ctype: "image/png", data: f.png},
		"/clip.mp4":  {ctype: "video/mp4", data: []byte("\x00\x00\x00\x18ftypmp42 fake video")},
		"/anim.gif":  {ctype: "image/gif", data: encodeGIF(tb, photo(120, 90, 12, false))},
		"/page.html": {ctype: "text/html", data: []byte("<html>not media</html>")},
		"/busy.jpg":  {ctype: "image/jpeg", status: http.StatusServiceUnavailable},
	})
	return f
}

func (f *renderFixture) m(path string) *unify.Media {
	return &unify.Media{URL: f.media.URL + path, MimeType: "image/jpeg"}
}

func ptr(v float64) *float64 { return &v }

var (
	numbered   = &unify.Policy{Name: "n", SMS: unify.SMSOptions{NumberReplies: true}}
	unnumbered = &unify.Policy{Name: "u"}
)

type wantPart struct {
	cid, ctype, text string
}

func TestRender(t *testing.T) {
	t.Parallel()
	f := setupRender(t)
	ch := newChannel(t, "http://127.0.0.1:1/mm7", nil, nil)
	track := unify.Suggestion{Type: unify.SuggestReply, Text: "Track", Postback: "track"}
	site := unify.Suggestion{Type: unify.SuggestOpenURL, Text: "Website", URL: "https://example.com"}
	call := unify.Suggestion{Type: unify.SuggestDial, Text: "Call us", Phone: "+33100000000"}
	mapS := unify.Suggestion{Type: unify.SuggestViewLocation, Text: "Map", Lat: ptr(48.85), Lng: ptr(2.35)}
	for _, tc := range []struct {
		name    string
		content unify.Content
		policy  *unify.Policy
		golden  string // SMIL golden file
		subject string
		parts   []wantPart // after the SMIL
	}{
		{
			name:    "media with caption and numbered suggestions",
			content: unify.Content{Text: "Your order shipped", Media: f.m("/box.jpg"), Suggestions: []unify.Suggestion{track, site}},
			policy:  numbered, golden: "media.smil",
			parts: []wantPart{
				{"img1", "image/jpeg", ""},
				{"text1", "text/plain", "Your order shipped\nReply 1 for Track, 2 Website https://example.com"},
			},
		},
		{
			name:    "media alone",
			content: unify.Content{Media: f.m("/box.jpg")},
			policy:  numbered, golden: "media-alone.smil",
			parts: []wantPart{{"img1", "image/jpeg", ""}},
		},
		{
			name: "card, replies not numbered: actions only",
			content: unify.Content{Card: &unify.Card{Title: "Order 1001", Description: "2 items", Media: f.m("/box.jpg"),
				Suggestions: []unify.Suggestion{track, site}}, Suggestions: []unify.Suggestion{call, mapS}},
			policy: unnumbered, subject: "Order 1001",
			parts: []wantPart{
				{"img1", "image/jpeg", ""},
				{"text1", "text/plain", "Order 1001\n2 items\nWebsite https://example.com\nCall us +33100000000\nMap https://maps.google.com/?q=48.85,2.35"},
			},
		},
		{
			name: "carousel: a slide per card, one part per distinct image, numbering across cards",
			content: unify.Content{Carousel: &unify.Carousel{Cards: []unify.Card{
				{Title: "Box", Media: f.m("/box.jpg"), Suggestions: []unify.Suggestion{track}},
				{Title: "Icon", Description: "small", Media: &unify.Media{URL: f.media.URL + "/icon.png", MimeType: "image/png"}, Suggestions: []unify.Suggestion{site}},
				{Title: "Box again", Media: f.m("/box.jpg")},
			}}, Suggestions: []unify.Suggestion{call}},
			policy: nil, golden: "carousel.smil", // no policy: numbered, as SMS does
			parts: []wantPart{
				{"img1", "image/jpeg", ""},
				{"text1", "text/plain", "Box\nReply 1 for Track"},
				{"img2", "image/png", ""},
				{"text2", "text/plain", "Icon\nsmall\nReply 2 Website https://example.com"},
				{"text3", "text/plain", "Box again\nReply 3 Call us +33100000000"},
			},
		},
		{
			name:    "location: text with a map link",
			content: unify.Content{Location: &unify.Location{Lat: 48.85, Lng: 2.35, Label: "Store"}},
			policy:  numbered, golden: "location.smil",
			parts: []wantPart{{"text1", "text/plain", "Store\nhttps://maps.google.com/?q=48.85,2.35"}},
		},
		{
			name:    "video",
			content: unify.Content{Text: "Watch", Media: &unify.Media{URL: f.media.URL + "/clip.mp4", MimeType: "video/mp4"}},
			policy:  numbered, golden: "video.smil",
			parts: []wantPart{{"video1", "video/mp4", ""}, {"text1", "text/plain", "Watch"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := &unify.Message{ID: "msg_1", To: "+33612345678", From: "acme", Content: tc.content}
			r, err := ch.Render(context.Background(), m, tc.policy)
			require.NoError(t, err)
			require.Empty(t, r.Skipped)
			require.Equal(t, unify.ChannelMMS, r.Channel)
			require.Equal(t, unify.Protection{Transport: "none"}, r.Protection) // the test MMSC is plain http
			require.NotNil(t, r.MMS)
			require.Equal(t, tc.subject, r.MMS.Subject)
			if tc.golden != "" {
				golden(t, tc.golden, []byte(r.MMS.SMIL))
			}
			require.Equal(t, "smil", r.MMS.Parts[0].ContentID)
			require.Equal(t, "application/smil", r.MMS.Parts[0].ContentType)
			require.Equal(t, len(r.MMS.SMIL), r.MMS.Parts[0].Size)
			var got []wantPart
			total := 0
			for _, p := range r.MMS.Parts {
				total += p.Size
				if p.ContentID == "smil" {
					continue
				}
				got = append(got, wantPart{p.ContentID, p.ContentType, p.Text})
				if p.Text != "" {
					require.Equal(t, len(p.Text), p.Size)
					require.Empty(t, p.SourceURL)
				} else {
					require.NotEmpty(t, p.SourceURL)
				}
				require.Contains(t, r.MMS.SMIL, `src="cid:`+p.ContentID+`"`)
			}
			require.Equal(t, tc.parts, got)
			require.Equal(t, total, r.MMS.TotalSize)
		})
	}
}

func TestRenderSizes(t *testing.T) {
	t.Parallel()
	f := setupRender(t)
	ch := newChannel(t, "http://127.0.0.1:1/mm7", nil, nil)
	r, err := ch.Render(context.Background(), &unify.Message{Content: unify.Content{Media: f.m("/box.jpg")}}, numbered)
	require.NoError(t, err)
	require.Equal(t, len(f.jpg), r.MMS.Parts[1].Size, "an image within the limit is sent as fetched")
	require.Equal(t, f.media.URL+"/box.jpg", r.MMS.Parts[1].SourceURL)
}

// The policy's max_size, when smaller than the carrier's, is the budget: the
// image is scaled so that the whole MM fits.
func TestRenderScalesToTheSmallerLimit(t *testing.T) {
	t.Parallel()
	f := setupRender(t)
	ch := newChannel(t, "http://127.0.0.1:1/mm7", nil, nil)
	for _, limit := range []int{12_000, 6_000} {
		p := &unify.Policy{Name: "small", MMS: unify.MMSOptions{MaxSize: limit}}
		m := &unify.Message{Content: unify.Content{Text: "Look", Media: f.m("/box.jpg")}}
		r, err := ch.Render(context.Background(), m, p)
		require.NoError(t, err)
		require.Empty(t, r.Skipped)
		require.LessOrEqual(t, r.MMS.TotalSize, limit)
		img := r.MMS.Parts[1]
		require.Equal(t, "image/jpeg", img.ContentType)
		require.Less(t, img.Size, len(f.jpg))
	}
}

// A preview has no carrier yet: it follows the strictest one; a message with
// a carrier follows that carrier's limit.
func TestRenderCarrierLimit(t *testing.T) {
	t.Parallel()
	f := setupRender(t)
	ch := newChannel(t, "", nil, func(c *mms.Config) {
		c.Carriers = map[string]mms.CarrierConfig{
			"big":   {URL: "https://mmsc.big.example/mm7"},
			"small": {URL: "https://mmsc.small.example/mm7", MaxSize: 10_000},
		}
	})
	m := &unify.Message{Content: unify.Content{Media: f.m("/box.jpg")}}
	r, err := ch.Render(context.Background(), m, nil)
	require.NoError(t, err)
	require.LessOrEqual(t, r.MMS.TotalSize, 10_000)
	require.Equal(t, unify.Protection{Transport: "tls"}, r.Protection)

	m.Carrier = "big"
	r, err = ch.Render(context.Background(), m, nil)
	require.NoError(t, err)
	require.Equal(t, len(f.jpg), r.MMS.Parts[1].Size)
}

func TestRenderSkipped(t *testing.T) {
	t.Parallel()
	f := setupRender(t)
	ch := newChannel(t, "http://127.0.0.1:1/mm7", nil, nil)
	tiny := &unify.Policy{Name: "tiny", MMS: unify.MMSOptions{MaxSize: 2000}}
	for _, tc := range []struct {
		name    string
		content unify.Content
		policy  *unify.Policy
		reason  string
	}{
		{"text only", unify.Content{Text: "hi", Suggestions: []unify.Suggestion{{Type: unify.SuggestReply, Text: "Yes"}}}, numbered, "the content has no media"},
		{"card without media", unify.Content{Card: &unify.Card{Title: "T"}}, numbered, "the content has no media"},
		{"media not found", unify.Content{Media: f.m("/nope.jpg")}, numbered, "HTTP 404"},
		{"not media", unify.Content{Media: f.m("/page.html")}, numbered, "is text/html, not an image, video or audio file"},
		{"gif too large", unify.Content{Media: f.m("/anim.gif")}, tiny, "cannot be scaled"},
		{"media on a refused address", unify.Content{Media: &unify.Media{URL: "http://10.0.0.1/a.jpg", MimeType: "image/jpeg"}}, numbered, "not allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, err := ch.Render(context.Background(), &unify.Message{Content: tc.content}, tc.policy)
			require.NoError(t, err)
			require.Nil(t, r.MMS)
			require.Contains(t, r.Skipped, tc.reason)
		})
	}
}

func TestRenderTemporaryFetchFailure(t *testing.T) {
	t.Parallel()
	f := setupRender(t)
	ch := newChannel(t, "http://127.0.0.1:1/mm7", nil, nil)
	_, err := ch.Render(context.Background(), &unify.Message{Content: unify.Content{Media: f.m("/busy.jpg")}}, numbered)
	require.ErrorIs(t, err, unify.ErrTemporary)
}
