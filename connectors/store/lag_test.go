package store

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/runtime"
)

// slowSink counts rows, taking a while over each batch.
type slowSink struct {
	runtime.Base
	rows *atomic.Int64
}

func (s *slowSink) ProcessBatch(_ int, b *runtime.Batch, _ runtime.Output) error {
	time.Sleep(3 * time.Millisecond)
	s.rows.Add(int64(b.Len()))
	return nil
}

// TestSourceReportsMillisBehindLatest: a source reading a backlog reports,
// per shard, how far behind the shard's newest record it is — well above
// 0 while it works through records put before the job started, 0 once it
// has caught up — in Subtasks and as sluice_source_millis_behind_latest.
func TestSourceReportsMillisBehindLatest(t *testing.T) {
	url, c := startStore(t, "in", 2)
	const n = 2000
	put(t, c, "in", encode(rows(0, n))...)
	const age = 300 * time.Millisecond
	time.Sleep(age)

	newSrc, _, err := connector(t).NewSource(table(map[string]string{"stream": "in", "endpoint": url,
		"scan.shard.getrecords.maxrecordcount": "20"}))
	if err != nil {
		t.Fatal(err)
	}
	var read atomic.Int64
	g := runtime.NewGraph("lag")
	src := g.AddSource("src", schema, 1, newSrc, runtime.WatermarkStrategy{TimeColumn: 3})
	g.Connect(src, g.AddOperator("sink", schema, 1, 1, func() runtime.Operator { return &slowSink{rows: &read} }), runtime.Global)
	set := metrics.NewSet()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- runtime.Run(ctx, g, runtime.Options{Parallelism: 1, Metrics: set}) }()

	lagOf := func() []runtime.PartitionLag {
		for _, s := range runtime.Subtasks(set) {
			if s.Operator == "src" {
				return s.Lag
			}
		}
		return nil
	}
	var most int64
	deadline := time.Now().Add(20 * time.Second)
	for {
		lag := lagOf()
		caughtUp := read.Load() == n && len(lag) == 2
		for _, p := range lag {
			most = max(most, p.MillisBehind)
			if p.OffsetLag != -1 {
				t.Fatalf("shard %s: offset lag %d, want -1 (a store source does not know it)", p.Partition, p.OffsetLag)
			}
			caughtUp = caughtUp && p.MillisBehind == 0
		}
		if caughtUp {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d rows read, lag %+v: want all %d rows read and no lag", read.Load(), lag, n)
		}
		select {
		case err := <-done:
			t.Fatalf("the job ended: %v", err)
		case <-time.After(2 * time.Millisecond):
		}
	}
	if most < age.Milliseconds() {
		t.Errorf("the most it was behind: %d ms, want at least %d (the backlog's age)", most, age.Milliseconds())
	}
	if lag := lagOf(); lag[0].Partition != "shardId-000000000000" || lag[1].Partition != "shardId-000000000001" {
		t.Errorf("partitions %+v: want the shard ids", lag)
	}
	var text strings.Builder
	set.WritePrometheus(&text)
	for _, series := range []string{
		`sluice_source_millis_behind_latest{job="lag",operator="src",operator_id="0",subtask="0",partition="shardId-000000000000"} 0`,
		`sluice_source_millis_behind_latest{job="lag",operator="src",operator_id="0",subtask="0",partition="shardId-000000000001"} 0`,
	} {
		if !strings.Contains(text.String(), series+"\n") {
			t.Errorf("no series %s in:\n%s", series, text.String())
		}
	}
	if strings.Contains(text.String(), "sluice_source_offset_lag") {
		t.Errorf("an offset lag the source does not know:\n%s", text.String())
	}
	cancel()
	if err := <-done; err != nil && ctx.Err() == nil {
		t.Fatal(err)
	}
}
