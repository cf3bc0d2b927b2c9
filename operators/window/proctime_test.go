package window

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/operators/calc"
	"github.com/sluicehq/sluice/operators/expr"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// clock is a processing-time clock the test moves by hand.
type clock struct{ t int64 }

func (c *clock) now() int64 { return c.t }

// procHarness drives a processing-time window operator with a hand clock.
func procHarness(t tb, w Assigner, c *clock) *harness {
	spec := kvSpec(w)
	spec.ProcTime, spec.Clock = true, c.now
	return newHarness(t, spec)
}

// tick sets the clock to now and delivers the processing-time timer.
func (h *harness) tick(c *clock, now int64) {
	h.t.Helper()
	c.t = now
	if err := h.op.(runtime.ProcessingTimer).OnProcessingTime(now, h.out); err != nil {
		h.t.Fatalf("OnProcessingTime(%d): %v", now, err)
	}
}

func TestProcTimeTumbleFiresWhenClockPassesEnd(t *testing.T) {
	c := &clock{t: 1000}
	h := procHarness(t, Tumble(10*ms), c)
	h.batch(kv(1, 1001, 5), kv(2, 1003, 7), kv(1, 1009, 1), kv(1, 1012, 2))
	// Watermarks do not fire processing-time windows.
	h.watermark(runtime.MaxWatermark - 1)
	h.expect("after a watermark")
	h.tick(c, 1008)
	h.expect("clock before the end")
	h.tick(c, 1009) // reaches end-1 of [1000, 1010)
	h.expect("clock at the end of the first window",
		"1,1000,1010,2,6",
		"2,1000,1010,1,7")
	h.tick(c, 1015)
	h.expect("clock inside the second window")
	h.tick(c, 1030)
	h.expect("clock past the second window",
		"1,1010,1020,1,2")
	h.tick(c, 1100)
	h.expect("nothing left")
	h.expectDropped(0)
}

// TestProcTimeRowBehindClockIsNotLate: a row whose time lies in a window
// that has fired counts in the earliest open one, a NULL time at the
// clock; nothing is dropped.
func TestProcTimeRowBehindClockIsNotLate(t *testing.T) {
	c := &clock{t: 0}
	h := procHarness(t, Tumble(10*ms), c)
	h.batch(kv(1, 5, 1))
	h.tick(c, 19)
	h.expect("first window", "1,0,10,1,1")
	c.t = 34
	h.batch(kv(1, 3, 10), kv(2, 19, 20), kv(3, 20, 30), []runtime.Value{runtime.IntValue(4), null, runtime.IntValue(40)})
	h.tick(c, 39)
	h.expect("behind rows in the next open window, NULL at the clock",
		"1,20,30,1,10",
		"2,20,30,1,20",
		"3,20,30,1,30",
		"4,30,40,1,40")
	h.expectDropped(0)
}

func TestProcTimeHopAndCumulateFireByClock(t *testing.T) {
	c := &clock{t: 0}
	h := procHarness(t, Hop(5*ms, 10*ms), c)
	h.batch(kv(1, 7, 1))
	h.tick(c, 9)
	h.expect("[0,10)", "1,0,10,1,1")
	h.tick(c, 14)
	h.expect("[5,15)", "1,5,15,1,1")

	c2 := &clock{t: 0}
	h2 := procHarness(t, Cumulate(5*ms, 15*ms), c2)
	h2.batch(kv(1, 2, 1), kv(1, 7, 2))
	h2.tick(c2, 4)
	h2.expect("[0,5)", "1,0,5,1,1")
	h2.batch(kv(1, 3, 4)) // behind the clock: counts from 5 on
	h2.tick(c2, 9)
	h2.expect("[0,10)", "1,0,10,3,7")
	h2.tick(c2, 14)
	h2.expect("[0,15)", "1,0,15,3,7")
}

func TestProcTimeSessionGapByClock(t *testing.T) {
	c := &clock{t: 0}
	h := procHarness(t, SessionGap(10*ms), c)
	h.batch(kv(1, 1, 1), kv(2, 3, 2))
	c.t = 8
	h.batch(kv(1, 8, 3))
	h.tick(c, 11) // key 2's session [3, 13) is still open
	h.expect("no session over")
	h.tick(c, 12)
	h.expect("key 2 idle for the gap", "2,3,13,1,2")
	h.tick(c, 17)
	h.expect("key 1 idle for the gap", "1,1,18,2,4")
	h.batch(kv(1, 2, 5)) // behind the clock: a new session from 18
	h.finish()
	h.expect("end of input", "1,18,28,1,5")
	h.expectDropped(0)
}

func TestProcTimeFinishFiresEveryWindow(t *testing.T) {
	for _, w := range []Assigner{Tumble(10 * ms), Hop(5*ms, 10*ms), Cumulate(5*ms, 10*ms), SessionGap(10 * ms)} {
		t.Run(w.String(), func(t *testing.T) {
			c := &clock{t: 0}
			h := procHarness(t, w, c)
			h.batch(kv(1, 1, 1), kv(1, 1_000_000, 2))
			if err := h.op.Finish(h.out); err != nil {
				t.Fatal(err)
			}
			got := h.take()
			var n int
			for _, r := range got {
				if strings.HasSuffix(r, ",1") || strings.HasSuffix(r, ",2") {
					n++
				}
			}
			want := map[Kind]int{Tumbling: 2, Hopping: 4, Cumulating: 4, Session: 2}[w.Kind]
			if len(got) != want || n != want {
				t.Fatalf("Finish emitted %q, want %d windows", got, want)
			}
		})
	}
}

func TestProcTimeRejectsLateness(t *testing.T) {
	spec := kvSpec(Tumble(10 * ms))
	spec.ProcTime, spec.AllowedLateness = true, time.Second
	if _, _, err := New(spec); err == nil || !strings.Contains(err.Error(), "allowed lateness") {
		t.Fatalf("ProcTime with allowed lateness: %v", err)
	}
	spec.AllowedLateness, spec.LateOutput = 0, true
	if _, _, err := New(spec); err == nil || !strings.Contains(err.Error(), "late output") {
		t.Fatalf("ProcTime with late output: %v", err)
	}
}

// TestProcTimeSnapshotRestoreFiresByClock: a restored operator fires its
// windows as the clock passes their end, exactly as the uninterrupted one;
// an event-time snapshot does not restore into it.
func TestProcTimeSnapshotRestoreFiresByClock(t *testing.T) {
	for _, w := range []Assigner{Tumble(10 * ms), Hop(5*ms, 10*ms), Cumulate(5*ms, 10*ms), SessionGap(4 * ms)} {
		t.Run(w.String(), func(t *testing.T) {
			var outs [2][]string
			for restore := range 2 {
				c := &clock{t: 0}
				h := procHarness(t, w, c)
				var got []string
				for step := int64(0); step < 40; step++ {
					if step == 20 && restore == 1 {
						data, err := h.op.(runtime.Snapshotter).SnapshotState(1)
						if err != nil {
							t.Fatal(err)
						}
						h.op.Close()
						h = procHarness(t, w, c)
						if err := h.op.(runtime.Snapshotter).RestoreState(data); err != nil {
							t.Fatal(err)
						}
					}
					c.t = step
					h.batch(kv(step%3, step-step%7, step))
					h.tick(c, step)
					got = append(got, h.take()...)
				}
				h.finish()
				outs[restore] = append(got, h.take()...)
			}
			if !slices.Equal(outs[0], outs[1]) || len(outs[0]) == 0 {
				t.Fatalf("restored run differs:\n%s", diff(outs[1], outs[0]))
			}
		})
	}
	ev, _, _ := New(kvSpec(Tumble(10 * ms)))
	op := ev()
	op.Open(rttest.NewContext("window", 0, 1))
	data, err := op.(runtime.Snapshotter).SnapshotState(1)
	op.Close()
	if err != nil {
		t.Fatal(err)
	}
	h := procHarness(t, Tumble(10*ms), &clock{})
	if err := h.op.(runtime.Snapshotter).RestoreState(data); err == nil || !strings.Contains(err.Error(), "PROCTIME") {
		t.Fatalf("event-time snapshot into a processing-time window: %v", err)
	}
}

// TestProcTimeRestoredWindowsFireOnTimers: after a restore, the runtime's
// processing-time timers fire the restored windows (no new row needed).
func TestProcTimeRestoredWindowsFireOnTimers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		spec := kvSpec(Tumble(time.Second))
		spec.ProcTime = true
		now := time.Now().UnixMilli()
		newOp, out, err := New(spec)
		if err != nil {
			t.Fatal(err)
		}
		op := newOp()
		op.Open(rttest.NewContext("window", 0, 1))
		b := rttest.NewBatch(spec.In, kv(1, now, 1), kv(2, now, 2))
		op.ProcessBatch(0, b, nil)
		b.Release()
		data, err := op.(runtime.Snapshotter).SnapshotState(1)
		op.Close()
		if err != nil {
			t.Fatal(err)
		}
		// A job with the restored operator and a source that never ends.
		g := runtime.NewGraph("restored")
		src := g.AddSource("src", spec.In, 1, func() runtime.Source { return &idleSource{} }, runtime.WatermarkStrategy{TimeColumn: 1})
		win := g.AddOperator("win", out, 1, 1, func() runtime.Operator {
			op := newOp()
			return &restoring{Operator: op, data: data}
		})
		g.Connect(src, win, runtime.Keyed, 0)
		results, mk := rttest.NewCollector(out)
		snk := g.AddOperator("sink", out, 1, 1, mk)
		g.Connect(win, snk, runtime.Global)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		go func() {
			for results.Len() < 2 && ctx.Err() == nil {
				time.Sleep(100 * time.Millisecond)
			}
			cancel()
		}()
		err = runtime.Run(ctx, g, runtime.Options{})
		if results.Len() != 2 {
			t.Fatalf("restored windows emitted %q (Run: %v), want 2 rows", results.Sorted(), err)
		}
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("Run: %v", err)
		}
	})
}

// restoring restores its operator from data when it opens.
type restoring struct {
	runtime.Operator
	data []byte
}

func (r *restoring) Open(ctx *runtime.Context) error {
	if err := r.Operator.Open(ctx); err != nil {
		return err
	}
	return r.Operator.(runtime.Snapshotter).RestoreState(r.data)
}

func (r *restoring) OnProcessingTime(now int64, out runtime.Output) error {
	return r.Operator.(runtime.ProcessingTimer).OnProcessingTime(now, out)
}

// timedSink records when each row, a window ending at column endCol,
// arrived by the clock.
type timedSink struct {
	runtime.Operator
	endCol   int
	ends, at []int64
}

func (s *timedSink) ProcessBatch(in int, b *runtime.Batch, out runtime.Output) error {
	now := time.Now().UnixMilli()
	for i := range b.Len() {
		s.ends = append(s.ends, b.Cols[s.endCol].I64[b.Row(i)])
		s.at = append(s.at, now)
	}
	return s.Operator.ProcessBatch(in, b, out)
}

// idleSource never has a row and never ends.
type idleSource struct{}

func (*idleSource) Open(*runtime.Context) error { return nil }
func (*idleSource) Close() error                { return nil }
func (*idleSource) Poll(ctx context.Context) (*runtime.Batch, int, error) {
	select {
	case <-ctx.Done():
	case <-time.After(50 * time.Millisecond):
	}
	return nil, 0, nil
}

// pacedSource emits batches of (k, v) rows, one every pace, as subtask s
// of p: the rows i with i%p == s of n, k = i*7 % keys.
type pacedSource struct {
	schema  *runtime.Schema
	n, keys int
	batch   int
	pace    time.Duration
	i, p    int
	b       *runtime.Batch
}

func (s *pacedSource) Open(ctx *runtime.Context) error {
	s.i, s.p = ctx.Subtask, ctx.Parallelism
	s.b = runtime.NewBatch(s.schema)
	return nil
}

func (s *pacedSource) Close() error {
	if s.b != nil {
		s.b.Release()
	}
	return nil
}

func (s *pacedSource) Poll(ctx context.Context) (*runtime.Batch, int, error) {
	if s.i >= s.n {
		return nil, 0, io.EOF
	}
	time.Sleep(s.pace)
	s.b.Reset()
	for ; s.i < s.n && s.b.N < s.batch; s.i += s.p {
		s.b.Cols[0].AppendInt(int64(s.i * 7 % s.keys))
		s.b.Cols[1].AppendInt(int64(s.i))
		s.b.N++
	}
	return s.b, 0, nil
}

// TestProcTimeJobCountsEveryRowOnce runs PROCTIME() in a calc feeding a
// keyed processing-time tumbling window (Nexmark q12's plan) under a fake
// clock: windows fire while rows still arrive, and the counts per key over
// all windows equal the input's, at parallelism 1 and 3.
func TestProcTimeJobCountsEveryRowOnce(t *testing.T) {
	const n, keys = 6000, 13
	want := make(map[int64]int64)
	for i := range n {
		want[int64(i*7%keys)]++
	}
	for _, par := range []int{1, 3} {
		t.Run(strings.Repeat("p", par), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				in := runtime.NewSchema(runtime.Field{Name: "bidder", Type: runtime.BigInt}, runtime.Field{Name: "v", Type: runtime.BigInt})
				newCalc, calcOut, err := calc.New(in, nil, []expr.Expr{expr.ColIndex(0), expr.ColIndex(1), expr.ProcTime()}, []string{"bidder", "v", "p_time"})
				if err != nil {
					t.Fatal(err)
				}
				spec := Spec{In: calcOut, KeyCols: []int{0}, TimeCol: 2, Window: Tumble(10 * time.Second), ProcTime: true,
					Aggs: []agg.Spec{{Func: agg.Count, Col: -1, Name: "bid_count"}}}
				newWin, out, err := New(spec)
				if err != nil {
					t.Fatal(err)
				}
				start := time.Now().UnixMilli()
				g := runtime.NewGraph("q12")
				src := g.AddSource("bid", in, par, func() runtime.Source {
					return &pacedSource{schema: in, n: n, keys: keys, batch: 50, pace: time.Second}
				}, runtime.WatermarkStrategy{TimeColumn: -1})
				c := g.AddOperator("calc", calcOut, par, 1, newCalc)
				g.Connect(src, c, runtime.Forward)
				win := g.AddOperator("win", out, par, 1, newWin)
				g.Connect(c, win, runtime.Keyed, 0)
				results, mk := rttest.NewCollector(out)
				arrivals := &timedSink{endCol: 2}
				snk := g.AddOperator("sink", out, 1, 1, func() runtime.Operator {
					arrivals.Operator = mk()
					return arrivals
				})
				g.Connect(win, snk, runtime.Global)
				if err := runtime.Run(context.Background(), g, runtime.Options{Parallelism: par}); err != nil {
					t.Fatalf("Run: %v", err)
				}
				end := time.Now().UnixMilli()
				// Windows that ended before the input did arrive when the
				// clock passes their end, not at the end of the input.
				early := 0
				for i, we := range arrivals.ends {
					if we+1000 <= end {
						early++
						if at := arrivals.at[i]; at < we-1 || at > we+50 {
							t.Fatalf("window ending at %d arrived at %d, not when the clock passed its end", we, at)
						}
					}
				}
				if early == 0 {
					t.Fatalf("no window fired before the end of the input [%d, %d]", start, end)
				}
				got := make(map[int64]int64)
				windows := make(map[int64]bool)
				for _, r := range results.Rows() {
					got[r[0].I] += r[3].I
					ws, we := r[1].I, r[2].I
					if we-ws != 10_000 || ws%10_000 != 0 || we <= start || ws > end {
						t.Fatalf("window [%d, %d) outside the run [%d, %d]", ws, we, start, end)
					}
					windows[ws] = true
				}
				if len(got) != len(want) {
					t.Fatalf("%d keys, want %d", len(got), len(want))
				}
				for k, c := range want {
					if got[k] != c {
						t.Fatalf("bidder %d: %d rows over all windows, want %d", k, got[k], c)
					}
				}
				if len(windows) < 3 {
					t.Fatalf("rows over %d windows, want them spread over the %d s run", len(windows), (end-start)/1000)
				}
			})
		})
	}
}

// TestProcTimeDescribeSaysClock: plans show that the windows are
// processing-time windows fired by the clock, with no late rows.
func TestProcTimeDescribeSaysClock(t *testing.T) {
	for _, w := range []Assigner{Tumble(10 * time.Second), SessionGap(time.Second)} {
		spec := kvSpec(w)
		spec.ProcTime = true
		newOp, _, err := New(spec)
		if err != nil {
			t.Fatal(err)
		}
		d := newOp().(interface{ Describe() string }).Describe()
		for _, want := range []string{"on ts (processing time)", "freed when the operator's processing-time clock passes its end", "late rows: none"} {
			if !strings.Contains(d, want) {
				t.Fatalf("%s: Describe lacks %q:\n%s", w, want, d)
			}
		}
		if strings.Contains(d, "watermark") {
			t.Fatalf("%s: Describe mentions the watermark:\n%s", w, d)
		}
	}
}
