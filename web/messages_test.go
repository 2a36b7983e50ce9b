package web_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"gateway/unify"
	"gateway/web"
)

type invalidCase struct {
	name        string
	body        string
	header      []string // extra request headers, name then value
	contentType string   // replaces application/json when set
	status      int      // 400 when zero
	field       string   // a field the problem must name ("" for body-level problems)
	message     string   // part of that field's message, when it matters
	semantic    bool     // a rule the OpenAPI document cannot state (numbering plan, time order, body encoding)
}

func suggestions(n int) string {
	s := make([]string, n)
	for i := range s {
		s[i] = fmt.Sprintf(`{"type":"reply","text":"r%d"}`, i)
	}
	return "[" + strings.Join(s, ",") + "]"
}

func cards(n int) string {
	s := make([]string, n)
	for i := range s {
		s[i] = fmt.Sprintf(`{"title":"card %d"}`, i)
	}
	return "[" + strings.Join(s, ",") + "]"
}

const media = `{"url":"https://cdn.example/box.jpg","mime_type":"image/jpeg"}`

// invalidCases lists every field rule of the contract with a request that
// breaks it. Shared with the OpenAPI test.
func invalidCases() []invalidCase {
	return []invalidCase{
		{name: "missing to", body: `{"from":"acme","content":{"text":"hi"}}`, field: "to", message: "must not be empty"},
		{name: "to not a number", body: `{"to":"+3361234","from":"acme","content":{"text":"hi"}}`, field: "to", message: "valid phone number", semantic: true},
		{name: "to not E.164 national", body: `{"to":"0612345678","from":"acme","content":{"text":"hi"}}`, field: "to", message: "E.164"},
		{name: "to not E.164 spaces", body: `{"to":"+33 6 12 34 56 78","from":"acme","content":{"text":"hi"}}`, field: "to", message: "E.164"},
		{name: "to with trunk prefix", body: `{"to":"+330612345678","from":"acme","content":{"text":"hi"}}`, field: "to", semantic: true},
		{name: "missing from", body: `{"to":"+33612345678","content":{"text":"hi"}}`, field: "from", message: "must not be empty"},
		{name: "missing content", body: `{"to":"+33612345678","from":"acme"}`, field: "content"},
		{name: "content empty", body: sendBody(`{}`), field: "content", message: "must hold one of"},
		{name: "two kinds", body: sendBody(`{"media":` + media + `,"location":{"lat":1,"lng":2}}`), field: "content", message: "only one"},
		{name: "text with card", body: sendBody(`{"text":"hi","card":{"title":"t"}}`), field: "content.text", message: "caption"},
		{name: "bad media url", body: sendBody(`{"media":{"url":"ftp://cdn.example/a.jpg","mime_type":"image/jpeg"}}`), field: "content.media.url"},
		{name: "relative media url", body: sendBody(`{"media":{"url":"/a.jpg","mime_type":"image/jpeg"}}`), field: "content.media.url"},
		{name: "missing mime_type", body: sendBody(`{"media":{"url":"https://cdn.example/a.jpg"}}`), field: "content.media.mime_type"},
		{name: "carousel of 1", body: sendBody(`{"carousel":{"cards":` + cards(1) + `}}`), field: "content.carousel.cards", message: "at least 2"},
		{name: "carousel of 11", body: sendBody(`{"carousel":{"cards":` + cards(11) + `}}`), field: "content.carousel.cards", message: "at most 10"},
		{name: "card without title description media", body: sendBody(`{"card":{"suggestions":[{"type":"reply","text":"ok"}]}}`), field: "content.card"},
		{name: "carousel card empty", body: sendBody(`{"carousel":{"cards":[{"title":"a"},{}]}}`), field: "content.carousel.cards[1]"},
		{name: "suggestion without type", body: sendBody(`{"text":"hi","suggestions":[{"text":"ok"}]}`), field: "content.suggestions[0].type"},
		{name: "suggestion unknown type", body: sendBody(`{"text":"hi","suggestions":[{"type":"share","text":"ok"}]}`), field: "content.suggestions[0].type"},
		{name: "reply without text", body: sendBody(`{"text":"hi","suggestions":[{"type":"reply","postback":"p"}]}`), field: "content.suggestions[0].text"},
		{name: "open_url without url", body: sendBody(`{"text":"hi","suggestions":[{"type":"open_url","text":"Web"}]}`), field: "content.suggestions[0].url"},
		{name: "open_url bad url", body: sendBody(`{"text":"hi","suggestions":[{"type":"open_url","text":"Web","url":"javascript:alert(1)"}]}`), field: "content.suggestions[0].url"},
		{name: "dial without phone", body: sendBody(`{"text":"hi","suggestions":[{"type":"dial","text":"Call"}]}`), field: "content.suggestions[0].phone"},
		{name: "view_location without lat", body: sendBody(`{"text":"hi","suggestions":[{"type":"view_location","text":"Map","lng":2.35}]}`), field: "content.suggestions[0]"},
		{name: "view_location lat out of range", body: sendBody(`{"text":"hi","suggestions":[{"type":"view_location","text":"Map","lat":-91,"lng":2.35}]}`), field: "content.suggestions[0].lat"},
		{name: "calendar without title", body: sendBody(`{"text":"hi","suggestions":[{"type":"calendar","text":"Remind","start":"2026-12-01T10:00:00Z","end":"2026-12-01T11:00:00Z"}]}`), field: "content.suggestions[0].title"},
		{name: "calendar without start", body: sendBody(`{"text":"hi","suggestions":[{"type":"calendar","text":"Remind","title":"Pickup","end":"2026-12-01T11:00:00Z"}]}`), field: "content.suggestions[0].start"},
		{name: "calendar bad times", body: sendBody(`{"text":"hi","suggestions":[{"type":"calendar","text":"Remind","title":"Pickup","start":"tomorrow","end":"2026-12-01"}]}`), field: "content.suggestions[0].start", semantic: true},
		{name: "calendar end before start", body: sendBody(`{"text":"hi","suggestions":[{"type":"calendar","text":"Remind","title":"Pickup","start":"2026-12-01T11:00:00Z","end":"2026-12-01T10:00:00Z"}]}`), field: "content.suggestions[0].end", message: "after start", semantic: true},
		{name: "field of another suggestion type", body: sendBody(`{"text":"hi","suggestions":[{"type":"reply","text":"ok","url":"https://example.com"}]}`), field: "content.suggestions[0].url", message: "not a field of a reply"},
		{name: "too many suggestions", body: sendBody(`{"text":"hi","suggestions":` + suggestions(12) + `}`), field: "content.suggestions", message: "at most 11"},
		{name: "too many card suggestions", body: sendBody(`{"card":{"title":"t","suggestions":` + suggestions(5) + `}}`), field: "content.card.suggestions", message: "at most 4"},
		{name: "suggestion text over 25", body: sendBody(`{"text":"hi","suggestions":[{"type":"reply","text":"` + strings.Repeat("é", 26) + `"}]}`), field: "content.suggestions[0].text", message: "at most 25"},
		{name: "lat out of range", body: sendBody(`{"location":{"lat":90.5,"lng":2.35}}`), field: "content.location.lat", message: "between -90 and 90"},
		{name: "lng out of range", body: sendBody(`{"location":{"lat":48.85,"lng":-180.01}}`), field: "content.location.lng"},
		{name: "unknown content field", body: sendBody(`{"cards":[]}`), field: "content.cards", message: "is not a field"},
		{name: "unknown top-level field", body: `{"to":"+33612345678","from":"acme","priority":"high","content":{"text":"hi"}}`, field: "priority", message: "is not a field"},
		{name: "field names are case-sensitive", body: `{"to":"+33612345678","from":"acme","content":{"Text":"hi"}}`, field: "content.Text"},
		{name: "lat of wrong type", body: sendBody(`{"location":{"lat":"48.85","lng":2.35}}`), field: "content.location.lat", message: "must be a number"},
		{name: "to of wrong type", body: `{"to":33612345678,"from":"acme","content":{"text":"hi"}}`, field: "to", message: "must be a string"},
		{name: "suggestions not an array", body: sendBody(`{"text":"hi","suggestions":{"type":"reply"}}`), field: "content.suggestions", message: "must be an array"},
		{name: "null field", body: sendBody(`{"text":"hi","media":null}`), field: "content.media", message: "must not be null"},
		{name: "content not an object", body: `{"to":"+33612345678","from":"acme","content":"hi"}`, field: "content", message: "must be an object"},
		{name: "number out of float range", body: sendBody(`{"location":{"lat":1e400,"lng":2}}`), field: "content.location.lat", message: "finite"},
		{name: "long conversation_id", body: `{"to":"+33612345678","from":"acme","conversation_id":"` + strings.Repeat("c", 129) + `","content":{"text":"hi"}}`, field: "conversation_id", message: "at most 128"},
		{name: "long client_ref", body: `{"to":"+33612345678","from":"acme","client_ref":"` + strings.Repeat("c", 129) + `","content":{"text":"hi"}}`, field: "client_ref"},
		{name: "text too long", body: sendBody(`{"text":"` + strings.Repeat("a", 4097) + `"}`), field: "content.text"},
		{name: "long idempotency key", body: sendBody(`{"text":"hi"}`), header: []string{"Idempotency-Key", strings.Repeat("k", 256)}, field: "Idempotency-Key"},
		{name: "non-ASCII idempotency key", body: sendBody(`{"text":"hi"}`), header: []string{"Idempotency-Key", "clé-1"}, field: "Idempotency-Key", message: "printable ASCII"},
		{name: "bad JSON", body: `{"to":"+33612345678",`, message: "not valid JSON"},
		{name: "not JSON", body: `to=+33612345678&text=hi`, message: "not valid JSON"},
		{name: "trailing data", body: sendBody(`{"text":"hi"}`) + `{}`, message: "after the top-level value", semantic: true},
		{name: "array body", body: `[]`, message: "must be a JSON object"},
		{name: "empty body", body: ``, message: "empty", contentType: "application/json"},
		{name: "invalid UTF-8", body: sendBody(`{"text":"caf` + "\xe9" + `"}`), message: "UTF-8", semantic: true},
		{name: "oversized body", body: sendBody(`{"text":"` + strings.Repeat("a", web.MaxBodyBytes) + `"}`), status: http.StatusRequestEntityTooLarge},
		{name: "wrong content type", body: sendBody(`{"text":"hi"}`), contentType: "text/plain", status: http.StatusUnsupportedMediaType},
		{name: "form content type", body: sendBody(`{"text":"hi"}`), contentType: "application/x-www-form-urlencoded", status: http.StatusUnsupportedMediaType},
		{name: "latin-1 charset", body: sendBody(`{"text":"hi"}`), contentType: "application/json; charset=iso-8859-1", status: http.StatusUnsupportedMediaType, semantic: true},
	}
}

var slugOf = map[int]string{
	http.StatusBadRequest:            "invalid",
	http.StatusRequestEntityTooLarge: "too_large",
	http.StatusUnsupportedMediaType:  "unsupported_media_type",
}

func TestPostMessageRejectsInvalidRequests(t *testing.T) {
	t.Parallel()
	for _, tc := range invalidCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			r := request(http.MethodPost, "/v1/messages", tc.body, tc.header...)
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			rec := b.do(t, r)
			status := tc.status
			if status == 0 {
				status = http.StatusBadRequest
			}
			p := problem(t, rec, status, slugOf[status])
			require.Empty(t, b.fake.acceptCalls(), "an invalid request reached Accept")
			if tc.field == "" {
				require.Empty(t, p.Errors)
				require.Contains(t, p.Detail, tc.message)
				return
			}
			var found *unify.FieldError
			for i := range p.Errors {
				if p.Errors[i].Field == tc.field {
					found = &p.Errors[i]
				}
			}
			require.NotNil(t, found, "no error names %q: %+v", tc.field, p.Errors)
			require.Contains(t, found.Message, tc.message)
		})
	}
}

// All problems come back in one answer, and a field with a decoding error
// gets that error only, not also the validation error it causes.
func TestPostMessageReportsEveryProblemAtOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec := b.post(t, `{"to":"0612","from":"","cards":1,"conversation_id":7,"content":{"location":{"lat":"x","lng":200},"suggestions":[{"type":"dial","text":"Call","phone":"12"}]}}`,
		"Idempotency-Key", strings.Repeat("x", 300))
	p := problem(t, rec, http.StatusBadRequest, "invalid")
	require.Equal(t, []unify.FieldError{
		{Field: "cards", Message: "is not a field"},
		{Field: "content.location.lat", Message: "must be a number"},
		{Field: "conversation_id", Message: "must be a string"},
		{Field: "to", Message: "must be an E.164 number such as +33612345678"},
		{Field: "from", Message: "must not be empty"},
		{Field: "content.location.lng", Message: "must be between -180 and 180"},
		{Field: "content.suggestions[0].phone", Message: "must be an E.164 number such as +33612345678"},
		{Field: "Idempotency-Key", Message: "must be 1 to 255 characters"},
	}, p.Errors)
	require.Empty(t, b.fake.acceptCalls())
}

func TestPostMessageAccepts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		content string
	}{
		{"text", `{"text":"Your order shipped"}`},
		{"media with caption", `{"text":"Your box","media":{"url":"https://cdn.example/box.jpg","mime_type":"image/jpeg","thumbnail_url":"https://cdn.example/t.jpg"}}`},
		{"card", `{"card":{"title":"Order 1001","description":"2 items","media":` + media + `,"suggestions":[{"type":"reply","text":"Track","postback":"track"}]}}`},
		{"carousel", `{"carousel":{"cards":[{"title":"A"},{"description":"B","media":` + media + `}]}}`},
		{"location", `{"location":{"lat":48.85,"lng":2.35,"label":"Store"}}`},
		{"every suggestion type", `{"text":"hi","suggestions":[
			{"type":"reply","text":"Track","postback":"track"},
			{"type":"open_url","text":"Website","url":"https://example.com"},
			{"type":"dial","text":"Call us","phone":"+33100000000"},
			{"type":"view_location","text":"Map","lat":48.85,"lng":2.35,"label":"Store"},
			{"type":"calendar","text":"Remind me","title":"Pickup","description":"at the store","start":"2026-12-01T10:00:00Z","end":"2026-12-01T11:00:00Z"}]}`},
		{"empty suggestions", `{"text":"hi","suggestions":[]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			rec := b.post(t, sendBody(tc.content))
			require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
			var got web.MessageJSON
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
			require.Equal(t, unify.StatusAccepted, got.Status)
			require.Equal(t, "/v1/messages/"+string(got.ID), rec.Header().Get("Location"))
			require.Empty(t, rec.Header().Get(web.HeaderIdempotentReplayed))

			calls := b.fake.acceptCalls()
			require.Len(t, calls, 1)
			var want unify.Content
			require.NoError(t, json.Unmarshal([]byte(tc.content), &want))
			require.Equal(t, want, calls[0].Msg.Content)
			require.Equal(t, testPhone, calls[0].Msg.To)
			require.Equal(t, "acme", calls[0].Msg.From)
			require.Equal(t, unify.Idempotency{Scope: testKeyName}, calls[0].Idem)
		})
	}
}

func TestPostMessagePassesEveryField(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec := b.post(t, `{"to":"+447911123456","from":"acme","policy":"otp","conversation_id":"thread-42","client_ref":"order-1001","content":{"text":"hi"}}`)
	require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
	calls := b.fake.acceptCalls()
	require.Len(t, calls, 1)
	m := calls[0].Msg
	require.Equal(t, unify.Message{To: "+447911123456", From: "acme", Policy: "otp", ConversationID: "thread-42",
		ClientRef: "order-1001", Content: unify.Content{Text: "hi"}}, m)
	require.JSONEq(t, `{"id":"msg_00000000000000000000000001","status":"accepted","to":"+447911123456","from":"acme",
		"policy":"otp","conversation_id":"thread-42","client_ref":"order-1001","channel":"","carrier":"","error":"",
		"created_at":"2026-11-25T12:00:00Z","updated_at":"2026-11-25T12:00:00Z","attempts":[]}`, rec.Body.String())
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	b := setup(t)
	first := b.post(t, sendBody(`{"text":"hi","suggestions":[{"type":"reply","text":"ok"}]}`), "Idempotency-Key", "order-1001-try")
	require.Equal(t, http.StatusAccepted, first.Code, first.Body.String())

	// The same request written differently (key order, spacing, an empty
	// optional field) is the same request.
	again := b.post(t, `{ "content": {"suggestions":[{"text":"ok","type":"reply"}], "text":"hi"}, "policy": "",
		"from":"acme", "to":"+33612345678" }`, "Idempotency-Key", "order-1001-try")
	require.Equal(t, http.StatusAccepted, again.Code)
	require.Equal(t, first.Body.String(), again.Body.String())
	require.Equal(t, first.Header().Get("Location"), again.Header().Get("Location"))
	require.Equal(t, "true", again.Header().Get(web.HeaderIdempotentReplayed))

	calls := b.fake.acceptCalls()
	require.Len(t, calls, 2)
	require.Equal(t, calls[0].Idem, calls[1].Idem)
	require.Equal(t, testKeyName, calls[0].Idem.Scope)
	require.Equal(t, "order-1001-try", calls[0].Idem.Key)
	require.Len(t, calls[0].Idem.Hash, 64)

	other := b.post(t, sendBody(`{"text":"bye"}`), "Idempotency-Key", "order-1001-try")
	problem(t, other, http.StatusConflict, "conflict")
	require.NotEqual(t, calls[0].Idem.Hash, b.fake.acceptCalls()[2].Idem.Hash)

	// Another API key has its own key space.
	otherKey := b.post(t, sendBody(`{"text":"bye"}`), "Idempotency-Key", "order-1001-try", "Authorization", "Bearer k-other-key")
	require.Equal(t, http.StatusAccepted, otherKey.Code, otherKey.Body.String())
	require.Equal(t, "other", b.fake.acceptCalls()[3].Idem.Scope)
}

func TestAcceptErrorsBecomeProblems(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		err    error
		status int
		slug   string
		detail string
		fields []unify.FieldError
	}{
		{"unknown sender", unify.Invalid(unify.FieldError{Field: "from", Message: "is not a configured sender"}),
			http.StatusBadRequest, "invalid", "the request has invalid fields", []unify.FieldError{{Field: "from", Message: "is not a configured sender"}}},
		{"conflict", unify.Errorf(unify.CodeConflict, "key reused"), http.StatusConflict, "conflict", "key reused", nil},
		{"unavailable", &unify.Error{Code: unify.CodeUnavailable, Message: "the store is unavailable", Err: errors.New("dial tcp db:5432")},
			http.StatusServiceUnavailable, "unavailable", "the store is unavailable", nil},
		{"internal code", &unify.Error{Code: unify.CodeInternal, Message: "secret-detail", Err: errors.New("x")},
			http.StatusInternalServerError, "internal", "quote the request id", nil},
		{"plain error", fmt.Errorf("sqlstore: insert: password=hunter2: %w", errors.New("boom")),
			http.StatusInternalServerError, "internal", "quote the request id", nil},
		{"wrapped unify error", fmt.Errorf("dispatch: %w", unify.Errorf(unify.CodeConflict, "busy")),
			http.StatusConflict, "conflict", "busy", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.fake.acceptErr = tc.err
			rec := b.post(t, sendBody(`{"text":"hi"}`))
			p := problem(t, rec, tc.status, tc.slug)
			require.Contains(t, p.Detail, tc.detail)
			require.Equal(t, tc.fields, p.Errors)
			require.NotContains(t, rec.Body.String(), "hunter2")
			require.NotContains(t, rec.Body.String(), "secret-detail")
			require.NotContains(t, rec.Body.String(), "5432")
			if tc.status == http.StatusServiceUnavailable {
				require.Equal(t, "5", rec.Header().Get("Retry-After"))
			}
			if tc.status == http.StatusInternalServerError {
				require.Contains(t, b.logs.String(), p.RequestID)
				require.Contains(t, b.logs.String(), tc.err.Error(), "the cause must be logged")
			}
		})
	}
}

func TestGetMessage(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 25, 13, 0, 0, 0, time.FixedZone("CET", 3600))
	msg := &unify.Message{
		ID: "msg_abc", To: testPhone, From: "acme", Policy: "default", ClientRef: "order-1001",
		Status: unify.StatusDelivered, Channel: unify.ChannelSMS, Carrier: "sim-fr",
		CreatedAt: testNow, UpdatedAt: at,
		Attempts: []unify.Attempt{
			{ID: "a1", Channel: unify.ChannelRCS, Carrier: "sim-fr", Status: unify.StatusRevoked, Segments: 1, Error: "timeout", At: testNow},
			{ID: "a2", Channel: unify.ChannelSMS, Carrier: "sim-fr", Status: unify.StatusDelivered, Segments: 2, At: at,
				Parts: []unify.Part{{Seq: 1, Ref: unify.ExternalRef{ID: "1A2B"}}, {Seq: 2, Ref: unify.ExternalRef{ID: "1A2C"}}}},
		},
	}
	for _, tc := range []struct {
		name string
		tls  bool
		want string
	}{
		{"clear link", false, "none"},
		{"tls link", true, "tls"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(c *web.Config) {
				c.TransportTLS = func(carrier string) bool { return carrier == "sim-fr" && tc.tls }
			})
			b.fake.msgFunc = func(id unify.MessageID) (*unify.Message, error) {
				if id != msg.ID {
					return nil, unify.Errorf(unify.CodeNotFound, "no message %s", id)
				}
				return msg, nil
			}
			rec := b.do(t, request(http.MethodGet, "/v1/messages/msg_abc", ""))
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			require.JSONEq(t, `{"id":"msg_abc","status":"delivered","to":"+33612345678","from":"acme","policy":"default",
				"conversation_id":"","client_ref":"order-1001","channel":"sms","carrier":"sim-fr","error":"",
				"created_at":"2026-11-25T12:00:00Z","updated_at":"2026-11-25T12:00:00Z",
				"protection":{"end_to_end":false,"transport":"`+tc.want+`"},
				"attempts":[
				 {"id":"a1","channel":"rcs","carrier":"sim-fr","status":"revoked","segments":1,"carrier_message_ids":[],"error":"timeout","at":"2026-11-25T12:00:00Z"},
				 {"id":"a2","channel":"sms","carrier":"sim-fr","status":"delivered","segments":2,"carrier_message_ids":["1A2B","1A2C"],"error":"","at":"2026-11-25T12:00:00Z"}]}`,
				rec.Body.String())

			missing := b.do(t, request(http.MethodGet, "/v1/messages/msg_nope", ""))
			problem(t, missing, http.StatusNotFound, "not_found")
		})
	}
}

func TestGetMessageRoundTrip(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec := b.post(t, sendBody(`{"text":"hi"}`))
	require.Equal(t, http.StatusAccepted, rec.Code)
	got := b.do(t, request(http.MethodGet, rec.Header().Get("Location"), ""))
	require.Equal(t, http.StatusOK, got.Code)
	require.JSONEq(t, rec.Body.String(), got.Body.String())
	require.NotContains(t, got.Body.String(), "protection", "no channel yet, so no protection")

	long := b.do(t, request(http.MethodGet, "/v1/messages/"+strings.Repeat("m", 200), ""))
	problem(t, long, http.StatusNotFound, "not_found")
}

func TestPanicsBecomeInternalErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.fake.msgFunc = func(unify.MessageID) (*unify.Message, error) { panic("nil map") }
	rec := b.do(t, request(http.MethodGet, "/v1/messages/msg_x", ""))
	p := problem(t, rec, http.StatusInternalServerError, "internal")
	require.NotContains(t, p.Detail, "nil map")
	require.Contains(t, b.logs.String(), "nil map")
}

func BenchmarkPostMessage(b *testing.B) {
	bundle := setup(b)
	bundle.fake.record = false
	body := sendBody(`{"card":{"title":"Order 1001","description":"2 items","media":` + media + `,
		"suggestions":[{"type":"reply","text":"Track","postback":"track"},{"type":"open_url","text":"Website","url":"https://example.com"},
		{"type":"dial","text":"Call us","phone":"+33100000000"},{"type":"calendar","text":"Remind me","title":"Pickup","start":"2026-12-01T10:00:00Z","end":"2026-12-01T11:00:00Z"}]},
		"suggestions":[{"type":"view_location","text":"Map","lat":48.85,"lng":2.35,"label":"Store"}]}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		r := request(http.MethodPost, "/v1/messages", body, "Idempotency-Key", "bench")
		rec := &discardWriter{h: http.Header{}}
		bundle.srv.ServeHTTP(rec, r)
		if rec.code != http.StatusAccepted {
			b.Fatalf("status %d", rec.code)
		}
	}
}

// discardWriter keeps the benchmark about the handler, not the recorder.
type discardWriter struct {
	h    http.Header
	code int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(code int)        { d.code = code }
