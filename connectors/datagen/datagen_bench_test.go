package datagen_test

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// BenchmarkPoll measures one unthrottled subtask generating batches (no
// job around it), in rows/s:
//
//	go test -run '^$' -bench Poll ./connectors/datagen
func BenchmarkPoll(b *testing.B) {
	key := runtime.Field{Name: "k", Type: runtime.BigInt}
	val := runtime.Field{Name: "v", Type: runtime.Double, Nullable: true}
	ts := runtime.Field{Name: "ts", Type: runtime.Timestamp}
	str := runtime.Field{Name: "s", Type: runtime.Varchar}
	for _, bc := range []struct {
		name   string
		schema *runtime.Schema
		opts   map[string]string
	}{
		// The benchmark workload: 10,000 keys, a value, an event time.
		{"key+double+ts", runtime.NewSchema(key, val, ts),
			opts("fields.k.min", "0", "fields.k.max", "9999", "fields.ts.kind", "sequence", "fields.ts.step", "100us")},
		{"key+double+ts/disorder", runtime.NewSchema(key, val, ts),
			opts("fields.k.min", "0", "fields.k.max", "9999", "fields.ts.step", "100us", "fields.ts.max-past", "50ms")},
		{"key+double+ts/nulls", runtime.NewSchema(key, val, ts),
			opts("fields.k.min", "0", "fields.k.max", "9999", "fields.v.null-rate", "0.1")},
		{"string16", runtime.NewSchema(str), opts("fields.s.length", "16")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			f, _ := connectors.Lookup("datagen")
			newSrc, _, err := f.(connectors.Source).NewSource(connectors.Table{Name: "bench", Schema: bc.schema, Options: bc.opts})
			if err != nil {
				b.Fatal(err)
			}
			src := newSrc()
			if err := src.Open(rttest.NewContext("gen", 0, 1)); err != nil {
				b.Fatal(err)
			}
			defer src.Close()
			ctx := context.Background()
			rows := 0
			b.ReportAllocs()
			for b.Loop() {
				batch, _, err := src.Poll(ctx)
				if err == io.EOF || batch == nil {
					b.Fatal("unbounded source ended")
				}
				rows += batch.Len()
			}
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkJob runs datagen (5M rows of the benchmark workload) into a
// counting sink through the runtime, in rows/s.
func BenchmarkJob(b *testing.B) {
	const rows = 5_000_000
	schema := runtime.NewSchema(
		runtime.Field{Name: "k", Type: runtime.BigInt},
		runtime.Field{Name: "v", Type: runtime.Double},
		runtime.Field{Name: "ts", Type: runtime.Timestamp},
	)
	f, _ := connectors.Lookup("datagen")
	newSrc, _, err := f.(connectors.Source).NewSource(connectors.Table{Name: "bench", Schema: schema, Options: opts(
		"number-of-rows", fmt.Sprint(rows), "fields.k.min", "0", "fields.k.max", "9999",
		"fields.ts.kind", "sequence", "fields.ts.step", "100us", "fields.ts.max-past", "50ms")})
	if err != nil {
		b.Fatal(err)
	}
	for _, par := range []int{1, 2} {
		b.Run(fmt.Sprintf("p=%d", par), func(b *testing.B) {
			var n atomic.Int64
			for b.Loop() {
				g := runtime.NewGraph("bench")
				src := g.AddSource("gen", schema, par, newSrc, runtime.WatermarkStrategy{TimeColumn: 2, MaxOutOfOrderness: 50 * time.Millisecond})
				g.Connect(src, g.AddOperator("count", schema, par, 1, func() runtime.Operator { return counter{n: &n} }), runtime.Forward)
				if err := runtime.Run(context.Background(), g, runtime.Options{Parallelism: par}); err != nil {
					b.Fatal(err)
				}
			}
			if n.Load() != int64(b.N)*rows {
				b.Fatalf("%d rows, want %d", n.Load(), int64(b.N)*rows)
			}
			b.ReportMetric(float64(n.Load())/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
