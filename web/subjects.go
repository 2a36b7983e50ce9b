package web

import (
	"context"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"gateway/unify"
)

// SubjectEraser erases what the gateway holds about a phone number (the
// privacy package's Eraser). EraseSubject is called once per
// DELETE /v1/subjects/{phone} with a number that looks E.164, and blocks
// until the erasure has committed. It returns the keyed hash that replaces
// the number in the rows kept for accounting and what was erased, by kind;
// a number with nothing left to erase returns zero counts (the call is
// idempotent). Errors are *unify.Error: invalid for a number it refuses,
// unavailable when the store cannot commit.
type SubjectEraser interface {
	EraseSubject(ctx context.Context, phone string) (numberHash string, counts map[string]int, err error)
}

// SubjectErasure is the answer to DELETE /v1/subjects/{phone}.
type SubjectErasure struct {
	Phone      string         `json:"phone"`
	NumberHash string         `json:"number_hash"`
	Erased     bool           `json:"erased"` // false: nothing was left to erase
	Counts     map[string]int `json:"counts"`
}

// MountSubjects adds DELETE /v1/subjects/{phone} to the API.
func (s *Server) MountSubjects(e SubjectEraser) {
	s.api.DELETE("/subjects/:phone", func(c echo.Context) error {
		// echo hands path parameters over as they came: "%2B33…" when the
		// client escaped the '+'.
		phone, err := url.PathUnescape(c.Param("phone"))
		if err != nil || !unify.LooksE164(phone) {
			return unify.Invalid(unify.FieldError{Field: "phone", Message: "must be an E.164 number such as +33612345678"})
		}
		hash, counts, err := e.EraseSubject(c.Request().Context(), phone)
		if err != nil {
			return err
		}
		out := SubjectErasure{Phone: phone, NumberHash: hash, Counts: counts}
		if out.Counts == nil {
			out.Counts = map[string]int{}
		}
		for _, n := range counts {
			out.Erased = out.Erased || n > 0
		}
		return writeJSON(c, http.StatusOK, echo.MIMEApplicationJSON, out)
	})
}
