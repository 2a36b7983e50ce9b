package rcs_test

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"gateway/rcs"
	"gateway/unify"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var (
	image = &unify.Media{URL: "https://cdn.example/box.jpg", MimeType: "image/jpeg", ThumbnailURL: "https://cdn.example/box_t.jpg"}
	video = &unify.Media{URL: "https://cdn.example/clip.mp4", MimeType: "video/mp4"}
	pdf   = &unify.Media{URL: "https://cdn.example/invoice.pdf", MimeType: "application/pdf"}
)

// Every content kind and every suggestion type, pinned as RBM JSON.
var goldenContents = map[string]unify.Content{
	"text":            {Text: "Your order shipped"},
	"media":           {Media: image},
	"media_pdf":       {Media: pdf},
	"media_caption":   {Text: "Your parcel", Media: video},
	"card":            {Card: &unify.Card{Title: "Order 1001", Description: "2 items", Media: image, Suggestions: []unify.Suggestion{{Type: unify.SuggestReply, Text: "Track", Postback: "track_1001"}}}},
	"card_text_only":  {Card: &unify.Card{Title: "Order 1001", Description: "2 items"}},
	"carousel":        {Carousel: &unify.Carousel{Cards: []unify.Card{{Title: "A", Media: image, Suggestions: []unify.Suggestion{{Type: unify.SuggestReply, Text: "Pick A"}}}, {Title: "B", Description: "no picture"}}}},
	"location":        {Location: &unify.Location{Lat: 48.85, Lng: 2.35, Label: "Store"}},
	"location_no_tag": {Location: &unify.Location{Lat: -33.8688, Lng: 151.2093}},
	"suggestion_reply": {Text: "Pick one", Suggestions: []unify.Suggestion{
		{Type: unify.SuggestReply, Text: "Yes", Postback: "confirm_yes"},
		{Type: unify.SuggestReply, Text: "No"}, // postback defaults to the text
	}},
	"suggestion_open_url": {Text: "Pick one", Suggestions: []unify.Suggestion{
		{Type: unify.SuggestOpenURL, Text: "Website", URL: "https://example.com", Postback: "web"},
	}},
	"suggestion_dial": {Text: "Pick one", Suggestions: []unify.Suggestion{
		{Type: unify.SuggestDial, Text: "Call us", Phone: "+33100000000"},
	}},
	"suggestion_view_location": {Text: "Pick one", Suggestions: []unify.Suggestion{
		{Type: unify.SuggestViewLocation, Text: "Map", Lat: ptr(48.85), Lng: ptr(2.35), Label: "Store", Postback: "map"},
	}},
	"suggestion_calendar": {Text: "Pick one", Suggestions: []unify.Suggestion{
		{Type: unify.SuggestCalendar, Text: "Remind me", Title: "Pickup", Description: "Bring your id",
			Start: "2026-12-01T10:00:00Z", End: "2026-12-01T11:00:00Z"},
	}},
}

func TestConvertGolden(t *testing.T) {
	t.Parallel()
	for name, c := range goldenContents {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.Empty(t, c.Validate("content"), "the fixture itself must be valid")
			require.Empty(t, rcs.CheckLimits(&c))
			got, err := json.MarshalIndent(rcs.Convert(&c), "", "  ")
			require.NoError(t, err)
			got = append(got, '\n')
			file := filepath.Join("testdata", name+".json")
			if *update {
				require.NoError(t, os.WriteFile(file, got, 0o644))
			}
			want, err := os.ReadFile(file)
			require.NoError(t, err, "run go test ./rcs -run TestConvertGolden -update")
			require.Equal(t, string(want), string(got))
		})
	}
}

func TestRequiredFeatures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		want []string
	}{
		{"text", nil},
		{"media", nil},
		{"media_caption", []string{rcs.FeatureRichCardStandalone}},
		{"card", []string{rcs.FeatureRichCardStandalone}},
		{"carousel", []string{rcs.FeatureRichCardCarousel}},
		{"location", []string{rcs.FeatureViewLocation}},
		{"suggestion_reply", nil},
		{"suggestion_open_url", []string{rcs.FeatureOpenURL}},
		{"suggestion_dial", []string{rcs.FeatureDial}},
		{"suggestion_view_location", []string{rcs.FeatureViewLocation}},
		{"suggestion_calendar", []string{rcs.FeatureCreateCalendarEvent}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := goldenContents[tc.name]
			require.Equal(t, tc.want, rcs.RequiredFeatures(rcs.Convert(&c)))
		})
	}
}
