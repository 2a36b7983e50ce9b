package unify

import (
	"fmt"
	"math"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// Content is what a message says. Exactly one of Text, Media, Card, Carousel
// or Location is set, except that Text may go with Media as its caption.
// Suggestions (replies and actions) may accompany any of them.
type Content struct {
	Text        string       `json:"text,omitempty"`
	Media       *Media       `json:"media,omitempty"`
	Card        *Card        `json:"card,omitempty"`
	Carousel    *Carousel    `json:"carousel,omitempty"`
	Location    *Location    `json:"location,omitempty"`
	Suggestions []Suggestion `json:"suggestions,omitempty"`
}

// Media is a file the phone fetches or the gateway attaches (MMS).
type Media struct {
	URL          string `json:"url"`
	MimeType     string `json:"mime_type"`
	ThumbnailURL string `json:"thumbnail_url,omitempty"`
}

// Card is a rich card: a title, a description, an optional image and its own
// suggestions.
type Card struct {
	Title       string       `json:"title,omitempty"`
	Description string       `json:"description,omitempty"`
	Media       *Media       `json:"media,omitempty"`
	Suggestions []Suggestion `json:"suggestions,omitempty"`
}

// Carousel is a horizontally scrolling row of cards.
type Carousel struct {
	Cards []Card `json:"cards"`
}

// Location is a point on a map with an optional label.
type Location struct {
	Lat   float64 `json:"lat"`
	Lng   float64 `json:"lng"`
	Label string  `json:"label,omitempty"`
}

// SuggestionType is what tapping a suggestion does.
type SuggestionType string

// The suggestion types of the send API.
const (
	SuggestReply        SuggestionType = "reply"
	SuggestOpenURL      SuggestionType = "open_url"
	SuggestDial         SuggestionType = "dial"
	SuggestViewLocation SuggestionType = "view_location"
	SuggestCalendar     SuggestionType = "calendar"
)

// Suggestion is a suggested reply or action. Which fields matter depends on
// Type; Postback is what comes back when the person taps it (or answers its
// number by SMS).
type Suggestion struct {
	Type        SuggestionType `json:"type"`
	Text        string         `json:"text"`
	Postback    string         `json:"postback,omitempty"`
	URL         string         `json:"url,omitempty"`
	Phone       string         `json:"phone,omitempty"`
	Lat         *float64       `json:"lat,omitempty"`
	Lng         *float64       `json:"lng,omitempty"`
	Label       string         `json:"label,omitempty"`
	Title       string         `json:"title,omitempty"`
	Description string         `json:"description,omitempty"`
	Start       string         `json:"start,omitempty"`
	End         string         `json:"end,omitempty"`
}

// PostbackOrText is what a tap on s reports back: its postback, or its text
// when the sender gave none.
func (s Suggestion) PostbackOrText() string {
	if s.Postback != "" {
		return s.Postback
	}
	return s.Text
}

// Kind names the single content kind a Content carries.
type ContentKind string

// Content kinds.
const (
	KindText     ContentKind = "text"
	KindMedia    ContentKind = "media"
	KindCard     ContentKind = "card"
	KindCarousel ContentKind = "carousel"
	KindLocation ContentKind = "location"
)

// Kind returns the content's kind; text with media is KindMedia.
func (c *Content) Kind() ContentKind {
	switch {
	case c.Media != nil:
		return KindMedia
	case c.Card != nil:
		return KindCard
	case c.Carousel != nil:
		return KindCarousel
	case c.Location != nil:
		return KindLocation
	}
	return KindText
}

// HasMedia reports whether any part of the content carries a file, which is
// what makes an MMS step worth taking.
func (c *Content) HasMedia() bool {
	if c.Media != nil || (c.Card != nil && c.Card.Media != nil) {
		return true
	}
	if c.Carousel != nil {
		for _, card := range c.Carousel.Cards {
			if card.Media != nil {
				return true
			}
		}
	}
	return false
}

// AllSuggestions lists the suggestions a person can answer, in the order they
// are numbered in an SMS: the message's own first, then each card's.
func (c *Content) AllSuggestions() []Suggestion {
	var all []Suggestion
	if c.Card != nil {
		all = append(all, c.Card.Suggestions...)
	}
	if c.Carousel != nil {
		for _, card := range c.Carousel.Cards {
			all = append(all, card.Suggestions...)
		}
	}
	return append(all, c.Suggestions...)
}

// Limits that hold whatever the channel. Channel-specific limits (RBM's 25
// characters per chip, say) are checked by the channel, which can skip itself.
const (
	MaxTextRunes        = 4096
	MaxTitleRunes       = 200
	MaxDescriptionRunes = 2000
	MaxSuggestionRunes  = 25
	MaxSuggestions      = 11
	MaxCardSuggestions  = 4
	MinCarouselCards    = 2
	MaxCarouselCards    = 10
	MaxPostbackRunes    = 2048
	MaxURLLength        = 2048
)

// Validate checks the content and returns every problem found, each with the
// JSON path of its field below prefix (for example "content.card.title").
// It returns nil when the content is acceptable.
func (c *Content) Validate(prefix string) []FieldError {
	v := validator{}
	p := func(f string) string { return join(prefix, f) }

	kinds := 0
	for _, set := range []bool{c.Media != nil, c.Card != nil, c.Carousel != nil, c.Location != nil} {
		if set {
			kinds++
		}
	}
	switch {
	case kinds == 0 && c.Text == "":
		v.add(prefix, "must hold one of text, media, card, carousel or location")
	case kinds > 1:
		v.add(prefix, "must hold only one of media, card, carousel or location")
	case c.Text != "" && kinds == 1 && c.Media == nil:
		v.add(p("text"), "may only go with media (as its caption), not with "+string(c.Kind()))
	}
	if c.Text != "" {
		v.text(p("text"), c.Text, MaxTextRunes, false)
	}
	if c.Media != nil {
		v.media(p("media"), c.Media)
	}
	if c.Card != nil {
		v.card(p("card"), c.Card)
	}
	if c.Carousel != nil {
		cp := p("carousel.cards")
		switch n := len(c.Carousel.Cards); {
		case n < MinCarouselCards:
			v.add(cp, fmt.Sprintf("must hold at least %d cards (send one card as card)", MinCarouselCards))
		case n > MaxCarouselCards:
			v.add(cp, fmt.Sprintf("must hold at most %d cards", MaxCarouselCards))
		}
		for i := range c.Carousel.Cards {
			v.card(fmt.Sprintf("%s[%d]", cp, i), &c.Carousel.Cards[i])
		}
	}
	if c.Location != nil {
		v.latLng(p("location"), c.Location.Lat, c.Location.Lng)
		v.text(p("location.label"), c.Location.Label, MaxTitleRunes, true)
	}
	v.suggestions(p("suggestions"), c.Suggestions, MaxSuggestions)
	return v.errs
}

type validator struct{ errs []FieldError }

func (v *validator) add(field, msg string) {
	v.errs = append(v.errs, FieldError{Field: field, Message: msg})
}

func (v *validator) text(field, s string, maxRunes int, optional bool) {
	switch {
	case s == "" && !optional:
		v.add(field, "must not be empty")
	case !utf8.ValidString(s):
		v.add(field, "must be valid UTF-8")
	case utf8.RuneCountInString(s) > maxRunes:
		v.add(field, fmt.Sprintf("must be at most %d characters", maxRunes))
	}
}

func (v *validator) url(field, s string) {
	if s == "" {
		v.add(field, "must not be empty")
		return
	}
	if len(s) > MaxURLLength {
		v.add(field, fmt.Sprintf("must be at most %d bytes", MaxURLLength))
		return
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		v.add(field, "must be an absolute http or https URL")
	}
}

func (v *validator) media(field string, m *Media) {
	v.url(join(field, "url"), m.URL)
	if m.ThumbnailURL != "" {
		v.url(join(field, "thumbnail_url"), m.ThumbnailURL)
	}
	mt := m.MimeType
	if mt == "" {
		v.add(join(field, "mime_type"), "must not be empty")
		return
	}
	typ, sub, ok := strings.Cut(mt, "/")
	if !ok || sub == "" {
		v.add(join(field, "mime_type"), "must be a MIME type such as image/jpeg")
		return
	}
	switch typ {
	case "image", "video", "audio", "application":
	default:
		v.add(join(field, "mime_type"), "must be an image, video, audio or application type")
	}
}

func (v *validator) card(field string, c *Card) {
	if c.Title == "" && c.Description == "" && c.Media == nil {
		v.add(field, "must have a title, a description or media")
	}
	v.text(join(field, "title"), c.Title, MaxTitleRunes, true)
	v.text(join(field, "description"), c.Description, MaxDescriptionRunes, true)
	if c.Media != nil {
		v.media(join(field, "media"), c.Media)
	}
	v.suggestions(join(field, "suggestions"), c.Suggestions, MaxCardSuggestions)
}

func (v *validator) latLng(field string, lat, lng float64) {
	if math.IsNaN(lat) || lat < -90 || lat > 90 {
		v.add(join(field, "lat"), "must be between -90 and 90")
	}
	if math.IsNaN(lng) || lng < -180 || lng > 180 {
		v.add(join(field, "lng"), "must be between -180 and 180")
	}
}

func (v *validator) suggestions(field string, list []Suggestion, max int) {
	if len(list) > max {
		v.add(field, fmt.Sprintf("must hold at most %d suggestions", max))
	}
	for i := range list {
		s := &list[i]
		f := fmt.Sprintf("%s[%d]", field, i)
		v.text(join(f, "text"), s.Text, MaxSuggestionRunes, false)
		v.text(join(f, "postback"), s.Postback, MaxPostbackRunes, true)
		switch s.Type {
		case SuggestReply:
		case SuggestOpenURL:
			v.url(join(f, "url"), s.URL)
		case SuggestDial:
			if !LooksE164(s.Phone) {
				v.add(join(f, "phone"), "must be an E.164 number such as +33612345678")
			}
		case SuggestViewLocation:
			if s.Lat == nil || s.Lng == nil {
				v.add(f, "must have lat and lng")
			} else {
				v.latLng(f, *s.Lat, *s.Lng)
			}
		case SuggestCalendar:
			v.text(join(f, "title"), s.Title, MaxTitleRunes, false)
			v.text(join(f, "description"), s.Description, MaxDescriptionRunes, true)
			start, errS := time.Parse(time.RFC3339, s.Start)
			end, errE := time.Parse(time.RFC3339, s.End)
			if errS != nil {
				v.add(join(f, "start"), "must be an RFC 3339 time such as 2026-12-01T10:00:00Z")
			}
			if errE != nil {
				v.add(join(f, "end"), "must be an RFC 3339 time such as 2026-12-01T11:00:00Z")
			}
			if errS == nil && errE == nil && !end.After(start) {
				v.add(join(f, "end"), "must be after start")
			}
		case "":
			v.add(join(f, "type"), "must not be empty")
		default:
			v.add(join(f, "type"), "must be one of reply, open_url, dial, view_location, calendar")
		}
	}
}

func join(prefix, field string) string {
	if prefix == "" {
		return field
	}
	return prefix + "." + field
}

// LooksE164 reports whether s has the shape of an E.164 number: '+', a
// non-zero digit, and 7 to 15 digits in all. Whether the number exists in its
// country's plan is checked at the API edge.
func LooksE164(s string) bool {
	if len(s) < 8 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
