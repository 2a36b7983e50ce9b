// Package roundtrip_test follows a WhatsApp request through the RCS and SMS
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
	"gateway/unify/whatsapp"
	"gateway/web/notify"
)

var at = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// oneEvent is an outbox holding a single event until it is delivered.
type oneEvent struct {
	mu        sync.Mutex
	ev        unify.OutboxEvent
	claimed   bool
	delivered chan struct{}
	failures  []string
}

func (s *oneEvent) ClaimEvents(context.Context, string, time.Time, time.Time, int) ([]unify.OutboxEvent, error) {
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

// A list becomes chips on RCS and numbered choices on SMS; the phone's "2"
// comes back to the bot as a list_reply with the second row's id, signed
// with X-Hub-Signature-256, after the subscription handshake.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	req, err := whatsapp.Decode([]byte(`{"messaging_product":"whatsapp","to":"16505551234","type":"interactive","interactive":{
		"type":"list","body":{"text":"Choose a speed"},
		"action":{"button":"Options","sections":[{"rows":[{"id":"std","title":"Standard"},{"id":"exp","title":"Express"}]}]}}}`))
	require.NoError(t, err)

	require.Empty(t, rcs.CheckLimits(&req.Content))
	rbm, err := json.Marshal(rcs.Convert(&req.Content))
	require.NoError(t, err)
	require.JSONEq(t, `{"contentMessage":{"text":"Choose a speed","suggestions":[
		{"reply":{"text":"Standard","postbackData":"whatsapp:list:std"}},
		{"reply":{"text":"Express","postbackData":"whatsapp:list:exp"}}]}}`, string(rbm))

	text, err := sms.RenderText(&req.Content, sms.RenderOptions{NumberReplies: true})
	require.NoError(t, err)
	require.Equal(t, "Choose a speed\nReply 1 for Standard, 2 for Express", text)

	sg, ok := unify.MatchReply("2", req.Content.AllSuggestions())
	require.True(t, ok)
	in := unify.InboundEvent{Type: unify.EventInbound, ID: "evt_in", From: req.To, To: "acme", Channel: unify.ChannelSMS,
		InReplyTo: "msg_1", Text: "2", Postback: sg.PostbackOrText(), Media: []unify.Media{}, At: at}
	raw, err := json.Marshal(in)
	require.NoError(t, err)

	const secret, token = "app-secret", "bot-verify-token"
	var (
		mu       sync.Mutex
		body     []byte
		verified int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet { // the handshake, as a bot answers it
			q := r.URL.Query()
			if q.Get("hub.mode") != "subscribe" || q.Get("hub.verify_token") != token {
				http.Error(w, "forbidden", http.StatusForbidden)
				return
			}
			mu.Lock()
			verified++
			mu.Unlock()
			_, _ = io.WriteString(w, q.Get("hub.challenge"))
			return
		}
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
	store := &oneEvent{ev: unify.OutboxEvent{ID: in.ID, Key: "in:acme:" + req.To, Type: unify.EventInbound, Dialect: "whatsapp", Body: raw, CreatedAt: at},
		delivered: make(chan struct{})}
	d := notify.New(notify.Config{URL: srv.URL, Secret: secret, VerifyToken: token, PollInterval: 5 * time.Millisecond}, store)
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
	require.Equal(t, 1, verified)
	var wh whatsapp.Webhook
	require.NoError(t, json.Unmarshal(body, &wh))
	require.Equal(t, "whatsapp_business_account", wh.Object)
	msgs := wh.Entry[0].Changes[0].Value.Messages
	require.Len(t, msgs, 1)
	require.Equal(t, "16505551234", msgs[0].From)
	require.Equal(t, "interactive", msgs[0].Type)
	require.Equal(t, &whatsapp.Interactive{Type: "list_reply", ListReply: &whatsapp.Reply{ID: "exp", Title: "2"}}, msgs[0].Interactive)
	require.Equal(t, &whatsapp.Context{From: "acme", ID: "msg_1"}, msgs[0].Context)
}
