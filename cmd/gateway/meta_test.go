package main_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"gateway/carriers/sim"
)

// TestMessengerRoundTrip: an existing Messenger bot reaches a phone-only
// user by changing its base URL. Its generic template with quick replies
// leaves as an SMS with numbered replies to a non-RCS number, and the
// phone's "1" comes back in the Messenger webhook shape with the first
// quick reply's payload, signed with X-Hub-Signature-256.
func TestMessengerRoundTrip(t *testing.T) {
	t.Parallel()
	smsc := startSim(t)
	var mu sync.Mutex
	var bodies [][]byte
	bad := 0
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mac := hmac.New(sha256.New, []byte(webhookSecret))
		mac.Write(b)
		mu.Lock()
		defer mu.Unlock()
		if r.Header.Get("X-Hub-Signature-256") != "sha256="+hex.EncodeToString(mac.Sum(nil)) {
			bad++
			w.WriteHeader(http.StatusForbidden)
			return
		}
		bodies = append(bodies, b)
	}))
	t.Cleanup(hook.Close)

	dir := t.TempDir()
	listen := freePort(t)
	const botKey = "messenger-bot-key-0123456789"
	cfg := fmt.Sprintf(`
listen: %s
database: sqlite:%s
api_keys:
  - {name: bot, key: %s, dialect: messenger, sender: acme}
webhook: {url: %s, secret: %s}
senders: [{name: acme, sms_source: ACME, default_policy: default}]
carriers:
  - name: sim-fr
    prefixes: ["+33"]
    smpp: {address: "%s", system_id: gw, password: secret}
privacy: {encryption: "off"}
log: {level: warn}
`, listen, filepath.Join(dir, "gw.db"), botKey, hook.URL, webhookSecret, smsc.SMPPAddr())
	path := filepath.Join(dir, "gateway.yaml")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	gw := startGateway(t, path)

	const phone = "+33634343434"
	body := `{"recipient":{"phone_number":"` + phone + `"},"messaging_type":"RESPONSE","message":{
		"attachment":{"type":"template","payload":{"template_type":"generic","elements":[
			{"title":"Red hat","subtitle":"Wool"},{"title":"Green hat","subtitle":"Cotton"}]}},
		"quick_replies":[
			{"content_type":"text","title":"Red","payload":"COLOR_RED"},
			{"content_type":"text","title":"Green","payload":"COLOR_GREEN"}]}}`
	req, _ := http.NewRequest(http.MethodPost, gw.url+"/v1/messenger/messages?access_token="+botKey, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var answer map[string]string
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&answer))
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "%v", answer)
	require.NotEmpty(t, answer["message_id"])

	require.Eventually(t, func() bool { return len(smsTo(smsc, phone)) == 1 }, 30*time.Second, 10*time.Millisecond)
	require.Contains(t, smsTo(smsc, phone)[0], "Reply 1 for Red, 2 for Green")
	// The person answers once the gateway has recorded the send: a reply
	// that overtakes that commit (the SMSC has the message a moment
	// earlier) finds no conversation to go to.
	require.Eventually(t, func() bool {
		req, _ := http.NewRequest(http.MethodGet, gw.url+"/v1/messages/"+answer["message_id"], nil)
		req.Header.Set("Authorization", "Bearer "+botKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return m["status"] == "sent" || m["status"] == "delivered"
	}, 30*time.Second, 10*time.Millisecond, "the send is recorded")

	require.NoError(t, smsc.InjectMO(sim.MO{From: phone, To: "ACME", Text: "1"}))
	var reply map[string]any
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, b := range bodies {
			if bytes.Contains(b, []byte(`"quick_reply"`)) {
				require.NoError(t, json.Unmarshal(b, &reply))
				return true
			}
		}
		return false
	}, 30*time.Second, 20*time.Millisecond)
	require.Equal(t, "page", reply["object"])
	messaging := reply["entry"].([]any)[0].(map[string]any)["messaging"].([]any)[0].(map[string]any)
	msg := messaging["message"].(map[string]any)
	require.Equal(t, "COLOR_RED", msg["quick_reply"].(map[string]any)["payload"])
	require.Equal(t, "1", msg["text"])
	mu.Lock()
	require.Zero(t, bad)
	mu.Unlock()
}
