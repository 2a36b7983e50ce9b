package sms

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"

	"gateway/sms/dlr"
	"gateway/sms/segment"
	"gateway/sms/smpp"
	"gateway/unify"
)

// Sink is how the SMS channel reports back to the core. Both methods return
// only once the report is durably recorded; an error makes the link answer
// the SMSC "try again later" (ESME_RX_T_APPN) instead of acknowledging it.
type Sink interface {
	HandleReceipt(ctx context.Context, r unify.Receipt) error
	HandleInbound(ctx context.Context, in unify.Inbound) error
}

// SMPP TLV tags read from deliver_sm (spec §10).
const (
	tagReceiptedMessageID = 0x001E
	tagMessageState       = 0x0427
	tagNetworkErrorCode   = 0x0423
	tagMessagePayload     = 0x0424
	tagSarMsgRefNum       = 0x020C
	tagSarTotalSegments   = 0x020E
	tagSarSegmentSeqnum   = 0x020F
)

// DeliverHandler turns the deliver_sm of a carrier's link into receipts and
// inbound messages for sink.
func DeliverHandler(sink Sink, logger *slog.Logger) smpp.DeliverFunc {
	if logger == nil {
		logger = slog.Default()
	}
	return func(ctx context.Context, d smpp.Deliver) error {
		if d.IsReceipt() {
			r, err := ReceiptOf(d)
			if err != nil {
				// A receipt we cannot read will not get better by redelivery:
				// acknowledge it and say so.
				logger.Warn("unreadable delivery receipt", "carrier", d.Carrier, "err", err)
				return nil
			}
			if r.Status == unify.StatusSent {
				return nil // intermediate state (ENROUTE, ACCEPTD): nothing to record
			}
			return sink.HandleReceipt(ctx, r)
		}
		in, err := InboundOf(d)
		if err != nil {
			logger.Warn("unreadable MO message", "carrier", d.Carrier, "err", err)
			return nil
		}
		return sink.HandleInbound(ctx, in)
	}
}

// ReceiptOf reads a delivery receipt from a deliver_sm.
func ReceiptOf(d smpp.Deliver) (unify.Receipt, error) {
	// Receipt texts are ASCII whatever data_coding says (decoding them as
	// GSM 03.38 would turn an '_' in an id into '§'); only UCS-2 needs work.
	text := string(d.ShortMessage)
	if d.DataCoding == 0x08 {
		if t, err := segment.DecodeUCS2(d.ShortMessage); err == nil {
			text = t
		}
	}
	tlv := dlr.TLVs{MessageState: -1}
	if v, ok := d.TLVs[tagReceiptedMessageID]; ok {
		tlv.ReceiptedMessageID = string(v)
	}
	if v, ok := d.TLVs[tagMessageState]; ok && len(v) == 1 {
		tlv.MessageState = int(v[0])
	}
	tlv.NetworkErrorCode = d.TLVs[tagNetworkErrorCode]
	r, err := dlr.Parse(text, tlv)
	if err != nil {
		return unify.Receipt{}, fmt.Errorf("sms: %w", err)
	}
	k := dlr.KeysOf(r.ID)
	out := unify.Receipt{
		Channel: unify.ChannelSMS, Carrier: d.Carrier, At: d.ReceivedAt,
		Ref:    unify.ExternalRef{ID: r.ID, Raw: k.Raw, Dec: k.Dec, Hex: k.Hex},
		Status: receiptStatus(r.State),
	}
	if out.Status == unify.StatusFailed {
		out.Error = r.State.String()
		if r.Err != "" && r.Err != "000" {
			out.Error += " err:" + r.Err
		}
	}
	return out, nil
}

func receiptStatus(s dlr.State) unify.Status {
	switch s {
	case dlr.Delivered:
		return unify.StatusDelivered
	case dlr.Expired, dlr.Deleted, dlr.Undeliverable, dlr.Rejected:
		return unify.StatusFailed
	}
	return unify.StatusSent
}

// InboundOf reads an MO message from a deliver_sm: the text in short_message
// or message_payload, and for a piece of a concatenated message its place
// (from a UDH with an 8- or 16-bit reference, or the SAR TLVs).
func InboundOf(d smpp.Deliver) (unify.Inbound, error) {
	in := unify.Inbound{
		Channel: unify.ChannelSMS, Carrier: d.Carrier,
		From: PhoneNumber(d.SourceTON, d.Source), To: d.Dest, At: d.ReceivedAt,
	}
	data := d.ShortMessage
	if len(data) == 0 {
		data = d.TLVs[tagMessagePayload]
	}
	if d.EsmClass&0x40 != 0 {
		udh, rest, err := segment.ParseUDH(data)
		if err != nil {
			return in, fmt.Errorf("sms: MO from %s: %w", d.Carrier, err)
		}
		if c, ok := segment.FindConcat(udh); ok && c.Total > 1 {
			bits := "8"
			if c.Ref16 {
				bits = "16"
			}
			in.Part = &unify.InboundPart{Ref: bits + ":" + strconv.Itoa(int(c.Ref)), Total: int(c.Total), Seq: int(c.Seq)}
		}
		data = rest
	} else if ref, ok := d.TLVs[tagSarMsgRefNum]; ok && len(ref) == 2 {
		total, seq := d.TLVs[tagSarTotalSegments], d.TLVs[tagSarSegmentSeqnum]
		if len(total) == 1 && len(seq) == 1 && total[0] > 1 && seq[0] >= 1 && seq[0] <= total[0] {
			in.Part = &unify.InboundPart{Ref: "sar:" + strconv.Itoa(int(ref[0])<<8|int(ref[1])), Total: int(total[0]), Seq: int(seq[0])}
		}
	}
	text, err := segment.Decode(d.DataCoding, data)
	if err != nil {
		return in, fmt.Errorf("sms: MO from %s: %w", d.Carrier, err)
	}
	in.Text = text
	return in, nil
}
