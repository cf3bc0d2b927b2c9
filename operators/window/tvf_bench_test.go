package window

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// BenchmarkAssignHop10s1s assigns rows to HOP(slide 1 s, size 10 s): ten
// output rows per input row. rows/s counts input rows.
func BenchmarkAssignHop10s1s(b *testing.B) {
	newOp, _, err := NewAssign(AssignSpec{In: kvSchema, TimeCol: 1, Window: Hop(time.Second, 10*time.Second)})
	if err != nil {
		b.Fatal(err)
	}
	op := newOp()
	op.Open(rttest.NewContext("tvf", 0, 1))
	defer op.Close()
	batch := runtime.NewBatch(kvSchema)
	for r := 0; r < runtime.DefaultBatchRows; r++ {
		batch.Cols[0].AppendInt(int64(r % 100))
		batch.Cols[1].AppendInt(int64(r) * 7)
		batch.Cols[2].AppendInt(int64(r))
	}
	batch.N = runtime.DefaultBatchRows
	var out rttest.Discard
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := op.ProcessBatch(0, batch, &out); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*runtime.DefaultBatchRows)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(out.Rows)/b.Elapsed().Seconds(), "out-rows/s")
}
