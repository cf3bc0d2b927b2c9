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
	return StateBytesPerKeyFor(ctx, window.Tumble(10*time.Second), keys)
}

// sessionSpan is the event time StateBytesPerKeyFor spreads the rows of
// session windows over.
const sessionSpan = 60_000 // ms

// StateBytesPerKeyFor returns the heap growth per key of a COUNT(*)+SUM
// window operator of windows a that holds keys distinct BIGINT keys, one
// row each, none fired: the rows' times are spread evenly over a's size
// (tumbling: all in one window; hopping: over one window's length, so
// that the rows together lie in all the windows a row belongs to) or, for
// sessions, over a minute (one session per key). It returns ctx.Err()
// when ctx ends first.
func StateBytesPerKeyFor(ctx context.Context, a window.Assigner, keys int) (float64, error) {
	newOp, _, err := window.New(window.Spec{In: eventSchema, KeyCols: []int{0}, TimeCol: 2,
		Window: a,
		Aggs:   []agg.Spec{{Func: agg.Count, Col: -1, Name: "n"}, {Func: agg.Sum, Col: 1, Name: "s"}}})
	if err != nil {
		return 0, err
	}
	span := a.Size
	if a.Kind == window.Session {
		span = sessionSpan
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
			b.Cols[2].I64 = append(b.Cols[2].I64, baseTime+int64(k)*span/int64(keys))
			b.N++
		}
		if err := op.ProcessBatch(0, b, nil); err != nil {
			return 0, err
		}
	}
	after := heap()
	runtime.KeepAlive(op)
	return (float64(after) - float64(before)) / float64(keys), nil
}
