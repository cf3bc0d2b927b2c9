package window

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// sorted formats the rows of c with fmtRow, sorted.
func sorted(c *rttest.Collector) []string {
	var out []string
	for _, r := range c.Rows() {
		out = append(out, fmtRow(r))
	}
	slices.Sort(out)
	return out
}

// job describes a run of a window aggregation through runtime.Run.
type job struct {
	spec     Spec
	chunks   []rttest.Chunk
	srcPar   int
	winPar   int
	delay    time.Duration // the source's MaxOutOfOrderness
	lateSide bool          // connect side output port 1 to a sink
}

type jobResult struct {
	rows, late []string
	dropped    uint64
}

func (j job) run(t tb) jobResult {
	t.Helper()
	g := runtime.NewGraph("windows")
	src := g.AddSource("src", j.spec.In, j.srcPar, rttest.Source(j.spec.In, j.chunks),
		runtime.WatermarkStrategy{TimeColumn: j.spec.TimeCol, MaxOutOfOrderness: j.delay})
	newOp, out, err := New(j.spec)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	win := g.AddOperator("win", out, j.winPar, 1, newOp)
	if len(j.spec.KeyCols) > 0 {
		g.Connect(src, win, runtime.Keyed, j.spec.KeyCols...)
	} else {
		g.Connect(src, win, runtime.Global)
	}
	results, mk := rttest.NewCollector(out)
	snk := g.AddOperator("sink", out, 1, 1, mk)
	g.Connect(win, snk, runtime.Global)
	var late *rttest.Collector
	if j.lateSide {
		g.Node(win).SideSchemas = []*runtime.Schema{j.spec.In}
		var mkLate func() runtime.Operator
		late, mkLate = rttest.NewCollector(j.spec.In)
		lateSink := g.AddOperator("late", j.spec.In, j.winPar, 1, mkLate)
		g.ConnectPort(win, 1, lateSink, 0, runtime.Forward)
	}
	set := metrics.NewSet()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := runtime.Run(ctx, g, runtime.Options{Parallelism: j.winPar, BufferRows: 256, Metrics: set}); err != nil {
		t.Fatalf("Run: %v", err)
	}
	dropped, ok := rttest.Metric(set, "sluice_operator_late_rows_dropped_total", "win")
	if !ok {
		t.Fatalf("no sluice_operator_late_rows_dropped_total series for operator win")
	}
	res := jobResult{rows: sorted(results), dropped: uint64(dropped)}
	if late != nil {
		res.late = sorted(late)
	}
	return res
}

// orderedRows makes rows of keys 0..keys-1 with even times that grow by
// about 2 every 3 rows, each up to delay ms behind the largest before it (so
// none is late with that out-of-orderness), cut into chunks of size rows
// spread over parts partitions in turn.
func orderedRows(n, keys, parts, size int, delay int64) ([][]runtime.Value, []rttest.Chunk) {
	var rows [][]runtime.Value
	seed := uint64(42)
	rnd := func(m int64) int64 {
		seed = seed*6364136223846793005 + 1442695040888963407
		return int64(seed>>33) % m
	}
	for i := 0; i < n; i++ {
		base := int64(i) / 3
		rows = append(rows, kv(rnd(int64(keys)), 2*(base-rnd(delay/2+1)), rnd(100)))
	}
	return rows, rttest.Deal(rows, size, parts)
}

func TestJobSameResultAnyParallelism(t *testing.T) {
	rows, chunks := orderedRows(20000, 50, 3, 100, 40)
	for _, w := range []Assigner{Tumble(100 * ms), Hop(50*ms, 200*ms), SessionGap(41 * ms)} {
		t.Run(w.String(), func(t *testing.T) {
			spec := kvSpec(w)
			want := reference(spec, rows)
			for _, p := range []int{1, 4} {
				res := job{spec: spec, chunks: chunks, srcPar: min(p, 3), winPar: p, delay: 40 * ms}.run(t)
				if res.dropped != 0 {
					t.Fatalf("p=%d: %d rows dropped as late, want 0", p, res.dropped)
				}
				if !slices.Equal(res.rows, want) {
					t.Fatalf("p=%d: %d rows differ from the %d expected:\n%s", p, len(res.rows), len(want), diff(res.rows, want))
				}
			}
		})
	}
}

func TestJobGlobalWindow(t *testing.T) {
	rows, chunks := orderedRows(5000, 10, 2, 64, 10)
	spec := kvSpec(Tumble(100 * ms))
	spec.KeyCols = nil
	want := reference(spec, rows)
	res := job{spec: spec, chunks: chunks, srcPar: 2, winPar: 1, delay: 10 * ms}.run(t)
	if !slices.Equal(res.rows, want) || res.dropped != 0 {
		t.Fatalf("dropped %d; rows differ:\n%s", res.dropped, diff(res.rows, want))
	}
}

// TestJobSlowPartitionHoldsWatermark runs a fast partition an hour ahead of
// a slow one: the watermark is the minimum, so no slow row is late.
func TestJobSlowPartitionHoldsWatermark(t *testing.T) {
	const hour = 3600 * 1000
	var slow, fast []rttest.Chunk
	var rows [][]runtime.Value
	for c := 0; c < 20; c++ {
		var s, f [][]runtime.Value
		for i := 0; i < 50; i++ {
			ts := int64(c*50 + i)
			s = append(s, kv(1, ts, 1))
			f = append(f, kv(2, hour+ts, 1))
		}
		slow = append(slow, rttest.Chunk{Part: 0, Rows: s})
		fast = append(fast, rttest.Chunk{Part: 1, Rows: f})
		rows = append(append(rows, s...), f...)
	}
	spec := kvSpec(Tumble(100 * ms))
	want := reference(spec, rows)
	f := func(name string, chunks []rttest.Chunk, srcPar int) {
		t.Helper()
		for _, p := range []int{1, 2} {
			res := job{spec: spec, chunks: chunks, srcPar: srcPar, winPar: p}.run(t)
			if res.dropped != 0 || !slices.Equal(res.rows, want) {
				t.Fatalf("%s, p=%d: %d rows dropped as late; rows differ:\n%s", name, p, res.dropped, diff(res.rows, want))
			}
		}
	}
	// Two source subtasks, the fast one first: the window operator takes
	// the minimum over its inputs.
	f("two subtasks", append(slices.Clone(fast), slow...), 2)
	// One subtask reading both partitions: the source takes the minimum
	// over its partitions.
	var mixed []rttest.Chunk
	for c := range slow {
		mixed = append(mixed, slow[c], fast[c])
	}
	f("one subtask", mixed, 1)
}

func TestJobLateRows(t *testing.T) {
	// Times up to 1000, then rows behind the watermark (999-10-1).
	var onTime [][]runtime.Value
	for ts := int64(0); ts <= 1000; ts += 10 {
		onTime = append(onTime, kv(ts%3, ts, 1))
	}
	lateRows := [][]runtime.Value{kv(0, 5, 7), kv(1, 880, 7), {runtime.IntValue(2), null, runtime.IntValue(7)}}
	chunks := []rttest.Chunk{{Part: 0, Rows: onTime}, {Part: 0, Rows: append(lateRows, kv(1, 995, 1))}}
	for _, w := range []Assigner{Tumble(100 * ms), Hop(50*ms, 100*ms), SessionGap(5 * ms)} {
		t.Run(w.String(), func(t *testing.T) {
			spec := kvSpec(w)
			want := reference(spec, append(slices.Clone(onTime), kv(1, 995, 1)))
			for _, p := range []int{1, 3} {
				// Dropped and counted.
				res := job{spec: spec, chunks: chunks, srcPar: 1, winPar: p, delay: 10 * ms}.run(t)
				if res.dropped != 3 || !slices.Equal(res.rows, want) {
					t.Fatalf("p=%d: %d dropped, want 3; rows differ:\n%s", p, res.dropped, diff(res.rows, want))
				}
				// Routed to the side output.
				spec.LateOutput = true
				res = job{spec: spec, chunks: chunks, srcPar: 1, winPar: p, delay: 10 * ms, lateSide: true}.run(t)
				spec.LateOutput = false
				wantLate := []string{"0,5,7", "1,880,7", "2,NULL,7"}
				if res.dropped != 0 || !slices.Equal(res.late, wantLate) || !slices.Equal(res.rows, want) {
					t.Fatalf("p=%d: %d dropped, want 0; late rows %q, want %q; rows differ:\n%s", p, res.dropped, res.late, wantLate, diff(res.rows, want))
				}
			}
		})
	}
}

func TestJobLateOutputWithoutSideEdgeCounts(t *testing.T) {
	spec := kvSpec(Tumble(100 * ms))
	spec.LateOutput = true
	chunks := []rttest.Chunk{{Rows: [][]runtime.Value{kv(1, 1000, 1)}}, {Rows: [][]runtime.Value{kv(1, 10, 1)}}}
	res := job{spec: spec, chunks: chunks, srcPar: 1, winPar: 1}.run(t)
	if res.dropped != 1 || len(res.rows) != 1 {
		t.Fatalf("dropped %d, want 1; rows %q", res.dropped, res.rows)
	}
}

// diff shows the rows only in got and only in want.
func diff(got, want []string) string {
	count := map[string]int{}
	for _, r := range got {
		count[r]++
	}
	for _, r := range want {
		count[r]--
	}
	var b strings.Builder
	n := 0
	for _, r := range append(slices.Clone(got), want...) {
		c := count[r]
		if c == 0 || n > 20 {
			continue
		}
		if c > 0 {
			b.WriteString("  extra:   " + r + "\n")
		} else {
			b.WriteString("  missing: " + r + "\n")
		}
		count[r] = 0
		n++
	}
	return b.String()
}
