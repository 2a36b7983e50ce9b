package sqlstore_test

import (
	"context"
	"path/filepath"
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
