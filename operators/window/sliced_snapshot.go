package window

import (
	"fmt"
	"math"

	"github.com/sluicehq/sluice/operators/internal/snap"
	"github.com/sluicehq/sluice/runtime"
)

var _ runtime.Snapshotter = (*slicedOp)(nil)

// Sliced windows snapshot under their own kind ("sliced hopping window",
// "sliced cumulating window"), after the common header:
//
//	key table (the key ids), nslices, per slice in order of start: start
//	(8 bytes), key ids of its groups (int32s), accumulators
//
// The running accumulators are not written: the next window to fire
// merges its slices afresh. A snapshot of panes (of the same windows, kept
// one pane per window as before slicing) restores too: the operator runs
// those panes until all of them have been freed, then goes over to slices.

func (o *slicedOp) slicedKind() string { return "sliced " + o.snapKind() }

// SnapshotState implements runtime.Snapshotter.
func (o *slicedOp) SnapshotState(cp int64) ([]byte, error) {
	if o.panes != nil {
		return o.panes.SnapshotState(cp)
	}
	size := 64 + o.keys.SnapshotSize()
	for _, s := range o.order {
		size += 16 + 4*len(s.kids) + s.accs.SnapshotSize()
		if g, err := s.accs.Overflow(); err != nil { // not a state to restore
			return nil, fmt.Errorf("%w, in the slice starting at %s of the group %s", err, runtime.TimeValue(s.start), o.keys.KeyString(s.kids[g]))
		}
	}
	e := snap.NewEncoder(o.slicedKind(), size)
	o.appendHeader(e)
	o.keys.AppendSnapshot(e)
	e.Int(len(o.order))
	for _, s := range o.order {
		e.Int64(s.start)
		e.Int32s(s.kids)
		s.accs.AppendSnapshot(e)
	}
	return e.Finish(), nil
}

// RestoreState implements runtime.Snapshotter.
func (o *slicedOp) RestoreState(data []byte) error {
	if len(data) == 0 {
		return nil
	}
	if len(o.order) > 0 || o.panes != nil || o.wm != runtime.MinWatermark {
		return o.restoreError(fmt.Errorf("the operator already holds state"))
	}
	d, err := snap.Open(o.slicedKind(), data)
	if err != nil {
		if _, perr := snap.Open(o.snapKind(), data); perr == nil {
			return o.restorePanes(data)
		}
		return o.restoreError(err)
	}
	d, wm, err := o.openSliced(d)
	if err != nil {
		return o.restoreError(err)
	}
	o.keys.RestoreSnapshot(d)
	nk := o.keys.Len()
	n := d.Int(math.MaxInt32)
	prev := int64(math.MinInt64)
	for i := 0; i < n && d.Err() == nil; i++ {
		start := d.Int64()
		if d.Err() != nil {
			break
		}
		if i > 0 && start <= prev || floorMod(start-o.spec.Window.Offset, o.slide) != 0 {
			d.Fail("slice at %d out of order or off the grid", start)
			break
		}
		prev = start
		s := o.slice(start)
		s.kids = d.Int32s(s.kids[:0])
		s.accs.RestoreSnapshot(d)
		if d.Err() != nil {
			break
		}
		if s.accs.Len() != len(s.kids) {
			d.Fail("slice at %d has %d groups but %d accumulators", start, len(s.kids), s.accs.Len())
			break
		}
		s.emptyMap()
		for g, kid := range s.kids {
			if kid < 0 || int(kid) >= nk {
				d.Fail("key id %d out of range (%d)", kid, nk)
				break
			}
			if _, dup := s.find(kid); dup {
				d.Fail("key id %d twice in the slice at %d", kid, start)
				break
			}
			s.put(kid, int32(g))
		}
		o.entries += len(s.kids)
		s.m = nil // built again if needed, once the slice has all its groups
	}
	if err := d.Done(); err != nil {
		o.resetSliced()
		return o.restoreError(err)
	}
	o.growKeys()
	o.wm = wm
	if err := o.account(o.entries); err != nil {
		return o.restoreError(err)
	}
	o.armNext()
	return nil
}

// openSliced reads the common header of a sliced snapshot.
func (o *slicedOp) openSliced(d *snap.Decoder) (*snap.Decoder, int64, error) {
	w, nk := d.String(), d.Int(1<<20)
	wm := d.Int64()
	if err := d.Err(); err != nil {
		return nil, 0, err
	}
	if w != o.windowName() || nk != o.nk {
		return nil, 0, fmt.Errorf("snapshot of a %s window with %d key columns, the operator is a %s window with %d", w, nk, o.windowName(), o.nk)
	}
	return d, wm, nil
}

// restorePanes restores a snapshot of panes, run as they are until freed.
func (o *slicedOp) restorePanes(data []byte) error {
	p := &alignedOp{common: newCommon(o.spec, o.layout, o.out, o.lateness), panes: make(map[int64]*pane)}
	if err := p.Open(o.ctx); err != nil {
		return err
	}
	if err := p.RestoreState(data); err != nil {
		p.Close()
		return err
	}
	if len(p.order) == 0 {
		o.wm = p.wm
		p.Close()
		return nil
	}
	o.panes = p
	return nil
}

// resetSliced forgets every slice and key, after a failed restore.
func (o *slicedOp) resetSliced() {
	for _, s := range o.order {
		o.release(s)
	}
	clear(o.order)
	o.order = o.order[:0]
	o.entries = 0
	o.resetKeys()
}
