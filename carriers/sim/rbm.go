package sim

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// DefaultRBMToken is the bearer token of the RBM-compatible API when
// Config.RBMToken is empty.
const DefaultRBMToken = "sim-rbm-token"

// Status values of an RBMMessage.
const (
	RBMStatusSent      = "sent"      // accepted, not delivered yet
	RBMStatusDelivered = "delivered" // DELIVERED sent to the gateway
	RBMStatusRead      = "read"      // READ sent to the gateway
	RBMStatusRevoked   = "revoked"   // revoked by DELETE or TTL_EXPIRATION_REVOKED
)

// rbmMaxMessageBytes is the limit on a whole stringified AgentMessage
// (rbm.md §4.1: 250 KB).
const rbmMaxMessageBytes = 250 * 1024

// rbmFeatures is every Feature of rbm.md §3: a simulated handset supports all.
var rbmFeatures = []string{
	"REVOCATION", "RICHCARD_STANDALONE", "RICHCARD_CAROUSEL",
	"ACTION_CREATE_CALENDAR_EVENT", "ACTION_DIAL", "ACTION_OPEN_URL",
	"ACTION_SHARE_LOCATION", "ACTION_VIEW_LOCATION",
}

var (
	e164Re = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)
	// ttlRe is a protobuf Duration in JSON: seconds with up to 9 fractional digits.
	ttlRe = regexp.MustCompile(`^[0-9]+(\.[0-9]{1,9})?s$`)
)

// Errors of the RBM and MM7 Go methods; the control API maps them to 404,
// 409 and 409.
var (
	errUnknownMessage = errors.New("sim: unknown message id")
	errMessageState   = errors.New("sim: message is in the wrong state")
	errNoCallbackURL  = errors.New("sim: no callback URL configured")
)

// RBMMessage is an agent message accepted by the RBM-compatible API.
type RBMMessage struct {
	Phone     string `json:"phone"`
	MessageID string `json:"message_id"`
	AgentID   string `json:"agent_id"`
	// Body is the AgentMessage JSON exactly as the gateway sent it.
	Body   json.RawMessage `json:"body"`
	Status string          `json:"status"` // RBMStatusSent, …Delivered, …Read or …Revoked
	At     time.Time       `json:"at"`
}

// RBMAgentEvent is an agent event (READ or IS_TYPING) accepted by the API.
type RBMAgentEvent struct {
	Phone     string          `json:"phone"`
	EventID   string          `json:"event_id"`
	AgentID   string          `json:"agent_id"`
	Type      string          `json:"type"`
	MessageID string          `json:"message_id,omitempty"`
	Body      json.RawMessage `json:"body"`
	At        time.Time       `json:"at"`
}

// rbmState is the RBM side of the Sim, guarded by Sim.mu.
type rbmState struct {
	callbackURL, clientToken string
	capable                  map[string]bool // SetRCSCapable overrides
	offline                  map[string]bool
	calls                    map[string]int // capability calls per phone
	failN, failStatus        int

	msgs []*RBMMessage
	// byID finds an agent message by messageId alone (for the control
	// API); seen holds the answer to every agent message and event id per
	// agent ("agent\x00id"), as the platform ignores a reused id.
	byID   map[string]*RBMMessage
	seen   map[string][]byte
	events []RBMAgentEvent
	pubSeq uint64
}

func (s *Sim) initRBM() {
	s.rbm = rbmState{
		callbackURL: s.cfg.RBMCallbackURL,
		clientToken: s.cfg.RBMClientToken,
		capable:     map[string]bool{},
		offline:     map[string]bool{},
		calls:       map[string]int{},
		byID:        map[string]*RBMMessage{},
		seen:        map[string][]byte{},
		pubSeq:      7_000_000_000_000,
	}
}

// resetRBMLocked forgets agent messages and events (Reset).
func (s *Sim) resetRBMLocked() {
	s.rbm.msgs = nil
	s.rbm.byID = map[string]*RBMMessage{}
	s.rbm.seen = map[string][]byte{}
	s.rbm.events = nil
}

// SetRBMCallback sets the gateway's RBM webhook URL and the client token that
// signs callbacks (the gateway's URL is often known only after the Sim starts).
func (s *Sim) SetRBMCallback(url, clientToken string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rbm.callbackURL, s.rbm.clientToken = url, clientToken
}

// SetRCSCapable makes phone RCS-capable (on) or not, whatever RCSNumbers says.
func (s *Sim) SetRCSCapable(phone string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rbm.capable[phone] = on
}

// RCSCapable reports whether phone is RCS-capable now.
func (s *Sim) RCSCapable(phone string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.capableLocked(phone)
}

func (s *Sim) capableLocked(phone string) bool {
	if on, ok := s.rbm.capable[phone]; ok {
		return on
	}
	for _, n := range s.cfg.RCSNumbers {
		if p, ok := strings.CutSuffix(n, "*"); ok {
			if strings.HasPrefix(phone, p) {
				return true
			}
		} else if n == phone {
			return true
		}
	}
	return false
}

// SetRBMOffline on makes messages to phone accepted but never auto-delivered
// (the platform queues them for a handset that is switched off); off
// schedules auto-delivery of what is still queued, when RBMAutoDeliver > 0.
func (s *Sim) SetRBMOffline(phone string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rbm.offline[phone] = on
	if on || s.cfg.RBMAutoDeliver <= 0 {
		return
	}
	for _, m := range s.rbm.msgs {
		if m.Phone == phone && m.Status == RBMStatusSent {
			s.scheduleAutoDeliverLocked(m)
		}
	}
}

// RBMFail makes the next n calls of the RBM API (/v1/…, not the token
// endpoint) answer status (500, 503, 429, …) with a Google error body.
func (s *Sim) RBMFail(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rbm.failN, s.rbm.failStatus = max(n, 0), status
}

// RBMMessages returns a copy of the accepted agent messages in arrival order.
// Bodies are shared with the Sim and must not be modified.
func (s *Sim) RBMMessages() []RBMMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]RBMMessage, len(s.rbm.msgs))
	for i, m := range s.rbm.msgs {
		out[i] = *m
	}
	return out
}

// RBMEvents returns a copy of the accepted agent events in arrival order.
func (s *Sim) RBMEvents() []RBMAgentEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]RBMAgentEvent, len(s.rbm.events))
	copy(out, s.rbm.events)
	return out
}

// RBMCapabilityCalls returns how many capability checks phone received.
func (s *Sim) RBMCapabilityCalls(phone string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rbm.calls[phone]
}

// RBMCapabilityCallCounts returns the capability checks received per phone.
func (s *Sim) RBMCapabilityCallCounts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.rbm.calls))
	for k, v := range s.rbm.calls {
		out[k] = v
	}
	return out
}

// RBMDeliver reports agent message messageID DELIVERED to the gateway. It
// fails for an unknown id, a message already delivered or revoked, or when no
// callback URL is set.
func (s *Sim) RBMDeliver(messageID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.rbmMessageLocked(messageID)
	if err != nil {
		return err
	}
	if m.Status != RBMStatusSent {
		return fmt.Errorf("%w: %s is %s", errMessageState, messageID, m.Status)
	}
	return s.rbmDeliverLocked(m)
}

// RBMRead reports agent message messageID READ (and DELIVERED first if it
// was not delivered yet).
func (s *Sim) RBMRead(messageID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.rbmMessageLocked(messageID)
	if err != nil {
		return err
	}
	if err := s.ensureDeliveredLocked(m); err != nil {
		return err
	}
	if m.Status == RBMStatusRead {
		return fmt.Errorf("%w: %s is already read", errMessageState, messageID)
	}
	if err := s.rbmUserEventLocked(m.Phone, m.AgentID, "READ", m.MessageID); err != nil {
		return err
	}
	m.Status = RBMStatusRead
	return nil
}

// RBMReply sends a text typed by the user of phone to agentID ("" =
// Config.RBMAgentID) as a UserMessage.
func (s *Sim) RBMReply(phone, agentID, text string) error {
	if text == "" {
		return errors.New("sim: rbm reply: empty text")
	}
	return s.rbmUserMessage(phone, agentID, userMessage{Text: text})
}

// RBMLocation sends a location chosen by the user of phone as a UserMessage.
func (s *Sim) RBMLocation(phone, agentID string, lat, lng float64) error {
	if lat < -90 || lat > 90 || lng < -180 || lng > 180 {
		return fmt.Errorf("sim: rbm location: %v,%v out of range", lat, lng)
	}
	return s.rbmUserMessage(phone, agentID, userMessage{Location: &latLng{Latitude: lat, Longitude: lng}})
}

// RBMTap sends the user's tap on the suggestion of agent message messageID
// whose postbackData is postback: a UserMessage with a suggestionResponse
// carrying the chip's text and type (REPLY or ACTION). A message not
// delivered yet is reported DELIVERED first: the user saw it.
func (s *Sim) RBMTap(messageID, postback string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.rbmMessageLocked(messageID)
	if err != nil {
		return err
	}
	var chip *rbmChip
	for _, c := range rbmChips(m.Body) {
		if c.Postback == postback {
			chip = &c
			break
		}
	}
	if chip == nil {
		return fmt.Errorf("sim: rbm tap: message %s has no suggestion with postbackData %q", messageID, postback)
	}
	if err := s.ensureDeliveredLocked(m); err != nil {
		return err
	}
	return s.rbmUserMessageLocked(m.Phone, m.AgentID, userMessage{SuggestionResponse: &suggestionResponse{
		PostbackData: chip.Postback, Text: chip.Text, Type: chip.Type,
	}})
}

// RBMEvent sends a user event without a message: SUBSCRIBE, UNSUBSCRIBE or
// IS_TYPING.
func (s *Sim) RBMEvent(phone, agentID, eventType string) error {
	switch eventType {
	case "SUBSCRIBE", "UNSUBSCRIBE", "IS_TYPING":
	default:
		return fmt.Errorf("sim: rbm event: type %q: want SUBSCRIBE, UNSUBSCRIBE or IS_TYPING", eventType)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	agentID, err := s.userAgentLocked(phone, agentID)
	if err != nil {
		return err
	}
	return s.rbmUserEventLocked(phone, agentID, eventType, "")
}

// RBMServerEvent sends a ServerEvent about agent message messageID:
// TTL_EXPIRATION_REVOKED (the message is then revoked; it must not be
// delivered yet) or TTL_EXPIRATION_REVOKE_FAILED.
func (s *Sim) RBMServerEvent(messageID, eventType string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.rbmMessageLocked(messageID)
	if err != nil {
		return err
	}
	switch eventType {
	case "TTL_EXPIRATION_REVOKED":
		if m.Status != RBMStatusSent {
			return fmt.Errorf("%w: %s is %s", errMessageState, messageID, m.Status)
		}
	case "TTL_EXPIRATION_REVOKE_FAILED":
	default:
		return fmt.Errorf("sim: rbm server event: type %q: want TTL_EXPIRATION_REVOKED or TTL_EXPIRATION_REVOKE_FAILED", eventType)
	}
	// Field names from the ServerEvent reference (phoneNumber, not
	// senderPhoneNumber as in user events).
	ev := serverEvent{
		PhoneNumber: m.Phone, AgentID: m.AgentID, MessageID: m.MessageID,
		EventType: eventType, EventID: randomID("MxSe"), SendTime: s.rfc3339(),
	}
	if err := s.rbmCallbackLocked(ev); err != nil {
		return err
	}
	if eventType == "TTL_EXPIRATION_REVOKED" {
		m.Status = RBMStatusRevoked
	}
	return nil
}

func (s *Sim) rbmMessageLocked(messageID string) (*RBMMessage, error) {
	m := s.rbm.byID[messageID]
	if m == nil {
		return nil, fmt.Errorf("%w: %q", errUnknownMessage, messageID)
	}
	return m, nil
}

// ensureDeliveredLocked sends DELIVERED for a message still queued.
func (s *Sim) ensureDeliveredLocked(m *RBMMessage) error {
	switch m.Status {
	case RBMStatusRevoked:
		return fmt.Errorf("%w: %s is revoked", errMessageState, m.MessageID)
	case RBMStatusSent:
		return s.rbmDeliverLocked(m)
	}
	return nil
}

func (s *Sim) rbmDeliverLocked(m *RBMMessage) error {
	if err := s.rbmUserEventLocked(m.Phone, m.AgentID, "DELIVERED", m.MessageID); err != nil {
		return err
	}
	m.Status = RBMStatusDelivered
	return nil
}

func (s *Sim) scheduleAutoDeliverLocked(m *RBMMessage) {
	s.laterLocked(s.cfg.RBMAutoDeliver, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if m.Status != RBMStatusSent || s.rbm.offline[m.Phone] {
			return
		}
		if err := s.rbmDeliverLocked(m); err != nil {
			s.log.Debug("sim: rbm auto-deliver", "msg_id", m.MessageID, "err", err)
		}
	})
}

// userAgentLocked checks that phone may send RCS and picks the agent.
func (s *Sim) userAgentLocked(phone, agentID string) (string, error) {
	if !e164Re.MatchString(phone) {
		return "", fmt.Errorf("sim: rbm: phone %q is not E.164", phone)
	}
	if !s.capableLocked(phone) {
		return "", fmt.Errorf("%w: %s is not RCS-capable", errMessageState, phone)
	}
	if agentID == "" {
		agentID = s.cfg.RBMAgentID
	}
	if agentID == "" {
		return "", errors.New("sim: rbm: no agent id")
	}
	return agentID, nil
}

func (s *Sim) rbmUserMessage(phone, agentID string, um userMessage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	agentID, err := s.userAgentLocked(phone, agentID)
	if err != nil {
		return err
	}
	return s.rbmUserMessageLocked(phone, agentID, um)
}

func (s *Sim) rbmUserMessageLocked(phone, agentID string, um userMessage) error {
	um.SenderPhoneNumber, um.AgentID = phone, agentID
	um.MessageID, um.SendTime = randomID("Mx"), s.rfc3339()
	return s.rbmCallbackLocked(um)
}

func (s *Sim) rbmUserEventLocked(phone, agentID, eventType, messageID string) error {
	return s.rbmCallbackLocked(userEvent{
		SenderPhoneNumber: phone, EventType: eventType, EventID: randomID("MxEv"),
		MessageID: messageID, SendTime: s.rfc3339(), AgentID: agentID,
	})
}

// rbmCallbackLocked queues one Pub/Sub push (rbm.md §8.2) to the gateway.
func (s *Sim) rbmCallbackLocked(payload any) error {
	if s.rbm.callbackURL == "" {
		return errNoCallbackURL
	}
	data, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("sim: rbm callback: %w", err)
	}
	s.rbm.pubSeq++
	env := pushEnvelope{Subscription: "projects/rbm-sim/subscriptions/rbm-webhook"}
	env.Message.Data = base64.StdEncoding.EncodeToString(data)
	env.Message.MessageID = strconv.FormatUint(s.rbm.pubSeq, 10)
	env.Message.PublishTime = s.now().UTC().Format("2006-01-02T15:04:05.000Z")
	body, err := json.Marshal(env)
	if err != nil {
		return fmt.Errorf("sim: rbm callback: %w", err)
	}
	s.stats.RBMCallbacks++
	s.queueLocked(outRBM, &callback{
		url: s.rbm.callbackURL, contentType: "application/json", body: body,
		header: http.Header{"X-Goog-Signature": {RBMSignature(s.rbm.clientToken, data)}},
		// The platform retries anything but 200 (rbm.md §8.2).
		ack: func(code int, _ http.Header, _ []byte) error {
			if code != http.StatusOK {
				return fmt.Errorf("status %d", code)
			}
			return nil
		},
	})
	return nil
}

// RBMSignature is the X-Goog-Signature of a callback whose decoded data is
// data: base64 of HMAC-SHA512 keyed with the client token (rbm.md §8.2).
func RBMSignature(clientToken string, data []byte) string {
	mac := hmac.New(sha512.New, []byte(clientToken))
	mac.Write(data)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func (s *Sim) rfc3339() string { return s.now().UTC().Format(time.RFC3339Nano) }

// randomID is prefix plus 16 random URL-safe characters, the shape of the
// platform's own message and event ids ("MxAbC…").
func randomID(prefix string) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// Callback payloads (rbm.md §8.2-§8.3).
type (
	pushEnvelope struct {
		Message struct {
			Data        string `json:"data"`
			MessageID   string `json:"messageId"`
			PublishTime string `json:"publishTime"`
		} `json:"message"`
		Subscription string `json:"subscription"`
	}
	userMessage struct {
		SenderPhoneNumber  string              `json:"senderPhoneNumber"`
		MessageID          string              `json:"messageId"`
		SendTime           string              `json:"sendTime"`
		AgentID            string              `json:"agentId"`
		Text               string              `json:"text,omitempty"`
		Location           *latLng             `json:"location,omitempty"`
		SuggestionResponse *suggestionResponse `json:"suggestionResponse,omitempty"`
	}
	suggestionResponse struct {
		PostbackData string `json:"postbackData"`
		Text         string `json:"text"`
		Type         string `json:"type"`
	}
	userEvent struct {
		SenderPhoneNumber string `json:"senderPhoneNumber"`
		EventType         string `json:"eventType"`
		EventID           string `json:"eventId"`
		MessageID         string `json:"messageId,omitempty"`
		SendTime          string `json:"sendTime"`
		AgentID           string `json:"agentId"`
	}
	serverEvent struct {
		PhoneNumber string `json:"phoneNumber"`
		AgentID     string `json:"agentId"`
		MessageID   string `json:"messageId"`
		EventType   string `json:"eventType"`
		EventID     string `json:"eventId"`
		SendTime    string `json:"sendTime"`
	}
)

// ---- the RBM REST API (rbm.md §2) ----

func (s *Sim) routesRBM() {
	m := s.mux
	m.HandleFunc("GET /v1/phones/{phone}/capabilities", s.rbmCapabilities)
	m.HandleFunc("POST /v1/phones/{phone}/agentMessages", s.rbmSend)
	m.HandleFunc("DELETE /v1/phones/{phone}/agentMessages/{messageId}", s.rbmRevoke)
	m.HandleFunc("POST /v1/phones/{phone}/agentEvents", s.rbmAgentEvent)
	m.HandleFunc("POST /token", s.rbmToken)
	s.routesRBMControl()
}

// googleStatus is the canonical status name of an HTTP code in a Google
// error body (rbm.md §7).
func googleStatus(code int) string {
	switch code {
	case http.StatusBadRequest:
		return "INVALID_ARGUMENT"
	case http.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusNotFound:
		return "NOT_FOUND"
	case http.StatusConflict:
		return "ABORTED"
	case http.StatusTooManyRequests:
		return "RESOURCE_EXHAUSTED"
	case http.StatusNotImplemented:
		return "UNIMPLEMENTED"
	case http.StatusServiceUnavailable:
		return "UNAVAILABLE"
	case http.StatusGatewayTimeout:
		return "DEADLINE_EXCEEDED"
	case http.StatusInternalServerError:
		return "INTERNAL"
	}
	return "UNKNOWN"
}

// writeGoogleError answers with the standard Google JSON error body.
func writeGoogleError(w http.ResponseWriter, code int, msg string) {
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/"`)
	}
	type body struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
	}
	writeJSON(w, code, map[string]body{"error": {Code: code, Message: msg, Status: googleStatus(code)}})
}

// rbmCall is what every /v1/phones call checks first. It answers itself and
// returns ok false when the call fails.
func (s *Sim) rbmCall(w http.ResponseWriter, r *http.Request) (phone, agent string, ok bool) {
	s.mu.Lock()
	if s.rbm.failN > 0 {
		s.rbm.failN--
		s.stats.RBMFaults++
		code := s.rbm.failStatus
		s.mu.Unlock()
		writeGoogleError(w, code, "Simulated failure.")
		return "", "", false
	}
	s.mu.Unlock()
	reject := func(code int, msg string) (string, string, bool) {
		s.rbmReject(w, code, msg)
		return "", "", false
	}
	tok, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !found || subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.RBMToken)) != 1 {
		return reject(http.StatusUnauthorized, "Request had invalid authentication credentials. Expected OAuth 2 access token.")
	}
	phone = r.PathValue("phone")
	if !e164Re.MatchString(phone) {
		return reject(http.StatusBadRequest, fmt.Sprintf("Invalid phone number %q: want E.164 with a leading '+'.", phone))
	}
	agent = r.URL.Query().Get("agentId")
	if s.cfg.RBMAgentID != "" && agent != "" && agent != s.cfg.RBMAgentID {
		return reject(http.StatusForbidden, fmt.Sprintf("The caller does not have permission for agent %q.", agent))
	}
	if agent == "" {
		agent = s.cfg.RBMAgentID
	}
	return phone, agent, true
}

func (s *Sim) rbmReject(w http.ResponseWriter, code int, msg string) {
	s.mu.Lock()
	s.stats.RBMRejected++
	s.mu.Unlock()
	writeGoogleError(w, code, msg)
}

func (s *Sim) rbmCapabilities(w http.ResponseWriter, r *http.Request) {
	// Every call counts, whatever its answer: tests use this count to see
	// whether the gateway's capability cache was used.
	s.mu.Lock()
	s.stats.RBMCapabilityCalls++
	s.rbm.calls[r.PathValue("phone")]++
	s.mu.Unlock()
	phone, _, ok := s.rbmCall(w, r)
	if !ok {
		return
	}
	if id := r.URL.Query().Get("requestId"); !isUUID(id) {
		s.rbmReject(w, http.StatusBadRequest, fmt.Sprintf("Invalid requestId %q: must be a UUID (RFC 4122).", id))
		return
	}
	if !s.RCSCapable(phone) {
		s.rbmReject(w, http.StatusNotFound, "Requested entity was not found.")
		return
	}
	writeJSON(w, http.StatusOK, map[string][]string{"features": rbmFeatures})
}

func (s *Sim) rbmSend(w http.ResponseWriter, r *http.Request) {
	phone, agent, ok := s.rbmCall(w, r)
	if !ok {
		return
	}
	id := r.URL.Query().Get("messageId")
	if !isUUID(id) {
		s.rbmReject(w, http.StatusBadRequest, fmt.Sprintf("Invalid messageId %q: must be a UUID (RFC 4122).", id))
		return
	}
	raw := s.rbmBody(w, r)
	if raw == nil {
		return
	}
	var am agentMessage
	if err := strictJSON(raw, &am); err != nil {
		s.rbmReject(w, http.StatusBadRequest, "Invalid JSON payload received. "+err.Error())
		return
	}
	if errs := am.validate(); len(errs) > 0 {
		s.rbmReject(w, http.StatusBadRequest, strings.Join(errs, "; "))
		return
	}
	resp, now, ok := s.rbmAcceptLocked(w, phone, agent, id, "agentMessages", raw)
	if !ok {
		return
	}
	m := &RBMMessage{Phone: phone, MessageID: id, AgentID: agent, Body: raw, Status: RBMStatusSent, At: now}
	s.rbm.msgs = append(s.rbm.msgs, m)
	s.rbm.byID[id] = m
	s.stats.RBMAgentMessages++
	if s.cfg.RBMAutoDeliver > 0 && !s.rbm.offline[phone] {
		s.scheduleAutoDeliverLocked(m)
	}
	s.mu.Unlock()
	writeRaw(w, resp)
}

// rbmAcceptLocked is what agent messages and agent events share: 404 for a
// number that is not RCS-capable, the earlier answer for an id already used
// by the agent (RBM ignores such repeats), else the answer with its output
// fields, remembered under the id. On success it returns with s.mu held, for
// the caller to record what it accepted and unlock; otherwise it has
// answered and unlocked.
func (s *Sim) rbmAcceptLocked(w http.ResponseWriter, phone, agent, id, collection string, raw []byte) ([]byte, time.Time, bool) {
	s.mu.Lock()
	if !s.capableLocked(phone) {
		s.mu.Unlock()
		s.rbmReject(w, http.StatusNotFound, "Requested entity was not found.")
		return nil, time.Time{}, false
	}
	key := agent + "\x00" + id
	if resp, dup := s.rbm.seen[key]; dup {
		s.stats.RBMDuplicates++
		s.mu.Unlock()
		writeRaw(w, resp)
		return nil, time.Time{}, false
	}
	now := s.now()
	resp, err := withFields(raw, map[string]string{
		"name":     "phones/" + phone + "/" + collection + "/" + id,
		"sendTime": now.UTC().Format(time.RFC3339Nano),
	})
	if err != nil { // cannot happen: raw was decoded by the caller
		s.mu.Unlock()
		writeGoogleError(w, http.StatusInternalServerError, err.Error())
		return nil, time.Time{}, false
	}
	s.rbm.seen[key] = resp
	return resp, now, true
}

// rbmBody reads a JSON request body of at most 250 KB. It answers itself
// and returns nil on failure.
func (s *Sim) rbmBody(w http.ResponseWriter, r *http.Request) []byte {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		s.rbmReject(w, http.StatusBadRequest, fmt.Sprintf("Invalid Content-Type %q: want application/json.", r.Header.Get("Content-Type")))
		return nil
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, rbmMaxMessageBytes+1))
	if err != nil {
		s.rbmReject(w, http.StatusBadRequest, "Cannot read the request body.")
		return nil
	}
	if len(raw) > rbmMaxMessageBytes {
		s.rbmReject(w, http.StatusBadRequest, "The message is larger than 250 KB.")
		return nil
	}
	return raw
}

func (s *Sim) rbmRevoke(w http.ResponseWriter, r *http.Request) {
	phone, agent, ok := s.rbmCall(w, r)
	if !ok {
		return
	}
	id := r.PathValue("messageId")
	if !isUUID(id) {
		s.rbmReject(w, http.StatusBadRequest, fmt.Sprintf("Invalid messageId %q: must be a UUID (RFC 4122).", id))
		return
	}
	s.mu.Lock()
	m := s.rbm.byID[id]
	if m == nil || m.Phone != phone || m.AgentID != agent {
		s.mu.Unlock()
		s.rbmReject(w, http.StatusNotFound, "Requested entity was not found.")
		return
	}
	switch m.Status {
	case RBMStatusDelivered, RBMStatusRead:
		// Current reference: 404 means the message was already delivered.
		s.mu.Unlock()
		s.rbmReject(w, http.StatusNotFound, "Requested entity was not found. The message was already delivered.")
		return
	case RBMStatusSent:
		m.Status = RBMStatusRevoked
		s.stats.RBMRevoked++
	}
	s.mu.Unlock()
	writeRaw(w, []byte("{}\n"))
}

func (s *Sim) rbmAgentEvent(w http.ResponseWriter, r *http.Request) {
	phone, agent, ok := s.rbmCall(w, r)
	if !ok {
		return
	}
	id := r.URL.Query().Get("eventId")
	if !isUUID(id) {
		s.rbmReject(w, http.StatusBadRequest, fmt.Sprintf("Invalid eventId %q: must be a UUID (RFC 4122).", id))
		return
	}
	raw := s.rbmBody(w, r)
	if raw == nil {
		return
	}
	var ev struct {
		Name      *string `json:"name"`     // output only
		SendTime  *string `json:"sendTime"` // output only
		EventType string  `json:"eventType"`
		MessageID string  `json:"messageId"`
	}
	if err := strictJSON(raw, &ev); err != nil {
		s.rbmReject(w, http.StatusBadRequest, "Invalid JSON payload received. "+err.Error())
		return
	}
	switch {
	case ev.EventType == "READ" && ev.MessageID == "":
		s.rbmReject(w, http.StatusBadRequest, "messageId: required for a READ event.")
		return
	case ev.EventType == "IS_TYPING" && ev.MessageID != "":
		s.rbmReject(w, http.StatusBadRequest, "messageId: only for a READ event.")
		return
	case ev.EventType != "READ" && ev.EventType != "IS_TYPING":
		s.rbmReject(w, http.StatusBadRequest, fmt.Sprintf("eventType: %q: want READ or IS_TYPING.", ev.EventType))
		return
	}
	// Agent events to an unreachable user answer 404 too (rbm.md §2).
	resp, now, ok := s.rbmAcceptLocked(w, phone, agent, id, "agentEvents", raw)
	if !ok {
		return
	}
	s.rbm.events = append(s.rbm.events, RBMAgentEvent{
		Phone: phone, EventID: id, AgentID: agent, Type: ev.EventType, MessageID: ev.MessageID, Body: raw, At: now,
	})
	s.stats.RBMAgentEvents++
	s.mu.Unlock()
	writeRaw(w, resp)
}

// rbmToken is the OAuth2 token endpoint of the JWT-bearer flow (RFC 7523,
// rbm.md §1). It checks the assertion's shape and claims but not its RS256
// signature: the Sim does not know the service account's public key.
func (s *Sim) rbmToken(w http.ResponseWriter, r *http.Request) {
	fail := func(code, desc string) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": code, "error_description": desc})
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		fail("invalid_request", "content type must be application/x-www-form-urlencoded")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		fail("invalid_request", "bad form: "+err.Error())
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		fail("unsupported_grant_type", fmt.Sprintf("grant_type %q", gt))
		return
	}
	if err := s.checkAssertion(r.PostForm.Get("assertion")); err != nil {
		fail("invalid_grant", err.Error())
		return
	}
	s.mu.Lock()
	s.stats.RBMTokens++
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"access_token": s.cfg.RBMToken, "expires_in": 3599, "token_type": "Bearer"})
}

func (s *Sim) checkAssertion(jwt string) error {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 || parts[2] == "" {
		return errors.New("assertion is not a signed JWT (header.claims.signature)")
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	if err := jwtPart(parts[0], &hdr); err != nil {
		return fmt.Errorf("JWT header: %w", err)
	}
	if hdr.Alg != "RS256" {
		return fmt.Errorf("JWT alg %q: want RS256", hdr.Alg)
	}
	var c struct {
		Iss   string       `json:"iss"`
		Scope string       `json:"scope"`
		Aud   string       `json:"aud"`
		Iat   *json.Number `json:"iat"`
		Exp   *json.Number `json:"exp"`
	}
	if err := jwtPart(parts[1], &c); err != nil {
		return fmt.Errorf("JWT claims: %w", err)
	}
	switch {
	case c.Iss == "":
		return errors.New("JWT claim iss missing")
	case !strings.Contains(c.Scope, "rcsbusinessmessaging"):
		return fmt.Errorf("JWT claim scope %q lacks rcsbusinessmessaging", c.Scope)
	case c.Aud == "":
		return errors.New("JWT claim aud missing")
	case c.Iat == nil || c.Exp == nil:
		return errors.New("JWT claims iat and exp are required")
	}
	iat, err1 := c.Iat.Int64()
	exp, err2 := c.Exp.Int64()
	switch {
	case err1 != nil || err2 != nil:
		return errors.New("JWT claims iat and exp must be integers")
	case exp <= iat || exp-iat > 3600:
		// Google: exp at most one hour after iat.
		return fmt.Errorf("JWT exp-iat = %ds: want 1..3600", exp-iat)
	case exp <= s.now().Unix():
		return errors.New("JWT expired")
	}
	return nil
}

func jwtPart(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return fmt.Errorf("not base64url: %w", err)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

// ---- control API ----

func (s *Sim) routesRBMControl() {
	m := s.mux
	msgID := func(f func(string) error) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var in struct {
				MessageID string `json:"message_id"`
			}
			if decode(w, r, &in) {
				okOrError(w, f(in.MessageID))
			}
		}
	}
	m.HandleFunc("POST /control/rbm/deliver", msgID(s.RBMDeliver))
	m.HandleFunc("POST /control/rbm/read", msgID(s.RBMRead))
	m.HandleFunc("POST /control/rbm/reply", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ From, Agent, Text string }
		if decode(w, r, &in) {
			okOrError(w, s.RBMReply(in.From, in.Agent, in.Text))
		}
	})
	m.HandleFunc("POST /control/rbm/tap", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			MessageID string `json:"message_id"`
			Postback  string `json:"postback"`
		}
		if decode(w, r, &in) {
			okOrError(w, s.RBMTap(in.MessageID, in.Postback))
		}
	})
	m.HandleFunc("POST /control/rbm/location", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			From, Agent string
			Lat, Lng    *float64
		}
		if !decode(w, r, &in) {
			return
		}
		if in.Lat == nil || in.Lng == nil {
			writeError(w, http.StatusBadRequest, errors.New("lat, lng: required"))
			return
		}
		okOrError(w, s.RBMLocation(in.From, in.Agent, *in.Lat, *in.Lng))
	})
	m.HandleFunc("POST /control/rbm/event", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ From, Agent, Type string }
		if decode(w, r, &in) {
			okOrError(w, s.RBMEvent(in.From, in.Agent, in.Type))
		}
	})
	m.HandleFunc("POST /control/rbm/server-event", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			MessageID string `json:"message_id"`
			Type      string `json:"type"`
		}
		if decode(w, r, &in) {
			okOrError(w, s.RBMServerEvent(in.MessageID, in.Type))
		}
	})
	m.HandleFunc("POST /control/rbm/fail", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Count, Status *int }
		if !decode(w, r, &in) {
			return
		}
		if in.Count == nil || *in.Count < 0 || in.Status == nil || *in.Status < 400 || *in.Status > 599 {
			writeError(w, http.StatusBadRequest, errors.New("count: required, >= 0; status: required, 400..599"))
			return
		}
		s.RBMFail(*in.Count, *in.Status)
		okOrError(w, nil)
	})
	numberOn := func(f func(string, bool)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var in struct {
				Number string
				On     *bool
			}
			if !decode(w, r, &in) {
				return
			}
			if !e164Re.MatchString(in.Number) || in.On == nil {
				writeError(w, http.StatusBadRequest, errors.New("number: required, E.164; on: required"))
				return
			}
			f(in.Number, *in.On)
			okOrError(w, nil)
		}
	}
	m.HandleFunc("POST /control/rbm/offline", numberOn(s.SetRBMOffline))
	m.HandleFunc("POST /control/rbm/capable", numberOn(s.SetRCSCapable))
	m.HandleFunc("POST /control/rbm/webhook", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			URL         string `json:"url"`
			ClientToken string `json:"client_token"`
		}
		if decode(w, r, &in) {
			s.SetRBMCallback(in.URL, in.ClientToken)
			okOrError(w, nil)
		}
	})
	m.HandleFunc("GET /control/rbm/messages", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.RBMMessages())
	})
	m.HandleFunc("GET /control/rbm/events", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.RBMEvents())
	})
	m.HandleFunc("GET /control/rbm/capability-calls", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.RBMCapabilityCallCounts())
	})
}

// okOrError answers a control call: {"ok":true}, or the error with 404 for
// an unknown message, 409 for a wrong state or a missing callback URL.
func okOrError(w http.ResponseWriter, err error) {
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	case errors.Is(err, errUnknownMessage):
		writeError(w, http.StatusNotFound, err)
	case errors.Is(err, errMessageState), errors.Is(err, errNoCallbackURL):
		writeError(w, http.StatusConflict, err)
	default:
		writeError(w, statusFor(err), err)
	}
}

func writeRaw(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// withFields returns the JSON object raw with the given string fields set.
func withFields(raw []byte, fields map[string]string) ([]byte, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, err
	}
	for k, v := range fields {
		b, _ := json.Marshal(v)
		obj[k] = b
	}
	out, err := json.Marshal(obj)
	return append(out, '\n'), err
}

// strictJSON decodes one JSON object, refusing unknown fields as Google's
// API front end does ("Invalid JSON payload received. Unknown name …").
func strictJSON(raw []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// isUUID reports whether id is an RFC 4122 UUID in its textual form
// (version 1-8, variant 10xx), as messageId, eventId and requestId must be.
func isUUID(id string) bool {
	if len(id) != 36 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return '1' <= id[14] && id[14] <= '8' && strings.ContainsRune("89abAB", rune(id[19]))
}
