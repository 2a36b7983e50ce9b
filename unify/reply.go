package unify

import (
	"strconv"
	"strings"
)

// MatchReply finds the suggestion a typed reply picks: its number in the
// list ("2", " 2 ", "2.", "2)") or its own label, ignoring case. The list is
// Content.AllSuggestions, the order the SMS rendering numbers them in.
func MatchReply(text string, choices []Suggestion) (Suggestion, bool) {
	t := strings.TrimSpace(text)
	if t == "" || len(choices) == 0 {
		return Suggestion{}, false
	}
	num := strings.TrimRight(t, ".)")
	if n, err := strconv.Atoi(strings.TrimSpace(num)); err == nil {
		if n >= 1 && n <= len(choices) {
			return choices[n-1], true
		}
		return Suggestion{}, false
	}
	for _, s := range choices {
		if strings.EqualFold(strings.TrimSpace(s.Text), t) {
			return s, true
		}
	}
	return Suggestion{}, false
}
