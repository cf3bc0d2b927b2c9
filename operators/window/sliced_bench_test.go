package window

import (
	"fmt"
	goruntime "runtime"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// windowRun is one timed run of a window operator over the same stream.
type windowRun struct {
	name string
	w    Assigner
	// panes keeps one pane per window (the operator before slicing).
	panes bool
	rows  int // rows to stream instead of the benchmark's
	// max aggregates MAX(v) instead of SUM(v): not invertible, each
	// window merges its slices afresh.
	max bool
	// perMs is the rows per millisecond of event time, 100 if 0.
	perMs int
}

// benchKeys returns random keys below keys, enough of them (at least
// four per key) that every key comes up in a long stream.
func benchKeys(keys int) []int64 {
	n := max(64*runtime.DefaultBatchRows, 4*keys)
	n -= n % runtime.DefaultBatchRows
	out := make([]int64, n)
	x := uint64(1)
	for i := range out {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		out[i] = int64(x % uint64(keys))
	}
	return out
}

// runWindow streams rows rows (COUNT(*) and SUM per key, r.perMs rows
// per millisecond of event time, a watermark after each batch, then the
// final one) through a fresh operator and returns the rows per second and the
// state it held at its largest, in bytes.
func runWindow(b *testing.B, r windowRun, keys []int64, rows int) (perSec float64, state int) {
	perMs := int64(100)
	if r.perMs > 0 {
		perMs = int64(r.perMs)
	}
	spec := benchSpec()
	spec.Window, spec.panes = r.w, r.panes
	if r.max {
		spec.Aggs = []agg.Spec{spec.Aggs[0], {Func: agg.Max, Col: 2, Name: "m"}}
	}
	newOp, _, err := New(spec)
	if err != nil {
		b.Fatal(err)
	}
	op := newOp()
	if err := op.Open(rttest.NewContext("window", 0, 1)); err != nil {
		b.Fatal(err)
	}
	defer op.Close()
	sb := op.(interface{ StateBytes() int })
	var out rttest.Discard
	bt := runtime.NewBatch(benchSchema)
	defer bt.Release()
	for r := 0; r < runtime.DefaultBatchRows; r++ {
		bt.AppendValues(runtime.IntValue(0), runtime.TimeValue(0), runtime.IntValue(int64(r)))
	}
	start := time.Now()
	for n := 0; n*runtime.DefaultBatchRows < rows; n++ {
		at := n * runtime.DefaultBatchRows % len(keys)
		copy(bt.Cols[0].I64, keys[at:at+runtime.DefaultBatchRows])
		ts := bt.Cols[1].I64
		first := int64(n) * runtime.DefaultBatchRows
		for i := range ts {
			ts[i] = (first + int64(i)) / perMs
		}
		if err := op.ProcessBatch(0, bt, &out); err != nil {
			b.Fatal(err)
		}
		if err := op.ProcessWatermark(ts[len(ts)-1]-1, &out); err != nil {
			b.Fatal(err)
		}
		if n%64 == 63 {
			state = max(state, sb.StateBytes())
		}
	}
	if err := op.ProcessWatermark(runtime.MaxWatermark, &out); err != nil {
		b.Fatal(err)
	}
	return float64(rows) / time.Since(start).Seconds(), state
}

// benchHopVsTumble runs each of runs in turn, rounds times, on the same
// rows, and reports each one's median rows/s, its ratio to the first (the
// tumble) and its largest state per key.
func benchHopVsTumble(b *testing.B, keys, rows int, runs []windowRun) {
	ks := benchKeys(keys)
	rates := make([][]float64, len(runs))
	states := make([]int, len(runs))
	for n := 0; n < b.N; n++ {
		for i, r := range runs {
			n := rows
			if r.rows > 0 {
				n = r.rows
			}
			rate, st := runWindow(b, r, ks, n)
			rates[i] = append(rates[i], rate)
			states[i] = max(states[i], st)
		}
	}
	med := func(x []float64) float64 {
		x = slices.Clone(x)
		slices.Sort(x)
		return x[len(x)/2]
	}
	base := med(rates[0])
	for i, r := range runs {
		m := med(rates[i])
		b.ReportMetric(m, r.name+"-rows/s")
		if i > 0 {
			b.ReportMetric(m/base, r.name+"/tumble")
		}
		b.ReportMetric(float64(states[i])/float64(keys), r.name+"-state-B/key")
	}
}

var (
	tumble10s = windowRun{name: "tumble10s", w: Tumble(10 * time.Second)}
	hop60     = windowRun{name: "hop1m1s", w: Hop(time.Second, time.Minute)}
	hop10     = windowRun{name: "hop10s1s", w: Hop(time.Second, 10*time.Second)}
)

// BenchmarkSlicedHop compares HOP 1 min / 1 s and HOP 10 s / 1 s with a
// 10 s TUMBLE on the same stream (COUNT(*) and SUM per BIGINT key, 100 rows
// per ms of event time: 240 s of it, so that the hop's slices reach their
// steady state), runs interleaved, medians over b.N rounds: at 10k keys
// (with the pane operator's figures for comparison, over 2M rows, and a
// hop of COUNT(*) and MAX, which merges slices afresh) and at 1M keys;
// and at 10k keys, 10 rows per ms (each key about once a second, so that
// most slices see a key once, as in `sluice bench --suite windows`), over
// 4M rows.
func BenchmarkSlicedHop(b *testing.B) {
	slow := func(r windowRun) windowRun { r.perMs = 10; return r }
	for _, c := range []struct {
		name       string
		keys, rows int
		runs       []windowRun
	}{
		{"", 10_000, 24_000_000, []windowRun{tumble10s, hop60, hop10, {name: "hop1m1s-max", w: hop60.w, max: true},
			{name: "hop1m1s-panes", w: hop60.w, panes: true, rows: 2_000_000}, {name: "hop10s1s-panes", w: hop10.w, panes: true, rows: 2_000_000}}},
		{",perMs=10", 10_000, 4_000_000, []windowRun{slow(tumble10s), slow(hop60), slow(hop10)}},
		{"", 1_000_000, 24_000_000, []windowRun{tumble10s, hop60, hop10}},
	} {
		b.Run(fmt.Sprintf("keys=%d%s", c.keys, c.name), func(b *testing.B) {
			benchHopVsTumble(b, c.keys, c.rows, c.runs)
		})
	}
}

// hopStateBytesPerKey fills the windows of w with keys distinct BIGINT
// keys, all at one time (COUNT(*) and SUM of a NOT NULL BIGINT), and
// returns the growth of the live heap per key.
func hopStateBytesPerKey(t tb, w Assigner, panes bool, keys int) float64 {
	t.Helper()
	spec := benchSpec()
	spec.Window, spec.panes = w, panes
	newOp, _, err := New(spec)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	bt := runtime.NewBatch(benchSchema)
	defer bt.Release()
	for c := range bt.Cols {
		bt.Cols[c].I64 = make([]int64, runtime.DefaultBatchRows)
	}
	var out rttest.Discard
	before := heapAlloc()
	op := newOp()
	if err := op.Open(&runtime.Context{Parallelism: 1}); err != nil {
		t.Fatalf("Open: %v", err)
	}
	for first := 0; first < keys; first += runtime.DefaultBatchRows {
		n := min(runtime.DefaultBatchRows, keys-first)
		for i := 0; i < n; i++ {
			bt.Cols[0].I64[i] = int64(uint64(first+i) * 0x9E3779B97F4A7C15)
			bt.Cols[1].I64[i] = 1000
			bt.Cols[2].I64[i] = int64(i)
		}
		bt.N = n
		for c := range bt.Cols {
			bt.Cols[c].I64 = bt.Cols[c].I64[:n]
		}
		if err := op.ProcessBatch(0, bt, &out); err != nil {
			t.Fatalf("ProcessBatch: %v", err)
		}
	}
	// Fire the first window: the running accumulators are state too.
	if err := op.ProcessWatermark(1999, &out); err != nil {
		t.Fatalf("ProcessWatermark: %v", err)
	}
	after := heapAlloc()
	goruntime.KeepAlive(op)
	return float64(int64(after)-int64(before)) / float64(keys)
}

// BenchmarkHopStateBytes reports the heap per key of HOP 1 min / 1 s
// (sliced) and of a 10 s TUMBLE holding the same million keys, in the same
// run, and their ratio; and of the pane operator's HOP at 100k keys.
func BenchmarkHopStateBytes(b *testing.B) {
	var tum, hop, panes float64
	for n := 0; n < b.N; n++ {
		tum = hopStateBytesPerKey(b, Tumble(10*time.Second), false, 1_000_000)
		hop = hopStateBytesPerKey(b, Hop(time.Second, time.Minute), false, 1_000_000)
		panes = hopStateBytesPerKey(b, Hop(time.Second, time.Minute), true, 100_000)
	}
	b.ReportMetric(tum, "tumble-B/key")
	b.ReportMetric(hop, "hop1m1s-B/key")
	b.ReportMetric(hop/tum, "hop/tumble")
	b.ReportMetric(panes, "hop1m1s-panes-B/key")
}

// TestHopStateBytesPerKey checks that a million keys in HOP 1 min / 1 s
// cost at most twice the heap they cost in a 10 s TUMBLE: a row is kept in
// one slice, not in sixty windows.
func TestHopStateBytesPerKey(t *testing.T) {
	if testing.Short() {
		t.Skip("fills windows with a million keys")
	}
	tum := hopStateBytesPerKey(t, Tumble(10*time.Second), false, 1_000_000)
	hop := hopStateBytesPerKey(t, Hop(time.Second, time.Minute), false, 1_000_000)
	t.Logf("%.1f bytes per key in HOP 1 min / 1 s, %.1f in TUMBLE 10 s", hop, tum)
	if hop > 2*tum {
		t.Fatalf("%.1f bytes per key in HOP 1 min / 1 s, over twice the tumble's %.1f", hop, tum)
	}
}
