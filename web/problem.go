package web

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"gateway/unify"
)

// MIMEProblemJSON is the media type of error answers (RFC 9457 §3).
const MIMEProblemJSON = "application/problem+json"

// ProblemTypeBase prefixes every problem type; the slug that follows is the
// stable part clients switch on. ".invalid" (RFC 2606) says on purpose that
// the URI identifies and is not meant to be fetched.
const ProblemTypeBase = "https://gateway.invalid/problems/"

// retryAfterSeconds is what 503 answers tell clients to wait: long enough for
// a store fail-over or a reconnect, short enough not to stall a send queue.
const retryAfterSeconds = 5

// Problem is the body of every error answer (RFC 9457).
type Problem struct {
	Type      string             `json:"type"`
	Title     string             `json:"title"`
	Status    int                `json:"status"`
	Detail    string             `json:"detail,omitempty"`
	Errors    []unify.FieldError `json:"errors,omitempty"`
	RequestID string             `json:"request_id,omitempty"`
}

// slugs name the problem type of each status the gateway answers.
var slugs = map[int]string{
	http.StatusBadRequest:            "invalid",
	http.StatusUnauthorized:          "unauthorized",
	http.StatusNotFound:              "not_found",
	http.StatusMethodNotAllowed:      "method_not_allowed",
	http.StatusConflict:              "conflict",
	http.StatusRequestEntityTooLarge: "too_large",
	http.StatusUnsupportedMediaType:  "unsupported_media_type",
	http.StatusInternalServerError:   "internal",
	http.StatusServiceUnavailable:    "unavailable",
}

func problemType(status int) string {
	if s, ok := slugs[status]; ok {
		return ProblemTypeBase + s
	}
	return "about:blank"
}

// statusOf maps the API error codes to HTTP statuses.
func statusOf(code unify.ErrorCode) int {
	switch code {
	case unify.CodeInvalid:
		return http.StatusBadRequest
	case unify.CodeNotFound:
		return http.StatusNotFound
	case unify.CodeConflict:
		return http.StatusConflict
	case unify.CodeUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// httpProblem is an error that already knows its status and detail: a body
// too large or of the wrong type.
type httpProblem struct {
	status int
	detail string
}

func (e *httpProblem) Error() string { return "web: " + e.detail }

// handleError is echo's HTTPErrorHandler: the one place errors become
// answers. Internal causes go to the log with the request id; the client
// gets a generic detail and that id.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	p := Problem{RequestID: RequestID(c)}
	var (
		ue *unify.Error
		he *echo.HTTPError
		hp *httpProblem
	)
	if u, ok := isUnauthorized(err); ok {
		p.Status, p.Detail = http.StatusUnauthorized, u.detail
		challenge := `Bearer realm="gateway"`
		if u.token {
			challenge += `, error="invalid_token"`
		}
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, challenge)
	} else if errors.As(err, &hp) {
		p.Status, p.Detail = hp.status, hp.detail
	} else if errors.As(err, &ue) {
		p.Status = statusOf(ue.Code)
		if p.Status != http.StatusInternalServerError {
			p.Detail = ue.Message
			p.Errors = ue.Fields
		}
	} else if errors.As(err, &he) {
		p.Status = he.Code
		if msg, ok := he.Message.(string); ok && p.Status < 500 {
			p.Detail = msg
		}
	} else {
		p.Status = http.StatusInternalServerError
	}
	if p.Status == http.StatusInternalServerError {
		p.Detail = "the gateway could not handle the request; quote the request id when reporting it"
		s.log.LogAttrs(c.Request().Context(), slog.LevelError, "internal error",
			slog.String("request_id", p.RequestID), slog.String("route", routeLabel(c)), slog.Any("err", err))
	}
	if p.Status == http.StatusServiceUnavailable {
		c.Response().Header().Set(echo.HeaderRetryAfter, strconv.Itoa(retryAfterSeconds))
		if ue != nil && ue.Err != nil {
			s.log.LogAttrs(c.Request().Context(), slog.LevelWarn, "unavailable",
				slog.String("request_id", p.RequestID), slog.Any("err", ue.Err))
		}
	}
	p.Type = problemType(p.Status)
	p.Title = http.StatusText(p.Status)
	if p.Title == "" {
		p.Title = "Error"
	}
	if err := writeJSON(c, p.Status, MIMEProblemJSON, p); err != nil {
		s.log.LogAttrs(c.Request().Context(), slog.LevelDebug, "write error answer",
			slog.String("request_id", p.RequestID), slog.Any("err", err))
	}
}

// writeJSON writes v with the given media type. HEAD requests get the
// headers only.
func writeJSON(c echo.Context, status int, mediaType string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if c.Request().Method == http.MethodHead {
		c.Response().Header().Set(echo.HeaderContentType, mediaType)
		return c.NoContent(status)
	}
	return c.Blob(status, mediaType, append(b, '\n'))
}
