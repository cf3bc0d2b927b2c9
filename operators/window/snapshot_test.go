package window

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/state"
)

// step is one input of an operator: a batch of rows, or a watermark when
// rows is nil (runtime.MaxWatermark also finishes the input).
type step struct {
	rows [][]runtime.Value
	wm   int64
}

func rows(r ...[]runtime.Value) step { return step{rows: r} }
func wmark(wm int64) step            { return step{wm: wm} }

func (h *harness) run(steps []step) {
	h.t.Helper()
	for _, s := range steps {
		if s.rows != nil {
			h.batch(s.rows...)
			continue
		}
		if s.wm == runtime.MaxWatermark {
			h.finish()
			continue
		}
		h.watermark(s.wm)
	}
}

func (h *harness) snapshot() []byte {
	h.t.Helper()
	data, err := h.op.(runtime.Snapshotter).SnapshotState(1)
	if err != nil {
		h.t.Fatalf("SnapshotState: %v", err)
	}
	return data
}

func (h *harness) restore(data []byte) {
	h.t.Helper()
	if err := h.op.(runtime.Snapshotter).RestoreState(data); err != nil {
		h.t.Fatalf("RestoreState: %v", err)
	}
}

// checkRestore runs before then after through one operator, snapshotting
// in between, and after through a fresh operator restored from the
// snapshot; both must emit the same rows in the same order. It returns
// those rows.
func checkRestore(t tb, spec Spec, before, after []step) []string {
	t.Helper()
	x1 := newHarness(t, spec)
	x1.run(before)
	data := x1.snapshot()
	kept := bytes.Clone(data)
	x1.out.Reset()
	x1.run(after)
	want := x1.rows()
	if !bytes.Equal(data, kept) {
		t.Fatalf("the snapshot changed after SnapshotState returned")
	}
	x2 := newHarness(t, spec)
	x2.restore(data)
	x2.run(after)
	got := x2.rows()
	if !slices.Equal(got, want) {
		t.Fatalf("restored operator:\ngot  %q\nwant %q", got, want)
	}
	return want
}

func allAggsSpec(w Assigner) Spec {
	return Spec{In: rndSchema, KeyCols: []int{0, 1}, TimeCol: 2, Window: w, Aggs: rndAggs}
}

func rnd(k1 int64, k2 string, ts, v int64, d float64, s string) []runtime.Value {
	return []runtime.Value{runtime.IntValue(k1), runtime.StringValue(k2), runtime.TimeValue(ts), runtime.IntValue(v), runtime.FloatValue(d), runtime.StringValue(s), {Type: runtime.Int, I: v % 5}}
}

func TestRestoreContinuesWindows(t *testing.T) {
	f := func(name string, spec Spec, minRows int) {
		t.Run(name, func(t *testing.T) {
			before := []step{
				rows(rnd(1, "a", 1, 5, 0.5, "x"), rnd(2, "b", 3, 7, 1.5, "y"), rnd(1, "a", 9, -1, 2, "z")),
				rows(rnd(1, "a", 12, 3, 0.25, "y"), rnd(1, "b", 14, 3, 0.25, "x")),
				wmark(10),
				rows(rnd(2, "b", 16, 4, 1, "w"), append(rnd(3, "c", 17, 0, 0, ""), nil...)),
				rows([]runtime.Value{null, null, runtime.TimeValue(18), null, null, null, {Type: runtime.Int}}),
				wmark(19),
			}
			after := []step{
				// Late for a window that fired at 10 (kept only with
				// lateness), and behind the restored watermark.
				rows(rnd(1, "a", 2, 100, 10, "late")),
				rows(rnd(2, "b", 21, 1, 1, "b"), rnd(1, "a", 25, 2, 2, "c"), rnd(1, "a", 18, 5, 5, "d")),
				wmark(29),
				rows(rnd(2, "b", 33, 1, 1, "e"), rnd(3, "c", 48, 9, 9, "f")),
				wmark(runtime.MaxWatermark),
			}
			if got := checkRestore(t, spec, before, after); len(got) < minRows {
				t.Fatalf("only %d rows after the snapshot: %q", len(got), got)
			}
		})
	}
	f("tumble", allAggsSpec(Assigner{Kind: Tumbling, Size: 10}), 4)
	f("hop", allAggsSpec(Assigner{Kind: Hopping, Size: 10, Slide: 5}), 6)
	f("session", allAggsSpec(Assigner{Kind: Session, Gap: 4}), 4)
	late := func(s Spec) Spec { s.AllowedLateness = 15 * time.Millisecond; return s }
	f("tumble lateness", late(allAggsSpec(Assigner{Kind: Tumbling, Size: 10})), 5)
	f("hop lateness", late(allAggsSpec(Assigner{Kind: Hopping, Size: 10, Slide: 5})), 7)
	f("session lateness", late(allAggsSpec(Assigner{Kind: Session, Gap: 4})), 4)
	global := func(s Spec) Spec { s.KeyCols = nil; return s }
	f("tumble global", global(allAggsSpec(Assigner{Kind: Tumbling, Size: 10})), 3)
	f("session global", global(allAggsSpec(Assigner{Kind: Session, Gap: 4})), 2)
}

// TestRestoredWatermarkKeepsRowsLate checks that the restored operator
// starts at the snapshot's watermark: a row behind it is dropped, not
// counted in a new window.
func TestRestoredWatermarkKeepsRowsLate(t *testing.T) {
	for _, w := range []Assigner{Tumble(10 * time.Millisecond), {Kind: Session, Gap: 5}} {
		spec := kvSpec(w)
		x1 := newHarness(t, spec)
		x1.batch(kv(1, 1, 1))
		x1.watermark(50)
		x2 := newHarness(t, spec)
		x2.restore(x1.snapshot())
		x2.batch(kv(1, 3, 1))
		x2.finish()
		x2.expect(w.String() + " after restore")
		x2.expectDropped(1)
	}
}

func TestRestoreCountsGroupsAgainstTheLimit(t *testing.T) {
	for _, w := range []Assigner{Tumble(10 * time.Millisecond), {Kind: Session, Gap: 5}} {
		spec := kvSpec(w)
		spec.MaxGroups = 2
		x1 := newHarness(t, spec)
		x1.batch(kv(1, 1, 1), kv(2, 1, 1))
		data := x1.snapshot()
		x2 := newHarness(t, spec)
		x2.restore(data)
		if got := x2.ctx.Metrics; got == nil {
			t.Fatal("no metrics")
		}
		err := x2.op.ProcessBatch(0, newBatch(t, kvSchema, kv(3, 2, 1)), x2.out)
		if !errors.Is(err, state.ErrStateLimit) {
			t.Fatalf("%s: third group after restore: got %v, want the state limit", w, err)
		}
	}
}

func newBatch(t tb, s *runtime.Schema, rows ...[]runtime.Value) *runtime.Batch {
	b := runtime.NewBatch(s)
	for _, r := range rows {
		b.AppendValues(r...)
	}
	t.Cleanup(b.Release)
	return b
}

func TestCorruptSnapshotIsRefused(t *testing.T) {
	for _, w := range []Assigner{Tumble(10 * time.Millisecond), Hop(5*time.Millisecond, 10*time.Millisecond), {Kind: Session, Gap: 5}} {
		spec := kvSpec(w)
		x1 := newHarness(t, spec)
		x1.batch(kv(1, 1, 1), kv(2, 7, 3))
		x1.watermark(4)
		data := x1.snapshot()
		kind := x1.op.(interface{ snapKind() string }).snapKind()
		for _, i := range []int{0, 5, len(data) / 2, len(data) - 1} {
			bad := bytes.Clone(data)
			bad[i] ^= 0x10
			x2 := newHarness(t, spec)
			err := x2.op.(runtime.Snapshotter).RestoreState(bad)
			if err == nil || !errors.Is(err, state.ErrCorruptSnapshot) || !strings.Contains(err.Error(), kind) || !strings.Contains(err.Error(), `"window"`) {
				t.Fatalf("%s: byte %d flipped: got %v", w, i, err)
			}
			// The refused snapshot left the operator empty.
			x2.finish()
			x2.expect("after a refused snapshot")
		}
		// Truncated, and the snapshot of another kind of window.
		x2 := newHarness(t, spec)
		if err := x2.op.(runtime.Snapshotter).RestoreState(data[:len(data)-3]); !errors.Is(err, state.ErrCorruptSnapshot) {
			t.Fatalf("%s: truncated: got %v", w, err)
		}
		other := kvSpec(Assigner{Kind: Tumbling, Size: 999, Slide: 999})
		if w.Kind == Tumbling {
			other = kvSpec(Assigner{Kind: Session, Gap: 3})
		}
		x3 := newHarness(t, other)
		x3.batch(kv(1, 1, 1))
		if err := x2.op.(runtime.Snapshotter).RestoreState(x3.snapshot()); err == nil {
			t.Fatalf("%s: restored a snapshot of %s", w, other.Window)
		}
	}
}

func TestEmptySnapshotRestoresNothing(t *testing.T) {
	for _, w := range []Assigner{Tumble(10 * time.Millisecond), {Kind: Session, Gap: 5}} {
		spec := kvSpec(w)
		empty := newHarness(t, spec).snapshot()
		for _, data := range [][]byte{nil, {}, empty} {
			x := newHarness(t, spec)
			x.restore(data)
			x.batch(kv(1, 1, 1))
			x.finish()
			if got := x.take(); len(got) != 1 {
				t.Fatalf("%s: after restoring %d bytes: %q", w, len(data), got)
			}
		}
	}
}

// TestRapidRestore runs random inputs, late rows included, through an
// operator, snapshots it at a random point and checks that a restored
// operator goes on exactly as the original.
func TestRapidRestore(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var w Assigner
		switch rapid.SampledFrom([]Kind{Tumbling, Hopping, Session}).Draw(t, "kind") {
		case Tumbling:
			size := rapid.Int64Range(1, 40).Draw(t, "size")
			w = Assigner{Kind: Tumbling, Size: size, Slide: size, Offset: rapid.Int64Range(-50, 50).Draw(t, "offset")}
		case Hopping:
			slide := rapid.Int64Range(1, 15).Draw(t, "slide")
			w = Assigner{Kind: Hopping, Slide: slide, Size: slide * rapid.Int64Range(1, 5).Draw(t, "slides"), Offset: rapid.Int64Range(-20, 20).Draw(t, "offset")}
		case Session:
			w = Assigner{Kind: Session, Gap: rapid.Int64Range(1, 40).Draw(t, "gap")}
		}
		spec := Spec{
			In:              rndSchema,
			KeyCols:         rapid.SampledFrom([][]int{nil, {0}, {1}, {0, 1}}).Draw(t, "keys"),
			TimeCol:         2,
			Window:          w,
			Aggs:            rapid.SliceOfN(rapid.SampledFrom(rndAggs), 1, 8).Draw(t, "aggs"),
			AllowedLateness: time.Duration(rapid.SampledFrom([]int64{0, 0, 9, 60}).Draw(t, "lateness")) * time.Millisecond,
		}
		var steps []step
		base, wm := rapid.Int64Range(-200, 200).Draw(t, "start"), int64(runtime.MinWatermark)
		nsteps := rapid.IntRange(1, 30).Draw(t, "steps")
		for i := 0; i < nsteps; i++ {
			if rapid.IntRange(0, 2).Draw(t, "is watermark") == 0 {
				next := base - rapid.Int64Range(0, 30).Draw(t, "wm behind")
				if next > wm {
					wm = next
					steps = append(steps, wmark(wm))
				}
				continue
			}
			var b [][]runtime.Value
			for n := rapid.IntRange(1, 12).Draw(t, "batch rows"); n > 0; n-- {
				base += rapid.Int64Range(0, 5).Draw(t, "step")
				ts := runtime.TimeValue(base - rapid.Int64Range(0, 40).Draw(t, "behind"))
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
		at := rapid.IntRange(0, len(steps)).Draw(t, "snapshot at")
		checkRestore(t, spec, steps[:at], steps[at:])
	})
}

// TestRestoreSessionsAfterKeyCompaction snapshots session state whose key
// table has been rebuilt (most keys closed), with many keys.
func TestRestoreSessionsAfterKeyCompaction(t *testing.T) {
	spec := kvSpec(Assigner{Kind: Session, Gap: 10})
	var first, second [][]runtime.Value
	for k := int64(0); k < 3000; k++ {
		first = append(first, kv(k, k%7, k))
		if k%3 == 0 {
			second = append(second, kv(k, 100+k%5, 1))
		}
	}
	before := []step{rows(first...), rows(second...), wmark(50)}
	after := []step{rows(kv(3, 108, 2), kv(4, 108, 2), kv(6, 200, 1)), wmark(120), rows(kv(6, 205, 1)), wmark(runtime.MaxWatermark)}
	if got := checkRestore(t, spec, before, after); len(got) < 1000 {
		t.Fatalf("only %d rows", len(got))
	}
}
