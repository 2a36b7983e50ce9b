package whatsapp_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"gateway/unify"
	"gateway/unify/whatsapp"
)

var at = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) // 1795608000

func envelope(value string) string {
	return `{"object":"whatsapp_business_account","entry":[{"id":"acme","changes":[{"field":"messages","value":{
		"messaging_product":"whatsapp","metadata":{"display_phone_number":"acme","phone_number_id":"acme"},` + value + `}}]}]}`
}

func TestStatusWebhook(t *testing.T) {
	t.Parallel()
	status := func(s, extra string) string {
		return envelope(`"statuses":[{"id":"msg_1","status":"` + s + `","timestamp":"1795608000","recipient_id":"16505551234"` + extra + `}]`)
	}
	for _, tc := range []struct {
		status unify.Status
		errMsg string
		want   string // "" when WhatsApp has no such status
	}{
		{unify.StatusSent, "", status("sent", "")},
		{unify.StatusDelivered, "", status("delivered", "")},
		{unify.StatusRead, "", status("read", "")},
		{unify.StatusFailed, "rcs: rejected; sms: UNDELIV", status("failed",
			`,"errors":[{"code":131026,"title":"Message undeliverable","message":"Message undeliverable","error_data":{"details":"rcs: rejected; sms: UNDELIV"}}]`)},
		{unify.StatusFailed, "", status("failed", `,"errors":[{"code":131026,"title":"Message undeliverable","message":"Message undeliverable"}]`)},
		{unify.StatusSwitching, "", ""},
		{unify.StatusSending, "", ""},
	} {
		t.Run(string(tc.status), func(t *testing.T) {
			t.Parallel()
			wh, ok := whatsapp.StatusWebhook(unify.StatusEvent{Type: unify.EventStatus, ID: "evt_1", MessageID: "msg_1",
				Status: tc.status, Error: tc.errMsg, At: at}, "+16505551234", "acme")
			if tc.want == "" {
				require.False(t, ok)
				return
			}
			require.True(t, ok)
			got, err := json.Marshal(wh)
			require.NoError(t, err)
			require.JSONEq(t, tc.want, string(got))
		})
	}
}

func TestInboundWebhook(t *testing.T) {
	t.Parallel()
	msgs := func(m string) string {
		return envelope(`"contacts":[{"profile":{"name":""},"wa_id":"16505551234"}],"messages":[` + m + `]`)
	}
	const head = `"context":{"from":"acme","id":"msg_1"},"from":"16505551234","timestamp":"1795608000"`
	for _, tc := range []struct {
		name     string
		text     string
		postback string
		media    []unify.Media
		location *unify.Location
		want     string
	}{
		{name: "text", text: "hello", want: msgs(`{` + head + `,"id":"evt_1","type":"text","text":{"body":"hello"}}`)},
		{name: "button reply", text: "Cancel", postback: "cancel-button",
			want: msgs(`{` + head + `,"id":"evt_1","type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":"cancel-button","title":"Cancel"}}}`)},
		{name: "escaped button reply", text: "1", postback: "whatsapp:button:whatsapp:list:x",
			want: msgs(`{` + head + `,"id":"evt_1","type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":"whatsapp:list:x","title":"1"}}}`)},
		{name: "list reply", text: "2", postback: "whatsapp:list:exp",
			want: msgs(`{` + head + `,"id":"evt_1","type":"interactive","interactive":{"type":"list_reply","list_reply":{"id":"exp","title":"2"}}}`)},
		{name: "media", text: "look", media: []unify.Media{{URL: "https://mms.example/a.jpg", MimeType: "image/jpeg"}, {URL: "https://mms.example/b.mp4", MimeType: "video/mp4"}},
			want: msgs(`{` + head + `,"id":"evt_1","type":"image","image":{"id":"https://mms.example/a.jpg","mime_type":"image/jpeg","caption":"look"}},
				{` + head + `,"id":"evt_1.1","type":"video","video":{"id":"https://mms.example/b.mp4","mime_type":"video/mp4"}}`)},
		{name: "location", location: &unify.Location{Lat: 48.85, Lng: 2.35},
			want: msgs(`{` + head + `,"id":"evt_1","type":"text","text":{"body":"https://maps.google.com/?q=48.85,2.35"}}`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			wh := whatsapp.InboundWebhook(unify.InboundEvent{Type: unify.EventInbound, ID: "evt_1", From: "+16505551234", To: "acme",
				Channel: unify.ChannelSMS, InReplyTo: "msg_1", Text: tc.text, Postback: tc.postback, Media: tc.media, Location: tc.location, At: at})
			got, err := json.Marshal(wh)
			require.NoError(t, err)
			require.JSONEq(t, tc.want, string(got))
		})
	}
}

// FuzzWhatsAppDecode: Decode never panics, and what it accepts is valid
// unified content to an E.164 number.
func FuzzWhatsAppDecode(f *testing.F) {
	for _, tc := range decodeCases {
		f.Add([]byte(tc.body))
	}
	f.Add([]byte(listMsg(`{"button":"Options","sections":[{"title":"a","rows":` + rows(8) + `},{"title":"b","rows":` + rows(3) + `}]}`)))
	f.Add([]byte(send("location", `{"latitude":"NaN","longitude":"1e400"}`)))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := whatsapp.Decode(body)
		if err != nil {
			require.Nil(t, req)
			require.Equal(t, unify.CodeInvalid, unify.CodeOf(err))
			return
		}
		require.True(t, unify.LooksE164(req.To), req.To)
		require.Empty(t, req.Content.Validate("content"))
	})
}
