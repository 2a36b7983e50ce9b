package sim

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// The AgentMessage JSON model of rbm.md §4, decoded strictly (unknown
// fields are refused). Pointers tell an absent field from an empty one.
type (
	agentMessage struct {
		Name           *string         `json:"name"`     // output only: ignored
		SendTime       *string         `json:"sendTime"` // output only: ignored
		ContentMessage *contentMessage `json:"contentMessage"`
		ExpireTime     *string         `json:"expireTime"`
		TTL            *string         `json:"ttl"`
		TrafficType    *string         `json:"messageTrafficType"`
		// Output-only billing fields, ignored like name and sendTime.
		RichMessageClassification json.RawMessage `json:"richMessageClassification"`
		TotalPayloadSizeBytes     json.RawMessage `json:"totalPayloadSizeBytes"`
		Carrier                   json.RawMessage `json:"carrier"`
	}
	contentMessage struct {
		Text            *string          `json:"text"`
		FileName        *string          `json:"fileName"`
		UploadedRbmFile *uploadedRbmFile `json:"uploadedRbmFile"`
		ContentInfo     *contentInfo     `json:"contentInfo"`
		RichCard        *richCard        `json:"richCard"`
		Suggestions     []suggestion     `json:"suggestions"`
	}
	uploadedRbmFile struct {
		FileName      string `json:"fileName"`
		ThumbnailName string `json:"thumbnailName"`
	}
	contentInfo struct {
		FileURL      string `json:"fileUrl"`
		ThumbnailURL string `json:"thumbnailUrl"`
		ForceRefresh bool   `json:"forceRefresh"`
	}
	richCard struct {
		StandaloneCard *standaloneCard `json:"standaloneCard"`
		CarouselCard   *carouselCard   `json:"carouselCard"`
	}
	standaloneCard struct {
		CardOrientation         string       `json:"cardOrientation"`
		ThumbnailImageAlignment string       `json:"thumbnailImageAlignment"`
		CardContent             *cardContent `json:"cardContent"`
	}
	carouselCard struct {
		CardWidth    string        `json:"cardWidth"`
		CardContents []cardContent `json:"cardContents"`
	}
	cardContent struct {
		Title       *string      `json:"title"`
		Description *string      `json:"description"`
		Media       *media       `json:"media"`
		Suggestions []suggestion `json:"suggestions"`
	}
	media struct {
		Height          string           `json:"height"`
		FileName        *string          `json:"fileName"`
		ContentInfo     *contentInfo     `json:"contentInfo"`
		UploadedRbmFile *uploadedRbmFile `json:"uploadedRbmFile"`
	}
	suggestion struct {
		Reply  *suggestedReply  `json:"reply"`
		Action *suggestedAction `json:"action"`
	}
	suggestedReply struct {
		Text         string `json:"text"`
		PostbackData string `json:"postbackData"`
	}
	suggestedAction struct {
		Text                      string               `json:"text"`
		PostbackData              string               `json:"postbackData"`
		FallbackURL               string               `json:"fallbackUrl"`
		DialAction                *dialAction          `json:"dialAction"`
		ViewLocationAction        *viewLocationAction  `json:"viewLocationAction"`
		CreateCalendarEventAction *calendarEventAction `json:"createCalendarEventAction"`
		OpenURLAction             *openURLAction       `json:"openUrlAction"`
		ShareLocationAction       *struct{}            `json:"shareLocationAction"`
	}
	dialAction struct {
		PhoneNumber string `json:"phoneNumber"`
	}
	viewLocationAction struct {
		LatLong *latLng `json:"latLong"`
		Label   string  `json:"label"`
		Query   string  `json:"query"`
	}
	latLng struct {
		Latitude  float64 `json:"latitude"`
		Longitude float64 `json:"longitude"`
	}
	calendarEventAction struct {
		StartTime   string `json:"startTime"`
		EndTime     string `json:"endTime"`
		Title       string `json:"title"`
		Description string `json:"description"`
	}
	openURLAction struct {
		URL string `json:"url"`
	}
)

// Limits of rbm.md §9.
const (
	maxTextRunes       = 3072
	maxSuggestions     = 11
	maxCardSuggestions = 4
	maxChipRunes       = 25
	maxTitleRunes      = 200
	maxDescRunes       = 2000
	minCarouselCards   = 2
	maxCarouselCards   = 10
	// maxPostbackBytes is the commonly quoted limit (rbm.md §4.3, UNCONFIRMED).
	maxPostbackBytes = 2048
)

// problems collects validation errors, each prefixed with its JSON path.
type problems []string

func (p *problems) addf(path, format string, args ...any) {
	*p = append(*p, path+": "+fmt.Sprintf(format, args...))
}

// validate returns every problem of the message; nil means valid. Lengths
// count Unicode code points (rbm.md says "characters").
func (m *agentMessage) validate() []string {
	var p problems
	if m.ExpireTime != nil && m.TTL != nil {
		p.addf("expireTime", "expireTime and ttl are mutually exclusive")
	}
	if m.ExpireTime != nil {
		if _, err := time.Parse(time.RFC3339Nano, *m.ExpireTime); err != nil {
			p.addf("expireTime", "not an RFC 3339 timestamp: %q", *m.ExpireTime)
		}
	}
	if m.TTL != nil && !ttlRe.MatchString(*m.TTL) {
		p.addf("ttl", "not a duration like \"600s\" or \"3.5s\": %q", *m.TTL)
	}
	if m.TrafficType != nil {
		switch *m.TrafficType {
		case "MESSAGE_TRAFFIC_TYPE_UNSPECIFIED", "AUTHENTICATION", "TRANSACTION", "PROMOTION", "SERVICEREQUEST", "ACKNOWLEDGEMENT":
		default:
			p.addf("messageTrafficType", "unknown value %q", *m.TrafficType)
		}
	}
	c := m.ContentMessage
	if c == nil {
		p.addf("contentMessage", "required")
		return p
	}
	const path = "contentMessage"
	n := 0
	if c.Text != nil {
		n++
		switch l := utf8.RuneCountInString(*c.Text); {
		case l == 0:
			p.addf(path+".text", "empty")
		case l > maxTextRunes:
			p.addf(path+".text", "%d characters, more than %d", l, maxTextRunes)
		}
	}
	if c.FileName != nil {
		n++
		checkFileName(&p, path+".fileName", *c.FileName)
	}
	if c.UploadedRbmFile != nil {
		n++
		checkUploaded(&p, path+".uploadedRbmFile", c.UploadedRbmFile)
	}
	if c.ContentInfo != nil {
		n++
		checkContentInfo(&p, path+".contentInfo", c.ContentInfo)
	}
	if c.RichCard != nil {
		n++
		checkRichCard(&p, path+".richCard", c.RichCard)
	}
	if n != 1 {
		p.addf(path, "want exactly one of text, fileName, uploadedRbmFile, contentInfo, richCard; got %d", n)
	}
	checkSuggestions(&p, path+".suggestions", c.Suggestions, maxSuggestions)
	return p
}

func checkFileName(p *problems, path, name string) {
	if !strings.HasPrefix(name, "files/") || len(name) == len("files/") {
		p.addf(path, "want \"files/{uid}\", got %q", name)
	}
}

func checkUploaded(p *problems, path string, u *uploadedRbmFile) {
	checkFileName(p, path+".fileName", u.FileName)
	if u.ThumbnailName != "" {
		checkFileName(p, path+".thumbnailName", u.ThumbnailName)
	}
}

func checkContentInfo(p *problems, path string, ci *contentInfo) {
	checkURL(p, path+".fileUrl", ci.FileURL)
	if ci.ThumbnailURL != "" {
		checkURL(p, path+".thumbnailUrl", ci.ThumbnailURL)
	}
}

func checkURL(p *problems, path, raw string) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.addf(path, "want an absolute http(s) URL, got %q", raw)
	}
}

func checkRichCard(p *problems, path string, rc *richCard) {
	switch {
	case (rc.StandaloneCard == nil) == (rc.CarouselCard == nil):
		p.addf(path, "want exactly one of standaloneCard, carouselCard")
	case rc.StandaloneCard != nil:
		sc, path := rc.StandaloneCard, path+".standaloneCard"
		horizontal := sc.CardOrientation == "HORIZONTAL"
		if sc.CardOrientation != "HORIZONTAL" && sc.CardOrientation != "VERTICAL" {
			p.addf(path+".cardOrientation", "want HORIZONTAL or VERTICAL, got %q", sc.CardOrientation)
		}
		switch sc.ThumbnailImageAlignment {
		case "":
		case "LEFT", "RIGHT":
			if !horizontal {
				p.addf(path+".thumbnailImageAlignment", "only for HORIZONTAL cards")
			}
		default:
			p.addf(path+".thumbnailImageAlignment", "want LEFT or RIGHT, got %q", sc.ThumbnailImageAlignment)
		}
		if sc.CardContent == nil {
			p.addf(path+".cardContent", "required")
			return
		}
		checkCard(p, path+".cardContent", sc.CardContent, horizontal, "")
	default:
		cc, path := rc.CarouselCard, path+".carouselCard"
		switch cc.CardWidth {
		case "", "SMALL", "MEDIUM":
		default:
			p.addf(path+".cardWidth", "want SMALL or MEDIUM, got %q", cc.CardWidth)
		}
		if l := len(cc.CardContents); l < minCarouselCards || l > maxCarouselCards {
			p.addf(path+".cardContents", "%d cards, want %d to %d", l, minCarouselCards, maxCarouselCards)
		}
		for i := range cc.CardContents {
			checkCard(p, fmt.Sprintf("%s.cardContents[%d]", path, i), &cc.CardContents[i], false, cc.CardWidth)
		}
	}
}

func checkCard(p *problems, path string, c *cardContent, horizontal bool, width string) {
	if c.Title != nil && utf8.RuneCountInString(*c.Title) > maxTitleRunes {
		p.addf(path+".title", "more than %d characters", maxTitleRunes)
	}
	if c.Description != nil && utf8.RuneCountInString(*c.Description) > maxDescRunes {
		p.addf(path+".description", "more than %d characters", maxDescRunes)
	}
	hasText := c.Title != nil && *c.Title != "" || c.Description != nil && *c.Description != ""
	if c.Media == nil && !hasText {
		p.addf(path, "needs at least one of media, title, description")
	}
	if m := c.Media; m != nil {
		n := 0
		if m.FileName != nil {
			n++
			checkFileName(p, path+".media.fileName", *m.FileName)
		}
		if m.ContentInfo != nil {
			n++
			checkContentInfo(p, path+".media.contentInfo", m.ContentInfo)
		}
		if m.UploadedRbmFile != nil {
			n++
			checkUploaded(p, path+".media.uploadedRbmFile", m.UploadedRbmFile)
		}
		if n != 1 {
			p.addf(path+".media", "want exactly one of fileName, contentInfo, uploadedRbmFile; got %d", n)
		}
		switch m.Height {
		case "", "SHORT", "MEDIUM":
		case "TALL":
			if width == "SMALL" {
				p.addf(path+".media.height", "TALL is not allowed in a SMALL carousel")
			}
		default:
			p.addf(path+".media.height", "want SHORT, MEDIUM or TALL, got %q", m.Height)
		}
		if horizontal && !hasText && len(c.Suggestions) == 0 {
			p.addf(path, "a HORIZONTAL card with media needs a title, a description or suggestions")
		}
	}
	checkSuggestions(p, path+".suggestions", c.Suggestions, maxCardSuggestions)
}

func checkSuggestions(p *problems, path string, ss []suggestion, limit int) {
	if len(ss) > limit {
		p.addf(path, "%d suggestions, more than %d", len(ss), limit)
	}
	for i, s := range ss {
		sp := fmt.Sprintf("%s[%d]", path, i)
		switch {
		case (s.Reply == nil) == (s.Action == nil):
			p.addf(sp, "want exactly one of reply, action")
		case s.Reply != nil:
			checkChip(p, sp+".reply", s.Reply.Text, s.Reply.PostbackData)
		default:
			a, ap := s.Action, sp+".action"
			checkChip(p, ap, a.Text, a.PostbackData)
			if a.FallbackURL != "" {
				checkURL(p, ap+".fallbackUrl", a.FallbackURL)
			}
			checkAction(p, ap, a)
		}
	}
}

func checkChip(p *problems, path, text, postback string) {
	switch l := utf8.RuneCountInString(text); {
	case l == 0:
		p.addf(path+".text", "required")
	case l > maxChipRunes:
		p.addf(path+".text", "%d characters, more than %d", l, maxChipRunes)
	}
	switch {
	case postback == "":
		p.addf(path+".postbackData", "required")
	case len(postback) > maxPostbackBytes:
		p.addf(path+".postbackData", "longer than %d", maxPostbackBytes)
	}
}

func checkAction(p *problems, path string, a *suggestedAction) {
	n := 0
	if d := a.DialAction; d != nil {
		n++
		if !e164Re.MatchString(d.PhoneNumber) {
			p.addf(path+".dialAction.phoneNumber", "want E.164, got %q", d.PhoneNumber)
		}
	}
	if v := a.ViewLocationAction; v != nil {
		n++
		switch {
		case (v.LatLong == nil) == (v.Query == ""):
			p.addf(path+".viewLocationAction", "want exactly one of latLong, query")
		case v.LatLong != nil && (v.LatLong.Latitude < -90 || v.LatLong.Latitude > 90 ||
			v.LatLong.Longitude < -180 || v.LatLong.Longitude > 180):
			p.addf(path+".viewLocationAction.latLong", "out of range")
		}
	}
	if c := a.CreateCalendarEventAction; c != nil {
		n++
		cp := path + ".createCalendarEventAction"
		start, err1 := time.Parse(time.RFC3339Nano, c.StartTime)
		end, err2 := time.Parse(time.RFC3339Nano, c.EndTime)
		switch {
		case err1 != nil:
			p.addf(cp+".startTime", "not an RFC 3339 timestamp: %q", c.StartTime)
		case err2 != nil:
			p.addf(cp+".endTime", "not an RFC 3339 timestamp: %q", c.EndTime)
		case end.Before(start):
			p.addf(cp+".endTime", "before startTime")
		}
		if c.Title == "" {
			p.addf(cp+".title", "required")
		}
	}
	if o := a.OpenURLAction; o != nil {
		n++
		checkURL(p, path+".openUrlAction.url", o.URL)
	}
	if a.ShareLocationAction != nil {
		n++
	}
	if n != 1 {
		p.addf(path, "want exactly one of dialAction, viewLocationAction, createCalendarEventAction, openUrlAction, shareLocationAction; got %d", n)
	}
}

// rbmChip is a suggestion of a stored agent message, as a tap reports it.
type rbmChip struct {
	Text, Postback string
	Type           string // REPLY or ACTION (SuggestionResponse.type)
}

// rbmChips lists the suggestions of a stored (valid) AgentMessage: the
// message's chip list, then those of its card or cards.
func rbmChips(body []byte) []rbmChip {
	var m agentMessage
	if json.Unmarshal(body, &m) != nil || m.ContentMessage == nil {
		return nil
	}
	var out []rbmChip
	add := func(ss []suggestion) {
		for _, s := range ss {
			if s.Reply != nil {
				out = append(out, rbmChip{s.Reply.Text, s.Reply.PostbackData, "REPLY"})
			} else if s.Action != nil {
				out = append(out, rbmChip{s.Action.Text, s.Action.PostbackData, "ACTION"})
			}
		}
	}
	c := m.ContentMessage
	add(c.Suggestions)
	if rc := c.RichCard; rc != nil {
		if rc.StandaloneCard != nil && rc.StandaloneCard.CardContent != nil {
			add(rc.StandaloneCard.CardContent.Suggestions)
		}
		if rc.CarouselCard != nil {
			for _, cc := range rc.CarouselCard.CardContents {
				add(cc.Suggestions)
			}
		}
	}
	return out
}
