package over

import (
	"fmt"
	"math"
	"math/bits"
	"sort"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/runtime"
)

// Over an updating input (Spec.Updating) the operator keeps every row of
// each partition, ordered by (time, arrival), and applies each change at
// once: the ORDER BY column is a sort key, not a time attribute, so no row
// is late and watermarks pass through. An insert (+I, +U) emits the new
// row (+I) and a retraction (-U, -D) emits the removed row with the
// aggregates it had (-D); every other row whose frame the change touches
// and whose aggregates change is updated (-U with the old aggregates, +U
// with the new). Applying the result as a changelog always gives the OVER
// aggregation of the current input. A change costs O(frame²): the affected
// rows (the n after it for ROWS, those up to the interval after it for
// RANGE) are recomputed over their frames; so frames must be bounded.

// updState is the state of the operator over an updating input.
type updState struct {
	store *runtime.Batch // rows by id; removed rows stay until compaction
	dead  int
	parts [][]uentry // per partition, by (t, seq)
	seq   int64
	old   *runtime.Batch // aggregates of the affected rows before a change
	new   *runtime.Batch // and after
	ids   []int32        // the affected rows
	pos   []int          // their positions before the change
	out   runtime.Output // of the batch being processed
}

type uentry struct {
	t, seq int64
	id     int32
}

func newUpdState(in *runtime.Schema, aggs []runtime.Field) *updState {
	s := runtime.NewSchema(aggs...)
	return &updState{store: newBatch(in), old: newBatch(s), new: newBatch(s)}
}

// lower is the first position of entries at time t or later.
func lower(es []uentry, t int64) int {
	return sort.Search(len(es), func(i int) bool { return es[i].t >= t })
}

// upper is the first position of entries after time t.
func upper(es []uentry, t int64) int {
	return sort.Search(len(es), func(i int) bool { return es[i].t > t })
}

// processUpdating applies the present rows of b, in order.
func (o *op) processUpdating(b *runtime.Batch, out runtime.Output) error {
	u := o.u
	u.out = out
	defer func() { u.out = nil }()
	for k, r := range o.rows {
		g := o.groups[k]
		var err error
		switch b.Kind(int(r)) {
		case runtime.Insert, runtime.UpdateAfter:
			err = o.insert(g, b, int(r))
		default:
			err = o.retract(g, b, int(r))
		}
		if err != nil {
			return err
		}
	}
	if u.dead > 1024 && u.dead > u.store.N-u.dead {
		o.compactStore()
	}
	return o.flushUpdating()
}

// affected lists the entries of es whose frame holds time t (besides
// skip, a position or -1), for ROWS starting at position from.
func (o *op) affected(es []uentry, t int64, from, skip int) {
	u := o.u
	u.ids, u.pos = u.ids[:0], u.pos[:0]
	lo, hi := from, min(from+int(o.spec.Frame.Preceding), len(es))
	if !o.spec.Frame.Rows {
		lo, hi = lower(es, t), upper(es, t+o.spec.Frame.Preceding)
	}
	for i := lo; i < hi; i++ {
		if i != skip {
			u.ids = append(u.ids, es[i].id)
			u.pos = append(u.pos, i)
		}
	}
}

func (o *op) insert(g int32, b *runtime.Batch, r int) error {
	u := o.u
	t := b.Cols[o.spec.TimeCol].I64[r]
	es := u.parts[g]
	i := upper(es, t)
	o.affected(es, t, i, -1)
	u.old.Reset()
	for _, p := range u.pos {
		if err := o.frameAggs(g, es, p, u.old); err != nil {
			return err
		}
	}
	id := int32(u.store.N)
	for c := range u.store.Cols {
		u.store.Cols[c].AppendFrom(&b.Cols[c], r)
	}
	u.store.N++
	u.seq++
	es = append(es, uentry{})
	copy(es[i+1:], es[i:])
	es[i] = uentry{t: t, seq: u.seq, id: id}
	u.parts[g] = es
	u.new.Reset()
	if err := o.frameAggs(g, es, i, u.new); err != nil {
		return err
	}
	if err := o.emitUpd(id, u.new, 0, runtime.Insert); err != nil {
		return err
	}
	u.new.Reset()
	for k, p := range u.pos {
		if p >= i {
			u.pos[k] = p + 1
		}
	}
	return o.updateAffected(g, es)
}

func (o *op) retract(g int32, b *runtime.Batch, r int) error {
	u := o.u
	t := b.Cols[o.spec.TimeCol].I64[r]
	es := u.parts[g]
	j := -1
	for i := upper(es, t) - 1; i >= 0 && es[i].t == t; i-- {
		if o.sameRow(es[i].id, b, r) {
			j = i
			break
		}
	}
	if j < 0 {
		return nil // a row it does not hold (dropped by the TTL): nothing to retract
	}
	o.affected(es, t, j+1, j)
	u.old.Reset()
	for _, p := range u.pos {
		if err := o.frameAggs(g, es, p, u.old); err != nil {
			return err
		}
	}
	u.new.Reset()
	if err := o.frameAggs(g, es, j, u.new); err != nil {
		return err
	}
	id := es[j].id
	if err := o.emitUpd(id, u.new, 0, runtime.Delete); err != nil {
		return err
	}
	u.new.Reset()
	es = append(es[:j], es[j+1:]...)
	u.parts[g] = es
	u.dead++
	for k, p := range u.pos {
		if p > j {
			u.pos[k] = p - 1
		}
	}
	return o.updateAffected(g, es)
}

// updateAffected recomputes the affected rows at their new positions and
// emits those whose aggregates changed.
func (o *op) updateAffected(g int32, es []uentry) error {
	u := o.u
	for _, p := range u.pos {
		if err := o.frameAggs(g, es, p, u.new); err != nil {
			return err
		}
	}
	for k, id := range u.ids {
		same := true
		for c := range u.old.Cols {
			if u.old.Cols[c].Value(k) != u.new.Cols[c].Value(k) {
				same = false
				break
			}
		}
		if same {
			continue
		}
		if err := o.emitUpd(id, u.old, k, runtime.UpdateBefore); err != nil {
			return err
		}
		if err := o.emitUpd(id, u.new, k, runtime.UpdateAfter); err != nil {
			return err
		}
	}
	return nil
}

// sameRow reports whether stored row id equals row r of b (doubles bit
// for bit, so that a NaN can be retracted).
func (o *op) sameRow(id int32, b *runtime.Batch, r int) bool {
	s := o.u.store
	for c := range s.Cols {
		x, y := s.Cols[c].Value(int(id)), b.Cols[c].Value(r)
		if x.Null != y.Null || x.I != y.I || math.Float64bits(x.F) != math.Float64bits(y.F) || x.S != y.S {
			return false
		}
	}
	return true
}

// frameAggs appends the aggregates of the frame of entry p to dst.
func (o *op) frameAggs(g int32, es []uentry, p int, dst *runtime.Batch) error {
	f := o.spec.Frame
	lo, hi := max(0, p-int(f.Preceding)), p+1
	if !f.Rows {
		lo, hi = lower(es, es[p].t-f.Preceding), upper(es, es[p].t)
	}
	s := o.u.store
	for k := range o.aggs {
		a, v := &o.aggs[k], &dst.Cols[k]
		if a.col < 0 {
			v.AppendInt(int64(hi - lo))
			continue
		}
		col := &s.Cols[a.col]
		var cnt int64
		var sumLo uint64
		var sumHi int64
		var sumF float64
		best := -1 // MIN/MAX: the id of the best value
		for i := lo; i < hi; i++ {
			id := int(es[i].id)
			if col.IsNull(id) {
				continue
			}
			cnt++
			switch a.fn {
			case agg.Sum, agg.Avg:
				if a.phys == runtime.PhysFloat {
					sumF += col.F64[id]
				} else {
					x := col.I64[id]
					var c uint64
					sumLo, c = bits.Add64(sumLo, uint64(x), 0)
					sumHi += x>>63 + int64(c)
				}
			case agg.Min, agg.Max:
				if best < 0 || better(col, a.fn == agg.Min, id, best) {
					best = id
				}
			}
		}
		switch {
		case a.fn == agg.Count:
			v.AppendInt(cnt)
		case cnt == 0:
			v.AppendNull()
		case a.fn == agg.Sum && a.phys == runtime.PhysFloat:
			v.AppendFloat(sumF)
		case a.fn == agg.Sum:
			if sumHi != int64(sumLo)>>63 {
				return fmt.Errorf("%w, for the partition %s", &agg.OverflowError{Agg: a.name}, o.table.KeyString(g))
			}
			v.AppendInt(int64(sumLo))
		case a.fn == agg.Avg && a.phys != runtime.PhysFloat:
			x, err := a.intAvg(sumHi, sumLo, cnt)
			if err != nil {
				return fmt.Errorf("%w, for the partition %s", err, o.table.KeyString(g))
			}
			v.AppendInt(x)
		case a.fn == agg.Avg:
			v.AppendFloat(sumF / float64(cnt))
		default:
			v.AppendFrom(col, best)
		}
	}
	dst.N++
	return nil
}

// better reports whether row x of v beats row y for MIN (or MAX).
func better(v *runtime.Vector, isMin bool, x, y int) bool {
	switch v.Type.Physical() {
	case runtime.PhysFloat:
		return isMin && v.F64[x] < v.F64[y] || !isMin && v.F64[x] > v.F64[y]
	case runtime.PhysString:
		return isMin && v.Str[x] < v.Str[y] || !isMin && v.Str[x] > v.Str[y]
	}
	return isMin && v.I64[x] < v.I64[y] || !isMin && v.I64[x] > v.I64[y]
}

// emitUpd appends stored row id with aggregates row k of aggs.
func (o *op) emitUpd(id int32, aggs *runtime.Batch, k int, kind runtime.RowKind) error {
	b, s := o.outb, o.u.store
	for c := 0; c < o.nIn; c++ {
		b.Cols[c].AppendFrom(&s.Cols[c], int(id))
	}
	for c := range aggs.Cols {
		b.Cols[o.nIn+c].AppendFrom(&aggs.Cols[c], k)
	}
	b.SetKind(b.N, kind)
	b.N++
	if b.N >= runtime.DefaultBatchRows {
		return o.flushUpdating()
	}
	return nil
}

func (o *op) flushUpdating() error {
	b := o.outb
	if b.N == 0 {
		return nil
	}
	err := o.u.out.Emit(b)
	b.Reset()
	return err
}

// compactStore drops the removed rows from the store, renumbering the
// others in partition order.
func (o *op) compactStore() {
	u := o.u
	var ids []int32
	for g := range u.parts {
		for i := range u.parts[g] {
			ids = append(ids, u.parts[g][i].id)
			u.parts[g][i].id = int32(len(ids) - 1)
		}
	}
	s := newBatch(u.store.Schema)
	for c := range s.Cols {
		s.Cols[c].AppendRows(&u.store.Cols[c], ids)
	}
	s.N = len(ids)
	u.store, u.dead = s, 0
}
