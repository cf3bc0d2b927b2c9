package agg

import (
	"math/bits"

	"github.com/sluicehq/sluice/runtime"
)

// DECIMAL inputs. SUM and AVG of a DECIMAL(p, s) are exact: each keeps the
// int64 sum of the unscaled values (and AVG a count), checked for int64
// overflow as BIGINT sums are, and retracts exactly.
//
//	SUM(DECIMAL(p, s))  DECIMAL(18, s)  (Flink: DECIMAL(38, s)); a sum of more
//	                    than 18 digits is an *OverflowError from Check
//	AVG(DECIMAL(p, s))  DECIMAL(18, max(6, s)) as Flink's DECIMAL(38, max(6, s)),
//	                    the scale lowered (not below s) so that p - s integer
//	                    digits fit; rounded half away from zero; never overflows
//	MIN, MAX, FIRST_VALUE, LAST_VALUE  the type of x; COUNT  BIGINT
//
// The variances do not accept DECIMAL (CAST it to DOUBLE).

// SumType is the result type of SUM over a DECIMAL type t.
func SumType(t runtime.Type) runtime.Type {
	return runtime.DecimalType(runtime.MaxDecimalPrecision, t.Scale())
}

// AvgType is the result type of AVG over a numeric or DECIMAL type t:
// DECIMAL(18, max(6, s)) for DECIMAL(p, s) (see above), else t itself
// (INT, BIGINT, DOUBLE), as Flink.
func AvgType(t runtime.Type) runtime.Type {
	if !t.IsDecimal() {
		return t
	}
	p, s := t.Precision(), t.Scale()
	sc := max(s, min(max(6, s), runtime.MaxDecimalPrecision-(p-s)))
	return runtime.DecimalType(runtime.MaxDecimalPrecision, sc)
}

// decimalAvg is sum / n (n > 0) at up more digits of scale, rounded half
// away from zero. The mean of values of p-s integer digits has no more, so
// the result fits AvgType.
func decimalAvg(sum, n int64, up int) int64 {
	neg := sum < 0
	u := uint64(sum)
	if neg {
		u = -u
	}
	hi, lo := bits.Mul64(u, uint64(runtime.Pow10(up)))
	un := uint64(n)
	if hi >= un { // cannot happen for a mean; keep Div64 from panicking
		return 0
	}
	q, r := bits.Div64(hi, lo, un)
	if r >= un-r {
		q++
	}
	if neg {
		return -int64(q)
	}
	return int64(q)
}

// checkDecimalSums returns an *OverflowError when a DECIMAL SUM of group
// g has more than 18 digits.
func (a *Accs) checkDecimalSums(g int32) error {
	l := a.l
	gi := a.ints.at(g)
	for ci := range l.aggs {
		c := &l.aggs[ci]
		if (c.Func == Sum || c.Func == SumDistinct) && c.in.IsDecimal() && c.i >= 0 &&
			!runtime.DecimalFits(gi[c.i], runtime.MaxDecimalPrecision) {
			return &OverflowError{Agg: c.Name, Type: c.out.Type}
		}
	}
	return nil
}

// IntAvg is the AVG of integers whose 128-bit sum is hi:lo (two's
// complement) over n > 0 values: the quotient truncated toward zero, as
// Java's long division. The mean of int64 values fits an int64.
func IntAvg(hi int64, lo uint64, n int64) int64 {
	neg := hi < 0
	uh, ul := uint64(hi), lo
	if neg { // negate the 128-bit value
		var b uint64
		ul, b = bits.Sub64(0, ul, 0)
		uh, _ = bits.Sub64(0, uh, b)
	}
	un := uint64(n)
	if uh >= un { // not a mean of int64 values; keep Div64 from panicking
		return 0
	}
	q, _ := bits.Div64(uh, ul, un)
	if neg {
		return -int64(q)
	}
	return int64(q)
}

// DecimalAvg is the AVG, of type AvgType(in), of n > 0 values of the
// DECIMAL type in whose unscaled sum is sum.
func DecimalAvg(sum, n int64, in runtime.Type) int64 {
	return decimalAvg(sum, n, AvgType(in).Scale()-in.Scale())
}
