package agg

import (
	"math"

	"github.com/sluicehq/sluice/operators/internal/snap"
	"github.com/sluicehq/sluice/runtime"
)

// Snapshots of tables and accumulators are flat: a table writes its keys
// column by column in group order, and restoring looks them up again in
// that order, so every group gets back its id; accumulators write their
// slot arrays as they are.

// SnapshotSize estimates the bytes AppendSnapshot writes.
func (t *Table) SnapshotSize() int {
	n := 16
	for i := range t.keys {
		n += t.n*9 + 16
		if t.keys[i].Type.Physical() == runtime.PhysString {
			n += t.n * 16
		}
	}
	return n
}

// AppendSnapshot writes the table's groups, in id order.
func (t *Table) AppendSnapshot(e *snap.Encoder) {
	e.Int(t.n)
	if len(t.keyCols) == 0 {
		return
	}
	if t.single {
		e.Vector(&runtime.Vector{Type: t.keys[0].Type, I64: t.ints[:t.n]}, nil)
		return
	}
	for i := range t.keys {
		e.Vector(&t.keys[i], nil)
	}
}

// RestoreSnapshot fills an empty table with the groups AppendSnapshot
// wrote, under the same ids.
func (t *Table) RestoreSnapshot(d *snap.Decoder) {
	n := d.Int(math.MaxInt32)
	if d.Err() != nil {
		return
	}
	if t.n != 0 {
		d.Fail("restoring into a table holding %d groups", t.n)
		return
	}
	if len(t.keyCols) == 0 {
		if n > 1 {
			d.Fail("%d groups without grouping keys", n)
			return
		}
		t.n = n
		return
	}
	width := 0
	for _, c := range t.keyCols {
		width = max(width, c+1)
	}
	b := &runtime.Batch{Cols: make([]runtime.Vector, width), N: n}
	for i, c := range t.keyCols {
		var v runtime.Vector
		v.Type = t.keys[i].Type
		if got := d.Vector(&v, v.Type); d.Err() != nil || got != n {
			d.Fail("key column %d holds %d groups, want %d", i, got, n)
			return
		}
		b.Cols[c] = v
	}
	rows := make([]int32, n)
	for i := range rows {
		rows[i] = int32(i)
	}
	groups := t.Lookup(b, rows, nil)
	for i, g := range groups {
		if g != int32(i) {
			d.Fail("group %d repeats the key of group %d", i, g)
			return
		}
	}
}

// SnapshotSize estimates the bytes AppendSnapshot writes.
func (a *Accs) SnapshotSize() int {
	return 64 + 8*len(a.I) + 8*len(a.F) + 16*len(a.S) + 16*len(a.D)
}

// AppendSnapshot writes the accumulators of every group, with the shape
// of the layout so that a snapshot of other aggregates is refused.
func (a *Accs) AppendSnapshot(e *snap.Encoder) {
	l := a.l
	e.Int(l.nI)
	e.Int(l.nF)
	e.Int(l.nS)
	e.Int(l.nD)
	e.Int(a.n)
	e.Int64s(a.I)
	e.Float64s(a.F)
	e.Strings(a.S)
	for i := range a.D {
		s := &a.D[i]
		e.Int(len(s.ints))
		for x := range s.ints {
			e.Int64(int64(x))
		}
		e.Int(len(s.strs))
		for x := range s.strs {
			e.String(x)
		}
	}
}

// RestoreSnapshot replaces the accumulators with those AppendSnapshot
// wrote.
func (a *Accs) RestoreSnapshot(d *snap.Decoder) {
	l := a.l
	nI, nF, nS, nD := d.Int(1<<20), d.Int(1<<20), d.Int(1<<20), d.Int(1<<20)
	if d.Err() != nil {
		return
	}
	if nI != l.nI || nF != l.nF || nS != l.nS || nD != l.nD {
		d.Fail("accumulators of shape %d/%d/%d/%d, these aggregates need %d/%d/%d/%d", nI, nF, nS, nD, l.nI, l.nF, l.nS, l.nD)
		return
	}
	n := d.Int(math.MaxInt32)
	a.Reset()
	a.I = d.Int64s(a.I)
	a.F = d.Float64s(a.F)
	a.S = d.Strings(a.S)
	if d.Err() != nil {
		return
	}
	if len(a.I) != n*nI || len(a.F) != n*nF || len(a.S) != n*nS {
		d.Fail("accumulator slots do not match %d groups", n)
		return
	}
	if nD > 0 {
		a.D = make([]distinctSet, n*nD)
		for i := range a.D {
			s := &a.D[i]
			k := d.Int(math.MaxInt32)
			for j := 0; j < k && d.Err() == nil; j++ {
				s.addInt(uint64(d.Int64()))
			}
			k = d.Int(math.MaxInt32)
			for j := 0; j < k && d.Err() == nil; j++ {
				s.addString(d.String())
			}
			if d.Err() != nil {
				return
			}
		}
	}
	a.n = n
}
