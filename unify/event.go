package unify

import "time"

// Event types sent to the unified back end.
const (
	EventStatus         = "message.status"
	EventInbound        = "message.inbound"
	EventConsentChanged = "consent.changed"
	EventSubjectErased  = "subject.erased"
)

// StatusEvent is the body of a message.status event.
type StatusEvent struct {
	Type       string      `json:"type"`
	ID         string      `json:"id"`
	MessageID  MessageID   `json:"message_id"`
	ClientRef  string      `json:"client_ref,omitempty"`
	To         string      `json:"to,omitempty"`   // the phone
	From       string      `json:"from,omitempty"` // the sender name
	Status     Status      `json:"status"`
	Channel    ChannelKind `json:"channel,omitempty"`
	Carrier    string      `json:"carrier,omitempty"`
	Error      string      `json:"error,omitempty"`
	Protection *Protection `json:"protection,omitempty"`
	At         time.Time   `json:"at"`
}

// InboundEvent is the body of a message.inbound event.
type InboundEvent struct {
	Type           string      `json:"type"`
	ID             string      `json:"id"`
	From           string      `json:"from"`
	To             string      `json:"to"` // the sender name
	Channel        ChannelKind `json:"channel"`
	Carrier        string      `json:"carrier,omitempty"`
	ConversationID string      `json:"conversation_id,omitempty"`
	InReplyTo      MessageID   `json:"in_reply_to,omitempty"`
	Text           string      `json:"text"`
	Postback       string      `json:"postback,omitempty"`
	Media          []Media     `json:"media"`
	Location       *Location   `json:"location"`
	At             time.Time   `json:"at"`
}

// OutboxEvent is an event waiting in the store to be delivered. Key orders
// delivery: events with the same key are delivered one at a time, oldest
// first (a message's id for its status events).
type OutboxEvent struct {
	// Seq is the event's place in the store, set when it is stored: the
	// outbox records deliveries and failures by it.
	Seq       int64
	ID        string
	Key       string
	Type      string
	Dialect   string // of the message it is about ("" = unified)
	Body      []byte
	Attempts  int
	CreatedAt time.Time
}
