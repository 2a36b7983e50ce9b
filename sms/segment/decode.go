package segment

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Errors of Decode, for errors.Is.
var (
	// ErrBinary: the data_coding says 8-bit data, which is not text.
	ErrBinary = errors.New("binary user data")
	// ErrUnsupportedCoding: a data_coding this package cannot turn into
	// text (JIS, Cyrillic, Hebrew, pictograms, compressed or reserved).
	ErrUnsupportedCoding = errors.New("unsupported data_coding")
)

// DecodeUCS2 decodes UTF-16BE user data. An odd length is an error; a lone
// surrogate becomes U+FFFD.
func DecodeUCS2(b []byte) (string, error) {
	if len(b)%2 != 0 {
		return "", fmt.Errorf("segment: ucs2 user data has odd length %d", len(b))
	}
	var sb strings.Builder
	sb.Grow(len(b) + len(b)/2)
	for i := 0; i < len(b); i += 2 {
		r := rune(b[i])<<8 | rune(b[i+1])
		if utf16.IsSurrogate(r) {
			if r < 0xDC00 && i+3 < len(b) {
				if p := utf16.DecodeRune(r, rune(b[i+2])<<8|rune(b[i+3])); p != utf8.RuneError {
					sb.WriteRune(p)
					i += 2
					continue
				}
			}
			r = utf8.RuneError
		}
		writeRune(&sb, r)
	}
	return sb.String(), nil
}

// decodeLatin1 decodes ISO-8859-1, whose code points are the first 256 of
// Unicode.
func decodeLatin1(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b))
	for _, c := range b {
		writeRune(&sb, rune(c))
	}
	return sb.String()
}

// Decode turns the user data of a received deliver_sm (UDH already removed)
// into text according to its data_coding.
//
// 0x00 to 0x0F have their SMPP 3.4 meanings (spec §6): 0x00 GSM 03.38
// unpacked, 0x01 IA5/ASCII, 0x03 Latin-1, 0x08 UCS2, 0x02 and 0x04 binary
// (ErrBinary); the others are ErrUnsupportedCoding. IA5 octets above 0x7F are
// read as Latin-1, as SMSCs that mislabel Latin-1 send them.
//
// From 0x10 on the value is a GSM DCS (3GPP TS 23.038 §4), which SMSCs pass
// through when a message class is set: the alphabet bits of the general
// (00xx, 01xx), message-waiting (1100 to 1110) and data-coding/message-class
// (1111) groups select GSM 7-bit, 8-bit (ErrBinary) or UCS2; compressed text
// and the reserved groups are ErrUnsupportedCoding.
func Decode(dataCoding byte, userData []byte) (string, error) {
	switch dcsAlphabet(dataCoding) {
	case alphaGSM7:
		return DecodeGSM7(userData), nil
	case alphaLatin1:
		return decodeLatin1(userData), nil
	case alphaUCS2:
		return DecodeUCS2(userData)
	case alphaBinary:
		return "", fmt.Errorf("segment: data_coding 0x%02X: %w", dataCoding, ErrBinary)
	}
	return "", fmt.Errorf("segment: %w 0x%02X", ErrUnsupportedCoding, dataCoding)
}

type alphabet uint8

const (
	alphaUnsupported alphabet = iota
	alphaGSM7
	alphaLatin1
	alphaUCS2
	alphaBinary
)

// dcsAlphabet classifies a data_coding value; see Decode.
func dcsAlphabet(dc byte) alphabet {
	switch {
	case dc < 0x10:
		switch dc {
		case 0x00:
			return alphaGSM7
		case 0x01, 0x03:
			return alphaLatin1
		case 0x02, 0x04:
			return alphaBinary
		case 0x08:
			return alphaUCS2
		}
		return alphaUnsupported
	case dc < 0x80:
		// General data coding (00xx) and automatic deletion (01xx) groups:
		// bit 5 = compressed, bits 3-2 = alphabet.
		if dc&0x20 != 0 {
			return alphaUnsupported
		}
		switch (dc >> 2) & 0x03 {
		case 0:
			return alphaGSM7
		case 1:
			return alphaBinary
		case 2:
			return alphaUCS2
		}
		return alphaUnsupported
	case dc < 0xC0:
		return alphaUnsupported // reserved coding groups 1000 to 1011
	case dc < 0xE0:
		return alphaGSM7 // message waiting, discard or store: default alphabet
	case dc < 0xF0:
		return alphaUCS2 // message waiting, store: UCS2
	case dc&0x04 != 0:
		return alphaBinary // data coding/message class, bit 2 = 8-bit data
	}
	return alphaGSM7
}
