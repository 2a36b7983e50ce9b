package main_test

import (
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
	"github.com/stretchr/testify/require"

	"gateway/carriers/sim"
	"gateway/internal/testenv"
)

// rbmFaults is a gateway whose RBM API sits behind a proxy that can stop
// answering (accept the request, never reply), beside the simulator's own
// RBMFail for 500 and 429 answers.
type rbmFaults struct {
	smsc *sim.Sim
	gw   *gatewayProc
	hang atomic.Bool
	hung atomic.Int64
	// faulted counts the 500 and 429 answers that reached the gateway.
	faulted atomic.Int64
}

func setupRBMFaults(t *testing.T) *rbmFaults {
	t.Helper()
	r := &rbmFaults{}
	r.smsc = sim.New(sim.Config{SMPPAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", SystemID: "gw", Password: "secret",
		AutoReceipts: true, ReceiptDelay: 20 * time.Millisecond, RCSNumbers: []string{"+3361*"}, RBMClientToken: rbmSecret,
		RBMAutoDeliver: 50 * time.Millisecond})
	require.NoError(t, r.smsc.Start())
	t.Cleanup(func() { _ = r.smsc.Close() })

	target, err := url.Parse(r.smsc.HTTPURL())
	require.NoError(t, err)
	forward := httputil.NewSingleHostReverseProxy(target)
	forward.ModifyResponse = func(resp *http.Response) error {
		if resp.StatusCode == http.StatusInternalServerError || resp.StatusCode == http.StatusTooManyRequests {
			r.faulted.Add(1)
		}
		return nil
	}
	stop := make(chan struct{})
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.hang.Load() {
			r.hung.Add(1)
			select { // a platform that took the request and went quiet
			case <-req.Context().Done():
			case <-stop:
			}
			return
		}
		forward.ServeHTTP(w, req)
	}))
	t.Cleanup(proxy.Close)
	t.Cleanup(func() { close(stop) })

	dir := t.TempDir()
	listen := freePort(t)
	cfg := fmt.Sprintf(`
listen: %[1]s
database: sqlite:%[2]s
api_keys: [{name: backend, key: %[3]s}]
webhook: {url: "http://127.0.0.1:1/unused", secret: %[4]s}
senders:
  - {name: acme, sms_source: ACME, rbm_agent: acme_agent, default_policy: fallback}
carriers:
  - name: sim-fr
    prefixes: ["+33"]
    smpp: {address: "%[5]s", system_id: gw, password: secret, tps: 2000, window: 50}
    rbm: {base_url: "%[6]s", token: %[7]s, webhook_secret: %[8]s, timeout: 1s}
privacy: {encryption: "off"}
log: {level: warn}
policies:
  - name: fallback
    steps: [{channel: rcs, timeout: 60s}, {channel: sms}]
  - name: rcsonly
    steps: [{channel: rcs}]
`, listen, filepath.Join(dir, "gw.db"), apiKey, webhookSecret, r.smsc.SMPPAddr(), proxy.URL, sim.DefaultRBMToken, rbmSecret)
	path := filepath.Join(dir, "gateway.yaml")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	r.smsc.SetRBMCallback("http://"+listen+"/webhooks/rbm/sim-fr", rbmSecret)
	r.gw = startGateway(t, path)
	return r
}

// rbmTo counts the agent messages the RBM API accepted for phone.
func (r *rbmFaults) rbmTo(phone string) int {
	n := 0
	for _, m := range r.smsc.RBMMessages() {
		if m.Phone == phone {
			n++
		}
	}
	return n
}

// TestRBMFaults makes the RBM API answer 500, then 429, then nothing at all:
// every message is delivered, over RCS when RBM comes back in time and over
// SMS when the policy's RCS step gives up; none is lost.
func TestRBMFaults(t *testing.T) {
	t.Parallel()
	r := setupRBMFaults(t)
	for _, tc := range []struct {
		name   string
		prefix string // phones prefix+00 … prefix+09, all RCS-capable
		policy string
		fault  func()
		clear  func()
		faults int64 // 500/429 answers the gateway must have seen
		// channels a message may end on
		want []string
	}{
		{"500 then back", "+336110000", "fallback", func() { r.smsc.RBMFail(6, http.StatusInternalServerError) }, func() {}, 6, []string{"rcs", "sms"}},
		{"429 storm is waited out on rcs", "+336120000", "rcsonly", func() { r.smsc.RBMFail(15, http.StatusTooManyRequests) }, func() {}, 15, []string{"rcs"}},
		{"never answers falls back to sms", "+336130000", "fallback", func() { r.hang.Store(true) }, func() { r.hang.Store(false) }, 0, []string{"sms"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			faultedBefore, hungBefore := r.faulted.Load(), r.hung.Load()
			tc.fault()
			ids := map[string]string{} // phone -> message id
			for i := 0; i < 10; i++ {
				phone := fmt.Sprintf("%s%02d", tc.prefix, i)
				code, out := r.gw.do(http.MethodPost, "/v1/messages", map[string]any{
					"to": phone, "from": "acme", "policy": tc.policy, "content": map[string]any{"text": "fault " + phone}})
				require.Equal(t, http.StatusAccepted, code, "%v", out)
				ids[phone] = out["id"].(string)
			}
			channels := map[string]int{}
			dup := 0
			for phone, id := range ids {
				msg := r.gw.waitStatus(id, "delivered", 90*time.Second)
				ch, _ := msg["channel"].(string)
				require.Contains(t, tc.want, ch, "message to %s", phone)
				channels[ch]++
				if got := r.rbmTo(phone) + len(smsTo(r.smsc, phone)); got > 1 {
					dup += got - 1
				}
			}
			tc.clear()
			require.Equal(t, tc.faults, r.faulted.Load()-faultedBefore, "the fault was served")
			if tc.faults == 0 {
				require.Positive(t, r.hung.Load()-hungBefore, "requests were left hanging")
			}
			t.Logf("RBM %s: 10 messages delivered (by channel %v), %d duplicates, %d requests left hanging", tc.name, channels, dup, r.hung.Load())
		})
	}
}

// TestDatabaseDiskFull puts the SQLite file on a small tmpfs and fills it:
// the API answers 503 problem+json while the disk is full, every message it
// did accept still reaches the SMSC, the API accepts again once space
// returns, and the database passes integrity_check afterwards.
func TestDatabaseDiskFull(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "small")
	require.NoError(t, os.Mkdir(dir, 0o700))
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", dir).CombinedOutput(); err != nil {
		testenv.Missing(t, "cannot mount a tmpfs (needs root): %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })

	smsc := startSim(t)
	cfg, _ := writeConfig(t, dir, smsc.SMPPAddr(), setupOpts{webhookURL: "http://127.0.0.1:1/unused"})
	gw := startGateway(t, cfg)
	texts := map[string]string{}
	post := func(text string) (int, http.Header, []byte) {
		req, err := http.NewRequest(http.MethodPost, gw.url+"/v1/messages",
			strings.NewReader(fmt.Sprintf(`{"to":"+33612345678","from":"acme","content":{"text":%q}}`, text)))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+apiKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, body
	}
	accept := func(text string) {
		code, _, body := post(text)
		require.Equal(t, http.StatusAccepted, code, "%s", body)
		texts[text] = string(body)
	}
	for i := 0; i < 20; i++ {
		accept(fmt.Sprintf("before-%02d", i))
	}

	filler := filepath.Join(dir, "filler")
	fillDisk(t, filler)
	var (
		full   bool
		header http.Header
		body   []byte
		during int
	)
	for i := 0; i < 2000 && !full; i++ {
		// Pages SQLite already owns (WAL, free list) may take a few more
		// rows before an allocation fails.
		text := fmt.Sprintf("during-%04d", i)
		var code int
		code, header, body = post(text)
		switch code {
		case http.StatusAccepted:
			texts[text] = string(body)
			during++
		case http.StatusServiceUnavailable:
			full = true
		default:
			t.Fatalf("disk full: status %d, want 202 or 503: %s", code, body)
		}
	}
	require.True(t, full, "the API never answered 503 with the disk full")
	require.Contains(t, header.Get("Content-Type"), "application/problem+json")
	require.NotEmpty(t, header.Get("Retry-After"))
	require.Contains(t, string(body), "unavailable")

	require.NoError(t, os.Remove(filler))
	require.Eventually(t, func() bool {
		code, _, body := post("after-probe")
		if code == http.StatusAccepted {
			texts["after-probe"] = string(body)
		}
		return code == http.StatusAccepted
	}, 30*time.Second, 100*time.Millisecond, "the API accepts again once space returns")
	for i := 0; i < 20; i++ {
		accept(fmt.Sprintf("after-%02d", i))
	}
	counts := waitAllSubmitted(t, smsc, texts, 60*time.Second)
	t.Logf("disk full: %d accepted while filling before the first 503, %d accepted in all, %d submitted twice", during, len(texts), duplicates(counts, texts))

	gw.stop()
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(dir, "gw.db")+"?_busy_timeout=5000")
	require.NoError(t, err)
	defer db.Close()
	var check string
	require.NoError(t, db.QueryRow(`PRAGMA integrity_check`).Scan(&check))
	require.Equal(t, "ok", check)
	var n int
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM messages`).Scan(&n))
	require.Equal(t, len(texts), n, "every 202 is a row, and no 503 left one behind")
}

// fillDisk writes path until the file system says it is full.
func fillDisk(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			require.True(t, errors.Is(err, syscall.ENOSPC), "fill: %v", err)
			return
		}
	}
}
