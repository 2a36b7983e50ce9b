package main_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"gateway/carriers/sim"
)

const rbmSecret = "rbm-client-token"

// rich is a gateway with all three channels against one simulated carrier
// (SMSC, RBM API and MMSC), a signed-event webhook and a media server.
type rich struct {
	smsc  *sim.Sim
	hook  *webhook
	gw    *gatewayProc
	media string // URL of a JPEG
	cfg   string
}

func setupRich(t *testing.T) *rich {
	t.Helper()
	r := &rich{hook: newWebhook(t)}
	r.smsc = sim.New(sim.Config{SMPPAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", SystemID: "gw", Password: "secret",
		AutoReceipts: true, ReceiptDelay: 20 * time.Millisecond, RCSNumbers: []string{"+3361*"}, RBMClientToken: rbmSecret,
		MM7AutoReport: 100 * time.Millisecond, MM7VASPID: "acme"})
	require.NoError(t, r.smsc.Start())
	t.Cleanup(func() { _ = r.smsc.Close() })

	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for x := 0; x < 64; x++ {
		img.Set(x, x%48, color.RGBA{R: 200, A: 255})
	}
	var jpg bytes.Buffer
	require.NoError(t, jpeg.Encode(&jpg, img, nil))
	media := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "image/jpeg")
		_, _ = w.Write(jpg.Bytes())
	}))
	t.Cleanup(media.Close)
	r.media = media.URL + "/box.jpg"

	dir := t.TempDir()
	listen := freePort(t)
	cfg := fmt.Sprintf(`
listen: %[1]s
public_url: http://%[1]s
database: sqlite:%[2]s
api_keys: [{name: backend, key: %[3]s}]
webhook: {url: %[4]s, secret: %[5]s}
senders:
  - {name: acme, sms_source: ACME, rbm_agent: acme_agent, default_policy: default}
carriers:
  - name: sim-fr
    prefixes: ["+33"]
    smpp: {address: "%[6]s", system_id: gw, password: secret, tps: 2000, window: 50}
    rbm: {base_url: "%[7]s", token: %[8]s, webhook_secret: %[9]s}
    mm7: {url: "%[7]s/mm7", vasp_id: acme, vas_id: gateway}
media: {allow_loopback: true}
privacy: {encryption: "off"}
log: {level: warn}
policies:
  - name: default
    steps: [{channel: rcs, timeout: 60s}, {channel: mms, timeout: 10m}, {channel: sms}]
  - name: quick
    steps: [{channel: rcs, timeout: 1s}, {channel: mms, timeout: 10m}, {channel: sms}]
  - name: otp
    steps: [{channel: rcs, timeout: 1s}, {channel: sms}]
    on_revoke_failure: send_anyway
  - name: promo
    steps: [{channel: rcs, timeout: 1s}, {channel: sms}]
    on_revoke_failure: suppress
  - name: slow
    steps: [{channel: rcs, timeout: 4s}, {channel: sms}]
  - name: rcsonly
    steps: [{channel: rcs}]
  - name: weblink
    steps: [{channel: sms}]
    sms: {web_link: true, number_replies: true}
`, listen, filepath.Join(dir, "gw.db"), apiKey, r.hook.srv.URL, webhookSecret, r.smsc.SMPPAddr(), r.smsc.HTTPURL(),
		sim.DefaultRBMToken, rbmSecret)
	r.cfg = filepath.Join(dir, "gateway.yaml")
	require.NoError(t, os.WriteFile(r.cfg, []byte(cfg), 0o600))
	r.smsc.SetRBMCallback("http://"+listen+"/webhooks/rbm/sim-fr", rbmSecret)
	r.smsc.SetMM7Callback("http://" + listen + "/webhooks/mm7/sim-fr")
	r.gw = startGateway(t, r.cfg)
	return r
}

func (r *rich) sendJSON(t *testing.T, body string) string {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &m))
	code, out := r.gw.do(http.MethodPost, "/v1/messages", m)
	require.Equal(t, http.StatusAccepted, code, "%v", out)
	return out["id"].(string)
}

func (r *rich) rbmMessage(t *testing.T, phone string) sim.RBMMessage {
	t.Helper()
	var found sim.RBMMessage
	require.Eventually(t, func() bool {
		for _, m := range r.smsc.RBMMessages() {
			if m.Phone == phone {
				found = m
				return true
			}
		}
		return false
	}, 30*time.Second, 10*time.Millisecond)
	return found
}

func (r *rich) statuses(id string) []string {
	var out []string
	for _, e := range r.hook.find(func(e map[string]any) bool { return e["message_id"] == id }) {
		out = append(out, e["status"].(string))
	}
	return out
}

func (r *rich) inbound(t *testing.T, pred func(map[string]any) bool) map[string]any {
	t.Helper()
	var ev map[string]any
	require.Eventually(t, func() bool {
		evs := r.hook.find(func(e map[string]any) bool { return e["type"] == "message.inbound" && pred(e) })
		if len(evs) > 0 {
			ev = evs[0]
			return true
		}
		return false
	}, 30*time.Second, 10*time.Millisecond)
	return ev
}

func smsTo(s *sim.Sim, dest string) []string {
	var out []string
	for _, m := range s.Messages() {
		if m.Dest == strings.TrimPrefix(dest, "+") {
			out = append(out, m.Text)
		}
	}
	return out
}

const cardWithThreeSuggestions = `{"to":"%s","from":"acme","policy":"%s","conversation_id":"%s","content":{"card":{
  "title":"Order 1001","description":"2 items",%s
  "suggestions":[{"type":"reply","text":"Track","postback":"track"},
                 {"type":"open_url","text":"Website","url":"https://example.com","postback":"web"},
                 {"type":"dial","text":"Call us","phone":"+33100000000","postback":"call"}]}}}`

// TestRCSEndToEnd: a card with three suggestions goes out as an RBM agent
// message; a tap comes back with its postback; DELIVERED then READ become
// delivered then read; a number that is not RCS-capable is answered from
// the cache the second time; bad callbacks change nothing.
func TestRCSEndToEnd(t *testing.T) {
	t.Parallel()
	r := setupRich(t)
	const phone = "+33611111111"
	id := r.sendJSON(t, fmt.Sprintf(cardWithThreeSuggestions, phone, "default", "thread-rcs", ""))
	msg := r.gw.waitStatus(id, "sent", 30*time.Second)
	att := msg["attempts"].([]any)[0].(map[string]any)
	require.Equal(t, "rcs", att["channel"])

	sent := r.rbmMessage(t, phone)
	require.Equal(t, att["id"], sent.MessageID, "our attempt id is the RBM messageId")
	require.Equal(t, "acme_agent", sent.AgentID)
	var body struct {
		ContentMessage struct {
			RichCard struct {
				StandaloneCard struct {
					CardOrientation string `json:"cardOrientation"`
					CardContent     struct {
						Title, Description string
						Suggestions        []map[string]map[string]any
					} `json:"cardContent"`
				} `json:"standaloneCard"`
			} `json:"richCard"`
		} `json:"contentMessage"`
	}
	require.NoError(t, json.Unmarshal(sent.Body, &body))
	card := body.ContentMessage.RichCard.StandaloneCard
	require.Equal(t, "Order 1001", card.CardContent.Title)
	require.Equal(t, "2 items", card.CardContent.Description)
	require.Len(t, card.CardContent.Suggestions, 3)
	require.Equal(t, map[string]any{"text": "Track", "postbackData": "track"}, card.CardContent.Suggestions[0]["reply"])
	require.Equal(t, "Website", card.CardContent.Suggestions[1]["action"]["text"])
	require.Equal(t, "web", card.CardContent.Suggestions[1]["action"]["postbackData"])
	require.Equal(t, map[string]any{"url": "https://example.com"}, card.CardContent.Suggestions[1]["action"]["openUrlAction"])
	require.Equal(t, map[string]any{"phoneNumber": "+33100000000"}, card.CardContent.Suggestions[2]["action"]["dialAction"])

	require.NoError(t, r.smsc.RBMDeliver(sent.MessageID))
	r.gw.waitStatus(id, "delivered", 30*time.Second)
	require.NoError(t, r.smsc.RBMRead(sent.MessageID))
	r.gw.waitStatus(id, "read", 30*time.Second)
	require.Eventually(t, func() bool {
		s := r.statuses(id)
		return len(s) == 3 && s[0] == "sent" && s[1] == "delivered" && s[2] == "read"
	}, 30*time.Second, 10*time.Millisecond, "events sent, delivered, read: %v", r.statuses(id))
	ev := r.hook.find(func(e map[string]any) bool { return e["message_id"] == id && e["status"] == "read" })[0]
	require.Equal(t, map[string]any{"end_to_end": false, "transport": "tls"}, ev["protection"])

	require.NoError(t, r.smsc.RBMTap(sent.MessageID, "track"))
	in := r.inbound(t, func(e map[string]any) bool { return e["channel"] == "rcs" })
	require.Equal(t, "track", in["postback"])
	require.Equal(t, "thread-rcs", in["conversation_id"])
	require.Equal(t, id, in["in_reply_to"])
	require.Equal(t, phone, in["from"])

	// Content RBM cannot carry is refused at the API, field named, when
	// the policy has no other channel; with a fallback it is accepted.
	long := strings.Repeat("é", 2000) // 4000 bytes: over RBM's 3072
	code, out := r.gw.do(http.MethodPost, "/v1/messages", map[string]any{"to": phone, "from": "acme", "policy": "rcsonly", "content": map[string]any{"text": long}})
	require.Equal(t, http.StatusBadRequest, code, "%v", out)
	require.Equal(t, "content.text", out["errors"].([]any)[0].(map[string]any)["field"])
	code, _ = r.gw.do(http.MethodPost, "/v1/messages", map[string]any{"to": phone, "from": "acme", "content": map[string]any{"text": long}})
	require.Equal(t, http.StatusAccepted, code)

	// Not RCS-capable: the RBM API is asked once, then the cache answers.
	const plain = "+33622222222"
	for i := 0; i < 2; i++ {
		code, capa := r.gw.do(http.MethodGet, "/v1/capabilities/"+url.PathEscape(plain), nil)
		require.Equal(t, http.StatusOK, code, "%v", capa)
		require.Equal(t, false, capa["rcs"])
		require.Equal(t, i == 1, capa["cached"])
	}
	require.Equal(t, 1, r.smsc.RBMCapabilityCalls(plain))

	// A callback with a wrong signature is refused and changes nothing; a
	// malformed one is a 400.
	data := []byte(`{"senderPhoneNumber":"+33611111111","messageId":"fake-1","sendTime":"2026-11-25T12:00:00Z","agentId":"acme_agent","text":"forged"}`)
	envelope, _ := json.Marshal(map[string]any{"message": map[string]any{"data": base64.StdEncoding.EncodeToString(data)}})
	post := func(sig string, body []byte) int {
		req, _ := http.NewRequest(http.MethodPost, r.gw.url+"/webhooks/rbm/sim-fr", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if sig != "" {
			req.Header.Set("X-Goog-Signature", sig)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusUnauthorized, post("bm90IHRoZSBzaWduYXR1cmU=", envelope))
	require.Equal(t, http.StatusBadRequest, post("", []byte("{not json")))
	mac := hmac.New(sha512.New, []byte(rbmSecret))
	mac.Write(data)
	require.Equal(t, http.StatusOK, post(base64.StdEncoding.EncodeToString(mac.Sum(nil)), envelope), "the same callback, signed")
	r.inbound(t, func(e map[string]any) bool { return e["text"] == "forged" })
	time.Sleep(200 * time.Millisecond)
	require.Len(t, r.hook.find(func(e map[string]any) bool { return e["text"] == "forged" }), 1, "the refused copy changed nothing")
}

// TestFallbackPaths walks every path of the fallback engine against the
// simulated carrier.
func TestFallbackPaths(t *testing.T) {
	t.Parallel()
	r := setupRich(t)

	t.Run("not RCS-capable goes to SMS at once, numbered replies route back", func(t *testing.T) {
		const phone = "+33623456789"
		id := r.sendJSON(t, fmt.Sprintf(cardWithThreeSuggestions, phone, "default", "thread-sms", ""))
		msg := r.gw.waitStatus(id, "delivered", 30*time.Second)
		atts := msg["attempts"].([]any)
		require.Len(t, atts, 2)
		require.Equal(t, "failed", atts[0].(map[string]any)["status"])
		require.Equal(t, "sms", atts[1].(map[string]any)["channel"])
		texts := smsTo(r.smsc, phone)
		require.Len(t, texts, 1)
		require.Contains(t, texts[0], "Order 1001")
		require.Contains(t, texts[0], "1 for Track, 2 for Website, 3 for Call us")
		require.NoError(t, r.smsc.InjectMO(sim.MO{From: phone, To: "ACME", Text: "2"}))
		in := r.inbound(t, func(e map[string]any) bool { return e["from"] == phone })
		require.Equal(t, "web", in["postback"])
		require.Equal(t, "thread-sms", in["conversation_id"])
	})

	t.Run("RCS not delivered in time is revoked, then MMS", func(t *testing.T) {
		const phone = "+33612121212"
		r.smsc.SetRBMOffline(phone, true)
		id := r.sendJSON(t, fmt.Sprintf(cardWithThreeSuggestions, phone, "quick", "thread-mms", `"media":{"url":"`+r.media+`","mime_type":"image/jpeg"},`))
		msg := r.gw.waitStatus(id, "delivered", 45*time.Second)
		atts := msg["attempts"].([]any)
		require.Len(t, atts, 2)
		require.Equal(t, "revoked", atts[0].(map[string]any)["status"])
		require.Equal(t, "mms", atts[1].(map[string]any)["channel"])
		require.Equal(t, "delivered", atts[1].(map[string]any)["status"])
		require.Equal(t, sim.RBMStatusRevoked, r.rbmMessage(t, phone).Status)
		var mms *sim.MMS
		for _, m := range r.smsc.MMSMessages() {
			m := m
			mms = &m
		}
		require.NotNil(t, mms)
		require.Contains(t, mms.SMIL, "<smil")
		require.Empty(t, smsTo(r.smsc, phone), "no SMS")
		require.Contains(t, r.statuses(id), "switching")

		// The phone answers the MMS by MMS: "2" picks the second suggestion.
		require.NoError(t, r.smsc.MM7DeliverMO(phone, "ACME", "2", nil))
		in := r.inbound(t, func(e map[string]any) bool { return e["from"] == phone && e["channel"] == "mms" })
		require.Equal(t, "web", in["postback"])
		require.Equal(t, "thread-mms", in["conversation_id"])
	})

	t.Run("revoke refused as already delivered: suppress sends nothing more", func(t *testing.T) {
		const phone = "+33613131313"
		id := r.alreadyDelivered(t, phone, "promo")
		msg := r.gw.waitStatus(id, "delivered", 30*time.Second)
		require.Contains(t, msg["attempts"].([]any)[0].(map[string]any)["error"], "revocation refused")
		time.Sleep(300 * time.Millisecond)
		require.Empty(t, smsTo(r.smsc, phone))
	})

	t.Run("revoke refused as already delivered: send_anyway sends the SMS", func(t *testing.T) {
		const phone = "+33614141414"
		id := r.alreadyDelivered(t, phone, "otp")
		msg := r.gw.waitStatus(id, "delivered", 30*time.Second)
		require.Equal(t, "sms", msg["channel"])
		require.Contains(t, msg["attempts"].([]any)[0].(map[string]any)["error"], "revocation refused")
		require.Len(t, smsTo(r.smsc, phone), 1)
	})

	t.Run("web fallback page reply reaches the back end as the postback", func(t *testing.T) {
		const phone = "+33624242424"
		id := r.sendJSON(t, fmt.Sprintf(cardWithThreeSuggestions, phone, "weblink", "thread-web", ""))
		r.gw.waitStatus(id, "delivered", 30*time.Second)
		texts := smsTo(r.smsc, phone)
		require.Len(t, texts, 1)
		link := regexp.MustCompile(`https?://\S+/m/[A-Za-z0-9_-]+`).FindString(texts[0])
		require.NotEmpty(t, link, texts[0])
		resp, err := http.Get(link)
		require.NoError(t, err)
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Contains(t, string(page), "Order 1001")
		resp, err = http.PostForm(link, url.Values{"suggestion": {"0"}})
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		in := r.inbound(t, func(e map[string]any) bool { return e["from"] == phone })
		require.Equal(t, "track", in["postback"])
		require.Equal(t, "thread-web", in["conversation_id"])
	})

	t.Run("STOP blocks the next send and START lifts it", func(t *testing.T) {
		const phone = "+33625252525"
		id := r.gw.send(phone, "first", nil)
		r.gw.waitStatus(id, "delivered", 30*time.Second)
		require.NoError(t, r.smsc.InjectMO(sim.MO{From: phone, To: "ACME", Text: "STOP"}))
		require.Eventually(t, func() bool {
			return len(r.hook.find(func(e map[string]any) bool { return e["type"] == "consent.changed" && e["number"] == phone })) == 1
		}, 30*time.Second, 10*time.Millisecond)
		blocked := r.gw.send(phone, "second", nil)
		msg := r.gw.waitStatus(blocked, "failed", 30*time.Second)
		require.Contains(t, msg["error"], "opted out")
		require.NoError(t, r.smsc.InjectMO(sim.MO{From: phone, To: "ACME", Text: "START"}))
		require.Eventually(t, func() bool {
			return len(r.hook.find(func(e map[string]any) bool { return e["type"] == "consent.changed" && e["number"] == phone })) == 2
		}, 30*time.Second, 10*time.Millisecond)
		again := r.gw.send(phone, "third", nil)
		r.gw.waitStatus(again, "delivered", 30*time.Second)
	})
}

// alreadyDelivered sends a text under policy to an RCS phone whose delivery
// the gateway never hears of (the callback goes nowhere), so that revoking
// at the timeout is refused as already delivered.
func (r *rich) alreadyDelivered(t *testing.T, phone, policy string) string {
	t.Helper()
	r.smsc.SetRBMOffline(phone, true)
	id := r.sendJSON(t, fmt.Sprintf(`{"to":"%s","from":"acme","policy":"%s","content":{"text":"code 123456"}}`, phone, policy))
	sent := r.rbmMessage(t, phone)
	r.smsc.SetRBMCallback("http://127.0.0.1:1/nowhere", rbmSecret)
	require.NoError(t, r.smsc.RBMDeliver(sent.MessageID))
	u, _ := url.Parse(r.gw.url)
	r.smsc.SetRBMCallback("http://"+u.Host+"/webhooks/rbm/sim-fr", rbmSecret)
	return id
}

// TestTimerSurvivesKill kills the gateway while an RCS step's timeout is
// pending; after the restart the fallback fires, once.
func TestTimerSurvivesKill(t *testing.T) {
	t.Parallel()
	r := setupRich(t)
	const phone = "+33615151515"
	r.smsc.SetRBMOffline(phone, true)
	id := r.sendJSON(t, fmt.Sprintf(`{"to":"%s","from":"acme","policy":"slow","content":{"text":"your code is 4242"}}`, phone))
	r.gw.waitStatus(id, "sent", 30*time.Second)
	r.gw.kill()
	time.Sleep(4 * time.Second) // the timer comes due while nobody runs
	r.gw = startGateway(t, r.cfg)
	msg := r.gw.waitStatus(id, "delivered", 45*time.Second)
	require.Equal(t, "sms", msg["channel"])
	time.Sleep(time.Second)
	require.Len(t, smsTo(r.smsc, phone), 1, "the fallback fired once")
	require.Len(t, msg["attempts"], 2)
}
