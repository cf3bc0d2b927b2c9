package join

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// Helpers shared by the temporal and window join tests.

// tjT is what the helpers need of a *testing.T or *rapid.T.
type tjT interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// tjNeedSQLite returns the path of sqlite3, or skips the test loudly when
// it is not installed (fails with SLUICE_REQUIRE_TOOLS=1).
func tjNeedSQLite(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("sqlite3")
	if err != nil {
		const msg = "sqlite3 not installed: apt-get install -y sqlite3"
		if os.Getenv("SLUICE_REQUIRE_TOOLS") == "1" {
			t.Fatalf("%s (SLUICE_REQUIRE_TOOLS=1 requires it)", msg)
		}
		t.Skip("SKIPPING THE DIFFERENTIAL TEST AGAINST SQLITE: " + msg)
	}
	return path
}

// tjSQLite runs script in an in-memory sqlite3 database and returns the
// rows it prints (columns separated by ',', NULL as NULL), sorted.
func tjSQLite(t tjT, path, script string) []string {
	t.Helper()
	cmd := exec.Command(path, "-batch", "-bail", "-list", "-separator", ",", "-nullvalue", "NULL", ":memory:")
	cmd.Stdin = strings.NewReader(script)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil || errb.Len() > 0 {
		t.Fatalf("sqlite3: %v: %s", err, strings.TrimSpace(errb.String()))
	}
	var rows []string
	for _, l := range strings.Split(out.String(), "\n") {
		if l != "" {
			rows = append(rows, l)
		}
	}
	slices.Sort(rows)
	return rows
}

// tjSQLValue formats v as an SQL literal (integers only, or NULL).
func tjSQLValue(v runtime.Value) string {
	if v.Null {
		return "NULL"
	}
	return fmt.Sprint(v.I)
}

// tjInsert appends INSERT statements for rows to b.
func tjInsert(b *strings.Builder, table string, rows [][]runtime.Value) {
	for _, r := range rows {
		vals := make([]string, len(r))
		for i, v := range r {
			vals[i] = tjSQLValue(v)
		}
		fmt.Fprintf(b, "INSERT INTO %s VALUES (%s);\n", table, strings.Join(vals, ", "))
	}
}

// tjQuote formats a row unambiguously (rttest.Quote per value).
func tjQuote(row []runtime.Value) string {
	s := make([]string, len(row))
	for i, v := range row {
		s[i] = rttest.Quote(v)
	}
	return strings.Join(s, ",")
}

func tjQuoteAll(rows [][]runtime.Value) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = tjQuote(r)
	}
	slices.Sort(out)
	return out
}

// tjKindOp sets each row's changelog kind from an INT column holding 0..3
// (+I, -U, +U, -D), so that a test source can emit a changelog.
type tjKindOp struct {
	runtime.Base
	col int
	b   *runtime.Batch
}

func (o *tjKindOp) ProcessBatch(_ int, b *runtime.Batch, out runtime.Output) error {
	if o.b == nil {
		o.b = runtime.NewBatch(b.Schema)
	}
	o.b.CopyFrom(b)
	for r := 0; r < o.b.N; r++ {
		o.b.SetKind(r, runtime.RowKind(o.b.Cols[o.col].I64[r]))
	}
	return out.Emit(o.b)
}

func (o *tjKindOp) Close() error {
	if o.b != nil {
		o.b.Release()
		o.b = nil
	}
	return nil
}

// tjJob is a test job: two sources with watermarks, a two-input operator
// behind keyed exchanges, and a collector.
type tjJob struct {
	schemas    [2]*runtime.Schema
	chunks     [2][]rttest.Chunk
	timeCols   [2]int
	keyCols    [2][]int
	kindCol    [2]int // >= 0: the rows of that input carry their kind in this column
	outOfOrder time.Duration
	par        int
	newOp      func() runtime.Operator
	out        *runtime.Schema
	// late[i], when set, is a last chunk for input i (in the partition of
	// its first chunk) held back until every subtask of the operator has
	// seen a watermark >= lateAfter, so that its rows are late there.
	late      [2][][]runtime.Value
	lateAfter int64
}

// wmWatcher records the watermark each operator subtask has seen.
type wmWatcher struct {
	runtime.Operator
	mu  *sync.Mutex
	wms map[int]int64
	sub int
}

func (w *wmWatcher) Open(ctx *runtime.Context) error {
	w.sub = ctx.Subtask
	return w.Operator.Open(ctx)
}

func (w *wmWatcher) ProcessWatermark(wm int64, out runtime.Output) error {
	err := w.Operator.ProcessWatermark(wm, out)
	w.mu.Lock()
	w.wms[w.sub] = wm
	w.mu.Unlock()
	return err
}

// run runs the job and returns the rows collected and the late rows the
// operator counted.
func (j *tjJob) run(t tjT) ([][]runtime.Value, int) {
	t.Helper()
	g := runtime.NewGraph("tj-test")
	newOp := j.newOp
	var mu sync.Mutex
	wms := map[int]int64{}
	ready := func() bool {
		mu.Lock()
		defer mu.Unlock()
		if len(wms) < j.par {
			return false
		}
		for _, wm := range wms {
			if wm < j.lateAfter {
				return false
			}
		}
		return true
	}
	if j.late[0] != nil || j.late[1] != nil {
		newOp = func() runtime.Operator { return &wmWatcher{Operator: j.newOp(), mu: &mu, wms: wms} }
	}
	op := g.AddOperator("join", j.out, j.par, 2, newOp)
	for i := range 2 {
		wm := runtime.WatermarkStrategy{TimeColumn: j.timeCols[i], MaxOutOfOrderness: j.outOfOrder}
		chunks := j.chunks[i]
		var opts []rttest.SourceOption
		if j.late[i] != nil {
			opts = append(opts, rttest.Pause(len(chunks), ready))
			chunks = append(slices.Clip(chunks), rttest.Chunk{Part: chunks[0].Part, Rows: j.late[i]})
		}
		src := g.AddSource(fmt.Sprintf("in%d", i), j.schemas[i], 1, rttest.Source(j.schemas[i], chunks, opts...), wm)
		if j.kindCol[i] >= 0 {
			col := j.kindCol[i]
			k := g.AddOperator(fmt.Sprintf("kinds%d", i), j.schemas[i], 1, 1, func() runtime.Operator { return &tjKindOp{col: col} })
			g.Connect(src, k, runtime.Forward)
			src = k
		}
		g.ConnectPort(src, 0, op, i, runtime.Keyed, j.keyCols[i]...)
	}
	got, newSink := rttest.NewCollector(j.out)
	sink := g.AddOperator("sink", j.out, 1, 1, newSink)
	g.Connect(op, sink, runtime.Global)
	set := metrics.NewSet()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := runtime.Run(ctx, g, runtime.Options{Parallelism: j.par, BufferRows: 64, Metrics: set}); err != nil {
		t.Fatalf("run: %v", err)
	}
	late, _ := rttest.Metric(set, "sluice_operator_late_rows_dropped_total", "join")
	return got.Rows(), int(late)
}

// tjSameRows fails unless got and want (both sorted) are equal.
func tjSameRows(t tjT, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s: got %d rows, want %d\ngot:\n  %s\nwant:\n  %s", what, len(got), len(want),
			strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// tjLateBound returns the watermark every subtask of a job's operator
// reaches before a held-back chunk, whatever the timing: the smallest, over
// the inputs, of the input's smallest partition maximum of column col
// minus outOfOrder+1 (an input that has ended no longer holds the
// watermark back; one still running has at least reached that). ok is
// false when an input has no row with a time.
func tjLateBound(parts [2][][][]runtime.Value, cols [2]int, outOfOrder int64) (bound int64, ok bool) {
	bound = math.MaxInt64
	for i := range parts {
		seen := false
		for _, rows := range parts[i] {
			m := int64(math.MinInt64)
			for _, r := range rows {
				if !r[cols[i]].Null {
					m = max(m, r[cols[i]].I)
				}
			}
			if m == math.MinInt64 {
				if len(rows) > 0 {
					return 0, false // a partition without times holds everything back
				}
				continue
			}
			seen = true
			bound = min(bound, m-outOfOrder-1)
		}
		if !seen {
			return 0, false
		}
	}
	return bound, true
}
