package agg

import (
	"math/bits"

	"github.com/sluicehq/sluice/runtime"
)

// Invertible reports whether Unmerge can take a merged group back out
// exactly: an append-only layout whose every aggregate is COUNT, SUM or
// AVG of integers or DECIMALs, BOOL_AND or BOOL_OR — counts and exact
// sums. (Sums of DOUBLEs would keep a rounding residue, MIN, MAX and the
// others cannot be taken back.)
func (l *Layout) Invertible() bool {
	if l.retract {
		return false
	}
	for i := range l.aggs {
		c := &l.aggs[i]
		switch c.Func {
		case Count, BoolAnd, BoolOr:
		case Sum, Avg:
			if c.f >= 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// Subtractable reports whether every aggregate is one Invertible allows
// or a MIN or MAX of an append-only layout: Unmerge takes the former back
// out and tells when taking a group out may have changed the latter.
func (l *Layout) Subtractable() bool {
	if l.retract {
		return false
	}
	for i := range l.aggs {
		c := &l.aggs[i]
		switch c.Func {
		case Count, BoolAnd, BoolOr, Min, Max:
		case Sum, Avg:
			if c.f >= 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// Unmerge takes group src of o (same layout) back out of group dst of a,
// after Merge(dst, o, src): a running sum over a sliding range of groups
// adds the newest and unmerges the oldest. The layout must be
// Subtractable. It returns true when dst is stale: a MIN or MAX of src is
// dst's (or NaN), so that dst's may now be another; the caller merges dst
// afresh from the groups left. Integer sums wrap instead of marking an
// overflow, so that unmerging what was merged restores the value exactly;
// a mark Merge set stays until the group is cleared.
func (a *Accs) Unmerge(dst int32, o *Accs, src int32) (stale bool) {
	l := a.l
	ai, oi := a.ints.at(dst), o.ints.at(src)
	for ci := range l.aggs {
		c := &l.aggs[ci]
		switch c.Func {
		case Min, Max:
			if stale || c.i2 >= 0 && oi[c.i2] == 0 {
				continue // known stale, or src saw no value
			}
			switch c.phys {
			case runtime.PhysFloat:
				x := o.floats.at(src)[c.f]
				stale = x == a.floats.at(dst)[c.f] || x != x
			case runtime.PhysString:
				stale = o.S[int(src)*l.nS+c.s] == a.S[int(dst)*l.nS+c.s]
			default:
				stale = oi[c.i] == ai[c.i]
			}
		case Count:
			ai[c.i] -= oi[c.i]
		case Sum, Avg, BoolAnd, BoolOr:
			if c.i3 >= 0 { // AVG of integers: 128 bits
				lo, borrow := bits.Sub64(uint64(ai[c.i]), uint64(oi[c.i]), 0)
				ai[c.i] = int64(lo)
				ai[c.i3] -= oi[c.i3] + int64(borrow)
			} else {
				ai[c.i] -= oi[c.i]
			}
			if c.i2 >= 0 {
				ai[c.i2] -= oi[c.i2]
			}
		}
	}
	return stale
}
