package notify_test

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"gateway/unify"
	"gateway/web/notify"
)

func statusBody(status unify.Status, extra string) []byte {
	return []byte(`{"type":"message.status","id":"evt_s","message_id":"msg_1","status":"` + string(status) +
		`","channel":"sms","carrier":"sim-fr","at":"2026-11-25T12:00:00Z"` + extra + `}`)
}

var inboundBody = []byte(`{"type":"message.inbound","id":"evt_i","from":"+33612345678","to":"acme","channel":"sms",
	"in_reply_to":"msg_1","text":"1","postback":"COLOR_RED","media":[],"location":null,"at":"2026-11-25T12:00:00Z"}`)

func TestRender(t *testing.T) {
	t.Parallel()
	const who = `,"to":"+33612345678","from":"acme"`
	consent := []byte(`{"type":"consent.changed","number":"+33612345678","opted_out":true}`)
	for _, tc := range []struct {
		name    string
		ev      unify.OutboxEvent
		want    string // JSON, or "" with skip
		same    bool   // the stored body, byte for byte
		skip    bool
		wantErr bool
	}{
		{name: "unified as stored", ev: unify.OutboxEvent{Type: unify.EventStatus, Body: statusBody("sent", "")}, same: true},
		{name: "unified by name", ev: unify.OutboxEvent{Type: unify.EventInbound, Dialect: "unified", Body: inboundBody}, same: true},
		{name: "unknown dialect as unified", ev: unify.OutboxEvent{Type: unify.EventInbound, Dialect: "telegram", Body: inboundBody}, same: true},
		{name: "messenger consent as unified", ev: unify.OutboxEvent{Type: unify.EventConsentChanged, Dialect: "messenger", Body: consent}, same: true},
		{name: "messenger delivered", ev: unify.OutboxEvent{Type: unify.EventStatus, Dialect: "messenger", Body: statusBody("delivered", who)},
			want: `{"object":"page","entry":[{"id":"acme","time":1795608000000,"messaging":[
				{"sender":{"id":"+33612345678"},"recipient":{"id":"acme"},"delivery":{"mids":["msg_1"],"watermark":1795608000000}}]}]}`},
		{name: "messenger delivered without to and from", ev: unify.OutboxEvent{Type: unify.EventStatus, Dialect: "messenger", Body: statusBody("delivered", "")},
			want: `{"object":"page","entry":[{"id":"","time":1795608000000,"messaging":[
				{"sender":{"id":""},"recipient":{"id":""},"delivery":{"mids":["msg_1"],"watermark":1795608000000}}]}]}`},
		{name: "messenger sent", ev: unify.OutboxEvent{Type: unify.EventStatus, Dialect: "messenger", Body: statusBody("sent", who)}, skip: true},
		{name: "messenger failed", ev: unify.OutboxEvent{Type: unify.EventStatus, Dialect: "messenger", Body: statusBody("failed", who)}, skip: true},
		{name: "messenger quick reply", ev: unify.OutboxEvent{Type: unify.EventInbound, Dialect: "messenger", Body: inboundBody},
			want: `{"object":"page","entry":[{"id":"acme","time":1795608000000,"messaging":[
				{"sender":{"id":"+33612345678"},"recipient":{"id":"acme"},"timestamp":1795608000000,
				 "message":{"mid":"evt_i","text":"1","quick_reply":{"payload":"COLOR_RED"}}}]}]}`},
		{name: "whatsapp failed", ev: unify.OutboxEvent{Type: unify.EventStatus, Dialect: "whatsapp", Body: statusBody("failed", who+`,"error":"UNDELIV"`)},
			want: `{"object":"whatsapp_business_account","entry":[{"id":"acme","changes":[{"field":"messages","value":{
				"messaging_product":"whatsapp","metadata":{"display_phone_number":"acme","phone_number_id":"acme"},
				"statuses":[{"id":"msg_1","status":"failed","timestamp":"1795608000","recipient_id":"33612345678",
					"errors":[{"code":131026,"title":"Message undeliverable","message":"Message undeliverable","error_data":{"details":"UNDELIV"}}]}]}}]}]}`},
		{name: "whatsapp switching", ev: unify.OutboxEvent{Type: unify.EventStatus, Dialect: "whatsapp", Body: statusBody("switching", who)}, skip: true},
		{name: "whatsapp reply", ev: unify.OutboxEvent{Type: unify.EventInbound, Dialect: "whatsapp", Body: inboundBody},
			want: `{"object":"whatsapp_business_account","entry":[{"id":"acme","changes":[{"field":"messages","value":{
				"messaging_product":"whatsapp","metadata":{"display_phone_number":"acme","phone_number_id":"acme"},
				"contacts":[{"profile":{"name":""},"wa_id":"33612345678"}],
				"messages":[{"context":{"from":"acme","id":"msg_1"},"from":"33612345678","id":"evt_i","timestamp":"1795608000",
					"type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":"COLOR_RED","title":"1"}}}]}}]}]}`},
		{name: "broken body", ev: unify.OutboxEvent{Type: unify.EventStatus, Dialect: "whatsapp", Body: []byte(`{`)}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body, skip, err := notify.Render(tc.ev)
			if tc.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.skip, skip)
			switch {
			case tc.skip:
				require.Nil(t, body)
			case tc.same:
				require.Equal(t, tc.ev.Body, body)
			default:
				require.JSONEq(t, tc.want, string(body))
			}
		})
	}
}

// The test vector of shared/specs/meta.md §5 (whatsapp_sdk, checked with
// openssl): X-Hub-Signature-256 is the same HMAC as X-Gateway-Signature.
func TestHubSignatureVector(t *testing.T) {
	t.Parallel()
	require.Equal(t, "sha256=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914", notify.Sign("secret", []byte("test")))
}

func (s *memStore) addEvent(ev unify.OutboxEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.insertLocked(&memEvent{ev: ev, nextAt: ev.CreatedAt})
}

func hexMAC(h func() hash.Hash, secret string, body []byte) string {
	mac := hmac.New(h, []byte(secret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// Meta-dialect events carry Meta's signatures besides the gateway's own,
// computed over the body as sent; unified events do not; events Meta has
// no shape for are never POSTed but count as delivered.
func TestMetaEventsAreSignedForMeta(t *testing.T) {
	t.Parallel()
	type got struct {
		hub256, hub1, gateway string
		body                  []byte
	}
	var (
		mu   sync.Mutex
		seen = map[string]got{}
	)
	b := setup(t, func(r received, req *http.Request) int {
		mu.Lock()
		defer mu.Unlock()
		seen[r.ID] = got{req.Header.Get("X-Hub-Signature-256"), req.Header.Get("X-Hub-Signature"), r.Sig, r.Body}
		return http.StatusOK
	})
	now := b.clock.Now()
	b.store.addEvent(unify.OutboxEvent{ID: "evt_m", Key: "in:a", Type: unify.EventInbound, Dialect: "messenger", Body: inboundBody, CreatedAt: now})
	b.store.addEvent(unify.OutboxEvent{ID: "evt_u", Key: "in:b", Type: unify.EventInbound, Body: inboundBody, CreatedAt: now})
	b.store.addEvent(unify.OutboxEvent{ID: "evt_skip", Key: "msg_1", Type: unify.EventStatus, Dialect: "messenger", Body: statusBody("sent", ""), CreatedAt: now})
	b.store.addEvent(unify.OutboxEvent{ID: "evt_w", Key: "msg_1", Type: unify.EventStatus, Dialect: "whatsapp", Body: statusBody("sent", ""), CreatedAt: now})
	b.start(t)
	eventually(t, func() bool { return b.store.delivered("evt_m", "evt_u", "evt_skip", "evt_w") }, "all delivered")

	mu.Lock()
	defer mu.Unlock()
	require.NotContains(t, seen, "evt_skip")
	require.Len(t, seen, 3)
	for _, id := range []string{"evt_m", "evt_w"} {
		g := seen[id]
		require.True(t, strings.HasPrefix(string(g.body), `{"object":`), string(g.body))
		require.Equal(t, "sha256="+hexMAC(sha256.New, secret, g.body), g.hub256, id)
		require.Equal(t, "sha1="+hexMAC(sha1.New, secret, g.body), g.hub1, id)
		require.Equal(t, g.hub256, g.gateway, id)
	}
	u := seen["evt_u"]
	require.Empty(t, u.hub256)
	require.Empty(t, u.hub1)
	require.JSONEq(t, string(inboundBody), string(u.body))
}

// bot is a Meta-style webhook: it answers the subscription handshake as
// answer says and records the events it is sent.
type bot struct {
	mu     sync.Mutex
	gets   []string // hub.verify_token of each handshake
	posts  int
	answer func(w http.ResponseWriter, q map[string][]string)
	srv    *httptest.Server
}

func newBot(t *testing.T, answer func(w http.ResponseWriter, q map[string][]string)) *bot {
	bt := &bot{answer: answer}
	bt.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bt.mu.Lock()
		defer bt.mu.Unlock()
		if r.Method == http.MethodGet {
			require.Equal(t, "/hook", r.URL.Path)
			require.Equal(t, "kept", r.URL.Query().Get("app"), "the url's own query is kept")
			bt.gets = append(bt.gets, r.URL.Query().Get("hub.verify_token"))
			bt.answer(w, r.URL.Query())
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		bt.posts++
	}))
	t.Cleanup(bt.srv.Close)
	return bt
}

func (bt *bot) counts() (gets, posts int) {
	bt.mu.Lock()
	defer bt.mu.Unlock()
	return len(bt.gets), bt.posts
}

func echoChallenge(w http.ResponseWriter, q map[string][]string) {
	if q["hub.mode"][0] != "subscribe" || q["hub.verify_token"][0] != "bot-token" {
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	_, _ = io.WriteString(w, q["hub.challenge"][0]+"\n")
}

func TestSubscriptionHandshake(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		token     string
		answer    func(w http.ResponseWriter, q map[string][]string)
		dialect   string
		wantGets  int
		delivered bool
		failure   string
	}{
		{name: "verified once for all events", token: "bot-token", answer: echoChallenge, dialect: "messenger", wantGets: 1, delivered: true},
		{name: "wrong token", token: "other", answer: echoChallenge, dialect: "whatsapp", wantGets: 1, failure: "webhook verification: notify: webhook answered 403"},
		{name: "challenge not echoed", token: "bot-token", dialect: "messenger", wantGets: 1,
			answer:  func(w http.ResponseWriter, _ map[string][]string) { _, _ = io.WriteString(w, "ok") },
			failure: `answered "ok" instead of the hub.challenge`},
		{name: "no token, no handshake", answer: echoChallenge, dialect: "messenger", delivered: true},
		{name: "unified events need none", token: "bot-token", answer: echoChallenge, dialect: "", delivered: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bt := newBot(t, tc.answer)
			b := setup(t, nil)
			b.cfg.URL = bt.srv.URL + "/hook?app=kept"
			b.cfg.VerifyToken = tc.token
			now := b.clock.Now()
			b.store.addEvent(unify.OutboxEvent{ID: "evt_1", Key: "in:a", Type: unify.EventInbound, Dialect: tc.dialect, Body: inboundBody, CreatedAt: now})
			b.store.addEvent(unify.OutboxEvent{ID: "evt_2", Key: "in:b", Type: unify.EventInbound, Dialect: tc.dialect, Body: inboundBody, CreatedAt: now})
			b.start(t)
			if tc.delivered {
				eventually(t, func() bool { return b.store.delivered("evt_1", "evt_2") }, "both delivered")
				gets, posts := bt.counts()
				require.Equal(t, tc.wantGets, gets)
				require.Equal(t, 2, posts)
				return
			}
			eventually(t, func() bool {
				return len(b.store.event("evt_1").failures) > 0 && len(b.store.event("evt_2").failures) > 0
			}, "both failed")
			gets, posts := bt.counts()
			require.GreaterOrEqual(t, gets, tc.wantGets)
			require.Zero(t, posts, "nothing is posted to an unverified webhook")
			require.Contains(t, b.store.event("evt_1").failures[0].err, tc.failure)
			bt.mu.Lock()
			require.Equal(t, tc.token, bt.gets[0])
			bt.mu.Unlock()
		})
	}
}
