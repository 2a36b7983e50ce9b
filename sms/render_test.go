package sms_test

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"gateway/sms"
	"gateway/sms/segment"
	"gateway/unify"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/render")

func ptr(v float64) *float64 { return &v }

// Fixtures shared by the rendering tests.
var (
	boxJPG = &unify.Media{URL: "https://cdn.example/box.jpg", MimeType: "image/jpeg"}
	track  = unify.Suggestion{Type: unify.SuggestReply, Text: "Track", Postback: "track"}
	cancel = unify.Suggestion{Type: unify.SuggestReply, Text: "Cancel", Postback: "cancel"}
	help   = unify.Suggestion{Type: unify.SuggestReply, Text: "Talk to us", Postback: "help"}
	site   = unify.Suggestion{Type: unify.SuggestOpenURL, Text: "Website", URL: "https://shop.example/o/1001", Postback: "web"}
	call   = unify.Suggestion{Type: unify.SuggestDial, Text: "Call us", Phone: "+33100000000", Postback: "call"}
	where  = unify.Suggestion{Type: unify.SuggestViewLocation, Text: "Map", Lat: ptr(48.8584), Lng: ptr(2.2945), Label: "Pickup point"}
	remind = unify.Suggestion{Type: unify.SuggestCalendar, Text: "Remind me", Title: "Pickup",
		Start: "2026-12-01T10:00:00Z", End: "2026-12-01T11:00:00Z", Postback: "cal"}
	remindNight = unify.Suggestion{Type: unify.SuggestCalendar, Text: "Add to calendar", Title: "Night delivery",
		Start: "2026-12-01T22:30:00+01:00", End: "2026-12-02T01:00:00+01:00"}
	remindIndia = unify.Suggestion{Type: unify.SuggestCalendar, Text: "Remind me", Title: "Call",
		Start: "2026-03-05T09:00:00+05:30", End: "2026-03-05T09:30:00+05:30"}
	remindNewYork = unify.Suggestion{Type: unify.SuggestCalendar, Text: "Remind me",
		Start: "2026-07-04T18:00:00-04:00", End: "2026-07-04T20:00:00-04:00"}

	orderCard = unify.Card{Title: "Order 1001", Description: "2 items, arriving Tuesday", Media: boxJPG,
		Suggestions: []unify.Suggestion{track, site, call, remind}}
	shoes = unify.Card{Title: "Running shoes", Description: "Light, 240 g", Media: &unify.Media{URL: "https://cdn.example/shoes.jpg", MimeType: "image/jpeg"},
		Suggestions: []unify.Suggestion{{Type: unify.SuggestReply, Text: "Buy shoes", Postback: "buy-shoes"},
			{Type: unify.SuggestOpenURL, Text: "Sizes", URL: "https://shop.example/shoes"}}}
	cap_  = unify.Card{Title: "Cap", Description: "One size", Suggestions: []unify.Suggestion{{Type: unify.SuggestReply, Text: "Buy cap", Postback: "buy-cap"}}}
	socks = unify.Card{Title: "Socks", Media: &unify.Media{URL: "https://cdn.example/socks.jpg", MimeType: "image/jpeg"}}

	// lorem is a long description with a URL in the middle.
	lorem = "Your parcel left our warehouse in Lyon this morning and is on its way. " +
		"Our courier will ring between 10:00 and 12:00; if nobody answers, it is left at the pickup point. " +
		"Full details and the delivery conditions are at https://shop.example/help/delivery/conditions-and-pickup-points and in your account. " +
		"Keep this message: the code 4821 is needed to collect the parcel. Thank you for shopping with us, see you soon!"
)

// golden compares got with testdata/render/name.txt, or rewrites the file
// under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	enc, segs, units := segment.Count(got)
	content := fmt.Sprintf("encoding: %s, segments: %d, units: %d\n--\n%s\n", enc, segs, units, got)
	path := filepath.Join("testdata", "render", name+".txt")
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to create it")
	require.Equal(t, string(want), content)
}

// urlsIntact fails when got holds a word with "://" that is not a word of
// full, the text written without a budget: a link was cut.
func urlsIntact(t testing.TB, full, got string) {
	t.Helper()
	words := map[string]bool{}
	for _, w := range strings.Fields(full) {
		words[sms.Transliterate(w)] = true
	}
	for _, w := range strings.Fields(got) {
		if strings.Contains(w, "://") {
			require.Truef(t, words[sms.Transliterate(w)], "link %q was cut in:\n%s", w, got)
		}
	}
}

func TestRenderText(t *testing.T) {
	t.Parallel()
	numbered := sms.RenderOptions{NumberReplies: true}
	plain := sms.RenderOptions{}
	for _, tc := range []struct {
		name string
		c    unify.Content
		o    sms.RenderOptions
		enc  segment.Encoding
	}{
		{"text", unify.Content{Text: "Your code is 483920."}, numbered, segment.GSM7},
		{"text_typographic", unify.Content{Text: "It’s “ready” – pick it up… before 18:00\u00a0!\n• bring ID\t— thanks"}, numbered, segment.GSM7},
		{"text_typographic_emoji", unify.Content{Text: "It’s “ready” 🎉 – pick it up…"}, numbered, segment.UCS2},
		{"text_typographic_accent", unify.Content{Text: "C’est prêt, à bientôt"}, numbered, segment.UCS2},
		{"text_extension", unify.Content{Text: "Price: 10€ [promo] ~ {code} ^ | \\ now"}, numbered, segment.GSM7},
		{"text_chinese", unify.Content{Text: "您的订单已发货“1001”"}, numbered, segment.UCS2},
		{"text_replies_numbered", unify.Content{Text: "Confirm your appointment?", Suggestions: []unify.Suggestion{
			{Type: unify.SuggestReply, Text: "Yes"}, {Type: unify.SuggestReply, Text: "No"}}}, numbered, segment.GSM7},
		{"text_replies_unnumbered", unify.Content{Text: "Confirm your appointment?", Suggestions: []unify.Suggestion{
			{Type: unify.SuggestReply, Text: "Yes"}, {Type: unify.SuggestReply, Text: "No"}}}, plain, segment.GSM7},
		{"text_actions_unnumbered", unify.Content{Text: "Hi", Suggestions: []unify.Suggestion{track, call, where, remind}}, plain, segment.GSM7},
		{"media_caption", unify.Content{Text: "Your box", Media: boxJPG}, numbered, segment.GSM7},
		{"media_no_caption", unify.Content{Media: boxJPG, Suggestions: []unify.Suggestion{track}}, numbered, segment.GSM7},
		{"card_numbered", unify.Content{Card: &orderCard}, numbered, segment.GSM7},
		{"card_unnumbered", unify.Content{Card: &orderCard}, plain, segment.GSM7},
		{"card_with_message_suggestions", unify.Content{Card: &unify.Card{Title: "Order 1001",
			Suggestions: []unify.Suggestion{track, cancel}}, Suggestions: []unify.Suggestion{help}}, numbered, segment.GSM7},
		{"card_location_calendar", unify.Content{Card: &unify.Card{Title: "Pickup ready", Description: "At the Eiffel Tower kiosk",
			Suggestions: []unify.Suggestion{where, remindNight, remindIndia, remindNewYork}}}, numbered, segment.GSM7},
		{"card_description_only", unify.Content{Card: &unify.Card{Description: "Thanks for your order"}}, numbered, segment.GSM7},
		{"card_emoji", unify.Content{Card: &unify.Card{Title: "Sale 🎉", Description: "Up to 50% off “today” only",
			Suggestions: []unify.Suggestion{{Type: unify.SuggestReply, Text: "👍"}, site}}}, numbered, segment.UCS2},
		{"card_extension", unify.Content{Card: &unify.Card{Title: "[Promo] 10€", Description: "Code {SUMMER} ~ 1 week",
			Suggestions: []unify.Suggestion{track}}}, numbered, segment.GSM7},
		{"carousel_numbered", unify.Content{Carousel: &unify.Carousel{Cards: []unify.Card{shoes, cap_, socks}},
			Suggestions: []unify.Suggestion{help}}, numbered, segment.GSM7},
		{"carousel_unnumbered", unify.Content{Carousel: &unify.Carousel{Cards: []unify.Card{shoes, cap_, socks}},
			Suggestions: []unify.Suggestion{help}}, plain, segment.GSM7},
		{"carousel_untitled", unify.Content{Carousel: &unify.Carousel{Cards: []unify.Card{
			{Description: "First"}, {Media: boxJPG}}}}, numbered, segment.GSM7},
		{"location", unify.Content{Location: &unify.Location{Lat: 48.8584, Lng: 2.2945, Label: "Pickup point"}}, numbered, segment.GSM7},
		{"location_unlabelled", unify.Content{Location: &unify.Location{Lat: -33.8568, Lng: 151.2153},
			Suggestions: []unify.Suggestion{call}}, numbered, segment.GSM7},
		{"weblink_text", unify.Content{Text: "Your order shipped"}, sms.RenderOptions{WebLink: "https://gw.example/m/Xy7Qk2"}, segment.GSM7},
		{"weblink_media", unify.Content{Media: boxJPG}, sms.RenderOptions{WebLink: "https://gw.example/m/Xy7Qk2"}, segment.GSM7},
		{"weblink_card", unify.Content{Card: &orderCard},
			sms.RenderOptions{NumberReplies: true, WebLink: "https://gw.example/m/Xy7Qk2"}, segment.GSM7},
		{"weblink_carousel", unify.Content{Carousel: &unify.Carousel{Cards: []unify.Card{shoes, cap_}}},
			sms.RenderOptions{NumberReplies: true, WebLink: "https://gw.example/m/Xy7Qk2"}, segment.GSM7},
		{"weblink_location", unify.Content{Location: &unify.Location{Lat: 1.5, Lng: 2, Label: "Depot"}},
			sms.RenderOptions{WebLink: "https://gw.example/m/Xy7Qk2"}, segment.GSM7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := sms.RenderText(&tc.c, tc.o)
			require.NoError(t, err)
			require.Equal(t, tc.enc, segment.Choose(got), got)
			require.True(t, utf8.ValidString(got))
			if tc.o.WebLink != "" {
				require.Contains(t, got, "More: "+tc.o.WebLink)
			}
			golden(t, tc.name, got)
		})
	}
}

func TestRenderTextBudget(t *testing.T) {
	t.Parallel()
	longCard := unify.Card{Title: "Your parcel is on its way", Description: lorem, Media: boxJPG,
		Suggestions: []unify.Suggestion{track, site}}
	longTitle := unify.Card{Title: strings.Repeat("Winter collection with free returns ", 5), Description: lorem, Media: boxJPG,
		Suggestions: []unify.Suggestion{track, site}}
	emojiCard := unify.Card{Title: "Parcel", Description: "On its way today, expect the courier before noon 🚚 and do not forget the code",
		Suggestions: []unify.Suggestion{track}}
	for _, tc := range []struct {
		name   string
		c      unify.Content
		o      sms.RenderOptions
		enc    segment.Encoding
		shorts string // a text the shortened form keeps
		drops  string // a text the shortened form leaves out
	}{
		{"budget_card_1", unify.Content{Card: &longCard}, sms.RenderOptions{NumberReplies: true, MaxSegments: 1},
			segment.GSM7, "Your parcel left", "Our courier"},
		{"budget_card_2", unify.Content{Card: &longCard}, sms.RenderOptions{NumberReplies: true, MaxSegments: 2},
			segment.GSM7, "https://cdn.example/box.jpg", "https://shop.example/help"},
		{"budget_card_3", unify.Content{Card: &longCard}, sms.RenderOptions{NumberReplies: true, MaxSegments: 3},
			segment.GSM7, "https://shop.example/help/delivery/conditions-and-pickup-points", "Thank you"},
		{"budget_title", unify.Content{Card: &longTitle}, sms.RenderOptions{NumberReplies: true, MaxSegments: 1},
			segment.GSM7, "Winter collection", "Your parcel"},
		{"budget_drops_media", unify.Content{Card: &unify.Card{Title: "Order 1001 is ready for pickup at the depot",
			Media:       &unify.Media{URL: "https://cdn.example/images/orders/1001/parcel-front-high-resolution.jpg", MimeType: "image/jpeg"},
			Suggestions: []unify.Suggestion{track, cancel, site}}}, sms.RenderOptions{NumberReplies: true, MaxSegments: 1},
			segment.GSM7, "Order 1001 is ready for pickup at the depot", "https://cdn.example"},
		{"budget_carousel_2", unify.Content{Carousel: &unify.Carousel{Cards: []unify.Card{
			{Title: "Shoes", Description: lorem, Suggestions: []unify.Suggestion{{Type: unify.SuggestReply, Text: "Buy shoes"}}},
			{Title: "Cap", Description: "A cap for every season, in cotton, washable at 40 degrees, one size fits all."},
			{Title: "Socks", Description: lorem, Media: boxJPG}}}}, sms.RenderOptions{NumberReplies: true, MaxSegments: 2},
			segment.GSM7, "3/3 Socks", "Thank you"},
		{"budget_weblink_1", unify.Content{Card: &longCard}, sms.RenderOptions{NumberReplies: true, MaxSegments: 1,
			WebLink: "https://gw.example/m/Xy7Qk2"}, segment.GSM7, "More: https://gw.example/m/Xy7Qk2", "Our courier"},
		// Shortening drops the emoji, and with it the need for UCS-2.
		{"budget_emoji_to_gsm", unify.Content{Card: &emojiCard}, sms.RenderOptions{NumberReplies: true, MaxSegments: 1},
			segment.GSM7, "On its way today", "🚚"},
		{"budget_ucs2_1", unify.Content{Card: &unify.Card{Title: "Colis 📦", Description: "Votre colis est en route, le livreur passera avant midi. Gardez le code 4821 pour le retirer au point relais.",
			Suggestions: []unify.Suggestion{track}}}, sms.RenderOptions{NumberReplies: true, MaxSegments: 1},
			segment.UCS2, "Votre colis", "4821"},
		{"budget_url_in_description", unify.Content{Card: &unify.Card{Title: "Help",
			Description: "Everything about returns, refunds and exchanges, in one place: https://shop.example/help/returns/how-to-send-back-an-item-and-get-refunded-quickly-and-safely-2026 and more"}},
			sms.RenderOptions{MaxSegments: 1}, segment.GSM7, "Everything about returns", "https://shop.example"},
		{"budget_location_label", unify.Content{Location: &unify.Location{Lat: 45.764, Lng: 4.8357,
			Label: "Lyon Part-Dieu pickup point, level -1, next to the car park exit B, open from 8:00 to 20:00 every day " +
				"except on public holidays and on the first Sunday of each month when the station is closed for maintenance"}},
			sms.RenderOptions{MaxSegments: 1}, segment.GSM7, "Lyon Part-Dieu", "maintenance"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := sms.RenderText(&tc.c, tc.o)
			require.NoError(t, err)
			enc, segs, _ := segment.Count(got)
			require.Equal(t, tc.enc, enc, got)
			require.LessOrEqual(t, segs, tc.o.MaxSegments, got)
			require.Contains(t, got, tc.shorts)
			require.NotContains(t, got, tc.drops)
			full, err := sms.RenderText(&tc.c, sms.RenderOptions{NumberReplies: tc.o.NumberReplies, MaxSegments: 255, WebLink: tc.o.WebLink})
			require.NoError(t, err)
			urlsIntact(t, full, got)
			// The room is used: one segment more gives a longer text.
			o := tc.o
			o.MaxSegments++
			more, err := sms.RenderText(&tc.c, o)
			require.NoError(t, err)
			require.Greater(t, utf8.RuneCountInString(more), utf8.RuneCountInString(got))
			golden(t, tc.name, got)
		})
	}
}

func TestRenderTextExactBudgets(t *testing.T) {
	t.Parallel()
	card := unify.Card{Title: "Your parcel is on its way", Description: lorem, Media: boxJPG,
		Suggestions: []unify.Suggestion{track, site, call, remind}}
	c := unify.Content{Card: &card}
	full, err := sms.RenderText(&c, sms.RenderOptions{NumberReplies: true, MaxSegments: 255})
	require.NoError(t, err)
	_, fullSegs, _ := segment.Count(full)
	// The four action lines and the reply line alone take more than 160.
	_, err = sms.RenderText(&c, sms.RenderOptions{NumberReplies: true, MaxSegments: 1})
	require.ErrorIs(t, err, sms.ErrTooLong)
	prev := 0
	for budget := 2; budget <= fullSegs+1; budget++ {
		got, err := sms.RenderText(&c, sms.RenderOptions{NumberReplies: true, MaxSegments: budget})
		require.NoError(t, err, "budget %d", budget)
		_, segs, units := segment.Count(got)
		require.LessOrEqual(t, segs, budget)
		if budget < fullSegs {
			// Shortened, and close to the capacity: less than a word
			// (or a link) and an ellipsis short of it.
			require.Equal(t, budget, segs, got)
			require.Contains(t, got, "...") // "…", transliterated
			require.Greater(t, units, budget*153-70, got)
		} else {
			require.Equal(t, full, got)
		}
		if budget <= fullSegs {
			require.Greater(t, len(got), prev)
		}
		prev = len(got)
		urlsIntact(t, full, got)
		for _, s := range card.Suggestions {
			require.Contains(t, got, s.Text) // suggestions are never cut
		}
	}
}

func TestRenderTextTooLong(t *testing.T) {
	t.Parallel()
	many := make([]unify.Suggestion, 11)
	for i := range many {
		many[i] = unify.Suggestion{Type: unify.SuggestOpenURL, Text: "Page " + strconv.Itoa(i+1),
			URL: "https://shop.example/catalogue/page/" + strconv.Itoa(i+1)}
	}
	for _, tc := range []struct {
		name string
		c    unify.Content
		o    sms.RenderOptions
	}{
		{"text over one segment", unify.Content{Text: strings.Repeat("a", 161)}, sms.RenderOptions{MaxSegments: 1}},
		{"text over the default budget", unify.Content{Text: strings.Repeat("a", 10*153+1)}, sms.RenderOptions{}},
		{"ucs2 text over one segment", unify.Content{Text: strings.Repeat("é", 71) + "😀"}, sms.RenderOptions{MaxSegments: 1}},
		{"caption is never cut", unify.Content{Text: strings.Repeat("b", 161), Media: boxJPG}, sms.RenderOptions{MaxSegments: 1}},
		{"actions are never cut", unify.Content{Card: &unify.Card{Title: "Catalogue"}, Suggestions: many}, sms.RenderOptions{MaxSegments: 2}},
		{"weblink is never cut", unify.Content{Card: &unify.Card{Title: "x", Description: lorem}},
			sms.RenderOptions{MaxSegments: 1, WebLink: "https://gw.example/m/" + strings.Repeat("z", 160)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := sms.RenderText(&tc.c, tc.o)
			require.ErrorIs(t, err, sms.ErrTooLong)
			require.Empty(t, got)
		})
	}
	// Just within the budgets.
	for _, tc := range []struct {
		text string
		o    sms.RenderOptions
	}{
		{strings.Repeat("a", 160), sms.RenderOptions{MaxSegments: 1}},
		{strings.Repeat("a", 10*153), sms.RenderOptions{}},
		{strings.Repeat("€", 80), sms.RenderOptions{MaxSegments: 1}},
		{strings.Repeat("é", 69) + "😀" + strings.Repeat("b", 67*200), sms.RenderOptions{MaxSegments: 1000}},
	} {
		_, err := sms.RenderText(&unify.Content{Text: tc.text}, tc.o)
		require.NoError(t, err)
	}
}

func TestTransliterate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string
		enc      segment.Encoding
	}{
		{"plain ASCII", "plain ASCII", segment.GSM7},
		{"", "", segment.GSM7},
		{"It’s ‘ok’", "It's 'ok'", segment.GSM7},
		{"“Hi” „Hallo“ «Salut»", `"Hi" "Hallo" "Salut"`, segment.GSM7},
		{"10–12 — yes −3", "10-12 - yes -3", segment.GSM7},
		{"Wait…", "Wait...", segment.GSM7},
		{"a\u00a0b\u202fc\u2009d\u3000e\tf", "a b c d e f", segment.GSM7},
		{"zero\u200bwidth\u00adsoft\ufeff", "zerowidthsoft", segment.GSM7},
		{"• one\u2028• two", "- one\n- two", segment.GSM7},
		{"`code` 5′ 6″", "'code' 5' 6\"", segment.GSM7},
		{"Prix : 10€ [promo] « été »", "Prix : 10€ [promo] \" été \"", segment.GSM7},
		// Other characters outside GSM 03.38 remain: UCS-2 is needed
		// anyway, so the originals stay.
		{"It’s ready 🎉", "It’s ready 🎉", segment.UCS2},
		{"C’est prêt", "C’est prêt", segment.UCS2},
		{"“订单”", "“订单”", segment.UCS2},
		{"no emoji 😀 but tab\t", "no emoji 😀 but tab\t", segment.UCS2},
		{"bad \xff byte ’", "bad \xff byte ’", segment.UCS2},
	} {
		got := sms.Transliterate(tc.in)
		require.Equal(t, tc.want, got, tc.in)
		require.Equal(t, tc.enc, segment.Choose(got), tc.in)
	}
}

func TestTransliterateKeepsString(t *testing.T) {
	s := "Your code is 483920."
	require.Equal(t, 0.0, testing.AllocsPerRun(100, func() { _ = sms.Transliterate(s) }))
	e := "It’s ready 🎉"
	require.Equal(t, e, sms.Transliterate(e))
}

// TestRenderNumberingMatchesAllSuggestions checks, for random cards and
// carousels, that the number written before each label is the one
// unify.MatchReply maps back to that suggestion: the reply "n" picks
// AllSuggestions()[n-1], and the text must say so.
func TestRenderNumberingMatchesAllSuggestions(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	labels := []string{"Yes", "No", "Track", "Cancel", "Website", "Call us", "Map", "Remind me", "It’s me", "🎉 Party", "Prix 10€", "[x]", "Later"}
	types := []unify.SuggestionType{unify.SuggestReply, unify.SuggestOpenURL, unify.SuggestDial, unify.SuggestViewLocation, unify.SuggestCalendar}
	label := 0
	suggestions := func(n int) []unify.Suggestion {
		list := make([]unify.Suggestion, n)
		for i := range list {
			label++ // unique labels, so that a label names one suggestion
			list[i] = unify.Suggestion{Type: types[rng.IntN(len(types))], Text: labels[rng.IntN(len(labels))] + " " + strconv.Itoa(label),
				Postback: "pb-" + strconv.Itoa(label), URL: "https://x.example/" + strconv.Itoa(label), Phone: "+33100000000",
				Lat: ptr(1), Lng: ptr(2), Title: "T", Start: "2026-12-01T10:00:00Z", End: "2026-12-01T11:00:00Z"}
		}
		return list
	}
	card := func() unify.Card {
		c := unify.Card{Title: "Card " + strings.Repeat("title ", rng.IntN(8)), Description: lorem[:rng.IntN(len(lorem))],
			Suggestions: suggestions(rng.IntN(unify.MaxCardSuggestions + 1))}
		if rng.IntN(2) == 0 {
			c.Media = boxJPG
		}
		return c
	}
	for i := range 300 {
		var c unify.Content
		if i%2 == 0 {
			cc := card()
			c.Card = &cc
		} else {
			c.Carousel = &unify.Carousel{}
			for range 2 + rng.IntN(unify.MaxCarouselCards-1) {
				c.Carousel.Cards = append(c.Carousel.Cards, card())
			}
		}
		c.Suggestions = suggestions(rng.IntN(4))
		o := sms.RenderOptions{NumberReplies: true, MaxSegments: 1 + rng.IntN(12)}
		text, err := sms.RenderText(&c, o)
		if errors.Is(err, sms.ErrTooLong) {
			continue
		}
		require.NoError(t, err)

		all := c.AllSuggestions()
		var seen []int
		for _, line := range strings.Split(text, "\n") {
			rest, ok := strings.CutPrefix(line, "Reply ")
			if !ok {
				continue
			}
			for _, item := range strings.Split(rest, ", ") {
				num, lbl, ok := strings.Cut(item, " for ")
				require.True(t, ok, line)
				n, err := strconv.Atoi(num)
				require.NoError(t, err, line)
				seen = append(seen, n)
				picked, ok := unify.MatchReply(num, all)
				require.True(t, ok)
				require.Contains(t, []string{picked.Text, sms.Transliterate(picked.Text)}, lbl, "reply %d in:\n%s", n, text)
				byLabel, ok := unify.MatchReply(picked.Text, all)
				require.True(t, ok)
				require.Equal(t, picked.Postback, byLabel.Postback)
			}
		}
		want := make([]int, len(all))
		for i := range want {
			want[i] = i + 1
		}
		if len(all) == 0 {
			want = nil
		}
		require.Equal(t, want, seen, text)
	}
}

func BenchmarkRenderCard4Suggestions(b *testing.B) {
	c := unify.Content{Card: &orderCard}
	o := sms.RenderOptions{NumberReplies: true, MaxSegments: 3}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sms.RenderText(&c, o); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenderCardShortened(b *testing.B) {
	card := unify.Card{Title: "Your parcel is on its way", Description: lorem, Media: boxJPG,
		Suggestions: []unify.Suggestion{track, site, call, remind}}
	c := unify.Content{Card: &card}
	o := sms.RenderOptions{NumberReplies: true, MaxSegments: 2}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sms.RenderText(&c, o); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzRenderText(f *testing.F) {
	f.Add(uint8(0), "Order 1001", lorem, "Track", uint8(1), true, "")
	f.Add(uint8(1), "Soldes 🎉 “été”", "Jusqu’à -50 % sur https://shop.example/soldes… vite", "👍", uint8(2), true, "https://gw.example/m/x")
	f.Add(uint8(2), "[Promo] 10€", strings.Repeat("~{x}^ ", 100), "Oui", uint8(0), false, "")
	f.Add(uint8(3), "Text", "e\u0301\u0301 👩\u200d👩\u200d👧 🇫🇷🇩🇪 http://a.b/c", "x", uint8(1), true, "")
	f.Add(uint8(4), "Depot", "", "Map", uint8(1), true, "")
	f.Fuzz(func(t *testing.T, kind uint8, title, desc, label string, budget uint8, numbered bool, webLink string) {
		sugg := []unify.Suggestion{
			{Type: unify.SuggestReply, Text: label},
			{Type: unify.SuggestOpenURL, Text: label, URL: "https://shop.example/" + strconv.Itoa(len(desc))},
			{Type: unify.SuggestCalendar, Text: label, Title: title, Start: desc, End: title},
		}
		card := unify.Card{Title: title, Description: desc, Media: boxJPG, Suggestions: sugg[:2]}
		var c unify.Content
		switch kind % 5 {
		case 0:
			c = unify.Content{Card: &card, Suggestions: sugg[2:]}
		case 1:
			c = unify.Content{Carousel: &unify.Carousel{Cards: []unify.Card{card, {Title: desc, Description: title}}}}
		case 2:
			c = unify.Content{Text: desc, Media: &unify.Media{URL: title}, Suggestions: sugg}
		case 3:
			c = unify.Content{Text: title + desc, Suggestions: sugg}
		case 4:
			c = unify.Content{Location: &unify.Location{Label: title + desc, Lat: float64(len(title)), Lng: -1.5}}
		}
		o := sms.RenderOptions{NumberReplies: numbered, MaxSegments: int(budget), WebLink: webLink}
		got, err := sms.RenderText(&c, o)
		if err != nil {
			require.ErrorIs(t, err, sms.ErrTooLong)
			return
		}
		max := o.MaxSegments
		if max == 0 {
			max = sms.DefaultMaxSegments
		}
		_, segs, _ := segment.Count(got)
		require.LessOrEqual(t, segs, max)
		if utf8.ValidString(title) && utf8.ValidString(desc) && utf8.ValidString(label) && utf8.ValidString(webLink) {
			require.True(t, utf8.ValidString(got))
		}
		if webLink != "" {
			// The link is transliterated with the whole text, or not at all.
			require.True(t, strings.Contains(got, "More: "+webLink) || strings.Contains(got, sms.Transliterate("More: "+webLink)), got)
		}
		full, err := sms.RenderText(&c, sms.RenderOptions{NumberReplies: numbered, MaxSegments: 255, WebLink: webLink})
		if err == nil {
			urlsIntact(t, full, got)
		}
	})
}

func ExampleRenderText() {
	c := unify.Content{Card: &unify.Card{
		Title:       "Order 1001",
		Description: "2 items, arriving “Tuesday”",
		Suggestions: []unify.Suggestion{
			{Type: unify.SuggestReply, Text: "Track", Postback: "track-1001"},
			{Type: unify.SuggestOpenURL, Text: "Website", URL: "https://shop.example/o/1001"},
		},
	}}
	text, err := sms.RenderText(&c, sms.RenderOptions{NumberReplies: true, MaxSegments: 1})
	if err != nil {
		panic(err)
	}
	fmt.Println(text)
	// The person answers "2": the reply maps to the second suggestion.
	s, _ := unify.MatchReply("2", c.AllSuggestions())
	fmt.Println(s.URL)
	// Output:
	// Order 1001
	// 2 items, arriving "Tuesday"
	// Website: https://shop.example/o/1001
	// Reply 1 for Track, 2 for Website
	// https://shop.example/o/1001
}

// The address tests predate this file; they check address.go.

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
