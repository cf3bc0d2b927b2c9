package triggers

import (
	"time"
)

// Stats are a trigger's figures since it started, for a console.
type Stats struct {
	Invocations, Records, Errors, Throttles int64
	// FailedBatches are the batches given up on (a stream) or left for
	// redelivery (a queue).
	FailedBatches int64
	// IteratorAgeMs is the largest iterator age over partitions (a
	// queue: the age of the oldest message of its latest batch); -1
	// before the first invocation.
	IteratorAgeMs int64
	// Visible and InFlight are a queue's messages (nil on a stream).
	Visible, InFlight *int64
	LastError         string
	LastErrorAt       time.Time
}

// Stats returns the trigger's figures so far. It is safe to call while
// the trigger runs.
func (t *Trigger) Stats() Stats {
	m := t.m
	s := Stats{Invocations: int64(m.invocations.Get()), Records: int64(m.records.Get()), Errors: int64(m.errors.Get()),
		Throttles: int64(m.throttles.Get()), FailedBatches: int64(m.failed.Get()), IteratorAgeMs: -1}
	m.ageMu.Lock()
	if s.Invocations > 0 {
		for _, a := range m.age {
			s.IteratorAgeMs = max(s.IteratorAgeMs, a)
		}
	}
	s.LastError, s.LastErrorAt = m.lastError, m.lastErrorAt
	m.ageMu.Unlock()
	if t.c.Queue != nil {
		v, f := m.visible.Load(), m.inFlight.Load()
		s.Visible, s.InFlight = &v, &f
	}
	return s
}

// noteError keeps err as the trigger's last error.
func (m *triggerMetrics) noteError(err error) {
	if err == nil {
		return
	}
	m.ageMu.Lock()
	m.lastError, m.lastErrorAt = err.Error(), time.Now()
	m.ageMu.Unlock()
}
