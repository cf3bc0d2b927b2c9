package runtime

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// TestCheckpointHistoryOfARun: a checkpointed run that fails once and
// restarts lists its checkpoints across both runs, oldest first, with
// increasing ids; every completed one has its trigger time, duration,
// size and alignment, and the last records the end of the job.
func TestCheckpointHistoryOfARun(t *testing.T) {
	j := newCkJob(4000, 2, 1000)
	set := metrics.NewSet()
	err := RunWithRestarts(context.Background(), j.g, Options{Parallelism: 2, Metrics: set,
		Checkpoints: &CheckpointOptions{Dir: t.TempDir(), Interval: 10 * time.Millisecond}}, RestartOptions{Attempts: 2, MinBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	j.check(t)
	hist := Checkpoints(set, "ck")
	if len(hist) < 3 {
		t.Fatalf("%d checkpoints in the history, want several: %+v", len(hist), hist)
	}
	completed := 0
	var aligned time.Duration
	for i, r := range hist {
		if i > 0 && r.ID <= hist[i-1].ID {
			t.Fatalf("checkpoint %d after %d: ids must increase: %+v", r.ID, hist[i-1].ID, hist)
		}
		if r.Trigger.IsZero() || r.Trigger.After(time.Now()) {
			t.Errorf("checkpoint %d: trigger time %v", r.ID, r.Trigger)
		}
		switch r.Status {
		case CheckpointCompleted:
			completed++
			if r.Duration <= 0 || r.Size <= 0 || r.Error != "" {
				t.Errorf("completed checkpoint %+v: want a duration and a size, no error", r)
			}
			aligned = max(aligned, r.Alignment)
		case CheckpointFailed:
			// The one in flight when the operator failed.
			if !strings.Contains(r.Error, "injected failure") {
				t.Errorf("failed checkpoint %+v: want the job's failure as its error", r)
			}
		default:
			t.Errorf("checkpoint %+v of a job that has ended", r)
		}
	}
	if completed < 2 || aligned <= 0 {
		t.Errorf("%d completed checkpoints, longest alignment %v: want several, and barriers that took time to align", completed, aligned)
	}
	if last := hist[len(hist)-1]; last.Status != CheckpointCompleted {
		t.Errorf("the last checkpoint %+v: want the completed one that records the end", last)
	}
	if Checkpoints(set, "other") != nil || Checkpoints(metrics.NewSet(), "ck") != nil {
		t.Error("a job without checkpoints has a history")
	}
}

// snapFails fails to snapshot its state at the third checkpoint it sees.
type snapFails struct {
	Base
	seen atomic.Int64
}

func (o *snapFails) ProcessBatch(_ int, b *Batch, out Output) error { return out.Emit(b) }
func (o *snapFails) SnapshotState(id int64) ([]byte, error) {
	if o.seen.Add(1) == 3 {
		return nil, errors.New("disk on fire")
	}
	return []byte("state"), nil
}
func (o *snapFails) RestoreState([]byte) error { return nil }

// TestFailedCheckpointIsInTheHistory: an operator whose snapshot fails
// fails the job, and its checkpoint shows as failed with the error, after
// the ones that completed.
func TestFailedCheckpointIsInTheHistory(t *testing.T) {
	g := NewGraph("snap")
	src := g.AddSource("src", ckSchema, 1, func() Source { return &countSource{n: 100000, sleep: 2 * time.Millisecond} }, WatermarkStrategy{TimeColumn: 2})
	g.Connect(src, g.AddOperator("snapper", ckSchema, 1, 1, func() Operator { return &snapFails{} }), Rebalance)
	set := metrics.NewSet()
	err := Run(context.Background(), g, Options{Parallelism: 1, Metrics: set,
		Checkpoints: &CheckpointOptions{Dir: t.TempDir(), Interval: 10 * time.Millisecond}})
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("Run returned %v, want the snapshot's error", err)
	}
	hist := Checkpoints(set, "snap")
	if len(hist) != 3 {
		t.Fatalf("history %+v: want 2 completed and the failed one", hist)
	}
	for _, r := range hist[:2] {
		if r.Status != CheckpointCompleted {
			t.Errorf("checkpoint %+v: want completed", r)
		}
	}
	if r := hist[2]; r.Status != CheckpointFailed || !strings.Contains(r.Error, "disk on fire") || !strings.Contains(r.Error, "snapper") || r.Duration <= 0 {
		t.Errorf("checkpoint %+v: want failed, with the operator's error and a duration", r)
	}
}

// TestCheckpointHistoryKeepsTheLast64: the history drops the oldest
// checkpoints beyond 64.
func TestCheckpointHistoryKeepsTheLast64(t *testing.T) {
	set := metrics.NewSet()
	g := liveValue(set, checkpointKey("j"), func() *checkpointGauges { return &checkpointGauges{} })
	for id := int64(1); id <= 100; id++ {
		g.begin(id, false, time.Now())
		g.end(id, 10*id, 0, "")
	}
	hist := Checkpoints(set, "j")
	if len(hist) != 64 || hist[0].ID != 37 || hist[63].ID != 100 || hist[63].Size != 1000 {
		t.Fatalf("%d records, from %d to %d: want the last 64 (37 to 100)", len(hist), hist[0].ID, hist[len(hist)-1].ID)
	}
}
