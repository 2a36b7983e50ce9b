package messenger_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"gateway/unify"
	"gateway/unify/messenger"
)

var at = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) // 1795608000000 ms

func TestStatusWebhook(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status unify.Status
		want   string // "" when Messenger has no such event
	}{
		{unify.StatusDelivered, `{"object":"page","entry":[{"id":"acme","time":1795608000000,"messaging":[
			{"sender":{"id":"+33612345678"},"recipient":{"id":"acme"},"delivery":{"mids":["msg_1"],"watermark":1795608000000}}]}]}`},
		{unify.StatusRead, `{"object":"page","entry":[{"id":"acme","time":1795608000000,"messaging":[
			{"sender":{"id":"+33612345678"},"recipient":{"id":"acme"},"timestamp":1795608000000,"read":{"watermark":1795608000000}}]}]}`},
		{unify.StatusSent, ""},
		{unify.StatusFailed, ""},
		{unify.StatusSwitching, ""},
		{unify.StatusAccepted, ""},
	} {
		t.Run(string(tc.status), func(t *testing.T) {
			t.Parallel()
			wh, ok := messenger.StatusWebhook(unify.StatusEvent{Type: unify.EventStatus, ID: "evt_1", MessageID: "msg_1",
				Status: tc.status, Channel: unify.ChannelSMS, At: at}, "+33612345678", "acme")
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
	envelope := func(event string) string {
		return `{"object":"page","entry":[{"id":"acme","time":1795608000000,"messaging":[
			{"sender":{"id":"+33612345678"},"recipient":{"id":"acme"},"timestamp":1795608000000,` + event + `}]}]}`
	}
	for _, tc := range []struct {
		name     string
		text     string
		postback string
		media    []unify.Media
		location *unify.Location
		want     string
	}{
		{name: "text", text: "hello", want: envelope(`"message":{"mid":"evt_1","text":"hello"}`)},
		{name: "quick reply", text: "1", postback: "COLOR_RED",
			want: envelope(`"message":{"mid":"evt_1","text":"1","quick_reply":{"payload":"COLOR_RED"}}`)},
		{name: "quick reply that looked like a prefix", text: "Odd", postback: "messenger:quick_reply:messenger:odd",
			want: envelope(`"message":{"mid":"evt_1","text":"Odd","quick_reply":{"payload":"messenger:odd"}}`)},
		{name: "postback button", text: "Start Chatting", postback: "messenger:postback:START",
			want: envelope(`"postback":{"title":"Start Chatting","payload":"START"}`)},
		{name: "answer to an action", text: "2", postback: "messenger:action",
			want: envelope(`"message":{"mid":"evt_1","text":"2"}`)},
		{name: "media", text: "look", media: []unify.Media{{URL: "https://mms.example/a.jpg", MimeType: "image/jpeg"}, {URL: "https://mms.example/b.pdf", MimeType: "application/pdf"}},
			want: envelope(`"message":{"mid":"evt_1","text":"look","attachments":[
				{"type":"image","payload":{"url":"https://mms.example/a.jpg"}},{"type":"file","payload":{"url":"https://mms.example/b.pdf"}}]}`)},
		{name: "location", location: &unify.Location{Lat: 48.85, Lng: 2.35, Label: "Home"},
			want: envelope(`"message":{"mid":"evt_1","text":"Home https://maps.google.com/?q=48.85,2.35"}`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			wh := messenger.InboundWebhook(unify.InboundEvent{Type: unify.EventInbound, ID: "evt_1", From: "+33612345678", To: "acme",
				Channel: unify.ChannelSMS, InReplyTo: "msg_1", Text: tc.text, Postback: tc.postback, Media: tc.media, Location: tc.location, At: at})
			got, err := json.Marshal(wh)
			require.NoError(t, err)
			require.JSONEq(t, tc.want, string(got))
		})
	}
}

// FuzzMessengerDecode: Decode never panics, and what it accepts is valid
// unified content to an E.164 number.
func FuzzMessengerDecode(f *testing.F) {
	for _, tc := range decodeCases {
		f.Add([]byte(tc.body))
	}
	f.Add([]byte(send(generic(elements(11)...))))
	f.Add([]byte(send(`{"text":"hi","quick_replies":` + quickReplies(14) + `}`)))
	f.Add([]byte(`{"recipient":{"phone_number":"+33612345678"},"message":{"attachment":{"type":"template","payload":{"template_type":"generic","elements":[{"title":"a","buttons":[{"type":"phone_number","title":"c","payload":1e400}]}]}}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := messenger.Decode(body)
		if err != nil {
			require.Nil(t, req)
			require.Equal(t, unify.CodeInvalid, unify.CodeOf(err))
			return
		}
		require.True(t, unify.LooksE164(req.To), req.To)
		require.Empty(t, req.Content.Validate("content"))
	})
}
