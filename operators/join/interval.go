package join

import (
	"fmt"
	"math"

	"github.com/sluicehq/sluice/runtime"
)

// side is the configuration and state of one input.
type side struct {
	schema  *runtime.Schema
	keyCols []int
	timeCol int
	// hasFloatKey says whether a key column is DOUBLE (NaN never matches).
	hasFloatKey bool
	// expireAfter: a row of this side is freed once wm >= ts + expireAfter
	// (Upper for the left side, -Lower for the right side).
	expireAfter int64
	// lateAfter: a row is late when ts + lateAfter <= wm, that is
	// max(expireAfter, 0).
	lateAfter int64
	rows      rowStore
}

// intervalJoin is one subtask of an interval join. All of its state is in
// plain fields (keys, sides[i].rows, wm), owned by the subtask's goroutine.
type intervalJoin struct {
	lower, upper int64
	out          *runtime.Schema
	ctx          *runtime.Context
	wm           int64 // last watermark seen; runtime.MinWatermark before any
	keys         keyTable
	sides        [2]side

	// compactRows and compactKeys are the minimum numbers of dead rows in a
	// store, and of free key entries, worth compacting (minCompactRows and
	// minCompactKeys; tests lower them).
	compactRows, compactKeys int

	outB *runtime.Batch // reused output batch
	// Scratch, reused across calls.
	hashes    []uint64
	pairProbe []int32 // physical rows of the arriving batch
	pairBuild []int32 // row ids in the other side's store
	stored    []int32 // physical rows of the arriving batch to append to its store
	remap     []int32
	lateLog   runtime.LateLog
}

var _ runtime.Operator = (*intervalJoin)(nil)

func newIntervalJoin(spec *Spec, out *runtime.Schema) *intervalJoin {
	keyTypes := make([]runtime.Type, len(spec.LeftKeys))
	for i, c := range spec.LeftKeys {
		keyTypes[i] = spec.Left.Fields[c].Type
	}
	o := &intervalJoin{
		lower: spec.Lower,
		upper: spec.Upper,
		out:   out,
		wm:    runtime.MinWatermark,
		keys:  newKeyTable(keyTypes),

		compactRows: minCompactRows,
		compactKeys: minCompactKeys,
	}
	o.sides[0] = newSide(spec.Left, spec.LeftKeys, spec.LeftTime, spec.Upper)
	o.sides[1] = newSide(spec.Right, spec.RightKeys, spec.RightTime, -spec.Lower)
	return o
}

func newSide(s *runtime.Schema, keys []int, timeCol int, expireAfter int64) side {
	sd := side{schema: s, keyCols: keys, timeCol: timeCol, expireAfter: expireAfter, lateAfter: max(expireAfter, 0), rows: newRowStore(s)}
	for _, c := range keys {
		sd.hasFloatKey = sd.hasFloatKey || s.Fields[c].Type == runtime.Double
	}
	return sd
}

// OutputSchema implements runtime.OutputSchemaer.
func (o *intervalJoin) OutputSchema() *runtime.Schema { return o.out }

// Open implements runtime.Operator.
func (o *intervalJoin) Open(ctx *runtime.Context) error {
	o.ctx = ctx
	if o.outB == nil {
		o.outB = runtime.NewBatch(o.out)
	}
	return nil
}

// ProcessBatch joins the rows of b (input 0: left, 1: right) against the
// other side's buffer, emits the matches and buffers the rows that may
// still meet future rows.
func (o *intervalJoin) ProcessBatch(input int, b *runtime.Batch, out runtime.Output) error {
	if input != 0 && input != 1 {
		return fmt.Errorf("interval join has inputs 0 and 1, got rows on input %d", input)
	}
	s := &o.sides[input]
	if len(b.Cols) != s.schema.Len() {
		return fmt.Errorf("interval join input %d: batch has %d columns, schema %d", input, len(b.Cols), s.schema.Len())
	}
	n := b.Len()
	if n == 0 {
		return nil
	}
	if o.outB == nil {
		o.outB = runtime.NewBatch(o.out)
	}
	o.hashes = runtime.HashColumns(b, s.keyCols, o.hashes)
	other := 1 - input
	tcol := &b.Cols[s.timeCol]
	watermarked := o.wm != runtime.MinWatermark
	late := 0
	latest := runtime.MinWatermark
	o.stored = o.stored[:0]
	o.pairProbe, o.pairBuild = o.pairProbe[:0], o.pairBuild[:0]
	for i := 0; i < n; i++ {
		r := b.Row(i)
		if tcol.IsNull(r) || s.noMatch(b, r) {
			continue
		}
		t := tcol.I64[r]
		h := o.hashes[i]
		k := o.keys.find(h, b, s.keyCols, r)
		if k != nilID {
			if head := o.keys.entries[k].head[other]; head != nilID {
				if err := o.probe(input, b, r, t, head, out); err != nil {
					s.rows.appendColumns(b, o.stored) // keep the store consistent
					return err
				}
			}
		}
		if watermarked && satAdd(t, s.expireAfter) <= o.wm {
			// Cannot meet a row that is still to come: not stored.
			if satAdd(t, s.lateAfter) <= o.wm {
				late++
				latest = t
			}
			continue
		}
		if k == nilID {
			k = o.keys.insert(h, b, s.keyCols, r)
		}
		s.rows.link(&o.keys, input, k, t, satAdd(t, s.expireAfter))
		o.stored = append(o.stored, int32(r))
	}
	s.rows.appendColumns(b, o.stored)
	if err := o.flush(input, b, out); err != nil {
		return err
	}
	if m := metricsOf(o.ctx); m != nil {
		if late > 0 && m.LateRowsDropped != nil {
			m.LateRowsDropped.Add(late)
		}
		o.lateLog.Dropped(o.ctx, late, latest, o.wm)
		m.SetStateKeys(o.keys.live)
	}
	return nil
}

// noMatch reports whether physical row r has a key that matches nothing:
// a NULL, or a NaN DOUBLE.
func (s *side) noMatch(b *runtime.Batch, r int) bool {
	for _, c := range s.keyCols {
		v := &b.Cols[c]
		if v.Null != nil && v.Null[r] {
			return true
		}
		if s.hasFloatKey && v.Type == runtime.Double && math.IsNaN(v.F64[r]) {
			return true
		}
	}
	return false
}

// probe records a pair for every row of the other side's list starting at
// head whose time is within the bounds from t, flushing full batches.
func (o *intervalJoin) probe(input int, b *runtime.Batch, r int, t int64, head int32, out runtime.Output) error {
	st := &o.sides[1-input].rows
	lower, upper := o.lower, o.upper
	for j := head; j != nilID; j = st.next[j] {
		var ok bool
		if input == 0 {
			ok = within(t, st.ts[j], lower, upper)
		} else {
			ok = within(st.ts[j], t, lower, upper)
		}
		if !ok {
			continue
		}
		o.pairProbe = append(o.pairProbe, int32(r))
		o.pairBuild = append(o.pairBuild, j)
		if len(o.pairProbe) == runtime.DefaultBatchRows {
			if err := o.flush(input, b, out); err != nil {
				return err
			}
		}
	}
	return nil
}

// flush builds the output rows of the recorded pairs, column by column, and
// emits them.
func (o *intervalJoin) flush(input int, b *runtime.Batch, out runtime.Output) error {
	if len(o.pairProbe) == 0 {
		return nil
	}
	ob := o.outB
	ob.Reset()
	nl := o.sides[0].schema.Len()
	probeOff, buildOff := 0, nl
	if input == 1 {
		probeOff, buildOff = nl, 0
	}
	for c := range b.Cols {
		appendGather(&ob.Cols[probeOff+c], &b.Cols[c], o.pairProbe)
	}
	st := &o.sides[1-input].rows
	for c := range st.cols {
		appendGather(&ob.Cols[buildOff+c], &st.cols[c], o.pairBuild)
	}
	ob.N = len(o.pairProbe)
	o.pairProbe, o.pairBuild = o.pairProbe[:0], o.pairBuild[:0]
	return out.Emit(ob)
}

// ProcessWatermark frees the rows that no future row can match.
func (o *intervalJoin) ProcessWatermark(wm int64, _ runtime.Output) error {
	if wm <= o.wm {
		return nil
	}
	o.wm = wm
	for i := range o.sides {
		st := &o.sides[i].rows
		st.expire(&o.keys, i, wm)
		o.remap = st.maybeCompact(&o.keys, i, o.compactRows, o.remap)
	}
	if o.keys.needsCompaction(o.compactKeys) {
		o.remap = o.keys.compact(o.remap)
		for i := range o.sides {
			o.sides[i].rows.remapKeys(o.remap)
		}
	}
	if m := metricsOf(o.ctx); m != nil {
		m.SetStateKeys(o.keys.live)
	}
	return nil
}

// Finish implements runtime.Operator. The final watermark has already freed
// every row; an inner join has nothing left to emit.
func (o *intervalJoin) Finish(runtime.Output) error { return nil }

// Close releases the output batch.
func (o *intervalJoin) Close() error {
	o.lateLog.Close(o.ctx)
	if o.outB != nil {
		o.outB.Release()
		o.outB = nil
	}
	return nil
}

// bufferedRows returns the number of rows buffered on each side.
func (o *intervalJoin) bufferedRows() (left, right int) {
	return o.sides[0].rows.live, o.sides[1].rows.live
}

// metricsOf returns the context's metrics, or nil without a context.
func metricsOf(c *runtime.Context) *runtime.OperatorMetrics {
	if c == nil {
		return nil
	}
	return c.Metrics
}
