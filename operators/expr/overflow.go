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

// checkedVV computes out = a op b for +, - and *, reporting whether some
// row may have overflowed.
func checkedVV(op Op, a, b, out []int64) bool {
	b, out = b[:len(a)], out[:len(a)]
	var acc int64
	switch op {
	// Operands are read once into locals: out may alias a or b.
	case OpAdd:
		for i, x := range a {
			y := b[i]
			s := x + y
			out[i] = s
			acc |= (s ^ x) & (s ^ y)
		}
	case OpSub:
		for i, x := range a {
			y := b[i]
			s := x - y
			out[i] = s
			acc |= (x ^ y) & (x ^ s)
		}
		return acc < 0
	case OpMul:
		for i, x := range a {
			y := b[i]
			out[i] = x * y
			acc |= mulHiCheck(x, y)
		}
		return acc != 0
	}
	return acc < 0
}

// checkedVC computes out = a op k for +, -, * and / (k is not zero).
func checkedVC(op Op, a []int64, k int64, out []int64) bool {
	out = out[:len(a)]
	var acc int64
	switch op {
	case OpAdd:
		for i, x := range a {
			s := x + k
			out[i] = s
			acc |= (s ^ x) & (s ^ k)
		}
	case OpSub:
		for i, x := range a {
			s := x - k
			out[i] = s
			acc |= (x ^ k) & (x ^ s)
		}
	case OpMul:
		// x * k fits when x is in [lo, hi]: one unsigned compare per row.
		lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
		switch {
		case k > 0:
			lo, hi = math.MinInt64/k, math.MaxInt64/k
		case k == -1:
			lo = math.MinInt64 + 1
		case k < 0:
			lo, hi = math.MaxInt64/k, math.MinInt64/k
		}
		span := uint64(hi - lo)
		var borrow uint64
		for i, x := range a {
			out[i] = x * k
			_, b := bits.Sub64(span, uint64(x-lo), 0) // 1 when x is out of [lo, hi]
			borrow |= b
		}
		return borrow != 0
	case OpDiv:
		for i, x := range a {
			out[i] = x / k
		}
		if k != -1 {
			return false
		}
		for _, x := range a {
			if x == math.MinInt64 {
				return true
			}
		}
	}
	return acc < 0
}

// checkedSubCV computes out = k - a.
func checkedSubCV(k int64, a, out []int64) bool {
	out = out[:len(a)]
	var acc int64
	for i, x := range a {
		s := k - x
		out[i] = s
		acc |= (k ^ x) & (k ^ s)
	}
	return acc < 0
}

// checkedNeg computes out = -a (abs: |a|), reporting whether some row was
// the one value without a negation, MinInt64.
func checkedNeg(a, out []int64, abs bool) bool {
	out = out[:len(a)]
	bad := false
	for i, x := range a {
		if !abs || x < 0 {
			x = -x
		}
		out[i] = x
		bad = bad || x == math.MinInt64
	}
	return bad
}

func (ft fault) error() string {
	return (&OverflowError{Expr: ft.expr, Type: ft.typ, Row: int(ft.row)}).Error()
}
