package rcs

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"gateway/unify"
)

// RBM's content limits (rbm.md §4 and §9).
const (
	// MaxTextBytes bounds a text message. RBM says 3072 characters of which
	// multi-byte characters "may count 2-4": that is UTF-8 bytes, counted
	// here so that nothing RBM refuses gets through.
	MaxTextBytes         = 3072
	MaxSuggestions       = 11 // chips on one message
	MaxCardSuggestions   = 4  // chips on one card
	MaxSuggestionRunes   = 25 // text of a reply or action
	MaxTitleRunes        = 200
	MaxDescriptionRunes  = 2000
	MinCarouselCards     = 2
	MaxCarouselCards     = 10
	MaxAgentMessageBytes = 250_000 // the whole JSON; "250 KB", read as the smaller kilobyte
	// MaxPostbackRunes is the commonly quoted bound of postbackData (not
	// confirmed by Google; the same as unify's).
	MaxPostbackRunes = unify.MaxPostbackRunes
)

// MIME types RBM accepts for files by URL (rbm.md §6). Cards and thumbnails
// take images and videos only: a card shows its media inline, and RBM makes
// thumbnails of images and videos alone.
var (
	imageTypes = []string{"image/jpeg", "image/jpg", "image/gif", "image/png"}
	videoTypes = []string{"video/h263", "video/m4v", "video/mp4", "video/mpeg", "video/mpeg4", "video/webm"}
	audioTypes = []string{"audio/aac", "audio/mp3", "audio/mpeg", "audio/mpg", "audio/mp4", "audio/mp4-latm", "audio/3gpp", "application/ogg", "audio/ogg"}
	fileTypes  = []string{"application/pdf"}
)

// CheckLimits returns every way c exceeds what RBM accepts, each with the
// JSON path of its field ("content.card.suggestions[4]"); nil when RBM can
// carry it. It checks RBM's own limits, not the general validity of the
// content (unify.Content.Validate does that).
func CheckLimits(c *unify.Content) []unify.FieldError {
	var errs []unify.FieldError
	add := func(field, format string, args ...any) {
		errs = append(errs, unify.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	runes := func(field, s string, limit int) {
		if n := utf8.RuneCountInString(s); n > limit {
			add(field, "must be at most %d characters on RCS (has %d)", limit, n)
		}
	}
	chips := func(field string, list []unify.Suggestion, limit int) {
		if len(list) > limit {
			add(fmt.Sprintf("%s[%d]", field, limit), "is one suggestion too many: RCS shows at most %d here", limit)
		}
		for i, s := range list {
			f := fmt.Sprintf("%s[%d]", field, i)
			runes(f+".text", s.Text, MaxSuggestionRunes)
			runes(f+".postback", s.Postback, MaxPostbackRunes)
		}
	}
	media := func(field string, m *unify.Media, inCard bool) {
		if m == nil {
			return
		}
		mt := mediaType(m.MimeType)
		visual := slices.Contains(imageTypes, mt) || slices.Contains(videoTypes, mt)
		switch {
		case inCard && !visual:
			add(field+".mime_type", "must be an image (jpeg, gif, png) or a video (h263, m4v, mp4, mpeg, mpeg4, webm) in an RCS card")
		case !visual && !slices.Contains(audioTypes, mt) && !slices.Contains(fileTypes, mt):
			add(field+".mime_type", "is not a type RCS carries (images, videos, audio and PDF)")
		case m.ThumbnailURL != "" && !visual:
			add(field+".thumbnail_url", "is only possible for images and videos on RCS")
		}
	}
	card := func(field string, cd *unify.Card) {
		runes(field+".title", cd.Title, MaxTitleRunes)
		runes(field+".description", cd.Description, MaxDescriptionRunes)
		media(field+".media", cd.Media, true)
		chips(field+".suggestions", cd.Suggestions, MaxCardSuggestions)
	}

	maxChips := MaxSuggestions
	switch {
	case c.Media != nil:
		// A caption becomes the description of a card (see Convert).
		media("content.media", c.Media, c.Text != "")
		runes("content.text", c.Text, MaxDescriptionRunes)
	case c.Card != nil:
		card("content.card", c.Card)
	case c.Carousel != nil:
		switch n := len(c.Carousel.Cards); {
		case n < MinCarouselCards:
			add("content.carousel.cards", "must hold at least %d cards on RCS", MinCarouselCards)
		case n > MaxCarouselCards:
			add("content.carousel.cards", "must hold at most %d cards on RCS (has %d)", MaxCarouselCards, n)
		}
		for i := range c.Carousel.Cards {
			card(fmt.Sprintf("content.carousel.cards[%d]", i), &c.Carousel.Cards[i])
		}
	case c.Location != nil:
		// The "View on map" chip takes one of the places.
		maxChips--
	default:
		if n := len(c.Text); n > MaxTextBytes {
			add("content.text", "must be at most %d bytes of UTF-8 on RCS (has %d)", MaxTextBytes, n)
		}
	}
	chips("content.suggestions", c.Suggestions, maxChips)

	if b, err := json.Marshal(Convert(c)); err == nil && len(b) > MaxAgentMessageBytes {
		add("content", "makes an RBM message of %d bytes, RCS takes at most %d", len(b), MaxAgentMessageBytes)
	}
	return errs
}

// mediaType is the bare, lower-case type of a Content-Type value.
func mediaType(s string) string {
	t, _, _ := strings.Cut(s, ";")
	return strings.ToLower(strings.TrimSpace(t))
}
