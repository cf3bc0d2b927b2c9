package agg

import (
	"math"
	"math/big"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/sluicehq/sluice/operators/internal/snap"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// TestAvgOfIntegersHasTheirType checks Flink's result types: AVG of INT is
// INT, of BIGINT BIGINT, of DOUBLE DOUBLE.
func TestAvgOfIntegersHasTheirType(t *testing.T) {
	for _, typ := range []runtime.Type{runtime.Int, runtime.BigInt, runtime.Double} {
		s := runtime.NewSchema(runtime.Field{Name: "x", Type: typ})
		for _, retract := range []bool{false, true} {
			l, err := newLayout(s, []Spec{{Func: Avg, Col: 0, Name: "a"}}, retract)
			if err != nil {
				t.Fatal(err)
			}
			if got := l.Fields()[0].Type; got != typ || AvgType(typ) != typ {
				t.Fatalf("AVG(%s) (retracting: %v) is %s", typ, retract, got)
			}
		}
	}
}

// TestAvgOfIntegersTruncatesExactly checks AVG of a BIGINT against math/big
// (the sum divided by the count, truncated toward zero as Java's long
// division), with values far past float64's 2^53 and sums past int64's range, by appending, by merging
// groups (sessions, panes) and with retractions; a restored snapshot emits
// the same.
func TestAvgOfIntegersTruncatesExactly(t *testing.T) {
	s := runtime.NewSchema(runtime.Field{Name: "x", Type: runtime.BigInt, Nullable: true})
	rapid.Check(t, func(t *rapid.T) {
		retract := rapid.Bool().Draw(t, "retract")
		l, err := newLayout(s, []Spec{{Func: Avg, Col: 0, Name: "AVG(x)"}}, retract)
		if err != nil {
			t.Fatal(err)
		}
		lim := rapid.SampledFrom([]int64{3, 1000, 1 << 55, math.MaxInt64}).Draw(t, "lim")
		accs := NewAccs(l)
		accs.Grow(2)
		var live []int64
		for range rapid.IntRange(1, 5).Draw(t, "batches") {
			b := runtime.NewBatch(s)
			var groups []int32
			for range rapid.IntRange(1, 30).Draw(t, "rows") {
				g := int32(rapid.IntRange(0, 1).Draw(t, "group"))
				switch {
				case retract && len(live) > 0 && rapid.IntRange(0, 3).Draw(t, "del") == 0:
					// Retract from group 0 only: group 1 is merged in below.
					i := rapid.IntRange(0, len(live)-1).Draw(t, "which")
					b.Cols[0].AppendInt(live[i])
					b.SetKind(b.N, runtime.Delete)
					live = append(live[:i], live[i+1:]...)
					g = 0
				case rapid.IntRange(0, 9).Draw(t, "null") == 0:
					b.Cols[0].AppendNull()
					b.SetKind(b.N, runtime.Insert)
				default:
					x := rapid.OneOf(rapid.Int64Range(-lim, lim), rapid.SampledFrom([]int64{math.MinInt64, math.MaxInt64})).Draw(t, "x")
					b.Cols[0].AppendInt(x)
					b.SetKind(b.N, runtime.Insert)
					live = append(live, x)
					if retract {
						g = 0
					}
				}
				groups = append(groups, g)
				b.N++
			}
			accs.Update(b, allRows(b), groups)
			b.Release()
		}
		accs.Merge(0, accs, 1)
		if err := accs.Check(0); err != nil { // AVG of integers cannot overflow
			t.Fatal(err)
		}
		e := snap.NewEncoder("avg", accs.SnapshotSize())
		accs.AppendSnapshot(e)
		d, err := snap.Open("avg", e.Finish())
		if err != nil {
			t.Fatal(err)
		}
		restored := NewAccs(l)
		restored.RestoreSnapshot(d)
		if err := d.Done(); err != nil {
			t.Fatal(err)
		}
		want := "NULL"
		if len(live) > 0 {
			sum := new(big.Int)
			for _, x := range live {
				sum.Add(sum, big.NewInt(x))
			}
			want = sum.Quo(sum, big.NewInt(int64(len(live)))).String() // Quo truncates toward zero
		}
		if got := emit(t, l, accs, 0)[0]; got != want {
			t.Fatalf("AVG of %v: got %s, want %s", live, got, want)
		}
		if got := emit(t, l, restored, 0)[0]; got != want {
			t.Fatalf("restored AVG of %v: got %s, want %s", live, got, want)
		}
	})
}

// TestAvgOfNegativeIntegersTruncatesTowardZero pins the rounding: toward
// zero, not down (-3/2 is -1, as in Java and sqlite3), for INT and BIGINT.
func TestAvgOfNegativeIntegersTruncatesTowardZero(t *testing.T) {
	for _, typ := range []runtime.Type{runtime.Int, runtime.BigInt} {
		s := runtime.NewSchema(runtime.Field{Name: "x", Type: typ})
		l, err := NewLayout(s, []Spec{{Func: Avg, Col: 0, Name: "a"}})
		if err != nil {
			t.Fatal(err)
		}
		a := NewAccs(l)
		a.Grow(3)
		v := func(x int64) []runtime.Value { return []runtime.Value{{Type: typ, I: x}} }
		b := rttest.NewBatch(s, v(-1), v(-2), v(1), v(2), v(7), v(-8))
		a.Update(b, []int32{0, 1, 2, 3, 4, 5}, []int32{0, 0, 1, 1, 2, 2})
		b.Release()
		if got := strings.Join(emit(t, l, a), " "); got != "-1 1 0" {
			t.Fatalf("AVG(%s) of (-1, -2), (1, 2), (7, -8): got %s, want -1 1 0", typ, got)
		}
	}
}

// TestAvgOfIntegersNeverOverflows checks that AVG of BIGINTs whose sum
// leaves int64's range (epoch nanoseconds, say) is still their exact
// truncated mean, appending, merging and retracting, where SUM overflows.
func TestAvgOfIntegersNeverOverflows(t *testing.T) {
	s := runtime.NewSchema(runtime.Field{Name: "x", Type: runtime.BigInt})
	for _, retract := range []bool{false, true} {
		l, err := newLayout(s, []Spec{{Func: Avg, Col: 0, Name: "AVG(x)"}}, retract)
		if err != nil {
			t.Fatal(err)
		}
		a := NewAccs(l)
		a.Grow(3)
		v := func(x int64) []runtime.Value { return []runtime.Value{runtime.IntValue(x)} }
		b := rttest.NewBatch(s, v(math.MaxInt64), v(math.MaxInt64-2), v(math.MinInt64), v(math.MinInt64+1), v(math.MaxInt64))
		a.Update(b, []int32{0, 1, 2, 3, 4}, []int32{0, 0, 1, 1, 2})
		b.Release()
		a.Merge(0, a, 2) // MaxInt64, MaxInt64-2, MaxInt64
		if err := a.Check(0); err != nil {
			t.Fatal(err)
		}
		want := "9223372036854775806 -9223372036854775807 9223372036854775807"
		if got := strings.Join(emit(t, l, a), " "); got != want {
			t.Fatalf("retracting %v: got %s, want %s", retract, got, want)
		}
		if !retract {
			continue
		}
		del := rttest.NewBatch(s, v(math.MaxInt64-2))
		del.SetKind(0, runtime.Delete)
		a.Update(del, []int32{0}, []int32{0})
		del.Release()
		if got := emit(t, l, a, 0)[0]; got != "9223372036854775807" {
			t.Fatalf("after retracting MaxInt64-2: got %s", got)
		}
	}
}

// TestOldDoubleAvgSnapshotIsRefused checks that the accumulators of an
// AVG of an integer written by the version that averaged integers in a
// float64 (one float slot, one count) are refused with an error saying so,
// not restored as wrong sums; AVG of a CAST to DOUBLE restores them.
func TestOldDoubleAvgSnapshotIsRefused(t *testing.T) {
	s := runtime.NewSchema(runtime.Field{Name: "x", Type: runtime.BigInt}, runtime.Field{Name: "d", Type: runtime.Double})
	// COUNT(*) (int slot 0), AVG(x) then: float slot 0 (sum), int slot 1 (count).
	e := snap.NewEncoder("old", 64)
	e.Int(2) // nI
	e.Int(1) // nF
	e.Int(0) // nS
	e.Int(0) // nD
	e.Int(1) // groups
	e.Int64s([]int64{2, 2})
	e.Float64s([]float64{3})
	e.Strings(nil)
	old := e.Finish()
	restore := func(col int) error {
		l, err := NewLayout(s, []Spec{{Func: Count, Col: -1, Name: "n"}, {Func: Avg, Col: col, Name: "AVG(x)"}})
		if err != nil {
			t.Fatal(err)
		}
		d, err := snap.Open("old", old)
		if err != nil {
			t.Fatal(err)
		}
		a := NewAccs(l)
		a.RestoreSnapshot(d)
		if err := d.Done(); err != nil {
			return err
		}
		if got := emit(t, l, a)[0]; got != "2,1.5" {
			t.Fatalf("restored as DOUBLE: %s, want 2,1.5", got)
		}
		return nil
	}
	err := restore(0)
	if err == nil || !strings.Contains(err.Error(), "AVG of an integer was a DOUBLE") || !strings.Contains(err.Error(), "AVG(x) now averages to BIGINT") {
		t.Fatalf("old snapshot into AVG(BIGINT): %v", err)
	}
	if err := restore(1); err != nil {
		t.Fatalf("old snapshot into AVG(DOUBLE): %v", err)
	}
}

// TestIntAvgOf128BitSums checks IntAvg (the OVER operator's AVG, which
// sums in 128 bits) against math/big: the sum of n int64 values divided by
// n, truncated toward zero.
func TestIntAvgOf128BitSums(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.Int64Range(1, 1<<40).Draw(t, "n")
		mean := rapid.OneOf(rapid.Int64(), rapid.Int64Range(-3, 3)).Draw(t, "mean")
		extra := rapid.Int64Range(0, n-1).Draw(t, "extra") // sum = mean*n ± extra stays a mean of int64s
		sum := new(big.Int).Mul(big.NewInt(mean), big.NewInt(n))
		if mean >= 0 && mean < math.MaxInt64 || mean == math.MinInt64 {
			sum.Add(sum, big.NewInt(extra))
		} else {
			sum.Sub(sum, big.NewInt(extra))
		}
		lo := new(big.Int).And(sum, new(big.Int).SetUint64(math.MaxUint64)).Uint64()
		hi := new(big.Int).Rsh(sum, 64).Int64() // Rsh floors: two's complement
		want := new(big.Int).Quo(sum, big.NewInt(n))
		if got := IntAvg(hi, lo, n); got != want.Int64() {
			t.Fatalf("IntAvg(%s / %d) = %d, want %s", sum, n, got, want)
		}
	})
}
