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

// plainSlot is an int slot that merging adds, with the aggregate whose
// integer SUM it holds (an overflow marks that aggregate), or -1 for a
// count.
type plainSlot struct{ slot, agg int32 }

// plainSlots returns the int slots of an append-only layout whose every
// aggregate is a COUNT or a SUM of integers or DECIMALs (no other slots),
// in the order Merge adds them; nil for any other layout.
func plainSlots(l *Layout) []plainSlot {
	if l.retract || l.nF+l.nS+l.nD+l.nB+l.nV > 0 || l.rowSlot >= 0 {
		return nil
	}
	var ps []plainSlot
	for ci := range l.aggs {
		c := &l.aggs[ci]
		switch {
		case c.Func == Count && c.v < 0:
			ps = append(ps, plainSlot{int32(c.i), -1})
		case c.Func == Sum && c.f < 0 && c.i3 < 0 && c.v < 0:
			ps = append(ps, plainSlot{int32(c.i), int32(ci)})
			if c.i2 >= 0 {
				ps = append(ps, plainSlot{int32(c.i2), -1})
			}
		default:
			return nil
		}
	}
	return ps
}

// MergeGroups merges groups 0, 1, … of o into groups dst[0], dst[1], …
// of a, as Merge does one at a time: a slice of a sliding window into the
// window's running groups. Layouts of COUNTs and integer SUMs take a loop
// over their int slots.
func (a *Accs) MergeGroups(dst []int32, o *Accs) {
	ps := a.l.plain
	if ps == nil || len(o.over) > 0 {
		for g, d := range dst {
			a.Merge(d, o, int32(g))
		}
		return
	}
	for g, d := range dst {
		to, from := a.ints.at(d), o.ints.at(int32(g))
		for _, p := range ps {
			old, x := to[p.slot], from[p.slot]
			sum := old + x
			to[p.slot] = sum
			if p.agg >= 0 && (sum^old)&(sum^x) < 0 {
				a.overflow(d, int(p.agg))
			}
		}
	}
}

// UnmergeGroups takes groups 0, 1, … of o back out of groups dst[0],
// dst[1], … of a, as Unmerge does one at a time, and appends to stale the
// groups of dst that Unmerge found stale.
func (a *Accs) UnmergeGroups(dst []int32, o *Accs, stale []int32) []int32 {
	ps := a.l.plain
	if ps == nil {
		for g, d := range dst {
			if a.Unmerge(d, o, int32(g)) {
				stale = append(stale, d)
			}
		}
		return stale
	}
	for g, d := range dst {
		to, from := a.ints.at(d), o.ints.at(int32(g))
		for _, p := range ps {
			to[p.slot] -= from[p.slot]
		}
	}
	return stale
}
