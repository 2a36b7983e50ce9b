package dispatch

import (
	"sync"
	"time"

	"gateway/unify"
)

// sentState is what this instance stored when it sent a single-part
// attempt: the message's head and the attempt as committed, at. The
// receipt that usually follows within seconds starts from it instead of
// reading the message, its attempts and the parts back (four lookups, a
// fifth of the writer's time per message); its first write checks that the
// store still holds the attempt so (see applyKnownReceipt).
type sentState struct {
	head    unify.Message
	attempt unify.Attempt
	at      time.Time
}

// recentSends remembers the sentState of the latest sends by (carrier,
// carrier message id), up to a bound: a receipt that comes after its entry
// was dropped takes the general way, as after a restart or on another
// instance. Two generations: when the newer one is full, the older one is
// dropped (sends still waiting for a receipt after as many newer ones) and
// the newer one becomes the older.
type recentSends struct {
	mu         sync.Mutex
	perGen     int
	cur, older map[recentKey]*sentState
}

type recentKey struct{ carrier, ref string }

func newRecentSends(max int) *recentSends {
	return &recentSends{perGen: max / 2, cur: map[recentKey]*sentState{}}
}

func (r *recentSends) put(carrier, ref string, st *sentState) {
	k := recentKey{carrier, ref}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.cur) >= r.perGen {
		r.older, r.cur = r.cur, make(map[recentKey]*sentState, r.perGen/8)
	}
	delete(r.older, k) // a recycled id: the newer send is the one receipts mean
	r.cur[k] = st
}

// take returns and forgets the state of a send: a receipt uses it once.
func (r *recentSends) take(carrier, ref string) *sentState {
	k := recentKey{carrier, ref}
	r.mu.Lock()
	defer r.mu.Unlock()
	if st, ok := r.cur[k]; ok {
		delete(r.cur, k)
		return st
	}
	st := r.older[k]
	delete(r.older, k)
	return st
}
