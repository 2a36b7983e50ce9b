package main_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
	"github.com/stretchr/testify/require"

	"gateway/carriers/sim"
	"gateway/unify"
	"gateway/unify/seal"
	"gateway/unify/sqlstore"
)

// End-to-end tests of issue 9 (privacy by design) against the real binary,
// a real SMPP bind to the simulated SMSC and the SQLite file on disk.

const (
	alice = "+33612345678" // the person whose data is erased
	bob   = "+33698765432"
)

var (
	key1 = bytes.Repeat([]byte{0x11}, 32)
	key2 = bytes.Repeat([]byte{0x22}, 32)
)

type privacyOpts struct {
	webhookURL       string
	smsc             string
	key              []byte // nil: encryption off
	contentRetention string
	logLevel         string
	tls              bool
	caFile           string
}

func writePrivacyConfig(t *testing.T, dir string, o privacyOpts) string {
	t.Helper()
	privacy := `{encryption: "off"}`
	if o.key != nil {
		privacy = fmt.Sprintf(`{encryption_key: %q}`, base64.StdEncoding.EncodeToString(o.key))
	}
	if o.contentRetention != "" {
		privacy = strings.TrimSuffix(privacy, "}") + ", content_retention: " + o.contentRetention + "}"
	}
	if o.logLevel == "" {
		o.logLevel = "warn"
	}
	smpp := fmt.Sprintf(`{address: "%s", system_id: gw, password: secret, binds: 1, tps: 1000, window: 20, enquire_link: 5s, response_timeout: 5s`, o.smsc)
	if o.tls {
		smpp += fmt.Sprintf(`, tls: true, ca_file: %q`, o.caFile)
	}
	smpp += "}"
	cfg := fmt.Sprintf(`
listen: 127.0.0.1:0
database: sqlite:%s
api_keys:
  - {name: backend, key: %s}
webhook: {url: %q, secret: %s}
senders:
  - {name: acme, sms_source: ACME, default_policy: sms}
policies:
  - {name: sms, steps: [{channel: sms}]}
carriers:
  - name: sim-fr
    prefixes: ["+33"]
    smpp: %s
privacy: %s
log: {level: %s}
`, filepath.Join(dir, "gw.db"), apiKey, o.webhookURL, webhookSecret, smpp, privacy, o.logLevel)
	path := filepath.Join(dir, "gateway.yaml")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	return path
}

// rawFiles returns the bytes of the database file and of its WAL and
// shared-memory files: what a copy of the disk would show.
func rawFiles(t *testing.T, dir string) []byte {
	t.Helper()
	var all []byte
	for _, name := range []string{"gw.db", "gw.db-wal", "gw.db-shm"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if os.IsNotExist(err) {
			continue
		}
		require.NoError(t, err)
		all = append(all, b...)
	}
	require.NotEmpty(t, all)
	return all
}

func openRaw(t *testing.T, dir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(dir, "gw.db")+"?mode=ro&_busy_timeout=5000")
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func countRows(t *testing.T, db *sql.DB, q string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow(q, args...).Scan(&n))
	return n
}

// mo injects a reply and waits for its event at the back end.
func mo(t *testing.T, smsc *sim.Sim, hook *webhook, from, text string) {
	t.Helper()
	require.NoError(t, smsc.InjectMO(sim.MO{From: from, To: "ACME", Text: text}))
	require.Eventually(t, func() bool {
		return len(hook.find(func(e map[string]any) bool { return e["type"] == "message.inbound" && e["text"] == text })) == 1
	}, 10*time.Second, 20*time.Millisecond, "reply %q reaches the back end", text)
}

// Retention 0s: once a message is final its content goes, as does a reply's
// text, without waiting for anything else.
func TestPrivacyRetentionZero(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	smsc := startSim(t)
	hook := newWebhook(t)
	gw := startGateway(t, writePrivacyConfig(t, dir, privacyOpts{webhookURL: hook.srv.URL, smsc: smsc.SMPPAddr(), key: key1, contentRetention: "0s"}))
	var ids []string
	for i := range 3 {
		id := gw.send(alice, fmt.Sprintf("one-time code %d", 100000+i), nil)
		ids = append(ids, id)
	}
	for _, id := range ids {
		gw.waitStatus(id, "delivered", 15*time.Second)
	}
	mo(t, smsc, hook, alice, "thanks for the code")

	db := openRaw(t, dir)
	require.Eventually(t, func() bool {
		return countRows(t, db, `SELECT COUNT(*) FROM messages WHERE content IS NOT NULL`) == 0 &&
			countRows(t, db, `SELECT COUNT(*) FROM inbound WHERE content IS NOT NULL`) == 0 &&
			countRows(t, db, `SELECT COUNT(*) FROM events WHERE type <> 'message.status'`) == 0
	}, 10*time.Second, 50*time.Millisecond, "content rows are dropped after the final status")
	require.Equal(t, 3, countRows(t, db, `SELECT COUNT(*) FROM messages WHERE content_purged_at > 0 AND status = 'delivered'`))
	// The metadata stays, and the message still answers.
	msg := gw.waitStatus(ids[0], "delivered", time.Second)
	require.Equal(t, "sms", msg["channel"])
}

// A database file opened directly shows no plaintext of a sent message, of
// a reply, or of the events carrying them.
func TestPrivacyNoPlaintextAtRest(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	smsc := startSim(t)
	hook := newWebhook(t)
	gw := startGateway(t, writePrivacyConfig(t, dir, privacyOpts{webhookURL: hook.srv.URL, smsc: smsc.SMPPAddr(), key: key1}))
	const sent, reply = "Rendezvous at the blue door 4417", "pineapple under the mat"
	id := gw.send(alice, sent, map[string]any{"conversation_id": "thread-9"})
	gw.waitStatus(id, "delivered", 15*time.Second)
	mo(t, smsc, hook, alice, reply)

	check := func(when string) {
		raw := rawFiles(t, dir)
		for _, s := range []string{sent, reply, "blue door", "pineapple"} {
			require.False(t, bytes.Contains(raw, []byte(s)), "%q in the database files %s", s, when)
			require.False(t, bytes.Contains(raw, utf16(s)), "%q (UTF-16) in the database files %s", s, when)
		}
		db := openRaw(t, dir)
		require.Equal(t, 0, countRows(t, db, `SELECT COUNT(*) FROM messages WHERE content_key = '' OR content IS NULL`), when)
		require.Equal(t, 0, countRows(t, db, `SELECT COUNT(*) FROM inbound WHERE content_key = ''`), when)
		require.Equal(t, 0, countRows(t, db, `SELECT COUNT(*) FROM events WHERE content_key = ''`), when)
		require.NoError(t, db.Close())
	}
	check("while the gateway runs")
	gw.stop()
	check("after it stopped")

	// The key alone opens it again.
	st := openStoreWith(t, dir, key1)
	defer st.Close()
	m, err := st.Message(context.Background(), unify.MessageID(id))
	require.NoError(t, err)
	require.Equal(t, sent, m.Content.Text)
}

func utf16(s string) []byte {
	var b []byte
	for _, r := range s {
		b = append(b, byte(r), 0)
	}
	return b
}

// openStoreWith opens the file as the gateway would with keys; the caller
// closes it (Close is not idempotent).
func openStoreWith(t *testing.T, dir string, keys ...[]byte) *sqlstore.Store {
	t.Helper()
	sealer, err := seal.New(keys[0], keys[1:]...)
	require.NoError(t, err)
	st, err := sqlstore.Open(context.Background(), "sqlite:"+filepath.Join(dir, "gw.db"), sqlstore.Options{Sealer: sealer})
	require.NoError(t, err)
	return st
}

// Erasure removes every trace of a number, answers with counts, emits
// subject.erased once, and a second call is a no-op. The gateway logs at
// debug level throughout: the log holds no full number and no content.
func TestPrivacyErasureAndLogs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	smsc := startSim(t)
	hook := newWebhook(t)
	gw := startGateway(t, writePrivacyConfig(t, dir, privacyOpts{webhookURL: hook.srv.URL, smsc: smsc.SMPPAddr(), key: key1, logLevel: "debug"}))
	texts := []string{"Your table for two is booked", "Reminder: table at 8pm", "Hello Bob, parcel is out"}
	a1 := gw.send(alice, texts[0], map[string]any{"conversation_id": "alice-thread", "client_ref": "order-1"})
	a2 := gw.send(alice, texts[1], map[string]any{"conversation_id": "alice-thread"})
	b1 := gw.send(bob, texts[2], map[string]any{"conversation_id": "bob-thread"})
	for _, id := range []string{a1, a2, b1} {
		gw.waitStatus(id, "delivered", 15*time.Second)
	}
	unrouted := gw.send("+447911123456", "nowhere to go", nil) // fails: "no carrier serves +44…"
	gw.waitStatus(unrouted, "failed", 15*time.Second)
	const aliceReply, bobReply = "see you at eight sharp", "thanks bob here"
	mo(t, smsc, hook, alice, aliceReply)
	mo(t, smsc, hook, bob, bobReply)
	require.NoError(t, smsc.InjectMO(sim.MO{From: alice, To: "ACME", Text: "STOP"}))
	require.Eventually(t, func() bool {
		return len(hook.find(func(e map[string]any) bool { return e["type"] == "consent.changed" })) == 1
	}, 10*time.Second, 20*time.Millisecond)

	code, out := gw.do(http.MethodDelete, "/v1/subjects/"+alice, nil)
	require.Equal(t, http.StatusOK, code, "%v", out)
	require.Equal(t, true, out["erased"])
	require.Equal(t, alice, out["phone"])
	hash := out["number_hash"].(string)
	counts := out["counts"].(map[string]any)
	require.EqualValues(t, 2, counts["messages"])
	require.EqualValues(t, 2, counts["inbound"], "the reply and the STOP")
	require.EqualValues(t, 1, counts["conversations"])
	require.EqualValues(t, 1, counts["consents"])

	require.Eventually(t, func() bool {
		return len(hook.find(func(e map[string]any) bool { return e["type"] == "subject.erased" })) == 1
	}, 10*time.Second, 20*time.Millisecond)
	ev := hook.find(func(e map[string]any) bool { return e["type"] == "subject.erased" })[0]
	require.Equal(t, alice, ev["number"])
	require.Equal(t, hash, ev["number_hash"])
	require.Equal(t, counts, ev["counts"])

	// A second call is a no-op: nothing left, no second event.
	code, again := gw.do(http.MethodDelete, "/v1/subjects/"+alice, nil)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, false, again["erased"])
	for k, v := range again["counts"].(map[string]any) {
		require.EqualValues(t, 0, v, k)
	}
	// Accounting still sees the messages, under the pseudonym.
	msg := gw.waitStatus(a1, "delivered", time.Second)
	require.Equal(t, "sms", msg["channel"])
	time.Sleep(300 * time.Millisecond) // room for a wrong second event
	require.Len(t, hook.find(func(e map[string]any) bool { return e["type"] == "subject.erased" }), 1)

	gw.stop()
	db := openRaw(t, dir)
	require.Equal(t, 2, countRows(t, db, `SELECT COUNT(*) FROM messages WHERE to_number = ?`, "erased:"+hash))
	require.Equal(t, 1, countRows(t, db, `SELECT COUNT(*) FROM messages WHERE to_number = ?`, bob), "another number is untouched")
	require.Equal(t, 1, countRows(t, db, `SELECT COUNT(*) FROM messages WHERE to_number = ? AND status IN ('sent', 'delivered', 'read')`, bob),
		"his conversation stays")
	require.NoError(t, db.Close())
	raw := rawFiles(t, dir)
	for _, s := range []string{alice, strings.TrimPrefix(alice, "+"), "alice-thread"} {
		if i := bytes.Index(raw, []byte(s)); i >= 0 {
			t.Logf("found in: %q", raw[max(0, i-100):min(len(raw), i+100)])
		}
		require.False(t, bytes.Contains(raw, []byte(s)), "%q is still in the database files", s)
	}
	require.True(t, bytes.Contains(raw, []byte(bob)), "the scan can find a number")

	// The log scan: the whole run, at debug level.
	logs := gw.stderr.String()
	require.Contains(t, logs, "level=DEBUG", "debug logging was on")
	require.Contains(t, logs, "no carrier serves +44791112****", "numbers are logged masked")
	for _, leak := range append(texts, alice, bob, "33612345678", "33698765432", "447911123456", aliceReply, bobReply, apiKey, webhookSecret,
		base64.StdEncoding.EncodeToString(key1)) {
		require.NotContains(t, logs, leak)
	}
}

// gateway rotate-key re-seals every row under the new key; afterwards the
// new key alone reads every message, reply and event.
func TestPrivacyKeyRotation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	smsc := startSim(t)
	hook := newWebhook(t)
	o := privacyOpts{webhookURL: hook.srv.URL, smsc: smsc.SMPPAddr(), key: key1}
	cfg1 := writePrivacyConfig(t, dir, o)
	gw := startGateway(t, cfg1)
	want := map[string]string{}
	for i := range 5 {
		text := fmt.Sprintf("message %d before the rotation", i)
		want[gw.send(alice, text, nil)] = text
	}
	for id := range want {
		gw.waitStatus(id, "delivered", 15*time.Second)
	}
	mo(t, smsc, hook, alice, "a reply before the rotation")
	gw.stop()

	o.key = key2
	cfg2 := writePrivacyConfig(t, dir, o)
	rotate := func(env ...string) (int, string, string) {
		cmd := exec.Command(gatewayBin, "rotate-key", "--config", cfg2, "--batch", "2")
		cmd.Env = append(os.Environ(), env...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			require.NoError(t, err)
		}
		return code, stdout.String(), stderr.String()
	}
	code, _, stderr := rotate()
	require.Equal(t, 1, code, "without the old key rows cannot be opened")
	require.Contains(t, stderr, "--old-key")
	code, _, stderr = rotate("GATEWAY_OLD_CONTENT_KEY=" + base64.StdEncoding.EncodeToString(key2))
	require.Equal(t, 2, code, stderr)
	code, stdout, stderr := rotate("GATEWAY_OLD_CONTENT_KEY=" + base64.StdEncoding.EncodeToString(key1))
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "re-sealed")
	require.Contains(t, stdout, "messages 5")
	require.NotContains(t, stdout+stderr, base64.StdEncoding.EncodeToString(key1))
	code, stdout, _ = rotate("GATEWAY_OLD_CONTENT_KEY=" + base64.StdEncoding.EncodeToString(key1))
	require.Equal(t, 0, code)
	require.Contains(t, stdout, "re-sealed 0 rows", "a second run finds nothing to do")

	st := openStoreWith(t, dir, key2)
	left, err := st.Unsealed(context.Background())
	require.NoError(t, err)
	for table, n := range left {
		require.Zero(t, n, table)
	}
	for id, text := range want {
		m, err := st.Message(context.Background(), unify.MessageID(id))
		require.NoError(t, err)
		require.Equal(t, text, m.Content.Text)
	}
	require.NoError(t, st.Close())

	// The gateway runs on the new key alone and every message answers.
	gw = startGateway(t, cfg2)
	for id := range want {
		gw.waitStatus(id, "delivered", 5*time.Second)
	}
}

// SMPP over TLS: the gateway binds through a TLS terminator in front of the
// simulated SMSC, verifying its certificate against the configured CA.
func TestPrivacyTLSBind(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	smsc := startSim(t)
	hook := newWebhook(t)
	caFile, tlsAddr := tlsProxy(t, dir, smsc.SMPPAddr())
	gw := startGateway(t, writePrivacyConfig(t, dir, privacyOpts{webhookURL: hook.srv.URL, smsc: tlsAddr, key: key1, tls: true, caFile: caFile}))
	id := gw.send(alice, "over an encrypted link", nil)
	msg := gw.waitStatus(id, "delivered", 15*time.Second)
	require.Equal(t, map[string]any{"end_to_end": false, "transport": "tls"}, msg["protection"])
	seen := false
	for _, m := range smsc.Messages() {
		seen = seen || m.Text == "over an encrypted link"
	}
	require.True(t, seen)
	require.Eventually(t, func() bool {
		evs := hook.find(func(e map[string]any) bool { return e["message_id"] == id && e["status"] == "delivered" })
		return len(evs) == 1 && fmt.Sprint(evs[0]["protection"]) == fmt.Sprint(map[string]any{"end_to_end": false, "transport": "tls"})
	}, 10*time.Second, 20*time.Millisecond)
}

// tlsProxy terminates TLS with a certificate for 127.0.0.1 signed by a CA
// made for the test, and relays each connection to the plain SMPP port.
func tlsProxy(t *testing.T, dir, backend string) (caFile, addr string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test SMSC CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	caCert, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "smsc"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &leafKey.PublicKey, caKey)
	require.NoError(t, err)
	caFile = filepath.Join(dir, "smsc-ca.pem")
	require.NoError(t, os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600))

	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{MinVersion: tls.VersionTLS12,
		Certificates: []tls.Certificate{{Certificate: [][]byte{leafDER}, PrivateKey: leafKey}}})
	require.NoError(t, err)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", backend)
			if err != nil {
				_ = c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, b)
			mu.Unlock()
			wg.Add(2)
			go func() { defer wg.Done(); _, _ = io.Copy(b, c); _ = b.Close() }()
			go func() { defer wg.Done(); _, _ = io.Copy(c, b); _ = c.Close() }()
		}
	}()
	return caFile, ln.Addr().String()
}
