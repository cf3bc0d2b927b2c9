package join

import (
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// BenchmarkIntervalJoin feeds one join subtask directly (no exchange):
// batches of DefaultBatchRows rows alternate between the sides, each side's
// time advancing 1 ms per row, keys drawn from 1,000, bounds [-500, 500] ms
// (so each row meets about one row of the other side), and a watermark
// follows every pair of batches. rows/s counts input rows of both sides.
//
//	go test -run '^$' -bench IntervalJoin ./operators/join/
func BenchmarkIntervalJoin(b *testing.B) {
	for _, c := range []struct {
		name string
		typ  runtime.Type
	}{{"bigint-key", runtime.BigInt}, {"varchar-key", runtime.Varchar}} {
		b.Run(c.name, func(b *testing.B) { benchJoin(b, c.typ) })
	}
}

func benchJoin(b *testing.B, keyType runtime.Type) {
	const (
		keys  = 1000
		rows  = runtime.DefaultBatchRows
		ring  = 64 // distinct batches per side; times are shifted on reuse
		span  = ring * rows
		lower = -500
		upper = 500
	)
	left := runtime.NewSchema(
		runtime.Field{Name: "k", Type: keyType},
		runtime.Field{Name: "ts", Type: runtime.Timestamp},
		runtime.Field{Name: "v", Type: runtime.BigInt},
		runtime.Field{Name: "name", Type: runtime.Varchar},
	)
	right := runtime.NewSchema(
		runtime.Field{Name: "k", Type: keyType},
		runtime.Field{Name: "ts", Type: runtime.Timestamp},
		runtime.Field{Name: "x", Type: runtime.Double},
	)
	spec := Spec{Left: left, Right: right, LeftKeys: []int{0}, RightKeys: []int{0}, LeftTime: 1, RightTime: 1, Lower: lower, Upper: upper}
	op, _ := openOp(b, spec)
	rng := rand.New(rand.NewPCG(1, 2))
	names := make([]string, keys)
	for i := range names {
		names[i] = "key-" + strconv.Itoa(i) + "-padded"
	}
	key := func() runtime.Value {
		k := rng.IntN(keys)
		if keyType == runtime.Varchar {
			return runtime.StringValue(names[k])
		}
		return runtime.IntValue(int64(k))
	}
	var lb, rb [ring]*runtime.Batch
	for i := range ring {
		lb[i], rb[i] = runtime.NewBatch(left), runtime.NewBatch(right)
		lb[i].Reset()
		rb[i].Reset()
		for j := range rows {
			ts := int64(i*rows + j)
			lb[i].AppendValues(key(), runtime.TimeValue(ts), runtime.IntValue(ts), runtime.StringValue("payload"))
			rb[i].AppendValues(key(), runtime.TimeValue(ts), runtime.FloatValue(float64(ts)))
		}
	}
	out := &rttest.Discard{}
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		i := n % ring
		if i == 0 && n > 0 {
			for r := range ring { // next lap: shift every time by span
				for j := range rows {
					lb[r].Cols[1].I64[j] += span
					rb[r].Cols[1].I64[j] += span
				}
			}
		}
		if err := op.ProcessBatch(0, lb[i], out); err != nil {
			b.Fatal(err)
		}
		if err := op.ProcessBatch(1, rb[i], out); err != nil {
			b.Fatal(err)
		}
		if err := op.ProcessWatermark(lb[i].Cols[1].I64[rows-1]-100, out); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(2*rows*b.N)/sec, "rows/s")
	b.ReportMetric(float64(out.Rows)/sec, "out-rows/s")
	for i := range ring {
		lb[i].Release()
		rb[i].Release()
	}
}
