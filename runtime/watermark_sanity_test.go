package runtime

import (
	"math"
	"testing"
	"time"
)

func TestInsaneEventTimesDoNotDriveTheWatermark(t *testing.T) {
	s := NewSchema(Field{Name: "ts", Type: Timestamp})
	f := func(times []int64, want int64) {
		t.Helper()
		g := newWMGenerator(WatermarkStrategy{TimeColumn: 0, MaxOutOfOrderness: time.Second})
		b := NewBatch(s)
		defer b.Release()
		for _, ts := range times {
			b.Cols[0].AppendInt(ts)
			b.N++
		}
		g.observe(0, b, 0)
		if wm, _, _ := g.current(0); wm != want {
			t.Fatalf("times %v: watermark %d, want %d", times, wm, want)
		}
	}
	f([]int64{math.MinInt64 + 1}, MinWatermark)
	f([]int64{MinEventTime - 1}, MinWatermark)
	f([]int64{math.MaxInt64}, MinWatermark)
	f([]int64{MaxEventTime + 1, 10_000}, 10_000-1001)
	f([]int64{math.MinInt64 + 1, 10_000, math.MaxInt64 - 1}, 10_000-1001)
}
