package kafka

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/runtime"
)

// slowSink counts rows, taking 1 ms over every 100.
type slowSink struct {
	runtime.Base
	rows *atomic.Int64
}

func (s *slowSink) ProcessBatch(_ int, b *runtime.Batch, _ runtime.Output) error {
	time.Sleep(time.Duration(b.Len()) * time.Millisecond / 100)
	s.rows.Add(int64(b.Len()))
	return nil
}

// TestSourceReportsOffsetLag: a source reading a backlog reports, per
// partition, how many records are left after those it has handed to the
// job — thousands while a slow job works through the backlog, 0 once it
// has read everything — in Subtasks and as sluice_source_offset_lag.
func TestSourceReportsOffsetLag(t *testing.T) {
	addr := startCluster(t, 2)
	const per = 20 * 1024
	for p := range 2 {
		for chunk := 0; chunk < per; chunk += 4096 {
			vals := make([][]byte, 4096)
			for i := range vals {
				vals[i] = click("u", chunk+i, int64(chunk+i))
			}
			produce(t, addr, "clicks", p, vals, nil)
		}
	}
	newSrc, _, err := factory{}.NewSource(table(addr, map[string]string{"scan.startup.mode": "earliest-offset"}))
	if err != nil {
		t.Fatal(err)
	}
	var read atomic.Int64
	g := runtime.NewGraph("lag")
	src := g.AddSource("src", schema, 1, newSrc, runtime.WatermarkStrategy{TimeColumn: 2})
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
		caughtUp := read.Load() == 2*per && len(lag) == 2
		for _, p := range lag {
			most = max(most, p.OffsetLag)
			if p.MillisBehind != -1 {
				t.Fatalf("partition %s: %d ms behind, want -1 (a Kafka source does not know it)", p.Partition, p.MillisBehind)
			}
			caughtUp = caughtUp && p.OffsetLag == 0
		}
		if caughtUp {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d rows read, lag %+v: want all %d rows read and no lag", read.Load(), lag, 2*per)
		}
		select {
		case err := <-done:
			t.Fatalf("the job ended: %v", err)
		case <-time.After(2 * time.Millisecond):
		}
	}
	if most < per/2 {
		t.Errorf("the most records left: %d, want thousands (a backlog of %d per partition)", most, per)
	}
	if lag := lagOf(); lag[0].Partition != "clicks/0" || lag[1].Partition != "clicks/1" {
		t.Errorf("partitions %+v: want topic/partition", lag)
	}
	var text strings.Builder
	set.WritePrometheus(&text)
	for p := range 2 {
		series := fmt.Sprintf(`sluice_source_offset_lag{job="lag",operator="src",operator_id="0",subtask="0",partition="clicks/%d"} 0`, p)
		if !strings.Contains(text.String(), series+"\n") {
			t.Errorf("no series %s in:\n%s", series, text.String())
		}
	}
	if strings.Contains(text.String(), "sluice_source_millis_behind_latest") {
		t.Errorf("a time lag the source does not know:\n%s", text.String())
	}
	cancel()
	if err := <-done; err != nil && ctx.Err() == nil {
		t.Fatal(err)
	}
}

// TestOffsetLagCounts: records left from the next offset to the high
// watermark, or to the bounded end when that comes first; from the log
// start when reading from the earliest offset.
func TestOffsetLagCounts(t *testing.T) {
	for _, c := range []struct{ next, stop, hw, start, want int64 }{
		{next: 10, stop: -1, hw: 25, want: 15},
		{next: 25, stop: -1, hw: 25, want: 0},
		{next: 10, stop: 20, hw: 25, want: 10},
		{next: 20, stop: 20, hw: 25, want: 0},
		{next: -2, stop: -1, hw: 25, start: 5, want: 20},
		{next: -2, stop: -1, hw: 0, want: 0},
	} {
		if got := offsetLag(c.next, c.stop, c.hw, c.start); got != c.want {
			t.Errorf("offsetLag(next %d, stop %d, high watermark %d, log start %d) = %d, want %d", c.next, c.stop, c.hw, c.start, got, c.want)
		}
	}
}
