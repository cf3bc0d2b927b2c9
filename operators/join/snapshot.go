package join

import (
	"fmt"
	"math"

	"github.com/sluicehq/sluice/operators/internal/snap"
	"github.com/sluicehq/sluice/runtime"
)

// An interval join snapshot (runtime.Snapshotter), in the framing of
// package snap, holds the bounds, the watermark and the rows each side
// buffers, in arrival order:
//
//	lower, upper, watermark (8 bytes each)
//	per side (left, then right): nrows, then each column of the side's
//	    schema (snap.Encoder.Vector)
//
// Restoring links the rows again in that order, so a key's rows are probed
// in the same order as before, and recomputes from the watermark and the
// bounds when each row is freed. Key and row ids are not part of it.

const snapKind = "interval join"

var _ runtime.Snapshotter = (*intervalJoin)(nil)

// SnapshotState implements runtime.Snapshotter.
func (o *intervalJoin) SnapshotState(int64) ([]byte, error) {
	size := 64
	for i := range o.sides {
		size += o.sides[i].rows.live * (9*len(o.sides[i].rows.cols) + 8)
	}
	e := snap.NewEncoder(snapKind, size)
	e.Int64(o.lower)
	e.Int64(o.upper)
	e.Int64(o.wm)
	var live []int32
	for i := range o.sides {
		st := &o.sides[i].rows
		live = live[:0]
		for id, k := range st.key {
			if k != nilID {
				live = append(live, int32(id))
			}
		}
		e.Int(len(live))
		for c := range st.cols {
			e.Vector(&st.cols[c], live)
		}
	}
	return e.Finish(), nil
}

// RestoreState implements runtime.Snapshotter.
func (o *intervalJoin) RestoreState(data []byte) error {
	if len(data) == 0 {
		return nil
	}
	if err := o.restore(data); err != nil {
		// Back to empty.
		fresh := *o
		fresh.wm, fresh.keys = runtime.MinWatermark, newKeyTable(typesOf(o.keys.vals))
		for i := range fresh.sides {
			fresh.sides[i].rows = newRowStore(o.sides[i].schema)
		}
		*o = fresh
		name := "?"
		if o.ctx != nil {
			name = o.ctx.Operator
		}
		return fmt.Errorf("%s operator %q: cannot restore state: %w", snapKind, name, err)
	}
	if m := metricsOf(o.ctx); m != nil {
		m.SetStateKeys(o.keys.live)
	}
	return nil
}

func typesOf(vs []runtime.Vector) []runtime.Type {
	ts := make([]runtime.Type, len(vs))
	for i := range vs {
		ts[i] = vs[i].Type
	}
	return ts
}

func (o *intervalJoin) restore(data []byte) error {
	if o.keys.live > 0 || o.wm != runtime.MinWatermark {
		return fmt.Errorf("the operator already holds state")
	}
	d, err := snap.Open(snapKind, data)
	if err != nil {
		return err
	}
	lower, upper, wm := d.Int64(), d.Int64(), d.Int64()
	if d.Err() == nil && (lower != o.lower || upper != o.upper) {
		return fmt.Errorf("snapshot of a join with bounds [%d, %d] ms, the operator's are [%d, %d] ms", lower, upper, o.lower, o.upper)
	}
	for i := range o.sides {
		s := &o.sides[i]
		n := d.Int(math.MaxInt32)
		b := &runtime.Batch{Schema: s.schema, Cols: make([]runtime.Vector, s.schema.Len()), N: n}
		for c, f := range s.schema.Fields {
			b.Cols[c].Type = f.Type
			if got := d.Vector(&b.Cols[c], f.Type); d.Err() == nil && got != n {
				d.Fail("side %d column %d holds %d rows, want %d", i, c, got, n)
			}
		}
		if err := d.Err(); err != nil {
			return err
		}
		o.hashes = runtime.HashColumns(b, s.keyCols, o.hashes)
		tcol := &b.Cols[s.timeCol]
		rows := make([]int32, n)
		for r := 0; r < n; r++ {
			if tcol.IsNull(r) || s.noMatch(b, r) {
				d.Fail("side %d row %d has no key or time: it could never have been buffered", i, r)
				return d.Err()
			}
			t, h := tcol.I64[r], o.hashes[r]
			k := o.keys.find(h, b, s.keyCols, r)
			if k == nilID {
				k = o.keys.insert(h, b, s.keyCols, r)
			}
			s.rows.link(&o.keys, i, k, t, satAdd(t, s.expireAfter))
			rows[r] = int32(r)
		}
		s.rows.appendColumns(b, rows)
	}
	if err := d.Done(); err != nil {
		return err
	}
	o.wm = wm
	return nil
}
