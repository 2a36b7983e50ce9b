package main_test

import (
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
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"

	"gateway/carriers/sim"
	"gateway/internal/testenv"
)

// postgresEnv names the DSN of a PostgreSQL database the tests may create
// schemas in (`make test` and .ci/run start a throw-away cluster and set it).
const postgresEnv = "GATEWAY_TEST_POSTGRES"

// pgSchema creates an empty schema in the test database, dropped at the
// end, and returns the gateway's DSN for it and a connection to look inside.
// Without a database the test is skipped, except under CI where it fails.
func pgSchema(t *testing.T) (string, *sql.DB) {
	t.Helper()
	dsn := os.Getenv(postgresEnv)
	if dsn == "" {
		testenv.Missing(t, "%s is not set: `make test` starts a throw-away PostgreSQL when initdb is installed (apt-get install postgresql)", postgresEnv)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "scale_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	_, err = admin.Exec(`CREATE SCHEMA ` + schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
		_ = admin.Close()
	})
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	db, err := sql.Open("pgx", u.String())
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return u.String(), db
}

type scaleOpts struct {
	dsn, smsc, webhook string
	binds, tps, window int
}

func writeScaleConfig(t *testing.T, dir string, o scaleOpts) string {
	t.Helper()
	cfg := fmt.Sprintf(`
listen: %s
database: %q
api_keys:
  - {name: backend, key: %s}
webhook:
  url: %s
  secret: %s
senders:
  - name: acme
    sms_source: ACME
carriers:
  - name: sim-fr
    prefixes: ["+33"]
    smpp: {address: "%s", system_id: gw, password: secret, binds: %d, tps: %d, window: %d, enquire_link: 5s, response_timeout: 5s}
privacy:
  encryption: "off"
log: {level: warn}
`, freePort(t), o.dsn, apiKey, o.webhook, webhookSecret, o.smsc, o.binds, o.tps, o.window)
	path := filepath.Join(dir, "gateway.yaml")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	return path
}

// post sends one message; ok is false when the gateway did not accept it
// (it may have been killed).
func post(client *http.Client, base, to, text string) (id string, ok bool) {
	body, _ := json.Marshal(map[string]any{"to": to, "from": "acme", "content": map[string]any{"text": text}})
	req, err := http.NewRequest(http.MethodPost, base+"/v1/messages", bytes.NewReader(body))
	if err != nil {
		return "", false
	}
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", false
	}
	defer resp.Body.Close()
	var out struct {
		ID string `json:"id"`
	}
	if resp.StatusCode != http.StatusAccepted || json.NewDecoder(resp.Body).Decode(&out) != nil {
		return "", false
	}
	return out.ID, true
}

// maxWindowRate is the highest number of submit_sm the SMSC received (any
// answer) in a window of the given length, over the window's seconds, with
// the window's start.
func maxWindowRate(subs []sim.Submit, window time.Duration) (float64, time.Time) {
	at := make([]time.Time, len(subs))
	for i, s := range subs {
		at[i] = s.At
	}
	sort.Slice(at, func(i, j int) bool { return at[i].Before(at[j]) })
	best, from, j := 0, time.Time{}, 0
	for i := range at {
		for j < len(at) && at[j].Sub(at[i]) < window {
			j++
		}
		if j-i > best {
			best, from = j-i, at[i]
		}
	}
	return float64(best) / window.Seconds(), from
}

// perSecond counts submit_sm by bind in each second of [from, from+d).
func perSecond(subs []sim.Submit, from time.Time, d time.Duration) string {
	var b bytes.Buffer
	for s := time.Duration(0); s < d; s += time.Second {
		byBind := map[int]int{}
		total := 0
		for _, sub := range subs {
			if off := sub.At.Sub(from); off >= s && off < s+time.Second {
				byBind[sub.Bind]++
				total++
			}
		}
		fmt.Fprintf(&b, "+%s: %d %v\n", s, total, byBind)
	}
	return b.String()
}

// TestScaleOut runs three gateways on one PostgreSQL against one SMSC that
// allows binds binds and tps submit_sm per second, sends 10,000 messages
// round-robin through their three APIs, kills one with SIGKILL mid-run, and
// checks that every accepted message reaches the SMSC and is delivered
// (receipts of the dead instance's submits arrive on the others), that
// replies find their conversation whichever instance gets them, and that the
// carrier's limits held across the instances throughout.
//
// Not parallel: three race-built gateways want the machine to themselves.
func TestScaleOut(t *testing.T) {
	dsn, db := pgSchema(t)
	// tps is below what three race-built instances accept on two cores, so
	// that the carrier's limit, not the gateways, sets the pace.
	const (
		n      = 10000
		binds  = 3
		tps    = 100
		window = 50
	)
	// Receipts come late enough to outlive the instance that submitted, and
	// like a real SMSC's are retried for long when refused.
	smsc := sim.New(sim.Config{SMPPAddr: "127.0.0.1:0", SystemID: "gw", Password: "secret", MaxBinds: binds,
		AutoReceipts: true, ReceiptDelay: 2 * time.Second, MaxRedeliveries: 1000})
	require.NoError(t, smsc.Start())
	t.Cleanup(func() { _ = smsc.Close() })
	// The carrier throttles per calendar second above a tenth more than the
	// contract, a tolerance for peaks of a loaded machine: instances that
	// did not share the rate would be throttled all along; the contract
	// itself is checked below, over every 5 s window.
	smsc.SetTPSLimit(tps + tps/10)

	var hookMu sync.Mutex
	delivered := map[string]int{} // message id → delivered events
	var inbound []map[string]any
	hook := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev map[string]any
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		hookMu.Lock()
		switch {
		case ev["type"] == "message.status" && ev["status"] == "delivered":
			delivered[ev["message_id"].(string)]++
		case ev["type"] == "message.inbound":
			inbound = append(inbound, ev)
		}
		hookMu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})}
	hookLn, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	hookAddr := hookLn.Addr().String()
	go func() { _ = hook.Serve(hookLn) }()
	t.Cleanup(func() { _ = hook.Close() })

	opts := scaleOpts{dsn: dsn, smsc: smsc.SMPPAddr(), webhook: "http://" + hookAddr + "/events", binds: binds, tps: tps, window: window}
	gws := make([]*gatewayProc, 3)
	for i := range gws {
		gws[i] = startGateway(t, writeScaleConfig(t, t.TempDir(), opts))
	}
	// Each instance takes its share of the binds: one each.
	owners := func() map[string]int {
		rows, err := db.Query(`SELECT owner, COUNT(*) FROM bind_leases WHERE lease_until > $1 GROUP BY owner`, time.Now().UnixMicro())
		require.NoError(t, err)
		defer rows.Close()
		out := map[string]int{}
		for rows.Next() {
			var o string
			var c int
			require.NoError(t, rows.Scan(&o, &c))
			out[o] = c
		}
		return out
	}
	require.Eventually(t, func() bool { return len(owners()) == 3 && smsc.Stats().Binds == binds }, 60*time.Second, 100*time.Millisecond,
		"three instances, one bind each: %v", owners())

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}
	var (
		mu       sync.Mutex
		accepted = make(map[string]string, n) // text → id
		phones   = make(map[string]string, n) // text → phone
		next     atomic.Int64
		killed   atomic.Bool
		wg       sync.WaitGroup
	)
	start := time.Now()
	var killedAt time.Time
	var killOnce sync.Once
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= n {
					return
				}
				if i == n/5 {
					// Mid-run, with the SMSC busy and the APIs taking traffic.
					killOnce.Do(func() {
						gws[1].kill()
						killedAt = time.Now()
						killed.Store(true)
					})
				}
				gw := gws[i%3]
				if killed.Load() && gw == gws[1] {
					gw = gws[(i/3)%2*2] // the survivors: 0 and 2
				}
				text := fmt.Sprintf("scale-%05d", i)
				phone := fmt.Sprintf("+336%08d", i)
				if id, ok := post(client, gw.url, phone, text); ok {
					mu.Lock()
					accepted[text], phones[text] = id, phone
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	apiDone := time.Since(start)
	t.Logf("%d of %d accepted in %s (%.0f/s); instance 1 killed after %s",
		len(accepted), n, apiDone.Round(time.Millisecond), float64(len(accepted))/apiDone.Seconds(), killedAt.Sub(start).Round(time.Millisecond))
	require.GreaterOrEqual(t, len(accepted), n-100, "only requests cut by the kill may be lost")

	// The dead instance's slot is taken over once its lease runs out.
	require.Eventually(t, func() bool {
		o := owners()
		held := 0
		for _, c := range o {
			held += c
		}
		return len(o) == 2 && held == binds && smsc.Stats().Binds == binds
	},
		60*time.Second, 100*time.Millisecond, "survivors take the dead instance's bind: %v", owners())

	// Its claimed jobs come back when their leases (2 min) run out.
	var counts map[string]int
	if !assertEventually(200*time.Second-time.Since(start), func() bool {
		counts = submittedTexts(smsc)
		for text := range accepted {
			if counts[text] == 0 {
				return false
			}
		}
		return true
	}) {
		missing := 0
		for text := range accepted {
			if counts[text] == 0 {
				missing++
			}
		}
		rate, _ := maxWindowRate(smsc.Submits(), 5*time.Second)
		t.Fatalf("%d accepted messages never reached the SMSC after %s (SMSC %+v); over 5 s at most %.1f/s",
			missing, time.Since(start), smsc.Stats(), rate)
	}
	submittedIn := time.Since(start)
	dup := duplicates(counts, accepted)
	t.Logf("all %d accepted messages submitted after %s; %d submitted twice (bound: window %d × binds %d)",
		len(accepted), submittedIn.Round(time.Millisecond), dup, window, binds)
	require.LessOrEqual(t, dup, window*binds, "duplicates come only from the dead instance's windows")

	// Receipts: every message delivered, those of the dead instance's last
	// submits through the survivors' binds.
	if !assertEventually(30*time.Second, func() bool {
		var left int
		require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM messages WHERE status <> 'delivered'`).Scan(&left))
		return left == 0
	}) {
		for i, g := range gws {
			logs := g.stderr.String()
			t.Logf("instance %d log (tail):\n%s", i, logs[max(0, len(logs)-3000):])
		}
		t.Fatalf("not every message delivered (SMSC %+v):\n%s", smsc.Stats(), dumpUndelivered(t, db))
	}
	require.Eventually(t, func() bool {
		hookMu.Lock()
		defer hookMu.Unlock()
		for _, id := range accepted {
			if delivered[id] == 0 {
				return false
			}
		}
		return true
	}, 90*time.Second, 200*time.Millisecond, "a delivered event for every message")

	// The receipts of the dead instance's last submits (on the binds that
	// submitted nothing after the kill) were sent after it died, so only the
	// survivors can have applied them.
	lastOnBind := map[int]time.Time{}
	for _, sub := range smsc.Submits() {
		lastOnBind[sub.Bind] = sub.At
	}
	orphaned := 0
	for _, sub := range smsc.Submits() {
		if last := lastOnBind[sub.Bind]; last.Before(killedAt) && sub.At.After(killedAt.Add(-time.Second)) && sub.MessageID != "" {
			orphaned++
		}
	}
	t.Logf("%d receipts of the dead instance's submits reached the survivors", orphaned)
	require.Positive(t, orphaned, "the kill left receipts for the survivors")

	// Replies go to their conversation whichever instance receives them.
	// One reply to the first instance's first message, one to the dead
	// instance's last accepted one, one to the last message.
	lastOfDead := ""
	for i := 1; i < n/5; i += 3 {
		if text := fmt.Sprintf("scale-%05d", i); accepted[text] != "" {
			lastOfDead = text
		}
	}
	for _, text := range []string{"scale-00000", lastOfDead, fmt.Sprintf("scale-%05d", n-1)} {
		require.NotEmpty(t, phones[text], "%s accepted", text)
		require.NoError(t, smsc.InjectMO(sim.MO{From: phones[text], To: "ACME", Text: "reply to " + text}))
	}
	require.Eventually(t, func() bool {
		hookMu.Lock()
		defer hookMu.Unlock()
		return len(inbound) == 3
	}, 30*time.Second, 50*time.Millisecond, "three replies")
	for _, ev := range inbound {
		text := ev["text"].(string)[len("reply to "):]
		require.Equal(t, accepted[text], ev["in_reply_to"], "the reply %q finds its message", ev["text"])
	}

	// The carrier's limits held across the instances.
	st := smsc.Stats()
	subs := smsc.Submits()
	rate, from := maxWindowRate(subs, 5*time.Second)
	t.Logf("SMSC: %d submit_sm (%d accepted, %d throttled), at most %.1f/s over 5 s (%s after the start), at most %d binds (%d refused)",
		st.Submits, st.Accepted, st.Throttled, rate, from.Sub(start).Round(time.Millisecond), st.MaxBinds, st.BindsRefused)
	t.Logf("the busiest window, by bind:\n%s", perSecond(subs, from, 6*time.Second))
	var throttledAt []string
	for _, sub := range subs {
		if sub.Status != 0 {
			throttledAt = append(throttledAt, sub.At.Sub(start).Round(10*time.Millisecond).String())
		}
	}
	if len(throttledAt) > 0 {
		t.Logf("throttled at %v", throttledAt[:min(len(throttledAt), 20)])
	}
	require.LessOrEqual(t, st.MaxBinds, binds)
	require.Zero(t, st.BindsRefused, "no instance tried to bind beyond the carrier's total")
	require.Zero(t, st.DeliverDropped, "no receipt given up")
	require.LessOrEqual(t, rate, float64(tps), "tps averaged over any 5 s window")
}

func assertEventually(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(200 * time.Millisecond)
	}
	return true
}

// dumpUndelivered describes what is left undelivered, for a failure message.
func dumpUndelivered(t *testing.T, db *sql.DB) string {
	t.Helper()
	var b bytes.Buffer
	rows, err := db.Query(`SELECT status, COUNT(*) FROM messages GROUP BY status`)
	require.NoError(t, err)
	for rows.Next() {
		var st string
		var c int
		require.NoError(t, rows.Scan(&st, &c))
		fmt.Fprintf(&b, "%s: %d\n", st, c)
	}
	rows.Close()
	rows, err = db.Query(`SELECT m.id, m.status, a.status, p.ext_raw, p.status FROM messages m
		LEFT JOIN attempts a ON a.message_id = m.id LEFT JOIN parts p ON p.attempt_id = a.id
		WHERE m.status <> 'delivered' ORDER BY m.id LIMIT 10`)
	require.NoError(t, err)
	for rows.Next() {
		var id, ms string
		var as, raw, ps sql.NullString
		require.NoError(t, rows.Scan(&id, &ms, &as, &raw, &ps))
		fmt.Fprintf(&b, "%s %s attempt=%s part=%s/%s\n", id, ms, as.String, raw.String, ps.String)
	}
	rows.Close()
	var orphans, jobs int
	require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM orphan_receipts`).Scan(&orphans))
	require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM jobs`).Scan(&jobs))
	fmt.Fprintf(&b, "orphan receipts: %d, jobs: %d\n", orphans, jobs)
	return b.String()
}
