package console

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/runtime"
)

var osHostname = os.Hostname

// Job is a job the console shows.
type Job struct {
	// Name is the job's name (the graph's).
	Name string
	// Plan is its physical plan.
	Plan runtime.PhysicalPlan
	// Metrics is the job's metrics set (runtime.Options.Metrics).
	Metrics *metrics.Set

	started time.Time
	stop    chan struct{}
	wg      sync.WaitGroup

	mu         sync.Mutex
	prev, last sample
	ended      time.Time
	endOnce    sync.Once
	result     string // the state it ended in; "" when not told
}

// sample is a reading of a job's subtasks.
type sample struct {
	at       time.Time
	subtasks map[[2]int]runtime.SubtaskStats // by operator id and subtask
}

// SampleInterval is the time between two readings of a job's counters,
// from which the rates per second come.
var SampleInterval = time.Second

// AddJob shows j on the console until the returned function is called (the
// job's page then shows it ended, with its last figures).
func (s *Server) AddJob(j *Job) (ended func()) {
	j.started = time.Now()
	j.stop = make(chan struct{})
	j.read()
	j.wg.Add(1)
	go func() {
		defer j.wg.Done()
		t := time.NewTicker(SampleInterval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				j.read()
			case <-j.stop:
				return
			}
		}
	}()
	s.mu.Lock()
	for i, o := range s.jobs {
		if o.Name == j.Name {
			s.jobs = append(s.jobs[:i], s.jobs[i+1:]...)
			break
		}
	}
	s.jobs = append(s.jobs, j)
	s.mu.Unlock()
	return func() { j.end("") }
}

// End marks j ended with err, what its run returned. The job stays on the
// console, with its last figures, in the state the runtime says it ended
// in (runtime.JobEvents) or, when it says nothing, the one err tells:
// finished (nil, or stopped with a savepoint), cancelled (its context
// ended) or failed.
func (j *Job) End(err error) {
	switch {
	case err == nil, errors.Is(err, runtime.ErrStoppedWithSavepoint):
		j.end(runtime.JobFinished)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		j.end(runtime.JobCancelled)
	default:
		j.end(runtime.JobFailed)
	}
}

// end stops sampling j after a last reading; state is the state it ended
// in ("": not known, shown as ended).
func (j *Job) end(state string) {
	j.endOnce.Do(func() {
		close(j.stop)
		j.wg.Wait()
		j.read()
		j.mu.Lock()
		j.ended = time.Now()
		j.result = state
		j.mu.Unlock()
	})
}

// read takes a sample of j's counters.
func (j *Job) read() {
	now := sample{at: time.Now(), subtasks: map[[2]int]runtime.SubtaskStats{}}
	for _, st := range runtime.Subtasks(j.Metrics) {
		if st.Job == j.Name {
			now.subtasks[[2]int{st.OperatorID, st.Subtask}] = st
		}
	}
	j.mu.Lock()
	j.prev, j.last = j.last, now
	j.mu.Unlock()
}

// JobView is what /api/v1/job returns.
type JobView struct {
	Name string `json:"name"`
	// State is running, restarting, finished, failed or cancelled; ended
	// when the job ended without saying how.
	State     string `json:"state"`
	StartedMs int64  `json:"started_ms"`
	// EndedMs is when the job ended (null while it runs).
	EndedMs     *int64               `json:"ended_ms"`
	NowMs       int64                `json:"now_ms"`
	Parallelism int                  `json:"parallelism"`
	Plan        runtime.PhysicalPlan `json:"plan"`
	// Restarts counts the job's restarts after a failure.
	Restarts int `json:"restarts"`
	// Errors are the job's last failures, oldest first.
	Errors []ErrorView `json:"errors"`
	// Checkpoints are the job's last checkpoints, newest last.
	Checkpoints []CheckpointView `json:"checkpoints"`
	Operators   []OperatorView   `json:"operators"`
}

// ErrorView is a failure of the job: an operator's error (Operator and
// Subtask name it), a checkpoint that could not be taken, or the job's.
type ErrorView struct {
	TimeMs int64 `json:"time_ms"`
	// Kind is operator, checkpoint or job.
	Kind     string `json:"kind"`
	Operator string `json:"operator"` // "" when no operator failed
	Subtask  int    `json:"subtask"`  // -1 when no operator failed
	Message  string `json:"message"`
}

// CheckpointView is a checkpoint (or savepoint) of the job. Status is
// in_progress, completed or failed (with Error).
type CheckpointView struct {
	ID          int64  `json:"id"`
	Savepoint   bool   `json:"savepoint"`
	TriggerMs   int64  `json:"trigger_ms"`
	DurationMs  int64  `json:"duration_ms"`
	SizeBytes   int64  `json:"size_bytes"`
	AlignmentMs int64  `json:"alignment_ms"`
	Status      string `json:"status"`
	Error       string `json:"error"`
}

// OperatorView is one operator of a JobView: totals and rates over its
// subtasks (busy, backpressured and idle: their mean; watermark: the
// least; watermark lag: the most; lag: every subtask's), and each subtask.
type OperatorView struct {
	ID          int    `json:"id"`
	Name        string `json:"name"`
	Kind        string `json:"kind"`
	Parallelism int    `json:"parallelism"`
	SubtaskView
	Subtasks []SubtaskView `json:"subtasks"`
}

// SubtaskView is the counters and rates of one subtask (or an operator's
// totals). Rates are per second over the last SampleInterval; the
// *_ms_per_s times are as Flink's busyTimeMsPerSecond (0 to 1000).
type SubtaskView struct {
	Subtask               int     `json:"subtask"`
	RowsIn                uint64  `json:"rows_in"`
	RowsOut               uint64  `json:"rows_out"`
	RowsInPerSecond       float64 `json:"rows_in_per_s"`
	RowsOutPerSecond      float64 `json:"rows_out_per_s"`
	BusyMsPerSecond       float64 `json:"busy_ms_per_s"`
	BackpressuredMsPerSec float64 `json:"backpressured_ms_per_s"`
	IdleMsPerSecond       float64 `json:"idle_ms_per_s"`
	// WatermarkMs is the current watermark in event-time milliseconds:
	// null before the first one, and once the input has ended.
	WatermarkMs *int64 `json:"watermark_ms"`
	// WatermarkLagMs is the wall clock minus the watermark (0 without one).
	WatermarkLagMs int64  `json:"watermark_lag_ms"`
	StateKeys      int64  `json:"state_keys"`
	StateBytes     int64  `json:"state_bytes"`
	LateRows       uint64 `json:"late_rows"`
	BadRecords     uint64 `json:"bad_records"`
	// Lag is a source's lag per partition, as it last reported it.
	Lag []LagView `json:"lag"`
}

// LagView is how far a source's reading of one partition (a store shard,
// a Kafka partition) is behind its newest record; -1: unknown.
type LagView struct {
	Partition    string `json:"partition"`
	MillisBehind int64  `json:"millis_behind"`
	OffsetLag    int64  `json:"offset_lag"`
}

// view returns j as the API shows it.
func (j *Job) view() JobView {
	j.mu.Lock()
	prev, last, ended, result := j.prev, j.last, j.ended, j.result
	j.mu.Unlock()
	v := JobView{Name: j.Name, State: "running", StartedMs: j.started.UnixMilli(), NowMs: time.Now().UnixMilli(),
		Parallelism: j.Plan.Parallelism, Plan: j.Plan, Errors: []ErrorView{}, Checkpoints: []CheckpointView{},
		Operators: []OperatorView{}}
	j.events(&v)
	if !ended.IsZero() {
		// The runtime's word on how it ended, else End's, else "ended".
		if v.State == runtime.JobRunning || v.State == runtime.JobRestarting {
			v.State = "ended"
			if result != "" {
				v.State = result
			}
		}
		ms := ended.UnixMilli()
		v.EndedMs = &ms
	}
	for _, c := range runtime.Checkpoints(j.Metrics, j.Name) {
		v.Checkpoints = append(v.Checkpoints, CheckpointView{ID: c.ID, Savepoint: c.Savepoint, TriggerMs: c.Trigger.UnixMilli(),
			DurationMs: c.Duration.Milliseconds(), SizeBytes: c.Size, AlignmentMs: c.Alignment.Milliseconds(), Status: c.Status,
			Error: c.Error})
	}
	secs := last.at.Sub(prev.at).Seconds()
	for _, op := range j.Plan.Operators {
		ov := OperatorView{ID: op.ID, Name: op.Name, Kind: op.Kind, Parallelism: op.Parallelism, Subtasks: []SubtaskView{}}
		ov.Subtask = -1
		ov.Lag = []LagView{}
		wm := runtime.MaxWatermark // the least of the subtasks'
		for i := range op.Parallelism {
			cur, ok := last.subtasks[[2]int{op.ID, i}]
			if !ok {
				continue
			}
			sv := SubtaskView{Subtask: i, RowsIn: cur.RowsIn, RowsOut: cur.RowsOut, WatermarkMs: watermark(cur.Watermark),
				WatermarkLagMs: cur.WatermarkLag.Milliseconds(), StateKeys: cur.StateKeys, StateBytes: cur.StateBytes,
				LateRows: cur.LateRowsDropped, BadRecords: cur.BadRecords, Lag: []LagView{}}
			for _, l := range cur.Lag {
				sv.Lag = append(sv.Lag, LagView{Partition: l.Partition, MillisBehind: l.MillisBehind, OffsetLag: l.OffsetLag})
			}
			if old, ok := prev.subtasks[[2]int{op.ID, i}]; ok && secs > 0 {
				sv.RowsInPerSecond = rate(cur.RowsIn, old.RowsIn, secs)
				sv.RowsOutPerSecond = rate(cur.RowsOut, old.RowsOut, secs)
				sv.BusyMsPerSecond = msPerSecond(cur.Busy-old.Busy, secs)
				sv.BackpressuredMsPerSec = msPerSecond(cur.Backpressured-old.Backpressured, secs)
				sv.IdleMsPerSecond = msPerSecond(cur.Idle-old.Idle, secs)
			}
			ov.Subtasks = append(ov.Subtasks, sv)
			ov.RowsIn += sv.RowsIn
			ov.RowsOut += sv.RowsOut
			ov.RowsInPerSecond += sv.RowsInPerSecond
			ov.RowsOutPerSecond += sv.RowsOutPerSecond
			ov.BusyMsPerSecond += sv.BusyMsPerSecond
			ov.BackpressuredMsPerSec += sv.BackpressuredMsPerSec
			ov.IdleMsPerSecond += sv.IdleMsPerSecond
			wm = min(wm, cur.Watermark)
			ov.WatermarkLagMs = max(ov.WatermarkLagMs, sv.WatermarkLagMs)
			ov.StateKeys += sv.StateKeys
			ov.StateBytes += sv.StateBytes
			ov.LateRows += sv.LateRows
			ov.BadRecords += sv.BadRecords
			ov.Lag = append(ov.Lag, sv.Lag...)
		}
		if n := float64(len(ov.Subtasks)); n > 0 {
			ov.BusyMsPerSecond /= n
			ov.BackpressuredMsPerSec /= n
			ov.IdleMsPerSecond /= n
			ov.WatermarkMs = watermark(wm)
		}
		v.Operators = append(v.Operators, ov)
	}
	return v
}

// watermark is a watermark as the API shows it: nil for none (before the
// first watermark) and for the end of the input.
func watermark(ms int64) *int64 {
	if ms == runtime.MinWatermark || ms == runtime.MaxWatermark {
		return nil
	}
	return &ms
}

func rate(cur, old uint64, secs float64) float64 {
	if cur < old {
		return 0 // a restart began again from zero
	}
	return float64(cur-old) / secs
}

func msPerSecond(d time.Duration, secs float64) float64 {
	return min(1000, max(0, float64(d.Milliseconds())/secs))
}

// serveJobs lists the jobs' names.
func (s *Server) serveJobs(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	names := make([]string, 0, len(s.jobs))
	for _, j := range s.jobs {
		names = append(names, j.Name)
	}
	s.mu.Unlock()
	writeJSON(w, map[string]any{"jobs": names})
}

// serveJob serves the job named by ?name= (default: the last one added).
func (s *Server) serveJob(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	s.mu.Lock()
	var j *Job
	for _, o := range s.jobs {
		if name == "" || o.Name == name {
			j = o
		}
	}
	s.mu.Unlock()
	if j == nil {
		if name == "" {
			http.Error(w, "no job runs in this process", http.StatusNotFound)
		} else {
			http.Error(w, "no job "+name, http.StatusNotFound)
		}
		return
	}
	writeJSON(w, j.view())
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}

// events fills in v's state, restarts and errors from what the runtime
// tells of the job (runtime.JobEvents).
func (j *Job) events(v *JobView) {
	ev := runtime.JobEvents(j.Metrics, j.Name)
	if ev.State != "" {
		v.State = ev.State
	}
	v.Restarts = ev.Restarts
	for _, e := range ev.Errors {
		v.Errors = append(v.Errors, ErrorView{TimeMs: e.Time.UnixMilli(), Kind: e.Kind, Operator: e.Operator, Subtask: e.Subtask,
			Message: e.Message})
	}
}
