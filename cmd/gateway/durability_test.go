package main_test

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"gateway/carriers/sim"
)

// sendMany posts n messages "<prefix>-<i>" with bounded concurrency and
// returns their ids by text.
func sendMany(t *testing.T, gw *gatewayProc, prefix string, n int) map[string]string {
	t.Helper()
	ids := make(map[string]string, n)
	var mu sync.Mutex
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				text := fmt.Sprintf("%s-%04d", prefix, i)
				id := gw.send("+33612345678", text, nil)
				mu.Lock()
				ids[text] = id
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return ids
}

// submittedTexts counts accepted submit_sm per text at the SMSC.
func submittedTexts(s *sim.Sim) map[string]int {
	counts := map[string]int{}
	for _, sub := range s.Submits() {
		if sub.MessageID != "" {
			counts[sub.Text]++
		}
	}
	return counts
}

func waitAllSubmitted(t *testing.T, s *sim.Sim, texts map[string]string, timeout time.Duration) map[string]int {
	t.Helper()
	var counts map[string]int
	require.Eventually(t, func() bool {
		counts = submittedTexts(s)
		for text := range texts {
			if counts[text] == 0 {
				return false
			}
		}
		return true
	}, timeout, 50*time.Millisecond, "every accepted message reaches the SMSC")
	return counts
}

func duplicates(counts map[string]int, texts map[string]string) int {
	dup := 0
	for text := range texts {
		if counts[text] > 1 {
			dup += counts[text] - 1
		}
	}
	return dup
}

// TestSurvivesKill9 kills the gateway with SIGKILL while 1,000 accepted
// messages are in flight, restarts it on the same database, and checks that
// every one of them reaches the SMSC.
func TestSurvivesKill9(t *testing.T) {
	t.Parallel()
	smsc := startSim(t)
	smsc.SetAutoReceipts(false)
	dir := t.TempDir()
	cfg, _ := writeConfig(t, dir, smsc.SMPPAddr(), setupOpts{tps: 150, webhookURL: "http://127.0.0.1:1/unused"})
	gw := startGateway(t, cfg)
	texts := sendMany(t, gw, "kill", 1000)
	require.Len(t, texts, 1000)
	// Kill while the carrier has seen some but not all of them.
	require.Eventually(t, func() bool { return smsc.Stats().Accepted >= 100 }, 20*time.Second, 5*time.Millisecond)
	gw.kill()
	before := len(submittedTexts(smsc))
	require.Less(t, before, 1000, "the kill happened mid-stream")

	gw2 := startGateway(t, cfg)
	counts := waitAllSubmitted(t, smsc, texts, 60*time.Second)
	dup := duplicates(counts, texts)
	t.Logf("kill -9 with 1000 accepted: %d submitted before the kill, %d submitted twice after restart", before, dup)
	for _, id := range []string{texts["kill-0000"], texts["kill-0999"]} {
		gw2.waitStatus(id, "sent", 10*time.Second)
	}
}

// TestSurvivesBindDropAndThrottling drops the SMPP bind mid-stream, refuses
// rebinds for a moment and throttles the account; every message still
// arrives and is delivered.
func TestSurvivesBindDropAndThrottling(t *testing.T) {
	t.Parallel()
	smsc := startSim(t)
	cfg, _ := writeConfig(t, t.TempDir(), smsc.SMPPAddr(), setupOpts{tps: 400, binds: 2, webhookURL: "http://127.0.0.1:1/unused"})
	gw := startGateway(t, cfg)
	done := make(chan map[string]string)
	go func() { done <- sendMany(t, gw, "drop", 400) }()
	require.Eventually(t, func() bool { return smsc.Stats().Accepted >= 50 }, 20*time.Second, 5*time.Millisecond)
	smsc.RefuseBinds(500 * time.Millisecond)
	smsc.DropBinds()
	require.Eventually(t, func() bool { return smsc.Stats().Accepted >= 150 }, 30*time.Second, 5*time.Millisecond)
	smsc.Throttle(10)
	smsc.QueueFull(5)
	texts := <-done
	counts := waitAllSubmitted(t, smsc, texts, 60*time.Second)
	t.Logf("bind drop + throttling with 400 messages: %d submitted twice; stats %+v", duplicates(counts, texts), smsc.Stats())
	require.GreaterOrEqual(t, smsc.Stats().Throttled, 10)
	for _, text := range []string{"drop-0000", "drop-0200", "drop-0399"} {
		gw.waitStatus(texts[text], "delivered", 20*time.Second)
	}
}

// TestReceiptAggregation sends 3-part messages and receipts their parts by
// hand: out of order, one naming its part by the hexadecimal form of the
// decimal id the submit_sm_resp gave; and one with a failed part.
func TestReceiptAggregation(t *testing.T) {
	t.Parallel()
	smsc := startSim(t)
	smsc.SetAutoReceipts(false)
	hook := newWebhook(t)
	cfg, _ := writeConfig(t, t.TempDir(), smsc.SMPPAddr(), setupOpts{webhookURL: hook.srv.URL})
	gw := startGateway(t, cfg)
	long := ""
	for len(long) < 400 {
		long += "0123456789"
	}

	for _, tc := range []struct {
		name  string
		stats [3]string
		forms [3]string
		want  string
	}{
		{"delivered out of order", [3]string{"DELIVRD", "DELIVRD", "DELIVRD"}, [3]string{"", "hex", "upper"}, "delivered"},
		{"one part failed", [3]string{"DELIVRD", "UNDELIV", "DELIVRD"}, [3]string{"", "", "zeros"}, "failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := gw.send("+33612345678", long[:400]+tc.name, nil)
			msg := gw.waitStatus(id, "sent", 10*time.Second)
			ids := msg["attempts"].([]any)[0].(map[string]any)["carrier_message_ids"].([]any)
			require.Len(t, ids, 3)
			for _, i := range []int{2, 0, 1} {
				require.NoError(t, smsc.SendReceipt(sim.Receipt{MessageID: ids[i].(string), Stat: tc.stats[i], IDForm: tc.forms[i]}))
				if i == 2 && tc.want == "delivered" {
					// One part of three receipted: the attempt says so, the
					// message is still just sent.
					require.Eventually(t, func() bool {
						_, m := gw.do(http.MethodGet, "/v1/messages/"+id, nil)
						return m["status"] == "sent" && m["attempts"].([]any)[0].(map[string]any)["status"] == "partially_delivered"
					}, 15*time.Second, 10*time.Millisecond)
				}
			}
			final := gw.waitStatus(id, tc.want, 10*time.Second)
			require.Equal(t, tc.want, final["attempts"].([]any)[0].(map[string]any)["status"])
			require.Eventually(t, func() bool {
				return len(hook.find(func(e map[string]any) bool { return e["message_id"] == id && e["status"] == tc.want })) == 1
			}, 10*time.Second, 20*time.Millisecond)
			time.Sleep(200 * time.Millisecond) // a second event would be on its way by now
			require.Len(t, hook.find(func(e map[string]any) bool { return e["message_id"] == id && e["status"] == tc.want }), 1, "exactly one %s event", tc.want)
		})
	}
}
