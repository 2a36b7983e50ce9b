package sms_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"gateway/sms"
	"gateway/unify"
)

func f(v float64) *float64 { return &v }

func TestRenderText(t *testing.T) {
	t.Parallel()
	numbered := &unify.Policy{SMS: unify.SMSOptions{NumberReplies: true}}
	for _, tc := range []struct {
		name string
		c    unify.Content
		p    *unify.Policy
		want string
	}{
		{"text", unify.Content{Text: "Hello"}, numbered, "Hello"},
		{"media with caption", unify.Content{Text: "Look", Media: &unify.Media{URL: "https://cdn.example/a.jpg", MimeType: "image/jpeg"}}, numbered,
			"Look\nhttps://cdn.example/a.jpg"},
		{"card with replies", unify.Content{Card: &unify.Card{Title: "Order 1001", Description: "2 items",
			Suggestions: []unify.Suggestion{{Type: unify.SuggestReply, Text: "Track"}, {Type: unify.SuggestOpenURL, Text: "Website", URL: "https://example.com"}}}}, numbered,
			"Order 1001\n2 items\nReply 1 for Track, 2 Website https://example.com"},
		{"location", unify.Content{Location: &unify.Location{Lat: 48.85, Lng: 2.35, Label: "Store"}}, numbered,
			"Store\nhttps://maps.google.com/?q=48.85,2.35"},
		{"actions unnumbered", unify.Content{Text: "Hi", Suggestions: []unify.Suggestion{
			{Type: unify.SuggestReply, Text: "Yes"},
			{Type: unify.SuggestDial, Text: "Call us", Phone: "+33100000000"},
			{Type: unify.SuggestViewLocation, Text: "Map", Lat: f(1.5), Lng: f(2)}}}, &unify.Policy{},
			"Hi\nCall us +33100000000\nMap https://maps.google.com/?q=1.5,2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, sms.RenderText(&tc.c, tc.p))
		})
	}
}

func TestSourceAddress(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		sender   unify.Sender
		ton, npi byte
		addr     string
	}{
		{unify.Sender{SMSSource: "ACME"}, 5, 0, "ACME"},
		{unify.Sender{SMSSource: "36000"}, 3, 0, "36000"},
		{unify.Sender{SMSSource: "+33700000001"}, 1, 1, "33700000001"},
		{unify.Sender{SMSSource: "ACME", SMSNumbers: []string{"+33700000002"}}, 1, 1, "33700000002"},
	} {
		a := sms.SourceAddress(tc.sender, "+33612345678")
		require.Equal(t, sms.Address{TON: tc.ton, NPI: tc.npi, Addr: tc.addr}, a)
	}
	// The pool gives the same number to the same recipient every time.
	pool := unify.Sender{SMSNumbers: []string{"+331", "+332", "+333", "+334"}}
	require.Equal(t, sms.SourceAddress(pool, "+33612345678"), sms.SourceAddress(pool, "+33612345678"))
}

func TestPhoneNumber(t *testing.T) {
	t.Parallel()
	require.Equal(t, "+33612345678", sms.PhoneNumber(1, "33612345678"))
	require.Equal(t, "+33612345678", sms.PhoneNumber(0, "33612345678"))
	require.Equal(t, "+33612345678", sms.PhoneNumber(1, "+33612345678"))
	require.Equal(t, "36000", sms.PhoneNumber(0, "36000"))
	require.Equal(t, "ACME", sms.PhoneNumber(5, "ACME"))
}
