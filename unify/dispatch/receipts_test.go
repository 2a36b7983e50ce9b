package dispatch_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"gateway/unify"
	"gateway/unify/dispatch"
	"gateway/unify/sqlstore"
)

// counterValue reads one counter of reg: name{label="value"}.
func counterValue(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// A receipt for a send of this instance starts from what the send stored,
// kept in memory, instead of reading it back; whatever changed in the store
// meanwhile, the outcome is the one the store's state gives.
func TestReceiptStartsFromTheSendItFollows(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		policy    []unify.Step
		meanwhile func(t *testing.T, st *sqlstore.Store, other *dispatch.Service, m *unify.Message)
		receipt   unify.Status
		status    unify.Status
		attempt   unify.Status
		events    []unify.Status // of the message's status events
		from      string         // where the receipt's state came from
	}{
		{name: "delivered", receipt: unify.StatusDelivered,
			status: unify.StatusDelivered, attempt: unify.StatusDelivered,
			events: []unify.Status{unify.StatusSent, unify.StatusDelivered}, from: "memory"},
		{name: "failed, no step left", receipt: unify.StatusExpired,
			status: unify.StatusFailed, attempt: unify.StatusFailed,
			events: []unify.Status{unify.StatusSent, unify.StatusFailed}, from: "memory"},
		{name: "failed, the next step takes over", policy: []unify.Step{{Channel: unify.ChannelSMS}, {Channel: unify.ChannelSMS}},
			receipt: unify.StatusFailed, status: unify.StatusSent, attempt: unify.StatusFailed,
			events: []unify.Status{unify.StatusSent, unify.StatusSwitching, unify.StatusSent}, from: "memory"},
		{name: "another instance applied the same receipt first",
			meanwhile: func(t *testing.T, _ *sqlstore.Store, other *dispatch.Service, m *unify.Message) {
				require.NoError(t, other.HandleReceipt(context.Background(), unify.Receipt{Channel: unify.ChannelSMS, Carrier: "sim", Ref: ref("1"), Status: unify.StatusDelivered}))
			},
			receipt: unify.StatusDelivered, status: unify.StatusDelivered, attempt: unify.StatusDelivered,
			events: []unify.Status{unify.StatusSent, unify.StatusDelivered}, from: "store"},
		{name: "the recipient was erased: the attempt is as sent, the message is not",
			meanwhile: func(t *testing.T, st *sqlstore.Store, _ *dispatch.Service, m *unify.Message) {
				require.NoError(t, st.InTx(context.Background(), func(tx *sqlstore.Tx) error {
					_, _, err := tx.EraseSubject(m.To, "erased-1", time.Now(), 100)
					return err
				}))
			},
			receipt: unify.StatusDelivered, status: unify.StatusFailed, attempt: unify.StatusDelivered,
			events: nil, from: "memory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := newStore(t)
			policy := "default"
			if tc.policy != nil {
				policy = "twice"
				require.NoError(t, st.InTx(context.Background(), func(tx *sqlstore.Tx) error {
					return tx.UpsertPolicy(unify.Policy{Name: policy, Steps: tc.policy}, time.Now())
				}))
			}
			var n atomic.Int32
			sms := &fakeChannel{kind: unify.ChannelSMS, SendFunc: func(*unify.Message, *unify.Attempt) (unify.SendResult, error) {
				return unify.SendResult{Segments: 1, Parts: []unify.Part{{Seq: 1, Ref: ref(fmt.Sprint(n.Add(1)))}}}, nil
			}}
			reg := prometheus.NewRegistry()
			cfg := dispatch.Config{Senders: []unify.Sender{{Name: "acme", SMSSource: "ACME"}}, Router: smsRouter(t),
				Channels: []dispatch.Channel{sms}, Workers: 4, Registerer: reg}
			svc, _ := run(t, st, cfg)
			cfg.Registerer = nil
			other := dispatch.New(cfg, st) // a second instance on the same store, not running
			b := &bundle{store: st, svc: svc}

			m := b.accept(t, unify.Message{To: "+33612345678", From: "acme", Policy: policy, Content: text("hello")})
			b.waitStatus(t, m.ID, unify.StatusSent)
			// The send's state is kept once its transaction committed, just
			// before it is counted as sent.
			require.Eventually(t, func() bool {
				return counterValue(t, reg, "gateway_attempts_sent_total", "carrier", "sim") == 1
			}, 5*time.Second, time.Millisecond)
			if tc.meanwhile != nil {
				tc.meanwhile(t, st, other, m)
			}
			require.NoError(t, svc.HandleReceipt(context.Background(), unify.Receipt{Channel: unify.ChannelSMS, Carrier: "sim", Ref: ref("1"), Status: tc.receipt}))

			// The next step, when one takes over, is sent by a worker.
			var got *unify.Message
			require.Eventually(t, func() bool {
				var err error
				got, err = st.Message(context.Background(), m.ID)
				require.NoError(t, err)
				return got.Status == tc.status && len(got.Attempts) == 1+len(tc.policy)/2
			}, 5*time.Second, time.Millisecond)
			require.Equal(t, tc.attempt, got.Attempts[0].Status)
			require.Equal(t, tc.receipt == unify.StatusDelivered, got.Attempts[0].Error == "" && got.Attempts[0].Parts[0].Status == unify.StatusDelivered)
			var events []unify.Status
			for _, ev := range b.events(t, m.ID) {
				events = append(events, unify.Status(ev["status"].(string)))
			}
			require.Equal(t, tc.events, events)
			require.EqualValues(t, 1, counterValue(t, reg, "gateway_receipt_states_total", "from", tc.from))
		})
	}
}
