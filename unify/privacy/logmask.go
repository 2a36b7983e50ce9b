package privacy

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// MaskHandler wraps a slog.Handler so that logs, at every level, hold no
// full phone number, no content and no secret:
//
//   - phone numbers in the message and in every value (errors and other
//     values included, at any depth of groups) keep all but their last four
//     digits: "+33612345678" becomes "+3361234****" (see MaskNumbers);
//   - attributes named content, text, body, secret, key, password, token,
//     authorization or cookie, or ending in "_" and one of those
//     ("api_key", "webhook_secret"), are dropped with their value, as are
//     groups of those names.
//
// It sits in front of the real handler in cmd/gateway, so that no package
// has to remember the rules at each log call.
func MaskHandler(h slog.Handler) slog.Handler {
	if m, ok := h.(*maskHandler); ok {
		return m
	}
	return &maskHandler{h: h}
}

type maskHandler struct {
	h slog.Handler
	// dropAll is set inside a group with a sensitive name: everything
	// logged in it is dropped.
	dropAll bool
}

func (m *maskHandler) Enabled(ctx context.Context, l slog.Level) bool { return m.h.Enabled(ctx, l) }

func (m *maskHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, MaskNumbers(r.Message), r.PC)
	if !m.dropAll {
		r.Attrs(func(a slog.Attr) bool {
			if a, ok := maskAttr(a); ok {
				out.AddAttrs(a)
			}
			return true
		})
	}
	return m.h.Handle(ctx, out)
}

func (m *maskHandler) WithAttrs(as []slog.Attr) slog.Handler {
	if m.dropAll {
		return m
	}
	kept := make([]slog.Attr, 0, len(as))
	for _, a := range as {
		if a, ok := maskAttr(a); ok {
			kept = append(kept, a)
		}
	}
	return &maskHandler{h: m.h.WithAttrs(kept)}
}

func (m *maskHandler) WithGroup(name string) slog.Handler {
	return &maskHandler{h: m.h.WithGroup(name), dropAll: m.dropAll || sensitiveKey(name)}
}

// sensitiveNames are attribute names whose values are content or secrets.
var sensitiveNames = []string{"content", "text", "body", "secret", "key", "password", "token", "authorization", "cookie"}

func sensitiveKey(k string) bool {
	k = strings.ToLower(k)
	for _, s := range sensitiveNames {
		if k == s || strings.HasSuffix(k, "_"+s) {
			return true
		}
	}
	return false
}

// maskAttr returns a with its value masked, or false when it must be
// dropped.
func maskAttr(a slog.Attr) (slog.Attr, bool) {
	if sensitiveKey(a.Key) {
		return a, false
	}
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, MaskNumbers(v.String())), true
	case slog.KindGroup:
		var kept []any
		for _, g := range v.Group() {
			if g, ok := maskAttr(g); ok {
				kept = append(kept, g)
			}
		}
		if len(kept) == 0 {
			return a, false
		}
		return slog.Group(a.Key, kept...), true
	case slog.KindAny:
		// Values of other types are printed by the handler as they would
		// have been, then masked: an error may quote a number ("no carrier
		// serves +33…"); a struct may hold one.
		switch x := v.Any().(type) {
		case nil:
			return a, true
		case error:
			return slog.String(a.Key, MaskNumbers(x.Error())), true
		case []byte:
			return a, false // raw bytes are likely a body
		default:
			return slog.String(a.Key, MaskNumbers(fmt.Sprintf("%+v", x))), true
		}
	}
	return slog.Attr{Key: a.Key, Value: v}, true
}

// MaskNumbers hides the last four digits of every phone number in s: a '+'
// followed by 7 to 15 digits, or a bare run of 8 to 15 digits (SMPP
// addresses come without the '+'), that is not part of a longer word such as
// an id. "+33612345678" becomes "+3361234****". Carrier message ids that
// are long decimal numbers are masked too: a log line cannot tell them from
// a phone number.
func MaskNumbers(s string) string {
	if !hasDigitRun(s) {
		return s
	}
	b := []byte(s)
	for i := 0; i < len(b); {
		if !isDigit(b[i]) {
			i++
			continue
		}
		j := i
		for j < len(b) && isDigit(b[j]) {
			j++
		}
		plus := i > 0 && b[i-1] == '+'
		start := i
		if plus {
			start = i - 1
		}
		n := j - i
		bounded := (start == 0 || !joins(b, start-1, -1)) && (j == len(b) || !joins(b, j, 1))
		if bounded && n <= 15 && (n >= 8 || plus && n >= 7) {
			for k := j - 4; k < j; k++ {
				b[k] = '*'
			}
		}
		i = j
	}
	return string(b)
}

// hasDigitRun is a fast path: most log values hold no run of 7 digits.
func hasDigitRun(s string) bool {
	run := 0
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			run++
			if run >= 7 {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// joins says whether b[i], next to a digit run, makes it part of a longer
// token: an id ("msg_…", a UUID's "-") or a decimal number ("1732536000.25";
// a '.' ending a sentence does not join).
func joins(b []byte, i, dir int) bool {
	c := b[i]
	switch {
	case isDigit(c), c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_', c == '-':
		return true
	case c == '.':
		k := i + dir
		return k >= 0 && k < len(b) && isDigit(b[k])
	}
	return false
}
