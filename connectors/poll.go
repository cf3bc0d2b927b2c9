package connectors

import (
	"context"
	"time"
)

// Pacer paces a source that samples at a fixed interval (host metrics, a
// simulated fleet) without holding up Poll: Due waits at most MaxWait for
// the next sample time. A pacer that has fallen behind skips samples
// rather than bursting to catch up.
type Pacer struct {
	Interval time.Duration
	next     time.Time
}

// MaxWait bounds how long Due blocks, so that the runtime's timers and
// barriers are not held up.
const MaxWait = 50 * time.Millisecond

// Due reports whether a sample is due now, waiting up to MaxWait for it,
// and if so schedules the next one. The first call is due at once.
func (p *Pacer) Due(ctx context.Context) (now time.Time, due bool, err error) {
	if p.next.IsZero() {
		p.next = time.Now()
	}
	if d := time.Until(p.next); d > 0 {
		t := time.NewTimer(min(d, MaxWait))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return time.Time{}, false, ctx.Err()
		}
		if time.Now().Before(p.next) {
			return time.Time{}, false, nil
		}
	}
	now = time.Now()
	p.next = p.next.Add(p.Interval)
	if p.next.Before(now) {
		p.next = now.Add(p.Interval)
	}
	return now, true, nil
}

// Sleeper waits on one timer it reuses, for a source that paces its rows
// inside Poll (datagen's rows-per-second, nexmark's event rate). The zero
// value is ready; Stop releases the timer.
type Sleeper struct{ t *time.Timer }

// Sleep waits d, or until ctx ends.
func (s *Sleeper) Sleep(ctx context.Context, d time.Duration) {
	if s.t == nil {
		s.t = time.NewTimer(d)
	} else {
		s.t.Reset(d)
	}
	select {
	case <-ctx.Done():
		s.t.Stop()
	case <-s.t.C:
	}
}

// Stop stops the timer, if any.
func (s *Sleeper) Stop() {
	if s.t != nil {
		s.t.Stop()
	}
}

// Receive takes the next value from ch, waiting at most wait for it on t, a
// stopped timer the caller owns (sources poll their reader goroutines this
// way without holding up the runtime). ok is false when nothing came in
// time; err is ctx's when it ended first.
func Receive[T any](ctx context.Context, ch <-chan T, t *time.Timer, wait time.Duration) (v T, ok bool, err error) {
	select {
	case v = <-ch:
		return v, true, nil
	default:
	}
	t.Reset(wait)
	select {
	case v = <-ch:
		t.Stop()
		return v, true, nil
	case <-t.C:
		return v, false, nil
	case <-ctx.Done():
		t.Stop()
		return v, false, ctx.Err()
	}
}
