package rcs_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"gateway/rcs"
	"gateway/unify"
)

func replies(n int) []unify.Suggestion {
	out := make([]unify.Suggestion, n)
	for i := range out {
		out[i] = unify.Suggestion{Type: unify.SuggestReply, Text: "Option"}
	}
	return out
}

func cards(n int) []unify.Card {
	out := make([]unify.Card, n)
	for i := range out {
		out[i] = unify.Card{Title: "Card"}
	}
	return out
}

// TestCheckLimits checks each of RBM's limits (rbm.md §9, written out here
// rather than taken from the package) at the limit and one past it.
func TestCheckLimits(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		limit   int
		content func(n int) unify.Content
		field   string // the one field named one past the limit
	}{
		{"text bytes", 3072,
			func(n int) unify.Content { return unify.Content{Text: strings.Repeat("a", n)} }, "content.text"},
		{"text bytes of multi-byte characters", 3072 / 4,
			func(n int) unify.Content { return unify.Content{Text: strings.Repeat("😀", n)} }, "content.text"},
		{"suggestions per message", 11,
			func(n int) unify.Content { return unify.Content{Text: "hi", Suggestions: replies(n)} }, "content.suggestions[11]"},
		{"suggestions beside the map chip of a location", 10,
			func(n int) unify.Content {
				return unify.Content{Location: &unify.Location{Lat: 1, Lng: 2}, Suggestions: replies(n)}
			}, "content.suggestions[10]"},
		{"suggestions per card", 4,
			func(n int) unify.Content {
				return unify.Content{Card: &unify.Card{Title: "t", Suggestions: replies(n)}}
			},
			"content.card.suggestions[4]"},
		{"suggestions per carousel card", 4,
			func(n int) unify.Content {
				c := cards(3)
				c[2].Suggestions = replies(n)
				return unify.Content{Carousel: &unify.Carousel{Cards: c}}
			}, "content.carousel.cards[2].suggestions[4]"},
		{"suggestion text", 25,
			func(n int) unify.Content {
				return unify.Content{Text: "hi", Suggestions: []unify.Suggestion{{Type: unify.SuggestReply, Text: strings.Repeat("é", n)}}}
			}, "content.suggestions[0].text"},
		{"card suggestion text", 25,
			func(n int) unify.Content {
				return unify.Content{Card: &unify.Card{Title: "t", Suggestions: []unify.Suggestion{
					{Type: unify.SuggestReply, Text: "ok"},
					{Type: unify.SuggestOpenURL, Text: strings.Repeat("x", n), URL: "https://example.com"}}}}
			}, "content.card.suggestions[1].text"},
		{"postback", 2048,
			func(n int) unify.Content {
				return unify.Content{Text: "hi", Suggestions: []unify.Suggestion{{Type: unify.SuggestReply, Text: "ok", Postback: strings.Repeat("p", n)}}}
			}, "content.suggestions[0].postback"},
		{"card title", 200,
			func(n int) unify.Content { return unify.Content{Card: &unify.Card{Title: strings.Repeat("ü", n)}} }, "content.card.title"},
		{"card description", 2000,
			func(n int) unify.Content {
				return unify.Content{Card: &unify.Card{Description: strings.Repeat("d", n)}}
			},
			"content.card.description"},
		{"carousel card title", 200,
			func(n int) unify.Content {
				c := cards(2)
				c[1].Title = strings.Repeat("t", n)
				return unify.Content{Carousel: &unify.Carousel{Cards: c}}
			}, "content.carousel.cards[1].title"},
		{"carousel card description", 2000,
			func(n int) unify.Content {
				c := cards(2)
				c[0].Description = strings.Repeat("d", n)
				return unify.Content{Carousel: &unify.Carousel{Cards: c}}
			}, "content.carousel.cards[0].description"},
		{"caption, which becomes a card description", 2000,
			func(n int) unify.Content { return unify.Content{Text: strings.Repeat("c", n), Media: image} }, "content.text"},
		{"most carousel cards", 10,
			func(n int) unify.Content { return unify.Content{Carousel: &unify.Carousel{Cards: cards(n)}} }, "content.carousel.cards"},
		{"whole agent message", 250_000, sized, "content"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			at := tc.content(tc.limit)
			require.Empty(t, rcs.CheckLimits(&at), "at the limit")
			past := tc.content(tc.limit + 1)
			errs := rcs.CheckLimits(&past)
			require.Len(t, errs, 1, "one past the limit: %v", errs)
			require.Equal(t, tc.field, errs[0].Field)
			require.NotEmpty(t, errs[0].Message)
		})
	}
}

func TestCheckLimitsFewestCarouselCards(t *testing.T) {
	t.Parallel()
	at := unify.Content{Carousel: &unify.Carousel{Cards: cards(2)}}
	require.Empty(t, rcs.CheckLimits(&at))
	past := unify.Content{Carousel: &unify.Carousel{Cards: cards(1)}}
	require.Equal(t, []string{"content.carousel.cards"}, fields(rcs.CheckLimits(&past)))
}

func TestCheckLimitsMediaTypes(t *testing.T) {
	t.Parallel()
	media := func(mt, thumb string) *unify.Media {
		return &unify.Media{URL: "https://cdn.example/f", MimeType: mt, ThumbnailURL: thumb}
	}
	for _, tc := range []struct {
		name    string
		content unify.Content
		fields  []string
	}{
		{"jpeg", unify.Content{Media: media("image/jpeg", "https://cdn.example/t")}, nil},
		{"type with parameters and capitals", unify.Content{Media: media("Image/PNG; q=1", "")}, nil},
		{"webm video", unify.Content{Media: media("video/webm", "")}, nil},
		{"mp3 audio", unify.Content{Media: media("audio/mpeg", "")}, nil},
		{"pdf", unify.Content{Media: media("application/pdf", "")}, nil},
		{"webp image", unify.Content{Media: media("image/webp", "")}, []string{"content.media.mime_type"}},
		{"zip", unify.Content{Media: media("application/zip", "")}, []string{"content.media.mime_type"}},
		{"thumbnail of a pdf", unify.Content{Media: media("application/pdf", "https://cdn.example/t")}, []string{"content.media.thumbnail_url"}},
		{"audio with a caption is a card", unify.Content{Text: "listen", Media: media("audio/mpeg", "")}, []string{"content.media.mime_type"}},
		{"audio in a card", unify.Content{Card: &unify.Card{Title: "t", Media: media("audio/ogg", "")}}, []string{"content.card.media.mime_type"}},
		{"pdf in a carousel", unify.Content{Carousel: &unify.Carousel{Cards: []unify.Card{{Title: "a"}, {Media: media("application/pdf", "")}}}},
			[]string{"content.carousel.cards[1].media.mime_type"}},
		{"gif in a carousel", unify.Content{Carousel: &unify.Carousel{Cards: []unify.Card{{Title: "a"}, {Media: media("image/gif", "")}}}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.fields, fields(rcs.CheckLimits(&tc.content)))
		})
	}
}

func fields(errs []unify.FieldError) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Field)
	}
	return out
}

// sized builds content whose AgentMessage JSON is exactly n bytes, with
// every field within its own limit: ten cards of four chips and eleven chips
// on the message, with long multi-byte postbacks, padded in the cards'
// descriptions.
func sized(n int) unify.Content {
	chips := func(k int) []unify.Suggestion {
		out := make([]unify.Suggestion, k)
		for i := range out {
			out[i] = unify.Suggestion{Type: unify.SuggestReply, Text: "Option", Postback: strings.Repeat("€", 1500)}
		}
		return out
	}
	cs := make([]unify.Card, rcs.MaxCarouselCards)
	for i := range cs {
		cs[i] = unify.Card{Title: "Card", Description: "d", Suggestions: chips(rcs.MaxCardSuggestions)}
	}
	c := unify.Content{Carousel: &unify.Carousel{Cards: cs}, Suggestions: chips(rcs.MaxSuggestions)}
	b, _ := json.Marshal(rcs.Convert(&c))
	need := n - len(b)
	for i := range cs {
		add := min(need, rcs.MaxDescriptionRunes-1)
		cs[i].Description += strings.Repeat("d", add)
		need -= add
	}
	if need != 0 {
		panic("sized: cannot reach the size")
	}
	if b, _ := json.Marshal(rcs.Convert(&c)); len(b) != n {
		panic("sized: wrong size")
	}
	return c
}
