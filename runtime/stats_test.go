package runtime

import (
	"context"
	"errors"
	"fmt"
	goruntime "runtime"
	"strings"
	"testing"
	"time"
	"weak"

	"github.com/VictoriaMetrics/metrics"
)

// evens passes the rows with an even id.
type evens struct {
	Base
	b *Batch
}

func (e *evens) ProcessBatch(_ int, b *Batch, out Output) error {
	if e.b == nil {
		e.b = NewBatch(b.Schema)
	}
	e.b.Reset()
	for i := 0; i < b.Len(); i++ {
		if r := b.Row(i); b.Cols[1].I64[r]%2 == 0 {
			e.b.AppendRow(b, r)
		}
	}
	if e.b.Len() == 0 {
		return nil
	}
	return out.Emit(e.b)
}

// TestStatsReadOperatorCounters: Stats gives each operator's rows in and
// out, summed over its subtasks, from the job's metrics set.
func TestStatsReadOperatorCounters(t *testing.T) {
	g := NewGraph("stats")
	src := g.AddSource("numbers", ckSchema, 2, func() Source { return &countSource{n: 1000} }, WatermarkStrategy{TimeColumn: 2})
	even := g.AddOperator("evens", ckSchema, 3, 1, func() Operator { return &evens{} })
	g.Connect(src, even, Rebalance)
	c, newSink := newCollector()
	g.Connect(even, g.AddOperator("sink", ckSchema, 1, 1, newSink), Global)
	set := metrics.NewSet()
	if err := Run(context.Background(), g, Options{Metrics: set}); err != nil {
		t.Fatal(err)
	}
	if len(*c.rows) != 500 {
		t.Fatalf("%d rows at the sink, want 500", len(*c.rows))
	}
	st := Stats(set)
	if len(st) != 3 {
		t.Fatalf("stats of %d operators, want 3: %+v", len(st), st)
	}
	for _, want := range []OperatorStats{
		{Job: "stats", Operator: "numbers", Subtasks: 2, RowsIn: 1000, RowsOut: 1000}, // a source counts the rows it reads
		{Job: "stats", Operator: "evens", Subtasks: 3, RowsIn: 1000, RowsOut: 500},
		{Job: "stats", Operator: "sink", Subtasks: 1, RowsIn: 500},
	} {
		got, ok := st.Operator(want.Operator)
		got.BatchesIn, got.WatermarkLag = 0, 0
		got.Busy, got.Backpressured, got.Idle = 0, 0, 0 // timing: see TestBusyTime*
		if !ok || got != want {
			t.Errorf("operator %s: %+v, want %+v", want.Operator, got, want)
		}
	}
	if tot := st.Total(); tot.RowsIn != 2500 || tot.RowsOut != 1500 || tot.Subtasks != 6 {
		t.Errorf("total %+v: want 2500 rows in, 1500 out, over 6 subtasks", tot)
	}
	if _, ok := st.Operator("nope"); ok {
		t.Error("an operator that does not exist has stats")
	}
}

// TestFanOutCountsRowsOutOnce: a source read by several operators — one
// chained, two across the network — gives each every row, and its rows
// out are the rows it read, counted once.
func TestFanOutCountsRowsOutOnce(t *testing.T) {
	g := NewGraph("fan")
	src := g.AddSource("numbers", ckSchema, 2, func() Source { return &countSource{n: 1000} }, WatermarkStrategy{TimeColumn: 2})
	var sinks []*collector
	for i, part := range []Partitioning{Forward, Rebalance, Keyed} {
		c, newSink := newCollector()
		sinks = append(sinks, c)
		id := g.AddOperator(fmt.Sprintf("sink%d", i), ckSchema, 2, 1, newSink)
		g.Connect(src, id, part, 1)
	}
	set := metrics.NewSet()
	if err := Run(context.Background(), g, Options{Metrics: set}); err != nil {
		t.Fatal(err)
	}
	for i, c := range sinks {
		if len(*c.rows) != 1000 {
			t.Errorf("sink%d: %d rows, want 1000", i, len(*c.rows))
		}
	}
	if got, _ := Stats(set).Operator("numbers"); got.RowsOut != 1000 {
		t.Errorf("the source's rows out: %d, want 1000", got.RowsOut)
	}
}

// keeper keeps every row it gets and estimates its state as 16 bytes a
// row.
type keeper struct {
	Base
	ctx  *Context
	rows int
}

func (k *keeper) Open(ctx *Context) error { k.ctx = ctx; return nil }

func (k *keeper) ProcessBatch(_ int, b *Batch, _ Output) error {
	k.rows += b.Len()
	k.ctx.Metrics.SetStateKeys(k.rows)
	return nil
}

func (k *keeper) StateBytes() int { return 16 * k.rows }

// TestStatsReportStateBytesWhenTheJobEnds: an operator that estimates its
// state (StateSizer) has it in Stats once the job has ended, summed over
// its subtasks, with its keys; others have none.
func TestStatsReportStateBytesWhenTheJobEnds(t *testing.T) {
	g := NewGraph("state")
	src := g.AddSource("numbers", ckSchema, 2, func() Source { return &countSource{n: 1000} }, WatermarkStrategy{TimeColumn: 2})
	even := g.AddOperator("evens", ckSchema, 2, 1, func() Operator { return &evens{} })
	g.Connect(src, even, Rebalance)
	g.Connect(even, g.AddOperator("keeper", ckSchema, 3, 1, func() Operator { return &keeper{} }), Rebalance)
	set := metrics.NewSet()
	if err := Run(context.Background(), g, Options{Metrics: set}); err != nil {
		t.Fatal(err)
	}
	st := Stats(set)
	if k, _ := st.Operator("keeper"); k.StateKeys != 500 || k.StateBytes != 500*16 {
		t.Errorf("keeper: %d keys and %d state bytes, want 500 and %d", k.StateKeys, k.StateBytes, 500*16)
	}
	if e, _ := st.Operator("evens"); e.StateBytes != 0 {
		t.Errorf("evens, which estimates no state: %d state bytes", e.StateBytes)
	}
	if tot := st.Total(); tot.StateBytes != 500*16 {
		t.Errorf("total: %d state bytes, want %d", tot.StateBytes, 500*16)
	}
}

// unopenable fails to open; its state estimate, like that of an operator
// never opened or left broken, panics.
type unopenable struct {
	Base
	table *[]int
}

func (*unopenable) Open(*Context) error                    { return errors.New("no") }
func (*unopenable) ProcessBatch(int, *Batch, Output) error { return nil }
func (u *unopenable) StateBytes() int                      { return len(*u.table) }

// brokenSizer opens, and its state estimate panics.
type brokenSizer struct{ Base }

func (*brokenSizer) ProcessBatch(int, *Batch, Output) error { return nil }
func (*brokenSizer) StateBytes() int                        { panic("broken") }

// TestStateBytesOfAFailedJobDoNotCrashIt: the end of a job asks no
// estimate of an operator that did not open, and survives one that
// panics: Run returns the job's error, and the stats hold no bytes.
func TestStateBytesOfAFailedJobDoNotCrashIt(t *testing.T) {
	for name, newOp := range map[string]func() Operator{
		"unopened":  func() Operator { return &unopenable{} },
		"panicking": func() Operator { return &brokenSizer{} },
	} {
		g := NewGraph("sized")
		src := g.AddSource("numbers", ckSchema, 1, func() Source { return &countSource{n: 100} }, WatermarkStrategy{TimeColumn: 2})
		g.Connect(src, g.AddOperator("op", ckSchema, 1, 1, newOp), Forward)
		set := metrics.NewSet()
		err := Run(context.Background(), g, Options{Metrics: set})
		if name == "unopened" && (err == nil || !strings.Contains(err.Error(), "open: no")) {
			t.Errorf("%s: Run returned %v, want the open error", name, err)
		}
		if name == "panicking" && err != nil {
			t.Errorf("%s: Run returned %v", name, err)
		}
		if o, _ := Stats(set).Operator("op"); o.StateBytes != 0 {
			t.Errorf("%s: %d state bytes", name, o.StateBytes)
		}
	}
}

// TestDroppedMetricsSetIsNotKeptForever: the runtime's holders for the
// gauges of a caller's metrics set (Options.Metrics) go once the caller
// drops the set, instead of keeping it, and its metrics, for the life of
// the process — one set per job in a long-running program.
func TestDroppedMetricsSetIsNotKeptForever(t *testing.T) {
	held := func(wp weak.Pointer[metrics.Set]) bool {
		liveMu.Lock()
		defer liveMu.Unlock()
		_, ok := live[wp]
		return ok
	}
	var sets []weak.Pointer[metrics.Set]
	for range 5 {
		g := NewGraph("short")
		src := g.AddSource("numbers", ckSchema, 1, func() Source { return &countSource{n: 100} }, WatermarkStrategy{TimeColumn: 2})
		_, newSink := newCollector()
		g.Connect(src, g.AddOperator("sink", ckSchema, 1, 1, newSink), Forward)
		set := metrics.NewSet()
		if err := Run(context.Background(), g, Options{Parallelism: 1, Metrics: set}); err != nil {
			t.Fatal(err)
		}
		if s, ok := Stats(set).Operator("sink"); !ok || s.RowsIn != 100 {
			t.Fatalf("Stats of the set just used: %+v, want 100 rows into sink", s)
		}
		if wp := weak.Make(set); !held(wp) {
			t.Fatal("the holders of a set in use are gone")
		} else {
			sets = append(sets, wp)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, wp := range sets {
		for held(wp) {
			if time.Now().After(deadline) {
				t.Fatal("the holders of a metrics set are kept after its caller dropped it")
			}
			goruntime.GC()
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// TestOperatorsOfOneNameKeepTheirOwnFigures: two operators called "calc"
// (a query's steps often are) have series of their own, told apart by
// operator_id, and Subtasks gives each its own rows.
func TestOperatorsOfOneNameKeepTheirOwnFigures(t *testing.T) {
	g := NewGraph("twins")
	src := g.AddSource("numbers", ckSchema, 1, func() Source { return &countSource{n: 1000} }, WatermarkStrategy{TimeColumn: 2})
	first := g.AddOperator("calc", ckSchema, 1, 1, func() Operator { return &evens{} })
	second := g.AddOperator("calc", ckSchema, 1, 1, func() Operator { return &evens{} })
	g.Connect(src, first, Forward)
	g.Connect(src, second, Forward)
	for _, op := range []NodeID{first, second} {
		_, newSink := newCollector()
		g.Connect(op, g.AddOperator("sink", ckSchema, 1, 1, newSink), Forward)
	}
	set := metrics.NewSet()
	if err := Run(context.Background(), g, Options{Metrics: set}); err != nil {
		t.Fatal(err)
	}
	var calcs []SubtaskStats
	for _, s := range Subtasks(set) {
		if s.Operator == "calc" {
			calcs = append(calcs, s)
		}
	}
	if len(calcs) != 2 || calcs[0].OperatorID != int(first) || calcs[1].OperatorID != int(second) {
		t.Fatalf("subtasks of the two calc operators: %+v", calcs)
	}
	for _, s := range calcs {
		if s.RowsIn != 1000 || s.RowsOut != 500 {
			t.Errorf("calc %d: %d rows in, %d out; want 1000 and 500 each, not their sum", s.OperatorID, s.RowsIn, s.RowsOut)
		}
	}
	var text strings.Builder
	set.WritePrometheus(&text)
	for _, id := range []NodeID{first, second} {
		series := fmt.Sprintf(`sluice_operator_rows_in_total{job="twins",operator="calc",operator_id="%d",subtask="0"} 1000`, id)
		if !strings.Contains(text.String(), series) {
			t.Errorf("no series %s in:\n%s", series, text.String())
		}
	}
}
