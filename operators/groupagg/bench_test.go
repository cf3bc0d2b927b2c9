package groupagg

import (
	"testing"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

var benchIn = runtime.NewSchema(runtime.Field{Name: "k", Type: runtime.BigInt}, runtime.Field{Name: "v", Type: runtime.BigInt})

// benchBatches returns batches of (k, v) over keys 0..keys-1.
func benchBatches(n, keys int) []*runtime.Batch {
	var bs []*runtime.Batch
	x := uint64(1)
	for i := 0; i < n; i++ {
		b := runtime.NewBatch(benchIn)
		for r := 0; r < runtime.DefaultBatchRows; r++ {
			x = x*6364136223846793005 + 1442695040888963407
			b.Cols[0].AppendInt(int64(x>>33) % int64(keys))
			b.Cols[1].AppendInt(int64(x>>40) % 1000)
		}
		b.N = runtime.DefaultBatchRows
		bs = append(bs, b)
	}
	return bs
}

func benchGroupAgg(b *testing.B, specs []agg.Spec) {
	newOp, _, err := New(Spec{In: benchIn, KeyCols: []int{0}, Aggs: specs})
	if err != nil {
		b.Fatal(err)
	}
	o := newOp()
	if err := o.Open(rttest.NewContext("agg", 0, 1)); err != nil {
		b.Fatal(err)
	}
	defer o.Close()
	bs := benchBatches(64, 10_000)
	var out rttest.Discard
	b.ResetTimer()
	rows := 0
	for i := 0; i < b.N; i++ {
		if err := o.ProcessBatch(0, bs[i%len(bs)], &out); err != nil {
			b.Fatal(err)
		}
		rows += bs[i%len(bs)].N
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkGroupAggAppend is the append-only fast path: COUNT(*), SUM,
// MIN, MAX and AVG over 10k keys.
func BenchmarkGroupAggAppend(b *testing.B) {
	benchGroupAgg(b, []agg.Spec{{Func: agg.Count, Col: -1, Name: "n"}, {Func: agg.Sum, Col: 1, Name: "s"},
		{Func: agg.Min, Col: 1, Name: "lo"}, {Func: agg.Max, Col: 1, Name: "hi"}, {Func: agg.Avg, Col: 1, Name: "a"}})
}

// BenchmarkGroupAggRetract is the retracting path over an updating input
// (a third of the rows retract an earlier one): MIN and MAX keep
// multisets.
func BenchmarkGroupAggRetract(b *testing.B) {
	benchRetract(b, []agg.Spec{{Func: agg.Count, Col: -1, Name: "n"},
		{Func: agg.Sum, Col: 1, Name: "s"}, {Func: agg.Min, Col: 1, Name: "lo"}, {Func: agg.Max, Col: 1, Name: "hi"}, {Func: agg.Avg, Col: 1, Name: "a"}})
}

// BenchmarkGroupAggRetractNoMinMax is BenchmarkGroupAggRetract with
// COUNT, SUM and AVG only (flat slots, no multisets).
func BenchmarkGroupAggRetractNoMinMax(b *testing.B) {
	benchRetract(b, []agg.Spec{{Func: agg.Count, Col: -1, Name: "n"}, {Func: agg.Sum, Col: 1, Name: "s"}, {Func: agg.Avg, Col: 1, Name: "a"}})
}

func benchRetract(b *testing.B, specs []agg.Spec) {
	newOp, _, err := New(Spec{In: benchIn, KeyCols: []int{0}, Retract: true, Aggs: specs})
	if err != nil {
		b.Fatal(err)
	}
	o := newOp()
	if err := o.Open(rttest.NewContext("agg", 0, 1)); err != nil {
		b.Fatal(err)
	}
	defer o.Close()
	// Each batch inserts rows, then retracts the rows of the batch before
	// it at odd positions: every retraction is of a live row.
	ins := benchBatches(64, 10_000)
	var bs []*runtime.Batch
	for i, in := range ins {
		c := runtime.NewBatch(benchIn)
		for r := 0; r < in.N; r++ {
			c.AppendRow(in, r)
		}
		if i > 0 {
			prev := ins[i-1]
			for r := 1; r < prev.N; r += 3 {
				c.AppendRow(prev, r)
				c.SetKind(c.N-1, runtime.Delete)
			}
		}
		bs = append(bs, c)
	}
	var out rttest.Discard
	b.ResetTimer()
	rows := 0
	for i := 0; i < b.N; i++ {
		k := i % len(bs)
		if k == 0 && i > 0 { // start over: the first batch retracts nothing
			b.StopTimer()
			o.Close()
			o = newOp()
			o.Open(rttest.NewContext("agg", 0, 1))
			b.StartTimer()
		}
		if err := o.ProcessBatch(0, bs[k], &out); err != nil {
			b.Fatal(err)
		}
		rows += bs[k].N
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}
