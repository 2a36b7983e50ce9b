package recency

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMapKeepsTwoGenerations(t *testing.T) {
	t.Parallel()
	m := New[int, string](3)
	for i := range 7 {
		m.Put(i, "v")
	}
	// 0–2 filled the first generation, 3–5 the second, 6 started a third.
	for i := range 3 {
		require.False(t, m.Has(i), "%d dropped with its generation", i)
	}
	for i := 3; i < 7; i++ {
		require.True(t, m.Has(i))
	}
	v, ok := m.Take(4)
	require.True(t, ok)
	require.Equal(t, "v", v)
	_, ok = m.Take(4)
	require.False(t, ok, "taken once")
	m.Delete(6)
	require.False(t, m.Has(6))

	// A key put again is held once, with its newer value, in whichever
	// generation that value moves to.
	m.Put(3, "newer")
	for i := range 3 {
		m.Put(10+i, "v") // the generation holding "newer" becomes the older
	}
	v, ok = m.Take(3)
	require.True(t, ok)
	require.Equal(t, "newer", v)
	require.False(t, m.Has(3))
}
