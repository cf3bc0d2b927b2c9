package agg

import (
	"errors"
	"math"
	"testing"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// TestSumOverflowMarksTheGroup checks that an integer SUM leaving BIGINT's
// range, by adding rows or by merging groups (sessions), marks only that
// group, for the operator to fail instead of emitting a wrapped sum.
func TestSumOverflowMarksTheGroup(t *testing.T) {
	for _, nullable := range []bool{false, true} {
		s := runtime.NewSchema(runtime.Field{Name: "v", Type: runtime.BigInt, Nullable: nullable})
		l, err := NewLayout(s, []Spec{{Func: Count, Col: -1, Name: "n"}, {Func: Sum, Col: 0, Name: "SUM(v)"}})
		if err != nil {
			t.Fatal(err)
		}
		a := NewAccs(l)
		a.Grow(3)
		b := rttest.NewBatch(s, []runtime.Value{runtime.IntValue(math.MaxInt64)}, []runtime.Value{runtime.IntValue(1)}, []runtime.Value{runtime.IntValue(math.MinInt64)}, []runtime.Value{runtime.IntValue(-1)})
		a.Update(b, []int32{0, 3, 0, 1, 2, 2}, []int32{0, 0, 1, 1, 2, 2})
		if err := a.Check(0); err != nil {
			t.Fatalf("MAX - 1: flagged: %v", err)
		}
		var oe *OverflowError
		if err := a.Check(1); !errors.As(err, &oe) || oe.Agg != "SUM(v)" || err.Error() != "SUM(v): BIGINT out of range" {
			t.Fatalf("MAX + 1: got %v", err)
		}
		if err := a.Check(2); err == nil {
			t.Fatal("MIN + MIN: no overflow reported")
		}
		// Merging: MAX merged with 1 overflows; clearing forgets the mark.
		a.Clear(1)
		a.Clear(2)
		a.Update(b, []int32{0, 1}, []int32{1, 2})
		a.Merge(1, a, 2)
		if err := a.Check(1); err == nil {
			t.Fatal("merge of MAX and 1: no overflow reported")
		}
		a.Clear(1)
		if err := a.Check(1); err != nil {
			t.Fatalf("cleared group still flagged: %v", err)
		}
	}
}
