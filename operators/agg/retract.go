package agg

import (
	"cmp"
	"math"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/runtime"
)

// updateRetract is Update for a retracting layout: +I and +U rows add,
// -U and -D rows retract, a retraction reaching a group without rows is
// ignored.
func (a *Accs) updateRetract(b *runtime.Batch, rows, groups []int32) {
	l := a.l
	a.sr, a.sg, a.ss = a.sr[:0], a.sg[:0], a.ss[:0]
	for k, r := range rows {
		g := groups[k]
		p := &a.ints.at(g)[l.rowSlot]
		var sign int8 = 1
		if kd := b.Kind(int(r)); kd == runtime.UpdateBefore || kd == runtime.Delete {
			if *p <= 0 {
				a.ignored++
				continue
			}
			*p--
			sign = -1
		} else {
			*p++
		}
		a.sr, a.sg, a.ss = append(a.sr, r), append(a.sg, g), append(a.ss, sign)
	}
	for ci := range l.aggs {
		c := &l.aggs[ci]
		rs, gs, ss := a.sr, a.sg, a.ss
		if c.HasFilter {
			v := &b.Cols[c.Filter]
			a.fr, a.fg, a.fs = a.fr[:0], a.fg[:0], a.fs[:0]
			for k, r := range rs {
				if v.I64[r] != 0 && (v.Null == nil || !v.Null[r]) {
					a.fr, a.fg, a.fs = append(a.fr, r), append(a.fg, gs[k]), append(a.fs, ss[k])
				}
			}
			rs, gs, ss = a.fr, a.fg, a.fs
		}
		a.updateSigned(ci, c, b, rs, gs, ss)
	}
}

// updateSigned adds (signs[k] > 0) or retracts rows for aggregate ci of a
// retracting layout.
func (a *Accs) updateSigned(ci int, c *compiled, b *runtime.Batch, rows, groups []int32, signs []int8) {
	l := a.l
	if c.Col < 0 { // COUNT(*)
		for k, g := range groups {
			a.ints.at(g)[c.i] += int64(signs[k])
		}
		return
	}
	v := &b.Cols[c.Col]
	nulls := v.Null
	for k, r := range rows {
		if nulls != nil && nulls[r] {
			continue
		}
		g, sign := int(groups[k]), signs[k]
		gi, gf := a.ints.at(int32(g)), a.floats.at(int32(g))
		switch c.Func {
		case Count:
			gi[c.i] += int64(sign)
		case Sum, Avg:
			if c.f >= 0 {
				gf[c.f] += float64(sign) * num(v, c.phys, int(r))
			} else if c.i3 >= 0 { // AVG of integers: 128 bits
				if sign > 0 {
					add128(&gi[c.i], &gi[c.i3], v.I64[r])
				} else {
					sub128(&gi[c.i], &gi[c.i3], v.I64[r])
				}
			} else {
				a.addChecked(int32(g), ci, c.i, v.I64[r], sign)
			}
			if c.i2 >= 0 {
				gi[c.i2] += int64(sign)
			}
		case CountDistinct, SumDistinct:
			d := &a.D[g*l.nD+c.d]
			switch c.phys {
			case runtime.PhysFloat:
				f := v.F64[r]
				if f == 0 {
					f = 0
				}
				if d.countInt(math.Float64bits(f), sign) && c.f >= 0 {
					gf[c.f] += float64(sign) * f
				}
			case runtime.PhysString:
				d.countString(v.Str[r], sign)
			default:
				if d.countInt(uint64(v.I64[r]), sign) && c.i >= 0 {
					a.addChecked(int32(g), ci, c.i, v.I64[r], sign)
				}
			}
		case Min, Max:
			a.V[g*l.nV+c.v].count(v, c.phys, int(r), sign)
		case FirstValue, LastValue, ListAgg:
			a.V[g*l.nV+c.v].list(v, c.phys, int(r), sign)
		case StddevPop, StddevSamp, VarPop, VarSamp:
			x := num(v, c.phys, int(r))
			if sign > 0 {
				welfordAdd(&gi[c.i2], &gf[c.f], &gf[c.f2], x)
			} else {
				welfordRemove(&gi[c.i2], &gf[c.f], &gf[c.f2], x)
			}
		case BoolAnd, BoolOr:
			if v.I64[r] != 0 {
				gi[c.i] += int64(sign)
			}
			gi[c.i2] += int64(sign)
		}
	}
}

// bag holds the values of one retracting MIN or MAX (a multiset: distinct
// values in ascending order, each with its count of live copies) or of one
// retracting FIRST_VALUE, LAST_VALUE or LISTAGG (a list: the live values
// in arrival order). One of ints, floats and strs is used, by the input's
// physical type. A multiset of numbers keeps each count next to its value
// (ints: v0, n0, v1, n1, …; floats the same, counts as floats), so that
// one slice holds it; a multiset of strings keeps counts in counts.
type bag struct {
	ints   []int64
	floats []float64
	strs   []string
	counts []int32 // multisets of strings only
}

// count adds (sign > 0) or removes one copy of row r of v in the multiset.
func (m *bag) count(v *runtime.Vector, phys runtime.Physical, r int, sign int8) {
	switch phys {
	case runtime.PhysFloat:
		m.floats = pairCount(m.floats, v.F64[r], sign)
	case runtime.PhysString:
		m.strs, m.counts = msCount(m.strs, m.counts, v.Str[r], sign)
	default:
		m.ints = pairCount(m.ints, v.I64[r], sign)
	}
}

// pairCount adds (sign > 0) or removes one copy of x in the multiset of
// (value, count) pairs p.
func pairCount[T int64 | float64](p []T, x T, sign int8) []T {
	lo, hi := 0, len(p)/2
	for lo < hi {
		h := int(uint(lo+hi) >> 1)
		if cmp.Less(p[2*h], x) {
			lo = h + 1
		} else {
			hi = h
		}
	}
	found := lo < len(p)/2 && cmp.Compare(p[2*lo], x) == 0
	if sign > 0 {
		if found {
			p[2*lo+1]++
			return p
		}
		if p == nil {
			p = make([]T, 0, 8)
		}
		return slices.Insert(p, 2*lo, x, 1)
	}
	if !found {
		return p
	}
	if p[2*lo+1] > 1 {
		p[2*lo+1]--
		return p
	}
	return slices.Delete(p, 2*lo, 2*lo+2)
}

func msCount[T cmp.Ordered](vals []T, counts []int32, x T, sign int8) ([]T, []int32) {
	i, ok := slices.BinarySearch(vals, x)
	if sign > 0 {
		if ok {
			counts[i]++
			return vals, counts
		}
		return slices.Insert(vals, i, x), slices.Insert(counts, i, 1)
	}
	if !ok {
		return vals, counts
	}
	if counts[i] > 1 {
		counts[i]--
		return vals, counts
	}
	return slices.Delete(vals, i, i+1), slices.Delete(counts, i, i+1)
}

// list appends row r of v to the list (sign > 0) or removes the earliest
// live copy of it.
func (m *bag) list(v *runtime.Vector, phys runtime.Physical, r int, sign int8) {
	switch phys {
	case runtime.PhysFloat:
		x := v.F64[r]
		if sign > 0 {
			m.floats = append(m.floats, x)
		} else if i := slices.IndexFunc(m.floats, func(y float64) bool { return math.Float64bits(y) == math.Float64bits(x) }); i >= 0 {
			m.floats = slices.Delete(m.floats, i, i+1)
		}
	case runtime.PhysString:
		if sign > 0 {
			m.strs = append(m.strs, v.Str[r])
		} else if i := slices.Index(m.strs, v.Str[r]); i >= 0 {
			m.strs = slices.Delete(m.strs, i, i+1)
		}
	default:
		if sign > 0 {
			m.ints = append(m.ints, v.I64[r])
		} else if i := slices.Index(m.ints, v.I64[r]); i >= 0 {
			m.ints = slices.Delete(m.ints, i, i+1)
		}
	}
}

func (m *bag) len() int { return len(m.ints) + len(m.floats) + len(m.strs) }

// emit appends the result of aggregate c over the bag to v.
func (m *bag) emit(c *compiled, v *runtime.Vector) {
	n := m.len()
	if n == 0 {
		v.AppendNull()
		return
	}
	i := 0 // MIN, FIRST_VALUE
	if c.Func == Max || c.Func == LastValue {
		i = n - 1
	}
	if c.Func == Max && c.phys != runtime.PhysString {
		i = n - 2 // the last (value, count) pair
	}
	switch {
	case c.Func == ListAgg:
		v.AppendString(strings.Join(m.strs, c.sep))
	case c.phys == runtime.PhysFloat:
		v.AppendFloat(m.floats[i])
	case c.phys == runtime.PhysString:
		v.AppendString(m.strs[i])
	default:
		v.AppendInt(m.ints[i])
	}
}

// merge folds o into m: a multiset adds o's counts, a list appends o's
// values.
func (m *bag) merge(o *bag, multiset bool) {
	if !multiset {
		m.ints = append(m.ints, o.ints...)
		m.floats = append(m.floats, o.floats...)
		m.strs = append(m.strs, o.strs...)
		return
	}
	for i := 0; i+1 < len(o.ints); i += 2 {
		for range o.ints[i+1] {
			m.ints = pairCount(m.ints, o.ints[i], 1)
		}
	}
	for i := 0; i+1 < len(o.floats); i += 2 {
		for range int64(o.floats[i+1]) {
			m.floats = pairCount(m.floats, o.floats[i], 1)
		}
	}
	for i, x := range o.strs {
		for range o.counts[i] {
			m.strs, m.counts = msCount(m.strs, m.counts, x, 1)
		}
	}
}

func (m *bag) bytes() int {
	n := cap(m.ints)*8 + cap(m.floats)*8 + cap(m.strs)*16 + cap(m.counts)*4
	for _, s := range m.strs {
		n += len(s)
	}
	return n
}
