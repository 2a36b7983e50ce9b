package smpp

// White-box: the tap is fed by gosmpp's buffered reader in chunks of any
// size; only a direct feed can split PDUs at every offset.

import (
	"testing"

	"github.com/linxGnu/gosmpp/data"
	"github.com/linxGnu/gosmpp/pdu"
	"github.com/stretchr/testify/require"
)

func marshalPDU(p pdu.PDU) []byte {
	b := pdu.NewBuffer(nil)
	p.Marshal(b)
	return b.Bytes()
}

func deliverSM(tb testing.TB, dc byte, text string) *pdu.DeliverSM {
	tb.Helper()
	d := pdu.NewDeliverSM().(*pdu.DeliverSM)
	d.ServiceType = "CMT"
	d.SourceAddr, _ = pdu.NewAddressWithTonNpiAddr(1, 1, "33612345678")
	d.DestAddr, _ = pdu.NewAddressWithTonNpiAddr(0, 1, "36000")
	d.ScheduleDeliveryTime = "000001000000000R"
	require.NoError(tb, d.Message.SetMessageDataWithEncoding([]byte(text), rawCoding(dc)))
	return d
}

func TestDCTap(t *testing.T) {
	t.Parallel()
	flash := deliverSM(t, 0xF0, "flash")
	class0UCS2 := deliverSM(t, 0x18, "\x00h\x00i")
	known := deliverSM(t, 0x08, "\x00o\x00k")
	resp := pdu.NewSubmitSMResp().(*pdu.SubmitSMResp)
	resp.MessageID = "42"
	var stream []byte
	for _, p := range []pdu.PDU{resp, flash, pdu.NewEnquireLink(), known, class0UCS2} {
		stream = append(stream, marshalPDU(p)...)
	}

	for _, chunk := range []int{1, 3, 16, 17, 64, len(stream)} {
		tap := newDCTap(nil)
		for i := 0; i < len(stream); i += chunk {
			tap.feed(stream[i:min(i+chunk, len(stream))])
		}
		require.False(t, tap.lost, "chunk %d", chunk)
		dc, ok := tap.dataCoding(flash.GetSequenceNumber())
		require.True(t, ok, "chunk %d", chunk)
		require.Equal(t, byte(0xF0), dc)
		dc, ok = tap.dataCoding(class0UCS2.GetSequenceNumber())
		require.True(t, ok, "chunk %d", chunk)
		require.Equal(t, byte(0x18), dc)
		_, ok = tap.dataCoding(known.GetSequenceNumber())
		require.False(t, ok, "gosmpp keeps known codings itself")
		_, ok = tap.dataCoding(flash.GetSequenceNumber())
		require.False(t, ok, "forgotten once read")
		require.Nil(t, data.FromDataCoding(0xF0), "gosmpp learnt 0xF0: the tap may be unnecessary")
	}
}

func TestDCTapBadLength(t *testing.T) {
	t.Parallel()
	tap := newDCTap(nil)
	tap.feed([]byte{0, 0, 0, 8, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 1, 0xAA})
	require.True(t, tap.lost)
}
