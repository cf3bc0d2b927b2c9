package window

import (
	"fmt"

	"github.com/sluicehq/sluice/runtime"
)

// AssignSpec configures the assignment of rows to windows of the window
// table-valued functions:
//
//	TUMBLE(TABLE t, DESCRIPTOR(ts), size [, offset])
//	HOP(TABLE t, DESCRIPTOR(ts), slide, size [, offset])
//	CUMULATE(TABLE t, DESCRIPTOR(ts), step, size [, offset])
type AssignSpec struct {
	In      *runtime.Schema
	TimeCol int      // the DESCRIPTOR column: TIMESTAMP(3) or BIGINT ms
	Window  Assigner // Tumble, Hop or Cumulate, with its Offset
}

// NewAssign checks spec and returns a factory of assign operators (one per
// subtask) and their output schema: the input columns, then window_start,
// window_end and window_time (TIMESTAMP(3) NOT NULL; window_time is
// window_end - 1 ms, a time attribute: the watermark passes unchanged, so
// windows over the result cascade).
//
// The operator is stateless: the planner chains it to its input with a
// forward edge (no exchange, any parallelism). Each row comes out once per
// window it belongs to — once for TUMBLE, size/slide times for HOP, once
// per step up to the end of its period for CUMULATE — in the order of the
// input rows, a row's windows by start then end, keeping the row's
// changelog kind (so an updating input stays a consistent changelog).
// Rows are not checked against the watermark (a window operator
// downstream drops what is late for it); a row whose time is NULL or
// outside the sane range (runtime.SaneEventTime) has no window: it is
// dropped and counted in LateRowsDropped.
func NewAssign(spec AssignSpec) (newOp func() runtime.Operator, out *runtime.Schema, err error) {
	in := spec.In
	if in == nil {
		return nil, nil, fmt.Errorf("window function: no input schema")
	}
	w := spec.Window
	switch w.Kind {
	case Tumbling:
		w.Slide = w.Size
	case Hopping, Cumulating:
	default:
		return nil, nil, fmt.Errorf("window function: %s is not a window table function (TUMBLE, HOP or CUMULATE)", w.Kind)
	}
	if err := w.validate(); err != nil {
		return nil, nil, fmt.Errorf("window function: %w", err)
	}
	if spec.TimeCol < 0 || spec.TimeCol >= in.Len() {
		return nil, nil, fmt.Errorf("window function: DESCRIPTOR column %d out of range (the input has %d columns)", spec.TimeCol, in.Len())
	}
	if t := in.Fields[spec.TimeCol].Type; t != runtime.Timestamp && t != runtime.BigInt {
		return nil, nil, fmt.Errorf("window function: DESCRIPTOR column %q is %s, want a time attribute (TIMESTAMP(3))", in.Fields[spec.TimeCol].Name, t)
	}
	fields := append([]runtime.Field(nil), in.Fields...)
	for _, name := range []string{"window_start", "window_end", "window_time"} {
		if in.Index(name) >= 0 {
			return nil, nil, fmt.Errorf("window function: the input already has a column %s", name)
		}
		fields = append(fields, runtime.Field{Name: name, Type: runtime.Timestamp})
	}
	out = runtime.NewSchema(fields...)
	spec.Window = w
	return func() runtime.Operator { return &assignOp{spec: spec, out: out, nIn: in.Len()} }, out, nil
}

// assignOp appends the window columns, one output row per window of a row.
type assignOp struct {
	runtime.Base
	spec    AssignSpec
	out     *runtime.Schema
	nIn     int
	ctx     *runtime.Context
	outb    *runtime.Batch
	idx     []int32 // the input row of each output row
	kinds   []runtime.RowKind
	lates   int
	lateLog runtime.LateLog
}

func (o *assignOp) Open(ctx *runtime.Context) error {
	o.ctx = ctx
	o.outb = runtime.NewBatch(o.out)
	return nil
}

func (o *assignOp) Close() error {
	o.lateLog.Close(o.ctx)
	if o.outb != nil {
		o.outb.Release()
		o.outb = nil
	}
	return nil
}

// OutputSchema implements runtime.OutputSchemaer.
func (o *assignOp) OutputSchema() *runtime.Schema { return o.out }

func (o *assignOp) ProcessBatch(_ int, b *runtime.Batch, out runtime.Output) error {
	w := o.spec.Window
	tv := &b.Cols[o.spec.TimeCol]
	ob := o.outb
	starts, ends, times := &ob.Cols[o.nIn], &ob.Cols[o.nIn+1], &ob.Cols[o.nIn+2]
	o.lates = 0
	n := b.Len()
	for i := 0; i < n; i++ {
		r := b.Row(i)
		if tv.IsNull(r) || !runtime.SaneEventTime(tv.I64[r]) {
			o.lates++
			continue
		}
		ts := tv.I64[r]
		slice := ts - floorMod(ts-w.Offset, w.Slide) // start of the row's slide or step
		var first, last, startStep int64             // ends of its windows, and how starts move
		start := slice
		switch w.Kind {
		case Tumbling:
			first, last = slice+w.Size, slice+w.Size
		case Hopping:
			start = slice - w.Size + w.Slide
			first, last, startStep = start+w.Size, slice+w.Size, w.Slide
		case Cumulating:
			start = ts - floorMod(ts-w.Offset, w.Size)
			first, last = slice+w.Slide, start+w.Size
		}
		for end := first; end <= last; end += w.Slide {
			o.idx = append(o.idx, int32(r))
			starts.I64 = append(starts.I64, start)
			ends.I64 = append(ends.I64, end)
			times.I64 = append(times.I64, end-1)
			start += startStep
			if len(o.idx) == runtime.DefaultBatchRows {
				if err := o.flush(b, out); err != nil {
					return err
				}
			}
		}
	}
	if o.lates > 0 {
		if o.ctx != nil && o.ctx.Metrics != nil {
			o.ctx.Metrics.LateRowsDropped.Add(o.lates)
		}
		o.lateLog.Dropped(o.ctx, o.lates, runtime.MinWatermark, o.ctxWatermark())
	}
	return o.flush(b, out)
}

func (o *assignOp) ctxWatermark() int64 {
	if o.ctx == nil {
		return runtime.MinWatermark
	}
	return o.ctx.CurrentWatermark()
}

// flush gathers the input columns of the pending output rows from b and
// emits them.
func (o *assignOp) flush(b *runtime.Batch, out runtime.Output) error {
	if len(o.idx) == 0 {
		return nil
	}
	ob := o.outb
	for c := 0; c < o.nIn; c++ {
		ob.Cols[c].AppendRows(&b.Cols[c], o.idx)
	}
	if b.Kinds != nil {
		o.kinds = o.kinds[:0]
		for _, r := range o.idx {
			o.kinds = append(o.kinds, b.Kinds[r])
		}
		ob.Kinds = o.kinds
	}
	ob.N = len(o.idx)
	o.idx = o.idx[:0]
	err := out.Emit(ob)
	ob.Reset()
	return err
}

// Describe says what the operator does, for plans.
func (o *assignOp) Describe() string {
	return fmt.Sprintf("window function: %s on %s, stateless: one row per window, with window_start, window_end, window_time", o.spec.Window, o.spec.In.Fields[o.spec.TimeCol].Name)
}
