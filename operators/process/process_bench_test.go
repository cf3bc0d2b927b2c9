package process

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/state"
)

// repeatSource emits the same batch n times.
type repeatSource struct {
	b *runtime.Batch
	n int
}

func (s *repeatSource) Open(*runtime.Context) error { return nil }
func (s *repeatSource) Poll(context.Context) (*runtime.Batch, int, error) {
	if s.n == 0 {
		return nil, 0, io.EOF
	}
	s.n--
	return s.b, 0, nil
}
func (s *repeatSource) Close() error { return nil }

type discardOp struct{ runtime.Base }

func (discardOp) ProcessBatch(int, *runtime.Batch, runtime.Output) error { return nil }

// BenchmarkRunningCountJob measures a job source → keyed process (running
// count in a ValueState, one output row per input row) → sink.
func BenchmarkRunningCountJob(b *testing.B) {
	for _, par := range []int{1, 2} {
		b.Run(fmt.Sprint("p=", par), func(b *testing.B) {
			in := runtime.NewBatch(kvSchema)
			for i := range runtime.DefaultBatchRows {
				in.AppendValues(runtime.StringValue(fmt.Sprint("key-", i*7919%10000)), runtime.IntValue(1), runtime.TimeValue(int64(i)))
			}
			const batches = 200
			b.ResetTimer()
			for range b.N {
				g := runtime.NewGraph("bench")
				src := g.AddSource("src", kvSchema, 1, func() runtime.Source { return &repeatSource{b: in, n: batches} }, runtime.WatermarkStrategy{TimeColumn: 2})
				proc := g.AddOperator("proc", countSchema, par, 1, New(kvSchema, countSchema, []int{0}, func() Func { return &runningCount{} }, state.Options{}))
				sink := g.AddOperator("sink", countSchema, par, 1, func() runtime.Operator { return discardOp{} })
				g.Connect(src, proc, runtime.Keyed, 0)
				g.Connect(proc, sink, runtime.Forward)
				if err := runtime.Run(context.Background(), g, runtime.Options{Parallelism: par}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batches*runtime.DefaultBatchRows)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
