package repart_test

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sluicehq/sluice/connectors"
	_ "github.com/sluicehq/sluice/connectors/kafka"
	"github.com/sluicehq/sluice/connectors/kafka/repart"
	"github.com/sluicehq/sluice/runtime"
)

var benchSchema = runtime.NewSchema(
	runtime.Field{Name: "user", Type: runtime.Varchar},
	runtime.Field{Name: "page", Type: runtime.Varchar},
	runtime.Field{Name: "n", Type: runtime.BigInt},
	runtime.Field{Name: "ts", Type: runtime.Timestamp},
)

// rowsSource emits rows rows of clicks in batches of 1024.
type rowsSource struct {
	rows, next int
	b          *runtime.Batch
}

func (s *rowsSource) Open(*runtime.Context) error { s.b = runtime.NewBatch(benchSchema); return nil }
func (s *rowsSource) Close() error                { return nil }
func (s *rowsSource) Poll(context.Context) (*runtime.Batch, int, error) {
	if s.next >= s.rows {
		return nil, 0, io.EOF
	}
	s.b.Reset()
	for ; s.next < s.rows && s.b.N < 1024; s.next++ {
		i := s.next
		s.b.AppendValues(runtime.StringValue(fmt.Sprint("user-", i%1000)), runtime.StringValue(fmt.Sprint("/page/", i%37)),
			runtime.IntValue(int64(i)), runtime.TimeValue(1_790_000_000_000+int64(i)))
	}
	return s.b, 0, nil
}

// countSink counts rows.
type countSink struct {
	runtime.Base
	n *atomic.Int64
}

func (c countSink) ProcessBatch(_ int, b *runtime.Batch, _ runtime.Output) error {
	c.n.Add(int64(b.Len()))
	return nil
}

// BenchmarkRepartitionThroughput: 2 producer tasks write 100,000 rows each
// through the repartition sink (keyed by user, checkpoints every 100 ms)
// into an in-process broker while 2 consumer tasks read them back; rows/s
// is end to end. For comparison, rows/s of the plain kafka sink (JSON)
// writing the same rows from 2 subtasks (write only).
func BenchmarkRepartitionThroughput(b *testing.B) {
	const parts, rows = 2, 100_000
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(parts, "plain"))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	addr := c.ListenAddrs()[0]
	client := func() (*kafka.Client, *kafka.Transport) {
		tr := &kafka.Transport{}
		return &kafka.Client{Addr: kafka.TCP(addr), Timeout: 10 * time.Second, Transport: tr}, tr
	}
	b.Run("repartition", func(b *testing.B) {
		total, elapsed := 0, time.Duration(0)
		iter := 0
		for b.Loop() {
			iter++
			cfg := repart.Config{Table: "bench", Topic: fmt.Sprintf("bench-%d-repartition", iter), Partitions: parts, Schema: benchSchema, KeyCols: []int{0}, Client: client}
			if err := repart.EnsureTopic(context.Background(), cfg); err != nil {
				b.Fatal(err)
			}
			var got atomic.Int64
			dir := b.TempDir()
			start := time.Now()
			var wg sync.WaitGroup
			errs := make(chan error, 2*parts)
			for task := range parts {
				prod := runtime.NewGraph("producer")
				src := prod.AddSource("gen", benchSchema, 1, func() runtime.Source { return &rowsSource{rows: rows} }, runtime.WatermarkStrategy{TimeColumn: 3})
				prod.Connect(src, prod.AddOperator("repartition", benchSchema, 1, 1, repart.NewSink(cfg)), runtime.Forward)
				cons := runtime.NewGraph("consumer")
				in := cons.AddSource("repartitioned", benchSchema, 1, repart.NewSource(cfg), runtime.NoWatermarks)
				cons.Connect(in, cons.AddOperator("count", benchSchema, 1, 1, func() runtime.Operator { return countSink{n: &got} }), runtime.Forward)
				for i, g := range []*runtime.Graph{prod, cons} {
					wg.Add(1)
					go func() {
						defer wg.Done()
						name := fmt.Sprint(g.Name, task)
						errs <- runtime.Run(context.Background(), g, runtime.Options{
							Task:        &runtime.TaskInfo{ID: task, Count: parts, Attempt: name},
							Checkpoints: &runtime.CheckpointOptions{Dir: filepath.Join(dir, name, fmt.Sprint(i)), Interval: 100 * time.Millisecond}})
					}()
				}
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					b.Fatal(err)
				}
			}
			elapsed += time.Since(start)
			if got.Load() != parts*rows {
				b.Fatalf("read %d rows, want %d", got.Load(), parts*rows)
			}
			total += parts * rows
		}
		b.ReportMetric(float64(total)/elapsed.Seconds(), "rows/s")
	})
	b.Run("plain-kafka-sink", func(b *testing.B) {
		f, _ := connectors.Lookup("kafka")
		newSink, _, err := f.(connectors.Sink).NewSink(connectors.Table{Name: "plain", Schema: benchSchema, Options: map[string]string{
			"topic": "plain", "properties.bootstrap.servers": addr, "key.fields": "user", "sink.buffer-flush.max-rows": "10000"}})
		if err != nil {
			b.Fatal(err)
		}
		total, elapsed := 0, time.Duration(0)
		for b.Loop() {
			g := runtime.NewGraph("plain")
			src := g.AddSource("gen", benchSchema, parts, func() runtime.Source { return &rowsSource{rows: rows} }, runtime.WatermarkStrategy{TimeColumn: 3})
			g.Connect(src, g.AddOperator("kafka", benchSchema, parts, 1, newSink), runtime.Forward)
			start := time.Now()
			if err := runtime.Run(context.Background(), g, runtime.Options{Parallelism: parts}); err != nil {
				b.Fatal(err)
			}
			elapsed += time.Since(start)
			total += parts * rows
		}
		b.ReportMetric(float64(total)/elapsed.Seconds(), "rows/s")
	})
}
