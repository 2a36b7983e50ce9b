package web

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// Context keys set by the middleware.
const (
	ctxRequestID = "web.request_id"
	ctxKeyName   = "web.key_name"
)

// HeaderRequestID carries the request id, echoed from the client when it
// sent a sensible one, made up otherwise.
const HeaderRequestID = "X-Request-Id"

const maxRequestIDLen = 128

// requestID gives every request an id, visible in the X-Request-Id response
// header, the access log and problem answers, so an operator can find the
// log line of a failed call a client reports.
func (s *Server) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(HeaderRequestID)
		if !validRequestID(id) {
			id = newRequestID()
		}
		c.Set(ctxRequestID, id)
		c.Response().Header().Set(HeaderRequestID, id)
		return next(c)
	}
}

// validRequestID accepts ids a proxy or client may have set, but only in a
// charset that cannot forge log lines or headers.
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		ch := id[i]
		ok := ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' ||
			ch == '-' || ch == '_' || ch == '.' || ch == ':'
		if !ok {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// RequestID returns the id of the request being handled.
func RequestID(c echo.Context) string {
	id, _ := c.Get(ctxRequestID).(string)
	return id
}

// KeyName returns the name of the API key that authenticated the request,
// or "" outside the API group.
func KeyName(c echo.Context) string {
	n, _ := c.Get(ctxKeyName).(string)
	return n
}

// routeLabel is the route template, never the raw path: paths can hold phone
// numbers (/v1/capabilities/{phone}) and unbounded junk from scanners.
func routeLabel(c echo.Context) string {
	if p := c.Path(); p != "" {
		return p
	}
	return "unmatched"
}

// observe writes the access log line and the HTTP metrics. It renders the
// error itself (rather than leaving it to echo) so that the logged and
// counted status is the one sent. Bodies, query strings, phone numbers and
// keys are never logged; the API key's name is.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := s.now()
		if err := next(c); err != nil {
			c.Error(err)
		}
		elapsed := s.now().Sub(start)
		req, res := c.Request(), c.Response()
		route := routeLabel(c)
		s.metrics.observe(route, req.Method, res.Status, elapsed)
		level := slog.LevelInfo
		if res.Status >= 500 {
			level = slog.LevelWarn
		}
		if !s.log.Enabled(req.Context(), level) {
			return nil // spares building the line on every request at level warn
		}
		attrs := []slog.Attr{
			slog.String("request_id", RequestID(c)),
			slog.String("method", req.Method),
			slog.String("route", route),
			slog.Int("status", res.Status),
			slog.Int64("bytes", res.Size),
			slog.Duration("duration", elapsed),
			slog.String("remote", c.RealIP()),
		}
		if k := KeyName(c); k != "" {
			attrs = append(attrs, slog.String("key", k))
		}
		s.log.LogAttrs(req.Context(), level, "http request", attrs...)
		return nil
	}
}

// recover turns a panicking handler into an internal error, so that one bad
// request answers 500 instead of killing the connection without a log line.
func (s *Server) recover(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			r := recover()
			if r == nil {
				return
			}
			if r == http.ErrAbortHandler {
				panic(r) // net/http's way to abort a response on purpose
			}
			err = fmt.Errorf("web: panic in %s %s: %v", c.Request().Method, routeLabel(c), r)
		}()
		return next(c)
	}
}

// errUnauthorized is a 401 problem; the WWW-Authenticate header is added by
// the error handler (RFC 6750 §3).
type errUnauthorized struct {
	detail string
	token  bool // a token was given but is not a known key
}

func (e *errUnauthorized) Error() string { return "web: unauthorized: " + e.detail }

// authenticate checks the Bearer key. Every configured key is compared (no
// early exit) on SHA-256 digests, so neither which key matched nor a key's
// length shows in the timing.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header.Get(echo.HeaderAuthorization)
		scheme, token, ok := strings.Cut(h, " ")
		token = strings.TrimSpace(token)
		if h == "" || !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
			return &errUnauthorized{detail: "an Authorization: Bearer <API key> header is required"}
		}
		sum := sha256.Sum256([]byte(token))
		name, found := "", 0
		for _, k := range s.keys {
			eq := subtle.ConstantTimeCompare(sum[:], k.sum[:])
			found |= eq
			if eq == 1 {
				name = k.name
			}
		}
		if found == 0 {
			return &errUnauthorized{detail: "the API key is not valid", token: true}
		}
		c.Set(ctxKeyName, name)
		return next(c)
	}
}

// isUnauthorized reports whether err is an authentication failure.
func isUnauthorized(err error) (*errUnauthorized, bool) {
	var u *errUnauthorized
	ok := errors.As(err, &u)
	return u, ok
}
