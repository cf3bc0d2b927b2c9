package alarm

import (
	"strconv"
	"testing"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// BenchmarkEvaluate runs an alarm over 1,000 instances: per period, a batch
// of their 1,000 datapoints (every tenth one missing) and the watermark that
// evaluates them. It reports the cost per instance and period: with states
// that stay put, and with datapoints that change the state of about one
// instance in six every period (each change builds and publishes a
// notification).
func BenchmarkEvaluate(b *testing.B) {
	b.Run("steady", func(b *testing.B) { benchEvaluate(b, false) })
	b.Run("changing", func(b *testing.B) { benchEvaluate(b, true) })
}

func benchEvaluate(b *testing.B, changing bool) {
	const instances = 1000
	cfg := testConfig()
	cfg.EvaluationPeriods, cfg.DatapointsToAlarm = 5, 3
	h := newHarness(b, cfg)
	rec := h.rec
	rows := make([][]runtime.Value, 0, instances)
	for i := 0; i < instances; i++ {
		v := runtime.FloatValue(float64(80 + i%20))
		if i%10 == 0 {
			v = runtime.NullValue(runtime.Double)
		}
		rows = append(rows, []runtime.Value{runtime.StringValue("host-" + strconv.Itoa(i)), runtime.TimeValue(0), v})
	}
	batch := rttest.NewBatch(schema, rows...)
	ends := batch.Cols[1].I64
	vals := batch.Cols[2].F64
	var out rttest.Discard
	changes := 0
	b.ReportAllocs()
	b.ResetTimer()
	for p := 0; p < b.N; p++ {
		end := t0 + int64(p)*10*sec
		for i := range ends {
			ends[i] = end
			if changing {
				vals[i] = float64(80 + (i+p)%20)
			}
		}
		if err := h.op.ProcessBatch(0, batch, &out); err != nil {
			b.Fatal(err)
		}
		if err := h.op.ProcessWatermark(end-1, &out); err != nil {
			b.Fatal(err)
		}
		changes += len(rec.ns)
		rec.ns = rec.ns[:0]
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/instances, "ns/instance")
	b.ReportMetric(float64(changes)/float64(b.N)/instances, "changes/instance")
}
