package runtime

import (
	"slices"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// OperatorStats are the counters of one operator of a running job at one
// moment, summed over its subtasks (WatermarkLag: the largest).
type OperatorStats struct {
	Job, Operator   string
	Subtasks        int
	RowsIn, RowsOut uint64
	BatchesIn       uint64
	LateRowsDropped uint64
	BadRecords      uint64
	StateKeys       int64
	// StateBytes is the memory of the operator's state as the operator
	// estimates it (StateSizer): refreshed while the job runs (at most
	// every StateSizeInterval) and when it ends; 0 for operators that make
	// no estimate.
	StateBytes int64
	// WatermarkLag is how far the operator's watermark is behind the wall
	// clock (0 before its first watermark and after its last).
	WatermarkLag time.Duration
	// Busy, Backpressured and Idle are the times of the subtasks, summed
	// (see SubtaskStats).
	Busy, Backpressured, Idle time.Duration
}

// SubtaskStats are the counters and times of one operator subtask at one
// moment. Busy is time spent processing, Backpressured time blocked sending
// to a full downstream lane, Idle time waiting for input; the three add up
// to the wall time of the subtask's current run. Operators fused into one
// task (a chain of forward edges) share its times. Two readings give the
// per-second rates (Flink's busyTimeMsPerSecond and its siblings).
type SubtaskStats struct {
	Job, Operator string
	// OperatorID is the operator's node id in the job's graph (the id of
	// its PlanOperator): several operators may share a name.
	OperatorID                int
	Subtask                   int
	RowsIn, RowsOut           uint64
	Busy, Backpressured, Idle time.Duration
	BatchesIn                 uint64
	LateRowsDropped           uint64
	BadRecords                uint64
	// StateKeys and StateBytes: see OperatorStats.
	StateKeys, StateBytes int64
	// Watermark is the subtask's current watermark, in event-time
	// milliseconds: MinWatermark before its first watermark, MaxWatermark
	// once its input has ended.
	Watermark int64
	// WatermarkLag is how far Watermark is behind the wall clock (0 before
	// the first watermark and after the last).
	WatermarkLag time.Duration
	// Lag is, for a source, how far it is behind in each partition it
	// reads (see Context.SetPartitionLag); nil for other operators.
	Lag []PartitionLag
}

// Subtasks reads the counters and times of every operator subtask whose
// metrics are in set, live while the job runs, sorted by job, operator and
// subtask. It is safe for concurrent use.
func Subtasks(set *metrics.Set) []SubtaskStats {
	var out []SubtaskStats
	for _, v := range liveValues(set) {
		m, ok := v.(*OperatorMetrics)
		if !ok {
			continue
		}
		busy, bp, idle := m.Times()
		out = append(out, SubtaskStats{Job: m.job, Operator: m.operator, OperatorID: m.id, Subtask: m.subtask,
			RowsIn: m.RowsIn.Get(), RowsOut: m.RowsOut.Get(), Busy: busy, Backpressured: bp, Idle: idle,
			BatchesIn: m.BatchesIn.Get(), LateRowsDropped: m.LateRowsDropped.Get(), BadRecords: m.BadRecords.Get(),
			StateKeys: m.StateKeys(), StateBytes: m.StateBytes(), Watermark: m.Watermark(), WatermarkLag: m.watermarkLag(), Lag: m.Lag()})
	}
	slices.SortFunc(out, func(a, b SubtaskStats) int {
		if c := strings.Compare(a.Job, b.Job); c != 0 {
			return c
		}
		if c := strings.Compare(a.Operator, b.Operator); c != 0 {
			return c
		}
		if a.OperatorID != b.OperatorID {
			return a.OperatorID - b.OperatorID
		}
		return a.Subtask - b.Subtask
	})
	return out
}

// JobStats is a snapshot of the operators of the jobs whose metrics are in
// one set, sorted by job and operator name.
type JobStats []OperatorStats

// Stats reads the counters of every operator whose metrics are in set —
// the Options.Metrics of a running job (or one that ran) — without going
// through their Prometheus text. Operators of one name (a query's calc
// steps) are summed into one; Subtasks tells them apart by OperatorID.
func Stats(set *metrics.Set) JobStats {
	var ms []*OperatorMetrics
	for _, v := range liveValues(set) {
		if m, ok := v.(*OperatorMetrics); ok {
			ms = append(ms, m)
		}
	}
	byOp := map[[2]string]*OperatorStats{}
	for _, m := range ms {
		k := [2]string{m.job, m.operator}
		s := byOp[k]
		if s == nil {
			s = &OperatorStats{Job: m.job, Operator: m.operator}
			byOp[k] = s
		}
		s.Subtasks++
		s.RowsIn += m.RowsIn.Get()
		s.RowsOut += m.RowsOut.Get()
		s.BatchesIn += m.BatchesIn.Get()
		s.LateRowsDropped += m.LateRowsDropped.Get()
		s.BadRecords += m.BadRecords.Get()
		s.StateKeys += m.StateKeys()
		s.StateBytes += m.StateBytes()
		s.WatermarkLag = max(s.WatermarkLag, m.watermarkLag())
		busy, bp, idle := m.Times()
		s.Busy += busy
		s.Backpressured += bp
		s.Idle += idle
	}
	out := make(JobStats, 0, len(byOp))
	for _, s := range byOp {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b OperatorStats) int {
		if c := strings.Compare(a.Job, b.Job); c != 0 {
			return c
		}
		return strings.Compare(a.Operator, b.Operator)
	})
	return out
}

// Operator returns the stats of the operator called name (see
// NodeSpec.Name), and whether it has any.
func (s JobStats) Operator(name string) (OperatorStats, bool) {
	for _, o := range s {
		if o.Operator == name {
			return o, true
		}
	}
	return OperatorStats{}, false
}

// Total sums the counters of every operator (WatermarkLag: the largest).
func (s JobStats) Total() OperatorStats {
	var t OperatorStats
	for _, o := range s {
		t.Subtasks += o.Subtasks
		t.RowsIn += o.RowsIn
		t.RowsOut += o.RowsOut
		t.BatchesIn += o.BatchesIn
		t.LateRowsDropped += o.LateRowsDropped
		t.BadRecords += o.BadRecords
		t.StateKeys += o.StateKeys
		t.StateBytes += o.StateBytes
		t.WatermarkLag = max(t.WatermarkLag, o.WatermarkLag)
		t.Busy += o.Busy
		t.Backpressured += o.Backpressured
		t.Idle += o.Idle
	}
	return t
}
