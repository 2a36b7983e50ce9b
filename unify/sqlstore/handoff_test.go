package sqlstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"gateway/unify"
	"gateway/unify/sqlstore"
)

// takeAll is a handoff that takes every event whose key has nothing
// stored, and records what the store told it.
type takeAll struct {
	mu                   sync.Mutex
	older                map[string]bool // key: the store's answer
	committed, abandoned []string
	seqs                 map[string]int64 // of the committed events, by id
	newKeys              []string
	wakes                int
}

func (h *takeAll) Reserve(ev unify.OutboxEvent, older func() (bool, error)) (string, time.Time, bool, error) {
	waiting, err := older()
	if err != nil {
		return "", time.Time{}, false, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.older[ev.ID] = waiting
	return "me", t0.Add(time.Minute), !waiting, nil
}

func (h *takeAll) Committed(evs []unify.OutboxEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.committed = append(h.committed, eventIDs(evs)...)
	for _, ev := range evs {
		h.seqs[ev.ID] = ev.Seq
	}
}

func (h *takeAll) Abandoned(evs []unify.OutboxEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.abandoned = append(h.abandoned, eventIDs(evs)...)
}

func (h *takeAll) Wake() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.wakes++
}

func (h *takeAll) NewKey(key string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.newKeys = append(h.newKeys, key)
}

func TestEventsHandedOverAtCommit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openSQLite(t)
	h := &takeAll{older: map[string]bool{}, seqs: map[string]int64{}}
	s.SetHandoff(h)
	insertMessages(t, s, newMessage("msg_a", t0), newMessage("msg_b", t0))
	require.Equal(t, []string{"msg_a", "msg_b"}, h.newKeys, "a new message's key is known to have no events")

	ev := func(id, key string) unify.OutboxEvent {
		return unify.OutboxEvent{ID: id, Key: key, Type: unify.EventStatus, Body: []byte(`{}`), CreatedAt: t0}
	}
	addEvents(t, s, ev("a1", "msg_a"))
	require.Equal(t, []string{"a1"}, h.committed)
	require.NotZero(t, h.seqs["a1"], "handed over with its place in the store")
	require.Zero(t, h.wakes, "nothing for a claim to find")
	require.Empty(t, claimAt(t, s, t0), "leased to the handoff's instance")

	// a1 is undelivered: a2 must wait for it in the store.
	addEvents(t, s, ev("a2", "msg_a"))
	require.True(t, h.older["a2"])
	require.Equal(t, []string{"a1"}, h.committed)
	require.Equal(t, 1, h.wakes)

	// A transaction rolled back gives its reservations back.
	err := s.InTx(ctx, func(tx *sqlstore.Tx) error {
		if err := tx.AddEvent(ev("b1", "msg_b"), "msg_b"); err != nil {
			return err
		}
		return errors.New("changed its mind")
	})
	require.Error(t, err)
	require.Equal(t, []string{"b1"}, h.abandoned)
	require.Equal(t, []string{"a1"}, h.committed)

	// Only status events, keyed by their message, are handed over.
	inTx(t, s, func(tx *sqlstore.Tx) error {
		return tx.AddEvent(ev("in1", "in:ACME:+33612345678"), "msg_b")
	})
	require.NotContains(t, h.older, "in1")
	require.Equal(t, 2, h.wakes)

	// Handed back, a1 is claimed like any other, before a2.
	require.NoError(t, s.ReleaseEvents(ctx, "someone-else", h.seqs["a1"]))
	require.Equal(t, []string{"in1"}, eventIDs(claimAt(t, s, t0)), "another owner's release changes nothing")
	require.NoError(t, s.ReleaseEvents(ctx, "me", h.seqs["a1"]))
	claimed := claimAt(t, s, t0)
	require.Equal(t, []string{"a1"}, eventIDs(claimed))
	require.Equal(t, h.seqs["a1"], claimed[0].Seq, "a claim reads the same place")
}

func claimAt(t *testing.T, s *sqlstore.Store, now time.Time) []unify.OutboxEvent {
	t.Helper()
	evs, err := s.ClaimEvents(context.Background(), "claimer", now, now.Add(time.Minute), 10)
	require.NoError(t, err)
	return evs
}
