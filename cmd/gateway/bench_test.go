package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gateway/carriers/sim"
	"gateway/cmd/gateway/config"
)

// BenchmarkAcceptToSubmitted measures messages per second from POST
// /v1/messages to submit_sm acknowledged by the SMSC, on SQLite, with 32
// concurrent API clients, receipts and events on:
//
//	go test -run '^$' -bench AcceptToSubmitted -benchtime 5000x ./cmd/gateway/
//
// Its variants measure the cost of privacy (issue 9): "plain" stores content
// in clear, "sealed" seals it (AES-256-GCM) with the default retention, and
// "sealed_sweep0s" also runs the retention sweeper with content retention
// 0s, so that it purges every second while the load runs.
func BenchmarkAcceptToSubmitted(b *testing.B) {
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x42}, 32))
	for _, v := range []struct{ name, privacy string }{
		{"plain", `{encryption: "off"}`},
		{"sealed", `{encryption_key: "` + key + `"}`},
		{"sealed_sweep0s", `{encryption_key: "` + key + `", content_retention: 0s}`},
	} {
		b.Run(v.name, func(b *testing.B) { benchAcceptToSubmitted(b, v.privacy) })
	}
}

func benchAcceptToSubmitted(b *testing.B, privacy string) {
	smsc := sim.New(sim.Config{SMPPAddr: "127.0.0.1:0", SystemID: "gw", Password: "secret", AutoReceipts: true})
	if err := smsc.Start(); err != nil {
		b.Fatal(err)
	}
	defer smsc.Close()
	hook := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	})}
	hookAddr := serveOnFreePort(b, hook)
	defer hook.Close()

	yaml := fmt.Sprintf(`
listen: 127.0.0.1:0
database: sqlite:%s
api_keys: [{name: bench, key: bench-key-0123456789}]
webhook: {url: "http://%s/events", secret: s}
senders: [{name: acme, sms_source: ACME}]
carriers:
  - name: sim
    prefixes: ["+33"]
    smpp: {address: "%s", system_id: gw, password: secret, binds: 1, tps: 100000, window: 256}
privacy: %s
`, filepath.Join(b.TempDir(), "gw.db"), hookAddr, smsc.SMPPAddr(), privacy)
	cfg, err := config.Parse([]byte(yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g, err := wire(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	addrc := make(chan string, 1)
	served := make(chan error, 1)
	go func() { served <- g.serve(ctx, func(a string) { addrc <- a }) }()
	url := "http://" + <-addrc + "/v1/messages"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

	b.ResetTimer()
	start := time.Now()
	postMessages(b, client, func(i int64) (string, string) {
		return url, fmt.Sprintf(`{"to":"+33612345678","from":"acme","content":{"text":"bench %d"}}`, i)
	})
	accepted := time.Since(start)
	for smsc.Stats().Accepted < b.N {
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/accepted.Seconds(), "accepted/s")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "submitted/s")
	cancel()
	<-served
}

// postMessages sends b.N messages from 32 concurrent clients, message i to
// the URL and with the body that at(i) gives, and fails b on any answer
// but 202.
func postMessages(b *testing.B, client *http.Client, at func(i int64) (url, body string)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				url, body := at(i)
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewBufferString(body))
				req.Header.Set("Authorization", "Bearer bench-key-0123456789")
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
			}
		})
	}
	wg.Wait()
}

func serveOnFreePort(b *testing.B, srv *http.Server) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	return ln.Addr().String()
}
