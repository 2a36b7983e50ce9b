// Package roundtrip_test follows a Messenger request through the RCS and SMS
// renderings and the phone's answer back to the bot's webhook. It is a
// package of its own so that the adapter's tests do not depend on the
// channels.
package roundtrip_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"gateway/rcs"
	"gateway/sms"
	"gateway/unify"
	"gateway/unify/messenger"
	"gateway/web/notify"
)

var at = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) // 1795608000000 ms

const phone = "+33612345678"

// oneEvent is an outbox holding a single event until it is delivered.
type oneEvent struct {
	mu        sync.Mutex
	ev        unify.OutboxEvent
	claimed   bool
	delivered chan struct{}
	failures  []string
}

func (s *oneEvent) ClaimEvents(_ context.Context, _ string, now, _ time.Time, _ int) ([]unify.OutboxEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.claimed {
		return nil, nil
	}
	s.claimed = true
	return []unify.OutboxEvent{s.ev}, nil
}

func (s *oneEvent) EventsDelivered(context.Context, time.Time, ...int64) error {
	close(s.delivered)
	return nil
}

// ReleaseEvents: nothing is handed over to a dispatcher on this store.
func (s *oneEvent) ReleaseEvents(context.Context, string, ...int64) error { return nil }

func (s *oneEvent) EventFailed(_ context.Context, _ int64, errText string, _ time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, errText)
	s.claimed = false
	return nil
}

// deliver runs a dispatcher until ev reached a receiver that checks the
// X-Hub-Signature-256 itself, and returns the body it got.
func deliver(t *testing.T, secret string, ev unify.OutboxEvent) []byte {
	t.Helper()
	var (
		mu   sync.Mutex
		body []byte
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(b)
		if r.Header.Get("X-Hub-Signature-256") != "sha256="+hex.EncodeToString(mac.Sum(nil)) {
			http.Error(w, "bad signature", http.StatusForbidden)
			return
		}
		mu.Lock()
		body = b
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	store := &oneEvent{ev: ev, delivered: make(chan struct{})}
	d := notify.New(notify.Config{URL: srv.URL, Secret: secret, PollInterval: 5 * time.Millisecond}, store)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	select {
	case <-store.delivered:
	case <-time.After(10 * time.Second):
		store.mu.Lock()
		t.Fatalf("event not delivered; failures: %v", store.failures)
	}
	cancel()
	require.NoError(t, <-done)
	mu.Lock()
	defer mu.Unlock()
	return body
}

// The round trip: a generic template with quick replies becomes an
// RCS carousel with suggestions, or on a non-RCS phone an SMS with numbered
// replies; the phone's "1" comes back to the bot as a Messenger webhook
// whose quick_reply.payload is the first payload, signed with
// X-Hub-Signature-256.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	req, err := messenger.Decode([]byte(`{"recipient":{"phone_number":"+33612345678"},"messaging_type":"RESPONSE","message":{
		"attachment":{"type":"template","payload":{"template_type":"generic","elements":[
			{"title":"Red hat","subtitle":"Wool","image_url":"https://cdn.example/red.jpg"},
			{"title":"Green hat","subtitle":"Cotton","image_url":"https://cdn.example/green.jpg"}]}},
		"quick_replies":[
			{"content_type":"text","title":"Red","payload":"COLOR_RED"},
			{"content_type":"text","title":"Green","payload":"COLOR_GREEN"}]}}`))
	require.NoError(t, err)

	// RCS: a carousel of two cards with the quick replies as chips.
	require.Empty(t, rcs.CheckLimits(&req.Content))
	rbm, err := json.Marshal(rcs.Convert(&req.Content))
	require.NoError(t, err)
	require.JSONEq(t, `{"contentMessage":{
		"richCard":{"carouselCard":{"cardWidth":"MEDIUM","cardContents":[
			{"title":"Red hat","description":"Wool","media":{"height":"MEDIUM","contentInfo":{"fileUrl":"https://cdn.example/red.jpg"}}},
			{"title":"Green hat","description":"Cotton","media":{"height":"MEDIUM","contentInfo":{"fileUrl":"https://cdn.example/green.jpg"}}}]}},
		"suggestions":[
			{"reply":{"text":"Red","postbackData":"COLOR_RED"}},
			{"reply":{"text":"Green","postbackData":"COLOR_GREEN"}}]}}`, string(rbm))

	// SMS: the cards in turn, then the replies numbered in
	// AllSuggestions order.
	text, err := sms.RenderText(&req.Content, sms.RenderOptions{NumberReplies: true})
	require.NoError(t, err)
	require.Equal(t, "1/2 Red hat\nWool\nhttps://cdn.example/red.jpg\n\n2/2 Green hat\nCotton\nhttps://cdn.example/green.jpg\n\nReply 1 for Red, 2 for Green", text)

	// The phone answers "1"; the core matches it as dispatch does.
	sg, ok := unify.MatchReply("1", req.Content.AllSuggestions())
	require.True(t, ok)
	in := unify.InboundEvent{Type: unify.EventInbound, ID: "evt_in", From: req.To, To: "acme", Channel: unify.ChannelSMS,
		InReplyTo: "msg_1", Text: "1", Postback: sg.PostbackOrText(), Media: []unify.Media{}, At: at}
	raw, err := json.Marshal(in)
	require.NoError(t, err)

	got := deliver(t, "app-secret", unify.OutboxEvent{ID: in.ID, Key: "in:acme:" + req.To, Type: unify.EventInbound,
		Dialect: "messenger", Body: raw, CreatedAt: at})
	var wh messenger.Webhook
	require.NoError(t, json.Unmarshal(got, &wh))
	require.Equal(t, "page", wh.Object)
	require.Len(t, wh.Entry, 1)
	require.Len(t, wh.Entry[0].Messaging, 1)
	ev := wh.Entry[0].Messaging[0]
	require.Equal(t, "+33612345678", ev.Sender.ID)
	require.Equal(t, "acme", ev.Recipient.ID)
	require.NotNil(t, ev.Message)
	require.Equal(t, "1", ev.Message.Text)
	require.NotNil(t, ev.Message.QuickReply)
	require.Equal(t, "COLOR_RED", ev.Message.QuickReply.Payload)
}

// A postback button answered by number comes back as a postback event.
func TestRoundTripPostbackButton(t *testing.T) {
	t.Parallel()
	req, err := messenger.Decode([]byte(`{"recipient":{"phone_number":"+33612345678"},"message":{"attachment":{"type":"template","payload":{"template_type":"button","text":"Next?",
		"buttons":[{"type":"web_url","title":"Site","url":"https://shop.example"},{"type":"postback","title":"Track order","payload":"TRACK_123"}]}}}}`))
	require.NoError(t, err)
	text, err := sms.RenderText(&req.Content, sms.RenderOptions{NumberReplies: true})
	require.NoError(t, err)
	require.Contains(t, text, "2 for Track order")
	for _, tc := range []struct{ answer, want string }{
		{"2", `"postback":{"title":"2","payload":"TRACK_123"}`},
		{"1", `"message":{"mid":"evt_in","text":"1"}`},
	} {
		sg, ok := unify.MatchReply(tc.answer, req.Content.AllSuggestions())
		require.True(t, ok)
		wh := messenger.InboundWebhook(unify.InboundEvent{ID: "evt_in", From: phone, To: "acme", Text: tc.answer, Postback: sg.PostbackOrText(), At: at})
		got, err := json.Marshal(wh)
		require.NoError(t, err)
		require.JSONEq(t, `{"object":"page","entry":[{"id":"acme","time":1795608000000,"messaging":[
			{"sender":{"id":"+33612345678"},"recipient":{"id":"acme"},"timestamp":1795608000000,`+tc.want+`}]}]}`, string(got))
	}
}
