package notify

import (
	"context"
	"slices"
	"time"

	"gateway/unify"
)

// Handing events over at commit. A claim rereads the head of the outbox,
// events in flight included, and rewrites the leases of what it takes: under
// load it was the store's busiest piece of work after the messages
// themselves. A store with one writer can do better: the transaction that
// adds an event asks Reserve whether this dispatcher will take it; if so the
// event is stored leased to this instance and, once committed, goes straight
// to a POST worker (Committed). Order per key holds because an event is
// reserved only when every undelivered event of its key is in memory here:
// the key had none in the store (asked inside the transaction), or its
// earlier events were themselves handed over. An event this dispatcher
// cannot take (a full queue, a key claimed from the store or one whose event
// failed) is stored unleased and claimed in order, as before.

// keyState is what the run holds of one key.
type keyState struct {
	busy      bool          // an event of the key is queued for a POST worker or being posted
	waiting   []claimed     // handed-over events behind it, oldest first
	reserved  []reservation // handed-over events whose transaction has not ended
	unsettled int           // events queued, posting, waiting or being recorded
	// open: every undelivered event of the key is in memory here, so the
	// next one may be handed over too. A claimed key is never open: later
	// events of it may be in the store.
	open   bool
	failed bool // an event of the key failed: what follows it goes back to the store
}

type reservation struct {
	id    string
	until time.Time
}

// reservation returns the index of id's reservation, or -1.
func (ks *keyState) reservation(id string) int {
	return slices.IndexFunc(ks.reserved, func(r reservation) bool { return r.id == id })
}

func (ks *keyState) unreserve(id string) (time.Time, bool) {
	i := ks.reservation(id)
	if i < 0 {
		return time.Time{}, false
	}
	until := ks.reserved[i].until
	ks.reserved = slices.Delete(ks.reserved, i, i+1)
	return until, true
}

// Reserve is asked, inside the transaction that adds ev, whether this
// dispatcher takes ev as soon as the transaction commits. When ok, the store
// keeps ev leased to owner until leaseUntil and must then call Committed or
// Abandoned with it. older reports whether the store holds an undelivered
// event of ev's key; it is asked only when the answer matters, and must see
// what the transaction sees. Reserve may be asked again for the same event
// (a transaction run twice); the answer stays yes until Abandoned.
func (d *Dispatcher) Reserve(ev unify.OutboxEvent, older func() (bool, error)) (owner string, leaseUntil time.Time, ok bool, err error) {
	r := d.current.Load()
	if r == nil {
		return "", time.Time{}, false, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return "", time.Time{}, false, nil
	}
	ks := r.keys[ev.Key]
	if ks != nil {
		if i := ks.reservation(ev.ID); i >= 0 {
			return d.cfg.Owner, ks.reserved[i].until, true, nil
		}
		if !ks.open || ks.failed {
			return "", time.Time{}, false, nil
		}
		if r.pending >= r.handoffLimit {
			// This event goes to the store unleased: the key's later
			// events must follow it there.
			ks.open = false
			return "", time.Time{}, false, nil
		}
	} else {
		clean := r.clean.Has(ev.Key)
		if r.pending >= r.handoffLimit {
			if clean {
				r.clean.Delete(ev.Key) // this event goes to the store unleased
			}
			return "", time.Time{}, false, nil
		}
		if !clean {
			waiting, err := older()
			if err != nil || waiting {
				return "", time.Time{}, false, err
			}
		}
		r.clean.Delete(ev.Key) // the key's state is in r.keys now
		ks = &keyState{open: true}
		r.keys[ev.Key] = ks
	}
	until := d.cfg.NowFunc().Add(d.cfg.Lease)
	ks.reserved = append(ks.reserved, reservation{id: ev.ID, until: until})
	r.pending++
	return d.cfg.Owner, until, true, nil
}

// Committed hands over the reserved events of a transaction that committed,
// in the order they were added. It never blocks.
func (d *Dispatcher) Committed(evs []unify.OutboxEvent) {
	var back []int64
	r := d.current.Load()
	if r == nil {
		for _, ev := range evs {
			back = append(back, ev.Seq)
		}
		d.handBack(nil, back)
		return
	}
	r.mu.Lock()
	for _, ev := range evs {
		ks := r.keys[ev.Key]
		var until time.Time
		found := false
		if ks != nil {
			until, found = ks.unreserve(ev.ID)
		}
		switch {
		case !found:
			// Reserved by an earlier Run.
			back = append(back, ev.Seq)
			continue
		case r.stopped || ks.failed:
			r.pending--
			back = append(back, ev.Seq)
		case ks.busy:
			ks.unsettled++
			ks.waiting = append(ks.waiting, claimed{ev: ev, leaseUntil: until})
			d.metrics.handedOver.Inc()
		default:
			ks.unsettled++
			ks.busy = true
			r.queue <- claimed{ev: ev, leaseUntil: until} // never blocks: see claimSlots
			d.metrics.handedOver.Inc()
		}
		r.forgetIfIdle(ev.Key, ks)
	}
	stopped := r.stopped
	r.mu.Unlock()
	if stopped {
		r = nil // Run may be past waiting for its hand-backs
	}
	d.handBack(r, back)
}

// Abandoned releases the reservations of a transaction that rolled back.
func (d *Dispatcher) Abandoned(evs []unify.OutboxEvent) {
	r := d.current.Load()
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ev := range evs {
		if ks := r.keys[ev.Key]; ks != nil {
			if _, found := ks.unreserve(ev.ID); found {
				r.pending--
				r.forgetIfIdle(ev.Key, ks)
			}
		}
	}
}

// finish ends the POST of key's current event and starts the key's next
// event in memory, if it may go: after a failure it may not (it waits in the
// store behind the failed one), nor once Run is ending.
func (r *run) finish(key string, ok bool) {
	r.mu.Lock()
	ks := r.keys[key]
	ks.busy = false
	var back []int64
	if ok && !r.stopped && len(ks.waiting) > 0 {
		ks.busy = true
		r.queue <- ks.waiting[0] // never blocks: see claimSlots
		ks.waiting = slices.Delete(ks.waiting, 0, 1)
	} else if len(ks.waiting) > 0 {
		for _, c := range ks.waiting {
			back = append(back, c.ev.Seq)
		}
		ks.unsettled -= len(ks.waiting)
		r.pending -= len(ks.waiting)
		ks.waiting = nil
	}
	if !ok {
		ks.failed = true
		ks.open = false
	}
	r.mu.Unlock()
	r.d.handBack(r, back)
}

// forgetIfIdle drops key once nothing of it is left in memory. A key that
// was open has all its events delivered: its next one needs no question to
// the store. One that was not may have its next event in the store: a claim
// looks for it. r.mu is held.
func (r *run) forgetIfIdle(key string, ks *keyState) {
	if ks.unsettled > 0 || len(ks.reserved) > 0 {
		return
	}
	delete(r.keys, key)
	if ks.open {
		r.clean.Put(key, struct{}{})
	} else {
		r.setBacklog()
	}
}

// NewKey records that key has no event in the store and will get its first
// through Reserve, which then need not ask the store.
func (d *Dispatcher) NewKey(key string) {
	if r := d.current.Load(); r != nil {
		r.mu.Lock()
		r.clean.Put(key, struct{}{})
		r.mu.Unlock()
	}
}

// cleanKeysKept bounds each generation of run.clean: the messages of a few
// seconds at full speed, a few hundred kilobytes. A key forgotten costs its
// next event one question to the store.
const cleanKeysKept = 1 << 14

// stop ends the hand-overs and closes the queue: what is handed over from
// now on goes back to the store.
func (r *run) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped = true
	close(r.queue)
}

// handBack releases the leases of events that were handed over and will not
// be posted by this run, so that a claim (here or in another instance) takes
// them in order. It does not wait: Committed runs on the store's writer,
// which the release itself needs; Run waits for the releases of r (nil:
// none to wait for). Should one fail, its events come back when their
// leases run out.
func (d *Dispatcher) handBack(r *run, seqs []int64) {
	if len(seqs) == 0 {
		return
	}
	release := func() {
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		defer cancel()
		if err := d.store.ReleaseEvents(ctx, d.cfg.Owner, seqs...); err != nil {
			d.log.Warn("notify: handing events back failed; they will be sent after their lease", "events", len(seqs), "err", err)
		}
		d.Wake()
	}
	if r == nil {
		go release()
		return
	}
	r.handing.Go(release)
}
