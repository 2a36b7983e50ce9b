package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"gateway/carriers/sim"
)

// BenchmarkScaleOut measures throughput with one gateway on SQLite, one on
// PostgreSQL and three on one PostgreSQL, by the same load: b.N short
// messages through POST /v1/messages from 32 clients (round-robin over the
// instances), one carrier with 3 binds shared by the instances and no TPS
// limit to speak of, delivery receipts and signed events on. It reports
// accepted/s (the API), submitted/s (submit_sm acknowledged) and
// delivered/s (delivered events received by the back end), each over the
// time from the first request. The gateways are separate processes, built
// without -race:
//
//	GATEWAY_TEST_POSTGRES=postgres://… go test -run '^$' -bench ScaleOut -benchtime 10000x ./cmd/gateway/
func BenchmarkScaleOut(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "gateway")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		b.Fatal(err)
	}
	for _, v := range []struct {
		name      string
		postgres  bool
		instances int
	}{
		{"sqlite-1", false, 1},
		{"postgres-1", true, 1},
		{"postgres-3", true, 3},
	} {
		b.Run(v.name, func(b *testing.B) {
			db := "sqlite:" + filepath.Join(b.TempDir(), "gw.db")
			if v.postgres {
				db = benchSchema(b)
			}
			benchScaleOut(b, bin, db, v.instances)
		})
	}
}

func benchScaleOut(b *testing.B, bin, db string, instances int) {
	smsc := sim.New(sim.Config{SMPPAddr: "127.0.0.1:0", SystemID: "gw", Password: "secret", AutoReceipts: true,
		MaxBinds: 3, MaxRedeliveries: 1000})
	if err := smsc.Start(); err != nil {
		b.Fatal(err)
	}
	defer smsc.Close()
	var delivered atomic.Int64
	hook := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct{ Type, Status string }
		_ = json.NewDecoder(r.Body).Decode(&ev)
		if ev.Type == "message.status" && ev.Status == "delivered" {
			delivered.Add(1)
		}
		w.WriteHeader(http.StatusNoContent)
	})}
	hookAddr := serveOnFreePort(b, hook)
	defer hook.Close()

	var urls []string
	for i := range instances {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		listen := ln.Addr().String()
		_ = ln.Close()
		cfg := filepath.Join(b.TempDir(), fmt.Sprintf("gw%d.yaml", i))
		yaml := fmt.Sprintf(`
listen: %s
database: %q
api_keys: [{name: bench, key: bench-key-0123456789}]
webhook: {url: "http://%s/events", secret: s}
senders: [{name: acme, sms_source: ACME}]
carriers:
  - name: sim
    prefixes: ["+33"]
    smpp: {address: "%s", system_id: gw, password: secret, binds: 3, tps: 100000, window: 256}
privacy: {encryption: "off"}
log: {level: warn}
`, listen, db, hookAddr, smsc.SMPPAddr())
		if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
			b.Fatal(err)
		}
		urls = append(urls, startBenchGateway(b, bin, cfg))
	}
	// Let the instances share the binds out before the clock starts.
	deadline := time.Now().Add(60 * time.Second)
	for smsc.Stats().Binds < 3 || owners(b, db) < instances {
		if time.Now().After(deadline) {
			b.Fatalf("binds not shared out: %+v", smsc.Stats())
		}
		time.Sleep(50 * time.Millisecond)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

	b.ResetTimer()
	start := time.Now()
	postMessages(b, client, func(i int64) (string, string) {
		return urls[int(i)%len(urls)] + "/v1/messages", fmt.Sprintf(`{"to":"+336%08d","from":"acme","content":{"text":"bench %d"}}`, i, i)
	})
	accepted := time.Since(start)
	for smsc.Stats().Accepted < b.N {
		time.Sleep(time.Millisecond)
	}
	submitted := time.Since(start)
	for delivered.Load() < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	done := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/accepted.Seconds(), "accepted/s")
	b.ReportMetric(float64(b.N)/submitted.Seconds(), "submitted/s")
	b.ReportMetric(float64(b.N)/done.Seconds(), "delivered/s")
	b.ReportMetric(0, "ns/op")
}

// owners counts the instances holding bind slots (1 on SQLite, which has
// no leases: its one process holds every bind).
func owners(b *testing.B, dsn string) int {
	if !strings.HasPrefix(dsn, "postgres") {
		return 1
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT COUNT(DISTINCT owner) FROM bind_leases WHERE lease_until > $1`, time.Now().UnixMicro()).Scan(&n); err != nil {
		return 0 // not migrated yet
	}
	return n
}

func startBenchGateway(b *testing.B, bin, cfg string) string {
	b.Helper()
	cmd := exec.Command(bin, "serve", "--config", cfg)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "gateway listening on "); ok {
				addr <- a
			}
		}
	}()
	select {
	case a := <-addr:
		return "http://" + a
	case <-time.After(30 * time.Second):
		b.Fatalf("gateway did not start: %s", stderr.String())
		return ""
	}
}

// benchSchema is a fresh schema in GATEWAY_TEST_POSTGRES's database, as a
// gateway DSN; the benchmark is skipped without one.
func benchSchema(b *testing.B) string {
	b.Helper()
	dsn := os.Getenv("GATEWAY_TEST_POSTGRES")
	if dsn == "" {
		b.Skip("GATEWAY_TEST_POSTGRES is not set")
	}
	var r [6]byte
	_, _ = rand.Read(r[:])
	schema := "bench_" + hex.EncodeToString(r[:])
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_, _ = admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
		_ = admin.Close()
	})
	u, err := url.Parse(dsn)
	if err != nil {
		b.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
