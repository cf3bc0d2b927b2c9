package groupagg

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
	"github.com/sluicehq/sluice/runtime/state"
)

var allAggs = []agg.Spec{
	{Func: agg.Count, Col: -1, Name: "n"},
	{Func: agg.Count, Col: 1, Name: "c"},
	{Func: agg.CountDistinct, Col: 1, Name: "d"},
	{Func: agg.Sum, Col: 1, Name: "total"},
	{Func: agg.Min, Col: 1, Name: "lo"},
	{Func: agg.Max, Col: 1, Name: "hi"},
	{Func: agg.Avg, Col: 1, Name: "avg"},
	{Func: agg.Min, Col: 0, Name: "first"},
}

type groupHarness struct {
	t  *testing.T
	op runtime.Operator
	c  *rttest.Collector
}

func newGroupHarness(t *testing.T, spec Spec) *groupHarness {
	t.Helper()
	newOp, out, err := New(spec)
	if err != nil {
		t.Fatal(err)
	}
	h := &groupHarness{t: t, op: newOp()}
	h.c, _ = rttest.NewCollector(out)
	if err := h.op.Open(rttest.NewContext("agg", 0, 1)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.op.Close() })
	return h
}

func (h *groupHarness) feed(batches [][][]runtime.Value) {
	h.t.Helper()
	for _, rows := range batches {
		b := rttest.NewBatch(in, rows...)
		if err := h.op.ProcessBatch(0, b, h.c); err != nil {
			h.t.Fatal(err)
		}
		b.Release()
	}
}

func nullRow(page string) []runtime.Value {
	return []runtime.Value{runtime.StringValue(page), runtime.NullValue(runtime.BigInt)}
}

func TestRestoreContinuesChangelog(t *testing.T) {
	f := func(name string, keyCols []int) {
		t.Run(name, func(t *testing.T) {
			spec := Spec{In: in, KeyCols: keyCols, Aggs: allAggs}
			before := [][][]runtime.Value{
				{row("/", 10), row("/a", 1), row("/", 5), nullRow("/n")},
				{row("/a", 2), row("/a", 2)},
			}
			after := [][][]runtime.Value{
				{row("/b", 7), row("/", 1), nullRow("/a")},
				{row("/n", 4), row("/a", -3)},
				{row("/c", 0)},
			}
			x1 := newGroupHarness(t, spec)
			x1.feed(before)
			data, err := x1.op.(runtime.Snapshotter).SnapshotState(1)
			if err != nil {
				t.Fatal(err)
			}
			kept := bytes.Clone(data)
			x1.c.Reset()
			x1.feed(after)
			want := x1.c.Changelog()
			if !bytes.Equal(kept, data) {
				t.Fatal("the snapshot changed after SnapshotState returned")
			}
			if !slices.ContainsFunc(want, func(s string) bool { return strings.HasPrefix(s, "-U") }) {
				t.Fatalf("no retraction after the snapshot: %q", want)
			}
			x2 := newGroupHarness(t, spec)
			if err := x2.op.(runtime.Snapshotter).RestoreState(data); err != nil {
				t.Fatal(err)
			}
			x2.feed(after)
			if got := x2.c.Changelog(); !slices.Equal(got, want) {
				t.Fatalf("restored:\ngot  %q\nwant %q", got, want)
			}
		})
	}
	f("by page", []int{0})
	f("global", nil)
}

func TestGroupCorruptAndEmptySnapshots(t *testing.T) {
	spec := Spec{In: in, KeyCols: []int{0}, Aggs: allAggs}
	x1 := newGroupHarness(t, spec)
	x1.feed([][][]runtime.Value{{row("/", 10), row("/a", 1)}})
	data, _ := x1.op.(runtime.Snapshotter).SnapshotState(1)
	for _, i := range []int{1, 9, len(data) / 2, len(data) - 2} {
		bad := bytes.Clone(data)
		bad[i] ^= 0x01
		x2 := newGroupHarness(t, spec)
		err := x2.op.(runtime.Snapshotter).RestoreState(bad)
		if !errors.Is(err, state.ErrCorruptSnapshot) || !strings.Contains(err.Error(), `group aggregation operator "agg"`) {
			t.Fatalf("byte %d flipped: got %v", i, err)
		}
		x2.feed([][][]runtime.Value{{row("/", 1)}})
		if got := x2.c.Changelog(); !slices.Equal(got, []string{"+I/,1,1,1,1,1,1,1,/"}) {
			t.Fatalf("after a refused snapshot: %q", got)
		}
	}
	other, _, _ := New(Spec{In: in, KeyCols: []int{0}, Aggs: allAggs[:2]})
	o := other()
	o.Open(rttest.NewContext("agg", 0, 1))
	defer o.Close()
	if err := o.(runtime.Snapshotter).RestoreState(data); err == nil {
		t.Fatal("restored the accumulators of other aggregates")
	}
	empty, _ := newGroupHarness(t, spec).op.(runtime.Snapshotter).SnapshotState(1)
	for _, d := range [][]byte{nil, empty} {
		x := newGroupHarness(t, spec)
		if err := x.op.(runtime.Snapshotter).RestoreState(d); err != nil {
			t.Fatal(err)
		}
		x.feed([][][]runtime.Value{{row("/", 1)}})
		if got := x.c.Changelog(); len(got) != 1 || !strings.HasPrefix(got[0], "+I") {
			t.Fatalf("after an empty snapshot: %q", got)
		}
	}
}
