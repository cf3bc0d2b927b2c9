package over

import (
	"math/bits"
	"slices"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/runtime"
)

// part is the state of one partition: the entries (rows) of its frame, by
// absolute index: entries head..n-1 are in the frame, stored from index
// base on (base <= head; the slots before head are freed in bulk).
type part struct {
	base, head, n int64
	ts            []int64   // entry times, for sliding RANGE frames
	cols          []colVals // the entries' values, one per op.slots
	accs          []acc     // one per aggregate
}

// colVals holds the values of one input column for the entries.
type colVals struct {
	vn []bool // NULL flags (nullable column)
	vi []int64
	vf []float64
	vs []string
}

// acc is the running state of one aggregate of a partition. The fields
// every row touches come first, to share cache lines.
type acc struct {
	cnt    int64   // non-NULL values in the frame (rows, for COUNT(*))
	lo     uint64  // integer sum, 128 bits: lo
	hi     int64   // and hi
	f      float64 // DOUBLE sum
	dq     []int64 // sliding MIN/MAX: entry indexes, values monotonic
	dqHead int
	has    bool // unbounded MIN/MAX: a value seen
	mi     int64
	mf     float64
	ms     string
}

// add appends physical row r of b, at time t, to p's frame.
func (o *op) add(p *part, b *runtime.Batch, r int, t int64) {
	if p.accs == nil {
		p.accs = make([]acc, len(o.aggs))
		p.cols = make([]colVals, len(o.slots))
	}
	if o.byTime {
		p.ts = append(p.ts, t)
	}
	for i := range o.slots {
		sl, c, v := &o.slots[i], &p.cols[i], &b.Cols[o.slots[i].col]
		if sl.nullable {
			c.vn = append(c.vn, v.Null != nil && v.Null[r])
		}
		if !sl.vals {
			continue
		}
		switch sl.phys {
		case runtime.PhysFloat:
			c.vf = append(c.vf, v.F64[r])
		case runtime.PhysString:
			c.vs = append(c.vs, v.Str[r])
		default:
			c.vi = append(c.vi, v.I64[r])
		}
	}
	idx := p.n
	p.n++
	for k := range o.aggs {
		a, s := &o.aggs[k], &p.accs[k]
		if a.col < 0 {
			s.cnt++
			continue
		}
		v := &b.Cols[a.col]
		if v.Null != nil && v.Null[r] {
			continue
		}
		s.cnt++
		switch a.fn {
		case agg.Sum, agg.Avg:
			if a.phys == runtime.PhysFloat {
				s.f += v.F64[r]
			} else {
				s.addInt(v.I64[r])
			}
		case agg.Min, agg.Max:
			if o.sliding {
				o.push(p, s, a, idx)
			} else {
				s.running(a, v, r)
			}
		}
	}
}

func (s *acc) addInt(x int64) {
	var c uint64
	s.lo, c = bits.Add64(s.lo, uint64(x), 0)
	s.hi += x>>63 + int64(c)
}

func (s *acc) subInt(x int64) {
	var c uint64
	s.lo, c = bits.Sub64(s.lo, uint64(x), 0)
	s.hi -= x>>63 + int64(c)
}

// running folds row r of v into an unbounded MIN or MAX.
func (s *acc) running(a *aggFn, v *runtime.Vector, r int) {
	isMin := a.fn == agg.Min
	switch a.phys {
	case runtime.PhysFloat:
		if x := v.F64[r]; !s.has || isMin && x < s.mf || !isMin && x > s.mf {
			s.mf = x
		}
	case runtime.PhysString:
		if x := v.Str[r]; !s.has || isMin && x < s.ms || !isMin && x > s.ms {
			s.ms = x
		}
	default:
		if x := v.I64[r]; !s.has || isMin && x < s.mi || !isMin && x > s.mi {
			s.mi = x
		}
	}
	s.has = true
}

// push adds entry idx (not NULL, its value stored) to a sliding MIN or
// MAX: entries it makes useless leave the back of the deque.
func (o *op) push(p *part, s *acc, a *aggFn, idx int64) {
	isMin := a.fn == agg.Min
	pos := idx - p.base
	c := &p.cols[a.slot]
	for len(s.dq) > s.dqHead {
		back := s.dq[len(s.dq)-1] - p.base
		var drop bool
		switch a.phys {
		case runtime.PhysFloat:
			x, y := c.vf[pos], c.vf[back]
			drop = isMin && y >= x || !isMin && y <= x
		case runtime.PhysString:
			x, y := c.vs[pos], c.vs[back]
			drop = isMin && y >= x || !isMin && y <= x
		default:
			x, y := c.vi[pos], c.vi[back]
			drop = isMin && y >= x || !isMin && y <= x
		}
		if !drop {
			break
		}
		s.dq = s.dq[:len(s.dq)-1]
	}
	s.dq = append(s.dq, idx)
}

// evict removes the entries before upto from p's frame.
func (o *op) evict(p *part, upto int64) {
	for k := range o.aggs {
		a, s := &o.aggs[k], &p.accs[k]
		if a.col < 0 || !a.nullable && a.fn == agg.Count {
			s.cnt -= upto - p.head
			continue
		}
		c := &p.cols[a.slot]
		for idx := p.head; idx < upto; idx++ {
			pos := idx - p.base
			if a.nullable && c.vn[pos] {
				continue
			}
			s.cnt--
			switch a.fn {
			case agg.Sum, agg.Avg:
				if a.phys == runtime.PhysFloat {
					s.f -= c.vf[pos]
				} else {
					s.subInt(c.vi[pos])
				}
			case agg.Min, agg.Max:
				if s.dqHead < len(s.dq) && s.dq[s.dqHead] == idx {
					s.dqHead++
				}
			}
		}
		if s.cnt == 0 {
			// An empty frame sums to exactly zero, whatever the rounding
			// of the subtractions.
			s.f, s.lo, s.hi = 0, 0, 0
		}
	}
	p.head = upto
	if h := p.head - p.base; h >= 64 && 2*h >= p.n-p.base {
		p.compact()
	}
}

// compact frees the slots before head.
func (p *part) compact() {
	h := int(p.head - p.base)
	if p.ts != nil {
		p.ts = p.ts[:copy(p.ts, p.ts[h:])]
	}
	for i := range p.cols {
		c := &p.cols[i]
		if c.vi != nil {
			c.vi = c.vi[:copy(c.vi, c.vi[h:])]
		}
		if c.vf != nil {
			c.vf = c.vf[:copy(c.vf, c.vf[h:])]
		}
		if c.vs != nil {
			n := copy(c.vs, c.vs[h:])
			clear(c.vs[n:])
			c.vs = c.vs[:n]
		}
		if c.vn != nil {
			c.vn = c.vn[:copy(c.vn, c.vn[h:])]
		}
	}
	for k := range p.accs {
		s := &p.accs[k]
		s.dq = s.dq[:copy(s.dq, s.dq[s.dqHead:])]
		s.dqHead = 0
	}
	p.base = p.head
}

// result appends aggregate k of p's frame to v.
func (o *op) result(p *part, k int, v *runtime.Vector) error {
	a, s := &o.aggs[k], &p.accs[k]
	switch a.fn {
	case agg.Count:
		v.AppendInt(s.cnt)
		return nil
	}
	if s.cnt == 0 {
		v.AppendNull()
		return nil
	}
	switch a.fn {
	case agg.Sum:
		if a.phys == runtime.PhysFloat {
			v.AppendFloat(s.f)
			return nil
		}
		if s.hi != int64(s.lo)>>63 {
			return &agg.OverflowError{Agg: a.name}
		}
		v.AppendInt(int64(s.lo))
	case agg.Avg:
		if a.phys != runtime.PhysFloat {
			x, err := a.intAvg(s.hi, s.lo, s.cnt)
			v.AppendInt(x)
			return err
		}
		v.AppendFloat(s.f / float64(s.cnt))
	case agg.Min, agg.Max:
		if !o.sliding {
			switch a.phys {
			case runtime.PhysFloat:
				v.AppendFloat(s.mf)
			case runtime.PhysString:
				v.AppendString(s.ms)
			default:
				v.AppendInt(s.mi)
			}
			return nil
		}
		pos, c := s.dq[s.dqHead]-p.base, &p.cols[a.slot]
		switch a.phys {
		case runtime.PhysFloat:
			v.AppendFloat(c.vf[pos])
		case runtime.PhysString:
			v.AppendString(c.vs[pos])
		default:
			v.AppendInt(c.vi[pos])
		}
	}
	return nil
}

// sortDue orders buffered rows by time, then partition, then arrival
// (their index). When the times span less than 2²² ms and partitions and
// rows number less than 2²¹ (the usual case), it sorts packed uint64 keys
// in keys (returned for reuse); otherwise it compares.
func sortDue(due []int32, ts []int64, gs []int32, keys []uint64) []uint64 {
	if len(due) < 2 {
		return keys
	}
	const bits = 21
	minT, maxT, maxG := ts[due[0]], ts[due[0]], int32(0)
	for _, i := range due {
		minT, maxT, maxG = min(minT, ts[i]), max(maxT, ts[i]), max(maxG, gs[i])
	}
	if uint64(maxT-minT) < 1<<(64-2*bits) && maxG < 1<<bits && len(ts) < 1<<bits {
		keys = keys[:0]
		for _, i := range due {
			keys = append(keys, uint64(ts[i]-minT)<<(2*bits)|uint64(gs[i])<<bits|uint64(i))
		}
		slices.Sort(keys)
		for k, key := range keys {
			due[k] = int32(key & (1<<bits - 1))
		}
		return keys
	}
	slices.SortFunc(due, func(a, b int32) int {
		if ts[a] != ts[b] {
			if ts[a] < ts[b] {
				return -1
			}
			return 1
		}
		if gs[a] != gs[b] {
			return int(gs[a]) - int(gs[b])
		}
		return int(a) - int(b) // arrival
	})
	return keys
}

// intAvg is AVG of integers or DECIMALs (exact, of agg.AvgType) from their
// 128-bit sum hi:lo over n > 0 values. A DECIMAL sum must fit 64 bits.
func (a *aggFn) intAvg(hi int64, lo uint64, n int64) (int64, error) {
	if a.decimal == runtime.Invalid {
		return agg.IntAvg(hi, lo, n), nil
	}
	if hi != int64(lo)>>63 {
		return 0, &agg.OverflowError{Agg: a.name, Type: a.decimal}
	}
	return agg.DecimalAvg(int64(lo), n, a.decimal), nil
}
