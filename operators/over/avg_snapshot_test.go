package over

import (
	"os"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
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

// TestAvgOfDecimalsIsAnExactDecimal checks AVG of a DECIMAL(10, 2) over a
// window, appending and over an updating input: an exact DECIMAL(18, 6),
// rounded half away from zero, as a GROUP BY's.
func TestAvgOfDecimalsIsAnExactDecimal(t *testing.T) {
	dec := runtime.DecimalType(10, 2)
	s := runtime.NewSchema(runtime.Field{Name: "ts", Type: runtime.Timestamp}, runtime.Field{Name: "x", Type: dec})
	for _, updating := range []bool{false, true} {
		mk, out, err := New(Spec{In: s, TimeCol: 0, Frame: Frame{Rows: true, Preceding: 2}, Updating: updating,
			Aggs: []agg.Spec{{Func: agg.Avg, Col: 1, Name: "a"}}})
		if err != nil {
			t.Fatal(err)
		}
		if got := out.Fields[2].Type; got != runtime.DecimalType(18, 6) {
			t.Fatalf("AVG(DECIMAL(10, 2)) is %s", got)
		}
		op := mk()
		c, _ := rttest.NewCollector(out)
		ctx := rttest.NewContext("over", 0, 1)
		if err := op.Open(ctx); err != nil {
			t.Fatal(err)
		}
		v := func(ts, x int64) []runtime.Value {
			return []runtime.Value{runtime.TimeValue(ts), {Type: dec, I: x}}
		}
		// 1.00, 2.00, -0.01: means 1, 1.5, 0.996667 (2.99 / 3, half up)
		if err := op.ProcessBatch(0, rttest.NewBatch(s, v(1, 100), v(2, 200), v(3, -1)), c); err != nil {
			t.Fatal(err)
		}
		if err := op.ProcessWatermark(10, c); err != nil {
			t.Fatal(err)
		}
		op.Close()
		want := "+I1970-01-01 00:00:00.001,1.00,1.000000 +I1970-01-01 00:00:00.002,2.00,1.500000 +I1970-01-01 00:00:00.003,-0.01,0.996667"
		if got := strings.Join(c.Changelog(), " "); got != want {
			t.Fatalf("updating %v: got  %s\nwant %s", updating, got, want)
		}
	}
}
