package rcs_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"gateway/rcs"
	"gateway/unify"
)

const hookSecret = "hook-secret"

// push wraps decoded data in RBM's push envelope.
func push(data []byte) []byte {
	b, _ := json.Marshal(map[string]any{
		"message": map[string]any{
			"data": base64.StdEncoding.EncodeToString(data), "messageId": "1234567890",
			"publishTime": "2024-01-01T00:00:00.000Z", "attributes": map[string]string{},
		},
		"subscription": "projects/p/subscriptions/s",
	})
	return b
}

func signed(secret string, data []byte) http.Header {
	h := http.Header{}
	h.Set(rcs.SignatureHeader, rcs.Sign(secret, data))
	return h
}

// deliver posts data as a correctly signed callback for carrier sim-fr.
func (b *bundle) deliver(t *testing.T, data string) int {
	t.Helper()
	status, reply, _ := b.ch.HandleCallback(context.Background(), "sim-fr", signed(hookSecret, []byte(data)), push([]byte(data)))
	require.Empty(t, reply)
	return status
}

func TestSignatureTestVector(t *testing.T) {
	t.Parallel()
	// rbm.md §8.2, computed with openssl.
	data := `{"senderPhoneNumber":"+12223334444","messageId":"MxA1","sendTime":"2024-01-01T00:00:00Z","agentId":"acme_agent","text":"Hi"}`
	require.Equal(t, "hL1i/5W6e+sD7sC4XG5tWPxZQPy5rJLxs5nDw+8p1HDiMBept/7Qv3gFi67AoEa2CvzmRtEnwxQREPEp+8iNyA==",
		rcs.Sign("SJENCPGJESMGUFPY", []byte(data)))

	b := setup(t, func(c *rcs.Config) { c.Secrets = map[string]string{"sim-fr": "SJENCPGJESMGUFPY"} })
	h := http.Header{}
	h.Set("X-Goog-Signature", "hL1i/5W6e+sD7sC4XG5tWPxZQPy5rJLxs5nDw+8p1HDiMBept/7Qv3gFi67AoEa2CvzmRtEnwxQREPEp+8iNyA==")
	status, _, err := b.ch.HandleCallback(context.Background(), "sim-fr", h, push([]byte(data)))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	_, in, _ := b.sink.counts()
	require.Equal(t, 1, in)
}

var sendTime = time.Date(2024, 1, 1, 0, 0, 0, 123_000_000, time.UTC)

func TestCallbacks(t *testing.T) {
	t.Parallel()
	const from = `"senderPhoneNumber":"+12223334444","agentId":"acme_agent","sendTime":"2024-01-01T00:00:00.123Z"`
	inbound := func(f func(*unify.Inbound)) *unify.Inbound {
		in := &unify.Inbound{ExternalID: "MxA1", Channel: unify.ChannelRCS, Carrier: "sim-fr", From: "+12223334444", To: "acme_agent", At: sendTime}
		f(in)
		return in
	}
	receipt := func(st unify.Status, reason string) *unify.Receipt {
		return &unify.Receipt{Channel: unify.ChannelRCS, Carrier: "sim-fr", Status: st, Error: reason, At: sendTime,
			Ref: unify.ExternalRef{ID: attemptID, Raw: "6f1c0a1e-5d8b-4c0e-9a41-2f3b7c9d0e11"}}
	}
	consent := func(out bool, kw string) *unify.ConsentChange {
		return &unify.ConsentChange{Channel: unify.ChannelRCS, Carrier: "sim-fr", Number: "+12223334444", To: "acme_agent", OptedOut: out, Keyword: kw, At: sendTime}
	}
	for _, tc := range []struct {
		name    string
		data    string
		inbound *unify.Inbound
		receipt *unify.Receipt
		consent *unify.ConsentChange
	}{
		{"text", `{` + from + `,"messageId":"MxA1","text":"Hi"}`,
			inbound(func(in *unify.Inbound) { in.Text = "Hi" }), nil, nil},
		{"suggestion tap", `{` + from + `,"messageId":"MxA1","suggestionResponse":{"postbackData":"confirm_yes","text":"Yes","type":"REPLY"}}`,
			inbound(func(in *unify.Inbound) { in.Postback, in.Text = "confirm_yes", "Yes" }), nil, nil},
		{"location", `{` + from + `,"messageId":"MxA1","location":{"latitude":37.42,"longitude":-122.08}}`,
			inbound(func(in *unify.Inbound) { in.Location = &unify.Location{Lat: 37.42, Lng: -122.08} }), nil, nil},
		{"file", `{` + from + `,"messageId":"MxA1","userFile":{"thumbnail":{"mimeType":"image/jpeg","fileSizeBytes":2345,"fileUri":"https://rbm.example/t.jpg","fileName":"t.jpg"},"payload":{"mimeType":"image/jpeg","fileSizeBytes":123456,"fileUri":"https://rbm.example/IMG.jpg","fileName":"IMG.jpg"}}}`,
			inbound(func(in *unify.Inbound) {
				in.Media = []unify.Media{{URL: "https://rbm.example/IMG.jpg", MimeType: "image/jpeg", ThumbnailURL: "https://rbm.example/t.jpg"}}
			}), nil, nil},
		{"delivered", `{` + from + `,"eventType":"DELIVERED","eventId":"MxEv1","messageId":"` + attemptID + `"}`,
			nil, receipt(unify.StatusDelivered, ""), nil},
		{"read", `{` + from + `,"eventType":"READ","eventId":"MxEv2","messageId":"` + attemptID + `"}`,
			nil, receipt(unify.StatusRead, ""), nil},
		{"revoked at expiry", `{"agentId":"acme_agent","sendTime":"2024-01-01T00:00:00.123Z","eventType":"TTL_EXPIRATION_REVOKED","eventId":"MxEv3","messageId":"` + attemptID + `"}`,
			nil, receipt(unify.StatusRevoked, "TTL_EXPIRATION_REVOKED"), nil},
		{"revocation at expiry failed", `{"eventType":"TTL_EXPIRATION_REVOKE_FAILED","eventId":"MxEv4","messageId":"` + attemptID + `"}`,
			nil, nil, nil},
		{"typing", `{` + from + `,"eventType":"IS_TYPING","eventId":"MxEv5"}`, nil, nil, nil},
		{"unsubscribe", `{` + from + `,"eventType":"UNSUBSCRIBE","eventId":"MxEv6"}`, nil, nil, consent(true, "UNSUBSCRIBE")},
		{"subscribe", `{` + from + `,"eventType":"SUBSCRIBE","eventId":"MxEv7"}`, nil, nil, consent(false, "SUBSCRIBE")},
		{"an event type from the future", `{` + from + `,"eventType":"REACTION","eventId":"MxEv8"}`, nil, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			require.Equal(t, http.StatusOK, b.deliver(t, tc.data))
			b.sink.mu.Lock()
			defer b.sink.mu.Unlock()
			if tc.inbound != nil {
				require.Equal(t, []unify.Inbound{*tc.inbound}, b.sink.inbound)
			} else {
				require.Empty(t, b.sink.inbound)
			}
			if tc.receipt != nil {
				require.Equal(t, []unify.Receipt{*tc.receipt}, b.sink.receipts)
			} else {
				require.Empty(t, b.sink.receipts)
			}
			if tc.consent != nil {
				require.Equal(t, []unify.ConsentChange{*tc.consent}, b.sink.consent)
			} else {
				require.Empty(t, b.sink.consent)
			}
		})
	}
}

func TestCallbackRefusals(t *testing.T) {
	t.Parallel()
	text := []byte(`{"senderPhoneNumber":"+12223334444","messageId":"MxA1","agentId":"acme_agent","text":"Hi"}`)
	for _, tc := range []struct {
		name    string
		carrier string
		header  http.Header
		body    []byte
		want    int
	}{
		{"wrong secret", "sim-fr", signed("other-secret", text), push(text), 401},
		{"no signature", "sim-fr", http.Header{}, push(text), 401},
		{"signature not base64", "sim-fr", http.Header{"X-Goog-Signature": {"%%%"}}, push(text), 401},
		{"signature of the envelope", "sim-fr", signed(hookSecret, push(text)), push(text), 401},
		{"signature of other data", "sim-fr", signed(hookSecret, []byte(`{}`)), push(text), 401},
		{"body not JSON", "sim-fr", signed(hookSecret, text), []byte(`{"message":`), 400},
		{"body a JSON array", "sim-fr", signed(hookSecret, text), []byte(`[1]`), 400},
		{"no message", "sim-fr", signed(hookSecret, text), []byte(`{"subscription":"x"}`), 400},
		{"no data", "sim-fr", signed(hookSecret, text), []byte(`{"message":{"messageId":"1"}}`), 400},
		{"data not base64", "sim-fr", signed(hookSecret, text), []byte(`{"message":{"data":"***"}}`), 400},
		{"data not JSON", "sim-fr", signed(hookSecret, []byte("hi")), push([]byte("hi")), 400},
		{"neither event nor message", "sim-fr", signed(hookSecret, []byte(`{"agentId":"a"}`)), push([]byte(`{"agentId":"a"}`)), 400},
		{"delivered without messageId", "sim-fr", signed(hookSecret, []byte(`{"eventType":"DELIVERED","eventId":"e"}`)), push([]byte(`{"eventType":"DELIVERED","eventId":"e"}`)), 400},
		{"text without sender", "sim-fr", signed(hookSecret, []byte(`{"messageId":"m","text":"x"}`)), push([]byte(`{"messageId":"m","text":"x"}`)), 400},
		{"location without longitude", "sim-fr", signed(hookSecret, []byte(`{"senderPhoneNumber":"+1","messageId":"m","location":{"latitude":1}}`)),
			push([]byte(`{"senderPhoneNumber":"+1","messageId":"m","location":{"latitude":1}}`)), 400},
		{"unknown carrier", "nowhere", signed(hookSecret, text), push(text), 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			b := setup(t, func(c *rcs.Config) {
				c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			})
			status, reply, err := b.ch.HandleCallback(context.Background(), tc.carrier, tc.header, tc.body)
			require.Equal(t, tc.want, status)
			require.Empty(t, reply)
			require.Error(t, err)
			r, in, c := b.sink.counts()
			require.Zero(t, r+in+c, "a refused callback changes nothing")
			for _, secret := range []string{hookSecret, tc.header.Get(rcs.SignatureHeader)} {
				if secret != "" {
					require.NotContains(t, logs.String(), secret)
					require.NotContains(t, err.Error(), secret)
				}
			}
			// Nothing was learnt about the phone either.
			b.rbm.add(step{method: "GET", path: "/v1/phones/+12223334444/capabilities", status: 404})
			_, cached, _ := b.ch.Capability(context.Background(), "acme", "+12223334444")
			require.False(t, cached)
		})
	}
}

func TestCallbackHandshake(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	status, reply, err := b.ch.HandleCallback(ctx, "sim-fr", http.Header{}, []byte(`{"clientToken":"hook-secret","secret":"1234567890"}`))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "1234567890", reply)

	status, reply, err = b.ch.HandleCallback(ctx, "sim-fr", http.Header{}, []byte(`{"clientToken":"SJENCPGJESMGUFPY","secret":"1234567890"}`))
	require.Error(t, err)
	require.Equal(t, http.StatusUnauthorized, status)
	require.Empty(t, reply)

	status, _, _ = b.ch.HandleCallback(ctx, "sim-fr", http.Header{}, []byte(`{"clientToken":"hook-secret"}`))
	require.Equal(t, http.StatusBadRequest, status)
}

func TestCallbackDuplicatesAndSinkFailures(t *testing.T) {
	t.Parallel()
	b := setup(t)
	delivered := `{"senderPhoneNumber":"+12223334444","agentId":"acme_agent","eventType":"DELIVERED","eventId":"MxEv1","messageId":"` + attemptID + `"}`

	// The core cannot record it: RBM must try again, so it is not
	// remembered as handled.
	b.sink.setFail(errors.New("database is locked"))
	require.Equal(t, http.StatusInternalServerError, b.deliver(t, delivered))
	b.sink.setFail(nil)
	require.Equal(t, http.StatusOK, b.deliver(t, delivered))
	require.Equal(t, http.StatusOK, b.deliver(t, delivered))
	r, _, _ := b.sink.counts()
	require.Equal(t, 1, r, "the duplicate is dropped early")

	// The same user message twice is one inbound message.
	text := `{"senderPhoneNumber":"+12223334444","agentId":"acme_agent","messageId":"MxA1","text":"Hi"}`
	require.Equal(t, http.StatusOK, b.deliver(t, text))
	require.Equal(t, http.StatusOK, b.deliver(t, text))
	_, in, _ := b.sink.counts()
	require.Equal(t, 1, in)
}

func TestCallbackMarksPhoneCapable(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.rbm.add(step{method: "GET", path: "/v1/phones/+12223334444/capabilities", status: 404})
	cp, _, err := b.ch.Capability(context.Background(), "acme", "+12223334444")
	require.NoError(t, err)
	require.False(t, cp.Capable)

	require.Equal(t, http.StatusOK, b.deliver(t, `{"senderPhoneNumber":"+12223334444","agentId":"acme_agent","eventType":"IS_TYPING","eventId":"e1"}`))
	cp, cached, err := b.ch.Capability(context.Background(), "acme", "+12223334444")
	require.NoError(t, err)
	require.True(t, cached)
	require.True(t, cp.Capable)
}

var uuidV5 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestCallbackSendsReadEvent(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *rcs.Config) { c.ReadEvents = true })
	b.rbm.add(step{
		method: "POST", path: "/v1/phones/+12223334444/agentEvents",
		query: map[string]string{"eventId": "*", "agentId": "acme_agent"},
		body:  `{"eventType":"READ","messageId":"MxA1"}`,
	})
	text := `{"senderPhoneNumber":"+12223334444","agentId":"acme_agent","messageId":"MxA1","text":"Hi"}`
	require.Equal(t, http.StatusOK, b.deliver(t, text))
	require.Equal(t, http.StatusOK, b.deliver(t, text)) // a duplicate: no second READ
	require.NoError(t, b.ch.Close())
	reqs := b.rbm.requests()
	require.Len(t, reqs, 1)
	require.Regexp(t, uuidV5, reqs[0].URL.Query().Get("eventId"))
}
