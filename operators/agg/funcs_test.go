package agg

import (
	"math"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/operators/internal/snap"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

var fin = runtime.NewSchema(
	runtime.Field{Name: "v", Type: runtime.BigInt},
	runtime.Field{Name: "s", Type: runtime.Varchar},
	runtime.Field{Name: "b", Type: runtime.Boolean},
	runtime.Field{Name: "d", Type: runtime.Double, Nullable: true},
)

// TestLayoutRejectsBadArguments checks that each new function refuses the
// argument types it cannot take, and FILTER a column that is not BOOLEAN,
// with an error naming the column.
func TestLayoutRejectsBadArguments(t *testing.T) {
	for _, c := range []struct {
		spec Spec
		want string
	}{
		{Spec{Func: ListAgg, Col: 0, Name: "l"}, "LISTAGG(v): v is BIGINT, want VARCHAR"},
		{Spec{Func: StddevPop, Col: 1, Name: "x"}, "STDDEV_POP(s): VARCHAR is not numeric"},
		{Spec{Func: BoolAnd, Col: 0, Name: "x"}, "BOOL_AND(v): v is BIGINT, want BOOLEAN"},
		{Spec{Func: SumDistinct, Col: 1, Name: "x"}, "SUM DISTINCT(s): cannot sum VARCHAR"},
		{Spec{Func: Count, Col: -1, Name: "n", Filter: 0, HasFilter: true}, "FILTER column v is BIGINT, want BOOLEAN"},
		{Spec{Func: Count, Col: -1, Name: "n", Filter: 9, HasFilter: true}, "FILTER column 9 out of range"},
	} {
		for _, nl := range []func(*runtime.Schema, []Spec) (*Layout, error){NewLayout, NewRetractLayout} {
			if _, err := nl(fin, []Spec{c.spec}); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%v: got %v, want %q", c.spec, err, c.want)
			}
		}
	}
}

// TestVarianceKeepsPrecision checks that the variances of values far from
// zero with a small spread (where a sum of squares loses every digit) stay
// exact to 1e-6, adding and then retracting most of the values.
func TestVarianceKeepsPrecision(t *testing.T) {
	l, err := NewRetractLayout(fin, []Spec{{Func: VarPop, Col: 3, Name: "vp"}, {Func: StddevSamp, Col: 3, Name: "ss"}})
	if err != nil {
		t.Fatal(err)
	}
	a := NewAccs(l)
	a.Grow(1)
	var rows [][]runtime.Value
	for i := 0; i < 1000; i++ {
		rows = append(rows, []runtime.Value{runtime.IntValue(0), runtime.StringValue(""), runtime.BoolValue(true), runtime.FloatValue(1e9 + float64(i%10))})
	}
	b := rttest.NewBatch(fin, rows...)
	idx, groups := make([]int32, len(rows)), make([]int32, len(rows))
	for i := range idx {
		idx[i] = int32(i)
	}
	a.Update(b, idx, groups)
	// Retract all but the last 10 (one of each value).
	for i := 0; i < 990; i++ {
		b.SetKind(i, runtime.Delete)
	}
	a.Update(b, idx[:990], groups[:990])
	out := runtime.NewBatch(runtime.NewSchema(l.Fields()...))
	a.Emit(0, out, 0)
	// 0..9: VAR_POP 8.25, STDDEV_SAMP sqrt(82.5/9).
	if vp, ss := out.Cols[0].F64[0], out.Cols[1].F64[0]; math.Abs(vp-8.25) > 1e-6 || math.Abs(ss-math.Sqrt(82.5/9)) > 1e-6 {
		t.Fatalf("VAR_POP %v, STDDEV_SAMP %v; want 8.25, %v", vp, ss, math.Sqrt(82.5/9))
	}
	if a.Rows(0) != 10 {
		t.Fatalf("%d rows, want 10", a.Rows(0))
	}
}

// TestExtendedSnapshotRefusesOtherAggregates checks that a snapshot of new
// aggregates, or of a retracting layout, restores only into the same
// aggregates over the same kind of input.
func TestExtendedSnapshotRefusesOtherAggregates(t *testing.T) {
	specs := []Spec{{Func: ListAgg, Col: 1, Name: "l"}, {Func: FirstValue, Col: 0, Name: "f"}}
	take := func(l *Layout) []byte {
		a := NewAccs(l)
		a.Grow(2)
		b := rttest.NewBatch(fin, []runtime.Value{runtime.IntValue(1), runtime.StringValue("x"), runtime.BoolValue(true), runtime.FloatValue(1)})
		a.Update(b, []int32{0, 0}, []int32{0, 1})
		e := snap.NewEncoder("t", 64)
		a.AppendSnapshot(e)
		return e.Finish()
	}
	restore := func(l *Layout, data []byte) error {
		d, err := snap.Open("t", data)
		if err != nil {
			return err
		}
		a := NewAccs(l)
		a.RestoreSnapshot(d)
		return d.Done()
	}
	appendL, _ := NewLayout(fin, specs)
	retractL, _ := NewRetractLayout(fin, specs)
	other, _ := NewLayout(fin, []Spec{{Func: ListAgg, Col: 1, Name: "l"}, {Func: LastValue, Col: 0, Name: "f"}})
	filtered, _ := NewLayout(fin, []Spec{{Func: ListAgg, Col: 1, Name: "l", Filter: 2, HasFilter: true}, {Func: FirstValue, Col: 0, Name: "f"}})
	if err := restore(appendL, take(appendL)); err != nil {
		t.Fatalf("same layout: %v", err)
	}
	if err := restore(retractL, take(retractL)); err != nil {
		t.Fatalf("same retracting layout: %v", err)
	}
	for name, c := range map[string][2]*Layout{
		"append into retract": {appendL, retractL}, "retract into append": {retractL, appendL},
		"FIRST_VALUE into LAST_VALUE": {appendL, other}, "unfiltered into filtered": {appendL, filtered},
	} {
		if err := restore(c[1], take(c[0])); err == nil {
			t.Errorf("%s: restored", name)
		}
	}
}
