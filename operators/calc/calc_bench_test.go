package calc

import (
	"math/rand/v2"
	"testing"

	"github.com/sluicehq/sluice/operators/expr"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

var benchSchema = runtime.NewSchema(
	runtime.Field{Name: "k", Type: runtime.BigInt},
	runtime.Field{Name: "v", Type: runtime.BigInt},
	runtime.Field{Name: "d", Type: runtime.Double},
)

// benchBatch is a full batch with v uniform in [0, 20) (so v > 10 keeps
// about 45% of the rows, in no predictable pattern).
func benchBatch() *runtime.Batch {
	r := rand.New(rand.NewPCG(1, 2))
	b := runtime.NewBatch(benchSchema)
	for i := range runtime.DefaultBatchRows {
		b.Cols[0].AppendInt(int64(i))
		b.Cols[1].AppendInt(r.Int64N(20))
		b.Cols[2].AppendFloat(r.Float64() * 100)
	}
	b.N = runtime.DefaultBatchRows
	return b
}

func benchCalc(b *testing.B, where expr.Expr, project []expr.Expr) {
	newOp, _, err := New(benchSchema, where, project, nil)
	if err != nil {
		b.Fatal(err)
	}
	op := newOp()
	defer op.Close()
	in := benchBatch()
	var out rttest.Discard
	b.ReportAllocs()
	for b.Loop() {
		if err := op.ProcessBatch(0, in, &out); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*float64(in.Len())/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkFilterGt is WHERE v > 10 over a BIGINT column, no projection.
func BenchmarkFilterGt(b *testing.B) {
	benchCalc(b, expr.Gt(expr.Col("v"), expr.Int(10)), nil)
}

// BenchmarkProjectArith is SELECT k * 2 + v, d / 3 - 1.
func BenchmarkProjectArith(b *testing.B) {
	benchCalc(b, nil, []expr.Expr{
		expr.Add(expr.Mul(expr.Col("k"), expr.Int(2)), expr.Col("v")),
		expr.Sub(expr.Div(expr.Col("d"), expr.Float(3)), expr.Int(1)),
	})
}

// BenchmarkFilterProject is SELECT k * 2 + v, d WHERE v > 10 AND d < 50.
func BenchmarkFilterProject(b *testing.B) {
	benchCalc(b, expr.And(expr.Gt(expr.Col("v"), expr.Int(10)), expr.Lt(expr.Col("d"), expr.Int(50))), []expr.Expr{
		expr.Add(expr.Mul(expr.Col("k"), expr.Int(2)), expr.Col("v")),
		expr.Col("d"),
	})
}
