package bench

import (
	"context"
	"runtime"
	"time"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/operators/window"
	rt "github.com/sluicehq/sluice/runtime"
)

// StateBytesPerKey fills one 10 s tumbling window of a COUNT(*)+SUM window
// operator with keys distinct BIGINT keys and returns the heap growth per
// (key, window). It returns ctx.Err() when ctx ends first.
func StateBytesPerKey(ctx context.Context, keys int) (float64, error) {
	newOp, _, err := window.New(window.Spec{In: eventSchema, KeyCols: []int{0}, TimeCol: 2,
		Window: window.Tumble(10 * time.Second),
		Aggs:   []agg.Spec{{Func: agg.Count, Col: -1, Name: "n"}, {Func: agg.Sum, Col: 1, Name: "s"}}})
	if err != nil {
		return 0, err
	}
	b := rt.NewBatch(eventSchema)
	heap := func() uint64 {
		var m runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	op := newOp()
	if err := op.Open(&rt.Context{Parallelism: 1}); err != nil {
		return 0, err
	}
	for k := 0; k < keys; {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		b.Reset()
		for ; k < keys && b.N < rt.DefaultBatchRows; k++ {
			b.Cols[0].I64 = append(b.Cols[0].I64, int64(k)*7919)
			b.Cols[1].I64 = append(b.Cols[1].I64, int64(k))
			b.Cols[2].I64 = append(b.Cols[2].I64, baseTime)
			b.N++
		}
		if err := op.ProcessBatch(0, b, nil); err != nil {
			return 0, err
		}
	}
	after := heap()
	runtime.KeepAlive(op)
	return float64(after-before) / float64(keys), nil
}
