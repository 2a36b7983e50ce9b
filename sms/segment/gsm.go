package segment

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// esc is the GSM 03.38 escape to the extension table (0x1B).
const esc = 0x1B

// gsmBasic maps a septet of the GSM 03.38 default alphabet to its rune.
// 0x1B is the escape, not a character; its entry is the space TS 23.038 has a
// receiver display for an escape it cannot interpret, and encoding skips it.
var gsmBasic = [128]rune{
	'@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å',
	'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', ' ', 'Æ', 'æ', 'ß', 'É',
	' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/',
	'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?',
	'¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O',
	'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§',
	'¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
	'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à',
}

// extRune maps the septet that follows an escape to its extension-table rune.
// Only the ten characters of the default extension table are defined.
func extRune(c byte) (rune, bool) {
	switch c {
	case 0x0A:
		return '\f', true
	case 0x14:
		return '^', true
	case 0x28:
		return '{', true
	case 0x29:
		return '}', true
	case 0x2F:
		return '\\', true
	case 0x3C:
		return '[', true
	case 0x3D:
		return '~', true
	case 0x3E:
		return ']', true
	case 0x40:
		return '|', true
	case 0x65:
		return '€', true
	}
	return 0, false
}

// Entries of gsmTable: 0 means "not in GSM 03.38"; otherwise the low 7 bits
// are the septet and codeExt says it must be preceded by an escape.
const (
	codeBasic = 0x100
	codeExt   = 0x200
)

// Every GSM 03.38 character lies below U+0100, among the Greek capitals
// U+0390 to U+03AF, or is the euro sign: two small arrays and one comparison
// keep gsmCode small enough to inline.
const (
	greekLo   = 0x390
	greekSize = 32
	euroCode  = codeExt | 0x65
)

// gsmTable maps runes to their GSM code; it is filled once from the tables
// above and never written afterwards.
var gsmTable = func() (t struct {
	low   [256]uint16
	greek [greekSize]uint16
}) {
	set := func(r rune, v uint16) {
		switch {
		case r < 0x100:
			t.low[r] = v
		case r >= greekLo && r < greekLo+greekSize:
			t.greek[r-greekLo] = v
		case r == '€' && v == euroCode:
		default:
			panic("segment: gsm table: no slot for " + string(r))
		}
	}
	for c, r := range gsmBasic {
		if c != esc {
			set(r, codeBasic|uint16(c))
		}
	}
	for c := range 128 {
		if r, ok := extRune(byte(c)); ok {
			set(r, codeExt|uint16(c))
		}
	}
	return t
}()

// gsmCode returns the septet of r and whether it comes from the extension
// table (and so costs two septets, escape included); ok is false when r is in
// neither table.
func gsmCode(r rune) (c byte, ext, ok bool) {
	var v uint16
	switch {
	case uint32(r) < 0x100:
		v = gsmTable.low[r]
	case uint32(r-greekLo) < greekSize:
		v = gsmTable.greek[r-greekLo]
	case r == '€':
		v = euroCode
	}
	return byte(v & 0x7F), v&codeExt != 0, v != 0
}

// EncodeGSM7 encodes text as unpacked GSM 03.38 septets, one per octet, with
// extension characters as an escape (0x1B) followed by their code. The error
// names the first rune that has no GSM 03.38 form.
func EncodeGSM7(text string) ([]byte, error) {
	// Most texts are ASCII letters (one septet per byte); extension
	// characters may need a little more.
	dst := make([]byte, 0, len(text)+len(text)/8)
	for i, r := range text {
		c, ext, ok := gsmCode(r)
		if !ok {
			return nil, fmt.Errorf("segment: %w: %q (U+%04X) at byte %d", ErrNotGSM7, r, r, i)
		}
		if ext {
			dst = append(dst, esc)
		}
		dst = append(dst, c)
	}
	return dst, nil
}

// DecodeGSM7 decodes unpacked GSM 03.38 septets. It never fails: the high bit
// of each octet is ignored; an escape followed by a code the extension table
// does not define yields the default-alphabet character of that code, as
// 3GPP TS 23.038 §6.2.1.1 asks of a receiver; an escape followed by another
// escape (reserved for a second extension table) or ending the data yields a
// space, again per TS 23.038.
func DecodeGSM7(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b) + len(b)/4)
	for i := 0; i < len(b); i++ {
		c := b[i] & 0x7F
		if c != esc {
			writeRune(&sb, gsmBasic[c])
			continue
		}
		if i+1 == len(b) {
			sb.WriteByte(' ')
			continue
		}
		i++
		n := b[i] & 0x7F
		if r, ok := extRune(n); ok {
			writeRune(&sb, r)
		} else {
			// gsmBasic[esc] is a space, which covers the escape-escape case.
			writeRune(&sb, gsmBasic[n])
		}
	}
	return sb.String()
}

func writeRune(sb *strings.Builder, r rune) {
	if r < utf8.RuneSelf {
		sb.WriteByte(byte(r))
		return
	}
	sb.WriteRune(r)
}
