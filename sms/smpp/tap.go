package smpp

import (
	"bytes"
	"encoding/binary"
	"net"
	"sync"

	"github.com/linxGnu/gosmpp/data"
)

// dcTap sits between the TCP connection and gosmpp's reader and remembers,
// by sequence_number, the data_coding of every deliver_sm whose value gosmpp
// v0.3.1 cannot represent: data.FromDataCoding returns nil for codes outside
// its table (0xF0 flash, 0x18 UCS2 class 0, 0x05 JIS…), and the byte is lost
// with it (smpp.md §12.3 item 6). Without this an MO in such a coding would be
// reported as data_coding 0 and decoded as GSM garbage.
//
// Read is only ever called from one goroutine at a time (the bind handshake,
// then gosmpp's reader), so the framing state needs no lock.
type dcTap struct {
	net.Conn

	hdr     [16]byte
	hn      int    // header octets collected
	remain  int    // body octets still to come for the current PDU
	collect bool   // current PDU is a deliver_sm
	body    []byte // its body so far
	lost    bool   // framing is broken; gosmpp is about to close the bind

	mu sync.Mutex
	dc map[int32]byte
}

func newDCTap(c net.Conn) *dcTap {
	return &dcTap{Conn: c, dc: make(map[int32]byte)}
}

// Read implements io.Reader, observing what passes.
func (t *dcTap) Read(p []byte) (int, error) {
	n, err := t.Conn.Read(p)
	if n > 0 && !t.lost {
		t.feed(p[:n])
	}
	return n, err
}

// dataCoding returns (and forgets) the raw data_coding of deliver_sm seq, if
// it was one gosmpp cannot represent.
func (t *dcTap) dataCoding(seq int32) (byte, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	dc, ok := t.dc[seq]
	delete(t.dc, seq)
	return dc, ok
}

func (t *dcTap) feed(b []byte) {
	for len(b) > 0 {
		if t.hn < len(t.hdr) {
			k := copy(t.hdr[t.hn:], b)
			t.hn += k
			b = b[k:]
			if t.hn < len(t.hdr) {
				return
			}
			length := binary.BigEndian.Uint32(t.hdr[0:4])
			if length < 16 || length > data.MAX_PDU_LEN {
				t.lost = true
				return
			}
			t.remain = int(length) - 16
			t.collect = binary.BigEndian.Uint32(t.hdr[4:8]) == uint32(data.DELIVER_SM)
			t.body = t.body[:0]
		}
		k := min(len(b), t.remain)
		if t.collect {
			t.body = append(t.body, b[:k]...)
		}
		t.remain -= k
		b = b[k:]
		if t.remain == 0 {
			if t.collect {
				t.record(int32(binary.BigEndian.Uint32(t.hdr[12:16])), t.body)
			}
			t.hn = 0
		}
	}
}

// record finds data_coding in a deliver_sm body (SMPP 3.4 §4.6.1: service_type,
// source ton/npi/addr, dest ton/npi/addr, esm_class, protocol_id,
// priority_flag, schedule_delivery_time, validity_period,
// registered_delivery, replace_if_present_flag, data_coding).
func (t *dcTap) record(seq int32, body []byte) {
	skipCString := func(b []byte) []byte {
		i := bytes.IndexByte(b, 0)
		if i < 0 {
			return nil
		}
		return b[i+1:]
	}
	b := skipCString(body) // service_type
	for range 2 {          // source, destination: ton, npi, address
		if len(b) < 2 {
			return
		}
		b = skipCString(b[2:])
	}
	if len(b) < 3 {
		return
	}
	b = skipCString(b[3:]) // esm_class, protocol_id, priority_flag; schedule
	b = skipCString(b)     // validity_period
	if len(b) < 3 {
		return
	}
	dc := b[2] // after registered_delivery, replace_if_present_flag
	if data.FromDataCoding(dc) != nil {
		return
	}
	t.mu.Lock()
	t.dc[seq] = dc
	t.mu.Unlock()
}
