package calc

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/sluicehq/sluice/operators/expr"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var schema = runtime.NewSchema(
	runtime.Field{Name: "k", Type: runtime.BigInt},
	runtime.Field{Name: "v", Type: runtime.Double, Nullable: true},
	runtime.Field{Name: "name", Type: runtime.Varchar},
	runtime.Field{Name: "ts", Type: runtime.Timestamp},
)

// row returns test row k.
func row(k int64) []runtime.Value {
	v := runtime.FloatValue(float64(k%7) / 2)
	if k%5 == 0 {
		v = runtime.NullValue(runtime.Double)
	}
	return []runtime.Value{runtime.IntValue(k), v, runtime.StringValue([]string{"ant", "bee", "ape", "cat"}[k%4]), runtime.TimeValue(k * 1000)}
}

// recorder is an Output keeping what it is lent, as strings, plus the last
// batch itself for checks on sharing.
type recorder struct {
	rows    []string
	batches int
	last    runtime.Batch
	col0    runtime.Vector // last.Cols[0] when it was lent
}

func (r *recorder) Emit(b *runtime.Batch) error {
	r.rows = append(r.rows, rttest.Strings(b)...)
	r.batches++
	r.last, r.col0 = *b, b.Cols[0]
	return nil
}

func mustNew(t *testing.T, where expr.Expr, project []expr.Expr, names []string) (runtime.Operator, *runtime.Schema) {
	t.Helper()
	newOp, out, err := New(schema, where, project, names)
	if err != nil {
		t.Fatal(err)
	}
	op := newOp()
	if err := op.Open(&runtime.Context{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { op.Close() })
	return op, out
}

func TestFilterEmitsView(t *testing.T) {
	op, out := mustNew(t, expr.Gt(expr.Col("v"), expr.Float(1)), nil, nil)
	if out != schema {
		t.Fatal("a filter alone must keep the input schema")
	}
	var rows [][]runtime.Value
	for k := range int64(8) {
		rows = append(rows, row(k))
	}
	in := rttest.NewBatch(schema, rows...)
	var rec recorder
	if err := op.ProcessBatch(0, in, &rec); err != nil {
		t.Fatal(err)
	}
	// v: k%7/2, NULL for k%5 == 0: 0:N 1:0.5 2:1 3:1.5 4:2 5:N 6:3 7:0
	want := []string{
		"3,1.5,cat,1970-01-01 00:00:03.000",
		"4,2.0,ant,1970-01-01 00:00:04.000",
		"6,3.0,ape,1970-01-01 00:00:06.000",
	}
	if !slices.Equal(rec.rows, want) {
		t.Fatalf("got %q, want %q", rec.rows, want)
	}
	if &rec.last.Cols[0] != &in.Cols[0] || !slices.Equal(rec.last.Sel, []int32{3, 4, 6}) || rec.last.Schema != schema {
		t.Fatalf("want a view sharing the input columns with Sel [3 4 6], got Sel %v", rec.last.Sel)
	}
	if in.Sel != nil || in.N != 8 {
		t.Fatal("the input batch was modified")
	}

	// An input with a selection vector: the view selects within it.
	in.Sel = []int32{0, 2, 4, 5, 6}
	rec = recorder{}
	if err := op.ProcessBatch(0, in, &rec); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rec.last.Sel, []int32{4, 6}) || !slices.Equal(in.Sel, []int32{0, 2, 4, 5, 6}) {
		t.Fatalf("view Sel %v, input Sel %v", rec.last.Sel, in.Sel)
	}

	// Nothing kept: nothing emitted. Everything kept: the input itself.
	in.Sel = []int32{0, 1}
	rec = recorder{}
	if err := op.ProcessBatch(0, in, &rec); err != nil || rec.batches != 0 {
		t.Fatalf("emitted %d batches (err %v) for no surviving row", rec.batches, err)
	}
	in.Sel = []int32{3, 6}
	if err := op.ProcessBatch(0, in, &rec); err != nil || rec.batches != 1 || !slices.Equal(rec.last.Sel, []int32{3, 6}) {
		t.Fatalf("all rows kept: %d batches, Sel %v, err %v", rec.batches, rec.last.Sel, err)
	}
	if err := op.ProcessBatch(0, rttest.NewBatch(schema), &rec); err != nil || rec.batches != 1 {
		t.Fatalf("an empty batch was emitted (err %v)", err)
	}
}

func TestConstantFilter(t *testing.T) {
	in := rttest.NewBatch(schema, row(1), row(2))
	f := func(where expr.Expr, want int) {
		t.Helper()
		op, _ := mustNew(t, where, nil, nil)
		var rec recorder
		if err := op.ProcessBatch(0, in, &rec); err != nil {
			t.Fatal(err)
		}
		if len(rec.rows) != want {
			t.Fatalf("%s: %d rows, want %d", where, len(rec.rows), want)
		}
	}
	f(expr.Bool(true), 2)
	f(expr.Bool(false), 0)
	f(expr.Null(runtime.Boolean), 0)
	f(expr.Gt(expr.Int(2), expr.Int(1)), 2)
}

func TestFilterProject(t *testing.T) {
	k, v, name, ts := expr.Col("k"), expr.Col("v"), expr.Col("name"), expr.Col("ts")
	op, out := mustNew(t,
		expr.And(expr.IsNotNull(v), expr.Like(name, expr.Str("a%"))),
		[]expr.Expr{expr.Mul(k, expr.Int(10)), expr.Call("UPPER", name), expr.Add(ts, expr.Int(500)), v, k},
		[]string{"k10", "", "later", "", "key"})
	wantSchema := "(k10 BIGINT NOT NULL, UPPER(name) VARCHAR NOT NULL, later TIMESTAMP(3) NOT NULL, v DOUBLE, key BIGINT NOT NULL)"
	if out.String() != wantSchema {
		t.Fatalf("schema %s, want %s", out, wantSchema)
	}
	if op.(runtime.OutputSchemaer).OutputSchema() != out {
		t.Fatal("OutputSchema differs from New's schema")
	}
	var rows [][]runtime.Value
	for k := range int64(12) {
		rows = append(rows, row(k))
	}
	in := rttest.NewBatch(schema, rows...)
	var rec recorder
	for range 2 { // the second pass reuses the output batch
		rec = recorder{}
		if err := op.ProcessBatch(0, in, &rec); err != nil {
			t.Fatal(err)
		}
		// names: ant bee ape cat; v NULL for k = 0, 5, 10.
		want := []string{
			"20,APE,1970-01-01 00:00:02.500,1.0,2",
			"40,ANT,1970-01-01 00:00:04.500,2.0,4",
			"60,APE,1970-01-01 00:00:06.500,3.0,6",
			"80,ANT,1970-01-01 00:00:08.500,0.5,8",
		}
		if !slices.Equal(rec.rows, want) {
			t.Fatalf("got %q, want %q", rec.rows, want)
		}
		if rec.last.Sel != nil || rec.last.N != 4 || rec.last.Schema != out {
			t.Fatalf("projected batch: N %d, Sel %v", rec.last.N, rec.last.Sel)
		}
	}
}

// TestProjectSharesColumns checks that a bare column is lent, not copied,
// when no row was filtered out, and that the operator then takes its own
// memory back (so later batches never write into an input).
func TestProjectSharesColumns(t *testing.T) {
	op, out := mustNew(t, expr.Ne(expr.Col("name"), expr.Str("cat")),
		[]expr.Expr{expr.Col("name"), expr.Add(expr.Col("k"), expr.Int(1))}, nil)
	if out.String() != "(name VARCHAR NOT NULL, k + 1 BIGINT NOT NULL)" {
		t.Fatalf("schema %s", out)
	}
	all := rttest.NewBatch(schema, row(0), row(1), row(2))
	var rec recorder
	if err := op.ProcessBatch(0, all, &rec); err != nil {
		t.Fatal(err)
	}
	if &rec.col0.Str[0] != &all.Cols[2].Str[0] {
		t.Fatal("an unfiltered column reference should share the input's column")
	}
	some := rttest.NewBatch(schema, row(3), row(4), row(7), row(8))
	rec = recorder{}
	if err := op.ProcessBatch(0, some, &rec); err != nil {
		t.Fatal(err)
	}
	if want := []string{"ant,5", "ant,9"}; !slices.Equal(rec.rows, want) {
		t.Fatalf("got %q, want %q", rec.rows, want)
	}
	if got := strings.Join(all.Cols[2].Str, ","); got != "ant,bee,ape" {
		t.Fatalf("an earlier input was overwritten: %s", got)
	}
	op.Close()
	if got := strings.Join(some.Cols[2].Str, ","); got != "cat,ant,cat,ant" {
		t.Fatalf("Close cleared an input: %s", got)
	}
}

func TestNewErrors(t *testing.T) {
	f := func(where expr.Expr, project []expr.Expr, names []string, want string) {
		t.Helper()
		_, _, err := New(schema, where, project, names)
		if err == nil || err.Error() != want {
			t.Fatalf("error %v, want %s", err, want)
		}
	}
	f(expr.Add(expr.Col("k"), expr.Int(1)), nil, nil, `filter must be BOOLEAN, not BIGINT: "k + 1"`)
	f(expr.Gt(expr.Col("name"), expr.Int(3)), nil, nil, `filter: cannot apply > to VARCHAR and BIGINT in "name > 3"`)
	f(nil, []expr.Expr{expr.Col("k"), expr.Col("nope")}, nil, `projection 2: unknown column "nope" (have: k, v, name, ts)`)
	f(nil, []expr.Expr{expr.Col("k")}, []string{"a", "b"}, `calc: 2 names for 1 projected columns`)
	f(nil, []expr.Expr{expr.Col("k"), expr.Col("K")}, nil, `projections 1 and 2 are both called "K"`)
	f(nil, []expr.Expr{expr.Col("k"), expr.Col("v")}, []string{"x", "X"}, `projections 1 and 2 are both called "X"`)
}

// --- end to end through the runtime ---

// junk is a row that passes the test filters: it must never come out.
var junk = []runtime.Value{runtime.IntValue(-1), runtime.FloatValue(100), runtime.StringValue("ape"), runtime.TimeValue(0)}

func TestJob(t *testing.T) {
	// Ten batches of 100 rows, each a partition of its own: subtask i of p
	// takes batches i, i+p, …
	var chunks []rttest.Chunk
	for b := range int64(10) {
		c := rttest.Chunk{Part: int(b)}
		for k := range int64(100) {
			c.Rows = append(c.Rows, row(b*100+k))
		}
		chunks = append(chunks, c)
	}
	// With sel, every batch also carries rows its selection vector leaves
	// out, to check that calc honours it.
	source := func(sel bool) func() runtime.Source {
		if sel {
			return rttest.Source(schema, chunks, rttest.Hidden(junk))
		}
		return rttest.Source(schema, chunks)
	}
	// WHERE v >= 1 AND name IN ('ant', 'ape') AND k % 3 <> 0
	// SELECT k, CONCAT(name, '#', k), v * 2, CASE WHEN ts < 500s THEN 'early' ELSE 'late' END
	where := expr.And(
		expr.Ge(expr.Col("v"), expr.Int(1)),
		expr.In(expr.Col("name"), expr.Str("ant"), expr.Str("ape")),
		expr.Ne(expr.Mod(expr.Col("k"), expr.Int(3)), expr.Int(0)))
	project := []expr.Expr{
		expr.Col("k"),
		expr.Call("CONCAT", expr.Col("name"), expr.Str("#"), expr.Col("k")),
		expr.Mul(expr.Col("v"), expr.Int(2)),
		expr.Case([]expr.When{{Cond: expr.Lt(expr.Col("ts"), expr.Timestamp(500_000)), Then: expr.Str("early")}}, expr.Str("late")),
	}
	var want []string
	for k := range int64(1000) {
		r := row(k)
		name := r[2].S
		if r[1].Null || r[1].F < 1 || name != "ant" && name != "ape" || k%3 == 0 {
			continue
		}
		when := "late"
		if k*1000 < 500_000 {
			when = "early"
		}
		want = append(want, fmt.Sprintf("%d,%s#%d,%s,%s", k, name, k, runtime.FormatFloat(r[1].F*2), when))
	}
	slices.Sort(want)
	if len(want) < 100 {
		t.Fatalf("only %d expected rows: a weak test", len(want))
	}

	run := func(par int, sel bool, sinkEdge runtime.Partitioning) {
		t.Helper()
		newCalc, out, err := New(schema, where, project, []string{"k", "tag", "v2", "phase"})
		if err != nil {
			t.Fatal(err)
		}
		g := runtime.NewGraph("calc")
		src := g.AddSource("src", schema, par, source(sel), runtime.NoWatermarks)
		c := g.AddOperator("calc", out, par, 1, newCalc)
		snkPar := 1
		if sinkEdge == runtime.Forward {
			snkPar = par
		}
		collected, sink := rttest.NewCollector(out)
		snk := g.AddOperator("sink", out, snkPar, 1, sink)
		g.Connect(src, c, runtime.Forward)
		g.Connect(c, snk, sinkEdge)
		if err := runtime.Run(context.Background(), g, runtime.Options{Parallelism: par}); err != nil {
			t.Fatal(err)
		}
		got := collected.Sorted()
		if !slices.Equal(got, want) {
			t.Fatalf("par %d sel %v %s: %d rows, want %d\nfirst got  %q\nfirst want %q", par, sel, sinkEdge, len(got), len(want), got[:min(3, len(got))], want[:3])
		}
	}
	for _, par := range []int{1, 3} {
		for _, sel := range []bool{false, true} {
			run(par, sel, runtime.Global)
			run(par, sel, runtime.Forward)
		}
	}

	// A filter alone, straight into a fused sink: the sink sees views.
	newCalc, out, err := New(schema, expr.Like(expr.Col("name"), expr.Str("_p%")), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	g := runtime.NewGraph("filter")
	src := g.AddSource("src", schema, 2, source(true), runtime.NoWatermarks)
	c := g.AddOperator("calc", out, 2, 1, newCalc)
	collected, sink := rttest.NewCollector(out)
	snk := g.AddOperator("sink", out, 2, 1, sink)
	g.Connect(src, c, runtime.Forward)
	g.Connect(c, snk, runtime.Forward)
	if err := runtime.Run(context.Background(), g, runtime.Options{Parallelism: 2}); err != nil {
		t.Fatal(err)
	}
	got := collected.Strings()
	if len(got) != 250 {
		t.Fatalf("%d rows named ape, want 250", len(got))
	}
	for _, r := range got {
		if !strings.Contains(r, ",ape,") || strings.HasPrefix(r, "-1,") {
			t.Fatalf("row %q should not pass", r)
		}
	}
}

// TestRepeatedProjectionIsComputedOnce checks that a projection repeated
// in one calc (the same column read under a filter, the same arithmetic)
// is computed once and its column lent to the repeats, batch after batch,
// while a function call, which may be volatile, is computed each time.
func TestRepeatedProjectionIsComputedOnce(t *testing.T) {
	kPlus1 := func() expr.Expr { return expr.Add(expr.Col("k"), expr.Int(1)) }
	op, _ := mustNew(t, expr.Ne(expr.Col("name"), expr.Str("cat")),
		[]expr.Expr{kPlus1(), expr.Col("name"), kPlus1(), expr.Col("name"), expr.Call("UPPER", expr.Col("name")), expr.Call("UPPER", expr.Col("name"))},
		[]string{"a", "n", "b", "n2", "u", "u2"})
	if d := op.(interface{ Describe() string }).Describe(); !strings.Contains(d, "k + 1 AS b (computed once, as a), name AS n2 (computed once, as n), UPPER(name) AS u, UPPER(name) AS u2") {
		t.Fatalf("describe:\n%s", d)
	}
	var got []string
	for _, rows := range [][]int64{{0, 1, 3, 4}, {5, 6, 7, 8, 9}} {
		var b []([]runtime.Value)
		for _, k := range rows {
			b = append(b, row(k))
		}
		out := emitFunc(func(l *runtime.Batch) error {
			if &l.Cols[2].I64[0] != &l.Cols[0].I64[0] || &l.Cols[3].Str[0] != &l.Cols[1].Str[0] {
				t.Fatal("a repeated projection should lend the column of its first occurrence")
			}
			if &l.Cols[5].Str[0] == &l.Cols[4].Str[0] {
				t.Fatal("a repeated function call should be computed each time")
			}
			got = append(got, rttest.Strings(l)...)
			return nil
		})
		if err := op.ProcessBatch(0, rttest.NewBatch(schema, b...), out); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"1,ant,1,ant,ANT,ANT", "2,bee,2,bee,BEE,BEE", "5,ant,5,ant,ANT,ANT",
		"6,bee,6,bee,BEE,BEE", "7,ape,7,ape,APE,APE", "9,ant,9,ant,ANT,ANT", "10,bee,10,bee,BEE,BEE"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// emitFunc is an Output calling itself.
type emitFunc func(*runtime.Batch) error

func (f emitFunc) Emit(b *runtime.Batch) error { return f(b) }
