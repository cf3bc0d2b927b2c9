package repart

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/segmentio/kafka-go"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

func TestEndsOpenOnlyInATask(t *testing.T) {
	cfg := Config{Table: "repartition 1 (t)", Topic: "j-1-repartition", Partitions: 2, Schema: schema}
	ctx := rttest.NewContext("op", 0, 1)
	if err := NewSink(cfg)().Open(ctx); err == nil || !strings.Contains(err.Error(), "--cluster kafka") {
		t.Errorf("sink outside a task: %v", err)
	}
	if err := NewSource(cfg)().Open(ctx); err == nil || !strings.Contains(err.Error(), "--cluster kafka") {
		t.Errorf("source outside a task: %v", err)
	}
	ctx.Task = &runtime.TaskInfo{ID: 0, Count: 3, Attempt: "a"}
	if err := NewSink(cfg)().Open(ctx); err == nil || !strings.Contains(err.Error(), "2 partitions, the job 3 tasks") {
		t.Errorf("sink with 2 partitions in a job of 3 tasks: %v", err)
	}
}

func TestEnsureTopicCreatesOrChecksPartitions(t *testing.T) {
	addr := startCluster(t)
	cfg := testConfig(t, addr, "j-7-repartition", 3) // creates it
	if err := EnsureTopic(context.Background(), cfg); err != nil {
		t.Fatalf("again: %v", err)
	}
	cl, tr := cfg.Client()
	defer tr.CloseIdleConnections()
	if n, err := partitionCount(context.Background(), cl, cfg.Topic); err != nil || n != 3 {
		t.Fatalf("the topic has %d partitions (%v), want 3", n, err)
	}
	cfg.Partitions = 4
	err := EnsureTopic(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), `"j-7-repartition" has 3 partitions, the job needs 4`) {
		t.Fatalf("4 tasks on a topic of 3 partitions: %v", err)
	}
}

// TestSourceFailsWhenCommitsLag: a producer that writes without ever
// committing (no checkpoints count) fills the source's buffer, which
// fails with an error saying so.
func TestSourceFailsWhenCommitsLag(t *testing.T) {
	addr := startCluster(t)
	cfg := testConfig(t, addr, "j-3-repartition", 1)
	cfg.MaxBuffered = 64 << 10
	g := producerGraph(cfg, 20000, 1000, 0)
	set := metrics.NewSet()
	if err := runtime.Run(context.Background(), g, runtime.Options{Task: &runtime.TaskInfo{ID: 0, Count: 1, Attempt: "p"}, Metrics: set}); err != nil {
		t.Fatal(err)
	}
	if n, _ := rttest.Metric(set, "sluice_repartition_written_bytes_total", "repartition"); n < 64<<10 {
		t.Errorf("the sink wrote %v bytes, want more than 64 KiB", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := runtime.Run(ctx, consumerGraph(cfg, newPublished()), runtime.Options{Task: &runtime.TaskInfo{ID: 0, Count: 1, Attempt: "c"}, Metrics: set})
	if err == nil || !strings.Contains(err.Error(), "commits lag") || !strings.Contains(err.Error(), "--checkpoint-interval") {
		t.Fatalf("got %v, want the commits-lag error", err)
	}
	if n, _ := rttest.Metric(set, "sluice_repartition_buffered_bytes", "repartitioned"); n <= 0 {
		t.Errorf("buffered bytes gauge %v, want above 0", n)
	}
}

// TestSourceNamesABadRecord: bytes that are not a repartition record fail
// the source with the topic, partition and offset.
func TestSourceNamesABadRecord(t *testing.T) {
	addr := startCluster(t)
	cfg := testConfig(t, addr, "j-4-repartition", 1)
	cl, tr := cfg.Client()
	defer tr.CloseIdleConnections()
	good := appendHeader(nil, header{kind: kWatermark, attempt: "p", wm: 5})
	res, err := cl.Produce(context.Background(), &kafka.ProduceRequest{Topic: cfg.Topic, Partition: 0, RequiredAcks: kafka.RequireAll,
		Records: kafka.NewRecordReader(kafka.Record{Value: kafka.NewBytes(good)}, kafka.Record{Value: kafka.NewBytes([]byte("{\"user\":1}"))})})
	if err == nil && res.Error != nil {
		err = res.Error
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = runtime.Run(ctx, consumerGraph(cfg, newPublished()), runtime.Options{Task: &runtime.TaskInfo{ID: 0, Count: 1, Attempt: "c"}})
	if err == nil || !strings.Contains(err.Error(), `kafka topic "j-4-repartition" partition 0 offset 1: unknown record version 123`) {
		t.Fatalf("got %v", err)
	}
}

// TestGlobalEdgeSendsEveryRowToTaskZero: without key columns every row
// goes to partition 0; task 1 receives none and still ends.
func TestGlobalEdgeSendsEveryRowToTaskZero(t *testing.T) {
	const parts, rows = 2, 500
	addr := startCluster(t)
	cfg := testConfig(t, addr, "j-5-repartition", parts)
	cfg.KeyCols = nil
	root := t.TempDir()
	pub := newPublished()
	var all []*attempt
	for task := range parts {
		all = append(all, runTask(t, consumerGraph(cfg, pub), task, parts, "c"+string(rune('0'+task)), root, nil, 0, 20*time.Millisecond))
		all = append(all, runTask(t, producerGraph(cfg, rows, 50, 0), task, parts, "p"+string(rune('0'+task)), root, nil, 0, 20*time.Millisecond))
	}
	for _, a := range all {
		if err := wait(t, a); err != nil {
			t.Fatalf("%s: %v", a.name, err)
		}
	}
	if n0, n1 := pub.count(0), pub.count(1); n0 != parts*rows || n1 != 0 {
		t.Fatalf("task 0 published %d rows, task 1 %d; want %d and 0", n0, n1, parts*rows)
	}
}

// TestSourceSaysWhenRecordsItNeedsAreGone: a source restored at an offset
// the topic no longer holds fails, naming the offset and the retention.
func TestSourceSaysWhenRecordsItNeedsAreGone(t *testing.T) {
	addr := startCluster(t)
	cfg := testConfig(t, addr, "j-11-repartition", 1)
	g := runtime.NewGraph("consumer")
	src := g.AddSource("repartitioned", schema, 1, func() runtime.Source {
		s := NewSource(cfg)()
		pos := `{"offset":1000,"released":[0],"last":[""],"wm":[0],"idle":[false],"ended":[false]}`
		if err := s.(runtime.CheckpointedSource).RestorePositions([][]byte{[]byte(pos)}); err != nil {
			t.Error(err)
		}
		return s
	}, runtime.NoWatermarks)
	g.Connect(src, g.AddOperator("publish", schema, 1, 1, newPublished().newSink), runtime.Forward)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := runtime.Run(ctx, g, runtime.Options{Task: &runtime.TaskInfo{ID: 0, Count: 1, Attempt: "c"}})
	if err == nil || !strings.Contains(err.Error(), "from offset 1000 on") || !strings.Contains(err.Error(), "retention") {
		t.Fatalf("got %v", err)
	}
}
