package rttest

import (
	"slices"
	"sync"

	"github.com/sluicehq/sluice/runtime"
)

// Collector gathers rows, safely from any goroutine: as a sink operator in
// a job (NewCollector), from every subtask of it, or as the runtime.Output
// of an operator a test drives directly (Emit). It checks every batch it
// receives with CheckBatch. The zero Collector is ready to use, and accepts
// batches of any schema.
type Collector struct {
	mu     sync.Mutex
	schema *runtime.Schema
	rows   [][]runtime.Value
	kinds  []runtime.RowKind
	wms    []int64
}

// NewCollector returns a collector whose batches must be of schema (any
// when nil), and a factory of sink operators (for runtime.Graph.AddOperator)
// that add the rows and watermarks they receive to it. A batch that fails
// CheckBatch fails the sink subtask.
func NewCollector(schema *runtime.Schema) (*Collector, func() runtime.Operator) {
	c := &Collector{schema: schema}
	return c, func() runtime.Operator { return sink{c: c} }
}

type sink struct {
	runtime.Base
	c *Collector
}

func (s sink) ProcessBatch(_ int, b *runtime.Batch, _ runtime.Output) error { return s.c.Emit(b) }

func (s sink) ProcessWatermark(wm int64, _ runtime.Output) error {
	s.c.mu.Lock()
	s.c.wms = append(s.c.wms, wm)
	s.c.mu.Unlock()
	return nil
}

// Emit adds a copy of the present rows of b, or returns the error of
// CheckBatch. It makes the Collector a runtime.Output.
func (c *Collector) Emit(b *runtime.Batch) error {
	if err := CheckBatch(b, c.schema); err != nil {
		return err
	}
	rows := make([][]runtime.Value, b.Len())
	kinds := make([]runtime.RowKind, b.Len())
	for i := range rows {
		rows[i] = b.Values(i)
		kinds[i] = b.Kind(b.Row(i))
	}
	c.mu.Lock()
	c.rows = append(c.rows, rows...)
	c.kinds = append(c.kinds, kinds...)
	c.mu.Unlock()
	return nil
}

// Len returns the number of rows collected.
func (c *Collector) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.rows)
}

// Rows returns the rows collected, in the order they arrived. The caller
// must not modify them.
func (c *Collector) Rows() [][]runtime.Value {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.rows)
}

// Strings returns the rows collected, formatted by Format, in the order
// they arrived.
func (c *Collector) Strings() []string {
	rows := c.Rows()
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = Format(r)
	}
	return out
}

// Sorted returns Strings sorted, for comparing the output of parallel
// subtasks.
func (c *Collector) Sorted() []string {
	out := c.Strings()
	slices.Sort(out)
	return out
}

// Changelog returns the rows collected, each formatted by Format after its
// changelog kind ("+I", "-U", "+U", "-D"), in the order they arrived.
func (c *Collector) Changelog() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.rows))
	for i, r := range c.rows {
		out[i] = c.kinds[i].String() + Format(r)
	}
	return out
}

// Kinds returns the changelog kind of each row collected, in order.
func (c *Collector) Kinds() []runtime.RowKind {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.kinds)
}

// Watermarks returns the watermarks the sink subtasks received, in the
// order they arrived; each subtask receives runtime.MaxWatermark last, when
// its inputs have ended.
func (c *Collector) Watermarks() []int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.wms)
}

// Reset forgets the rows and watermarks collected so far.
func (c *Collector) Reset() {
	c.mu.Lock()
	c.rows, c.kinds, c.wms = nil, nil, nil
	c.mu.Unlock()
}

// Discard is a runtime.Output that keeps nothing but counts, for tests of
// volume and for benchmarks. It is not safe for concurrent use.
type Discard struct {
	Rows, Batches int
}

// Emit counts the present rows of b.
func (d *Discard) Emit(b *runtime.Batch) error {
	d.Rows += b.Len()
	d.Batches++
	return nil
}
