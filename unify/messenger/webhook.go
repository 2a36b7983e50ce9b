package messenger

import (
	"strconv"
	"strings"
	"time"

	"gateway/unify"
)

// Postbacks carry where a reply came from. Messenger reports a tapped quick
// reply as a message with quick_reply.payload but a tapped postback button as
// a postback event, and bots handle the two in different places; a unified
// suggestion is just a reply with a postback. So a postback button's payload
// travels with a prefix, and so does a quick reply payload that happens to
// start like one; other quick reply payloads travel unchanged. web_url and
// phone_number buttons, which Messenger never reports, carry a marker that
// makes an answer to them a plain text message.
const (
	prefix           = "messenger:"
	postbackPrefix   = prefix + "postback:"
	quickReplyPrefix = prefix + "quick_reply:"
	actionPostback   = prefix + "action"
)

func buttonPostback(payload string) string { return postbackPrefix + payload }

func quickReplyPostback(payload string) string {
	if strings.HasPrefix(payload, prefix) {
		return quickReplyPrefix + payload
	}
	return payload
}

// Object is the "object" of every Messenger webhook body.
const Object = "page"

// Webhook is the body of a Messenger webhook POST (shared/specs/meta.md §2).
// The gateway writes one entry with one event per POST. The page id (entry
// and recipient id) is the sender name, the person's id (sender.id) is the
// phone's E.164 number, and message ids (mid, mids) are the gateway's ids:
// the inbound event's for a reply, the message's for a receipt.
type Webhook struct {
	Object string  `json:"object"`
	Entry  []Entry `json:"entry"`
}

// Entry is one page's batch of events.
type Entry struct {
	ID        string  `json:"id"`
	Time      int64   `json:"time"` // milliseconds since the epoch
	Messaging []Event `json:"messaging"`
}

// Event is one messaging event: exactly one of Message, Postback, Delivery
// and Read is set.
type Event struct {
	Sender    Party         `json:"sender"`
	Recipient Party         `json:"recipient"`
	Timestamp int64         `json:"timestamp,omitempty"` // milliseconds; Meta's delivery events have none
	Message   *EventMessage `json:"message,omitempty"`
	Postback  *Postback     `json:"postback,omitempty"`
	Delivery  *Delivery     `json:"delivery,omitempty"`
	Read      *Read         `json:"read,omitempty"`
}

// Party is the sender or the recipient of an event.
type Party struct {
	ID string `json:"id"`
}

// EventMessage is a message from the person: text, a tapped quick reply
// (its title as text, its payload), or attachments.
type EventMessage struct {
	MID         string       `json:"mid"`
	Text        string       `json:"text,omitempty"`
	QuickReply  *QuickReply  `json:"quick_reply,omitempty"`
	Attachments []Attachment `json:"attachments,omitempty"`
}

// QuickReply carries the payload of the quick reply the person chose.
type QuickReply struct {
	Payload string `json:"payload"`
}

// Attachment is a file the person sent.
type Attachment struct {
	Type    string            `json:"type"` // image, video, audio or file
	Payload AttachmentPayload `json:"payload"`
}

// AttachmentPayload locates an attachment.
type AttachmentPayload struct {
	URL string `json:"url"`
}

// Postback is a tap on a postback button.
type Postback struct {
	Title   string `json:"title"`
	Payload string `json:"payload"`
}

// Delivery says that messages reached the phone: those in MIDs, and every
// message sent before Watermark.
type Delivery struct {
	MIDs      []string `json:"mids,omitempty"`
	Watermark int64    `json:"watermark"`
}

// Read says that every message sent up to Watermark was read.
type Read struct {
	Watermark int64 `json:"watermark"`
}

func millis(t time.Time) int64 { return t.UnixMilli() }

func wrap(page string, at time.Time, ev Event) Webhook {
	return Webhook{Object: Object, Entry: []Entry{{ID: page, Time: millis(at), Messaging: []Event{ev}}}}
}

// StatusWebhook writes a status event as Messenger's delivery or read event.
// phone is the person the message went to and page the sender name it went
// from. ok is false for the statuses Messenger has no event for: sent (the
// Send API answer stands for it), failed (Messenger reports failures only in
// that answer; GET /v1/messages/{id} tells the rest) and the gateway's own
// (switching, ...).
func StatusWebhook(ev unify.StatusEvent, phone, page string) (wh Webhook, ok bool) {
	e := Event{Sender: Party{ID: phone}, Recipient: Party{ID: page}}
	switch ev.Status {
	case unify.StatusDelivered:
		e.Delivery = &Delivery{MIDs: []string{string(ev.MessageID)}, Watermark: millis(ev.At)}
	case unify.StatusRead:
		e.Timestamp = millis(ev.At)
		e.Read = &Read{Watermark: millis(ev.At)}
	default:
		return Webhook{}, false
	}
	return wrap(page, ev.At, e), true
}

// InboundWebhook writes a reply from a phone as Messenger writes what a
// person sends: a tap (or the number of a quick reply answered by SMS) as a
// message with quick_reply.payload, a postback button as a postback event,
// anything else as a message with its text and attachments. A location has
// no Messenger shape the gateway knows; it is written as text, its label
// and a map link.
func InboundWebhook(ev unify.InboundEvent) Webhook {
	e := Event{Sender: Party{ID: ev.From}, Recipient: Party{ID: ev.To}, Timestamp: millis(ev.At)}
	text := ev.Text
	if ev.Location != nil && text == "" {
		text = locationText(ev.Location)
	}
	switch pb := ev.Postback; {
	case strings.HasPrefix(pb, postbackPrefix):
		e.Postback = &Postback{Title: text, Payload: strings.TrimPrefix(pb, postbackPrefix)}
		return wrap(ev.To, ev.At, e)
	case pb == "" || pb == actionPostback:
		e.Message = &EventMessage{MID: ev.ID, Text: text}
	default:
		e.Message = &EventMessage{MID: ev.ID, Text: text,
			QuickReply: &QuickReply{Payload: strings.TrimPrefix(pb, quickReplyPrefix)}}
	}
	for _, m := range ev.Media {
		e.Message.Attachments = append(e.Message.Attachments, Attachment{Type: attachmentType(m.MimeType), Payload: AttachmentPayload{URL: m.URL}})
	}
	return wrap(ev.To, ev.At, e)
}

// attachmentType is the Send API's attachment type of a MIME type.
func attachmentType(mimeType string) string {
	switch major, _, _ := strings.Cut(mimeType, "/"); major {
	case "image", "video", "audio":
		return major
	}
	return "file"
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
