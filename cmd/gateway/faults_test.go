package main_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSMSCNeverAnswers stalls the SMSC (submit_sm read, never answered) so
// every window fills and every response times out; when it answers again,
// every message arrives.
func TestSMSCNeverAnswers(t *testing.T) {
	t.Parallel()
	smsc := startSim(t)
	cfg, _ := writeConfig(t, t.TempDir(), smsc.SMPPAddr(), setupOpts{window: 5, webhookURL: "http://127.0.0.1:1/unused"})
	smsc.Stall(true)
	gw := startGateway(t, cfg)
	texts := sendMany(t, gw, "stall", 50)
	require.Eventually(t, func() bool { return smsc.Stats().Stalled >= 5 }, 45*time.Second, 10*time.Millisecond)
	time.Sleep(500 * time.Millisecond)
	smsc.Stall(false)
	counts := waitAllSubmitted(t, smsc, texts, 90*time.Second)
	t.Logf("stalled SMSC with 50 messages: %d submitted twice (responses that never came)", duplicates(counts, texts))
	gw.waitStatus(texts["stall-0049"], "delivered", 30*time.Second)
}

// TestWebhookDownThenBack keeps the unified back end's webhook failing for a
// while: every event arrives once it is back, in order per message.
func TestWebhookDownThenBack(t *testing.T) {
	t.Parallel()
	smsc := startSim(t)
	var up atomic.Bool
	statuses := &statusLog{}
	var failures atomic.Int64
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			failures.Add(1)
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		statuses.record(decodeEvent(t, r))
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(hook.Close)
	cfg, _ := writeConfig(t, t.TempDir(), smsc.SMPPAddr(), setupOpts{webhookURL: hook.URL})
	gw := startGateway(t, cfg)
	texts := sendMany(t, gw, "hook", 40)
	for _, id := range texts {
		gw.waitStatus(id, "delivered", 45*time.Second)
	}
	require.Eventually(t, func() bool { return failures.Load() > 0 }, 30*time.Second, 10*time.Millisecond)
	up.Store(true)
	statuses.requireSentThenDelivered(t, texts, "every event arrives once the webhook is back")
	t.Logf("webhook down: %d failed deliveries retried", failures.Load())
}

// statusLog records, per message, the statuses its events arrived with.
type statusLog struct {
	mu    sync.Mutex
	order map[string][]string // message id -> statuses in arrival order
}

func (l *statusLog) record(ev map[string]any) {
	id, ok := ev["message_id"].(string)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.order == nil {
		l.order = map[string][]string{}
	}
	l.order[id] = append(l.order[id], ev["status"].(string))
}

// requireSentThenDelivered waits for two events of each message of texts and
// requires them to be "sent" then "delivered", each once.
func (l *statusLog) requireSentThenDelivered(t *testing.T, texts map[string]string, what string) {
	t.Helper()
	require.Eventually(t, func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, id := range texts {
			if len(l.order[id]) < 2 {
				return false
			}
		}
		return true
	}, 60*time.Second, 20*time.Millisecond, what)
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range texts {
		require.Equal(t, []string{"sent", "delivered"}, l.order[id], "in order and once, for %s", id)
	}
}

func decodeEvent(t *testing.T, r *http.Request) map[string]any {
	t.Helper()
	var ev map[string]any
	require.NoError(t, json.NewDecoder(r.Body).Decode(&ev))
	return ev
}

// TestEventsHandedOverInOrder: with the webhook up, status events go to the
// dispatcher as their transactions commit, none claimed from the outbox; a
// receipt that comes while its message's "sent" event is still being posted
// waits behind it, so each message's events still arrive in order.
func TestEventsHandedOverInOrder(t *testing.T) {
	t.Parallel()
	smsc := startSim(t) // receipts 20 ms after the submit
	statuses := &statusLog{}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev := decodeEvent(t, r)
		if ev["status"] == "sent" {
			time.Sleep(60 * time.Millisecond) // the receipt's event comes meanwhile
		}
		statuses.record(ev)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(hook.Close)
	cfg, _ := writeConfig(t, t.TempDir(), smsc.SMPPAddr(), setupOpts{webhookURL: hook.URL})
	gw := startGateway(t, cfg)
	texts := sendMany(t, gw, "order", 30)
	statuses.requireSentThenDelivered(t, texts, "every event arrives")

	resp, err := http.Get(gw.url + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Regexp(t, `(?m)^gateway_webhook_events_handed_over_total 60$`, string(body), "every event handed over, none claimed")
}
