package window

import (
	"sort"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/runtime"
)

// pane is the state of one tumbling or hopping window: a group table and the
// accumulators of its groups. Firing a window touches only its own pane.
type pane struct {
	start, end int64
	table      *agg.Table
	accs       *agg.Accs
	fired      bool
	dirty      []int32 // groups updated since the pane fired
	isDirty    []bool
}

// alignedOp aggregates tumbling and hopping windows.
type alignedOp struct {
	common
	panes map[int64]*pane // by end
	order []*pane         // by end
	last  *pane
	free  []*pane
	nrows []int32 // rows of the current run
	lates []int32
}

// pane returns the pane of window [start, end), made if need be. Panes
// are found by end: cumulating windows share their start.
func (o *alignedOp) pane(start, end int64) *pane {
	if o.last != nil && o.last.end == end {
		return o.last
	}
	p := o.panes[end]
	if p == nil {
		if n := len(o.free); n > 0 {
			p = o.free[n-1]
			o.free = o.free[:n-1]
		} else {
			p = &pane{table: agg.NewTable(o.spec.In, o.spec.KeyCols), accs: agg.NewAccs(o.layout)}
		}
		if n := len(o.order); n > 0 {
			// Windows of one operator hold about as many groups:
			// size the new pane for the latest one at once.
			g := o.order[n-1].table.Len()
			p.table.Reserve(g)
			p.accs.Reserve(g)
		}
		p.start, p.end = start, end
		o.panes[end] = p
		// Keep order sorted by end; new windows are nearly always last.
		i := sort.Search(len(o.order), func(i int) bool { return o.order[i].end > p.end })
		o.order = append(o.order, nil)
		copy(o.order[i+1:], o.order[i:])
		o.order[i] = p
	}
	o.last = p
	return p
}

func (o *alignedOp) ProcessBatch(_ int, b *runtime.Batch, out runtime.Output) error {
	tv := o.timeCol(b)
	w := o.spec.Window
	n := b.Len()
	o.lates = o.lates[:0]
	for i := 0; i < n; {
		r := b.Row(i)
		if tv.IsNull(r) || !runtime.SaneEventTime(tv.I64[r]) {
			// No window for a row without a sane time (its window
			// bounds could overflow): dropped as late.
			o.lates = append(o.lates, int32(r))
			i++
			continue
		}
		ts := tv.I64[r]
		last := ts - floorMod(ts-w.Offset, w.Slide)
		// The run of following rows in the same slide.
		o.nrows = append(o.nrows[:0], int32(r))
		i++
		for ; i < n; i++ {
			r2 := b.Row(i)
			if tv.IsNull(r2) || !runtime.SaneEventTime(tv.I64[r2]) {
				break
			}
			if t2 := tv.I64[r2]; t2 < last || t2 >= last+w.Slide {
				break
			}
			o.nrows = append(o.nrows, int32(r2))
		}
		live := false
		// The windows of the run, latest end first: those of a hop start
		// every slide; cumulating windows share the start of their
		// largest one and end every step (Slide) up to it.
		start, end, step := last, last+w.Size, -w.Slide
		if w.Kind == Cumulating {
			start = ts - floorMod(ts-w.Offset, w.Size)
			end, step = start+w.Size, 0
		}
		for ; end > last; start, end = start+step, end-w.Slide {
			if end-1+o.lateness <= o.wm {
				break // this and every earlier window is closed
			}
			live = true
			p := o.pane(start, end)
			if !p.fired && p.end-1 <= o.wm {
				// A window first seen after the watermark passed its end,
				// within the allowed lateness: it fires at once, like a
				// fired window that a late row updates.
				p.fired = true
			}
			o.groups = p.table.Lookup(b, o.nrows, o.groups)
			p.accs.Grow(p.table.Len())
			p.accs.Update(b, o.nrows, o.groups)
			if p.fired {
				for _, g := range o.groups {
					for int(g) >= len(p.isDirty) {
						p.isDirty = append(p.isDirty, false)
					}
					if !p.isDirty[g] {
						p.isDirty[g] = true
						p.dirty = append(p.dirty, g)
					}
				}
			}
		}
		if !live {
			o.lates = append(o.lates, o.nrows...)
		}
	}
	o.dropLate(b, o.lates)
	// Re-fire windows updated within their allowed lateness.
	for _, p := range o.order {
		if len(p.dirty) == 0 {
			continue
		}
		for _, g := range p.dirty {
			p.isDirty[g] = false
			if err := o.emitRow(p.table, p.accs, g, g, p.start, p.end, out); err != nil {
				return err
			}
		}
		p.dirty = p.dirty[:0]
	}
	if err := o.updateKeys(); err != nil {
		return err
	}
	if err := o.flush(out); err != nil {
		return err
	}
	o.armNext()
	return o.flushLate()
}

func (o *alignedOp) ProcessWatermark(wm int64, out runtime.Output) error {
	if o.spec.ProcTime {
		return nil // processing-time windows fire by the clock
	}
	return o.advance(wm, out)
}

// advance fires and frees the windows that end by wm: the watermark, or
// for processing-time windows the clock.
func (o *alignedOp) advance(wm int64, out runtime.Output) error {
	o.wm = wm
	keep := o.order[:0]
	for _, p := range o.order {
		if !p.fired && p.end-1 <= wm {
			if err := o.emitPane(p, out); err != nil {
				return err
			}
			p.fired = true
		}
		if p.end-1+o.lateness <= wm {
			o.release(p)
			continue
		}
		keep = append(keep, p)
	}
	clear(o.order[len(keep):])
	o.order = keep
	if err := o.updateKeys(); err != nil {
		return err
	}
	return o.flush(out)
}

// Finish fires what is left, should the input have ended without the final
// watermark.
func (o *alignedOp) Finish(out runtime.Output) error {
	if o.wm == runtime.MaxWatermark {
		return nil
	}
	return o.advance(runtime.MaxWatermark, out)
}

// OnProcessingTime fires the processing-time windows that the clock has
// passed.
func (o *alignedOp) OnProcessingTime(_ int64, out runtime.Output) error {
	return o.clockFired(out, o.advance, o.armNext)
}

// armNext asks for a processing-time timer at the end of the earliest
// open window.
func (o *alignedOp) armNext() {
	if o.spec.ProcTime && len(o.order) > 0 {
		o.armClock(o.order[0].end - 1)
	}
}

func (o *alignedOp) release(p *pane) {
	delete(o.panes, p.end)
	if o.last == p {
		o.last = nil
	}
	p.table.Reset()
	p.accs.Reset()
	p.fired = false
	p.dirty = p.dirty[:0]
	clear(p.isDirty)
	if len(o.free) < 4 {
		o.free = append(o.free, p)
	}
}

func (o *alignedOp) updateKeys() error {
	n := 0
	for _, p := range o.order {
		n += p.table.Len()
	}
	return o.account(n)
}

// StateBytes estimates the memory held by window state.
func (o *alignedOp) StateBytes() int {
	n := 0
	for _, p := range o.order {
		n += p.table.Bytes() + p.accs.Bytes()
	}
	return n
}

// emitPane emits every group of p: a whole output batch at a time where
// the accumulators allow it (agg.Accs.EmitRange), else row by row.
func (o *alignedOp) emitPane(p *pane, out runtime.Output) error {
	n := int32(p.table.Len())
	for g := int32(0); g < n; {
		k := min(n-g, int32(runtime.DefaultBatchRows-o.outb.N))
		if k > 0 {
			ok, err := o.emitRange(p.table, p.accs, g, g+k, p.start, p.end, out)
			if err != nil {
				return err
			}
			if ok {
				g += k
				continue
			}
		}
		if err := o.emitRow(p.table, p.accs, g, g, p.start, p.end, out); err != nil {
			return err
		}
		g++
	}
	return nil
}
