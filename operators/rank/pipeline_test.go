package rank

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/operators/groupagg"
	"github.com/sluicehq/sluice/operators/window"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

var evIn = runtime.NewSchema(
	runtime.Field{Name: "cat", Type: runtime.BigInt},
	runtime.Field{Name: "k", Type: runtime.BigInt},
	runtime.Field{Name: "ts", Type: runtime.Timestamp},
)

func drawEvents(t *rapid.T) [][]runtime.Value {
	n := rapid.IntRange(0, 300).Draw(t, "rows")
	ncat, nk := rapid.IntRange(1, 3).Draw(t, "cats"), rapid.IntRange(1, 8).Draw(t, "ks")
	var rows [][]runtime.Value
	ts := int64(0)
	for range n {
		ts += int64(rapid.IntRange(0, 3).Draw(t, "dt"))
		rows = append(rows, []runtime.Value{
			runtime.IntValue(int64(rapid.IntRange(0, ncat-1).Draw(t, "cat"))),
			runtime.IntValue(int64(rapid.IntRange(0, nk-1).Draw(t, "k"))),
			runtime.TimeValue(ts),
		})
	}
	return rows
}

// project formats columns cols of the rows held at the end of a changelog
// (checking that it never retracts a row it does not hold), sorted.
func project(t tb, c *rttest.Collector, cols ...int) []string {
	t.Helper()
	rows, kinds := c.Rows(), c.Kinds()
	applyChangelog(t, rows, kinds)
	var proj [][]runtime.Value
	for _, r := range rows {
		var p []runtime.Value
		for _, col := range cols {
			p = append(p, r[col])
		}
		proj = append(proj, p)
	}
	return applyChangelog(t, proj, kinds)
}

func runGraph(t tb, g *runtime.Graph, par int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := runtime.Run(ctx, g, runtime.Options{Parallelism: par, BufferRows: 64}); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// TestTopNOverGroupByMatchesSQLite ranks the updating result of a GROUP BY
// (the top keys of each category by count) through runtime.Run at
// parallelism 1 and 3: the retractions of the aggregation flow into the
// Top-N. Ties between equal counts rank by arrival, which the parallel
// aggregation does not fix, so the final state is compared on the
// category, the count and the rank, against sqlite3.
func TestTopNOverGroupByMatchesSQLite(t *testing.T) {
	sqlite := needSQLite(t)
	rapid.Check(t, func(t *rapid.T) {
		rows := drawEvents(t)
		par := rapid.SampledFrom([]int{1, 3}).Draw(t, "parallelism")
		newAgg, aggOut, err := groupagg.New(groupagg.Spec{In: evIn, KeyCols: []int{0, 1},
			Aggs: []agg.Spec{{Func: agg.Count, Col: -1, Name: "cnt"}}})
		if err != nil {
			t.Fatal(err)
		}
		start := int64(rapid.IntRange(1, 2).Draw(t, "start"))
		spec := Spec{In: aggOut, PartitionCols: []int{0}, Order: []SortKey{{Col: 2, Desc: true}},
			Start: start, End: start + int64(rapid.IntRange(0, 3).Draw(t, "width")), RowNumber: true, UpdatingInput: true}
		newTop, topOut, err := New(spec)
		if err != nil {
			t.Fatal(err)
		}
		g := runtime.NewGraph("top-over-agg")
		src := g.AddSource("src", evIn, 1, rttest.Source(evIn, rttest.Deal(rows, rapid.IntRange(1, 20).Draw(t, "chunk"), 1)),
			runtime.WatermarkStrategy{TimeColumn: -1})
		a := g.AddOperator("agg", aggOut, par, 1, newAgg)
		g.Connect(src, a, runtime.Keyed, 0, 1)
		top := g.AddOperator("top", topOut, par, 1, newTop)
		g.Connect(a, top, runtime.Keyed, 0)
		c, mk := rttest.NewCollector(topOut)
		g.Connect(top, g.AddOperator("sink", topOut, 1, 1, mk), runtime.Global)
		runGraph(t, g, par)
		got := project(t, c, 0, 2, 3)
		seqs := make([]int, len(rows))
		for i := range seqs {
			seqs[i] = i
		}
		want := sqliteRows(t, sqlite, evIn, rows, seqs, fmt.Sprintf(
			"SELECT cat, cnt, rn FROM (SELECT cat, cnt, ROW_NUMBER() OVER (PARTITION BY cat ORDER BY cnt DESC) AS rn "+
				"FROM (SELECT cat, k, COUNT(*) AS cnt FROM t GROUP BY cat, k)) WHERE rn BETWEEN %d AND %d", spec.Start, spec.End))
		if !slices.Equal(got, want) {
			t.Fatalf("ranks %d..%d, parallelism %d:\n%s", spec.Start, spec.End, par, diff(got, want))
		}
	})
}

// TestWindowTopNAfterWindowAggregation ranks the keys of each tumbling
// window by their count, the window aggregation's rows and watermarks
// flowing into the window Top-N (windows cascade), at parallelism 1 and
// 3 for the aggregation, against sqlite3 (windows by integer division).
func TestWindowTopNAfterWindowAggregation(t *testing.T) {
	sqlite := needSQLite(t)
	rapid.Check(t, func(t *rapid.T) {
		rows := drawEvents(t)
		par := rapid.SampledFrom([]int{1, 3}).Draw(t, "parallelism")
		newWin, winOut, err := window.New(window.Spec{In: evIn, KeyCols: []int{1}, TimeCol: 2, Window: window.Tumble(10 * time.Millisecond),
			Aggs: []agg.Spec{{Func: agg.Count, Col: -1, Name: "cnt"}}})
		if err != nil {
			t.Fatal(err)
		}
		// winOut: k, window_start, window_end, cnt
		n := int64(rapid.IntRange(1, 3).Draw(t, "n"))
		newTop, topOut, err := NewWindow(WindowSpec{In: winOut, WindowStartCol: 1, WindowEndCol: 2,
			Order: []SortKey{{Col: 3, Desc: true}}, Start: 1, End: n, RowNumber: true})
		if err != nil {
			t.Fatal(err)
		}
		g := runtime.NewGraph("window-top")
		src := g.AddSource("src", evIn, 1, rttest.Source(evIn, rttest.Deal(rows, rapid.IntRange(1, 20).Draw(t, "chunk"), 1)),
			runtime.WatermarkStrategy{TimeColumn: 2})
		w := g.AddOperator("win", winOut, par, 1, newWin)
		g.Connect(src, w, runtime.Keyed, 1)
		top := g.AddOperator("top", topOut, 1, 1, newTop)
		g.Connect(w, top, runtime.Global)
		c, mk := rttest.NewCollector(topOut)
		g.Connect(top, g.AddOperator("sink", topOut, 1, 1, mk), runtime.Global)
		runGraph(t, g, par)
		for _, k := range c.Kinds() {
			if k != runtime.Insert {
				t.Fatalf("a %s row from a window Top-N", k)
			}
		}
		got := project(t, c, 1, 2, 3, 4)
		seqs := make([]int, len(rows))
		for i := range seqs {
			seqs[i] = i
		}
		want := sqliteRows(t, sqlite, evIn, rows, seqs, fmt.Sprintf(
			"SELECT ws, ws + 10, cnt, rn FROM (SELECT ws, cnt, ROW_NUMBER() OVER (PARTITION BY ws ORDER BY cnt DESC) AS rn "+
				"FROM (SELECT k, ts / 10 * 10 AS ws, COUNT(*) AS cnt FROM t GROUP BY k, ts / 10)) WHERE rn <= %d", n))
		if !slices.Equal(got, want) {
			t.Fatalf("top %d, parallelism %d:\n%s", n, par, diff(got, want))
		}
	})
}
