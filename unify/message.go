package unify

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// MessageID identifies a message accepted by the gateway ("msg_" + 26 hex).
type MessageID string

// AttemptID identifies one attempt of a message on one channel and carrier.
// RBM uses it as the agent message id, so it has the form of a UUID.
type AttemptID string

// Ids start with the time they were made (unix milliseconds) and end with
// random bits. Rows made together then sit together in the database's
// indexes: an insert touches the last page of each index instead of a
// random one, which is most of the cost of a write on a large table.

// NewMessageID returns a fresh message id: "msg_" + 26 hex digits, 12 of
// time and 14 random.
func NewMessageID() MessageID { return MessageID("msg_" + timeOrderedHex()) }

// NewAttemptID returns a fresh RFC 9562 version 7 UUID (time-ordered; a
// UUID in RFC 4122's sense, as RBM requires of message ids).
func NewAttemptID() AttemptID {
	var b [16]byte
	putMillis(b[:], time.Now())
	_, _ = rand.Read(b[6:])
	b[6] = b[6]&0x0f | 0x70
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return AttemptID(h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32])
}

// NewEventID returns a fresh event id ("evt_" + 26 hex, as message ids).
func NewEventID() string { return "evt_" + timeOrderedHex() }

func timeOrderedHex() string {
	var b [13]byte
	putMillis(b[:], time.Now())
	_, _ = rand.Read(b[6:])
	return hex.EncodeToString(b[:])
}

// putMillis writes t's unix milliseconds big-endian into b[0:6].
func putMillis(b []byte, t time.Time) {
	ms := uint64(t.UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
}

// Message is one message of the unified back end, as accepted by the API.
type Message struct {
	ID             MessageID `json:"id"`
	To             string    `json:"to"`   // E.164
	From           string    `json:"from"` // sender name
	Policy         string    `json:"policy"`
	ConversationID string    `json:"conversation_id,omitempty"`
	ClientRef      string    `json:"client_ref,omitempty"`
	// Dialect is the event dialect of the API key that sent the message
	// ("" = unified): its status events and replies use it.
	Dialect   string      `json:"-"`
	Content   Content     `json:"content"`
	Status    Status      `json:"status"`
	Channel   ChannelKind `json:"channel,omitempty"` // of the current or last attempt
	Carrier   string      `json:"carrier,omitempty"`
	Error     string      `json:"error,omitempty"`
	CreatedAt time.Time   `json:"created_at"`
	UpdatedAt time.Time   `json:"updated_at"`
	Attempts  []Attempt   `json:"attempts"`

	// ContentPurged says that retention or an erasure dropped the content
	// (Content is then empty): the UI shows "content purged" in its place.
	ContentPurged bool `json:"content_purged,omitempty"`
}

// Attempt is one try of a message on one channel over one carrier.
type Attempt struct {
	ID        AttemptID   `json:"id"`
	MessageID MessageID   `json:"-"`
	Step      int         `json:"step"` // index of the policy step it implements
	Channel   ChannelKind `json:"channel"`
	Carrier   string      `json:"carrier"`
	Status    Status      `json:"status"`
	Segments  int         `json:"segments"`
	Parts     []Part      `json:"-"`
	Error     string      `json:"error,omitempty"`
	At        time.Time   `json:"at"`
}

// CarrierMessageIDs lists the ids the carrier gave each part, in part order.
func (a *Attempt) CarrierMessageIDs() []string {
	ids := make([]string, 0, len(a.Parts))
	for _, p := range a.Parts {
		if p.Ref.ID != "" {
			ids = append(ids, p.Ref.ID)
		}
	}
	return ids
}

// Part is one piece of an attempt the carrier acknowledged on its own: one
// segment of a long SMS, or the whole message on RCS and MMS.
type Part struct {
	Seq    int
	Ref    ExternalRef
	Status Status
}

// ExternalRef is a carrier's id for something we sent, with the forms it can
// be matched by. SMSCs are inconsistent about ids: a submit_sm_resp can say
// "1A2B" and the receipt "6699", so the SMS channel fills Dec and Hex (the
// numeric value read as decimal and as hexadecimal, in canonical decimal) and
// a receipt matches when any form agrees.
type ExternalRef struct {
	ID  string // as the carrier gave it
	Raw string // lower-cased, leading zeros stripped
	Dec string
	Hex string
}

// SendResult is what a channel reports after the carrier accepted a message.
type SendResult struct {
	Parts    []Part
	Segments int
	Encoding string
}

// Receipt is a delivery report from a carrier about one part we sent.
type Receipt struct {
	Channel ChannelKind
	Carrier string
	Ref     ExternalRef // for RCS and MMS the attempt id or MMSC message id in ID and Raw
	Status  Status      // delivered, failed, read, expired, revoked, or sent (not final)
	Error   string      // carrier's error code or reason, if any
	At      time.Time
}

// Inbound is a message from a phone to one of our senders.
type Inbound struct {
	ExternalID string // carrier's id, for de-duplication; may be empty
	Channel    ChannelKind
	Carrier    string
	From       string // E.164 of the phone
	To         string // our address as the carrier saw it: SMS source or number, RBM agent id, MMS short code
	Text       string
	Postback   string // set by RCS suggestion taps
	Media      []Media
	Location   *Location
	At         time.Time
	// Part is set when this is one piece of a concatenated SMS; the core
	// keeps pieces until the whole text is there.
	Part *InboundPart
}

// InboundPart places a piece of a concatenated inbound SMS in its whole.
type InboundPart struct {
	Ref   string // the concatenation reference, as text (8- or 16-bit)
	Total int
	Seq   int // 1-based
}

// Sender is a "from" of the send API: how the gateway presents itself on
// each channel.
type Sender struct {
	Name          string
	SMSSource     string
	SMSNumbers    []string
	RBMAgent      string
	DefaultPolicy string
}

// Addresses lists the addresses a phone may reply to for this sender.
func (s *Sender) Addresses() []string {
	out := make([]string, 0, 2+len(s.SMSNumbers))
	if s.SMSSource != "" {
		out = append(out, s.SMSSource)
	}
	out = append(out, s.SMSNumbers...)
	if s.RBMAgent != "" {
		out = append(out, s.RBMAgent)
	}
	return out
}

// Idempotency identifies a send request that may be retried: the same Key
// from the same Scope (API key name) with the same Hash of the request body
// gets the same answer; with another Hash it is a conflict.
type Idempotency struct {
	Scope string
	Key   string
	Hash  string
}
