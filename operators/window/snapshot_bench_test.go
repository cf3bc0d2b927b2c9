package window

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime"
)

// BenchmarkWindowSnapshot1MKeys snapshots a tumbling window holding one
// million BIGINT keys with COUNT(*) and SUM(v), and reports the time per
// snapshot and its size.
//
//	go test ./operators/window -run '^$' -bench WindowSnapshot1MKeys
func BenchmarkWindowSnapshot1MKeys(b *testing.B) {
	const keys = 1_000_000
	h := newHarness(b, benchSpec())
	bt := runtime.NewBatch(benchSchema)
	defer bt.Release()
	for k := 0; k < keys; k += runtime.DefaultBatchRows {
		bt.Reset()
		for r := k; r < min(k+runtime.DefaultBatchRows, keys); r++ {
			bt.AppendValues(runtime.IntValue(int64(r)*7919), runtime.TimeValue(int64(r%1000)), runtime.IntValue(int64(r)))
		}
		if err := h.op.ProcessBatch(0, bt, h.out); err != nil {
			b.Fatal(err)
		}
	}
	s := h.op.(runtime.Snapshotter)
	var size int
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for n := 0; n < b.N; n++ {
		data, err := s.SnapshotState(int64(n))
		if err != nil {
			b.Fatal(err)
		}
		size = len(data)
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "ms/snapshot")
	b.ReportMetric(float64(size), "bytes")
}
