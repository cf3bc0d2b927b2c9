package join

import (
	"fmt"
	"math"
	"slices"

	"github.com/sluicehq/sluice/operators/internal/snap"
	"github.com/sluicehq/sluice/runtime"
)

// A window join snapshot (runtime.Snapshotter), in the framing of package
// snap:
//
//	watermark (8 bytes), number of windows, then per window by end, start:
//	    start, end (8 bytes each)
//	    keys: n, each key column (in key id order)
//	    per side (left, right): n rows, their key ids (-1: none), each
//	        column of the side
//
// Restoring rebuilds each window's keys and rows with the same ids in the
// same order, so a restored subtask emits the same rows in the same order.

const wjSnapKind = "window join"

var _ runtime.Snapshotter = (*wjOp)(nil)

// SnapshotState implements runtime.Snapshotter.
func (o *wjOp) SnapshotState(int64) ([]byte, error) {
	ws := make([]*wjWindow, 0, len(o.windows))
	size := 64
	for _, w := range o.windows {
		ws = append(ws, w)
		size += 32 + w.keys.live*16 + (w.rows[0].live+w.rows[1].live)*(4+9*len(w.rows[0].cols))
	}
	slices.SortFunc(ws, func(a, b *wjWindow) int {
		if c := cmpInt64(a.end, b.end); c != 0 {
			return c
		}
		return cmpInt64(a.start, b.start)
	})
	e := snap.NewEncoder(wjSnapKind, size)
	e.Int64(o.wm)
	e.Int(len(ws))
	for _, w := range ws {
		e.Int64(w.start)
		e.Int64(w.end)
		e.Int(len(w.keys.entries))
		for c := range w.keys.vals {
			e.Vector(&w.keys.vals[c], nil)
		}
		for i := range w.rows {
			st := &w.rows[i]
			e.Int(len(st.key))
			e.Int32s(st.key)
			for c := range st.cols {
				e.Vector(&st.cols[c], nil)
			}
		}
	}
	return e.Finish(), nil
}

// RestoreState implements runtime.Snapshotter.
func (o *wjOp) RestoreState(data []byte) error {
	if len(data) == 0 {
		return nil
	}
	if err := o.restore(data); err != nil {
		o.wm, o.windows, o.groups = runtime.MinWatermark, map[[2]int64]*wjWindow{}, 0
		return fmt.Errorf("%s operator %q: cannot restore state: %w", wjSnapKind, tjOpName(o.ctx), err)
	}
	if m := metricsOf(o.ctx); m != nil {
		m.SetStateKeys(o.groups)
	}
	return nil
}

func (o *wjOp) restore(data []byte) error {
	if len(o.windows) > 0 || o.wm != runtime.MinWatermark {
		return fmt.Errorf("the operator already holds state")
	}
	d, err := snap.Open(wjSnapKind, data)
	if err != nil {
		return err
	}
	wm := d.Int64()
	nw := d.Int(math.MaxInt32)
	nk := len(o.spec.LeftKeys)
	keyCols := make([]int, nk)
	for i := range keyCols {
		keyCols[i] = i
	}
	for range nw {
		if d.Err() != nil {
			break
		}
		start, end := d.Int64(), d.Int64()
		w := o.newWindow(start, end)
		if o.windows[[2]int64{start, end}] != nil {
			return fmt.Errorf("window [%d, %d) twice", start, end)
		}
		o.windows[[2]int64{start, end}] = w
		n := d.Int(math.MaxInt32)
		kb := &runtime.Batch{Cols: make([]runtime.Vector, nk), N: n}
		for c := range kb.Cols {
			t := w.keys.vals[c].Type
			kb.Cols[c].Type = t
			if got := d.Vector(&kb.Cols[c], t); d.Err() == nil && got != n {
				d.Fail("key column %d holds %d rows, want %d", c, got, n)
			}
		}
		if err := d.Err(); err != nil {
			return err
		}
		if nk > 0 {
			o.hashes = runtime.HashColumns(kb, keyCols, o.hashes)
		}
		for r := 0; r < n; r++ {
			var h uint64
			if nk > 0 {
				h = o.hashes[r]
				if w.keys.find(h, kb, keyCols, r) != nilID {
					return fmt.Errorf("window [%d, %d): key %d twice", start, end, r)
				}
			}
			w.keys.insert(h, kb, keyCols, r)
		}
		o.groups += n
		for i := range w.rows {
			st := &w.rows[i]
			rows := d.Int(math.MaxInt32)
			keys := d.Int32s(nil)
			if d.Err() == nil && len(keys) != rows {
				d.Fail("side %d: %d key ids for %d rows", i, len(keys), rows)
			}
			for c, f := range o.sides[i].schema.Fields {
				if got := d.Vector(&st.cols[c], f.Type); d.Err() == nil && got != rows {
					d.Fail("side %d column %d holds %d rows, want %d", i, c, got, rows)
				}
			}
			if err := d.Err(); err != nil {
				return err
			}
			for _, k := range keys {
				if k < nilID || int(k) >= n || k == nilID && !o.sides[i].outer {
					return fmt.Errorf("side %d: key id %d of %d keys", i, k, n)
				}
				wjLink(st, &w.keys, i, k)
			}
		}
	}
	if err := d.Done(); err != nil {
		return err
	}
	o.wm = wm
	return nil
}
