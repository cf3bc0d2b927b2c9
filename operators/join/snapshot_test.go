package join

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
	"github.com/sluicehq/sluice/runtime/state"
)

// jstep is one input of a join subtask: rows on input 0 or 1, or a
// watermark when rows is nil.
type jstep struct {
	input int
	rows  [][]runtime.Value
	wm    int64
}

func runSteps(t tb, op *intervalJoin, out runtime.Output, steps []jstep) {
	t.Helper()
	for _, s := range steps {
		if s.rows == nil {
			if err := op.ProcessWatermark(s.wm, out); err != nil {
				t.Fatalf("ProcessWatermark: %v", err)
			}
			continue
		}
		schema := leftSchema
		if s.input == 1 {
			schema = rightSchema
		}
		b := rttest.NewBatch(schema, s.rows...)
		err := op.ProcessBatch(s.input, b, out)
		b.Release()
		if err != nil {
			t.Fatalf("ProcessBatch: %v", err)
		}
	}
}

// checkJoinRestore runs before then after through one subtask,
// snapshotting in between, and after through a fresh subtask restored from
// the snapshot: both must emit the same rows in the same order.
func checkJoinRestore(t tb, spec Spec, before, after []jstep) []string {
	t.Helper()
	_, out, _ := New(spec)
	x1, _ := openOp(t, spec)
	c1, _ := rttest.NewCollector(out)
	runSteps(t, x1, c1, before)
	data, err := x1.SnapshotState(1)
	if err != nil {
		t.Fatalf("SnapshotState: %v", err)
	}
	kept := bytes.Clone(data)
	c1.Reset()
	runSteps(t, x1, c1, after)
	want := c1.Strings()
	if !bytes.Equal(data, kept) {
		t.Fatalf("the snapshot changed after SnapshotState returned")
	}
	x2, ctx2 := openOp(t, spec)
	if err := x2.RestoreState(data); err != nil {
		t.Fatalf("RestoreState: %v", err)
	}
	checkState(t, x2, ctx2)
	c2, _ := rttest.NewCollector(out)
	runSteps(t, x2, c2, after)
	if got := c2.Strings(); !slices.Equal(got, want) {
		t.Fatalf("restored subtask:\ngot  %q\nwant %q", got, want)
	}
	return want
}

func TestJoinRestoreContinues(t *testing.T) {
	spec := kvSpec(-5, 10)
	before := []jstep{
		{input: 0, rows: [][]runtime.Value{lrow(1, 10, "a"), lrow(2, 11, "b"), lrow(1, 12, "c"), lrow(nil, 12, "null")}},
		{input: 1, rows: [][]runtime.Value{rrow(1, 8, "x"), rrow(3, 9, "y")}},
		{wm: 6},
		{input: 0, rows: [][]runtime.Value{lrow(3, 20, "d")}},
		{input: 1, rows: [][]runtime.Value{rrow(2, 25, "z")}},
		{wm: 12},
	}
	after := []jstep{
		// Behind the watermark: joins what is still buffered only.
		{input: 1, rows: [][]runtime.Value{rrow(1, 11, "late")}},
		// Too late to be buffered: they must not meet each other.
		{input: 1, rows: [][]runtime.Value{rrow(1, 3, "late r")}},
		{input: 0, rows: [][]runtime.Value{lrow(1, 1, "late l")}},
		{input: 1, rows: [][]runtime.Value{rrow(1, 17, "p"), rrow(3, 18, "q"), rrow(2, 16, "r")}},
		{wm: 21},
		{input: 1, rows: [][]runtime.Value{rrow(1, 22, "s"), rrow(3, 24, "t")}},
		{input: 0, rows: [][]runtime.Value{lrow(2, 22, "e"), lrow(1, 23, "f")}},
		{wm: runtime.MaxWatermark},
	}
	if got := checkJoinRestore(t, spec, before, after); len(got) < 5 {
		t.Fatalf("only %d rows after the snapshot: %q", len(got), got)
	}
}

func TestJoinRapidRestore(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		lower := rapid.Int64Range(-20, 10).Draw(t, "lower")
		spec := kvSpec(lower, lower+rapid.Int64Range(0, 25).Draw(t, "width"))
		var steps []jstep
		base, wm := int64(0), int64(runtime.MinWatermark)
		for n := rapid.IntRange(1, 25).Draw(t, "steps"); n > 0; n-- {
			if rapid.IntRange(0, 3).Draw(t, "is watermark") == 0 {
				if next := base - rapid.Int64Range(0, 15).Draw(t, "wm behind"); next > wm {
					wm = next
					steps = append(steps, jstep{wm: wm})
				}
				continue
			}
			input := rapid.IntRange(0, 1).Draw(t, "input")
			var rows [][]runtime.Value
			for m := rapid.IntRange(1, 8).Draw(t, "rows"); m > 0; m-- {
				base += rapid.Int64Range(0, 3).Draw(t, "step")
				ts := base - rapid.Int64Range(0, 20).Draw(t, "behind")
				var k any = rapid.IntRange(0, 4).Draw(t, "key")
				if k == 4 {
					k = nil
				}
				if input == 0 {
					rows = append(rows, lrow(k, ts, "l"))
				} else {
					rows = append(rows, rrow(k, ts, "r"))
				}
			}
			steps = append(steps, jstep{input: input, rows: rows})
		}
		at := rapid.IntRange(0, len(steps)).Draw(t, "snapshot at")
		checkJoinRestore(t, spec, steps[:at], steps[at:])
	})
}

func TestJoinCorruptAndEmptySnapshots(t *testing.T) {
	spec := kvSpec(-5, 10)
	x1, _ := openOp(t, spec)
	runSteps(t, x1, &rttest.Discard{}, []jstep{{input: 0, rows: [][]runtime.Value{lrow(1, 10, "a")}}, {input: 1, rows: [][]runtime.Value{rrow(1, 12, "b")}}})
	data, _ := x1.SnapshotState(1)
	for _, i := range []int{2, 20, len(data) / 2, len(data) - 1} {
		bad := bytes.Clone(data)
		bad[i] ^= 0x80
		x2, _ := openOp(t, spec)
		err := x2.RestoreState(bad)
		if !errors.Is(err, state.ErrCorruptSnapshot) || !strings.Contains(err.Error(), `interval join operator "join"`) {
			t.Fatalf("byte %d flipped: got %v", i, err)
		}
		if l, r := x2.bufferedRows(); l+r != 0 {
			t.Fatalf("a refused snapshot left %d+%d rows", l, r)
		}
	}
	x3, _ := openOp(t, kvSpec(0, 10))
	if err := x3.RestoreState(data); err == nil || !strings.Contains(err.Error(), "bounds") {
		t.Fatalf("restored a join with other bounds: %v", err)
	}
	x4, _ := openOp(t, spec)
	empty, _ := x4.SnapshotState(1)
	for _, d := range [][]byte{nil, empty} {
		x, ctx := openOp(t, spec)
		if err := x.RestoreState(d); err != nil {
			t.Fatal(err)
		}
		checkState(t, x, ctx)
		if l, r := x.bufferedRows(); l+r != 0 {
			t.Fatalf("an empty snapshot restored %d+%d rows", l, r)
		}
	}
}
