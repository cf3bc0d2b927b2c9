package join

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
	"github.com/sluicehq/sluice/runtime/state"
)

// TestRegularSnapshotRestoreExact checks that a join restored from a
// snapshot taken between any two batches (several times in one run) emits
// exactly the changelog, row for row and in order, of one never
// interrupted.
func TestRegularSnapshotRestoreExact(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		sc := drawRegScenario(rt)
		events := drawRegInterleaving(rt, sc)
		spec := regSpec(sc.typ, sc.residual)
		want := regDrive(rt, spec, events).Changelog()

		newOp, out, err := NewRegular(spec)
		if err != nil {
			rt.Fatalf("NewRegular: %v", err)
		}
		compactAt := rapid.SampledFrom([]int{1, minCompactRows}).Draw(rt, "compactAt")
		open := func() runtime.Operator {
			op := newOp()
			op.(*regJoin).compactRows, op.(*regJoin).compactKeys = compactAt, compactAt
			if err := op.Open(rttest.NewContext("join", 0, 1)); err != nil {
				rt.Fatalf("Open: %v", err)
			}
			return op
		}
		op := open()
		got, _ := rttest.NewCollector(out)
		for i, ev := range events {
			if rapid.IntRange(0, 3).Draw(rt, "restart") == 0 {
				data, err := op.(runtime.Snapshotter).SnapshotState(int64(i))
				if err != nil {
					rt.Fatalf("snapshot: %v", err)
				}
				// The snapshot is the caller's: the operator going on
				// must not change it.
				kept := slices.Clone(data)
				if err := op.ProcessBatch(ev.side, regEventBatch(spec, ev), &rttest.Discard{}); err != nil {
					rt.Fatalf("event %d: %v", i, err)
				}
				if !slices.Equal(data, kept) {
					rt.Fatalf("the snapshot changed after SnapshotState returned")
				}
				op.Close()
				op = open()
				if err := op.(runtime.Snapshotter).RestoreState(data); err != nil {
					rt.Fatalf("restore: %v", err)
				}
			}
			if err := op.ProcessBatch(ev.side, regEventBatch(spec, ev), got); err != nil {
				rt.Fatalf("event %d: %v", i, err)
			}
		}
		op.Close()
		if g := got.Changelog(); !slices.Equal(g, want) {
			rt.Fatalf("%s join (residual %d) with restarts:\n  %s\nwithout:\n  %s", sc.typ, sc.residual,
				strings.Join(g, "\n  "), strings.Join(want, "\n  "))
		}
	})
}

// TestRegularRestoreRefusesForeignState checks that a snapshot of another
// join type, or a damaged one, is refused with an error and leaves the
// operator empty.
func TestRegularRestoreRefusesForeignState(t *testing.T) {
	newOp, _, err := NewRegular(regSpec(RegularLeft, 0))
	if err != nil {
		t.Fatal(err)
	}
	src := newOp().(*regJoin)
	if err := src.Open(nil); err != nil {
		t.Fatal(err)
	}
	var d rttest.Discard
	if err := src.ProcessBatch(0, regBatch(regLeft, ins(regL(1, 1, "x")), ins(regL(1, 1, "x")), ins(regL(2, nil, "y"))), &d); err != nil {
		t.Fatal(err)
	}
	if err := src.ProcessBatch(1, regBatch(regRight, ins(regR("r", 1, 3))), &d); err != nil {
		t.Fatal(err)
	}
	data, err := src.SnapshotState(1)
	if err != nil {
		t.Fatal(err)
	}

	newInner, _, err := NewRegular(regSpec(RegularInner, 0))
	if err != nil {
		t.Fatal(err)
	}
	inner := newInner().(*regJoin)
	if err := inner.Open(nil); err != nil {
		t.Fatal(err)
	}
	if err := inner.RestoreState(data); err == nil || !strings.Contains(err.Error(), "LEFT OUTER join") {
		t.Fatalf("restoring a LEFT join's snapshot into an INNER join: %v", err)
	}

	for _, at := range []int{len(data) / 2, len(data) - 10, 12} {
		bad := slices.Clone(data)
		bad[at] ^= 0x40
		op := newOp().(*regJoin)
		if err := op.Open(nil); err != nil {
			t.Fatal(err)
		}
		err := op.RestoreState(bad)
		if !errors.Is(err, state.ErrCorruptSnapshot) {
			t.Fatalf("byte %d flipped: %v, want a corrupt snapshot", at, err)
		}
		if op.keys.live != 0 || op.sides[0].rows.live != 0 {
			t.Fatalf("byte %d flipped: the operator kept state", at)
		}
	}

	op := newOp().(*regJoin)
	if err := op.Open(nil); err != nil {
		t.Fatal(err)
	}
	if err := op.RestoreState(data); err != nil {
		t.Fatal(err)
	}
	if op.keys.live != 2 || op.sides[0].rows.live != 2 || op.sides[0].rows.copies != 3 || op.sides[1].rows.live != 1 {
		t.Fatalf("restored %d keys, %d/%d left entries/copies, %d right entries", op.keys.live, op.sides[0].rows.live, op.sides[0].rows.copies, op.sides[1].rows.live)
	}
}
