package agg

import "math/bits"

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

// Unmerge takes group src of o (same layout) back out of group dst of a,
// after Merge(dst, o, src): a running sum over a sliding range of groups
// adds the newest and unmerges the oldest. The layout must be Invertible.
// Integer sums wrap instead of marking an overflow, so that unmerging what
// was merged restores the value exactly; a mark Merge set stays until the
// group is cleared.
func (a *Accs) Unmerge(dst int32, o *Accs, src int32) {
	l := a.l
	di, si := int(dst)*l.nI, int(src)*l.nI
	for ci := range l.aggs {
		c := &l.aggs[ci]
		switch c.Func {
		case Count:
			a.I[di+c.i] -= o.I[si+c.i]
		case Sum, Avg, BoolAnd, BoolOr:
			if c.i3 >= 0 { // AVG of integers: 128 bits
				lo, borrow := bits.Sub64(uint64(a.I[di+c.i]), uint64(o.I[si+c.i]), 0)
				a.I[di+c.i] = int64(lo)
				a.I[di+c.i3] -= o.I[si+c.i3] + int64(borrow)
			} else {
				a.I[di+c.i] -= o.I[si+c.i]
			}
			if c.i2 >= 0 {
				a.I[di+c.i2] -= o.I[si+c.i2]
			}
		}
	}
}
