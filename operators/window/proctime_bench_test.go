package window

import (
	"testing"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// BenchmarkProcTimeTumblingCountSum is BenchmarkTumblingCountSum with
// processing-time windows: the same rows and times, the times read as
// processing time, a clock that follows them and a processing-time timer
// call after each batch instead of a watermark.
func BenchmarkProcTimeTumblingCountSum(b *testing.B) {
	const keys, perMs = 10_000, 100
	c := &clock{}
	spec := benchSpec()
	spec.ProcTime, spec.Clock = true, c.now
	h := newHarness(b, spec)
	pt := h.op.(runtime.ProcessingTimer)
	batches := make([]*runtime.Batch, 64)
	x := uint64(1)
	for i := range batches {
		bt := runtime.NewBatch(benchSchema)
		for r := 0; r < runtime.DefaultBatchRows; r++ {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			bt.AppendValues(runtime.IntValue(int64(x%keys)), runtime.TimeValue(0), runtime.IntValue(int64(r)))
		}
		batches[i] = bt
	}
	var out rttest.Discard
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		bt := batches[n%len(batches)]
		ts := bt.Cols[1].I64
		first := int64(n) * runtime.DefaultBatchRows
		for i := range ts {
			ts[i] = (first + int64(i)) / perMs
		}
		if err := h.op.ProcessBatch(0, bt, &out); err != nil {
			b.Fatal(err)
		}
		c.t = ts[len(ts)-1] - 1
		if err := pt.OnProcessingTime(c.t, &out); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*runtime.DefaultBatchRows/b.Elapsed().Seconds(), "rows/s")
	if fired := int64(b.N) * runtime.DefaultBatchRows / (perMs * 10_000); out.Rows < int(fired-1)*keys {
		b.Fatalf("%d rows out, want about %d", out.Rows, fired*keys)
	}
	for _, bt := range batches {
		bt.Release()
	}
}
