package messenger

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"gateway/unify"
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
	tree, err := parse(body)
	if err != nil {
		return nil, err
	}
	d := &decoder{}
	root := d.object(tree, "")
	req := &Request{}
	d.recipient(root, req)

	typ := root.oneOf("messaging_type", "RESPONSE", "UPDATE", "MESSAGE_TAG")
	tag, _ := root.str("tag")
	if typ == "MESSAGE_TAG" && tag == "" && !root.bad["tag"] {
		d.add("tag", "must be set when messaging_type is MESSAGE_TAG")
	}
	root.oneOf("notification_type", "REGULAR", "SILENT_PUSH", "NO_PUSH")
	action := root.has("sender_action")
	if action {
		root.get("sender_action")
		d.add("sender_action", "is not supported: SMS and the gateway's RCS messages carry no typing or seen signals")
	}
	if msg := root.obj("message", !action); msg != nil {
		d.message(msg, &req.Content)
	}
	root.done()
	if len(d.errs) == 0 {
		d.check(&req.Content)
	}
	if len(d.errs) > 0 {
		return nil, unify.Invalid(d.errs...)
	}
	return req, nil
}

type decoder struct{ reader }

func (d *decoder) recipient(root *object, req *Request) {
	rec := root.obj("recipient", true)
	if rec == nil {
		return
	}
	phone, hasPhone := rec.str("phone_number")
	id, hasID := rec.str("id")
	switch {
	case hasPhone && hasID:
		d.add("recipient", "must hold phone_number or id, not both")
	case hasPhone:
		req.To, req.ToField = phone, "recipient.phone_number"
		if !unify.LooksE164(phone) {
			d.add(req.ToField, "must be an E.164 number such as +33612345678")
		}
	case hasID:
		// A bot answers the sender.id of a webhook; the gateway's webhooks
		// put the phone's number there, so an id that is a number is one.
		req.To, req.ToField = id, "recipient.id"
		if !unify.LooksE164(id) {
			d.add(req.ToField, "must be a phone number in E.164 form such as +33612345678 (the sender.id of the gateway's webhooks): page-scoped ids do not reach phones")
		}
	case !rec.bad["phone_number"] && !rec.bad["id"]:
		d.add("recipient.phone_number", "must not be empty")
	}
	rec.done()
}

func (d *decoder) message(msg *object, c *unify.Content) {
	text := msg.text("text", MaxTextRunes, false)
	att := msg.obj("attachment", false)
	switch {
	case text != "" && att != nil:
		d.add("message", "must hold text or attachment, not both")
		return
	case text != "":
		c.Text = text
		d.alias("content.text", "message.text")
	case att != nil:
		d.attachment(att, c)
	case !msg.bad["text"] && !msg.bad["attachment"]:
		d.add("message", "must hold text or attachment")
	}
	d.quickReplies(msg, c)
	msg.done()
}

func (d *decoder) attachment(att *object, c *unify.Content) {
	typ, _ := att.str("type")
	payload := att.obj("payload", typ == "image" || typ == "template")
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
		att.skip()
		d.add("message.attachment.type", fmt.Sprintf("%s attachments are not supported (image and template are)", typ))
	case "":
		if !att.bad["type"] {
			d.add("message.attachment.type", "must not be empty")
		}
	default:
		att.skip()
		d.add("message.attachment.type", "must be image or template")
	}
	att.done()
}

func (d *decoder) image(p *object, c *unify.Content) {
	if p.has("attachment_id") {
		p.get("attachment_id")
		d.add(p.at("attachment_id"), "is not supported: the gateway keeps no uploaded attachments; give the url")
	}
	p.boolean("is_reusable")
	url := p.text("url", unify.MaxURLLength, !p.has("attachment_id"))
	if url != "" {
		c.Media = &unify.Media{URL: url, MimeType: imageType(url)}
		d.alias("content.media", p.path)
	}
	p.done()
}

func (d *decoder) template(p *object, c *unify.Content) {
	typ, _ := p.str("template_type")
	switch typ {
	case "generic":
		d.generic(p, c)
	case "button":
		d.buttonTemplate(p, c)
	case "":
		if !p.bad["template_type"] {
			d.add(p.at("template_type"), "must not be empty")
		}
	default:
		p.skip()
		d.add(p.at("template_type"), fmt.Sprintf("%s templates are not supported (generic and button are)", typ))
	}
	p.done()
}

func (d *decoder) generic(p *object, c *unify.Content) {
	p.boolean("sharable")
	elems := p.list("elements")
	ep := p.at("elements")
	if len(elems) == 0 {
		if !p.bad["elements"] {
			d.add(ep, "must hold at least one element")
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
	d.alias("content.carousel.cards", ep)
	d.alias("content.carousel", ep)
}

func (d *decoder) element(v any, path, unified string) unify.Card {
	var card unify.Card
	e := d.object(v, path)
	if e == nil {
		return card
	}
	d.alias(unified, path)
	d.alias(unified+".title", path+".title")
	d.alias(unified+".description", path+".subtitle")
	card.Title = e.text("title", MaxElementTitleRunes, true)
	card.Description = e.text("subtitle", MaxElementSubtitleRunes, false)
	if u := e.text("image_url", unify.MaxURLLength, false); u != "" {
		card.Media = &unify.Media{URL: u, MimeType: imageType(u)}
		d.alias(unified+".media.url", path+".image_url")
		d.alias(unified+".media", path+".image_url")
	}
	card.Suggestions = d.buttons(e, unified+".suggestions", false)
	if da := e.obj("default_action", false); da != nil {
		if s, ok := d.defaultAction(da); ok && !opens(card.Suggestions, s.URL) {
			i := len(card.Suggestions)
			d.alias(fmt.Sprintf("%s.suggestions[%d]", unified, i), da.path)
			card.Suggestions = append(card.Suggestions, s)
		}
	}
	// Meta's rule (meta.md §1.2): a title alone is not an element.
	if card.Title != "" && card.Description == "" && !e.has("image_url") && !e.has("default_action") && !e.has("buttons") {
		d.add(path, "must have a subtitle, an image_url, a default_action or buttons besides its title")
	}
	e.done()
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

func (d *decoder) defaultAction(o *object) (unify.Suggestion, bool) {
	typ, _ := o.str("type")
	if typ != "web_url" {
		if !o.bad["type"] {
			d.add(o.at("type"), "must be web_url")
		}
		o.skip()
		return unify.Suggestion{}, false
	}
	url := o.text("url", unify.MaxURLLength, true)
	o.oneOf("webview_height_ratio", "compact", "tall", "full")
	o.boolean("messenger_extensions")
	o.done()
	return unify.Suggestion{Type: unify.SuggestOpenURL, Text: DefaultActionText, URL: url, Postback: actionPostback}, url != ""
}

func (d *decoder) buttonTemplate(p *object, c *unify.Content) {
	p.boolean("sharable")
	c.Text = p.text("text", MaxButtonTextRunes, true)
	d.alias("content.text", p.at("text"))
	c.Suggestions = d.buttons(p, "content.suggestions", true)
}

// buttons reads the buttons of an element or a button template as
// suggestions whose unified path is below unified.
func (d *decoder) buttons(o *object, unified string, required bool) []unify.Suggestion {
	list := o.list("buttons")
	bp := o.at("buttons")
	if len(list) == 0 && required && !o.bad["buttons"] {
		d.add(bp, "must hold at least one button")
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
		d.alias(u, path)
		d.alias(u+".text", path+".title")
		if s.Type == unify.SuggestDial {
			d.alias(u+".phone", path+".payload")
		}
		out = append(out, s)
	}
	return out
}

func (d *decoder) button(v any, path string) (unify.Suggestion, bool) {
	b := d.object(v, path)
	if b == nil {
		return unify.Suggestion{}, false
	}
	defer b.done()
	typ, _ := b.str("type")
	s := unify.Suggestion{}
	switch typ {
	case "web_url":
		s.Type, s.Postback = unify.SuggestOpenURL, actionPostback
		s.URL = b.text("url", unify.MaxURLLength, true)
		b.oneOf("webview_height_ratio", "compact", "tall", "full")
		b.boolean("messenger_extensions")
	case "postback":
		s.Type = unify.SuggestReply
		s.Postback = buttonPostback(d.payload(b, true))
	case "phone_number":
		s.Type, s.Postback = unify.SuggestDial, actionPostback
		s.Phone = d.payload(b, true)
	case "":
		if !b.bad["type"] {
			d.add(b.at("type"), "must not be empty")
		}
		b.skip()
		return s, false
	default:
		d.add(b.at("type"), fmt.Sprintf("%s buttons are not supported (web_url, postback and phone_number are)", typ))
		b.skip()
		return s, false
	}
	s.Text = b.text("title", MaxButtonTitleRunes, true)
	return s, true
}

// atMost keeps the first max items of list; the first one beyond is named
// as one too many, so that the caller knows where its list went over.
func (d *decoder) atMost(list []any, path string, max int, what string) []any {
	if len(list) <= max {
		return list
	}
	d.add(fmt.Sprintf("%s[%d]", path, max), fmt.Sprintf("is one too many: at most %d %s", max, what))
	return list[:max]
}

// payload reads a payload, which Messenger takes as a string or a number.
func (d *decoder) payload(o *object, required bool) string {
	v, ok := o.get("payload")
	var s string
	switch p := v.(type) {
	case string:
		s = p
	case json.Number:
		s = p.String()
	default:
		if ok {
			o.wrong("payload", "must be a string or a number")
			return ""
		}
	}
	switch {
	case s == "" && required:
		d.add(o.at("payload"), "must not be empty")
	case utf8.RuneCountInString(s) > MaxPayloadRunes:
		d.add(o.at("payload"), fmt.Sprintf("must be at most %d characters", MaxPayloadRunes))
	}
	return s
}

func (d *decoder) quickReplies(msg *object, c *unify.Content) {
	list := msg.list("quick_replies")
	if len(list) == 0 {
		return
	}
	qp := msg.at("quick_replies")
	// RCS shows at most 11 chips, the gateway's limit for every channel
	// (unify.MaxSuggestions); a button template's buttons count too.
	room := unify.MaxSuggestions - len(c.Suggestions)
	if len(list) > MaxQuickReplies {
		list = d.atMost(list, qp, MaxQuickReplies, "quick replies")
	} else if len(list) > room {
		d.add(fmt.Sprintf("%s[%d]", qp, room), fmt.Sprintf(
			"is one too many: the gateway carries at most %d suggestions in all (quick replies and buttons; Messenger's %d quick replies do not fit RCS)", unify.MaxSuggestions, MaxQuickReplies))
		list = list[:room]
	}
	d.alias("content.suggestions", qp)
	for i, v := range list {
		path := fmt.Sprintf("%s[%d]", qp, i)
		q := d.object(v, path)
		if q == nil {
			continue
		}
		typ, _ := q.str("content_type")
		switch typ {
		case "text":
		case "user_phone_number", "user_email":
			d.add(q.at("content_type"), fmt.Sprintf("%s quick replies are not supported: they ask Messenger for the person's details, which SMS and RCS cannot", typ))
			q.skip()
			continue
		case "":
			if !q.bad["content_type"] {
				d.add(q.at("content_type"), "must not be empty")
			}
			q.skip()
			continue
		default:
			d.add(q.at("content_type"), "must be text")
			q.skip()
			continue
		}
		s := unify.Suggestion{Type: unify.SuggestReply}
		s.Text = q.text("title", MaxQuickReplyTitleRunes, true)
		s.Postback = quickReplyPostback(d.payload(q, true))
		q.text("image_url", unify.MaxURLLength, false) // an icon: RCS chips and SMS have none
		u := fmt.Sprintf("content.suggestions[%d]", len(c.Suggestions))
		d.alias(u, path)
		d.alias(u+".text", path+".title")
		c.Suggestions = append(c.Suggestions, s)
		q.done()
	}
}
