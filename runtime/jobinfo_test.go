package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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

// TestJobEventsOfARestartedJob: a job whose operator fails once restarts;
// JobEvents shows it restarting during the backoff, then running, then
// finished, with one restart and the operator's error naming it.
func TestJobEventsOfARestartedJob(t *testing.T) {
	j := newCkJob(4000, 2, 1000)
	set := metrics.NewSet()
	done := make(chan error, 1)
	go func() {
		done <- RunWithRestarts(context.Background(), j.g, Options{Parallelism: 2, Metrics: set,
			Checkpoints: &CheckpointOptions{Dir: t.TempDir(), Interval: 10 * time.Millisecond}},
			RestartOptions{Attempts: 2, MinBackoff: 200 * time.Millisecond})
	}()
	seen := map[string]bool{}
	var err error
	for wait := true; wait; {
		select {
		case err = <-done:
			wait = false
		case <-time.After(time.Millisecond):
		}
		seen[JobEvents(set, "ck").State] = true
	}
	if err != nil {
		t.Fatal(err)
	}
	j.check(t)
	if !seen[JobRunning] || !seen[JobRestarting] {
		t.Errorf("states seen while the job ran: %v, want running and restarting", seen)
	}
	ev := JobEvents(set, "ck")
	if ev.State != JobFinished || ev.Restarts != 1 || ev.Since.IsZero() {
		t.Errorf("events %+v: want finished after 1 restart", ev)
	}
	if len(ev.Errors) != 1 {
		t.Fatalf("errors %+v: want the one failure", ev.Errors)
	}
	if e := ev.Errors[0]; e.Kind != "operator" || e.Operator != "fail" || e.Subtask < 0 || e.Subtask > 1 || e.Message != "injected failure" || e.Time.IsZero() {
		t.Errorf("error %+v: want the failing operator's, with its subtask and message", e)
	}
	if ev := JobEvents(set, "other"); ev.State != "" || ev.Errors != nil {
		t.Error("a job that never ran has events")
	}
}

// TestJobEventsOfFailedAndCancelledJobs: a job that fails for good is
// failed, with its error; a cancelled one is cancelled, with none.
func TestJobEventsOfFailedAndCancelledJobs(t *testing.T) {
	t.Run("failed", func(t *testing.T) {
		j := newCkJob(4000, 1, 1000)
		set := metrics.NewSet()
		err := RunWithRestarts(context.Background(), j.g, Options{Parallelism: 1, Metrics: set,
			Checkpoints: &CheckpointOptions{Dir: t.TempDir(), Interval: 10 * time.Millisecond}}, RestartOptions{})
		if err == nil {
			t.Fatal("the job did not fail")
		}
		ev := JobEvents(set, "ck")
		if ev.State != JobFailed || ev.Restarts != 0 || len(ev.Errors) != 1 || ev.Errors[0].Operator != "fail" || ev.Errors[0].Subtask != 0 {
			t.Errorf("events %+v: want failed, with the operator's error", ev)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		j := newCkJob(1_000_000, 1, -1)
		set := metrics.NewSet()
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if err := Run(ctx, j.g, Options{Parallelism: 1, Metrics: set}); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Run returned %v", err)
		}
		if ev := JobEvents(set, "ck"); ev.State != JobCancelled || len(ev.Errors) != 0 {
			t.Errorf("events %+v: want cancelled, with no error", ev)
		}
	})
}

// TestCheckpointThatCannotBeWrittenIsAJobError: checkpoints the
// coordinator cannot write (their folder has become a file) are failed in
// the history and listed among the job's errors — the last 20 — without
// failing the job.
func TestCheckpointThatCannotBeWrittenIsAJobError(t *testing.T) {
	j := newCkJob(1_000_000_000, 1, -1)
	set := metrics.NewSet()
	dir := filepath.Join(t.TempDir(), "ck")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, j.g, Options{Parallelism: 1, Metrics: set,
			Checkpoints: &CheckpointOptions{Dir: dir, Interval: time.Millisecond}})
	}()
	wait := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no %s after 10 s: history %+v, events %+v", what, Checkpoints(set, "ck"), JobEvents(set, "ck"))
			}
		}
	}
	completed := func() bool {
		h := Checkpoints(set, "ck")
		return len(h) > 0 && h[0].Status == CheckpointCompleted
	}
	wait("completed checkpoint", completed)
	if err := os.Rename(dir, dir+".gone"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, []byte("in the way"), 0o644); err != nil {
		t.Fatal(err)
	}
	wait("21 checkpoint errors", func() bool {
		h := Checkpoints(set, "ck")
		failed := 0
		for _, r := range h {
			if r.Status == CheckpointFailed {
				failed++
			}
		}
		return failed > 20
	})
	if ev := JobEvents(set, "ck"); ev.State != JobRunning {
		t.Errorf("events %+v: want the job running on", ev)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	hist := Checkpoints(set, "ck")
	var firstFailed int64
	for _, r := range hist {
		if r.Status == CheckpointFailed && firstFailed == 0 {
			firstFailed = r.ID
		}
	}
	if last := hist[len(hist)-1]; last.Status != CheckpointFailed || !strings.Contains(last.Error, "not a directory") {
		t.Fatalf("the last checkpoint %+v: want failed, saying why", last)
	}
	ev := JobEvents(set, "ck")
	if ev.State != JobCancelled || len(ev.Errors) != 20 {
		t.Fatalf("events %+v: want cancelled, with the last 20 checkpoint errors", ev)
	}
	for _, e := range ev.Errors {
		if e.Kind != "checkpoint" || e.Operator != "" || e.Subtask != -1 || !strings.HasPrefix(e.Message, "checkpoint ") || !strings.Contains(e.Message, "not a directory") {
			t.Errorf("error %+v: want a checkpoint's", e)
		}
	}
	if strings.HasPrefix(ev.Errors[0].Message, fmt.Sprintf("checkpoint %d:", firstFailed)) {
		t.Errorf("the oldest error kept is checkpoint %d's, the first that failed: want it dropped", firstFailed)
	}
}

// TestJobEventsOfASupervisedJob: a supervised job that fails once
// restarts and finishes; one stopped with a savepoint is finished, its
// savepoint the last checkpoint of its history.
func TestJobEventsOfASupervisedJob(t *testing.T) {
	t.Run("restarted", func(t *testing.T) {
		j := newCkJob(6000, 2, 2000)
		set := metrics.NewSet()
		err := Supervise(context.Background(), j.g, Options{Parallelism: 2, Metrics: set},
			SupervisorOptions{Dir: t.TempDir(), Interval: 10 * time.Millisecond, RestartAttempts: 3})
		if err != nil {
			t.Fatal(err)
		}
		j.check(t)
		ev := JobEvents(set, "ck")
		if ev.State != JobFinished || ev.Restarts != 1 || len(ev.Errors) != 1 || ev.Errors[0].Operator != "fail" {
			t.Errorf("events %+v: want finished after a restart, with the operator's error", ev)
		}
	})
	t.Run("savepoint", func(t *testing.T) {
		j := newCkJob(1_000_000, 2, -1)
		set := metrics.NewSet()
		stop := make(chan struct{})
		time.AfterFunc(60*time.Millisecond, func() { close(stop) })
		err := Supervise(context.Background(), j.g, Options{Parallelism: 2, Metrics: set},
			SupervisorOptions{Dir: t.TempDir(), Interval: 10 * time.Millisecond, StopWithSavepoint: stop})
		if !errors.Is(err, ErrStoppedWithSavepoint) {
			t.Fatalf("Supervise returned %v, want a savepoint", err)
		}
		if ev := JobEvents(set, "ck"); ev.State != JobFinished || len(ev.Errors) != 0 {
			t.Errorf("events %+v: want finished, without errors", ev)
		}
		hist := Checkpoints(set, "ck")
		if last := hist[len(hist)-1]; !last.Savepoint || last.Status != CheckpointCompleted || last.Size <= 0 {
			t.Errorf("the last checkpoint %+v: want the completed savepoint", last)
		}
	})
}
