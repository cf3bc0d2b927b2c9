package expr

import (
	"time"

	"github.com/sluicehq/sluice/runtime"
)

func init() { functions["PROCTIME"] = function{0, 0, procTime} }

// ProcTime returns PROCTIME(): the processing time, a TIMESTAMP(3) that is
// never NULL, as Flink's PROCTIME(). Each evaluation reads the wall clock
// (time.Now, which testing/synctest controls in tests) once, for the whole
// batch: every row of a batch gets the same value, and a later batch a value
// no smaller unless the clock went back. A PROCTIME() node is never a
// constant, so neither it nor an expression over it is folded at compile
// time.
//
// In Flink, PROCTIME() is a time attribute. Here it is a plain column
// computed by the calc that evaluates it; the planner, not this package,
// must remember that the column is a processing-time attribute and give it
// to consumers that use it as time — window.Spec with ProcTime set and
// TimeCol naming the column — and must never treat it as event time (no
// watermark is derived from it). A PROCTIME() column keeps no meaning
// across a shuffle or a checkpoint beyond the value it was given: it is
// the time the row was seen by the calc, not by later operators.
func ProcTime() Expr { return Call("PROCTIME") }

// procTime compiles PROCTIME().
func procTime(_ *compiler, _ *callExpr, _ []*node) (*node, error) {
	n := &node{typ: runtime.Timestamp, col: -1}
	n.eval = func(b *runtime.Batch, dst *vec) *runtime.Vector {
		now := time.Now().UnixMilli()
		k := b.Len()
		out := dst.reset(runtime.Timestamp, k)
		vals := out.I64[:k]
		for i := range vals {
			vals[i] = now
		}
		return out
	}
	return n, nil // no fold: the value changes from batch to batch
}
