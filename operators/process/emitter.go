package process

import (
	"fmt"

	"github.com/sluicehq/sluice/runtime"
)

// Emitter collects the rows a Func emits into a batch of the operator's
// output schema, and sends the batch downstream when it holds
// runtime.DefaultBatchRows rows and at the end of every input batch and
// timer round. It belongs to the operator; a Func uses it only during the
// call it was passed to.
type Emitter struct {
	b   *runtime.Batch
	out runtime.Output
}

// AppendValues appends one row, one value per output column (numbers are
// converted to the column's type).
func (e *Emitter) AppendValues(vals ...runtime.Value) error {
	if len(vals) != len(e.b.Cols) {
		return fmt.Errorf("emit: %d values for %d output columns", len(vals), len(e.b.Cols))
	}
	e.b.AppendValues(vals...)
	return e.full()
}

// AppendRow copies physical row r of src, whose columns must have the
// physical types of the output's (typically the input batch when the
// output schema is the input schema).
func (e *Emitter) AppendRow(src *runtime.Batch, r int) error {
	if len(src.Cols) != len(e.b.Cols) {
		return fmt.Errorf("emit: row of %d columns for %d output columns", len(src.Cols), len(e.b.Cols))
	}
	for c := range e.b.Cols {
		if src.Cols[c].Type.Physical() != e.b.Cols[c].Type.Physical() {
			return fmt.Errorf("emit: column %d is %v, output column is %v", c, src.Cols[c].Type, e.b.Cols[c].Type)
		}
	}
	e.b.AppendRow(src, r)
	return e.full()
}

// Col returns output column c for appending one value to each column
// directly (AppendInt, AppendFloat, AppendString, AppendNull); EndRow then
// completes the row.
func (e *Emitter) Col(c int) *runtime.Vector { return &e.b.Cols[c] }

// EndRow completes a row appended column by column. It fails if the
// columns do not all hold one more value.
func (e *Emitter) EndRow() error {
	want := e.b.N + 1
	for c := range e.b.Cols {
		if n := e.b.Cols[c].Len(); n != want {
			return fmt.Errorf("emit: output column %d has %d values, want %d", c, n, want)
		}
	}
	e.b.N = want
	return e.full()
}

// Rows returns the number of rows waiting to be sent.
func (e *Emitter) Rows() int { return e.b.N }

func (e *Emitter) full() error {
	if e.b.N >= runtime.DefaultBatchRows {
		return e.flush()
	}
	return nil
}

// flush sends the pending rows, if any.
func (e *Emitter) flush() error {
	if e.b.N == 0 {
		return nil
	}
	err := e.out.Emit(e.b)
	e.b.Reset()
	return err
}
