package dispatch

import (
	"sync"
	"time"

	"gateway/internal/recency"
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
// instance. Of two generations, the older is dropped when the newer is full
// (sends still waiting for a receipt after as many newer ones). A recycled
// id means the newer send.
type recentSends struct {
	mu    sync.Mutex
	sends *recency.Map[recentKey, *sentState]
}

type recentKey struct{ carrier, ref string }

func newRecentSends(max int) *recentSends {
	return &recentSends{sends: recency.New[recentKey, *sentState](max / 2)}
}

func (r *recentSends) put(carrier, ref string, st *sentState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sends.Put(recentKey{carrier, ref}, st)
}

// take returns and forgets the state of a send: a receipt uses it once.
func (r *recentSends) take(carrier, ref string) *sentState {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, _ := r.sends.Take(recentKey{carrier, ref})
	return st
}
