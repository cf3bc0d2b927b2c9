package runtime

import (
	"container/heap"
	"time"
)

// timerQueue holds the processing-time timers of one subtask's operators.
type timerQueue struct {
	h   timerHeap
	set map[timerKey]struct{}
	t   *time.Timer
}

type timerKey struct {
	at int64
	n  *node
}

type timerHeap []timerKey

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h timerHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)        { *h = append(*h, x.(timerKey)) }
func (h *timerHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (q *timerQueue) add(at int64, n *node) {
	if q.set == nil {
		q.set = make(map[timerKey]struct{})
	}
	k := timerKey{at, n}
	if _, ok := q.set[k]; ok {
		return
	}
	q.set[k] = struct{}{}
	heap.Push(&q.h, k)
}

// channel returns a channel that fires when the earliest timer is due, or
// nil when there is none.
func (q *timerQueue) channel(now int64) <-chan time.Time {
	if len(q.h) == 0 {
		return nil
	}
	d := time.Duration(q.h[0].at-now) * time.Millisecond
	if d < 0 {
		d = 0
	}
	if q.t == nil {
		q.t = time.NewTimer(d)
	} else {
		q.t.Reset(d)
	}
	return q.t.C
}

// due pops the timers due at now.
func (q *timerQueue) due(now int64, fn func(timerKey) error) error {
	for len(q.h) > 0 && q.h[0].at <= now {
		k := heap.Pop(&q.h).(timerKey)
		delete(q.set, k)
		if err := fn(k); err != nil {
			return err
		}
	}
	return nil
}

func (q *timerQueue) stop() {
	if q.t != nil {
		q.t.Stop()
	}
}
