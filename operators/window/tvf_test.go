package window

import (
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// refWindows lists the windows of a row at ts the slow way: every start
// near ts on the window's grid, every end of it after ts; by start, then
// end.
func refWindows(w Assigner, ts int64) (starts, ends []int64) {
	if w.Kind == Cumulating {
		return cumulateWindows(w, ts)
	}
	for s := ts - 2*w.Size; s <= ts; s++ {
		if floorMod(s-w.Offset, w.Slide) == 0 && ts < s+w.Size {
			starts, ends = append(starts, s), append(ends, s+w.Size)
		}
	}
	return starts, ends
}

func drawTVF(t *rapid.T) Assigner {
	slide := rapid.Int64Range(1, 12).Draw(t, "slide")
	size := slide * rapid.Int64Range(1, 5).Draw(t, "slides")
	w := Assigner{Kind: rapid.SampledFrom([]Kind{Tumbling, Hopping, Cumulating}).Draw(t, "kind"), Size: size, Slide: slide}
	if w.Kind == Tumbling {
		w.Slide = size
	}
	w.Offset = rapid.Int64Range(-30, 30).Draw(t, "offset")
	return w
}

// TestAssignWindowSetsMatchReferenceLoop: each row comes out once per
// window a reference loop finds for it, in input order, with its kind, and
// rows hidden by the selection vector or without a time do not.
func TestAssignWindowSetsMatchReferenceLoop(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := drawTVF(t)
		newOp, out, err := NewAssign(AssignSpec{In: rndSchema, TimeCol: 2, Window: w})
		if err != nil {
			t.Fatal(err)
		}
		op := newOp()
		ctx := rttest.NewContext("tvf", 0, 1)
		ctx.SetLogger(slog.New(slog.DiscardHandler))
		op.Open(ctx)
		defer op.Close()
		c, _ := rttest.NewCollector(out)
		var want []string
		nulls := 0
		for range rapid.IntRange(1, 5).Draw(t, "batches") {
			b := runtime.NewBatch(rndSchema)
			var sel []int32
			useSel := rapid.Bool().Draw(t, "selection")
			for range rapid.IntRange(0, 1200).Draw(t, "rows") {
				ts := runtime.TimeValue(rapid.Int64Range(-100, 100).Draw(t, "ts"))
				if rapid.IntRange(0, 30).Draw(t, "null time") == 0 {
					ts = null
				}
				r := []runtime.Value{genK1.Draw(t, "k1"), genK2.Draw(t, "k2"), ts, genV.Draw(t, "v"), genD.Draw(t, "d"), genS.Draw(t, "s"), genN.Draw(t, "n")}
				kind := rapid.SampledFrom([]runtime.RowKind{runtime.Insert, runtime.Insert, runtime.UpdateBefore, runtime.UpdateAfter, runtime.Delete}).Draw(t, "kind")
				if useSel && rapid.Bool().Draw(t, "hidden") {
					b.AppendValues(r...)
				}
				sel = append(sel, int32(b.N))
				b.SetKind(b.N, kind)
				b.AppendValues(r...)
				if ts.Null {
					nulls++
					continue
				}
				starts, ends := refWindows(w, ts.I)
				for i := range starts {
					rr := append(slices.Clone(r), runtime.TimeValue(starts[i]), runtime.TimeValue(ends[i]), runtime.TimeValue(ends[i]-1))
					want = append(want, kind.String()+fmtRow(rr))
				}
			}
			if useSel {
				b.Sel = sel
			}
			if err := op.ProcessBatch(0, b, c); err != nil {
				t.Fatal(err)
			}
		}
		var got []string
		kinds := c.Kinds()
		for i, r := range c.Rows() {
			got = append(got, kinds[i].String()+fmtRow(r))
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s: %d rows, want %d:\n%s", w, len(got), len(want), diff(got, want))
		}
		if d := ctx.Metrics.LateRowsDropped.Get(); d != uint64(nulls) {
			t.Fatalf("%d rows dropped, want the %d without a time", d, nulls)
		}
	})
}

func TestAssignSchemaAndErrors(t *testing.T) {
	_, out, err := NewAssign(AssignSpec{In: kvSchema, TimeCol: 1, Window: Hop(time.Second, 10*time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	want := "(k BIGINT, ts TIMESTAMP(3), v BIGINT, window_start TIMESTAMP(3) NOT NULL, window_end TIMESTAMP(3) NOT NULL, window_time TIMESTAMP(3) NOT NULL)"
	if out.String() != want {
		t.Fatalf("schema %s\nwant   %s", out, want)
	}
	f := func(spec AssignSpec, want string) {
		t.Helper()
		if _, _, err := NewAssign(spec); err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("got %v, want %q", err, want)
		}
	}
	f(AssignSpec{In: kvSchema, TimeCol: 1, Window: SessionGap(time.Second)}, "SESSION is not a window table function")
	f(AssignSpec{In: kvSchema, TimeCol: 5, Window: Tumble(time.Second)}, "DESCRIPTOR column 5 out of range")
	f(AssignSpec{In: kvSchema, TimeCol: 1, Window: Hop(3*time.Second, 10*time.Second)}, "multiple of its slide")
	f(AssignSpec{In: out, TimeCol: 1, Window: Tumble(time.Second)}, "already has a column window_start")
}

// TestAssignThenCumulateAggregationInAJob chains the assign operator to
// its source (forward) at parallelism 1 and 3: the rows carry exactly the
// windows of the reference loop.
func TestAssignThenCumulateAggregationInAJob(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		spec, data, delay := drawCumulate(t)
		var want []string
		for _, r := range data {
			starts, ends := refWindows(spec.Window, r[1].I)
			for i := range starts {
				want = append(want, fmtRow(append(slices.Clone(r), runtime.TimeValue(starts[i]), runtime.TimeValue(ends[i]), runtime.TimeValue(ends[i]-1))))
			}
		}
		slices.Sort(want)
		newOp, out, err := NewAssign(AssignSpec{In: kvSchema, TimeCol: 1, Window: spec.Window})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []int{1, 3} {
			rows := runKeyed(t, kvSchema, out, newOp, rttestDeal(data, 17, 3), nil, p, delay)
			var got []string
			for _, r := range rows {
				got = append(got, fmtRow(r))
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("p=%d: %d rows, want %d:\n%s", p, len(got), len(want), diff(got, want))
			}
		}
	})
}
