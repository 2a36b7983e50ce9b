package sim_test

import (
	"encoding/binary"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/linxGnu/gosmpp/data"
	"github.com/linxGnu/gosmpp/pdu"
	"github.com/stretchr/testify/require"

	"gateway/carriers/sim"
)

func TestBind(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		kind     pdu.BindingType
		id, pw   string
		prepare  func(s *sim.Sim, tb testing.TB)
		want     data.CommandStatusType
		maxBinds int
	}{
		{name: "transceiver", kind: pdu.Transceiver, id: testSystemID, pw: testPassword, want: data.ESME_ROK},
		{name: "transmitter", kind: pdu.Transmitter, id: testSystemID, pw: testPassword, want: data.ESME_ROK},
		{name: "receiver", kind: pdu.Receiver, id: testSystemID, pw: testPassword, want: data.ESME_ROK},
		{name: "bad password", kind: pdu.Transceiver, id: testSystemID, pw: "nope", want: data.ESME_RINVPASWD},
		{name: "bad password transmitter", kind: pdu.Transmitter, id: testSystemID, pw: "nope", want: data.ESME_RINVPASWD},
		{name: "bad system id", kind: pdu.Transceiver, id: "other", pw: testPassword, want: data.ESME_RINVSYSID},
		{name: "bad system id receiver", kind: pdu.Receiver, id: "other", pw: testPassword, want: data.ESME_RINVSYSID},
		{
			name: "max binds", kind: pdu.Transceiver, id: testSystemID, pw: testPassword, maxBinds: 2,
			prepare: func(s *sim.Sim, tb testing.TB) { bound(tb, s); bound(tb, s) },
			want:    data.ESME_RBINDFAIL,
		},
		{
			name: "refused", kind: pdu.Transceiver, id: testSystemID, pw: testPassword,
			prepare: func(s *sim.Sim, _ testing.TB) { s.RefuseBinds(time.Minute) },
			want:    data.ESME_RBINDFAIL,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := start(t, sim.Config{MaxBinds: tc.maxBinds})
			if tc.prepare != nil {
				tc.prepare(s, t)
			}
			c := dial(t, s)
			require.Equal(t, tc.want, c.bind(tc.kind, tc.id, tc.pw))
			if tc.want != data.ESME_ROK {
				c.expectClosed() // a real SMSC hangs up after a failed bind
				waitStats(t, s, func(st sim.Stats) bool { return st.BindsRefused == 1 })
				return
			}
			// A second bind on the same connection.
			require.Equal(t, data.ESME_RALYBND, c.bind(tc.kind, tc.id, tc.pw))
			st := s.Stats()
			require.Equal(t, 1, st.Binds)
			require.Equal(t, 2, st.BindAttempts)
		})
	}
}

func TestRefuseBindsExpires(t *testing.T) {
	t.Parallel()
	s := start(t, sim.Config{})
	s.RefuseBinds(time.Hour)
	require.Equal(t, data.ESME_RBINDFAIL, dial(t, s).bind(pdu.Transceiver, testSystemID, testPassword))
	s.RefuseBinds(0)
	require.Equal(t, data.ESME_ROK, dial(t, s).bind(pdu.Transceiver, testSystemID, testPassword))
	s.RefuseBinds(30 * time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for dial(t, s).bind(pdu.Transceiver, testSystemID, testPassword) != data.ESME_ROK {
		require.True(t, time.Now().Before(deadline), "binds still refused")
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSubmitAnsweredWithID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		format string
		want   []string
	}{
		{"", []string{"1000000", "1000001"}},
		{"dec", []string{"1000000", "1000001"}},
		{"hex", []string{"f4240", "f4241"}},
	} {
		t.Run(tc.format, func(t *testing.T) {
			t.Parallel()
			s := start(t, sim.Config{IDFormat: tc.format})
			c := bound(t, s)
			for _, want := range tc.want {
				resp := c.submitText("Bonjour")
				require.Equal(t, data.ESME_ROK, resp.CommandStatus)
				require.Equal(t, want, resp.MessageID)
			}
			subs := s.Submits()
			require.Len(t, subs, 2)
			got := subs[0]
			require.Equal(t, tc.want[0], got.MessageID)
			require.Equal(t, 1, got.Bind)
			require.Equal(t, uint32(2), got.Seq) // 1 was the bind
			require.Equal(t, "ACME", got.Source)
			require.Equal(t, byte(5), got.SourceTON)
			require.Equal(t, "33612345678", got.Dest)
			require.Equal(t, byte(1), got.DestTON)
			require.Equal(t, byte(1), got.DestNPI)
			require.Equal(t, byte(1), got.RegisteredDelivery)
			require.Equal(t, "Bonjour", got.Text)
			require.Nil(t, got.Concat)
			st := s.Stats()
			require.Equal(t, 2, st.Submits)
			require.Equal(t, 2, st.Accepted)
		})
	}
}

func TestSubmitValidation(t *testing.T) {
	t.Parallel()
	gsm := func(n int) []byte { return []byte(strings.Repeat("a", n)) }
	udh := []byte{0x05, 0x00, 0x03, 0x01, 0x02, 0x01}
	for _, tc := range []struct {
		name   string
		mutate func(r *rawSubmit)
		want   data.CommandStatusType
	}{
		{"ok", func(*rawSubmit) {}, data.ESME_ROK},
		{"ok 160 septets", func(r *rawSubmit) { r.sm = gsm(160) }, data.ESME_ROK},
		{"161 septets", func(r *rawSubmit) { r.sm = gsm(161) }, data.ESME_RINVMSGLEN},
		{"sm_length 255", func(r *rawSubmit) { r.sm = gsm(255) }, data.ESME_RINVMSGLEN},
		{"empty message", func(r *rawSubmit) { r.sm = nil }, data.ESME_RINVMSGLEN},
		{"ok udh + 153 septets", func(r *rawSubmit) { r.esm = 0x40; r.sm = append(append([]byte{}, udh...), gsm(153)...) }, data.ESME_ROK},
		{"udh + 154 septets", func(r *rawSubmit) { r.esm = 0x40; r.sm = append(append([]byte{}, udh...), gsm(154)...) }, data.ESME_RINVMSGLEN},
		{"ok ucs2 140 octets", func(r *rawSubmit) { r.dc = 8; r.sm = gsm(140) }, data.ESME_ROK},
		{"ucs2 142 octets", func(r *rawSubmit) { r.dc = 8; r.sm = gsm(142) }, data.ESME_RINVMSGLEN},
		{"ucs2 odd length", func(r *rawSubmit) { r.dc = 8; r.sm = gsm(5) }, data.ESME_RINVMSGLEN},
		{"ucs2 udh + 136 octets", func(r *rawSubmit) { r.dc = 8; r.esm = 0x40; r.sm = append(append([]byte{}, udh...), gsm(136)...) }, data.ESME_RINVMSGLEN},
		{"gsm octet >= 0x80 (packed?)", func(r *rawSubmit) { r.sm = []byte{0xE8, 0x32} }, data.ESME_RSUBMITFAIL},
		{"unknown data_coding", func(r *rawSubmit) { r.dc = 0x0B }, data.ESME_RSUBMITFAIL},
		{"empty destination", func(r *rawSubmit) { r.dst = "" }, data.ESME_RINVDSTADR},
		{"plus in international destination", func(r *rawSubmit) { r.dst = "+33612345678" }, data.ESME_RINVDSTADR},
		{"alphanumeric source too long", func(r *rawSubmit) { r.src = "ACMECORPORATION" }, data.ESME_RINVSRCADR},
		{"udhi without udh", func(r *rawSubmit) { r.esm = 0x40 }, data.ESME_RINVESMCLASS},
		{"udhl zero", func(r *rawSubmit) { r.esm = 0x40; r.sm = []byte{0x00, 'a'} }, data.ESME_RINVESMCLASS},
		{"udhl beyond message", func(r *rawSubmit) { r.esm = 0x40; r.sm = []byte{0x05, 0x00, 0x03, 0x01} }, data.ESME_RINVESMCLASS},
		{"concat seq > total", func(r *rawSubmit) { r.esm = 0x40; r.sm = []byte{0x05, 0x00, 0x03, 0x01, 0x02, 0x03, 'a'} }, data.ESME_RINVESMCLASS},
		{"receipt esm_class", func(r *rawSubmit) { r.esm = 0x04 }, data.ESME_RINVESMCLASS},
		{"registered_delivery 3", func(r *rawSubmit) { r.rd = 3 }, data.ESME_RINVREGDLVFLG},
		{"priority 4", func(r *rawSubmit) { r.prio = 4 }, data.ESME_RINVPRTFLG},
		{"bad schedule time", func(r *rawSubmit) { r.sched = "2401" }, data.ESME_RINVSCHED},
		{"ok relative validity", func(r *rawSubmit) { r.valid = "000001000000000R" }, data.ESME_ROK},
		{"bad validity", func(r *rawSubmit) { r.valid = "1d" }, data.ESME_RINVEXPIRY},
		{"ok payload", func(r *rawSubmit) { r.sm = nil; r.tlvs = [][]byte{tlv(0x0424, gsm(300)...)} }, data.ESME_ROK},
		{"payload and short_message", func(r *rawSubmit) { r.tlvs = [][]byte{tlv(0x0424, 'h', 'i')} }, data.ESME_RINVMSGLEN},
		{"ok sar", func(r *rawSubmit) {
			r.tlvs = [][]byte{tlv(0x020C, 0, 7), tlv(0x020E, 2), tlv(0x020F, 1)}
		}, data.ESME_ROK},
		{"sar incomplete", func(r *rawSubmit) { r.tlvs = [][]byte{tlv(0x020C, 0, 7)} }, data.CommandStatusType(0xC3)},
		{"sar and udh", func(r *rawSubmit) {
			r.esm = 0x40
			r.sm = append(append([]byte{}, udh...), 'a')
			r.tlvs = [][]byte{tlv(0x020C, 0, 7), tlv(0x020E, 2), tlv(0x020F, 1)}
		}, data.CommandStatusType(0xC1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := start(t, sim.Config{})
			c := bound(t, s)
			r := defaultRaw()
			tc.mutate(&r)
			require.Equal(t, tc.want, c.submitRaw(r))
			subs := s.Submits()
			require.Len(t, subs, 1)
			require.Equal(t, uint32(tc.want), subs[0].Status)
			require.Equal(t, tc.want == data.ESME_ROK, subs[0].MessageID != "")
		})
	}
}

func TestSubmitBindState(t *testing.T) {
	t.Parallel()
	s := start(t, sim.Config{})
	unbound := dial(t, s)
	require.Equal(t, data.ESME_RINVBNDSTS, unbound.submitRaw(defaultRaw()))
	rx := dial(t, s)
	require.Equal(t, data.ESME_ROK, rx.bind(pdu.Receiver, testSystemID, testPassword))
	require.Equal(t, data.ESME_RINVBNDSTS, rx.submitRaw(defaultRaw()))
	require.Equal(t, 0, s.Stats().Accepted)
}

var receiptRE = regexp.MustCompile(`^id:(\S+) sub:001 dlvrd:(\d{3}) submit date:(\d{10}) done date:(\d{10}) stat:([A-Z]{7}) err:(\d{3}) text:(.*)$`)

func TestAutoReceipt(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)
	s := start(t, sim.Config{AutoReceipts: true, ReceiptDelay: time.Millisecond, NowFunc: func() time.Time { return now }})
	c := bound(t, s)
	resp := c.submitText("Hello {world}, this is longer than twenty")
	require.Equal(t, data.ESME_ROK, resp.CommandStatus)

	d := c.deliver(data.ESME_ROK)
	require.Equal(t, byte(0x04), d.EsmClass)
	require.Equal(t, "33612345678", d.SourceAddr.Address()) // swapped
	require.Equal(t, byte(1), d.SourceAddr.Ton())
	require.Equal(t, "ACME", d.DestAddr.Address())
	require.Equal(t, byte(5), d.DestAddr.Ton())
	text, err := d.Message.GetMessage()
	require.NoError(t, err)
	m := receiptRE.FindStringSubmatch(text)
	require.NotNil(t, m, text)
	require.Equal(t, resp.MessageID, m[1])
	require.Equal(t, "001", m[2])
	require.Equal(t, "2503141509", m[3])
	require.Equal(t, "2503141509", m[4])
	require.Equal(t, "DELIVRD", m[5])
	require.Equal(t, "000", m[6])
	require.Equal(t, "Hello {world}, this ", m[7])
	rid := d.OptionalParameters[pdu.TagReceiptedMessageID]
	require.Equal(t, append([]byte(resp.MessageID), 0), rid.Data)
	require.Equal(t, []byte{2}, d.OptionalParameters[pdu.TagMessageStateOption].Data)

	waitStats(t, s, func(st sim.Stats) bool { return st.DeliverAcked == 1 && st.DeliverPending == 0 })

	// registered_delivery 0: no receipt. Off: no receipt either.
	sm := newSubmit(t)
	sm.RegisteredDelivery = 0
	require.NoError(t, sm.Message.SetMessageWithEncoding("no receipt", data.GSM7BIT))
	require.Equal(t, data.ESME_ROK, c.submit(sm).CommandStatus)
	s.SetAutoReceipts(false)
	require.Equal(t, data.ESME_ROK, c.submitText("off").CommandStatus)
	// An enquire_link round trip: had a receipt been queued within the
	// ReceiptDelay it would most likely come first; Stats is the real check.
	seq := c.send(pdu.NewEnquireLink())
	p := c.next()
	require.IsType(t, &pdu.EnquireLinkResp{}, p)
	require.Equal(t, seq, p.GetSequenceNumber())
	require.Equal(t, 1, s.Stats().ReceiptsSent)
}

func TestReceiptToOtherReceiver(t *testing.T) {
	t.Parallel()
	s := start(t, sim.Config{AutoReceipts: true, ReceiptDelay: time.Millisecond})
	rx := dial(t, s)
	require.Equal(t, data.ESME_ROK, rx.bind(pdu.Receiver, testSystemID, testPassword))
	tx := dial(t, s)
	require.Equal(t, data.ESME_ROK, tx.bind(pdu.Transmitter, testSystemID, testPassword))
	resp := tx.submitText("via tx")
	d := rx.deliver(data.ESME_ROK)
	require.Equal(t, resp.MessageID, string(d.OptionalParameters[pdu.TagReceiptedMessageID].Data[:len(resp.MessageID)]))
}

func TestSendReceipt(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		format  string
		r       sim.Receipt
		wantID  string // in text and TLV
		stat    string
		state   byte
		noText  bool
		noTLVs  bool
		wantErr bool
	}{
		{name: "as assigned", r: sim.Receipt{}, wantID: "1000000", stat: "DELIVRD", state: 2},
		{name: "undeliverable", r: sim.Receipt{Stat: "UNDELIV"}, wantID: "1000000", stat: "UNDELIV", state: 5},
		{name: "expired", r: sim.Receipt{Stat: "EXPIRED"}, wantID: "1000000", stat: "EXPIRED", state: 3},
		{name: "rejected", r: sim.Receipt{Stat: "REJECTD"}, wantID: "1000000", stat: "REJECTD", state: 8},
		{name: "dec as hex", r: sim.Receipt{IDForm: "hex"}, wantID: "f4240", stat: "DELIVRD", state: 2},
		{name: "hex as dec", format: "hex", r: sim.Receipt{IDForm: "dec"}, wantID: "1000000", stat: "DELIVRD", state: 2},
		{name: "hex upper", format: "hex", r: sim.Receipt{IDForm: "upper"}, wantID: "F4240", stat: "DELIVRD", state: 2},
		{name: "zeros", r: sim.Receipt{IDForm: "zeros"}, wantID: "0001000000", stat: "DELIVRD", state: 2},
		{name: "text only", r: sim.Receipt{TextOnly: true}, wantID: "1000000", stat: "DELIVRD", noTLVs: true},
		{name: "tlv only", r: sim.Receipt{TLVOnly: true}, wantID: "1000000", state: 2, noText: true},
		{name: "bad stat", r: sim.Receipt{Stat: "WHATEVER"}, wantErr: true},
		{name: "bad form", r: sim.Receipt{IDForm: "base64"}, wantErr: true},
		{name: "unknown id", r: sim.Receipt{MessageID: "42"}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := start(t, sim.Config{IDFormat: tc.format})
			c := bound(t, s)
			resp := c.submitText("hi")
			r := tc.r
			if r.MessageID == "" {
				r.MessageID = resp.MessageID
			}
			err := s.SendReceipt(r)
			if tc.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			d := c.deliver(data.ESME_ROK)
			require.Equal(t, byte(0x04), d.EsmClass)
			text, err := d.Message.GetMessage()
			require.NoError(t, err)
			if tc.noText {
				require.Empty(t, text)
			} else {
				m := receiptRE.FindStringSubmatch(text)
				require.NotNil(t, m, text)
				require.Equal(t, tc.wantID, m[1])
				require.Equal(t, tc.stat, m[5])
				require.Equal(t, "hi", m[7])
			}
			if tc.noTLVs {
				require.Empty(t, d.OptionalParameters)
			} else {
				require.Equal(t, append([]byte(tc.wantID), 0), d.OptionalParameters[pdu.TagReceiptedMessageID].Data)
				require.Equal(t, []byte{tc.state}, d.OptionalParameters[pdu.TagMessageStateOption].Data)
			}
		})
	}
}

func TestSendReceiptNoReceiver(t *testing.T) {
	t.Parallel()
	s := start(t, sim.Config{})
	tx := dial(t, s)
	require.Equal(t, data.ESME_ROK, tx.bind(pdu.Transmitter, testSystemID, testPassword))
	resp := tx.submitText("hi")
	require.Error(t, s.SendReceipt(sim.Receipt{MessageID: resp.MessageID}))
}

// part builds a concatenated submit_sm part with an 8-bit UDH.
func part(tb testing.TB, enc data.Encoding, ud []byte, ref, total, seq byte) *pdu.SubmitSM {
	tb.Helper()
	sm := newSubmit(tb)
	require.NoError(tb, sm.Message.SetMessageDataWithEncoding(ud, enc))
	sm.Message.SetUDH(pdu.UDH{pdu.NewIEConcatMessage(total, seq, ref)})
	sm.EsmClass |= data.SM_UDH_GSM
	return sm
}

func ucs2(s string) []byte {
	b, err := data.UCS2.Encode(s)
	if err != nil {
		panic(err)
	}
	return b
}

func TestMessagesGrouping(t *testing.T) {
	t.Parallel()
	s := start(t, sim.Config{})
	c := bound(t, s)

	// GSM with an escape (€ = 1B 65), parts sent out of order.
	gsm1 := append([]byte(strings.Repeat("a", 150)), 0x1B, 0x65) // 152 septets
	gsm2 := []byte("tail")
	require.Equal(t, data.ESME_ROK, c.submit(part(t, data.GSM7BIT, gsm2, 7, 2, 2)).CommandStatus)
	// A UCS-2 message with an emoji in between.
	u1, u2 := ucs2("Привет 👋 "), ucs2("мир")
	require.Equal(t, data.ESME_ROK, c.submit(part(t, data.UCS2, u1, 9, 2, 1)).CommandStatus)
	require.Equal(t, data.ESME_ROK, c.submit(part(t, data.GSM7BIT, gsm1, 7, 2, 1)).CommandStatus)
	require.Equal(t, data.ESME_ROK, c.submit(part(t, data.UCS2, u2, 9, 2, 2)).CommandStatus)
	// A lone single part and an incomplete message.
	require.Equal(t, data.ESME_ROK, c.submitText("single").CommandStatus)
	require.Equal(t, data.ESME_ROK, c.submit(part(t, data.GSM7BIT, []byte("half"), 7, 3, 1)).CommandStatus)
	// 16-bit reference via a raw UDH.
	r1, r2 := defaultRaw(), defaultRaw()
	r1.esm, r2.esm = 0x40, 0x40
	r1.sm = append([]byte{0x06, 0x08, 0x04, 0x12, 0x34, 0x02, 0x01}, "sixteen "...)
	r2.sm = append([]byte{0x06, 0x08, 0x04, 0x12, 0x34, 0x02, 0x02}, "bit"...)
	require.Equal(t, data.ESME_ROK, c.submitRaw(r2))
	require.Equal(t, data.ESME_ROK, c.submitRaw(r1))

	msgs := s.Messages()
	require.Len(t, msgs, 5)
	require.Equal(t, strings.Repeat("a", 150)+"€tail", msgs[0].Text)
	require.True(t, msgs[0].Complete)
	require.Len(t, msgs[0].Parts, 2)
	require.Equal(t, 1, msgs[0].Parts[0].Concat.Seq)
	require.Equal(t, byte(0), msgs[0].DataCoding)
	require.Equal(t, "Привет 👋 мир", msgs[1].Text)
	require.Equal(t, byte(8), msgs[1].DataCoding)
	require.True(t, msgs[1].Complete)
	require.Equal(t, "single", msgs[2].Text)
	require.True(t, msgs[2].Complete)
	require.Equal(t, "half", msgs[3].Text)
	require.False(t, msgs[3].Complete)
	require.Equal(t, "sixteen bit", msgs[4].Text)
	require.True(t, msgs[4].Parts[0].Concat.Ref16)
	require.Equal(t, uint16(0x1234), msgs[4].Parts[0].Concat.Ref)

	s.Reset()
	require.Empty(t, s.Submits())
	require.Empty(t, s.Messages())
}

func TestSplitEscapeIsVisible(t *testing.T) {
	t.Parallel()
	s := start(t, sim.Config{})
	c := bound(t, s)
	// A segmenter bug: the escape ends part 1, its char starts part 2.
	require.Equal(t, data.ESME_ROK, c.submit(part(t, data.GSM7BIT, []byte{'a', 0x1B}, 3, 2, 1)).CommandStatus)
	require.Equal(t, data.ESME_ROK, c.submit(part(t, data.GSM7BIT, []byte{0x65, 'b'}, 3, 2, 2)).CommandStatus)
	msgs := s.Messages()
	require.Len(t, msgs, 1)
	require.NotEqual(t, "a€b", msgs[0].Text)
	require.Contains(t, msgs[0].Text, "\uFFFD")
}

func TestThrottleAndQueueFull(t *testing.T) {
	t.Parallel()
	s := start(t, sim.Config{})
	c := bound(t, s)
	s.Throttle(2)
	s.QueueFull(1)
	var got []data.CommandStatusType
	for range 5 {
		got = append(got, c.submitText("x").CommandStatus)
	}
	require.Equal(t, []data.CommandStatusType{
		data.ESME_RTHROTTLED, data.ESME_RTHROTTLED, data.ESME_RMSGQFUL, data.ESME_ROK, data.ESME_ROK,
	}, got)
	st := s.Stats()
	require.Equal(t, 2, st.Throttled)
	require.Equal(t, 1, st.QueueFull)
	require.Equal(t, 2, st.Accepted)
}

func TestTPSLimit(t *testing.T) {
	t.Parallel()
	s := start(t, sim.Config{})
	c := bound(t, s)
	s.SetTPSLimit(3)
	ok := 0
	for range 10 {
		if c.submitText("x").CommandStatus == data.ESME_ROK {
			ok++
		}
	}
	// 10 quick submits span at most two one-second windows.
	require.GreaterOrEqual(t, ok, 3)
	require.LessOrEqual(t, ok, 6)
	require.Equal(t, 10-ok, s.Stats().Throttled)
	s.SetTPSLimit(0)
	require.Equal(t, data.ESME_ROK, c.submitText("x").CommandStatus)
}

func TestStall(t *testing.T) {
	t.Parallel()
	s := start(t, sim.Config{})
	c := bound(t, s)
	s.Stall(true)
	stalled := c.send(newSubmitText(t, "stalled"))
	waitStats(t, s, func(st sim.Stats) bool { return st.Stalled == 1 })
	s.Stall(false)
	// The next answer is for the next submit: the stalled one never gets one.
	resp := c.submit(newSubmitText(t, "answered"))
	require.Equal(t, data.ESME_ROK, resp.CommandStatus)
	require.NotEqual(t, stalled, resp.SequenceNumber)
	subs := s.Submits()
	require.Len(t, subs, 2)
	require.True(t, subs[0].Stalled)
	require.Empty(t, subs[0].MessageID)
	require.Equal(t, "stalled", subs[0].Text)
}

func newSubmitText(tb testing.TB, text string) *pdu.SubmitSM {
	sm := newSubmit(tb)
	require.NoError(tb, sm.Message.SetMessageWithEncoding(text, data.GSM7BIT))
	return sm
}

func TestDropBinds(t *testing.T) {
	t.Parallel()
	s := start(t, sim.Config{})
	c1, c2 := bound(t, s), bound(t, s)
	require.Equal(t, 2, s.Stats().Binds)
	s.DropBinds()
	c1.expectClosed()
	c2.expectClosed()
	waitStats(t, s, func(st sim.Stats) bool { return st.Binds == 0 })
	require.Equal(t, 2, s.Stats().MaxBinds)
	// Binding again works.
	bound(t, s)
	waitStats(t, s, func(st sim.Stats) bool { return st.Binds == 1 })
}

func TestSessionPDUs(t *testing.T) {
	t.Parallel()
	s := start(t, sim.Config{})
	c := bound(t, s)

	seq := c.send(pdu.NewEnquireLink())
	p := c.next()
	require.IsType(t, &pdu.EnquireLinkResp{}, p)
	require.Equal(t, seq, p.GetSequenceNumber())

	for _, tc := range []struct {
		name string
		cmd  uint32
	}{
		{"unknown command id", 0x00000999},
		{"query_sm not served", 0x00000003},
	} {
		frame := make([]byte, 16)
		binary.BigEndian.PutUint32(frame[0:4], 16)
		binary.BigEndian.PutUint32(frame[4:8], tc.cmd)
		binary.BigEndian.PutUint32(frame[12:16], 77)
		c.write(frame)
		p = c.next()
		require.IsType(t, &pdu.GenericNack{}, p, tc.name)
		require.Equal(t, int32(77), p.GetSequenceNumber(), tc.name)
		require.Equal(t, data.ESME_RINVCMDID, p.GetHeader().CommandStatus, tc.name)
	}
	require.Equal(t, 2, s.Stats().GenericNacks)

	// A truncated submit_sm body is undecodable: generic_nack RINVCMDLEN.
	bad := defaultRaw().encode(88)[:30]
	binary.BigEndian.PutUint32(bad[0:4], 30)
	c.write(bad)
	p = c.next()
	require.IsType(t, &pdu.GenericNack{}, p)
	require.Equal(t, data.ESME_RINVCMDLEN, p.GetHeader().CommandStatus)
	require.Equal(t, int32(88), p.GetSequenceNumber())

	seq = c.send(pdu.NewUnbind())
	p = c.next()
	require.IsType(t, &pdu.UnbindResp{}, p)
	require.Equal(t, seq, p.GetSequenceNumber())
	c.expectClosed()
	waitStats(t, s, func(st sim.Stats) bool { return st.Binds == 0 && st.Unbinds == 1 })
}

func TestBadCommandLengthClosesConnection(t *testing.T) {
	t.Parallel()
	s := start(t, sim.Config{})
	c := bound(t, s)
	frame := make([]byte, 16)
	binary.BigEndian.PutUint32(frame[0:4], 8) // < 16
	binary.BigEndian.PutUint32(frame[4:8], 0x15)
	binary.BigEndian.PutUint32(frame[12:16], 5)
	c.write(frame)
	p := c.next()
	require.IsType(t, &pdu.GenericNack{}, p)
	require.Equal(t, data.ESME_RINVCMDLEN, p.GetHeader().CommandStatus)
	c.expectClosed()
}

func TestInactivityTimeout(t *testing.T) {
	t.Parallel()
	s := start(t, sim.Config{EnquireLinkTimeout: 300 * time.Millisecond})
	c := bound(t, s)
	c.expectClosed()
	waitStats(t, s, func(st sim.Stats) bool { return st.Binds == 0 })
}

// TestCloseStopsGoroutines is not parallel: it counts goroutines.
func TestCloseStopsGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	s := sim.New(sim.Config{SMPPAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", SystemID: testSystemID, Password: testPassword, AutoReceipts: true})
	require.NoError(t, s.Start())
	c := bound(t, s)
	require.Equal(t, data.ESME_ROK, c.submitText("x").CommandStatus)
	require.NoError(t, s.InjectMO(sim.MO{From: "+33612345678", To: "36000", Text: "pending"}))
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "second Close is a no-op")
	c.expectClosed()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		require.True(t, time.Now().Before(deadline), "goroutines: %d > %d", runtime.NumGoroutine(), before)
		time.Sleep(5 * time.Millisecond)
	}
}
