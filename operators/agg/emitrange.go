package agg

import "github.com/sluicehq/sluice/runtime"

// EmitRange appends the results of groups from..to-1 to out.Cols[first:],
// one column at a time, as Emit does for each group in turn (the caller
// adds to out.N), and reports true; for a whole window of groups this
// saves a call and a switch per group and aggregate. It does so for
// layouts of COUNT and integer SUM only, and only while no group's SUM
// has overflowed (Check would have an error for it); otherwise it appends
// nothing and reports false, and the caller emits group by group.
func (a *Accs) EmitRange(from, to int32, out *runtime.Batch, first int) bool {
	l := a.l
	if len(a.over) > 0 || l.decimalSums || !l.countsAndSums() {
		return false
	}
	for ci := range l.aggs {
		c := &l.aggs[ci]
		v := &out.Cols[first+ci]
		if c.Func == Sum && c.i2 >= 0 {
			// A SUM of a nullable column: NULL for a group without
			// a value.
			for g := from; g < to; g++ {
				if gi := a.ints.at(g); gi[c.i2] == 0 {
					v.AppendNull()
				} else {
					v.AppendInt(gi[c.i])
				}
			}
			continue
		}
		n := int(to - from)
		v.I64 = growInts(v.I64, n)
		dst := v.I64[len(v.I64)-n:]
		// A run of groups, a chunk of slots at a time.
		I, w := &a.ints, l.nI
		for g := from; g < to; {
			ch := I.c[g>>I.shift]
			o := int(g & I.mask)
			k := min(int(to-g), len(ch)/w-o)
			src := ch[o*w+c.i:]
			for j := range dst[:k] {
				dst[j] = src[j*w]
			}
			dst = dst[k:]
			g += int32(k)
		}
		if v.Null != nil {
			v.Null = append(v.Null, make([]bool, n)...)
		}
	}
	return true
}

// countsAndSums reports whether every aggregate of l is a COUNT or a SUM
// kept in one integer slot (see EmitRange).
func (l *Layout) countsAndSums() bool {
	for i := range l.aggs {
		c := &l.aggs[i]
		switch {
		case c.Func == Count && c.i >= 0:
		case c.Func == Sum && c.f < 0 && c.i >= 0 && !c.in.IsDecimal():
		default:
			return false
		}
	}
	return true
}

// growInts returns s extended by n elements (their values unset).
func growInts(s []int64, n int) []int64 {
	if len(s)+n > cap(s) {
		grown := make([]int64, len(s), max(len(s)+n, 2*cap(s)))
		copy(grown, s)
		s = grown
	}
	return s[:len(s)+n]
}

// KeysRange appends the keys of groups from..to-1 to out.Cols[first:], as
// Key does for each group in turn (the caller adds to out.N).
func (t *Table) KeysRange(from, to int32, out *runtime.Batch, first int) {
	if t.single {
		v := &out.Cols[first]
		v.I64 = t.ints.appendKeys(v.I64, from, to)
		if v.Null != nil {
			v.Null = append(v.Null, make([]bool, to-from)...)
		}
		return
	}
	for g := from; g < to; g++ {
		t.Key(g, out, first)
	}
}
