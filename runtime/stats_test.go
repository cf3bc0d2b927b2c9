package runtime

import (
	"context"
	"testing"

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
