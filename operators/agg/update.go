package agg

import (
	"math"
	"math/bits"

	"github.com/sluicehq/sluice/runtime"
)

// Update folds physical rows rows[k] of b into groups groups[k]. In a
// retracting layout the rows' kinds (b.Kinds) say whether each is added or
// retracted; an append-only layout adds every row.
func (a *Accs) Update(b *runtime.Batch, rows, groups []int32) {
	l := a.l
	if l.retract {
		a.updateRetract(b, rows, groups)
		return
	}
	for ci := range l.aggs {
		c := &l.aggs[ci]
		rs, gs := rows, groups
		if c.HasFilter {
			rs, gs = a.filter(b, c.Filter, rows, groups)
		}
		a.update(ci, c, b, rs, gs)
	}
}

// filter returns the rows (and their groups) whose BOOLEAN column col is
// TRUE, in scratch that the next call reuses.
func (a *Accs) filter(b *runtime.Batch, col int, rows, groups []int32) ([]int32, []int32) {
	v := &b.Cols[col]
	a.fr, a.fg = a.fr[:0], a.fg[:0]
	for k, r := range rows {
		if v.I64[r] != 0 && (v.Null == nil || !v.Null[r]) {
			a.fr = append(a.fr, r)
			a.fg = append(a.fg, groups[k])
		}
	}
	return a.fr, a.fg
}

// update adds rows to groups for aggregate ci of an append-only layout.
func (a *Accs) update(ci int, c *compiled, b *runtime.Batch, rows, groups []int32) {
	l := a.l
	nS, nD := l.nS, l.nD
	I, F := &a.ints, &a.floats
	if c.Col < 0 { // COUNT(*)
		countInts(I, c.i, groups)
		return
	}
	v := &b.Cols[c.Col]
	nulls := v.Null
	switch c.Func {
	case Count:
		if nulls == nil {
			countInts(I, c.i, groups)
			return
		}
		for k, r := range rows {
			if !nulls[r] {
				I.at(groups[k])[c.i]++
			}
		}
	case Sum, Avg:
		switch {
		case c.i3 >= 0: // AVG of an integer: a 128-bit sum
			sumInts128(I, c.i, c.i3, c.i2, v.I64, nulls, rows, groups)
		case c.phys == runtime.PhysFloat && c.Func == Sum:
			vals := v.F64
			for k, r := range rows {
				if nulls != nil && nulls[r] {
					continue
				}
				g := groups[k]
				F.at(g)[c.f] += vals[r]
				if c.i2 >= 0 {
					I.at(g)[c.i2]++
				}
			}
		case c.Func == Sum || c.f < 0: // AVG of a DECIMAL sums exactly too
			// Checked: a sum out of BIGINT's range marks its group
			// (see Check) instead of wrapping. The loops stop at
			// such a row (rare) and go on after it.
			for k := 0; k < len(rows); k++ {
				if nulls == nil && c.i2 < 0 {
					k += sumInts(I, c.i, v.I64, rows[k:], groups[k:])
				} else {
					k += sumIntsCounted(I, c.i, c.i2, v.I64, nulls, rows[k:], groups[k:])
				}
				if k < len(rows) {
					a.overflow(groups[k], ci)
				}
			}
		default: // AVG of DOUBLE
			for k, r := range rows {
				if nulls != nil && nulls[r] {
					continue
				}
				g := groups[k]
				F.at(g)[c.f] += v.F64[r]
				I.at(g)[c.i2]++
			}
		}
	case Min, Max:
		isMin := c.Func == Min
		for k, r := range rows {
			if nulls != nil && nulls[r] {
				continue
			}
			g := groups[k]
			gi := I.at(g)
			switch c.phys {
			case runtime.PhysFloat:
				x, p := v.F64[r], &F.at(g)[c.f]
				if isMin && x < *p || !isMin && x > *p {
					*p = x
				}
			case runtime.PhysString:
				x, p, has := v.Str[r], &a.S[int(g)*nS+c.s], &gi[c.i2]
				if *has == 0 || isMin && x < *p || !isMin && x > *p {
					*p = x
				}
				*has = 1
				continue
			default:
				x, p := v.I64[r], &gi[c.i]
				if isMin && x < *p || !isMin && x > *p {
					*p = x
				}
			}
			if c.i2 >= 0 {
				gi[c.i2] = 1
			}
		}
	case CountDistinct, SumDistinct:
		for k, r := range rows {
			if nulls != nil && nulls[r] {
				continue
			}
			g := groups[k]
			d := &a.D[int(g)*nD+c.d]
			switch c.phys {
			case runtime.PhysFloat:
				f := v.F64[r]
				if f == 0 {
					f = 0
				}
				if d.addInt(math.Float64bits(f)) && c.f >= 0 {
					F.at(g)[c.f] += f
				}
			case runtime.PhysString:
				d.addString(v.Str[r])
			default:
				if d.addInt(uint64(v.I64[r])) && c.i >= 0 {
					a.addChecked(g, ci, c.i, v.I64[r], 1)
				}
			}
		}
	case FirstValue, LastValue:
		first := c.Func == FirstValue
		for k, r := range rows {
			if nulls != nil && nulls[r] {
				continue
			}
			g := groups[k]
			gi := I.at(g)
			has := &gi[c.i2]
			if first && *has != 0 {
				continue
			}
			*has = 1
			a.seq++
			gi[c.i3] = a.seq
			switch c.phys {
			case runtime.PhysFloat:
				F.at(g)[c.f] = v.F64[r]
			case runtime.PhysString:
				a.S[int(g)*nS+c.s] = v.Str[r]
			default:
				gi[c.i] = v.I64[r]
			}
		}
	case ListAgg:
		for k, r := range rows {
			if nulls != nil && nulls[r] {
				continue
			}
			g := groups[k]
			gi := I.at(g)
			buf := &a.B[int(g)*l.nB+c.b]
			if gi[c.i2] > 0 {
				*buf = append(*buf, c.sep...)
			}
			*buf = append(*buf, v.Str[r]...)
			gi[c.i2]++
		}
	case StddevPop, StddevSamp, VarPop, VarSamp:
		for k, r := range rows {
			if nulls != nil && nulls[r] {
				continue
			}
			g := groups[k]
			gf := F.at(g)
			welfordAdd(&I.at(g)[c.i2], &gf[c.f], &gf[c.f2], num(v, c.phys, int(r)))
		}
	case BoolAnd, BoolOr:
		for k, r := range rows {
			if nulls != nil && nulls[r] {
				continue
			}
			gi := I.at(groups[k])
			if v.I64[r] != 0 {
				gi[c.i]++
			}
			gi[c.i2]++
		}
	}
}

// countInts adds one to slot at of each group of groups.
func countInts(I *slotChunks[int64], at int, groups []int32) {
	c, shift, mask, w := I.c, I.shift, I.mask, I.w
	if len(c) == 1 { // one chunk: a flat array
		c0 := c[0][at:]
		for _, g := range groups {
			c0[int(g)*w]++
		}
		return
	}
	for _, g := range groups {
		c[g>>shift][int(g&mask)*w+at]++
	}
}

// addChecked adds sign*x to the integer sum in slot at of group g for
// aggregate ci, marking the group on overflow.
func (a *Accs) addChecked(g int32, ci, at int, x int64, sign int8) {
	p := &a.ints.at(g)[at]
	var s int64
	var o int64
	if sign > 0 {
		s = *p + x
		o = (s ^ *p) & (s ^ x)
	} else {
		s = *p - x
		o = (*p ^ x) & (*p ^ s)
	}
	*p = s
	if o < 0 {
		a.overflow(g, ci)
	}
}

// The variances keep Welford's state: the count n, the mean, and the
// square root s of the sum of squared deviations (m2 = s²). Keeping the
// root, and adding and removing terms with hypot-like steps on roots, the
// state never overflows for values whose squares would (above ~1e154);
// differences that overflow (values of opposite signs near the largest
// DOUBLE) are taken in halves.

// welfordAdd adds x to the count n, mean and root of the sum of squared
// deviations s.
func welfordAdd(n *int64, mean, s *float64, x float64) {
	*n++
	k := float64(*n)
	var t float64
	if d := x - *mean; !math.IsInf(d, 0) {
		*mean += d / k
		t = math.Sqrt(math.Abs(d)) * math.Sqrt(math.Abs(x-*mean))
	} else {
		dh := x/2 - *mean/2
		*mean = 2 * (*mean/2 + dh/k)
		t = 2 * math.Sqrt(math.Abs(dh)) * math.Sqrt(math.Abs(x/2-*mean/2))
	}
	*s = math.Hypot(*s, t)
}

// welfordRemove undoes welfordAdd of x.
func welfordRemove(n *int64, mean, s *float64, x float64) {
	if *n <= 1 {
		*n, *mean, *s = 0, 0, 0
		return
	}
	*n--
	k := float64(*n)
	var t float64
	if d := x - *mean; !math.IsInf(d, 0) {
		*mean -= d / k
		t = math.Sqrt(math.Abs(d)) * math.Sqrt(math.Abs(x-*mean))
	} else {
		dh := x/2 - *mean/2
		*mean = 2 * (*mean/2 - dh/k)
		t = 2 * math.Sqrt(math.Abs(dh)) * math.Sqrt(math.Abs(x/2-*mean/2))
	}
	if t >= *s {
		*s = 0 // rounding: nothing left
		return
	}
	*s = math.Sqrt(*s-t) * math.Sqrt(*s/2+t/2) * math.Sqrt2 // √(s² − t²)
}

// sumInts adds vals[rows[k]] to slot at of group groups[k], in order,
// until a sum leaves BIGINT's range: it returns that k, whose sum is then
// wrapped, or len(rows). It is not inlined, and its loop calls nothing, so
// that the loop keeps its values in registers (in Update they are
// spilled).
//
//go:noinline
func sumInts(I *slotChunks[int64], at int, vals []int64, rows, groups []int32) int {
	c, shift, mask, w := I.c, I.shift, I.mask, I.w
	groups = groups[:len(rows)]
	if len(c) == 1 { // one chunk: a flat array
		c0 := c[0][at:]
		for k, r := range rows {
			p, x := &c0[int(groups[k])*w], vals[r]
			s := *p + x
			o := (s ^ *p) & (s ^ x)
			*p = s
			if o < 0 {
				return k
			}
		}
		return len(rows)
	}
	for k, r := range rows {
		g := groups[k]
		p, x := &c[g>>shift][int(g&mask)*w+at], vals[r]
		s := *p + x
		o := (s ^ *p) & (s ^ x)
		*p = s
		if o < 0 {
			return k
		}
	}
	return len(rows)
}

// sumIntsCounted is sumInts with slots at and cnt of a group, skipping the
// rows that nulls (if not nil) says are NULL and counting the others in
// slot cnt (if not -1).
//
//go:noinline
func sumIntsCounted(I *slotChunks[int64], at, cnt int, vals []int64, nulls []bool, rows, groups []int32) int {
	groups = groups[:len(rows)]
	for k, r := range rows {
		if nulls != nil && nulls[r] {
			continue
		}
		gi := I.at(groups[k])
		p, x := &gi[at], vals[r]
		s := *p + x
		o := (s ^ *p) & (s ^ x)
		*p = s
		if cnt >= 0 {
			gi[cnt]++
		}
		if o < 0 {
			return k
		}
	}
	return len(rows)
}

// sumInts128 adds vals[rows[k]] to the 128-bit sums of groups[k] (slots
// lo and hi of a group), skipping the rows that nulls (if not nil) says
// are NULL and counting the others in slot cnt.
//
//go:noinline
func sumInts128(I *slotChunks[int64], lo, hi, cnt int, vals []int64, nulls []bool, rows, groups []int32) {
	groups = groups[:len(rows)]
	for k, r := range rows {
		if nulls != nil && nulls[r] {
			continue
		}
		gi := I.at(groups[k])
		add128(&gi[lo], &gi[hi], vals[r])
		gi[cnt]++
	}
}

// add128 adds x to the 128-bit two's complement number hi:lo.
func add128(lo, hi *int64, x int64) {
	l, c := bits.Add64(uint64(*lo), uint64(x), 0)
	*lo = int64(l)
	*hi += x>>63 + int64(c)
}

// sub128 subtracts x from the 128-bit two's complement number hi:lo.
func sub128(lo, hi *int64, x int64) {
	l, b := bits.Sub64(uint64(*lo), uint64(x), 0)
	*lo = int64(l)
	*hi -= x>>63 + int64(b)
}

// num reads row r of a numeric vector of physical type phys as a float.
func num(v *runtime.Vector, phys runtime.Physical, r int) float64 {
	if phys == runtime.PhysFloat {
		return v.F64[r]
	}
	return float64(v.I64[r])
}

// Merge folds group src of o (same layout) into group dst of a: the rows
// of src count as arriving after those of dst, except that FIRST_VALUE and
// LAST_VALUE of an append-only layout compare arrival numbers (sessions).
func (a *Accs) Merge(dst int32, o *Accs, src int32) {
	l := a.l
	ai, oi := a.ints.at(dst), o.ints.at(src)
	af, of := a.floats.at(dst), o.floats.at(src)
	if l.rowSlot >= 0 {
		ai[l.rowSlot] += oi[l.rowSlot]
	}
	for ci := range l.aggs {
		c := &l.aggs[ci]
		if c.v >= 0 {
			a.V[int(dst)*l.nV+c.v].merge(&o.V[int(src)*l.nV+c.v], c.Func == Min || c.Func == Max)
			continue
		}
		switch c.Func {
		case Count:
			ai[c.i] += oi[c.i]
		case Sum, Avg:
			if c.f >= 0 {
				af[c.f] += of[c.f]
			} else if c.i3 >= 0 { // AVG of integers: 128 bits
				p, ph := &ai[c.i], &ai[c.i3]
				l, cy := bits.Add64(uint64(*p), uint64(oi[c.i]), 0)
				*p, *ph = int64(l), *ph+oi[c.i3]+int64(cy)
			} else {
				p, x := &ai[c.i], oi[c.i]
				s := *p + x
				if (s^*p)&(s^x) < 0 || o.overflowed(src) >= 0 {
					a.overflow(dst, ci)
				}
				*p = s
			}
			if c.i2 >= 0 {
				ai[c.i2] += oi[c.i2]
			}
		case Min, Max:
			isMin := c.Func == Min
			if c.i2 >= 0 && oi[c.i2] == 0 {
				continue // source saw no value
			}
			switch c.phys {
			case runtime.PhysFloat:
				x, p := of[c.f], &af[c.f]
				if isMin && x < *p || !isMin && x > *p {
					*p = x
				}
			case runtime.PhysString:
				x, p := o.S[int(src)*l.nS+c.s], &a.S[int(dst)*l.nS+c.s]
				if ai[c.i2] == 0 || isMin && x < *p || !isMin && x > *p {
					*p = x
				}
			default:
				x, p := oi[c.i], &ai[c.i]
				if isMin && x < *p || !isMin && x > *p {
					*p = x
				}
			}
			if c.i2 >= 0 {
				ai[c.i2] = 1
			}
		case CountDistinct, SumDistinct:
			d, sd := &a.D[int(dst)*l.nD+c.d], &o.D[int(src)*l.nD+c.d]
			if c.Func == CountDistinct || c.phys == runtime.PhysString {
				d.merge(sd, nil)
				continue
			}
			// SUM(DISTINCT): add the values new to dst.
			d.merge(sd, func(x uint64) {
				if c.f >= 0 {
					af[c.f] += math.Float64frombits(x)
				} else {
					a.addChecked(dst, ci, c.i, int64(x), 1)
				}
			})
		case FirstValue, LastValue:
			if oi[c.i2] == 0 {
				continue
			}
			sseq, dseq := oi[c.i3], ai[c.i3]
			if ai[c.i2] != 0 && (c.Func == FirstValue && dseq <= sseq || c.Func == LastValue && dseq >= sseq) {
				continue
			}
			ai[c.i2], ai[c.i3] = 1, sseq
			switch c.phys {
			case runtime.PhysFloat:
				af[c.f] = of[c.f]
			case runtime.PhysString:
				a.S[int(dst)*l.nS+c.s] = o.S[int(src)*l.nS+c.s]
			default:
				ai[c.i] = oi[c.i]
			}
		case ListAgg:
			n := oi[c.i2]
			if n == 0 {
				continue
			}
			buf := &a.B[int(dst)*l.nB+c.b]
			if ai[c.i2] > 0 {
				*buf = append(*buf, c.sep...)
			}
			*buf = append(*buf, o.B[int(src)*l.nB+c.b]...)
			ai[c.i2] += n
		case StddevPop, StddevSamp, VarPop, VarSamp:
			welfordMerge(&ai[c.i2], &af[c.f], &af[c.f2], oi[c.i2], of[c.f], of[c.f2])
		case BoolAnd, BoolOr:
			ai[c.i] += oi[c.i]
			ai[c.i2] += oi[c.i2]
		}
	}
}

// welfordMerge folds the state (nb, mb, sb) into (n, mean, s) (Chan et
// al.: m2 = m2a + m2b + d²·na·nb/(na+nb), on roots).
func welfordMerge(n *int64, mean, s *float64, nb int64, mb, sb float64) {
	if nb == 0 {
		return
	}
	if *n == 0 {
		*n, *mean, *s = nb, mb, sb
		return
	}
	na := *n
	t := float64(na + nb)
	w := math.Sqrt(float64(na) / t * float64(nb))
	var cross float64
	if d := mb - *mean; !math.IsInf(d, 0) {
		*mean += d * (float64(nb) / t)
		cross = math.Abs(d) * w
	} else {
		dh := mb/2 - *mean/2
		*mean = 2 * (*mean/2 + dh*(float64(nb)/t))
		cross = 2 * math.Abs(dh) * w
	}
	*s = math.Hypot(math.Hypot(*s, sb), cross)
	*n = na + nb
}

// Emit appends the results of group g to columns out.Cols[first:], one per
// aggregate.
func (a *Accs) Emit(g int32, out *runtime.Batch, first int) {
	l := a.l
	gi, gf := a.ints.at(g), a.floats.at(g)
	for ci := range l.aggs {
		c := &l.aggs[ci]
		v := &out.Cols[first+ci]
		switch c.Func {
		case Count:
			v.AppendInt(gi[c.i])
		case CountDistinct:
			v.AppendInt(int64(a.D[int(g)*l.nD+c.d].len()))
		case Sum:
			if c.i2 >= 0 && gi[c.i2] == 0 {
				v.AppendNull()
			} else if c.f >= 0 {
				v.AppendFloat(gf[c.f])
			} else {
				v.AppendInt(gi[c.i])
			}
		case SumDistinct:
			if a.D[int(g)*l.nD+c.d].len() == 0 {
				v.AppendNull()
			} else if c.f >= 0 {
				v.AppendFloat(gf[c.f])
			} else {
				v.AppendInt(gi[c.i])
			}
		case Avg:
			n := gi[c.i2]
			if n == 0 {
				v.AppendNull()
			} else if c.in.IsDecimal() {
				v.AppendInt(decimalAvg(gi[c.i], n, c.out.Type.Scale()-c.in.Scale()))
			} else if c.f < 0 {
				v.AppendInt(IntAvg(gi[c.i3], uint64(gi[c.i]), n))
			} else {
				v.AppendFloat(gf[c.f] / float64(n))
			}
		case Min, Max, FirstValue, LastValue:
			if c.v >= 0 {
				a.V[int(g)*l.nV+c.v].emit(c, v)
				continue
			}
			if c.i2 >= 0 && gi[c.i2] == 0 {
				v.AppendNull()
				continue
			}
			switch c.phys {
			case runtime.PhysFloat:
				v.AppendFloat(gf[c.f])
			case runtime.PhysString:
				v.AppendString(a.S[int(g)*l.nS+c.s])
			default:
				v.AppendInt(gi[c.i])
			}
		case ListAgg:
			if c.v >= 0 {
				a.V[int(g)*l.nV+c.v].emit(c, v)
			} else if gi[c.i2] == 0 {
				v.AppendNull()
			} else {
				v.AppendString(string(a.B[int(g)*l.nB+c.b]))
			}
		case StddevPop, StddevSamp, VarPop, VarSamp:
			n, root := gi[c.i2], gf[c.f2]
			appendVariance(v, c.Func, n, root)
		case BoolAnd, BoolOr:
			trues, n := gi[c.i], gi[c.i2]
			switch {
			case n == 0:
				v.AppendNull()
			case c.Func == BoolAnd:
				v.AppendInt(b2i(trues == n))
			default:
				v.AppendInt(b2i(trues > 0))
			}
		}
	}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// appendVariance appends VAR_POP, VAR_SAMP or their square roots over n
// values whose sum of squared deviations is root².
func appendVariance(v *runtime.Vector, f Func, n int64, root float64) {
	samp := f == StddevSamp || f == VarSamp
	if n == 0 || samp && n == 1 {
		v.AppendNull()
		return
	}
	d := float64(n)
	if samp {
		d--
	}
	x := max(root, 0) / math.Sqrt(d) // the standard deviation
	if f == VarPop || f == VarSamp {
		x *= x // +Inf only when the variance itself is beyond DOUBLE
	}
	v.AppendFloat(x)
}

// distinctSet is the value set of one COUNT(DISTINCT) accumulator; the maps
// are made on first use. An append-only layout keeps sets (ints, strs); a
// retracting one counts the live copies of each value (cints, cstrs).
type distinctSet struct {
	ints  intSet
	strs  map[string]struct{}
	cints map[uint64]int32
	cstrs map[string]int32
}

// addInt adds x and reports whether it is new to the set.
func (d *distinctSet) addInt(x uint64) bool { return d.ints.add(x) }

func (d *distinctSet) addString(s string) {
	if d.strs == nil {
		d.strs = make(map[string]struct{})
	}
	d.strs[s] = struct{}{}
}

// countInt adds (sign > 0) or removes a copy of x, counted, and reports
// whether x entered or left the set. Removing a value not in the set does
// nothing.
func (d *distinctSet) countInt(x uint64, sign int8) bool {
	if sign > 0 {
		if d.cints == nil {
			d.cints = make(map[uint64]int32)
		}
		d.cints[x]++
		return d.cints[x] == 1
	}
	n, ok := d.cints[x]
	if !ok {
		return false
	}
	if n <= 1 {
		delete(d.cints, x)
		return true
	}
	d.cints[x] = n - 1
	return false
}

// countString is countInt for strings.
func (d *distinctSet) countString(x string, sign int8) {
	if sign > 0 {
		if d.cstrs == nil {
			d.cstrs = make(map[string]int32)
		}
		d.cstrs[x]++
		return
	}
	n, ok := d.cstrs[x]
	if !ok {
		return
	}
	if n <= 1 {
		delete(d.cstrs, x)
		return
	}
	d.cstrs[x] = n - 1
}

// merge folds o into d; newInt is called with each integer value new to d.
func (d *distinctSet) merge(o *distinctSet, newInt func(uint64)) {
	o.ints.each(func(x uint64) {
		if d.addInt(x) && newInt != nil {
			newInt(x)
		}
	})
	for s := range o.strs {
		d.addString(s)
	}
	for x, n := range o.cints {
		if d.cints == nil {
			d.cints = make(map[uint64]int32)
		}
		if d.cints[x] == 0 && newInt != nil {
			newInt(x)
		}
		d.cints[x] += n
	}
	for s, n := range o.cstrs {
		if d.cstrs == nil {
			d.cstrs = make(map[string]int32)
		}
		d.cstrs[s] += n
	}
}

func (d *distinctSet) len() int { return d.ints.len() + len(d.strs) + len(d.cints) + len(d.cstrs) }

func (d *distinctSet) bytes() int {
	n := len(d.ints.slots)*8 + len(d.cints)*24
	for s := range d.strs {
		n += 24 + len(s)
	}
	for s := range d.cstrs {
		n += 32 + len(s)
	}
	return n
}
