// Package ratelog writes repetitive warnings at most once per interval, and
// counts the ones held back so that the next line written tells how many.
package ratelog

import (
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Limiter writes warnings at most once per interval; those in between are
// counted and the count is told with the next one written (or by Flush).
// The output is the function given to New (Printf, Flush) or a logger given
// with each warning (Warn, WarnFlush), so that one limiter shared by the
// subtasks of a table writes each line with the logger of the subtask that
// has something to say. It is safe for concurrent use.
type Limiter struct {
	out   func(msg string)
	every time.Duration

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// New returns a Limiter that hands each line to out (one line, without a
// newline) at most once per every; out may be nil for a Limiter used only
// with Warn and WarnFlush.
func New(out func(msg string), every time.Duration) *Limiter {
	return &Limiter{out: out, every: every}
}

// Printf writes a warning to the output given to New, or counts it when
// one was written less than every ago.
func (l *Limiter) Printf(format string, args ...any) {
	if l == nil || l.out == nil {
		return
	}
	l.printf(l.out, format, args...)
}

// Flush tells the count of warnings held back since the last one written,
// as "N more WHAT since the last report", to the output given to New.
func (l *Limiter) Flush(what string) {
	if l == nil || l.out == nil {
		return
	}
	l.flush(l.out, what)
}

// Warn is Printf writing through log at level Warn (a nil log: nothing is
// written).
func (l *Limiter) Warn(log *slog.Logger, format string, args ...any) {
	if l == nil || log == nil {
		return
	}
	l.printf(func(msg string) { log.Warn(msg) }, format, args...)
}

// WarnFlush is Flush writing through log at level Warn.
func (l *Limiter) WarnFlush(log *slog.Logger, what string) {
	if l == nil || log == nil {
		return
	}
	l.flush(func(msg string) { log.Warn(msg) }, what)
}

func (l *Limiter) printf(out func(string), format string, args ...any) {
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
	out(msg)
}

func (l *Limiter) flush(out func(string), what string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.suppressed > 0 {
		out(fmt.Sprintf("%d more %s since the last report", l.suppressed, what))
		l.suppressed = 0
	}
}
