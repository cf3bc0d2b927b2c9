// Package groupagg is the non-windowed GROUP BY: an updating aggregation
// whose result is a changelog. For each input batch (Flink's mini-batch),
// every group the batch touches emits its previous result as -U (unless the
// group is new) and its new result as +U (+I for a new group), so a sink
// that applies the changelog always holds the current result per key. As in
// Flink, a group whose result the batch leaves unchanged emits nothing,
// unless a TTL is set (then its updates keep state downstream alive).
//
// What the planner must guarantee, and what it gets:
//   - Rows arrive partitioned by Spec.KeyCols (runtime.Keyed on those
//     columns), or all in one subtask (parallelism 1, runtime.Global)
//     when there are no keys.
//   - Without Spec.Retract the input must be append-only (+I rows): any
//     other kind fails the job. With Spec.Retract it may be an updating
//     stream in retract mode (+I, -U, +U, -D in any interleaving across
//     batches, e.g. the output of another GROUP BY): +I and +U rows are
//     added, -U and -D rows retract one equal row added before. A group
//     whose rows all are retracted emits -D of its last result and is
//     dropped (Flink's behaviour); a retraction for a group holding no
//     rows (dropped, expired, or never seen) is ignored, as in Flink.
//   - No time column and no watermarks: the operator ignores them
//     (watermarks pass through as runtime.Base forwards them).
//   - Output: the key columns, then one column per aggregate (agg.Spec,
//     types in package agg); an updating stream of +I, -U, +U and, with
//     Retract, -D rows. For one key, a -U (or -D) always carries exactly
//     the row last emitted for it.
package groupagg

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/state"
)

// Spec configures a group aggregation.
type Spec struct {
	In      *runtime.Schema
	KeyCols []int // grouping keys (rows arrive keyed by them); none = one global group
	Aggs    []agg.Spec
	// Retract accepts an updating input in retract mode (see the package
	// doc); aggregates then keep what retracting needs (MIN and MAX an
	// ordered multiset per group, for one).
	Retract bool
	// MaxGroups bounds the groups one subtask may hold (0: no limit); going
	// over fails the job with an error wrapping state.ErrStateLimit.
	MaxGroups int
	// TTL drops a group not updated for this long (0: never), measured in
	// processing time as Flink's 'table.exec.state.ttl': an expired group
	// is never read again (a row for its key starts it anew, emitted as
	// +I) and its memory is freed by a purge every TTL/4 (10 ms to 1 min),
	// also while no rows arrive. Groups restored from a snapshot start
	// their TTL at the restore.
	TTL time.Duration
	// Clock returns the processing time in milliseconds (nil: the wall
	// clock); for tests.
	Clock func() int64
}

// New checks spec and returns a factory of operators (one per subtask) and
// the output schema: the key columns, then the aggregates.
func New(spec Spec) (newOp func() runtime.Operator, out *runtime.Schema, err error) {
	if spec.In == nil {
		return nil, nil, fmt.Errorf("group aggregation: no input schema")
	}
	if spec.TTL < 0 || spec.MaxGroups < 0 {
		return nil, nil, fmt.Errorf("group aggregation: negative state TTL (%v) or group limit (%d)", spec.TTL, spec.MaxGroups)
	}
	newLayout := agg.NewLayout
	if spec.Retract {
		newLayout = agg.NewRetractLayout
	}
	layout, err := newLayout(spec.In, spec.Aggs)
	if err != nil {
		return nil, nil, err
	}
	var fields []runtime.Field
	for _, c := range spec.KeyCols {
		if c < 0 || c >= spec.In.Len() {
			return nil, nil, fmt.Errorf("group aggregation: key column %d out of range", c)
		}
		fields = append(fields, spec.In.Fields[c])
	}
	out = runtime.NewSchema(append(fields, layout.Fields()...)...)
	return func() runtime.Operator { return &op{spec: spec, layout: layout, out: out} }, out, nil
}

type op struct {
	runtime.Base
	spec    Spec
	layout  *agg.Layout
	out     *runtime.Schema
	ctx     *runtime.Context
	table   *agg.Table
	accs    *agg.Accs
	outb    *runtime.Batch
	rows    []int32
	groups  []int32
	touched []int32
	mark    []bool
	// The state TTL, and scratch for purges and for touched groups found
	// expired.
	exp     agg.Expiry
	live    []bool
	expired []bool
	// With Retract: the groups holding no rows (kept in the table until
	// compacted), the previous results of the touched groups, and where
	// each touched group's is (-1: none).
	dead    int
	prev    *runtime.Batch
	prevRow []int32
	// Without Retract and TTL: the new results of the touched groups.
	cur *runtime.Batch
}

// purge drops the groups expired at now, if it is time to.
func (o *op) purge(now int64) {
	if !o.exp.Due(now) {
		return
	}
	n := o.table.Len()
	o.live = o.live[:0]
	dead := 0
	for g := 0; g < n; g++ {
		ok := !o.exp.Expired(int32(g), now) && (!o.spec.Retract || o.accs.Rows(int32(g)) > 0)
		o.live = append(o.live, ok)
		if !ok {
			dead++
		}
	}
	if dead == 0 {
		return
	}
	o.compact()
}

// compact drops the groups g without o.live[g].
func (o *op) compact() {
	o.table.Compact(o.live)
	o.accs.Compact(o.live)
	o.exp.Compact(o.live)
	k := o.table.Len()
	o.mark = o.mark[:min(len(o.mark), k)]
	o.countDead()
	o.setStateKeys()
}

// countDead counts the groups holding no rows (Retract).
func (o *op) countDead() {
	o.dead = 0
	if !o.spec.Retract {
		return
	}
	for g := range o.accs.Len() {
		if o.accs.Rows(int32(g)) == 0 {
			o.dead++
		}
	}
}

func (o *op) setStateKeys() {
	if o.ctx != nil && o.ctx.Metrics != nil {
		o.ctx.Metrics.SetStateKeys(o.table.Len() - o.dead)
	}
}

// OnProcessingTime purges expired groups while no rows arrive.
func (o *op) OnProcessingTime(_ int64, _ runtime.Output) error {
	now := o.exp.Now()
	o.purge(now)
	o.exp.Rearm(o.ctx, now)
	return nil
}

func (o *op) Open(ctx *runtime.Context) error {
	o.ctx = ctx
	o.table = agg.NewTable(o.spec.In, o.spec.KeyCols)
	o.accs = agg.NewAccs(o.layout)
	o.outb = runtime.NewBatch(o.out)
	o.prev = runtime.NewBatch(o.out)
	o.cur = runtime.NewBatch(o.out)
	o.exp = agg.NewExpiry(o.spec.TTL, o.spec.Clock)
	o.exp.Start(ctx)
	return nil
}

func (o *op) ProcessBatch(_ int, b *runtime.Batch, out runtime.Output) error {
	if o.spec.Retract {
		return o.processRetract(b, out)
	}
	o.rows = o.rows[:0]
	for i := 0; i < b.Len(); i++ {
		r := b.Row(i)
		if k := b.Kind(r); k != runtime.Insert {
			return fmt.Errorf("GROUP BY over an updating input (a %s row) is not supported", k)
		}
		o.rows = append(o.rows, int32(r))
	}
	if len(o.rows) == 0 {
		return nil
	}
	ttl := o.exp.TTL()
	var now int64
	if ttl > 0 {
		now = o.exp.Now()
		o.purge(now)
	}
	before := int32(o.table.Len())
	o.groups = o.table.Lookup(b, o.rows, o.groups)
	// The groups this batch touches, once each, in first-touch order.
	o.touched = o.touched[:0]
	for len(o.mark) < o.table.Len() {
		o.mark = append(o.mark, false)
	}
	for _, g := range o.groups {
		if !o.mark[g] {
			o.mark[g] = true
			o.touched = append(o.touched, g)
		}
	}
	// A group expired but not purged yet starts anew, as a new group.
	o.expired = o.expired[:0]
	for _, g := range o.touched {
		o.expired = append(o.expired, ttl > 0 && g < before && o.exp.Expired(g, now))
	}
	// Without a TTL a group whose result the batch leaves unchanged emits
	// nothing (as Flink): its previous results are kept in o.prev to be
	// compared with the new ones. With a TTL every touched group emits, as
	// Flink does, so that state downstream is kept alive by its updates.
	suppress := ttl == 0
	if suppress {
		o.prev.Reset()
		for _, g := range o.touched {
			if g < before {
				o.table.Key(g, o.prev, 0)
				o.accs.Emit(g, o.prev, len(o.spec.KeyCols))
				o.prev.N++
			}
		}
	} else {
		// Retract the previous results, apply the batch, emit the new ones.
		for i, g := range o.touched {
			if g < before && !o.expired[i] {
				if err := o.emit(g, runtime.UpdateBefore, out); err != nil {
					return err
				}
			}
		}
	}
	o.accs.Grow(o.table.Len())
	if ttl > 0 {
		o.exp.Grow(o.table.Len(), now)
		for i, g := range o.touched {
			if o.expired[i] {
				o.accs.Clear(g)
			}
			o.exp.Last[g] = now
		}
	}
	o.accs.Update(b, o.rows, o.groups)
	if suppress {
		return o.emitChanged(before, out)
	}
	for i, g := range o.touched {
		o.mark[g] = false
		if err := o.accs.Check(g); err != nil {
			for _, g := range o.touched[i:] {
				o.mark[g] = false
			}
			return fmt.Errorf("%w, for the group %s", err, o.table.KeyString(g))
		}
		kind := runtime.UpdateAfter
		if g >= before || o.expired[i] {
			kind = runtime.Insert
		}
		if err := o.emit(g, kind, out); err != nil {
			return err
		}
	}
	return o.finish(out)
}

// emitChanged ends ProcessBatch over an append-only input without a TTL,
// once the batch is applied: -U of the previous result of every group
// whose result changed (o.prev holds the previous results of the touched
// groups below before, in touched order), then +U of its new result, or
// +I for a new group. A group whose result is unchanged emits nothing.
func (o *op) emitChanged(before int32, out runtime.Output) error {
	o.cur.Reset()
	o.prevRow = o.prevRow[:0] // per touched group: its row in o.prev, -1 when unchanged or new
	p := int32(0)
	for i, g := range o.touched {
		o.mark[g] = false
		if err := o.accs.Check(g); err != nil {
			for _, g := range o.touched[i:] {
				o.mark[g] = false
			}
			return fmt.Errorf("%w, for the group %s", err, o.table.KeyString(g))
		}
		o.table.Key(g, o.cur, 0)
		o.accs.Emit(g, o.cur, len(o.spec.KeyCols))
		o.cur.N++
		r := int32(-1)
		if g < before {
			if !sameResult(o.prev, int(p), o.cur, i, len(o.spec.KeyCols)) {
				r = p
			}
			p++
		}
		o.prevRow = append(o.prevRow, r)
	}
	for _, r := range o.prevRow {
		if r >= 0 {
			if err := o.emitRow(o.prev, r, runtime.UpdateBefore, out); err != nil {
				return err
			}
		}
	}
	for i, g := range o.touched {
		kind := runtime.Insert
		if g < before {
			if o.prevRow[i] < 0 {
				continue
			}
			kind = runtime.UpdateAfter
		}
		if err := o.emitRow(o.cur, int32(i), kind, out); err != nil {
			return err
		}
	}
	return o.finish(out)
}

// sameResult reports whether row i of a and row j of b hold the same values
// in the columns from 'from' on: NULL equals NULL, floats equal when their
// bits do.
func sameResult(a *runtime.Batch, i int, b *runtime.Batch, j int, from int) bool {
	for c := from; c < len(a.Cols); c++ {
		x, y := &a.Cols[c], &b.Cols[c]
		xn, yn := x.IsNull(i), y.IsNull(j)
		if xn != yn {
			return false
		}
		if xn {
			continue
		}
		switch x.Type.Physical() {
		case runtime.PhysFloat:
			if math.Float64bits(x.F64[i]) != math.Float64bits(y.F64[j]) {
				return false
			}
		case runtime.PhysString:
			if x.Str[i] != y.Str[j] {
				return false
			}
		default:
			if x.I64[i] != y.I64[j] {
				return false
			}
		}
	}
	return true
}

// finish ends ProcessBatch over an append-only input: the state metrics,
// the group limit, and the output.
func (o *op) finish(out runtime.Output) error {
	if o.ctx != nil && o.ctx.Metrics != nil {
		o.ctx.Metrics.SetStateKeys(o.table.Len())
	}
	if o.spec.MaxGroups > 0 && o.table.Len() > o.spec.MaxGroups {
		return fmt.Errorf("%w: GROUP BY holds %d groups in this subtask, over its limit of %d ('sluice.state.max-keys'; 'table.exec.state.ttl' drops idle keys)", state.ErrStateLimit, o.table.Len(), o.spec.MaxGroups)
	}
	return o.flush(out)
}

func (o *op) emit(g int32, kind runtime.RowKind, out runtime.Output) error {
	b := o.outb
	o.table.Key(g, b, 0)
	o.accs.Emit(g, b, len(o.spec.KeyCols))
	b.SetKind(b.N, kind)
	b.N++
	if b.N >= runtime.DefaultBatchRows {
		return o.flush(out)
	}
	return nil
}

func (o *op) flush(out runtime.Output) error {
	if o.outb.N == 0 {
		return nil
	}
	err := out.Emit(o.outb)
	o.outb.Reset()
	return err
}

// Describe says what the operator keeps, for plans.
func (o *op) Describe() string {
	var b strings.Builder
	var keys []string
	for _, c := range o.spec.KeyCols {
		keys = append(keys, o.spec.In.Fields[c].Name)
	}
	kinds := "+I, -U, +U"
	if o.spec.Retract {
		kinds = "+I, -U, +U, -D; over an updating input"
	}
	if len(keys) > 0 {
		fmt.Fprintf(&b, "group aggregate: keys %s, an updating result (%s)\n", strings.Join(keys, ", "), kinds)
	} else {
		fmt.Fprintf(&b, "group aggregate: one global group, an updating result (%s)\n", kinds)
	}
	b.WriteString("state: one entry per key")
	if o.spec.Retract {
		b.WriteString(" (with the live values of its MIN, MAX, FIRST_VALUE, LAST_VALUE and LISTAGG, to retract them)")
	}
	if o.spec.TTL > 0 {
		fmt.Fprintf(&b, ", TTL %v in processing time ('table.exec.state.ttl')", o.spec.TTL)
	} else {
		b.WriteString(", no TTL: kept forever")
	}
	if o.spec.MaxGroups > 0 {
		fmt.Fprintf(&b, "; at most %d keys per subtask ('sluice.state.max-keys')", o.spec.MaxGroups)
	}
	return b.String()
}

func (o *op) Close() error {
	if o.outb != nil {
		o.outb.Release()
		o.outb = nil
	}
	if o.cur != nil {
		o.cur.Release()
		o.cur = nil
	}
	if o.prev != nil {
		o.prev.Release()
		o.prev = nil
	}
	return nil
}
