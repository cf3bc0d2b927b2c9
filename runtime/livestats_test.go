package runtime

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// gateSource emits n rows (ids 0…n-1, event time = id ms) in batches of
// 100, sleeping before each, then waits for gate to close before it ends.
type gateSource struct {
	n, next int64
	sleep   time.Duration
	gate    <-chan struct{}
	b       *Batch
}

func (s *gateSource) Open(*Context) error { s.b = NewBatch(ckSchema); return nil }
func (s *gateSource) Poll(ctx context.Context) (*Batch, int, error) {
	if s.next >= s.n {
		select {
		case <-s.gate:
			return nil, 0, io.EOF
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		case <-time.After(5 * time.Millisecond):
			return nil, 0, nil
		}
	}
	time.Sleep(s.sleep)
	s.b.Reset()
	for i := 0; i < 100 && s.next < s.n; i++ {
		s.b.AppendValues(IntValue(s.next%7), IntValue(s.next), TimeValue(s.next))
		s.next++
	}
	return s.b, 0, nil
}
func (s *gateSource) Close() error { return nil }

// lateCounter counts every tenth row as late and every seventh as a bad
// record, then keeps the rows (keeper).
type lateCounter struct{ keeper }

func (l *lateCounter) ProcessBatch(in int, b *Batch, out Output) error {
	for i := 0; i < b.Len(); i++ {
		id := b.Cols[1].I64[b.Row(i)]
		if id%10 == 0 {
			l.ctx.Metrics.LateRowsDropped.Inc()
		}
		if id%7 == 0 {
			l.ctx.Metrics.BadRecords.Inc()
		}
	}
	return l.keeper.ProcessBatch(in, b, out)
}

// subtaskOf returns the stats of one subtask from Subtasks(set).
func subtaskOf(t *testing.T, set *metrics.Set, op string, sub int) SubtaskStats {
	t.Helper()
	for _, s := range Subtasks(set) {
		if s.Operator == op && s.Subtask == sub {
			return s
		}
	}
	t.Fatalf("no subtask %d of %s in %+v", sub, op, Subtasks(set))
	return SubtaskStats{}
}

// TestStateBytesAreLiveWhileTheJobRuns: an operator's state estimate
// (StateSizer) reaches Subtasks, Stats and sluice_operator_state_bytes
// while the job still runs — the idle subtask refreshes it once it is due
// — and Subtasks carries each subtask's late rows, bad records, batches,
// state keys and watermark.
func TestStateBytesAreLiveWhileTheJobRuns(t *testing.T) {
	gate := make(chan struct{})
	g := NewGraph("live")
	src := g.AddSource("numbers", ckSchema, 1, func() Source { return &gateSource{n: 1000, sleep: 20 * time.Millisecond, gate: gate} }, WatermarkStrategy{TimeColumn: 2})
	g.Connect(src, g.AddOperator("keeper", ckSchema, 2, 1, func() Operator { return &lateCounter{} }), Rebalance)
	set := metrics.NewSet()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- Run(context.Background(), g, Options{Metrics: set}) }()
	deadline := time.Now().Add(3 * StateSizeInterval)
	for {
		k, _ := Stats(set).Operator("keeper")
		if k.StateBytes == 1000*16 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("keeper: %d state bytes while the job runs, want %d", k.StateBytes, 1000*16)
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("the job ended (%v) before the gate opened", err)
	default:
	}
	var text strings.Builder
	set.WritePrometheus(&text)
	var bytes, lateRows, bad, batches uint64
	for sub := range 2 {
		s := subtaskOf(t, set, "keeper", sub)
		bytes += uint64(s.StateBytes)
		lateRows += s.LateRowsDropped
		bad += s.BadRecords
		batches += s.BatchesIn
		if s.StateBytes != 16*s.StateKeys || s.StateKeys == 0 {
			t.Errorf("keeper %d: %d keys and %d state bytes, want 16 bytes a key", sub, s.StateKeys, s.StateBytes)
		}
		if s.Watermark != 998 {
			t.Errorf("keeper %d: watermark %d while the job runs, want 998 (below the largest event time)", sub, s.Watermark)
		}
		if lag := time.Since(time.UnixMilli(998)); s.WatermarkLag < lag-time.Minute || s.WatermarkLag > lag+time.Minute {
			t.Errorf("keeper %d: watermark lag %v, want about %v", sub, s.WatermarkLag, lag)
		}
		series := `sluice_operator_state_bytes{job="live",operator="keeper",operator_id="1",subtask="` + string(rune('0'+sub)) + `"} `
		if !strings.Contains(text.String(), series) {
			t.Errorf("no series %s in:\n%s", series, text.String())
		}
	}
	if time.Since(start) < StateSizeInterval {
		t.Errorf("the state bytes of the whole input after %v: the first estimate comes with the first batch, the next %v later", time.Since(start), StateSizeInterval)
	}
	if lateRows != 100 || bad != 143 || batches != 10 {
		t.Errorf("keeper: %d late rows, %d bad records, %d batches in; want 100, 143 and 10", lateRows, bad, batches)
	}
	close(gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for sub := range 2 {
		if s := subtaskOf(t, set, "keeper", sub); s.Watermark != MaxWatermark || s.WatermarkLag != 0 {
			t.Errorf("keeper %d at the end: watermark %d and lag %v, want MaxWatermark and 0", sub, s.Watermark, s.WatermarkLag)
		}
	}
}

// lagSource reports, at each poll, a lag for partitions "a" and "b" that
// shrinks to 0, then ends.
type lagSource struct {
	ctx  *Context
	left int64
	b    *Batch
}

func (s *lagSource) Open(ctx *Context) error { s.ctx, s.b = ctx, NewBatch(ckSchema); return nil }
func (s *lagSource) Poll(context.Context) (*Batch, int, error) {
	if s.left < 0 {
		return nil, 0, io.EOF
	}
	s.ctx.SetPartitionLag("b", 10*s.left, -1)
	s.ctx.SetPartitionLag("a", -1, s.left)
	s.left--
	s.b.Reset()
	s.b.AppendValues(IntValue(1), IntValue(s.left), TimeValue(0))
	return s.b, 0, nil
}
func (s *lagSource) Close() error { return nil }

// TestPartitionLagReachesSubtasksAndGauges: what a source reports with
// SetPartitionLag is in its SubtaskStats.Lag, sorted by partition, and in
// the gauges sluice_source_millis_behind_latest and
// sluice_source_offset_lag — a gauge only for what the source knows.
func TestPartitionLagReachesSubtasksAndGauges(t *testing.T) {
	g := NewGraph("lagging")
	src := g.AddSource("src", ckSchema, 1, func() Source { return &lagSource{left: 5} }, NoWatermarks)
	g.Connect(src, g.AddOperator("keeper", ckSchema, 1, 1, func() Operator { return &keeper{} }), Forward)
	set := metrics.NewSet()
	if err := Run(context.Background(), g, Options{Metrics: set}); err != nil {
		t.Fatal(err)
	}
	want := []PartitionLag{{Partition: "a", MillisBehind: -1, OffsetLag: 0}, {Partition: "b", MillisBehind: 0, OffsetLag: -1}}
	if got := subtaskOf(t, set, "src", 0).Lag; !slices.Equal(got, want) {
		t.Errorf("lag %+v, want %+v", got, want)
	}
	if got := subtaskOf(t, set, "keeper", 0).Lag; got != nil {
		t.Errorf("an operator that is no source has a lag: %+v", got)
	}
	var text strings.Builder
	set.WritePrometheus(&text)
	for series, want := range map[string]bool{
		`sluice_source_offset_lag{job="lagging",operator="src",operator_id="0",subtask="0",partition="a"} 0`:           true,
		`sluice_source_millis_behind_latest{job="lagging",operator="src",operator_id="0",subtask="0",partition="b"} 0`: true,
		`sluice_source_millis_behind_latest{job="lagging",operator="src",operator_id="0",subtask="0",partition="a"}`:   false,
		`sluice_source_offset_lag{job="lagging",operator="src",operator_id="0",subtask="0",partition="b"}`:             false,
	} {
		if strings.Contains(text.String(), series) != want {
			t.Errorf("series %s: present %v, want %v, in:\n%s", series, !want, want, text.String())
		}
	}
	// Outside a job, reporting a lag is harmless.
	(&Context{}).SetPartitionLag("x", 1, 1)
	var nilCtx *Context
	nilCtx.SetPartitionLag("x", 1, 1)
}

// slowSizer takes d over each state estimate, and counts them.
type slowSizer struct {
	Base
	d     time.Duration
	calls int
}

func (*slowSizer) ProcessBatch(int, *Batch, Output) error { return nil }
func (s *slowSizer) StateBytes() int                      { s.calls++; time.Sleep(s.d); return s.calls }

// TestSlowStateEstimateRunsLessOften: an estimate that takes d is not
// asked for again before 100 × d (so that sizing a large state costs at
// most 1% of the subtask's time), nor a quick one before
// StateSizeInterval; none is asked for while one is not due.
func TestSlowStateEstimateRunsLessOften(t *testing.T) {
	for _, d := range []time.Duration{0, 30 * time.Millisecond} {
		s := &slowSizer{d: d}
		n := &node{op: s, metrics: &OperatorMetrics{}}
		tk := &task{sizers: []*node{n}}
		start := time.Now()
		tk.sizeState(start)
		took := time.Since(start)
		if s.calls != 1 || n.metrics.StateBytes() != 1 {
			t.Fatalf("d=%v: %d estimates, %d state bytes: want the first at once", d, s.calls, n.metrics.StateBytes())
		}
		if gap := tk.sizeNext.Sub(start); gap < StateSizeInterval || gap < 100*d || gap > max(StateSizeInterval, 100*took)+time.Millisecond {
			t.Errorf("d=%v: next estimate %v later, want max(%v, 100 × %v)", d, gap, StateSizeInterval, took)
		}
		tk.sizeState(tk.sizeNext.Add(-time.Millisecond))
		if s.calls != 1 || !tk.sizeDirty || tk.sizeDue(start) == nil {
			t.Errorf("d=%v: %d estimates before the next is due, pending %v: want 1, and one pending", d, s.calls, tk.sizeDirty)
		}
		tk.sizeState(tk.sizeNext)
		if s.calls != 2 || tk.sizeDirty || tk.sizeDue(start) != nil {
			t.Errorf("d=%v: %d estimates once due, pending %v: want 2, none pending", d, s.calls, tk.sizeDirty)
		}
		tk.sizeTimer.Stop()
	}
}
