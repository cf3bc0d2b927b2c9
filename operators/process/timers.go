package process

import "container/heap"

// timerService holds the timers of one time domain of one subtask: a set
// of (timestamp, key) — registering one twice is one timer — and a heap
// ordered by timestamp, then key. Deleting removes from the set only; the
// heap skips what the set no longer holds.
type timerService struct {
	h   timerHeap
	set map[timerID]int32 // → key group
}

type timerID struct {
	ts  int64
	key string
}

type timer struct {
	timerID
	kg int32
}

type timerHeap []timer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if h[i].ts != h[j].ts {
		return h[i].ts < h[j].ts
	}
	return h[i].key < h[j].key
}
func (h timerHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)   { *h = append(*h, x.(timer)) }
func (h *timerHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = timer{}
	*h = old[:len(old)-1]
	return x
}

// add registers a timer; it reports whether it was new.
func (s *timerService) add(ts int64, key string, kg int) bool {
	if s.set == nil {
		s.set = make(map[timerID]int32)
	}
	id := timerID{ts, key}
	if _, ok := s.set[id]; ok {
		return false
	}
	s.set[id] = int32(kg)
	heap.Push(&s.h, timer{id, int32(kg)})
	return true
}

// remove deletes a timer if registered.
func (s *timerService) remove(ts int64, key string) {
	id := timerID{ts, key}
	if _, ok := s.set[id]; !ok {
		return
	}
	delete(s.set, id)
	// Deleted timers stay in the heap until popped; rebuild when they
	// outnumber the live ones.
	if len(s.h) > 64 && len(s.h) > 2*len(s.set) {
		s.h = s.h[:0]
		for id, kg := range s.set {
			s.h = append(s.h, timer{id, kg})
		}
		heap.Init(&s.h)
	}
}

// next pops the earliest registered timer at or before limit.
func (s *timerService) next(limit int64) (timer, bool) {
	for len(s.h) > 0 && s.h[0].ts <= limit {
		t := heap.Pop(&s.h).(timer)
		if _, ok := s.set[t.timerID]; !ok {
			continue // deleted, or a copy of one already fired
		}
		delete(s.set, t.timerID)
		return t, true
	}
	return timer{}, false
}

// len is the number of registered timers.
func (s *timerService) len() int { return len(s.set) }
