package expr

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

var benchSchema = runtime.NewSchema(
	runtime.Field{Name: "v", Type: runtime.BigInt, Nullable: true},
	runtime.Field{Name: "d", Type: runtime.Double},
	runtime.Field{Name: "s", Type: runtime.Varchar},
)

func benchBatch(nulls bool) *runtime.Batch {
	r := rand.New(rand.NewPCG(1, 2))
	b := rttest.NewBatch(benchSchema)
	for range runtime.DefaultBatchRows {
		if nulls && r.IntN(10) == 0 {
			b.Cols[0].AppendNull()
		} else {
			b.Cols[0].AppendInt(r.Int64N(20))
		}
		b.Cols[1].AppendFloat(r.Float64() * 100)
		b.Cols[2].AppendString(fmt.Sprintf("user-%d@example.com", r.IntN(1000)))
	}
	b.N = runtime.DefaultBatchRows
	return b
}

func benchEval(b *testing.B, e Expr, nulls, sel bool) {
	c, err := Compile(e, benchSchema)
	if err != nil {
		b.Fatal(err)
	}
	in := benchBatch(nulls)
	var out runtime.Vector
	var rows []int32
	b.ReportAllocs()
	for b.Loop() {
		if sel {
			rows = c.Select(in, rows)
		} else {
			c.Eval(in, &out)
		}
	}
	b.ReportMetric(float64(b.N)*float64(in.Len())/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkSelectGt(b *testing.B)      { benchEval(b, Gt(Col("v"), Int(10)), false, true) }
func BenchmarkSelectGtNulls(b *testing.B) { benchEval(b, Gt(Col("v"), Int(10)), true, true) }
func BenchmarkSelectAnd(b *testing.B) {
	benchEval(b, And(Gt(Col("v"), Int(10)), Lt(Col("d"), Int(50))), false, true)
}
func BenchmarkEvalGt(b *testing.B) { benchEval(b, Gt(Col("v"), Int(10)), false, false) }
func BenchmarkEvalArith(b *testing.B) {
	benchEval(b, Add(Mul(Col("v"), Int(3)), Col("v")), false, false)
}
func BenchmarkEvalArithNulls(b *testing.B) {
	benchEval(b, Add(Mul(Col("v"), Int(3)), Col("v")), true, false)
}
func BenchmarkEvalArithDouble(b *testing.B) {
	benchEval(b, Sub(Div(Col("d"), Float(3)), Col("v")), false, false)
}
func BenchmarkEvalLikeContains(b *testing.B) {
	benchEval(b, Like(Col("s"), Str("%-12%")), false, false)
}
func BenchmarkEvalLikeGeneral(b *testing.B) {
	benchEval(b, Like(Col("s"), Str("user-_2%@%.com")), false, false)
}
func BenchmarkEvalCase(b *testing.B) {
	benchEval(b, Case([]When{{Gt(Col("v"), Int(15)), Str("high")}, {Gt(Col("v"), Int(5)), Str("mid")}}, Str("low")), false, false)
}
