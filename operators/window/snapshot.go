package window

import (
	"fmt"
	"math"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/operators/internal/snap"
	"github.com/sluicehq/sluice/runtime"
)

// Window state snapshots (runtime.Snapshotter), in the framing of package
// snap. The body starts with the window, the number of key columns and the
// operator's watermark, so rows behind it stay late after a restore:
//
//	window (string, e.g. "TUMBLE(10s)", "TUMBLE(10s) PROCTIME" for
//	processing-time windows), key columns, watermark (8 bytes; for
//	processing-time windows the clock time up to which they have fired)
//
// tumbling, hopping and cumulating windows then hold their open panes by
// end time:
//
//	npanes, per pane: start (8 bytes), end (8 bytes, cumulating windows
//	only), fired (byte), key table, accumulators
//
// session windows their key table, accumulators and timers as they are:
//
//	key table, accumulators (freed ones included), free accumulator ids
//	(in the order the operator takes them),
//	nkeys, per key: nsessions, per session: start, end, timer (8 bytes
//	each), accumulator id, fired (byte)
//	ntimers, per timer: time (8 bytes), key id, accumulator id (in heap
//	order from the first session operator, in firing order since)
//
// A session's id is its accumulator id.
//
// A key table is its group count and key columns (agg.Table), accumulators
// their flat slot arrays (agg.Accs).

var (
	_ runtime.Snapshotter = (*alignedOp)(nil)
	_ runtime.Snapshotter = (*sessionOp)(nil)
)

// snapKind names the operator in snapshots and their errors.
func (c *common) snapKind() string {
	switch c.spec.Window.Kind {
	case Tumbling:
		return "tumbling window"
	case Hopping:
		return "hopping window"
	case Cumulating:
		return "cumulating window"
	}
	return "session window"
}

func (c *common) restoreError(err error) error {
	name := "?"
	if c.ctx != nil {
		name = c.ctx.Operator
	}
	return fmt.Errorf("%s operator %q: cannot restore state: %w", c.snapKind(), name, err)
}

func (c *common) appendHeader(e *snap.Encoder) {
	e.String(c.windowName())
	e.Int(c.nk)
	e.Int64(c.wm)
}

// openSnapshot checks data and reads the common header; wm is the
// snapshot's watermark.
func (c *common) openSnapshot(data []byte) (d *snap.Decoder, wm int64, err error) {
	d, err = snap.Open(c.snapKind(), data)
	if err != nil {
		return nil, 0, err
	}
	w, nk := d.String(), d.Int(1<<20)
	wm = d.Int64()
	if err := d.Err(); err != nil {
		return nil, 0, err
	}
	if w != c.windowName() || nk != c.nk {
		return nil, 0, fmt.Errorf("snapshot of a %s window with %d key columns, the operator is a %s window with %d", w, nk, c.windowName(), c.nk)
	}
	return d, wm, nil
}

// SnapshotState implements runtime.Snapshotter.
func (o *alignedOp) SnapshotState(int64) ([]byte, error) {
	size := 64
	for _, p := range o.order {
		size += 16 + p.table.SnapshotSize() + p.accs.SnapshotSize()
	}
	for _, p := range o.order {
		if g, err := p.accs.Overflow(); err != nil { // not a state to restore
			return nil, fmt.Errorf("%w, in the window starting at %s of the group %s", err, runtime.TimeValue(p.start), p.table.KeyString(g))
		}
	}
	e := snap.NewEncoder(o.snapKind(), size)
	o.appendHeader(e)
	e.Int(len(o.order))
	for _, p := range o.order {
		e.Int64(p.start)
		if o.spec.Window.Kind == Cumulating {
			e.Int64(p.end)
		}
		e.Bool(p.fired)
		p.table.AppendSnapshot(e)
		p.accs.AppendSnapshot(e)
	}
	return e.Finish(), nil
}

// RestoreState implements runtime.Snapshotter.
func (o *alignedOp) RestoreState(data []byte) error {
	if len(data) == 0 {
		return nil
	}
	if len(o.order) > 0 || o.wm != runtime.MinWatermark {
		return o.restoreError(fmt.Errorf("the operator already holds state"))
	}
	d, wm, err := o.openSnapshot(data)
	if err != nil {
		return o.restoreError(err)
	}
	n := d.Int(math.MaxInt32)
	for i := 0; i < n && d.Err() == nil; i++ {
		start := d.Int64()
		end := start + o.spec.Window.Size
		if o.spec.Window.Kind == Cumulating {
			end = d.Int64()
		}
		fired := d.Bool()
		if d.Err() != nil {
			break
		}
		if o.panes[end] != nil || end <= start {
			d.Fail("window [%d, %d) appears twice, or is empty", start, end)
			break
		}
		p := o.pane(start, end)
		p.fired = fired
		p.table.RestoreSnapshot(d)
		p.accs.RestoreSnapshot(d)
		if d.Err() == nil && p.accs.Len() != p.table.Len() {
			d.Fail("window starting at %d has %d groups but %d accumulators", start, p.table.Len(), p.accs.Len())
		}
	}
	if err := d.Done(); err != nil {
		o.resetState()
		return o.restoreError(err)
	}
	o.wm = wm
	if err := o.updateKeys(); err != nil {
		return o.restoreError(err)
	}
	o.armNext() // restored processing-time windows fire by the clock
	return nil
}

// resetState forgets every pane, after a failed restore.
func (o *alignedOp) resetState() {
	for _, p := range o.order {
		o.release(p)
	}
	clear(o.order)
	o.order = o.order[:0]
}

// SnapshotState implements runtime.Snapshotter.
func (o *sessionOp) SnapshotState(int64) ([]byte, error) {
	if _, err := o.accs.Overflow(); err != nil { // not a state to restore
		return nil, fmt.Errorf("%w, in a session", err)
	}
	// The live timers, in the order they fire; stale ones are left out.
	var timers []timer
	o.wheel.each(func(t timer) {
		if s := o.ss.at(t.sid); s.key >= 0 && s.timer == t.at {
			timers = append(timers, t)
		}
	})
	free := o.freeIDs(nil)
	size := 64 + o.keys.SnapshotSize() + o.accs.SnapshotSize() + 4*len(free) + 4*len(o.first) + 30*o.open + 16*len(timers)
	e := snap.NewEncoder(o.snapKind(), size)
	o.appendHeader(e)
	o.keys.AppendSnapshot(e)
	o.accs.AppendSnapshot(e)
	e.Int32s(free)
	e.Int(len(o.first))
	for _, h := range o.first {
		n := 0
		for sid := h - 1; sid >= 0; sid = o.ss.at(sid).next - 1 {
			n++
		}
		e.Int(n)
		for sid := h - 1; sid >= 0; sid = o.ss.at(sid).next - 1 {
			s := o.ss.at(sid)
			e.Int64(s.start)
			e.Int64(s.end)
			e.Int64(s.timer)
			e.Int(int(sid))
			e.Bool(s.fired)
		}
	}
	e.Int(len(timers))
	for _, t := range timers {
		e.Int64(t.at)
		e.Int(int(o.ss.at(t.sid).key))
		e.Int(int(t.sid))
	}
	return e.Finish(), nil
}

// RestoreState implements runtime.Snapshotter. It reads the snapshots of
// every version of the operator: the format has not changed (the timers
// of the first version came in heap order, those of later ones in the
// order they fire; either is read into the timer wheel).
func (o *sessionOp) RestoreState(data []byte) error {
	if len(data) == 0 {
		return nil
	}
	if o.keys == nil || o.keys.Len() > 0 || o.wm != runtime.MinWatermark {
		return o.restoreError(fmt.Errorf("the operator is not open, or already holds state"))
	}
	d, wm, err := o.openSnapshot(data)
	if err != nil {
		return o.restoreError(err)
	}
	o.keys.RestoreSnapshot(d)
	o.accs.RestoreSnapshot(d)
	free := d.Int32s(nil)
	nacc := o.accs.Len()
	// Session ids are accumulator ids: every accumulator is free, or holds
	// one session.
	var ss sessions
	for range nacc {
		ss.add()
	}
	isFree := make([]bool, nacc)
	for _, a := range free {
		if a < 0 || int(a) >= nacc || isFree[a] {
			d.Fail("free accumulator %d out of range, or listed twice", a)
			break
		}
		isFree[a] = true
	}
	nkeys := d.Int(o.keys.Len())
	first := make([]int32, o.keys.Len())
	open, nlive := 0, 0
	for k := 0; k < nkeys && d.Err() == nil; k++ {
		m := d.Int(math.MaxInt32)
		at := &first[k]
		prevEnd := int64(math.MinInt64)
		for j := 0; j < m && d.Err() == nil; j++ {
			start, end, tm := d.Int64(), d.Int64(), d.Int64()
			sid := index(d, nacc, "accumulator")
			fired := d.Bool()
			if d.Err() != nil {
				break
			}
			if ss.at(sid).key >= 0 || isFree[sid] || end <= start || start <= prevEnd {
				d.Fail("session [%d, %d) of key %d: accumulator %d used twice, or the session is empty or not after the one before", start, end, k, sid)
				break
			}
			*ss.at(sid) = session{start: start, end: end, timer: tm, key: int32(k), fired: fired}
			*at = sid + 1
			at = &ss.at(sid).next
			prevEnd = end
		}
		if m > 0 {
			open += m
			nlive++
		}
	}
	wheel := newTimerWheel(o.spec.Window.Gap+o.lateness, wm)
	nt := d.Int(math.MaxInt32)
	for i := 0; i < nt && d.Err() == nil; i++ {
		at := d.Int64()
		index(d, nkeys, "key")
		sid := index(d, nacc, "accumulator")
		if d.Err() == nil {
			wheel.push(timer{at: at, sid: sid})
		}
	}
	if err := d.Done(); err != nil {
		o.keys, o.accs = agg.NewTable(o.spec.In, o.spec.KeyCols), agg.NewAccs(o.layout)
		return o.restoreError(err)
	}
	// The free ids come in the order the operator would have taken them
	// (from the first operator: another order, which works as well).
	o.cursor = 0
	if len(free) > 0 {
		o.cursor = free[0]
	}
	o.first, o.ss, o.wheel, o.open, o.nlive, o.wm = first, ss, wheel, open, nlive, wm
	if err := o.account(o.open); err != nil {
		return o.restoreError(err)
	}
	o.armNext() // restored processing-time sessions fire by the clock
	return nil
}

// index reads an id that must be below n.
func index(d *snap.Decoder, n int, what string) int32 {
	x := d.Int(math.MaxInt32)
	if d.Err() == nil && x >= n {
		d.Fail("%s %d out of range (%d)", what, x, n)
		return 0
	}
	return int32(x)
}
