package agg

import (
	"fmt"
	"math"
	"slices"
	"strings"

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
		e.Vector(&runtime.Vector{Type: t.keys[0].Type, I64: t.ints.appendKeys(nil, 0, int32(t.n))}, nil)
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
	n := 64 + 8*a.n*(a.l.nI+a.l.nF) + 16*len(a.S) + 16*len(a.D)
	for _, b := range a.B {
		n += 8 + len(b)
	}
	for i := range a.V {
		n += 32 + a.V[i].bytes()
	}
	return n
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
	// As Encoder.Int64s and Float64s of the flat slots would.
	e.Int(a.n * l.nI)
	a.ints.each(a.n, func(xs []int64) {
		for _, x := range xs {
			e.Int64(x)
		}
	})
	e.Int(a.n * l.nF)
	a.floats.each(a.n, func(xs []float64) {
		for _, x := range xs {
			e.Int64(int64(math.Float64bits(x)))
		}
	})
	e.Strings(a.S)
	for i := range a.D {
		s := &a.D[i]
		e.Int(s.ints.len())
		s.ints.each(func(x uint64) { e.Int64(int64(x)) })
		e.Int(len(s.strs))
		for x := range s.strs {
			e.String(x)
		}
	}
	if l.extended {
		a.appendExtended(e)
	}
}

// appendExtended writes what layouts beyond COUNT, SUM, MIN, MAX and AVG
// over an append-only input hold (so that the snapshots of those stay as
// they were): the functions, then buffers, bags and counted sets.
func (a *Accs) appendExtended(e *snap.Encoder) {
	l := a.l
	e.Bool(l.retract)
	e.Int(len(l.aggs))
	for _, c := range l.aggs {
		e.Int(int(c.Func))
		e.Bool(c.HasFilter)
	}
	e.Int(l.nB)
	e.Int(l.nV)
	e.Int64(a.seq)
	e.Int64(a.ignored)
	for _, b := range a.B {
		e.Bytes(b)
	}
	for i := range a.V {
		m := &a.V[i]
		e.Int64s(m.ints)
		e.Float64s(m.floats)
		e.Strings(m.strs)
		e.Int32s(m.counts)
	}
	if !l.retract {
		return
	}
	for i := range a.D {
		s := &a.D[i]
		e.Int(len(s.cints))
		for x, n := range s.cints {
			e.Int64(int64(x))
			e.Int(int(n))
		}
		e.Int(len(s.cstrs))
		for x, n := range s.cstrs {
			e.String(x)
			e.Int(int(n))
		}
	}
}

// restoreExtended reads what appendExtended wrote.
func (a *Accs) restoreExtended(d *snap.Decoder) {
	l := a.l
	if r := d.Bool(); d.Err() == nil && r != l.retract {
		d.Fail("snapshot of aggregates over an input that retracts: %v, these: %v", r, l.retract)
		return
	}
	if n := d.Int(1 << 20); d.Err() == nil && n != len(l.aggs) {
		d.Fail("snapshot of %d aggregates, these are %d", n, len(l.aggs))
		return
	}
	for _, c := range l.aggs {
		f, filt := Func(d.Int(255)), d.Bool()
		if d.Err() != nil {
			return
		}
		if f != c.Func || filt != c.HasFilter {
			d.Fail("snapshot of aggregate %s (filtered: %v) where %s is %s (filtered: %v)", f, filt, c.Name, c.Func, c.HasFilter)
			return
		}
	}
	nB, nV := d.Int(1<<20), d.Int(1<<20)
	if d.Err() == nil && (nB != l.nB || nV != l.nV) {
		d.Fail("snapshot of %d buffers and %d value lists, these aggregates need %d and %d", nB, nV, l.nB, l.nV)
		return
	}
	a.seq, a.ignored = d.Int64(), d.Int64()
	a.B = make([][]byte, a.n*nB)
	for i := range a.B {
		a.B[i] = append([]byte(nil), d.Bytes()...)
	}
	a.V = make([]bag, a.n*nV)
	for i := range a.V {
		m := &a.V[i]
		m.ints = d.Int64s(nil)
		m.floats = d.Float64s(nil)
		m.strs = d.Strings(nil)
		m.counts = d.Int32s(nil)
		if d.Err() != nil {
			return
		}
	}
	if !l.retract {
		return
	}
	for i := range a.D {
		s := &a.D[i]
		k := d.Int(math.MaxInt32)
		for j := 0; j < k && d.Err() == nil; j++ {
			x := uint64(d.Int64())
			n := d.Int(math.MaxInt32)
			if s.cints == nil {
				s.cints = make(map[uint64]int32)
			}
			s.cints[x] = int32(n)
		}
		k = d.Int(math.MaxInt32)
		for j := 0; j < k && d.Err() == nil; j++ {
			x := d.String()
			n := d.Int(math.MaxInt32)
			if s.cstrs == nil {
				s.cstrs = make(map[string]int32)
			}
			s.cstrs[x] = int32(n)
		}
		if d.Err() != nil {
			return
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
	if k := l.intAvgs(); k > 0 && nI == l.nI-2*k && nF == l.nF+k && nS == l.nS && nD == l.nD {
		d.Fail("%s", legacyAvgError(l))
		return
	}
	if nI != l.nI || nF != l.nF || nS != l.nS || nD != l.nD {
		d.Fail("accumulators of shape %d/%d/%d/%d, these aggregates need %d/%d/%d/%d", nI, nF, nS, nD, l.nI, l.nF, l.nS, l.nD)
		return
	}
	n := d.Int(math.MaxInt32)
	a.Reset()
	ints := d.Int64s(nil)
	floats := d.Float64s(nil)
	a.S = d.Strings(a.S)
	if d.Err() != nil {
		return
	}
	if len(ints) != n*nI || len(floats) != n*nF || len(a.S) != n*nS {
		d.Fail("accumulator slots do not match %d groups", n)
		return
	}
	a.ints.grow(0, n)
	a.floats.grow(0, n)
	a.ints.each(n, func(xs []int64) { ints = ints[copy(xs, ints):] })
	a.floats.each(n, func(xs []float64) { floats = floats[copy(xs, floats):] })
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
	if l.extended {
		a.restoreExtended(d)
	}
}

// intAvgs counts the AVGs of an integer: a version of Sluice before they
// followed Flink's types averaged integers in a float64 slot (and a
// count), so that its accumulators had one float slot more and two int
// slots (the 128-bit sum) less per such AVG.
func (l *Layout) intAvgs() int {
	n := 0
	for _, c := range l.aggs {
		if c.Func == Avg && c.phys == runtime.PhysInt && !c.in.IsDecimal() {
			n++
		}
	}
	return n
}

// legacyAvgError explains why a snapshot of that version is refused: it
// emitted DOUBLE averages, which the truncated ones restored state would
// compute cannot retract; AVG of a CAST to DOUBLE has the old state.
func legacyAvgError(l *Layout) string {
	var names []string
	for _, c := range l.aggs {
		if c.Func == Avg && c.phys == runtime.PhysInt && !c.in.IsDecimal() {
			names = append(names, c.Name)
		}
	}
	return fmt.Sprintf("snapshot written by a Sluice version whose AVG of an integer was a DOUBLE; %s now averages to %s truncated toward zero, as Flink, "+
		"and cannot retract the DOUBLE results already emitted: restart the query without this snapshot, "+
		"or average CAST(x AS DOUBLE), whose state this snapshot holds", strings.Join(names, ", "), intAvgTypes(l))
}

func intAvgTypes(l *Layout) string {
	var ts []string
	for _, c := range l.aggs {
		if c.Func == Avg && c.phys == runtime.PhysInt && !c.in.IsDecimal() && !slices.Contains(ts, c.out.Type.String()) {
			ts = append(ts, c.out.Type.String())
		}
	}
	return strings.Join(ts, "/")
}
