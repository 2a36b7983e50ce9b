package dlr

import (
	"math/big"
	"strconv"
	"strings"
)

// maxIDLen bounds the ids read as numbers: message_id is a C-Octet String of
// at most 65 octets (spec §3), so longer strings are not SMSC ids.
const maxIDLen = 65

// Keys are the forms an SMSC message id can be matched by. SMSCs are
// inconsistent: the submit_sm_resp may say "1A2B" while the receipt says
// "6699" (the same value in decimal), or the two differ in case or leading
// zeros (spec §10.1; Kannel's msg-id-type exists for the same reason).
type Keys struct {
	// Raw is the id trimmed of spaces and NULs, lower-cased, leading zeros
	// stripped ("" stays "", "000" becomes "0").
	Raw string
	// Dec is the canonical decimal of the id read as a decimal number, ""
	// unless it is all decimal digits.
	Dec string
	// Hex is the canonical decimal of the id read as a hexadecimal number,
	// "" unless it is all hex digits (and at most 65 of them).
	Hex string
}

// KeysOf computes the Keys of an SMSC message id.
func KeysOf(id string) Keys {
	id = strings.ToLower(strings.TrimRight(strings.TrimSpace(id), "\x00"))
	if id == "" {
		return Keys{}
	}
	raw := strings.TrimLeft(id, "0")
	if raw == "" {
		raw = "0"
	}
	k := Keys{Raw: raw}
	dec, hex := true, len(raw) <= maxIDLen
	for i := 0; i < len(raw) && (dec || hex); i++ {
		switch c := raw[i]; {
		case c >= '0' && c <= '9':
		case c >= 'a' && c <= 'f':
			dec = false
		default:
			dec, hex = false, false
		}
	}
	if dec {
		k.Dec = raw // leading zeros are already gone
	}
	switch {
	case !hex:
	case len(raw) <= 16:
		v, _ := strconv.ParseUint(raw, 16, 64) // cannot fail: ≤ 16 hex digits
		k.Hex = strconv.FormatUint(v, 10)
	default:
		v, _ := new(big.Int).SetString(raw, 16)
		k.Hex = v.String()
	}
	return k
}

// Match reports whether a receipt's id and a submit_sm_resp's id name the
// same message: the same Raw form, or the receipt's decimal value equal to
// the submitted id's hexadecimal value, or the other way round. Empty ids
// match nothing.
//
// The cross forms are ambiguous for ids that are all decimal digits ("16"
// read as hex equals "22"): a store should look a receipt up by Raw first and
// fall back to the cross forms only when that finds nothing.
func Match(receiptID, submittedID string) bool {
	r, s := KeysOf(receiptID), KeysOf(submittedID)
	if r.Raw == "" || s.Raw == "" {
		return false
	}
	return r.Raw == s.Raw ||
		(r.Dec != "" && r.Dec == s.Hex) ||
		(r.Hex != "" && r.Hex == s.Dec)
}
