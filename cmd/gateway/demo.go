package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"

	"github.com/labstack/echo/v4"

	"gateway/cmd/gateway/config"
	"gateway/web"
	"gateway/web/notify"
)

// demoSecrets are made on the first demo run and kept in ./data, so the API
// key a newcomer copied and the content already sealed in the database stay
// valid across restarts.
type demoSecrets struct {
	APIKey        string `json:"api_key"`
	UIPassword    string `json:"ui_password"`
	WebhookSecret string `json:"webhook_secret"`
	ContentKey    string `json:"content_key"`
}

const demoDir = "data"

func loadDemoSecrets() (demoSecrets, error) {
	path := filepath.Join(demoDir, "demo-secrets.json")
	var s demoSecrets
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &s); err != nil {
			return s, fmt.Errorf("%s: %w", path, err)
		}
		return s, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return s, err
	}
	s = demoSecrets{APIKey: "demo_" + randomHex(16), UIPassword: randomHex(6), WebhookSecret: randomHex(16)}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	s.ContentKey = base64.StdEncoding.EncodeToString(key)
	if err := os.MkdirAll(demoDir, 0o750); err != nil {
		return s, err
	}
	b, _ := json.MarshalIndent(s, "", "  ")
	return s, os.WriteFile(path, b, 0o600)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// demoConfig is the configuration of `go run ./cmd/gateway`: SQLite in
// ./data, one simulated carrier in process serving every number, and the
// unified back end's webhook pointed at an event log inside the gateway.
const demoConfig = `
listen: 127.0.0.1:8080
database: sqlite:./data/gateway.db
api_keys:
  - {name: demo, key: "${DEMO_API_KEY}"}
webhook:
  url: http://127.0.0.1:8080/demo/events
  secret: "${DEMO_WEBHOOK_SECRET}"
ui:
  admin_password: "${DEMO_UI_PASSWORD}"
senders:
  - name: acme
    sms_source: ACME
    sms_numbers: ["+33700000001"]
    rbm_agent: acme_agent
    default_policy: default
carriers:
  - name: sim
    prefixes: ["+1", "+2", "+3", "+4", "+5", "+6", "+7", "+8", "+9"]
    smpp: {address: "127.0.0.1:2775", system_id: gw, password: secret, binds: 1, tps: 1000, window: 50}
    rbm: {base_url: "http://127.0.0.1:8090", token: demo-rbm-token, webhook_secret: "${DEMO_WEBHOOK_SECRET}"}
    mm7: {url: "http://127.0.0.1:8090/mm7", vasp_id: acme, vas_id: gateway}
privacy:
  encryption_key: "${DEMO_CONTENT_KEY}"
media: {allow_loopback: true}
sim:
  smpp: 127.0.0.1:2775
  http: 127.0.0.1:8090
  rcs_numbers: ["+3361*"]
  auto_deliver: 2s
policies:
  - name: default
    steps:
      - {channel: rcs, timeout: 60s}
      - {channel: mms, timeout: 10m}
      - {channel: sms}
`

func runDemo(ctx context.Context, stdout, stderr io.Writer) error {
	secrets, err := loadDemoSecrets()
	if err != nil {
		return err
	}
	vars := map[string]string{
		"DEMO_API_KEY": secrets.APIKey, "DEMO_WEBHOOK_SECRET": secrets.WebhookSecret,
		"DEMO_UI_PASSWORD": secrets.UIPassword, "DEMO_CONTENT_KEY": secrets.ContentKey,
	}
	cfg, err := config.Parse([]byte(demoConfig), func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	if err != nil {
		return err
	}
	logger := newLogger(cfg, os.Stderr)
	g, err := wire(ctx, cfg, logger)
	if err != nil {
		return err
	}
	events := &eventLog{secret: secrets.WebhookSecret}
	g.extra = append(g.extra, func(s *web.Server) {
		s.Echo().POST("/demo/events", events.receive)
		s.Echo().GET("/demo/events", events.list)

	})
	return g.serve(ctx, func(addr string) {
		fmt.Fprintf(stdout, `
Gateway demo running on http://%[1]s
  API key:       %[2]s
  UI password:   %[3]s
  Carrier:       simulated SMSC on smpp://%[4]s, RBM API and MMSC on %[5]s (control API %[5]s/control/)
  Phones:        numbers starting +3361 are RCS-capable; the others get MMS or SMS
  Web UI:        http://%[1]s/ui (policies, traffic, carriers; sign in with the UI password)
  Handset:       http://%[1]s/sim (what each phone received; tap chips, reply)

Send a message:
  curl -s -X POST http://%[1]s/v1/messages -H 'Authorization: Bearer %[2]s' \
    -H 'Content-Type: application/json' \
    -d '{"to":"+33612345678","from":"acme","content":{"text":"Hello from the gateway"}}'
Follow it:        curl -s -H 'Authorization: Bearer %[2]s' http://%[1]s/v1/messages/<id>
Reply as the phone:
  curl -s -X POST %[5]s/control/mo -d '{"from":"+33612345678","to":"ACME","text":"Thanks!"}'
Events the unified back end received: http://%[1]s/demo/events

`, addr, secrets.APIKey, secrets.UIPassword, g.sim.SMPPAddr(), g.sim.HTTPURL())
	})
}

// eventLog plays the unified back end in the demo: it checks each event's
// signature and keeps the last few hundred for GET /demo/events.
type eventLog struct {
	secret string
	mu     sync.Mutex
	events []json.RawMessage
}

func (l *eventLog) receive(c echo.Context) error {
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, 1<<20))
	if err != nil {
		return err
	}
	if !notify.Verify(l.secret, body, c.Request().Header.Get("X-Gateway-Signature")) {
		return c.NoContent(http.StatusUnauthorized)
	}
	l.mu.Lock()
	l.events = append(l.events, json.RawMessage(body))
	if len(l.events) > 500 {
		l.events = l.events[len(l.events)-500:]
	}
	l.mu.Unlock()
	return c.NoContent(http.StatusNoContent)
}

func (l *eventLog) list(c echo.Context) error {
	l.mu.Lock()
	out := append([]json.RawMessage{}, l.events...)
	l.mu.Unlock()
	return c.JSON(http.StatusOK, out)
}
