package bench

import (
	"context"
	"sync/atomic"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/operators/window"
	rt "github.com/sluicehq/sluice/runtime"
)

var eventSchema = rt.NewSchema(
	rt.Field{Name: "k", Type: rt.BigInt},
	rt.Field{Name: "v", Type: rt.BigInt},
	rt.Field{Name: "ts", Type: rt.Timestamp},
)

// RunSluice runs the workload through Sluice's Go API with the given
// parallelism: generator → keyed exchange → tumbling window COUNT+SUM → a
// sink that folds the results into the checksum. It returns ctx.Err() when
// ctx ends first.
func RunSluice(ctx context.Context, w Workload, parallelism int) (Result, error) {
	return runSluice(ctx, w, parallelism)
}

func runSluice(ctx context.Context, w Workload, parallelism int, opts ...sluice.Option) (Result, error) {
	fill := func(b *rt.Batch, first int64, n int) {
		ks, vs, ts := b.Cols[0].I64[:0], b.Cols[1].I64[:0], b.Cols[2].I64[:0]
		for i := first; i < first+int64(n); i++ {
			k, t, v := w.Event(i)
			ks, vs, ts = append(ks, k), append(vs, v), append(ts, t)
		}
		b.Cols[0].I64, b.Cols[1].I64, b.Cols[2].I64 = ks, vs, ts
	}
	env := sluice.NewEnv(append([]sluice.Option{sluice.WithParallelism(parallelism), sluice.WithName("bench")}, opts...)...)
	res := env.FromGenerator("events", eventSchema, w.Events, fill, sluice.Watermark("ts", bound)).
		KeyBy("k").
		Window(window.Tumble(w.Window)).
		Aggregate(sluice.Count("n"), sluice.Sum("v", "s"))
	var results, count, sum atomic.Int64
	res.To("checksum", func() rt.Operator { return &checksumSink{results: &results, count: &count, sum: &sum} })
	m := startMeter()
	if err := env.Execute(ctx); err != nil {
		return Result{}, err
	}
	wall, cpu := m.stop()
	return Result{Name: "sluice (Go API)", Events: w.Events, Elapsed: wall, CPU: cpu,
		Check: Checksum{Results: results.Load(), Count: count.Load(), Sum: sum.Load()}}, nil
}

type checksumSink struct {
	rt.Base
	results, count, sum *atomic.Int64
}

func (s *checksumSink) ProcessBatch(_ int, b *rt.Batch, _ rt.Output) error {
	var c, sm int64
	for i := 0; i < b.Len(); i++ {
		r := b.Row(i)
		c += b.Cols[3].I64[r]
		sm += b.Cols[4].I64[r]
	}
	s.results.Add(int64(b.Len()))
	s.count.Add(c)
	s.sum.Add(sm)
	return nil
}
