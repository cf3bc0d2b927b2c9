package sns

import (
	"context"
	"sync"
)

// queue is a subscription's FIFO of notifications, bounded by bytes. push
// blocks while it is full; the subscription's goroutine takes everything
// queued at once. pending counts what is queued or being delivered, so that
// wait (Flush) returns only when it is all done.
type queue struct {
	limit int

	mu      sync.Mutex
	space   *sync.Cond // signalled when bytes go down or the queue closes
	items   []*notification
	bytes   int
	pending int
	closed  bool
	idle    []chan struct{} // closed when pending drops to 0

	ready chan struct{} // one token: items were pushed, or the queue closed
}

func newQueue(limit int) *queue {
	q := &queue{limit: limit, ready: make(chan struct{}, 1)}
	q.space = sync.NewCond(&q.mu)
	return q
}

// push appends n, waiting while the queue is full (a notification bigger
// than the limit goes into an empty queue). It fails once the queue is
// closed.
func (q *queue) push(n *notification) error {
	q.mu.Lock()
	for !q.closed && q.bytes > 0 && q.bytes+n.size() > q.limit {
		q.space.Wait()
	}
	if q.closed {
		q.mu.Unlock()
		return ErrClosed
	}
	q.items = append(q.items, n)
	q.bytes += n.size()
	q.pending++
	q.mu.Unlock()
	q.signal()
	return nil
}

func (q *queue) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// take returns everything queued, in order (nil when it is empty), and
// whether the queue is closed. The caller owns the returned slice.
func (q *queue) take() ([]*notification, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	items := q.items
	q.items = nil
	if q.bytes > 0 {
		q.bytes = 0
		q.space.Broadcast()
	}
	return items, q.closed
}

// done marks n notifications delivered or dead-lettered.
func (q *queue) done(n int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.pending -= n
	if q.pending == 0 {
		for _, c := range q.idle {
			close(c)
		}
		q.idle = nil
	}
}

// close refuses further pushes and wakes the blocked ones and the
// subscription's goroutine.
func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.space.Broadcast()
	q.mu.Unlock()
	q.signal()
}

// wait returns when nothing is pending, or with ctx's error.
func (q *queue) wait(ctx context.Context) error {
	q.mu.Lock()
	if q.pending == 0 {
		q.mu.Unlock()
		return nil
	}
	c := make(chan struct{})
	q.idle = append(q.idle, c)
	q.mu.Unlock()
	select {
	case <-c:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
