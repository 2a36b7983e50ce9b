package ui

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"gateway/unify"
)

// sampleForm is the editable sample message of the editor; it is never saved.
type sampleForm struct {
	To      string
	From    string
	Content string // JSON, the "content" of a send request
}

// defaultSample is a card with chips: it shows what each channel makes of
// rich content. Its image is served by the UI itself, so the preview works
// without internet.
func (h *handler) defaultSample(c echo.Context) sampleForm {
	img := c.Scheme() + "://" + c.Request().Host + "/ui/static/sample.png"
	from := ""
	if len(h.cfg.Senders) > 0 {
		from = h.cfg.Senders[0]
	}
	content := unify.Content{
		Card: &unify.Card{
			Title:       "Order 1001 has shipped",
			Description: "2 items, arriving Tuesday between 9:00 and 12:00.",
			Media:       &unify.Media{URL: img, MimeType: "image/png"},
			Suggestions: []unify.Suggestion{
				{Type: unify.SuggestReply, Text: "Track", Postback: "track"},
				{Type: unify.SuggestOpenURL, Text: "Website", URL: "https://example.com/orders/1001"},
			},
		},
		Suggestions: []unify.Suggestion{{Type: unify.SuggestDial, Text: "Call us", Phone: "+33100000000"}},
	}
	b, _ := json.MarshalIndent(content, "", "  ")
	return sampleForm{To: "+33612345678", From: from, Content: string(b)}
}

func readSample(c echo.Context) sampleForm {
	return sampleForm{
		To:      strings.TrimSpace(c.FormValue("sample.to")),
		From:    strings.TrimSpace(c.FormValue("sample.from")),
		Content: c.FormValue("sample.content"),
	}
}

// previewView is the preview fragment: one phone per policy step.
type previewView struct {
	Problems []fieldMsg // the sample cannot be rendered
	Steps    []stepPreview
}

type stepPreview struct {
	N          int
	Channel    string
	Timeout    string
	Skipped    string
	Protection string
	RCS        *rbmView
	MMS        *mmsView
	SMS        *smsView
}

// preview answers the editor's script with the preview fragment for the
// form as it stands.
func (h *handler) preview(c echo.Context) error {
	values, err := c.FormParams()
	if err != nil {
		return h.fail(c, err)
	}
	p, _ := readPolicyForm(values).policy()
	return h.fragment(c, http.StatusOK, "preview", h.previewFor(c, p, readSample(c)))
}

// previewFor renders the sample on each step of p. Steps with an unknown
// channel are left out; errors in other fields do not stop the preview.
func (h *handler) previewFor(c echo.Context, p unify.Policy, s sampleForm) previewView {
	var content unify.Content
	dec := json.NewDecoder(strings.NewReader(s.Content))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&content); err != nil {
		return previewView{Problems: []fieldMsg{{"content", "is not valid JSON for a message's content: " + jsonProblem(err)}}}
	}
	m := &unify.Message{To: s.To, From: s.From, Policy: p.Name, Content: content}
	var problems []fieldMsg
	if !unify.LooksE164(m.To) {
		problems = append(problems, fieldMsg{"to", "must be an E.164 number such as +33612345678"})
	}
	for _, fe := range content.Validate("content") {
		problems = append(problems, fieldMsg{fe.Field, fe.Message})
	}
	if len(problems) > 0 {
		return previewView{Problems: problems}
	}
	valid := p
	valid.Steps = nil
	for _, st := range p.Steps {
		if st.Channel.Valid() {
			valid.Steps = append(valid.Steps, st)
		}
	}
	if len(valid.Steps) == 0 {
		return previewView{Problems: []fieldMsg{{"steps", "add a step to see the preview"}}}
	}
	rs, err := h.cfg.Previewer.Preview(c.Request().Context(), m, valid)
	var ue *unify.Error
	switch {
	case errors.As(err, &ue) && ue.Code != unify.CodeInternal:
		for _, fe := range ue.Fields {
			problems = append(problems, fieldMsg{fe.Field, fe.Message})
		}
		if len(problems) == 0 {
			problems = append(problems, fieldMsg{"", ue.Message})
		}
		return previewView{Problems: problems}
	case err != nil:
		h.log.ErrorContext(c.Request().Context(), "ui: preview", "err", err)
		return previewView{Problems: []fieldMsg{{"", "the preview failed; the cause is in the gateway's log"}}}
	}
	var v previewView
	for i, st := range valid.Steps {
		sp := stepPreview{N: i + 1, Channel: string(st.Channel), Timeout: formatDuration(st.Timeout)}
		r, ok := renderingFor(rs, i, st.Channel)
		if !ok {
			sp.Skipped = "no rendering for this step"
			v.Steps = append(v.Steps, sp)
			continue
		}
		sp.Skipped = r.Skipped
		sp.Protection = protectionText(r.Protection)
		if r.Skipped == "" {
			switch st.Channel {
			case unify.ChannelRCS:
				sp.RCS = parseRBM(r.RBM)
			case unify.ChannelMMS:
				sp.MMS = mmsViewOf(r.MMS)
			case unify.ChannelSMS:
				sp.SMS = smsViewOf(r.SMS)
			}
		}
		v.Steps = append(v.Steps, sp)
	}
	return v
}

// renderingFor pairs a step with its rendering: by position, as Preview
// promises, or by channel if the counts disagree.
func renderingFor(rs []unify.Rendering, i int, ch unify.ChannelKind) (unify.Rendering, bool) {
	if i < len(rs) && rs[i].Channel == ch {
		return rs[i], true
	}
	for _, r := range rs {
		if r.Channel == ch {
			return r, true
		}
	}
	return unify.Rendering{}, false
}

func jsonProblem(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s (at byte %d)", se.Error(), se.Offset)
	}
	return err.Error()
}

func protectionText(p unify.Protection) string {
	e2e := "not end-to-end encrypted"
	if p.EndToEnd {
		e2e = "end-to-end encrypted"
	}
	switch p.Transport {
	case "tls":
		return e2e + "; TLS to the carrier"
	case "none", "":
		return e2e + "; no transport encryption"
	}
	return e2e + "; transport " + p.Transport
}

// rbmView is an RBM AgentMessage as the phone shows it.
type rbmView struct {
	Text     string
	Media    *mediaView
	Card     *cardView
	Carousel []cardView
	Chips    []chipView
	Raw      string // the JSON, indented, for the curious
}

type cardView struct {
	Title       string
	Description string
	Media       *mediaView
	Chips       []chipView
}

type mediaView struct {
	URL   string
	Thumb string
}

type chipView struct {
	Text string
	Kind string // reply, link, dial, map, calendar, share, action
}

// The AgentMessage JSON of the RBM API (shared/specs/rbm.md §4), only what
// the phone shows.
type rbmMessage struct {
	ContentMessage *rbmContent `json:"contentMessage"`
}

type rbmContent struct {
	Text        string          `json:"text"`
	ContentInfo *rbmContentInfo `json:"contentInfo"`
	RichCard    *struct {
		StandaloneCard *struct {
			CardContent rbmCardContent `json:"cardContent"`
		} `json:"standaloneCard"`
		CarouselCard *struct {
			CardContents []rbmCardContent `json:"cardContents"`
		} `json:"carouselCard"`
	} `json:"richCard"`
	Suggestions []rbmSuggestion `json:"suggestions"`
}

type rbmContentInfo struct {
	FileURL      string `json:"fileUrl"`
	ThumbnailURL string `json:"thumbnailUrl"`
}

type rbmCardContent struct {
	Title       string `json:"title"`
	Description string `json:"description"`
	Media       *struct {
		ContentInfo *rbmContentInfo `json:"contentInfo"`
	} `json:"media"`
	Suggestions []rbmSuggestion `json:"suggestions"`
}

type rbmSuggestion struct {
	Reply *struct {
		Text string `json:"text"`
	} `json:"reply"`
	Action *struct {
		Text                      string          `json:"text"`
		OpenURLAction             json.RawMessage `json:"openUrlAction"`
		DialAction                json.RawMessage `json:"dialAction"`
		ViewLocationAction        json.RawMessage `json:"viewLocationAction"`
		CreateCalendarEventAction json.RawMessage `json:"createCalendarEventAction"`
		ShareLocationAction       json.RawMessage `json:"shareLocationAction"`
	} `json:"action"`
}

// parseRBM reads the rendering's RBM JSON: an AgentMessage, or its
// contentMessage alone.
func parseRBM(raw json.RawMessage) *rbmView {
	v := &rbmView{}
	var pretty bytes.Buffer
	if json.Indent(&pretty, raw, "", "  ") == nil {
		v.Raw = pretty.String()
	}
	var msg rbmMessage
	if err := json.Unmarshal(raw, &msg); err != nil {
		return v
	}
	cm := msg.ContentMessage
	if cm == nil {
		cm = &rbmContent{}
		if err := json.Unmarshal(raw, cm); err != nil {
			return v
		}
	}
	v.Text = cm.Text
	v.Media = mediaOf(cm.ContentInfo)
	if rc := cm.RichCard; rc != nil {
		if rc.StandaloneCard != nil {
			card := cardOf(rc.StandaloneCard.CardContent)
			v.Card = &card
		}
		if rc.CarouselCard != nil {
			for _, cc := range rc.CarouselCard.CardContents {
				v.Carousel = append(v.Carousel, cardOf(cc))
			}
		}
	}
	v.Chips = chipsOf(cm.Suggestions)
	return v
}

func mediaOf(ci *rbmContentInfo) *mediaView {
	if ci == nil || ci.FileURL == "" {
		return nil
	}
	return &mediaView{URL: ci.FileURL, Thumb: ci.ThumbnailURL}
}

func cardOf(cc rbmCardContent) cardView {
	c := cardView{Title: cc.Title, Description: cc.Description, Chips: chipsOf(cc.Suggestions)}
	if cc.Media != nil {
		c.Media = mediaOf(cc.Media.ContentInfo)
	}
	return c
}

func chipsOf(ss []rbmSuggestion) []chipView {
	var out []chipView
	for _, s := range ss {
		switch {
		case s.Reply != nil:
			out = append(out, chipView{Text: s.Reply.Text, Kind: "reply"})
		case s.Action != nil:
			a := s.Action
			kind := "action"
			switch {
			case a.OpenURLAction != nil:
				kind = "link"
			case a.DialAction != nil:
				kind = "dial"
			case a.ViewLocationAction != nil:
				kind = "map"
			case a.CreateCalendarEventAction != nil:
				kind = "calendar"
			case a.ShareLocationAction != nil:
				kind = "share"
			}
			out = append(out, chipView{Text: a.Text, Kind: kind})
		}
	}
	return out
}

// mmsView is an MMS as the phone shows it: its slides' images and text.
type mmsView struct {
	Subject string
	Parts   []mmsPartView
	Size    string
}

type mmsPartView struct {
	Text  string
	Image string // URL of an image part
	Other string // a part shown as an attachment: "video/mp4, 1.2 MiB"
}

func mmsViewOf(r *unify.MMSRendering) *mmsView {
	if r == nil {
		return nil
	}
	v := &mmsView{Subject: r.Subject, Size: formatBytes(r.TotalSize)}
	for _, p := range r.Parts {
		switch {
		case strings.HasPrefix(p.ContentType, "application/smil"):
			// The layout, not something the phone shows.
		case strings.HasPrefix(p.ContentType, "text/"):
			v.Parts = append(v.Parts, mmsPartView{Text: p.Text})
		case strings.HasPrefix(p.ContentType, "image/") && p.SourceURL != "":
			v.Parts = append(v.Parts, mmsPartView{Image: p.SourceURL})
		default:
			v.Parts = append(v.Parts, mmsPartView{Other: fmt.Sprintf("%s, %s", p.ContentType, formatBytes(p.Size))})
		}
	}
	return v
}

// smsView is an SMS bubble with how it travels.
type smsView struct {
	Text     string
	Encoding string
	Segments int
	Units    string
}

func smsViewOf(r *unify.SMSRendering) *smsView {
	if r == nil {
		return nil
	}
	v := &smsView{Text: r.Text, Segments: r.Segments}
	switch r.Encoding {
	case "gsm7":
		v.Encoding, v.Units = "GSM-7", fmt.Sprintf("%d septets", r.Units)
	case "ucs2":
		v.Encoding, v.Units = "UCS-2", fmt.Sprintf("%d UTF-16 units", r.Units)
	default:
		v.Encoding, v.Units = r.Encoding, fmt.Sprintf("%d units", r.Units)
	}
	return v
}
