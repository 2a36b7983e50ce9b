package unify_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"gateway/unify"
)

func TestMatchReply(t *testing.T) {
	t.Parallel()
	choices := []unify.Suggestion{
		{Type: unify.SuggestReply, Text: "Track", Postback: "track"},
		{Type: unify.SuggestOpenURL, Text: "Website", URL: "https://example.com", Postback: "web"},
		{Type: unify.SuggestReply, Text: "Stop deliveries"},
	}
	for _, tc := range []struct {
		in   string
		want string // postback or text; "" = no match
	}{
		{"1", "track"},
		{" 2 ", "web"},
		{"2.", "web"},
		{"2)", "web"},
		{"3", "Stop deliveries"},
		{"4", ""},
		{"0", ""},
		{"track", "track"},
		{"TRACK", "track"},
		{"  website ", "web"},
		{"stop deliveries", "Stop deliveries"},
		{"12 apples", ""},
		{"", ""},
		{"hello", ""},
	} {
		s, ok := unify.MatchReply(tc.in, choices)
		if tc.want == "" {
			require.False(t, ok, "%q", tc.in)
			continue
		}
		require.True(t, ok, "%q", tc.in)
		require.Equal(t, tc.want, s.PostbackOrText(), "%q", tc.in)
	}
}
