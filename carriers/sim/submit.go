package sim

import (
	"bytes"
	"encoding/binary"
	"time"

	"github.com/linxGnu/gosmpp/data"
	"github.com/linxGnu/gosmpp/pdu"
)

// handleSubmit answers one submit_sm; false means close the connection.
func (s *Sim) handleSubmit(c *conn, frame []byte) bool {
	seq := binary.BigEndian.Uint32(frame[12:16])

	// gosmpp strips the UDH itself when UDHI is set and fails the whole
	// parse on a bad one. Parse with UDHI cleared instead, so that the raw
	// short_message reaches the stricter checks below and a bad UDH gets
	// ESME_RINVESMCLASS rather than a generic_nack.
	esmOff, ok := esmClassOffset(frame)
	var esm byte
	if ok {
		esm = frame[esmOff]
		frame[esmOff] &^= data.SM_UDH_GSM
	}
	p := pdu.NewSubmitSM().(*pdu.SubmitSM)
	if !ok || p.Unmarshal(pdu.NewBuffer(frame)) != nil {
		s.countGNack()
		return c.send(outFrame{b: header(cmdGenericNack, uint32(data.ESME_RINVCMDLEN), seq)})
	}
	p.EsmClass = esm

	sub := Submit{
		At:                 s.now(),
		Bind:               c.id,
		Seq:                seq,
		ServiceType:        p.ServiceType,
		SourceTON:          p.SourceAddr.Ton(),
		SourceNPI:          p.SourceAddr.Npi(),
		Source:             p.SourceAddr.Address(),
		DestTON:            p.DestAddr.Ton(),
		DestNPI:            p.DestAddr.Npi(),
		Dest:               p.DestAddr.Address(),
		EsmClass:           p.EsmClass,
		RegisteredDelivery: p.RegisteredDelivery,
	}
	sm, _ := p.Message.GetMessageData()
	sub.DataCoding = dataCodingOf(frame, esmOff)
	if len(p.OptionalParameters) > 0 {
		sub.TLVs = make(map[uint16][]byte, len(p.OptionalParameters))
		for tag, f := range p.OptionalParameters {
			sub.TLVs[uint16(tag)] = f.Data
		}
	}
	status := s.validate(p, sm, &sub)

	s.mu.Lock()
	s.stats.Submits++
	if !c.bind.canSubmit() {
		status = uint32(data.ESME_RINVBNDSTS)
		s.stats.Rejected++
	} else if s.stall {
		sub.Stalled = true
		s.stats.Stalled++
		s.submits = append(s.submits, sub)
		s.mu.Unlock()
		return true
	} else if fault := s.faultLocked(); fault != 0 {
		status = fault
	} else if status != 0 {
		s.stats.Rejected++
	}
	var auto bool
	if status == 0 {
		sub.MessageID = s.formatID(s.nextID)
		s.nextID++
		s.stats.Accepted++
		s.byID[sub.MessageID] = len(s.submits)
		auto = s.auto && sub.RegisteredDelivery&0x03 == 0x01
	}
	sub.Status = status
	s.submits = append(s.submits, sub)
	s.mu.Unlock()

	var b []byte
	if status == 0 {
		resp := p.GetResponse().(*pdu.SubmitSMResp)
		resp.MessageID = sub.MessageID
		b = marshal(resp)
	} else {
		// SMPP 3.4 §4.4.2: no body when command_status is not 0.
		b = header(cmdSubmitSMResp, status, seq)
	}
	ok = c.send(outFrame{b: b})
	// Scheduled after the response is queued, so that even with no delay the
	// receipt never overtakes its submit_sm_resp on this connection.
	if auto {
		s.sched.after(s.cfg.ReceiptDelay, func() { s.autoReceipt(sub) })
	}
	return ok
}

// faultLocked applies the injected faults in order: Throttle, QueueFull,
// then the TPS limit. It returns the status to answer, 0 for none.
func (s *Sim) faultLocked() uint32 {
	switch {
	case s.throttleN > 0:
		s.throttleN--
		s.stats.Throttled++
		return uint32(data.ESME_RTHROTTLED)
	case s.queueFullN > 0:
		s.queueFullN--
		s.stats.QueueFull++
		return uint32(data.ESME_RMSGQFUL)
	case s.tps > 0:
		sec := time.Now().Truncate(time.Second)
		if !sec.Equal(s.tpsSecond) {
			s.tpsSecond, s.tpsCount = sec, 0
		}
		if s.tpsCount >= s.tps {
			s.stats.Throttled++
			return uint32(data.ESME_RTHROTTLED)
		}
		s.tpsCount++
	}
	return 0
}

// esmClassOffset walks the submit_sm body up to esm_class (SMPP 3.4 §4.4.1):
// service_type, source TON/NPI/addr, dest TON/NPI/addr.
func esmClassOffset(frame []byte) (int, bool) {
	i := 16
	cstr := func() bool {
		n := bytes.IndexByte(frame[i:], 0)
		if n < 0 {
			return false
		}
		i += n + 1
		return true
	}
	if !cstr() {
		return 0, false
	}
	for range 2 {
		i += 2 // TON, NPI
		if i > len(frame) || !cstr() {
			return 0, false
		}
	}
	if i >= len(frame) {
		return 0, false
	}
	return i, true
}

// dataCodingOf reads data_coding from the frame: gosmpp maps unknown values
// to a nil encoding, losing the octet. After esm_class come protocol_id,
// priority_flag, two C-strings, registered_delivery, replace_if_present.
func dataCodingOf(frame []byte, esmOff int) byte {
	i := esmOff + 3
	for range 2 {
		n := bytes.IndexByte(frame[i:], 0)
		if n < 0 {
			return 0
		}
		i += n + 1
	}
	i += 2
	if i >= len(frame) {
		return 0
	}
	return frame[i]
}

// validate checks a submit_sm the way a strict SMSC would and fills the
// decoded parts of sub. It returns 0 or the command_status to answer.
func (s *Sim) validate(p *pdu.SubmitSM, sm []byte, sub *Submit) uint32 {
	payload, hasPayload := p.OptionalParameters[pdu.TagMessagePayload]
	ud := sm
	if hasPayload {
		// message_payload replaces short_message; both at once is an error.
		if len(sm) > 0 {
			return uint32(data.ESME_RINVMSGLEN)
		}
		ud = payload.Data
		sub.Payload = true
	}
	// sm_length is one octet; SMPP 3.4 caps short_message at 254.
	if len(sm) > data.SM_MSG_LEN {
		return uint32(data.ESME_RINVMSGLEN)
	}
	if len(ud) == 0 {
		return uint32(data.ESME_RINVMSGLEN)
	}
	if !validAddr(sub.DestTON, sub.Dest) || sub.Dest == "" {
		return uint32(data.ESME_RINVDSTADR)
	}
	if !validAddr(sub.SourceTON, sub.Source) {
		return uint32(data.ESME_RINVSRCADR)
	}
	switch p.EsmClass & 0x3C {
	case 0x00, 0x08, 0x10: // default, ESME delivery ack, manual/user ack
	default:
		return uint32(data.ESME_RINVESMCLASS)
	}
	if p.RegisteredDelivery&0x03 == 0x03 || p.RegisteredDelivery&0xE0 != 0 {
		return uint32(data.ESME_RINVREGDLVFLG)
	}
	if p.PriorityFlag > 3 {
		return uint32(data.ESME_RINVPRTFLG)
	}
	if p.ReplaceIfPresentFlag > 1 {
		return uint32(data.ESME_RINVREPFLAG)
	}
	// Times are "" or 16 characters (SMPP 3.4 §7.1).
	if l := len(p.ScheduleDeliveryTime); l != 0 && l != 16 {
		return uint32(data.ESME_RINVSCHED)
	}
	if l := len(p.ValidityPeriod); l != 0 && l != 16 {
		return uint32(data.ESME_RINVEXPIRY)
	}

	if p.EsmClass&data.SM_UDH_GSM != 0 {
		udh, rest, c, ok := parseUDH(ud)
		if !ok {
			return uint32(data.ESME_RINVESMCLASS)
		}
		sub.UDH, ud, sub.Concat = udh, rest, c
	}
	sar, st := parseSAR(p.OptionalParameters)
	if st != 0 {
		return st
	}
	if sar != nil {
		if sub.Concat != nil {
			// A UDH concatenation and SAR TLVs on one part contradict each other.
			return statusROPTPARNOTALLWD
		}
		sub.Concat = sar
	}
	sub.UserData = ud

	alpha := alphabetOf(sub.DataCoding)
	switch alpha {
	case alphaUnknown:
		// SMPP 3.4 has no "invalid data_coding" status (5.0's 0x104 is not
		// 3.4); RSUBMITFAIL is the generic refusal.
		return uint32(data.ESME_RSUBMITFAIL)
	case alphaGSM:
		for _, b := range ud {
			if b >= 0x80 { // not an unpacked septet (packed GSM sent by mistake?)
				return uint32(data.ESME_RSUBMITFAIL)
			}
		}
	case alphaUCS2:
		if len(ud)%2 != 0 {
			return uint32(data.ESME_RINVMSGLEN)
		}
	}
	if !sub.Payload {
		// What fits on the air interface: 140 octets of TP-UD, a UDH
		// included; for the 7-bit alphabets the UDH is padded to a septet
		// boundary (GSM 03.40 §9.2.3.24), 160 septets in all.
		switch alpha {
		case alphaGSM, alphaASCII:
			if (len(sub.UDH)*8+6)/7+len(ud) > 160 {
				return uint32(data.ESME_RINVMSGLEN)
			}
		default:
			if len(sub.UDH)+len(ud) > 140 {
				return uint32(data.ESME_RINVMSGLEN)
			}
		}
	}
	sub.Text = decodeText(alpha, ud)
	return 0
}

// validAddr accepts at most 20 characters; international and national
// numbers must be digits only (no '+', SMPP 3.4 §5.2.8) and alphanumeric
// senders at most 11 characters.
func validAddr(ton byte, a string) bool {
	if len(a) > 20 {
		return false
	}
	switch ton {
	case data.GSM_TON_INTERNATIONAL, data.GSM_TON_NATIONAL:
		for i := 0; i < len(a); i++ {
			if a[i] < '0' || a[i] > '9' {
				return false
			}
		}
	case data.GSM_TON_ALPHANUMERIC:
		return len(a) <= 11
	}
	return true
}

// parseUDH splits user data into a UDH (UDHL included) and the rest,
// checking every information element fits, and extracts a concatenation IE
// (IEI 0x00 with 8-bit or 0x08 with 16-bit reference, GSM 03.40 §9.2.3.24.1
// and .8). ok=false on any inconsistency.
func parseUDH(ud []byte) (udh, rest []byte, c *Concat, ok bool) {
	if len(ud) < 1 {
		return nil, nil, nil, false
	}
	udhl := int(ud[0])
	if udhl == 0 || 1+udhl > len(ud) {
		return nil, nil, nil, false
	}
	ies := ud[1 : 1+udhl]
	for len(ies) > 0 {
		if len(ies) < 2 || 2+int(ies[1]) > len(ies) {
			return nil, nil, nil, false
		}
		iei, val := ies[0], ies[2:2+int(ies[1])]
		switch iei {
		case 0x00, 0x08:
			if c != nil {
				return nil, nil, nil, false // two concatenation IEs
			}
			var cc Concat
			if iei == 0x00 {
				if len(val) != 3 {
					return nil, nil, nil, false
				}
				cc = Concat{Ref: uint16(val[0]), Total: int(val[1]), Seq: int(val[2])}
			} else {
				if len(val) != 4 {
					return nil, nil, nil, false
				}
				cc = Concat{Ref: binary.BigEndian.Uint16(val), Total: int(val[2]), Seq: int(val[3]), Ref16: true}
			}
			if cc.Total == 0 || cc.Seq == 0 || cc.Seq > cc.Total {
				return nil, nil, nil, false
			}
			c = &cc
		}
		ies = ies[2+int(ies[1]):]
	}
	return ud[:1+udhl], ud[1+udhl:], c, true
}

// parseSAR reads sar_msg_ref_num / sar_total_segments / sar_segment_seqnum
// (SMPP 3.4 §5.3.2.22-24): all three or none.
func parseSAR(opts map[pdu.Tag]pdu.Field) (*Concat, uint32) {
	ref, hasRef := opts[pdu.TagSarMsgRefNum]
	tot, hasTot := opts[pdu.TagSarTotalSegments]
	sq, hasSeq := opts[pdu.TagSarSegmentSeqnum]
	if !hasRef && !hasTot && !hasSeq {
		return nil, 0
	}
	if !hasRef || !hasTot || !hasSeq {
		return nil, statusRMISSINGOPTPARAM
	}
	if len(ref.Data) != 2 || len(tot.Data) != 1 || len(sq.Data) != 1 {
		return nil, statusRINVOPTPARAMVAL
	}
	c := &Concat{Ref: binary.BigEndian.Uint16(ref.Data), Total: int(tot.Data[0]), Seq: int(sq.Data[0]), Ref16: true, SAR: true}
	if c.Total == 0 || c.Seq == 0 || c.Seq > c.Total {
		return nil, statusRINVOPTPARAMVAL
	}
	return c, 0
}
