package sim

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/linxGnu/gosmpp/data"
	"github.com/linxGnu/gosmpp/pdu"
)

// InjectMO delivers a mobile-originated message to a bound receiver or
// transceiver, as one or more deliver_sm. It fails if the message cannot be
// encoded or split as asked, or if no receiver is bound right now; once
// accepted, every part is delivered (and redelivered) until acknowledged,
// even across rebinds.
func (s *Sim) InjectMO(mo MO) error {
	frames, err := s.buildMO(mo)
	if err != nil {
		return err
	}
	if !s.hasReceiver("") {
		return errNoReceiver
	}
	if mo.Reverse {
		for i, j := 0, len(frames)-1; i < j; i, j = i+1, j-1 {
			frames[i], frames[j] = frames[j], frames[i]
		}
	}
	s.mu.Lock()
	s.stats.MOSent += len(frames)
	s.mu.Unlock()
	for i, f := range frames {
		s.enqueue(&delivery{frame: f}, mo.Gap*time.Duration(i))
	}
	return nil
}

// atom is the encoding of one character: one or two septets (escape) or
// one or two UTF-16 code units (surrogate pair), which must stay together.
type atom []byte

// buildMO encodes and splits an MO into encoded deliver_sm frames in part order.
func (s *Sim) buildMO(mo MO) ([][]byte, error) {
	if mo.Text == "" {
		return nil, errors.New("sim: mo: empty text")
	}
	enc := strings.ToLower(mo.Encoding)
	var (
		atoms []atom
		dc    byte
	)
	gsm := func() bool {
		for _, r := range mo.Text {
			b, ok := gsmRev[r]
			if !ok {
				return false
			}
			atoms = append(atoms, b)
		}
		return true
	}
	switch enc {
	case "", "gsm7":
		if gsm() {
			dc = 0x00
			break
		}
		if enc == "gsm7" {
			return nil, errors.New("sim: mo: text is not in the GSM 03.38 alphabet")
		}
		atoms = nil
		fallthrough
	case "ucs2":
		dc = 0x08
		for _, r := range mo.Text {
			var a atom
			for _, u := range utf16.Encode([]rune{r}) {
				a = append(a, byte(u>>8), byte(u))
			}
			atoms = append(atoms, a)
		}
	default:
		return nil, fmt.Errorf("sim: mo: unknown encoding %q (want gsm7 or ucs2)", mo.Encoding)
	}
	// Capacities in octets of unpacked user data (GSM: one septet per octet).
	single, perPart := 160, 153
	if dc == 0x08 {
		single, perPart = 140, 134
	}
	if mo.Ref16 {
		perPart -= map[byte]int{0x00: 1, 0x08: 2}[dc]
	}
	total := 0
	for _, a := range atoms {
		total += len(a)
	}

	var parts [][]atom
	switch {
	case mo.Payload:
		if mo.Parts > 1 {
			return nil, errors.New("sim: mo: payload cannot be split into parts")
		}
		parts = [][]atom{atoms}
	case mo.Parts > 1:
		if len(atoms) < mo.Parts {
			return nil, fmt.Errorf("sim: mo: %d characters cannot make %d parts", len(atoms), mo.Parts)
		}
		// Cut at the first character boundary at or after each i/n of the units.
		start, acc := 0, 0
		for i := range atoms {
			acc += len(atoms[i])
			if len(parts) < mo.Parts-1 && acc*mo.Parts >= total*(len(parts)+1) && len(atoms)-(i+1) >= mo.Parts-len(parts)-1 {
				parts = append(parts, atoms[start:i+1])
				start = i + 1
			}
		}
		parts = append(parts, atoms[start:])
		if len(parts) != mo.Parts {
			return nil, fmt.Errorf("sim: mo: cannot cut %d characters into %d parts", len(atoms), mo.Parts)
		}
	case total <= single:
		parts = [][]atom{atoms}
	default:
		var cur []atom
		n := 0
		for _, a := range atoms {
			if n+len(a) > perPart {
				parts = append(parts, cur)
				cur, n = nil, 0
			}
			cur = append(cur, a)
			n += len(a)
		}
		parts = append(parts, cur)
	}
	if len(parts) > 255 {
		return nil, fmt.Errorf("sim: mo: %d parts (max 255)", len(parts))
	}

	s.mu.Lock()
	s.moRef++
	ref := s.moRef
	s.mu.Unlock()
	if !mo.Ref16 {
		ref &= 0xFF
	}
	src, err := moAddress(mo.From)
	if err != nil {
		return nil, fmt.Errorf("sim: mo from: %w", err)
	}
	dst, err := moAddress(mo.To)
	if err != nil {
		return nil, fmt.Errorf("sim: mo to: %w", err)
	}
	var encoding data.Encoding = data.GSM7BIT
	if dc == 0x08 {
		encoding = data.UCS2
	}
	frames := make([][]byte, 0, len(parts))
	for i, part := range parts {
		var ud []byte
		for _, a := range part {
			ud = append(ud, a...)
		}
		p := pdu.NewDeliverSM().(*pdu.DeliverSM)
		p.SourceAddr, p.DestAddr = src, dst
		if mo.Payload {
			p.RegisterOptionalParam(pdu.Field{Tag: pdu.TagMessagePayload, Data: ud})
			ud = nil
		} else if len(parts) > 1 {
			if len(ud) > perPart {
				return nil, fmt.Errorf("sim: mo: part %d has %d octets, more than %d", i+1, len(ud), perPart)
			}
			var udh []byte
			if mo.Ref16 {
				udh = []byte{0x06, 0x08, 0x04, byte(ref >> 8), byte(ref), byte(len(parts)), byte(i + 1)}
			} else {
				udh = []byte{0x05, 0x00, 0x03, byte(ref), byte(len(parts)), byte(i + 1)}
			}
			ud = append(udh, ud...)
			p.EsmClass |= data.SM_UDH_GSM
		}
		if err := p.Message.SetMessageDataWithEncoding(ud, encoding); err != nil {
			return nil, fmt.Errorf("sim: mo part %d: %w", i+1, err)
		}
		frames = append(frames, marshal(p))
	}
	return frames, nil
}

// moAddress picks TON/NPI for an MO address (smpp.md §3.1): "+digits" or
// long digit strings are international E.164 (sent without '+'), short
// digit strings are short codes (network specific), anything else is
// alphanumeric.
func moAddress(a string) (pdu.Address, error) {
	digits := strings.TrimPrefix(a, "+")
	allDigits := digits != ""
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			allDigits = false
			break
		}
	}
	switch {
	case a == "":
		return pdu.Address{}, errors.New("empty address")
	case allDigits && (strings.HasPrefix(a, "+") || len(digits) > 8):
		return pdu.NewAddressWithTonNpiAddr(data.GSM_TON_INTERNATIONAL, data.GSM_NPI_E164, digits)
	case allDigits:
		return pdu.NewAddressWithTonNpiAddr(data.GSM_TON_NETWORK, data.GSM_NPI_UNKNOWN, digits)
	default:
		return pdu.NewAddressWithTonNpiAddr(data.GSM_TON_ALPHANUMERIC, data.GSM_NPI_UNKNOWN, a)
	}
}
