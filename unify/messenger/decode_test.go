package messenger_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"gateway/unify"
	"gateway/unify/messenger"
)

const phone = "+33612345678"

// send wraps a message object in a request to phone.
func send(message string) string {
	return `{"recipient":{"phone_number":"` + phone + `"},"messaging_type":"RESPONSE","message":` + message + `}`
}

func generic(elements ...string) string {
	return `{"attachment":{"type":"template","payload":{"template_type":"generic","elements":[` + strings.Join(elements, ",") + `]}}}`
}

func buttonTemplate(text string, buttons ...string) string {
	return `{"attachment":{"type":"template","payload":{"template_type":"button","text":"` + text + `","buttons":[` + strings.Join(buttons, ",") + `]}}}`
}

func quickReplies(n int) string {
	q := make([]string, n)
	for i := range q {
		q[i] = fmt.Sprintf(`{"content_type":"text","title":"R%d","payload":"P%d"}`, i, i)
	}
	return `[` + strings.Join(q, ",") + `]`
}

func buttons(n int) string {
	b := make([]string, n)
	for i := range b {
		b[i] = fmt.Sprintf(`{"type":"postback","title":"B%d","payload":"P%d"}`, i, i)
	}
	return strings.Join(b, ",")
}

func elements(n int) []string {
	e := make([]string, n)
	for i := range e {
		e[i] = fmt.Sprintf(`{"title":"E%d","subtitle":"s"}`, i)
	}
	return e
}

// decodeCases maps Send API requests to the unified content they become.
// Postbacks show how replies come back: a postback button's payload is
// prefixed "messenger:postback:", web_url and phone_number buttons carry
// "messenger:action", quick replies their payload unchanged.
var decodeCases = []struct {
	name    string
	body    string
	to      string
	toField string
	want    unify.Content
}{
	{
		name: "text with quick replies",
		body: send(`{"text":"Pick a color:","quick_replies":[
			{"content_type":"text","title":"Red","payload":"COLOR_RED","image_url":"https://example.com/red.png"},
			{"content_type":"text","title":"Green","payload":42}]}`),
		want: unify.Content{Text: "Pick a color:", Suggestions: []unify.Suggestion{
			{Type: unify.SuggestReply, Text: "Red", Postback: "COLOR_RED"},
			{Type: unify.SuggestReply, Text: "Green", Postback: "42"},
		}},
	},
	{
		name:    "recipient id that is a number",
		body:    `{"recipient":{"id":"+14155550100"},"message":{"text":"hi"}}`,
		to:      "+14155550100",
		toField: "recipient.id",
		want:    unify.Content{Text: "hi"},
	},
	{
		name: "image attachment",
		body: send(`{"attachment":{"type":"image","payload":{"url":"https://cdn.example/p.png?v=2","is_reusable":true}},
			"quick_replies":[{"content_type":"text","title":"Nice","payload":"NICE"}]}`),
		want: unify.Content{
			Media:       &unify.Media{URL: "https://cdn.example/p.png?v=2", MimeType: "image/png"},
			Suggestions: []unify.Suggestion{{Type: unify.SuggestReply, Text: "Nice", Postback: "NICE"}},
		},
	},
	{
		name: "generic template of one element is a card",
		body: send(generic(`{"title":"Welcome!","subtitle":"We have the right hat for everyone.",
			"image_url":"https://cdn.example/hat.jpg",
			"buttons":[
				{"type":"web_url","url":"https://shop.example","title":"View Website","webview_height_ratio":"tall","messenger_extensions":false},
				{"type":"postback","title":"Start Chatting","payload":"START"},
				{"type":"phone_number","title":"Call us","payload":"+15105551234"}]}`)),
		want: unify.Content{Card: &unify.Card{
			Title: "Welcome!", Description: "We have the right hat for everyone.",
			Media: &unify.Media{URL: "https://cdn.example/hat.jpg", MimeType: "image/jpeg"},
			Suggestions: []unify.Suggestion{
				{Type: unify.SuggestOpenURL, Text: "View Website", URL: "https://shop.example", Postback: "messenger:action"},
				{Type: unify.SuggestReply, Text: "Start Chatting", Postback: "messenger:postback:START"},
				{Type: unify.SuggestDial, Text: "Call us", Phone: "+15105551234", Postback: "messenger:action"},
			},
		}},
	},
	{
		name: "generic template of several elements is a carousel",
		body: send(`{"attachment":{"type":"template","payload":{"template_type":"generic","sharable":true,"elements":[
				{"title":"Red hat","subtitle":"Wool","image_url":"https://cdn.example/red.gif"},
				{"title":"Green hat","buttons":[{"type":"postback","title":"Buy","payload":"BUY_GREEN"}]}]}},
			"quick_replies":[{"content_type":"text","title":"Red","payload":"COLOR_RED"},{"content_type":"text","title":"Green","payload":"COLOR_GREEN"}]}`),
		want: unify.Content{
			Carousel: &unify.Carousel{Cards: []unify.Card{
				{Title: "Red hat", Description: "Wool", Media: &unify.Media{URL: "https://cdn.example/red.gif", MimeType: "image/gif"}},
				{Title: "Green hat", Suggestions: []unify.Suggestion{{Type: unify.SuggestReply, Text: "Buy", Postback: "messenger:postback:BUY_GREEN"}}},
			}},
			Suggestions: []unify.Suggestion{
				{Type: unify.SuggestReply, Text: "Red", Postback: "COLOR_RED"},
				{Type: unify.SuggestReply, Text: "Green", Postback: "COLOR_GREEN"},
			},
		},
	},
	{
		name: "default action becomes one more button",
		body: send(generic(`{"title":"Hat","default_action":{"type":"web_url","url":"https://shop.example/hat","webview_height_ratio":"full"},
			"buttons":[{"type":"postback","title":"Buy","payload":"BUY"}]}`)),
		want: unify.Content{Card: &unify.Card{Title: "Hat", Suggestions: []unify.Suggestion{
			{Type: unify.SuggestReply, Text: "Buy", Postback: "messenger:postback:BUY"},
			{Type: unify.SuggestOpenURL, Text: messenger.DefaultActionText, URL: "https://shop.example/hat", Postback: "messenger:action"},
		}}},
	},
	{
		name: "default action to a button's url adds nothing",
		body: send(generic(`{"title":"Hat","default_action":{"type":"web_url","url":"https://shop.example/hat"},
			"buttons":[{"type":"web_url","title":"See","url":"https://shop.example/hat"}]}`)),
		want: unify.Content{Card: &unify.Card{Title: "Hat", Suggestions: []unify.Suggestion{
			{Type: unify.SuggestOpenURL, Text: "See", URL: "https://shop.example/hat", Postback: "messenger:action"},
		}}},
	},
	{
		name: "button template is text with suggestions, before quick replies",
		body: send(`{"attachment":{"type":"template","payload":{"template_type":"button","text":"What do you want to do next?",
				"buttons":[{"type":"postback","title":"Track order","payload":"TRACK_123"},{"type":"web_url","title":"Help","url":"https://help.example"}]}},
			"quick_replies":[{"content_type":"text","title":"Nothing","payload":"messenger:odd"}]}`),
		want: unify.Content{Text: "What do you want to do next?", Suggestions: []unify.Suggestion{
			{Type: unify.SuggestReply, Text: "Track order", Postback: "messenger:postback:TRACK_123"},
			{Type: unify.SuggestOpenURL, Text: "Help", URL: "https://help.example", Postback: "messenger:action"},
			{Type: unify.SuggestReply, Text: "Nothing", Postback: "messenger:quick_reply:messenger:odd"},
		}},
	},
	{
		name: "presentation fields and nulls are accepted",
		body: `{"recipient":{"phone_number":"` + phone + `"},"messaging_type":"MESSAGE_TAG","tag":"POST_PURCHASE_UPDATE",
			"notification_type":"SILENT_PUSH","message":{"text":"shipped","quick_replies":null,"attachment":null}}`,
		want: unify.Content{Text: "shipped"},
	},
	{
		name: "limits are inclusive",
		body: send(`{"text":"` + strings.Repeat("é", messenger.MaxTextRunes) + `","quick_replies":` + quickReplies(11) + `}`),
		want: unify.Content{Text: strings.Repeat("é", messenger.MaxTextRunes), Suggestions: func() []unify.Suggestion {
			var s []unify.Suggestion
			for i := range 11 {
				s = append(s, unify.Suggestion{Type: unify.SuggestReply, Text: fmt.Sprintf("R%d", i), Postback: fmt.Sprintf("P%d", i)})
			}
			return s
		}()},
	},
}

func TestDecode(t *testing.T) {
	t.Parallel()
	for _, tc := range decodeCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, err := messenger.Decode([]byte(tc.body))
			require.NoError(t, err)
			to, field := tc.to, tc.toField
			if to == "" {
				to, field = phone, "recipient.phone_number"
			}
			require.Equal(t, to, req.To)
			require.Equal(t, field, req.ToField)
			require.Equal(t, tc.want, req.Content)
			require.Empty(t, req.Content.Validate("content"))
		})
	}
}

// Every part the gateway does not map, and every field over Messenger's
// limits, is refused with its path in the request.
func TestDecodeRefuses(t *testing.T) {
	t.Parallel()
	long := func(n int) string { return strings.Repeat("x", n) }
	for _, tc := range []struct {
		name    string
		body    string
		field   string // "" for a problem with the body as a whole
		message string
	}{
		{"empty body", ``, "", "empty"},
		{"not json", `{"recipient":`, "", "not valid JSON"},
		{"array", `[]`, "", "JSON object"},
		{"invalid utf-8", "{\"message\":{\"text\":\"\xff\"}}", "", "UTF-8"},
		{"trailing data", send(`{"text":"hi"}`) + `{}`, "", "after the top-level value"},

		{"no recipient", `{"message":{"text":"hi"}}`, "recipient", "must be set"},
		{"recipient empty", `{"recipient":{},"message":{"text":"hi"}}`, "recipient.phone_number", "must not be empty"},
		{"recipient user_ref", `{"recipient":{"user_ref":"abc"},"message":{"text":"hi"}}`, "recipient.user_ref", "not supported"},
		{"recipient psid", `{"recipient":{"id":"1254459154682919"},"message":{"text":"hi"}}`, "recipient.id", "page-scoped ids"},
		{"recipient both", `{"recipient":{"id":"+33612345678","phone_number":"+33612345678"},"message":{"text":"hi"}}`, "recipient", "not both"},
		{"phone not e164", `{"recipient":{"phone_number":"06 12 34 56 78"},"message":{"text":"hi"}}`, "recipient.phone_number", "E.164"},
		{"phone not a string", `{"recipient":{"phone_number":33612345678},"message":{"text":"hi"}}`, "recipient.phone_number", "must be a string"},
		{"messaging_type unknown", `{"recipient":{"phone_number":"+33612345678"},"messaging_type":"PROMO","message":{"text":"hi"}}`, "messaging_type", "must be one of"},
		{"message tag without tag", `{"recipient":{"phone_number":"+33612345678"},"messaging_type":"MESSAGE_TAG","message":{"text":"hi"}}`, "tag", "MESSAGE_TAG"},
		{"sender action", `{"recipient":{"phone_number":"+33612345678"},"sender_action":"typing_on"}`, "sender_action", "not supported"},
		{"unknown top-level field", `{"recipient":{"phone_number":"+33612345678"},"persona_id":"1","message":{"text":"hi"}}`, "persona_id", "not supported"},

		{"no message", `{"recipient":{"phone_number":"+33612345678"}}`, "message", "must be set"},
		{"message empty", send(`{}`), "message", "text or attachment"},
		{"message text and attachment", send(`{"text":"hi","attachment":{"type":"image","payload":{"url":"https://cdn.example/a.jpg"}}}`), "message", "not both"},
		{"message metadata", send(`{"text":"hi","metadata":"x"}`), "message.metadata", "not supported"},
		{"text too long", send(`{"text":"` + long(messenger.MaxTextRunes+1) + `"}`), "message.text", "at most 2000"},

		{"audio attachment", send(`{"attachment":{"type":"audio","payload":{"url":"https://cdn.example/a.mp3"}}}`), "message.attachment.type", "audio attachments are not supported"},
		{"video attachment", send(`{"attachment":{"type":"video","payload":{"url":"https://cdn.example/a.mp4"}}}`), "message.attachment.type", "video attachments"},
		{"file attachment", send(`{"attachment":{"type":"file","payload":{"url":"https://cdn.example/a.pdf"}}}`), "message.attachment.type", "file attachments"},
		{"unknown attachment", send(`{"attachment":{"type":"sticker","payload":{}}}`), "message.attachment.type", "image or template"},
		{"attachment id", send(`{"attachment":{"type":"image","payload":{"attachment_id":"1857777774821032"}}}`), "message.attachment.payload.attachment_id", "not supported"},
		{"image without url", send(`{"attachment":{"type":"image","payload":{}}}`), "message.attachment.payload.url", "must not be empty"},
		{"image url not http", send(`{"attachment":{"type":"image","payload":{"url":"ftp://cdn.example/a.jpg"}}}`), "message.attachment.payload.url", "http or https"},
		{"image without payload", send(`{"attachment":{"type":"image"}}`), "message.attachment.payload", "must be set"},

		{"receipt template", send(`{"attachment":{"type":"template","payload":{"template_type":"receipt","recipient_name":"A"}}}`), "message.attachment.payload.template_type", "receipt templates are not supported"},
		{"media template", send(`{"attachment":{"type":"template","payload":{"template_type":"media","elements":[]}}}`), "message.attachment.payload.template_type", "media templates"},
		{"template without type", send(`{"attachment":{"type":"template","payload":{}}}`), "message.attachment.payload.template_type", "must not be empty"},
		{"generic image_aspect_ratio", send(`{"attachment":{"type":"template","payload":{"template_type":"generic","image_aspect_ratio":"square","elements":[{"title":"a","subtitle":"b"}]}}}`), "message.attachment.payload.image_aspect_ratio", "not supported"},
		{"no elements", send(generic()), "message.attachment.payload.elements", "at least one"},
		{"eleven elements", send(generic(elements(11)...)), "message.attachment.payload.elements[10]", "one too many: at most 10 elements"},
		{"element without title", send(generic(`{"subtitle":"b"}`)), "message.attachment.payload.elements[0].title", "must not be empty"},
		{"element title too long", send(generic(`{"title":"` + long(81) + `","subtitle":"b"}`)), "message.attachment.payload.elements[0].title", "at most 80"},
		{"element subtitle too long", send(generic(`{"title":"a","subtitle":"` + long(81) + `"}`)), "message.attachment.payload.elements[0].subtitle", "at most 80"},
		{"element title alone", send(generic(`{"title":"a"}`)), "message.attachment.payload.elements[0]", "besides its title"},
		{"element image_url bad", send(generic(`{"title":"a","subtitle":"b"}`, `{"title":"b","image_url":"cdn.example/x.jpg"}`)), "message.attachment.payload.elements[1].image_url", "http or https"},
		{"element unknown field", send(generic(`{"title":"a","subtitle":"b","rating":5}`)), "message.attachment.payload.elements[0].rating", "not supported"},
		{"four buttons", send(generic(`{"title":"a","buttons":[` + buttons(4) + `]}`)), "message.attachment.payload.elements[0].buttons[3]", "one too many: at most 3 buttons"},
		{"account link button", send(generic(`{"title":"a","buttons":[{"type":"account_link","url":"https://x.example/login"}]}`)), "message.attachment.payload.elements[0].buttons[0].type", "account_link buttons are not supported"},
		{"game play button", send(generic(`{"title":"a","buttons":[{"type":"game_play","title":"Play"}]}`)), "message.attachment.payload.elements[0].buttons[0].type", "game_play buttons"},
		{"button without type", send(generic(`{"title":"a","buttons":[{"title":"x","payload":"y"}]}`)), "message.attachment.payload.elements[0].buttons[0].type", "must not be empty"},
		{"button title too long", send(generic(`{"title":"a","buttons":[{"type":"postback","title":"` + long(21) + `","payload":"p"}]}`)), "message.attachment.payload.elements[0].buttons[0].title", "at most 20"},
		{"button without title", send(generic(`{"title":"a","buttons":[{"type":"postback","payload":"p"}]}`)), "message.attachment.payload.elements[0].buttons[0].title", "must not be empty"},
		{"postback payload too long", send(generic(`{"title":"a","buttons":[{"type":"postback","title":"t","payload":"` + long(1001) + `"}]}`)), "message.attachment.payload.elements[0].buttons[0].payload", "at most 1000"},
		{"postback without payload", send(generic(`{"title":"a","buttons":[{"type":"postback","title":"t"}]}`)), "message.attachment.payload.elements[0].buttons[0].payload", "must not be empty"},
		{"phone button not e164", send(generic(`{"title":"a","buttons":[{"type":"web_url","title":"w","url":"https://a.example"},{"type":"phone_number","title":"Call","payload":"0612345678"}]}`)), "message.attachment.payload.elements[0].buttons[1].payload", "E.164"},
		{"web_url without url", send(generic(`{"title":"a","buttons":[{"type":"web_url","title":"w"}]}`)), "message.attachment.payload.elements[0].buttons[0].url", "must not be empty"},
		{"web_url bad url", send(generic(`{"title":"a","buttons":[{"type":"web_url","title":"w","url":"javascript:alert(1)"}]}`)), "message.attachment.payload.elements[0].buttons[0].url", "http or https"},
		{"web_url fallback_url", send(generic(`{"title":"a","buttons":[{"type":"web_url","title":"w","url":"https://a.example","fallback_url":"https://b.example"}]}`)), "message.attachment.payload.elements[0].buttons[0].fallback_url", "not supported"},
		{"web_url bad height", send(generic(`{"title":"a","buttons":[{"type":"web_url","title":"w","url":"https://a.example","webview_height_ratio":"huge"}]}`)), "message.attachment.payload.elements[0].buttons[0].webview_height_ratio", "must be one of"},
		{"default action postback", send(generic(`{"title":"a","default_action":{"type":"postback","payload":"x"}}`)), "message.attachment.payload.elements[0].default_action.type", "must be web_url"},
		{"default action bad url", send(generic(`{"title":"a","default_action":{"type":"web_url","url":"nope"}}`)), "message.attachment.payload.elements[0].default_action.url", "http or https"},

		{"button template without text", send(buttonTemplate("", buttons(1))), "message.attachment.payload.text", "must not be empty"},
		{"button template text too long", send(buttonTemplate(long(641), buttons(1))), "message.attachment.payload.text", "at most 640"},
		{"button template without buttons", send(buttonTemplate("hi")), "message.attachment.payload.buttons", "at least one"},
		{"button template four buttons", send(buttonTemplate("hi", buttons(4))), "message.attachment.payload.buttons[3]", "one too many"},

		{"fourteen quick replies", send(`{"text":"hi","quick_replies":` + quickReplies(14) + `}`), "message.quick_replies[13]", "at most 13 quick replies"},
		{"twelve quick replies", send(`{"text":"hi","quick_replies":` + quickReplies(12) + `}`), "message.quick_replies[11]", "at most 11 suggestions"},
		{"quick replies and buttons over eleven", send(`{"attachment":` + strings.TrimSuffix(strings.TrimPrefix(buttonTemplate("hi", buttons(3)), `{"attachment":`), `}`) + `,"quick_replies":` + quickReplies(9) + `}`), "message.quick_replies[8]", "at most 11 suggestions"},
		{"quick reply phone number", send(`{"text":"hi","quick_replies":[{"content_type":"user_phone_number"}]}`), "message.quick_replies[0].content_type", "user_phone_number quick replies are not supported"},
		{"quick reply email", send(`{"text":"hi","quick_replies":[{"content_type":"user_email"}]}`), "message.quick_replies[0].content_type", "user_email"},
		{"quick reply location", send(`{"text":"hi","quick_replies":[{"content_type":"location"}]}`), "message.quick_replies[0].content_type", "must be text"},
		{"quick reply without content type", send(`{"text":"hi","quick_replies":[{"title":"a","payload":"b"}]}`), "message.quick_replies[0].content_type", "must not be empty"},
		{"quick reply title too long", send(`{"text":"hi","quick_replies":[{"content_type":"text","title":"` + long(21) + `","payload":"b"}]}`), "message.quick_replies[0].title", "at most 20"},
		{"quick reply without payload", send(`{"text":"hi","quick_replies":[{"content_type":"text","title":"a"}]}`), "message.quick_replies[0].payload", "must not be empty"},
		{"quick reply payload too long", send(`{"text":"hi","quick_replies":[{"content_type":"text","title":"a","payload":"` + long(1001) + `"}]}`), "message.quick_replies[0].payload", "at most 1000"},
		{"quick reply payload object", send(`{"text":"hi","quick_replies":[{"content_type":"text","title":"a","payload":{"x":1}}]}`), "message.quick_replies[0].payload", "string or a number"},
		{"quick replies not an array", send(`{"text":"hi","quick_replies":{}}`), "message.quick_replies", "must be an array"},
		{"quick reply not an object", send(`{"text":"hi","quick_replies":["Red"]}`), "message.quick_replies[0]", "must be an object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, err := messenger.Decode([]byte(tc.body))
			require.Nil(t, req)
			require.Error(t, err)
			require.Equal(t, unify.CodeInvalid, unify.CodeOf(err))
			var ue *unify.Error
			require.ErrorAs(t, err, &ue)
			if tc.field == "" {
				require.Empty(t, ue.Fields)
				require.Contains(t, ue.Message, tc.message)
				return
			}
			for _, f := range ue.Fields {
				if f.Field == tc.field {
					require.Contains(t, f.Message, tc.message)
					return
				}
			}
			require.Failf(t, "field not named", "want %s (%s), got %+v", tc.field, tc.message, ue.Fields)
		})
	}
}

// A request with several problems gets them all at once.
func TestDecodeReportsEveryProblem(t *testing.T) {
	t.Parallel()
	_, err := messenger.Decode([]byte(`{"recipient":{"phone_number":"nope"},"message":{"attachment":{"type":"template","payload":{"template_type":"generic","elements":[
		{"title":"a","buttons":[{"type":"account_link","url":"https://x.example"},{"type":"postback","title":"` + strings.Repeat("t", 21) + `","payload":"p"}]}]}},
		"quick_replies":[{"content_type":"user_email"}]}}`))
	var ue *unify.Error
	require.ErrorAs(t, err, &ue)
	var fields []string
	for _, f := range ue.Fields {
		fields = append(fields, f.Field)
	}
	require.ElementsMatch(t, []string{
		"recipient.phone_number",
		"message.attachment.payload.elements[0].buttons[0].type",
		"message.attachment.payload.elements[0].buttons[1].title",
		"message.quick_replies[0].content_type",
	}, fields)
}
