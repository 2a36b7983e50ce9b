package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"gateway/unify"
)

// userAgent identifies the client in the gateway's access log.
const userAgent = "gateway-client/1"

// maxAnswer bounds how much of an answer is read; the gateway's answers are
// a few kilobytes.
const maxAnswer = 1 << 20

// Client calls the REST API of one gateway.
type Client struct {
	// BaseURL is the gateway's address without /v1, such as
	// "http://127.0.0.1:8080".
	BaseURL string
	// APIKey is sent as a Bearer token; empty sends no Authorization.
	APIKey string
	// HTTP sends the requests; nil uses a client with a 30s timeout.
	HTTP *http.Client
}

// New returns a client of the gateway at baseURL (a trailing slash is
// dropped) authenticating with apiKey.
func New(baseURL, apiKey string) *Client {
	return &Client{
		BaseURL: strings.TrimRight(baseURL, "/"),
		APIKey:  apiKey,
		HTTP:    &http.Client{Timeout: 30 * time.Second},
	}
}

// SendRequest is the body of POST /v1/messages, plus the Idempotency-Key
// header to send with it.
type SendRequest struct {
	To             string        `json:"to"`
	From           string        `json:"from"`
	Policy         string        `json:"policy,omitempty"`
	ConversationID string        `json:"conversation_id,omitempty"`
	ClientRef      string        `json:"client_ref,omitempty"`
	Content        unify.Content `json:"content"`
	// IdempotencyKey, when set, makes a repeated request with the same
	// body get the first answer instead of a second message.
	IdempotencyKey string `json:"-"`
}

// SendResponse is the gateway's answer to an accepted message.
type SendResponse struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// Message is a message as GET /v1/messages/{id} shows it.
type Message struct {
	ID             string            `json:"id"`
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
	// Protection says how the current channel protects the content; nil
	// while the message has no channel yet.
	Protection *unify.Protection `json:"protection"`
	Attempts   []Attempt         `json:"attempts"`
}

// Attempt is one try of a message on one channel over one carrier.
type Attempt struct {
	ID                string            `json:"id"`
	Channel           unify.ChannelKind `json:"channel"`
	Carrier           string            `json:"carrier"`
	Status            unify.Status      `json:"status"`
	Segments          int               `json:"segments"`
	CarrierMessageIDs []string          `json:"carrier_message_ids"`
	Error             string            `json:"error"`
	At                time.Time         `json:"at"`
}

// Send posts one message and returns the gateway's answer once it is stored.
// A refusal is an *APIError; anything else (network, timeout) is the
// transport's error, wrapped.
func (c *Client) Send(ctx context.Context, r SendRequest) (SendResponse, error) {
	body, err := json.Marshal(r)
	if err != nil {
		return SendResponse{}, fmt.Errorf("client: encode message: %w", err)
	}
	var out SendResponse
	err = c.do(ctx, http.MethodPost, "/v1/messages", body, r.IdempotencyKey, &out)
	return out, err
}

// Message returns a message with its attempts; an unknown id is an *APIError
// with Status 404.
func (c *Client) Message(ctx context.Context, id string) (*Message, error) {
	var out Message
	if err := c.do(ctx, http.MethodGet, "/v1/messages/"+url.PathEscape(id), nil, "", &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func (c *Client) do(ctx context.Context, method, path string, body []byte, idemKey string, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, rd)
	if err != nil {
		return fmt.Errorf("client: %s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	req.Header.Set("User-Agent", userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.APIKey)
	}
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("client: %s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return apiError(resp, answer)
	}
	if err := json.Unmarshal(answer, out); err != nil {
		return fmt.Errorf("client: %s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// APIError is an answer of the gateway other than 2xx. For
// application/problem+json answers (RFC 9457) the fields are the problem's;
// for anything else (a proxy's HTML page) Title is the HTTP status text and
// Detail the start of the body.
type APIError struct {
	Status int
	Type   string
	Title  string
	Detail string
	// Errors lists each invalid field of a 400 invalid answer.
	Errors []unify.FieldError
}

// Error gives the status, the code and what is wrong, such as
// "400 invalid: to: must be an E.164 number; content.text: must not be empty".
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(e.Status) + " " + e.Code())
	switch {
	case len(e.Errors) > 0:
		for i, f := range e.Errors {
			sep := "; "
			if i == 0 {
				sep = ": "
			}
			b.WriteString(sep + f.Field + ": " + f.Message)
		}
	case e.Detail != "":
		b.WriteString(": " + e.Detail)
	case e.Title != "":
		b.WriteString(": " + e.Title)
	}
	return b.String()
}

// Code is the problem's short name: the last segment of Type (the gateway's
// types end in invalid, not_found, conflict, unavailable or internal), or,
// when Type says nothing ("" or about:blank), one derived from Status.
func (e *APIError) Code() string {
	if t := strings.TrimRight(e.Type, "/"); t != "" && t != "about:blank" {
		if i := strings.LastIndexAny(t, "/:#"); i < len(t)-1 {
			return t[i+1:]
		}
	}
	switch e.Status {
	case http.StatusBadRequest:
		return string(unify.CodeInvalid)
	case http.StatusNotFound:
		return string(unify.CodeNotFound)
	case http.StatusConflict:
		return string(unify.CodeConflict)
	case http.StatusServiceUnavailable:
		return string(unify.CodeUnavailable)
	case http.StatusInternalServerError:
		return string(unify.CodeInternal)
	}
	if t := http.StatusText(e.Status); t != "" {
		return strings.ReplaceAll(strings.ToLower(t), " ", "_")
	}
	return "error"
}

// Temporary reports whether trying the same request again later may work:
// the gateway or a proxy was overloaded or unavailable.
func (e *APIError) Temporary() bool {
	switch e.Status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

func apiError(resp *http.Response, body []byte) *APIError {
	e := &APIError{Status: resp.StatusCode}
	var p struct {
		Type   string             `json:"type"`
		Title  string             `json:"title"`
		Detail string             `json:"detail"`
		Errors []unify.FieldError `json:"errors"`
	}
	if isJSON(resp.Header.Get("Content-Type")) && json.Unmarshal(body, &p) == nil {
		e.Type, e.Title, e.Detail, e.Errors = p.Type, p.Title, p.Detail, p.Errors
		return e
	}
	e.Title = http.StatusText(resp.StatusCode)
	e.Detail = oneLine(body, 200)
	return e
}

func isJSON(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	return mt == "application/json" || mt == "application/problem+json"
}

// oneLine makes the start of an unexpected answer fit in one error line.
func oneLine(b []byte, maxRunes int) string {
	s := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(string(b), "\uFFFD"))
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > maxRunes {
		s = string(r[:maxRunes]) + "…"
	}
	return s
}
