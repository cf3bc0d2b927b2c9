package runtime

import (
	"slices"
	"strconv"
	"time"
	"weak"

	"github.com/VictoriaMetrics/metrics"
)

// The status of a checkpoint (CheckpointRecord.Status).
const (
	CheckpointInProgress = "in_progress"
	CheckpointCompleted  = "completed"
	CheckpointFailed     = "failed"
)

// checkpointHistory is how many checkpoints Checkpoints keeps per job.
const checkpointHistory = 64

// CheckpointRecord is one checkpoint (or savepoint) of a job, as
// Checkpoints reports it.
type CheckpointRecord struct {
	ID        int64
	Savepoint bool
	// Trigger is when the coordinator started it.
	Trigger time.Time
	// Duration is from the trigger to its completion or failure (0 while
	// in progress).
	Duration time.Duration
	// Size is the bytes of state written (of a completed checkpoint).
	Size int64
	// Alignment is the longest time any subtask waited for the
	// checkpoint's barriers to arrive on all its inputs.
	Alignment time.Duration
	// Status is CheckpointInProgress, CheckpointCompleted or
	// CheckpointFailed.
	Status string
	// Error says why it failed.
	Error string
}

// Checkpoints returns the latest checkpoints of job whose metrics are in
// set (Options.Metrics), oldest first: the last 64, across the restarts of
// the job. It is safe for concurrent use, live while the job runs.
func Checkpoints(set *metrics.Set, job string) []CheckpointRecord {
	g := liveLookup[checkpointGauges](set, checkpointKey(job))
	if g == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.hist)
}

func checkpointKey(job string) string { return "checkpoint{job=" + strconv.Quote(job) + "}" }

// begin records a checkpoint just triggered.
func (g *checkpointGauges) begin(id int64, savepoint bool, at time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.hist) == checkpointHistory {
		g.hist = slices.Delete(g.hist, 0, 1)
	}
	g.hist = append(g.hist, CheckpointRecord{ID: id, Savepoint: savepoint, Trigger: at, Status: CheckpointInProgress})
}

// end records the end of checkpoint id: completed when err is "", else
// failed with err.
func (g *checkpointGauges) end(id int64, size int64, align time.Duration, err string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for i := len(g.hist) - 1; i >= 0; i-- {
		r := &g.hist[i]
		if r.ID != id {
			continue
		}
		r.Duration, r.Alignment = time.Since(r.Trigger), align
		if err != "" {
			r.Status, r.Error = CheckpointFailed, err
			return
		}
		r.Status, r.Size = CheckpointCompleted, size
		g.size, g.lastID = float64(size), float64(id)
		return
	}
}

// liveLookup returns the holder of key in set, or nil when there is none.
func liveLookup[T any](set *metrics.Set, key string) *T {
	liveMu.Lock()
	defer liveMu.Unlock()
	v, _ := live[weak.Make(set)][key].(*T)
	return v
}
