package smpp_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/linxGnu/gosmpp/data"
	"github.com/linxGnu/gosmpp/pdu"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"gateway/carriers/sim"
	"gateway/sms/smpp"
)

func TestSubmitReturnsMessageID(t *testing.T) {
	t.Parallel()
	s := startSim(t, sim.Config{})
	l := openLink(t, testConfig(s.SMPPAddr()), nil)
	waitReady(t, l)

	ucs2 := []byte{0x00, 'H', 0x00, 'i', 0xD8, 0x3D, 0xDE, 0x00} // "Hi😀" in UTF-16BE
	for _, tc := range []struct {
		name string
		part smpp.Part
		udh  []byte
		ud   []byte
		text string
	}{
		{"gsm", textPart("33612345678", "Hello"), nil, []byte("Hello"), "Hello"},
		{"ucs2", smpp.Part{DestTON: 1, DestNPI: 1, Dest: "33612345679", DataCoding: 0x08,
			RegisteredDelivery: 1, ShortMessage: ucs2}, nil, ucs2, "Hi😀"},
		{"udh part", smpp.Part{SourceTON: 1, SourceNPI: 1, Source: "33700000001", DestTON: 1, DestNPI: 1,
			Dest: "33612345670", EsmClass: 0x40, ShortMessage: append([]byte{5, 0, 3, 7, 2, 1}, "part one"...)},
			[]byte{5, 0, 3, 7, 2, 1}, []byte("part one"), "part one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := l.Submit(submitCtx(t, 5*time.Second), tc.part)
			require.NoError(t, err)
			require.NotEmpty(t, id)
			var got *sim.Submit
			for _, sub := range s.Submits() {
				if sub.MessageID == id {
					got = &sub
				}
			}
			require.NotNil(t, got, "sim has no submit with id %s", id)
			require.Equal(t, tc.part.Dest, got.Dest)
			require.Equal(t, tc.part.DestTON, got.DestTON)
			require.Equal(t, tc.part.Source, got.Source)
			require.Equal(t, tc.part.SourceTON, got.SourceTON)
			require.Equal(t, tc.part.EsmClass, got.EsmClass)
			require.Equal(t, tc.part.DataCoding, got.DataCoding)
			require.Equal(t, tc.part.RegisteredDelivery, got.RegisteredDelivery)
			require.Equal(t, tc.udh, got.UDH)
			require.Equal(t, tc.ud, got.UserData)
			require.Equal(t, tc.text, got.Text)
		})
	}
}

func TestSubmitRejectsInvalidPart(t *testing.T) {
	t.Parallel()
	l := smpp.New(testConfig("127.0.0.1:1"), nil, nil, nil) // never opened: nothing may be sent
	for _, tc := range []struct {
		name string
		part smpp.Part
	}{
		{"too long", smpp.Part{Dest: "336", ShortMessage: make([]byte, 255)}},
		{"no destination", smpp.Part{ShortMessage: []byte("x")}},
		{"long destination", smpp.Part{Dest: strings.Repeat("1", 21)}},
		{"long source", smpp.Part{Dest: "336", Source: strings.Repeat("A", 21)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := l.Submit(context.Background(), tc.part)
			require.Equal(t, smpp.Rejected, kindOf(t, err))
		})
	}
}

func TestSubmitNotBound(t *testing.T) {
	t.Parallel()
	l := smpp.New(testConfig("127.0.0.1:1"), nil, nil, nil)
	_, err := l.Submit(submitCtx(t, 20*time.Millisecond), textPart("336", "x"))
	require.ErrorIs(t, err, smpp.ErrNotBound)
	require.Equal(t, smpp.Temporary, kindOf(t, err))
	require.False(t, l.Ready())
}

func TestWrongPassword(t *testing.T) {
	t.Parallel()
	s := startSim(t, sim.Config{})
	h := &countingHandler{}
	cfg := testConfig(s.SMPPAddr())
	cfg.Password = "wrong"
	bad := openLink(t, cfg, nil, withLogger(slog.New(h)))

	eventually(t, 5*time.Second, func() bool {
		return s.Stats().BindsRefused >= 4
	}, "several bind attempts")
	require.False(t, bad.Ready())
	st := bad.Status()
	require.Len(t, st.Binds, 1)
	require.False(t, st.Binds[0].Up)
	require.Contains(t, st.Binds[0].LastError, "ESME_RINVPASWD")
	// Logged once per change, not at every attempt.
	require.Equal(t, 1, h.count("WARN smpp: bind failed"))

	_, err := bad.Submit(submitCtx(t, 20*time.Millisecond), textPart("336", "x"))
	require.ErrorIs(t, err, smpp.ErrNotBound)

	good := openLink(t, testConfig(s.SMPPAddr()), nil)
	waitReady(t, good)
	_, err = good.Submit(submitCtx(t, 5*time.Second), textPart("33612345678", "hi"))
	require.NoError(t, err)
}

func TestHoldsBinds(t *testing.T) {
	t.Parallel()
	s := startSim(t, sim.Config{})
	reg := prometheus.NewRegistry()
	cfg := testConfig(s.SMPPAddr())
	cfg.Binds = 3
	l := openLink(t, cfg, nil, withMetrics(smpp.NewMetrics(reg)))
	waitBinds(t, l, s, 3)
	require.Equal(t, 3.0, metricValue(t, reg, "gateway_smpp_binds_up", map[string]string{"carrier": "test"}))

	// Submits spread over the binds (least loaded first).
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := l.Submit(submitCtx(t, 5*time.Second), textPart("33612345678", fmt.Sprint("m", i)))
			require.NoError(t, err)
		}()
	}
	wg.Wait()
	used := map[int]bool{}
	for _, sub := range s.Submits() {
		used[sub.Bind] = true
	}
	require.Greater(t, len(used), 1, "all submits went through one bind")
}

func TestWindowLimit(t *testing.T) {
	t.Parallel()
	s := startSim(t, sim.Config{})
	cfg := testConfig(s.SMPPAddr())
	cfg.Binds, cfg.Window = 2, 3
	cfg.ResponseTimeout = 300 * time.Millisecond
	l := openLink(t, cfg, nil)
	waitBinds(t, l, s, 2)
	s.Stall(true)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const n = 20
	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, err := l.Submit(ctx, textPart("33612345678", fmt.Sprint("w", i)))
			errs <- err
		}()
	}
	eventually(t, 5*time.Second, func() bool { return s.Stats().Stalled >= 6 }, "both windows full")
	for _, b := range l.Status().Binds {
		require.Equal(t, 3, b.InFlight)
	}
	cancel()
	var unknown, notSent int
	for range n {
		err := <-errs
		require.Equal(t, smpp.Temporary, kindOf(t, err))
		if errors.Is(err, smpp.ErrUnknownOutcome) {
			unknown++
		} else {
			notSent++
		}
	}
	require.Equal(t, 6, unknown, "written, never answered")
	require.Equal(t, n-6, notSent)
	st := s.Stats()
	require.Equal(t, 6, st.Stalled)
	perBind := map[int]int{}
	for _, sub := range s.Submits() {
		perBind[sub.Bind]++
	}
	for bind, k := range perBind {
		require.LessOrEqual(t, k, 3, "bind %d", bind)
	}

	// Unanswered submit_sm hold their slot until ResponseTimeout, then free it.
	s.Stall(false)
	_, err := l.Submit(submitCtx(t, 5*time.Second), textPart("33612345678", "after"))
	require.NoError(t, err)
}

func TestThrottleSlowsDownAndRetries(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		fault  func(*sim.Sim, int)
		status string
	}{
		{"throttled", (*sim.Sim).Throttle, "ESME_RTHROTTLED"},
		{"queue full", (*sim.Sim).QueueFull, "ESME_RMSGQFUL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startSim(t, sim.Config{})
			reg := prometheus.NewRegistry()
			cfg := testConfig(s.SMPPAddr())
			cfg.TPS = 100
			cfg.Window = 20
			// Long enough that the throttled answers of one burst land in
			// one pause even when a loaded machine spreads them out.
			cfg.ThrottlePause = 400 * time.Millisecond
			l := openLink(t, cfg, nil, withMetrics(smpp.NewMetrics(reg)))
			waitReady(t, l)
			rate := func() float64 {
				return metricValue(t, reg, "gateway_smpp_rate_limit", map[string]string{"carrier": "test"})
			}
			require.Equal(t, 100.0, rate())

			// Watch the gauge while submitting.
			minRate := make(chan float64, 1)
			stop := make(chan struct{})
			go func() {
				lowest := rate()
				for {
					select {
					case <-stop:
						minRate <- lowest
						return
					default:
					}
					lowest = min(lowest, l.Status().RateLimit)
					time.Sleep(time.Millisecond)
				}
			}()

			tc.fault(s, 5)
			const n = 30
			ids := make(chan string, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					id, err := l.Submit(submitCtx(t, 10*time.Second), textPart("33612345678", fmt.Sprint("t", i)))
					require.NoError(t, err)
					ids <- id
				}()
			}
			wg.Wait()
			close(stop)
			close(ids)
			seen := map[string]bool{}
			for id := range ids {
				seen[id] = true
			}
			require.Len(t, seen, n, "every message submitted once accepted")
			st := s.Stats()
			require.Equal(t, n, st.Accepted)
			require.Equal(t, n+5, st.Submits)
			require.Equal(t, 5.0, metricValue(t, reg, "gateway_smpp_throttles_total",
				map[string]string{"carrier": "test", "status": tc.status}))

			lowest := <-minRate
			require.Less(t, lowest, 100.0, "rate limit never dropped")
			require.GreaterOrEqual(t, lowest, 25.0, "a burst of throttles is one congestion event")
			eventually(t, 5*time.Second, func() bool { return rate() == 100 }, "rate recovers")
		})
	}
}

func TestThrottledUntilDeadline(t *testing.T) {
	t.Parallel()
	s := startSim(t, sim.Config{})
	cfg := testConfig(s.SMPPAddr())
	cfg.TPS = 100
	l := openLink(t, cfg, nil)
	waitReady(t, l)
	s.Throttle(1 << 20)
	_, err := l.Submit(submitCtx(t, time.Second), textPart("33612345678", "x"))
	var se *smpp.SubmitError
	require.ErrorAs(t, err, &se)
	// The deadline can fall while a resubmission is on the wire; then the
	// SMSC may have taken it, and only "unknown" is honest.
	if !errors.Is(err, smpp.ErrUnknownOutcome) {
		require.Equal(t, smpp.Throttled, se.Kind)
		require.Equal(t, uint32(data.ESME_RTHROTTLED), se.Status)
	}
	require.Greater(t, s.Stats().Throttled, 1, "resubmitted after each pause")
	require.LessOrEqual(t, l.Status().RateLimit, 50.0, "rate limit halved")
}

func TestDropBindsMidStream(t *testing.T) {
	t.Parallel()
	s := startSim(t, sim.Config{})
	cfg := testConfig(s.SMPPAddr())
	cfg.Binds = 2
	cfg.Window = 8
	l := openLink(t, cfg, nil)
	waitBinds(t, l, s, 2)

	const n = 300
	type outcome struct {
		text string
		id   string
		err  error
	}
	out := make(chan outcome, n)
	var started atomic.Int32
	for i := range n {
		go func() {
			text := fmt.Sprint("d", i)
			started.Add(1)
			id, err := l.Submit(submitCtx(t, 10*time.Second), textPart("33612345678", text))
			out <- outcome{text, id, err}
		}()
	}
	eventually(t, 5*time.Second, func() bool { return s.Stats().Accepted > 20 }, "traffic")
	s.DropBinds()
	eventually(t, 5*time.Second, func() bool { return s.Stats().Connections >= 4 }, "rebind")
	s.DropBinds()

	accepted := map[string]string{} // text → id, as the SMSC saw it
	results := make([]outcome, 0, n)
	for range n {
		results = append(results, <-out)
	}
	for _, sub := range s.Submits() {
		if sub.Status == 0 {
			accepted[sub.Text] = sub.MessageID
		}
	}
	var ok, unknown, temporary int
	for _, r := range results {
		switch {
		case r.err == nil:
			ok++
			require.Equal(t, accepted[r.text], r.id, "%s: id not the SMSC's", r.text)
		case errors.Is(r.err, smpp.ErrUnknownOutcome):
			unknown++
		default:
			temporary++
			require.Equal(t, smpp.Temporary, kindOf(t, r.err))
			_, sent := accepted[r.text]
			require.False(t, sent, "%s: reported not sent but accepted by the SMSC: %v", r.text, r.err)
		}
	}
	t.Logf("ok=%d unknown=%d temporary=%d", ok, unknown, temporary)
	require.Positive(t, ok)

	waitBinds(t, l, s, 2)
	_, err := l.Submit(submitCtx(t, 5*time.Second), textPart("33612345678", "after"))
	require.NoError(t, err)
}

func TestRefuseBindsBacksOff(t *testing.T) {
	t.Parallel()
	s := startSim(t, sim.Config{})
	s.RefuseBinds(300 * time.Millisecond)
	cfg := testConfig(s.SMPPAddr())
	cfg.RebindMin, cfg.RebindMax = 20*time.Millisecond, 200*time.Millisecond
	l := openLink(t, cfg, nil)
	eventually(t, 5*time.Second, func() bool { return l.Status().Binds[0].LastError != "" }, "a refused bind")
	require.Contains(t, l.Status().Binds[0].LastError, "ESME_RBINDFAIL")
	require.False(t, l.Ready())
	waitReady(t, l)
	refused := s.Stats().BindsRefused
	// Without back-off, 20ms steps over 300ms would be ~15 attempts; with
	// exponential back-off (jittered) they are 4 to 7.
	require.GreaterOrEqual(t, refused, 2)
	require.LessOrEqual(t, refused, 8)
}

func TestDeliverReceiptAndMO(t *testing.T) {
	t.Parallel()
	s := startSim(t, sim.Config{AutoReceipts: true, ReceiptDelay: -1})
	got := make(chan smpp.Deliver, 10)
	l := openLink(t, testConfig(s.SMPPAddr()), func(_ context.Context, d smpp.Deliver) error {
		got <- d
		return nil
	})
	waitReady(t, l)

	p := textPart("33612345678", "receipt please")
	p.RegisteredDelivery = 1
	id, err := l.Submit(submitCtx(t, 5*time.Second), p)
	require.NoError(t, err)

	d := <-got
	require.True(t, d.IsReceipt())
	require.Equal(t, "test", d.Carrier)
	require.Equal(t, id, string(bytes.TrimRight(d.TLVs[uint16(pdu.TagReceiptedMessageID)], "\x00")))
	require.Equal(t, []byte{2}, d.TLVs[uint16(pdu.TagMessageStateOption)]) // DELIVERED
	require.Contains(t, string(d.ShortMessage), "id:"+id)
	require.Contains(t, string(d.ShortMessage), "stat:DELIVRD")
	require.False(t, d.ReceivedAt.IsZero())

	require.NoError(t, s.InjectMO(sim.MO{From: "+33612345678", To: "36000", Text: "Ça va? 😀", Encoding: "ucs2", Parts: 2}))
	var parts []smpp.Deliver
	for range 2 {
		parts = append(parts, <-got)
	}
	for _, d := range parts {
		require.False(t, d.IsReceipt())
		require.Equal(t, "33612345678", d.Source)
		require.Equal(t, "36000", d.Dest)
		require.Equal(t, byte(0x08), d.DataCoding)
		require.NotZero(t, d.EsmClass&0x40, "UDHI")
		require.Equal(t, []byte{5, 0, 3}, d.ShortMessage[:3], "raw UDH kept")
		require.Equal(t, byte(2), d.ShortMessage[4], "total parts")
	}
	eventually(t, 5*time.Second, func() bool { return s.Stats().DeliverAcked == 3 }, "3 deliver_sm acked")
}

func TestDeliverErrorRedelivers(t *testing.T) {
	t.Parallel()
	s := startSim(t, sim.Config{RedeliverDelay: 10 * time.Millisecond})
	reg := prometheus.NewRegistry()
	var calls atomic.Int32
	l := openLink(t, testConfig(s.SMPPAddr()), func(context.Context, smpp.Deliver) error {
		if calls.Add(1) <= 2 {
			return errors.New("database down")
		}
		return nil
	}, withMetrics(smpp.NewMetrics(reg)))
	waitReady(t, l)
	require.NoError(t, s.InjectMO(sim.MO{From: "33612345678", To: "36000", Text: "STOP"}))
	eventually(t, 5*time.Second, func() bool { return s.Stats().DeliverAcked == 1 }, "acked at last")
	st := s.Stats()
	require.Equal(t, 2, st.DeliverNacked)
	require.Equal(t, 2, st.DeliverRetried)
	require.Equal(t, int32(3), calls.Load())
	require.Equal(t, 2.0, metricValue(t, reg, "gateway_smpp_deliver_sm_total",
		map[string]string{"kind": "mo", "result": "retry"}))
}

func TestDeliverConcurrencyBound(t *testing.T) {
	t.Parallel()
	s := startSim(t, sim.Config{RedeliverDelay: 10 * time.Millisecond})
	release := make(chan struct{})
	var inFlight, peak atomic.Int32
	cfg := testConfig(s.SMPPAddr())
	cfg.DeliverConcurrency = 2
	l := openLink(t, cfg, func(ctx context.Context, _ smpp.Deliver) error {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	})
	waitReady(t, l)
	for i := range 5 {
		require.NoError(t, s.InjectMO(sim.MO{From: "33612345678", To: "36000", Text: fmt.Sprint("mo", i)}))
	}
	// The third and later are refused at once while two are in flight…
	eventually(t, 5*time.Second, func() bool { return s.Stats().DeliverNacked >= 3 }, "refusals")
	// …and submits still get their responses meanwhile.
	_, err := l.Submit(submitCtx(t, 5*time.Second), textPart("33612345678", "still going"))
	require.NoError(t, err)
	close(release)
	eventually(t, 5*time.Second, func() bool { return s.Stats().DeliverAcked == 5 }, "all acked")
	require.Equal(t, int32(2), peak.Load())
}

func TestCloseIsClean(t *testing.T) {
	s := startSim(t, sim.Config{})
	before := runtime.NumGoroutine()

	cfg := testConfig(s.SMPPAddr())
	cfg.Binds = 2
	lg := slog.New(slog.NewTextHandler(tbWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	l := smpp.New(cfg, func(context.Context, smpp.Deliver) error { return nil }, lg, nil)
	l.Open()
	waitBinds(t, l, s, 2)
	for i := range 10 {
		_, err := l.Submit(submitCtx(t, 5*time.Second), textPart("33612345678", fmt.Sprint("c", i)))
		require.NoError(t, err)
	}
	// Deliveries handled, their workers wait idle for more: Close ends them.
	for range 3 {
		require.NoError(t, s.InjectMO(sim.MO{From: "+33612345678", To: "36000", Text: "hi"}))
	}
	eventually(t, 5*time.Second, func() bool { return s.Stats().DeliverAcked == 3 }, "MOs acked")
	require.NoError(t, l.Close())
	require.NoError(t, l.Close(), "idempotent")

	require.False(t, l.Ready())
	require.True(t, l.Status().Closed)
	_, err := l.Submit(context.Background(), textPart("33612345678", "late"))
	require.ErrorIs(t, err, smpp.ErrClosed)
	require.Equal(t, smpp.Temporary, kindOf(t, err))
	eventually(t, 5*time.Second, func() bool { return s.Stats().Unbinds == 2 }, "polite unbinds")
	eventually(t, 5*time.Second, func() bool { return s.Stats().Binds == 0 }, "sim sees binds gone")
	eventually(t, 5*time.Second, func() bool { return runtime.NumGoroutine() <= before+2 },
		fmt.Sprintf("goroutines back to %d", before))
}

func TestCloseWhileRebinding(t *testing.T) {
	t.Parallel()
	cfg := testConfig("127.0.0.1:1") // nothing listens there
	l := smpp.New(cfg, nil, nil, nil)
	l.Open()
	eventually(t, 5*time.Second, func() bool { return l.Status().Binds[0].LastError != "" }, "dial error")
	done := make(chan struct{})
	go func() {
		_ = l.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close blocked")
	}
}

func TestKeepAlive(t *testing.T) {
	t.Parallel()
	s := startSim(t, sim.Config{EnquireLinkTimeout: time.Second})
	cfg := testConfig(s.SMPPAddr())
	cfg.EnquireLink = 50 * time.Millisecond
	l := openLink(t, cfg, nil)
	waitReady(t, l)
	eventually(t, 5*time.Second, func() bool { return s.Stats().EnquireLinks >= 12 }, "enquire_links")
	// The sim drops connections idle for 1s: ours never was.
	require.Equal(t, 1, s.Stats().Connections)
}

func TestMissingEnquireLinkRespClosesBind(t *testing.T) {
	t.Parallel()
	f := startFake(t, true, nil)
	cfg := testConfig(f.addr())
	cfg.EnquireLink = 30 * time.Millisecond
	cfg.ResponseTimeout = 100 * time.Millisecond
	l := openLink(t, cfg, nil)
	eventually(t, 5*time.Second, func() bool {
		return strings.Contains(l.Status().Binds[0].LastError, "no enquire_link_resp within 100ms")
	}, "bind closed for want of enquire_link_resp")
	eventually(t, 5*time.Second, func() bool { return f.conns.Load() >= 2 }, "rebind")
}

func TestSubmitStatusClassification(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		status data.CommandStatusType
		nack   bool
		want   smpp.Kind
		rebind bool
	}{
		{"system error", data.ESME_RSYSERR, false, smpp.Temporary, false},
		{"submit failed", data.ESME_RSUBMITFAIL, false, smpp.Temporary, false},
		{"invalid dest", data.ESME_RINVDSTADR, false, smpp.Rejected, false},
		{"invalid source", data.ESME_RINVSRCADR, false, smpp.Rejected, false},
		{"invalid length", data.ESME_RINVMSGLEN, false, smpp.Rejected, false},
		{"invalid esm_class", data.ESME_RINVESMCLASS, false, smpp.Rejected, false},
		{"unknown vendor code", data.CommandStatusType(0x0400), false, smpp.Rejected, false},
		{"bind status", data.ESME_RINVBNDSTS, false, smpp.Temporary, true},
		{"generic_nack", data.ESME_RINVCMDLEN, true, smpp.Rejected, false},
		{"generic_nack system error", data.ESME_RSYSERR, true, smpp.Temporary, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := startFake(t, false, func(c *fakeConn, p pdu.PDU) {
				if _, ok := p.(*pdu.SubmitSM); !ok {
					return
				}
				if tc.nack {
					n := pdu.NewGenericNack().(*pdu.GenericNack)
					n.SetSequenceNumber(p.GetSequenceNumber())
					n.CommandStatus = tc.status
					c.send(n)
					return
				}
				r := p.GetResponse().(*pdu.SubmitSMResp)
				r.CommandStatus = tc.status
				c.send(r)
			})
			l := openLink(t, testConfig(f.addr()), nil)
			waitReady(t, l)
			_, err := l.Submit(submitCtx(t, 5*time.Second), textPart("33612345678", "x"))
			var se *smpp.SubmitError
			require.ErrorAs(t, err, &se)
			require.Equal(t, tc.want, se.Kind)
			require.Equal(t, uint32(tc.status), se.Status)
			if tc.rebind {
				eventually(t, 5*time.Second, func() bool { return f.conns.Load() == 2 && l.Ready() }, "rebind")
			} else {
				require.Equal(t, int32(1), f.conns.Load())
			}
		})
	}
}

func TestDeliverKeepsUnusualDataCoding(t *testing.T) {
	t.Parallel()
	acked := make(chan data.CommandStatusType, 1)
	f := startFake(t, false, func(c *fakeConn, p pdu.PDU) {
		if r, ok := p.(*pdu.DeliverSMResp); ok {
			acked <- r.CommandStatus
		}
	})
	got := make(chan smpp.Deliver, 1)
	l := openLink(t, testConfig(f.addr()), func(_ context.Context, d smpp.Deliver) error {
		got <- d
		return nil
	})
	waitReady(t, l)

	// A flash (class 0) GSM message: data_coding 0xF0, which gosmpp v0.3.1
	// cannot represent.
	d := pdu.NewDeliverSM().(*pdu.DeliverSM)
	d.SourceAddr, _ = pdu.NewAddressWithTonNpiAddr(1, 1, "33612345678")
	d.DestAddr, _ = pdu.NewAddressWithTonNpiAddr(0, 1, "36000")
	require.NoError(t, d.Message.SetMessageDataWithEncoding([]byte("Flash"), data.NewCustomEncoding(0xF0, nil)))
	f.mu.Lock()
	c := f.open[0]
	f.mu.Unlock()
	c.send(d)

	dl := <-got
	require.Equal(t, byte(0xF0), dl.DataCoding)
	require.Equal(t, []byte("Flash"), dl.ShortMessage)
	require.Equal(t, data.ESME_ROK, <-acked)
}

func TestUnbindFromSMSCRebinds(t *testing.T) {
	t.Parallel()
	f := startFake(t, false, nil)
	l := openLink(t, testConfig(f.addr()), nil)
	waitReady(t, l)
	f.mu.Lock()
	c := f.open[0]
	f.mu.Unlock()
	c.send(pdu.NewUnbind())
	eventually(t, 5*time.Second, func() bool { return f.conns.Load() == 2 && l.Ready() }, "rebind after unbind")
	require.Equal(t, "unbind from SMSC", l.Status().Binds[0].LastError)
}

func TestNilMetricsAndLogger(t *testing.T) {
	t.Parallel()
	s := startSim(t, sim.Config{})
	l := openLink(t, testConfig(s.SMPPAddr()), nil)
	waitReady(t, l)
	_, err := l.Submit(submitCtx(t, 5*time.Second), textPart("33612345678", "x"))
	require.NoError(t, err)
}

func BenchmarkSubmit(b *testing.B) {
	s := startSim(b, sim.Config{})
	cfg := testConfig(s.SMPPAddr())
	cfg.TPS = 10_000_000
	cfg.Window = 64
	l := openLink(b, cfg, nil, withLogger(slog.New(slog.DiscardHandler)))
	waitReady(b, l)
	p := textPart("33612345678", "benchmark message")
	b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0))) // RunParallel starts parallelism×GOMAXPROCS goroutines: ≈64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if _, err := l.Submit(ctx, p); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "submits/s")
}
