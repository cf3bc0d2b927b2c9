package agg

import (
	"math"

	"github.com/sluicehq/sluice/runtime"
)

// Update folds physical rows rows[k] of b into groups groups[k].
func (a *Accs) Update(b *runtime.Batch, rows, groups []int32) {
	l := a.l
	nI, nF, nS, nD := l.nI, l.nF, l.nS, l.nD
	I, F := a.I, a.F
	for ci := range l.aggs {
		c := &l.aggs[ci]
		if c.Col < 0 { // COUNT(*)
			for _, g := range groups {
				I[int(g)*nI+c.i]++
			}
			continue
		}
		v := &b.Cols[c.Col]
		nulls := v.Null
		switch c.Func {
		case Count:
			if nulls == nil {
				for _, g := range groups {
					I[int(g)*nI+c.i]++
				}
				continue
			}
			for k, r := range rows {
				if !nulls[r] {
					I[int(groups[k])*nI+c.i]++
				}
			}
		case Sum, Avg:
			switch {
			case c.phys == runtime.PhysFloat && c.Func == Sum:
				vals := v.F64
				for k, r := range rows {
					if nulls != nil && nulls[r] {
						continue
					}
					g := int(groups[k])
					F[g*nF+c.f] += vals[r]
					if c.i2 >= 0 {
						I[g*nI+c.i2]++
					}
				}
			case c.Func == Sum:
				// Checked: a sum out of BIGINT's range marks its group
				// (see Check) instead of wrapping. The loops stop at
				// such a row (rare) and go on after it.
				for k := 0; k < len(rows); k++ {
					if nulls == nil && c.i2 < 0 {
						k += sumInts(I[c.i:], nI, v.I64, rows[k:], groups[k:])
					} else {
						k += sumIntsCounted(I, nI, c.i, c.i2, v.I64, nulls, rows[k:], groups[k:])
					}
					if k < len(rows) {
						a.overflow(groups[k], ci)
					}
				}
			default: // AVG
				for k, r := range rows {
					if nulls != nil && nulls[r] {
						continue
					}
					g := int(groups[k])
					if c.phys == runtime.PhysFloat {
						F[g*nF+c.f] += v.F64[r]
					} else {
						F[g*nF+c.f] += float64(v.I64[r])
					}
					I[g*nI+c.i2]++
				}
			}
		case Min, Max:
			isMin := c.Func == Min
			for k, r := range rows {
				if nulls != nil && nulls[r] {
					continue
				}
				g := int(groups[k])
				switch c.phys {
				case runtime.PhysFloat:
					x, p := v.F64[r], &F[g*nF+c.f]
					if isMin && x < *p || !isMin && x > *p {
						*p = x
					}
				case runtime.PhysString:
					x, p, has := v.Str[r], &a.S[g*nS+c.s], &I[g*nI+c.i2]
					if *has == 0 || isMin && x < *p || !isMin && x > *p {
						*p = x
					}
					*has = 1
					continue
				default:
					x, p := v.I64[r], &I[g*nI+c.i]
					if isMin && x < *p || !isMin && x > *p {
						*p = x
					}
				}
				if c.i2 >= 0 {
					I[g*nI+c.i2] = 1
				}
			}
		case CountDistinct:
			for k, r := range rows {
				if nulls != nil && nulls[r] {
					continue
				}
				d := &a.D[int(groups[k])*nD+c.d]
				switch c.phys {
				case runtime.PhysFloat:
					f := v.F64[r]
					if f == 0 {
						f = 0
					}
					d.addInt(math.Float64bits(f))
				case runtime.PhysString:
					d.addString(v.Str[r])
				default:
					d.addInt(uint64(v.I64[r]))
				}
			}
		}
	}
}

// sumInts adds vals[rows[k]] to I[groups[k]*nI] (I starts at the sum's
// slot of group 0; a group has nI slots), in order, until a sum leaves
// BIGINT's range: it returns that k, whose sum is then wrapped, or
// len(rows). It is not inlined, and its loop calls nothing, so that the
// loop keeps its values in registers (in Update they are spilled).
//
//go:noinline
func sumInts(I []int64, nI int, vals []int64, rows, groups []int32) int {
	groups = groups[:len(rows)]
	for k, r := range rows {
		p, x := &I[int(groups[k])*nI], vals[r]
		s := *p + x
		o := (s ^ *p) & (s ^ x)
		*p = s
		if o < 0 {
			return k
		}
	}
	return len(rows)
}

// sumIntsCounted is sumInts with slots at and cnt of a group's nI,
// skipping the rows that nulls (if not nil) says are NULL and counting the
// others in slot cnt (if not -1).
//
//go:noinline
func sumIntsCounted(I []int64, nI, at, cnt int, vals []int64, nulls []bool, rows, groups []int32) int {
	groups = groups[:len(rows)]
	for k, r := range rows {
		if nulls != nil && nulls[r] {
			continue
		}
		g := int(groups[k]) * nI
		p, x := &I[g+at], vals[r]
		s := *p + x
		o := (s ^ *p) & (s ^ x)
		*p = s
		if cnt >= 0 {
			I[g+cnt]++
		}
		if o < 0 {
			return k
		}
	}
	return len(rows)
}

// Merge folds group src of o (same layout) into group dst of a.
func (a *Accs) Merge(dst int32, o *Accs, src int32) {
	l := a.l
	di, si := int(dst)*l.nI, int(src)*l.nI
	df, sf := int(dst)*l.nF, int(src)*l.nF
	for ci := range l.aggs {
		c := &l.aggs[ci]
		switch c.Func {
		case Count:
			a.I[di+c.i] += o.I[si+c.i]
		case Sum, Avg:
			if c.f >= 0 {
				a.F[df+c.f] += o.F[sf+c.f]
			} else {
				p, x := &a.I[di+c.i], o.I[si+c.i]
				s := *p + x
				if (s^*p)&(s^x) < 0 || o.overflowed(src) >= 0 {
					a.overflow(dst, ci)
				}
				*p = s
			}
			if c.i2 >= 0 {
				a.I[di+c.i2] += o.I[si+c.i2]
			}
		case Min, Max:
			isMin := c.Func == Min
			if c.i2 >= 0 && o.I[si+c.i2] == 0 {
				continue // source saw no value
			}
			switch c.phys {
			case runtime.PhysFloat:
				x, p := o.F[sf+c.f], &a.F[df+c.f]
				if isMin && x < *p || !isMin && x > *p {
					*p = x
				}
			case runtime.PhysString:
				x, p := o.S[int(src)*l.nS+c.s], &a.S[int(dst)*l.nS+c.s]
				if a.I[di+c.i2] == 0 || isMin && x < *p || !isMin && x > *p {
					*p = x
				}
			default:
				x, p := o.I[si+c.i], &a.I[di+c.i]
				if isMin && x < *p || !isMin && x > *p {
					*p = x
				}
			}
			if c.i2 >= 0 {
				a.I[di+c.i2] = 1
			}
		case CountDistinct:
			a.D[int(dst)*l.nD+c.d].merge(&o.D[int(src)*l.nD+c.d])
		}
	}
}

// Emit appends the results of group g to columns out.Cols[first:], one per
// aggregate.
func (a *Accs) Emit(g int32, out *runtime.Batch, first int) {
	l := a.l
	bi, bf := int(g)*l.nI, int(g)*l.nF
	for ci := range l.aggs {
		c := &l.aggs[ci]
		v := &out.Cols[first+ci]
		switch c.Func {
		case Count:
			v.AppendInt(a.I[bi+c.i])
		case CountDistinct:
			v.AppendInt(int64(a.D[int(g)*l.nD+c.d].len()))
		case Sum:
			if c.i2 >= 0 && a.I[bi+c.i2] == 0 {
				v.AppendNull()
			} else if c.f >= 0 {
				v.AppendFloat(a.F[bf+c.f])
			} else {
				v.AppendInt(a.I[bi+c.i])
			}
		case Avg:
			n := a.I[bi+c.i2]
			if n == 0 {
				v.AppendNull()
			} else {
				v.AppendFloat(a.F[bf+c.f] / float64(n))
			}
		case Min, Max:
			if c.i2 >= 0 && a.I[bi+c.i2] == 0 {
				v.AppendNull()
				continue
			}
			switch c.phys {
			case runtime.PhysFloat:
				v.AppendFloat(a.F[bf+c.f])
			case runtime.PhysString:
				v.AppendString(a.S[int(g)*l.nS+c.s])
			default:
				v.AppendInt(a.I[bi+c.i])
			}
		}
	}
}

// distinctSet is the value set of one COUNT(DISTINCT) accumulator; the maps
// are made on first use.
type distinctSet struct {
	ints map[uint64]struct{}
	strs map[string]struct{}
}

func (d *distinctSet) addInt(x uint64) {
	if d.ints == nil {
		d.ints = make(map[uint64]struct{})
	}
	d.ints[x] = struct{}{}
}

func (d *distinctSet) addString(s string) {
	if d.strs == nil {
		d.strs = make(map[string]struct{})
	}
	d.strs[s] = struct{}{}
}

func (d *distinctSet) merge(o *distinctSet) {
	for x := range o.ints {
		d.addInt(x)
	}
	for s := range o.strs {
		d.addString(s)
	}
}

func (d *distinctSet) len() int { return len(d.ints) + len(d.strs) }

func (d *distinctSet) bytes() int {
	n := len(d.ints) * 16
	for s := range d.strs {
		n += 24 + len(s)
	}
	return n
}
