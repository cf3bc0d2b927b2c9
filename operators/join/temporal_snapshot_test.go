package join

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
	"github.com/sluicehq/sluice/runtime/state"
)

// tjSnapCase is an operator of this file's kinds with some state.
type tjSnapCase struct {
	name  string
	newOp func() runtime.Operator
	fill  func(d *tjDriver)
	held  func(op runtime.Operator) int // rows or keys held
}

func tjSnapCases(t *testing.T) []tjSnapCase {
	ev, _, err := NewTemporal(tjSpec(true, false))
	if err != nil {
		t.Fatal(err)
	}
	proc, _, err := NewProcTemporal(tjProcSpec(true, false, true))
	if err != nil {
		t.Fatal(err)
	}
	win, _, err := NewWindow(wjSpec(true, true, false))
	if err != nil {
		t.Fatal(err)
	}
	return []tjSnapCase{
		{"temporal", ev, func(d *tjDriver) {
			d.batch(1, tjChangeBatch(tjChange(runtime.Insert, 1, 5, 1), tjChange(runtime.Insert, 1, 9, 2)))
			d.batch(0, rttest.NewBatch(tjProbeSchema, tjProbe(1, 7, 1), tjProbe(2, 8, 2)))
		}, func(op runtime.Operator) int { p, v := op.(*tjEvent).buffered(); return p + v }},
		{"proc-temporal", proc, func(d *tjDriver) {
			d.batch(1, tjChangeBatch(tjChange(runtime.Insert, 1, 5, 1)))
			d.batch(0, rttest.NewBatch(tjProbeSchema, tjProbe(1, 7, 1), tjProbe(2, 8, 2)))
		}, func(op runtime.Operator) int {
			o := op.(*tjProc)
			if o.held != nil {
				return o.keys.live + o.held.N
			}
			return o.keys.live
		}},
		{"window", win, func(d *tjDriver) {
			d.batch(0, rttest.NewBatch(wjLeftSchema, wjL(1, 1, 0, 10, 1), wjL(nil, 2, 0, 10, 2)))
			d.batch(1, rttest.NewBatch(wjRightSchema, wjR(1, 12, 10, 20, 3)))
		}, func(op runtime.Operator) int { return op.(*wjOp).groups }},
	}
}

// TestJoinSnapshotsRefuseCorruptOrForeignData checks each operator's
// RestoreState: a corrupt, truncated or foreign snapshot is an error
// matching state.ErrCorruptSnapshot (or naming the mismatch) that leaves the
// operator empty and usable, an empty one means no state, and a snapshot
// does not change when the operator goes on.
func TestJoinSnapshotsRefuseCorruptOrForeignData(t *testing.T) {
	cases := tjSnapCases(t)
	snaps := make([][]byte, len(cases))
	for i, c := range cases {
		d := newTJDriver(t, c.newOp)
		c.fill(d)
		data, err := d.op.(runtime.Snapshotter).SnapshotState(1)
		if err != nil {
			t.Fatal(err)
		}
		kept := bytes.Clone(data)
		c.fill(d)
		d.watermark(100)
		if !bytes.Equal(kept, data) {
			t.Fatalf("%s: the snapshot changed when the operator went on", c.name)
		}
		snaps[i] = data
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			restore := func(data []byte) (runtime.Operator, error) {
				op := c.newOp()
				op.Open(rttest.NewContext("join", 0, 1))
				return op, op.(runtime.Snapshotter).RestoreState(data)
			}
			op, err := restore(snaps[i])
			if err != nil || c.held(op) == 0 {
				t.Fatalf("restore: %v, %d held", err, c.held(op))
			}
			if op, err := restore(nil); err != nil || c.held(op) != 0 {
				t.Fatalf("empty snapshot: %v, %d held", err, c.held(op))
			}
			flipped := bytes.Clone(snaps[i])
			flipped[len(flipped)/2] ^= 0x40
			for name, data := range map[string][]byte{
				"truncated": snaps[i][:len(snaps[i])-7],
				"flipped":   flipped,
				"foreign":   snaps[(i+1)%len(snaps)],
			} {
				op, err := restore(data)
				if !errors.Is(err, state.ErrCorruptSnapshot) {
					t.Errorf("%s: error %v, want one matching state.ErrCorruptSnapshot", name, err)
				}
				if c.held(op) != 0 {
					t.Errorf("%s: %d held after a failed restore", name, c.held(op))
				}
				// Still usable.
				if err := op.(runtime.Snapshotter).RestoreState(snaps[i]); err != nil {
					t.Errorf("%s: restore after a failed one: %v", name, err)
				}
			}
		})
	}
}

func TestJoinDescribeSaysKindKeysAndState(t *testing.T) {
	for _, c := range tjSnapCases(t) {
		got := c.newOp().(runtime.Describer).Describe()
		for _, want := range []string{"join", "vk", "state:"} {
			if c.name == "window" && want == "vk" {
				want = "k = k"
			}
			if !strings.Contains(got, want) {
				t.Errorf("%s: %q lacks %q", c.name, got, want)
			}
		}
	}
}
