// Package over is the OVER aggregation of Flink SQL:
//
//	agg(x) OVER (PARTITION BY p… ORDER BY t
//	             ROWS  BETWEEN n PRECEDING | UNBOUNDED PRECEDING AND CURRENT ROW |
//	             RANGE BETWEEN INTERVAL … PRECEDING | UNBOUNDED PRECEDING AND CURRENT ROW)
//
// Every input row comes out once, as an insert (+I), with one more column
// per aggregate: the aggregate over the row's frame in its partition. Over
// an append-only input (the default) the result is append-only; over an
// updating input (Spec.Updating) it is updating, see below.
//
// # Event time (Spec.ProcTime false)
//
// Rows are buffered until the watermark passes their time, then emitted in
// time order (per partition; across partitions too, within one watermark),
// each with the aggregates over its frame:
//   - ROWS frames: the row and the n rows before it in the partition's
//     order; rows with the same time are ordered by arrival.
//   - RANGE frames: the rows whose time is within [t - interval, t] (all
//     rows up to t when unbounded), including every peer (row of the same
//     time): peers get the same aggregates.
//
// A row whose time is NULL, outside the sane range, or not after the
// current watermark when it arrives is late: dropped, counted in
// LateRowsDropped and logged like the window operators do.
//
// # Processing time (Spec.ProcTime true)
//
// Rows are emitted at once, in arrival order, which is their order: the
// frame of a row is the n rows before it (ROWS) or the rows that arrived
// within the interval of processing time before it (RANGE), and no two
// rows are peers. The time column is not read.
//
// # What the planner must guarantee
//
//   - Rows arrive partitioned by PartitionCols (runtime.Keyed on them); with
//     no partition columns the operator runs at parallelism 1.
//   - Without Spec.Updating the input is append-only (+I only): a -U, +U
//     or -D row fails the job.
//   - For event time, TimeCol is a time attribute (TIMESTAMP(3) or BIGINT
//     milliseconds) whose watermarks reach the operator.
//
// # Updating input (Spec.Updating)
//
// Over an updating input (a changelog, such as the Top-1 under Nexmark
// q6) the operator applies each change at once and its result is an
// updating changelog: see updating.go. The ORDER BY column is then a sort
// key (rows with the same value ordered by arrival), not a time attribute:
// nothing is late and watermarks pass through. Frames must be bounded
// (ROWS n or RANGE interval), and processing time is not supported. A
// retraction of a row the operator does not hold (its partition expired by
// the TTL, or its time was NULL) is ignored.
//
// # Aggregates and state
//
// COUNT(*), COUNT(x), SUM, AVG, MIN and MAX (agg.Spec, with the output types
// of package agg). Sliding frames subtract the rows that leave the frame
// from running counts and sums (an exact 128-bit sum for integers, so a
// BIGINT SUM is an error only when the frame's sum itself is out of range;
// a DOUBLE sum drifts by rounding as Flink's does) and keep MIN and MAX in a
// monotonic deque; unbounded frames keep running values only. A partition
// holds the rows of its frame (sliding frames) and its buffered rows; a
// partition not updated for TTL (processing time, 'table.exec.state.ttl')
// is dropped once it holds no buffered row, and starts anew on its next
// row. MaxGroups bounds the partitions of one subtask.
package over

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/state"
)

// Frame is the frame of an OVER window, always ending at the current row.
type Frame struct {
	// Rows selects a ROWS frame (Preceding counts rows); otherwise a RANGE
	// frame (Preceding is milliseconds of the ORDER BY time).
	Rows bool
	// Preceding is how far the frame reaches before the current row; it is
	// ignored when Unbounded.
	Preceding int64
	// Unbounded is UNBOUNDED PRECEDING.
	Unbounded bool
}

func (f Frame) String() string {
	kind := "RANGE"
	if f.Rows {
		kind = "ROWS"
	}
	switch {
	case f.Unbounded:
		return kind + " BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"
	case f.Rows:
		return fmt.Sprintf("ROWS BETWEEN %d PRECEDING AND CURRENT ROW", f.Preceding)
	}
	return fmt.Sprintf("RANGE BETWEEN INTERVAL %s PRECEDING AND CURRENT ROW", time.Duration(f.Preceding)*time.Millisecond)
}

// Spec configures an OVER aggregation.
type Spec struct {
	In            *runtime.Schema
	PartitionCols []int // PARTITION BY columns (rows arrive keyed by them); none = one partition
	// TimeCol is the ORDER BY column, an event-time attribute (TIMESTAMP(3)
	// or BIGINT ms); ignored when ProcTime.
	TimeCol int
	// ProcTime orders by processing time (PROCTIME()).
	ProcTime bool
	// Updating accepts an updating input (-U, +U, -D rows) and makes the
	// result updating; see the package doc.
	Updating bool
	Frame    Frame
	// Aggs are the aggregate calls over this window: COUNT, SUM, AVG, MIN,
	// MAX. Their output columns follow the input columns, in this order.
	Aggs []agg.Spec
	// MaxGroups bounds the partitions one subtask may hold (0: no limit);
	// going over fails the job with an error wrapping state.ErrStateLimit.
	MaxGroups int
	// TTL drops the state of a partition that received no row for this
	// long (0: never), in processing time, once it holds no buffered row.
	TTL time.Duration
	// Clock returns the processing time in milliseconds (nil: the wall
	// clock); for tests.
	Clock func() int64
}

// aggFn is one compiled aggregate.
type aggFn struct {
	fn       agg.Func
	col      int // -1: COUNT(*)
	phys     runtime.Physical
	nullable bool
	keep     bool // a sliding frame stores the values of this aggregate
	slot     int  // where (op.slots), or -1
	name     string
	decimal  runtime.Type // AVG of a DECIMAL: the input's type
}

// slot is an input column whose values (or NULL flags) the entries of a
// sliding frame keep, shared by the aggregates over that column.
type slot struct {
	col      int
	phys     runtime.Physical
	nullable bool
	vals     bool // values, not only NULL flags (COUNT)
}

// New checks spec and returns a factory of operators (one per subtask) and
// the output schema: the input columns, then one column per aggregate.
func New(spec Spec) (newOp func() runtime.Operator, out *runtime.Schema, err error) {
	in := spec.In
	if in == nil {
		return nil, nil, fmt.Errorf("over aggregation: no input schema")
	}
	if spec.TTL < 0 || spec.MaxGroups < 0 {
		return nil, nil, fmt.Errorf("over aggregation: negative state TTL (%v) or partition limit (%d)", spec.TTL, spec.MaxGroups)
	}
	if !spec.Frame.Unbounded && spec.Frame.Preceding < 0 {
		return nil, nil, fmt.Errorf("over aggregation: %s PRECEDING must not be negative", frameUnit(spec.Frame, spec.Frame.Preceding))
	}
	if spec.Updating && (spec.ProcTime || spec.Frame.Unbounded) {
		return nil, nil, fmt.Errorf("over aggregation over an updating input: the frame must be bounded (ROWS n or RANGE interval PRECEDING) and ordered by a column, not %s ordered by %s", spec.Frame, map[bool]string{true: "PROCTIME()", false: "time"}[spec.ProcTime])
	}
	if !spec.ProcTime {
		if spec.TimeCol < 0 || spec.TimeCol >= in.Len() {
			return nil, nil, fmt.Errorf("over aggregation: ORDER BY column %d out of range (the input has %d columns)", spec.TimeCol, in.Len())
		}
		if t := in.Fields[spec.TimeCol].Type; t != runtime.Timestamp && t != runtime.BigInt {
			return nil, nil, fmt.Errorf("over aggregation: ORDER BY column %q is %s, want a time attribute (TIMESTAMP(3))", in.Fields[spec.TimeCol].Name, t)
		}
	}
	for _, c := range spec.PartitionCols {
		if c < 0 || c >= in.Len() {
			return nil, nil, fmt.Errorf("over aggregation: PARTITION BY column %d out of range (the input has %d columns)", c, in.Len())
		}
	}
	if len(spec.Aggs) == 0 {
		return nil, nil, fmt.Errorf("over aggregation: no aggregate")
	}
	// Bounds past what any partition or time span can hold mean the same
	// frame; clamping them keeps the frame arithmetic from overflowing.
	if spec.Frame.Rows {
		spec.Frame.Preceding = min(spec.Frame.Preceding, math.MaxInt32)
	} else {
		spec.Frame.Preceding = min(spec.Frame.Preceding, runtime.MaxEventTime-runtime.MinEventTime)
	}
	layout, err := agg.NewLayout(in, spec.Aggs)
	if err != nil {
		return nil, nil, fmt.Errorf("over aggregation: %w", err)
	}
	sliding := !spec.Frame.Unbounded
	var fns []aggFn
	var slots []slot
	for _, a := range spec.Aggs {
		switch a.Func {
		case agg.Count, agg.Sum, agg.Avg, agg.Min, agg.Max:
		case agg.CountDistinct:
			return nil, nil, fmt.Errorf("over aggregation: COUNT(DISTINCT %s) over a window is not supported", in.Fields[a.Col].Name)
		default:
			return nil, nil, fmt.Errorf("over aggregation: %s over a window is not supported (COUNT, SUM, AVG, MIN and MAX are)", a.Func)
		}
		if (agg.Spec{Func: a.Func, Col: a.Col, Name: a.Name}) != a {
			// Options such as FILTER (WHERE …) that this operator does
			// not apply must not be dropped silently.
			return nil, nil, fmt.Errorf("over aggregation: %s(%s) has options (such as FILTER) that are not supported over a window", a.Func, a.Name)
		}
		f := aggFn{fn: a.Func, col: a.Col, name: a.Name}
		if a.Col >= 0 {
			fld := in.Fields[a.Col]
			f.phys, f.nullable = fld.Type.Physical(), fld.Nullable
			if fld.Type.IsDecimal() {
				f.decimal = fld.Type
			}
			f.keep = sliding && (a.Func != agg.Count || f.nullable)
		}
		f.slot = -1
		if f.keep {
			f.slot = slices.IndexFunc(slots, func(s slot) bool { return s.col == a.Col })
			if f.slot < 0 {
				f.slot = len(slots)
				slots = append(slots, slot{col: a.Col, phys: f.phys, nullable: f.nullable})
			}
			slots[f.slot].vals = slots[f.slot].vals || a.Func != agg.Count
		}
		fns = append(fns, f)
	}
	fields := append(append([]runtime.Field(nil), in.Fields...), layout.Fields()...)
	out = runtime.NewSchema(fields...)
	return func() runtime.Operator {
		return &op{spec: spec, aggs: fns, slots: slots, out: out, nIn: in.Len(), sliding: sliding, aggFields: layout.Fields(),
			byTime: sliding && !spec.Frame.Rows, wm: runtime.MinWatermark, minPend: runtime.MaxWatermark}
	}, out, nil
}

func frameUnit(f Frame, n int64) string {
	if f.Rows {
		return fmt.Sprintf("ROWS %d", n)
	}
	return fmt.Sprintf("RANGE %dms", n)
}

type op struct {
	runtime.Base
	spec    Spec
	aggs    []aggFn
	slots   []slot
	out     *runtime.Schema
	nIn     int
	sliding bool // the frame has a bounded start
	byTime  bool // a sliding RANGE frame: entries keep their time
	ctx     *runtime.Context

	aggFields []runtime.Field
	u         *updState // with Spec.Updating

	table *agg.Table
	parts []part
	wm    int64

	// Event time: rows waiting for the watermark, in arrival order, with
	// their time and partition; the number each partition has; the
	// smallest time among them.
	pend, spare *runtime.Batch
	pendT       []int64
	pendG       []int32
	pendCnt     []int32
	minPend     int64

	// TTL: each partition's last row (ms) and the next purge.
	last      []int64
	nextPurge int64
	live      []bool

	outb    *runtime.Batch
	emitIdx []int32 // source rows of the output batch's rows
	rows    []int32
	groups  []int32
	lates   []int32
	due     []int32
	keys    []uint64 // sort keys of due
	lateLog runtime.LateLog
}

func (o *op) Open(ctx *runtime.Context) error {
	o.ctx = ctx
	o.table = agg.NewTable(o.spec.In, o.spec.PartitionCols)
	o.outb = runtime.NewBatch(o.out)
	switch {
	case o.spec.Updating:
		o.u = newUpdState(o.spec.In, o.aggFields)
	case !o.spec.ProcTime:
		o.pend, o.spare = newBatch(o.spec.In), newBatch(o.spec.In)
	}
	if o.ttlMs() > 0 {
		o.nextPurge = o.now() + o.purgeEvery()
		if ctx != nil {
			ctx.RegisterProcessingTimer(o.nextPurge)
		}
	}
	return nil
}

// newBatch returns a batch of schema s that belongs to the operator (not
// to the schema's pool).
func newBatch(s *runtime.Schema) *runtime.Batch {
	b := &runtime.Batch{Schema: s, Cols: make([]runtime.Vector, s.Len())}
	for i, f := range s.Fields {
		b.Cols[i].Type = f.Type
	}
	return b
}

func (o *op) Close() error {
	o.lateLog.Close(o.ctx)
	if o.outb != nil {
		o.outb.Release()
		o.outb = nil
	}
	return nil
}

func (o *op) now() int64 {
	if o.spec.Clock != nil {
		return o.spec.Clock()
	}
	return time.Now().UnixMilli()
}

func (o *op) ttlMs() int64 {
	if o.spec.TTL <= 0 {
		return 0
	}
	return max(o.spec.TTL.Milliseconds(), 1)
}

func (o *op) purgeEvery() int64 { return min(max(o.ttlMs()/4, 10), 60_000) }

// ProcessBatch buffers (event time) or emits (processing time) the rows.
func (o *op) ProcessBatch(_ int, b *runtime.Batch, out runtime.Output) error {
	n := b.Len()
	if n == 0 {
		return nil
	}
	if b.Kinds != nil && !o.spec.Updating {
		for i := 0; i < n; i++ {
			if k := b.Kinds[b.Row(i)]; k != runtime.Insert {
				return fmt.Errorf("OVER aggregation: a %s row in an input declared append-only (Spec.Updating is not set)", k)
			}
		}
	}
	ttl := o.ttlMs()
	var now int64
	if ttl > 0 || o.spec.ProcTime {
		now = o.now()
	}
	if ttl > 0 {
		o.purge(now)
	}
	o.rows, o.lates = o.rows[:0], o.lates[:0]
	if o.spec.ProcTime {
		for i := 0; i < n; i++ {
			o.rows = append(o.rows, int32(b.Row(i)))
		}
	} else {
		tv := &b.Cols[o.spec.TimeCol]
		for i := 0; i < n; i++ {
			r := b.Row(i)
			if tv.IsNull(r) || !runtime.SaneEventTime(tv.I64[r]) || tv.I64[r] <= o.wm && !o.spec.Updating {
				o.lates = append(o.lates, int32(r))
				continue
			}
			o.rows = append(o.rows, int32(r))
		}
		o.dropLate(b)
	}
	if len(o.rows) == 0 {
		return nil
	}
	before := o.table.Len()
	o.groups = o.table.Lookup(b, o.rows, o.groups)
	for len(o.parts) < o.table.Len() {
		if o.u != nil {
			o.u.parts = append(o.u.parts, nil)
		}
		o.parts = append(o.parts, part{})
		o.pendCnt = append(o.pendCnt, 0)
		o.last = append(o.last, now)
	}
	if ttl > 0 {
		for _, g := range o.groups {
			if int(g) < before && o.last[g] <= now-ttl && o.pendCnt[g] == 0 {
				o.parts[g] = part{} // expired, not purged yet: starts anew
				if o.u != nil {
					o.u.dead += len(o.u.parts[g])
					o.u.parts[g] = o.u.parts[g][:0]
				}
			}
			o.last[g] = now
		}
	}
	if err := o.account(); err != nil {
		return err
	}
	if o.spec.Updating {
		return o.processUpdating(b, out)
	}
	if o.spec.ProcTime {
		for k, r := range o.rows {
			if err := o.emitOne(b, int(r), o.groups[k], now, out); err != nil {
				return err
			}
		}
		return o.flush(b, out)
	}
	for _, c := range o.rows {
		o.minPend = min(o.minPend, b.Cols[o.spec.TimeCol].I64[c])
	}
	for c := range o.pend.Cols {
		o.pend.Cols[c].AppendRows(&b.Cols[c], o.rows)
	}
	o.pend.N += len(o.rows)
	tv := b.Cols[o.spec.TimeCol].I64
	for k, r := range o.rows {
		o.pendT = append(o.pendT, tv[r])
		o.pendG = append(o.pendG, o.groups[k])
		o.pendCnt[o.groups[k]]++
	}
	return nil
}

// emitOne adds physical row r of src (partition g, time t) to its frame
// and appends its output row (processing time, and ROWS frames).
func (o *op) emitOne(src *runtime.Batch, r int, g int32, t int64, out runtime.Output) error {
	p := &o.parts[g]
	o.add(p, src, r, t)
	o.slide(p, t)
	if err := o.appendAggs(p, g); err != nil {
		return err
	}
	o.emitIdx = append(o.emitIdx, int32(r))
	if o.outb.N >= runtime.DefaultBatchRows {
		return o.flush(src, out)
	}
	return nil
}

// slide drops the entries that left the frame of a row at time t just
// added.
func (o *op) slide(p *part, t int64) {
	if !o.sliding {
		return
	}
	f := o.spec.Frame
	if f.Rows {
		if over := p.n - p.head - (f.Preceding + 1); over > 0 {
			o.evict(p, p.head+over)
		}
		return
	}
	lo := t - f.Preceding // entries before lo leave
	h := p.head
	for h < p.n && p.ts[h-p.base] < lo {
		h++
	}
	if h > p.head {
		o.evict(p, h)
	}
}

// appendAggs appends the aggregates of p's frame to the output batch.
func (o *op) appendAggs(p *part, g int32) error {
	b := o.outb
	for k := range o.aggs {
		if err := o.result(p, k, &b.Cols[o.nIn+k]); err != nil {
			return fmt.Errorf("%w, for the partition %s", err, o.table.KeyString(g))
		}
	}
	b.N++
	return nil
}

// flush gathers the input columns of the output rows from src and emits
// the output batch.
func (o *op) flush(src *runtime.Batch, out runtime.Output) error {
	b := o.outb
	if b.N == 0 {
		return nil
	}
	for c := 0; c < o.nIn; c++ {
		b.Cols[c].AppendRows(&src.Cols[c], o.emitIdx)
	}
	o.emitIdx = o.emitIdx[:0]
	err := out.Emit(b)
	b.Reset()
	return err
}

// ProcessWatermark emits the buffered rows the watermark passes.
func (o *op) ProcessWatermark(wm int64, out runtime.Output) error {
	if wm > o.wm {
		o.wm = wm
	}
	if o.spec.ProcTime || o.spec.Updating || o.minPend > wm {
		return nil
	}
	return o.fire(wm, out)
}

// Finish emits every buffered row, should the input have ended without the
// final watermark.
func (o *op) Finish(out runtime.Output) error {
	return o.ProcessWatermark(runtime.MaxWatermark, out)
}

// fire emits the buffered rows with a time up to wm, in order of (time,
// partition, arrival), and keeps the others.
func (o *op) fire(wm int64, out runtime.Output) error {
	o.due = o.due[:0]
	for i, t := range o.pendT {
		if t <= wm {
			o.due = append(o.due, int32(i))
		}
	}
	o.keys = sortDue(o.due, o.pendT, o.pendG, o.keys)
	src := o.pend
	for i := 0; i < len(o.due); {
		r := o.due[i]
		g, t := o.pendG[r], o.pendT[r]
		p := &o.parts[g]
		if o.spec.Frame.Rows {
			if err := o.emitOne(src, int(r), g, t, out); err != nil {
				return err
			}
			i++
			continue
		}
		// RANGE: the peers (same partition and time) go in together and
		// share the result.
		j := i
		for ; j < len(o.due) && o.pendG[o.due[j]] == g && o.pendT[o.due[j]] == t; j++ {
			o.add(p, src, int(o.due[j]), t)
		}
		o.slide(p, t)
		for ; i < j; i++ {
			if err := o.appendAggs(p, g); err != nil {
				return err
			}
			o.emitIdx = append(o.emitIdx, o.due[i])
			if o.outb.N >= runtime.DefaultBatchRows {
				if err := o.flush(src, out); err != nil {
					return err
				}
			}
		}
	}
	if err := o.flush(src, out); err != nil {
		return err
	}
	// Keep the rows still waiting, in arrival order.
	o.rows = o.rows[:0]
	k := 0
	o.minPend = runtime.MaxWatermark
	for i, t := range o.pendT {
		g := o.pendG[i]
		if t <= wm {
			o.pendCnt[g]--
			continue
		}
		o.rows = append(o.rows, int32(i))
		o.pendT[k], o.pendG[k] = t, g
		o.minPend = min(o.minPend, t)
		k++
	}
	o.pendT, o.pendG = o.pendT[:k], o.pendG[:k]
	o.spare.Reset()
	for c := range o.spare.Cols {
		o.spare.Cols[c].AppendRows(&o.pend.Cols[c], o.rows)
	}
	o.spare.N = k
	o.pend, o.spare = o.spare, o.pend
	if len(o.due) > 0 && o.ttlMs() == 0 && o.ctx != nil && o.ctx.Metrics != nil {
		o.ctx.Metrics.SetStateKeys(o.table.Len())
	}
	return nil
}

// dropLate counts and logs the late rows of b (o.lates).
func (o *op) dropLate(b *runtime.Batch) {
	if len(o.lates) == 0 {
		return
	}
	if o.ctx != nil && o.ctx.Metrics != nil {
		o.ctx.Metrics.LateRowsDropped.Add(len(o.lates))
	}
	latest := runtime.MinWatermark
	tv := &b.Cols[o.spec.TimeCol]
	for i := len(o.lates) - 1; i >= 0; i-- {
		if r := int(o.lates[i]); !tv.IsNull(r) {
			latest = tv.I64[r]
			break
		}
	}
	o.lateLog.Dropped(o.ctx, len(o.lates), latest, o.wm)
}

// account records the partitions held and enforces MaxGroups.
func (o *op) account() error {
	n := o.table.Len()
	if o.ctx != nil && o.ctx.Metrics != nil {
		o.ctx.Metrics.SetStateKeys(n)
	}
	if o.spec.MaxGroups > 0 && n > o.spec.MaxGroups {
		return fmt.Errorf("%w: OVER aggregation holds %d partitions in this subtask, over its limit of %d ('sluice.state.max-keys'; 'table.exec.state.ttl' drops idle keys)", state.ErrStateLimit, n, o.spec.MaxGroups)
	}
	return nil
}

// purge drops the partitions expired at now that hold no buffered row, if
// it is time to.
func (o *op) purge(now int64) {
	ttl := o.ttlMs()
	if ttl == 0 || now < o.nextPurge {
		return
	}
	o.nextPurge = now + o.purgeEvery()
	n := o.table.Len()
	o.live = o.live[:0]
	dead := 0
	for g := 0; g < n; g++ {
		ok := o.last[g] > now-ttl || o.pendCnt[g] > 0
		o.live = append(o.live, ok)
		if !ok {
			dead++
		}
	}
	if dead == 0 {
		return
	}
	o.table.Compact(o.live)
	id := make([]int32, n) // old id → new id
	k := 0
	for g, ok := range o.live {
		if ok {
			id[g] = int32(k)
			o.parts[k], o.last[k], o.pendCnt[k] = o.parts[g], o.last[g], o.pendCnt[g]
			if o.u != nil {
				o.u.parts[k] = o.u.parts[g]
			}
			k++
		} else if o.u != nil {
			o.u.dead += len(o.u.parts[g])
		}
	}
	if o.u != nil {
		clear(o.u.parts[k:])
		o.u.parts = o.u.parts[:k]
	}
	clear(o.parts[k:])
	o.parts, o.last, o.pendCnt = o.parts[:k], o.last[:k], o.pendCnt[:k]
	for i, g := range o.pendG {
		o.pendG[i] = id[g]
	}
	if o.ctx != nil && o.ctx.Metrics != nil {
		o.ctx.Metrics.SetStateKeys(k)
	}
}

// OnProcessingTime purges expired partitions while no rows arrive.
func (o *op) OnProcessingTime(_ int64, _ runtime.Output) error {
	now := o.now()
	o.purge(now)
	if o.ctx != nil {
		o.ctx.RegisterProcessingTimer(max(now, o.nextPurge))
	}
	return nil
}

// Describe says what the operator computes and keeps, for plans.
func (o *op) Describe() string {
	in := o.spec.In
	var b strings.Builder
	var keys []string
	for _, c := range o.spec.PartitionCols {
		keys = append(keys, in.Fields[c].Name)
	}
	order := "PROCTIME()"
	if !o.spec.ProcTime {
		order = in.Fields[o.spec.TimeCol].Name
	}
	var aggs []string
	for i, a := range o.spec.Aggs {
		arg := "*"
		if a.Col >= 0 {
			arg = in.Fields[a.Col].Name
		}
		aggs = append(aggs, fmt.Sprintf("%s(%s) AS %s", a.Func, arg, o.out.Fields[o.nIn+i].Name))
	}
	fmt.Fprintf(&b, "over aggregate: %s OVER (", strings.Join(aggs, ", "))
	if len(keys) > 0 {
		fmt.Fprintf(&b, "PARTITION BY %s ", strings.Join(keys, ", "))
	}
	kind := "append-only"
	if o.spec.Updating {
		kind = "an updating result (+I, -U, +U, -D)"
	}
	fmt.Fprintf(&b, "ORDER BY %s %s), %s\n", order, o.spec.Frame, kind)
	switch {
	case o.spec.Updating:
		b.WriteString("state: per partition, every row of its input, by ORDER BY value")
	case o.spec.ProcTime:
		b.WriteString("state: per partition, the rows of its frame")
	default:
		b.WriteString("state: per partition, the rows of its frame and those waiting for the watermark; late rows dropped and counted")
	}
	if o.spec.TTL > 0 {
		fmt.Fprintf(&b, ", TTL %v in processing time ('table.exec.state.ttl')", o.spec.TTL)
	}
	if o.spec.MaxGroups > 0 {
		fmt.Fprintf(&b, "; at most %d partitions per subtask ('sluice.state.max-keys')", o.spec.MaxGroups)
	}
	return b.String()
}
