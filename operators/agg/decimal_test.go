package agg

import (
	"errors"
	"fmt"
	"math/big"
	"testing"

	"pgregory.net/rapid"

	"github.com/sluicehq/sluice/operators/internal/snap"
	"github.com/sluicehq/sluice/runtime"
)

// decRound is num/den at scale s, rounded half away from zero.
func decRound(num *big.Int, den int64, s int) *big.Int {
	x := new(big.Int).Mul(num, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(s)), nil))
	d := big.NewInt(den)
	q, r := new(big.Int).QuoRem(x, d, new(big.Int))
	if r.Abs(r).Lsh(r, 1).Cmp(d) >= 0 {
		if x.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return q
}

// TestDecimalAggsMatchBig checks SUM, AVG, MIN, MAX and COUNT over random
// DECIMAL(p, s) values, with retractions in a retracting layout, against
// exact math/big results: sums exact, averages rounded half away from zero
// at AvgType's scale, a sum of more than 18 digits an overflow error.
func TestDecimalAggsMatchBig(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := rapid.IntRange(1, 18).Draw(t, "p")
		sc := rapid.IntRange(0, p).Draw(t, "s")
		typ := runtime.DecimalType(p, sc)
		retract := rapid.Bool().Draw(t, "retract")
		in := runtime.NewSchema(runtime.Field{Name: "x", Type: typ, Nullable: true})
		specs := []Spec{{Func: Sum, Col: 0, Name: "s"}, {Func: Avg, Col: 0, Name: "a"}, {Func: Min, Col: 0, Name: "mn"},
			{Func: Max, Col: 0, Name: "mx"}, {Func: Count, Col: 0, Name: "c"}}
		var l *Layout
		var err error
		if retract {
			l, err = NewRetractLayout(in, specs)
		} else {
			l, err = NewLayout(in, specs)
		}
		if err != nil {
			t.Fatal(err)
		}
		if f := l.Fields(); f[0].Type != runtime.DecimalType(18, sc) || f[1].Type != AvgType(typ) || f[2].Type != typ {
			t.Fatalf("result types %v", f)
		}
		accs := NewAccs(l)
		accs.Grow(1)
		lim := runtime.Pow10(p) - 1
		var live []int64
		batches := rapid.IntRange(1, 6).Draw(t, "batches")
		for range batches {
			b := runtime.NewBatch(in)
			for range rapid.IntRange(1, 40).Draw(t, "rows") {
				if retract && len(live) > 0 && rapid.IntRange(0, 3).Draw(t, "del") == 0 {
					i := rapid.IntRange(0, len(live)-1).Draw(t, "which")
					b.Cols[0].AppendInt(live[i])
					b.SetKind(b.N, rapid.SampledFrom([]runtime.RowKind{runtime.UpdateBefore, runtime.Delete}).Draw(t, "kind"))
					live = append(live[:i], live[i+1:]...)
				} else if rapid.IntRange(0, 9).Draw(t, "null") == 0 {
					b.Cols[0].AppendNull()
					b.SetKind(b.N, runtime.Insert)
				} else {
					x := rapid.OneOf(rapid.Int64Range(-lim, lim), rapid.SampledFrom([]int64{lim, -lim, 5, -5})).Draw(t, "x")
					b.Cols[0].AppendInt(x)
					b.SetKind(b.N, runtime.Insert)
					live = append(live, x)
				}
				b.N++
			}
			accs.Update(b, allRows(b), make([]int32, b.N))
			b.Release()
		}
		out := runtime.NewBatch(runtime.NewSchema(l.Fields()...))
		sum := new(big.Int)
		mn, mx := int64(0), int64(0)
		for i, x := range live {
			sum.Add(sum, big.NewInt(x))
			if i == 0 || x < mn {
				mn = x
			}
			if i == 0 || x > mx {
				mx = x
			}
		}
		err = accs.Check(0)
		if !sum.IsInt64() || !runtime.DecimalFits(sum.Int64(), 18) {
			var oe *OverflowError
			if !errors.As(err, &oe) || oe.Type != runtime.DecimalType(18, sc) {
				t.Fatalf("sum %s of 18+ digits: error %v", sum, err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		// A restored table emits what the original does.
		e := snap.NewEncoder("decimal aggs", accs.SnapshotSize())
		accs.AppendSnapshot(e)
		d, err := snap.Open("decimal aggs", e.Finish())
		if err != nil {
			t.Fatal(err)
		}
		restored := NewAccs(l)
		restored.RestoreSnapshot(d)
		if err := d.Done(); err != nil {
			t.Fatal(err)
		}
		accs.Emit(0, out, 0)
		restored.Emit(0, out, 0)
		out.N += 2
		got := out.Values(0)
		if again := out.Values(1); fmt.Sprint(again) != fmt.Sprint(got) {
			t.Fatalf("restored accumulators emit %v, the original %v", again, got)
		}
		if len(live) == 0 {
			if !got[0].Null || !got[1].Null || !got[2].Null || got[4].I != 0 {
				t.Fatalf("empty group: %v", got)
			}
			return
		}
		avg := decRound(sum, int64(len(live)), AvgType(typ).Scale()-sc)
		if got[0].I != sum.Int64() || got[1].I != avg.Int64() || got[2].I != mn || got[3].I != mx || got[4].I != int64(len(live)) {
			t.Fatalf("got %v, want sum %s avg %s min %d max %d count %d", got, sum, runtime.FormatDecimal(avg.Int64(), AvgType(typ).Scale()), mn, mx, len(live))
		}
	})
}

// TestDecimalAvgType checks AVG's result type: Flink's scale max(6, s),
// lowered so that the integer digits fit 18.
func TestDecimalAvgType(t *testing.T) {
	d := runtime.DecimalType
	for in, want := range map[runtime.Type]runtime.Type{d(10, 2): d(18, 6), d(18, 0): d(18, 0), d(15, 0): d(18, 3), d(12, 8): d(18, 8)} {
		if got := AvgType(in); got != want {
			t.Errorf("AVG(%s) is %s, want %s", in, got, want)
		}
	}
	if _, err := NewLayout(runtime.NewSchema(runtime.Field{Name: "x", Type: d(5, 2)}), []Spec{{Func: VarPop, Col: 0, Name: "v"}}); err == nil {
		t.Error("VAR_POP of a DECIMAL compiled")
	}
}

func benchSum(b *testing.B, typ runtime.Type) {
	in := runtime.NewSchema(runtime.Field{Name: "x", Type: typ})
	l, err := NewLayout(in, []Spec{{Func: Sum, Col: 0, Name: "s"}})
	if err != nil {
		b.Fatal(err)
	}
	accs := NewAccs(l)
	accs.Grow(64)
	batch := runtime.NewBatch(in)
	groups := make([]int32, runtime.DefaultBatchRows)
	for i := range runtime.DefaultBatchRows {
		batch.Cols[0].AppendInt(int64(i*37%1000 - 500))
		groups[i] = int32(i % 64)
		batch.N++
	}
	rows := allRows(batch)
	b.ResetTimer()
	for range b.N {
		accs.Update(batch, rows, groups)
	}
	b.ReportMetric(float64(b.N)*float64(batch.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkSumDecimal is SUM over DECIMAL(10, 2), next to BenchmarkSumBigInt.
func BenchmarkSumDecimal(b *testing.B) { benchSum(b, runtime.DecimalType(10, 2)) }
func BenchmarkSumBigInt(b *testing.B)  { benchSum(b, runtime.BigInt) }
