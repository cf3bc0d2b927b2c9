package over

import (
	"fmt"
	"math"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/operators/internal/snap"
	"github.com/sluicehq/sluice/runtime"
)

// An OVER snapshot (runtime.Snapshotter), in the framing of package snap:
//
//	window (string: the frame, the aggregates, proctime), partition
//	columns, watermark (8 bytes)
//	partition table (agg.Table)
//	per partition: entries in the frame, their times (sliding RANGE), per
//	aggregate: count, sum (lo, hi, double), running MIN/MAX (has, int,
//	double, string), the entries' values and NULL flags, the deque
//	(entry indexes from the frame's first)
//	buffered rows: count, one vector per input column, times, partitions
//
// or, over an updating input, instead of the buffered rows:
//
//	per partition: its rows' times and arrival numbers (Int64s each);
//	the last arrival number; the rows, partition after partition, one
//	vector per input column
//
// A restored operator goes on exactly as one that was not interrupted:
// same frames, same buffered rows in the same order, same watermark (rows
// behind it stay late). The TTL of restored partitions starts at the
// restore.

const snapKind = "over aggregation"

var _ runtime.Snapshotter = (*op)(nil)

// signature describes what a snapshot must have been taken of. Over an
// updating input an AVG of integers names its type: a version of Sluice
// whose AVG of an integer was a DOUBLE wrote the bare AVG(col), and the
// DOUBLE results it emitted could not be retracted by the integer ones a
// restored operator computes.
func (o *op) signature() string { return o.signatureOf(true) }

// signatureOf is the signature, without the types of AVG when not avgTypes
// (that of the older version).
func (o *op) signatureOf(avgTypes bool) string {
	s := fmt.Sprintf("%s proctime=%v updating=%v", o.spec.Frame, o.spec.ProcTime, o.spec.Updating)
	for k, a := range o.aggs {
		s += fmt.Sprintf(" %s(%d)", a.fn, a.col)
		if avgTypes && o.spec.Updating && a.fn == agg.Avg && a.phys == runtime.PhysInt {
			s += " " + o.aggFields[k].Type.String()
		}
	}
	return s
}

// SnapshotState implements runtime.Snapshotter.
func (o *op) SnapshotState(int64) ([]byte, error) {
	size := 64 + o.table.SnapshotSize()
	if o.pend != nil { // nil with ProcTime
		size += 16 * o.pend.N * (o.nIn + 1)
	}
	e := snap.NewEncoder(snapKind, size)
	e.String(o.signature())
	e.Int(len(o.spec.PartitionCols))
	e.Int64(o.wm)
	o.table.AppendSnapshot(e)
	for g := range o.parts {
		p := &o.parts[g]
		h := int(p.head - p.base)
		e.Int(int(p.n - p.head))
		if o.byTime {
			e.Int64s(p.ts[h:])
		}
		e.Bool(p.accs != nil)
		for k := range p.accs {
			s := &p.accs[k]
			e.Int64(s.cnt)
			e.Int64(int64(s.lo))
			e.Int64(s.hi)
			e.Int64(int64(math.Float64bits(s.f)))
			e.Bool(s.has)
			e.Int64(s.mi)
			e.Int64(int64(math.Float64bits(s.mf)))
			e.String(s.ms)
			e.Int(len(s.dq) - s.dqHead)
			for _, idx := range s.dq[s.dqHead:] {
				e.Int(int(idx - p.head))
			}
		}
		for i := range p.cols {
			c := &p.cols[i]
			e.Int64s(tail(c.vi, h))
			e.Float64s(tail(c.vf, h))
			e.Strings(tail(c.vs, h))
			nulls := tail(c.vn, h)
			e.Int(len(nulls))
			for _, x := range nulls {
				e.Bool(x)
			}
		}
	}
	if o.u != nil {
		o.u.appendSnapshot(e)
		return e.Finish(), nil
	}
	if o.spec.ProcTime {
		return e.Finish(), nil
	}
	e.Int(o.pend.N)
	for c := range o.pend.Cols {
		e.Vector(&o.pend.Cols[c], nil)
	}
	e.Int64s(o.pendT)
	e.Int32s(o.pendG)
	return e.Finish(), nil
}

func tail[T any](s []T, h int) []T {
	if len(s) < h {
		return nil
	}
	return s[h:]
}

// RestoreState implements runtime.Snapshotter.
func (o *op) RestoreState(data []byte) error {
	if len(data) == 0 {
		return nil
	}
	if err := o.restore(data); err != nil {
		o.table = agg.NewTable(o.spec.In, o.spec.PartitionCols)
		o.parts, o.pendCnt, o.last = nil, nil, nil
		o.wm, o.minPend = runtime.MinWatermark, runtime.MaxWatermark
		if o.u != nil {
			o.u = newUpdState(o.spec.In, o.aggFields)
		}
		if o.pend != nil {
			o.pend.Reset()
			o.pendT, o.pendG = o.pendT[:0], o.pendG[:0]
		}
		name := "?"
		if o.ctx != nil {
			name = o.ctx.Operator
		}
		return fmt.Errorf("%s operator %q: cannot restore state: %w", snapKind, name, err)
	}
	return o.account()
}

func (o *op) restore(data []byte) error {
	if o.table == nil || o.table.Len() > 0 || o.wm != runtime.MinWatermark {
		return fmt.Errorf("the operator is not open, or already holds state")
	}
	d, err := snap.Open(snapKind, data)
	if err != nil {
		return err
	}
	sig, nk := d.String(), d.Int(1<<20)
	wm := d.Int64()
	if d.Err() == nil && sig != o.signature() && sig == o.signatureOf(false) {
		return fmt.Errorf("snapshot written by a Sluice version whose AVG of an integer was a DOUBLE; AVG now averages integers to their type, " +
			"truncated toward zero, as Flink, and cannot retract the DOUBLE results already emitted: restart the query without this " +
			"snapshot, or average CAST(x AS DOUBLE), whose state this snapshot holds")
	}
	if d.Err() == nil && (sig != o.signature() || nk != len(o.spec.PartitionCols)) {
		return fmt.Errorf("snapshot of an OVER aggregation %q on %d partition columns, the operator is %q on %d", sig, nk, o.signature(), len(o.spec.PartitionCols))
	}
	o.table.RestoreSnapshot(d)
	n := o.table.Len()
	parts := make([]part, n)
	for g := 0; g < n && d.Err() == nil; g++ {
		p := &parts[g]
		m := d.Int(math.MaxInt32)
		p.n = int64(m)
		if o.byTime {
			if p.ts = d.Int64s(nil); d.Err() == nil && len(p.ts) != m {
				d.Fail("partition %d: %d entry times for %d entries", g, len(p.ts), m)
			}
		}
		if !d.Bool() {
			continue
		}
		p.accs = make([]acc, len(o.aggs))
		for k := range p.accs {
			s := &p.accs[k]
			s.cnt, s.lo, s.hi = d.Int64(), uint64(d.Int64()), d.Int64()
			s.f = math.Float64frombits(uint64(d.Int64()))
			s.has, s.mi = d.Bool(), d.Int64()
			s.mf, s.ms = math.Float64frombits(uint64(d.Int64())), d.String()
			nd := d.Int(m)
			for i := 0; i < nd && d.Err() == nil; i++ {
				s.dq = append(s.dq, int64(d.Int(m-1)))
			}
			if d.Err() == nil && (s.cnt < 0 || s.cnt > int64(m) && o.sliding) {
				d.Fail("partition %d: aggregate %d counts %d values in %d entries", g, k, s.cnt, m)
			}
		}
		p.cols = make([]colVals, len(o.slots))
		for i := range p.cols {
			c, sl := &p.cols[i], &o.slots[i]
			c.vi, c.vf, c.vs = nilIfEmpty(d.Int64s(nil)), nilIfEmpty(d.Float64s(nil)), nilIfEmpty(d.Strings(nil))
			nn := d.Int(m)
			for j := 0; j < nn && d.Err() == nil; j++ {
				c.vn = append(c.vn, d.Bool())
			}
			vals := len(c.vi) + len(c.vf) + len(c.vs)
			if d.Err() == nil && (sl.vals && vals != m || !sl.vals && vals != 0 || sl.nullable && len(c.vn) != m) {
				d.Fail("partition %d: column %d holds %d values and %d NULL flags for %d entries", g, sl.col, vals, len(c.vn), m)
			}
		}
	}
	var pend *runtime.Batch
	var pendT []int64
	var pendG []int32
	var u *updState
	if o.spec.Updating && d.Err() == nil {
		u = newUpdState(o.spec.In, o.aggFields)
		u.restore(d, n)
	}
	if !o.spec.ProcTime && !o.spec.Updating && d.Err() == nil {
		pend = newBatch(o.spec.In)
		pend.N = d.Int(math.MaxInt32)
		for c := range pend.Cols {
			if got := d.Vector(&pend.Cols[c], pend.Cols[c].Type); d.Err() == nil && got != pend.N {
				d.Fail("buffered column %d holds %d rows, want %d", c, got, pend.N)
			}
		}
		pendT, pendG = d.Int64s(nil), d.Int32s(nil)
		if d.Err() == nil && (len(pendT) != pend.N || len(pendG) != pend.N) {
			d.Fail("%d buffered rows but %d times and %d partitions", pend.N, len(pendT), len(pendG))
		}
		for _, g := range pendG {
			if g < 0 || int(g) >= n {
				d.Fail("buffered row of partition %d, out of range (%d)", g, n)
				break
			}
		}
	}
	if err := d.Done(); err != nil {
		return err
	}
	o.parts, o.wm = parts, wm
	if u != nil {
		o.u = u
	}
	o.pendCnt, o.last = make([]int32, n), make([]int64, n)
	if o.ttlMs() > 0 {
		now := o.now()
		for g := range o.last {
			o.last[g] = now
		}
	}
	if pend != nil {
		o.pend, o.pendT, o.pendG = pend, pendT, pendG
		for i, g := range pendG {
			o.pendCnt[g]++
			o.minPend = min(o.minPend, pendT[i])
		}
	}
	return nil
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// appendSnapshot writes the rows of every partition.
func (u *updState) appendSnapshot(e *snap.Encoder) {
	var ids []int32
	var ts, seqs []int64
	for _, es := range u.parts {
		ts, seqs = ts[:0], seqs[:0]
		for _, x := range es {
			ts, seqs = append(ts, x.t), append(seqs, x.seq)
			ids = append(ids, x.id)
		}
		e.Int64s(ts)
		e.Int64s(seqs)
	}
	e.Int64(u.seq)
	e.Int(len(ids))
	for c := range u.store.Cols {
		if len(ids) == 0 {
			e.Vector(&runtime.Vector{Type: u.store.Cols[c].Type}, nil)
			continue
		}
		e.Vector(&u.store.Cols[c], ids)
	}
}

// restore reads what appendSnapshot wrote for n partitions.
func (u *updState) restore(d *snap.Decoder, n int) {
	u.parts = make([][]uentry, n)
	total := 0
	for g := 0; g < n && d.Err() == nil; g++ {
		ts, seqs := d.Int64s(nil), d.Int64s(nil)
		if d.Err() != nil {
			return
		}
		if len(ts) != len(seqs) {
			d.Fail("partition %d: %d times but %d arrival numbers", g, len(ts), len(seqs))
			return
		}
		es := make([]uentry, len(ts))
		for i := range es {
			es[i] = uentry{t: ts[i], seq: seqs[i], id: int32(total + i)}
			if i > 0 && (ts[i] < ts[i-1] || ts[i] == ts[i-1] && seqs[i] <= seqs[i-1]) {
				d.Fail("partition %d: rows out of order", g)
				return
			}
		}
		total += len(es)
		u.parts[g] = es
	}
	u.seq = d.Int64()
	rows := d.Int(math.MaxInt32)
	if d.Err() == nil && rows != total {
		d.Fail("%d rows for %d entries", rows, total)
		return
	}
	for c := range u.store.Cols {
		if got := d.Vector(&u.store.Cols[c], u.store.Cols[c].Type); d.Err() == nil && got != total {
			d.Fail("stored column %d holds %d rows, want %d", c, got, total)
			return
		}
	}
	u.store.N = total
}
