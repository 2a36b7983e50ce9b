package sms_test

import (
	"testing"
	"time"

	"gateway/sms"
	"gateway/sms/smpp"
	"gateway/unify"
)

// FuzzInboundOf feeds arbitrary deliver_sm contents (esm_class, data_coding,
// short_message, SAR TLVs) to the MO and receipt readers: they must never
// panic, and a concatenated piece they report must have a sane place.
func FuzzInboundOf(f *testing.F) {
	f.Add(byte(0x00), byte(0x00), []byte("Thanks, got it"), []byte(nil), byte(0), byte(0))
	f.Add(byte(0x40), byte(0x00), []byte("\x05\x00\x03\x2a\x02\x01hello "), []byte(nil), byte(0), byte(0))
	f.Add(byte(0x40), byte(0x08), []byte("\x06\x08\x04\x01\x02\x03\x01\x00h\x00i"), []byte(nil), byte(0), byte(0))
	f.Add(byte(0x00), byte(0x00), []byte("part"), []byte{0x01, 0x02}, byte(3), byte(2))
	f.Add(byte(0x04), byte(0x00), []byte("id:7 sub:001 dlvrd:001 submit date:2401011200 done date:2401011201 stat:DELIVRD err:000 text:"), []byte(nil), byte(0), byte(0))
	f.Add(byte(0x40), byte(0x00), []byte("\x05\x00\x03"), []byte(nil), byte(0), byte(0))
	f.Fuzz(func(t *testing.T, esm, dc byte, sm, sarRef []byte, total, seq byte) {
		d := smpp.Deliver{Carrier: "sim", Source: "33612345678", SourceTON: 1, Dest: "ACME", EsmClass: esm, DataCoding: dc,
			ShortMessage: sm, TLVs: map[uint16][]byte{}, ReceivedAt: time.Unix(0, 0)}
		if sarRef != nil {
			d.TLVs[0x020C], d.TLVs[0x020E], d.TLVs[0x020F] = sarRef, []byte{total}, []byte{seq}
		}
		if d.IsReceipt() {
			if r, err := sms.ReceiptOf(d); err == nil && r.Channel != unify.ChannelSMS {
				t.Fatalf("receipt channel %q", r.Channel)
			}
			return
		}
		in, err := sms.InboundOf(d)
		if err != nil {
			return
		}
		if p := in.Part; p != nil && (p.Total < 2 || p.Seq < 1 || p.Seq > p.Total || p.Ref == "") {
			t.Fatalf("concatenated piece out of range: %+v", *p)
		}
	})
}
