package sluice_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/operators/expr"
	"github.com/sluicehq/sluice/operators/process"
	"github.com/sluicehq/sluice/operators/window"
	rt "github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/state"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		apiChild()
	}
	goleak.VerifyTestMain(m)
}

var clickSchema = rt.NewSchema(
	rt.Field{Name: "page", Type: rt.Varchar},
	rt.Field{Name: "ms", Type: rt.BigInt},
	rt.Field{Name: "ts", Type: rt.Timestamp},
)

func click(page string, ms int64, sec float64) []rt.Value {
	return []rt.Value{rt.StringValue(page), rt.IntValue(ms), rt.TimeValue(int64(sec * 1000))}
}

func TestFilterKeyWindowAggregate(t *testing.T) {
	rows := [][]rt.Value{
		click("/", 10, 0), click("/cart", 30, 1), click("/", 20, 2.5),
		click("/", 0, 3), // filtered out
		click("/cart", 50, 9.999), click("/", 5, 10), click("/", 7, 12),
		click("/", 99, 4), // out of order, within the 2 s bound? no: max seen is 12 → late
	}
	for _, par := range []int{1, 4} {
		env := sluice.NewEnv(sluice.WithParallelism(par))
		res := env.FromRows("clicks", clickSchema, rows, sluice.Watermark("ts", 2*time.Second), sluice.BatchRows(1)).
			Filter(expr.Gt(expr.Col("ms"), expr.Int(0))).
			KeyBy("page").
			Window(window.Tumble(10*time.Second)).
			Aggregate(sluice.Count("views"), sluice.Sum("ms", "total"), sluice.Avg("ms", "avg"), sluice.Max("ms", "worst"))
		got := res.Collect()
		if err := env.Execute(context.Background()); err != nil {
			t.Fatal(err)
		}
		rows := got.Strings()
		sort.Strings(rows)
		want := []string{
			"/,1970-01-01 00:00:00.000,1970-01-01 00:00:10.000,2,30,15,20",
			"/,1970-01-01 00:00:10.000,1970-01-01 00:00:20.000,2,12,6,7",
			"/cart,1970-01-01 00:00:00.000,1970-01-01 00:00:10.000,2,80,40,50",
		}
		if strings.Join(rows, "\n") != strings.Join(want, "\n") {
			t.Fatalf("parallelism %d: got\n%s\nwant\n%s", par, strings.Join(rows, "\n"), strings.Join(want, "\n"))
		}
	}
}

func TestLateRowsToSideOutput(t *testing.T) {
	rows := [][]rt.Value{click("/", 1, 0), click("/", 2, 30), click("/", 3, 1), click("/", 4, 31)}
	env := sluice.NewEnv(sluice.WithParallelism(2))
	res := env.FromRows("clicks", clickSchema, rows, sluice.Watermark("ts", time.Second), sluice.BatchRows(1)).
		KeyBy("page").
		Window(window.Tumble(10 * time.Second)).
		SideOutputLateRows().
		Aggregate(sluice.Count("n"))
	results := res.Collect()
	late := res.LateRows().Collect()
	if err := env.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := results.Strings()
	sort.Strings(r)
	if want := "/,1970-01-01 00:00:00.000,1970-01-01 00:00:10.000,1|/,1970-01-01 00:00:30.000,1970-01-01 00:00:40.000,2"; strings.Join(r, "|") != want {
		t.Fatalf("results %q, want %q", r, want)
	}
	if l := late.Strings(); len(l) != 1 || l[0] != "/,3,1970-01-01 00:00:01.000" {
		t.Fatalf("late rows %q", l)
	}
}

func TestBuildErrorsNameTheProblem(t *testing.T) {
	env := sluice.NewEnv()
	s := env.FromRows("clicks", clickSchema, nil, sluice.Watermark("when", time.Second))
	s.KeyBy("nope").Window(window.Tumble(time.Second)).Aggregate(sluice.Sum("page", "x"))
	err := env.Execute(context.Background())
	for _, want := range []string{`watermark column "when" not found`, `key by "nope"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("error %v: want it to mention %s", err, want)
		}
	}
}

func TestPrintFormat(t *testing.T) {
	var buf bytes.Buffer
	env := sluice.NewEnv(sluice.WithParallelism(1), sluice.WithOutput(&buf))
	env.FromRows("clicks", clickSchema, [][]rt.Value{click("/", 10, 1.5)}).Print()
	if err := env.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), "+I[/, 10, 1970-01-01 00:00:01.500]\n"; got != want {
		t.Fatalf("printed %q, want %q", got, want)
	}
}

func TestGeneratorSplitsRowsAcrossSubtasks(t *testing.T) {
	schema := rt.NewSchema(rt.Field{Name: "n", Type: rt.BigInt})
	env := sluice.NewEnv(sluice.WithParallelism(3))
	got := env.FromGenerator("gen", schema, 10_000, func(b *rt.Batch, first int64, n int) {
		for i := first; i < first+int64(n); i++ {
			b.Cols[0].AppendInt(i)
		}
	}).Collect()
	if err := env.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	seen := make(map[int64]bool)
	for _, r := range got.Rows() {
		if seen[r[0].I] {
			t.Fatalf("row %d twice", r[0].I)
		}
		seen[r[0].I] = true
	}
	if len(seen) != 10_000 {
		t.Fatalf("got %d distinct rows, want 10000", len(seen))
	}
}

// A job in the Go API: page views per 10-second window.
func Example() {
	schema := rt.NewSchema(
		rt.Field{Name: "page", Type: rt.Varchar},
		rt.Field{Name: "ms", Type: rt.BigInt},
		rt.Field{Name: "ts", Type: rt.Timestamp},
	)
	rows := [][]rt.Value{
		{rt.StringValue("/"), rt.IntValue(12), rt.TimeValue(1_000)},
		{rt.StringValue("/"), rt.IntValue(30), rt.TimeValue(4_000)},
		{rt.StringValue("/"), rt.IntValue(18), rt.TimeValue(12_000)},
	}
	env := sluice.NewEnv(sluice.WithParallelism(1))
	env.FromRows("clicks", schema, rows, sluice.Watermark("ts", time.Second)).
		Filter(expr.Gt(expr.Col("ms"), expr.Int(0))).
		KeyBy("page").
		Window(window.Tumble(10*time.Second)).
		Aggregate(sluice.Count("views"), sluice.Avg("ms", "avg_ms")).
		Print()
	if err := env.Execute(context.Background()); err != nil {
		fmt.Println(err)
	}
	// Output:
	// +I[/, 1970-01-01 00:00:00.000, 1970-01-01 00:00:10.000, 2, 21]
	// +I[/, 1970-01-01 00:00:10.000, 1970-01-01 00:00:20.000, 1, 18]
}

func TestIntervalJoin(t *testing.T) {
	orders := rt.NewSchema(rt.Field{Name: "id", Type: rt.BigInt}, rt.Field{Name: "ts", Type: rt.Timestamp})
	ships := rt.NewSchema(rt.Field{Name: "order_id", Type: rt.BigInt}, rt.Field{Name: "ts", Type: rt.Timestamp})
	o := [][]rt.Value{{rt.IntValue(1), rt.TimeValue(0)}, {rt.IntValue(2), rt.TimeValue(1000)}, {rt.IntValue(3), rt.TimeValue(2000)}}
	s := [][]rt.Value{{rt.IntValue(1), rt.TimeValue(500)}, {rt.IntValue(2), rt.TimeValue(9000)}, {rt.IntValue(3), rt.TimeValue(3000)}, {rt.IntValue(3), rt.TimeValue(7000)}}
	env := sluice.NewEnv(sluice.WithParallelism(3))
	a := env.FromRows("orders", orders, o, sluice.Watermark("ts", time.Second))
	b := env.FromRows("shipments", ships, s, sluice.Watermark("ts", time.Second))
	got := a.KeyBy("id").IntervalJoin(b.KeyBy("order_id"), 0, 5*time.Second).Collect()
	if err := env.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	rows := got.Strings()
	sort.Strings(rows)
	want := "1,1970-01-01 00:00:00.000,1,1970-01-01 00:00:00.500|3,1970-01-01 00:00:02.000,3,1970-01-01 00:00:03.000|3,1970-01-01 00:00:02.000,3,1970-01-01 00:00:07.000"
	if strings.Join(rows, "|") != want {
		t.Fatalf("got %q\nwant %q", strings.Join(rows, "|"), want)
	}
}

// runningCount emits (page, n) with the running count of rows per page.
type runningCount struct {
	n *state.ValueState[int64]
}

func (f *runningCount) Open(ctx *process.Ctx) (err error) {
	f.n, err = state.RegisterValue(ctx.State(), state.Descriptor[int64]{Name: "n"})
	return err
}

func (f *runningCount) ProcessRow(ctx *process.Ctx, b *rt.Batch, r int, out *process.Emitter) error {
	n, _ := f.n.Value()
	n++
	if err := f.n.Update(n); err != nil {
		return err
	}
	return out.AppendValues(b.Cols[0].Value(r), rt.IntValue(n))
}

func (f *runningCount) OnTimer(*process.Ctx, int64, bool, *process.Emitter) error { return nil }

func TestKeyedProcess(t *testing.T) {
	var rows [][]rt.Value
	for i := 0; i < 300; i++ {
		rows = append(rows, click([]string{"/", "/a", "/b"}[i%3], 1, float64(i)))
	}
	out := rt.NewSchema(rt.Field{Name: "page", Type: rt.Varchar}, rt.Field{Name: "n", Type: rt.BigInt})
	env := sluice.NewEnv(sluice.WithParallelism(2))
	got := env.FromRows("clicks", clickSchema, rows).KeyBy("page").
		Process(out, "", func() process.Func { return &runningCount{} }, state.Options{}).Collect()
	if err := env.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	max := map[string]int64{}
	for _, r := range got.Rows() {
		if r[1].I > max[r[0].S] {
			max[r[0].S] = r[1].I
		}
	}
	if len(got.Rows()) != 300 || max["/"] != 100 || max["/a"] != 100 || max["/b"] != 100 {
		t.Fatalf("%d rows, final counts %v", len(got.Rows()), max)
	}
}

func TestWindowKeyLimitFailsJobClearly(t *testing.T) {
	schema := rt.NewSchema(rt.Field{Name: "k", Type: rt.BigInt}, rt.Field{Name: "ts", Type: rt.Timestamp})
	env := sluice.NewEnv(sluice.WithParallelism(2))
	env.FromGenerator("keys", schema, 100_000, func(b *rt.Batch, first int64, n int) {
		for i := first; i < first+int64(n); i++ {
			b.Cols[0].AppendInt(i)
			b.Cols[1].AppendInt(0)
		}
	}, sluice.Watermark("ts", 0)).
		KeyBy("k").Window(window.Tumble(time.Minute)).MaxKeys(10_000).
		Aggregate(sluice.Count("n")).Discard(nil)
	err := env.Execute(context.Background())
	var oe *rt.OperatorError
	if !errors.Is(err, state.ErrStateLimit) || !errors.As(err, &oe) || !strings.Contains(oe.Operator, "window") ||
		!strings.Contains(err.Error(), "over its limit of 10000") {
		t.Fatalf("got %v", err)
	}
}
