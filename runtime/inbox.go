package runtime

import (
	"sync"
	"time"
)

// inbox is the input of one subtask: one lane per upstream channel
// (input × upstream subtask). Each lane is bounded by rows, so a slow
// consumer backpressures exactly the producers that feed it, and a lane can
// be blocked on its own (barrier alignment) while the others flow.
//
// Producers call push; the single consumer calls take, which drains every
// unblocked lane at once (one lock per drain, not per message).
type inbox struct {
	mu    sync.Mutex
	lanes []*lane
	wake  chan struct{} // consumer wake-up, capacity 1
	done  <-chan struct{}
}

type lane struct {
	input   int // logical input of the operator (0 or 1)
	msgs    []Message
	rows    int
	limit   int
	blocked bool          // consumer does not take from it (barrier alignment)
	space   chan struct{} // producer wake-up, capacity 1
}

func newInbox(done <-chan struct{}) *inbox {
	return &inbox{wake: make(chan struct{}, 1), done: done}
}

func (ib *inbox) addLane(input, limitRows int) int {
	ib.lanes = append(ib.lanes, &lane{input: input, limit: limitRows, space: make(chan struct{}, 1)})
	return len(ib.lanes) - 1
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// push appends m to lane l, waiting while the lane holds limit rows or more.
// It returns false when the job is stopping. The time it waits is added
// to the backpressured time of clk (nil: not measured); the wall clock is
// read only when it must wait.
func (ib *inbox) push(l int, m Message, clk *taskClock) bool {
	ln := ib.lanes[l]
	n := m.rows()
	ib.mu.Lock()
	for ln.rows > 0 && ln.rows+n > ln.limit {
		ib.mu.Unlock()
		t0 := time.Now()
		select {
		case <-ln.space:
		case <-ib.done:
			clk.addBackpressured(time.Since(t0))
			return false
		}
		clk.addBackpressured(time.Since(t0))
		ib.mu.Lock()
	}
	ln.msgs = append(ln.msgs, m)
	ln.rows += n
	ib.mu.Unlock()
	signal(ib.wake)
	return true
}

// pending is one drained lane.
type pending struct {
	lane int
	msgs []Message
}

// take moves the messages of every unblocked lane into out (reusing its
// slices) and returns it. It does not wait; the consumer waits on ib.wake.
func (ib *inbox) take(out []pending) []pending {
	out = out[:0]
	ib.mu.Lock()
	for i, ln := range ib.lanes {
		if ln.blocked || len(ln.msgs) == 0 {
			continue
		}
		var buf []Message
		if len(out) < cap(out) {
			buf = out[:len(out)+1][len(out)].msgs[:0]
		}
		// Swap the lane's slice with the spare one.
		msgs := ln.msgs
		ln.msgs = buf
		ln.rows = 0
		out = append(out, pending{lane: i, msgs: msgs})
		signal(ln.space)
	}
	ib.mu.Unlock()
	return out
}

// setBlocked blocks or unblocks lane l. Messages already taken are not
// affected; the caller re-queues what it must not process yet with unread.
func (ib *inbox) setBlocked(l int, blocked bool) {
	ib.mu.Lock()
	ib.lanes[l].blocked = blocked
	ib.mu.Unlock()
	if !blocked {
		signal(ib.wake)
	}
}

// unread puts msgs back at the front of lane l (used when a barrier arrives
// in the middle of a drained slice).
func (ib *inbox) unread(l int, msgs []Message) {
	if len(msgs) == 0 {
		return
	}
	ib.mu.Lock()
	ln := ib.lanes[l]
	rows := 0
	for i := range msgs {
		rows += msgs[i].rows()
	}
	ln.msgs = append(append(make([]Message, 0, len(msgs)+len(ln.msgs)), msgs...), ln.msgs...)
	ln.rows += rows
	ib.mu.Unlock()
}

// discard releases every queued batch (after the job stopped).
func (ib *inbox) discard() {
	ib.mu.Lock()
	defer ib.mu.Unlock()
	for _, ln := range ib.lanes {
		for _, m := range ln.msgs {
			if m.Kind == MsgBatch {
				m.Batch.Release()
			}
		}
		ln.msgs = nil
		ln.rows = 0
	}
}
