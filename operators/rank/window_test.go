package rank

import (
	"fmt"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// winIn is a window TVF's output: p, ts, o, s, window_start, window_end.
var winIn = runtime.NewSchema(
	runtime.Field{Name: "p", Type: runtime.BigInt},
	runtime.Field{Name: "ts", Type: runtime.Timestamp},
	runtime.Field{Name: "o", Type: runtime.BigInt, Nullable: true},
	runtime.Field{Name: "s", Type: runtime.Varchar},
	runtime.Field{Name: "window_start", Type: runtime.Timestamp},
	runtime.Field{Name: "window_end", Type: runtime.Timestamp},
)

// windowsOf returns the windows of time ts as TUMBLE(10), HOP(5, 10) or
// CUMULATE(5, 10) assign them.
func windowsOf(kind int, ts int64) [][2]int64 {
	floor := func(x, m int64) int64 { return x - ((x%m)+m)%m }
	switch kind {
	case 0:
		s := floor(ts, 10)
		return [][2]int64{{s, s + 10}}
	case 1:
		s := floor(ts, 5)
		return [][2]int64{{s - 5, s + 5}, {s, s + 10}}
	}
	s := floor(ts, 10)
	if ts-s < 5 {
		return [][2]int64{{s, s + 5}, {s, s + 10}}
	}
	return [][2]int64{{s, s + 10}}
}

type winScenario struct {
	spec  WindowSpec
	steps []step
	kept  [][]runtime.Value // rows not late, in arrival order
	seqs  []int
	late  int
}

// drawWinScenario draws a window Top-N and a stream of window rows with
// watermarks; with onTime no row is late.
func drawWinScenario(t *rapid.T, onTime bool) winScenario {
	sc := winScenario{spec: WindowSpec{
		In: winIn, PartitionCols: []int{0}, WindowStartCol: 4, WindowEndCol: 5,
		RowNumber: rapid.Bool().Draw(t, "rowNumber"),
	}}
	if rapid.Bool().Draw(t, "dedup") {
		// Window deduplication: keep the first or last row by time.
		last := rapid.Bool().Draw(t, "keepLast")
		sc.spec.Order = []SortKey{{Col: 1, Desc: last}}
		sc.spec.LastFirst = last
		sc.spec.Start, sc.spec.End = 1, 1
	} else {
		sc.spec.Order = []SortKey{{Col: 2, Desc: rapid.Bool().Draw(t, "desc"), NullsFirst: rapid.Bool().Draw(t, "nullsFirst")}}
		sc.spec.Start = int64(rapid.IntRange(1, 3).Draw(t, "start"))
		sc.spec.End = sc.spec.Start + int64(rapid.IntRange(0, 3).Draw(t, "width"))
		if rapid.Bool().Draw(t, "listsWindowCols") {
			sc.spec.PartitionCols = []int{4, 0, 5}
		}
	}
	kind := rapid.IntRange(0, 2).Draw(t, "window kind")
	nparts := rapid.IntRange(1, 3).Draw(t, "parts")
	n := rapid.IntRange(0, 100).Draw(t, "rows")
	wm := runtime.MinWatermark
	maxTs := int64(0)
	var batch change
	seq := 0
	flush := func() {
		if len(batch.rows) > 0 {
			sc.steps = append(sc.steps, step{change: batch})
			batch = change{}
		}
	}
	for range n {
		ts := maxTs + int64(rapid.IntRange(-3, 4).Draw(t, "dt"))
		if onTime {
			ts = max(ts, maxTs)
		}
		ts = max(ts, 0)
		maxTs = max(maxTs, ts)
		o := runtime.IntValue(int64(rapid.IntRange(0, 4).Draw(t, "o")))
		if rapid.IntRange(0, 8).Draw(t, "nullo") == 0 {
			o = runtime.NullValue(runtime.BigInt)
		}
		p := runtime.IntValue(int64(rapid.IntRange(0, nparts-1).Draw(t, "p")))
		s := runtime.StringValue(fmt.Sprint(seq))
		for _, w := range windowsOf(kind, ts) {
			row := []runtime.Value{p, runtime.TimeValue(ts), o, s, runtime.TimeValue(w[0]), runtime.TimeValue(w[1])}
			batch.rows = append(batch.rows, row)
			if w[1]-1 <= wm {
				sc.late++
			} else {
				sc.kept = append(sc.kept, row)
				sc.seqs = append(sc.seqs, seq)
			}
			seq++
		}
		if rapid.IntRange(0, 3).Draw(t, "cut?") == 0 {
			flush()
			if rapid.Bool().Draw(t, "watermark?") {
				next := maxTs - 1 - int64(rapid.IntRange(0, 6).Draw(t, "lag"))
				if !onTime {
					next = maxTs + int64(rapid.IntRange(-4, 8).Draw(t, "ahead"))
				}
				if next > wm {
					wm = next
					sc.steps = append(sc.steps, step{watermark: true, wm: wm})
				}
			}
		}
	}
	flush()
	return sc
}

func (sc *winScenario) expected(t tb, sqlite string) []string {
	tie := "seq"
	if sc.spec.LastFirst {
		tie = "seq DESC"
	}
	cols := "p, ts, o, s, window_start, window_end"
	if sc.spec.RowNumber {
		cols += ", rn"
	}
	q := fmt.Sprintf("SELECT %s FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end, p ORDER BY %s, %s) AS rn FROM t) WHERE rn BETWEEN %d AND %d",
		cols, orderSQL(winIn, sc.spec.Order), tie, sc.spec.Start, sc.spec.End)
	return sqliteRows(t, sqlite, winIn, sc.kept, sc.seqs, q)
}

func sortedRows(t tb, c *rttest.Collector) []string {
	t.Helper()
	var out []string
	for i, r := range c.Rows() {
		if k := c.Kinds()[i]; k != runtime.Insert {
			t.Fatalf("a window Top-N emitted a %s row: it must be append-only", k)
		}
		out = append(out, fmtRow(r))
	}
	slices.Sort(out)
	return out
}

// TestWindowTopNMatchesSQLite drives random window Top-N and window
// deduplications over TUMBLE, HOP and CUMULATE rows with watermarks that
// make some rows late, and checks the rows emitted against sqlite3's
// ROW_NUMBER() per window over the rows not late, and the late count.
func TestWindowTopNMatchesSQLite(t *testing.T) {
	sqlite := needSQLite(t)
	rapid.Check(t, func(t *rapid.T) {
		sc := drawWinScenario(t, false)
		newOp, _, err := NewWindow(sc.spec)
		if err != nil {
			t.Fatalf("NewWindow: %v", err)
		}
		c, ctx := drive(t, newOp, winIn, sc.steps, -1)
		if got, want := sortedRows(t, c), sc.expected(t, sqlite); !slices.Equal(got, want) {
			t.Fatalf("spec %+v:\n%s", sc.spec, diff(got, want))
		}
		if got := ctx.Metrics.LateRowsDropped.Get(); got != uint64(sc.late) {
			t.Fatalf("%d rows dropped as late, want %d", got, sc.late)
		}
	})
}

// TestWindowTopNFiresAtWindowEnd checks that a window's rows are emitted
// when the watermark reaches window_end - 1, not before, and that its
// state is freed then.
func TestWindowTopNFiresAtWindowEnd(t *testing.T) {
	newOp, out, err := NewWindow(WindowSpec{In: winIn, PartitionCols: []int{0}, WindowStartCol: 4, WindowEndCol: 5,
		Order: []SortKey{{Col: 2, Desc: true}}, Start: 1, End: 1, RowNumber: true})
	if err != nil {
		t.Fatal(err)
	}
	o := newOp().(*windowOp)
	if err := o.Open(rttest.NewContext("rank", 0, 1)); err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	c, _ := rttest.NewCollector(out)
	r := func(ts, v, ws int64) []runtime.Value {
		return []runtime.Value{runtime.IntValue(1), runtime.TimeValue(ts), runtime.IntValue(v), runtime.StringValue("s"), runtime.TimeValue(ws), runtime.TimeValue(ws + 10)}
	}
	b := rttest.NewBatch(winIn, r(1, 5, 0), r(2, 7, 0), r(12, 1, 10))
	if err := o.ProcessBatch(0, b, c); err != nil {
		t.Fatal(err)
	}
	b.Release()
	if err := o.ProcessWatermark(8, c); err != nil {
		t.Fatal(err)
	}
	if c.Len() != 0 {
		t.Fatalf("emitted before the watermark reached the window end: %v", changelogOf(c))
	}
	if err := o.ProcessWatermark(9, c); err != nil {
		t.Fatal(err)
	}
	if got, want := changelogOf(c), []string{"+I1|2|7|s|0|10|1"}; !slices.Equal(got, want) {
		t.Fatalf("at the window end: got %v, want %v", got, want)
	}
	if len(o.order) != 1 || o.groups != 1 {
		t.Fatalf("after firing: %d panes, %d groups held; want 1, 1", len(o.order), o.groups)
	}
}

// TestWindowTopNJobSameAnyParallelism runs window Top-Ns through
// runtime.Run with the source's watermarks, at parallelism 1 and 3, and
// checks the rows against sqlite3.
func TestWindowTopNJobSameAnyParallelism(t *testing.T) {
	sqlite := needSQLite(t)
	rapid.Check(t, func(t *rapid.T) {
		sc := drawWinScenario(t, true)
		newOp, out, err := NewWindow(sc.spec)
		if err != nil {
			t.Fatalf("NewWindow: %v", err)
		}
		var rows [][]runtime.Value
		for _, s := range sc.steps {
			rows = append(rows, s.change.rows...)
		}
		par := rapid.SampledFrom([]int{1, 3}).Draw(t, "parallelism")
		src := rttest.Source(winIn, rttest.Deal(rows, rapid.IntRange(1, 10).Draw(t, "chunk"), 1))
		c, set := runJob(t, winIn, src, runtime.WatermarkStrategy{TimeColumn: 1}, newOp, out, []int{0}, par)
		// The source's watermarks trail its rows: none is late, so every
		// row drawn counts.
		sc.kept, sc.seqs = rows, nil
		for i := range rows {
			sc.seqs = append(sc.seqs, i)
		}
		if got, want := sortedRows(t, c), sc.expected(t, sqlite); !slices.Equal(got, want) {
			t.Fatalf("spec %+v, parallelism %d:\n%s", sc.spec, par, diff(got, want))
		}
		if n, _ := rttest.Metric(set, "sluice_operator_late_rows_dropped_total", "rank"); n != 0 {
			t.Fatalf("%v rows dropped as late", n)
		}
	})
}

// TestWindowTopNRestoredEmitsWhatUninterruptedDoes snapshots a window
// Top-N mid-stream (its watermark included, so rows late before stay
// late) and checks that the restored operator emits exactly the same.
func TestWindowTopNRestoredEmitsWhatUninterruptedDoes(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sc := drawWinScenario(t, false)
		newOp, _, err := NewWindow(sc.spec)
		if err != nil {
			t.Fatalf("NewWindow: %v", err)
		}
		whole, ctx1 := drive(t, newOp, winIn, sc.steps, -1)
		at := rapid.IntRange(0, len(sc.steps)).Draw(t, "restoreAt")
		restored, ctx2 := drive(t, newOp, winIn, sc.steps, at)
		if a, b := changelogOf(whole), changelogOf(restored); !slices.Equal(a, b) {
			t.Fatalf("restored at step %d:\n%s", at, diff(b, a))
		}
		if a, b := ctx1.Metrics.LateRowsDropped.Get(), ctx2.Metrics.LateRowsDropped.Get(); a != b {
			t.Fatalf("late rows: %d uninterrupted, %d restored", a, b)
		}
	})
}
