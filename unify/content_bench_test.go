package unify_test

import (
	"testing"

	"gateway/unify"
)

// benchCard is the reference content: a card with an image and four
// suggestions of different kinds.
var benchCard = unify.Content{Card: &unify.Card{
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

func BenchmarkValidateCard(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if errs := benchCard.Validate("content"); len(errs) > 0 {
			b.Fatal(errs)
		}
	}
}

func BenchmarkValidateText(b *testing.B) {
	c := unify.Content{Text: "Your code is 123456. It expires in 10 minutes."}
	b.ReportAllocs()
	for b.Loop() {
		if errs := c.Validate("content"); len(errs) > 0 {
			b.Fatal(errs)
		}
	}
}
