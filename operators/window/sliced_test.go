package window

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/runtime"
)

// slicedAggs are the aggregates the sliced tests draw from: rndAggs and
// SUM(DISTINCT). (The variances slice too, but merging Welford states
// rounds differently from adding rows one by one.)
var slicedAggs = append(slices.Clone(rndAggs),
	agg.Spec{Func: agg.SumDistinct, Col: 3, Name: "sdv"},
)

// invertibleAggs are aggregates a running accumulator can take a slice
// back out of (agg.Layout.Subtractable).
var invertibleAggs = []agg.Spec{
	{Func: agg.Count, Col: -1, Name: "c"},
	{Func: agg.Count, Col: 3, Name: "cv"},
	{Func: agg.Sum, Col: 3, Name: "sv"},
	{Func: agg.Sum, Col: 6, Name: "sn"},
	{Func: agg.Avg, Col: 3, Name: "av"},
	{Func: agg.Avg, Col: 6, Name: "an"},
	{Func: agg.Min, Col: 3, Name: "minv"},
	{Func: agg.Max, Col: 4, Name: "maxd"},
	{Func: agg.Min, Col: 5, Name: "mins"},
	{Func: agg.Max, Col: 5, Name: "maxs"},
	{Func: agg.Max, Col: 2, Name: "maxts"},
}

// drawSlicedSpec draws hopping or cumulating windows over random keys and
// aggregates, with or without allowed lateness.
func drawSlicedSpec(t *rapid.T) Spec {
	slide := rapid.Int64Range(1, 12).Draw(t, "slide")
	w := Assigner{Kind: Hopping, Slide: slide, Size: slide * rapid.Int64Range(2, 7).Draw(t, "slides"), Offset: rapid.Int64Range(-30, 30).Draw(t, "offset")}
	if rapid.IntRange(0, 2).Draw(t, "cumulate") == 0 {
		w.Kind = Cumulating
	}
	aggs := invertibleAggs
	if rapid.Bool().Draw(t, "any aggregate") {
		aggs = slicedAggs
	}
	return Spec{
		In:              rndSchema,
		KeyCols:         rapid.SampledFrom([][]int{nil, {0}, {1}, {0, 1}, {1, 0}}).Draw(t, "keys"),
		TimeCol:         2,
		Window:          w,
		Aggs:            rapid.SliceOfN(rapid.SampledFrom(aggs), 1, 6).Draw(t, "aggs"),
		AllowedLateness: time.Duration(rapid.SampledFrom([]int64{0, 0, 5, 30}).Draw(t, "lateness")) * time.Millisecond,
	}
}

// drawSteps draws batches of rows, out of order and some late, with
// watermarks between them, maybe ending with the final one.
func drawSteps(t *rapid.T) []step {
	var steps []step
	base, wm := rapid.Int64Range(-200, 200).Draw(t, "start"), int64(runtime.MinWatermark)
	lag := rapid.Int64Range(0, 40).Draw(t, "watermark lag")
	for i, n := 0, rapid.IntRange(1, 30).Draw(t, "steps"); i < n; i++ {
		if rapid.IntRange(0, 2).Draw(t, "is watermark") == 0 {
			if next := base - lag; next > wm {
				wm = next
				steps = append(steps, wmark(wm))
			}
			continue
		}
		var b [][]runtime.Value
		for n := rapid.IntRange(1, 15).Draw(t, "batch rows"); n > 0; n-- {
			base += rapid.Int64Range(0, 4).Draw(t, "step")
			ts := runtime.TimeValue(base - rapid.Int64Range(0, 50).Draw(t, "behind"))
			if rapid.IntRange(0, 30).Draw(t, "null time") == 0 {
				ts = null
			}
			b = append(b, []runtime.Value{genK1.Draw(t, "k1"), genK2.Draw(t, "k2"), ts, genV.Draw(t, "v"), genD.Draw(t, "d"), genS.Draw(t, "s"), genN.Draw(t, "n")})
		}
		steps = append(steps, rows(b...))
	}
	if rapid.Bool().Draw(t, "finish") {
		steps = append(steps, wmark(runtime.MaxWatermark))
	}
	return steps
}

// outputs runs steps through h and returns what each step emitted (sorted:
// rows of one firing come in no particular order).
func (h *harness) outputs(steps []step) [][]string {
	h.t.Helper()
	var out [][]string
	for _, s := range steps {
		h.run([]step{s})
		out = append(out, h.take())
	}
	return out
}

func equalOutputs(t tb, what string, got, want [][]string) {
	t.Helper()
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Fatalf("%s, step %d:\n%s", what, i, diff(got[i], want[i]))
		}
	}
}

// TestSlicedMatchesPanes checks the sliced operator against one pane per
// window: the same rows, re-fired rows included, after each batch and
// watermark, the same rows dropped as late, and so after a snapshot
// restored mid-stream into a fresh operator.
func TestSlicedMatchesPanes(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		spec := drawSlicedSpec(t)
		steps := drawSteps(t)
		ref := spec
		ref.panes = true
		p := newHarness(t, ref)
		want := p.outputs(steps)

		s := newHarness(t, spec)
		if _, ok := s.op.(*slicedOp); !ok {
			t.Fatalf("%s over %v is not sliced", spec.Window, spec.Aggs)
		}
		at := rapid.IntRange(0, len(steps)).Draw(t, "snapshot at")
		got := s.outputs(steps[:at])
		data := s.snapshot()
		if rapid.Bool().Draw(t, "restore") {
			dropped := s.ctx.Metrics.LateRowsDropped.Get()
			s = newHarness(t, spec)
			s.restore(data)
			s.ctx.Metrics.LateRowsDropped.Add(int(dropped))
		}
		got = append(got, s.outputs(steps[at:])...)
		equalOutputs(t, spec.Window.String(), got, want)
		if g, w := s.ctx.Metrics.LateRowsDropped.Get(), p.ctx.Metrics.LateRowsDropped.Get(); g != w {
			t.Fatalf("%d rows dropped as late, the panes dropped %d", g, w)
		}
		if steps[len(steps)-1].wm == runtime.MaxWatermark {
			checkStateFreed(t, s.op)
		}
	})
}

// goldenBefore is the input before the pane snapshots in testdata were
// taken, by the operator of one pane per window that hopping and
// cumulating windows had before they were sliced (HOP and CUMULATE of step
// 10 ms, size 40 ms, 20 ms allowed lateness, kvSpec).
func goldenBefore() []step {
	return []step{
		rows(kv(1, 1, 10), kv(2, 3, 20), kv(1, 12, 1), kv(3, 25, 7)),
		wmark(15),
		rows(kv(2, 8, 5), kv(1, 33, 2), kv(4, 41, 9), kv(2, 44, 3)),
		wmark(38),
		rows(kv(3, 37, 4), kv(1, 52, 6)),
	}
}

// goldenAfter is the input after the snapshot: late rows re-fire restored
// windows, new ones open.
func goldenAfter() []step {
	return []step{
		rows(kv(1, 36, 100), kv(5, 55, 1), kv(2, 61, 2)),
		wmark(50),
		rows(kv(4, 45, 3), kv(1, 70, 1)),
		wmark(65),
		rows(kv(1, 90, 8)),
		wmark(runtime.MaxWatermark),
	}
}

// TestSlicedRestoresPaneSnapshot restores snapshots written by the pane
// operator (testdata/*_panes.snap, made before windows were sliced): the
// sliced operator must go on exactly as the panes would, snapshot them
// again meanwhile, and end on slices.
func TestSlicedRestoresPaneSnapshot(t *testing.T) {
	for file, w := range map[string]Assigner{"hop_panes.snap": Hop(10*ms, 40*ms), "cumulate_panes.snap": Cumulate(10*ms, 40*ms)} {
		data, err := os.ReadFile("testdata/" + file)
		if err != nil {
			t.Fatal(err)
		}
		spec := kvSpec(w)
		spec.AllowedLateness = 20 * ms
		ref := spec
		ref.panes = true
		// The pane operator still writes these bytes.
		p0 := newHarness(t, ref)
		p0.run(goldenBefore())
		if !bytes.Equal(p0.snapshot(), data) {
			t.Fatalf("%s: the pane operator no longer writes this snapshot", file)
		}
		p := newHarness(t, ref)
		p.restore(data)
		after := goldenAfter()
		want := p.outputs(after)

		s := newHarness(t, spec)
		s.restore(data)
		o := s.op.(*slicedOp)
		if o.panes == nil {
			t.Fatalf("%s: restored no panes", w)
		}
		got := s.outputs(after[:2])
		// A snapshot taken while running the panes restores too.
		s2 := newHarness(t, spec)
		s2.restore(s.snapshot())
		got2 := append(slices.Clone(got), s2.outputs(after[2:])...)
		got = append(got, s.outputs(after[2:])...)
		equalOutputs(t, file, got, want)
		equalOutputs(t, file+" restored again", got2, want)
		if o.panes != nil {
			t.Fatalf("%s: still on panes after the final watermark", w)
		}
		n := 0
		for _, o := range want {
			n += len(o)
		}
		if n < 10 {
			t.Fatalf("%s: only %d rows after the restore", w, n)
		}
	}
}

// TestSlicedGoesOverToSlices restores panes, then feeds windows after them:
// once the restored panes are freed, rows go into slices.
func TestSlicedGoesOverToSlices(t *testing.T) {
	data, err := os.ReadFile("testdata/hop_panes.snap")
	if err != nil {
		t.Fatal(err)
	}
	spec := kvSpec(Hop(10*ms, 40*ms))
	spec.AllowedLateness = 20 * ms
	s := newHarness(t, spec)
	s.restore(data)
	o := s.op.(*slicedOp)
	s.watermark(200)
	if o.panes != nil {
		t.Fatal("still on panes after the watermark passed every restored window")
	}
	s.take()
	s.batch(kv(1, 205, 1), kv(1, 207, 2))
	if len(o.order) != 1 || o.entries != 1 {
		t.Fatalf("%d slices, %d groups, want 1 and 1", len(o.order), o.entries)
	}
	s.watermark(215)
	s.expect("first window after the panes", "1,170,210,2,3")
}

// TestSlicedKeyTableCompacts streams rows of ever-new keys among a few
// steady ones: the key ids of freed slices are reclaimed, so the key table
// stays bounded by the keys of live slices, and the results are the
// panes'.
func TestSlicedKeyTableCompacts(t *testing.T) {
	for _, c := range []struct {
		w    Assigner
		aggs []agg.Spec
	}{{Hop(20*ms, 100*ms), invertibleAggs}, {Hop(20*ms, 100*ms), rndAggs[9:12]}, {Cumulate(20*ms, 100*ms), rndAggs[:6]}} {
		{
			w := c.w
			spec := Spec{In: rndSchema, KeyCols: []int{0, 1}, TimeCol: 2, Window: w, Aggs: c.aggs, AllowedLateness: 30 * ms}
			ref := spec
			ref.panes = true
			s, p := newHarness(t, spec), newHarness(t, ref)
			o := s.op.(*slicedOp)
			compactions, most := 0, 0
			var batch [][]runtime.Value
			for i := 0; i < 24_000; i++ {
				k1, k2 := runtime.IntValue(int64(i)), runtime.StringValue("new")
				if i%10 == 0 {
					k1, k2 = runtime.IntValue(int64(i/10%5)), null
				}
				ts := int64(i / 10)
				if i%97 == 0 {
					ts -= 40 // late for some windows
				}
				batch = append(batch, []runtime.Value{k1, k2, runtime.TimeValue(ts), runtime.IntValue(int64(i % 7)), runtime.FloatValue(float64(i%5) / 4), runtime.StringValue("s"), {Type: runtime.Int, I: 1}})
				if len(batch) == 500 {
					s.batch(batch...)
					p.batch(batch...)
					batch = batch[:0]
					before := o.keys.Len()
					s.watermark(ts - 5)
					p.watermark(ts - 5)
					if o.keys.Len() < before {
						compactions++
					}
					most = max(most, o.keys.Len())
					if got, want := s.take(), p.take(); !slices.Equal(got, want) {
						t.Fatalf("%s at %d:\n%s", w, i, diff(got, want))
					}
				}
			}
			s.finish()
			p.finish()
			if got, want := s.take(), p.take(); !slices.Equal(got, want) {
				t.Fatalf("%s at the end:\n%s", w, diff(got, want))
			}
			if compactions < 3 || most > 3*minCompact {
				t.Fatalf("%s: %d compactions, at most %d keys", w, compactions, most)
			}
			checkStateFreed(t, o)
		}
	}
}

// TestSlicedRunningSumOverflowIsNotTheWindows: a running sum that leaves
// BIGINT's range on the way (the newest slice added before the oldest is
// taken out) does not fail a window whose own sum fits.
func TestSlicedRunningSumOverflowIsNotTheWindows(t *testing.T) {
	h := newHarness(t, kvSpec(Hop(10*ms, 20*ms)))
	h.batch(kv(1, 10, math.MaxInt64-5), kv(1, 20, -10), kv(1, 30, 20))
	h.finish()
	h.expect("windows", fmt.Sprintf("1,0,20,1,%d", int64(math.MaxInt64-5)), fmt.Sprintf("1,10,30,2,%d", int64(math.MaxInt64-15)), "1,20,40,2,10", "1,30,50,1,20")
}

// TestSlicedRowsOfRecentSlicesNeedNoMap: rows of the maxTabs slices used
// last — here two inputs a few slides apart, each across a slice boundary
// — find their groups by key id without building a map; rows going round
// more slices than that fill a slice's array at most maxBinds times, then
// use its map. The results are the panes'.
func TestSlicedRowsOfRecentSlicesNeedNoMap(t *testing.T) {
	spec := kvSpec(Hop(10*ms, 80*ms))
	ref := spec
	ref.panes = true
	s, p := newHarness(t, spec), newHarness(t, ref)
	o := s.op.(*slicedOp)
	both := func(rows ...[]runtime.Value) {
		s.batch(rows...)
		p.batch(rows...)
	}
	for i := int64(0); i < 200; i++ {
		// Slices at 10 and 20 from one input, 50 and 60 from the other.
		both(kv(i%7, 10+i%20, i), kv(i%5, 50+i%20, i))
	}
	for _, sl := range o.order {
		if sl.m != nil || sl.tab < 0 || sl.binds != 1 {
			t.Fatalf("the slice at %d built a map or has no key id array (bound %d times)", sl.start, sl.binds)
		}
	}
	for i := int64(0); i < 20; i++ {
		for _, at := range []int64{10, 20, 50, 60, 70} {
			both(kv(i%9, at+i%10, i))
		}
	}
	maps := 0
	for _, sl := range o.order {
		if sl.binds > maxBinds {
			t.Fatalf("the slice at %d was bound %d times", sl.start, sl.binds)
		}
		if sl.m != nil {
			maps++
		}
	}
	if maps == 0 {
		t.Fatal("no slice went over to its map")
	}
	s.finish()
	p.finish()
	if got, want := s.take(), p.take(); !slices.Equal(got, want) || len(want) < 40 {
		t.Fatalf("%d rows:\n%s", len(want), diff(got, want))
	}
}

// TestSlicedReusedSliceStartsEmpty: a freed slice, reused for a later
// slide, keeps the room its accumulators had but none of its groups, key
// ids or key id array.
func TestSlicedReusedSliceStartsEmpty(t *testing.T) {
	spec := kvSpec(Hop(10*ms, 20*ms))
	ref := spec
	ref.panes = true
	s, p := newHarness(t, spec), newHarness(t, ref)
	o := s.op.(*slicedOp)
	both := func(rows ...[]runtime.Value) {
		s.batch(rows...)
		p.batch(rows...)
	}
	var rows [][]runtime.Value
	for k := int64(0); k < 300; k++ {
		rows = append(rows, kv(k, 5, k))
	}
	both(rows...)
	old := o.slices[0]
	s.watermark(40)
	p.watermark(40)
	if len(o.free) == 0 || o.free[len(o.free)-1] != old {
		t.Fatal("the slice at 0 was not freed for reuse")
	}
	if old.reserved < 300 || old.tab >= 0 || len(old.kids) != 0 || old.accs.Len() != 0 {
		t.Fatalf("freed slice: room for %d groups, array %d, %d key ids, %d groups", old.reserved, old.tab, len(old.kids), old.accs.Len())
	}
	both(kv(1000, 45, 7), kv(2, 46, 1))
	if o.slices[40] != old {
		t.Fatal("the slice at 40 is not the freed one")
	}
	if len(old.kids) != 2 || old.accs.Len() != 2 {
		t.Fatalf("reused slice: %d key ids, %d groups; want 2", len(old.kids), old.accs.Len())
	}
	s.finish()
	p.finish()
	if got, want := s.take(), p.take(); !slices.Equal(got, want) {
		t.Fatalf("\n%s", diff(got, want))
	}
}

// TestSlicedKeepsABurstOfFreedSlices: when the watermark frees many
// slices at once (a slow input catching up), as many as a window holds are
// kept, and the slices made next reuse them rather than new memory.
func TestSlicedKeepsABurstOfFreedSlices(t *testing.T) {
	spec := kvSpec(Hop(10*ms, 100*ms)) // 10 slices a window
	s := newHarness(t, spec)
	o := s.op.(*slicedOp)
	var rows [][]runtime.Value
	for ts := int64(0); ts < 300; ts += 10 {
		rows = append(rows, kv(ts, ts, 1), kv(ts+1, ts+5, 2))
	}
	s.batch(rows...) // 30 slices
	made := map[*slice]bool{}
	for _, x := range o.order {
		made[x] = true
	}
	s.watermark(390) // every slice's windows fire: all 30 freed at once
	if len(o.order) != 0 || len(o.free) != 10 {
		t.Fatalf("%d slices live, %d kept free; want 0 and 10", len(o.order), len(o.free))
	}
	rows = rows[:0]
	for ts := int64(400); ts < 500; ts += 10 {
		rows = append(rows, kv(ts, ts, 1))
	}
	s.batch(rows...)
	for _, x := range o.order {
		if !made[x] {
			t.Fatalf("the slice at %d is new memory, with %d freed slices kept", x.start, len(o.free))
		}
	}
	if len(o.order) != 10 {
		t.Fatalf("%d slices live, want 10", len(o.order))
	}
}

// TestSlicedEmitsRunsOfKeysAsThePanes: a window's keys emitted a run of
// key ids at a time — runs broken by key ids not in the window and by
// full output batches, a key with a NULL value — are the panes' rows.
func TestSlicedEmitsRunsOfKeysAsThePanes(t *testing.T) {
	spec := kvSpec(Hop(10*ms, 30*ms))
	ref := spec
	ref.panes = true
	s, p := newHarness(t, spec), newHarness(t, ref)
	var rows [][]runtime.Value
	for k := int64(0); k < 3000; k++ {
		rows = append(rows, kv(k, 1+k%2, k)) // slice 0: every key
		if k%7 != 0 {
			rows = append(rows, kv(k, 12, 2*k)) // slice 10: key ids with gaps
		}
		if k%500 == 3 {
			rows = append(rows, kv(k+5000, 25, k)) // slice 20: new keys
		}
	}
	rows = append(rows, []runtime.Value{runtime.IntValue(9999), runtime.TimeValue(15), null})
	s.batch(rows...)
	p.batch(rows...)
	s.finish()
	p.finish()
	got, want := s.take(), p.take()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) || len(want) < 3*3000 {
		t.Fatalf("%d rows:\n%s", len(want), diff(got, want))
	}
}
