package window

import (
	goruntime "runtime"
	"testing"
	"time"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// benchSchema has no nullable column: the shape of a typical keyed count.
var benchSchema = runtime.NewSchema(
	runtime.Field{Name: "k", Type: runtime.BigInt},
	runtime.Field{Name: "ts", Type: runtime.Timestamp},
	runtime.Field{Name: "v", Type: runtime.BigInt},
)

func benchSpec() Spec {
	return Spec{
		In: benchSchema, KeyCols: []int{0}, TimeCol: 1, Window: Tumble(10 * time.Second),
		Aggs: []agg.Spec{{Func: agg.Count, Col: -1, Name: "n"}, {Func: agg.Sum, Col: 2, Name: "s"}},
	}
}

// BenchmarkTumblingCountSum counts and sums 10,000 BIGINT keys in 10 s
// tumbling windows, 2048-row batches, a watermark after each batch, at 100
// rows per millisecond of event time (one million rows, 100 per key, per
// window).
func BenchmarkTumblingCountSum(b *testing.B) {
	const keys, perMs = 10_000, 100
	h := newHarness(b, benchSpec())
	// Batches of random keys, used in turn (enough of them that every key
	// is in every window).
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
		if err := h.op.ProcessWatermark(ts[len(ts)-1]-1, &out); err != nil {
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

// stateBytesPerKey fills one tumbling window with keys distinct BIGINT keys
// (COUNT(*) and SUM of a NOT NULL BIGINT) and returns the growth of the live
// heap per key.
func stateBytesPerKey(t tb, keys int) float64 {
	t.Helper()
	newOp, _, err := New(benchSpec())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	bt := runtime.NewBatch(benchSchema)
	defer bt.Release()
	bt.Cols[0].I64 = make([]int64, runtime.DefaultBatchRows)
	bt.Cols[1].I64 = make([]int64, runtime.DefaultBatchRows)
	bt.Cols[2].I64 = make([]int64, runtime.DefaultBatchRows)
	var out rttest.Discard
	before := heapAlloc()
	op := newOp()
	if err := op.Open(&runtime.Context{Parallelism: 1}); err != nil {
		t.Fatalf("Open: %v", err)
	}
	for first := 0; first < keys; first += runtime.DefaultBatchRows {
		n := min(runtime.DefaultBatchRows, keys-first)
		for i := 0; i < n; i++ {
			// Distinct keys spread over the int64 range.
			bt.Cols[0].I64[i] = int64(uint64(first+i) * 0x9E3779B97F4A7C15)
			bt.Cols[1].I64[i] = 1000
			bt.Cols[2].I64[i] = int64(i)
		}
		bt.N = n
		for c := range bt.Cols {
			bt.Cols[c].I64 = bt.Cols[c].I64[:n]
		}
		if err := op.ProcessBatch(0, bt, &out); err != nil {
			t.Fatalf("ProcessBatch: %v", err)
		}
	}
	after := heapAlloc()
	if got := op.(*alignedOp).order[0].table.Len(); got != keys {
		t.Fatalf("%d groups, want %d", got, keys)
	}
	goruntime.KeepAlive(op)
	return float64(int64(after)-int64(before)) / float64(keys)
}

// BenchmarkStateBytesPerKey reports the heap one (key, window) group costs
// with one million keys in a window.
func BenchmarkStateBytesPerKey(b *testing.B) {
	var perKey float64
	for n := 0; n < b.N; n++ {
		perKey = stateBytesPerKey(b, 1_000_000)
	}
	b.ReportMetric(perKey, "B/key")
}

func TestStateBytesPerKey(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a window with a million keys")
	}
	perKey := stateBytesPerKey(t, 1_000_000)
	t.Logf("%.1f bytes per (key, window)", perKey)
	if perKey > 64 {
		t.Fatalf("%.1f bytes per (key, window), want at most 64", perKey)
	}
}
