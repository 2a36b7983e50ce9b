package sim

import (
	"log/slog"
	"time"
)

// Config configures a Sim. The zero value of every field has a usable default
// except SMPPAddr, which must be set ("127.0.0.1:0" picks a free port).
type Config struct {
	// SMPPAddr is the TCP address the SMSC listens on.
	SMPPAddr string
	// HTTPAddr is the address of the HTTP control API; empty means no HTTP
	// server (Handler can still be mounted elsewhere).
	HTTPAddr string
	// SystemID and Password are the only credentials accepted by binds: a wrong
	// system_id gets ESME_RINVSYSID, a wrong password ESME_RINVPASWD.
	SystemID, Password string
	// MaxBinds > 0 limits simultaneous binds; binds beyond it get ESME_RBINDFAIL.
	MaxBinds int
	// ReceiptDelay is the delay before an automatic DELIVRD receipt for each
	// submitted part (0 = 50ms default, < 0 = at once).
	ReceiptDelay time.Duration
	// AutoReceipts turns on automatic DELIVRD receipts for every accepted part
	// whose registered_delivery asks for one (bits 1-0 == 01). It is a plain
	// bool: false (the zero value) means no automatic receipts; cmd/carriersim
	// turns it on by default. SetAutoReceipts changes it at run time.
	AutoReceipts bool
	// IDFormat is the form of message ids in submit_sm_resp: "dec" (default,
	// e.g. "1000123") or "hex" (lower-case hexadecimal of the same counter).
	IDFormat string
	// EnquireLinkTimeout > 0 closes a connection that sent nothing for longer
	// than this (SMPP's inactivity timer).
	EnquireLinkTimeout time.Duration
	// DeliverTimeout is how long a deliver_sm waits for its deliver_sm_resp
	// before it is considered lost and redelivered (default 5s).
	DeliverTimeout time.Duration
	// RedeliverDelay is the pause before a deliver_sm that was refused, timed
	// out or lost with its connection is sent again (default 200ms). It is
	// also how often a deliver_sm waiting for a receiver bind is retried.
	RedeliverDelay time.Duration
	// MaxRedeliveries is how many times a deliver_sm is sent again after a
	// failed attempt before it is dropped and counted in Stats.DeliverDropped
	// (default 10). Waiting for a bind does not use up redeliveries.
	MaxRedeliveries int
	// NowFunc is the clock for recorded times and receipt dates (default time.Now).
	NowFunc func() time.Time
	// Logger receives connection-level events (default: discard).
	Logger *slog.Logger

	// RBMToken is the only bearer token the RBM-compatible API accepts; the
	// token endpoint hands it out (default DefaultRBMToken).
	RBMToken string
	// RCSNumbers are the RCS-capable numbers: E.164 numbers ("+33612345678")
	// or prefixes ending in '*' ("+336*", "*" for every number). Capability
	// checks and sends to other numbers answer 404 NOT_FOUND. SetRCSCapable
	// overrides single numbers at run time.
	RCSNumbers []string
	// RBMCallbackURL is the gateway's RBM webhook (POST /webhooks/rbm/{carrier});
	// empty: no callbacks until SetRBMCallback. RBMClientToken is the client
	// token that signs them (X-Goog-Signature).
	RBMCallbackURL, RBMClientToken string
	// RBMAutoDeliver > 0 sends DELIVERED that long after an accepted agent
	// message unless its number is offline (SetRBMOffline); 0 delivers only on
	// command (RBMDeliver).
	RBMAutoDeliver time.Duration
	// RBMAgentID, when set, is the only agentId accepted (others get 403
	// PERMISSION_DENIED); it is also the agent of calls without agentId.
	RBMAgentID string

	// MM7CallbackURL is the gateway's MM7 webhook (POST /webhooks/mm7/{carrier})
	// for DeliveryReportReq and DeliverReq; empty: none until SetMM7Callback.
	MM7CallbackURL string
	// MM7VASPID, when set, is the only SenderIdentification/VASPID accepted
	// (others get 4001 Improper identification).
	MM7VASPID string
	// MM7AutoReport > 0 sends a DeliveryReportReq "Retrieved" that long after
	// an accepted SubmitReq that asked for a report (DeliveryReport true).
	MM7AutoReport time.Duration
	// MM7MaxSize > 0 refuses a SubmitReq whose decoded content (SMIL and
	// media) is larger, with 2004 Multimedia content refused.
	MM7MaxSize int
	// MM7Namespace and MM7Version are used for MO DeliverReq (default the
	// REL-6-MM7-1-4 namespace and 6.8.0). Responses and delivery reports use
	// the namespace and version of the request they belong to.
	MM7Namespace, MM7Version string

	// CallbackRetryDelay is the first pause before a callback (RBM or MM7) that
	// was not acknowledged is posted again; it doubles up to 5s (default 200ms).
	CallbackRetryDelay time.Duration
	// CallbackAttempts is how many times a callback is posted before it is
	// dropped and counted in Stats (default 8).
	CallbackAttempts int
	// CallbackTimeout bounds one callback request (default 5s).
	CallbackTimeout time.Duration
}

// Receipt describes a delivery receipt sent on demand with SendReceipt.
type Receipt struct {
	// MessageID is the id assigned in submit_sm_resp.
	MessageID string `json:"message_id"`
	// Stat is the 7-letter state of the receipt text: DELIVRD, EXPIRED,
	// DELETED, UNDELIV, ACCEPTD, UNKNOWN, REJECTD or ENROUTE (default DELIVRD).
	Stat string `json:"stat,omitempty"`
	// Err is the 3-character err: field (default "000" for DELIVRD, else "001").
	Err string `json:"err,omitempty"`
	// IDForm rewrites the id in the receipt the way real SMSCs get it wrong:
	// "" as assigned, "hex" or "dec" (the id's numeric value in that base),
	// "upper" (upper-case), "zeros" (left-padded with zeros to 10 characters,
	// or two zeros prepended if already that long).
	IDForm string `json:"id_form,omitempty"`
	// TextOnly sends no TLVs (only the id:... text).
	TextOnly bool `json:"text_only,omitempty"`
	// TLVOnly sends an empty short_message (only receipted_message_id and
	// message_state TLVs).
	TLVOnly bool `json:"tlv_only,omitempty"`
}

// MO describes a mobile-originated message injected with InjectMO.
type MO struct {
	From string `json:"from"` // handset: "+33612345678" or digits
	To   string `json:"to"`   // the gateway's number, short code or alphanumeric
	Text string `json:"text"`
	// Encoding is "" (GSM 03.38 if every rune fits, else UCS-2), "gsm7" or "ucs2".
	Encoding string `json:"encoding,omitempty"`
	// Parts > 1 forces concatenation into exactly that many parts; 0 or 1 means
	// automatic (one part up to 160 septets / 70 UTF-16 units, else 153 / 67
	// per part, 152 / 66 with a 16-bit reference).
	Parts int `json:"parts,omitempty"`
	// Ref16 uses the 16-bit reference concatenation IE (IEI 0x08).
	Ref16 bool `json:"ref16,omitempty"`
	// Reverse delivers the parts in reverse order.
	Reverse bool `json:"reverse,omitempty"`
	// Payload puts the whole text in the message_payload TLV with an empty
	// short_message (no concatenation).
	Payload bool `json:"payload,omitempty"`
	// Gap delays each part after the first by this much (JSON: nanoseconds).
	Gap time.Duration `json:"gap,omitempty"`
}

// Concat is the concatenation information of one submitted part, from a UDH
// (IEI 0x00 or 0x08) or from SAR TLVs.
type Concat struct {
	Ref   uint16 `json:"ref"`
	Total int    `json:"total"`
	Seq   int    `json:"seq"`
	Ref16 bool   `json:"ref16,omitempty"` // 16-bit reference (IEI 0x08 or SAR)
	SAR   bool   `json:"sar,omitempty"`   // from sar_* TLVs rather than a UDH
}

// Submit is one submit_sm as received, accepted or not.
type Submit struct {
	At        time.Time `json:"at"`
	Bind      int       `json:"bind"` // connection number, from 1
	Seq       uint32    `json:"seq"`
	MessageID string    `json:"message_id"` // "" if refused or stalled
	Status    uint32    `json:"status"`     // command_status answered
	Stalled   bool      `json:"stalled,omitempty"`

	ServiceType        string  `json:"service_type"`
	SourceTON          byte    `json:"source_ton"`
	SourceNPI          byte    `json:"source_npi"`
	Source             string  `json:"source"`
	DestTON            byte    `json:"dest_ton"`
	DestNPI            byte    `json:"dest_npi"`
	Dest               string  `json:"dest"`
	EsmClass           byte    `json:"esm_class"`
	DataCoding         byte    `json:"data_coding"`
	RegisteredDelivery byte    `json:"registered_delivery"`
	UDH                []byte  `json:"udh,omitempty"`       // including the UDHL octet
	UserData           []byte  `json:"user_data,omitempty"` // short_message (or message_payload) without the UDH
	Payload            bool    `json:"payload,omitempty"`   // text came in message_payload
	Concat             *Concat `json:"concat,omitempty"`
	// Text is the decoded text of this part ("" for binary data codings).
	// Decoding is per part, so a part that splits an escape or a surrogate
	// pair shows U+FFFD here and in Message.Text.
	Text string `json:"text"`
	// TLVs holds the optional parameters received, by tag.
	TLVs map[uint16][]byte `json:"tlvs,omitempty"`
}

// Message is a logical message: accepted parts joined by (source, dest, ref,
// total) in sequence order, or a single unconcatenated submit.
type Message struct {
	Source     string   `json:"source"`
	Dest       string   `json:"dest"`
	DataCoding byte     `json:"data_coding"`
	Parts      []Submit `json:"parts"`
	Text       string   `json:"text"`
	Complete   bool     `json:"complete"`
}

// Stats are counters since Start. They are cumulative: Reset does not clear them.
type Stats struct {
	Binds         int `json:"binds"`          // currently bound connections
	MaxBinds      int `json:"max_binds"`      // most simultaneous binds seen
	BindAttempts  int `json:"bind_attempts"`  // bind PDUs received
	BindsRefused  int `json:"binds_refused"`  // binds answered with an error
	Connections   int `json:"connections"`    // TCP connections accepted
	Unbinds       int `json:"unbinds"`        // unbind PDUs received
	EnquireLinks  int `json:"enquire_links"`  // enquire_link PDUs received
	GenericNacks  int `json:"generic_nacks"`  // generic_nack sent
	Submits       int `json:"submits"`        // submit_sm received
	Accepted      int `json:"accepted"`       // answered ESME_ROK
	Rejected      int `json:"rejected"`       // answered with a validation error
	Throttled     int `json:"throttled"`      // answered ESME_RTHROTTLED
	QueueFull     int `json:"queue_full"`     // answered ESME_RMSGQFUL
	Stalled       int `json:"stalled"`        // never answered (Stall)
	ReceiptsSent  int `json:"receipts_sent"`  // receipt deliver_sm first attempts
	MOSent        int `json:"mo_sent"`        // MO deliver_sm parts first attempts
	DeliverSent   int `json:"deliver_sent"`   // deliver_sm written, retries included
	DeliverAcked  int `json:"deliver_acked"`  // deliver_sm_resp ESME_ROK
	DeliverNacked int `json:"deliver_nacked"` // deliver_sm_resp error or generic_nack
	// DeliverTimeouts counts deliver_sm without an answer within DeliverTimeout.
	DeliverTimeouts int `json:"deliver_timeouts"`
	// DeliverRetried counts redeliveries after a nack, a timeout or a lost connection.
	DeliverRetried int `json:"deliver_retried"`
	// DeliverDropped counts deliver_sm given up after MaxRedeliveries.
	DeliverDropped int `json:"deliver_dropped"`
	// DeliverPending counts receipts and MO parts not yet acknowledged.
	DeliverPending int `json:"deliver_pending"`

	RBMCapabilityCalls int `json:"rbm_capability_calls"` // capability requests, whatever the answer
	RBMAgentMessages   int `json:"rbm_agent_messages"`   // agent messages accepted and stored
	RBMDuplicates      int `json:"rbm_duplicates"`       // agent messages and events ignored as repeats
	RBMRejected        int `json:"rbm_rejected"`         // API calls answered 4xx (injected faults excluded)
	RBMFaults          int `json:"rbm_faults"`           // API calls answered with an injected fault (RBMFail)
	RBMRevoked         int `json:"rbm_revoked"`          // agent messages revoked by DELETE
	RBMAgentEvents     int `json:"rbm_agent_events"`     // agent events (READ, IS_TYPING) accepted
	RBMTokens          int `json:"rbm_tokens"`           // access tokens issued
	RBMCallbacks       int `json:"rbm_callbacks"`        // RBM callbacks queued (first attempts)
	RBMCallbacksAcked  int `json:"rbm_callbacks_acked"`  // RBM callbacks answered 200
	RBMCallbackRetries int `json:"rbm_callback_retries"` // RBM callback attempts after a failure
	RBMCallbacksLost   int `json:"rbm_callbacks_lost"`   // RBM callbacks given up after CallbackAttempts
	MM7Submits         int `json:"mm7_submits"`          // POST /mm7 requests received
	MM7Accepted        int `json:"mm7_accepted"`         // SubmitReq answered 1000
	MM7Rejected        int `json:"mm7_rejected"`         // answered with a SOAP Fault (injected included)
	MM7Reports         int `json:"mm7_reports"`          // DeliveryReportReq queued
	MM7MO              int `json:"mm7_mo"`               // DeliverReq queued
	MM7CallbacksAcked  int `json:"mm7_callbacks_acked"`  // MM7 callbacks answered with a 1xxx …Rsp
	MM7CallbackRetries int `json:"mm7_callback_retries"` // MM7 callback attempts after a failure
	MM7CallbacksLost   int `json:"mm7_callbacks_lost"`   // MM7 callbacks given up after CallbackAttempts
}
