package queue

import "container/heap"

// In-flight accounting: a queue counts its messages in flight (received,
// neither deleted nor visible again) so that a receive can check the
// limit without looking at every message. A received message is marked
// in flight and its visibility deadline pushed on q.expiry; settle pops
// the deadlines that have passed and unmarks the messages whose deadline
// it was (an entry whose time is no longer its message's deadline is
// stale: the message was received again or its visibility changed, and a
// newer entry stands for it). Everything here runs under q.mu.

// markInflight marks m, just received or given a new visibility
// deadline, in flight until m.visibleAt.
func (q *Queue) markInflight(m *msg) {
	if !m.inflight {
		m.inflight = true
		q.inflight++
	}
	if len(q.expiry) > 2*q.inflight+64 { // mostly stale entries; the rebuild includes m
		q.rebuildExpiry()
		return
	}
	heap.Push(&q.expiry, dueEntry{m: m, at: m.visibleAt, seq: m.seq})
}

// unmarkInflight is for a message leaving the queue.
func (q *Queue) unmarkInflight(m *msg) {
	if m.inflight {
		m.inflight = false
		q.inflight--
	}
}

// settleInflight unmarks the messages whose visibility deadline is at or
// before now.
func (q *Queue) settleInflight(now int64) {
	for len(q.expiry) > 0 && q.expiry[0].at <= now {
		e := heap.Pop(&q.expiry).(dueEntry)
		if e.m.inflight && !e.m.gone && e.m.visibleAt == e.at {
			q.unmarkInflight(e.m)
		}
	}
}

// rebuildExpiry fills q.expiry with the deadlines of the messages marked
// in flight.
func (q *Queue) rebuildExpiry() {
	q.expiry = q.expiry[:0]
	for _, m := range q.msgs {
		if m.inflight {
			q.expiry = append(q.expiry, dueEntry{m: m, at: m.visibleAt, seq: m.seq})
		}
	}
	heap.Init(&q.expiry)
}

// countInflight marks the messages in flight at now after a replay.
func (q *Queue) countInflight(now int64) {
	q.inflight = 0
	for _, m := range q.msgs {
		m.inflight = m.count > 0 && m.visibleAt > now
		if m.inflight {
			q.inflight++
		}
	}
	q.rebuildExpiry()
}

// inflightRoom is how many more messages may go in flight at now.
func (q *Queue) inflightRoom(now int64) int {
	q.settleInflight(now)
	limit := q.s.opts.Limits.MaxInFlight
	if q.fifo() {
		limit = q.s.opts.Limits.MaxInFlightFIFO
	}
	return limit - q.inflight
}
