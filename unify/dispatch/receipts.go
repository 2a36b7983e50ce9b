package dispatch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gateway/unify"
	"gateway/unify/sqlstore"
)

// HandleReceipt applies a carrier's delivery report. It returns only once the
// report is durably recorded, so a channel may acknowledge it to the carrier
// when it returns nil. A report for a part not stored yet is kept and applied
// when the part is.
func (s *Service) HandleReceipt(ctx context.Context, r unify.Receipt) error {
	// The carrier waits for its answer, but with a window of them (and the
	// gateway's delivery workers are as many): a few milliseconds more for
	// each is not a slower stream of receipts.
	ctx = sqlstore.Deferrable(ctx)
	if r.At.IsZero() {
		r.At = s.now()
	}
	now := s.now()
	var known *knownReceipt
	if sent := s.recent.take(r.Carrier, r.Ref.Raw); sent != nil {
		known = s.planKnownReceipt(r, sent, now)
	}
	var fromMemory bool
	err := s.store.InTx(ctx, func(tx *sqlstore.Tx) error {
		if known != nil {
			done, err := s.applyKnownReceipt(tx, r, known, now)
			if err != nil || done {
				fromMemory = done
				return err
			}
		}
		fromMemory = false
		match, found, err := tx.FindPart(r.Carrier, r.Ref)
		if err != nil {
			return err
		}
		if !found {
			s.metrics.receipts.WithLabelValues(string(r.Channel), "orphan").Inc()
			return tx.AddOrphanReceipt(r)
		}
		return s.applyReceipt(tx, r, match, now)
	})
	if err != nil {
		return err
	}
	if fromMemory {
		s.metrics.stateFromMemory.Inc()
	} else {
		s.metrics.stateFromStore.Inc()
	}
	return nil
}

// applyReceipt applies r to the part it matched, as the store holds it.
func (s *Service) applyReceipt(tx *sqlstore.Tx, r unify.Receipt, match sqlstore.PartMatch, now time.Time) error {
	m, a, newest, err := tx.AttemptState(match.MessageID, match.AttemptID)
	if err != nil {
		return err
	}
	var part *unify.Part
	for i := range a.Parts {
		if a.Parts[i].Seq == match.Seq {
			part = &a.Parts[i]
		}
	}
	if part == nil {
		return fmt.Errorf("dispatch: part %d of attempt %s vanished", match.Seq, a.ID)
	}
	o := receiptOutcomeOf(r, a, part)
	if !o.partMoves {
		s.metrics.receipts.WithLabelValues(string(a.Channel), "duplicate").Inc()
		return nil
	}
	s.metrics.receipts.WithLabelValues(string(a.Channel), string(o.partStatus)).Inc()
	if err := tx.UpdatePart(a.ID, part.Seq, o.partStatus, r.Error); err != nil {
		return err
	}
	if !o.attemptMoves {
		return nil
	}
	if err := tx.UpdateAttempt(a, now); err != nil {
		return err
	}
	if !newest || o.late {
		return nil
	}
	return s.settleMessage(tx, m, a, now, s.setStatus)
}

// builtEvent is the status event of a message built beforehand, off the
// store's one writer, by a caller that expects the message to take status.
type builtEvent struct {
	status unify.Status
	ev     unify.OutboxEvent
}

// knownReceipt is what a receipt does to a send this instance remembers
// (see sentState), worked out before its transaction, off the writer.
type knownReceipt struct {
	sent    *sentState
	attempt unify.Attempt // as the receipt leaves it
	outcome receiptOutcome
	// event is the message's event when the receipt delivers (or reads) it.
	event *builtEvent
}

// planKnownReceipt works out what r does to sent; nil when r does not
// settle the attempt, which is left to the general way.
func (s *Service) planKnownReceipt(r unify.Receipt, sent *sentState, now time.Time) *knownReceipt {
	k := &knownReceipt{sent: sent, attempt: sent.attempt}
	k.attempt.Parts = []unify.Part{sent.attempt.Parts[0]}
	k.outcome = receiptOutcomeOf(r, &k.attempt, &k.attempt.Parts[0])
	if !k.outcome.attemptMoves || k.outcome.late {
		return nil
	}
	if st := k.attempt.Status; st == unify.StatusDelivered || st == unify.StatusRead {
		m := sent.head
		m.Status, m.Error, m.UpdatedAt = st, "", now
		// On an error the event is built again where it is stored, which
		// reports it.
		if ev, err := s.statusEvent(&m, now); err == nil {
			k.event = &builtEvent{status: st, ev: ev}
		}
	}
	return k
}

// applyKnownReceipt applies r as k worked it out, and reports false, having
// written nothing, when the store no longer holds the attempt as it was
// sent: the caller then takes the general way.
func (s *Service) applyKnownReceipt(tx *sqlstore.Tx, r unify.Receipt, k *knownReceipt, now time.Time) (bool, error) {
	a := k.attempt // the unit may run twice (see InTx): k stays as planned
	// The attempt as sent, unchanged since (no receipt, timer, fallback,
	// erasure or other instance wrote it): its part is as sent too, since
	// only a receipt moves a part and, of a single part, its attempt with it.
	ok, err := tx.SettleAttempt(&a, k.sent.attempt.Status, k.sent.at, now)
	if err != nil || !ok {
		return false, err
	}
	s.metrics.receipts.WithLabelValues(string(a.Channel), string(k.outcome.partStatus)).Inc()
	// A part that now says what its attempt says is not written: the store
	// reads it from the attempt (sqlstore.PartSettledByAttempt). A
	// statement less for most receipts.
	if !sqlstore.PartSettledByAttempt(k.outcome.partStatus, r.Error) {
		if err := tx.UpdatePart(a.ID, a.Parts[0].Seq, k.outcome.partStatus, r.Error); err != nil {
			return false, err
		}
	}
	// The message is moved only if it is still as the send left it, which
	// also makes this attempt its newest; otherwise it is read.
	m := k.sent.head
	move := func(tx *sqlstore.Tx, m *unify.Message, st unify.Status, errText string, now time.Time, force bool) (bool, error) {
		return s.moveStatus(tx, m, st, errText, now, force, k.event)
	}
	err = s.settleMessage(tx, &m, &a, now, move)
	if errors.Is(err, errMessageMoved) {
		cur, _, newest, err := tx.AttemptState(m.ID, a.ID)
		if err != nil || !newest {
			return true, err
		}
		return true, s.settleMessage(tx, cur, &a, now, s.setStatus)
	}
	return true, err
}

// receiptOutcome is what a receipt does to a part of an attempt;
// receiptOutcomeOf updates the part and the attempt in memory (statuses,
// the attempt's error).
type receiptOutcome struct {
	partStatus   unify.Status
	partMoves    bool // the part's status advances
	attemptMoves bool // and so does the attempt's
	late         bool // the attempt had been given up on (expired, revoked)
}

func receiptOutcomeOf(r unify.Receipt, a *unify.Attempt, part *unify.Part) receiptOutcome {
	st := r.Status
	if st == unify.StatusExpired || st == unify.StatusRevoked {
		st = unify.StatusFailed
	}
	o := receiptOutcome{partStatus: st}
	if !part.Status.Advances(st) {
		return o
	}
	o.partMoves = true
	part.Status = st
	agg := unify.AggregateParts(a.Parts)
	o.late = a.Status == unify.StatusExpired || a.Status == unify.StatusRevoked
	if agg == a.Status || !o.late && !a.Status.Advances(agg) {
		return o
	}
	if o.late && agg != unify.StatusDelivered && agg != unify.StatusRead {
		return o
	}
	o.attemptMoves = true
	a.Status = agg
	switch {
	case agg == unify.StatusFailed:
		a.Error = fmt.Sprintf("part %d of %d failed", part.Seq, len(a.Parts))
		if r.Error != "" {
			a.Error += " (" + r.Error + ")"
		}
	case o.late:
		// Delivered after the fallback gave up on it: recorded, not lost;
		// the phone may now hold two copies.
		a.Error = "delivered after the fallback moved on"
	}
	return o
}

// statusSetter moves a message to a status and queues its event (setStatus,
// moveStatus).
type statusSetter func(tx *sqlstore.Tx, m *unify.Message, st unify.Status, errText string, now time.Time, force bool) (bool, error)

// settleMessage follows the newest attempt of m to its outcome: delivered
// or read settle the message, a failure moves it to the policy's next step
// or fails it.
func (s *Service) settleMessage(tx *sqlstore.Tx, m *unify.Message, a *unify.Attempt, now time.Time, set statusSetter) error {
	agg := a.Status
	if agg != unify.StatusDelivered && agg != unify.StatusRead && agg != unify.StatusFailed {
		return nil
	}
	// A policy deleted since the send leaves no timer to spare and no next
	// step: the receipt still settles the message.
	pol, err := s.policy(tx.Context(), m.Policy)
	if err != nil && unify.CodeOf(err) != unify.CodeNotFound {
		return err
	}
	gone := err != nil
	// The step's timer is over. Only a step with a timeout and a step after
	// it has one (a policy edited since leaves at most a timer that finds
	// its attempt settled and ends).
	if gone || armsTimer(&pol, a.Step) {
		if err := tx.DeleteJob(sqlstore.JobTimeout, string(a.ID)); err != nil {
			return err
		}
	}
	switch agg {
	case unify.StatusDelivered, unify.StatusRead:
		_, err := set(tx, m, agg, "", now, false)
		return err
	case unify.StatusFailed:
		if !gone && a.Step < len(pol.Steps)-1 {
			if _, err := set(tx, m, unify.StatusSwitching, "", now, true); err != nil {
				return err
			}
			s.kick()
			return tx.AddJob(sqlstore.JobSend, string(m.ID), now)
		}
		_, err = set(tx, m, unify.StatusFailed, a.Error, now, true)
		return err
	}
	return nil
}

// errMessageMoved: the message is no longer as the caller knew it.
var errMessageMoved = errors.New("dispatch: the message changed since it was read")

// moveStatus is setStatus for a message known as it was, not read: it
// changes nothing and returns errMessageMoved when the stored message is no
// longer so. prebuilt, when not nil, is the event of the new status if it
// is the one moved to, with no error.
func (s *Service) moveStatus(tx *sqlstore.Tx, m *unify.Message, st unify.Status, errText string, now time.Time, force bool, prebuilt *builtEvent) (bool, error) {
	if m.Status == st && m.Error == errText || !force && !m.Status.Advances(st) {
		return false, nil
	}
	next := *m
	next.Status, next.Error, next.UpdatedAt = st, errText, now
	moved, err := tx.MoveMessage(&next, m.Status, now)
	if err != nil {
		return false, err
	}
	if !moved {
		return false, errMessageMoved
	}
	*m = next
	if prebuilt != nil && prebuilt.status == st && errText == "" {
		return true, s.announceEvent(tx, m, prebuilt.ev)
	}
	return true, s.announce(tx, m, now)
}
