package over

import (
	"testing"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// BenchmarkOverRows10Preceding is Nexmark q6's shape: AVG over ROWS
// BETWEEN 10 PRECEDING AND CURRENT ROW, 10,000 partitions, event time, a
// watermark after every batch.
func BenchmarkOverRows10Preceding(b *testing.B) {
	for _, name := range []string{"avg", "avg+min+max"} {
		b.Run(name, func(b *testing.B) {
			aggs := []agg.Spec{{Func: agg.Avg, Col: 2, Name: "a"}}
			if name != "avg" {
				aggs = append(aggs, agg.Spec{Func: agg.Min, Col: 2, Name: "lo"}, agg.Spec{Func: agg.Max, Col: 2, Name: "hi"})
			}
			mk, _, err := New(Spec{In: in, PartitionCols: []int{0}, TimeCol: 1, Frame: Frame{Rows: true, Preceding: 10}, Aggs: aggs})
			if err != nil {
				b.Fatal(err)
			}
			o := mk()
			o.Open(rttest.NewContext("over", 0, 1))
			defer o.Close()
			const n = runtime.DefaultBatchRows
			batch := runtime.NewBatch(in)
			var out rttest.Discard
			seed := uint64(1)
			ts := int64(0)
			b.ResetTimer()
			rows := 0
			for i := 0; i < b.N; i++ {
				batch.Reset()
				for r := 0; r < n; r++ {
					seed = seed*6364136223846793005 + 1442695040888963407
					ts++
					batch.Cols[0].AppendInt(int64(seed>>33) % 10_000)
					batch.Cols[1].AppendInt(ts - int64(seed>>40)%100)
					batch.Cols[2].AppendInt(int64(seed>>20) % 1000)
					batch.Cols[3].AppendNull()
					batch.Cols[4].AppendNull()
				}
				batch.N = n
				if err := o.ProcessBatch(0, batch, &out); err != nil {
					b.Fatal(err)
				}
				if err := o.ProcessWatermark(ts-101, &out); err != nil {
					b.Fatal(err)
				}
				rows += n
			}
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkOverUpdatingRows10Preceding is q6 over its updating input: per
// input pair, the -U of a partition's row and the +U of its replacement,
// 1,000 partitions of about 20 rows, AVG over ROWS 10 PRECEDING. rows/s
// counts input rows.
func BenchmarkOverUpdatingRows10Preceding(b *testing.B) {
	mk, _, err := New(Spec{In: in, PartitionCols: []int{0}, TimeCol: 1, Frame: Frame{Rows: true, Preceding: 10},
		Aggs: []agg.Spec{{Func: agg.Avg, Col: 2, Name: "a"}}, Updating: true})
	if err != nil {
		b.Fatal(err)
	}
	o := mk()
	o.Open(rttest.NewContext("over", 0, 1))
	defer o.Close()
	const parts, per = 1000, 20
	var out rttest.Discard
	cur := make([]int64, parts*per) // value of row (p, i), at time i
	fill := runtime.NewBatch(in)
	for i := range cur {
		fill.Cols[0].AppendInt(int64(i % parts))
		fill.Cols[1].AppendInt(int64(i / parts))
		fill.Cols[2].AppendInt(0)
		fill.Cols[3].AppendNull()
		fill.Cols[4].AppendNull()
		fill.N++
		if fill.N == runtime.DefaultBatchRows || i == len(cur)-1 {
			if err := o.ProcessBatch(0, fill, &out); err != nil {
				b.Fatal(err)
			}
			fill.Reset()
		}
	}
	batch := runtime.NewBatch(in)
	seed := uint64(1)
	b.ResetTimer()
	rows := 0
	for i := 0; i < b.N; i++ {
		batch.Reset()
		for batch.N < runtime.DefaultBatchRows {
			seed = seed*6364136223846793005 + 1442695040888963407
			j := int(seed>>33) % len(cur)
			for _, v := range []int64{cur[j], cur[j] + 1} {
				batch.Cols[0].AppendInt(int64(j % parts))
				batch.Cols[1].AppendInt(int64(j / parts))
				batch.Cols[2].AppendInt(v)
				batch.Cols[3].AppendNull()
				batch.Cols[4].AppendNull()
			}
			batch.SetKind(batch.N, runtime.UpdateBefore)
			batch.SetKind(batch.N+1, runtime.UpdateAfter)
			batch.N += 2
			cur[j]++
		}
		if err := o.ProcessBatch(0, batch, &out); err != nil {
			b.Fatal(err)
		}
		rows += batch.N
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}
