package sim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/linxGnu/gosmpp/data"
	"github.com/linxGnu/gosmpp/pdu"
)

// delivery is one deliver_sm (a receipt or one MO part) that the SMSC owes
// the ESME until a deliver_sm_resp with ESME_ROK comes back.
type delivery struct {
	frame    []byte // encoded deliver_sm; the sequence number is patched per attempt
	systemID string // "" = any bound receiver
	prefer   int    // connection to try first (the submitting bind), 0 = none
	attempts int    // failed attempts so far

	// guarded by Sim.mu
	inflight bool
	conn     *conn
	seq      uint32
	token    uint64 // identifies the current attempt for its timeout
}

// errNoReceiver is returned when no receiver or transceiver is bound.
var errNoReceiver = errors.New("sim: no receiver or transceiver bound")

// enqueue registers d as owed and sends it as soon as possible.
func (s *Sim) enqueue(d *delivery, after time.Duration) {
	s.mu.Lock()
	s.stats.DeliverPending++
	s.mu.Unlock()
	s.sched.after(after, func() { s.dispatch(d) })
}

// dispatch runs on the scheduler goroutine and must not block.
func (s *Sim) dispatch(d *delivery) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	c := s.pickReceiverLocked(d.systemID, d.prefer)
	if c == nil {
		// Waiting for a bind is not a failed attempt: nothing is lost.
		s.mu.Unlock()
		s.sched.after(s.cfg.RedeliverDelay, func() { s.dispatch(d) })
		return
	}
	seq := c.nextSeq()
	d.inflight, d.conn, d.seq = true, c, seq
	d.token++
	tok := d.token
	c.pending[seq] = d
	s.stats.DeliverSent++
	s.mu.Unlock()

	b := make([]byte, len(d.frame))
	copy(b, d.frame)
	binary.BigEndian.PutUint32(b[12:16], seq)
	if !c.trySend(b) {
		s.mu.Lock()
		mine := c.pending[seq] == d
		if mine {
			delete(c.pending, seq)
			d.inflight = false
			s.stats.DeliverSent--
		}
		s.mu.Unlock()
		if mine { // else connGone already requeued it
			s.sched.after(5*time.Millisecond, func() { s.dispatch(d) })
		}
		return
	}
	s.sched.after(s.cfg.DeliverTimeout, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if d.inflight && d.token == tok && d.conn.pending[d.seq] == d {
			delete(d.conn.pending, d.seq)
			d.inflight = false
			s.stats.DeliverTimeouts++
			s.log.Info("sim: deliver_sm timed out", "bind", d.conn.id, "seq", d.seq)
			s.failLocked(d)
		}
	})
}

// pickReceiverLocked prefers the connection the message was submitted on,
// then the lowest-numbered bound receiver/transceiver of the system_id.
func (s *Sim) pickReceiverLocked(systemID string, prefer int) *conn {
	if c, ok := s.conns[prefer]; ok && c.bind.canReceive() && (systemID == "" || c.systemID == systemID) {
		return c
	}
	var best *conn
	for _, c := range s.conns {
		if !c.bind.canReceive() || (systemID != "" && c.systemID != systemID) {
			continue
		}
		if best == nil || c.id < best.id {
			best = c
		}
	}
	return best
}

func (s *Sim) hasReceiver(systemID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pickReceiverLocked(systemID, 0) != nil
}

// deliverAnswered handles deliver_sm_resp (or a generic_nack) for seq.
func (s *Sim) deliverAnswered(c *conn, seq, status uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := c.pending[seq]
	if !ok {
		s.log.Debug("sim: response to unknown deliver_sm", "bind", c.id, "seq", seq)
		return
	}
	delete(c.pending, seq)
	d.inflight = false
	if status == 0 {
		s.stats.DeliverAcked++
		s.stats.DeliverPending--
		return
	}
	s.stats.DeliverNacked++
	s.log.Info("sim: deliver_sm refused", "bind", c.id, "seq", seq, "status", status)
	s.failLocked(d)
}

// failLocked counts a failed attempt and schedules a redelivery, or drops d
// after MaxRedeliveries.
func (s *Sim) failLocked(d *delivery) {
	d.attempts++
	if d.attempts > s.cfg.MaxRedeliveries {
		s.stats.DeliverDropped++
		s.stats.DeliverPending--
		s.log.Warn("sim: deliver_sm dropped", "attempts", d.attempts)
		return
	}
	s.stats.DeliverRetried++
	if s.closed {
		return
	}
	s.sched.after(s.cfg.RedeliverDelay, func() { s.dispatch(d) })
}

// messageState maps receipt stat: words to message_state (SMPP 3.4 §5.2.28).
var messageState = map[string]byte{
	"ENROUTE": 1, "DELIVRD": 2, "EXPIRED": 3, "DELETED": 4,
	"UNDELIV": 5, "ACCEPTD": 6, "UNKNOWN": 7, "REJECTD": 8,
}

// SendReceipt sends a receipt for a submitted message id now, to the bind it
// was submitted on if it can receive, else to another receiver of the same
// system_id. It fails for an unknown id or stat, or if no receiver is bound.
func (s *Sim) SendReceipt(r Receipt) error {
	s.mu.Lock()
	i, ok := s.byID[r.MessageID]
	var sub Submit
	if ok {
		sub = s.submits[i]
	}
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("sim: send receipt: unknown message id %q", r.MessageID)
	}
	d, err := s.receipt(sub, r)
	if err != nil {
		return err
	}
	if !s.hasReceiver(d.systemID) {
		return errNoReceiver
	}
	s.mu.Lock()
	s.stats.ReceiptsSent++
	s.mu.Unlock()
	s.enqueue(d, 0)
	return nil
}

// autoReceipt is scheduled for accepted parts asking for a receipt.
func (s *Sim) autoReceipt(sub Submit) {
	d, err := s.receipt(sub, Receipt{MessageID: sub.MessageID, Stat: "DELIVRD"})
	if err != nil {
		s.log.Error("sim: auto receipt", "err", err)
		return
	}
	s.mu.Lock()
	s.stats.ReceiptsSent++
	s.mu.Unlock()
	s.enqueue(d, 0)
}

// receipt builds the deliver_sm of a receipt per SMPP 3.4 Appendix B, with
// receipted_message_id and message_state TLVs (§5.3.2.12, §5.3.2.35).
func (s *Sim) receipt(sub Submit, r Receipt) (*delivery, error) {
	stat := strings.ToUpper(r.Stat)
	if stat == "" {
		stat = "DELIVRD"
	}
	state, ok := messageState[stat]
	if !ok {
		return nil, fmt.Errorf("sim: receipt: unknown stat %q", r.Stat)
	}
	id, err := s.formID(r.MessageID, r.IDForm)
	if err != nil {
		return nil, err
	}
	errCode := r.Err
	if errCode == "" {
		errCode = "001"
		if stat == "DELIVRD" {
			errCode = "000"
		}
	}
	dlvrd := "000"
	if stat == "DELIVRD" {
		dlvrd = "001"
	}
	text := []rune(sub.Text)
	if len(text) > 20 {
		text = text[:20]
	}
	const layout = "0601021504"
	body := fmt.Sprintf("id:%s sub:001 dlvrd:%s submit date:%s done date:%s stat:%s err:%s text:%s",
		id, dlvrd, sub.At.Format(layout), s.now().Format(layout), stat, errCode, string(text))

	p := pdu.NewDeliverSM().(*pdu.DeliverSM)
	// The receipt comes "from" the recipient: addresses swapped.
	p.SourceAddr, err = pdu.NewAddressWithTonNpiAddr(sub.DestTON, sub.DestNPI, sub.Dest)
	if err != nil {
		return nil, fmt.Errorf("sim: receipt source: %w", err)
	}
	p.DestAddr, err = pdu.NewAddressWithTonNpiAddr(sub.SourceTON, sub.SourceNPI, sub.Source)
	if err != nil {
		return nil, fmt.Errorf("sim: receipt destination: %w", err)
	}
	p.EsmClass = data.SM_SMSC_DLV_RCPT_TYPE
	var sm []byte
	if !r.TLVOnly {
		sm = gsmEncodeLossy(body)
		if len(sm) > data.SM_MSG_LEN {
			sm = sm[:data.SM_MSG_LEN]
		}
	}
	if err := p.Message.SetMessageDataWithEncoding(sm, data.GSM7BIT); err != nil {
		return nil, fmt.Errorf("sim: receipt text: %w", err)
	}
	if !r.TextOnly {
		p.RegisterOptionalParam(pdu.Field{Tag: pdu.TagReceiptedMessageID, Data: append([]byte(id), 0)})
		p.RegisterOptionalParam(pdu.Field{Tag: pdu.TagMessageStateOption, Data: []byte{state}})
	}
	s.mu.Lock()
	var sysID string
	if c, ok := s.conns[sub.Bind]; ok {
		sysID = c.systemID
	}
	s.mu.Unlock()
	if sysID == "" {
		sysID = s.cfg.SystemID
	}
	return &delivery{frame: marshal(p), systemID: sysID, prefer: sub.Bind}, nil
}

// formID rewrites a message id the way some SMSCs print it in receipts.
func (s *Sim) formID(id, form string) (string, error) {
	base := 10
	if s.cfg.IDFormat == "hex" {
		base = 16
	}
	switch form {
	case "":
		return id, nil
	case "upper":
		return strings.ToUpper(id), nil
	case "zeros":
		if len(id) >= 10 {
			return "00" + id, nil
		}
		return strings.Repeat("0", 10-len(id)) + id, nil
	case "hex", "dec":
		n, ok := new(big.Int).SetString(id, base)
		if !ok {
			return "", fmt.Errorf("sim: receipt: id %q is not a base-%d number", id, base)
		}
		if form == "hex" {
			return n.Text(16), nil
		}
		return n.Text(10), nil
	}
	return "", fmt.Errorf("sim: receipt: unknown id form %q (want hex, dec, upper or zeros)", form)
}

// formatID formats the message id counter per Config.IDFormat.
func (s *Sim) formatID(n uint64) string {
	if s.cfg.IDFormat == "hex" {
		return strconv.FormatUint(n, 16)
	}
	return strconv.FormatUint(n, 10)
}
