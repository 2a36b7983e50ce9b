package sim_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/linxGnu/gosmpp/data"
	"github.com/linxGnu/gosmpp/pdu"
	"github.com/stretchr/testify/require"

	"gateway/carriers/sim"
)

const (
	testSystemID = "gw"
	testPassword = "secret"
)

// start runs a Sim on loopback with test credentials; cfg fields override.
func start(tb testing.TB, cfg sim.Config) *sim.Sim {
	tb.Helper()
	cfg.SMPPAddr = "127.0.0.1:0"
	if cfg.SystemID == "" {
		cfg.SystemID = testSystemID
	}
	if cfg.Password == "" {
		cfg.Password = testPassword
	}
	s := sim.New(cfg)
	require.NoError(tb, s.Start())
	tb.Cleanup(func() { require.NoError(tb, s.Close()) })
	return s
}

// client is a raw SMPP ESME made of gosmpp PDUs over a net.Conn, reading
// synchronously in the test goroutine.
type client struct {
	tb  testing.TB
	nc  net.Conn
	br  *bufio.Reader
	seq int32
}

func dial(tb testing.TB, s *sim.Sim) *client {
	tb.Helper()
	nc, err := net.Dial("tcp", s.SMPPAddr())
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = nc.Close() })
	return &client{tb: tb, nc: nc, br: bufio.NewReader(nc)}
}

// bound dials and binds a transceiver with the test credentials.
func bound(tb testing.TB, s *sim.Sim) *client {
	tb.Helper()
	c := dial(tb, s)
	require.Equal(tb, data.ESME_ROK, c.bind(pdu.Transceiver, testSystemID, testPassword))
	return c
}

// send assigns the next sequence number, writes p and returns the number.
func (c *client) send(p pdu.PDU) int32 {
	c.tb.Helper()
	c.seq++
	p.SetSequenceNumber(c.seq)
	buf := pdu.NewBuffer(nil)
	p.Marshal(buf)
	c.write(buf.Bytes())
	return c.seq
}

func (c *client) write(b []byte) {
	c.tb.Helper()
	_, err := c.nc.Write(b)
	require.NoError(c.tb, err)
}

// next reads one PDU (5s deadline).
func (c *client) next() pdu.PDU {
	c.tb.Helper()
	p, err := c.tryNext(5 * time.Second)
	require.NoError(c.tb, err)
	return p
}

func (c *client) tryNext(d time.Duration) (pdu.PDU, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(d))
	return pdu.Parse(c.br)
}

func (c *client) bind(t pdu.BindingType, id, pw string) data.CommandStatusType {
	c.tb.Helper()
	b := pdu.NewBindRequest(t)
	b.SystemID, b.Password = id, pw
	seq := c.send(b)
	p := c.next()
	resp, ok := p.(*pdu.BindResp)
	require.True(c.tb, ok, "got %T", p)
	require.Equal(c.tb, seq, resp.SequenceNumber)
	return resp.CommandStatus
}

// submitText submits GSM text from ACME to 33612345678 asking for a receipt.
func (c *client) submitText(text string) *pdu.SubmitSMResp {
	c.tb.Helper()
	sm := newSubmit(c.tb)
	require.NoError(c.tb, sm.Message.SetMessageWithEncoding(text, data.GSM7BIT))
	return c.submit(sm)
}

// submit sends sm and returns its response, failing on anything else.
func (c *client) submit(sm pdu.PDU) *pdu.SubmitSMResp {
	c.tb.Helper()
	seq := c.send(sm)
	return c.submitResp(seq)
}

func (c *client) submitResp(seq int32) *pdu.SubmitSMResp {
	c.tb.Helper()
	p := c.next()
	resp, ok := p.(*pdu.SubmitSMResp)
	require.True(c.tb, ok, "got %T", p)
	require.Equal(c.tb, seq, resp.SequenceNumber)
	return resp
}

// deliver reads the next deliver_sm and answers it with status.
func (c *client) deliver(status data.CommandStatusType) *pdu.DeliverSM {
	c.tb.Helper()
	p := c.next()
	d, ok := p.(*pdu.DeliverSM)
	require.True(c.tb, ok, "got %T", p)
	r := d.GetResponse()
	r.(*pdu.DeliverSMResp).CommandStatus = status
	buf := pdu.NewBuffer(nil)
	r.Marshal(buf)
	c.write(buf.Bytes())
	return d
}

// expectClosed waits for the SMSC to close the connection.
func (c *client) expectClosed() {
	c.tb.Helper()
	for {
		_, err := c.tryNext(5 * time.Second)
		if err == nil {
			continue
		}
		var ne net.Error
		require.False(c.tb, errors.As(err, &ne) && ne.Timeout(), "connection still open")
		require.True(c.tb, errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || isReset(err), "err %v", err)
		return
	}
}

func isReset(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe)
}

func newSubmit(tb testing.TB) *pdu.SubmitSM {
	tb.Helper()
	sm := pdu.NewSubmitSM().(*pdu.SubmitSM)
	var err error
	sm.SourceAddr, err = pdu.NewAddressWithTonNpiAddr(5, 0, "ACME")
	require.NoError(tb, err)
	sm.DestAddr, err = pdu.NewAddressWithTonNpiAddr(1, 1, "33612345678")
	require.NoError(tb, err)
	sm.RegisteredDelivery = 1
	return sm
}

// rawSubmit encodes a submit_sm by hand (SMPP 3.4 §4.4.1), for PDUs gosmpp
// refuses to build (sm_length 255, UDHI without UDH, ...).
type rawSubmit struct {
	srcTON, srcNPI byte
	src            string
	dstTON, dstNPI byte
	dst            string
	esm, rd, dc    byte
	prio           byte
	sched, valid   string
	sm             []byte
	tlvs           [][]byte // tag(2) len(2) value, already encoded
}

func defaultRaw() rawSubmit {
	return rawSubmit{srcTON: 5, src: "ACME", dstTON: 1, dstNPI: 1, dst: "33612345678", rd: 1, sm: []byte("hello")}
}

func (r rawSubmit) encode(seq uint32) []byte {
	b := make([]byte, 16, 64+len(r.sm))
	cstr := func(s string) { b = append(b, s...); b = append(b, 0) }
	cstr("") // service_type
	b = append(b, r.srcTON, r.srcNPI)
	cstr(r.src)
	b = append(b, r.dstTON, r.dstNPI)
	cstr(r.dst)
	b = append(b, r.esm, 0, r.prio)
	cstr(r.sched)
	cstr(r.valid)
	b = append(b, r.rd, 0, r.dc, 0, byte(len(r.sm)))
	b = append(b, r.sm...)
	for _, t := range r.tlvs {
		b = append(b, t...)
	}
	binary.BigEndian.PutUint32(b[0:4], uint32(len(b)))
	binary.BigEndian.PutUint32(b[4:8], 0x00000004)
	binary.BigEndian.PutUint32(b[12:16], seq)
	return b
}

func tlv(tag uint16, v ...byte) []byte {
	return append([]byte{byte(tag >> 8), byte(tag), byte(len(v) >> 8), byte(len(v))}, v...)
}

// submitRaw sends a hand-made submit_sm and returns the answer's status.
func (c *client) submitRaw(r rawSubmit) data.CommandStatusType {
	c.tb.Helper()
	c.seq++
	c.write(r.encode(uint32(c.seq)))
	resp := c.submitResp(c.seq)
	return resp.CommandStatus
}

func waitStats(tb testing.TB, s *sim.Sim, cond func(sim.Stats) bool) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(tb, s.WaitFor(ctx, cond))
}
