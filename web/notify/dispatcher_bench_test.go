package notify_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gateway/unify"
	"gateway/web/notify"
)

// queueStore is an outbox of n pending events with distinct keys, so that
// the benchmark measures the dispatcher and HTTP, not a database.
type queueStore struct {
	mu        sync.Mutex
	pending   []unify.OutboxEvent
	delivered atomic.Int64
	done      chan struct{}
	n         int64
}

func (s *queueStore) ClaimEvents(_ context.Context, _ string, _, _ time.Time, limit int) ([]unify.OutboxEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := min(limit, len(s.pending))
	out := s.pending[:k:k]
	s.pending = s.pending[k:]
	return out, nil
}

func (s *queueStore) EventsDelivered(_ context.Context, _ time.Time, seqs ...int64) error {
	if s.delivered.Add(int64(len(seqs))) == s.n {
		close(s.done)
	}
	return nil
}

func (s *queueStore) EventFailed(_ context.Context, seq int64, errText string, _ time.Time) error {
	panic(fmt.Sprint("event ", seq, " failed: ", errText))
}

func (s *queueStore) ReleaseEvents(_ context.Context, _ string, seqs ...int64) error {
	panic(fmt.Sprint("events handed back: ", seqs))
}

// BenchmarkDispatchEvents is the delivery of status events to the unified
// back end: claim, sign, POST over loopback, record. ns/op is per event.
func BenchmarkDispatchEvents(b *testing.B) {
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hook.Close()
	body := []byte(`{"type":"message.status","message_id":"msg_0123456789abc","status":"delivered","channel":"sms","at":"2026-01-01T00:00:00Z"}`)
	store := &queueStore{done: make(chan struct{}), n: int64(b.N)}
	now := time.Now()
	for i := 0; i < b.N; i++ {
		store.pending = append(store.pending, unify.OutboxEvent{ID: "evt_" + strconv.Itoa(i), Key: "msg_" + strconv.Itoa(i),
			Type: unify.EventStatus, Body: body, CreatedAt: now})
	}
	d := notify.New(notify.Config{URL: hook.URL, Secret: "bench-secret", PollInterval: time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)}, store)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ReportAllocs()
	b.ResetTimer()
	go func() { _ = d.Run(ctx) }()
	select {
	case <-store.done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("%d of %d events delivered", store.delivered.Load(), b.N)
	}
}
