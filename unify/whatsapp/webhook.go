package whatsapp

import (
	"strconv"
	"strings"
	"time"

	"gateway/unify"
)

// Object is the "object" of every WhatsApp webhook body.
const Object = "whatsapp_business_account"

// UndeliverableCode is the error code of a failed status: the gateway's
// failures (rejected by every channel, expired, revoked) are what WhatsApp
// calls "message undeliverable" (shared/specs/meta.md §4).
const UndeliverableCode = 131026

// Webhook is the body of a WhatsApp webhook POST (shared/specs/meta.md §4).
// The gateway writes one entry with one change per POST. The business
// account id, phone_number_id and display_phone_number are all the sender
// name (so a bot answering to /{phone_number_id}/messages reaches
// POST /v1/whatsapp/{sender}/messages); the person is the phone's number
// without '+' (wa_id), and message ids are the gateway's: the inbound
// event's for a reply, the message's for a status.
type Webhook struct {
	Object string  `json:"object"`
	Entry  []Entry `json:"entry"`
}

// Entry is one business account's batch of changes.
type Entry struct {
	ID      string   `json:"id"`
	Changes []Change `json:"changes"`
}

// Change is one change; Field is always "messages".
type Change struct {
	Field string `json:"field"`
	Value Value  `json:"value"`
}

// Value holds messages from people (with their contacts) or statuses of
// messages sent.
type Value struct {
	MessagingProduct string    `json:"messaging_product"`
	Metadata         Metadata  `json:"metadata"`
	Contacts         []Contact `json:"contacts,omitempty"`
	Messages         []Message `json:"messages,omitempty"`
	Statuses         []Status  `json:"statuses,omitempty"`
}

// Metadata names the business number the change is about.
type Metadata struct {
	DisplayPhoneNumber string `json:"display_phone_number"`
	PhoneNumberID      string `json:"phone_number_id"`
}

// Contact is the person who wrote. The gateway knows no profile name and
// leaves it empty.
type Contact struct {
	Profile Profile `json:"profile"`
	WaID    string  `json:"wa_id"`
}

// Profile is a person's WhatsApp profile.
type Profile struct {
	Name string `json:"name"`
}

// Message is one message from a person. Type says which of Text,
// Interactive, Image, Video, Audio and Document is set.
type Message struct {
	Context     *Context     `json:"context,omitempty"`
	From        string       `json:"from"`
	ID          string       `json:"id"`
	Timestamp   string       `json:"timestamp"` // seconds since the epoch
	Type        string       `json:"type"`
	Text        *Text        `json:"text,omitempty"`
	Interactive *Interactive `json:"interactive,omitempty"`
	Image       *MediaRef    `json:"image,omitempty"`
	Video       *MediaRef    `json:"video,omitempty"`
	Audio       *MediaRef    `json:"audio,omitempty"`
	Document    *MediaRef    `json:"document,omitempty"`
}

// Context names the message a reply answers.
type Context struct {
	From string `json:"from"`
	ID   string `json:"id"`
}

// Text is the body of a text message.
type Text struct {
	Body string `json:"body"`
}

// Interactive is a tap on a reply button or a list row.
type Interactive struct {
	Type        string `json:"type"` // button_reply or list_reply
	ButtonReply *Reply `json:"button_reply,omitempty"`
	ListReply   *Reply `json:"list_reply,omitempty"`
}

// Reply is the button or row chosen: its id and what the person sent (the
// title on RCS, the number typed on SMS).
type Reply struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// MediaRef is a file the person sent. The gateway has no media API: ID is
// the file's URL, where WhatsApp gives an id to fetch the URL with.
type MediaRef struct {
	ID       string `json:"id"`
	MimeType string `json:"mime_type"`
	Caption  string `json:"caption,omitempty"`
}

// Status is a status of a message sent.
type Status struct {
	ID          string  `json:"id"`
	Status      string  `json:"status"` // sent, delivered, read or failed
	Timestamp   string  `json:"timestamp"`
	RecipientID string  `json:"recipient_id"`
	Errors      []Error `json:"errors,omitempty"`
}

// Error says why a message failed.
type Error struct {
	Code      int        `json:"code"`
	Title     string     `json:"title"`
	Message   string     `json:"message"`
	ErrorData *ErrorData `json:"error_data,omitempty"`
}

// ErrorData carries the gateway's own reason.
type ErrorData struct {
	Details string `json:"details"`
}

func seconds(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

func wrap(sender string, v Value) Webhook {
	v.MessagingProduct = MessagingProduct
	v.Metadata = Metadata{DisplayPhoneNumber: sender, PhoneNumberID: sender}
	return Webhook{Object: Object, Entry: []Entry{{ID: sender, Changes: []Change{{Field: "messages", Value: v}}}}}
}

// StatusWebhook writes a status event as a WhatsApp status. phone is the
// person the message went to and sender the sender name it went from. ok is
// false for the gateway's own statuses (switching, ...), which WhatsApp has
// no word for.
func StatusWebhook(ev unify.StatusEvent, phone, sender string) (wh Webhook, ok bool) {
	st := Status{ID: string(ev.MessageID), Status: string(ev.Status), Timestamp: seconds(ev.At), RecipientID: WaID(phone)}
	switch ev.Status {
	case unify.StatusSent, unify.StatusDelivered, unify.StatusRead:
	case unify.StatusFailed:
		e := Error{Code: UndeliverableCode, Title: "Message undeliverable", Message: "Message undeliverable"}
		if ev.Error != "" {
			e.ErrorData = &ErrorData{Details: ev.Error}
		}
		st.Errors = []Error{e}
	default:
		return Webhook{}, false
	}
	return wrap(sender, Value{Statuses: []Status{st}}), true
}

// InboundWebhook writes a reply from a phone as WhatsApp writes what a
// person sends: a tap on a reply button (or its number answered by SMS) as
// an interactive button_reply, a list row as a list_reply, text as text,
// and each file as a message of its own (the first with the text as its
// caption). A location has no WhatsApp shape the gateway knows; it is
// written as text, its label and a map link.
func InboundWebhook(ev unify.InboundEvent) Webhook {
	from := WaID(ev.From)
	base := Message{From: from, ID: ev.ID, Timestamp: seconds(ev.At)}
	if ev.InReplyTo != "" {
		base.Context = &Context{From: ev.To, ID: string(ev.InReplyTo)}
	}
	text := ev.Text
	if ev.Location != nil && text == "" {
		text = locationText(ev.Location)
	}
	var msgs []Message
	switch pb := ev.Postback; {
	case strings.HasPrefix(pb, listPrefix):
		m := base
		m.Type = "interactive"
		m.Interactive = &Interactive{Type: "list_reply", ListReply: &Reply{ID: strings.TrimPrefix(pb, listPrefix), Title: text}}
		msgs = append(msgs, m)
	case pb != "":
		m := base
		m.Type = "interactive"
		m.Interactive = &Interactive{Type: "button_reply", ButtonReply: &Reply{ID: strings.TrimPrefix(pb, buttonPrefix), Title: text}}
		msgs = append(msgs, m)
	case len(ev.Media) == 0:
		m := base
		m.Type = "text"
		m.Text = &Text{Body: text}
		msgs = append(msgs, m)
	}
	for i, md := range ev.Media {
		m := base
		if i > 0 || len(msgs) > 0 {
			m.ID = ev.ID + "." + strconv.Itoa(len(msgs))
		}
		ref := &MediaRef{ID: md.URL, MimeType: md.MimeType}
		if len(msgs) == 0 {
			ref.Caption = text
		}
		switch major, _, _ := strings.Cut(md.MimeType, "/"); major {
		case "image":
			m.Type, m.Image = "image", ref
		case "video":
			m.Type, m.Video = "video", ref
		case "audio":
			m.Type, m.Audio = "audio", ref
		default:
			m.Type, m.Document = "document", ref
		}
		msgs = append(msgs, m)
	}
	return wrap(ev.To, Value{Contacts: []Contact{{WaID: from}}, Messages: msgs})
}

// locationText writes a shared location as its label and a map link, the
// link web fallback pages use too.
func locationText(l *unify.Location) string {
	link := "https://maps.google.com/?q=" + strconv.FormatFloat(l.Lat, 'f', -1, 64) + "," + strconv.FormatFloat(l.Lng, 'f', -1, 64)
	if l.Label == "" {
		return link
	}
	return l.Label + " " + link
}
