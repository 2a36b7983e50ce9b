package whatsapp_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"gateway/unify"
	"gateway/unify/whatsapp"
)

// send wraps a message of the given type and body in a request to
// 16505551234 (written as WhatsApp writes numbers, without '+').
func send(typ, body string) string {
	return `{"messaging_product":"whatsapp","recipient_type":"individual","to":"16505551234","type":"` + typ + `","` + typ + `":` + body + `}`
}

func buttons(n int) string {
	b := make([]string, n)
	for i := range b {
		b[i] = fmt.Sprintf(`{"type":"reply","reply":{"id":"b%d","title":"Button %d"}}`, i, i)
	}
	return `[` + strings.Join(b, ",") + `]`
}

func rows(n int) string {
	r := make([]string, n)
	for i := range r {
		r[i] = fmt.Sprintf(`{"id":"r%d","title":"Row %d"}`, i, i)
	}
	return `[` + strings.Join(r, ",") + `]`
}

func buttonMsg(action string) string {
	return send("interactive", `{"type":"button","body":{"text":"Change your delivery date?"},"action":`+action+`}`)
}

func listMsg(action string) string {
	return send("interactive", `{"type":"list","body":{"text":"Choose a speed"},"action":`+action+`}`)
}

// decodeCases maps Cloud API requests to the unified content they become.
// List rows' postbacks are prefixed "whatsapp:list:" so that a reply comes
// back as a list_reply; button ids travel unchanged.
var decodeCases = []struct {
	name  string
	body  string
	input string
	want  unify.Content
}{
	{
		name: "text",
		body: send("text", `{"preview_url":true,"body":"Hello https://example.com"}`),
		want: unify.Content{Text: "Hello https://example.com"},
	},
	{
		name:  "to with plus, no type",
		body:  `{"messaging_product":"whatsapp","to":"+16505551234","text":{"body":"hi"}}`,
		input: "+16505551234",
		want:  unify.Content{Text: "hi"},
	},
	{
		name: "image with caption",
		body: send("image", `{"link":"https://cdn.example/aloe.png","caption":"The best succulent ever?"}`),
		want: unify.Content{Text: "The best succulent ever?", Media: &unify.Media{URL: "https://cdn.example/aloe.png", MimeType: "image/png"}},
	},
	{
		name: "image without caption",
		body: send("image", `{"link":"https://cdn.example/aloe"}`),
		want: unify.Content{Media: &unify.Media{URL: "https://cdn.example/aloe", MimeType: "image/jpeg"}},
	},
	{
		name: "location with name and address, as strings",
		body: send("location", `{"latitude":"37.44216251868683","longitude":"-122.16153582049394","name":"Philz Coffee","address":"101 Forest Ave, Palo Alto, CA 94301"}`),
		want: unify.Content{Location: &unify.Location{Lat: 37.44216251868683, Lng: -122.16153582049394, Label: "Philz Coffee, 101 Forest Ave, Palo Alto, CA 94301"}},
	},
	{
		name: "location as numbers, address only",
		body: send("location", `{"latitude":48.85,"longitude":2.35,"address":"Paris"}`),
		want: unify.Content{Location: &unify.Location{Lat: 48.85, Lng: 2.35, Label: "Paris"}},
	},
	{
		name: "reply buttons with header and footer",
		body: send("interactive", `{"type":"button","header":{"type":"text","text":"Delivery"},"body":{"text":"Change your delivery date?"},
			"footer":{"text":"Reply below"},"action":{"buttons":[
				{"type":"reply","reply":{"id":"change-button","title":"Change"}},
				{"type":"reply","reply":{"id":"cancel-button","title":"Cancel"}}]}}`),
		want: unify.Content{Text: "Delivery\n\nChange your delivery date?\n\nReply below", Suggestions: []unify.Suggestion{
			{Type: unify.SuggestReply, Text: "Change", Postback: "change-button"},
			{Type: unify.SuggestReply, Text: "Cancel", Postback: "cancel-button"},
		}},
	},
	{
		name: "button id that looks like a prefix is escaped",
		body: buttonMsg(`{"buttons":[{"type":"reply","reply":{"id":"whatsapp:list:x","title":"Odd"}}]}`),
		want: unify.Content{Text: "Change your delivery date?", Suggestions: []unify.Suggestion{
			{Type: unify.SuggestReply, Text: "Odd", Postback: "whatsapp:button:whatsapp:list:x"},
		}},
	},
	{
		name: "list of plain rows is numbered choices",
		body: listMsg(`{"button":"Options","sections":[{"rows":[{"id":"std","title":"Standard"},{"id":"exp","title":"Express"}]}]}`),
		want: unify.Content{Text: "Choose a speed", Suggestions: []unify.Suggestion{
			{Type: unify.SuggestReply, Text: "Standard", Postback: "whatsapp:list:std"},
			{Type: unify.SuggestReply, Text: "Express", Postback: "whatsapp:list:exp"},
		}},
	},
	{
		name: "list with sections and descriptions is written out",
		body: send("interactive", `{"type":"list","header":{"type":"text","text":"Shipping"},"body":{"text":"Choose a speed"},"footer":{"text":"Prices include tax"},
			"action":{"button":"Options","sections":[
				{"title":"Express","rows":[{"id":"priority_express","title":"Priority Mail Express","description":"Next Day to 2 Days"}]},
				{"title":"Standard","rows":[{"id":"ground","title":"Ground"},{"id":"media","title":"Media Mail","description":"Books only"}]}]}}`),
		want: unify.Content{
			Text: "Shipping\n\nChoose a speed\n\nExpress\n- Priority Mail Express: Next Day to 2 Days\nStandard\n- Ground\n- Media Mail: Books only\n\nPrices include tax",
			Suggestions: []unify.Suggestion{
				{Type: unify.SuggestReply, Text: "Priority Mail Express", Postback: "whatsapp:list:priority_express"},
				{Type: unify.SuggestReply, Text: "Ground", Postback: "whatsapp:list:ground"},
				{Type: unify.SuggestReply, Text: "Media Mail", Postback: "whatsapp:list:media"},
			},
		},
	},
	{
		name: "limits are inclusive",
		body: listMsg(`{"button":"` + strings.Repeat("b", 20) + `","sections":[{"title":"a","rows":` + rows(4) + `},{"title":"` + strings.Repeat("t", 24) + `","rows":` + rows(6) + `}]}`),
		want: unify.Content{
			Text: "Choose a speed\n\na\n- Row 0\n- Row 1\n- Row 2\n- Row 3\n" + strings.Repeat("t", 24) + "\n- Row 0\n- Row 1\n- Row 2\n- Row 3\n- Row 4\n- Row 5",
			Suggestions: func() []unify.Suggestion {
				var s []unify.Suggestion
				for _, n := range []int{4, 6} {
					for i := range n {
						s = append(s, unify.Suggestion{Type: unify.SuggestReply, Text: fmt.Sprintf("Row %d", i), Postback: fmt.Sprintf("whatsapp:list:r%d", i)})
					}
				}
				return s
			}(),
		},
	},
}

func TestDecode(t *testing.T) {
	t.Parallel()
	for _, tc := range decodeCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, err := whatsapp.Decode([]byte(tc.body))
			require.NoError(t, err)
			input := tc.input
			if input == "" {
				input = "16505551234"
			}
			require.Equal(t, "+16505551234", req.To)
			require.Equal(t, input, req.Input)
			require.Equal(t, tc.want, req.Content)
			require.Empty(t, req.Content.Validate("content"))
		})
	}
}

func TestNewResponse(t *testing.T) {
	t.Parallel()
	require.Equal(t, whatsapp.Response{
		MessagingProduct: "whatsapp",
		Contacts:         []whatsapp.ResponseContact{{Input: "+16505551234", WaID: "16505551234"}},
		Messages:         []whatsapp.ResponseMessage{{ID: "msg_1"}},
	}, whatsapp.NewResponse("+16505551234", "+16505551234", "msg_1"))
}

// Every part the gateway does not map, and every field over WhatsApp's
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
		{"empty body", ` `, "", "empty"},
		{"not json", `{"to":`, "", "not valid JSON"},
		{"string", `"hi"`, "", "JSON object"},

		{"no messaging_product", `{"to":"16505551234","type":"text","text":{"body":"hi"}}`, "messaging_product", "must not be empty"},
		{"other messaging_product", `{"messaging_product":"sms","to":"16505551234","type":"text","text":{"body":"hi"}}`, "messaging_product", "must be whatsapp"},
		{"group recipient", `{"messaging_product":"whatsapp","recipient_type":"group","to":"16505551234","type":"text","text":{"body":"hi"}}`, "recipient_type", "must be one of individual"},
		{"no to", `{"messaging_product":"whatsapp","type":"text","text":{"body":"hi"}}`, "to", "must not be empty"},
		{"to with spaces", `{"messaging_product":"whatsapp","to":"1 650 555 1234","type":"text","text":{"body":"hi"}}`, "to", "international form"},
		{"to too short", `{"messaging_product":"whatsapp","to":"12345","type":"text","text":{"body":"hi"}}`, "to", "international form"},
		{"context", `{"messaging_product":"whatsapp","to":"16505551234","context":{"message_id":"wamid.x"},"type":"text","text":{"body":"hi"}}`, "context", "not supported"},
		{"unknown type", send("poll", `{}`), "type", "must be text, image, location or interactive"},
		{"audio", send("audio", `{"link":"https://cdn.example/a.mp3"}`), "type", "audio messages are not supported"},
		{"video", send("video", `{"link":"https://cdn.example/a.mp4"}`), "type", "video messages"},
		{"document", send("document", `{"link":"https://cdn.example/a.pdf"}`), "type", "document messages"},
		{"sticker", send("sticker", `{"id":"1"}`), "type", "sticker messages"},
		{"template", send("template", `{"name":"hello_world","language":{"code":"en_US"}}`), "type", "template messages"},
		{"reaction", send("reaction", `{"message_id":"wamid.x","emoji":"👍"}`), "type", "reaction messages"},
		{"body of another type", `{"messaging_product":"whatsapp","to":"16505551234","type":"text","text":{"body":"hi"},"image":{"link":"https://cdn.example/a.jpg"}}`, "image", "does not go with type text"},

		{"text missing", `{"messaging_product":"whatsapp","to":"16505551234","type":"text"}`, "text", "must be set"},
		{"text body empty", send("text", `{"body":""}`), "text.body", "must not be empty"},
		{"text too long", send("text", `{"body":"`+long(4097)+`"}`), "text.body", "at most 4096"},
		{"text unknown field", send("text", `{"body":"hi","format":"markdown"}`), "text.format", "not supported"},

		{"image by id", send("image", `{"id":"1037543291543636"}`), "image.id", "not supported"},
		{"image without link", send("image", `{"caption":"x"}`), "image.link", "must not be empty"},
		{"image link not http", send("image", `{"link":"file:///etc/passwd"}`), "image.link", "http or https"},
		{"caption too long", send("image", `{"link":"https://cdn.example/a.jpg","caption":"`+long(1025)+`"}`), "image.caption", "at most 1024"},

		{"location without latitude", send("location", `{"longitude":2.35}`), "location.latitude", "must be set"},
		{"latitude not a number", send("location", `{"latitude":"north","longitude":2.35}`), "location.latitude", "decimal degrees"},
		{"latitude out of range", send("location", `{"latitude":91,"longitude":2.35}`), "location.latitude", "between -90 and 90"},
		{"longitude out of range", send("location", `{"latitude":1,"longitude":"-181"}`), "location.longitude", "between -180 and 180"},
		{"location name too long", send("location", `{"latitude":1,"longitude":2,"name":"`+long(201)+`"}`), "location.name", "at most 200"},
		{"location label too long", send("location", `{"latitude":1,"longitude":2,"name":"`+long(100)+`","address":"`+long(99)+`"}`), "location.address", "within 200"},

		{"interactive cta_url", send("interactive", `{"type":"cta_url","body":{"text":"x"},"action":{}}`), "interactive.type", "cta_url interactive messages are not supported"},
		{"interactive flow", send("interactive", `{"type":"flow","body":{"text":"x"},"action":{}}`), "interactive.type", "flow interactive"},
		{"interactive without type", send("interactive", `{"body":{"text":"x"},"action":{}}`), "interactive.type", "must not be empty"},
		{"image header", send("interactive", `{"type":"button","header":{"type":"image","image":{"link":"https://cdn.example/a.jpg"}},"body":{"text":"x"},"action":{"buttons":`+buttons(1)+`}}`), "interactive.header.type", "image headers are not supported"},
		{"header too long", send("interactive", `{"type":"button","header":{"type":"text","text":"`+long(61)+`"},"body":{"text":"x"},"action":{"buttons":`+buttons(1)+`}}`), "interactive.header.text", "at most 60"},
		{"no body", send("interactive", `{"type":"button","action":{"buttons":`+buttons(1)+`}}`), "interactive.body", "must be set"},
		{"body too long", send("interactive", `{"type":"button","body":{"text":"`+long(1025)+`"},"action":{"buttons":`+buttons(1)+`}}`), "interactive.body.text", "at most 1024"},
		{"footer too long", send("interactive", `{"type":"button","body":{"text":"x"},"footer":{"text":"`+long(61)+`"},"action":{"buttons":`+buttons(1)+`}}`), "interactive.footer.text", "at most 60"},
		{"no action", send("interactive", `{"type":"button","body":{"text":"x"}}`), "interactive.action", "must be set"},
		{"no buttons", buttonMsg(`{"buttons":[]}`), "interactive.action.buttons", "at least one"},
		{"four buttons", buttonMsg(`{"buttons":` + buttons(4) + `}`), "interactive.action.buttons[3]", "one too many: at most 3 buttons"},
		{"button not reply", buttonMsg(`{"buttons":[{"type":"url","reply":{"id":"a","title":"b"}}]}`), "interactive.action.buttons[0].type", "must be reply"},
		{"button title too long", buttonMsg(`{"buttons":[{"type":"reply","reply":{"id":"a","title":"` + long(21) + `"}}]}`), "interactive.action.buttons[0].reply.title", "at most 20"},
		{"button titles repeat", buttonMsg(`{"buttons":[{"type":"reply","reply":{"id":"a","title":"Yes"}},{"type":"reply","reply":{"id":"b","title":"Yes"}}]}`), "interactive.action.buttons[1].reply.title", "unique"},
		{"button id too long", buttonMsg(`{"buttons":[{"type":"reply","reply":{"id":"` + long(257) + `","title":"a"}}]}`), "interactive.action.buttons[0].reply.id", "at most 256"},
		{"button id with spaces", buttonMsg(`{"buttons":[{"type":"reply","reply":{"id":" a","title":"a"}}]}`), "interactive.action.buttons[0].reply.id", "space"},
		{"button without id", buttonMsg(`{"buttons":[{"type":"reply","reply":{"title":"a"}}]}`), "interactive.action.buttons[0].reply.id", "must not be empty"},
		{"buttons in a list", listMsg(`{"button":"Options","sections":[{"rows":` + rows(1) + `}],"buttons":` + buttons(1) + `}`), "interactive.action.buttons", "not supported"},

		{"list without button", listMsg(`{"sections":[{"rows":` + rows(1) + `}]}`), "interactive.action.button", "must not be empty"},
		{"list button too long", listMsg(`{"button":"` + long(21) + `","sections":[{"rows":` + rows(1) + `}]}`), "interactive.action.button", "at most 20"},
		{"no sections", listMsg(`{"button":"Options","sections":[]}`), "interactive.action.sections", "at least one"},
		{"eleven sections", listMsg(`{"button":"Options","sections":[` + strings.Repeat(`{"title":"s","rows":[{"id":"a","title":"b"}]},`, 10) + `{"title":"s","rows":[{"id":"a","title":"b"}]}]}`), "interactive.action.sections[10]", "one too many: at most 10 sections"},
		{"eleven rows in one section", listMsg(`{"button":"Options","sections":[{"rows":` + rows(11) + `}]}`), "interactive.action.sections[0].rows[10]", "at most 10 rows in all sections"},
		{"eleven rows in all", listMsg(`{"button":"Options","sections":[{"title":"a","rows":` + rows(8) + `},{"title":"b","rows":` + rows(3) + `}]}`), "interactive.action.sections[1].rows[2]", "at most 10 rows"},
		{"section without rows", listMsg(`{"button":"Options","sections":[{"title":"a","rows":[]}]}`), "interactive.action.sections[0].rows", "at least one"},
		{"untitled section among several", listMsg(`{"button":"Options","sections":[{"title":"a","rows":` + rows(1) + `},{"rows":` + rows(1) + `}]}`), "interactive.action.sections[1].title", "must not be empty"},
		{"section title too long", listMsg(`{"button":"Options","sections":[{"title":"` + long(25) + `","rows":` + rows(1) + `}]}`), "interactive.action.sections[0].title", "at most 24"},
		{"row id too long", listMsg(`{"button":"Options","sections":[{"rows":[{"id":"` + long(201) + `","title":"a"}]}]}`), "interactive.action.sections[0].rows[0].id", "at most 200"},
		{"row title too long", listMsg(`{"button":"Options","sections":[{"rows":[{"id":"a","title":"` + long(25) + `"}]}]}`), "interactive.action.sections[0].rows[0].title", "at most 24"},
		{"row description too long", listMsg(`{"button":"Options","sections":[{"rows":[{"id":"a","title":"b","description":"` + long(73) + `"}]}]}`), "interactive.action.sections[0].rows[0].description", "at most 72"},
		{"row without title", listMsg(`{"button":"Options","sections":[{"rows":[{"id":"a"}]}]}`), "interactive.action.sections[0].rows[0].title", "must not be empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, err := whatsapp.Decode([]byte(tc.body))
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
