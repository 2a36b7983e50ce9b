package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"gateway/unify"
	"gateway/web"
)

// metaKeys gives the test key the messenger dialect and the sender acme.
func metaKeys(dialect string) option {
	return func(c *web.Config) {
		c.KeyDialects = map[string]string{testKeyName: dialect, "other": "unified"}
		c.KeySenders = map[string]string{testKeyName: "acme"}
	}
}

const messengerBody = `{"recipient":{"phone_number":"+33612345678"},"messaging_type":"RESPONSE","message":{
	"attachment":{"type":"template","payload":{"template_type":"generic","elements":[
		{"title":"Red hat","subtitle":"Wool"},{"title":"Green hat","subtitle":"Cotton"}]}},
	"quick_replies":[{"content_type":"text","title":"Red","payload":"COLOR_RED"}]}}`

const whatsappBody = `{"messaging_product":"whatsapp","recipient_type":"individual","to":"33612345678","type":"interactive",
	"interactive":{"type":"button","body":{"text":"Change your delivery date?"},"action":{"buttons":[
		{"type":"reply","reply":{"id":"change-button","title":"Change"}}]}}}`

func TestMessengerSend(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, path, from string
	}{
		{"native path, key's sender", "/v1/messenger/messages", "acme"},
		{"graph path me, key's sender", "/v1/messenger/me/messages", "acme"},
		{"graph path names the sender", "/v1/messenger/shop/messages", "shop"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, metaKeys("messenger"))
			rec := b.do(t, request(http.MethodPost, tc.path, messengerBody))
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			require.JSONEq(t, `{"recipient_id":"+33612345678","message_id":"msg_00000000000000000000000001"}`, rec.Body.String())
			require.Equal(t, "/v1/messages/msg_00000000000000000000000001", rec.Header().Get("Location"))
			calls := b.fake.acceptCalls()
			require.Len(t, calls, 1)
			m := calls[0].Msg
			require.Equal(t, "+33612345678", m.To)
			require.Equal(t, tc.from, m.From)
			require.Equal(t, "messenger", m.Dialect)
			require.Equal(t, unify.Content{
				Carousel:    &unify.Carousel{Cards: []unify.Card{{Title: "Red hat", Description: "Wool"}, {Title: "Green hat", Description: "Cotton"}}},
				Suggestions: []unify.Suggestion{{Type: unify.SuggestReply, Text: "Red", Postback: "COLOR_RED"}},
			}, m.Content)
		})
	}
}

func TestWhatsAppSend(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, path, from string
	}{
		{"native path, key's sender", "/v1/whatsapp/messages", "acme"},
		{"graph path names the sender", "/v1/whatsapp/106540352242922/messages", "106540352242922"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, metaKeys("whatsapp"))
			rec := b.do(t, request(http.MethodPost, tc.path, whatsappBody))
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			require.JSONEq(t, `{"messaging_product":"whatsapp","contacts":[{"input":"33612345678","wa_id":"33612345678"}],
				"messages":[{"id":"msg_00000000000000000000000001"}]}`, rec.Body.String())
			calls := b.fake.acceptCalls()
			require.Len(t, calls, 1)
			m := calls[0].Msg
			require.Equal(t, "+33612345678", m.To)
			require.Equal(t, tc.from, m.From)
			require.Equal(t, "whatsapp", m.Dialect)
			require.Equal(t, unify.Content{Text: "Change your delivery date?",
				Suggestions: []unify.Suggestion{{Type: unify.SuggestReply, Text: "Change", Postback: "change-button"}}}, m.Content)
		})
	}
}

// Messenger bots pass their token as ?access_token=.
func TestMessengerAccessToken(t *testing.T) {
	t.Parallel()
	b := setup(t, metaKeys("messenger"))
	r := request(http.MethodPost, "/v1/messenger/me/messages?access_token="+testKey, messengerBody, "Authorization", "")
	rec := b.do(t, r)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, "acme", b.fake.acceptCalls()[0].Msg.From)

	r = request(http.MethodPost, "/v1/messenger/me/messages?access_token=wrong-key-0123456", messengerBody, "Authorization", "")
	rec = b.do(t, r)
	problem(t, rec, http.StatusUnauthorized, "unauthorized")
	// Only on Messenger's routes.
	r = request(http.MethodPost, "/v1/whatsapp/messages?access_token="+testKey, whatsappBody, "Authorization", "")
	rec = b.do(t, r)
	problem(t, rec, http.StatusUnauthorized, "unauthorized")
	require.NotContains(t, b.logs.String(), testKey)
}

// The API key's dialect follows every message it sends, whatever the route.
func TestKeyDialectOnEverySend(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ dialect, want string }{
		{"whatsapp", "whatsapp"}, {"messenger", "messenger"}, {"unified", ""}, {"", ""},
	} {
		t.Run("dialect "+tc.dialect, func(t *testing.T) {
			t.Parallel()
			b := setup(t, metaKeys(tc.dialect))
			rec := b.post(t, sendBody(`{"text":"hi"}`))
			require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
			rec = b.do(t, request(http.MethodPost, "/v1/whatsapp/messages", whatsappBody))
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			for _, c := range b.fake.acceptCalls() {
				require.Equal(t, tc.want, c.Msg.Dialect)
			}
		})
	}
}

func TestMetaSendRefuses(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 21)
	for _, tc := range []struct {
		name, path, body string
		keys             option
		acceptErr        error
		field, message   string
	}{
		{name: "messenger fourth button", path: "/v1/messenger/messages",
			body:  `{"recipient":{"phone_number":"+33612345678"},"message":{"attachment":{"type":"template","payload":{"template_type":"generic","elements":[{"title":"a","buttons":[` + strings.Repeat(`{"type":"postback","title":"b","payload":"p"},`, 3) + `{"type":"postback","title":"b","payload":"p"}]}]}}}}`,
			field: "message.attachment.payload.elements[0].buttons[3]", message: "one too many"},
		{name: "messenger receipt template", path: "/v1/messenger/messages",
			body:  `{"recipient":{"phone_number":"+33612345678"},"message":{"attachment":{"type":"template","payload":{"template_type":"receipt"}}}}`,
			field: "message.attachment.payload.template_type", message: "not supported"},
		{name: "messenger audio", path: "/v1/messenger/messages",
			body:  `{"recipient":{"phone_number":"+33612345678"},"message":{"attachment":{"type":"audio","payload":{"url":"https://cdn.example/a.mp3"}}}}`,
			field: "message.attachment.type", message: "audio attachments are not supported"},
		{name: "messenger number not in plan", path: "/v1/messenger/messages",
			body:  `{"recipient":{"phone_number":"+33612345"},"message":{"text":"hi"}}`,
			field: "recipient.phone_number", message: "numbering plan"},
		{name: "messenger no sender", path: "/v1/messenger/messages", keys: func(*web.Config) {},
			body:  `{"recipient":{"phone_number":"+33612345678"},"message":{"text":"hi"}}`,
			field: "sender", message: "api_keys[].sender"},
		{name: "messenger unknown sender", path: "/v1/messenger/nobody/messages",
			acceptErr: unify.Invalid(unify.FieldError{Field: "from", Message: `no sender named "nobody"`}),
			body:      `{"recipient":{"phone_number":"+33612345678"},"message":{"text":"hi"}}`,
			field:     "sender", message: "no sender named"},
		{name: "whatsapp button title", path: "/v1/whatsapp/messages",
			body:  `{"messaging_product":"whatsapp","to":"33612345678","type":"interactive","interactive":{"type":"button","body":{"text":"x"},"action":{"buttons":[{"type":"reply","reply":{"id":"a","title":"` + long + `"}}]}}}`,
			field: "interactive.action.buttons[0].reply.title", message: "at most 20"},
		{name: "whatsapp video", path: "/v1/whatsapp/messages",
			body:  `{"messaging_product":"whatsapp","to":"33612345678","type":"video","video":{"link":"https://cdn.example/a.mp4"}}`,
			field: "type", message: "video messages are not supported"},
		{name: "whatsapp number not in plan", path: "/v1/whatsapp/messages",
			body:  `{"messaging_product":"whatsapp","to":"33612345","type":"text","text":{"body":"hi"}}`,
			field: "to", message: "numbering plan"},
		{name: "whatsapp bad idempotency key", path: "/v1/whatsapp/messages",
			body:  whatsappBody,
			field: "Idempotency-Key", message: "printable ASCII"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			keys := tc.keys
			if keys == nil {
				keys = metaKeys("messenger")
			}
			b := setup(t, keys)
			b.fake.acceptErr = tc.acceptErr
			r := request(http.MethodPost, tc.path, tc.body)
			if tc.field == "Idempotency-Key" {
				r.Header.Set("Idempotency-Key", "é")
			}
			p := problem(t, b.do(t, r), http.StatusBadRequest, "invalid")
			for _, f := range p.Errors {
				if f.Field == tc.field {
					require.Contains(t, f.Message, tc.message)
					if tc.acceptErr == nil {
						require.Empty(t, b.fake.acceptCalls(), "nothing reaches the core")
					}
					return
				}
			}
			require.Failf(t, "field not named", "want %s, got %+v", tc.field, p.Errors)
		})
	}
}

func TestMetaSendBodyProblems(t *testing.T) {
	t.Parallel()
	b := setup(t, metaKeys("messenger"))
	rec := b.do(t, request(http.MethodPost, "/v1/messenger/messages", messengerBody, "Content-Type", "text/plain"))
	problem(t, rec, http.StatusUnsupportedMediaType, "unsupported_media_type")
	rec = b.do(t, request(http.MethodPost, "/v1/whatsapp/messages", `{"messaging_product":`))
	p := problem(t, rec, http.StatusBadRequest, "invalid")
	require.Contains(t, p.Detail, "not valid JSON")
}

func TestMetaSendIdempotency(t *testing.T) {
	t.Parallel()
	b := setup(t, metaKeys("whatsapp"))
	first := b.do(t, request(http.MethodPost, "/v1/whatsapp/messages", whatsappBody, "Idempotency-Key", "k1"))
	require.Equal(t, http.StatusOK, first.Code, first.Body.String())
	again := b.do(t, request(http.MethodPost, "/v1/whatsapp/messages", whatsappBody, "Idempotency-Key", "k1"))
	require.Equal(t, http.StatusOK, again.Code)
	require.Equal(t, "true", again.Header().Get(web.HeaderIdempotentReplayed))
	require.JSONEq(t, first.Body.String(), again.Body.String())

	other := strings.Replace(whatsappBody, "Change your", "Keep your", 1)
	problem(t, b.do(t, request(http.MethodPost, "/v1/whatsapp/messages", other, "Idempotency-Key", "k1")), http.StatusConflict, "conflict")

	var calls []unify.Idempotency
	for _, c := range b.fake.acceptCalls() {
		calls = append(calls, c.Idem)
	}
	require.Len(t, calls, 3)
	require.Equal(t, calls[0], calls[1])
	require.NotEqual(t, calls[0].Hash, calls[2].Hash)
}
