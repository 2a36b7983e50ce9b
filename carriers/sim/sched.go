package sim

import (
	"container/heap"
	"sync"
	"time"
)

// sched runs short, non-blocking tasks at given times on one goroutine, so
// that receipts, redeliveries and deliver_sm timeouts at thousands per second
// do not each cost a timer goroutine.
type sched struct {
	mu   sync.Mutex
	h    taskHeap
	seq  uint64
	wake chan struct{}
}

type task struct {
	at  time.Time
	seq uint64 // FIFO among equal times
	f   func()
}

type taskHeap []task

func (h taskHeap) Len() int { return len(h) }
func (h taskHeap) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].seq < h[j].seq
	}
	return h[i].at.Before(h[j].at)
}
func (h taskHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *taskHeap) Push(x any)   { *h = append(*h, x.(task)) }
func (h *taskHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = task{}
	*h = old[:len(old)-1]
	return t
}

func newSched() *sched { return &sched{wake: make(chan struct{}, 1)} }

// after runs f after d (d <= 0: as soon as possible).
func (s *sched) after(d time.Duration, f func()) {
	s.mu.Lock()
	s.seq++
	heap.Push(&s.h, task{at: time.Now().Add(d), seq: s.seq, f: f})
	first := s.h[0].seq == s.seq
	s.mu.Unlock()
	if first {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// run executes due tasks until stop is closed.
func (s *sched) run(stop <-chan struct{}) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.mu.Lock()
		var (
			f    func()
			wait = time.Hour
		)
		if len(s.h) > 0 {
			if d := time.Until(s.h[0].at); d <= 0 {
				f = heap.Pop(&s.h).(task).f
			} else {
				wait = d
			}
		}
		s.mu.Unlock()
		if f != nil {
			f()
			select {
			case <-stop:
				return
			default:
			}
			continue
		}
		timer.Reset(wait)
		select {
		case <-stop:
			return
		case <-s.wake:
		case <-timer.C:
		}
	}
}
