package sns

import (
	"context"
	"errors"
	"sync"
)

// errQueueFull is push's answer when the queue holds its limit of bytes.
var errQueueFull = errors.New("subscription queue full")

// queue is a FIFO of notifications, bounded by bytes: a subscription's
// delivery queue, or its queue of overflow on the way to the dead-letter
// target. push never waits: it refuses what does not fit. The consuming
// goroutine takes everything queued at once. pending counts what is queued
// or being handled, so that wait (Flush) returns only when it is all done.
type queue struct {
	limit int

	mu      sync.Mutex
	items   []*notification
	bytes   int
	pending int
	closed  bool
	idle    []chan struct{} // closed when pending drops to 0

	ready chan struct{} // one token: items were pushed, or the queue closed
}

func newQueue(limit int) *queue {
	return &queue{limit: limit, ready: make(chan struct{}, 1)}
}

// push appends n, or fails with errQueueFull when it does not fit (a
// notification bigger than the limit goes into an empty queue), or with
// ErrClosed once the queue is closed. It never blocks on the consumer.
func (q *queue) push(n *notification) error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return ErrClosed
	}
	if q.bytes > 0 && q.bytes+n.size() > q.limit {
		q.mu.Unlock()
		return errQueueFull
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
// whether the queue is closed. The caller owns the returned slice. The
// bytes taken stay counted until done releases them, so that the queue
// and what its goroutine holds stay within the limit.
func (q *queue) take() ([]*notification, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	items := q.items
	q.items = nil
	return items, q.closed
}

// done marks n handled (delivered or dead-lettered) and releases its bytes.
func (q *queue) done(n *notification) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.bytes -= n.size()
	q.pending--
	if q.pending == 0 {
		for _, c := range q.idle {
			close(c)
		}
		q.idle = nil
	}
}

// close refuses further pushes and wakes the consuming goroutine. It
// returns the number of notifications pending.
func (q *queue) close() int {
	q.mu.Lock()
	q.closed = true
	n := q.pending
	q.mu.Unlock()
	q.signal()
	return n
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
