package rank

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
	"github.com/sluicehq/sluice/runtime/state"
)

// opWith opens an operator of newOp and feeds it rows.
func opWith(t *testing.T, newOp func() runtime.Operator, in *runtime.Schema, rows ...[]runtime.Value) runtime.Operator {
	t.Helper()
	o := newOp()
	if err := o.Open(rttest.NewContext("rank", 0, 1)); err != nil {
		t.Fatal(err)
	}
	if len(rows) > 0 {
		b := rttest.NewBatch(in, rows...)
		defer b.Release()
		if err := o.ProcessBatch(0, b, &rttest.Discard{}); err != nil {
			t.Fatal(err)
		}
	}
	return o
}

// TestBadSnapshotsAreRefused checks that each operator refuses a
// truncated snapshot (state.ErrCorruptSnapshot), another operator's, and
// one of a differently configured operator of its kind, naming the
// difference, and holds no state afterwards.
func TestBadSnapshotsAreRefused(t *testing.T) {
	topRow := []runtime.Value{runtime.IntValue(1), runtime.IntValue(2), runtime.StringValue("x"), runtime.IntValue(3)}
	dedupRow := []runtime.Value{runtime.IntValue(1), runtime.TimeValue(2), runtime.StringValue("x"), runtime.IntValue(3)}
	winRow := []runtime.Value{runtime.IntValue(1), runtime.TimeValue(2), runtime.IntValue(3), runtime.StringValue("x"), runtime.TimeValue(0), runtime.TimeValue(10)}
	top := func(end int64) func() runtime.Operator {
		f, _, err := New(Spec{In: topIn, PartitionCols: []int{0}, Order: []SortKey{{Col: 1}}, Start: 1, End: end})
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	dedup := func(last bool) func() runtime.Operator {
		f, _, err := NewDedup(DedupSpec{In: dedupIn, KeyCols: []int{0}, TimeCol: 1, KeepLast: last})
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	win := func(desc bool) func() runtime.Operator {
		f, _, err := NewWindow(WindowSpec{In: winIn, PartitionCols: []int{0}, WindowStartCol: 4, WindowEndCol: 5,
			Order: []SortKey{{Col: 2, Desc: desc}}, Start: 1, End: 3})
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	type kind struct {
		name      string
		mk, other func() runtime.Operator
		in        *runtime.Schema
		row       []runtime.Value
		mismatch  string
		stateOf   func(runtime.Operator) int
	}
	snapOf := func(o runtime.Operator) []byte {
		data, err := o.(runtime.Snapshotter).SnapshotState(1)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	kinds := []kind{
		{name: "top-n", mk: top(3), other: top(4), in: topIn, row: topRow, mismatch: "ranks 1..4",
			stateOf: func(o runtime.Operator) int { return o.(*topOp).table.Len() }},
		{name: "deduplication", mk: dedup(false), other: dedup(true), in: dedupIn, row: dedupRow, mismatch: "keep last true",
			stateOf: func(o runtime.Operator) int { return o.(*dedupOp).table.Len() }},
		{name: "window top-n", mk: win(false), other: win(true), in: winIn, row: winRow, mismatch: "ordering by",
			stateOf: func(o runtime.Operator) int { return len(o.(*windowOp).order) }},
	}
	for i, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			good := snapOf(opWith(t, k.mk, k.in, k.row))
			foreign := kinds[(i+1)%len(kinds)]
			for _, tc := range []struct {
				data []byte
				want string
				is   error
			}{
				{good[:len(good)-3], "checksum", state.ErrCorruptSnapshot},
				{snapOf(opWith(t, foreign.mk, foreign.in, foreign.row)), "snapshot of a " + foreign.name, state.ErrCorruptSnapshot},
				{snapOf(opWith(t, k.other, k.in, k.row)), k.mismatch, nil},
			} {
				o := opWith(t, k.mk, k.in)
				err := o.(runtime.Snapshotter).RestoreState(tc.data)
				if err == nil || !strings.Contains(err.Error(), tc.want) || tc.is != nil && !errors.Is(err, tc.is) {
					t.Errorf("want an error containing %q, got %v", tc.want, err)
				}
				if n := k.stateOf(o); n != 0 {
					t.Errorf("after a refused restore the operator holds %d groups", n)
				}
			}
			// The good one restores.
			o := opWith(t, k.mk, k.in)
			if err := o.(runtime.Snapshotter).RestoreState(good); err != nil || k.stateOf(o) != 1 {
				t.Fatalf("restoring a good snapshot: %v, %d groups", err, k.stateOf(o))
			}
			if err := o.(runtime.Snapshotter).RestoreState(nil); err != nil {
				t.Fatalf("an empty snapshot: %v", err)
			}
		})
	}
}

// TestTopNForgetsPartitionsEmptiedByRetractions checks that partitions
// whose rows an updating input has all retracted do not pile up, nor count
// against the partition limit.
func TestTopNForgetsPartitionsEmptiedByRetractions(t *testing.T) {
	newOp, _, err := New(Spec{In: topIn, PartitionCols: []int{0}, Order: []SortKey{{Col: 1}}, Start: 1, End: 2,
		UpdatingInput: true, MaxGroups: 3000})
	if err != nil {
		t.Fatal(err)
	}
	o := opWith(t, newOp, topIn).(*topOp)
	defer o.Close()
	for p := range 10_000 {
		r := []runtime.Value{runtime.IntValue(int64(p)), runtime.IntValue(1), runtime.StringValue("x"), runtime.IntValue(0)}
		b := change{rows: [][]runtime.Value{r, r}, kinds: []runtime.RowKind{runtime.Insert, runtime.Delete}}.batch(topIn)
		err := o.ProcessBatch(0, b, &rttest.Discard{})
		b.Release()
		if err != nil {
			t.Fatalf("partition %d: %v", p, err)
		}
	}
	if n := o.table.Len(); n > 2000 {
		t.Fatalf("%d partitions held after every row was retracted", n)
	}
}

// TestWindowTopNGroupLimit checks that a window Top-N holding more
// (partition, window) groups than MaxGroups fails with
// state.ErrStateLimit, and that fired windows no longer count.
func TestWindowTopNGroupLimit(t *testing.T) {
	newOp, _, err := NewWindow(WindowSpec{In: winIn, PartitionCols: []int{0}, WindowStartCol: 4, WindowEndCol: 5,
		Order: []SortKey{{Col: 2}}, Start: 1, End: 1, MaxGroups: 2})
	if err != nil {
		t.Fatal(err)
	}
	r := func(p, ws int64) []runtime.Value {
		return []runtime.Value{runtime.IntValue(p), runtime.TimeValue(ws), runtime.IntValue(0), runtime.StringValue("x"), runtime.TimeValue(ws), runtime.TimeValue(ws + 10)}
	}
	o := opWith(t, newOp, winIn, r(1, 0), r(2, 0)).(*windowOp)
	defer o.Close()
	if err := o.ProcessWatermark(9, &rttest.Discard{}); err != nil {
		t.Fatal(err)
	}
	feed := func(rows ...[]runtime.Value) error {
		b := rttest.NewBatch(winIn, rows...)
		defer b.Release()
		return o.ProcessBatch(0, b, &rttest.Discard{})
	}
	if err := feed(r(1, 10), r(2, 10)); err != nil {
		t.Fatalf("after the first window fired: %v", err)
	}
	if err := feed(r(3, 10)); !errors.Is(err, state.ErrStateLimit) || !strings.Contains(err.Error(), "3 groups") {
		t.Fatalf("over the limit: %v", err)
	}
}

// TestDescribeSaysWhatIsKept checks the plan text of each operator: what
// it emits and what its state holds.
func TestDescribeSaysWhatIsKept(t *testing.T) {
	mk := func(f func() runtime.Operator, _ *runtime.Schema, err error) string {
		if err != nil {
			t.Fatal(err)
		}
		return f().(runtime.Describer).Describe()
	}
	for _, tc := range []struct {
		got  string
		want []string
	}{
		{mk(New(Spec{In: topIn, PartitionCols: []int{0}, Order: []SortKey{{Col: 1, Desc: true}}, Start: 1, End: 10, RowNumber: true})),
			[]string{"Top-N: ranks 1..10 by o1 DESC NULLS LAST per p", "with the rank", "state: the best 10 rows of each partition, no TTL"}},
		{mk(New(Spec{In: topIn, Order: []SortKey{{Col: 1}}, Start: 2, End: 3, UpdatingInput: true})),
			[]string{"ranks 2..3 by o1 NULLS LAST,", "state: every row of each partition"}},
		{mk(NewDedup(DedupSpec{In: dedupIn, KeyCols: []int{0}, TimeCol: 1, KeepLast: true})),
			[]string{"keep last by ts per k, an updating result", "state: one row per key"}},
		{mk(NewDedup(DedupSpec{In: dedupIn, KeyCols: []int{0}, ProcTime: true})),
			[]string{"keep first by processing time per k, append-only (+I)", "state: the set of keys seen"}},
		{mk(NewWindow(WindowSpec{In: winIn, PartitionCols: []int{0}, WindowStartCol: 4, WindowEndCol: 5, Order: []SortKey{{Col: 2}}, Start: 1, End: 3})),
			[]string{"per window (window_start, window_end) and p", "state: the best 3 rows per group of each open window", "late rows: dropped and counted"}},
	} {
		for _, w := range tc.want {
			if !strings.Contains(tc.got, w) {
				t.Errorf("%q lacks %q", tc.got, w)
			}
		}
	}
}

// TestDamagedSnapshotsNeverPanic alters every byte of small valid
// snapshots, resealing the checksum so that the body is parsed: a restore
// either fails with an error or leaves an operator that goes on working.
func TestDamagedSnapshotsNeverPanic(t *testing.T) {
	topNew, _, _ := New(Spec{In: topIn, PartitionCols: []int{0}, Order: []SortKey{{Col: 1}}, Start: 1, End: 3, RowNumber: true, UpdatingInput: true})
	dedupNew, _, _ := NewDedup(DedupSpec{In: dedupIn, KeyCols: []int{0}, TimeCol: 1, KeepLast: true})
	winNew, _, _ := NewWindow(WindowSpec{In: winIn, PartitionCols: []int{0}, WindowStartCol: 4, WindowEndCol: 5, Order: []SortKey{{Col: 2}}, Start: 1, End: 3})
	for _, k := range []struct {
		mk   func() runtime.Operator
		in   *runtime.Schema
		rows [][]runtime.Value
	}{
		{topNew, topIn, [][]runtime.Value{
			{runtime.IntValue(1), runtime.IntValue(2), runtime.StringValue("x"), runtime.IntValue(3)},
			{runtime.IntValue(2), runtime.NullValue(runtime.BigInt), runtime.StringValue("yy"), runtime.IntValue(4)}}},
		{dedupNew, dedupIn, [][]runtime.Value{
			{runtime.IntValue(1), runtime.TimeValue(2), runtime.StringValue("x"), runtime.IntValue(3)},
			{runtime.IntValue(2), runtime.NullValue(runtime.Timestamp), runtime.StringValue("yy"), runtime.IntValue(4)}}},
		{winNew, winIn, [][]runtime.Value{
			{runtime.IntValue(1), runtime.TimeValue(2), runtime.IntValue(3), runtime.StringValue("x"), runtime.TimeValue(0), runtime.TimeValue(10)},
			{runtime.IntValue(2), runtime.TimeValue(12), runtime.NullValue(runtime.BigInt), runtime.StringValue("yy"), runtime.TimeValue(10), runtime.TimeValue(20)}}},
	} {
		data, err := opWith(t, k.mk, k.in, k.rows...).(runtime.Snapshotter).SnapshotState(1)
		if err != nil {
			t.Fatal(err)
		}
		body := data[:len(data)-4]
		for i := range body {
			for _, x := range []byte{0, 1, 0x7f, 0x80, 0xff, body[i] + 1, body[i] - 1} {
				bad := append([]byte(nil), body...)
				bad[i] = x
				bad = binary.LittleEndian.AppendUint32(bad, crc32.Checksum(bad, crc32.MakeTable(crc32.Castagnoli)))
				func() {
					defer func() {
						if r := recover(); r != nil {
							t.Fatalf("byte %d set to %#x: panic %v", i, x, r)
						}
					}()
					o := opWith(t, k.mk, k.in)
					defer o.Close()
					if o.(runtime.Snapshotter).RestoreState(bad) != nil {
						return
					}
					b := rttest.NewBatch(k.in, k.rows...)
					defer b.Release()
					_ = o.ProcessBatch(0, b, &rttest.Discard{})
					_ = o.ProcessWatermark(runtime.MaxWatermark, &rttest.Discard{})
				}()
			}
		}
	}
}
