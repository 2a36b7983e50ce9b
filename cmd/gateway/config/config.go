package config

import (
	"encoding/base64"
	"log/slog"
	"time"
)

// File is the whole configuration file. Fields left out of the YAML keep the
// defaults named in their comments.
type File struct {
	// Listen is the host:port of the HTTP listener (default 127.0.0.1:8080).
	Listen string `yaml:"listen"`
	// Database is "sqlite:PATH" (default sqlite:./data/gateway.db) or a
	// postgres:// or postgresql:// URL.
	Database string `yaml:"database"`
	// PublicURL is how phones and carriers reach the gateway (web fallback
	// links, callback URLs), without a trailing slash. Default: "http://" (or
	// "https://" when TLS is set) followed by Listen, with "localhost" for an
	// empty or unspecified host.
	PublicURL string `yaml:"public_url"`
	// TLS, when set, makes the listener serve HTTPS.
	TLS *TLS `yaml:"tls"`
	// APIKeys are the Bearer keys of the REST API; at least one is required.
	APIKeys []APIKey `yaml:"api_keys"`
	// Webhook is where replies and status events go.
	Webhook Webhook `yaml:"webhook"`
	// UI configures the web UI.
	UI UI `yaml:"ui"`
	// Senders are the "from" names of the send API; at least one is required.
	Senders []Sender `yaml:"senders"`
	// Carriers are the carriers messages leave by; at least one is required.
	Carriers []Carrier `yaml:"carriers"`
	// Privacy says how content is protected at rest and how long it is kept.
	Privacy Privacy `yaml:"privacy"`
	// Policies seed the database; the web UI edits them from then on.
	Policies []Policy `yaml:"policies"`
	// Log configures log/slog.
	Log Log `yaml:"log"`
	// Sim, when set, makes the gateway start the carrier simulator
	// (carriers/sim) in process, as the demo does.
	Sim *Sim `yaml:"sim"`
	// Media configures how media URLs are fetched for MMS.
	Media Media `yaml:"media"`

	// lines maps a YAML path to the line it was read from, so that problems
	// found by Validate can point into the file.
	lines map[string]int
}

// TLS names the certificate and key of the HTTPS listener (PEM files).
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// The API dialects an API key may speak.
const (
	DialectUnified   = "unified"   // the gateway's own REST API (CONTRACT.md)
	DialectMessenger = "messenger" // Messenger Send API shaped requests
	DialectWhatsApp  = "whatsapp"  // WhatsApp Cloud API shaped requests
)

// APIKey is one Bearer key of the REST API. Name identifies the caller in
// logs and scopes idempotency keys; the key itself is a secret.
type APIKey struct {
	Name string `yaml:"name"`
	Key  string `yaml:"key"`
	// Dialect is DialectUnified (default), DialectMessenger or DialectWhatsApp:
	// the shape of the events about the messages this key sends (Meta's
	// webhooks for the last two).
	Dialect string `yaml:"dialect"`
	// Sender, optional, names the sender (senders[].name) that Messenger and
	// WhatsApp requests of this key go from when their path names none:
	// Meta's shapes have no "from".
	Sender string `yaml:"sender"`
}

// Webhook is the unified back end's event endpoint. It is optional: without
// a URL, events stay queued in the database until one is configured.
type Webhook struct {
	URL string `yaml:"url"`
	// Secret is the HMAC-SHA256 key of X-Gateway-Signature; required with URL.
	Secret string `yaml:"secret"`
	// AllowHTTP permits plain http to a host that is not loopback.
	AllowHTTP bool `yaml:"allow_http"`
	// Timeout bounds one delivery attempt (default 10s).
	Timeout Duration `yaml:"timeout"`
	// Pipeline, above 1, sends up to that many events on one connection
	// without waiting for each answer (HTTP/1.1 pipelining; default 1, at
	// most 16). For receivers known to answer pipelined requests in order:
	// it saves a write and a read per event on both sides.
	Pipeline int `yaml:"pipeline"`
	// VerifyToken, optional, is the hub.verify_token of Meta's subscription
	// handshake: before the first Messenger or WhatsApp event, the gateway
	// sends GET url?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…
	// and expects the challenge back, as Meta does when a bot's webhook is
	// registered. Empty: no handshake.
	VerifyToken string `yaml:"verify_token"`
}

// UI configures the web UI.
type UI struct {
	// AdminPassword, when set, must be at least 8 characters.
	AdminPassword string `yaml:"admin_password"`
}

// Sender is a "from" of the send API (see unify.Sender).
type Sender struct {
	Name string `yaml:"name"`
	// SMSSource is an alphanumeric sender id (up to 11 GSM-safe characters),
	// a short code (up to 8 digits) or an E.164 long number.
	SMSSource string `yaml:"sms_source"`
	// SMSNumbers is an optional pool of E.164 two-way numbers.
	SMSNumbers []string `yaml:"sms_numbers"`
	// RBMAgent is the RBM agent id.
	RBMAgent string `yaml:"rbm_agent"`
	// DefaultPolicy names a policy of the file, or "default" (the default).
	DefaultPolicy string `yaml:"default_policy"`
	// Retention, when set, overrides privacy.content_retention and
	// privacy.metadata_retention for this sender's messages and replies
	// (one-time codes: content 0s).
	Retention *Retention `yaml:"retention"`
}

// Retention overrides the global retention for one sender; a field left out
// keeps the global value.
type Retention struct {
	Content  *Duration `yaml:"content"`
	Metadata *Duration `yaml:"metadata"`
}

// Carrier is one carrier and the links the gateway holds to it; at least one
// of SMPP, RBM and MM7 is required.
type Carrier struct {
	// Name identifies the carrier in URLs (/webhooks/rbm/{name}) and in the
	// database: lower-case letters, digits, '-' and '_', and stable.
	Name string `yaml:"name"`
	// Prefixes are E.164 prefixes ("+33"); the longest matching prefix of
	// any carrier wins.
	Prefixes []string `yaml:"prefixes"`
	SMPP     *SMPP    `yaml:"smpp"`
	RBM      *RBM     `yaml:"rbm"`
	MM7      *MM7     `yaml:"mm7"`
}

// SMPP is an SMPP 3.4 link to a carrier's SMSC (shared/specs/smpp.md).
type SMPP struct {
	Address    string `yaml:"address"`     // host:port
	SystemID   string `yaml:"system_id"`   // 1-15 characters (C-Octet 16)
	Password   string `yaml:"password"`    // up to 8 characters (C-Octet 9)
	SystemType string `yaml:"system_type"` // up to 12 characters (C-Octet 13)
	// Binds is the number of transceiver binds held open (default 1).
	Binds int `yaml:"binds"`
	// TPS is submit_sm per second across the carrier's binds (default 100).
	TPS int `yaml:"tps"`
	// Window is the number of unacknowledged PDUs per bind (default 10).
	Window int `yaml:"window"`
	// EnquireLink is the keep-alive interval (default 30s).
	EnquireLink Duration `yaml:"enquire_link"`
	// ResponseTimeout bounds the wait for a response PDU (default 10s).
	ResponseTimeout Duration `yaml:"response_timeout"`
	TLS             bool     `yaml:"tls"`
	// CAFile is a PEM bundle to verify the SMSC's certificate (needs TLS).
	CAFile string `yaml:"ca_file"`
	// SourceTON, SourceNPI, DestTON and DestNPI override the TON/NPI the
	// gateway derives from the address (smpp.md §3.1); nil: derived.
	SourceTON *int `yaml:"source_ton"`
	SourceNPI *int `yaml:"source_npi"`
	DestTON   *int `yaml:"dest_ton"`
	DestNPI   *int `yaml:"dest_npi"`
}

// RBM is a link to Google's RBM API (shared/specs/rbm.md).
type RBM struct {
	// BaseURL defaults to https://rcsbusinessmessaging.googleapis.com.
	BaseURL string `yaml:"base_url"`
	// TokenURL defaults to https://oauth2.googleapis.com/token.
	TokenURL string `yaml:"token_url"`
	// CredentialsFile is a service-account JSON key; exactly one of it and
	// Token is required.
	CredentialsFile string `yaml:"credentials_file"`
	// Token is a static bearer token (tests, simulators).
	Token string `yaml:"token"`
	// WebhookSecret verifies RBM callbacks.
	WebhookSecret string `yaml:"webhook_secret"`
	// Timeout bounds one API call (default 10s).
	Timeout Duration `yaml:"timeout"`
}

// MM7 is a link to a carrier's MMSC (shared/specs/mm7.md).
type MM7 struct {
	URL         string `yaml:"url"`
	VASPID      string `yaml:"vasp_id"`
	VASID       string `yaml:"vas_id"`
	ServiceCode string `yaml:"service_code"`
	// Username and Password, when set, are sent as HTTP basic auth.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// MaxSize is the largest MMS in bytes (default 614400).
	MaxSize int `yaml:"max_size"`
	// Namespace is the MM7 schema namespace (default REL-6-MM7-1-4).
	Namespace string `yaml:"namespace"`
	// Version is the MM7Version element matching Namespace (default 6.8.0).
	Version string `yaml:"version"`
}

// Privacy says how content is sealed at rest and how long it is kept.
type Privacy struct {
	// EncryptionKey is the standard base64 of a 32-byte AES-256-GCM key. It is
	// required unless Encryption is "off".
	EncryptionKey string `yaml:"encryption_key"`
	// Encryption is "" or "on" (content sealed) or "off" (stored in clear).
	Encryption string `yaml:"encryption"`
	// ContentRetention is how long bodies, media and inbound texts are kept
	// after a message is final (default 168h; 0s drops them at once).
	ContentRetention Duration `yaml:"content_retention"`
	// MetadataRetention is how long the rest of a message is kept (default 2160h).
	MetadataRetention Duration `yaml:"metadata_retention"`
	// OldEncryptionKeys are keys being rotated out (standard base64 of 32
	// bytes each): content sealed under them stays readable until
	// "gateway rotate-key" has re-sealed it under EncryptionKey.
	OldEncryptionKeys []string `yaml:"old_encryption_keys"`
}

// OldKeys returns the decoded OldEncryptionKeys (those that decode;
// Validate reports the others).
func (p Privacy) OldKeys() [][]byte {
	var out [][]byte
	for _, s := range p.OldEncryptionKeys {
		if k, err := base64.StdEncoding.DecodeString(s); err == nil && len(k) == 32 {
			out = append(out, k)
		}
	}
	return out
}

// SenderRetention returns the content and metadata retention of a sender's
// messages: its override where it has one, the global value otherwise.
func (f *File) SenderRetention(s Sender) (content, metadata time.Duration) {
	content, metadata = time.Duration(f.Privacy.ContentRetention), time.Duration(f.Privacy.MetadataRetention)
	if s.Retention != nil {
		if s.Retention.Content != nil {
			content = time.Duration(*s.Retention.Content)
		}
		if s.Retention.Metadata != nil {
			metadata = time.Duration(*s.Retention.Metadata)
		}
	}
	return content, metadata
}

// Encrypted reports whether content is to be sealed at rest.
func (p Privacy) Encrypted() bool { return p.Encryption != "off" }

// Key returns the decoded encryption key, or nil when there is none or it is
// not valid base64 (Validate reports that).
func (p Privacy) Key() []byte {
	k, err := base64.StdEncoding.DecodeString(p.EncryptionKey)
	if err != nil || len(k) == 0 {
		return nil
	}
	return k
}

// Policy is a fallback policy (see unify.Policy).
type Policy struct {
	Name  string     `yaml:"name"`
	Steps []Step     `yaml:"steps"`
	SMS   SMSOptions `yaml:"sms"`
	MMS   MMSOptions `yaml:"mms"`
	// OnRevokeFailure is "suppress" (default) or "send_anyway".
	OnRevokeFailure string `yaml:"on_revoke_failure"`
}

// Step is one channel of a policy: "rcs", "mms" or "sms", and how long to
// wait for delivery before the next step (0: wait for a final receipt).
type Step struct {
	Channel string   `yaml:"channel"`
	Timeout Duration `yaml:"timeout"`
}

// SMSOptions shape rich content written as SMS.
type SMSOptions struct {
	// MaxSegments caps the segments of one message (0: no cap).
	MaxSegments int `yaml:"max_segments"`
	// NumberReplies lists suggested replies as "Reply 1 for …". It defaults
	// to true in the file, as in unify.DefaultPolicy, because numbered
	// replies are how an SMS user answers a suggestion.
	NumberReplies bool `yaml:"number_replies"`
	// WebLink adds a link to a page showing the full content.
	WebLink bool `yaml:"web_link"`
}

// MMSOptions shape MMS content.
type MMSOptions struct {
	// MaxSize caps an MMS in bytes (0: the carrier's max_size).
	MaxSize int `yaml:"max_size"`
}

// Log configures log/slog.
type Log struct {
	Level  string `yaml:"level"`  // debug, info (default), warn or error
	Format string `yaml:"format"` // text (default) or json
}

// SlogLevel returns Level as a slog.Level (info when unknown).
func (l Log) SlogLevel() slog.Level {
	switch l.Level {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// Sim is the in-process carrier simulator's listeners.
type Sim struct {
	SMPP string `yaml:"smpp"` // default 127.0.0.1:2775
	HTTP string `yaml:"http"` // default 127.0.0.1:8090
	// RCSNumbers are the numbers (or prefixes ending in '*') the simulated
	// RBM API treats as RCS-capable.
	RCSNumbers []string `yaml:"rcs_numbers"`
	// AutoDeliver makes the simulator report RCS and MMS messages delivered
	// this long after they are sent (0: only on command).
	AutoDeliver Duration `yaml:"auto_deliver"`
}

// Media says how media URLs are fetched (MMS): from the public internet
// only, unless the operator opens loopback or private addresses.
type Media struct {
	AllowLoopback bool `yaml:"allow_loopback"`
	AllowPrivate  bool `yaml:"allow_private"`
	// MaxSize caps one fetched file in bytes (default 5 MiB).
	MaxSize int64 `yaml:"max_size"`
	// Timeout bounds one fetch (default 10s).
	Timeout Duration `yaml:"timeout"`
}

// Duration is a time.Duration read from a Go duration string ("60s", "10m",
// "168h", "0s"); a bare number other than 0 is refused because its unit
// would be a guess.
type Duration time.Duration

// Duration returns d as a time.Duration.
func (d Duration) Duration() time.Duration { return time.Duration(d) }

// String formats d like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }
