package bench

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice"
)

// CheckpointWorkload is the workload of the checkpoint benchmark: the
// tumbling COUNT+SUM over 1,000,000 keys and one-hour windows, so that the
// window operator holds a million keys of state when checkpoints are taken.
var CheckpointWorkload = Workload{Events: 200_000_000, Keys: 1_000_000, Window: time.Hour}

// CheckpointRun is one run of the checkpoint benchmark.
type CheckpointRun struct {
	Result
	Checkpoints int64 // completed during the run
	StateBytes  int64 // size of the largest one kept
}

// RunCheckpointed runs w through the Go API with checkpoints every interval
// (0: none) into a temporary folder, and reports how many completed. It
// returns ctx.Err() when ctx ends first.
func RunCheckpointed(ctx context.Context, w Workload, parallelism int, interval time.Duration) (CheckpointRun, error) {
	if interval <= 0 {
		r, err := runSluice(ctx, w, parallelism)
		return CheckpointRun{Result: r}, err
	}
	dir, err := os.MkdirTemp("", "sluice-bench-ck-")
	if err != nil {
		return CheckpointRun{}, err
	}
	defer os.RemoveAll(dir)
	set := metrics.NewSet()
	r, err := runSluice(ctx, w, parallelism, sluice.WithMetrics(set),
		sluice.WithCheckpoints(dir, interval))
	if err != nil {
		return CheckpointRun{}, err
	}
	out := CheckpointRun{Result: r}
	// The job is called "bench" (runSluice); the last checkpoint records
	// the end of input.
	done := set.GetOrCreateCounter(`sluice_checkpoints_completed_total{job="bench"}`).Get()
	out.Checkpoints = int64(done) - 1
	// The folder keeps the last checkpoints: the one that records the end
	// (its state is small) and those before it.
	files, _ := filepath.Glob(filepath.Join(dir, "chk-*", "state.bin"))
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			out.StateBytes = max(out.StateBytes, st.Size())
		}
	}
	return out, nil
}
