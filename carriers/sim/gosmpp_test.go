package sim_test

import (
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/linxGnu/gosmpp"
	"github.com/linxGnu/gosmpp/data"
	"github.com/linxGnu/gosmpp/pdu"
	"github.com/stretchr/testify/require"

	"gateway/carriers/sim"
)

// TestGosmppSession checks the wire format against gosmpp's own client
// Session, the library the gateway's SMPP link is built on: binds (failed
// ones included, whose bodies gosmpp is picky about), submit, receipt, MO.
func TestGosmppSession(t *testing.T) {
	t.Parallel()
	s := start(t, sim.Config{AutoReceipts: true, ReceiptDelay: time.Millisecond})

	for _, tc := range []struct {
		name      string
		connector func(gosmpp.Auth) gosmpp.Connector
	}{
		{"trx", func(a gosmpp.Auth) gosmpp.Connector { return gosmpp.TRXConnector(gosmpp.NonTLSDialer, a) }},
		{"tx", func(a gosmpp.Auth) gosmpp.Connector { return gosmpp.TXConnector(gosmpp.NonTLSDialer, a) }},
		{"rx", func(a gosmpp.Auth) gosmpp.Connector { return gosmpp.RXConnector(gosmpp.NonTLSDialer, a) }},
	} {
		_, err := gosmpp.NewSession(tc.connector(gosmpp.Auth{SMSC: s.SMPPAddr(), SystemID: testSystemID, Password: "bad"}),
			gosmpp.Settings{ReadTimeout: time.Second, OnPDU: func(pdu.PDU, bool) {}}, 0)
		var be gosmpp.BindError
		require.True(t, errors.As(err, &be), "%s: %v", tc.name, err)
		require.Equal(t, data.ESME_RINVPASWD, be.CommandStatus, tc.name)
	}

	var (
		mu    sync.Mutex
		resps = map[int32]*pdu.SubmitSMResp{}
		dlvrs []*pdu.DeliverSM
	)
	sess, err := gosmpp.NewSession(
		gosmpp.TRXConnector(gosmpp.NonTLSDialer, gosmpp.Auth{SMSC: s.SMPPAddr(), SystemID: testSystemID, Password: testPassword}),
		gosmpp.Settings{
			EnquireLink: 50 * time.Millisecond,
			ReadTimeout: time.Second,
			OnAllPDU: func(p pdu.PDU) (pdu.PDU, bool) {
				mu.Lock()
				defer mu.Unlock()
				switch pd := p.(type) {
				case *pdu.SubmitSMResp:
					resps[pd.SequenceNumber] = pd
				case *pdu.DeliverSM:
					dlvrs = append(dlvrs, pd)
					return pd.GetResponse(), false
				case *pdu.EnquireLink:
					return pd.GetResponse(), false
				}
				return nil, false
			},
		}, 0)
	require.NoError(t, err)
	defer func() {
		// gosmpp v0.3.1 races with an SMSC that hangs up right after
		// unbind_resp (as this one does): its reader sees EOF and closes
		// the socket first, and Close then reports the second close.
		if err := sess.Close(); err != nil {
			require.ErrorIs(t, err, net.ErrClosed)
		}
	}()

	sm := newSubmitText(t, "via gosmpp")
	seq := sm.GetSequenceNumber()
	require.NoError(t, sess.Transceiver().Submit(sm))
	require.NoError(t, s.InjectMO(sim.MO{From: "+33612345678", To: "36000", Text: "réponse €"}))
	waitStats(t, s, func(st sim.Stats) bool { return st.DeliverAcked == 2 && st.EnquireLinks > 0 })

	mu.Lock()
	defer mu.Unlock()
	require.Contains(t, resps, seq)
	require.Equal(t, "1000000", resps[seq].MessageID)
	var gotReceipt, gotMO bool
	for _, d := range dlvrs {
		txt, err := d.Message.GetMessage()
		require.NoError(t, err)
		if d.EsmClass&0x3C == data.SM_SMSC_DLV_RCPT_TYPE {
			gotReceipt = true
			require.Contains(t, txt, "id:1000000 ")
			f := d.OptionalParameters[pdu.TagReceiptedMessageID]
			require.Equal(t, "1000000", f.String())
		} else {
			gotMO = true
			require.Equal(t, "réponse €", txt)
		}
	}
	require.True(t, gotReceipt)
	require.True(t, gotMO)
}
