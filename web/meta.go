package web

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"gateway/unify"
	"gateway/unify/messenger"
	"gateway/unify/whatsapp"
)

// Dialect routes: a Messenger or WhatsApp bot reaches phone-only users by
// pointing its Graph API base URL at /v1/messenger or /v1/whatsapp. The
// Graph API's own paths (/me/messages, /{PAGE_ID}/messages,
// /{PHONE_NUMBER_ID}/messages) are served too, the id naming the sender.
//
// Errors stay problem+json, as everywhere in this API, with each field
// named by its path in the dialect's request ("message.quick_replies[2].title").
// Answers are 200, as Meta's are.

// senderMe is the Graph API's "the page of the token" in /me/messages.
const senderMe = "me"

// registerMeta mounts the dialect routes; New calls it.
func (s *Server) registerMeta() {
	// Messenger bots pass their page token as ?access_token=, which the
	// Graph API accepts; it is taken as the Bearer key, on these routes
	// only. The access log never shows query strings.
	s.e.POST("/v1/messenger/messages", s.postMessenger, accessToken, s.authenticate)
	s.e.POST("/v1/messenger/:sender/messages", s.postMessenger, accessToken, s.authenticate)
	s.api.POST("/whatsapp/messages", s.postWhatsApp)
	s.api.POST("/whatsapp/:sender/messages", s.postWhatsApp)
}

// accessToken moves a Graph-style ?access_token= into the Authorization
// header when the request has none.
func accessToken(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if tok := r.URL.Query().Get("access_token"); tok != "" && r.Header.Get(echo.HeaderAuthorization) == "" {
			r.Header.Set(echo.HeaderAuthorization, "Bearer "+tok)
		}
		return next(c)
	}
}

// dialect is the event dialect of the caller's key, "" for unified.
func (s *Server) dialect(c echo.Context) string {
	d := s.dialects[KeyName(c)]
	if d == "unified" {
		return ""
	}
	return d
}

// metaSender is the sender a dialect request goes from: the path's page or
// phone number id, or else the caller key's sender.
func (s *Server) metaSender(c echo.Context) string {
	if p := c.Param("sender"); p != "" && p != senderMe {
		return p
	}
	return s.senders[KeyName(c)]
}

// postMessenger is POST /v1/messenger/messages (Messenger's Send API).
func (s *Server) postMessenger(c echo.Context) error {
	body, err := readJSONBody(c.Request())
	if err != nil {
		return err
	}
	req, err := messenger.Decode(body)
	if err != nil {
		return err
	}
	msg, err := s.acceptDialect(c, "messenger", req.To, req.ToField, req.Content)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, echo.MIMEApplicationJSON, messenger.Response{RecipientID: msg.To, MessageID: string(msg.ID)})
}

// postWhatsApp is POST /v1/whatsapp/messages (WhatsApp's Cloud API).
func (s *Server) postWhatsApp(c echo.Context) error {
	body, err := readJSONBody(c.Request())
	if err != nil {
		return err
	}
	req, err := whatsapp.Decode(body)
	if err != nil {
		return err
	}
	msg, err := s.acceptDialect(c, "whatsapp", req.To, whatsapp.ToField, req.Content)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, echo.MIMEApplicationJSON, whatsapp.NewResponse(req.Input, msg.To, string(msg.ID)))
}

// acceptDialect hands a decoded dialect request to the core, with the same
// number check and Idempotency-Key handling as POST /v1/messages.
func (s *Server) acceptDialect(c echo.Context, route, to, toField string, content unify.Content) (*unify.Message, error) {
	m := &unify.Message{To: to, From: s.metaSender(c), Content: content, Dialect: s.dialect(c)}
	var fields []unify.FieldError
	if msg := checkE164(to); msg != "" {
		fields = append(fields, unify.FieldError{Field: toField, Message: msg})
	}
	if m.From == "" {
		fields = append(fields, unify.FieldError{Field: "sender", Message: fmt.Sprintf(
			"no sender: name it in the path (/v1/%s/{sender}/messages) or give this API key a sender (api_keys[].sender)", route)})
	}
	key, keyErrs := idempotencyKey(c.Request())
	fields = append(fields, keyErrs...)
	if len(fields) > 0 {
		return nil, unify.Invalid(fields...)
	}
	idem := unify.Idempotency{Scope: KeyName(c), Key: key}
	if key != "" {
		canon, err := json.Marshal(struct {
			Route   string        `json:"route"`
			To      string        `json:"to"`
			From    string        `json:"from"`
			Content unify.Content `json:"content"`
		}{route, m.To, m.From, m.Content})
		if err != nil {
			return nil, fmt.Errorf("web: canonical request: %w", err)
		}
		sum := sha256.Sum256(canon)
		idem.Hash = hex.EncodeToString(sum[:])
	}
	msg, replay, err := s.msgs.Accept(c.Request().Context(), m, idem)
	if err != nil {
		return nil, senderField(err)
	}
	if msg == nil || msg.ID == "" {
		return nil, fmt.Errorf("web: accept returned no message")
	}
	h := c.Response().Header()
	h.Set(echo.HeaderLocation, "/v1/messages/"+url.PathEscape(string(msg.ID)))
	if replay {
		h.Set(HeaderIdempotentReplayed, "true")
	}
	return msg, nil
}

// senderField renames the core's "from" to "sender": dialect requests have
// no "from", the sender comes from the path or the key.
func senderField(err error) error {
	var ue *unify.Error
	if !errors.As(err, &ue) || len(ue.Fields) == 0 {
		return err
	}
	out := *ue
	out.Fields = make([]unify.FieldError, len(ue.Fields))
	for i, f := range ue.Fields {
		if f.Field == "from" {
			f.Field = "sender"
		}
		out.Fields[i] = f
	}
	return &out
}
