package segment

import "strconv"

// Encoding is the alphabet a text is sent in.
type Encoding uint8

// The two encodings the gateway sends.
const (
	// GSM7 is the GSM 03.38 default alphabet plus its extension table, sent
	// as unpacked septets (one per octet) with data_coding 0x00, which is
	// what most SMSCs expect over SMPP (spec §6).
	GSM7 Encoding = iota + 1
	// UCS2 is UTF-16BE with data_coding 0x08; characters outside the BMP
	// (emoji) take a surrogate pair.
	UCS2
)

// Capacities of one SMS in units of the encoding (spec §7.1): a single
// message, and one part of a concatenated message once the 6-octet UDH
// (05 00 03 ref total seq) has taken its share of the 140 octets.
const (
	gsmSingle  = 160
	gsmPart    = 153
	ucs2Single = 70
	ucs2Part   = 67
	maxParts   = 255
	udhLen     = 6
)

// DataCoding returns the SMPP data_coding value for e; 0x00 for an unknown
// Encoding.
func (e Encoding) DataCoding() byte {
	if e == UCS2 {
		return 0x08
	}
	return 0x00
}

// String returns "gsm7" or "ucs2", the names used in logs and JSON previews.
func (e Encoding) String() string {
	switch e {
	case GSM7:
		return "gsm7"
	case UCS2:
		return "ucs2"
	}
	return "Encoding(" + strconv.Itoa(int(e)) + ")"
}

// MarshalText encodes e as its String form so JSON previews carry "gsm7" or
// "ucs2".
func (e Encoding) MarshalText() ([]byte, error) {
	return []byte(e.String()), nil
}

// Choose returns GSM7 when every rune of text is in the GSM 03.38 default
// alphabet or its extension table (extension characters cost 2 septets),
// else UCS2. Invalid UTF-8 counts as U+FFFD, which forces UCS2.
func Choose(text string) Encoding {
	for _, r := range text {
		if _, _, ok := gsmCode(r); !ok {
			return UCS2
		}
	}
	return GSM7
}

// Count returns the encoding Split would choose, the number of segments and
// the number of units (septets for GSM7, UTF-16 code units for UCS2), without
// allocating. The empty text has zero segments. segments may exceed 255, the
// most Split accepts.
func Count(text string) (enc Encoding, segments, units int) {
	// Each encoding is cut greedily into parts the way Split cuts it, since
	// where escapes and surrogate pairs fall decides the number of parts.
	enc, t := GSM7, tally{parts: 1}
	for _, r := range text {
		_, ext, ok := gsmCode(r)
		if !ok {
			enc = UCS2
			break
		}
		n := 1
		if ext {
			n = 2
		}
		t.add(n, gsmPart)
	}
	if enc == UCS2 {
		t = tally{parts: 1}
		for _, r := range text {
			t.add(runeUnits16(r), ucs2Part)
		}
	}
	switch {
	case t.units == 0:
		return enc, 0, 0
	case t.units <= enc.single():
		return enc, 1, t.units
	}
	return enc, t.parts, t.units
}

// tally measures a text in one encoding as it is cut into parts.
type tally struct{ units, parts, inPart int }

func (t *tally) add(n, capacity int) {
	t.units += n
	if t.inPart+n > capacity {
		t.parts++
		t.inPart = 0
	}
	t.inPart += n
}

func (e Encoding) single() int {
	if e == UCS2 {
		return ucs2Single
	}
	return gsmSingle
}

func (e Encoding) part() int {
	if e == UCS2 {
		return ucs2Part
	}
	return gsmPart
}

// runeUnits16 is the number of UTF-16 code units r takes.
func runeUnits16(r rune) int {
	if r >= 0x10000 {
		return 2
	}
	return 1
}
