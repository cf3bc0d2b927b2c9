package over

import (
	"os"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/runtime"
)

// TestOldDoubleAvgSnapshotIsRefused restores a snapshot of an OVER over an
// updating input written by the version whose AVG of a BIGINT was a DOUBLE
// (testdata/avg-double-updating-v1.snap: AVG(v) over ROWS 5 PRECEDING per
// k after rows (1, 10 ms, 1) and (1, 20 ms, 2), which emitted 1.0 and 1.5).
// A restored operator would retract those with BIGINTs, so it is refused,
// saying why; a snapshot of this version restores, and AVG of a DOUBLE
// keeps restoring as before.
func TestOldDoubleAvgSnapshotIsRefused(t *testing.T) {
	data, err := os.ReadFile("testdata/avg-double-updating-v1.snap")
	if err != nil {
		t.Fatal(err)
	}
	spec := func(col int) Spec {
		return Spec{In: in, PartitionCols: []int{0}, TimeCol: 1, Frame: Frame{Rows: true, Preceding: 5},
			Aggs: []agg.Spec{{Func: agg.Avg, Col: col, Name: "a"}}, Updating: true}
	}
	h := newHarness(t, spec(2))
	err = h.op.(runtime.Snapshotter).RestoreState(data)
	if err == nil || !strings.Contains(err.Error(), "AVG of an integer was a DOUBLE") || !strings.Contains(err.Error(), "CAST(x AS DOUBLE)") {
		t.Fatalf("old snapshot: got %v", err)
	}
	h.batch(row(1, 10, 1), row(1, 20, 2))
	now, err := h.op.(runtime.Snapshotter).SnapshotState(1)
	if err != nil {
		t.Fatal(err)
	}
	again := newHarness(t, spec(2))
	if err := again.op.(runtime.Snapshotter).RestoreState(now); err != nil {
		t.Fatalf("this version's snapshot: %v", err)
	}
	if got := strings.Join(h.strings(), " "); got != "+I1,1970-01-01 00:00:00.010,1,NULL,NULL,1 +I1,1970-01-01 00:00:00.020,2,NULL,NULL,1" {
		t.Fatalf("after the refused snapshot: %s", got)
	}
	d := newHarness(t, spec(3))
	d.batch(row(1, 10, 1))
	dd, err := d.op.(runtime.Snapshotter).SnapshotState(1)
	if err != nil {
		t.Fatal(err)
	}
	if err := newHarness(t, spec(3)).op.(runtime.Snapshotter).RestoreState(dd); err != nil {
		t.Fatalf("AVG of a DOUBLE: %v", err)
	}
}
