package messenger

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"gateway/unify"
	"gateway/unify/strictjson"
)

// Limits of the Send API (shared/specs/meta.md §1). A field over one of them
// is refused rather than cut: Messenger itself would refuse it.
const (
	MaxTextRunes            = 2000 // message.text
	MaxQuickReplies         = 13
	MaxQuickReplyTitleRunes = 20
	MaxPayloadRunes         = 1000 // quick reply and postback button payloads
	MaxElements             = 10   // generic template
	MaxElementTitleRunes    = 80
	MaxElementSubtitleRunes = 80
	MaxButtons              = 3 // per element, and in a button template
	MaxButtonTitleRunes     = 20
	MaxButtonTextRunes      = 640 // button template text
)

// DefaultActionText labels the open_url suggestion a generic template
// element's default_action becomes: RCS cards and SMS have no "tap the
// card" action, so the link is offered as one more button.
const DefaultActionText = "Open link"

// Request is a Send API request read into the unified model.
type Request struct {
	// To is the recipient's number in E.164.
	To string
	// ToField is the request field To came from ("recipient.phone_number"
	// or "recipient.id"), for problems found later with the number.
	ToField string
	// Content is what the message says, valid by unify's rules.
	Content unify.Content
}

// Response is the answer to a Send API request. Meta leaves recipient_id
// out when the recipient was given by phone number; the gateway always
// gives the number, which is what its webhooks call the person.
type Response struct {
	RecipientID string `json:"recipient_id"`
	MessageID   string `json:"message_id"`
}

// Decode reads a Send API request body (shared/specs/meta.md §1): the
// recipient by phone number, text, an image attachment, a generic template
// (one element is a rich card, several a carousel), a button template,
// web_url, postback and phone_number buttons, and text quick replies.
//
// Everything else the Send API knows is refused rather than dropped: the
// error is a *unify.Error (invalid) naming every problem by its path in the
// request ("message.attachment.payload.elements[0].buttons[3]"), including
// problems that unify's own rules find in the translated content. Fields
// that only steer Messenger's presentation (messaging_type, tag,
// notification_type, sharable, is_reusable, webview_height_ratio,
// messenger_extensions, a quick reply's image_url) are accepted and have no
// effect.
func Decode(body []byte) (*Request, error) {
	tree, err := strictjson.Parse(body)
	if err != nil {
		return nil, err
	}
	d := &decoder{}
	root := d.Object(tree, "")
	req := &Request{}
	d.recipient(root, req)

	typ := root.OneOf("messaging_type", "RESPONSE", "UPDATE", "MESSAGE_TAG")
	tag, _ := root.Str("tag")
	if typ == "MESSAGE_TAG" && tag == "" && !root.Bad("tag") {
		d.Add("tag", "must be set when messaging_type is MESSAGE_TAG")
	}
	root.OneOf("notification_type", "REGULAR", "SILENT_PUSH", "NO_PUSH")
	action := root.Has("sender_action")
	if action {
		root.Get("sender_action")
		d.Add("sender_action", "is not supported: SMS and the gateway's RCS messages carry no typing or seen signals")
	}
	if msg := root.Obj("message", !action); msg != nil {
		d.message(msg, &req.Content)
	}
	root.Done()
	if len(d.Errs) == 0 {
		d.Check(&req.Content)
	}
	if len(d.Errs) > 0 {
		return nil, unify.Invalid(d.Errs...)
	}
	return req, nil
}

type decoder struct{ strictjson.Reader }

func (d *decoder) recipient(root *strictjson.Object, req *Request) {
	rec := root.Obj("recipient", true)
	if rec == nil {
		return
	}
	phone, hasPhone := rec.Str("phone_number")
	id, hasID := rec.Str("id")
	switch {
	case hasPhone && hasID:
		d.Add("recipient", "must hold phone_number or id, not both")
	case hasPhone:
		req.To, req.ToField = phone, "recipient.phone_number"
		if !unify.LooksE164(phone) {
			d.Add(req.ToField, "must be an E.164 number such as +33612345678")
		}
	case hasID:
		// A bot answers the sender.id of a webhook; the gateway's webhooks
		// put the phone's number there, so an id that is a number is one.
		req.To, req.ToField = id, "recipient.id"
		if !unify.LooksE164(id) {
			d.Add(req.ToField, "must be a phone number in E.164 form such as +33612345678 (the sender.id of the gateway's webhooks): page-scoped ids do not reach phones")
		}
	case !rec.Bad("phone_number") && !rec.Bad("id"):
		d.Add("recipient.phone_number", "must not be empty")
	}
	rec.Done()
}

func (d *decoder) message(msg *strictjson.Object, c *unify.Content) {
	text := msg.Text("text", MaxTextRunes, false)
	att := msg.Obj("attachment", false)
	switch {
	case text != "" && att != nil:
		d.Add("message", "must hold text or attachment, not both")
		return
	case text != "":
		c.Text = text
		d.Alias("content.text", "message.text")
	case att != nil:
		d.attachment(att, c)
	case !msg.Bad("text") && !msg.Bad("attachment"):
		d.Add("message", "must hold text or attachment")
	}
	d.quickReplies(msg, c)
	msg.Done()
}

func (d *decoder) attachment(att *strictjson.Object, c *unify.Content) {
	typ, _ := att.Str("type")
	payload := att.Obj("payload", typ == "image" || typ == "template")
	switch typ {
	case "image":
		if payload != nil {
			d.image(payload, c)
		}
	case "template":
		if payload != nil {
			d.template(payload, c)
		}
	case "audio", "video", "file":
		att.Skip()
		d.Add("message.attachment.type", fmt.Sprintf("%s attachments are not supported (image and template are)", typ))
	case "":
		if !att.Bad("type") {
			d.Add("message.attachment.type", "must not be empty")
		}
	default:
		att.Skip()
		d.Add("message.attachment.type", "must be image or template")
	}
	att.Done()
}

func (d *decoder) image(p *strictjson.Object, c *unify.Content) {
	if p.Has("attachment_id") {
		p.Get("attachment_id")
		d.Add(p.At("attachment_id"), "is not supported: the gateway keeps no uploaded attachments; give the url")
	}
	p.Boolean("is_reusable")
	url := p.Text("url", unify.MaxURLLength, !p.Has("attachment_id"))
	if url != "" {
		c.Media = &unify.Media{URL: url, MimeType: strictjson.ImageType(url)}
		d.Alias("content.media", p.Path())
	}
	p.Done()
}

func (d *decoder) template(p *strictjson.Object, c *unify.Content) {
	typ, _ := p.Str("template_type")
	switch typ {
	case "generic":
		d.generic(p, c)
	case "button":
		d.buttonTemplate(p, c)
	case "":
		if !p.Bad("template_type") {
			d.Add(p.At("template_type"), "must not be empty")
		}
	default:
		p.Skip()
		d.Add(p.At("template_type"), fmt.Sprintf("%s templates are not supported (generic and button are)", typ))
	}
	p.Done()
}

func (d *decoder) generic(p *strictjson.Object, c *unify.Content) {
	p.Boolean("sharable")
	elems := p.List("elements")
	ep := p.At("elements")
	if len(elems) == 0 {
		if !p.Bad("elements") {
			d.Add(ep, "must hold at least one element")
		}
		return
	}
	elems = d.atMost(elems, ep, MaxElements, "elements")
	cards := make([]unify.Card, 0, len(elems))
	for i, v := range elems {
		path := fmt.Sprintf("%s[%d]", ep, i)
		unified := fmt.Sprintf("content.carousel.cards[%d]", i)
		if len(elems) == 1 {
			unified = "content.card"
		}
		cards = append(cards, d.element(v, path, unified))
	}
	if len(cards) == 1 {
		c.Card = &cards[0]
		return
	}
	c.Carousel = &unify.Carousel{Cards: cards}
	d.Alias("content.carousel.cards", ep)
	d.Alias("content.carousel", ep)
}

func (d *decoder) element(v any, path, unified string) unify.Card {
	var card unify.Card
	e := d.Object(v, path)
	if e == nil {
		return card
	}
	d.Alias(unified, path)
	d.Alias(unified+".title", path+".title")
	d.Alias(unified+".description", path+".subtitle")
	card.Title = e.Text("title", MaxElementTitleRunes, true)
	card.Description = e.Text("subtitle", MaxElementSubtitleRunes, false)
	if u := e.Text("image_url", unify.MaxURLLength, false); u != "" {
		card.Media = &unify.Media{URL: u, MimeType: strictjson.ImageType(u)}
		d.Alias(unified+".media.url", path+".image_url")
		d.Alias(unified+".media", path+".image_url")
	}
	card.Suggestions = d.buttons(e, unified+".suggestions", false)
	if da := e.Obj("default_action", false); da != nil {
		if s, ok := d.defaultAction(da); ok && !opens(card.Suggestions, s.URL) {
			i := len(card.Suggestions)
			d.Alias(fmt.Sprintf("%s.suggestions[%d]", unified, i), da.Path())
			card.Suggestions = append(card.Suggestions, s)
		}
	}
	// Meta's rule (meta.md §1.2): a title alone is not an element.
	if card.Title != "" && card.Description == "" && !e.Has("image_url") && !e.Has("default_action") && !e.Has("buttons") {
		d.Add(path, "must have a subtitle, an image_url, a default_action or buttons besides its title")
	}
	e.Done()
	return card
}

// opens reports whether one of list already opens url, which makes a
// default_action to the same place redundant.
func opens(list []unify.Suggestion, url string) bool {
	for _, s := range list {
		if s.Type == unify.SuggestOpenURL && s.URL == url {
			return true
		}
	}
	return false
}

func (d *decoder) defaultAction(o *strictjson.Object) (unify.Suggestion, bool) {
	typ, _ := o.Str("type")
	if typ != "web_url" {
		if !o.Bad("type") {
			d.Add(o.At("type"), "must be web_url")
		}
		o.Skip()
		return unify.Suggestion{}, false
	}
	url := o.Text("url", unify.MaxURLLength, true)
	o.OneOf("webview_height_ratio", "compact", "tall", "full")
	o.Boolean("messenger_extensions")
	o.Done()
	return unify.Suggestion{Type: unify.SuggestOpenURL, Text: DefaultActionText, URL: url, Postback: actionPostback}, url != ""
}

func (d *decoder) buttonTemplate(p *strictjson.Object, c *unify.Content) {
	p.Boolean("sharable")
	c.Text = p.Text("text", MaxButtonTextRunes, true)
	d.Alias("content.text", p.At("text"))
	c.Suggestions = d.buttons(p, "content.suggestions", true)
}

// buttons reads the buttons of an element or a button template as
// suggestions whose unified path is below unified.
func (d *decoder) buttons(o *strictjson.Object, unified string, required bool) []unify.Suggestion {
	list := o.List("buttons")
	bp := o.At("buttons")
	if len(list) == 0 && required && !o.Bad("buttons") {
		d.Add(bp, "must hold at least one button")
	}
	list = d.atMost(list, bp, MaxButtons, "buttons")
	var out []unify.Suggestion
	for i, v := range list {
		path := fmt.Sprintf("%s[%d]", bp, i)
		s, ok := d.button(v, path)
		if !ok {
			continue
		}
		u := fmt.Sprintf("%s[%d]", unified, len(out))
		d.Alias(u, path)
		d.Alias(u+".text", path+".title")
		if s.Type == unify.SuggestDial {
			d.Alias(u+".phone", path+".payload")
		}
		out = append(out, s)
	}
	return out
}

func (d *decoder) button(v any, path string) (unify.Suggestion, bool) {
	b := d.Object(v, path)
	if b == nil {
		return unify.Suggestion{}, false
	}
	defer b.Done()
	typ, _ := b.Str("type")
	s := unify.Suggestion{}
	switch typ {
	case "web_url":
		s.Type, s.Postback = unify.SuggestOpenURL, actionPostback
		s.URL = b.Text("url", unify.MaxURLLength, true)
		b.OneOf("webview_height_ratio", "compact", "tall", "full")
		b.Boolean("messenger_extensions")
	case "postback":
		s.Type = unify.SuggestReply
		s.Postback = buttonPostback(d.payload(b, true))
	case "phone_number":
		s.Type, s.Postback = unify.SuggestDial, actionPostback
		s.Phone = d.payload(b, true)
	case "":
		if !b.Bad("type") {
			d.Add(b.At("type"), "must not be empty")
		}
		b.Skip()
		return s, false
	default:
		d.Add(b.At("type"), fmt.Sprintf("%s buttons are not supported (web_url, postback and phone_number are)", typ))
		b.Skip()
		return s, false
	}
	s.Text = b.Text("title", MaxButtonTitleRunes, true)
	return s, true
}

// atMost keeps the first max items of list; the first one beyond is named
// as one too many, so that the caller knows where its list went over.
func (d *decoder) atMost(list []any, path string, max int, what string) []any {
	if len(list) <= max {
		return list
	}
	d.Add(fmt.Sprintf("%s[%d]", path, max), fmt.Sprintf("is one too many: at most %d %s", max, what))
	return list[:max]
}

// payload reads a payload, which Messenger takes as a string or a number.
func (d *decoder) payload(o *strictjson.Object, required bool) string {
	v, ok := o.Get("payload")
	var s string
	switch p := v.(type) {
	case string:
		s = p
	case json.Number:
		s = p.String()
	default:
		if ok {
			o.Wrong("payload", "must be a string or a number")
			return ""
		}
	}
	switch {
	case s == "" && required:
		d.Add(o.At("payload"), "must not be empty")
	case utf8.RuneCountInString(s) > MaxPayloadRunes:
		d.Add(o.At("payload"), fmt.Sprintf("must be at most %d characters", MaxPayloadRunes))
	}
	return s
}

func (d *decoder) quickReplies(msg *strictjson.Object, c *unify.Content) {
	list := msg.List("quick_replies")
	if len(list) == 0 {
		return
	}
	qp := msg.At("quick_replies")
	// RCS shows at most 11 chips, the gateway's limit for every channel
	// (unify.MaxSuggestions); a button template's buttons count too.
	room := unify.MaxSuggestions - len(c.Suggestions)
	if len(list) > MaxQuickReplies {
		list = d.atMost(list, qp, MaxQuickReplies, "quick replies")
	} else if len(list) > room {
		d.Add(fmt.Sprintf("%s[%d]", qp, room), fmt.Sprintf(
			"is one too many: the gateway carries at most %d suggestions in all (quick replies and buttons; Messenger's %d quick replies do not fit RCS)", unify.MaxSuggestions, MaxQuickReplies))
		list = list[:room]
	}
	d.Alias("content.suggestions", qp)
	for i, v := range list {
		path := fmt.Sprintf("%s[%d]", qp, i)
		q := d.Object(v, path)
		if q == nil {
			continue
		}
		typ, _ := q.Str("content_type")
		switch typ {
		case "text":
		case "user_phone_number", "user_email":
			d.Add(q.At("content_type"), fmt.Sprintf("%s quick replies are not supported: they ask Messenger for the person's details, which SMS and RCS cannot", typ))
			q.Skip()
			continue
		case "":
			if !q.Bad("content_type") {
				d.Add(q.At("content_type"), "must not be empty")
			}
			q.Skip()
			continue
		default:
			d.Add(q.At("content_type"), "must be text")
			q.Skip()
			continue
		}
		s := unify.Suggestion{Type: unify.SuggestReply}
		s.Text = q.Text("title", MaxQuickReplyTitleRunes, true)
		s.Postback = quickReplyPostback(d.payload(q, true))
		q.Text("image_url", unify.MaxURLLength, false) // an icon: RCS chips and SMS have none
		u := fmt.Sprintf("content.suggestions[%d]", len(c.Suggestions))
		d.Alias(u, path)
		d.Alias(u+".text", path+".title")
		c.Suggestions = append(c.Suggestions, s)
		q.Done()
	}
}
