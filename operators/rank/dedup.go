package rank

import (
	"fmt"
	"strings"
	"time"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/state"
)

// DedupSpec configures a deduplication:
//
//	SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k… ORDER BY t ASC|DESC) AS rn FROM t)
//	WHERE rn = 1
//
// where t is a time attribute: ASC keeps the first row of each key, DESC
// the last.
type DedupSpec struct {
	In      *runtime.Schema
	KeyCols []int // PARTITION BY (rows arrive keyed by them); none = one global key
	// TimeCol is the ORDER BY column when it is the event-time (rowtime)
	// attribute; it is ignored with ProcTime.
	TimeCol int
	// ProcTime orders by processing time, i.e. by arrival: keep-first
	// emits each key's first row once (+I, append-only output, the state
	// is the set of keys seen) and drops the rest; keep-last emits each
	// new row, retracting the previous one (-U, +U).
	ProcTime bool
	// KeepLast keeps the row of the largest time (ORDER BY t DESC), ties
	// going to the later arrival; otherwise the row of the smallest time
	// (ASC), ties going to the earlier one. With event time a row that
	// beats the one emitted replaces it (-U, +U) whenever it arrives; a
	// NULL time is below every other.
	KeepLast bool
	// RowNumber appends the rank column (always 1), as a BIGINT named
	// RowNumberName (default "rn").
	RowNumber     bool
	RowNumberName string
	// MaxGroups bounds the keys one subtask may hold (0: no limit); going
	// over fails the job with an error wrapping state.ErrStateLimit.
	MaxGroups int
	// TTL forgets a key not updated for this long (0: never), in
	// processing time ('table.exec.state.ttl'); a later row for it is new
	// again (+I). Keys restored from a snapshot start their TTL then.
	TTL time.Duration
	// Clock returns the processing time in milliseconds (nil: the wall
	// clock); for tests.
	Clock func() int64
}

// NewDedup checks spec and returns a factory of deduplication operators
// (one per subtask) and the output schema: the input columns, then the rank
// if spec.RowNumber.
func NewDedup(spec DedupSpec) (newOp func() runtime.Operator, out *runtime.Schema, err error) {
	const what = "deduplication"
	if spec.In == nil {
		return nil, nil, fmt.Errorf("%s: no input schema", what)
	}
	if spec.TTL < 0 || spec.MaxGroups < 0 {
		return nil, nil, fmt.Errorf("%s: negative state TTL (%v) or key limit (%d)", what, spec.TTL, spec.MaxGroups)
	}
	if err := checkCols(what, "PARTITION BY", spec.In, spec.KeyCols); err != nil {
		return nil, nil, err
	}
	if !spec.ProcTime {
		if spec.TimeCol < 0 || spec.TimeCol >= spec.In.Len() {
			return nil, nil, fmt.Errorf("%s: time column %d out of range (the input has %d columns)", what, spec.TimeCol, spec.In.Len())
		}
		if t := spec.In.Fields[spec.TimeCol].Type; t != runtime.Timestamp && t != runtime.BigInt {
			return nil, nil, fmt.Errorf("%s: time column %q is %s, want TIMESTAMP(3)", what, spec.In.Fields[spec.TimeCol].Name, t)
		}
	}
	out, err = outSchema(spec.In, spec.RowNumber, spec.RowNumberName)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	return func() runtime.Operator { return &dedupOp{spec: spec, out: out} }, out, nil
}

// dedupOp keeps, per key (a group of agg.Table), the row emitted last:
// vals holds it in row g of every column. Processing-time keep-first
// keeps no row, only the key.
type dedupOp struct {
	runtime.Base
	spec  DedupSpec
	out   *runtime.Schema
	ctx   *runtime.Context
	table *agg.Table
	vals  []runtime.Vector // nil for processing-time keep-first
	outb  *runtime.Batch

	exp agg.Expiry // state TTL

	rows    []int32
	groups  []int32
	touched []int32
	cand    []int32 // per group: the batch's best row while touched
	mark    []bool
	live    []bool
}

// storesRows tells whether the operator keeps each key's row.
func (o *dedupOp) storesRows() bool { return !(o.spec.ProcTime && !o.spec.KeepLast) }

func (o *dedupOp) Open(ctx *runtime.Context) error {
	o.ctx = ctx
	o.table = agg.NewTable(o.spec.In, o.spec.KeyCols)
	if o.storesRows() {
		o.vals = make([]runtime.Vector, o.spec.In.Len())
		for i, f := range o.spec.In.Fields {
			o.vals[i].Type = f.Type
		}
	}
	o.outb = runtime.NewBatch(o.out)
	o.exp = agg.NewExpiry(o.spec.TTL, o.spec.Clock)
	o.exp.Start(ctx)
	return nil
}

func (o *dedupOp) Close() error {
	if o.outb != nil {
		o.outb.Release()
		o.outb = nil
	}
	return nil
}

// OnProcessingTime purges expired keys while no rows arrive.
func (o *dedupOp) OnProcessingTime(_ int64, _ runtime.Output) error {
	now := o.exp.Now()
	o.purge(now)
	o.exp.Rearm(o.ctx, now)
	return nil
}

func (o *dedupOp) purge(now int64) {
	if !o.exp.Due(now) {
		return
	}
	o.live = o.live[:0]
	dead := 0
	for g := range o.table.Len() {
		ok := !o.exp.Expired(int32(g), now)
		o.live = append(o.live, ok)
		if !ok {
			dead++
		}
	}
	if dead == 0 {
		return
	}
	o.table.Compact(o.live)
	for c := range o.vals {
		keepRows(&o.vals[c], o.live)
	}
	o.exp.Compact(o.live)
	k := o.table.Len()
	o.mark = o.mark[:min(len(o.mark), k)]
	o.cand = o.cand[:min(len(o.cand), k)]
	o.account()
}

func (o *dedupOp) account() {
	if o.ctx != nil && o.ctx.Metrics != nil {
		o.ctx.Metrics.SetStateKeys(o.table.Len())
	}
}

// timeBeats reports whether time (x, xnull) replaces (y, ynull), x being
// the later arrival: strictly smaller for keep-first, not smaller for
// keep-last; a NULL time is below every other.
func (o *dedupOp) timeBeats(x int64, xnull bool, y int64, ynull bool) bool {
	var c int // x compared to y
	switch {
	case xnull && ynull:
		c = 0
	case xnull:
		c = -1
	case ynull:
		c = 1
	case x < y:
		c = -1
	case x > y:
		c = 1
	}
	if o.spec.KeepLast {
		return c >= 0
	}
	return c < 0
}

func (o *dedupOp) ProcessBatch(_ int, b *runtime.Batch, out runtime.Output) error {
	o.rows = o.rows[:0]
	for i := 0; i < b.Len(); i++ {
		r := b.Row(i)
		if k := b.Kind(r); k != runtime.Insert {
			return fmt.Errorf("deduplication over an updating input (a %s row) is not supported: it needs an append-only input", k)
		}
		o.rows = append(o.rows, int32(r))
	}
	if len(o.rows) == 0 {
		return nil
	}
	var now int64
	if o.exp.On() {
		now = o.exp.Now()
		o.purge(now)
	}
	before := int32(o.table.Len())
	o.groups = o.table.Lookup(b, o.rows, o.groups)
	for len(o.mark) < o.table.Len() {
		o.mark = append(o.mark, false)
		o.cand = append(o.cand, 0)
	}
	o.exp.Grow(o.table.Len(), now)
	for c := range o.vals {
		growTo(&o.vals[c], o.table.Len())
	}
	var tv *runtime.Vector
	if !o.spec.ProcTime {
		tv = &b.Cols[o.spec.TimeCol]
	}
	// The best row of the batch for each key it touches.
	o.touched = o.touched[:0]
	for k, r := range o.rows {
		g := o.groups[k]
		if !o.mark[g] {
			o.mark[g] = true
			o.touched = append(o.touched, g)
			o.cand[g] = r
			continue
		}
		if o.spec.ProcTime {
			if o.spec.KeepLast {
				o.cand[g] = r
			}
			continue
		}
		c := o.cand[g]
		if o.timeBeats(tv.I64[r], tv.IsNull(int(r)), tv.I64[c], tv.IsNull(int(c))) {
			o.cand[g] = r
		}
	}
	for _, g := range o.touched {
		o.mark[g] = false
		r := int(o.cand[g])
		isNew := g >= before
		if o.exp.On() {
			isNew = isNew || o.exp.Expired(g, now)
			o.exp.Last[g] = now
		}
		if !isNew {
			if !o.storesRows() {
				continue
			}
			if !o.spec.ProcTime {
				sv := &o.vals[o.spec.TimeCol]
				if !o.timeBeats(tv.I64[r], tv.IsNull(r), sv.I64[g], sv.IsNull(int(g))) {
					continue
				}
			}
			if err := o.emitStored(g, runtime.UpdateBefore, out); err != nil {
				return err
			}
		}
		kind := runtime.Insert
		if !isNew {
			kind = runtime.UpdateAfter
		}
		if err := o.emitBatchRow(b, r, kind, out); err != nil {
			return err
		}
		for c := range o.vals {
			setFrom(&o.vals[c], int(g), &b.Cols[c], r)
		}
	}
	o.account()
	if o.spec.MaxGroups > 0 && o.table.Len() > o.spec.MaxGroups {
		return fmt.Errorf("%w: deduplication holds %d keys in this subtask, over its limit of %d ('sluice.state.max-keys'; 'table.exec.state.ttl' drops idle keys)", state.ErrStateLimit, o.table.Len(), o.spec.MaxGroups)
	}
	return o.flush(out)
}

func (o *dedupOp) emitStored(g int32, kind runtime.RowKind, out runtime.Output) error {
	b := o.outb
	for c := range o.vals {
		b.Cols[c].AppendFrom(&o.vals[c], int(g))
	}
	return o.finishRow(kind, out)
}

func (o *dedupOp) emitBatchRow(src *runtime.Batch, r int, kind runtime.RowKind, out runtime.Output) error {
	b := o.outb
	for c := range src.Cols {
		b.Cols[c].AppendFrom(&src.Cols[c], r)
	}
	return o.finishRow(kind, out)
}

func (o *dedupOp) finishRow(kind runtime.RowKind, out runtime.Output) error {
	b := o.outb
	if o.spec.RowNumber {
		b.Cols[len(b.Cols)-1].AppendInt(1)
	}
	b.SetKind(b.N, kind)
	b.N++
	if b.N >= runtime.DefaultBatchRows {
		return o.flush(out)
	}
	return nil
}

func (o *dedupOp) flush(out runtime.Output) error {
	if o.outb.N == 0 {
		return nil
	}
	err := out.Emit(o.outb)
	o.outb.Reset()
	return err
}

// StateBytes estimates the memory the operator's state takes.
func (o *dedupOp) StateBytes() int {
	n := o.table.Bytes() + o.exp.Bytes()
	for c := range o.vals {
		v := &o.vals[c]
		n += cap(v.I64)*8 + cap(v.F64)*8 + cap(v.Str)*16 + cap(v.Null)
		for _, s := range v.Str {
			n += len(s)
		}
	}
	return n
}

// Describe says what the operator keeps, for plans.
func (o *dedupOp) Describe() string {
	var b strings.Builder
	which := "first"
	if o.spec.KeepLast {
		which = "last"
	}
	by := "processing time"
	if !o.spec.ProcTime {
		by = o.spec.In.Fields[o.spec.TimeCol].Name
	}
	fmt.Fprintf(&b, "deduplication: keep %s by %s", which, by)
	if len(o.spec.KeyCols) > 0 {
		fmt.Fprintf(&b, " per %s", colNames(o.spec.In, o.spec.KeyCols))
	}
	if o.storesRows() {
		b.WriteString(", an updating result (+I, -U, +U)\nstate: one row per key")
	} else {
		b.WriteString(", append-only (+I)\nstate: the set of keys seen")
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
