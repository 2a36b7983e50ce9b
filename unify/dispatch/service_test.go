package dispatch_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"gateway/carriers"
	"gateway/unify"
	"gateway/unify/dispatch"
	"gateway/unify/sqlstore"
)

// fakeChannel is a channel whose sends are scripted by SendFunc.
type fakeChannel struct {
	kind     unify.ChannelKind
	SendFunc func(m *unify.Message, a *unify.Attempt) (unify.SendResult, error)
	calls    atomic.Int32
}

func (f *fakeChannel) Kind() unify.ChannelKind { return f.kind }
func (f *fakeChannel) Render(context.Context, *unify.Message, *unify.Policy) (unify.Rendering, error) {
	return unify.Rendering{Channel: f.kind}, nil
}
func (f *fakeChannel) Send(_ context.Context, m *unify.Message, a *unify.Attempt, _ *unify.Policy) (unify.SendResult, error) {
	f.calls.Add(1)
	return f.SendFunc(m, a)
}

// fakeRCS is a fake RCS channel that can revoke.
type fakeRCS struct {
	fakeChannel
	RevokeFunc func(a *unify.Attempt) error
	revokes    atomic.Int32
}

func (f *fakeRCS) Revoke(_ context.Context, _ *unify.Message, a *unify.Attempt) error {
	f.revokes.Add(1)
	return f.RevokeFunc(a)
}

type bundle struct {
	store *sqlstore.Store
	svc   *dispatch.Service
	sms   *fakeChannel
	rcs   *fakeRCS
}

func ref(id string) unify.ExternalRef {
	return unify.ExternalRef{ID: id, Raw: id, Dec: id}
}

// newStore opens a migrated SQLite store in t's temporary directory.
func newStore(t *testing.T) *sqlstore.Store {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "gw.db"), sqlstore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	require.NoError(t, st.Migrate(context.Background()))
	return st
}

// smsRouter routes every French number to one carrier offering only SMS.
func smsRouter(t *testing.T) *carriers.Router {
	t.Helper()
	router, err := carriers.NewRouter([]carriers.Carrier{{Name: "sim", Prefixes: []string{"+33"}, Channels: []unify.ChannelKind{unify.ChannelSMS}}})
	require.NoError(t, err)
	return router
}

// run builds a service on st and runs it until the returned stop is called
// or the test ends, whichever comes first.
func run(t *testing.T, st *sqlstore.Store, cfg dispatch.Config) (*dispatch.Service, func()) {
	t.Helper()
	svc := dispatch.New(cfg, st)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = svc.Run(ctx); close(done) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return svc, stop
}

func setup(t *testing.T, policies ...unify.Policy) *bundle {
	t.Helper()
	ctx := context.Background()
	st := newStore(t)
	for _, p := range policies {
		require.NoError(t, st.InTx(ctx, func(tx *sqlstore.Tx) error { return tx.UpsertPolicy(p, time.Now()) }))
	}
	router, err := carriers.NewRouter([]carriers.Carrier{{Name: "sim", Prefixes: []string{"+33"}, Channels: []unify.ChannelKind{unify.ChannelSMS, unify.ChannelRCS}}})
	require.NoError(t, err)
	var n atomic.Int32
	sms := &fakeChannel{kind: unify.ChannelSMS, SendFunc: func(m *unify.Message, a *unify.Attempt) (unify.SendResult, error) {
		id := n.Add(1)
		return unify.SendResult{Segments: 1, Parts: []unify.Part{{Seq: 1, Ref: ref(string(rune('0' + id)))}}}, nil
	}}
	rcs := &fakeRCS{fakeChannel: fakeChannel{kind: unify.ChannelRCS, SendFunc: func(m *unify.Message, a *unify.Attempt) (unify.SendResult, error) {
		return unify.SendResult{Segments: 1, Parts: []unify.Part{{Seq: 1, Ref: unify.ExternalRef{ID: string(a.ID), Raw: string(a.ID)}}}}, nil
	}}, RevokeFunc: func(*unify.Attempt) error { return nil }}
	svc, _ := run(t, st, dispatch.Config{
		Senders:  []unify.Sender{{Name: "acme", SMSSource: "ACME", SMSNumbers: []string{"+33700000001"}, RBMAgent: "acme_agent"}},
		Router:   router,
		Channels: []dispatch.Channel{sms, rcs},
		Workers:  4,
	})
	return &bundle{store: st, svc: svc, sms: sms, rcs: rcs}
}

func (b *bundle) accept(t *testing.T, m unify.Message) *unify.Message {
	t.Helper()
	got, _, err := b.svc.Accept(context.Background(), &m, unify.Idempotency{})
	require.NoError(t, err)
	return got
}

func (b *bundle) waitStatus(t *testing.T, id unify.MessageID, want unify.Status) *unify.Message {
	t.Helper()
	var m *unify.Message
	require.Eventually(t, func() bool {
		var err error
		m, err = b.store.Message(context.Background(), id)
		require.NoError(t, err)
		return m.Status == want
	}, 5*time.Second, 5*time.Millisecond, "status of %s", id)
	return m
}

func (b *bundle) events(t *testing.T, id unify.MessageID) []map[string]any {
	t.Helper()
	recs, err := b.store.MessageEvents(context.Background(), id)
	require.NoError(t, err)
	var out []map[string]any
	for _, r := range recs {
		var m map[string]any
		require.NoError(t, json.Unmarshal(r.Body, &m))
		out = append(out, m)
	}
	return out
}

func text(s string) unify.Content { return unify.Content{Text: s} }

func TestAcceptSendAndDeliver(t *testing.T) {
	t.Parallel()
	b := setup(t)
	m := b.accept(t, unify.Message{To: "+33612345678", From: "acme", ClientRef: "r1", Content: text("hi")})
	require.Equal(t, unify.StatusAccepted, m.Status)
	require.Equal(t, "default", m.Policy)
	sent := b.waitStatus(t, m.ID, unify.StatusSent)
	require.Len(t, sent.Attempts, 1)
	require.Equal(t, unify.ChannelSMS, sent.Channel)
	require.Equal(t, "sim", sent.Carrier)

	require.NoError(t, b.svc.HandleReceipt(context.Background(), unify.Receipt{Channel: unify.ChannelSMS, Carrier: "sim", Ref: sent.Attempts[0].Parts[0].Ref, Status: unify.StatusDelivered}))
	b.waitStatus(t, m.ID, unify.StatusDelivered)
	// A duplicate receipt changes nothing and emits nothing.
	require.NoError(t, b.svc.HandleReceipt(context.Background(), unify.Receipt{Channel: unify.ChannelSMS, Carrier: "sim", Ref: sent.Attempts[0].Parts[0].Ref, Status: unify.StatusDelivered}))
	evs := b.events(t, m.ID)
	require.Len(t, evs, 2)
	require.Equal(t, "sent", evs[0]["status"])
	require.Equal(t, "delivered", evs[1]["status"])
	require.Equal(t, "r1", evs[1]["client_ref"])
	require.Equal(t, map[string]any{"end_to_end": false, "transport": "none"}, evs[1]["protection"])
}

func TestAcceptRejectsUnknownSenderAndPolicy(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tc := range []struct {
		m     unify.Message
		field string
	}{
		{unify.Message{To: "+33612345678", From: "nobody", Content: text("x")}, "from"},
		{unify.Message{To: "+33612345678", From: "acme", Policy: "nope", Content: text("x")}, "policy"},
	} {
		_, _, err := b.svc.Accept(context.Background(), &tc.m, unify.Idempotency{})
		var e *unify.Error
		require.ErrorAs(t, err, &e)
		require.Equal(t, unify.CodeInvalid, e.Code)
		require.Equal(t, tc.field, e.Fields[0].Field)
	}
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	b := setup(t)
	idem := unify.Idempotency{Scope: "k", Key: "abc", Hash: "h1"}
	m1, replay, err := b.svc.Accept(context.Background(), &unify.Message{To: "+33612345678", From: "acme", Content: text("x")}, idem)
	require.NoError(t, err)
	require.False(t, replay)
	m2, replay, err := b.svc.Accept(context.Background(), &unify.Message{To: "+33612345678", From: "acme", Content: text("x")}, idem)
	require.NoError(t, err)
	require.True(t, replay)
	require.Equal(t, m1.ID, m2.ID)
	idem.Hash = "h2"
	_, _, err = b.svc.Accept(context.Background(), &unify.Message{To: "+33612345678", From: "acme", Content: text("y")}, idem)
	require.Equal(t, unify.CodeConflict, unify.CodeOf(err))
}

func TestMultipartReceiptsAggregate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		receipts []struct {
			id string
			st unify.Status
		}
		want      unify.Status
		attemptSt unify.Status
	}{
		{"all delivered out of order", []struct {
			id string
			st unify.Status
		}{{"103", unify.StatusDelivered}, {"101", unify.StatusDelivered}, {"102", unify.StatusDelivered}}, unify.StatusDelivered, unify.StatusDelivered},
		{"one failed", []struct {
			id string
			st unify.Status
		}{{"101", unify.StatusDelivered}, {"102", unify.StatusFailed}, {"103", unify.StatusDelivered}}, unify.StatusFailed, unify.StatusFailed},
		{"partial", []struct {
			id string
			st unify.Status
		}{{"101", unify.StatusDelivered}, {"103", unify.StatusDelivered}}, unify.StatusSent, unify.StatusPartiallyDelivered},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.sms.SendFunc = func(*unify.Message, *unify.Attempt) (unify.SendResult, error) {
				return unify.SendResult{Segments: 3, Parts: []unify.Part{{Seq: 1, Ref: ref("101")}, {Seq: 2, Ref: ref("102")}, {Seq: 3, Ref: ref("103")}}}, nil
			}
			m := b.accept(t, unify.Message{To: "+33612345678", From: "acme", Content: text("long")})
			b.waitStatus(t, m.ID, unify.StatusSent)
			for _, r := range tc.receipts {
				require.NoError(t, b.svc.HandleReceipt(context.Background(), unify.Receipt{Channel: unify.ChannelSMS, Carrier: "sim", Ref: ref(r.id), Status: r.st}))
			}
			got := b.waitStatus(t, m.ID, tc.want)
			require.Equal(t, tc.attemptSt, got.Attempts[0].Status)
			final := 0
			for _, e := range b.events(t, m.ID) {
				if e["status"] == string(tc.want) {
					final++
				}
			}
			require.Equal(t, 1, final, "exactly one %s event", tc.want)
		})
	}
}

func TestReceiptBeforeSubmitIsKept(t *testing.T) {
	t.Parallel()
	b := setup(t)
	gate := make(chan struct{})
	b.sms.SendFunc = func(*unify.Message, *unify.Attempt) (unify.SendResult, error) {
		<-gate
		return unify.SendResult{Segments: 1, Parts: []unify.Part{{Seq: 1, Ref: unify.ExternalRef{ID: "1A2B", Raw: "1a2b", Hex: "6699"}}}}, nil
	}
	m := b.accept(t, unify.Message{To: "+33612345678", From: "acme", Content: text("x")})
	// The receipt names the part by its decimal value before the send is stored.
	require.NoError(t, b.svc.HandleReceipt(context.Background(), unify.Receipt{Channel: unify.ChannelSMS, Carrier: "sim", Ref: unify.ExternalRef{ID: "6699", Raw: "6699", Dec: "6699", Hex: "26265"}, Status: unify.StatusDelivered}))
	close(gate)
	b.waitStatus(t, m.ID, unify.StatusDelivered)
}

func TestTemporaryFailureRetries(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var mu sync.Mutex
	fails := 1
	b.sms.SendFunc = func(*unify.Message, *unify.Attempt) (unify.SendResult, error) {
		mu.Lock()
		defer mu.Unlock()
		if fails > 0 {
			fails--
			return unify.SendResult{}, &unify.SendError{Kind: unify.ErrTemporary, Err: errors.New("bind down")}
		}
		return unify.SendResult{Segments: 1, Parts: []unify.Part{{Seq: 1, Ref: ref("9")}}}, nil
	}
	m := b.accept(t, unify.Message{To: "+33612345678", From: "acme", Content: text("x")})
	got := b.waitStatus(t, m.ID, unify.StatusSent)
	require.Len(t, got.Attempts, 1)
	require.EqualValues(t, 2, b.sms.calls.Load())
}

func TestRejectedFailsMessage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sms.SendFunc = func(*unify.Message, *unify.Attempt) (unify.SendResult, error) {
		return unify.SendResult{}, &unify.SendError{Kind: unify.ErrRejected, Code: "0x0B", Err: errors.New("invalid destination")}
	}
	m := b.accept(t, unify.Message{To: "+33612345678", From: "acme", Content: text("x")})
	got := b.waitStatus(t, m.ID, unify.StatusFailed)
	require.Contains(t, got.Error, "0x0B")
	require.Equal(t, unify.StatusFailed, got.Attempts[0].Status)
}

func TestNoRouteFails(t *testing.T) {
	t.Parallel()
	b := setup(t)
	m := b.accept(t, unify.Message{To: "+447700900123", From: "acme", Content: text("x")})
	got := b.waitStatus(t, m.ID, unify.StatusFailed)
	require.Contains(t, got.Error, "no carrier serves +447700900123")
	evs := b.events(t, m.ID)
	require.Equal(t, "failed", evs[len(evs)-1]["status"])
}

func TestInboundRouting(t *testing.T) {
	t.Parallel()
	b := setup(t)
	m := b.accept(t, unify.Message{To: "+33612345678", From: "acme", ConversationID: "thread-42", Content: unify.Content{
		Text:        "Pick one",
		Media:       &unify.Media{URL: "https://cdn.example/a.jpg", MimeType: "image/jpeg"},
		Suggestions: []unify.Suggestion{{Type: unify.SuggestReply, Text: "Track", Postback: "track"}, {Type: unify.SuggestReply, Text: "Cancel", Postback: "cancel"}},
	}})
	b.waitStatus(t, m.ID, unify.StatusSent)
	ctx := context.Background()
	for _, tc := range []struct {
		to, text, postback string
	}{
		{"ACME", "2", "cancel"},
		{"33700000001", " 1 ", "track"}, // number without '+', as SMSCs often send it
		{"ACME", "hello", ""},
	} {
		require.NoError(t, b.svc.HandleInbound(ctx, unify.Inbound{Channel: unify.ChannelSMS, Carrier: "sim", From: "+33612345678", To: tc.to, Text: tc.text}))
		evs := b.events(t, m.ID)
		last := evs[len(evs)-1]
		require.Equal(t, "message.inbound", last["type"])
		require.Equal(t, "thread-42", last["conversation_id"])
		require.Equal(t, string(m.ID), last["in_reply_to"])
		require.Equal(t, "acme", last["to"])
		require.Equal(t, tc.text, last["text"])
		if tc.postback == "" {
			require.NotContains(t, last, "postback")
		} else {
			require.Equal(t, tc.postback, last["postback"])
		}
	}
}

func TestConcatenatedInbound(t *testing.T) {
	t.Parallel()
	b := setup(t)
	m := b.accept(t, unify.Message{To: "+33612345678", From: "acme", ConversationID: "c", Content: text("x")})
	b.waitStatus(t, m.ID, unify.StatusSent)
	ctx := context.Background()
	for _, p := range []struct {
		seq  int
		text string
	}{{3, "C"}, {1, "A"}, {1, "A"}, {2, "B"}} {
		require.NoError(t, b.svc.HandleInbound(ctx, unify.Inbound{Channel: unify.ChannelSMS, Carrier: "sim", From: "+33612345678", To: "ACME", Text: p.text,
			Part: &unify.InboundPart{Ref: "7", Total: 3, Seq: p.seq}}))
	}
	evs := b.events(t, m.ID)
	var texts []string
	for _, e := range evs {
		if e["type"] == "message.inbound" {
			texts = append(texts, e["text"].(string))
		}
	}
	require.Equal(t, []string{"ABC"}, texts)
	n, err := b.store.CountJobs(ctx, sqlstore.JobMOFlush)
	require.NoError(t, err)
	require.Zero(t, n)
}

// A send that takes longer than the job lease is not taken over by another
// instance: the leases of jobs in progress are renewed while Run runs.
func TestSlowSendKeepsItsLease(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := newStore(t)
	router := smsRouter(t)
	var sends atomic.Int32
	slow := &fakeChannel{kind: unify.ChannelSMS, SendFunc: func(*unify.Message, *unify.Attempt) (unify.SendResult, error) {
		sends.Add(1)
		time.Sleep(time.Second) // over six leases
		return unify.SendResult{Segments: 1, Parts: []unify.Part{{Seq: 1, Ref: ref("slow")}}}, nil
	}}
	var svcs []*dispatch.Service
	for _, owner := range []string{"instance-a", "instance-b"} {
		svc, _ := run(t, st, dispatch.Config{
			Senders: []unify.Sender{{Name: "acme", SMSSource: "ACME"}}, Router: router,
			Channels: []dispatch.Channel{slow}, Workers: 2, Owner: owner,
			Lease: 150 * time.Millisecond, SendTimeout: 5 * time.Second,
		})
		svcs = append(svcs, svc)
	}
	m, _, err := svcs[0].Accept(ctx, &unify.Message{To: "+33612345678", From: "acme", Content: text("slow")}, unify.Idempotency{})
	require.NoError(t, err)
	b := &bundle{store: st}
	b.waitStatus(t, m.ID, unify.StatusSent)
	time.Sleep(300 * time.Millisecond) // a second claim would have started by now
	require.Equal(t, int32(1), sends.Load(), "the job was taken over while its send ran")
}

// Messages accepted while Run runs reach the workers in memory, their jobs
// leased to this instance. When Run stops, a job still waiting in that lane
// is released at once: another instance sends it without waiting for the
// lease to expire, and nothing is sent twice.
func TestLaneReleasedWhenRunStops(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := newStore(t)
	router := smsRouter(t)
	gate := make(chan struct{})
	var mu sync.Mutex
	sent := map[string]int{}
	sms := &fakeChannel{kind: unify.ChannelSMS, SendFunc: func(m *unify.Message, a *unify.Attempt) (unify.SendResult, error) {
		<-gate
		mu.Lock()
		defer mu.Unlock()
		sent[m.Content.Text]++
		return unify.SendResult{Segments: 1, Parts: []unify.Part{{Seq: 1, Ref: ref(m.Content.Text)}}}, nil
	}}
	start := func(owner string) (*dispatch.Service, func()) {
		return run(t, st, dispatch.Config{
			Senders: []unify.Sender{{Name: "acme", SMSSource: "ACME"}}, Router: router,
			Channels: []dispatch.Channel{sms}, Workers: 1, Owner: owner, Lease: time.Minute,
		})
	}
	first, stopFirst := start("instance-a")
	accept := func(svc *dispatch.Service, text string) unify.MessageID {
		m, _, err := svc.Accept(ctx, &unify.Message{To: "+33612345678", From: "acme", Content: unify.Content{Text: text}}, unify.Idempotency{})
		require.NoError(t, err)
		return m.ID
	}
	// Until both workers are busy (the lane opens a moment after Run
	// starts), then two more: at least one of them waits in the lane.
	var ids []unify.MessageID
	for deadline := time.Now().Add(5 * time.Second); sms.calls.Load() < 2; time.Sleep(20 * time.Millisecond) {
		require.True(t, time.Now().Before(deadline), "the workers never got busy")
		ids = append(ids, accept(first, fmt.Sprintf("busy %d", len(ids))))
	}
	ids = append(ids, accept(first, "queued 1"), accept(first, "queued 2"))
	time.Sleep(100 * time.Millisecond)
	stopped := make(chan struct{})
	go func() { stopFirst(); close(stopped) }()
	time.Sleep(100 * time.Millisecond)
	close(gate) // the sends in flight finish; Run returns
	<-stopped
	start("instance-b")
	b := &bundle{store: st}
	for _, id := range ids {
		b.waitStatus(t, id, unify.StatusSent)
	}
	mu.Lock()
	defer mu.Unlock()
	for text, n := range sent {
		require.Equal(t, 1, n, "%q sent %d times", text, n)
	}
	require.Len(t, sent, len(ids))
}

// readyChannel is a fake SMS channel whose link can be down.
type readyChannel struct {
	fakeChannel
	ready atomic.Bool
}

func (r *readyChannel) Ready(string) bool { return r.ready.Load() }

// A message whose channel cannot send from this instance now (no bind up
// here) is left to the queue, where any instance may claim it; one that can
// goes straight to this instance's workers.
func TestLaneOnlyWhileTheChannelIsReady(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	var n atomic.Int32
	sms := &readyChannel{fakeChannel: fakeChannel{kind: unify.ChannelSMS, SendFunc: func(*unify.Message, *unify.Attempt) (unify.SendResult, error) {
		return unify.SendResult{Segments: 1, Parts: []unify.Part{{Seq: 1, Ref: ref(fmt.Sprint(n.Add(1)))}}}, nil
	}}}
	reg := prometheus.NewRegistry()
	svc, _ := run(t, st, dispatch.Config{
		Senders: []unify.Sender{{Name: "acme", SMSSource: "ACME"}}, Router: smsRouter(t),
		Channels: []dispatch.Channel{sms}, Workers: 4, Registerer: reg,
	})
	b := &bundle{store: st, svc: svc}
	paths := func() map[string]float64 {
		families, err := reg.Gather()
		require.NoError(t, err)
		out := map[string]float64{}
		for _, f := range families {
			if f.GetName() != "gateway_accepted_paths_total" {
				continue
			}
			for _, m := range f.GetMetric() {
				out[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
			}
		}
		return out
	}
	// Either way a recipient who opted out is not sent to: the lane reads
	// the consent in the accept's transaction, the queue when it sends.
	const stopped = "+33699999999"
	require.NoError(t, svc.HandleInbound(context.Background(), unify.Inbound{Channel: unify.ChannelSMS, Carrier: "sim", From: stopped, To: "ACME", Text: "STOP"}))
	for _, ready := range []bool{false, true} {
		sms.ready.Store(ready)
		for i := 0; i < 3; i++ {
			m := b.accept(t, unify.Message{To: "+33612345678", From: "acme", Content: text("hello")})
			b.waitStatus(t, m.ID, unify.StatusSent)
		}
		m := b.accept(t, unify.Message{To: stopped, From: "acme", Content: text("hello")})
		got := b.waitStatus(t, m.ID, unify.StatusFailed)
		require.Contains(t, got.Error, "opted out", "ready=%v", ready)
		require.Empty(t, got.Attempts)
	}
	require.Equal(t, map[string]float64{"queue": 4, "lane": 4}, paths())
	require.EqualValues(t, 6, n.Load(), "the carrier saw only the six messages to the recipient who did not opt out")
}

// A policy deleted while its messages wait for their receipts: a receipt
// still settles its message (delivered; failed with no next step to take).
func TestReceiptAfterItsPolicyIsDeleted(t *testing.T) {
	t.Parallel()
	b := setup(t, unify.Policy{Name: "sms-then-rcs", Steps: []unify.Step{{Channel: unify.ChannelSMS}, {Channel: unify.ChannelRCS}}})
	ctx := context.Background()
	var ids []unify.MessageID
	for range 2 {
		m := b.accept(t, unify.Message{To: "+33612345678", From: "acme", Policy: "sms-then-rcs", Content: text("hello")})
		b.waitStatus(t, m.ID, unify.StatusSent)
		ids = append(ids, m.ID)
	}
	require.NoError(t, b.svc.DeletePolicy(ctx, "sms-then-rcs"))
	require.NoError(t, b.svc.HandleReceipt(ctx, unify.Receipt{Channel: unify.ChannelSMS, Carrier: "sim", Ref: ref("1"), Status: unify.StatusDelivered}))
	require.NoError(t, b.svc.HandleReceipt(ctx, unify.Receipt{Channel: unify.ChannelSMS, Carrier: "sim", Ref: ref("2"), Status: unify.StatusFailed}))
	b.waitStatus(t, ids[0], unify.StatusDelivered)
	got := b.waitStatus(t, ids[1], unify.StatusFailed)
	require.Len(t, got.Attempts, 1, "no fallback without the policy")
}

// A message whose policy is deleted while it waits in the queue fails with
// a reason instead of being retried for ever.
func TestQueuedMessageWhosePolicyIsDeleted(t *testing.T) {
	t.Parallel()
	b := setup(t, unify.Policy{Name: "sms-only", Steps: []unify.Step{{Channel: unify.ChannelSMS}}})
	ctx := context.Background()
	gate := make(chan struct{})
	b.sms.SendFunc = func(*unify.Message, *unify.Attempt) (unify.SendResult, error) {
		<-gate
		return unify.SendResult{}, &unify.SendError{Kind: unify.ErrTemporary, Err: errors.New("no bind")}
	}
	m := b.accept(t, unify.Message{To: "+33612345678", From: "acme", Policy: "sms-only", Content: text("hello")})
	require.Eventually(t, func() bool { return b.sms.calls.Load() == 1 }, 5*time.Second, 5*time.Millisecond)
	require.NoError(t, b.svc.DeletePolicy(ctx, "sms-only"))
	close(gate) // the send fails temporarily; its retry finds the policy gone
	got := b.waitStatus(t, m.ID, unify.StatusFailed)
	require.Equal(t, "policy sms-only no longer exists", got.Error)
}

// TestLanedSendCutShortIsSentAfterRestart: on SQLite a send handed to the
// lane is held in memory, not stored as a job. A process that dies while
// the send is in flight leaves an accepted message without a job; the next
// Run finds it and sends it.
func TestLanedSendCutShortIsSentAfterRestart(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	var sending sync.Map // message ids in a send
	hung := &fakeChannel{kind: unify.ChannelSMS, SendFunc: func(m *unify.Message, _ *unify.Attempt) (unify.SendResult, error) {
		sending.Store(m.ID, true)
		select {} // the process dies during its sends
	}}
	reg := prometheus.NewRegistry()
	cfg := dispatch.Config{
		Senders: []unify.Sender{{Name: "acme", SMSSource: "ACME"}},
		Router:  smsRouter(t), Channels: []dispatch.Channel{hung}, Workers: 1, Registerer: reg,
	}
	dead := dispatch.New(cfg, st)
	go func() { _ = dead.Run(context.Background()) }()
	// Accepted before the lane opens, a message is queued (and its stored
	// job claimed by the dying worker, leased for a minute); once it is
	// open, one goes through the lane.
	var m *unify.Message
	for deadline := time.Now().Add(5 * time.Second); counterValue(t, reg, "gateway_accepted_paths_total", "path", "lane") == 0; time.Sleep(5 * time.Millisecond) {
		require.True(t, time.Now().Before(deadline), "the lane never opened")
		var err error
		m, _, err = dead.Accept(context.Background(), &unify.Message{To: "+33612345678", From: "acme", Content: text("hi")}, unify.Idempotency{})
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { _, in := sending.Load(m.ID); return in }, 5*time.Second, time.Millisecond, "the laned send in flight")

	sms := &fakeChannel{kind: unify.ChannelSMS, SendFunc: func(*unify.Message, *unify.Attempt) (unify.SendResult, error) {
		return unify.SendResult{Segments: 1, Parts: []unify.Part{{Seq: 1, Ref: ref("after-restart")}}}, nil
	}}
	cfg.Channels, cfg.Registerer = []dispatch.Channel{sms}, nil
	run(t, st, cfg) // the restart, on the same store
	b := &bundle{store: st}
	b.waitStatus(t, m.ID, unify.StatusSent)
}
