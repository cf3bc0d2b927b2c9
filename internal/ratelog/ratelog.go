// Package ratelog writes repetitive warnings at most once per interval, and
// counts the ones held back so that the next line written tells how many.
package ratelog

import (
	"fmt"
	"sync"
	"time"
)

// Limiter writes warnings through its output at most once per interval;
// those in between are counted and the count is told with the next one
// written (or by Flush). It is safe for concurrent use.
type Limiter struct {
	out   func(msg string)
	every time.Duration

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// New returns a Limiter that hands each line to out (one line, without a
// newline) at most once per every.
func New(out func(msg string), every time.Duration) *Limiter {
	return &Limiter{out: out, every: every}
}

// Printf writes a warning, or counts it when one was written less than
// every ago.
func (l *Limiter) Printf(format string, args ...any) {
	if l == nil || l.out == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if !l.last.IsZero() && now.Sub(l.last) < l.every {
		l.suppressed++
		return
	}
	l.last = now
	msg := fmt.Sprintf(format, args...)
	if l.suppressed > 0 {
		msg += fmt.Sprintf(" (and %d more since the last report)", l.suppressed)
		l.suppressed = 0
	}
	l.out(msg)
}

// Flush tells the count of warnings held back since the last one written,
// as "N more WHAT since the last report".
func (l *Limiter) Flush(what string) {
	if l == nil || l.out == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.suppressed > 0 {
		l.out(fmt.Sprintf("%d more %s since the last report", l.suppressed, what))
		l.suppressed = 0
	}
}
