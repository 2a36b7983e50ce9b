// Package recency keeps what was seen lately, within a bound, without
// tracking each entry's age: entries live in two generations, and when the
// newer one is full the older one is dropped whole.
package recency

// Map holds the entries put lately: every entry outlives at least perGen
// puts after its own, and the map never holds more than 2×perGen. It is not
// safe for concurrent use.
type Map[K comparable, V any] struct {
	perGen   int
	cur, old map[K]V
}

// New returns an empty Map whose generations hold perGen entries each.
func New[K comparable, V any](perGen int) *Map[K, V] {
	return &Map[K, V]{perGen: max(perGen, 1), cur: map[K]V{}}
}

// Put stores v under k, in place of what an older generation held under k.
func (m *Map[K, V]) Put(k K, v V) {
	if len(m.cur) >= m.perGen {
		// Sized for a fraction: most entries are taken back soon after.
		m.old, m.cur = m.cur, make(map[K]V, m.perGen/8)
	}
	delete(m.old, k)
	m.cur[k] = v
}

// Has reports whether k is held.
func (m *Map[K, V]) Has(k K) bool {
	_, in := m.cur[k]
	if !in {
		_, in = m.old[k]
	}
	return in
}

// Take returns what k holds and forgets it.
func (m *Map[K, V]) Take(k K) (V, bool) {
	if v, ok := m.cur[k]; ok {
		delete(m.cur, k)
		return v, true
	}
	v, ok := m.old[k]
	delete(m.old, k)
	return v, ok
}

// Delete forgets k.
func (m *Map[K, V]) Delete(k K) {
	delete(m.cur, k)
	delete(m.old, k)
}
