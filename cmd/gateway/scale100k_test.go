package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// longEnv, set to 1, runs the long forms of the load tests (100,000 queued
// messages instead of 10,000).
const longEnv = "GATEWAY_LONG"

// TestRestartWithQueue accepts a backlog while the carrier refuses every
// bind, restarts the gateway on the same database, brings the carrier back
// and checks that every accepted message reaches the SMSC. 10,000 messages
// in the normal suite; 100,000 with GATEWAY_LONG=1.
func TestRestartWithQueue(t *testing.T) {
	t.Parallel()
	n := 10_000
	if os.Getenv(longEnv) == "1" {
		n = 100_000
	}
	smsc := startSim(t)
	smsc.SetAutoReceipts(false)
	smsc.RefuseBinds(time.Hour)
	dir := t.TempDir()
	cfg, _ := writeConfig(t, dir, smsc.SMPPAddr(), setupOpts{binds: 2, tps: 50_000, window: 256, webhookURL: "http://127.0.0.1:1/unused"})
	gw := startGateway(t, cfg)

	start := time.Now()
	texts := postBacklog(t, gw.url, "queued", n, 32)
	acceptFor := time.Since(start)
	require.Len(t, texts, n)
	require.Zero(t, smsc.Stats().Accepted, "the carrier took nothing while down")

	gw.stop()
	gw2 := startGateway(t, cfg)
	restarted := time.Now()
	smsc.RefuseBinds(0)
	counts := waitAllSubmitted(t, smsc, texts, 10*time.Minute)
	drainFor := time.Since(restarted)
	t.Logf("restart with %d queued: accepted in %s (%.0f/s, race build), drained in %s (%.0f/s) after the carrier came back, %d submitted twice",
		n, acceptFor.Round(time.Millisecond), float64(n)/acceptFor.Seconds(), drainFor.Round(time.Millisecond), float64(n)/drainFor.Seconds(), duplicates(counts, texts))
	gw2.waitStatus(texts[fmt.Sprintf("queued-%06d", n-1)], "sent", 30*time.Second)
}

// postBacklog posts n texts "<prefix>-<i>" with conc clients over kept-alive
// connections, retrying 503s, and returns their ids by text.
func postBacklog(t *testing.T, base, prefix string, n, conc int) map[string]string {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	ids := make(map[string]string, n)
	var (
		mu     sync.Mutex
		wg     sync.WaitGroup
		next   atomic.Int64
		failed atomic.Value
	)
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for failed.Load() == nil {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				text := fmt.Sprintf("%s-%06d", prefix, i)
				id, err := postOnce(client, base, text)
				for tries := 0; err != nil && tries < 20; tries++ {
					time.Sleep(50 * time.Millisecond)
					id, err = postOnce(client, base, text)
				}
				if err != nil {
					failed.Store(err)
					return
				}
				mu.Lock()
				ids[text] = id
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatalf("post backlog: %v", err)
	}
	return ids
}

func postOnce(client *http.Client, base, text string) (string, error) {
	body, _ := json.Marshal(map[string]any{"to": "+33612345678", "from": "acme", "content": map[string]any{"text": text}})
	req, err := http.NewRequest(http.MethodPost, base+"/v1/messages", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		ID string `json:"id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusAccepted {
		return "", fmt.Errorf("post %s: status %d: %v", text, resp.StatusCode, err)
	}
	return out.ID, nil
}
