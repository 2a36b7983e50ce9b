package web

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"gateway/unify"
)

// HeaderIdempotentReplayed is set to "true" on an answer that repeats the
// answer to an earlier request with the same Idempotency-Key, so a client can
// tell a retry that was absorbed from a new message.
const HeaderIdempotentReplayed = "Idempotent-Replayed"

// maxIDLen bounds ids in paths; longer ones cannot exist and need not reach
// the store.
const maxIDLen = 128

// MessageJSON is a message as the API shows it. Every key is always present
// (empty strings while unknown), except protection, which is left out until
// the message has a channel.
type MessageJSON struct {
	ID             unify.MessageID   `json:"id"`
	Status         unify.Status      `json:"status"`
	To             string            `json:"to"`
	From           string            `json:"from"`
	Policy         string            `json:"policy"`
	ConversationID string            `json:"conversation_id"`
	ClientRef      string            `json:"client_ref"`
	Channel        unify.ChannelKind `json:"channel"`
	Carrier        string            `json:"carrier"`
	Error          string            `json:"error"`
	CreatedAt      time.Time         `json:"created_at"`
	UpdatedAt      time.Time         `json:"updated_at"`
	Protection     *unify.Protection `json:"protection,omitempty"`
	Attempts       []AttemptJSON     `json:"attempts"`
}

// AttemptJSON is one attempt of a message as the API shows it.
type AttemptJSON struct {
	ID                unify.AttemptID   `json:"id"`
	Channel           unify.ChannelKind `json:"channel"`
	Carrier           string            `json:"carrier"`
	Status            unify.Status      `json:"status"`
	Segments          int               `json:"segments"`
	CarrierMessageIDs []string          `json:"carrier_message_ids"`
	Error             string            `json:"error"`
	At                time.Time         `json:"at"`
}

// messageJSON renders m. Content is not part of the answer: the back end
// has it, and the gateway may already have dropped it (content retention).
func (s *Server) messageJSON(m *unify.Message) MessageJSON {
	out := MessageJSON{
		ID:             m.ID,
		Status:         m.Status,
		To:             m.To,
		From:           m.From,
		Policy:         m.Policy,
		ConversationID: m.ConversationID,
		ClientRef:      m.ClientRef,
		Channel:        m.Channel,
		Carrier:        m.Carrier,
		Error:          m.Error,
		CreatedAt:      m.CreatedAt.UTC(),
		UpdatedAt:      m.UpdatedAt.UTC(),
		Attempts:       make([]AttemptJSON, 0, len(m.Attempts)),
	}
	if m.Channel != "" {
		p := unify.ProtectionOf(m.Channel, m.Carrier != "" && s.tls(m.Carrier))
		out.Protection = &p
	}
	for i := range m.Attempts {
		a := &m.Attempts[i]
		out.Attempts = append(out.Attempts, AttemptJSON{
			ID:                a.ID,
			Channel:           a.Channel,
			Carrier:           a.Carrier,
			Status:            a.Status,
			Segments:          a.Segments,
			CarrierMessageIDs: a.CarrierMessageIDs(),
			Error:             a.Error,
			At:                a.At.UTC(),
		})
	}
	return out
}

// postMessage is POST /v1/messages. Nothing reaches the core unless the
// whole request is valid, so a bad request leaves nothing behind.
func (s *Server) postMessage(c echo.Context) error {
	req, fields, err := readSend(c)
	if err != nil {
		return err
	}
	key, keyErrs := idempotencyKey(c.Request())
	fields = append(fields, keyErrs...)
	if len(fields) > 0 {
		return unify.Invalid(fields...)
	}
	idem := unify.Idempotency{Scope: KeyName(c), Key: key}
	if key != "" {
		canon, err := json.Marshal(req)
		if err != nil {
			return fmt.Errorf("web: canonical request: %w", err)
		}
		sum := sha256.Sum256(canon)
		idem.Hash = hex.EncodeToString(sum[:])
	}
	m := req.message()
	m.Dialect = s.dialect(c)
	msg, replay, err := s.msgs.Accept(c.Request().Context(), m, idem)
	if err != nil {
		return err
	}
	if msg == nil || msg.ID == "" {
		return fmt.Errorf("web: accept returned no message")
	}
	h := c.Response().Header()
	h.Set(echo.HeaderLocation, "/v1/messages/"+url.PathEscape(string(msg.ID)))
	if replay {
		h.Set(HeaderIdempotentReplayed, "true")
	}
	return writeJSON(c, http.StatusAccepted, echo.MIMEApplicationJSON, s.messageJSON(msg))
}

// getMessage is GET /v1/messages/{id}.
func (s *Server) getMessage(c echo.Context) error {
	id := c.Param("id")
	if id == "" || len(id) > maxIDLen {
		return unify.Errorf(unify.CodeNotFound, "no message with this id")
	}
	msg, err := s.msgs.Message(c.Request().Context(), unify.MessageID(id))
	if err != nil {
		return err
	}
	if msg == nil {
		return unify.Errorf(unify.CodeNotFound, "no message with this id")
	}
	return writeJSON(c, http.StatusOK, echo.MIMEApplicationJSON, s.messageJSON(msg))
}
