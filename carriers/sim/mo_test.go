package sim_test

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/linxGnu/gosmpp/data"
	"github.com/linxGnu/gosmpp/pdu"
	"github.com/stretchr/testify/require"

	"gateway/carriers/sim"
)

// moPart is a received MO deliver_sm decoded with gosmpp (not with the sim's
// own tables), so the two implementations check each other.
type moPart struct {
	from, to   string
	fromTON    byte
	dc         byte
	ref        uint16
	ref16      bool
	total, seq int
	text       string
	udhLen     int // UDH octets, UDHL included
	octets     int
}

func readMOPart(tb testing.TB, c *client, status data.CommandStatusType) moPart {
	tb.Helper()
	d := c.deliver(status)
	require.Zero(tb, d.EsmClass&0x3C, "not an MO")
	mp := moPart{from: d.SourceAddr.Address(), to: d.DestAddr.Address(), fromTON: d.SourceAddr.Ton(), total: 1, seq: 1}
	enc := d.Message.Encoding()
	require.NotNil(tb, enc)
	mp.dc = enc.DataCoding()
	ud, err := d.Message.GetMessageData()
	require.NoError(tb, err)
	if f, ok := d.OptionalParameters[pdu.TagMessagePayload]; ok {
		require.Empty(tb, ud, "payload and short_message")
		ud = f.Data
	}
	mp.octets = len(ud)
	mp.text, err = enc.Decode(ud)
	require.NoError(tb, err)
	if d.EsmClass&data.SM_UDH_GSM != 0 {
		udh := d.Message.UDH()
		mp.udhLen = udh.UDHL()
		if total, seq, ref, ok := udh.GetConcatInfo(); ok {
			mp.total, mp.seq, mp.ref = int(total), int(seq), uint16(ref)
		} else if ie, ok := udh.FindInfoElement(0x08); ok {
			require.Len(tb, ie.Data, 4)
			mp.ref, mp.ref16 = binary.BigEndian.Uint16(ie.Data), true
			mp.total, mp.seq = int(ie.Data[2]), int(ie.Data[3])
		} else {
			tb.Fatalf("UDH without concatenation IE: %v", udh)
		}
	}
	return mp
}

func TestInjectMO(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("0123456789", 20) + "€" // 202 septets -> 2 parts
	for _, tc := range []struct {
		name     string
		mo       sim.MO
		wantText string
		wantDC   byte
		parts    int
		ref16    bool
		reverse  bool
		payload  bool
	}{
		{name: "single gsm", mo: sim.MO{Text: "Hi there [ok]"}, wantDC: 0, parts: 1},
		{name: "single ucs2 auto", mo: sim.MO{Text: "ça va 👍"}, wantDC: 8, parts: 1},
		{name: "forced ucs2", mo: sim.MO{Text: "plain", Encoding: "ucs2"}, wantDC: 8, parts: 1},
		{name: "concat 8-bit auto", mo: sim.MO{Text: long}, wantDC: 0, parts: 2},
		{name: "concat 16-bit", mo: sim.MO{Text: long, Ref16: true}, wantDC: 0, parts: 2, ref16: true},
		{name: "concat 16-bit ucs2", mo: sim.MO{Text: strings.Repeat("ж", 133), Ref16: true}, wantDC: 8, parts: 3, ref16: true},
		{name: "forced 3 parts", mo: sim.MO{Text: "short but split in three", Parts: 3}, wantDC: 0, parts: 3},
		{name: "reversed ucs2", mo: sim.MO{Text: strings.Repeat("😀", 70), Reverse: true}, wantDC: 8, parts: 3, reverse: true},
		{name: "payload", mo: sim.MO{Text: long, Payload: true}, wantDC: 0, parts: 1, payload: true},
		{name: "gap", mo: sim.MO{Text: "a b c d", Parts: 2, Gap: 20 * time.Millisecond}, wantDC: 0, parts: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := start(t, sim.Config{})
			c := bound(t, s)
			mo := tc.mo
			mo.From, mo.To = "+33612345678", "36000"
			require.NoError(t, s.InjectMO(mo))
			got := make([]moPart, tc.parts)
			var firstRef uint16
			for i := range tc.parts {
				p := readMOPart(t, c, data.ESME_ROK)
				require.Equal(t, "33612345678", p.from)
				require.Equal(t, byte(1), p.fromTON)
				require.Equal(t, "36000", p.to)
				require.Equal(t, tc.wantDC, p.dc)
				require.Equal(t, tc.parts, p.total)
				require.Equal(t, tc.ref16, p.ref16)
				want := i + 1
				if tc.reverse {
					want = tc.parts - i
				}
				require.Equal(t, want, p.seq)
				if tc.parts > 1 {
					// Per-part capacity on the air interface, UDH included.
					if p.dc == 0 {
						require.LessOrEqual(t, (p.udhLen*8+6)/7+p.octets, 160)
					} else {
						require.LessOrEqual(t, p.udhLen+p.octets, 140)
					}
					if i == 0 {
						firstRef = p.ref
					}
					require.Equal(t, firstRef, p.ref)
				}
				got[p.seq-1] = p
			}
			var sb strings.Builder
			for _, p := range got {
				sb.WriteString(p.text)
			}
			require.Equal(t, tc.mo.Text, sb.String())
			waitStats(t, s, func(st sim.Stats) bool {
				return st.DeliverAcked == tc.parts && st.DeliverPending == 0 && st.MOSent == tc.parts
			})
		})
	}
}

func TestInjectMOErrors(t *testing.T) {
	t.Parallel()
	s := start(t, sim.Config{})
	tx := dial(t, s)
	require.Equal(t, data.ESME_ROK, tx.bind(pdu.Transmitter, testSystemID, testPassword))
	ok := sim.MO{From: "+33612345678", To: "36000", Text: "hi"}
	require.Error(t, s.InjectMO(ok), "no receiver bound")
	bound(t, s)
	require.NoError(t, s.InjectMO(ok))
	for _, tc := range []struct {
		name string
		mo   sim.MO
	}{
		{"empty text", sim.MO{From: "1", To: "2"}},
		{"gsm7 forced with emoji", sim.MO{From: "1", To: "2", Text: "😀", Encoding: "gsm7"}},
		{"unknown encoding", sim.MO{From: "1", To: "2", Text: "x", Encoding: "latin1"}},
		{"more parts than chars", sim.MO{From: "1", To: "2", Text: "ab", Parts: 3}},
		{"forced parts too big", sim.MO{From: "1", To: "2", Text: strings.Repeat("a", 400), Parts: 2}},
		{"payload in parts", sim.MO{From: "1", To: "2", Text: "abc", Parts: 2, Payload: true}},
		{"empty from", sim.MO{To: "2", Text: "abc"}},
	} {
		require.Error(t, s.InjectMO(tc.mo), tc.name)
	}
}

func TestUnackedMORedelivered(t *testing.T) {
	t.Parallel()
	s := start(t, sim.Config{RedeliverDelay: 10 * time.Millisecond, DeliverTimeout: 500 * time.Millisecond})
	c := bound(t, s)
	require.NoError(t, s.InjectMO(sim.MO{From: "+33612345678", To: "36000", Text: "retry me"}))

	// Refused with a temporary error: redelivered.
	first := readMOPart(t, c, data.ESME_RX_T_APPN)
	// Not answered at all: redelivered after DeliverTimeout.
	d := c.next()
	require.IsType(t, &pdu.DeliverSM{}, d)
	// Answered with a generic_nack: redelivered.
	d2, ok := c.next().(*pdu.DeliverSM)
	require.True(t, ok)
	n := pdu.NewGenericNack().(*pdu.GenericNack)
	n.CommandStatus = data.ESME_RINVCMDID
	n.SequenceNumber = d2.SequenceNumber
	buf := pdu.NewBuffer(nil)
	n.Marshal(buf)
	c.write(buf.Bytes())
	last := readMOPart(t, c, data.ESME_ROK)
	require.Equal(t, first.text, last.text)
	require.Equal(t, "retry me", last.text)

	waitStats(t, s, func(st sim.Stats) bool {
		return st.DeliverAcked == 1 && st.DeliverPending == 0 && st.DeliverRetried == 3 &&
			st.DeliverNacked == 2 && st.DeliverTimeouts == 1 && st.DeliverSent == 4
	})
}

func TestDeliveryOutlivesConnection(t *testing.T) {
	t.Parallel()
	s := start(t, sim.Config{RedeliverDelay: 10 * time.Millisecond})
	c := bound(t, s)
	require.NoError(t, s.InjectMO(sim.MO{From: "+33612345678", To: "36000", Text: "survivor"}))
	_ = c.next() // received, never answered
	s.DropBinds()
	c.expectClosed()
	c2 := bound(t, s)
	p := readMOPart(t, c2, data.ESME_ROK)
	require.Equal(t, "survivor", p.text)
	waitStats(t, s, func(st sim.Stats) bool { return st.DeliverAcked == 1 && st.DeliverPending == 0 })
}

func TestDeliveryDroppedAfterMaxRedeliveries(t *testing.T) {
	t.Parallel()
	s := start(t, sim.Config{RedeliverDelay: time.Millisecond, MaxRedeliveries: 2})
	c := bound(t, s)
	require.NoError(t, s.InjectMO(sim.MO{From: "+33612345678", To: "36000", Text: "doomed"}))
	for range 3 {
		readMOPart(t, c, data.ESME_RX_P_APPN)
	}
	waitStats(t, s, func(st sim.Stats) bool { return st.DeliverDropped == 1 && st.DeliverPending == 0 })
}

func TestOutOfOrderAnswers(t *testing.T) {
	t.Parallel()
	s := start(t, sim.Config{})
	c := bound(t, s)
	for _, txt := range []string{"one", "two", "three"} {
		require.NoError(t, s.InjectMO(sim.MO{From: "+33612345678", To: "36000", Text: txt}))
	}
	var ds []*pdu.DeliverSM
	for range 3 {
		ds = append(ds, c.next().(*pdu.DeliverSM))
	}
	for i := len(ds) - 1; i >= 0; i-- {
		buf := pdu.NewBuffer(nil)
		ds[i].GetResponse().Marshal(buf)
		c.write(buf.Bytes())
	}
	waitStats(t, s, func(st sim.Stats) bool { return st.DeliverAcked == 3 && st.DeliverPending == 0 })
}
