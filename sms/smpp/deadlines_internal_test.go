package smpp

import (
	"net"
	"testing"
	"time"
)

// deadlineLog is a connection that records the deadlines passed on to it.
type deadlineLog struct {
	net.Conn
	read, write []time.Time
}

func (d *deadlineLog) SetReadDeadline(t time.Time) error  { d.read = append(d.read, t); return nil }
func (d *deadlineLog) SetWriteDeadline(t time.Time) error { d.write = append(d.write, t); return nil }
func (d *deadlineLog) SetDeadline(t time.Time) error {
	d.read, d.write = append(d.read, t), append(d.write, t)
	return nil
}

func TestCoarseDeadlines(t *testing.T) {
	t.Parallel()
	now := time.Now()
	in := func(d time.Duration) time.Time { return now.Add(d) }
	for _, tc := range []struct {
		name   string
		set    []time.Time
		passed []int // indexes of set passed on
	}{
		{"the first", []time.Time{in(time.Hour)}, []int{0}},
		{"a little later is kept back", []time.Time{in(time.Hour), in(time.Hour + time.Minute)}, []int{0}},
		{"over an eighth later is passed on", []time.Time{in(time.Hour), in(time.Hour + 10*time.Minute)}, []int{0, 1}},
		{"earlier is passed on", []time.Time{in(time.Hour), in(time.Hour - time.Second)}, []int{0, 1}},
		{"none is passed on", []time.Time{in(time.Hour), {}, in(time.Hour)}, []int{0, 1, 2}},
		{"one that has passed is replaced", []time.Time{in(-time.Second), in(time.Second)}, []int{0, 1}},
		{"many small steps add up", []time.Time{in(time.Hour), in(time.Hour + 5*time.Minute), in(time.Hour + 10*time.Minute)}, []int{0, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, write := range []bool{false, true} {
				log := &deadlineLog{}
				c := &coarseDeadlines{Conn: log}
				for _, d := range tc.set {
					if write {
						_ = c.SetWriteDeadline(d)
					} else {
						_ = c.SetReadDeadline(d)
					}
				}
				got := log.read
				if write {
					got = log.write
				}
				if len(got) != len(tc.passed) {
					t.Fatalf("write %v: passed on %v, want the deadlines %v of %v", write, got, tc.passed, tc.set)
				}
				for i, k := range tc.passed {
					if !got[i].Equal(tc.set[k]) {
						t.Fatalf("write %v: passed on %v, want the deadlines %v of %v", write, got, tc.passed, tc.set)
					}
				}
			}
		})
	}
	// SetDeadline passes on both, and a later read deadline close to it is
	// then kept back.
	log := &deadlineLog{}
	c := &coarseDeadlines{Conn: log}
	_ = c.SetDeadline(in(time.Hour))
	_ = c.SetReadDeadline(in(time.Hour + time.Minute))
	if len(log.read) != 1 || len(log.write) != 1 {
		t.Fatalf("read %v, write %v: want the one SetDeadline each", log.read, log.write)
	}
}
