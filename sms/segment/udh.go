package segment

import (
	"errors"
	"fmt"
)

// ErrBadUDH: a short_message whose UDHI bit is set does not start with a
// well-formed user data header.
var ErrBadUDH = errors.New("malformed udh")

// ParseUDH splits a short_message whose esm_class has UDHI (0x40) set into
// its user data header (the UDHL octet included, as in Segment.UDH) and the
// user data that follows. It fails when the message is empty or the UDHL
// points past its end; the information elements inside are not checked here
// (FindConcat does that).
func ParseUDH(shortMessage []byte) (udh, userData []byte, err error) {
	if len(shortMessage) == 0 {
		return nil, nil, fmt.Errorf("segment: %w: empty short_message", ErrBadUDH)
	}
	n := 1 + int(shortMessage[0])
	if n > len(shortMessage) {
		return nil, nil, fmt.Errorf("segment: %w: udhl %d exceeds the %d octets that follow it",
			ErrBadUDH, shortMessage[0], len(shortMessage)-1)
	}
	return shortMessage[:n:n], shortMessage[n:], nil
}

// Concat is the concatenation information element of a UDH.
type Concat struct {
	// Ref is the reference shared by all parts; Ref16 says it came from
	// IEI 0x08 (16-bit reference) rather than IEI 0x00 (8-bit).
	Ref uint16
	// Total is the number of parts and Seq this part's number, 1-based.
	Total, Seq uint8
	Ref16      bool
}

// Information element identifiers of the concatenation header (3GPP TS
// 23.040 §9.2.3.24.1 and .8).
const (
	ieiConcat8  = 0x00
	ieiConcat16 = 0x08
)

// FindConcat looks for the concatenation element, IEI 0x00 (8-bit reference)
// or 0x08 (16-bit reference), in a UDH given with its UDHL octet, as
// ParseUDH returns it. Other elements (ports, national language shifts…) may
// come before or after it. ok is false when there is none, when the UDH is
// truncated, or when the element is malformed (wrong length, total 0, seq 0
// or seq > total). If the element is repeated the last one counts, as
// TS 23.040 §9.2.3.24 says of non-repeatable elements.
func FindConcat(udh []byte) (c Concat, ok bool) {
	if len(udh) == 0 || 1+int(udh[0]) > len(udh) {
		return Concat{}, false
	}
	ies := udh[1 : 1+int(udh[0])]
	var last []byte
	for len(ies) > 0 {
		if len(ies) < 2 || 2+int(ies[1]) > len(ies) {
			return Concat{}, false
		}
		if ies[0] == ieiConcat8 || ies[0] == ieiConcat16 {
			last = ies[:2+int(ies[1])]
		}
		ies = ies[2+int(ies[1]):]
	}
	switch {
	case len(last) == 5 && last[0] == ieiConcat8:
		c = Concat{Ref: uint16(last[2]), Total: last[3], Seq: last[4]}
	case len(last) == 6 && last[0] == ieiConcat16:
		c = Concat{Ref: uint16(last[2])<<8 | uint16(last[3]), Total: last[4], Seq: last[5], Ref16: true}
	default:
		return Concat{}, false
	}
	if c.Total == 0 || c.Seq == 0 || c.Seq > c.Total {
		return Concat{}, false
	}
	return c, true
}
