package runtime

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
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

// The states of a job (JobEventsInfo.State).
const (
	JobRunning    = "running"
	JobRestarting = "restarting" // failed, waiting to restart from its latest checkpoint
	JobFinished   = "finished"   // ended by itself, or stopped with a savepoint
	JobFailed     = "failed"
	JobCancelled  = "cancelled"
)

// jobErrorsKept is how many failures JobEvents keeps per job.
const jobErrorsKept = 20

// JobError is one failure of a job: of an operator (Operator and Subtask
// name it), of a checkpoint (Kind "checkpoint"), or of the job as a whole.
type JobError struct {
	Time time.Time
	// Kind is "operator", "checkpoint" or "job".
	Kind     string
	Operator string // "" when no operator failed
	Subtask  int    // -1 when no operator failed
	Message  string
}

// JobEventsInfo is the state of a job, its restarts and its latest
// failures, as JobEvents reports them.
type JobEventsInfo struct {
	// State is JobRunning, JobRestarting, JobFinished, JobFailed or
	// JobCancelled ("" for a job that never ran in the set).
	State string
	// Since is when the job entered State.
	Since time.Time
	// Restarts counts the in-process restarts after a failure
	// (RunWithRestarts, Supervise).
	Restarts int
	// Errors are the last 20 failures, oldest first: the operator errors
	// that failed a run, and the checkpoints that could not be taken.
	Errors []JobError
}

// JobEvents returns the state, restarts and latest failures of job, whose
// metrics are in set (Options.Metrics, or the set RunWithRestarts and
// Supervise share between runs), across its restarts. It is safe for
// concurrent use, live while the job runs.
func JobEvents(set *metrics.Set, job string) JobEventsInfo {
	ev := liveLookup[jobEvents](set, jobKey(job))
	if ev == nil {
		return JobEventsInfo{}
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return JobEventsInfo{State: ev.state, Since: ev.since, Restarts: ev.restarts, Errors: slices.Clone(ev.errors)}
}

func jobKey(job string) string { return "job{job=" + strconv.Quote(job) + "}" }

// jobEvents holds what JobEvents reports, shared by every run of a job in
// a metrics set (see liveValue). A nil *jobEvents records nothing.
type jobEvents struct {
	mu       sync.Mutex
	state    string
	since    time.Time
	restarts int
	errors   []JobError
}

func jobEventsOf(set *metrics.Set, job string) *jobEvents {
	return liveValue(set, jobKey(job), func() *jobEvents { return &jobEvents{} })
}

func (ev *jobEvents) setState(state string) {
	if ev == nil {
		return
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	ev.state, ev.since = state, time.Now()
}

// restarted counts a restart.
func (ev *jobEvents) restarted() {
	if ev == nil {
		return
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	ev.restarts++
}

// addError records a failure.
func (ev *jobEvents) addError(e JobError) {
	if ev == nil {
		return
	}
	e.Time = time.Now()
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if len(ev.errors) == jobErrorsKept {
		ev.errors = slices.Delete(ev.errors, 0, 1)
	}
	ev.errors = append(ev.errors, e)
}

// checkpointFailed records a checkpoint that could not be taken.
func (ev *jobEvents) checkpointFailed(id int64, err error) {
	msg := err.Error()
	if !strings.HasPrefix(msg, "checkpoint ") {
		msg = fmt.Sprintf("checkpoint %d: %s", id, msg)
	}
	ev.addError(JobError{Kind: "checkpoint", Subtask: -1, Message: msg})
}

// ended records how a run ended: err is what Run returns, ctx its context.
func (ev *jobEvents) ended(ctx context.Context, err error) {
	if ev == nil {
		return
	}
	var oe *OperatorError
	switch {
	case err == nil || errors.Is(err, ErrStoppedWithSavepoint):
		ev.setState(JobFinished)
	case errors.As(err, &oe):
		ev.addError(JobError{Kind: "operator", Operator: oe.Operator, Subtask: oe.Subtask, Message: oe.Err.Error()})
		ev.setState(JobFailed)
	case ctx.Err() != nil && !errors.Is(err, ErrSavepointTimeout):
		ev.setState(JobCancelled)
	default:
		ev.addError(JobError{Kind: "job", Subtask: -1, Message: err.Error()})
		ev.setState(JobFailed)
	}
}
