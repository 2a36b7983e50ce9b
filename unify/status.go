package unify

// Status is where a message, or one attempt of it, stands. Messages use the
// first seven values; attempts also use the last three.
type Status string

// Message and attempt statuses, in the order a message normally goes through them.
const (
	StatusAccepted  Status = "accepted"
	StatusSending   Status = "sending"
	StatusSent      Status = "sent"
	StatusDelivered Status = "delivered"
	StatusRead      Status = "read" // RCS only
	StatusFailed    Status = "failed"
	StatusSwitching Status = "switching" // a fallback is moving the message to its next channel

	// Attempt-only statuses.
	StatusPartiallyDelivered Status = "partially_delivered" // some parts of a long SMS receipted
	StatusRevoked            Status = "revoked"
	StatusExpired            Status = "expired"
)

// Final reports whether nothing more is expected to change the status.
// Delivered is not final for RCS (a read may follow) but is treated as final
// for retention and fallback: the content reached the phone.
func (s Status) Final() bool {
	switch s {
	case StatusDelivered, StatusRead, StatusFailed, StatusRevoked, StatusExpired:
		return true
	}
	return false
}

// rank orders message statuses so that a late or duplicate receipt never moves
// a message backwards (a "sent" after "delivered" is ignored).
func (s Status) rank() int {
	switch s {
	case StatusAccepted:
		return 0
	case StatusSwitching:
		return 1
	case StatusSending:
		return 2
	case StatusSent:
		return 3
	case StatusPartiallyDelivered:
		return 4
	case StatusDelivered:
		return 5
	case StatusRead:
		return 6
	case StatusFailed, StatusRevoked, StatusExpired:
		return 7
	}
	return -1
}

// Advances reports whether moving from s to next goes forward. Failed and the
// other terminal outcomes can only be reached from a non-final status.
func (s Status) Advances(next Status) bool {
	if s.Final() && !(s == StatusDelivered && next == StatusRead) {
		return false
	}
	return next.rank() > s.rank()
}

// ChannelKind names a channel a message can travel on.
type ChannelKind string

// The channels the gateway knows.
const (
	ChannelRCS ChannelKind = "rcs"
	ChannelMMS ChannelKind = "mms"
	ChannelSMS ChannelKind = "sms"
	// ChannelWeb only ever names where a reply came from: a tap on the web
	// fallback page an SMS linked to.
	ChannelWeb ChannelKind = "web"
)

// Valid reports whether c is one of the known channels.
func (c ChannelKind) Valid() bool {
	return c == ChannelRCS || c == ChannelMMS || c == ChannelSMS
}

// Protection says how a channel protects the content it carries. None of the
// carrier channels is end-to-end encrypted; the unified back end shows this to
// its users because the gateway is where their end-to-end encryption ends.
type Protection struct {
	EndToEnd  bool   `json:"end_to_end"`
	Transport string `json:"transport"` // "tls" or "none"
}

// ProtectionOf returns the protection of a channel as the gateway uses it:
// RBM and MM7 travel over HTTPS, SMPP in clear unless the carrier link uses TLS.
func ProtectionOf(c ChannelKind, linkTLS bool) Protection {
	switch c {
	case ChannelRCS:
		return Protection{Transport: "tls"}
	case ChannelSMS, ChannelMMS:
		if linkTLS {
			return Protection{Transport: "tls"}
		}
	}
	return Protection{Transport: "none"}
}
