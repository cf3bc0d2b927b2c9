package connectors

import (
	"context"
	"time"

	"github.com/sluicehq/sluice/runtime"
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
		start := time.Now()
		select {
		case <-t.C:
			runtime.Waited(ctx, time.Since(start))
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
	start := time.Now()
	select {
	case v = <-ch:
		t.Stop()
		runtime.Waited(ctx, time.Since(start))
		return v, true, nil
	case <-t.C:
		runtime.Waited(ctx, time.Since(start))
		return v, false, nil
	case <-ctx.Done():
		t.Stop()
		return v, false, ctx.Err()
	}
}

// Throttle paces a source subtask at a rate of rows per second, inside
// its Poll: each poll asks how many rows may go now. A throttled subtask
// emits at least a hundredth of a second's rows per batch (at most a
// batch), so that a slow rate does not become one batch and one
// watermark per row, and sleeps at most 50 ms per poll, so the runtime
// can inject barriers and fire timers between polls. The zero value does
// not limit.
type Throttle struct {
	rate     float64 // rows per second; 0: no limit
	minBatch int64
	t0       time.Time // of the first throttled poll
	sent     int64     // rows emitted since t0
	sleeper  Sleeper
}

// Throttling's batches and waits; see Throttle.
const (
	throttleBatchesPerSecond = 100
	throttleMaxWait          = 50 * time.Millisecond
)

// NewThrottle returns a throttle at rate rows per second (0 or less: no
// limit) whose batches are at most maxBatch rows.
func NewThrottle(rate float64, maxBatch int64) Throttle {
	if rate <= 0 {
		return Throttle{}
	}
	return Throttle{rate: rate, minBatch: min(max(int64(rate/throttleBatchesPerSecond), 1), maxBatch)}
}

// Take returns how many of the n rows ready may be emitted now: n without
// a limit; 0, after a short sleep (or ctx's end), when fewer than a
// minimum batch are due. The caller reports what it emitted with Sent.
func (t *Throttle) Take(ctx context.Context, n int64) int64 {
	if t.rate <= 0 {
		return n
	}
	now := time.Now()
	if t.t0.IsZero() {
		t.t0 = now
	}
	elapsed := now.Sub(t.t0).Seconds()
	due := int64(elapsed*t.rate) - t.sent
	if want := min(n, t.minBatch); due < want {
		wait := time.Duration((float64(t.sent+want)/t.rate - elapsed) * float64(time.Second))
		t.sleeper.Sleep(ctx, min(max(wait, 0), throttleMaxWait))
		return 0
	}
	return min(n, due)
}

// Sent records n rows emitted.
func (t *Throttle) Sent(n int64) { t.sent += n }

// Stop releases the throttle's timer.
func (t *Throttle) Stop() { t.sleeper.Stop() }
