package smpp

import (
	"context"
	"time"

	"github.com/linxGnu/gosmpp/data"
	"github.com/linxGnu/gosmpp/pdu"
)

// Deliver is one deliver_sm (or data_sm) received: an MO message or a
// delivery receipt, raw.
type Deliver struct {
	Carrier              string
	SourceTON, SourceNPI byte
	Source               string
	DestTON, DestNPI     byte
	Dest                 string
	EsmClass, DataCoding byte
	// ShortMessage is as received, the UDH included when EsmClass&0x40.
	// Empty for data_sm and for content sent in message_payload.
	ShortMessage []byte
	// TLVs holds the optional parameters by tag (receipted_message_id
	// 0x001E, message_state 0x0427, message_payload 0x0424, sar_*…).
	TLVs       map[uint16][]byte
	ReceivedAt time.Time
}

// IsReceipt reports whether esm_class marks an SMSC delivery receipt
// (0x04) or an intermediate delivery notification (0x20) rather than an MO
// message (smpp.md §4, §10).
func (d Deliver) IsReceipt() bool {
	t := d.EsmClass & 0x3C
	return t == data.SM_SMSC_DLV_RCPT_TYPE || t == 0x20
}

// DeliverFunc handles one Deliver. It may block (it writes to a database);
// it runs on its own goroutine, at most Config.DeliverConcurrency at once per
// bind. A nil error means "durably handled": the SMSC gets ESME_ROK. An error
// answers ESME_RX_T_APPN so that the SMSC redelivers later (at-least-once;
// the same Deliver may therefore arrive more than once). ctx ends only when
// Close gives up waiting.
type DeliverFunc func(ctx context.Context, d Deliver) error

func fromDeliverSM(carrier string, tap *dcTap, pd *pdu.DeliverSM, now time.Time) Deliver {
	d := Deliver{
		Carrier:   carrier,
		SourceTON: pd.SourceAddr.Ton(), SourceNPI: pd.SourceAddr.Npi(), Source: pd.SourceAddr.Address(),
		DestTON: pd.DestAddr.Ton(), DestNPI: pd.DestAddr.Npi(), Dest: pd.DestAddr.Address(),
		EsmClass:   pd.EsmClass,
		TLVs:       tlvs(pd.OptionalParameters),
		ReceivedAt: now,
	}
	if enc := pd.Message.Encoding(); enc != nil {
		d.DataCoding = enc.DataCoding()
	} else if dc, ok := tap.dataCoding(pd.GetSequenceNumber()); ok {
		d.DataCoding = dc
	}
	// gosmpp splits the UDH off when UDHI is set; put it back so that
	// callers see the octets the SMSC sent.
	ud, _ := pd.Message.GetMessageData()
	var sm []byte
	if udh := pd.Message.UDH(); len(udh) > 0 {
		sm, _ = udh.MarshalBinary()
	}
	d.ShortMessage = append(sm, ud...)
	return d
}

func fromDataSM(carrier string, pd *pdu.DataSM, now time.Time) Deliver {
	return Deliver{
		Carrier:   carrier,
		SourceTON: pd.SourceAddr.Ton(), SourceNPI: pd.SourceAddr.Npi(), Source: pd.SourceAddr.Address(),
		DestTON: pd.DestAddr.Ton(), DestNPI: pd.DestAddr.Npi(), Dest: pd.DestAddr.Address(),
		EsmClass:   pd.EsmClass,
		DataCoding: pd.DataCoding,
		TLVs:       tlvs(pd.OptionalParameters),
		ReceivedAt: now,
	}
}

func tlvs(opts map[pdu.Tag]pdu.Field) map[uint16][]byte {
	m := make(map[uint16][]byte, len(opts))
	for tag, f := range opts {
		m[uint16(tag)] = f.Data
	}
	return m
}

// onDeliver is called on gosmpp's reader goroutine: it hands d to a
// delivery worker and returns nil, or answers resp with ESME_RX_T_APPN at
// once when this bind already has DeliverConcurrency deliveries in flight or
// the link is closing. Blocking here would stop the reading of
// submit_sm_resp.
func (l *Link) onDeliver(c *conn, d Deliver, resp pdu.PDU) pdu.PDU {
	kind := "mo"
	if d.IsReceipt() {
		kind = "receipt"
	}
	if !l.admitDeliver(c) {
		setStatus(resp, data.ESME_RX_T_APPN)
		l.m.deliver(kind, "retry")
		return resp
	}
	job := delivery{c: c, d: d, resp: resp, kind: kind}
	select {
	case l.deliveries <- job: // an idle worker takes it
	default:
		// Before Close waits for l.wg: it first waits for every admitted
		// delivery, this one included.
		l.wg.Add(1)
		go l.deliverWorker(job)
	}
	return nil
}

// delivery is a deliver_sm admitted for handling, with its response.
type delivery struct {
	c    *conn
	d    Deliver
	resp pdu.PDU
	kind string
}

// deliverIdle is how long a delivery worker waits for the next delivery
// before it ends. Workers are kept rather than started for each deliver_sm:
// handling one grows a goroutine's stack several times over (the store, the
// event), and a new goroutine paid for that growth on every receipt.
const deliverIdle = time.Second

// deliverWorker handles job, then whatever deliveries come while it is
// waiting, until it has waited deliverIdle for one or the link is closed.
// Admission (admitDeliver) bounds how many there are.
func (l *Link) deliverWorker(job delivery) {
	defer l.wg.Done()
	idle := time.NewTimer(deliverIdle)
	defer idle.Stop()
	for {
		l.handleDelivery(job)
		idle.Reset(deliverIdle)
		select {
		case job = <-l.deliveries:
		case <-idle.C:
			return
		case <-l.ctx.Done():
			return
		}
	}
}

func (l *Link) handleDelivery(job delivery) {
	c, resp := job.c, job.resp
	defer l.dwg.Done()
	defer func() { <-c.sem }()
	result := "ok"
	if err := l.deliver(l.dctx, job.d); err != nil {
		result = "retry"
		setStatus(resp, data.ESME_RX_T_APPN)
		l.log.Warn("smpp: deliver_sm not handled, asking for redelivery", "bind", c.b.idx, "kind", job.kind, "err", err)
	}
	l.m.deliver(job.kind, result)
	<-c.ready
	// Through the connection it came on: sequence numbers are per bind.
	if err := c.sess.Transceiver().Submit(resp); err != nil {
		l.log.Info("smpp: deliver_sm_resp not sent, the SMSC will redeliver", "bind", c.b.idx, "err", err)
	}
}

func (l *Link) admitDeliver(c *conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.refuseDeliver {
		return false
	}
	select {
	case c.sem <- struct{}{}:
	default:
		return false
	}
	// Under l.mu, so that no Add races with Close's Wait.
	l.dwg.Add(1)
	return true
}

func setStatus(resp pdu.PDU, status data.CommandStatusType) {
	switch r := resp.(type) {
	case *pdu.DeliverSMResp:
		r.CommandStatus = status
	case *pdu.DataSMResp:
		r.CommandStatus = status
	}
}
