package unify

import (
	"encoding/json"
	"time"
)

// Rendering is what one channel would carry for a message: the answer of
// /v1/previews and the UI's live preview, produced by the same code that
// sends.
type Rendering struct {
	Channel    ChannelKind `json:"channel"`
	Skipped    string      `json:"skipped,omitempty"` // why this channel cannot carry the message
	Protection Protection  `json:"protection"`
	// RBM is the AgentMessage JSON the RBM API would receive.
	RBM json.RawMessage `json:"rbm,omitempty"`
	MMS *MMSRendering   `json:"mms,omitempty"`
	SMS *SMSRendering   `json:"sms,omitempty"`
}

// SMSRendering is the text of an SMS with how it is encoded.
type SMSRendering struct {
	Text     string `json:"text"`
	Encoding string `json:"encoding"` // "gsm7" or "ucs2"
	Segments int    `json:"segments"`
	Units    int    `json:"units"` // septets (gsm7) or UTF-16 code units (ucs2)
}

// MMSRendering is the multipart content of an MMS.
type MMSRendering struct {
	Subject   string    `json:"subject,omitempty"`
	SMIL      string    `json:"smil"`
	Parts     []MMSPart `json:"parts"`
	TotalSize int       `json:"total_size"` // bytes, as submitted (after scaling)
}

// MMSPart is one part of an MMS.
type MMSPart struct {
	ContentID   string `json:"content_id"`
	ContentType string `json:"content_type"`
	Size        int    `json:"size"`
	Text        string `json:"text,omitempty"` // text parts
	SourceURL   string `json:"source_url,omitempty"`
}

// ConsentChange is a person opting out of, or back into, a sender's
// messages: STOP/START by SMS or MMS, UNSUBSCRIBE/SUBSCRIBE on RCS.
type ConsentChange struct {
	Channel  ChannelKind
	Carrier  string
	Number   string // E.164 of the person
	To       string // the sender's address as the carrier saw it (SMS source, number, RBM agent)
	OptedOut bool
	Keyword  string // what the person sent or the RBM event name
	At       time.Time
}
