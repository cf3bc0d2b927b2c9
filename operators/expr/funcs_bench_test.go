package expr

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

var funcBenchSchema = runtime.NewSchema(
	runtime.Field{Name: "ts", Type: runtime.Timestamp},
	runtime.Field{Name: "s", Type: runtime.Varchar},
	runtime.Field{Name: "d", Type: runtime.Double},
)

func benchFunc(b *testing.B, e Expr) {
	r := rand.New(rand.NewPCG(3, 4))
	in := rttest.NewBatch(funcBenchSchema)
	for range runtime.DefaultBatchRows {
		in.Cols[0].AppendInt(1_767_225_600_000 + r.Int64N(365*86_400_000))
		in.Cols[1].AppendString(fmt.Sprintf("/item/%d?user=u%d&ref=%x", r.IntN(1000), r.IntN(100), r.Uint32()))
		in.Cols[2].AppendFloat(r.Float64() * 1000)
	}
	in.N = runtime.DefaultBatchRows
	c, err := Compile(e, funcBenchSchema)
	if err != nil {
		b.Fatal(err)
	}
	var out runtime.Vector
	b.ReportAllocs()
	for b.Loop() {
		c.Eval(in, &out)
	}
	b.ReportMetric(float64(b.N)*float64(in.Len())/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkFuncHour(b *testing.B) { benchFunc(b, Call("HOUR", Col("ts"))) }
func BenchmarkFuncExtractDOW(b *testing.B) {
	benchFunc(b, Call("EXTRACT", Str("DOW"), Col("ts")))
}
func BenchmarkFuncDateFormat(b *testing.B) {
	benchFunc(b, Call("DATE_FORMAT", Col("ts"), Str("yyyy-MM-dd HH:mm")))
}
func BenchmarkFuncToTimestamp(b *testing.B) {
	benchFunc(b, Call("TO_TIMESTAMP", Call("DATE_FORMAT", Col("ts"), Str("yyyy-MM-dd HH:mm:ss"))))
}
func BenchmarkFuncRegexpExtract(b *testing.B) {
	benchFunc(b, Call("REGEXP_EXTRACT", Col("s"), Str(`user=(\w+)`), Int(1)))
}
func BenchmarkFuncSplitIndex(b *testing.B) {
	benchFunc(b, Call("SPLIT_INDEX", Col("s"), Str("/"), Int(2)))
}
func BenchmarkFuncLpad(b *testing.B)  { benchFunc(b, Call("LPAD", Col("s"), Int(40), Str("."))) }
func BenchmarkFuncPower(b *testing.B) { benchFunc(b, Call("POWER", Col("d"), Float(1.5))) }
