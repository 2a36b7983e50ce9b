package rcs_test

import (
	"encoding/json"
	"testing"

	"gateway/rcs"
	"gateway/unify"
)

// BenchmarkRenderCardJSON is one RBM agent message body, from the unified
// content to the JSON the client POSTs, for a card with four suggestions.
func BenchmarkRenderCardJSON(b *testing.B) {
	c := unify.Content{Card: &unify.Card{
		Title:       "Order 1001 has shipped",
		Description: "2 items, arriving Thursday between 9:00 and 12:00.",
		Media:       &unify.Media{URL: "https://example.com/box.jpg", MimeType: "image/jpeg"},
		Suggestions: []unify.Suggestion{
			{Type: unify.SuggestReply, Text: "Track", Postback: "track"},
			{Type: unify.SuggestOpenURL, Text: "Website", URL: "https://example.com/orders/1001", Postback: "web"},
			{Type: unify.SuggestDial, Text: "Call us", Phone: "+33100000000", Postback: "call"},
			{Type: unify.SuggestReply, Text: "Remind me", Postback: "remind"},
		},
	}}
	b.ReportAllocs()
	for b.Loop() {
		body, err := json.Marshal(rcs.Convert(&c))
		if err != nil || len(body) == 0 {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenderTextJSON(b *testing.B) {
	c := unify.Content{Text: "Your code is 123456. It expires in 10 minutes."}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(rcs.Convert(&c)); err != nil {
			b.Fatal(err)
		}
	}
}
