package sim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/linxGnu/gosmpp/data"
	"github.com/stretchr/testify/require"

	"gateway/carriers/sim"
)

func TestHandset(t *testing.T) {
	t.Parallel()
	b := rbmSetup(t, sim.Config{RCSNumbers: []string{rcsPhone}})
	const smsPhone = "+33612345678" // newSubmit's and submitReq's destination

	// RCS: a card, and a message revoked before delivery (not shown).
	cardID := b.sendOK(t, rcsPhone, `{"contentMessage":{"richCard":{"standaloneCard":{"cardOrientation":"VERTICAL",
		"cardContent":{"title":"Order 1001","suggestions":[{"reply":{"text":"Track","postbackData":"track"}}]}}}}}`)
	gone := b.sendOK(t, rcsPhone, `{"contentMessage":{"text":"gone"}}`)
	code, body := rbmDo(t, http.MethodDelete, b.base+"/v1/phones/"+rcsPhone+"/agentMessages/"+gone+"?agentId="+testAgent, testToken, "", "")
	require.Equal(t, 200, code, "%s", body)
	// SMS, then MMS, to the other number.
	c := bound(t, b.s)
	require.Equal(t, data.ESME_ROK, c.submitText("Your code is 1234").CommandStatus)
	ct, req := submitReq(submitOpts{})
	code, body = postMM7(t, b.base, ct, req)
	require.Equal(t, 200, code, "%s", body)

	get := func(number string) sim.HandsetView {
		t.Helper()
		code, body := httpDo(t, http.MethodGet, b.base+"/control/handset/"+url.PathEscape(number), "")
		require.Equal(t, 200, code, "%s", body)
		var v sim.HandsetView
		require.NoError(t, json.Unmarshal(body, &v))
		return v
	}

	v := get(smsPhone)
	require.Equal(t, smsPhone, v.Number)
	require.False(t, v.RCSCapable)
	require.Empty(t, v.RCS)
	require.Len(t, v.SMS, 1)
	require.Equal(t, "ACME", v.SMS[0].From)
	require.Equal(t, "Your code is 1234", v.SMS[0].Text)
	require.True(t, v.SMS[0].Complete)
	require.Len(t, v.MMS, 1)
	require.Equal(t, "36000", v.MMS[0].From)
	require.Equal(t, "Your order", v.MMS[0].Subject)
	require.Equal(t, "Your order has shipped.", v.MMS[0].Text)
	require.Len(t, v.MMS[0].Images, 1)
	require.Equal(t, "image/jpeg", v.MMS[0].Images[0].ContentType)
	resp, err := http.Get(b.base + "/" + v.MMS[0].Images[0].URL)
	require.NoError(t, err)
	img, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, testImage, img)
	// The latest message came by MMS from 36000: a reply is an SMS MO to it.
	require.Equal(t, "sms", v.ReplyChannel)
	require.Equal(t, "36000", v.ReplyTo)
	direct, err := json.Marshal(b.s.Handset(smsPhone))
	require.NoError(t, err)
	viaHTTP, err := json.Marshal(v)
	require.NoError(t, err)
	require.JSONEq(t, string(viaHTTP), string(direct))

	code, body = httpDo(t, http.MethodPost, b.base+"/control/handset/"+url.PathEscape(smsPhone)+"/reply", `{"text":"STOP"}`)
	require.Equal(t, 200, code, "%s", body)
	require.JSONEq(t, `{"ok":true,"channel":"sms"}`, string(body))
	mo := readMOPart(t, c, data.ESME_ROK)
	require.Equal(t, "STOP", mo.text)
	require.Equal(t, "36000", mo.to)
	require.Equal(t, "33612345678", mo.from)

	v = get(rcsPhone)
	require.True(t, v.RCSCapable)
	require.Empty(t, v.SMS)
	require.Empty(t, v.MMS)
	require.Len(t, v.RCS, 1)
	require.Equal(t, cardID, v.RCS[0].MessageID)
	require.Contains(t, string(v.RCS[0].Body), `"postbackData":"track"`)
	require.Equal(t, "rcs", v.ReplyChannel)
	require.Equal(t, testAgent, v.ReplyTo)
	ch, err := b.s.HandsetReply(rcsPhone, "where is it?")
	require.NoError(t, err)
	require.Equal(t, "rcs", ch)
	evs := rbmEvents(t, b.hook.wait(1))
	require.Equal(t, "where is it?", evs[0]["text"])
	require.Equal(t, rcsPhone, evs[0]["senderPhoneNumber"])

	// Nothing received: nothing to reply to.
	code, _ = httpDo(t, http.MethodPost, b.base+"/control/handset/%2B33600000000/reply", `{"text":"hi"}`)
	require.Equal(t, http.StatusConflict, code)
	code, _ = httpDo(t, http.MethodPost, b.base+"/control/handset/%2B33600000000/reply", `{"text":""}`)
	require.Equal(t, http.StatusBadRequest, code)

	code, body = httpDo(t, http.MethodGet, b.base+"/control/handset", "")
	require.Equal(t, 200, code)
	require.JSONEq(t, `{"numbers":["+33611111111","+33612345678"]}`, string(body))
}

func TestHandsetPage(t *testing.T) {
	t.Parallel()
	s := start(t, sim.Config{HTTPAddr: "127.0.0.1:0"})
	resp, err := http.Get(s.HTTPURL() + "/handset")
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	page := string(b)
	for _, want := range []string{
		`<meta name="viewport"`, `<label for="number">`, `id="number"`, `<label for="text">`, `id="text"`,
		`"control/handset/"`, `"control/rbm/tap"`, `"control/rbm/deliver"`, `"control/rbm/read"`,
	} {
		require.Contains(t, page, want)
	}
	// No CDN: nothing is loaded from elsewhere.
	require.NotContains(t, page, "<script src")
	require.NotContains(t, page, "<link")
	require.False(t, strings.Contains(page, "http://") || strings.Contains(page, "https://"), "absolute URL in the page")
}
