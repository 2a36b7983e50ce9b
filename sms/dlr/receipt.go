package dlr

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrNotReceipt: neither a message id nor a state could be read.
var ErrNotReceipt = errors.New("not a delivery receipt")

// Receipt is what a delivery receipt says about one submitted message.
type Receipt struct {
	// ID is the SMSC message id: the receipted_message_id TLV when present,
	// else the id: field of the text.
	ID    string
	State State
	// Submitted and Delivered are the sub: and dlvrd: counts, -1 when
	// absent or not a number.
	Submitted, Delivered int
	// SubmitDate and DoneDate are read as UTC (the receipt carries no zone);
	// zero when absent or not a valid YYMMDDhhmm[ss].
	SubmitDate, DoneDate time.Time
	// Err is the err: field, a network or SMSC specific code (usually 3
	// characters).
	Err string
	// Text is the text: field, usually the first 20 characters of the
	// original message.
	Text string
	// NetworkError is the network_error_code TLV (3 octets: network type,
	// error code) when present; it shares the caller's slice.
	NetworkError []byte
}

// TLVs are the receipt-related optional parameters of a deliver_sm.
type TLVs struct {
	// ReceiptedMessageID is TLV 0x001E; a trailing NUL is stripped.
	ReceiptedMessageID string
	// MessageState is TLV 0x0427, -1 when absent.
	MessageState int
	// NetworkErrorCode is TLV 0x0423.
	NetworkErrorCode []byte
}

// The fields of a receipt text.
type field uint8

const (
	fID field = iota
	fSub
	fDlvrd
	fSubmitDate
	fDoneDate
	fStat
	fErr
	fText
	numFields
	fNone = numFields
)

// Parse reads a delivery receipt from the deliver_sm text and its TLVs; a
// TLV wins over the text when present (a message_state TLV only when it is a
// state of 1 to 8).
//
// The text is read leniently (spec §10.1): keys in any case and any order,
// "submit date"/"done date" with a space (or an underscore, or nothing),
// fields missing, keys other than the Appendix B ones ignored, dates with or
// without seconds. "text:" (or "Text:") runs to the end of the string, so a
// colon or a key inside the original text does no harm.
//
// The error (ErrNotReceipt) comes only when neither an id nor a state can be
// found.
func Parse(text string, tlv TLVs) (Receipt, error) {
	v := scan(strings.TrimRight(text, "\x00"))
	r := Receipt{
		ID:           trimID(tlv.ReceiptedMessageID),
		Submitted:    atoi(v[fSub]),
		Delivered:    atoi(v[fDlvrd]),
		SubmitDate:   parseDate(v[fSubmitDate]),
		DoneDate:     parseDate(v[fDoneDate]),
		Err:          v[fErr],
		Text:         v[fText],
		NetworkError: tlv.NetworkErrorCode,
	}
	if r.ID == "" {
		r.ID = v[fID]
	}
	if s := tlv.MessageState; s >= int(Enroute) && s <= int(Rejected) {
		r.State = State(s)
	} else {
		r.State = parseStat(v[fStat])
	}
	if r.ID == "" && r.State == 0 {
		return Receipt{}, fmt.Errorf("dlr: %w: %q", ErrNotReceipt, clip(text, 64))
	}
	return r, nil
}

// scan returns the value of each field found in text: the first token after
// the key's colon, or for text: everything after it, trimmed. A field that
// occurs twice keeps its first value.
func scan(text string) (vals [numFields]string) {
	var seen [numFields]bool
	cur, from := fNone, 0
	flush := func(to int) {
		if cur != fNone && !seen[cur] {
			seen[cur] = true
			vals[cur] = firstToken(text[from:to])
		}
	}
	for i := 0; i < len(text); i++ {
		if i > 0 && !isSep(text[i-1]) {
			continue
		}
		f, next := matchKey(text, i)
		if f == fNone {
			continue
		}
		flush(i)
		if f == fText {
			if !seen[fText] {
				seen[fText] = true
				vals[fText] = strings.TrimSpace(text[next:])
			}
			return vals
		}
		cur, from = f, next
		i = next - 1
	}
	flush(len(text))
	return vals
}

// keys are the receipt keys, without their colon; "submit" and "done" are
// followed by "date" (see matchKey).
var keys = [...]struct {
	name string
	f    field
}{
	{"id", fID},
	{"sub", fSub},
	{"dlvrd", fDlvrd},
	{"submit", fSubmitDate},
	{"done", fDoneDate},
	{"stat", fStat},
	{"err", fErr},
	{"text", fText},
}

// matchKey reports which key starts at s[i:] (followed by optional spaces and
// a colon) and where its value starts; fNone when none does.
func matchKey(s string, i int) (field, int) {
	switch lower(s[i]) {
	case 'i', 's', 'd', 'e', 't':
	default:
		return fNone, 0 // no key starts with it
	}
	for _, k := range keys {
		j := i + len(k.name)
		if j > len(s) || !equalFoldASCII(s[i:j], k.name) {
			continue
		}
		if k.f == fSubmitDate || k.f == fDoneDate {
			if j < len(s) && (s[j] == ' ' || s[j] == '_') {
				j++
			}
			if j+4 > len(s) || !equalFoldASCII(s[j:j+4], "date") {
				continue
			}
			j += 4
		}
		for j < len(s) && s[j] == ' ' {
			j++
		}
		if j < len(s) && s[j] == ':' {
			return k.f, j + 1
		}
	}
	return fNone, 0
}

// sepMask has bit c set for each separator byte c (all below 64).
const sepMask = 1<<' ' | 1<<'\t' | 1<<'\r' | 1<<'\n' | 1<<',' | 1<<';'

func isSep(c byte) bool { return c < 64 && sepMask>>c&1 != 0 }

// firstToken returns the first run of non-separator bytes of s.
func firstToken(s string) string {
	i := 0
	for i < len(s) && isSep(s[i]) {
		i++
	}
	j := i
	for j < len(s) && !isSep(s[j]) {
		j++
	}
	return s[i:j]
}

// trimID strips the NUL a C-Octet String TLV may still carry, and spaces.
func trimID(s string) string {
	return strings.TrimSpace(strings.TrimRight(s, "\x00"))
}

// atoi reads a small decimal count (sub:, dlvrd:), -1 when it is not one.
func atoi(s string) int {
	if s == "" || len(s) > 9 {
		return -1
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// parseDate reads YYMMDDhhmm or YYMMDDhhmmss as UTC in 2000-2099; zero when
// it is neither or names a time that does not exist.
func parseDate(s string) time.Time {
	if len(s) != 10 && len(s) != 12 {
		return time.Time{}
	}
	var p [6]int
	for i := 0; i < len(s); i += 2 {
		a, b := s[i], s[i+1]
		if a < '0' || a > '9' || b < '0' || b > '9' {
			return time.Time{}
		}
		p[i/2] = int(a-'0')*10 + int(b-'0')
	}
	yy, mo, dd, hh, mi, ss := p[0], p[1], p[2], p[3], p[4], p[5]
	if mo < 1 || mo > 12 || dd < 1 || hh > 23 || mi > 59 || ss > 59 {
		return time.Time{}
	}
	t := time.Date(2000+yy, time.Month(mo), dd, hh, mi, ss, 0, time.UTC)
	if t.Day() != dd { // 31 April, 29 February of a common year…
		return time.Time{}
	}
	return t
}

// equalFoldASCII is strings.EqualFold for ASCII keys, without its Unicode
// machinery.
func equalFoldASCII(s, t string) bool {
	if len(s) != len(t) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if lower(s[i]) != lower(t[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
