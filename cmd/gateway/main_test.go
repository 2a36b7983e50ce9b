package main_test

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"gateway/carriers/sim"
)

var gatewayBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gateway-bin")
	if err != nil {
		panic(err)
	}
	gatewayBin = filepath.Join(dir, "gateway")
	build := exec.Command("go", "build", "-race", "-o", gatewayBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build gateway:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

const (
	apiKey        = "test-key-0123456789abcdef"
	webhookSecret = "hook-secret"
)

// webhook plays the unified back end: it verifies every event's signature
// and keeps the events in arrival order.
type webhook struct {
	srv    *httptest.Server
	mu     sync.Mutex
	events []map[string]any
	bad    int
}

func newWebhook(t *testing.T) *webhook {
	t.Helper()
	w := &webhook{}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mac := hmac.New(sha256.New, []byte(webhookSecret))
		mac.Write(body)
		want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
		w.mu.Lock()
		defer w.mu.Unlock()
		if !hmac.Equal([]byte(want), []byte(r.Header.Get("X-Gateway-Signature"))) || r.Header.Get("X-Gateway-Event-Id") == "" {
			w.bad++
			rw.WriteHeader(http.StatusUnauthorized)
			return
		}
		var ev map[string]any
		if err := json.Unmarshal(body, &ev); err != nil {
			w.bad++
			rw.WriteHeader(http.StatusBadRequest)
			return
		}
		w.events = append(w.events, ev)
		rw.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(w.srv.Close)
	return w
}

func (w *webhook) find(pred func(map[string]any) bool) []map[string]any {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []map[string]any
	for _, e := range w.events {
		if pred(e) {
			out = append(out, e)
		}
	}
	return out
}

type gatewayProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	url    string
	cfg    string
	stderr *bytes.Buffer
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

type setupOpts struct {
	binds, tps, window int
	webhookURL         string
}

func writeConfig(t *testing.T, dir, smsc string, o setupOpts) (path, listen string) {
	t.Helper()
	if o.binds == 0 {
		o.binds = 1
	}
	if o.tps == 0 {
		o.tps = 5000
	}
	if o.window == 0 {
		o.window = 50
	}
	listen = freePort(t)
	cfg := fmt.Sprintf(`
listen: %s
database: sqlite:%s
api_keys:
  - {name: backend, key: %s}
webhook:
  url: %s
  secret: %s
senders:
  - name: acme
    sms_source: ACME
    default_policy: default
carriers:
  - name: sim-fr
    prefixes: ["+33"]
    smpp: {address: "%s", system_id: gw, password: secret, binds: %d, tps: %d, window: %d, enquire_link: 5s, response_timeout: 5s}
privacy:
  encryption: "off"
log: {level: warn}
`, listen, filepath.Join(dir, "gw.db"), apiKey, o.webhookURL, webhookSecret, smsc, o.binds, o.tps, o.window)
	path = filepath.Join(dir, "gateway.yaml")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	return path, listen
}

func startGateway(t *testing.T, cfgPath string) *gatewayProc {
	t.Helper()
	g := &gatewayProc{t: t, cfg: cfgPath, stderr: &bytes.Buffer{}}
	g.cmd = exec.Command(gatewayBin, "serve", "--config", cfgPath)
	g.cmd.Stderr = &lockedWriter{w: g.stderr}
	out, err := g.cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, g.cmd.Start())
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "gateway listening on ") {
				lines <- strings.TrimPrefix(sc.Text(), "gateway listening on ")
			}
		}
	}()
	select {
	case addr := <-lines:
		g.url = "http://" + addr
	case <-time.After(30 * time.Second):
		_ = g.cmd.Process.Kill()
		t.Fatalf("gateway did not start: %s", g.stderr.String())
	}
	t.Cleanup(func() { g.stop() })
	return g
}

func (g *gatewayProc) stop() {
	if g.cmd.ProcessState != nil {
		return
	}
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = g.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = g.cmd.Process.Kill()
		<-done
	}
}

func (g *gatewayProc) kill() {
	_ = g.cmd.Process.Signal(syscall.SIGKILL)
	_ = g.cmd.Wait()
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (g *gatewayProc) do(method, path string, body any) (int, map[string]any) {
	g.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(g.t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, g.url+path, rd)
	require.NoError(g.t, err)
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(g.t, err)
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func (g *gatewayProc) send(to, text string, extra map[string]any) string {
	g.t.Helper()
	body := map[string]any{"to": to, "from": "acme", "content": map[string]any{"text": text}}
	for k, v := range extra {
		body[k] = v
	}
	code, out := g.do(http.MethodPost, "/v1/messages", body)
	require.Equal(g.t, http.StatusAccepted, code, "%v", out)
	return out["id"].(string)
}

func (g *gatewayProc) waitStatus(id, want string, timeout time.Duration) map[string]any {
	g.t.Helper()
	var last map[string]any
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		_, last = g.do(http.MethodGet, "/v1/messages/"+id, nil)
		if last["status"] == want {
			return last
		}
		time.Sleep(20 * time.Millisecond)
	}
	g.t.Fatalf("message %s: status %v, want %s", id, last["status"], want)
	return nil
}

func startSim(t *testing.T) *sim.Sim {
	t.Helper()
	s := sim.New(sim.Config{SMPPAddr: "127.0.0.1:0", SystemID: "gw", Password: "secret", AutoReceipts: true, ReceiptDelay: 20 * time.Millisecond})
	require.NoError(t, s.Start())
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestEndToEndSMS is the spine: three texts through the REST API and a real
// SMPP bind to the simulated SMSC, receipts back to delivered, signed events
// to the unified back end, and a phone's reply routed to its conversation.
func TestEndToEndSMS(t *testing.T) {
	t.Parallel()
	smsc := startSim(t)
	hook := newWebhook(t)
	cfg, _ := writeConfig(t, t.TempDir(), smsc.SMPPAddr(), setupOpts{webhookURL: hook.srv.URL})
	gw := startGateway(t, cfg)

	long := "Total 10€ [promo] "
	for len([]rune(long)) < 400 {
		long += "abcdefghij"
	}
	long = string([]rune(long)[:400])
	for _, tc := range []struct {
		name       string
		text       string
		dataCoding byte
		parts      int
	}{
		{"short gsm7", "Your order shipped", 0x00, 1},
		{"400 characters with euro and bracket", long, 0x00, 3},
		{"emoji", "On its way 🚚 see you 😀", 0x08, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := gw.send("+33612345678", tc.text, map[string]any{"conversation_id": "thread-42", "client_ref": "ref-" + tc.name})
			msg := gw.waitStatus(id, "delivered", 15*time.Second)
			attempts := msg["attempts"].([]any)
			require.Len(t, attempts, 1)
			att := attempts[0].(map[string]any)
			require.Equal(t, "sms", att["channel"])
			require.Equal(t, "sim-fr", att["carrier"])
			require.EqualValues(t, tc.parts, att["segments"])
			require.Len(t, att["carrier_message_ids"], tc.parts)

			var seen *sim.Message
			for _, m := range smsc.Messages() {
				if m.Text == tc.text {
					m := m
					seen = &m
				}
			}
			require.NotNil(t, seen, "the SMSC reassembled the exact text")
			require.Equal(t, tc.dataCoding, seen.DataCoding)
			require.Len(t, seen.Parts, tc.parts)
			for i, p := range seen.Parts {
				if tc.parts > 1 {
					require.Equal(t, byte(0x40), p.EsmClass&0x40, "UDHI")
					require.Equal(t, []byte{0x05, 0x00, 0x03, seen.Parts[0].UDH[3], byte(tc.parts), byte(i + 1)}, p.UDH)
				} else {
					require.Nil(t, p.UDH)
				}
				require.EqualValues(t, 1, p.RegisteredDelivery)
			}

			require.Eventually(t, func() bool {
				return len(hook.find(func(e map[string]any) bool {
					return e["message_id"] == id && e["status"] == "delivered" && e["type"] == "message.status"
				})) == 1
			}, 30*time.Second, 20*time.Millisecond, "one signed delivered event")
			ev := hook.find(func(e map[string]any) bool { return e["message_id"] == id && e["status"] == "delivered" })[0]
			require.Equal(t, "ref-"+tc.name, ev["client_ref"])
			require.Equal(t, "sms", ev["channel"])
			require.Equal(t, map[string]any{"end_to_end": false, "transport": "none"}, ev["protection"])
		})
	}

	require.NoError(t, smsc.InjectMO(sim.MO{From: "+33612345678", To: "ACME", Text: "Thanks, got it"}))
	require.Eventually(t, func() bool {
		return len(hook.find(func(e map[string]any) bool { return e["type"] == "message.inbound" })) == 1
	}, 30*time.Second, 20*time.Millisecond)
	in := hook.find(func(e map[string]any) bool { return e["type"] == "message.inbound" })[0]
	require.Equal(t, "+33612345678", in["from"])
	require.Equal(t, "acme", in["to"])
	require.Equal(t, "sms", in["channel"])
	require.Equal(t, "thread-42", in["conversation_id"])
	require.Equal(t, "Thanks, got it", in["text"])
	require.Zero(t, hook.bad)
}
