package sms

import (
	"errors"
	"hash/fnv"
	"strings"

	"gateway/unify"
)

// Address is an SMPP address with its type of number and numbering plan.
type Address struct {
	TON, NPI byte
	Addr     string
}

// SourceAddress picks what the phone sees as the sender. A sender with a
// pool of two-way numbers uses one of them, always the same for a given
// recipient (so replies come back to the number the person saw); otherwise
// its sms_source, typed by its form (spec §3.1): '+' and digits is an
// international number, up to 8 digits a short code, anything else an
// alphanumeric sender id.
func SourceAddress(s unify.Sender, to string) Address {
	if len(s.SMSNumbers) > 0 {
		h := fnv.New32a()
		_, _ = h.Write([]byte(to))
		return classifySource(s.SMSNumbers[int(h.Sum32()%uint32(len(s.SMSNumbers)))])
	}
	return classifySource(s.SMSSource)
}

func classifySource(src string) Address {
	switch {
	case strings.HasPrefix(src, "+") && isDigits(src[1:]) && len(src) > 1:
		return Address{TON: 1, NPI: 1, Addr: src[1:]}
	case isDigits(src) && len(src) > 0 && len(src) <= 8:
		return Address{TON: 3, NPI: 0, Addr: src}
	case isDigits(src) && len(src) > 8:
		return Address{TON: 1, NPI: 1, Addr: src}
	}
	return Address{TON: 5, NPI: 0, Addr: src}
}

// DestinationAddress is an E.164 number as SMPP wants it: international
// digits without the '+'.
func DestinationAddress(e164 string) (Address, error) {
	if !unify.LooksE164(e164) {
		return Address{}, errors.New("sms: destination " + e164 + " is not an E.164 number")
	}
	return Address{TON: 1, NPI: 1, Addr: e164[1:]}, nil
}

// PhoneNumber turns the source address of an MO into E.164: SMSCs send
// international numbers without the '+', with TON 1 or, often, TON 0.
func PhoneNumber(ton byte, addr string) string {
	a := strings.TrimPrefix(addr, "+")
	if isDigits(a) && (ton == 1 || ton == 0 && len(a) >= 8) {
		return "+" + a
	}
	return addr
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
