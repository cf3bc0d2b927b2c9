package runtime_test

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

var busySchema = runtime.NewSchema(runtime.Field{Name: "id", Type: runtime.BigInt})

// busyChunks returns n chunks of 16 rows.
func busyChunks(n int) []rttest.Chunk {
	rows := make([][]runtime.Value, 16*n)
	for i := range rows {
		rows[i] = []runtime.Value{runtime.IntValue(int64(i))}
	}
	return rttest.Deal(rows, 16, 4)
}

// sleepy sleeps for d on every batch, then passes it on.
type sleepy struct {
	runtime.Base
	d time.Duration
}

func (s *sleepy) ProcessBatch(_ int, b *runtime.Batch, out runtime.Output) error {
	time.Sleep(s.d)
	return out.Emit(b)
}

// pass passes every batch on.
type pass struct{ runtime.Base }

func (pass) ProcessBatch(_ int, b *runtime.Batch, out runtime.Output) error { return out.Emit(b) }

// subtaskTimes returns the times of the subtasks of operator.
func subtaskTimes(t *testing.T, set *metrics.Set, operator string, parallelism int) []runtime.SubtaskStats {
	t.Helper()
	var out []runtime.SubtaskStats
	for _, s := range runtime.Subtasks(set) {
		if s.Operator == operator {
			out = append(out, s)
		}
	}
	if len(out) != parallelism {
		t.Fatalf("%d subtasks of %s, want %d: %+v", len(out), operator, parallelism, out)
	}
	return out
}

// checkAddsUp: busy + backpressured + idle is the subtask's wall time,
// which lies within the job's.
func checkAddsUp(t *testing.T, s runtime.SubtaskStats, elapsed time.Duration) {
	t.Helper()
	sum := s.Busy + s.Backpressured + s.Idle
	if s.Busy < 0 || s.Backpressured < 0 || s.Idle < 0 || sum > elapsed || sum < elapsed/2 {
		t.Errorf("%s/%d: busy %v + backpressured %v + idle %v = %v, want about the %v the job ran",
			s.Operator, s.Subtask, s.Busy, s.Backpressured, s.Idle, sum, elapsed)
	}
}

// TestBusyTimeSlowSinkBackpressuresUpstream: a sink that sleeps on every
// batch is mostly busy, and the sources feeding it spend most of their
// time blocked on its full lanes; the times are readable while the job
// runs, and are in the /metrics text.
func TestBusyTimeSlowSinkBackpressuresUpstream(t *testing.T) {
	for _, p := range []int{1, 2} {
		t.Run(fmt.Sprint("parallelism=", p), func(t *testing.T) {
			g := runtime.NewGraph("slowsink")
			src := g.AddSource("src", busySchema, p, rttest.Source(busySchema, busyChunks(120)), runtime.WatermarkStrategy{TimeColumn: -1})
			sink := g.AddOperator("sink", busySchema, p, 1, func() runtime.Operator { return &sleepy{d: 3 * time.Millisecond} })
			g.Connect(src, sink, runtime.Rebalance)
			set := metrics.NewSet()
			// Read the times while the job runs (and under -race, at the
			// same time as the subtasks write them).
			var live atomic.Bool
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					case <-time.After(20 * time.Millisecond):
					}
					for _, s := range runtime.Subtasks(set) {
						if s.Operator == "src" && s.Backpressured > 0 && s.RowsOut > 0 {
							live.Store(true)
						}
					}
				}
			}()
			start := time.Now()
			err := runtime.Run(context.Background(), g, runtime.Options{Metrics: set, BufferRows: 16})
			elapsed := time.Since(start)
			close(stop)
			wg.Wait()
			if err != nil {
				t.Fatal(err)
			}
			if !live.Load() {
				t.Error("no backpressured time of src was readable while the job ran")
			}
			for _, s := range subtaskTimes(t, set, "src", p) {
				checkAddsUp(t, s, elapsed)
				if s.Backpressured < (s.Busy+s.Backpressured+s.Idle)/2 {
					t.Errorf("src/%d: backpressured %v, busy %v, idle %v: want mostly backpressured", s.Subtask, s.Backpressured, s.Busy, s.Idle)
				}
			}
			var in uint64
			for _, s := range subtaskTimes(t, set, "sink", p) {
				in += s.RowsIn
				checkAddsUp(t, s, elapsed)
				if s.Busy < (s.Busy+s.Backpressured+s.Idle)/2 || s.Backpressured != 0 {
					t.Errorf("sink/%d: busy %v, backpressured %v, idle %v: want mostly busy, never backpressured", s.Subtask, s.Busy, s.Backpressured, s.Idle)
				}
			}
			if in != 120*16 {
				t.Errorf("sink read %d rows, want %d", in, 120*16)
			}
			for _, name := range []string{"sluice_operator_busy_seconds_total", "sluice_operator_backpressured_seconds_total", "sluice_operator_idle_seconds_total"} {
				if _, ok := rttest.Metric(set, name, "sink"); !ok {
					t.Errorf("no %s of sink in the metrics text", name)
				}
			}
			if v, _ := rttest.Metric(set, "sluice_operator_backpressured_seconds_total", "src"); v < elapsed.Seconds()/2*float64(p)/2 {
				t.Errorf("sluice_operator_backpressured_seconds_total of src is %v over %d subtasks, the job ran %v", v, p, elapsed)
			}
			if st, _ := runtime.Stats(set).Operator("sink"); st.Busy <= 0 {
				t.Errorf("Stats of sink: busy %v", st.Busy)
			}
		})
	}
}

// TestBusyTimeSlowSourceIdlesDownstream: operators fed by a source that
// has nothing to give for a while spend that time idle.
func TestBusyTimeSlowSourceIdlesDownstream(t *testing.T) {
	for _, p := range []int{1, 2} {
		t.Run(fmt.Sprint("parallelism=", p), func(t *testing.T) {
			var ready atomic.Bool
			time.AfterFunc(400*time.Millisecond, func() { ready.Store(true) })
			g := runtime.NewGraph("slowsource")
			src := g.AddSource("src", busySchema, p, rttest.Source(busySchema, busyChunks(8), rttest.Pause(1, ready.Load)), runtime.WatermarkStrategy{TimeColumn: -1})
			mid := g.AddOperator("mid", busySchema, p, 1, func() runtime.Operator { return pass{} })
			g.Connect(src, mid, runtime.Rebalance)
			c, newSink := rttest.NewCollector(busySchema)
			g.Connect(mid, g.AddOperator("sink", busySchema, p, 1, newSink), runtime.Forward)
			set := metrics.NewSet()
			start := time.Now()
			if err := runtime.Run(context.Background(), g, runtime.Options{Metrics: set}); err != nil {
				t.Fatal(err)
			}
			elapsed := time.Since(start)
			if c.Len() != 8*16 {
				t.Fatalf("%d rows at the sink, want %d", c.Len(), 8*16)
			}
			for _, op := range []string{"src", "mid", "sink"} {
				for _, s := range subtaskTimes(t, set, op, p) {
					checkAddsUp(t, s, elapsed)
					if s.Idle < (s.Busy+s.Backpressured+s.Idle)/2 {
						t.Errorf("%s/%d: idle %v, busy %v, backpressured %v: want mostly idle", op, s.Subtask, s.Idle, s.Busy, s.Backpressured)
					}
				}
			}
		})
	}
}

// napper is a source that waits inside Poll, as a long poll or a throttle
// does, and brings a row every tenth poll.
type napper struct {
	polls int
	b     *runtime.Batch
}

func (n *napper) Open(*runtime.Context) error { n.b = runtime.NewBatch(busySchema); return nil }
func (n *napper) Close() error                { return nil }

func (n *napper) Poll(ctx context.Context) (*runtime.Batch, int, error) {
	n.polls++
	if n.polls > 100 {
		return nil, 0, io.EOF
	}
	time.Sleep(5 * time.Millisecond)
	if n.polls%10 != 0 {
		return nil, 0, nil
	}
	n.b.Reset()
	n.b.Cols[0].AppendInt(int64(n.polls))
	n.b.N = 1
	return n.b, 0, nil
}

// TestBusyTimeSourceWaitingInPollIsIdle: a source whose polls mostly wait
// and bring nothing is idle, not busy.
func TestBusyTimeSourceWaitingInPollIsIdle(t *testing.T) {
	g := runtime.NewGraph("napping")
	src := g.AddSource("src", busySchema, 1, func() runtime.Source { return &napper{} }, runtime.WatermarkStrategy{TimeColumn: -1})
	_, newSink := rttest.NewCollector(busySchema)
	g.Connect(src, g.AddOperator("sink", busySchema, 1, 1, newSink), runtime.Forward)
	set := metrics.NewSet()
	if err := runtime.Run(context.Background(), g, runtime.Options{Metrics: set}); err != nil {
		t.Fatal(err)
	}
	s := subtaskTimes(t, set, "src", 1)[0]
	if total := s.Busy + s.Backpressured + s.Idle; s.Idle < total*7/10 {
		t.Errorf("a source waiting in 90 of 100 polls: idle %v, busy %v; want mostly idle", s.Idle, s.Busy)
	}
}

// waiter is a source that waits inside Poll and then brings a row, as a
// source with reader goroutines does, and says so (runtime.Waited).
type waiter struct{ napper }

func (w *waiter) Poll(ctx context.Context) (*runtime.Batch, int, error) {
	w.polls++
	if w.polls > 30 {
		return nil, 0, io.EOF
	}
	start := time.Now()
	time.Sleep(10 * time.Millisecond)
	runtime.Waited(ctx, time.Since(start))
	w.b.Reset()
	w.b.Cols[0].AppendInt(int64(w.polls))
	w.b.N = 1
	return w.b, 0, nil
}

// TestBusyTimeSourceThatSaysItWaitedIsIdle: the waits a source reports
// with runtime.Waited are idle time even when the poll brings rows.
func TestBusyTimeSourceThatSaysItWaitedIsIdle(t *testing.T) {
	g := runtime.NewGraph("waiting")
	src := g.AddSource("src", busySchema, 1, func() runtime.Source { return &waiter{} }, runtime.WatermarkStrategy{TimeColumn: -1})
	_, newSink := rttest.NewCollector(busySchema)
	g.Connect(src, g.AddOperator("sink", busySchema, 1, 1, newSink), runtime.Forward)
	set := metrics.NewSet()
	if err := runtime.Run(context.Background(), g, runtime.Options{Metrics: set}); err != nil {
		t.Fatal(err)
	}
	s := subtaskTimes(t, set, "src", 1)[0]
	if total := s.Busy + s.Backpressured + s.Idle; s.Idle < total*7/10 || s.Idle > total {
		t.Errorf("a source that waited in each of its polls: idle %v, busy %v; want mostly idle", s.Idle, s.Busy)
	}
}
