package rcs

import (
	"container/list"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"gateway/unify"
)

// SignatureHeader carries base64 HMAC-SHA512(webhook secret, decoded data)
// on every RBM callback (rbm.md §8.2).
const SignatureHeader = "X-Goog-Signature"

// RBM event types seen on the webhook (rbm.md §8.3).
const (
	eventDelivered          = "DELIVERED"
	eventRead               = "READ"
	eventIsTyping           = "IS_TYPING"
	eventSubscribe          = "SUBSCRIBE"
	eventUnsubscribe        = "UNSUBSCRIBE"
	eventTTLRevoked         = "TTL_EXPIRATION_REVOKED"
	eventTTLRevokeFailed    = "TTL_EXPIRATION_REVOKE_FAILED"
	maxCallbackBody         = 1 << 20
	readEventTimeout        = 30 * time.Second
	recentCallbacksCapacity = 4096
)

// envelope is the Pub/Sub-push-style body of a callback, or the
// registration handshake (rbm.md §8.1, §8.2).
type envelope struct {
	ClientToken *string `json:"clientToken"`
	Secret      *string `json:"secret"`
	Message     *struct {
		Data *string `json:"data"`
	} `json:"message"`
}

// payload is the decoded data: a UserMessage, a UserEvent or a ServerEvent,
// told apart by the fields present (rbm.md §8.3).
type payload struct {
	SenderPhoneNumber string `json:"senderPhoneNumber"`
	// PhoneNumber may name the phone of a ServerEvent (field name not
	// confirmed); only used when senderPhoneNumber is absent.
	PhoneNumber string `json:"phoneNumber"`
	MessageID   string `json:"messageId"`
	EventID     string `json:"eventId"`
	EventType   string `json:"eventType"`
	SendTime    string `json:"sendTime"`
	AgentID     string `json:"agentId"`

	Text     *string `json:"text"`
	UserFile *struct {
		Thumbnail *fileInfo `json:"thumbnail"`
		Payload   *fileInfo `json:"payload"`
	} `json:"userFile"`
	Location *struct {
		Latitude  *float64 `json:"latitude"`
		Longitude *float64 `json:"longitude"`
	} `json:"location"`
	SuggestionResponse *struct {
		PostbackData string `json:"postbackData"`
		Text         string `json:"text"`
		Type         string `json:"type"`
	} `json:"suggestionResponse"`
}

type fileInfo struct {
	MimeType      string `json:"mimeType"`
	FileSizeBytes int64  `json:"fileSizeBytes"`
	FileURI       string `json:"fileUri"`
	FileName      string `json:"fileName"`
}

// HandleCallback is the logic of POST /webhooks/rbm/{carrier}: the web layer
// passes the request's headers and body and writes back status, with reply
// as a text/plain body when it is not empty. It blocks until what the
// callback reports is recorded by the sink.
//
// Statuses: 200 done (or a duplicate, or an event the gateway ignores); 400
// malformed; 401 bad signature or client token; 404 unknown carrier; 500
// the sink failed, so RBM should deliver the callback again. err says why
// for anything but 200 and never holds a secret.
//
// The registration handshake {"clientToken","secret"} is answered 200 with
// the secret as reply when clientToken is the carrier's webhook secret.
func (c *Channel) HandleCallback(ctx context.Context, carrier string, header http.Header, body []byte) (status int, reply string, err error) {
	secret, ok := c.cfg.Secrets[carrier]
	if !ok || secret == "" {
		return http.StatusNotFound, "", fmt.Errorf("rcs: no webhook secret for carrier %q", carrier)
	}
	if len(body) > maxCallbackBody {
		c.cfg.Metrics.callback(carrier, "unknown", "malformed")
		return http.StatusBadRequest, "", errors.New("rcs: callback body too large")
	}
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		c.cfg.Metrics.callback(carrier, "unknown", "malformed")
		return http.StatusBadRequest, "", fmt.Errorf("rcs: callback is not a JSON object: %w", err)
	}
	if env.ClientToken != nil && env.Message == nil {
		return c.handshake(carrier, secret, env)
	}
	if env.Message == nil || env.Message.Data == nil || *env.Message.Data == "" {
		c.cfg.Metrics.callback(carrier, "unknown", "malformed")
		return http.StatusBadRequest, "", errors.New("rcs: callback has no message.data")
	}
	raw, err := base64.StdEncoding.DecodeString(*env.Message.Data)
	if err != nil {
		c.cfg.Metrics.callback(carrier, "unknown", "malformed")
		return http.StatusBadRequest, "", errors.New("rcs: message.data is not base64")
	}
	if !validSignature(secret, raw, header.Get(SignatureHeader)) {
		c.cfg.Metrics.callback(carrier, "unknown", "bad_signature")
		c.log.Warn("rbm callback with a bad signature", "carrier", carrier)
		return http.StatusUnauthorized, "", errors.New("rcs: bad callback signature")
	}
	var p payload
	if err := json.Unmarshal(raw, &p); err != nil {
		c.cfg.Metrics.callback(carrier, "unknown", "malformed")
		return http.StatusBadRequest, "", fmt.Errorf("rcs: callback data is not a JSON object: %w", err)
	}
	kind, key, err := classifyPayload(&p)
	if err != nil {
		c.cfg.Metrics.callback(carrier, kind, "malformed")
		return http.StatusBadRequest, "", err
	}
	key = carrier + "|" + key
	if c.seen.has(key) {
		c.cfg.Metrics.callback(carrier, kind, "duplicate")
		return http.StatusOK, "", nil
	}
	if err := c.apply(ctx, carrier, kind, &p); err != nil {
		c.cfg.Metrics.callback(carrier, kind, "sink_error")
		return http.StatusInternalServerError, "", err
	}
	c.seen.add(key)
	c.cfg.Metrics.callback(carrier, kind, "ok")
	return http.StatusOK, "", nil
}

func (c *Channel) handshake(carrier, secret string, env envelope) (int, string, error) {
	if env.Secret == nil || *env.Secret == "" {
		c.cfg.Metrics.callback(carrier, "handshake", "malformed")
		return http.StatusBadRequest, "", errors.New("rcs: webhook handshake without a secret")
	}
	if subtle.ConstantTimeCompare([]byte(*env.ClientToken), []byte(secret)) != 1 {
		c.cfg.Metrics.callback(carrier, "handshake", "bad_signature")
		c.log.Warn("rbm webhook handshake with a wrong client token", "carrier", carrier)
		return http.StatusUnauthorized, "", errors.New("rcs: webhook handshake with a wrong client token")
	}
	c.cfg.Metrics.callback(carrier, "handshake", "ok")
	return http.StatusOK, *env.Secret, nil
}

// validSignature checks sig, base64 HMAC-SHA512 of the decoded data keyed
// by the webhook secret, in constant time.
func validSignature(secret string, data []byte, sig string) bool {
	got, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || len(got) == 0 {
		return false
	}
	mac := hmac.New(sha512.New, []byte(secret))
	mac.Write(data)
	return hmac.Equal(mac.Sum(nil), got)
}

// Sign returns the X-Goog-Signature RBM puts on a callback whose decoded
// data is data (for simulators and tests).
func Sign(secret string, data []byte) string {
	mac := hmac.New(sha512.New, []byte(secret))
	mac.Write(data)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// classifyPayload names what p is (for metrics and dispatch) and its
// de-duplication key, or says why it is malformed.
func classifyPayload(p *payload) (kind, key string, err error) {
	if p.EventType != "" {
		kind = eventKind(p.EventType)
		switch p.EventType {
		case eventDelivered, eventRead, eventTTLRevoked:
			if p.MessageID == "" {
				return kind, "", fmt.Errorf("rcs: %s event without messageId", p.EventType)
			}
		case eventSubscribe, eventUnsubscribe:
			if p.SenderPhoneNumber == "" {
				return kind, "", fmt.Errorf("rcs: %s event without senderPhoneNumber", p.EventType)
			}
		}
		if p.EventID != "" {
			return kind, "evt|" + p.EventID, nil
		}
		return kind, "evt|" + p.EventType + "|" + p.MessageID + "|" + p.SenderPhoneNumber, nil
	}
	switch {
	case p.SuggestionResponse != nil:
		kind = "suggestion"
	case p.Location != nil:
		kind = "location"
		if p.Location.Latitude == nil || p.Location.Longitude == nil {
			return kind, "", errors.New("rcs: location without latitude and longitude")
		}
	case p.UserFile != nil:
		kind = "file"
		if p.UserFile.Payload == nil || p.UserFile.Payload.FileURI == "" {
			return kind, "", errors.New("rcs: userFile without payload.fileUri")
		}
	case p.Text != nil:
		kind = "text"
	default:
		return "unknown", "", errors.New("rcs: callback data is neither an event nor a user message")
	}
	if p.SenderPhoneNumber == "" || p.MessageID == "" {
		return kind, "", errors.New("rcs: user message without senderPhoneNumber or messageId")
	}
	return kind, "msg|" + p.MessageID, nil
}

func eventKind(t string) string {
	switch t {
	case eventDelivered:
		return "delivered"
	case eventRead:
		return "read"
	case eventIsTyping:
		return "is_typing"
	case eventSubscribe:
		return "subscribe"
	case eventUnsubscribe:
		return "unsubscribe"
	case eventTTLRevoked:
		return "ttl_revoked"
	case eventTTLRevokeFailed:
		return "ttl_revoke_failed"
	}
	return "other_event"
}

// apply hands what p reports to the sink.
func (c *Channel) apply(ctx context.Context, carrier, kind string, p *payload) error {
	at := c.now()
	if t, err := time.Parse(time.RFC3339Nano, p.SendTime); err == nil {
		at = t
	}
	phone := p.SenderPhoneNumber
	if p.EventType == "" || (kind != "ttl_revoked" && kind != "ttl_revoke_failed") {
		// Anything the phone itself sent shows it is reachable over RCS;
		// TTL events come from RBM, not from the phone.
		if phone != "" {
			c.cache.MarkCapable(p.AgentID, phone)
		}
	}
	if p.EventType != "" {
		return c.applyEvent(ctx, carrier, kind, p, at)
	}

	in := unify.Inbound{
		ExternalID: p.MessageID, Channel: unify.ChannelRCS, Carrier: carrier,
		From: phone, To: p.AgentID, At: at,
	}
	switch kind {
	case "suggestion":
		in.Postback, in.Text = p.SuggestionResponse.PostbackData, p.SuggestionResponse.Text
	case "location":
		in.Location = &unify.Location{Lat: *p.Location.Latitude, Lng: *p.Location.Longitude}
	case "file":
		m := unify.Media{URL: p.UserFile.Payload.FileURI, MimeType: p.UserFile.Payload.MimeType}
		if t := p.UserFile.Thumbnail; t != nil {
			m.ThumbnailURL = t.FileURI
		}
		in.Media = []unify.Media{m}
	default:
		in.Text = *p.Text
	}
	if err := c.sink.HandleInbound(ctx, in); err != nil {
		return fmt.Errorf("rcs: record inbound %s: %w", p.MessageID, err)
	}
	if c.cfg.ReadEvents {
		c.markRead(carrier, p.AgentID, phone, p.MessageID)
	}
	return nil
}

func (c *Channel) applyEvent(ctx context.Context, carrier, kind string, p *payload, at time.Time) error {
	receipt := func(st unify.Status, reason string) error {
		r := unify.Receipt{Channel: unify.ChannelRCS, Carrier: carrier, Ref: attemptRef(p.MessageID), Status: st, Error: reason, At: at}
		if err := c.sink.HandleReceipt(ctx, r); err != nil {
			return fmt.Errorf("rcs: record %s of %s: %w", p.EventType, p.MessageID, err)
		}
		return nil
	}
	switch p.EventType {
	case eventDelivered:
		return receipt(unify.StatusDelivered, "")
	case eventRead:
		return receipt(unify.StatusRead, "")
	case eventTTLRevoked:
		return receipt(unify.StatusRevoked, eventTTLRevoked)
	case eventTTLRevokeFailed:
		// The message may still arrive: nothing to record, the core decides
		// at its own timeout whether to fall back.
		c.log.Warn("rbm could not revoke an expired message", "carrier", carrier, "external_id", p.MessageID)
		return nil
	case eventSubscribe, eventUnsubscribe:
		cc := unify.ConsentChange{
			Channel: unify.ChannelRCS, Carrier: carrier, Number: p.SenderPhoneNumber, To: p.AgentID,
			OptedOut: p.EventType == eventUnsubscribe, Keyword: p.EventType, At: at,
		}
		if err := c.sink.HandleConsent(ctx, cc); err != nil {
			return fmt.Errorf("rcs: record %s: %w", p.EventType, err)
		}
		return nil
	}
	// IS_TYPING and event types this gateway does not know: counted only.
	return nil
}

// markRead sends RBM a READ event for a user message in the background. It
// is a courtesy to the person: when too many are in flight, it is skipped.
func (c *Channel) markRead(carrier, agent, phone, messageID string) {
	cl := c.cfg.Clients[carrier]
	if cl == nil || agent == "" {
		return
	}
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	if c.closed {
		return
	}
	select {
	case c.readSem <- struct{}{}:
	default:
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer func() { <-c.readSem }()
		ctx, cancel := context.WithTimeout(c.bg, readEventTimeout)
		defer cancel()
		ev := AgentEvent{EventType: EventRead, MessageID: messageID}
		if err := cl.SendEvent(ctx, phone, agent, readEventID(carrier, messageID), ev); err != nil {
			c.log.Info("rbm READ event failed", "carrier", carrier, "external_id", messageID, "err", err)
		}
	}()
}

// readEventID derives the eventId of the READ event for a user message: a
// name-based (version 5) UUID, so that a callback handled twice sends the
// same id and RBM ignores the second event (rbm.md §2).
func readEventID(carrier, messageID string) string {
	// The RFC 4122 URL namespace, 6ba7b811-9dad-11d1-80b4-00c04fd430c8.
	ns := []byte{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	h := sha1.New()
	h.Write(ns)
	h.Write([]byte("rbm-read:" + carrier + ":" + messageID))
	b := h.Sum(nil)[:16]
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	s := hex.EncodeToString(b)
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32]
}

// recent is a bounded set of recently handled callback keys, for dropping
// obvious duplicates before they reach the core (which de-duplicates too).
type recent struct {
	mu    sync.Mutex
	max   int
	order *list.List
	keys  map[string]*list.Element
}

func newRecent(max int) *recent {
	return &recent{max: max, order: list.New(), keys: map[string]*list.Element{}}
}

func (r *recent) has(key string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.keys[key]
	return ok
}

func (r *recent) add(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if el, ok := r.keys[key]; ok {
		r.order.MoveToFront(el)
		return
	}
	r.keys[key] = r.order.PushFront(key)
	for r.order.Len() > r.max {
		delete(r.keys, r.order.Remove(r.order.Back()).(string))
	}
}
