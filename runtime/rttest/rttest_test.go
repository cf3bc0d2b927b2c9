package rttest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"go.uber.org/goleak"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// schema holds, per row, its partition, its index within the partition,
// an event time and a nullable string.
var schema = runtime.NewSchema(
	runtime.Field{Name: "p", Type: runtime.BigInt},
	runtime.Field{Name: "i", Type: runtime.BigInt},
	runtime.Field{Name: "ts", Type: runtime.Timestamp},
	runtime.Field{Name: "s", Type: runtime.Varchar, Nullable: true},
)

func row(p, i int) []runtime.Value {
	s := runtime.StringValue(fmt.Sprint("r", p, "-", i))
	if i%7 == 3 {
		s = runtime.NullValue(runtime.Varchar)
	}
	return []runtime.Value{runtime.IntValue(int64(p)), runtime.IntValue(int64(i)), runtime.TimeValue(int64(10 * i)), s}
}

// partitions returns n partitions of rows each, and all the rows formatted.
func partitions(n, rows int) ([][][]runtime.Value, []string) {
	parts := make([][][]runtime.Value, n)
	var all []string
	for p := range parts {
		for i := range rows {
			parts[p] = append(parts[p], row(p, i))
			all = append(all, rttest.Format(row(p, i)))
		}
	}
	slices.Sort(all)
	return parts, all
}

// TestSourceToCollector runs source → sink jobs: every row arrives once, in
// its partition's order, with the watermarks after it.
func TestSourceToCollector(t *testing.T) {
	parts, want := partitions(5, 100)
	for _, par := range []int{1, 3} {
		for _, edge := range []runtime.Partitioning{runtime.Global, runtime.Forward} {
			t.Run(fmt.Sprintf("p=%d/%s", par, edge), func(t *testing.T) {
				c, sink := rttest.NewCollector(schema)
				g := runtime.NewGraph("rttest")
				src := g.AddSource("src", schema, par, rttest.Source(schema, rttest.Split(parts, 7)), runtime.WatermarkStrategy{TimeColumn: 2})
				sinkPar := 1
				if edge == runtime.Forward {
					sinkPar = par
				}
				snk := g.AddOperator("sink", schema, sinkPar, 1, sink)
				g.Connect(src, snk, edge)
				set := metrics.NewSet()
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				if err := runtime.Run(ctx, g, runtime.Options{Parallelism: par, Metrics: set}); err != nil {
					t.Fatal(err)
				}
				if got := c.Sorted(); !slices.Equal(got, want) {
					t.Fatalf("got %d rows, want %d", len(got), len(want))
				}
				next := make([]int64, len(parts))
				for _, r := range c.Rows() {
					p, i := r[0].I, r[1].I
					if i != next[p] {
						t.Fatalf("partition %d: row %d arrived after row %d", p, i, next[p]-1)
					}
					next[p]++
				}
				wms := c.Watermarks()
				ends := 0
				for i, wm := range wms {
					if wm == runtime.MaxWatermark {
						ends++
					}
					if sinkPar == 1 && i > 0 && wm <= wms[i-1] {
						t.Fatalf("watermarks %v do not increase", wms)
					}
				}
				if ends != sinkPar || wms[len(wms)-1] != runtime.MaxWatermark || len(wms) <= sinkPar {
					t.Fatalf("watermarks %v: want some, then MaxWatermark once per sink subtask", wms)
				}
				if n, ok := rttest.Metric(set, "sluice_operator_rows_in_total", "sink"); !ok || n != float64(len(want)) {
					t.Fatalf("sink rows in: %v (found %v), want %d", n, ok, len(want))
				}
				if n, ok := rttest.Metric(set, "sluice_operator_rows_in_total", "src"); !ok || n != float64(len(want)) {
					t.Fatalf("source rows in: %v (found %v), want %d", n, ok, len(want))
				}
				if _, ok := rttest.Metric(set, "sluice_operator_rows_in_total", "nope"); ok {
					t.Fatal("a metric found for an operator that does not exist")
				}
			})
		}
	}
}

func TestSourcePartitions(t *testing.T) {
	var rows [][]runtime.Value
	for i := range 10 {
		rows = append(rows, row(0, i))
	}
	chunks := rttest.Deal(rows, 2, 5)
	f := func(subtask, par int, want ...int) {
		t.Helper()
		src := rttest.Source(schema, chunks)()
		if err := src.Open(rttest.NewContext("src", subtask, par)); err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		if got := src.(runtime.PartitionedSource).Partitions(); !slices.Equal(got, want) {
			t.Fatalf("subtask %d of %d: partitions %v, want %v", subtask, par, got, want)
		}
	}
	f(0, 1, 0, 1, 2, 3, 4)
	f(1, 3, 1, 4)
	f(2, 3, 2)
	f(5, 6)
}

func TestDealAndSplit(t *testing.T) {
	rows := make([][]runtime.Value, 7)
	for i := range rows {
		rows[i] = row(0, i)
	}
	f := func(what string, chunks []rttest.Chunk, want string) {
		t.Helper()
		var got []string
		for _, c := range chunks {
			var is []string
			for _, r := range c.Rows {
				is = append(is, r[1].String())
			}
			got = append(got, fmt.Sprintf("%d:%s", c.Part, strings.Join(is, ",")))
		}
		if s := strings.Join(got, " "); s != want {
			t.Fatalf("%s: got %s, want %s", what, s, want)
		}
	}
	f("deal 3 to 2", rttest.Deal(rows, 3, 2), "0:0,1,2 1:3,4,5 0:6")
	f("deal 2 to 3", rttest.Deal(rows, 2, 3), "0:0,1 1:2,3 2:4,5 0:6")
	f("deal in one", rttest.Deal(rows, 0, 0), "0:0,1,2,3,4,5,6")
	f("split by 2", rttest.Split([][][]runtime.Value{rows[:5], nil, rows[5:]}, 2), "0:0,1 2:5,6 0:2,3 0:4")
	f("split in one", rttest.Split([][][]runtime.Value{rows[:2], rows[2:]}, 0), "0:0,1 1:2,3,4,5,6")
}

// TestSourcePauseHoldHidden polls a source by hand.
func TestSourcePauseHoldHidden(t *testing.T) {
	var ready, done atomic.Bool
	hidden := row(9, 9)
	chunks := []rttest.Chunk{{Rows: [][]runtime.Value{row(0, 0), row(0, 1)}}, {Rows: [][]runtime.Value{row(0, 2)}}}
	src := rttest.Source(schema, chunks,
		rttest.Pause(1, ready.Load), rttest.Hold(done.Load, time.Minute), rttest.Hidden(hidden))()
	if err := src.Open(rttest.NewContext("src", 0, 1)); err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	poll := func(want ...string) {
		t.Helper()
		b, part, err := src.Poll(context.Background())
		if len(want) == 0 {
			if b != nil || err != nil {
				t.Fatalf("got a batch (%v) or an error (%v), want to idle", b, err)
			}
			return
		}
		if err != nil || part != 0 {
			t.Fatalf("partition %d, error %v", part, err)
		}
		if err := rttest.CheckBatch(b, schema); err != nil {
			t.Fatal(err)
		}
		if got := rttest.Strings(b); !slices.Equal(got, want) {
			t.Fatalf("got %q, want %q", got, want)
		}
		if b.N != 2*b.Len() {
			t.Fatalf("%d physical rows for %d present: want a hidden row before each", b.N, b.Len())
		}
		for r := 0; r < b.N; r += 2 {
			vals := make([]runtime.Value, len(b.Cols))
			for c := range vals {
				vals[c] = b.Cols[c].Value(r)
			}
			if got := rttest.Format(vals); got != rttest.Format(hidden) {
				t.Fatalf("physical row %d is %s, want the hidden row", r, got)
			}
		}
	}
	poll(rttest.Format(row(0, 0)), rttest.Format(row(0, 1)))
	poll()
	poll()
	ready.Store(true)
	poll(rttest.Format(row(0, 2)))
	poll()
	done.Store(true)
	if _, _, err := src.Poll(context.Background()); err != io.EOF {
		t.Fatalf("got %v, want io.EOF once held no more", err)
	}
}

func TestHoldTimesOut(t *testing.T) {
	src := rttest.Source(schema, nil, rttest.Hold(func() bool { return false }, 20*time.Millisecond))()
	if err := src.Open(rttest.NewContext("src", 0, 1)); err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	start := time.Now()
	for {
		b, _, err := src.Poll(context.Background())
		if err == io.EOF {
			break
		}
		if b != nil || err != nil {
			t.Fatalf("got a batch (%v) or an error (%v), want to idle", b, err)
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal("still holding after 10 s")
		}
		time.Sleep(time.Millisecond)
	}
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Fatalf("ended after %v, before the timeout", d)
	}
}

func TestSourceOpenChecksRows(t *testing.T) {
	f := func(chunks []rttest.Chunk, opts []rttest.SourceOption, want string) {
		t.Helper()
		src := rttest.Source(schema, chunks, opts...)()
		err := src.Open(rttest.NewContext("src", 0, 1))
		src.Close()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("got %v, want an error containing %q", err, want)
		}
	}
	f([]rttest.Chunk{{Rows: [][]runtime.Value{row(0, 0)}}, {Rows: [][]runtime.Value{row(0, 1), {runtime.IntValue(1)}}}}, nil, "chunk 1 row 1: 1 values, want 4")
	f([]rttest.Chunk{{Part: -1}}, nil, "negative partition -1")
	f(nil, []rttest.SourceOption{rttest.Hidden([]runtime.Value{})}, "hidden row: 0 values, want 4")

	// In a job, the error fails it.
	c, sink := rttest.NewCollector(schema)
	g := runtime.NewGraph("bad")
	src := g.AddSource("src", schema, 1, rttest.Source(schema, []rttest.Chunk{{Rows: [][]runtime.Value{{}}}}), runtime.NoWatermarks)
	g.Connect(src, g.AddOperator("sink", schema, 1, 1, sink), runtime.Forward)
	var oe *runtime.OperatorError
	if err := runtime.Run(context.Background(), g, runtime.Options{Parallelism: 1, Metrics: metrics.NewSet()}); !errors.As(err, &oe) || oe.Operator != "src" {
		t.Fatalf("got %v, want the source to fail", err)
	}
	if c.Len() != 0 {
		t.Fatalf("%d rows collected", c.Len())
	}
}

// lateCounter is an operator that counts the rows with a time behind the
// last watermark in LateRowsDropped and forwards the others.
type lateCounter struct {
	ctx *runtime.Context
	wm  int64
}

func (o *lateCounter) Open(ctx *runtime.Context) error {
	o.ctx, o.wm = ctx, runtime.MinWatermark
	return nil
}

func (o *lateCounter) ProcessBatch(_ int, b *runtime.Batch, out runtime.Output) error {
	keep := rttest.NewBatch(b.Schema)
	for i := 0; i < b.Len(); i++ {
		if r := b.Row(i); b.Cols[2].I64[r] <= o.wm {
			o.ctx.Metrics.LateRowsDropped.Inc()
		} else {
			keep.AppendRow(b, r)
		}
	}
	o.ctx.Metrics.SetStateKeys(keep.Len())
	return out.Emit(keep)
}

func (o *lateCounter) ProcessWatermark(wm int64, _ runtime.Output) error { o.wm = wm; return nil }
func (o *lateCounter) Finish(runtime.Output) error                       { return nil }
func (o *lateCounter) Close() error                                      { return nil }

// TestContextMetrics drives an operator directly with a Context from
// NewContext and a Collector as its output.
func TestContextMetrics(t *testing.T) {
	ctx := rttest.NewContext("late", 2, 4)
	if ctx.Operator != "late" || ctx.Subtask != 2 || ctx.Parallelism != 4 || ctx.Job == "" {
		t.Fatalf("context %+v", ctx)
	}
	if ctx.SideOutput(1) != nil || ctx.CurrentWatermark() != runtime.MinWatermark {
		t.Fatal("a context outside a job has a side output or a watermark")
	}
	op := &lateCounter{}
	if err := op.Open(ctx); err != nil {
		t.Fatal(err)
	}
	var out rttest.Collector
	in := rttest.NewBatch(schema, row(0, 1), row(0, 2), row(0, 5))
	if err := op.ProcessBatch(0, in, &out); err != nil {
		t.Fatal(err)
	}
	if err := op.ProcessWatermark(20, &out); err != nil {
		t.Fatal(err)
	}
	in.Sel = []int32{0, 2}
	if err := op.ProcessBatch(0, in, &out); err != nil {
		t.Fatal(err)
	}
	want := []string{rttest.Format(row(0, 1)), rttest.Format(row(0, 2)), rttest.Format(row(0, 5)), rttest.Format(row(0, 5))}
	if got := out.Strings(); !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if n := ctx.Metrics.LateRowsDropped.Get(); n != 1 {
		t.Fatalf("late rows dropped: %d, want 1", n)
	}
	if n := ctx.Metrics.StateKeys(); n != 1 {
		t.Fatalf("state keys: %d, want 1", n)
	}
	// Every context has metrics of its own.
	if n := rttest.NewContext("late", 2, 4).Metrics.LateRowsDropped.Get(); n != 0 {
		t.Fatalf("a new context starts with %d late rows", n)
	}
	out.Reset()
	if out.Len() != 0 || len(out.Watermarks()) != 0 {
		t.Fatal("Reset kept rows")
	}
}

func TestCheckBatch(t *testing.T) {
	other := runtime.NewSchema(schema.Fields...) // same layout: accepted
	otherTypes := runtime.NewSchema(append([]runtime.Field{{Name: "x", Type: runtime.Double}}, schema.Fields[1:]...)...)
	f := func(what string, edit func(b *runtime.Batch), want string) {
		t.Helper()
		b := rttest.NewBatch(schema, row(0, 0), row(0, 1), row(0, 3))
		edit(b)
		err := rttest.CheckBatch(b, schema)
		if want == "" {
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			return
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: got %v, want an error containing %q", what, err, want)
		}
		// A collector checks the same, against its schema if it has one.
		c, _ := rttest.NewCollector(schema)
		var zero rttest.Collector
		if c.Emit(b) == nil || (zero.Emit(b) == nil) != (rttest.CheckBatch(b, nil) == nil) || zero.Len()+c.Len() > 3 {
			t.Fatalf("%s: a collector took the batch", what)
		}
	}
	f("well formed", func(*runtime.Batch) {}, "")
	f("selected", func(b *runtime.Batch) { b.Sel = []int32{2} }, "")
	f("another schema of the same layout", func(b *runtime.Batch) { b.Schema = other }, "")
	f("another layout", func(b *runtime.Batch) { b.Schema = otherTypes }, "batch schema")
	if err := rttest.CheckBatch(rttest.NewBatch(other, row(0, 0)), nil); err != nil {
		t.Fatalf("any schema: %v", err)
	}
	f("too big", func(b *runtime.Batch) {
		for i := range runtime.DefaultBatchRows {
			b.AppendValues(row(1, i)...)
		}
	}, "more than 2048")
	f("too few columns", func(b *runtime.Batch) { b.Cols = b.Cols[:3] }, "3 columns, its schema 4")
	f("selection out of range", func(b *runtime.Batch) { b.Sel = []int32{0, 3} }, "selection vector holds row 3 of 3")
	f("wrong type", func(b *runtime.Batch) { b.Cols[1].Type = runtime.Int }, "column 1 has type INT, want BIGINT")
	f("short column", func(b *runtime.Batch) { b.Cols[0].I64 = b.Cols[0].I64[:2] }, "column 0 has 2 values")
	f("short null flags", func(b *runtime.Batch) { b.Cols[3].Null = b.Cols[3].Null[:2] }, "column 3 has 3 values and 2 null flags")
	f("NULL in NOT NULL", func(b *runtime.Batch) { b.Cols[0].SetNull(1) }, "column p is NOT NULL")
	f("hidden NULL in NOT NULL", func(b *runtime.Batch) { b.Cols[0].SetNull(1); b.Sel = []int32{0, 2} }, "")
}

func TestFormat(t *testing.T) {
	vals := []runtime.Value{
		runtime.IntValue(-3), runtime.FloatValue(2), runtime.FloatValue(0.25), runtime.StringValue(`a"b`),
		runtime.TimeValue(1500), runtime.BoolValue(true), runtime.NullValue(runtime.Varchar),
	}
	if got, want := rttest.Format(vals), `-3,2.0,0.25,a"b,1970-01-01 00:00:01.500,TRUE,NULL`; got != want {
		t.Fatalf("Format: got %s, want %s", got, want)
	}
	var quoted []string
	for _, v := range vals {
		quoted = append(quoted, rttest.Quote(v))
	}
	if got, want := strings.Join(quoted, ","), `-3,2,0.25,"a\"b",1500,1,NULL`; got != want {
		t.Fatalf("Quote: got %s, want %s", got, want)
	}
}
