package sqlstore_test

import (
	"context"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"gateway/unify"
	"gateway/unify/sqlstore"
)

func benchSQLite(b *testing.B) *sqlstore.Store {
	b.Helper()
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, "sqlite:"+filepath.Join(b.TempDir(), "gw.db"), sqlstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	if err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	return s
}

func benchMessage(now time.Time) *unify.Message {
	return &unify.Message{ID: unify.NewMessageID(), To: "+33612345678", From: "acme", Policy: "default",
		Content: unify.Content{Text: "Your order shipped"}, Status: unify.StatusAccepted, CreatedAt: now, UpdatedAt: now}
}

// accept is what the core writes when it accepts a message: the message and
// its send job, in one transaction.
func accept(ctx context.Context, s *sqlstore.Store, m *unify.Message) error {
	return s.InTx(ctx, func(tx *sqlstore.Tx) error {
		if err := tx.InsertMessage(m); err != nil {
			return err
		}
		return tx.AddJob(sqlstore.JobSend, string(m.ID), m.CreatedAt)
	})
}

// BenchmarkInsertMessage accepts messages one transaction after the other
// (one API client): every commit waits for its own fsync.
func BenchmarkInsertMessage(b *testing.B) {
	s := benchSQLite(b)
	ctx := context.Background()
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if err := accept(ctx, s, benchMessage(now)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInsertMessageParallel accepts from 32 goroutines, as the API does
// under load, so that group commit can share one fsync among many.
func BenchmarkInsertMessageParallel(b *testing.B) {
	s := benchSQLite(b)
	ctx := context.Background()
	now := time.Now()
	b.SetParallelism(16) // × GOMAXPROCS goroutines
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := accept(ctx, s, benchMessage(now)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkStatusUpdate is a receipt's write: the message's new status and
// its status event in one transaction.
func BenchmarkStatusUpdate(b *testing.B) {
	s := benchSQLite(b)
	ctx := context.Background()
	now := time.Now()
	const n = 1000
	msgs := make([]*unify.Message, n)
	for i := range msgs {
		msgs[i] = benchMessage(now)
		if err := accept(ctx, s, msgs[i]); err != nil {
			b.Fatal(err)
		}
	}
	body := []byte(`{"type":"message.status","status":"delivered","channel":"sms"}`)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		m := msgs[i%n]
		i++
		m.Status, m.Channel = unify.StatusDelivered, unify.ChannelSMS
		err := s.InTx(ctx, func(tx *sqlstore.Tx) error {
			if err := tx.UpdateMessage(m, now); err != nil {
				return err
			}
			return tx.AddEvent(unify.OutboxEvent{ID: unify.NewEventID(), Key: string(m.ID), Type: unify.EventStatus, Body: body, CreatedAt: now}, m.ID)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMessageLifecycle writes what the core writes for one SMS from its
// accept to its delivered event, from 128 × GOMAXPROCS goroutines at once:
// the accept, the send recorded (attempt, part, status, event,
// conversation), the receipt (attempt, part, status, event) and the two
// events delivered. "mixed" commits every unit with whatever is queued;
// "deferred" marks the send and the receipt as background work
// (sqlstore.Deferrable), as the dispatcher does, so that they commit
// together: ns/op is the writer's time per message.
func BenchmarkMessageLifecycle(b *testing.B) {
	for _, tc := range []struct {
		name       string
		background func(context.Context) context.Context
	}{
		{"mixed", func(ctx context.Context) context.Context { return ctx }},
		{"deferred", sqlstore.Deferrable},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s := benchSQLite(b)
			ctx := context.Background()
			bg := tc.background(ctx)
			var seq atomic.Int64
			body := []byte(`{"type":"message.status","status":"sent","channel":"sms","carrier":"sim"}`)
			b.SetParallelism(128)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := lifecycle(ctx, bg, s, seq.Add(1), body); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

func lifecycle(ctx, bg context.Context, s *sqlstore.Store, n int64, body []byte) error {
	now := time.Now()
	m := benchMessage(now)
	if err := s.InTx(ctx, func(tx *sqlstore.Tx) error { return tx.InsertMessage(m) }); err != nil {
		return err
	}
	ext := strconv.FormatInt(n, 10)
	a := &unify.Attempt{ID: unify.NewAttemptID(), MessageID: m.ID, Channel: unify.ChannelSMS, Carrier: "sim",
		Status: unify.StatusSent, Segments: 1,
		Parts: []unify.Part{{Seq: 1, Status: unify.StatusSent, Ref: unify.ExternalRef{ID: ext, Raw: ext, Dec: ext}}}}
	sent := *m
	sent.Status, sent.Channel, sent.Carrier = unify.StatusSent, unify.ChannelSMS, "sim"
	event := func(tx *sqlstore.Tx) (int64, error) {
		return tx.AddEventSeq(unify.OutboxEvent{ID: unify.NewEventID(), Key: string(m.ID), Type: unify.EventStatus, Body: body, CreatedAt: now}, m.ID)
	}
	var sentEvent, deliveredEvent int64
	err := s.InTx(bg, func(tx *sqlstore.Tx) error {
		if err := tx.InsertAttempt(a, now); err != nil {
			return err
		}
		if _, err := tx.MoveMessage(&sent, unify.StatusAccepted, now); err != nil {
			return err
		}
		var err error
		sentEvent, err = event(tx)
		return err
	})
	if err != nil {
		return err
	}
	delivered, settled := sent, *a
	delivered.Status, settled.Status = unify.StatusDelivered, unify.StatusDelivered
	err = s.InTx(bg, func(tx *sqlstore.Tx) error {
		if _, err := tx.SettleAttempt(&settled, unify.StatusSent, now, now); err != nil {
			return err
		}
		if err := tx.UpdatePart(a.ID, 1, unify.StatusDelivered, ""); err != nil {
			return err
		}
		if _, err := tx.MoveMessage(&delivered, unify.StatusSent, now); err != nil {
			return err
		}
		var err error
		deliveredEvent, err = event(tx)
		return err
	})
	if err != nil {
		return err
	}
	return s.EventsDelivered(ctx, now, sentEvent, deliveredEvent)
}
