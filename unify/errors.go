package unify

import (
	"errors"
	"fmt"
	"strings"
)

// FieldError is one problem with one field of a request, named by its JSON
// path ("content.suggestions[1].url").
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ErrorCode classifies an error at the API edge.
type ErrorCode string

// The API error codes; the web layer maps each to an HTTP status.
const (
	CodeInvalid     ErrorCode = "invalid"
	CodeNotFound    ErrorCode = "not_found"
	CodeConflict    ErrorCode = "conflict"
	CodeUnavailable ErrorCode = "unavailable"
	CodeInternal    ErrorCode = "internal"
)

// Error is the one error type that crosses the API edge. Message is safe to
// show to the caller; internal causes stay in Err and are only logged.
type Error struct {
	Code    ErrorCode
	Message string
	Fields  []FieldError
	Err     error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(string(e.Code))
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	for _, f := range e.Fields {
		fmt.Fprintf(&b, "; %s: %s", f.Field, f.Message)
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an *Error with a formatted message.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid builds a validation error listing every field problem.
func Invalid(fields ...FieldError) *Error {
	return &Error{Code: CodeInvalid, Message: "the request has invalid fields", Fields: fields}
}

// CodeOf returns the code of the *Error in err's chain, or CodeInternal.
func CodeOf(err error) ErrorCode {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// Send failures are a small closed set of kinds; a channel wraps the carrier's
// own error in a *SendError of one of these kinds and the dispatcher decides
// from the kind alone.
var (
	// ErrNotCapable: the phone or the carrier cannot take this channel (RBM
	// 404, no MM7): fall back right away, no attempt counted against retries.
	ErrNotCapable = errors.New("not capable")
	// ErrThrottled: the carrier asked us to slow down; try again soon without
	// using up an attempt.
	ErrThrottled = errors.New("throttled")
	// ErrTemporary: a transient failure (link down, 5xx, timeout); retry with
	// back-off.
	ErrTemporary = errors.New("temporary failure")
	// ErrRejected: the carrier refused this message for good on this channel.
	ErrRejected = errors.New("rejected")
	// ErrInvalidContent: the content cannot be carried by this channel.
	ErrInvalidContent = errors.New("invalid content for channel")
	// ErrOptedOut: the person asked this sender to stop.
	ErrOptedOut = errors.New("opted out")
	// ErrNoRoute: no carrier serves the number on this channel.
	ErrNoRoute = errors.New("no route")
	// ErrAlreadyDelivered: a revocation was refused because the message
	// already reached the phone.
	ErrAlreadyDelivered = errors.New("already delivered")
)

// SendError carries a send failure's kind (one of the Err* values above), the
// carrier's own code, and the underlying error.
type SendError struct {
	Kind error
	Code string
	Err  error
}

func (e *SendError) Error() string {
	msg := e.Kind.Error()
	if e.Code != "" {
		msg += " (" + e.Code + ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Is makes errors.Is(err, unify.ErrRejected) work on a *SendError.
func (e *SendError) Is(target error) bool { return target == e.Kind }

func (e *SendError) Unwrap() error { return e.Err }

// SendKind returns the kind of a send failure; an unclassified error is
// treated as temporary so that nothing accepted is dropped by accident.
func SendKind(err error) error {
	for _, k := range []error{ErrNotCapable, ErrThrottled, ErrTemporary, ErrRejected, ErrInvalidContent, ErrOptedOut, ErrNoRoute} {
		if errors.Is(err, k) {
			return k
		}
	}
	return ErrTemporary
}
