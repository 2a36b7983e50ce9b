package sim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/linxGnu/gosmpp/data"
	"github.com/stretchr/testify/require"

	"gateway/carriers/sim"
)

func httpDo(tb testing.TB, method, url, body string) (int, []byte) {
	tb.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(tb, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(tb, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(tb, err)
	if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
		require.Equal(tb, "application/json", resp.Header.Get("Content-Type"))
	}
	return resp.StatusCode, b
}

func TestHTTPControl(t *testing.T) {
	t.Parallel()
	s := start(t, sim.Config{HTTPAddr: "127.0.0.1:0", RedeliverDelay: 10 * time.Millisecond})
	base := s.HTTPURL()
	require.True(t, strings.HasPrefix(base, "http://127.0.0.1:"), base)

	// Bad input: 400 with a JSON error.
	for _, tc := range []struct{ path, body string }{
		{"/control/throttle", `{"count":-1}`},
		{"/control/throttle", `{}`},
		{"/control/throttle", `{"count":"two"}`},
		{"/control/queue-full", `{"cnt":1}`},
		{"/control/stall", `{}`},
		{"/control/tps", `{"tps":-5}`},
		{"/control/refuse-binds", `{"seconds":-1}`},
		{"/control/receipts", `not json`},
		{"/control/receipt", `{"message_id":"nope"}`},
		{"/control/mo", `{"from":"+1","to":"2","text":""}`},
		{"/control/mo", `{"from":"+1","to":"2","text":"x"} {}`},
	} {
		code, body := httpDo(t, http.MethodPost, base+tc.path, tc.body)
		require.Equal(t, http.StatusBadRequest, code, "%s %s: %s", tc.path, tc.body, body)
		var e struct{ Error string }
		require.NoError(t, json.Unmarshal(body, &e))
		require.NotEmpty(t, e.Error)
	}
	// No receiver bound: 409.
	code, _ := httpDo(t, http.MethodPost, base+"/control/mo", `{"from":"+33612345678","to":"36000","text":"hi"}`)
	require.Equal(t, http.StatusConflict, code)
	code, _ = httpDo(t, http.MethodGet, base+"/control/throttle", "")
	require.Equal(t, http.StatusMethodNotAllowed, code)

	c := bound(t, s)
	ok := func(path, body string) {
		t.Helper()
		code, b := httpDo(t, http.MethodPost, base+path, body)
		require.Equal(t, http.StatusOK, code, "%s: %s", path, b)
	}
	ok("/control/throttle", `{"count":1}`)
	require.Equal(t, data.ESME_RTHROTTLED, c.submitText("x").CommandStatus)
	ok("/control/queue-full", `{"count":1}`)
	require.Equal(t, data.ESME_RMSGQFUL, c.submitText("x").CommandStatus)
	ok("/control/tps", `{"tps":0}`)
	ok("/control/receipts", `{"auto":true}`)
	resp := c.submitText("with receipt")
	require.Equal(t, data.ESME_ROK, resp.CommandStatus)
	d := c.deliver(data.ESME_ROK)
	require.Equal(t, byte(0x04), d.EsmClass)
	ok("/control/receipts", `{"auto":false}`)
	ok("/control/receipt", `{"message_id":"`+resp.MessageID+`","stat":"UNDELIV","id_form":"hex"}`)
	d = c.deliver(data.ESME_ROK)
	txt, err := d.Message.GetMessage()
	require.NoError(t, err)
	require.Contains(t, txt, "stat:UNDELIV")
	require.Contains(t, txt, "id:f4240 ")

	ok("/control/mo", `{"from":"+33612345678","to":"36000","text":"hello from http"}`)
	p := readMOPart(t, c, data.ESME_ROK)
	require.Equal(t, "hello from http", p.text)

	code, b := httpDo(t, http.MethodGet, base+"/control/submits", "")
	require.Equal(t, http.StatusOK, code)
	var subs []sim.Submit
	require.NoError(t, json.Unmarshal(b, &subs))
	require.Len(t, subs, 3)
	require.Equal(t, "with receipt", subs[2].Text)
	require.Equal(t, uint32(data.ESME_RTHROTTLED), subs[0].Status)

	code, b = httpDo(t, http.MethodGet, base+"/control/messages", "")
	require.Equal(t, http.StatusOK, code)
	var msgs []sim.Message
	require.NoError(t, json.Unmarshal(b, &msgs))
	require.Len(t, msgs, 1)
	require.Equal(t, "with receipt", msgs[0].Text)

	code, b = httpDo(t, http.MethodGet, base+"/control/stats", "")
	require.Equal(t, http.StatusOK, code)
	var st sim.Stats
	require.NoError(t, json.Unmarshal(b, &st))
	require.Equal(t, 1, st.Binds)
	require.Equal(t, 3, st.Submits)
	require.Equal(t, 1, st.Accepted)

	ok("/control/reset", ``)
	require.Empty(t, s.Submits())

	ok("/control/stall", `{"on":true}`)
	c.send(newSubmitText(t, "stalled"))
	waitStats(t, s, func(st sim.Stats) bool { return st.Stalled == 1 })
	ok("/control/stall", `{"on":false}`)

	ok("/control/refuse-binds", `{"seconds":60}`)
	require.Equal(t, data.ESME_RBINDFAIL, dial(t, s).bind(0, testSystemID, testPassword))
	ok("/control/refuse-binds", `{"seconds":0}`)

	ok("/control/drop", ``)
	c.expectClosed()
	waitStats(t, s, func(st sim.Stats) bool { return st.Binds == 0 })
}

func TestHandleMountsMoreRoutes(t *testing.T) {
	t.Parallel()
	s := start(t, sim.Config{HTTPAddr: "127.0.0.1:0"})
	s.Handle("GET /extra/ping", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `"pong"`)
	}))
	code, b := httpDo(t, http.MethodGet, s.HTTPURL()+"/extra/ping", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, `"pong"`, string(b))
}

func TestNoHTTPListener(t *testing.T) {
	t.Parallel()
	s := start(t, sim.Config{})
	require.Empty(t, s.HTTPURL())
	require.NotNil(t, s.Handler())
}
