package sms_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"gateway/carriers/sim"
	"gateway/sms"
	"gateway/sms/smpp"
	"gateway/unify"
)

// recordingSink keeps what the channel reports back.
type recordingSink struct {
	mu       sync.Mutex
	receipts []unify.Receipt
	inbound  []unify.Inbound
}

func (r *recordingSink) HandleReceipt(_ context.Context, rc unify.Receipt) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.receipts = append(r.receipts, rc)
	return nil
}

func (r *recordingSink) HandleInbound(_ context.Context, in unify.Inbound) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inbound = append(r.inbound, in)
	return nil
}

func (r *recordingSink) snapshot() ([]unify.Receipt, []unify.Inbound) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]unify.Receipt(nil), r.receipts...), append([]unify.Inbound(nil), r.inbound...)
}

type testBundle struct {
	sim  *sim.Sim
	ch   *sms.Channel
	sink *recordingSink
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	s := sim.New(sim.Config{SMPPAddr: "127.0.0.1:0", SystemID: "gw", Password: "secret", AutoReceipts: true, ReceiptDelay: -1})
	require.NoError(t, s.Start())
	t.Cleanup(func() { _ = s.Close() })
	sink := &recordingSink{}
	link := smpp.New(smpp.Config{Carrier: "sim", Address: s.SMPPAddr(), SystemID: "gw", Password: "secret", TPS: 10000, Window: 20},
		sms.DeliverHandler(sink, nil), nil, nil)
	link.Open()
	t.Cleanup(func() { _ = link.Close() })
	senders := []unify.Sender{{Name: "acme", SMSSource: "ACME"}}
	return &testBundle{sim: s, ch: sms.New(sms.Config{Links: map[string]sms.Submitter{"sim": link}, Senders: senders}), sink: sink}
}

func TestSendOverSMPP(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// 400 characters, two of them from the extension table: 402 septets.
	long := "Total 10€ [promo] "
	for len([]rune(long)) < 400 {
		long += "abcdefghij"
	}
	long = string([]rune(long)[:400])
	for _, tc := range []struct {
		name       string
		text       string
		dataCoding byte
		segments   int
	}{
		{"short gsm7", "Your order shipped", 0x00, 1},
		{"400 chars with euro and bracket", long, 0x00, 3},
		{"emoji", "Thanks 🎉 see you soon 😀", 0x08, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			to := "+33612345678"
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			a := &unify.Attempt{ID: unify.NewAttemptID(), Carrier: "sim", Channel: unify.ChannelSMS}
			res, err := b.ch.Send(ctx, &unify.Message{To: to, From: "acme", Content: unify.Content{Text: tc.text}}, a, &unify.Policy{})
			require.NoError(t, err)
			require.Equal(t, tc.segments, res.Segments)
			require.Len(t, res.Parts, tc.segments)
			var found *sim.Message
			for _, m := range b.sim.Messages() {
				if m.Text == tc.text {
					m := m
					found = &m
				}
			}
			require.NotNil(t, found, "the SMSC saw the exact text")
			require.True(t, found.Complete)
			require.Equal(t, tc.dataCoding, found.DataCoding)
			require.Len(t, found.Parts, tc.segments)
			require.Equal(t, "33612345678", found.Dest)
			require.Equal(t, "ACME", found.Source)
			for i, p := range found.Parts {
				require.EqualValues(t, 5, p.SourceTON)
				require.EqualValues(t, 1, p.DestTON)
				require.EqualValues(t, 1, p.RegisteredDelivery)
				if tc.segments > 1 {
					require.Equal(t, byte(0x40), p.EsmClass&0x40)
					require.Len(t, p.UDH, 6)
					require.Equal(t, []byte{0x05, 0x00, 0x03}, p.UDH[:3])
					require.Equal(t, found.Parts[0].UDH[3], p.UDH[3], "one reference for every part")
					require.EqualValues(t, tc.segments, p.UDH[4])
					require.EqualValues(t, i+1, p.UDH[5])
				} else {
					require.Nil(t, p.UDH)
				}
			}
			// Every part is receipted and each receipt names a part we were given.
			require.Eventually(t, func() bool {
				rs, _ := b.sink.snapshot()
				n := 0
				for _, r := range rs {
					for _, p := range res.Parts {
						if r.Ref.Raw == p.Ref.Raw && r.Status == unify.StatusDelivered {
							n++
						}
					}
				}
				return n == tc.segments
			}, 5*time.Second, 10*time.Millisecond)
		})
	}
}

func TestInboundOverSMPP(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.Eventually(t, func() bool { return b.sim.Stats().Binds > 0 }, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, b.sim.InjectMO(sim.MO{From: "+33612345678", To: "ACME", Text: "2"}))
	require.NoError(t, b.sim.InjectMO(sim.MO{From: "33612345679", To: "ACME", Text: "Ünïcode 😀 long reply", Parts: 3, Ref16: true}))
	require.Eventually(t, func() bool { _, in := b.sink.snapshot(); return len(in) == 4 }, 5*time.Second, 10*time.Millisecond)
	_, in := b.sink.snapshot()
	// Deliveries are handled concurrently: sort by what they are.
	pieces := make([]string, 3)
	for _, p := range in {
		if p.Part == nil {
			require.Equal(t, "+33612345678", p.From)
			require.Equal(t, "ACME", p.To)
			require.Equal(t, "2", p.Text)
			continue
		}
		require.Equal(t, 3, p.Part.Total)
		require.Contains(t, p.Part.Ref, "16:")
		require.Equal(t, "+33612345679", p.From)
		pieces[p.Part.Seq-1] = p.Text
	}
	require.Equal(t, "Ünïcode 😀 long reply", strings.Join(pieces, ""))
}

type submitFunc func(ctx context.Context, p smpp.Part) (string, error)

func (f submitFunc) Submit(ctx context.Context, p smpp.Part) (string, error) { return f(ctx, p) }

type readySubmitter struct {
	submitFunc
	up bool
}

func (r readySubmitter) Ready() bool { return r.up }

// The channel is ready for a carrier when its link says a bind is up here;
// a link that cannot tell is taken as ready, an unknown carrier is not.
func TestChannelReady(t *testing.T) {
	t.Parallel()
	never := submitFunc(func(context.Context, smpp.Part) (string, error) { return "", nil })
	ch := sms.New(sms.Config{Links: map[string]sms.Submitter{
		"up": readySubmitter{never, true}, "down": readySubmitter{never, false}, "plain": never,
	}})
	for carrier, want := range map[string]bool{"up": true, "down": false, "plain": true, "unknown": false} {
		require.Equal(t, want, ch.Ready(carrier), carrier)
	}
}
