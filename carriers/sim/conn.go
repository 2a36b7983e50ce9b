package sim

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/linxGnu/gosmpp/data"
	"github.com/linxGnu/gosmpp/pdu"
)

// SMPP 3.4 command ids and statuses used here by value. gosmpp names the
// ids as negative int32s; these are the on-the-wire values.
const (
	cmdGenericNack         uint32 = 0x80000000
	cmdBindReceiver        uint32 = 0x00000001
	cmdBindTransmitter     uint32 = 0x00000002
	cmdSubmitSM            uint32 = 0x00000004
	cmdSubmitSMResp        uint32 = 0x80000004
	cmdDeliverSMResp       uint32 = 0x80000005
	cmdUnbind              uint32 = 0x00000006
	cmdUnbindResp          uint32 = 0x80000006
	cmdBindTransceiver     uint32 = 0x00000009
	cmdEnquireLink         uint32 = 0x00000015
	cmdEnquireLinkResp     uint32 = 0x80000015
	respBit                uint32 = 0x80000000
	maxPDULen                     = 64 << 10 // as gosmpp's MAX_PDU_LEN
	smscSystemID                  = "carriersim"
	outQueueLen                   = 4096
	ioBufferSize                  = 64 << 10
	tagSCInterfaceVersion         = pdu.Tag(0x0210)
	statusRINVOPTPARAMVAL         = uint32(0xC4)
	statusRMISSINGOPTPARAM        = uint32(0xC3)
	statusROPTPARNOTALLWD         = uint32(0xC1)
)

type bindType int

const (
	bindNone bindType = iota
	bindTX
	bindRX
	bindTRX
)

func (b bindType) canSubmit() bool  { return b == bindTX || b == bindTRX }
func (b bindType) canReceive() bool { return b == bindRX || b == bindTRX }

// outFrame is one encoded PDU for the writer; closeAfter makes the writer
// flush, then close the connection (after unbind_resp or a failed bind).
type outFrame struct {
	b          []byte
	closeAfter bool
}

// conn is one ESME connection: one reader goroutine (which also answers
// requests) and one writer goroutine with a buffered writer.
type conn struct {
	s          *Sim
	id         int
	nc         net.Conn
	out        chan outFrame
	done       chan struct{}
	writerDone chan struct{}
	closeOnce  sync.Once
	seq        atomic.Uint32

	// guarded by s.mu
	bind     bindType
	systemID string
	pending  map[uint32]*delivery
}

func newConn(s *Sim, id int, nc net.Conn) *conn {
	return &conn{
		s:          s,
		id:         id,
		nc:         nc,
		out:        make(chan outFrame, outQueueLen),
		done:       make(chan struct{}),
		writerDone: make(chan struct{}),
		pending:    make(map[uint32]*delivery),
	}
}

// nextSeq returns the next sequence number for a PDU the SMSC originates,
// within 0x00000001-0x7FFFFFFF (SMPP 3.4 §3.2).
func (c *conn) nextSeq() uint32 {
	for {
		v := c.seq.Add(1) & 0x7FFFFFFF
		if v != 0 {
			return v
		}
	}
}

func (c *conn) close() {
	c.closeOnce.Do(func() {
		close(c.done)
		_ = c.nc.Close()
	})
}

// send queues a frame, blocking while the writer is behind (backpressure on
// the reader); false if the connection is closed.
func (c *conn) send(f outFrame) bool {
	select {
	case <-c.done:
		return false
	default:
	}
	select {
	case c.out <- f:
		return true
	case <-c.done:
		return false
	}
}

// trySend queues a frame without blocking (used by the scheduler).
func (c *conn) trySend(b []byte) bool {
	select {
	case <-c.done:
		return false
	default:
	}
	select {
	case c.out <- outFrame{b: b}:
		return true
	default:
		return false
	}
}

func (c *conn) writeLoop() {
	defer close(c.writerDone)
	bw := bufio.NewWriterSize(c.nc, ioBufferSize)
	write := func(f outFrame) bool {
		if _, err := bw.Write(f.b); err != nil {
			c.close()
			return false
		}
		return true
	}
	for {
		select {
		case <-c.done:
			return
		case f := <-c.out:
			if !write(f) {
				return
			}
			closeAfter := f.closeAfter
		drain:
			for !closeAfter {
				select {
				case f2 := <-c.out:
					if !write(f2) {
						return
					}
					closeAfter = f2.closeAfter
				default:
					break drain
				}
			}
			if err := bw.Flush(); err != nil {
				c.close()
				return
			}
			if closeAfter {
				c.close()
				return
			}
		}
	}
}

func (c *conn) readLoop() {
	defer c.s.connGone(c)
	defer c.close()
	br := bufio.NewReaderSize(c.nc, ioBufferSize)
	var hdr [16]byte
	for {
		if d := c.s.cfg.EnquireLinkTimeout; d > 0 {
			_ = c.nc.SetReadDeadline(time.Now().Add(d))
		}
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			c.logReadErr(err)
			return
		}
		length := binary.BigEndian.Uint32(hdr[0:4])
		seq := binary.BigEndian.Uint32(hdr[12:16])
		if length < 16 || length > maxPDULen {
			// The stream cannot be resynchronised after a bad length.
			c.s.countGNack()
			c.send(outFrame{b: header(cmdGenericNack, uint32(data.ESME_RINVCMDLEN), seq), closeAfter: true})
			c.waitWriter()
			return
		}
		frame := make([]byte, length)
		copy(frame, hdr[:])
		if _, err := io.ReadFull(br, frame[16:]); err != nil {
			c.logReadErr(err)
			return
		}
		if !c.handle(frame) {
			c.waitWriter()
			return
		}
	}
}

// waitWriter gives the writer a moment to flush a final response.
func (c *conn) waitWriter() {
	select {
	case <-c.writerDone:
	case <-time.After(time.Second):
	}
}

func (c *conn) logReadErr(err error) {
	select {
	case <-c.done:
		return
	default:
	}
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		c.s.log.Debug("sim: connection closed by peer", "bind", c.id)
		return
	}
	c.s.log.Info("sim: read", "bind", c.id, "err", err)
}

// handle processes one PDU; false means stop reading (close).
func (c *conn) handle(frame []byte) bool {
	cmd := binary.BigEndian.Uint32(frame[4:8])
	status := binary.BigEndian.Uint32(frame[8:12])
	seq := binary.BigEndian.Uint32(frame[12:16])

	if cmd&respBit != 0 {
		switch cmd {
		case cmdDeliverSMResp:
			// Body (an empty message_id) is not needed; some ESMEs omit it.
			c.s.deliverAnswered(c, seq, status)
		case cmdGenericNack:
			// SMPP 3.4 §4.3: a generic_nack answers the request with this
			// sequence number; if it was a deliver_sm, it failed.
			c.s.deliverAnswered(c, seq, max(status, 1))
		case cmdEnquireLinkResp, cmdUnbindResp:
		default:
			c.s.log.Debug("sim: unexpected response", "bind", c.id, "command_id", cmd)
		}
		return true
	}

	switch cmd {
	case cmdSubmitSM:
		return c.s.handleSubmit(c, frame)
	case cmdEnquireLink:
		c.s.mu.Lock()
		c.s.stats.EnquireLinks++
		c.s.mu.Unlock()
		return c.send(outFrame{b: header(cmdEnquireLinkResp, 0, seq)})
	case cmdUnbind:
		c.s.mu.Lock()
		c.s.stats.Unbinds++
		c.s.mu.Unlock()
		c.send(outFrame{b: header(cmdUnbindResp, 0, seq), closeAfter: true})
		return false
	case cmdBindTransceiver, cmdBindTransmitter, cmdBindReceiver:
		p := pdu.NewBindRequest(pdu.Transceiver)
		switch cmd {
		case cmdBindTransmitter:
			p = pdu.NewBindRequest(pdu.Transmitter)
		case cmdBindReceiver:
			p = pdu.NewBindRequest(pdu.Receiver)
		}
		if err := p.Unmarshal(pdu.NewBuffer(frame)); err != nil {
			c.s.countGNack()
			return c.send(outFrame{b: header(cmdGenericNack, uint32(data.ESME_RINVCMDLEN), seq)})
		}
		return c.s.handleBind(c, p)
	}
	// Known to gosmpp but not served here (query_sm, cancel_sm, data_sm,
	// submit_multi, ...) or unknown: SMPP 3.4 answers generic_nack.
	c.s.countGNack()
	return c.send(outFrame{b: header(cmdGenericNack, uint32(data.ESME_RINVCMDID), seq)})
}

// header encodes a body-less PDU (enquire_link_resp, unbind_resp,
// generic_nack, and error responses whose body SMPP 3.4 omits).
func header(cmd, status, seq uint32) []byte {
	b := make([]byte, 16)
	binary.BigEndian.PutUint32(b[0:4], 16)
	binary.BigEndian.PutUint32(b[4:8], cmd)
	binary.BigEndian.PutUint32(b[8:12], status)
	binary.BigEndian.PutUint32(b[12:16], seq)
	return b
}

func marshal(p pdu.PDU) []byte {
	buf := pdu.NewBuffer(make([]byte, 0, 128))
	p.Marshal(buf)
	return buf.Bytes()
}

func (s *Sim) countGNack() {
	s.mu.Lock()
	s.stats.GenericNacks++
	s.mu.Unlock()
}

func (s *Sim) handleBind(c *conn, req *pdu.BindRequest) bool {
	resp := req.GetResponse().(*pdu.BindResp)
	resp.SystemID = smscSystemID
	status := data.ESME_ROK

	s.mu.Lock()
	s.stats.BindAttempts++
	switch {
	case c.bind != bindNone:
		status = data.ESME_RALYBND
	case time.Now().Before(s.refuseUntil):
		status = data.ESME_RBINDFAIL
	case req.SystemID != s.cfg.SystemID:
		status = data.ESME_RINVSYSID
	case req.Password != s.cfg.Password:
		status = data.ESME_RINVPASWD
	case s.cfg.MaxBinds > 0 && s.stats.Binds >= s.cfg.MaxBinds:
		status = data.ESME_RBINDFAIL
	}
	bt := bindTRX
	switch req.BindingType {
	case pdu.Transmitter:
		bt = bindTX
	case pdu.Receiver:
		bt = bindRX
	}
	if status == data.ESME_ROK {
		c.bind = bt
		c.systemID = req.SystemID
		s.stats.Binds++
		s.stats.MaxBinds = max(s.stats.MaxBinds, s.stats.Binds)
	} else if status != data.ESME_RALYBND {
		s.stats.BindsRefused++
	}
	s.mu.Unlock()

	resp.CommandStatus = status
	if status == data.ESME_ROK {
		resp.RegisterOptionalParam(pdu.Field{Tag: tagSCInterfaceVersion, Data: []byte{data.SMPP_V34}})
		s.log.Info("sim: bound", "bind", c.id, "system_id", req.SystemID, "type", int(bt))
		return c.send(outFrame{b: marshal(resp)})
	}
	s.log.Info("sim: bind refused", "bind", c.id, "system_id", req.SystemID, "status", uint32(status))
	// A failed bind_transceiver_resp keeps its system_id (gosmpp v0.3.1 reads
	// it unconditionally), bind_transmitter/receiver_resp errors are
	// header-only (gosmpp would read a body as TLVs).
	b := marshal(resp)
	if req.BindingType != pdu.Transceiver {
		b = header(uint32(resp.CommandID), uint32(status), uint32(req.SequenceNumber))
	}
	if status == data.ESME_RALYBND {
		return c.send(outFrame{b: b}) // the existing bind stays
	}
	// A real SMSC hangs up after a failed bind.
	c.send(outFrame{b: b, closeAfter: true})
	return false
}

// connGone forgets a closed connection and requeues the deliver_sm it had
// in flight.
func (s *Sim) connGone(c *conn) {
	s.mu.Lock()
	if _, ok := s.conns[c.id]; !ok {
		s.mu.Unlock()
		return
	}
	delete(s.conns, c.id)
	if c.bind != bindNone {
		s.stats.Binds--
		c.bind = bindNone
	}
	var retry []*delivery
	for seq, d := range c.pending {
		delete(c.pending, seq)
		d.inflight = false
		retry = append(retry, d)
	}
	for _, d := range retry {
		s.failLocked(d)
	}
	s.mu.Unlock()
	s.log.Info("sim: connection gone", "bind", c.id)
}
