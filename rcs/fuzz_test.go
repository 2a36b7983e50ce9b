package rcs_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"gateway/rcs"
)

// FuzzCallback feeds the webhook random bodies, and random data in
// correctly signed envelopes: it must never panic and only answer 200, 400,
// 401 or 500.
func FuzzCallback(f *testing.F) {
	f.Add([]byte(`{"clientToken":"hook-secret","secret":"1"}`), []byte(`{"senderPhoneNumber":"+12223334444","messageId":"MxA1","agentId":"a","text":"Hi"}`), false, false)
	f.Add([]byte(`{"message":{"data":"e30="}}`), []byte(`{"senderPhoneNumber":"+12223334444","eventType":"DELIVERED","eventId":"e","messageId":"m"}`), true, false)
	f.Add([]byte(`null`), []byte(`{"senderPhoneNumber":"+1","messageId":"m","userFile":{"payload":{"fileUri":"https://x","mimeType":"image/png"}}}`), true, true)
	f.Add([]byte(`{"message":{"data":"!!"}}`), []byte(`{"senderPhoneNumber":"+1","messageId":"m","location":{"latitude":1,"longitude":2}}`), true, false)
	f.Add([]byte(`[]`), []byte(`{"senderPhoneNumber":"+1","eventType":"UNSUBSCRIBE","eventId":"u"}`), true, false)
	f.Add([]byte(`{}`), []byte(`{"eventType":"TTL_EXPIRATION_REVOKED","messageId":"m","suggestionResponse":null}`), true, true)
	f.Add([]byte(`{"message":{"data":""}}`), []byte(`"just a string"`), true, false)

	sink := &recordingSink{}
	ch := rcs.New(rcs.Config{Secrets: map[string]string{"sim-fr": hookSecret}, Agents: map[string]string{"acme": "acme_agent"}}, sink)
	f.Cleanup(func() { _ = ch.Close() })
	f.Fuzz(func(t *testing.T, body, data []byte, sign, failSink bool) {
		header := http.Header{}
		if sign {
			body = push(data)
			header.Set(rcs.SignatureHeader, rcs.Sign(hookSecret, data))
		}
		if failSink {
			sink.setFail(errors.New("store down"))
			defer sink.setFail(nil)
		}
		status, _, err := ch.HandleCallback(context.Background(), "sim-fr", header, body)
		switch status {
		case http.StatusOK:
		case http.StatusBadRequest, http.StatusUnauthorized, http.StatusInternalServerError:
			if err == nil {
				t.Fatalf("status %d without an error", status)
			}
		default:
			t.Fatalf("status %d", status)
		}
	})
}
