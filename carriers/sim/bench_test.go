package sim_test

import (
	"bufio"
	"encoding/binary"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"gateway/carriers/sim"
)

// BenchmarkSubmitThroughput pipelines submit_sm over one transceiver bind
// with up to 256 outstanding, the way a windowed ESME does, and reads the
// responses raw so that the client's own parsing is not what is measured.
func BenchmarkSubmitThroughput(b *testing.B) {
	s := start(b, sim.Config{})
	c := bound(b, s)
	const window = 256
	frame := defaultRaw()
	frame.rd = 0
	frame.sm = []byte("Benchmark message of a typical length, nothing special in it.")
	sem := make(chan struct{}, window)
	errc := make(chan error, 1)
	go func() {
		bw := bufio.NewWriterSize(c.nc, 64<<10)
		for i := range b.N {
			select {
			case sem <- struct{}{}:
			default:
				if err := bw.Flush(); err != nil {
					errc <- err
					return
				}
				sem <- struct{}{}
			}
			if _, err := bw.Write(frame.encode(uint32(i + 100))); err != nil {
				errc <- err
				return
			}
		}
		errc <- bw.Flush()
	}()
	br := bufio.NewReaderSize(c.nc, 64<<10)
	var hdr [16]byte
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		_, err := io.ReadFull(br, hdr[:])
		require.NoError(b, err)
		n := binary.BigEndian.Uint32(hdr[0:4])
		_, err = br.Discard(int(n) - 16)
		require.NoError(b, err)
		if binary.BigEndian.Uint32(hdr[8:12]) != 0 {
			b.Fatalf("status %#x", binary.BigEndian.Uint32(hdr[8:12]))
		}
		<-sem
	}
	b.StopTimer()
	require.NoError(b, <-errc)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "submits/s")
}

// BenchmarkSubmitWithReceipts is BenchmarkSubmitThroughput with automatic
// receipts on: every submit_sm also costs a deliver_sm and its answer on the
// same bind, the gateway's steady state.
func BenchmarkSubmitWithReceipts(b *testing.B) {
	s := start(b, sim.Config{AutoReceipts: true, ReceiptDelay: -1})
	c := bound(b, s)
	const window = 256
	frame := defaultRaw()
	frame.sm = []byte("Benchmark message of a typical length, nothing special in it.")
	sem := make(chan struct{}, window)
	acks := make(chan []byte, 1024)
	errc := make(chan error, 1)
	go func() {
		bw := bufio.NewWriterSize(c.nc, 64<<10)
		write := func(p []byte) bool {
			_, err := bw.Write(p)
			if err != nil {
				errc <- err
			}
			return err == nil
		}
		sent := 0
		for {
			// Opportunistically: pending acks, then submits while the window allows.
			select {
			case a, ok := <-acks:
				if !ok {
					errc <- bw.Flush()
					return
				}
				if !write(a) {
					return
				}
				continue
			default:
			}
			if sent < b.N {
				select {
				case sem <- struct{}{}:
					if !write(frame.encode(uint32(sent + 100))) {
						return
					}
					sent++
					continue
				default:
				}
			}
			if err := bw.Flush(); err != nil {
				errc <- err
				return
			}
			var semc chan struct{}
			if sent < b.N {
				semc = sem
			}
			select {
			case a, ok := <-acks:
				if !ok {
					errc <- nil
					return
				}
				if !write(a) {
					return
				}
			case semc <- struct{}{}:
				if !write(frame.encode(uint32(sent + 100))) {
					return
				}
				sent++
			}
		}
	}()
	br := bufio.NewReaderSize(c.nc, 64<<10)
	var hdr [16]byte
	b.ReportAllocs()
	b.ResetTimer()
	resps, receipts := 0, 0
	for resps < b.N || receipts < b.N {
		_, err := io.ReadFull(br, hdr[:])
		require.NoError(b, err)
		n := binary.BigEndian.Uint32(hdr[0:4])
		_, err = br.Discard(int(n) - 16)
		require.NoError(b, err)
		switch binary.BigEndian.Uint32(hdr[4:8]) {
		case 0x80000004:
			if binary.BigEndian.Uint32(hdr[8:12]) != 0 {
				b.Fatalf("status %#x", binary.BigEndian.Uint32(hdr[8:12]))
			}
			resps++
			<-sem
		case 0x00000005:
			receipts++
			ack := []byte{0, 0, 0, 17, 0x80, 0, 0, 5, 0, 0, 0, 0, hdr[12], hdr[13], hdr[14], hdr[15], 0}
			acks <- ack
		}
	}
	b.StopTimer()
	close(acks)
	require.NoError(b, <-errc)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "submits/s")
	waitStats(b, s, func(st sim.Stats) bool { return st.DeliverAcked == b.N })
}
