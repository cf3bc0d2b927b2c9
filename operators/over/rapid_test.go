package over

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"pgregory.net/rapid"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

var (
	genK = rapid.OneOf(rapid.Map(rapid.Int64Range(-1, 3), runtime.IntValue), rapid.Just(null))
	genV = rapid.OneOf(rapid.Map(rapid.Int64Range(-50, 50), runtime.IntValue), rapid.Map(rapid.Int64Range(-50, 50), runtime.IntValue), rapid.Just(null))
	// Multiples of 1/4: sums are exact in any order. No -0.
	genD = rapid.OneOf(rapid.Map(rapid.IntRange(-40, 40), func(x int) runtime.Value { return runtime.FloatValue(float64(x) / 4) }), rapid.Just(null))
	genS = rapid.OneOf(rapid.Map(rapid.SampledFrom([]string{"", "a", "b", "ab", "z"}), runtime.StringValue), rapid.Just(null))
)

// scenario is a random OVER aggregation and its input, in arrival order:
// each row at most delay ms behind the largest time before it. Under a
// ROWS frame no two rows share a time (peers would be ordered by arrival,
// which the runtime does not fix across source partitions).
type scenario struct {
	spec   Spec
	rows   [][]runtime.Value
	chunks []rttest.Chunk
	delay  int64
	parts  int
}

func drawScenario(t *rapid.T) scenario {
	f := Frame{Rows: rapid.Bool().Draw(t, "rows"), Unbounded: rapid.IntRange(0, 3).Draw(t, "unbounded") == 0}
	if !f.Unbounded {
		if f.Rows {
			f.Preceding = rapid.Int64Range(0, 6).Draw(t, "preceding rows")
		} else {
			f.Preceding = rapid.Int64Range(0, 40).Draw(t, "preceding ms")
		}
	}
	sc := scenario{spec: Spec{In: in, TimeCol: 1, Frame: f, Aggs: specs()}}
	if rapid.IntRange(0, 4).Draw(t, "partitioned") > 0 {
		sc.spec.PartitionCols = []int{0}
	}
	sc.delay = rapid.Int64Range(0, 30).Draw(t, "delay")
	base := rapid.Int64Range(-300, 300).Draw(t, "start")
	n := rapid.IntRange(0, 250).Draw(t, "n")
	for i := 0; i < n; i++ {
		base += rapid.Int64Range(0, 3).Draw(t, "step")
		ts := base - rapid.Int64Range(0, sc.delay).Draw(t, "behind")
		if f.Rows {
			ts = ts*1024 + int64(i)
		}
		sc.rows = append(sc.rows, []runtime.Value{genK.Draw(t, "k"), runtime.TimeValue(ts), genV.Draw(t, "v"), genD.Draw(t, "d"), genS.Draw(t, "s")})
	}
	if f.Rows {
		sc.delay = sc.delay*1024 + 1023
	}
	sc.parts = rapid.IntRange(1, 3).Draw(t, "partitions")
	for i := 0; i < n; {
		size := rapid.IntRange(1, 40).Draw(t, "chunk")
		sc.chunks = append(sc.chunks, rttest.Chunk{Part: len(sc.chunks) % sc.parts, Rows: sc.rows[i:min(n, i+size)]})
		i += size
	}
	return sc
}

// TestOverMatchesSQLiteWithLateRowsAndRestarts drives the operator by hand
// with watermarks that leave some rows late, and snapshots and restores it
// at random points: the rows it emits are sqlite3's window aggregates over
// the rows that were not late, each once, and it counts the late ones.
func TestOverMatchesSQLiteWithLateRowsAndRestarts(t *testing.T) {
	sqlite := needSQLite(t)
	rapid.Check(t, func(t *rapid.T) {
		sc := drawScenario(t)
		lag := rapid.Int64Range(0, sc.delay).Draw(t, "watermark lag") // < delay: some rows are late
		h := newHarness(t, sc.spec)
		var kept [][]runtime.Value
		var seq []int
		late := 0
		maxT, wm := runtime.MinWatermark, runtime.MinWatermark
		i := 0
		for _, c := range sc.chunks {
			h.batch(c.Rows...)
			for _, r := range c.Rows {
				if r[1].I <= wm {
					late++
				} else {
					kept = append(kept, r)
					seq = append(seq, i)
				}
				i++
				maxT = max(maxT, r[1].I)
			}
			if maxT-lag-1 > wm && rapid.IntRange(0, 2).Draw(t, "watermark") > 0 {
				wm = maxT - lag - 1
				h.watermark(wm)
			}
			if rapid.IntRange(0, 5).Draw(t, "restart") == 0 {
				h.restart()
			}
		}
		h.watermark(runtime.MaxWatermark)
		rows := h.out.Rows()
		for i, k := range h.out.Kinds() {
			if k != runtime.Insert {
				t.Fatalf("row %d is %s, want only inserts", i, k)
			}
		}
		// Each partition's rows come out in time order.
		lastT := map[string]int64{}
		for _, r := range rows {
			key := norm(runtime.BigInt, r[0])
			if len(sc.spec.PartitionCols) == 0 {
				key = ""
			}
			if prev, ok := lastT[key]; ok && r[1].I < prev {
				t.Fatalf("partition %s: row at %d after one at %d", key, r[1].I, prev)
			}
			lastT[key] = r[1].I
		}
		_, out, _ := New(sc.spec)
		got := fmtRows(out, rows)
		want := sqliteOver(t, sqlite, kept, seq, sc.spec.Frame, len(sc.spec.PartitionCols) > 0, out)
		if !slices.Equal(got, want) {
			t.Fatalf("%s: %d rows, want %d:\n%s", sc.spec.Frame, len(got), len(want), diff(got, want))
		}
		if d := h.ctx.Metrics.LateRowsDropped.Get(); d != uint64(late) {
			t.Fatalf("%d rows dropped as late, want %d", d, late)
		}
	})
}

// TestOverJobMatchesSQLiteAtParallelism1And3 runs the aggregation as a job,
// keyed by the partition column, fed by a parallel source whose watermarks
// leave no row late.
func TestOverJobMatchesSQLiteAtParallelism1And3(t *testing.T) {
	sqlite := needSQLite(t)
	rapid.Check(t, func(t *rapid.T) {
		sc := drawScenario(t)
		sc.spec.PartitionCols = []int{0}
		_, out, err := New(sc.spec)
		if err != nil {
			t.Fatal(err)
		}
		seq := make([]int, len(sc.rows))
		for i := range seq {
			seq[i] = i
		}
		want := sqliteOver(t, sqlite, sc.rows, seq, sc.spec.Frame, true, out)
		for _, p := range []int{1, 3} {
			got, dropped := runJob(t, sc, p)
			if !slices.Equal(got, want) {
				t.Fatalf("p=%d %s: %d rows, want %d:\n%s", p, sc.spec.Frame, len(got), len(want), diff(got, want))
			}
			if dropped != 0 {
				t.Fatalf("p=%d: %v rows dropped as late, want none", p, dropped)
			}
		}
	})
}

// runJob runs sc as source → keyed exchange → OVER (parallelism p) → sink.
func runJob(t tb, sc scenario, p int) ([]string, float64) {
	t.Helper()
	newOp, out, err := New(sc.spec)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	g := runtime.NewGraph("over")
	src := g.AddSource("src", in, min(p, sc.parts), rttest.Source(in, sc.chunks),
		runtime.WatermarkStrategy{TimeColumn: 1, MaxOutOfOrderness: time.Duration(sc.delay) * time.Millisecond})
	o := g.AddOperator("over", out, p, 1, newOp)
	g.Connect(src, o, runtime.Keyed, sc.spec.PartitionCols...)
	c, sink := rttest.NewCollector(out)
	k := g.AddOperator("sink", out, 1, 1, sink)
	g.Connect(o, k, runtime.Global)
	set := metrics.NewSet()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := runtime.Run(ctx, g, runtime.Options{Parallelism: p, BufferRows: 256, Metrics: set}); err != nil {
		t.Fatalf("Run: %v", err)
	}
	dropped, _ := rttest.Metric(set, "sluice_operator_late_rows_dropped_total", "over")
	return fmtRows(out, c.Rows()), dropped
}
