package connectors

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// Limiter writes warnings at most once per interval; those in between are
// counted and the count is told with the next one written (or by flush).
type Limiter struct {
	mu         sync.Mutex
	w          io.Writer
	every      time.Duration
	last       time.Time
	suppressed int
}

// NewLimiter returns a Limiter writing to w at most once per every.
func NewLimiter(w io.Writer, every time.Duration) *Limiter { return &Limiter{w: w, every: every} }

// Printf writes a warning, or counts it when one was written less than
// every ago.
func (l *Limiter) Printf(format string, args ...any) {
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
	fmt.Fprintf(l.w, "sluice: %s\n", msg)
}

// Flush tells the count of warnings suppressed since the last one written.
func (l *Limiter) Flush(what string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.suppressed > 0 {
		fmt.Fprintf(l.w, "sluice: %d more %s since the last report\n", l.suppressed, what)
		l.suppressed = 0
	}
}
