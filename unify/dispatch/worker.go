package dispatch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"gateway/unify"
	"gateway/unify/sqlstore"
)

// stepTries is how many times a step that fails temporarily is tried before
// the fallback moves on (when there is a step to move on to).
const stepTries = 3

var jobKinds = []sqlstore.JobKind{sqlstore.JobSend, sqlstore.JobTimeout, sqlstore.JobMOFlush}

// Run claims due jobs and works them with a fixed pool of workers until ctx
// ends; then it waits for the sends in flight.
func (s *Service) Run(ctx context.Context) error {
	// Sends handed to the lane are not stored as jobs on SQLite (see
	// sqlstore's AddLeasedJob): those a crash interrupted are found here,
	// before the lane opens again.
	n, err := s.store.RequeueUnsent(ctx, s.now())
	if err != nil {
		return fmt.Errorf("dispatch: %w", err)
	}
	if n > 0 {
		s.log.Info("sends interrupted by the last stop are queued again", "messages", n)
	}
	jobs := make(chan sqlstore.Job)
	var wg sync.WaitGroup
	free := make(chan struct{}, s.cfg.Workers)
	for i := 0; i < s.cfg.Workers; i++ {
		free <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				s.work(j, nil)
				free <- struct{}{}
			}
		}()
	}
	laneDone := make(chan struct{})
	for i := 0; i < s.cfg.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				// Once Run stops, what waits in the lane is released, not sent.
				select {
				case <-laneDone:
					return
				default:
				}
				select {
				case <-laneDone:
					return
				case lj := <-s.lane:
					s.giveLaneBack()
					s.work(lj.job, &lj)
				}
			}
		}()
	}
	s.laneOpen.Store(true)
	renewing := make(chan struct{})
	go func() {
		defer close(renewing)
		s.renewLeases(ctx)
	}()
	defer func() {
		s.laneOpen.Store(false)
		close(laneDone)
		close(jobs)
		wg.Wait()
		s.releaseLane()
		<-renewing
	}()
	for {
		// Claim only as many jobs as there are idle workers, so that nothing
		// sits leased in memory while another instance could have run it.
		n := 0
	drain:
		for n < cap(free) {
			select {
			case <-free:
				n++
			default:
				break drain
			}
		}
		if n == 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-free:
				n = 1
			}
		}
		now := s.now()
		claimed, err := s.store.ClaimJobs(ctx, s.cfg.Owner, jobKinds, now, now.Add(s.cfg.Lease), n)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("claim jobs failed", "err", err)
		}
		for _, j := range claimed {
			jobs <- j
		}
		for i := len(claimed); i < n; i++ {
			free <- struct{}{}
		}
		if len(claimed) == n && n > 0 {
			continue // more may be waiting
		}
		if err := s.idle(ctx); err != nil {
			return nil
		}
	}
}

// renewLeases keeps the leases of the jobs in progress alive while Run
// runs. A send may take up to SendTimeout; a lease much shorter than that is
// what lets another instance take over quickly from one that died.
func (s *Service) renewLeases(ctx context.Context) {
	t := time.NewTicker(s.cfg.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.store.RenewJobLeases(ctx, s.cfg.Owner, s.now().Add(s.cfg.Lease)); err != nil && ctx.Err() == nil {
			s.log.Warn("renewing job leases failed", "err", err)
		}
	}
}

// releaseLane gives back the leases of the jobs still waiting in the lane
// when Run stops, so that they run soon (here after a restart, or on
// another instance) instead of after their lease expires. An Accept that
// reserved its place before the lane closed may still be committing: it is
// waited for, but not for ever (its lease expires in the worst case).
func (s *Service) releaseLane() {
	deadline := time.Now().Add(5 * time.Second)
	for s.laneTaken.Load() > 0 && time.Now().Before(deadline) {
		select {
		case lj := <-s.lane:
			s.giveLaneBack()
			if err := s.store.RetryJob(context.Background(), lj.job, s.cfg.Owner, s.now(), ""); err != nil {
				s.log.Warn("releasing a job failed", "ref", lj.job.Ref, "err", err)
			}
		case <-time.After(time.Millisecond):
		}
	}
}

// idle waits for a kick, the next due job, or a poll interval.
func (s *Service) idle(ctx context.Context) error {
	wait := time.Second
	if at, ok, err := s.store.NextJobAt(ctx, jobKinds); err == nil && ok {
		if d := at.Sub(s.now()); d < wait {
			wait = d
		}
	}
	if wait <= 0 {
		wait = time.Millisecond
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-s.wake:
	case <-t.C:
	}
	return nil
}

// work runs a job; fresh, when not nil, is what the API knew of a send job
// it handed to the lane, which spares reading it again.
func (s *Service) work(j sqlstore.Job, fresh *laneJob) {
	// Jobs finish even while the service stops: a send half done is worse
	// than a shutdown a few seconds later.
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.SendTimeout)
	defer cancel()
	var err error
	switch j.Kind {
	case sqlstore.JobSend:
		err = s.send(ctx, j, fresh)
	case sqlstore.JobTimeout:
		err = s.timeout(ctx, j)
	case sqlstore.JobMOFlush:
		err = s.flushFragments(ctx, j)
	default:
		err = s.store.InTx(ctx, func(tx *sqlstore.Tx) error { return tx.CompleteJob(j, s.cfg.Owner) })
	}
	if err != nil {
		s.log.Warn("job failed", "kind", j.Kind, "ref", j.Ref, "tries", j.Tries, "err", err)
		if rerr := s.store.RetryJob(context.Background(), j, s.cfg.Owner, s.now().Add(backoff(j.Tries)), err.Error()); rerr != nil {
			s.log.Error("reschedule job failed", "kind", j.Kind, "ref", j.Ref, "err", rerr)
		}
	}
}

// backoff is the wait before the n-th retry of a job: 1s doubling to 1 min.
func backoff(tries int) time.Duration {
	d := time.Second
	for i := 1; i < tries && d < time.Minute; i++ {
		d *= 2
	}
	if d > time.Minute {
		d = time.Minute
	}
	return d
}

// send takes the next step of a message's policy. fresh is what the API
// knew of the message when the caller has it from the lane; nil reads it.
func (s *Service) send(ctx context.Context, j sqlstore.Job, fresh *laneJob) error {
	var m *unify.Message
	var optOut string
	if fresh != nil {
		m, optOut = fresh.m, fresh.optOut
	} else {
		var err error
		m, err = s.store.Message(ctx, unify.MessageID(j.Ref))
		if err != nil {
			if unify.CodeOf(err) == unify.CodeNotFound {
				return s.store.InTx(ctx, func(tx *sqlstore.Tx) error { return tx.CompleteJob(j, s.cfg.Owner) })
			}
			return err
		}
		if m.Status.Final() {
			return s.store.InTx(ctx, func(tx *sqlstore.Tx) error { return tx.CompleteJob(j, s.cfg.Owner) })
		}
		if optOut, err = s.optedOut(ctx, m); err != nil {
			return err
		}
	}
	if optOut != "" {
		return s.recordFinalFailure(ctx, j, m, nil, optOut)
	}
	pol, err := s.policy(ctx, m.Policy)
	if unify.CodeOf(err) == unify.CodeNotFound {
		// Deleted while the message waited: nothing says how to send it.
		return s.recordFinalFailure(ctx, j, m, nil, "policy "+m.Policy+" no longer exists")
	}
	if err != nil {
		return err
	}
	start := 0
	if n := len(m.Attempts); n > 0 {
		start = m.Attempts[n-1].Step + 1
	}
	var failures []*unify.Attempt
	for i := start; i < len(pol.Steps); i++ {
		step := pol.Steps[i]
		a, skip := s.prepare(m, &pol, i)
		if skip != "" {
			s.log.Debug("step skipped", "msg_id", m.ID, "channel", step.Channel, "reason", skip)
			continue
		}
		res, err := s.channels[step.Channel].Send(ctx, m, a, &pol)
		if err == nil {
			return s.recordSent(ctx, j, m, a, res, &pol, failures)
		}
		kind := unify.SendKind(err)
		// A step that keeps failing temporarily while later steps exist is
		// given up after a few tries: the person is better served by the
		// next channel than by waiting (a media server that does not
		// answer must not hold back the SMS).
		if kind == unify.ErrTemporary && i < len(pol.Steps)-1 && j.Tries >= stepTries {
			kind = unify.ErrRejected
		}
		if kind == unify.ErrThrottled || kind == unify.ErrTemporary {
			if s.now().Sub(m.CreatedAt) > s.cfg.MaxAge {
				a.Status, a.Error = unify.StatusExpired, err.Error()
				failures = append(failures, a)
				break
			}
			s.metrics.retries.WithLabelValues(string(step.Channel), kindLabel(kind)).Inc()
			if len(failures) > 0 {
				// Keep what was learnt about earlier steps before waiting.
				if err := s.recordFailures(ctx, m, failures); err != nil {
					return err
				}
			}
			return fmt.Errorf("dispatch: %s via %s: %w", m.ID, a.Carrier, err)
		}
		a.Status, a.Error = unify.StatusFailed, err.Error()
		failures = append(failures, a)
		s.log.Info("step failed", "msg_id", m.ID, "channel", step.Channel, "carrier", a.Carrier, "err", err)
	}
	return s.recordFinalFailure(ctx, j, m, failures, "")
}

// prepare builds the attempt for step i, or says why the step does not apply.
func (s *Service) prepare(m *unify.Message, p *unify.Policy, i int) (*unify.Attempt, string) {
	step := p.Steps[i]
	carrier, skip := s.carrierFor(m, step)
	if skip != "" {
		return nil, skip
	}
	return &unify.Attempt{ID: unify.NewAttemptID(), MessageID: m.ID, Step: i, Channel: step.Channel, Carrier: carrier, Status: unify.StatusSending}, ""
}

// carrierFor names the carrier that would carry step for m, or says why the
// step does not apply to m.
func (s *Service) carrierFor(m *unify.Message, step unify.Step) (string, string) {
	if _, ok := s.channels[step.Channel]; !ok {
		return "", "the gateway has no " + string(step.Channel) + " channel"
	}
	if step.Channel == unify.ChannelMMS && !m.Content.HasMedia() {
		return "", "the content has no media"
	}
	c, ok := s.cfg.Router.Route(m.To)
	if !ok {
		return "", "no carrier serves " + m.To
	}
	if !c.Offers(step.Channel) {
		return "", "carrier " + c.Name + " has no " + string(step.Channel) + " link"
	}
	return c.Name, ""
}

func (s *Service) recordSent(ctx context.Context, j sqlstore.Job, m *unify.Message, a *unify.Attempt, res unify.SendResult, pol *unify.Policy, failures []*unify.Attempt) error {
	now := s.now()
	a.Status, a.Segments, a.Parts = unify.StatusSent, res.Segments, res.Parts
	for i := range a.Parts {
		if a.Parts[i].Status == "" {
			a.Parts[i].Status = unify.StatusSent
		}
	}
	// The message as the job read it is almost always still so: moved on
	// that condition, it needs no read; otherwise it is read anew. Its
	// event is built here, off the store's one writer.
	expected := *m
	expected.Attempts = nil
	expected.Channel, expected.Carrier, expected.Status, expected.Error, expected.UpdatedAt = a.Channel, a.Carrier, unify.StatusSent, "", now
	sentEvent, err := s.statusEvent(&expected, now)
	if err != nil {
		return err
	}
	var head *unify.Message // the message as this unit left it
	var orphans bool        // receipts that came first were applied
	// The carrier has the message: recording it may wait a few milliseconds
	// for other sends to share the commit (the workers are many).
	err = s.store.InTx(sqlstore.Deferrable(ctx), func(tx *sqlstore.Tx) error {
		head, orphans = nil, false // the unit may run twice (see InTx)
		for _, f := range failures {
			if err := tx.InsertAttempt(f, now); err != nil {
				return err
			}
		}
		if err := tx.InsertAttempt(a, now); err != nil {
			return err
		}
		cur := &expected
		moved, err := tx.MoveMessage(cur, m.Status, now)
		switch {
		case err != nil:
			return err
		case moved:
			err = s.announceEvent(tx, cur, sentEvent)
		default:
			if cur, err = tx.MessageHead(m.ID); err != nil {
				return err
			}
			cur.Channel, cur.Carrier = a.Channel, a.Carrier
			_, err = s.setStatus(tx, cur, unify.StatusSent, "", now, true)
		}
		if err != nil {
			return err
		}
		head = cur
		if armsTimer(pol, a.Step) {
			if err := tx.AddJob(sqlstore.JobTimeout, string(a.ID), now.Add(pol.Steps[a.Step].Timeout)); err != nil {
				return err
			}
		}
		if err := tx.CompleteJob(j, s.cfg.Owner); err != nil {
			return err
		}
		// A receipt may have beaten us here (SMPP lets the SMSC send it before
		// we stored the submit_sm_resp); apply it now.
		has, err := tx.HasOrphanReceipts()
		if err != nil || !has {
			return err
		}
		for _, p := range a.Parts {
			taken, err := tx.TakeOrphanReceipts(a.Carrier, p.Ref)
			if err != nil {
				return err
			}
			for _, r := range taken {
				orphans = true
				if err := s.applyReceipt(tx, r, sqlstore.PartMatch{AttemptID: a.ID, MessageID: m.ID, Seq: p.Seq}, now); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(a.Parts) == 1 && !orphans && head != nil && head.Status == unify.StatusSent {
		known := &sentState{head: *head, attempt: *a, at: now}
		known.head.Content, known.head.Attempts = unify.Content{}, nil
		known.attempt.Parts = slices.Clone(a.Parts)
		s.recent.put(a.Carrier, a.Parts[0].Ref.Raw, known)
	}
	s.metrics.sent.WithLabelValues(string(a.Channel), a.Carrier).Inc()
	s.metrics.segments.WithLabelValues(string(a.Channel)).Add(float64(res.Segments))
	return nil
}

func (s *Service) recordFailures(ctx context.Context, m *unify.Message, failures []*unify.Attempt) error {
	now := s.now()
	err := s.store.InTx(ctx, func(tx *sqlstore.Tx) error {
		for _, f := range failures {
			if err := tx.InsertAttempt(f, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		m.Attempts = append(m.Attempts, derefAll(failures)...)
	}
	return err
}

func (s *Service) recordFinalFailure(ctx context.Context, j sqlstore.Job, m *unify.Message, failures []*unify.Attempt, reason string) error {
	now := s.now()
	switch {
	case reason != "":
	case len(failures) > 0:
		reason = failures[len(failures)-1].Error
	default:
		if _, ok := s.cfg.Router.Route(m.To); !ok {
			reason = "no carrier serves " + m.To
		} else {
			reason = "no step of policy " + m.Policy + " could carry the message"
		}
	}
	err := s.store.InTx(ctx, func(tx *sqlstore.Tx) error {
		cur, err := tx.MessageHead(m.ID)
		if err != nil {
			return err
		}
		for _, f := range failures {
			if err := tx.InsertAttempt(f, now); err != nil {
				return err
			}
		}
		if len(failures) > 0 {
			last := failures[len(failures)-1]
			cur.Channel, cur.Carrier = last.Channel, last.Carrier
		}
		if _, err := s.setStatus(tx, cur, unify.StatusFailed, reason, now, true); err != nil {
			return err
		}
		return tx.CompleteJob(j, s.cfg.Owner)
	})
	if err != nil {
		return err
	}
	s.log.Info("message failed", "msg_id", m.ID, "reason", reason)
	return nil
}

// timeout: a step was not delivered within its timeout. An RCS message is
// revoked first, so the phone does not get it twice; when revocation fails
// or its outcome is unknown, the policy decides between no second copy
// (suppress) and sending it anyway (send_anyway, for one-time codes).
func (s *Service) timeout(ctx context.Context, j sqlstore.Job) error {
	// Read outside the writer: the transaction below checks again.
	msg, err := s.store.MessageOfAttempt(ctx, unify.AttemptID(j.Ref))
	var a *unify.Attempt
	if err == nil {
		a = liveAttempt(msg, unify.AttemptID(j.Ref))
	}
	if err != nil || a == nil {
		if err == nil || unify.CodeOf(err) == unify.CodeNotFound {
			return s.store.InTx(ctx, func(tx *sqlstore.Tx) error { return tx.CompleteJob(j, s.cfg.Owner) })
		}
		return err
	}
	pol, err := s.policy(ctx, msg.Policy)
	if unify.CodeOf(err) == unify.CodeNotFound {
		// Deleted since the send: the defaults decide, and the next send
		// fails the message for want of a policy.
		pol, err = unify.Policy{Name: msg.Policy}, nil
	}
	if err != nil {
		return err
	}
	// What happened to the attempt, decided before the transaction because
	// revoking is a call to the carrier.
	outcome, note := unify.StatusExpired, "not delivered in time"
	fallBack := true
	if r, ok := s.channels[a.Channel].(Revoker); ok {
		rerr := r.Revoke(ctx, msg, a)
		sendAnyway := pol.OnRevokeFailure == unify.RevokeSendAnyway
		switch {
		case rerr == nil:
			outcome, note = unify.StatusRevoked, "not delivered in time: revoked"
			s.metrics.revocations.WithLabelValues("revoked").Inc()
		case errors.Is(rerr, unify.ErrAlreadyDelivered):
			// The carrier says the phone has it: that is a delivery.
			outcome, note, fallBack = unify.StatusDelivered, "revocation refused: already delivered", sendAnyway
			s.metrics.revocations.WithLabelValues("already_delivered").Inc()
		default:
			outcome, note, fallBack = unify.StatusSent, "revocation unconfirmed: "+rerr.Error(), sendAnyway
			if sendAnyway {
				outcome = unify.StatusExpired
			}
			s.metrics.revocations.WithLabelValues("unconfirmed").Inc()
		}
		if fallBack && outcome != unify.StatusRevoked {
			note += "; sent again on the next step (send_anyway)"
		} else if !fallBack {
			note += "; no second copy (suppress)"
		}
	}
	now := s.now()
	err = s.store.InTx(ctx, func(tx *sqlstore.Tx) error {
		m, err := tx.MessageState(msg.ID)
		if err != nil {
			return err
		}
		// A receipt may have settled the attempt while we were revoking.
		cur := liveAttempt(m, a.ID)
		if cur == nil {
			return tx.CompleteJob(j, s.cfg.Owner)
		}
		cur.Status, cur.Error = outcome, note
		if outcome == unify.StatusDelivered {
			for i := range cur.Parts {
				cur.Parts[i].Status = unify.StatusDelivered
				if err := tx.UpdatePart(cur.ID, cur.Parts[i].Seq, unify.StatusDelivered, ""); err != nil {
					return err
				}
			}
		}
		if err := tx.UpdateAttempt(cur, now); err != nil {
			return err
		}
		switch {
		case fallBack:
			if _, err := s.setStatus(tx, m, unify.StatusSwitching, "", now, true); err != nil {
				return err
			}
			if err := tx.AddJob(sqlstore.JobSend, string(m.ID), now); err != nil {
				return err
			}
		case outcome == unify.StatusDelivered:
			if _, err := s.setStatus(tx, m, unify.StatusDelivered, "", now, false); err != nil {
				return err
			}
		}
		return tx.CompleteJob(j, s.cfg.Owner)
	})
	if err == nil {
		s.kick()
	}
	return err
}

// armsTimer reports whether step of p waits for a delivery under a timer:
// it has a timeout and a step to fall back to.
func armsTimer(p *unify.Policy, step int) bool {
	return step < len(p.Steps)-1 && p.Steps[step].Timeout > 0
}

// liveAttempt returns attempt id of m if it is still the live one: the
// message's newest attempt, neither of them finished.
func liveAttempt(m *unify.Message, id unify.AttemptID) *unify.Attempt {
	n := len(m.Attempts)
	if n == 0 || m.Status.Final() {
		return nil
	}
	if a := &m.Attempts[n-1]; a.ID == id && !a.Status.Final() {
		return a
	}
	return nil
}

func derefAll(as []*unify.Attempt) []unify.Attempt {
	out := make([]unify.Attempt, len(as))
	for i, a := range as {
		out[i] = *a
	}
	return out
}

func kindLabel(kind error) string {
	switch {
	case errors.Is(kind, unify.ErrThrottled):
		return "throttled"
	case errors.Is(kind, unify.ErrTemporary):
		return "temporary"
	}
	return "other"
}
