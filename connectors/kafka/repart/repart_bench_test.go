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

// pacedSource emits 100 rows stamped with the wall clock every 5 ms for
// a second.
type pacedSource struct {
	start time.Time
	b     *runtime.Batch
}

func (s *pacedSource) Open(*runtime.Context) error {
	s.b, s.start = runtime.NewBatch(benchSchema), time.Now()
	return nil
}
func (s *pacedSource) Close() error { return nil }
func (s *pacedSource) Poll(context.Context) (*runtime.Batch, int, error) {
	if time.Since(s.start) > time.Second {
		return nil, 0, io.EOF
	}
	time.Sleep(5 * time.Millisecond)
	s.b.Reset()
	now := time.Now().UnixMilli()
	for i := range 100 {
		s.b.AppendValues(runtime.StringValue(fmt.Sprint("user-", i)), runtime.StringValue("/"), runtime.IntValue(int64(i)), runtime.TimeValue(now))
	}
	return s.b, 0, nil
}

// latencySink adds up how long rows took since they were stamped.
type latencySink struct {
	runtime.Base
	mu       *sync.Mutex
	sum, max *time.Duration
	n        *int
}

func (l latencySink) ProcessBatch(_ int, b *runtime.Batch, _ runtime.Output) error {
	now := time.Now().UnixMilli()
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range b.Len() {
		d := time.Duration(now-b.Cols[3].I64[b.Row(i)]) * time.Millisecond
		*l.sum += d
		*l.max = max(*l.max, d)
		*l.n++
	}
	return nil
}

// BenchmarkRepartitionLatency: rows written at a steady pace through a
// repartition topic with checkpoints every 200 ms wait for the commit of
// the checkpoint after them: reports their mean and largest latency.
func BenchmarkRepartitionLatency(b *testing.B) {
	const parts = 2
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	addr := c.ListenAddrs()[0]
	client := func() (*kafka.Client, *kafka.Transport) {
		tr := &kafka.Transport{}
		return &kafka.Client{Addr: kafka.TCP(addr), Timeout: 10 * time.Second, Transport: tr}, tr
	}
	var mu sync.Mutex
	var sum, most time.Duration
	n, iter := 0, 0
	for b.Loop() {
		iter++
		cfg := repart.Config{Table: "bench", Topic: fmt.Sprintf("lat-%d-repartition", iter), Partitions: parts, Schema: benchSchema, KeyCols: []int{0}, Client: client}
		if err := repart.EnsureTopic(context.Background(), cfg); err != nil {
			b.Fatal(err)
		}
		dir := b.TempDir()
		var wg sync.WaitGroup
		errs := make(chan error, 2*parts)
		for task := range parts {
			prod := runtime.NewGraph("producer")
			src := prod.AddSource("gen", benchSchema, 1, func() runtime.Source { return &pacedSource{} }, runtime.WatermarkStrategy{TimeColumn: 3})
			prod.Connect(src, prod.AddOperator("repartition", benchSchema, 1, 1, repart.NewSink(cfg)), runtime.Forward)
			cons := runtime.NewGraph("consumer")
			in := cons.AddSource("repartitioned", benchSchema, 1, repart.NewSource(cfg), runtime.NoWatermarks)
			cons.Connect(in, cons.AddOperator("latency", benchSchema, 1, 1, func() runtime.Operator {
				return latencySink{mu: &mu, sum: &sum, max: &most, n: &n}
			}), runtime.Forward)
			for i, g := range []*runtime.Graph{prod, cons} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					name := fmt.Sprint(g.Name, task)
					errs <- runtime.Run(context.Background(), g, runtime.Options{
						Task:        &runtime.TaskInfo{ID: task, Count: parts, Attempt: name},
						Checkpoints: &runtime.CheckpointOptions{Dir: filepath.Join(dir, name, fmt.Sprint(i)), Interval: 200 * time.Millisecond}})
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
	}
	b.ReportMetric(float64(sum.Milliseconds())/float64(max(n, 1)), "mean-ms")
	b.ReportMetric(float64(most.Milliseconds()), "max-ms")
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
