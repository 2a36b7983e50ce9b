package whatsapp

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"gateway/unify"
	"gateway/unify/strictjson"
)

// Limits of the Cloud API (shared/specs/meta.md §3). A field over one of
// them is refused rather than cut: WhatsApp itself would refuse it.
const (
	MaxTextRunes        = 4096 // text.body
	MaxCaptionRunes     = 1024 // image.caption
	MaxBodyRunes        = 1024 // interactive body.text
	MaxHeaderRunes      = 60   // interactive text header
	MaxFooterRunes      = 60
	MaxButtons          = 3 // reply buttons
	MaxButtonTitleRunes = 20
	MaxButtonIDRunes    = 256
	MaxListButtonRunes  = 20 // list action.button
	MaxSections         = 10
	MaxRows             = 10 // in all sections together
	MaxSectionRunes     = 24 // section title
	MaxRowIDRunes       = 200
	MaxRowTitleRunes    = 24
	MaxRowDescRunes     = 72
)

// MessagingProduct is the messaging_product of every request, answer and
// webhook.
const MessagingProduct = "whatsapp"

// Request is a Cloud API send request read into the unified model.
type Request struct {
	// To is the recipient's number in E.164 ("+" and digits).
	To string
	// Input is the "to" as the request wrote it (with or without "+"),
	// which the answer repeats.
	Input string
	// Content is what the message says, valid by unify's rules.
	Content unify.Content
}

// ToField is the request field of the recipient.
const ToField = "to"

// Response is the answer to a send request.
type Response struct {
	MessagingProduct string            `json:"messaging_product"`
	Contacts         []ResponseContact `json:"contacts"`
	Messages         []ResponseMessage `json:"messages"`
}

// ResponseContact names the recipient as the request gave it and as
// WhatsApp writes it.
type ResponseContact struct {
	Input string `json:"input"`
	WaID  string `json:"wa_id"`
}

// ResponseMessage is the id of the message sent: the gateway's message id.
type ResponseMessage struct {
	ID string `json:"id"`
}

// NewResponse answers a request to input with the gateway's message id.
func NewResponse(input, e164, id string) Response {
	return Response{
		MessagingProduct: MessagingProduct,
		Contacts:         []ResponseContact{{Input: input, WaID: WaID(e164)}},
		Messages:         []ResponseMessage{{ID: id}},
	}
}

// WaID writes an E.164 number as WhatsApp does: digits without the '+'.
func WaID(e164 string) string { return strings.TrimPrefix(e164, "+") }

// Decode reads a Cloud API send request body (shared/specs/meta.md §3):
// text, image (by link, with its caption), location, and interactive
// messages, reply buttons becoming suggested replies and list rows numbered
// choices (suggested replies in row order). "to" may be written with or
// without its '+' (WhatsApp writes numbers without it); Request.To always
// has it.
//
// Everything else the Cloud API knows is refused rather than dropped: the
// error is a *unify.Error (invalid) naming every problem by its path in the
// request ("interactive.action.buttons[1].reply.title"), including problems
// that unify's own rules find in the translated content. preview_url and a
// list's action.button only steer WhatsApp's presentation and have no
// effect.
//
// The interactive header, body and footer become the message text, one
// paragraph each; a list whose sections have titles or whose rows have
// descriptions is written out in the text too (one line per row under its
// section's title), since chips and numbered replies carry only row titles.
func Decode(body []byte) (*Request, error) {
	tree, err := strictjson.Parse(body)
	if err != nil {
		return nil, err
	}
	d := &decoder{}
	root := d.Object(tree, "")
	req := &Request{}

	switch mp, _ := root.Str("messaging_product"); {
	case mp == "" && !root.Bad("messaging_product"):
		d.Add("messaging_product", "must not be empty")
	case mp != "" && mp != MessagingProduct:
		d.Add("messaging_product", "must be whatsapp")
	}
	root.OneOf("recipient_type", "individual")
	req.Input, _ = root.Str("to")
	switch {
	case req.Input == "" && !root.Bad("to"):
		d.Add(ToField, "must not be empty")
	case req.Input != "":
		req.To = "+" + strings.TrimPrefix(req.Input, "+")
		if !unify.LooksE164(req.To) {
			d.Add(ToField, "must be a phone number in international form, digits with or without a leading '+', such as 16505551234")
		}
	}
	// The Cloud API takes a message without a type as text.
	typ, _ := root.Str("type")
	if typ == "" && !root.Bad("type") {
		typ = "text"
	}
	c := &req.Content
	switch typ {
	case "text":
		if t := root.Obj("text", true); t != nil {
			c.Text = t.Text("body", MaxTextRunes, true)
			t.Boolean("preview_url")
			d.Alias("content.text", "text.body")
			t.Done()
		}
	case "image":
		if im := root.Obj("image", true); im != nil {
			d.image(im, c)
		}
	case "location":
		if l := root.Obj("location", true); l != nil {
			d.location(l, c)
		}
	case "interactive":
		if in := root.Obj("interactive", true); in != nil {
			d.interactive(in, c)
		}
	case "audio", "video", "document", "sticker", "template", "contacts", "reaction":
		root.Get(typ)
		d.Add("type", fmt.Sprintf("%s messages are not supported (text, image, location and interactive are)", typ))
	default:
		if !root.Bad("type") {
			d.Add("type", "must be text, image, location or interactive")
		}
	}
	// A body for another type than the one named would be dropped.
	for _, k := range []string{"text", "image", "location", "interactive"} {
		if k != typ && root.Has(k) {
			root.Get(k)
			d.Add(k, "does not go with type "+typ)
		}
	}
	root.Done()
	if len(d.Errs) == 0 {
		d.Check(c)
	}
	if len(d.Errs) > 0 {
		return nil, unify.Invalid(d.Errs...)
	}
	return req, nil
}

type decoder struct{ strictjson.Reader }

func (d *decoder) image(im *strictjson.Object, c *unify.Content) {
	if im.Has("id") {
		im.Get("id")
		d.Add("image.id", "is not supported: the gateway keeps no uploaded media; give the link")
	}
	link := im.Text("link", unify.MaxURLLength, !im.Has("id"))
	if link != "" {
		c.Media = &unify.Media{URL: link, MimeType: strictjson.ImageType(link)}
		d.Alias("content.media.url", "image.link")
		d.Alias("content.media", "image")
	}
	c.Text = im.Text("caption", MaxCaptionRunes, false)
	d.Alias("content.text", "image.caption")
	im.Done()
}

func (d *decoder) location(l *strictjson.Object, c *unify.Content) {
	loc := &unify.Location{}
	loc.Lat = d.coordinate(l, "latitude")
	loc.Lng = d.coordinate(l, "longitude")
	name, _ := l.Str("name")
	address, _ := l.Str("address")
	loc.Label = name
	if address != "" {
		loc.Label = strings.TrimPrefix(name+", "+address, ", ")
	}
	// The unified label holds both, as "name, address".
	switch {
	case utf8.RuneCountInString(loc.Label) <= unify.MaxTitleRunes:
	case address == "":
		d.Add("location.name", fmt.Sprintf("must be at most %d characters", unify.MaxTitleRunes))
	default:
		d.Add("location.address", fmt.Sprintf("must keep the label (\"name, address\") within %d characters", unify.MaxTitleRunes))
	}
	c.Location = loc
	d.Alias("content.location.lat", "location.latitude")
	d.Alias("content.location.lng", "location.longitude")
	d.Alias("content.location.label", "location.name")
	d.Alias("content.location", "location")
	l.Done()
}

// coordinate reads a latitude or longitude, which Meta documents as a
// string and its SDKs send as a number: both are taken.
func (d *decoder) coordinate(l *strictjson.Object, key string) float64 {
	v, ok := l.Get(key)
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = strings.TrimSpace(x)
	default:
		if ok {
			l.Wrong(key, "must be a number")
		} else {
			d.Add(l.At(key), "must be set")
		}
		return 0
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		l.Wrong(key, "must be a number in decimal degrees")
		return 0
	}
	return f
}

func (d *decoder) interactive(in *strictjson.Object, c *unify.Content) {
	typ, _ := in.Str("type")
	switch typ {
	case "button", "list":
	case "":
		if !in.Bad("type") {
			d.Add("interactive.type", "must not be empty")
		}
		in.Skip()
		return
	default:
		d.Add("interactive.type", fmt.Sprintf("%s interactive messages are not supported (button and list are)", typ))
		in.Skip()
		return
	}
	var paras []string
	if h := in.Obj("header", false); h != nil {
		switch ht, _ := h.Str("type"); ht {
		case "text":
			paras = append(paras, h.Text("text", MaxHeaderRunes, true))
		case "":
			if !h.Bad("type") {
				d.Add("interactive.header.type", "must not be empty")
			}
			h.Skip()
		default:
			d.Add("interactive.header.type", fmt.Sprintf("%s headers are not supported (text is)", ht))
			h.Skip()
		}
		h.Done()
	}
	if b := in.Obj("body", true); b != nil {
		paras = append(paras, b.Text("text", MaxBodyRunes, true))
		b.Done()
	}
	var footer string
	if f := in.Obj("footer", false); f != nil {
		footer = f.Text("text", MaxFooterRunes, true)
		f.Done()
	}
	if a := in.Obj("action", true); a != nil {
		if typ == "button" {
			c.Suggestions = d.buttons(a)
		} else {
			var list string
			c.Suggestions, list = d.list(a)
			paras = append(paras, list)
		}
		a.Done()
	}
	paras = append(paras, footer)
	c.Text = joinParas(paras)
	d.Alias("content.text", "interactive.body.text")
	d.Alias("content.suggestions", "interactive.action")
}

func joinParas(paras []string) string {
	var keep []string
	for _, p := range paras {
		if p != "" {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, "\n\n")
}

// Postbacks carry where a reply came from: WhatsApp reports a reply button
// as button_reply and a list row as list_reply, while a unified suggestion
// is just a reply with a postback. A row id travels with a prefix, and so
// does a button id that happens to start like one; other button ids travel
// unchanged.
const (
	prefix       = "whatsapp:"
	buttonPrefix = prefix + "button:"
	listPrefix   = prefix + "list:"
)

func buttonPostback(id string) string {
	if strings.HasPrefix(id, prefix) {
		return buttonPrefix + id
	}
	return id
}

func (d *decoder) buttons(a *strictjson.Object) []unify.Suggestion {
	list := a.List("buttons")
	bp := a.At("buttons")
	if len(list) == 0 {
		if !a.Bad("buttons") {
			d.Add(bp, "must hold at least one button")
		}
		return nil
	}
	list = d.atMost(list, bp, MaxButtons, "buttons")
	var out []unify.Suggestion
	titles := map[string]string{}
	for i, v := range list {
		path := fmt.Sprintf("%s[%d]", bp, i)
		b := d.Object(v, path)
		if b == nil {
			continue
		}
		switch t, _ := b.Str("type"); {
		case t == "" && !b.Bad("type"):
			d.Add(b.At("type"), "must not be empty")
		case t != "" && t != "reply":
			d.Add(b.At("type"), "must be reply")
		}
		r := b.Obj("reply", true)
		b.Done()
		if r == nil {
			continue
		}
		id := r.Text("id", MaxButtonIDRunes, true)
		if id != "" && strings.TrimSpace(id) != id {
			d.Add(r.At("id"), "must not start or end with a space")
		}
		title := r.Text("title", MaxButtonTitleRunes, true)
		if prev, dup := titles[title]; dup && title != "" {
			d.Add(r.At("title"), "must be unique: it is also the title of "+prev)
		}
		titles[title] = path
		r.Done()
		u := fmt.Sprintf("content.suggestions[%d]", len(out))
		d.Alias(u, path)
		d.Alias(u+".text", r.At("title"))
		d.Alias(u+".postback", r.At("id"))
		out = append(out, unify.Suggestion{Type: unify.SuggestReply, Text: title, Postback: buttonPostback(id)})
	}
	return out
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

// list reads a list's sections as suggestions in row order, and returns
// the text that writes the list out when it says more than its row titles.
func (d *decoder) list(a *strictjson.Object) ([]unify.Suggestion, string) {
	a.Text("button", MaxListButtonRunes, true)
	sections := a.List("sections")
	sp := a.At("sections")
	if len(sections) == 0 {
		if !a.Bad("sections") {
			d.Add(sp, "must hold at least one section")
		}
		return nil, ""
	}
	sections = d.atMost(sections, sp, MaxSections, "sections")
	var (
		out   []unify.Suggestion
		lines []string
		more  bool // titles or descriptions the chips would not show
		rows  int
	)
	for i, v := range sections {
		path := fmt.Sprintf("%s[%d]", sp, i)
		s := d.Object(v, path)
		if s == nil {
			continue
		}
		title := s.Text("title", MaxSectionRunes, len(sections) > 1)
		if title != "" {
			lines = append(lines, title)
			more = true
		}
		list := s.List("rows")
		if len(list) == 0 && !s.Bad("rows") {
			d.Add(s.At("rows"), "must hold at least one row")
		}
		if rows+len(list) > MaxRows && rows <= MaxRows {
			d.Add(fmt.Sprintf("%s.rows[%d]", path, max(MaxRows-rows, 0)), fmt.Sprintf("is one too many: at most %d rows in all sections", MaxRows))
		}
		rows += len(list)
		if rows > MaxRows {
			s.Skip()
			continue
		}
		for j, rv := range list {
			rp := fmt.Sprintf("%s.rows[%d]", path, j)
			r := d.Object(rv, rp)
			if r == nil {
				continue
			}
			id := r.Text("id", MaxRowIDRunes, true)
			rt := r.Text("title", MaxRowTitleRunes, true)
			desc := r.Text("description", MaxRowDescRunes, false)
			r.Done()
			line := "- " + rt
			if desc != "" {
				line += ": " + desc
				more = true
			}
			lines = append(lines, line)
			u := fmt.Sprintf("content.suggestions[%d]", len(out))
			d.Alias(u, rp)
			d.Alias(u+".text", rp+".title")
			d.Alias(u+".postback", rp+".id")
			out = append(out, unify.Suggestion{Type: unify.SuggestReply, Text: rt, Postback: listPrefix + id})
		}
		s.Done()
	}
	if !more {
		return out, ""
	}
	return out, strings.Join(lines, "\n")
}
