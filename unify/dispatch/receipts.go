package dispatch

import (
	"context"
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
	if r.At.IsZero() {
		r.At = s.now()
	}
	err := s.store.InTx(ctx, func(tx *sqlstore.Tx) error {
		match, found, err := tx.FindPart(r.Carrier, r.Ref)
		if err != nil {
			return err
		}
		if !found {
			s.metrics.receipts.WithLabelValues(string(r.Channel), "orphan").Inc()
			return tx.AddOrphanReceipt(r)
		}
		return s.applyReceipt(tx, r, match, s.now())
	})
	if err != nil {
		return err
	}
	s.cfg.OnEvents()
	return nil
}

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
	st := r.Status
	if st == unify.StatusExpired || st == unify.StatusRevoked {
		st = unify.StatusFailed
	}
	if !part.Status.Advances(st) {
		s.metrics.receipts.WithLabelValues(string(a.Channel), "duplicate").Inc()
		return nil
	}
	s.metrics.receipts.WithLabelValues(string(a.Channel), string(st)).Inc()
	part.Status = st
	if err := tx.UpdatePart(a.ID, part.Seq, st, r.Error); err != nil {
		return err
	}
	agg := unify.AggregateParts(a.Parts)
	late := a.Status == unify.StatusExpired || a.Status == unify.StatusRevoked
	if agg == a.Status || !late && !a.Status.Advances(agg) {
		return nil
	}
	if late && agg != unify.StatusDelivered && agg != unify.StatusRead {
		return nil
	}
	a.Status = agg
	switch {
	case agg == unify.StatusFailed:
		a.Error = fmt.Sprintf("part %d of %d failed", part.Seq, len(a.Parts))
		if r.Error != "" {
			a.Error += " (" + r.Error + ")"
		}
	case late:
		// Delivered after the fallback gave up on it: recorded, not lost;
		// the phone may now hold two copies.
		a.Error = "delivered after the fallback moved on"
	}
	if err := tx.UpdateAttempt(a, now); err != nil {
		return err
	}
	if !newest || late {
		return nil
	}
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
		_, err := s.setStatus(tx, m, agg, "", now, false)
		return err
	case unify.StatusFailed:
		if !gone && a.Step < len(pol.Steps)-1 {
			if _, err := s.setStatus(tx, m, unify.StatusSwitching, "", now, true); err != nil {
				return err
			}
			s.kick()
			return tx.AddJob(sqlstore.JobSend, string(m.ID), now)
		}
		_, err = s.setStatus(tx, m, unify.StatusFailed, a.Error, now, true)
		return err
	}
	return nil
}
