package window

import (
	"math"
	"time"

	"github.com/sluicehq/sluice/runtime"
)

// Processing-time windows (Spec.ProcTime), as Flink SQL's windows over a
// PROCTIME() attribute, e.g. Nexmark q12:
//
//	TUMBLE(TABLE B, DESCRIPTOR(p_time), INTERVAL '10' SECOND) ... GROUP BY bidder, window_start, window_end
//
// with p_time = PROCTIME(). The planner computes the processing time in a
// calc upstream (expr.ProcTime), keys the rows by the grouping columns
// (runtime.Keyed; none: one subtask) and builds the operator with
// window.New, ProcTime set and TimeCol the PROCTIME() column. Every window
// kind works: TUMBLE, HOP, CUMULATE and SESSION (the gap measured in
// processing time). The input is insert-only (+I), as for event-time
// windows; watermarks are ignored (and forwarded by the runtime) and need
// not exist.
//
// Rows are assigned to windows by the time column. A window [start, end)
// fires when the operator's clock (Spec.Clock, else the wall clock) reaches
// end-1, through a processing-time timer (runtime.ProcessingTimer), and is
// freed at once: its rows are emitted as +I, one per key, as event-time
// windows do. No row is ever late: a row whose time is at or behind the
// clock time the operator has fired up to — the calc's clock read before
// the row crossed a shuffle or waited in a queue — counts as if its time
// were just after that (the windows still open that hold that time), and a
// row whose time is NULL or absurd counts at the operator's clock; nothing
// is dropped. The contents of processing-time windows therefore depend on
// timing and are not reproducible; the number of rows they count in total
// is (each row in exactly one tumbling window).
//
// At the end of the input (Finish) every open window fires, so a bounded
// job emits all its rows. A snapshot holds the open windows and the time
// fired up to; restored windows fire when the clock, after the restore,
// passes their end — at once if it already has.

// noArm is armed when no processing-time timer is pending.
const noArm = math.MaxInt64

// now is the operator's processing time in milliseconds.
func (c *common) now() int64 {
	if c.spec.Clock != nil {
		return c.spec.Clock()
	}
	return time.Now().UnixMilli()
}

// clockFired is a processing-time timer's work, common to the aligned and
// sliced operators: advance fires the windows the clock has passed (unless
// the input has ended), then arm asks for the next timer.
func (c *common) clockFired(out runtime.Output, advance func(int64, runtime.Output) error, arm func()) error {
	c.armed = noArm
	if now := c.now(); now > c.wm && c.wm != runtime.MaxWatermark {
		if err := advance(now, out); err != nil {
			return err
		}
	}
	arm()
	return nil
}

// armClock registers a processing-time timer at at unless an earlier one
// is pending.
func (c *common) armClock(at int64) {
	if at >= c.armed {
		return
	}
	c.armed = at
	if c.ctx != nil {
		c.ctx.RegisterProcessingTimer(at)
	}
}

// windowName names the window in snapshots: the assigner, and PROCTIME for
// processing-time windows, so that one kind never restores the other.
func (c *common) windowName() string {
	if c.spec.ProcTime {
		return c.spec.Window.String() + " PROCTIME"
	}
	return c.spec.Window.String()
}

// timeCol returns the time column of b to assign windows by: the column
// itself for event time; for processing time, the column with every time
// that no open window can hold (at or behind c.wm, NULL, absurd) replaced,
// so that no row is late.
func (c *common) timeCol(b *runtime.Batch) *runtime.Vector {
	tv := &b.Cols[c.spec.TimeCol]
	if !c.spec.ProcTime {
		return tv
	}
	floor := c.wm + 1 // the earliest time an open window holds
	if c.wm == runtime.MinWatermark {
		floor = c.wm
	}
	fix := false
	for i, n := 0, b.Len(); i < n; i++ {
		r := b.Row(i)
		if tv.IsNull(r) || !runtime.SaneEventTime(tv.I64[r]) || tv.I64[r] < floor {
			fix = true
			break
		}
	}
	if !fix {
		return tv
	}
	now := max(c.now(), floor)
	if !runtime.SaneEventTime(now) {
		now = time.Now().UnixMilli()
	}
	pt := &c.ptime
	pt.Type = tv.Type
	pt.Null = nil
	pt.I64 = append(pt.I64[:0], tv.I64...)
	for i, n := 0, b.Len(); i < n; i++ {
		r := b.Row(i)
		switch {
		case tv.IsNull(r) || !runtime.SaneEventTime(tv.I64[r]):
			pt.I64[r] = now
		case tv.I64[r] < floor:
			pt.I64[r] = floor
		}
	}
	return pt
}
