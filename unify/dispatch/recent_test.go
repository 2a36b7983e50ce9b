package dispatch

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRecentSendsKeepsTheLatestAndGivesEachOnce(t *testing.T) {
	t.Parallel()
	r := newRecentSends(8) // generations of 4
	states := map[string]*sentState{}
	for i := range 10 {
		ref := fmt.Sprint(i)
		states[ref] = &sentState{}
		r.put("sim", ref, states[ref])
	}
	// 0–3 filled the first generation, 4–7 the second, 8 started a third:
	// the first was dropped.
	for i := range 4 {
		require.Nil(t, r.take("sim", fmt.Sprint(i)), "sent %d sends ago", 10-i)
	}
	for i := 4; i < 10; i++ {
		ref := fmt.Sprint(i)
		require.Same(t, states[ref], r.take("sim", ref))
		require.Nil(t, r.take("sim", ref), "a state is taken once")
	}
	require.Nil(t, r.take("other", "9"), "carriers have ids of their own")

	// A recycled id means the newer send, whichever generation holds the
	// older one.
	older, newer := &sentState{}, &sentState{}
	r.put("sim", "x", older)
	for i := range 4 {
		r.put("sim", fmt.Sprint("y", i), &sentState{})
	}
	r.put("sim", "x", newer)
	require.Same(t, newer, r.take("sim", "x"))
	require.Nil(t, r.take("sim", "x"))
}
