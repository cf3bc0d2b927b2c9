package expr

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/sluicehq/sluice/runtime"
)

// OverflowError is the error of an evaluation in which an integer result
// of some row did not fit in 64 bits (BIGINT out of range, as PostgreSQL
// says): +, -, *, / (MIN / -1), unary minus and ABS are checked. Row is
// the physical row of the evaluated batch; Expr the text of the
// subexpression that overflowed.
type OverflowError struct {
	Expr string
	Type runtime.Type
	Row  int
}

func (e *OverflowError) Error() string {
	return fmt.Sprintf("%s out of range in %q", e.Type, e.Expr)
}

// faults collects the rows whose integer result overflowed during one
// evaluation of a Compiled. Every node of a Compiled shares one. Kernels
// check cheaply on the whole column and only look for the rows when the
// check fails, so the common case costs an OR per row.
type faults struct {
	list []fault
	// konst is the message of an overflow found while folding constants,
	// reported as a compile error.
	konst string
}

type fault struct {
	row  int32 // physical row of the top batch
	expr string
	typ  runtime.Type
	fn   string // a user-defined function that failed (err), else "" (an overflow)
	err  error
}

func (f *faults) reset() { f.list = f.list[:0] }

// keep drops the faults recorded since mark whose rows fail taken; i is the
// row's place among the present rows of b.
func (f *faults) keep(mark int, b *runtime.Batch, taken func(i int) bool) {
	if len(f.list) == mark {
		return
	}
	kept := f.list[:mark]
	for _, ft := range f.list[mark:] {
		for i := 0; i < b.Len(); i++ {
			if b.Row(i) == int(ft.row) {
				if taken(i) {
					kept = append(kept, ft)
				}
				break
			}
		}
	}
	f.list = kept
}

// err returns the first fault as an error, or nil.
func (f *faults) err() error {
	if len(f.list) == 0 {
		return nil
	}
	ft := f.list[0]
	if ft.err != nil {
		return &FuncError{Func: ft.fn, Expr: ft.expr, Row: int(ft.row), Err: ft.err}
	}
	return &OverflowError{Expr: ft.expr, Type: ft.typ, Row: int(ft.row)}
}

// record notes the rows of out (the present rows of b) that bad says
// overflowed, except NULL results.
func (f *faults) record(b *runtime.Batch, out *runtime.Vector, n int, text string, bad func(i int) bool) {
	for i := 0; i < n; i++ {
		if (out.Null == nil || !out.Null[i]) && bad(i) {
			f.list = append(f.list, fault{row: int32(b.Row(i)), expr: text, typ: out.Type})
		}
	}
}

func addOverflows(x, y int64) bool { s := x + y; return (s^x)&(s^y) < 0 }
func subOverflows(x, y int64) bool { s := x - y; return (x^y)&(x^s) < 0 }

// mulHiCheck is zero when x*y fits in 64 bits.
func mulHiCheck(x, y int64) int64 {
	hi, lo := bits.Mul64(uint64(x), uint64(y))
	shi := int64(hi) - x>>63&y - y>>63&x
	return shi ^ int64(lo)>>63
}

func mulOverflows(x, y int64) bool { return mulHiCheck(x, y) != 0 }
func divOverflows(x, y int64) bool { return x == math.MinInt64 && y == -1 }

func opOverflows(op Op) func(x, y int64) bool {
	switch op {
	case OpAdd:
		return addOverflows
	case OpSub:
		return subOverflows
	case OpMul:
		return mulOverflows
	case OpDiv:
		return divOverflows
	}
	return func(int64, int64) bool { return false } // % never overflows in Go
}

// The checked kernels below compute a whole column and report whether some
// row overflowed; the rows are looked up only then (faults.record). out
// must not overlap an operand: the exact checks and the error path read the
// operands again after out is written (the nodes of a Compiled evaluate
// into their own vectors, so they never do).
//
// By a constant k, x op k fits for x in a range [lo, hi] known before the
// loop (xRange). The loop does not compare every x with it: it ORs
// uint64(x)+2^p over the column, which stays below 2^(p+1) exactly when
// every x is in [-2^p, 2^p), the largest such power-of-two range inside
// [lo, hi] (two cheap operations per row, no compare, no branch). Only
// when some x is outside it (at least half the nearer bound of [lo, hi],
// or past it) does a second pass compare each x with [lo, hi].

// xRange returns the range of x for which x op k does not overflow, for +,
// -, * and /.
func xRange(op Op, k int64) (lo, hi int64) {
	lo, hi = math.MinInt64, math.MaxInt64
	switch op {
	case OpAdd:
		if k >= 0 {
			hi -= k
		} else {
			lo -= k
		}
	case OpSub:
		if k > 0 {
			lo += k
		} else {
			hi += k
		}
	case OpMul:
		switch {
		case k > 0:
			lo, hi = math.MinInt64/k, math.MaxInt64/k
		case k == -1:
			lo = math.MinInt64 + 1
		case k < 0:
			lo, hi = math.MaxInt64/k, math.MinInt64/k
		}
	case OpDiv:
		if k == -1 {
			lo = math.MinInt64 + 1
		}
	}
	return lo, hi
}

// subRange returns the range of x for which k - x does not overflow.
func subRange(k int64) (lo, hi int64) {
	if k >= 0 {
		return k - math.MaxInt64, math.MaxInt64
	}
	return math.MinInt64, k - math.MinInt64
}

// pow2In returns the largest p with [-2^p, 2^p) inside [lo, hi], and false
// when there is none (lo > -1 or hi < 0).
func pow2In(lo, hi int64) (uint, bool) {
	if lo >= 0 || hi < 0 {
		return 0, false
	}
	m := min(uint64(-lo), uint64(hi)+1) // -MinInt64 and MaxInt64+1 are 2^63 as uint64
	return uint(bits.Len64(m) - 1), true
}

// inRange reports whether every x of a is in [lo, hi].
func inRange(a []int64, lo, hi int64) bool {
	span := uint64(hi - lo)
	var m uint64
	for _, x := range a {
		m = max(m, uint64(x-lo))
	}
	return m <= span
}

// checkedVV computes out = a op b for +, - and *, reporting whether some
// row overflowed.
func checkedVV(op Op, a, b, out []int64) bool {
	b, out = b[:len(a)], out[:len(a)]
	switch op {
	case OpAdd:
		return addVV(a, b, out) < 0
	case OpSub:
		var acc int64
		for i, x := range a {
			y := b[i]
			s := x - y
			out[i] = s
			acc |= (x ^ y) & (x ^ s)
		}
		return acc < 0
	case OpMul:
		// Both operands in [-2^31, 2^31) cannot overflow: an OR per row.
		var acc uint64
		for i, x := range a {
			y := b[i]
			out[i] = x * y
			acc |= (uint64(x) + 1<<31) | (uint64(y) + 1<<31)
		}
		if acc < 1<<32 {
			return false
		}
		var hi int64
		for i, x := range a {
			hi |= mulHiCheck(x, b[i])
		}
		return hi != 0
	}
	return false
}

// addVV computes out = a + b (same lengths) and returns the OR over the
// rows of (s^x)&(s^y), negative when some row overflowed. It walks the two
// halves of the column together: twice the independent work per
// iteration, which the compiler does not unroll itself.
//
//go:noinline
func addVV(a, b, out []int64) int64 {
	h := len(a) / 2
	a0, a1, b0, b1, o0, o1 := a[:h], a[h:2*h], b[:h], b[h:2*h], out[:h], out[h:2*h]
	a1, b0, b1, o0, o1 = a1[:len(a0)], b0[:len(a0)], b1[:len(a0)], o0[:len(a0)], o1[:len(a0)]
	var acc int64
	for i, x := range a0 {
		y, x1, y1 := b0[i], a1[i], b1[i]
		s, s1 := x+y, x1+y1
		o0[i], o1[i] = s, s1
		acc |= (s^x)&(s^y) | (s1^x1)&(s1^y1)
	}
	if n := len(a); n%2 == 1 {
		x, y := a[n-1], b[n-1]
		s := x + y
		out[n-1] = s
		acc |= (s ^ x) & (s ^ y)
	}
	return acc
}

// checkedVC computes out = a op k for +, -, * and / (k is not zero).
func checkedVC(op Op, a []int64, k int64, out []int64) bool {
	lo, hi := xRange(op, k)
	p, ok := pow2In(lo, hi)
	c := uint64(1) << p
	var acc uint64
	switch op {
	case OpAdd:
		acc = addVC(a, k, out, c)
	case OpSub:
		acc = addVC(a, -k, out, c) // x - MinInt64 wraps as x + MinInt64 does
	case OpMul:
		acc = mulVC(a, k, out, c)
	case OpDiv:
		out = out[:len(a)]
		for i, x := range a {
			out[i] = x / k
		}
		return k == -1 && !inRange(a, lo, hi) // MinInt64 / -1
	}
	return (!ok || acc>>p>>1 != 0) && !inRange(a, lo, hi)
}

// The loops are functions of their own, not inlined, so that the compiler
// keeps their few values in registers (inlined into checkedVC, x and the
// length are spilled). Each returns the OR of uint64(x)+c over a.

//go:noinline
func addVC(a []int64, k int64, out []int64, c uint64) uint64 {
	out = out[:len(a)]
	var acc uint64
	for i, x := range a {
		out[i] = x + k
		acc |= uint64(x) + c
	}
	return acc
}

//go:noinline
func mulVC(a []int64, k int64, out []int64, c uint64) uint64 {
	out = out[:len(a)]
	var acc uint64
	for i, x := range a {
		out[i] = x * k
		acc |= uint64(x) + c
	}
	return acc
}

// checkedSubCV computes out = k - a.
func checkedSubCV(k int64, a, out []int64) bool {
	lo, hi := subRange(k)
	p, ok := pow2In(lo, hi)
	c := uint64(1) << p
	out = out[:len(a)]
	var acc uint64
	for i, x := range a {
		out[i] = k - x
		acc |= uint64(x) + c
	}
	return (!ok || acc>>p>>1 != 0) && !inRange(a, lo, hi)
}

// checkedNeg computes out = -a (abs: |a|), reporting whether some row was
// the one value without a negation, MinInt64 (the only x whose -x, and
// whose |x|, is negative together with x).
func checkedNeg(a, out []int64, abs bool) bool {
	out = out[:len(a)]
	var acc int64
	if abs {
		for i, x := range a {
			s := x >> 63
			r := (x ^ s) - s
			out[i] = r
			acc |= r
		}
	} else {
		for i, x := range a {
			r := -x
			out[i] = r
			acc |= x & r
		}
	}
	return acc < 0
}

func (ft fault) error() string {
	if ft.err != nil {
		return (&FuncError{Func: ft.fn, Expr: ft.expr, Row: int(ft.row), Err: ft.err}).Error()
	}
	return (&OverflowError{Expr: ft.expr, Type: ft.typ, Row: int(ft.row)}).Error()
}
