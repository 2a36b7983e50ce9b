package smpp

import (
	"errors"
	"fmt"

	"github.com/linxGnu/gosmpp/data"
)

// Kind classifies a refused submit, telling the caller what to do next.
type Kind int

const (
	// Temporary: try again later (back-off), possibly on another carrier.
	Temporary Kind = iota + 1
	// Throttled: the SMSC asked to slow down and the link kept retrying
	// until ctx ended; snooze without spending an attempt.
	Throttled
	// Rejected: the SMSC refused this message for good (bad address,
	// bad length, unknown status…); resubmitting it unchanged is pointless.
	Rejected
)

// String returns the kind's lower-case name, as used in metric labels.
func (k Kind) String() string {
	switch k {
	case Temporary:
		return "temporary"
	case Throttled:
		return "throttled"
	case Rejected:
		return "rejected"
	default:
		return fmt.Sprintf("kind(%d)", int(k))
	}
}

// SubmitError is the only error type Submit returns.
type SubmitError struct {
	// Kind says what the caller should do about it.
	Kind Kind
	// Status is the SMSC's command_status, 0 when the refusal is local.
	Status uint32
	// Err is the cause, if any (ErrNotBound, ErrUnknownOutcome, ErrClosed,
	// a context error…).
	Err error
}

// Error implements error.
func (e *SubmitError) Error() string {
	msg := "smpp: submit " + e.Kind.String()
	if e.Status != 0 {
		msg += ": " + StatusName(e.Status)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause so that errors.Is(err, ErrUnknownOutcome) works.
func (e *SubmitError) Unwrap() error { return e.Err }

var (
	// ErrNotBound means no bind was up before ctx ended; nothing was sent.
	// It comes wrapped in a Temporary SubmitError.
	ErrNotBound = errors.New("smpp: not bound")
	// ErrUnknownOutcome means the submit_sm was (or may have been) written
	// but its response never came: the bind dropped, the response timed out
	// or ctx ended. The SMSC may have accepted it, so a blind resubmit may
	// duplicate the message; a delivery receipt may still tell. It comes
	// wrapped in a Temporary SubmitError.
	ErrUnknownOutcome = errors.New("smpp: outcome unknown")
	// ErrClosed means the link is closed or closing; nothing was sent. It
	// comes wrapped in a Temporary SubmitError.
	ErrClosed = errors.New("smpp: link closed")
)

// StatusName renders a command_status as "ESME_RTHROTTLED (0x00000058)".
func StatusName(status uint32) string {
	return fmt.Sprintf("%s (0x%08X)", data.CommandStatusType(status), status)
}

// classify maps a non-zero submit_sm_resp / generic_nack command_status to a
// Kind (shared/specs/smpp.md §9). Codes the spec does not call transient are
// Rejected: resubmitting a message an SMSC refused for an unknown reason
// risks a loop, and the channel can still fall back.
func classify(status uint32) Kind {
	switch data.CommandStatusType(status) {
	case data.ESME_RTHROTTLED, data.ESME_RMSGQFUL:
		return Throttled
	case data.ESME_RSYSERR, data.ESME_RSUBMITFAIL, data.ESME_RINVBNDSTS,
		data.ESME_RALYBND, data.ESME_RX_T_APPN:
		return Temporary
	default:
		return Rejected
	}
}
