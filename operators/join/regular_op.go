package join

import (
	"fmt"
	"strconv"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/operators/expr"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/state"
)

// regSide is the configuration and rows of one input of a regular join.
type regSide struct {
	schema      *runtime.Schema
	keyCols     []int
	allCols     []int
	hasFloatKey bool
	outer       bool // unmatched rows are emitted null-padded
	rows        regRows
}

// regJoin is one subtask of a regular join. All of its state is in plain
// fields owned by the subtask's goroutine.
type regJoin struct {
	typ  RegularType
	out  *runtime.Schema
	ctx  *runtime.Context
	keys keyTable
	// By key id, besides keyEntry: whether the key is queued in pending,
	// and with a TTL the last write of each side (processing time, ms).
	pend     []bool
	last     [][2]int64
	sides    [2]regSide
	residual *expr.Compiled
	ttl      int64 // ms, 0: none
	maxKeys  int
	clock    func() int64

	nextPurge int64
	pending   []int32 // keys that may have no rows left, dropped at the end of a segment

	// ignored counts retractions of rows not held.
	ignored    int64
	ignoredCtr *metrics.Counter

	// Output rows under construction: kind and, per side, the physical
	// row of the arriving batch or the row id in the side's store (which
	// one depends on the input), -1 for NULLs.
	outB      *runtime.Batch
	outKind   []runtime.RowKind
	outRef    [2][]int32
	spareNull [][]bool // per output column, null flags to reuse
	flushAt   int      // output rows per emitted batch

	// The segment being applied (see segment).
	keyHash, rowHash   []uint64
	segKey             []int32 // key id of each row of the segment; regNullKey for a NULL key
	pairRow, pairBuild []int32 // residual candidates: physical row, other side's row id
	pairOK             []bool
	pairStart          []int32 // per segment row, its first pair
	cand               *runtime.Batch
	sel                []int32
	segLimit           int // pairs (or other side's entries met) that end a segment

	// compactRows and compactKeys are the minimum numbers of free row ids
	// of a side, and of free key ids, worth compacting (minCompactRows and
	// minCompactKeys; tests lower them).
	compactRows, compactKeys int
	remap                    []int32
	scratchIDs, scratchB     []int32 // for snapshots
}

const regNullKey = -2

var (
	_ runtime.Operator        = (*regJoin)(nil)
	_ runtime.ProcessingTimer = (*regJoin)(nil)
)

func newRegJoin(spec *RegularSpec, out *runtime.Schema) *regJoin {
	keyTypes := make([]runtime.Type, len(spec.LeftKeys))
	for i, c := range spec.LeftKeys {
		keyTypes[i] = spec.Left.Fields[c].Type
	}
	o := &regJoin{
		typ:      spec.Type,
		out:      out,
		keys:     newKeyTable(keyTypes),
		maxKeys:  spec.MaxGroups,
		clock:    spec.Clock,
		segLimit: runtime.DefaultBatchRows,

		compactRows: minCompactRows,
		compactKeys: minCompactKeys,
		flushAt:     runtime.DefaultBatchRows,
	}
	if spec.TTL > 0 {
		o.ttl = max(spec.TTL.Milliseconds(), 1)
	}
	if spec.Residual != nil {
		o.residual, _ = expr.Compile(spec.Residual, out) // checked by NewRegular
	}
	o.spareNull = make([][]bool, out.Len())
	o.sides[0] = newRegSide(spec.Left, spec.LeftKeys, spec.Type.outer(0))
	o.sides[1] = newRegSide(spec.Right, spec.RightKeys, spec.Type.outer(1))
	return o
}

func newRegSide(s *runtime.Schema, keys []int, outer bool) regSide {
	sd := regSide{schema: s, keyCols: keys, outer: outer, rows: newRegRows(s, outer)}
	for i := range s.Fields {
		sd.allCols = append(sd.allCols, i)
	}
	for _, c := range keys {
		sd.hasFloatKey = sd.hasFloatKey || s.Fields[c].Type == runtime.Double
	}
	return sd
}

// noMatch reports whether physical row r has a key that matches nothing: a
// NULL, or a NaN DOUBLE.
func (s *regSide) noMatch(b *runtime.Batch, r int) bool {
	for _, c := range s.keyCols {
		v := &b.Cols[c]
		if v.Null != nil && v.Null[r] {
			return true
		}
		if s.hasFloatKey && v.Type == runtime.Double && v.F64[r] != v.F64[r] {
			return true
		}
	}
	return false
}

// OutputSchema implements runtime.OutputSchemaer.
func (o *regJoin) OutputSchema() *runtime.Schema { return o.out }

func (o *regJoin) now() int64 {
	if o.clock != nil {
		return o.clock()
	}
	return time.Now().UnixMilli()
}

func (o *regJoin) purgeEvery() int64 { return min(max(o.ttl/4, 10), 60_000) }

// Open implements runtime.Operator.
func (o *regJoin) Open(ctx *runtime.Context) error {
	o.ctx = ctx
	if o.outB == nil {
		o.outB = runtime.NewBatch(o.out)
	}
	if ctx != nil {
		labels := fmt.Sprintf(`{job=%s,operator=%s,subtask="%d"}`, strconv.Quote(ctx.Job), strconv.Quote(ctx.Operator), ctx.Subtask)
		o.ignoredCtr = ctx.JobMetrics().GetOrCreateCounter("sluice_join_retractions_ignored_total" + labels)
	}
	if o.ttl > 0 {
		o.nextPurge = o.now() + o.purgeEvery()
		if ctx != nil {
			ctx.RegisterProcessingTimer(o.nextPurge)
		}
	}
	return nil
}

// OnProcessingTime purges expired rows while no rows arrive.
func (o *regJoin) OnProcessingTime(_ int64, _ runtime.Output) error {
	now := o.now()
	o.purge(now)
	o.compact()
	if o.ctx != nil && o.ttl > 0 {
		o.ctx.RegisterProcessingTimer(max(now, o.nextPurge))
	}
	return nil
}

// purge drops the key sides expired at now, if it is time to.
func (o *regJoin) purge(now int64) {
	if o.ttl == 0 || now < o.nextPurge {
		return
	}
	o.nextPurge = now + o.purgeEvery()
	for k := range o.keys.entries {
		e := &o.keys.entries[k]
		if e.count[0] == 0 && e.count[1] == 0 {
			continue // free
		}
		o.expireKey(int32(k), now)
	}
	o.dropPending()
	o.setStateKeys()
}

// expireKey drops the rows of each side of key k not written for the TTL,
// and queues the key for removal when it has no rows left.
func (o *regJoin) expireKey(k int32, now int64) {
	e := &o.keys.entries[k]
	for s := range o.sides {
		if e.count[s] > 0 && o.last[k][s] <= now-o.ttl {
			o.sides[s].rows.removeKey(&o.keys, s, k)
		}
	}
	o.maybeDrop(k)
}

// newKey adds the key of physical row r of b (hash h, key columns cols),
// written at now, and returns its id.
func (o *regJoin) newKey(h uint64, b *runtime.Batch, cols []int, r int, now int64) int32 {
	k := o.keys.insert(h, b, cols, r)
	for int(k) >= len(o.pend) {
		o.pend = append(o.pend, false)
	}
	o.pend[k] = false
	if o.ttl > 0 {
		for int(k) >= len(o.last) {
			o.last = append(o.last, [2]int64{})
		}
		o.last[k] = [2]int64{now, now}
	}
	return k
}

// maybeDrop queues key k for removal if it has no rows.
func (o *regJoin) maybeDrop(k int32) {
	e := &o.keys.entries[k]
	if e.count[0] == 0 && e.count[1] == 0 && !o.pend[k] {
		o.pend[k] = true
		o.pending = append(o.pending, k)
	}
}

// dropPending removes the queued keys that still have no rows.
func (o *regJoin) dropPending() {
	for _, k := range o.pending {
		o.pend[k] = false
		if e := &o.keys.entries[k]; e.count[0] == 0 && e.count[1] == 0 {
			o.keys.remove(k)
		}
	}
	o.pending = o.pending[:0]
}

// compact renumbers the rows of each side, and the keys, when many ids are
// free. It must not run while output rows are recorded (they hold ids).
func (o *regJoin) compact() {
	for side := range o.sides {
		o.remap = o.sides[side].rows.compact(&o.keys, side, o.compactRows, o.remap)
	}
	if !o.keys.needsCompaction(o.compactKeys) {
		return
	}
	o.remap = o.keys.compact(o.remap)
	for side := range o.sides {
		rs := &o.sides[side].rows
		for id, k := range rs.key {
			if k != nilID {
				rs.key[id] = o.remap[k]
			}
		}
	}
	live := o.keys.live
	o.pend = regTrim(o.pend, live, cap(o.pend) > 4*max(live, 256))
	clear(o.pend) // nothing is pending between batches
	if o.ttl > 0 {
		for old, k := range o.remap {
			if k != nilID {
				o.last[k] = o.last[old] // k <= old: moving down in order
			}
		}
		o.last = regTrim(o.last, live, cap(o.last) > 4*max(live, 256))
	}
}

func (o *regJoin) setStateKeys() {
	if o.ctx != nil && o.ctx.Metrics != nil {
		o.ctx.Metrics.SetStateKeys(o.keys.live)
	}
}

// ProcessBatch applies the changes of b (input 0: left, 1: right) and
// emits the changes of the join result.
func (o *regJoin) ProcessBatch(input int, b *runtime.Batch, out runtime.Output) error {
	if input != 0 && input != 1 {
		return fmt.Errorf("regular join has inputs 0 and 1, got rows on input %d", input)
	}
	s := &o.sides[input]
	if len(b.Cols) != s.schema.Len() {
		return fmt.Errorf("regular join input %d: batch has %d columns, schema %d", input, len(b.Cols), s.schema.Len())
	}
	n := b.Len()
	if n == 0 {
		return nil
	}
	if o.outB == nil {
		o.outB = runtime.NewBatch(o.out)
	}
	var now int64
	if o.ttl > 0 {
		now = o.now()
		o.purge(now)
	}
	o.keyHash = runtime.HashColumns(b, s.keyCols, o.keyHash)
	if s.rows.unindexed && hasRetraction(b) {
		o.rowHash = s.rows.index(&o.keys, input, s.allCols, o.rowHash)
	}
	if !s.rows.unindexed {
		o.rowHash = runtime.HashColumns(b, s.allCols, o.rowHash)
	}
	ignored := int64(0)
	var err error
	for start := 0; start < n && err == nil; {
		var end int
		end, err = o.segment(input, b, start, now)
		if err == nil {
			ignored += o.apply(input, b, start, end, now)
			if len(o.outKind) >= o.flushAt {
				err = o.flush(input, b, out, false)
			}
		}
		o.dropPending()
		start = end
	}
	if err == nil {
		err = o.flush(input, b, out, true)
	}
	o.resetOut()
	o.compact()
	if ignored > 0 {
		o.ignored += ignored
		if o.ignoredCtr != nil {
			o.ignoredCtr.AddInt64(ignored)
		}
	}
	o.setStateKeys()
	if err != nil {
		return err
	}
	if o.maxKeys > 0 && o.keys.live > o.maxKeys {
		return fmt.Errorf("%w: the regular join holds %d keys in this subtask, over its limit of %d ('sluice.state.max-keys'; 'table.exec.state.ttl' drops idle keys)", state.ErrStateLimit, o.keys.live, o.maxKeys)
	}
	return nil
}

// hasRetraction reports whether b holds a -U or -D row.
func hasRetraction(b *runtime.Batch) bool {
	if b.Kinds == nil {
		return false
	}
	for i := range b.Len() {
		if k := b.Kind(b.Row(i)); k == runtime.UpdateBefore || k == runtime.Delete {
			return true
		}
	}
	return false
}

// segment finds the keys of the rows from start on (expiring their rows
// with a TTL) and, with a residual, evaluates it for every pair the rows
// form with the other side, stopping after segLimit pairs. It returns the
// end of the segment. The other side does not change during a batch, so
// the pairs stay valid while the segment is applied; keys found are not
// removed before the segment ends (dropPending).
func (o *regJoin) segment(input int, b *runtime.Batch, start int, now int64) (end int, err error) {
	s := &o.sides[input]
	other := 1 - input
	os := &o.sides[other]
	o.segKey = o.segKey[:0]
	o.pairRow, o.pairBuild, o.pairStart = o.pairRow[:0], o.pairBuild[:0], o.pairStart[:0]
	n := b.Len()
	cost := 0 // pairs, or without a residual the other side's entries met
	for end = start; end < n && (end == start || cost < o.segLimit); end++ {
		o.pairStart = append(o.pairStart, int32(len(o.pairRow)))
		r := b.Row(end)
		if s.noMatch(b, r) {
			o.segKey = append(o.segKey, regNullKey)
			continue
		}
		k := o.keys.find(o.keyHash[end], b, s.keyCols, r)
		if k != nilID && o.ttl > 0 {
			o.expireKey(k, now)
		}
		o.segKey = append(o.segKey, k)
		if k == nilID {
			continue
		}
		if o.residual == nil {
			cost += int(o.keys.entries[k].count[other])
			continue
		}
		for j := o.keys.entries[k].head[other]; j != nilID; j = os.rows.next[j] {
			o.pairRow = append(o.pairRow, int32(r))
			o.pairBuild = append(o.pairBuild, j)
		}
		cost = len(o.pairRow)
	}
	o.pairStart = append(o.pairStart, int32(len(o.pairRow)))
	if o.residual == nil || len(o.pairRow) == 0 {
		return end, nil
	}
	// Evaluate the residual over the candidate pairs.
	if o.cand == nil {
		o.cand = runtime.NewBatch(o.out)
	}
	c := o.cand
	c.Reset()
	probeOff, buildOff := 0, o.sides[0].schema.Len()
	if input == 1 {
		probeOff, buildOff = buildOff, 0
	}
	for i := range b.Cols {
		appendGather(&c.Cols[probeOff+i], &b.Cols[i], o.pairRow)
	}
	for i := range os.rows.cols {
		appendGather(&c.Cols[buildOff+i], &os.rows.cols[i], o.pairBuild)
	}
	c.N = len(o.pairRow)
	o.sel = o.residual.Select(c, o.sel)
	if err := o.residual.Err(); err != nil {
		return end, fmt.Errorf("regular join condition %s: %w", o.residual, err)
	}
	o.pairOK = o.pairOK[:0]
	for range c.N {
		o.pairOK = append(o.pairOK, false)
	}
	for _, p := range o.sel {
		o.pairOK[p] = true
	}
	return end, nil
}

// apply applies the rows [start, end) of b, in order, and records the
// output rows. It returns the number of retractions ignored.
func (o *regJoin) apply(input int, b *runtime.Batch, start, end int, now int64) (ignored int64) {
	s := &o.sides[input]
	other := 1 - input
	os := &o.sides[other]
	for i := start; i < end; i++ {
		r := b.Row(i)
		seg := i - start
		k := o.segKey[seg]
		kind := b.Kind(r)
		add := kind == runtime.Insert || kind == runtime.UpdateAfter
		if k == regNullKey {
			if s.outer {
				o.emitPadded(input, add, int32(r))
			}
			continue
		}
		if k == nilID {
			// A key new in this segment may have been added by an earlier
			// row; the other side has no rows for it either way.
			h := o.keyHash[i]
			if k = o.keys.find(h, b, s.keyCols, r); k == nilID {
				if !add {
					ignored++
					continue
				}
				k = o.newKey(h, b, s.keyCols, r, now)
			}
		}
		var id int32
		if !add {
			if id = s.rows.find(o.rowHash[i], b, r); id == nilID {
				ignored++
				continue
			}
		}
		// Pair with the other side's rows.
		matched := int32(0)
		ps, pe := o.pairStart[seg], o.pairStart[seg+1]
		if o.residual != nil {
			for p := ps; p < pe; p++ {
				if o.pairOK[p] {
					matched += o.pair(input, add, int32(r), o.pairBuild[p])
				}
			}
		} else {
			for j := o.keys.entries[k].head[other]; j != nilID; j = os.rows.next[j] {
				matched += o.pair(input, add, int32(r), j)
			}
		}
		if add {
			if s.outer && matched == 0 {
				o.emitPadded(input, true, int32(r))
			}
			if s.rows.unindexed {
				s.rows.add(&o.keys, input, k, 0, b, r, 1, matched)
			} else if id = s.rows.find(o.rowHash[i], b, r); id != nilID {
				s.rows.count[id]++
				s.rows.copies++
			} else {
				s.rows.add(&o.keys, input, k, o.rowHash[i], b, r, 1, matched)
			}
		} else {
			if s.outer && s.rows.match[id] == 0 {
				o.emitPadded(input, false, int32(r))
			}
			if s.rows.count[id]--; s.rows.count[id] == 0 {
				s.rows.count[id] = 1 // remove takes the copies off
				s.rows.remove(&o.keys, input, id)
				o.maybeDrop(k)
			} else {
				s.rows.copies--
			}
		}
		if o.ttl > 0 {
			o.last[k][input] = now
		}
	}
	return ignored
}

// pair records the output of arriving row r (physical row of the batch on
// input) meeting entry j of the other side: each copy of j with r, added or
// retracted, and the null-padded copies of j when j is on an outer side and
// r is its first match or was its last. It returns the copies of j.
func (o *regJoin) pair(input int, add bool, r, j int32) int32 {
	other := 1 - input
	os := &o.sides[other]
	c := os.rows.count[j]
	if add {
		if os.outer {
			if m := &os.rows.match[j]; *m == 0 {
				for range c {
					o.emitRow(input, runtime.Delete, -1, j)
				}
			}
			os.rows.match[j]++
		}
		for range c {
			o.emitRow(input, runtime.Insert, r, j)
		}
		return c
	}
	for range c {
		o.emitRow(input, runtime.Delete, r, j)
	}
	if os.outer {
		if m := &os.rows.match[j]; *m > 0 {
			if *m--; *m == 0 {
				for range c {
					o.emitRow(input, runtime.Insert, -1, j)
				}
			}
		}
	}
	return c
}

// emitPadded records row r of the arriving batch null-padded, as +I when
// add, else as -D.
func (o *regJoin) emitPadded(input int, add bool, r int32) {
	kind := runtime.Insert
	if !add {
		kind = runtime.Delete
	}
	o.emitRow(input, kind, r, -1)
}

// emitRow records one output row: probe is a physical row of the batch on
// input, build a row id of the other side; -1 makes that side NULL.
func (o *regJoin) emitRow(input int, kind runtime.RowKind, probe, build int32) {
	o.outKind = append(o.outKind, kind)
	o.outRef[input] = append(o.outRef[input], probe)
	o.outRef[1-input] = append(o.outRef[1-input], build)
}

// flush builds the recorded output rows, column by column, and emits them
// in batches of flushAt rows; with all, the rest too, else the rest stays
// recorded. The rows of b and of the other side's store the records
// refer to stay valid until the end of the batch: the other side does not
// change during a batch (its rows expire only at a key's first row).
func (o *regJoin) flush(input int, b *runtime.Batch, out runtime.Output, all bool) error {
	total := len(o.outKind)
	nl := o.sides[0].schema.Len()
	from := 0
	for from < total && (all || total-from >= o.flushAt) {
		to := min(from+o.flushAt, total)
		ob := o.outB
		ob.Reset()
		for side := range o.sides {
			off := 0
			if side == 1 {
				off = nl
			}
			refs := o.outRef[side][from:to]
			for c := range o.sides[side].schema.Fields {
				var src *runtime.Vector
				if side == input {
					src = &b.Cols[c]
				} else {
					src = &o.sides[side].rows.cols[c]
				}
				regGather(&ob.Cols[off+c], src, refs, &o.spareNull[off+c])
			}
		}
		ob.N = to - from
		ob.Kinds = o.outKind[from:to]
		err := out.Emit(ob)
		ob.Kinds = nil
		for c := range ob.Cols { // keep the null flags' memory for the next batch
			if nulls := ob.Cols[c].Null; nulls != nil {
				o.spareNull[c] = nulls[:0]
			}
		}
		if err != nil {
			return err
		}
		from = to
	}
	// Keep what was not emitted.
	o.outKind = o.outKind[:copy(o.outKind, o.outKind[from:])]
	for side := range o.outRef {
		o.outRef[side] = o.outRef[side][:copy(o.outRef[side], o.outRef[side][from:])]
	}
	return nil
}

func (o *regJoin) resetOut() {
	o.outKind = o.outKind[:0]
	o.outRef[0], o.outRef[1] = o.outRef[0][:0], o.outRef[1][:0]
}

// Finish implements runtime.Operator: a regular join has nothing pending.
func (o *regJoin) Finish(runtime.Output) error { return nil }

// ProcessWatermark implements runtime.Operator: the runtime forwards the
// watermark; the join's state does not depend on it.
func (o *regJoin) ProcessWatermark(int64, runtime.Output) error { return nil }

// Close releases the batches.
func (o *regJoin) Close() error {
	if o.outB != nil {
		o.outB.Release()
		o.outB = nil
	}
	if o.cand != nil {
		o.cand.Release()
		o.cand = nil
	}
	return nil
}

// stateBytes estimates the memory of the subtask's state.
func (o *regJoin) stateBytes() int {
	n := o.sides[0].rows.bytes() + o.sides[1].rows.bytes()
	n += cap(o.keys.slots)*16 + cap(o.keys.entries)*32 + cap(o.pend) + cap(o.last)*16 + cap(o.keys.free)*4
	for c := range o.keys.vals {
		v := &o.keys.vals[c]
		n += cap(v.I64)*8 + cap(v.F64)*8 + cap(v.Str)*16 + cap(v.Null)
	}
	return n
}
