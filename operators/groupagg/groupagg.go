// Package groupagg is the non-windowed GROUP BY: an updating aggregation
// whose result is a changelog. For each input batch (Flink's mini-batch),
// every group the batch touches emits its previous result as -U (unless the
// group is new) and its new result as +U (+I for a new group), so a sink
// that applies the changelog always holds the current result per key.
package groupagg

import (
	"fmt"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/state"
)

// Spec configures a group aggregation.
type Spec struct {
	In      *runtime.Schema
	KeyCols []int // grouping keys (rows arrive keyed by them); none = one global group
	Aggs    []agg.Spec
	// MaxGroups bounds the groups one subtask may hold (0: no limit); going
	// over fails the job with an error wrapping state.ErrStateLimit.
	MaxGroups int
}

// New checks spec and returns a factory of operators (one per subtask) and
// the output schema: the key columns, then the aggregates.
func New(spec Spec) (newOp func() runtime.Operator, out *runtime.Schema, err error) {
	if spec.In == nil {
		return nil, nil, fmt.Errorf("group aggregation: no input schema")
	}
	layout, err := agg.NewLayout(spec.In, spec.Aggs)
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
}

func (o *op) Open(ctx *runtime.Context) error {
	o.ctx = ctx
	o.table = agg.NewTable(o.spec.In, o.spec.KeyCols)
	o.accs = agg.NewAccs(o.layout)
	o.outb = runtime.NewBatch(o.out)
	return nil
}

func (o *op) ProcessBatch(_ int, b *runtime.Batch, out runtime.Output) error {
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
	// Retract the previous results, apply the batch, emit the new ones.
	for _, g := range o.touched {
		if g < before {
			if err := o.emit(g, runtime.UpdateBefore, out); err != nil {
				return err
			}
		}
	}
	o.accs.Grow(o.table.Len())
	o.accs.Update(b, o.rows, o.groups)
	for i, g := range o.touched {
		o.mark[g] = false
		if err := o.accs.Check(g); err != nil {
			for _, g := range o.touched[i:] {
				o.mark[g] = false
			}
			return fmt.Errorf("%w, for the group %s", err, o.table.KeyString(g))
		}
		kind := runtime.UpdateAfter
		if g >= before {
			kind = runtime.Insert
		}
		if err := o.emit(g, kind, out); err != nil {
			return err
		}
	}
	if o.ctx != nil && o.ctx.Metrics != nil {
		o.ctx.Metrics.SetStateKeys(o.table.Len())
	}
	if o.spec.MaxGroups > 0 && o.table.Len() > o.spec.MaxGroups {
		return fmt.Errorf("%w: GROUP BY holds %d groups, over its limit of %d", state.ErrStateLimit, o.table.Len(), o.spec.MaxGroups)
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

func (o *op) Close() error {
	if o.outb != nil {
		o.outb.Release()
		o.outb = nil
	}
	return nil
}
