package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"gateway/unify"
	"gateway/web/client"
)

// contractSend mirrors the send body of the contract; decoding into it with
// DisallowUnknownFields catches any field the client invents.
type contractSend struct {
	To             string        `json:"to"`
	From           string        `json:"from"`
	Policy         string        `json:"policy"`
	ConversationID string        `json:"conversation_id"`
	ClientRef      string        `json:"client_ref"`
	Content        unify.Content `json:"content"`
}

// seenRequest is what a test server saw, handed to the test goroutine.
type seenRequest struct {
	method, path string
	header       http.Header
	body         contractSend
	err          error
}

func TestSend(t *testing.T) {
	t.Parallel()
	seen := make(chan seenRequest, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body contractSend
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		err := dec.Decode(&body)
		seen <- seenRequest{r.Method, r.URL.EscapedPath(), r.Header.Clone(), body, err}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Location", "/v1/messages/msg_1")
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"id":"msg_1","status":"accepted","to":"+33612345678","attempts":[]}`)
	}))
	t.Cleanup(srv.Close)

	c := client.New(srv.URL+"/", "k3y")
	req := client.SendRequest{
		To: "+33612345678", From: "acme", Policy: "default", ConversationID: "thread-42", ClientRef: "order-1001",
		Content:        unify.Content{Text: "Your order shipped", Suggestions: []unify.Suggestion{{Type: unify.SuggestReply, Text: "Track", Postback: "track"}}},
		IdempotencyKey: "idem-1",
	}
	resp, err := c.Send(context.Background(), req)
	require.NoError(t, err)
	require.Equal(t, client.SendResponse{ID: "msg_1", Status: "accepted"}, resp)
	got := <-seen
	require.NoError(t, got.err)
	require.Equal(t, http.MethodPost, got.method)
	require.Equal(t, "/v1/messages", got.path)
	require.Equal(t, contractSend{
		To: req.To, From: req.From, Policy: req.Policy, ConversationID: req.ConversationID, ClientRef: req.ClientRef, Content: req.Content,
	}, got.body)
	hdr := got.header
	require.Equal(t, "Bearer k3y", hdr.Get("Authorization"))
	require.Equal(t, "application/json", hdr.Get("Content-Type"))
	require.Equal(t, "idem-1", hdr.Get("Idempotency-Key"))
	require.NotEmpty(t, hdr.Get("User-Agent"))
}

func TestSendOmitsEmptyOptionalParts(t *testing.T) {
	t.Parallel()
	type seen struct {
		raw map[string]any
		hdr http.Header
	}
	ch := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var raw map[string]any
		_ = json.NewDecoder(r.Body).Decode(&raw)
		ch <- seen{raw, r.Header.Clone()}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"id":"msg_2","status":"accepted"}`)
	}))
	t.Cleanup(srv.Close)

	_, err := client.New(srv.URL, "").Send(context.Background(), client.SendRequest{To: "+33612345678", From: "acme", Content: unify.Content{Text: "hi"}})
	require.NoError(t, err)
	got := <-ch
	raw, hdr := got.raw, got.hdr
	require.Equal(t, map[string]any{"to": "+33612345678", "from": "acme", "content": map[string]any{"text": "hi"}}, raw)
	require.Empty(t, hdr.Values("Authorization"))
	require.Empty(t, hdr.Values("Idempotency-Key"))
}

func TestErrorAnswers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		status      int
		contentType string
		body        string
		want        string // Error()
		code        string
		fields      []unify.FieldError
		temporary   bool
	}{
		{
			name: "validation", status: 400, contentType: "application/problem+json",
			body: `{"type":"https://gateway.invalid/problems/invalid","title":"Invalid request","status":400,"detail":"the request has invalid fields",
				"errors":[{"field":"to","message":"must be an E.164 number such as +33612345678"},{"field":"content.text","message":"must not be empty"}]}`,
			want: "400 invalid: to: must be an E.164 number such as +33612345678; content.text: must not be empty",
			code: "invalid",
			fields: []unify.FieldError{
				{Field: "to", Message: "must be an E.164 number such as +33612345678"},
				{Field: "content.text", Message: "must not be empty"},
			},
		},
		{
			name: "not found", status: 404, contentType: "application/problem+json; charset=utf-8",
			body: `{"type":"https://gateway.invalid/problems/not_found","title":"Not found","status":404,"detail":"no message msg_x"}`,
			want: "404 not_found: no message msg_x", code: "not_found",
		},
		{
			name: "conflict", status: 409, contentType: "application/problem+json",
			body: `{"type":"https://gateway.invalid/problems/conflict","title":"Conflict","status":409,"detail":"idempotency key reused with another body"}`,
			want: "409 conflict: idempotency key reused with another body", code: "conflict",
		},
		{
			name: "unavailable", status: 503, contentType: "application/problem+json",
			body: `{"type":"https://gateway.invalid/problems/unavailable","title":"Unavailable","status":503}`,
			want: "503 unavailable: Unavailable", code: "unavailable", temporary: true,
		},
		{
			name: "about:blank type", status: 401, contentType: "application/problem+json",
			body: `{"type":"about:blank","title":"Unauthorized","status":401,"detail":"missing or unknown API key"}`,
			want: "401 unauthorized: missing or unknown API key", code: "unauthorized",
		},
		{
			name: "no type", status: 400, contentType: "application/json",
			body: `{"title":"Bad Request","detail":"body is not JSON"}`,
			want: "400 invalid: body is not JSON", code: "invalid",
		},
		{
			name: "proxy page", status: 502, contentType: "text/html",
			body: "<html>\n<h1>Bad gateway</h1>\n</html>",
			want: "502 bad_gateway: <html> <h1>Bad gateway</h1> </html>", code: "bad_gateway", temporary: true,
		},
		{
			name: "empty", status: 500, contentType: "",
			body: "",
			want: "500 internal: Internal Server Error", code: "internal",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.contentType != "" {
					w.Header().Set("Content-Type", tc.contentType)
				}
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			t.Cleanup(srv.Close)
			_, err := client.New(srv.URL, "k").Send(context.Background(), client.SendRequest{To: "+33612345678", From: "acme", Content: unify.Content{Text: "hi"}})
			require.Error(t, err)
			var ae *client.APIError
			require.ErrorAs(t, err, &ae)
			require.Equal(t, tc.want, err.Error())
			require.Equal(t, tc.status, ae.Status)
			require.Equal(t, tc.code, ae.Code())
			require.Equal(t, tc.fields, ae.Errors)
			require.Equal(t, tc.temporary, ae.Temporary())
		})
	}
}

func TestMessage(t *testing.T) {
	t.Parallel()
	seen := make(chan seenRequest, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- seenRequest{method: r.Method, path: r.URL.EscapedPath(), header: r.Header.Clone()}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"msg_1","status":"delivered","to":"+33612345678","from":"acme","policy":"default",
			"channel":"sms","carrier":"sim-fr","created_at":"2026-11-25T12:00:00Z","updated_at":"2026-11-25T12:00:05Z",
			"protection":{"end_to_end":false,"transport":"tls"},"future_field":1,
			"attempts":[{"id":"a1","channel":"rcs","carrier":"sim-fr","status":"revoked","segments":0,"carrier_message_ids":[],"error":"timeout","at":"2026-11-25T12:00:01Z"},
			            {"id":"a2","channel":"sms","carrier":"sim-fr","status":"delivered","segments":2,"carrier_message_ids":["1A","1B"],"at":"2026-11-25T12:00:02Z"}]}`)
	}))
	t.Cleanup(srv.Close)
	c := client.New(srv.URL, "k")

	m, err := c.Message(context.Background(), "msg_1")
	require.NoError(t, err)
	got := <-seen
	require.Equal(t, http.MethodGet, got.method)
	require.Equal(t, "/v1/messages/msg_1", got.path)
	require.Equal(t, "Bearer k", got.header.Get("Authorization"))
	require.Equal(t, unify.StatusDelivered, m.Status)
	require.Equal(t, unify.ChannelSMS, m.Channel)
	require.Equal(t, &unify.Protection{Transport: "tls"}, m.Protection)
	require.Equal(t, time.Date(2026, 11, 25, 12, 0, 5, 0, time.UTC), m.UpdatedAt)
	require.Len(t, m.Attempts, 2)
	require.Equal(t, unify.StatusRevoked, m.Attempts[0].Status)
	require.Equal(t, []string{"1A", "1B"}, m.Attempts[1].CarrierMessageIDs)
	require.Equal(t, 2, m.Attempts[1].Segments)

	_, err = c.Message(context.Background(), "a/b?c")
	require.NoError(t, err)
	require.Equal(t, "/v1/messages/a%2Fb%3Fc", (<-seen).path, "the id stays one path segment")
}

func TestTransportError(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	_, err := client.New(url, "k").Send(context.Background(), client.SendRequest{To: "+33612345678", From: "acme", Content: unify.Content{Text: "hi"}})
	require.Error(t, err)
	var ae *client.APIError
	require.False(t, errors.As(err, &ae))
	require.Contains(t, err.Error(), "client: ")
}

func TestBadSuccessAnswer(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, "<html>")
	}))
	t.Cleanup(srv.Close)
	_, err := client.New(srv.URL, "k").Send(context.Background(), client.SendRequest{})
	require.ErrorContains(t, err, "client: POST /v1/messages: decode answer")
}
