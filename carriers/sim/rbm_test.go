package sim_test

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"gateway/carriers/sim"
)

const (
	testToken       = "test-bearer"
	testAgent       = "acme_agent"
	testClientToken = "SJENCPGJESMGUFPY" // rbm.md §8.2 test vector
	rcsPhone        = "+33611111111"     // matches "+3361*"
	smsOnlyPhone    = "+33699999999"
)

// hook is the gateway's side of callbacks: an httptest server that records
// every request and answers with scripted statuses first, then with respond.
type hook struct {
	tb      testing.TB
	srv     *httptest.Server
	mu      sync.Mutex
	reqs    []hookReq
	script  []int
	respond func(r hookReq) (code int, ctype string, body []byte)
}

type hookReq struct {
	header http.Header
	body   []byte
}

func newHook(tb testing.TB, respond func(hookReq) (int, string, []byte), script ...int) *hook {
	tb.Helper()
	h := &hook{tb: tb, script: script, respond: respond}
	if h.respond == nil {
		h.respond = func(hookReq) (int, string, []byte) { return http.StatusOK, "text/plain", nil }
	}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		req := hookReq{header: r.Header.Clone(), body: b}
		h.mu.Lock()
		h.reqs = append(h.reqs, req)
		code := 0
		if len(h.script) > 0 {
			code, h.script = h.script[0], h.script[1:]
		}
		h.mu.Unlock()
		if code != 0 {
			w.WriteHeader(code)
			return
		}
		code, ct, body := h.respond(req)
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(code)
		_, _ = w.Write(body)
	}))
	tb.Cleanup(h.srv.Close)
	return h
}

// wait polls until at least n requests arrived and returns them all.
func (h *hook) wait(n int) []hookReq {
	h.tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		h.mu.Lock()
		got := append([]hookReq(nil), h.reqs...)
		h.mu.Unlock()
		if len(got) >= n {
			return got
		}
		require.True(h.tb, time.Now().Before(deadline), "waited for %d callbacks, got %d", n, len(got))
		time.Sleep(time.Millisecond)
	}
}

func (h *hook) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.reqs)
}

// rbmEvent checks one RBM callback the way the gateway must (rbm.md §8.2):
// HMAC-SHA512 of the decoded data keyed with the client token, then decodes
// the data. The HMAC is computed here, not with sim.RBMSignature.
func rbmEvent(tb testing.TB, r hookReq) (pubsubID string, data map[string]any) {
	tb.Helper()
	require.Equal(tb, "application/json", r.header.Get("Content-Type"))
	var env struct {
		Message struct {
			Data        string `json:"data"`
			MessageID   string `json:"messageId"`
			PublishTime string `json:"publishTime"`
		} `json:"message"`
		Subscription string `json:"subscription"`
	}
	require.NoError(tb, json.Unmarshal(r.body, &env))
	raw, err := base64.StdEncoding.DecodeString(env.Message.Data)
	require.NoError(tb, err)
	mac := hmac.New(sha512.New, []byte(testClientToken))
	mac.Write(raw)
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	require.Equal(tb, want, r.header.Get("X-Goog-Signature"), "signature of %s", raw)
	require.NotEmpty(tb, env.Message.MessageID)
	_, err = time.Parse(time.RFC3339Nano, env.Message.PublishTime)
	require.NoError(tb, err)
	require.NoError(tb, json.Unmarshal(raw, &data))
	return env.Message.MessageID, data
}

// rbmEvents decodes every distinct callback received (retries of one
// Pub/Sub message counted once), in order.
func rbmEvents(tb testing.TB, reqs []hookReq) []map[string]any {
	tb.Helper()
	var out []map[string]any
	seen := map[string]bool{}
	for _, r := range reqs {
		id, d := rbmEvent(tb, r)
		if !seen[id] {
			seen[id] = true
			out = append(out, d)
		}
	}
	return out
}

type rbmBundle struct {
	s    *sim.Sim
	base string
	hook *hook
}

// rbmSetup starts a Sim whose RBM callbacks go to a fresh hook answering
// the scripted statuses first, then 200.
func rbmSetup(tb testing.TB, cfg sim.Config, script ...int) *rbmBundle {
	tb.Helper()
	h := newHook(tb, nil, script...)
	cfg.HTTPAddr = "127.0.0.1:0"
	if cfg.RBMToken == "" {
		cfg.RBMToken = testToken
	}
	if cfg.RCSNumbers == nil {
		cfg.RCSNumbers = []string{"+3361*", "+33700000001"}
	}
	if cfg.RBMAgentID == "" {
		cfg.RBMAgentID = testAgent
	}
	cfg.RBMCallbackURL, cfg.RBMClientToken = h.srv.URL+"/webhooks/rbm/sim", testClientToken
	if cfg.CallbackRetryDelay == 0 {
		cfg.CallbackRetryDelay = 2 * time.Millisecond
	}
	s := start(tb, cfg)
	return &rbmBundle{s: s, base: s.HTTPURL(), hook: h}
}

func newUUID(tb testing.TB) string {
	tb.Helper()
	b := make([]byte, 16)
	_, err := rand.Read(b)
	require.NoError(tb, err)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func rbmDo(tb testing.TB, method, u, token, ctype, body string) (int, []byte) {
	tb.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	require.NoError(tb, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(tb, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(tb, err)
	return resp.StatusCode, b
}

// googleError decodes a Google JSON error body.
func googleError(tb testing.TB, body []byte) (code int, status, msg string) {
	tb.Helper()
	var e struct {
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
			Status  string `json:"status"`
		} `json:"error"`
	}
	require.NoError(tb, json.Unmarshal(body, &e), "%s", body)
	require.NotEmpty(tb, e.Error.Message)
	return e.Error.Code, e.Error.Status, e.Error.Message
}

func (b *rbmBundle) send(tb testing.TB, phone, id, body string) (int, []byte) {
	tb.Helper()
	return rbmDo(tb, http.MethodPost, b.base+"/v1/phones/"+phone+"/agentMessages?messageId="+id+"&agentId="+testAgent,
		testToken, "application/json", body)
}

// sendOK sends body to phone and returns the new message id.
func (b *rbmBundle) sendOK(tb testing.TB, phone, body string) string {
	tb.Helper()
	id := newUUID(tb)
	code, resp := b.send(tb, phone, id, body)
	require.Equal(tb, http.StatusOK, code, "%s", resp)
	return id
}

func (b *rbmBundle) capability(tb testing.TB, phone, token, query string) (int, []byte) {
	tb.Helper()
	return rbmDo(tb, http.MethodGet, b.base+"/v1/phones/"+phone+"/capabilities?"+query, token, "", "")
}

func TestRBMSignatureTestVector(t *testing.T) {
	t.Parallel()
	data := []byte(`{"senderPhoneNumber":"+12223334444","messageId":"MxA1","sendTime":"2024-01-01T00:00:00Z","agentId":"acme_agent","text":"Hi"}`)
	const want = "hL1i/5W6e+sD7sC4XG5tWPxZQPy5rJLxs5nDw+8p1HDiMBept/7Qv3gFi67AoEa2CvzmRtEnwxQREPEp+8iNyA=="
	require.Equal(t, want, sim.RBMSignature("SJENCPGJESMGUFPY", data))
	require.NotEqual(t, want, sim.RBMSignature("other", data))
}

func TestRBMCapabilities(t *testing.T) {
	t.Parallel()
	b := rbmSetup(t, sim.Config{})
	q := func() string { return "requestId=" + newUUID(t) + "&agentId=" + testAgent }
	for _, tc := range []struct {
		name, phone, token, query string
		want                      int
		status                    string
	}{
		{"capable by prefix", rcsPhone, testToken, q(), 200, ""},
		{"capable by number", "+33700000001", testToken, q(), 200, ""},
		{"not capable", smsOnlyPhone, testToken, q(), 404, "NOT_FOUND"},
		{"bad token", rcsPhone, "nope", q(), 401, "UNAUTHENTICATED"},
		{"no token", rcsPhone, "", q(), 401, "UNAUTHENTICATED"},
		{"no requestId", rcsPhone, testToken, "agentId=" + testAgent, 400, "INVALID_ARGUMENT"},
		{"requestId not a UUID", rcsPhone, testToken, "requestId=12345", 400, "INVALID_ARGUMENT"},
		{"other agent", rcsPhone, testToken, "requestId=" + newUUID(t) + "&agentId=evil", 403, "PERMISSION_DENIED"},
		{"not E.164", "0611111111", testToken, q(), 400, "INVALID_ARGUMENT"},
	} {
		code, body := b.capability(t, tc.phone, tc.token, tc.query)
		require.Equal(t, tc.want, code, "%s: %s", tc.name, body)
		if tc.want == 200 {
			var f struct{ Features []string }
			require.NoError(t, json.Unmarshal(body, &f))
			require.ElementsMatch(t, []string{"REVOCATION", "RICHCARD_STANDALONE", "RICHCARD_CAROUSEL",
				"ACTION_CREATE_CALENDAR_EVENT", "ACTION_DIAL", "ACTION_OPEN_URL", "ACTION_SHARE_LOCATION",
				"ACTION_VIEW_LOCATION"}, f.Features)
			continue
		}
		c, st, _ := googleError(t, body)
		require.Equal(t, tc.want, c, tc.name)
		require.Equal(t, tc.status, st, tc.name)
	}
	// Every call counts, per number.
	require.Equal(t, 6, b.s.RBMCapabilityCalls(rcsPhone))
	require.Equal(t, 1, b.s.RBMCapabilityCalls(smsOnlyPhone))
	require.Equal(t, 9, b.s.Stats().RBMCapabilityCalls)
	require.Equal(t, map[string]int{rcsPhone: 6, "+33700000001": 1, smsOnlyPhone: 1, "0611111111": 1},
		b.s.RBMCapabilityCallCounts())

	// Overrides at run time, also through the control API.
	b.s.SetRCSCapable(rcsPhone, false)
	code, _ := b.capability(t, rcsPhone, testToken, q())
	require.Equal(t, 404, code)
	code, body := httpDo(t, http.MethodPost, b.base+"/control/rbm/capable", `{"number":"`+smsOnlyPhone+`","on":true}`)
	require.Equal(t, 200, code, "%s", body)
	code, _ = b.capability(t, smsOnlyPhone, testToken, q())
	require.Equal(t, 200, code)
	code, body = httpDo(t, http.MethodGet, b.base+"/control/rbm/capability-calls", "")
	require.Equal(t, 200, code)
	var counts map[string]int
	require.NoError(t, json.Unmarshal(body, &counts))
	require.Equal(t, 7, counts[rcsPhone])
	require.Equal(t, 2, counts[smsOnlyPhone])
}

// chipsJSON is n reply suggestions whose text is text.
func chipsJSON(n int, text string) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(`{"reply":{"text":%q,"postbackData":"p%d"}}`, text, i)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func card(title string) string {
	return `{"title":"` + title + `","media":{"height":"MEDIUM","contentInfo":{"fileUrl":"https://cdn.example/p.jpg"}}}`
}

func TestRBMSendValidation(t *testing.T) {
	t.Parallel()
	b := rbmSetup(t, sim.Config{})
	long := func(n int, r string) string { return strings.Repeat(r, n) }
	allActions := `[
		{"reply":{"text":"Yes","postbackData":"yes"}},
		{"action":{"text":"Call us","postbackData":"call","fallbackUrl":"https://example.com/contact","dialAction":{"phoneNumber":"+15556667777"}}},
		{"action":{"text":"Directions","postbackData":"map","viewLocationAction":{"latLong":{"latitude":37.42,"longitude":-122.08},"label":"HQ"}}},
		{"action":{"text":"Find a store","postbackData":"q","viewLocationAction":{"query":"Growing Tree Bank"}}},
		{"action":{"text":"Save date","postbackData":"cal","createCalendarEventAction":{"startTime":"2024-06-01T09:00:00Z","endTime":"2024-06-01T10:00:00Z","title":"Appointment","description":"Dentist"}}},
		{"action":{"text":"Open site","postbackData":"web","openUrlAction":{"url":"https://example.com"}}},
		{"action":{"text":"Share location","postbackData":"loc","shareLocationAction":{}}}]`
	for _, tc := range []struct {
		name, body string
		problem    string // "" = valid
	}{
		{"text", `{"contentMessage":{"text":"hi"}}`, ""},
		{"text 3072 characters", `{"contentMessage":{"text":"` + long(3072, "é") + `"}}`, ""},
		{"all suggestion kinds", `{"contentMessage":{"text":"hi","suggestions":` + allActions + `}}`, ""},
		{"11 chips of 25", `{"contentMessage":{"text":"hi","suggestions":` + chipsJSON(11, long(25, "x")) + `}}`, ""},
		{"standalone card", `{"contentMessage":{"richCard":{"standaloneCard":{"cardOrientation":"VERTICAL","cardContent":{
			"title":"Order","description":"Arrives Tuesday","media":{"height":"TALL","contentInfo":{"fileUrl":"https://cdn.example/p.jpg","thumbnailUrl":"https://cdn.example/t.jpg"}},
			"suggestions":` + chipsJSON(4, "Track") + `}}}}}`, ""},
		{"horizontal card", `{"contentMessage":{"richCard":{"standaloneCard":{"cardOrientation":"HORIZONTAL","thumbnailImageAlignment":"LEFT","cardContent":` + card("A") + `}}}}`, ""},
		{"carousel of 10", `{"contentMessage":{"richCard":{"carouselCard":{"cardWidth":"MEDIUM","cardContents":[` + strings.Repeat(card("A")+",", 9) + card("B") + `]}}}}`, ""},
		{"content info", `{"contentMessage":{"contentInfo":{"fileUrl":"https://cdn.example/v.mp4","forceRefresh":true}},"ttl":"3.5s","messageTrafficType":"TRANSACTION"}`, ""},
		{"uploaded file", `{"contentMessage":{"uploadedRbmFile":{"fileName":"files/abc","thumbnailName":"files/def"}},"expireTime":"2030-01-01T00:00:00Z"}`, ""},
		{"legacy file name", `{"contentMessage":{"fileName":"files/abc"}}`, ""},
		{"output-only fields ignored", `{"name":"x","sendTime":"2024-01-01T00:00:00Z","contentMessage":{"text":"hi"}}`, ""},

		{"not JSON", `{"contentMessage":`, "Invalid JSON payload"},
		{"unknown field", `{"contentMessage":{"text":"x","foo":1}}`, "unknown field"},
		{"trailing data", `{"contentMessage":{"text":"x"}} {}`, "trailing data"},
		{"no content message", `{}`, "contentMessage: required"},
		{"no content", `{"contentMessage":{}}`, "want exactly one of text"},
		{"two contents", `{"contentMessage":{"text":"x","fileName":"files/a"}}`, "got 2"},
		{"empty text", `{"contentMessage":{"text":""}}`, "contentMessage.text: empty"},
		{"text too long", `{"contentMessage":{"text":"` + long(3073, "a") + `"}}`, "contentMessage.text: 3073 characters"},
		{"12 suggestions", `{"contentMessage":{"text":"x","suggestions":` + chipsJSON(12, "a") + `}}`, "12 suggestions, more than 11"},
		{"chip text too long", `{"contentMessage":{"text":"x","suggestions":` + chipsJSON(1, long(26, "a")) + `}}`, "suggestions[0].reply.text: 26 characters"},
		{"no postbackData", `{"contentMessage":{"text":"x","suggestions":[{"reply":{"text":"a"}}]}}`, "suggestions[0].reply.postbackData: required"},
		{"no action postbackData", `{"contentMessage":{"text":"x","suggestions":[{"action":{"text":"a","openUrlAction":{"url":"https://e.x"}}}]}}`, "action.postbackData: required"},
		{"reply and action", `{"contentMessage":{"text":"x","suggestions":[{"reply":{"text":"a","postbackData":"p"},"action":{"text":"a","postbackData":"p","shareLocationAction":{}}}]}}`, "exactly one of reply, action"},
		{"action without kind", `{"contentMessage":{"text":"x","suggestions":[{"action":{"text":"a","postbackData":"p"}}]}}`, "exactly one of dialAction"},
		{"two action kinds", `{"contentMessage":{"text":"x","suggestions":[{"action":{"text":"a","postbackData":"p","shareLocationAction":{},"openUrlAction":{"url":"https://e.x"}}}]}}`, "got 2"},
		{"dial not E.164", `{"contentMessage":{"text":"x","suggestions":[{"action":{"text":"a","postbackData":"p","dialAction":{"phoneNumber":"0612"}}}]}}`, "dialAction.phoneNumber"},
		{"url not absolute", `{"contentMessage":{"text":"x","suggestions":[{"action":{"text":"a","postbackData":"p","openUrlAction":{"url":"/x"}}}]}}`, "openUrlAction.url"},
		{"calendar backwards", `{"contentMessage":{"text":"x","suggestions":[{"action":{"text":"a","postbackData":"p","createCalendarEventAction":{"startTime":"2024-06-01T10:00:00Z","endTime":"2024-06-01T09:00:00Z","title":"t"}}}]}}`, "endTime: before startTime"},
		{"location both", `{"contentMessage":{"text":"x","suggestions":[{"action":{"text":"a","postbackData":"p","viewLocationAction":{"latLong":{"latitude":1,"longitude":2},"query":"q"}}}]}}`, "exactly one of latLong, query"},
		{"card title too long", `{"contentMessage":{"richCard":{"standaloneCard":{"cardOrientation":"VERTICAL","cardContent":{"title":"` + long(201, "t") + `"}}}}}`, "cardContent.title: more than 200"},
		{"card description too long", `{"contentMessage":{"richCard":{"standaloneCard":{"cardOrientation":"VERTICAL","cardContent":{"description":"` + long(2001, "d") + `"}}}}}`, "cardContent.description: more than 2000"},
		{"card 5 suggestions", `{"contentMessage":{"richCard":{"standaloneCard":{"cardOrientation":"VERTICAL","cardContent":{"title":"t","suggestions":` + chipsJSON(5, "a") + `}}}}}`, "5 suggestions, more than 4"},
		{"no orientation", `{"contentMessage":{"richCard":{"standaloneCard":{"cardContent":{"title":"t"}}}}}`, "cardOrientation"},
		{"alignment on vertical", `{"contentMessage":{"richCard":{"standaloneCard":{"cardOrientation":"VERTICAL","thumbnailImageAlignment":"LEFT","cardContent":{"title":"t"}}}}}`, "only for HORIZONTAL"},
		{"horizontal media only", `{"contentMessage":{"richCard":{"standaloneCard":{"cardOrientation":"HORIZONTAL","cardContent":{"media":{"contentInfo":{"fileUrl":"https://e.x/p.jpg"}}}}}}}`, "HORIZONTAL card with media"},
		{"empty card", `{"contentMessage":{"richCard":{"standaloneCard":{"cardOrientation":"VERTICAL","cardContent":{}}}}}`, "needs at least one of media, title, description"},
		{"both card kinds", `{"contentMessage":{"richCard":{"standaloneCard":{"cardOrientation":"VERTICAL","cardContent":{"title":"t"}},"carouselCard":{"cardContents":[]}}}}`, "exactly one of standaloneCard, carouselCard"},
		{"carousel of 1", `{"contentMessage":{"richCard":{"carouselCard":{"cardWidth":"MEDIUM","cardContents":[` + card("A") + `]}}}}`, "1 cards, want 2 to 10"},
		{"carousel of 11", `{"contentMessage":{"richCard":{"carouselCard":{"cardWidth":"MEDIUM","cardContents":[` + strings.Repeat(card("A")+",", 10) + card("B") + `]}}}}`, "11 cards"},
		{"tall in small carousel", `{"contentMessage":{"richCard":{"carouselCard":{"cardWidth":"SMALL","cardContents":[` + card("A") + `,{"title":"B","media":{"height":"TALL","fileName":"files/x"}}]}}}}`, "cardContents[1].media.height: TALL"},
		{"media two sources", `{"contentMessage":{"richCard":{"standaloneCard":{"cardOrientation":"VERTICAL","cardContent":{"media":{"fileName":"files/a","contentInfo":{"fileUrl":"https://e.x/a"}}}}}}}`, "media: want exactly one of fileName"},
		{"relative file URL", `{"contentMessage":{"contentInfo":{"fileUrl":"p.jpg"}}}`, "contentInfo.fileUrl"},
		{"bad file name", `{"contentMessage":{"fileName":"abc"}}`, "contentMessage.fileName"},
		{"ttl and expireTime", `{"contentMessage":{"text":"x"},"ttl":"5s","expireTime":"2030-01-01T00:00:00Z"}`, "mutually exclusive"},
		{"bad ttl", `{"contentMessage":{"text":"x"},"ttl":"60"}`, "ttl: not a duration"},
		{"bad traffic type", `{"contentMessage":{"text":"x"},"messageTrafficType":"SPAM"}`, "messageTrafficType"},
	} {
		code, body := b.send(t, rcsPhone, newUUID(t), tc.body)
		if tc.problem == "" {
			require.Equal(t, http.StatusOK, code, "%s: %s", tc.name, body)
			continue
		}
		require.Equal(t, http.StatusBadRequest, code, tc.name)
		c, st, msg := googleError(t, body)
		require.Equal(t, 400, c)
		require.Equal(t, "INVALID_ARGUMENT", st)
		require.Contains(t, msg, tc.problem, tc.name)
	}
	require.Equal(t, 11, b.s.Stats().RBMAgentMessages)
	require.Len(t, b.s.RBMMessages(), 11)
}

func TestRBMSend(t *testing.T) {
	t.Parallel()
	b := rbmSetup(t, sim.Config{})
	body := `{"contentMessage":{"text":"Your order shipped","suggestions":[{"reply":{"text":"Track","postbackData":"track_123"}}]},"ttl":"60s"}`
	id := newUUID(t)
	code, resp := b.send(t, rcsPhone, id, body)
	require.Equal(t, http.StatusOK, code, "%s", resp)
	var got map[string]any
	require.NoError(t, json.Unmarshal(resp, &got))
	require.Equal(t, "phones/"+rcsPhone+"/agentMessages/"+id, got["name"])
	_, err := time.Parse(time.RFC3339Nano, got["sendTime"].(string))
	require.NoError(t, err)
	require.Equal(t, "60s", got["ttl"])
	require.Equal(t, "Your order shipped", got["contentMessage"].(map[string]any)["text"])

	msgs := b.s.RBMMessages()
	require.Len(t, msgs, 1)
	m := msgs[0]
	require.Equal(t, rcsPhone, m.Phone)
	require.Equal(t, id, m.MessageID)
	require.Equal(t, testAgent, m.AgentID)
	require.Equal(t, sim.RBMStatusSent, m.Status)
	require.JSONEq(t, body, string(m.Body))

	// The same messageId again is ignored: same answer, stored once.
	code, again := b.send(t, rcsPhone, id, `{"contentMessage":{"text":"different"}}`)
	require.Equal(t, http.StatusOK, code)
	require.JSONEq(t, string(resp), string(again))
	require.Len(t, b.s.RBMMessages(), 1)
	require.Equal(t, 1, b.s.Stats().RBMDuplicates)

	for _, tc := range []struct {
		name, phone, id, token, ctype, body string
		want                                int
		status                              string
	}{
		{"not RCS-capable", smsOnlyPhone, newUUID(t), testToken, "application/json", body, 404, "NOT_FOUND"},
		{"messageId not a UUID", rcsPhone, "msg-1", testToken, "application/json", body, 400, "INVALID_ARGUMENT"},
		{"messageId wrong variant", rcsPhone, "123e4567-e89b-42d3-c456-426614174000", testToken, "application/json", body, 400, "INVALID_ARGUMENT"},
		{"no messageId", rcsPhone, "", testToken, "application/json", body, 400, "INVALID_ARGUMENT"},
		{"bad token", rcsPhone, newUUID(t), "x", "application/json", body, 401, "UNAUTHENTICATED"},
		{"not JSON content type", rcsPhone, newUUID(t), testToken, "text/plain", body, 400, "INVALID_ARGUMENT"},
		{"larger than 250 KB", rcsPhone, newUUID(t), testToken, "application/json",
			`{"contentMessage":{"text":"x"},"ttl":"` + strings.Repeat("1", 250*1024) + `s"}`, 400, "INVALID_ARGUMENT"},
	} {
		code, resp := rbmDo(t, http.MethodPost, b.base+"/v1/phones/"+tc.phone+"/agentMessages?messageId="+tc.id,
			tc.token, tc.ctype, tc.body)
		require.Equal(t, tc.want, code, "%s: %s", tc.name, resp)
		c, st, _ := googleError(t, resp)
		require.Equal(t, tc.want, c, tc.name)
		require.Equal(t, tc.status, st, tc.name)
	}
	require.Len(t, b.s.RBMMessages(), 1)
	require.Equal(t, 7, b.s.Stats().RBMRejected)
	require.Zero(t, b.hook.count(), "no callback without auto-delivery")

	// The control API lists the stored message with its JSON body.
	code, list := httpDo(t, http.MethodGet, b.base+"/control/rbm/messages", "")
	require.Equal(t, 200, code)
	var ctl []struct {
		Phone, MessageID, Status string
		Body                     map[string]any
	}
	require.NoError(t, json.Unmarshal(list, &ctl))
	require.Len(t, ctl, 1)
	require.Equal(t, "track_123", ctl[0].Body["contentMessage"].(map[string]any)["suggestions"].([]any)[0].(map[string]any)["reply"].(map[string]any)["postbackData"])
}

func TestRBMRevoke(t *testing.T) {
	t.Parallel()
	b := rbmSetup(t, sim.Config{})
	revoke := func(phone, id string) (int, []byte) {
		return rbmDo(t, http.MethodDelete, b.base+"/v1/phones/"+phone+"/agentMessages/"+id+"?agentId="+testAgent, testToken, "", "")
	}
	text := `{"contentMessage":{"text":"hi"}}`

	// Before delivery: 200 {} and revoked; a revoked message cannot be delivered.
	id := b.sendOK(t, rcsPhone, text)
	code, body := revoke(rcsPhone, id)
	require.Equal(t, http.StatusOK, code, "%s", body)
	require.JSONEq(t, `{}`, string(body))
	require.Equal(t, sim.RBMStatusRevoked, b.s.RBMMessages()[0].Status)
	require.Equal(t, 1, b.s.Stats().RBMRevoked)
	require.Error(t, b.s.RBMDeliver(id))
	code, _ = revoke(rcsPhone, id) // again: still 200
	require.Equal(t, http.StatusOK, code)

	// After delivery: 404 NOT_FOUND.
	id2 := b.sendOK(t, rcsPhone, text)
	require.NoError(t, b.s.RBMDeliver(id2))
	code, body = revoke(rcsPhone, id2)
	require.Equal(t, http.StatusNotFound, code)
	_, st, _ := googleError(t, body)
	require.Equal(t, "NOT_FOUND", st)
	require.Equal(t, sim.RBMStatusDelivered, b.s.RBMMessages()[1].Status)

	// Unknown id, another phone's message, a bad id.
	for _, tc := range []struct {
		phone, id string
		want      int
	}{
		{rcsPhone, newUUID(t), 404},
		{"+33612222222", id2, 404},
		{rcsPhone, "nope", 400},
	} {
		code, _ := revoke(tc.phone, tc.id)
		require.Equal(t, tc.want, code, "%s %s", tc.phone, tc.id)
	}
	// Only the delivery of id2 was called back.
	evs := rbmEvents(t, b.hook.wait(1))
	require.Len(t, evs, 1)
	require.Equal(t, "DELIVERED", evs[0]["eventType"])
	require.Equal(t, id2, evs[0]["messageId"])
}

const tapBody = `{"contentMessage":{"text":"Confirm?","suggestions":[
	{"reply":{"text":"Yes","postbackData":"yes"}},
	{"action":{"text":"Open site","postbackData":"web","openUrlAction":{"url":"https://example.com"}}}]}}`

func TestRBMCallbacks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		do   func(s *sim.Sim, id string) error
		want []map[string]any // fields of each callback, in order
	}{
		{"deliver", func(s *sim.Sim, id string) error { return s.RBMDeliver(id) },
			[]map[string]any{{"eventType": "DELIVERED", "messageId": "$id", "senderPhoneNumber": rcsPhone, "agentId": testAgent}}},
		{"read delivers first", func(s *sim.Sim, id string) error { return s.RBMRead(id) },
			[]map[string]any{{"eventType": "DELIVERED", "messageId": "$id"}, {"eventType": "READ", "messageId": "$id", "senderPhoneNumber": rcsPhone}}},
		{"reply", func(s *sim.Sim, _ string) error { return s.RBMReply(rcsPhone, "", "hello") },
			[]map[string]any{{"text": "hello", "senderPhoneNumber": rcsPhone, "agentId": testAgent}}},
		{"tap reply", func(s *sim.Sim, id string) error { return s.RBMTap(id, "yes") },
			[]map[string]any{{"eventType": "DELIVERED"}, {"suggestionResponse": map[string]any{"postbackData": "yes", "text": "Yes", "type": "REPLY"}}}},
		{"tap action", func(s *sim.Sim, id string) error {
			if err := s.RBMDeliver(id); err != nil {
				return err
			}
			return s.RBMTap(id, "web")
		},
			[]map[string]any{{"eventType": "DELIVERED"}, {"suggestionResponse": map[string]any{"postbackData": "web", "text": "Open site", "type": "ACTION"}}}},
		{"location", func(s *sim.Sim, _ string) error { return s.RBMLocation(rcsPhone, testAgent, 48.85, 2.35) },
			[]map[string]any{{"location": map[string]any{"latitude": 48.85, "longitude": 2.35}}}},
		{"unsubscribe", func(s *sim.Sim, _ string) error { return s.RBMEvent(rcsPhone, "", "UNSUBSCRIBE") },
			[]map[string]any{{"eventType": "UNSUBSCRIBE", "senderPhoneNumber": rcsPhone, "messageId": nil}}},
		{"ttl revoked", func(s *sim.Sim, id string) error { return s.RBMServerEvent(id, "TTL_EXPIRATION_REVOKED") },
			[]map[string]any{{"eventType": "TTL_EXPIRATION_REVOKED", "phoneNumber": rcsPhone, "messageId": "$id", "agentId": testAgent}}},
		{"ttl revoke failed", func(s *sim.Sim, id string) error { return s.RBMServerEvent(id, "TTL_EXPIRATION_REVOKE_FAILED") },
			[]map[string]any{{"eventType": "TTL_EXPIRATION_REVOKE_FAILED", "phoneNumber": rcsPhone}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := rbmSetup(t, sim.Config{})
			id := b.sendOK(t, rcsPhone, tapBody)
			require.NoError(t, tc.do(b.s, id))
			evs := rbmEvents(t, b.hook.wait(len(tc.want)))
			require.Len(t, evs, len(tc.want))
			for i, want := range tc.want {
				for k, v := range want {
					if v == "$id" {
						v = id
					}
					require.Equal(t, v, evs[i][k], "callback %d field %s: %v", i, k, evs[i])
				}
				_, err := time.Parse(time.RFC3339Nano, evs[i]["sendTime"].(string))
				require.NoError(t, err)
				if _, ok := evs[i]["eventType"]; ok {
					require.NotEmpty(t, evs[i]["eventId"])
				} else {
					require.NotEmpty(t, evs[i]["messageId"])
				}
			}
		})
	}
}

func TestRBMCallbackErrors(t *testing.T) {
	t.Parallel()
	b := rbmSetup(t, sim.Config{})
	id := b.sendOK(t, rcsPhone, tapBody)
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"unknown message", b.s.RBMDeliver(newUUID(t))},
		{"unknown postback", b.s.RBMTap(id, "nope")},
		{"reply from a non-RCS number", b.s.RBMReply(smsOnlyPhone, "", "hi")},
		{"empty reply", b.s.RBMReply(rcsPhone, "", "")},
		{"bad event", b.s.RBMEvent(rcsPhone, "", "DELIVERED")},
		{"bad server event", b.s.RBMServerEvent(id, "EXPIRED")},
		{"location out of range", b.s.RBMLocation(rcsPhone, "", 91, 0)},
	} {
		require.Error(t, tc.err, tc.name)
	}
	require.NoError(t, b.s.RBMDeliver(id))
	require.Error(t, b.s.RBMDeliver(id), "delivered twice")
	require.Error(t, b.s.RBMServerEvent(id, "TTL_EXPIRATION_REVOKED"), "revoked after delivery")
	require.NoError(t, b.s.RBMRead(id))
	require.Error(t, b.s.RBMRead(id), "read twice")

	// Without a callback URL nothing can be reported.
	b.s.SetRBMCallback("", "")
	require.Error(t, b.s.RBMReply(rcsPhone, "", "hi"))
}

func TestRBMCallbackRetry(t *testing.T) {
	t.Parallel()
	b := rbmSetup(t, sim.Config{}, 500, 503)
	id := b.sendOK(t, rcsPhone, tapBody)
	require.NoError(t, b.s.RBMRead(id)) // DELIVERED then READ
	waitStats(t, b.s, func(st sim.Stats) bool { return st.RBMCallbacksAcked == 2 })
	reqs := b.hook.wait(4)
	require.Len(t, reqs, 4)
	// The first callback was posted three times, unchanged, before the second.
	require.Equal(t, reqs[0].body, reqs[1].body)
	require.Equal(t, reqs[0].body, reqs[2].body)
	evs := rbmEvents(t, reqs)
	require.Len(t, evs, 2)
	require.Equal(t, "DELIVERED", evs[0]["eventType"])
	require.Equal(t, "READ", evs[1]["eventType"])
	st := b.s.Stats()
	require.Equal(t, 2, st.RBMCallbackRetries)
	require.Equal(t, 2, st.RBMCallbacks)
	require.Zero(t, st.RBMCallbacksLost)

	// Bounded: given up after CallbackAttempts, then the next one goes.
	b2 := rbmSetup(t, sim.Config{CallbackAttempts: 2}, 500, 500)
	require.NoError(t, b2.s.RBMReply(rcsPhone, "", "lost"))
	require.NoError(t, b2.s.RBMReply(rcsPhone, "", "kept"))
	waitStats(t, b2.s, func(st sim.Stats) bool { return st.RBMCallbacksAcked == 1 })
	require.Equal(t, 1, b2.s.Stats().RBMCallbacksLost)
	evs = rbmEvents(t, b2.hook.wait(3))
	require.Equal(t, "kept", evs[len(evs)-1]["text"])
}

func TestRBMAutoDeliverAndOffline(t *testing.T) {
	t.Parallel()
	b := rbmSetup(t, sim.Config{RBMAutoDeliver: 5 * time.Millisecond})
	const offline = "+33612345678"
	b.s.SetRBMOffline(offline, true)
	idOff := b.sendOK(t, offline, `{"contentMessage":{"text":"queued"}}`)
	idOn := b.sendOK(t, rcsPhone, `{"contentMessage":{"text":"hi"}}`)
	evs := rbmEvents(t, b.hook.wait(1))
	require.Equal(t, idOn, evs[0]["messageId"])
	require.Equal(t, "DELIVERED", evs[0]["eventType"])
	status := func(id string) string {
		for _, m := range b.s.RBMMessages() {
			if m.MessageID == id {
				return m.Status
			}
		}
		return ""
	}
	require.Equal(t, sim.RBMStatusDelivered, status(idOn))
	require.Equal(t, sim.RBMStatusSent, status(idOff))

	// Back online (control API): what was queued is delivered.
	code, body := httpDo(t, http.MethodPost, b.base+"/control/rbm/offline", `{"number":"`+offline+`","on":false}`)
	require.Equal(t, 200, code, "%s", body)
	evs = rbmEvents(t, b.hook.wait(2))
	require.Equal(t, idOff, evs[1]["messageId"])
	require.Equal(t, offline, evs[1]["senderPhoneNumber"])
	require.Equal(t, sim.RBMStatusDelivered, status(idOff))
}

func TestRBMFail(t *testing.T) {
	t.Parallel()
	b := rbmSetup(t, sim.Config{})
	for _, tc := range []struct {
		status int
		name   string
	}{
		{500, "INTERNAL"},
		{503, "UNAVAILABLE"},
		{429, "RESOURCE_EXHAUSTED"},
		{403, "PERMISSION_DENIED"},
		{504, "DEADLINE_EXCEEDED"},
	} {
		code, body := httpDo(t, http.MethodPost, b.base+"/control/rbm/fail", fmt.Sprintf(`{"count":2,"status":%d}`, tc.status))
		require.Equal(t, 200, code, "%s", body)
		// Two failures, whatever the call, then success again.
		code, body = b.send(t, rcsPhone, newUUID(t), `{"contentMessage":{"text":"x"}}`)
		require.Equal(t, tc.status, code)
		c, st, _ := googleError(t, body)
		require.Equal(t, tc.status, c)
		require.Equal(t, tc.name, st)
		code, _ = b.capability(t, rcsPhone, testToken, "requestId="+newUUID(t))
		require.Equal(t, tc.status, code)
		code, body = b.capability(t, rcsPhone, testToken, "requestId="+newUUID(t))
		require.Equal(t, 200, code, "%s", body)
	}
	require.Equal(t, 10, b.s.Stats().RBMFaults)
	require.Empty(t, b.s.RBMMessages())
	for _, in := range []string{`{"count":1}`, `{"count":-1,"status":500}`, `{"count":1,"status":200}`} {
		code, _ := httpDo(t, http.MethodPost, b.base+"/control/rbm/fail", in)
		require.Equal(t, 400, code, in)
	}
}

func TestRBMAgentEvents(t *testing.T) {
	t.Parallel()
	b := rbmSetup(t, sim.Config{})
	post := func(phone, id, body string) (int, []byte) {
		return rbmDo(t, http.MethodPost, b.base+"/v1/phones/"+phone+"/agentEvents?eventId="+id+"&agentId="+testAgent,
			testToken, "application/json", body)
	}
	readID := newUUID(t)
	for _, tc := range []struct {
		name, phone, id, body string
		want                  int
	}{
		{"read", rcsPhone, readID, `{"eventType":"READ","messageId":"MxAbC"}`, 200},
		{"typing", rcsPhone, newUUID(t), `{"eventType":"IS_TYPING"}`, 200},
		{"duplicate ignored", rcsPhone, readID, `{"eventType":"READ","messageId":"MxAbC"}`, 200},
		{"read without messageId", rcsPhone, newUUID(t), `{"eventType":"READ"}`, 400},
		{"typing with messageId", rcsPhone, newUUID(t), `{"eventType":"IS_TYPING","messageId":"x"}`, 400},
		{"unknown type", rcsPhone, newUUID(t), `{"eventType":"DELIVERED","messageId":"x"}`, 400},
		{"unknown field", rcsPhone, newUUID(t), `{"eventType":"IS_TYPING","foo":1}`, 400},
		{"eventId not a UUID", rcsPhone, "e1", `{"eventType":"IS_TYPING"}`, 400},
		{"not RCS-capable", smsOnlyPhone, newUUID(t), `{"eventType":"IS_TYPING"}`, 404},
	} {
		code, body := post(tc.phone, tc.id, tc.body)
		require.Equal(t, tc.want, code, "%s: %s", tc.name, body)
		if code == 200 {
			var got map[string]any
			require.NoError(t, json.Unmarshal(body, &got))
			require.Equal(t, "phones/"+tc.phone+"/agentEvents/"+tc.id, got["name"])
		} else {
			googleError(t, body)
		}
	}
	evs := b.s.RBMEvents()
	require.Len(t, evs, 2)
	require.Equal(t, "READ", evs[0].Type)
	require.Equal(t, "MxAbC", evs[0].MessageID)
	require.Equal(t, rcsPhone, evs[0].Phone)
	require.Equal(t, "IS_TYPING", evs[1].Type)
	require.Equal(t, 1, b.s.Stats().RBMDuplicates)

	// An event id is an agent's id like a message id: reusing one for a
	// message is ignored too.
	code, body := b.send(t, rcsPhone, readID, `{"contentMessage":{"text":"x"}}`)
	require.Equal(t, 200, code, "%s", body)
	require.Empty(t, b.s.RBMMessages())
}

func jwtSeg(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	require.NoError(tb, err)
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestRBMToken(t *testing.T) {
	t.Parallel()
	b := rbmSetup(t, sim.Config{})
	now := time.Now().Unix()
	hdr := jwtSeg(t, map[string]string{"alg": "RS256", "typ": "JWT"})
	claims := func(mod func(map[string]any)) string {
		c := map[string]any{
			"iss": "rbm@acme.iam.gserviceaccount.com", "scope": "https://www.googleapis.com/auth/rcsbusinessmessaging",
			"aud": "https://oauth2.googleapis.com/token", "iat": now, "exp": now + 3600,
		}
		if mod != nil {
			mod(c)
		}
		return jwtSeg(t, c)
	}
	sig := base64.RawURLEncoding.EncodeToString([]byte("not checked"))
	valid := hdr + "." + claims(nil) + "." + sig
	form := func(grant, assertion string) string {
		return url.Values{"grant_type": {grant}, "assertion": {assertion}}.Encode()
	}
	const jwtGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	for _, tc := range []struct {
		name, ctype, body, wantErr string
	}{
		{"valid", "application/x-www-form-urlencoded", form(jwtGrant, valid), ""},
		{"wrong grant", "application/x-www-form-urlencoded", form("client_credentials", valid), "unsupported_grant_type"},
		{"json body", "application/json", `{}`, "invalid_request"},
		{"two parts", "application/x-www-form-urlencoded", form(jwtGrant, hdr+"."+claims(nil)), "invalid_grant"},
		{"no iss", "application/x-www-form-urlencoded", form(jwtGrant, hdr+"."+claims(func(c map[string]any) { delete(c, "iss") })+"."+sig), "invalid_grant"},
		{"other scope", "application/x-www-form-urlencoded", form(jwtGrant, hdr+"."+claims(func(c map[string]any) { c["scope"] = "https://www.googleapis.com/auth/cloud-platform" })+"."+sig), "invalid_grant"},
		{"no aud", "application/x-www-form-urlencoded", form(jwtGrant, hdr+"."+claims(func(c map[string]any) { delete(c, "aud") })+"."+sig), "invalid_grant"},
		{"expired", "application/x-www-form-urlencoded", form(jwtGrant, hdr+"."+claims(func(c map[string]any) { c["iat"], c["exp"] = now-7200, now-3600 })+"."+sig), "invalid_grant"},
		{"longer than an hour", "application/x-www-form-urlencoded", form(jwtGrant, hdr+"."+claims(func(c map[string]any) { c["exp"] = now + 7200 })+"."+sig), "invalid_grant"},
		{"HS256", "application/x-www-form-urlencoded", form(jwtGrant, jwtSeg(t, map[string]string{"alg": "HS256"})+"."+claims(nil)+"."+sig), "invalid_grant"},
		{"not base64url", "application/x-www-form-urlencoded", form(jwtGrant, "a.b!.c"), "invalid_grant"},
	} {
		code, body := rbmDo(t, http.MethodPost, b.base+"/token", "", tc.ctype, tc.body)
		var got map[string]any
		require.NoError(t, json.Unmarshal(body, &got), tc.name)
		if tc.wantErr == "" {
			require.Equal(t, 200, code, "%s: %s", tc.name, body)
			require.Equal(t, map[string]any{"access_token": testToken, "expires_in": 3599.0, "token_type": "Bearer"}, got)
			continue
		}
		require.Equal(t, 400, code, tc.name)
		require.Equal(t, tc.wantErr, got["error"], "%s: %s", tc.name, body)
		require.NotEmpty(t, got["error_description"])
	}
	require.Equal(t, 1, b.s.Stats().RBMTokens)
}

func TestRBMControl(t *testing.T) {
	t.Parallel()
	b := rbmSetup(t, sim.Config{})
	id := b.sendOK(t, rcsPhone, tapBody)
	for _, tc := range []struct {
		path, body string
		want       int
	}{
		{"/control/rbm/deliver", `{"message_id":"` + newUUID(t) + `"}`, 404},
		{"/control/rbm/deliver", `{"id":"x"}`, 400},
		{"/control/rbm/deliver", `{"message_id":"` + id + `"}`, 200},
		{"/control/rbm/deliver", `{"message_id":"` + id + `"}`, 409},
		{"/control/rbm/tap", `{"message_id":"` + id + `","postback":"yes"}`, 200},
		{"/control/rbm/tap", `{"message_id":"` + id + `","postback":"nope"}`, 400},
		{"/control/rbm/read", `{"message_id":"` + id + `"}`, 200},
		{"/control/rbm/reply", `{"from":"` + rcsPhone + `","agent":"` + testAgent + `","text":"hello"}`, 200},
		{"/control/rbm/reply", `{"from":"` + smsOnlyPhone + `","text":"hello"}`, 409},
		{"/control/rbm/location", `{"from":"` + rcsPhone + `","lat":1.5,"lng":2.5}`, 200},
		{"/control/rbm/location", `{"from":"` + rcsPhone + `"}`, 400},
		{"/control/rbm/event", `{"from":"` + rcsPhone + `","type":"SUBSCRIBE"}`, 200},
		{"/control/rbm/event", `{"from":"` + rcsPhone + `","type":"NOPE"}`, 400},
		{"/control/rbm/server-event", `{"message_id":"` + id + `","type":"TTL_EXPIRATION_REVOKE_FAILED"}`, 200},
		{"/control/rbm/offline", `{"number":"nope","on":true}`, 400},
		{"/control/rbm/capable", `{"number":"` + rcsPhone + `"}`, 400},
	} {
		code, body := httpDo(t, http.MethodPost, b.base+tc.path, tc.body)
		require.Equal(t, tc.want, code, "%s %s: %s", tc.path, tc.body, body)
	}
	// deliver, tap, read, reply, location, event, server event.
	waitStats(t, b.s, func(st sim.Stats) bool { return st.RBMCallbacksAcked == 7 })
	evs := rbmEvents(t, b.hook.wait(7))
	var kinds []string
	for _, e := range evs {
		switch {
		case e["eventType"] != nil:
			kinds = append(kinds, e["eventType"].(string))
		case e["suggestionResponse"] != nil:
			kinds = append(kinds, "tap")
		case e["location"] != nil:
			kinds = append(kinds, "location")
		default:
			kinds = append(kinds, "text:"+e["text"].(string))
		}
	}
	require.Equal(t, []string{"DELIVERED", "tap", "READ", "text:hello", "location", "SUBSCRIBE", "TTL_EXPIRATION_REVOKE_FAILED"}, kinds)

	// The webhook can be set once the gateway's URL is known.
	h2 := newHook(t, nil)
	code, body := httpDo(t, http.MethodPost, b.base+"/control/rbm/webhook", `{"url":"`+h2.srv.URL+`","client_token":"`+testClientToken+`"}`)
	require.Equal(t, 200, code, "%s", body)
	require.NoError(t, b.s.RBMReply(rcsPhone, "", "to the new hook"))
	evs = rbmEvents(t, h2.wait(1))
	require.Equal(t, "to the new hook", evs[0]["text"])

	code, body = httpDo(t, http.MethodGet, b.base+"/control/rbm/events", "")
	require.Equal(t, 200, code)
	require.JSONEq(t, `[]`, string(body))
}

func TestRBMCloseStopsRetries(t *testing.T) {
	t.Parallel()
	h := newHook(t, func(hookReq) (int, string, []byte) { return 500, "text/plain", nil })
	s := sim.New(sim.Config{SMPPAddr: "127.0.0.1:0", RCSNumbers: []string{"*"}, RBMAgentID: testAgent,
		RBMCallbackURL: h.srv.URL, CallbackRetryDelay: time.Hour})
	require.NoError(t, s.Start())
	require.NoError(t, s.RBMReply(rcsPhone, "", "never acked"))
	h.wait(1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Close() }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-ctx.Done():
		t.Fatal("Close waited for the callback back-off")
	}
}
