package agg

import (
	"math"
	"math/big"
	"testing"

	"pgregory.net/rapid"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// bigVariances returns VAR_POP, VAR_SAMP, STDDEV_POP and STDDEV_SAMP of xs
// computed exactly (in 4,000-bit floats) and rounded to float64 at the end.
func bigVariances(xs []float64) [4]float64 {
	const prec = 4000
	n := new(big.Float).SetPrec(prec).SetInt64(int64(len(xs)))
	sum := new(big.Float).SetPrec(prec)
	for _, x := range xs {
		sum.Add(sum, new(big.Float).SetPrec(prec).SetFloat64(x))
	}
	mean := new(big.Float).SetPrec(prec).Quo(sum, n)
	m2 := new(big.Float).SetPrec(prec)
	for _, x := range xs {
		d := new(big.Float).SetPrec(prec).SetFloat64(x)
		d.Sub(d, mean)
		m2.Add(m2, d.Mul(d, d))
	}
	vp := new(big.Float).SetPrec(prec).Quo(m2, n)
	vs := new(big.Float).SetPrec(prec).Quo(m2, new(big.Float).SetPrec(prec).SetInt64(int64(len(xs)-1)))
	f := func(v *big.Float) float64 { x, _ := v.Float64(); return x }
	return [4]float64{f(vp), f(vs), f(new(big.Float).SetPrec(prec).Sqrt(vp)), f(new(big.Float).SetPrec(prec).Sqrt(vs))}
}

// TestVariancesDoNotOverflowAndMatchABigFloatReference: values of any
// magnitude up to 1e300 (whose squares overflow a DOUBLE above ~1e154),
// added, partly retracted, and merged from two groups, give the variances
// and standard deviations an exact computation gives, to 1e-9 relative
// (after retractions, relative to the variance of all the values added;
// plus n ulps of the largest value times the spread, for ill-conditioned
// data;
// a variance beyond the largest DOUBLE is +Inf on both sides).
func TestVariancesDoNotOverflowAndMatchABigFloatReference(t *testing.T) {
	s := runtime.NewSchema(runtime.Field{Name: "x", Type: runtime.Double})
	specs := []Spec{{Func: VarPop, Col: 0, Name: "vp"}, {Func: VarSamp, Col: 0, Name: "vs"},
		{Func: StddevPop, Col: 0, Name: "sp"}, {Func: StddevSamp, Col: 0, Name: "ss"}}
	rapid.Check(t, func(rt *rapid.T) {
		scale := math.Pow(10, float64(rapid.IntRange(-300, 300).Draw(rt, "exp")))
		n := rapid.IntRange(2, 60).Draw(rt, "n")
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = scale * rapid.Float64Range(-1, 1).Draw(rt, "x")
		}
		if rapid.Bool().Draw(rt, "offset") { // a mean far from zero, a spread 1000× smaller
			for i := range xs {
				xs[i] = scale*1000 + xs[i]
			}
		}
		retracted := rapid.IntRange(0, min(n/2, n-2)).Draw(rt, "retracted") // the first ones, retracted at the end
		split := rapid.IntRange(0, n).Draw(rt, "split")                     // group 1 takes xs[split:], merged into group 0
		l, err := NewRetractLayout(s, specs)
		if err != nil {
			rt.Fatal(err)
		}
		a := NewAccs(l)
		a.Grow(2)
		rows := make([][]runtime.Value, n)
		for i, x := range xs {
			rows[i] = []runtime.Value{runtime.FloatValue(x)}
		}
		b := rttest.NewBatch(s, rows...)
		idx, groups := make([]int32, n), make([]int32, n)
		for i := range idx {
			idx[i] = int32(i)
			if i >= split {
				groups[i] = 1
			}
		}
		a.Update(b, idx, groups)
		a.Merge(0, a, 1)
		for i := range retracted {
			b.SetKind(i, runtime.Delete)
		}
		a.Update(b, idx[:retracted], make([]int32, retracted))
		out := runtime.NewBatch(runtime.NewSchema(l.Fields()...))
		a.Emit(0, out, 0)
		want := bigVariances(xs[retracted:])
		// A retraction cancels what it removes from the state: the error
		// is relative to the variance of every value added.
		all := bigVariances(xs)
		largest := 0.0
		for _, x := range xs {
			largest = max(largest, math.Abs(x))
		}
		ulps := 4 * float64(n) * largest * 0x1p-52
		for k, name := range []string{"VAR_POP", "VAR_SAMP", "STDDEV_POP", "STDDEV_SAMP"} {
			got, w := out.Cols[k].F64[0], want[k]
			ref := w
			if retracted > 0 {
				ref = max(w, all[k])
			}
			var tol float64
			if k < 2 {
				// Values far from zero with a small spread lose digits to
				// rounding in any method: allow n ulps of the largest
				// value times the spread.
				tol = 1e-9*ref + ulps*math.Sqrt(ref)
			} else {
				// The same on the variance, as a bound on its root.
				r := ref / w
				if ref == 0 {
					r = 1
				}
				tol = 5e-10*ref*r + ulps*r
			}
			tol += 64 * float64(n) * math.SmallestNonzeroFloat64 // subnormal results have few digits
			ok := got == w || math.Abs(got-w) <= tol
			if math.IsInf(w, 1) {
				// Beyond DOUBLE: +Inf, unless retractions of still larger
				// values leave no bound on the error.
				ok = math.IsInf(got, 1) || retracted > 0 && math.IsInf(all[k], 1)
			}
			if !ok {
				rt.Fatalf("%s of %d values (scale %g): got %v, want %v", name, len(xs)-retracted, scale, got, w)
			}
		}
	})
}

// TestStddevOfHugeValuesIsFinite: over an append-only input, STDDEV_POP of
// ±1e300 is 1e300 (the squares, 1e600, are beyond DOUBLE), and VAR_POP,
// 1e600, is +Inf.
func TestStddevOfHugeValuesIsFinite(t *testing.T) {
	s := runtime.NewSchema(runtime.Field{Name: "x", Type: runtime.Double})
	l, err := NewLayout(s, []Spec{{Func: StddevPop, Col: 0, Name: "sp"}, {Func: VarPop, Col: 0, Name: "vp"}, {Func: StddevSamp, Col: 0, Name: "ss"}})
	if err != nil {
		t.Fatal(err)
	}
	a := NewAccs(l)
	a.Grow(1)
	b := rttest.NewBatch(s, []runtime.Value{runtime.FloatValue(1e300)}, []runtime.Value{runtime.FloatValue(-1e300)},
		[]runtime.Value{runtime.FloatValue(1e300)}, []runtime.Value{runtime.FloatValue(-1e300)})
	a.Update(b, []int32{0, 1, 2, 3}, []int32{0, 0, 0, 0})
	out := runtime.NewBatch(runtime.NewSchema(l.Fields()...))
	a.Emit(0, out, 0)
	sp, vp, ss := out.Cols[0].F64[0], out.Cols[1].F64[0], out.Cols[2].F64[0]
	if math.Abs(sp-1e300) > 1e291 || !math.IsInf(vp, 1) || math.Abs(ss-1e300*math.Sqrt(4.0/3)) > 1e291 {
		t.Fatalf("STDDEV_POP %v, VAR_POP %v, STDDEV_SAMP %v; want 1e300, +Inf, %v", sp, vp, ss, 1e300*math.Sqrt(4.0/3))
	}
}
