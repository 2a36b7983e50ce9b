package notify

import (
	"fmt"
	"sync"
	"testing"
)

// The reused HMAC states sign as a fresh one does, from any goroutine.
func TestSignerAgreesWithSign(t *testing.T) {
	t.Parallel()
	s := newSigner("s3cret")
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				body := fmt.Appendf(nil, `{"id":"evt_%d_%d","pad":"%*s"}`, g, i, i, "")
				if want, got := Sign("s3cret", body), s.sign(body); got != want {
					t.Errorf("%s: signed %s, want %s", body, got, want)
				}
			}
		})
	}
	wg.Wait()
}
