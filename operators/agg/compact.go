package agg

import (
	"github.com/sluicehq/sluice/runtime"
)

// Compact keeps the groups g with live[g] (len(live) == Len()), renumbered
// 0.. in their order, and rebuilds the lookup slots. It is how a GROUP BY
// drops the groups whose state expired: O(groups), for a purge now and
// then, not per batch.
func (t *Table) Compact(live []bool) {
	n := 0
	if t.single {
		for g := range int32(t.n) {
			if live[g] {
				t.ints.setKey(int32(n), t.ints.key(g))
				n++
			}
		}
	} else {
		for g, h := range t.hashes {
			if live[g] {
				t.hashes[n] = h
				n++
			}
		}
		t.hashes = t.hashes[:n]
		for i := range t.keys {
			keepRows(&t.keys[i], live)
		}
	}
	if len(t.keyCols) == 0 { // the global group
		n = 0
		if t.n > 0 && live[0] {
			n = 1
		}
	}
	t.n = n
	if t.single {
		if t.islots.s != nil {
			t.islots.init(max(n, t.largeInts))
			t.islots.fill(&t.ints, n)
		} else {
			t.slots = t.slots[:0]
			t.refillSmallInts(n)
		}
		return
	}
	size := 16
	for size < 2*(n+1) {
		size *= 2
	}
	t.slots = make([]int32, size)
	mask := uint64(size - 1)
	for g := 0; g < n && len(t.keyCols) > 0; g++ {
		h := t.hashes[g]
		i := h & mask
		for t.slots[i] != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = int32(g + 1)
	}
}

// keepRows keeps the rows r of v with live[r], in place.
func keepRows(v *runtime.Vector, live []bool) {
	n := 0
	for r, ok := range live {
		if !ok {
			continue
		}
		switch v.Type.Physical() {
		case runtime.PhysFloat:
			v.F64[n] = v.F64[r]
		case runtime.PhysString:
			v.Str[n] = v.Str[r]
		default:
			v.I64[n] = v.I64[r]
		}
		if v.Null != nil {
			v.Null[n] = v.Null[r]
		}
		n++
	}
	v.Truncate(n)
}

// Compact keeps the accumulators of the groups g with live[g]
// (len(live) == Len()), renumbered as Table.Compact renumbers them.
func (a *Accs) Compact(live []bool) {
	l := a.l
	n := 0
	var over []overflowAt
	for g, ok := range live {
		if !ok {
			continue
		}
		copy(a.ints.at(int32(n)), a.ints.at(int32(g)))
		copy(a.floats.at(int32(n)), a.floats.at(int32(g)))
		copy(a.S[n*l.nS:(n+1)*l.nS], a.S[g*l.nS:(g+1)*l.nS])
		copy(a.D[n*l.nD:(n+1)*l.nD], a.D[g*l.nD:(g+1)*l.nD])
		copy(a.B[n*l.nB:(n+1)*l.nB], a.B[g*l.nB:(g+1)*l.nB])
		copy(a.V[n*l.nV:(n+1)*l.nV], a.V[g*l.nV:(g+1)*l.nV])
		if i := a.overflowed(int32(g)); i >= 0 {
			over = append(over, overflowAt{int32(n), i})
		}
		n++
	}
	clear(a.S[n*l.nS:])
	a.S = a.S[:n*l.nS]
	clear(a.D[n*l.nD:])
	a.D = a.D[:n*l.nD]
	clear(a.B[n*l.nB:])
	a.B = a.B[:n*l.nB]
	clear(a.V[n*l.nV:])
	a.V = a.V[:n*l.nV]
	a.over = over
	a.n = n
}
