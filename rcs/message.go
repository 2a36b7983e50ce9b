package rcs

import (
	"fmt"
	"strconv"
	"strings"

	"gateway/unify"
)

// AgentMessage is the body of an RBM send (rbm.md §4). Output-only fields
// (name, sendTime, billing) are left out.
type AgentMessage struct {
	ContentMessage ContentMessage `json:"contentMessage"`
	// MessageTrafficType is a newer, optional field (TRANSACTION,
	// PROMOTION, ...; its values are not confirmed against Google).
	MessageTrafficType string `json:"messageTrafficType,omitempty"`
	// TTL is a protobuf Duration ("600s"); when it lapses RBM revokes the
	// message and reports TTL_EXPIRATION_REVOKED or _REVOKE_FAILED.
	TTL string `json:"ttl,omitempty"`
}

// ContentMessage holds exactly one of Text, ContentInfo and RichCard, plus
// optional suggestion chips (rbm.md §4.1).
type ContentMessage struct {
	Text        string       `json:"text,omitempty"`
	ContentInfo *ContentInfo `json:"contentInfo,omitempty"`
	RichCard    *RichCard    `json:"richCard,omitempty"`
	Suggestions []Suggestion `json:"suggestions,omitempty"`
}

// ContentInfo is media by URL; RBM takes the MIME type from the file's
// Content-Type header (rbm.md §6).
type ContentInfo struct {
	FileURL      string `json:"fileUrl"`
	ThumbnailURL string `json:"thumbnailUrl,omitempty"`
	ForceRefresh bool   `json:"forceRefresh,omitempty"`
}

// RichCard holds one of StandaloneCard and CarouselCard.
type RichCard struct {
	StandaloneCard *StandaloneCard `json:"standaloneCard,omitempty"`
	CarouselCard   *CarouselCard   `json:"carouselCard,omitempty"`
}

// Card orientations, image alignments, carousel widths and media heights
// (rbm.md §4.2).
const (
	OrientationVertical   = "VERTICAL"
	OrientationHorizontal = "HORIZONTAL"
	AlignLeft             = "LEFT"
	AlignRight            = "RIGHT"
	WidthSmall            = "SMALL"
	WidthMedium           = "MEDIUM"
	HeightShort           = "SHORT"
	HeightMedium          = "MEDIUM"
	HeightTall            = "TALL"
)

// StandaloneCard is a single rich card.
type StandaloneCard struct {
	CardOrientation string `json:"cardOrientation"`
	// ThumbnailImageAlignment applies to HORIZONTAL cards only.
	ThumbnailImageAlignment string      `json:"thumbnailImageAlignment,omitempty"`
	CardContent             CardContent `json:"cardContent"`
}

// CarouselCard is a row of 2 to 10 cards.
type CarouselCard struct {
	CardWidth    string        `json:"cardWidth"`
	CardContents []CardContent `json:"cardContents"`
}

// CardContent is what one card shows.
type CardContent struct {
	Title       string       `json:"title,omitempty"`
	Description string       `json:"description,omitempty"`
	Media       *Media       `json:"media,omitempty"`
	Suggestions []Suggestion `json:"suggestions,omitempty"`
}

// Media is the image or video of a card.
type Media struct {
	Height      string       `json:"height"`
	ContentInfo *ContentInfo `json:"contentInfo"`
}

// Suggestion is one chip: a suggested reply or a suggested action.
type Suggestion struct {
	Reply  *SuggestedReply  `json:"reply,omitempty"`
	Action *SuggestedAction `json:"action,omitempty"`
}

// SuggestedReply sends its text back; the webhook receives PostbackData.
type SuggestedReply struct {
	Text         string `json:"text"`
	PostbackData string `json:"postbackData"`
}

// SuggestedAction opens something on the phone; exactly one of the *Action
// fields is set. Taps are reported with PostbackData too.
type SuggestedAction struct {
	Text                      string                     `json:"text"`
	PostbackData              string                     `json:"postbackData"`
	FallbackURL               string                     `json:"fallbackUrl,omitempty"`
	DialAction                *DialAction                `json:"dialAction,omitempty"`
	ViewLocationAction        *ViewLocationAction        `json:"viewLocationAction,omitempty"`
	CreateCalendarEventAction *CreateCalendarEventAction `json:"createCalendarEventAction,omitempty"`
	OpenURLAction             *OpenURLAction             `json:"openUrlAction,omitempty"`
}

// DialAction calls an E.164 number.
type DialAction struct {
	PhoneNumber string `json:"phoneNumber"`
}

// ViewLocationAction shows a point on a map.
type ViewLocationAction struct {
	LatLong *LatLng `json:"latLong,omitempty"`
	Label   string  `json:"label,omitempty"`
}

// LatLng is a point in degrees.
type LatLng struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
}

// CreateCalendarEventAction offers to save an event (RFC 3339 times).
type CreateCalendarEventAction struct {
	StartTime   string `json:"startTime"`
	EndTime     string `json:"endTime"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
}

// OpenURLAction opens a URL.
type OpenURLAction struct {
	URL string `json:"url"`
}

// Content choices that RBM leaves open (see Convert).
const (
	// MapChipText and MapChipPostback make the chip added to a location.
	MapChipText     = "View on map"
	MapChipPostback = "view_location"
)

// Convert writes unified content as an RBM AgentMessage. It does not check
// RBM's limits (CheckLimits does) and never fails: every valid unify.Content
// has a rendering.
//
// Choices RBM leaves to the sender:
//   - Text alone is a text message; media alone is a file message
//     (contentInfo with fileUrl and thumbnailUrl).
//   - Media with a caption becomes a standalone card whose description is the
//     caption: RBM carries one content per message, and a card is the only
//     one that shows a file and text together.
//   - Standalone cards are always VERTICAL, media height MEDIUM, and so carry
//     no thumbnailImageAlignment (it applies to HORIZONTAL cards only). A
//     HORIZONTAL card shrinks the image to a side thumbnail and RBM ignores
//     the media height there; the unified model has no layout hint that
//     could ask for it, and the vertical layout looks the same on every
//     client.
//   - Carousels use cardWidth MEDIUM (SMALL cards are 120 dp, too narrow
//     for a title and a description) and media height MEDIUM.
//   - RBM has no location content: a location becomes a text message with
//     the label and a map link (the same link the SMS rendering carries,
//     so it stays usable after the chips disappear) and, first of the
//     chips, a "View on map" viewLocationAction with the point and label.
//   - Every suggestion gets postbackData, the suggestion's postback or else
//     its text (unify.Suggestion.PostbackOrText), because taps come back
//     by postbackData alone.
func Convert(c *unify.Content) *AgentMessage {
	cm := ContentMessage{}
	switch {
	case c.Media != nil && c.Text != "":
		cm.RichCard = &RichCard{StandaloneCard: &StandaloneCard{
			CardOrientation: OrientationVertical,
			CardContent:     CardContent{Description: c.Text, Media: cardMedia(c.Media)},
		}}
	case c.Media != nil:
		cm.ContentInfo = contentInfo(c.Media)
	case c.Card != nil:
		cm.RichCard = &RichCard{StandaloneCard: &StandaloneCard{
			CardOrientation: OrientationVertical,
			CardContent:     cardContent(c.Card),
		}}
	case c.Carousel != nil:
		cc := &CarouselCard{CardWidth: WidthMedium, CardContents: make([]CardContent, 0, len(c.Carousel.Cards))}
		for i := range c.Carousel.Cards {
			cc.CardContents = append(cc.CardContents, cardContent(&c.Carousel.Cards[i]))
		}
		cm.RichCard = &RichCard{CarouselCard: cc}
	case c.Location != nil:
		cm.Text = locationText(c.Location)
		cm.Suggestions = append(cm.Suggestions, Suggestion{Action: &SuggestedAction{
			Text: MapChipText, PostbackData: MapChipPostback,
			ViewLocationAction: &ViewLocationAction{
				LatLong: &LatLng{Latitude: c.Location.Lat, Longitude: c.Location.Lng},
				Label:   c.Location.Label,
			},
		}})
	default:
		cm.Text = c.Text
	}
	cm.Suggestions = append(cm.Suggestions, suggestions(c.Suggestions)...)
	return &AgentMessage{ContentMessage: cm}
}

func contentInfo(m *unify.Media) *ContentInfo {
	return &ContentInfo{FileURL: m.URL, ThumbnailURL: m.ThumbnailURL}
}

func cardMedia(m *unify.Media) *Media {
	if m == nil {
		return nil
	}
	return &Media{Height: HeightMedium, ContentInfo: contentInfo(m)}
}

func cardContent(c *unify.Card) CardContent {
	return CardContent{
		Title: c.Title, Description: c.Description,
		Media: cardMedia(c.Media), Suggestions: suggestions(c.Suggestions),
	}
}

func locationText(l *unify.Location) string {
	link := fmt.Sprintf("https://maps.google.com/?q=%s,%s",
		strconv.FormatFloat(l.Lat, 'f', -1, 64), strconv.FormatFloat(l.Lng, 'f', -1, 64))
	return strings.TrimLeft(l.Label+"\n"+link, "\n")
}

func suggestions(list []unify.Suggestion) []Suggestion {
	if len(list) == 0 {
		return nil
	}
	out := make([]Suggestion, 0, len(list))
	for _, s := range list {
		out = append(out, suggestion(s))
	}
	return out
}

func suggestion(s unify.Suggestion) Suggestion {
	pb := s.PostbackOrText()
	if s.Type == unify.SuggestReply {
		return Suggestion{Reply: &SuggestedReply{Text: s.Text, PostbackData: pb}}
	}
	a := &SuggestedAction{Text: s.Text, PostbackData: pb}
	switch s.Type {
	case unify.SuggestOpenURL:
		a.OpenURLAction = &OpenURLAction{URL: s.URL}
	case unify.SuggestDial:
		a.DialAction = &DialAction{PhoneNumber: s.Phone}
	case unify.SuggestViewLocation:
		v := &ViewLocationAction{Label: s.Label}
		if s.Lat != nil && s.Lng != nil {
			v.LatLong = &LatLng{Latitude: *s.Lat, Longitude: *s.Lng}
		}
		a.ViewLocationAction = v
	case unify.SuggestCalendar:
		a.CreateCalendarEventAction = &CreateCalendarEventAction{
			StartTime: s.Start, EndTime: s.End, Title: s.Title, Description: s.Description,
		}
	default:
		// An unknown type cannot reach here past unify's validation; as a
		// reply it at least says its text and comes back by postback.
		return Suggestion{Reply: &SuggestedReply{Text: s.Text, PostbackData: pb}}
	}
	return Suggestion{Action: a}
}

// Features RBM reports for a phone (rbm.md §3); content that needs one the
// phone lacks is not delivered, so the channel checks before sending.
const (
	FeatureRevocation          = "REVOCATION"
	FeatureRichCardStandalone  = "RICHCARD_STANDALONE"
	FeatureRichCardCarousel    = "RICHCARD_CAROUSEL"
	FeatureCreateCalendarEvent = "ACTION_CREATE_CALENDAR_EVENT"
	FeatureDial                = "ACTION_DIAL"
	FeatureOpenURL             = "ACTION_OPEN_URL"
	FeatureShareLocation       = "ACTION_SHARE_LOCATION"
	FeatureViewLocation        = "ACTION_VIEW_LOCATION"
)

// RequiredFeatures lists the RBM features a phone needs to show msg, in a
// stable order without repeats.
func RequiredFeatures(msg *AgentMessage) []string {
	var need []string
	add := func(f string) {
		for _, have := range need {
			if have == f {
				return
			}
		}
		need = append(need, f)
	}
	chips := func(list []Suggestion) {
		for _, s := range list {
			if s.Action == nil {
				continue
			}
			switch {
			case s.Action.OpenURLAction != nil:
				add(FeatureOpenURL)
			case s.Action.DialAction != nil:
				add(FeatureDial)
			case s.Action.ViewLocationAction != nil:
				add(FeatureViewLocation)
			case s.Action.CreateCalendarEventAction != nil:
				add(FeatureCreateCalendarEvent)
			}
		}
	}
	cm := &msg.ContentMessage
	if rc := cm.RichCard; rc != nil {
		if rc.StandaloneCard != nil {
			add(FeatureRichCardStandalone)
			chips(rc.StandaloneCard.CardContent.Suggestions)
		}
		if rc.CarouselCard != nil {
			add(FeatureRichCardCarousel)
			for _, card := range rc.CarouselCard.CardContents {
				chips(card.Suggestions)
			}
		}
	}
	chips(cm.Suggestions)
	return need
}
