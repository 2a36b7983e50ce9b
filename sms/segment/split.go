package segment

import (
	"errors"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// Errors of Split and EncodeGSM7, for errors.Is.
var (
	// ErrEmpty: there is no text to send.
	ErrEmpty = errors.New("empty text")
	// ErrTooManyParts: the text needs more than 255 parts, the most an
	// 8-bit concatenation header can number.
	ErrTooManyParts = errors.New("too many parts")
	// ErrNotGSM7: a rune has no GSM 03.38 form.
	ErrNotGSM7 = errors.New("not in the gsm 03.38 alphabet")
)

// Segment is one SMS of a possibly concatenated message.
type Segment struct {
	// Seq and Total are 1-based; Total == 1 means a single SMS without UDH.
	Seq, Total int
	// UDH is nil for a single SMS, else the concatenation header
	// 05 00 03 ref total seq (UDHL included).
	UDH []byte
	// Payload is the encoded user data without the UDH: unpacked septets
	// for GSM7, UTF-16BE for UCS2.
	Payload []byte
	// Text is the part of the input this segment carries, for logs and
	// previews. It is a substring of the input (so invalid UTF-8 shows as it
	// came, although the payload carries U+FFFD).
	Text string
}

// ShortMessage returns UDH followed by Payload: the bytes for the
// short_message field of a submit_sm, whose esm_class must have UDHI (0x40)
// set when UDH is not nil.
func (s Segment) ShortMessage() []byte {
	if s.UDH == nil {
		return s.Payload
	}
	b := make([]byte, 0, len(s.UDH)+len(s.Payload))
	return append(append(b, s.UDH...), s.Payload...)
}

// Plan is a text encoded and cut into SMS segments.
type Plan struct {
	Encoding Encoding
	// Units is the size of the whole text: septets for GSM7 (extension
	// characters count 2), UTF-16 code units for UCS2.
	Units    int
	Segments []Segment
}

// Split encodes text and cuts it into SMS segments: a single message holds up
// to 160 septets or 70 UTF-16 units; a longer text is cut into parts of up to
// 153 septets or 67 units, each carrying the concatenation UDH
// 05 00 03 ref total seq with the given 8-bit reference (spec §7). An escape
// sequence (0x1B + extension character) and a surrogate pair are never split
// across parts. Invalid UTF-8 is sent as U+FFFD, one per invalid byte.
//
// The payloads and headers of all segments share one allocation; they must
// not be appended to.
func Split(text string, ref uint8) (Plan, error) {
	if text == "" {
		return Plan{}, fmt.Errorf("segment: %w", ErrEmpty)
	}
	enc, n, units := Count(text)
	if n > maxParts {
		return Plan{}, fmt.Errorf("segment: %w: %d %s units need %d parts, at most %d are allowed",
			ErrTooManyParts, units, enc, n, maxParts)
	}
	size := units
	if enc == UCS2 {
		size *= 2
	}
	capacity, hdr := enc.single(), 0
	if n > 1 {
		capacity, hdr = enc.part(), udhLen
	}
	buf := make([]byte, 0, size+n*hdr)
	segs := make([]Segment, n)
	start := 0
	for i := range segs {
		var udh []byte
		if hdr > 0 {
			off := len(buf)
			buf = append(buf, udhLen-1, 0x00, 0x03, ref, byte(n), byte(i+1))
			udh = buf[off:len(buf):len(buf)]
		}
		off := len(buf)
		var end int
		buf, end = appendPart(buf, text, start, enc, capacity)
		segs[i] = Segment{
			Seq:     i + 1,
			Total:   n,
			UDH:     udh,
			Payload: buf[off:len(buf):len(buf)],
			Text:    text[start:end],
		}
		start = end
	}
	return Plan{Encoding: enc, Units: units, Segments: segs}, nil
}

// appendPart encodes the longest run of whole runes from text[start:] that
// fits in capacity units of enc, and returns where the run ends. Taking whole
// runes is what keeps an escape sequence (2 septets) or a surrogate pair
// (2 units) from being split across parts (spec §7.1); the rule is the one
// Count's tally applies, so both agree on the number of parts.
func appendPart(dst []byte, text string, start int, enc Encoding, capacity int) ([]byte, int) {
	units, end := 0, start
	for end < len(text) {
		r, size := rune(text[end]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(text[end:])
		}
		var c byte
		ext, n := false, 1
		if enc == GSM7 {
			if c, ext, _ = gsmCode(r); ext {
				n = 2
			}
		} else if r >= 0x10000 {
			n = 2
		}
		if units+n > capacity {
			break
		}
		units += n
		end += size
		switch {
		case ext:
			dst = append(dst, esc, c)
		case enc == GSM7:
			dst = append(dst, c)
		case n == 2:
			hi, lo := utf16.EncodeRune(r)
			dst = append(dst, byte(hi>>8), byte(hi), byte(lo>>8), byte(lo))
		default:
			dst = append(dst, byte(r>>8), byte(r))
		}
	}
	return dst, end
}
