package runtime

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	"github.com/VictoriaMetrics/metrics"
)

// OperatorMetrics are the metrics of one operator subtask, exported in
// Prometheus text format as sluice_* series labelled by job, operator and
// subtask. Counters are updated once per batch, not per row.
type OperatorMetrics struct {
	RowsIn          *metrics.Counter
	RowsOut         *metrics.Counter
	BatchesIn       *metrics.Counter
	LateRowsDropped *metrics.Counter
	// BadRecords counts input records that could not be decoded and went to
	// the error path instead.
	BadRecords *metrics.Counter

	stateKeys  atomic.Int64
	stateBytes atomic.Int64 // refreshed while the job runs: see StateSizer
	watermark  atomic.Int64

	// clock is the time clock of the task (goroutine) that runs the
	// subtask, shared by the operators fused into it; nil before a run.
	clock atomic.Pointer[taskClock]

	job, operator string // of the labels, for Stats
	id            int    // the operator's node id: operators may share a name
	subtask       int

	// lag: per partition of a source, how far its reading is behind (see
	// SetPartitionLag); lagMu guards it.
	lagMu sync.Mutex
	lag   map[string]*partLag
}

// partLag is the lag of one partition, and which of its gauges are
// registered.
type partLag struct {
	millis, offsets   int64
	millisG, offsetsG bool
}

// PartitionLag is how far a source subtask's reading of one partition of
// its input (a shard, a topic partition) is behind the partition's newest
// record, as the source last reported it (Context.SetPartitionLag): in
// milliseconds (a store shard's MillisBehindLatest) and in records (a
// Kafka partition's high watermark minus the next offset to read); -1 when
// the source does not know.
type PartitionLag struct {
	Partition    string
	MillisBehind int64
	OffsetLag    int64
}

// SetPartitionLag reports how far the subtask's reading of partition is
// behind its newest record: millisBehind in milliseconds, offsetLag in
// records (-1: unknown). A source calls it when it learns the lag — at
// most once per fetch, not per record; it is safe to call from the
// source's own goroutines. The values go to Subtasks (SubtaskStats.Lag)
// and to the gauges sluice_source_millis_behind_latest and
// sluice_source_offset_lag, labelled by partition (a gauge appears once
// its value is first known). They stay after the partition's last report.
func (c *Context) SetPartitionLag(partition string, millisBehind, offsetLag int64) {
	if c == nil || c.Metrics == nil {
		return
	}
	c.Metrics.setPartitionLag(c.JobMetrics(), partition, millisBehind, offsetLag)
}

func (m *OperatorMetrics) setPartitionLag(set *metrics.Set, partition string, millis, offsets int64) {
	m.lagMu.Lock()
	if m.lag == nil {
		m.lag = map[string]*partLag{}
	}
	p := m.lag[partition]
	if p == nil {
		p = &partLag{}
		m.lag[partition] = p
	}
	p.millis, p.offsets = millis, offsets
	newMillis, newOffsets := millis >= 0 && !p.millisG, offsets >= 0 && !p.offsetsG
	p.millisG, p.offsetsG = p.millisG || newMillis, p.offsetsG || newOffsets
	m.lagMu.Unlock()
	if !newMillis && !newOffsets {
		return
	}
	// Registered outside lagMu: the set holds its own lock while it reads
	// the gauges, which take lagMu.
	labels := fmt.Sprintf(`{job=%s,operator=%s,operator_id="%d",subtask="%d",partition=%s}`, strconv.Quote(m.job), strconv.Quote(m.operator), m.id, m.subtask, strconv.Quote(partition))
	read := func(f func(*partLag) int64) func() float64 {
		return func() float64 {
			m.lagMu.Lock()
			defer m.lagMu.Unlock()
			return float64(f(m.lag[partition]))
		}
	}
	if newMillis {
		set.GetOrCreateGauge("sluice_source_millis_behind_latest"+labels, read(func(p *partLag) int64 { return p.millis }))
	}
	if newOffsets {
		set.GetOrCreateGauge("sluice_source_offset_lag"+labels, read(func(p *partLag) int64 { return p.offsets }))
	}
}

// Lag returns the lag of every partition the subtask has reported (see
// SetPartitionLag), sorted by partition.
func (m *OperatorMetrics) Lag() []PartitionLag {
	m.lagMu.Lock()
	defer m.lagMu.Unlock()
	if len(m.lag) == 0 {
		return nil
	}
	out := make([]PartitionLag, 0, len(m.lag))
	for name, p := range m.lag {
		out = append(out, PartitionLag{Partition: name, MillisBehind: p.millis, OffsetLag: p.offsets})
	}
	slices.SortFunc(out, func(a, b PartitionLag) int { return strings.Compare(a.Partition, b.Partition) })
	return out
}

// taskClock splits the wall time of one task (a goroutine running a source
// or an input-driven operator with its fused chain) into idle time (waiting
// for input), backpressured time (waiting for room in a downstream lane)
// and busy time (the rest). Only blocking waits are timed, so a task that
// never waits reads no clock. Nanoseconds, in atomics: read at any time.
type taskClock struct {
	start, end    atomic.Int64 // unix ns; end is 0 while the task runs
	idle          atomic.Int64
	backpressured atomic.Int64
}

func (c *taskClock) addIdle(d time.Duration) {
	if c != nil && d > 0 {
		c.idle.Add(int64(d))
	}
}

// idleSoFar is the idle time counted so far.
func (c *taskClock) idleSoFar() time.Duration {
	if c == nil {
		return 0
	}
	return time.Duration(c.idle.Load())
}

// clockKey is the key of the task clock in the context a source's Poll
// gets.
type clockKey struct{}

// Waited records that a source spent d inside Poll waiting for input (a
// long poll, its reader goroutines' next fetch): ctx is the context Poll
// was given. That time is the subtask's idle time, as an operator's wait
// on its inbox is, instead of busy time. A poll that returns no rows
// counts as waiting as a whole; sources whose polls wait and then return
// rows say how long they waited.
func Waited(ctx context.Context, d time.Duration) {
	if c, ok := ctx.Value(clockKey{}).(*taskClock); ok {
		c.addIdle(d)
	}
}

func (c *taskClock) addBackpressured(d time.Duration) {
	if c != nil {
		c.backpressured.Add(int64(d))
	}
}

// times returns the busy, backpressured and idle time of the task so far.
func (c *taskClock) times() (busy, backpressured, idle time.Duration) {
	if c == nil {
		return 0, 0, 0
	}
	start := c.start.Load()
	if start == 0 {
		return 0, 0, 0
	}
	end := c.end.Load()
	if end == 0 {
		end = time.Now().UnixNano()
	}
	backpressured = time.Duration(c.backpressured.Load())
	idle = time.Duration(c.idle.Load())
	busy = max(0, time.Duration(end-start)-backpressured-idle)
	return busy, backpressured, idle
}

// Times returns how long the subtask has been busy (processing),
// backpressured (blocked sending to a full downstream lane) and idle
// (waiting for input) in its current run, live while the job runs. The
// operators fused into one task share its times. Rates per second come
// from two readings, as Flink's busyTimeMsPerSecond and its siblings.
func (m *OperatorMetrics) Times() (busy, backpressured, idle time.Duration) {
	return m.clock.Load().times()
}

// SetStateKeys records how many keys the operator holds in state.
func (m *OperatorMetrics) SetStateKeys(n int) { m.stateKeys.Store(int64(n)) }

// StateKeys returns the last value given to SetStateKeys.
func (m *OperatorMetrics) StateKeys() int64 { return m.stateKeys.Load() }

// StateBytes returns the operator's latest estimate of its state's memory
// (see StateSizer): refreshed by the subtask's goroutine while the job runs,
// at most every StateSizeInterval, and once more when the job ends; 0
// before the first estimate and for operators that make none.
func (m *OperatorMetrics) StateBytes() int64 { return m.stateBytes.Load() }

// Watermark returns the subtask's current watermark in event-time
// milliseconds: MinWatermark before its first watermark, MaxWatermark once
// its input has ended.
func (m *OperatorMetrics) Watermark() int64 { return m.watermark.Load() }

// watermarkLag is how far the subtask's watermark is behind the wall
// clock (0 before its first watermark and after its last).
func (m *OperatorMetrics) watermarkLag() time.Duration {
	wm := m.watermark.Load()
	if wm == MinWatermark || wm == MaxWatermark {
		return 0
	}
	return time.Duration(time.Now().UnixMilli()-wm) * time.Millisecond
}

// NewOperatorMetrics returns the metrics of subtask subtask of operator in
// job, registered in set, as the operator of node id 0. The runtime makes
// them for every subtask it runs; tests that drive an operator directly use
// this to give it a Context with working metrics.
func NewOperatorMetrics(set *metrics.Set, job, operator string, subtask int) *OperatorMetrics {
	return newOperatorMetrics(set, job, operator, 0, subtask)
}

// newOperatorMetrics returns the metrics of a subtask of operator op, node
// id of the job's graph. Series are labelled by name and id: a plan may
// have several operators of one name (a query's calc steps).
func newOperatorMetrics(set *metrics.Set, job, op string, id, subtask int) *OperatorMetrics {
	labels := fmt.Sprintf(`{job=%s,operator=%s,operator_id="%d",subtask="%d"}`, strconv.Quote(job), strconv.Quote(op), id, subtask)
	m := liveValue(set, "operator"+labels, func() *OperatorMetrics {
		m := &OperatorMetrics{
			job: job, operator: op, id: id, subtask: subtask,
			RowsIn:          set.GetOrCreateCounter("sluice_operator_rows_in_total" + labels),
			RowsOut:         set.GetOrCreateCounter("sluice_operator_rows_out_total" + labels),
			BatchesIn:       set.GetOrCreateCounter("sluice_operator_batches_in_total" + labels),
			LateRowsDropped: set.GetOrCreateCounter("sluice_operator_late_rows_dropped_total" + labels),
			BadRecords:      set.GetOrCreateCounter("sluice_operator_bad_records_total" + labels),
		}
		set.GetOrCreateGauge("sluice_operator_state_keys"+labels, func() float64 { return float64(m.stateKeys.Load()) })
		set.GetOrCreateGauge("sluice_operator_state_bytes"+labels, func() float64 { return float64(m.stateBytes.Load()) })
		set.GetOrCreateGauge("sluice_operator_watermark_lag_seconds"+labels, func() float64 { return m.watermarkLag().Seconds() })
		set.GetOrCreateGauge("sluice_operator_busy_seconds_total"+labels, func() float64 { b, _, _ := m.Times(); return b.Seconds() })
		set.GetOrCreateGauge("sluice_operator_backpressured_seconds_total"+labels, func() float64 { _, bp, _ := m.Times(); return bp.Seconds() })
		set.GetOrCreateGauge("sluice_operator_idle_seconds_total"+labels, func() float64 { _, _, i := m.Times(); return i.Seconds() })
		return m
	})
	// A new run of the job (a restart) starts from nothing.
	m.stateKeys.Store(0)
	m.stateBytes.Store(0)
	m.watermark.Store(MinWatermark)
	return m
}

// Gauges read per-run values through holders shared by every run in a
// metrics set: VictoriaMetrics keeps the first function given to
// GetOrCreateGauge for a name, so a gauge that captured one run would show
// that run's values forever after a restart. live maps a set and a key to
// its holder; liveMu guards it. The set is held weakly (the holders do not
// point to it): a caller's set (Options.Metrics) that is dropped goes, with
// its holders, instead of staying for the life of the process.
var (
	liveMu sync.Mutex
	live   = map[weak.Pointer[metrics.Set]]map[string]any{}
)

// liveValue returns the holder of key in set, made by mk (which registers
// the gauges reading it) the first time.
func liveValue[T any](set *metrics.Set, key string, mk func() *T) *T {
	liveMu.Lock()
	defer liveMu.Unlock()
	wp := weak.Make(set)
	m := live[wp]
	if m == nil {
		m = map[string]any{}
		live[wp] = m
		runtime.AddCleanup(set, forgetWeak, wp)
	}
	if v, ok := m[key].(*T); ok {
		return v
	}
	v := mk()
	m[key] = v
	return v
}

// liveValues returns the holders of set.
func liveValues(set *metrics.Set) []any {
	liveMu.Lock()
	defer liveMu.Unlock()
	var vs []any
	for _, v := range live[weak.Make(set)] {
		vs = append(vs, v)
	}
	return vs
}

// forgetSet drops the holders of a set that is no longer used.
func forgetSet(set *metrics.Set) { forgetWeak(weak.Make(set)) }

func forgetWeak(wp weak.Pointer[metrics.Set]) {
	liveMu.Lock()
	delete(live, wp)
	liveMu.Unlock()
}
