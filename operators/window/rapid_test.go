package window

import (
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// rndSchema is the input of the randomised tests: two nullable keys, a
// nullable time and values of every type.
var rndSchema = runtime.NewSchema(
	runtime.Field{Name: "k1", Type: runtime.BigInt, Nullable: true},
	runtime.Field{Name: "k2", Type: runtime.Varchar, Nullable: true},
	runtime.Field{Name: "ts", Type: runtime.Timestamp, Nullable: true},
	runtime.Field{Name: "v", Type: runtime.BigInt, Nullable: true},
	runtime.Field{Name: "d", Type: runtime.Double, Nullable: true},
	runtime.Field{Name: "s", Type: runtime.Varchar, Nullable: true},
	runtime.Field{Name: "n", Type: runtime.Int},
)

var rndAggs = []agg.Spec{
	{Func: agg.Count, Col: -1, Name: "c"},
	{Func: agg.Count, Col: 3, Name: "cv"},
	{Func: agg.Count, Col: 5, Name: "cs"},
	{Func: agg.CountDistinct, Col: 3, Name: "cdv"},
	{Func: agg.CountDistinct, Col: 4, Name: "cdd"},
	{Func: agg.CountDistinct, Col: 5, Name: "cds"},
	{Func: agg.Sum, Col: 3, Name: "sv"},
	{Func: agg.Sum, Col: 4, Name: "sd"},
	{Func: agg.Sum, Col: 6, Name: "sn"},
	{Func: agg.Min, Col: 3, Name: "minv"},
	{Func: agg.Max, Col: 3, Name: "maxv"},
	{Func: agg.Min, Col: 4, Name: "mind"},
	{Func: agg.Max, Col: 4, Name: "maxd"},
	{Func: agg.Min, Col: 5, Name: "mins"},
	{Func: agg.Max, Col: 5, Name: "maxs"},
	{Func: agg.Min, Col: 2, Name: "mints"},
	{Func: agg.Max, Col: 2, Name: "maxts"},
	{Func: agg.Max, Col: 6, Name: "maxn"},
	{Func: agg.Avg, Col: 3, Name: "av"},
	{Func: agg.Avg, Col: 4, Name: "ad"},
	{Func: agg.Avg, Col: 6, Name: "an"},
}

// scenario is a random window aggregation over rows none of which is late.
type scenario struct {
	spec    Spec
	rows    [][]runtime.Value
	chunks  []rttest.Chunk
	delay   int64 // how far behind the largest time before it a row can be, in ms
	wmDelay int64 // the out-of-orderness of the watermarks (at least delay)
	nulls   int   // rows with a NULL time
}

func orNull(g *rapid.Generator[runtime.Value]) *rapid.Generator[runtime.Value] {
	return rapid.OneOf(g, g, g, rapid.Just(null))
}

var (
	genK1 = orNull(rapid.Map(rapid.Int64Range(-2, 3), runtime.IntValue))
	genK2 = orNull(rapid.Map(rapid.SampledFrom([]string{"x", "y", ""}), runtime.StringValue))
	genV  = orNull(rapid.Map(rapid.Int64Range(-50, 50), runtime.IntValue))
	// Multiples of 1/4: sums are exact in any order. No -0: MIN and MAX
	// of 0 and -0 depend on the order.
	genD = orNull(rapid.Map(rapid.IntRange(-40, 40), func(x int) runtime.Value { return runtime.FloatValue(float64(x) / 4) }))
	genS = orNull(rapid.Map(rapid.SampledFrom([]string{"", "a", "b", "ab", "é", "z"}), runtime.StringValue))
	genN = rapid.Map(rapid.Int64Range(-5, 5), func(x int64) runtime.Value { return runtime.Value{Type: runtime.Int, I: x} })
)

func drawScenario(t *rapid.T) scenario {
	var w Assigner
	switch rapid.SampledFrom([]Kind{Tumbling, Hopping, Session}).Draw(t, "kind") {
	case Tumbling:
		size := rapid.Int64Range(1, 60).Draw(t, "size")
		w = Assigner{Kind: Tumbling, Size: size, Slide: size, Offset: rapid.Int64Range(-70, 70).Draw(t, "offset")}
	case Hopping:
		slide := rapid.Int64Range(1, 20).Draw(t, "slide")
		w = Assigner{Kind: Hopping, Slide: slide, Size: slide * rapid.Int64Range(1, 6).Draw(t, "slides"), Offset: rapid.Int64Range(-30, 30).Draw(t, "offset")}
	case Session:
		w = Assigner{Kind: Session, Gap: rapid.Int64Range(1, 60).Draw(t, "gap")}
	}
	sc := scenario{spec: Spec{
		In:              rndSchema,
		KeyCols:         rapid.SampledFrom([][]int{nil, {0}, {1}, {0, 1}, {1, 0}}).Draw(t, "keys"),
		TimeCol:         2,
		Window:          w,
		Aggs:            rapid.SliceOfN(rapid.SampledFrom(rndAggs), 1, 8).Draw(t, "aggs"),
		AllowedLateness: time.Duration(rapid.SampledFrom([]int64{0, 0, 7, 100}).Draw(t, "lateness")) * time.Millisecond,
	}}
	// Times: a base that grows, each row up to delay behind it, so every
	// row is after the watermark (largest time so far - delay - 1).
	//
	// A session fires when the watermark reaches its end-1, yet a row at
	// exactly its end, which is on time (later than the watermark), would
	// join it: bounds are inclusive. Flink has the same race; it makes the
	// result depend on when watermarks arrive. A watermark one more
	// millisecond behind keeps such a row from existing; the tests of session
	// boundaries cover it.
	sc.delay = rapid.Int64Range(0, 30).Draw(t, "delay")
	sc.wmDelay = sc.delay
	if w.Kind == Session {
		sc.wmDelay++
	}
	base := rapid.Int64Range(-300, 300).Draw(t, "start")
	n := rapid.IntRange(0, 300).Draw(t, "rows")
	for i := 0; i < n; i++ {
		base += rapid.Int64Range(0, 4).Draw(t, "step")
		ts := runtime.TimeValue(base - rapid.Int64Range(0, sc.delay).Draw(t, "behind"))
		if rapid.IntRange(0, 40).Draw(t, "null time") == 0 {
			ts = null
			sc.nulls++
		}
		sc.rows = append(sc.rows, []runtime.Value{genK1.Draw(t, "k1"), genK2.Draw(t, "k2"), ts, genV.Draw(t, "v"), genD.Draw(t, "d"), genS.Draw(t, "s"), genN.Draw(t, "n")})
	}
	parts := rapid.IntRange(1, 4).Draw(t, "partitions")
	for i := 0; i < n; {
		size := rapid.IntRange(1, 60).Draw(t, "chunk")
		sc.chunks = append(sc.chunks, rttest.Chunk{Part: len(sc.chunks) % parts, Rows: sc.rows[i:min(n, i+size)]})
		i += size
	}
	return sc
}

// TestRandomDirect drives the operator by hand: batches (some with a
// selection vector over rows that must be ignored), watermarks after some of
// them, then the final watermark.
func TestRandomDirect(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sc := drawScenario(t)
		want := reference(sc.spec, sc.rows)
		h := newHarness(t, sc.spec)
		maxT, wm := runtime.MinWatermark, runtime.MinWatermark
		for _, c := range sc.chunks {
			b := runtime.NewBatch(rndSchema)
			useSel := rapid.Bool().Draw(t, "selection")
			var sel []int32
			for _, r := range c.Rows {
				if useSel && rapid.Bool().Draw(t, "filtered") {
					// Not selected: would add a group of its own.
					b.AppendValues(runtime.IntValue(99), runtime.StringValue("filtered"), r[2], r[3], r[4], r[5], r[6])
				}
				sel = append(sel, int32(b.N))
				b.AppendValues(r...)
				if !r[2].Null {
					maxT = max(maxT, r[2].I)
				}
			}
			if useSel {
				b.Sel = sel
			}
			if err := h.op.ProcessBatch(0, b, h.out); err != nil {
				t.Fatalf("ProcessBatch: %v", err)
			}
			b.Release()
			if maxT != runtime.MinWatermark && maxT-sc.wmDelay-1 > wm && rapid.IntRange(0, 3).Draw(t, "watermark") > 0 {
				wm = maxT - sc.wmDelay - 1
				h.watermark(wm)
			}
		}
		h.finish()
		if got := h.take(); !slices.Equal(got, want) {
			t.Fatalf("%d rows, want %d:\n%s", len(got), len(want), diff(got, want))
		}
		h.expectDropped(uint64(sc.nulls))
		checkStateFreed(t, h.op)
	})
}

// TestRandomJob runs the aggregation as a job at parallelism 1 and 3.
func TestRandomJob(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	rapid.Check(t, func(t *rapid.T) {
		sc := drawScenario(t)
		want := reference(sc.spec, sc.rows)
		for _, p := range []int{1, 3} {
			winPar := p
			if len(sc.spec.KeyCols) == 0 {
				winPar = 1
			}
			res := job{spec: sc.spec, chunks: sc.chunks, srcPar: p, winPar: winPar, delay: time.Duration(sc.wmDelay) * time.Millisecond}.run(t)
			if !slices.Equal(res.rows, want) {
				t.Fatalf("p=%d: %d rows, want %d:\n%s", p, len(res.rows), len(want), diff(res.rows, want))
			}
			if res.dropped != uint64(sc.nulls) {
				t.Fatalf("p=%d: %d rows dropped as late, want %d (the rows without a time)", p, res.dropped, sc.nulls)
			}
		}
	})
}

// checkStateFreed fails unless the operator holds no window after the final
// watermark.
func checkStateFreed(t tb, op runtime.Operator) {
	t.Helper()
	switch o := op.(type) {
	case *alignedOp:
		if len(o.panes) != 0 || len(o.order) != 0 || len(o.free) > 4 {
			t.Fatalf("after the final watermark: %d panes, %d in order, %d free", len(o.panes), len(o.order), len(o.free))
		}
	case *slicedOp:
		if o.panes != nil {
			checkStateFreed(t, o.panes)
			return
		}
		if len(o.slices) != 0 || len(o.order) != 0 || len(o.free) > o.maxFree() || o.entries != 0 || o.keys.Len() != 0 {
			t.Fatalf("after the final watermark: %d slices, %d in order, %d free, %d groups, %d keys", len(o.slices), len(o.order), len(o.free), o.entries, o.keys.Len())
		}
	case *sessionOp:
		if o.open != 0 || o.nlive != 0 || o.wheel.len() != 0 || len(o.freeIDs(nil)) != o.ss.len() {
			t.Fatalf("after the final watermark: %d sessions, %d live keys, %d timers, %d of %d session ids free", o.open, o.nlive, o.wheel.len(), len(o.freeIDs(nil)), o.ss.len())
		}
		for id, h := range o.first {
			if h != 0 {
				t.Fatalf("key %d still has sessions", id)
			}
		}
	}
}

// TestRandomLateAligned lets rows arrive later than the watermark allows:
// a row goes into those of its windows still within the allowed lateness
// and is dropped when there is none; a window fired before re-fires the
// groups late rows update, so the last row emitted for each key and window
// is the aggregate over the rows it took.
func TestRandomLateAligned(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sc := drawScenario(t)
		w := sc.spec.Window
		if w.Kind == Session {
			w = Assigner{Kind: Tumbling, Size: w.Gap, Slide: w.Gap}
			sc.spec.Window = w
		}
		lateness := sc.spec.AllowedLateness.Milliseconds()
		lag := rapid.Int64Range(0, sc.delay).Draw(t, "watermark lag") // < delay: some rows are late
		h := newHarness(t, sc.spec)
		arrival := make([]int64, len(sc.rows)) // the watermark each row met
		dropped := 0
		maxT, wm := runtime.MinWatermark, runtime.MinWatermark
		i := 0
		for _, c := range sc.chunks {
			h.batch(c.Rows...)
			for _, r := range c.Rows {
				arrival[i] = wm
				i++
				if r[2].Null {
					dropped++
					continue
				}
				maxT = max(maxT, r[2].I)
				live := false
				for s := r[2].I - w.Size + 1; s <= r[2].I; s++ {
					if (s-w.Offset)%w.Slide == 0 && s+w.Size-1+lateness > wm {
						live = true
					}
				}
				if !live {
					dropped++
				}
			}
			if maxT != runtime.MinWatermark && maxT-lag-1 > wm && rapid.IntRange(0, 3).Draw(t, "watermark") > 0 {
				wm = maxT - lag - 1
				h.watermark(wm)
			}
		}
		h.finish()
		want := referenceWith(sc.spec, sc.rows, func(i int, start, end int64) bool { return end-1+lateness > arrival[i] })
		// The last row emitted for each key and window.
		nk := len(sc.spec.KeyCols)
		last := map[string]string{}
		for _, r := range h.rows() {
			f := strings.SplitN(r, ",", nk+3)
			last[strings.Join(f[:nk+2], ",")] = r
		}
		var got []string
		for _, r := range last {
			got = append(got, r)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("%d groups, want %d:\n%s", len(got), len(want), diff(got, want))
		}
		h.expectDropped(uint64(dropped))
		checkStateFreed(t, h.op)
	})
}
