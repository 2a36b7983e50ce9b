package sim

import (
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// gsmBasic is the GSM 03.38 default alphabet indexed by septet (0x1B is the
// escape to the extension table, decoded separately).
var gsmBasic = [128]rune{
	'@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å',
	'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', 0x1B, 'Æ', 'æ', 'ß', 'É',
	' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/',
	'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?',
	'¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O',
	'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§',
	'¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
	'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à',
}

// gsmExt is the extension table: septet after 0x1B -> rune.
var gsmExt = map[byte]rune{
	0x0A: '\f', 0x14: '^', 0x28: '{', 0x29: '}', 0x2F: '\\',
	0x3C: '[', 0x3D: '~', 0x3E: ']', 0x40: '|', 0x65: '€',
}

// gsmRev maps a rune to its septets (one, or 0x1B plus one). Built once at
// init from the two tables above and never written afterwards.
var gsmRev = func() map[rune][]byte {
	m := make(map[rune][]byte, 140)
	for i, r := range gsmBasic {
		if i != 0x1B {
			m[r] = []byte{byte(i)}
		}
	}
	for b, r := range gsmExt {
		m[r] = []byte{0x1B, b}
	}
	return m
}()

// gsmEncodeLossy is gsmEncode with '?' for runes outside the alphabet; it is
// used for receipt texts that quote a UCS-2 message.
func gsmEncodeLossy(s string) []byte {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if b, found := gsmRev[r]; found {
			out = append(out, b...)
		} else {
			out = append(out, '?')
		}
	}
	return out
}

// gsmDecode decodes unpacked septets. Per GSM 03.38 §6.2.1.1 an escape
// followed by a septet that is not in the extension table shows the default
// alphabet character; an escape with nothing after it (a part that split an
// escape sequence) and octets >= 0x80 (not septets) decode to U+FFFD so that
// such mistakes stay visible.
func gsmDecode(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c >= 0x80:
			sb.WriteRune(utf8.RuneError)
		case c == 0x1B:
			if i+1 >= len(b) || b[i+1] >= 0x80 {
				sb.WriteRune(utf8.RuneError)
				continue
			}
			i++
			if r, ok := gsmExt[b[i]]; ok {
				sb.WriteRune(r)
			} else if b[i] == 0x1B {
				sb.WriteRune(' ') // 0x1B 0x1B: reserved for another extension table
			} else {
				sb.WriteRune(gsmBasic[b[i]])
			}
		default:
			sb.WriteRune(gsmBasic[c])
		}
	}
	return sb.String()
}

// ucs2Decode decodes UTF-16BE; a lone surrogate (a part that split a pair)
// and an odd trailing octet decode to U+FFFD.
func ucs2Decode(b []byte) string {
	units := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		units = append(units, uint16(b[i])<<8|uint16(b[i+1]))
	}
	s := string(utf16.Decode(units))
	if len(b)%2 == 1 {
		s += string(utf8.RuneError)
	}
	return s
}

// alphabet is the character set implied by a data_coding value.
type alphabet int

const (
	alphaUnknown alphabet = iota
	alphaGSM              // GSM 03.38 default alphabet, unpacked on SMPP
	alphaASCII            // IA5
	alphaLatin1
	alphaUCS2
	alphaBinary // 8-bit data
	alphaOther  // known but not decoded here (JIS, Cyrillic, Hebrew, ...)
)

// alphabetOf classifies data_coding per SMPP 3.4 §5.2.19, plus the GSM 03.38
// data coding groups 0001xxxx (general, with class) and 1111xxxx
// (data coding/message class) that SMSCs pass through.
func alphabetOf(dc byte) alphabet {
	switch {
	case dc == 0x00:
		return alphaGSM
	case dc == 0x01:
		return alphaASCII
	case dc == 0x02 || dc == 0x04:
		return alphaBinary
	case dc == 0x03:
		return alphaLatin1
	case dc == 0x08:
		return alphaUCS2
	case dc == 0x05 || dc == 0x06 || dc == 0x07 || dc == 0x09 || dc == 0x0A || dc == 0x0D || dc == 0x0E:
		return alphaOther
	case dc&0xF0 == 0x10:
		switch dc & 0x0C {
		case 0x00:
			return alphaGSM
		case 0x04:
			return alphaBinary
		case 0x08:
			return alphaUCS2
		}
	case dc&0xF0 == 0xF0:
		if dc&0x04 != 0 {
			return alphaBinary
		}
		return alphaGSM
	}
	return alphaUnknown
}

// decodeText decodes user data by alphabet; binary and undecoded alphabets
// give "".
func decodeText(a alphabet, b []byte) string {
	switch a {
	case alphaGSM:
		return gsmDecode(b)
	case alphaUCS2:
		return ucs2Decode(b)
	case alphaASCII:
		var sb strings.Builder
		for _, c := range b {
			if c >= 0x80 {
				sb.WriteRune(utf8.RuneError)
			} else {
				sb.WriteByte(c)
			}
		}
		return sb.String()
	case alphaLatin1:
		rs := make([]rune, len(b))
		for i, c := range b {
			rs[i] = rune(c)
		}
		return string(rs)
	}
	return ""
}
