package expr

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"testing"

	"pgregory.net/rapid"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// edgeInts are operands at the edges of BIGINT and of the kernels' fast
// paths (32-bit operands, powers of two, the square root of MaxInt64).
var edgeInts = []int64{0, 1, -1, 2, -2, 3, -3, math.MaxInt64, math.MinInt64, math.MaxInt64 - 1, math.MinInt64 + 1,
	1 << 31, 1<<31 - 1, -1 << 31, -1<<31 - 1, 1 << 32, -1 << 32, 1 << 62, 1<<62 - 1, -1 << 62, -1<<62 - 1,
	3037000499, -3037000499, 3037000500, -3037000500}

// TestCheckedArithMatchesBig checks the checked integer kernels against
// math/big on random and edge operands: a column whose results all fit
// evaluates to the exact results without an error, and one where some row
// does not fit fails naming the first such row (NULLs and division by zero
// are NULL, never a failure).
func TestCheckedArithMatchesBig(t *testing.T) {
	s := runtime.NewSchema(
		runtime.Field{Name: "a", Type: runtime.BigInt, Nullable: true},
		runtime.Field{Name: "b", Type: runtime.BigInt, Nullable: true},
	)
	ops := []struct {
		name string
		op   Op
	}{{"+", OpAdd}, {"-", OpSub}, {"*", OpMul}, {"/", OpDiv}}
	var failed, passed int
	rapid.Check(t, func(t *rapid.T) {
		o := ops[rapid.IntRange(0, len(ops)-1).Draw(t, "op")]
		shape := rapid.SampledFrom([]string{"a op b", "a op k", "k op a", "-a", "ABS(a)"}).Draw(t, "shape")
		k := rapid.OneOf(rapid.SampledFrom(edgeInts), rapid.Int64Range(-100, 100), rapid.Int64()).Draw(t, "k")
		var e Expr
		switch shape {
		case "a op b":
			e = Binary(o.op, Col("a"), Col("b"))
		case "a op k":
			e = Binary(o.op, Col("a"), Int(k))
		case "k op a":
			e = Binary(o.op, Int(k), Col("a"))
		case "-a":
			e = Neg(Col("a"))
		default:
			e = Call("ABS", Col("a"))
		}
		// Operands near where x op k stops fitting, and near the
		// power-of-two range the kernels check first.
		near := append([]int64(nil), edgeInts...)
		if shape != "a op b" {
			lo, hi := xRange(o.op, k)
			if shape == "k op a" && o.op == OpSub {
				lo, hi = subRange(k)
			}
			near = append(near, lo-1, lo, lo+1, hi-1, hi, hi+1)
			if p, ok := pow2In(lo, hi); ok && p < 63 {
				near = append(near, 1<<p, 1<<p-1, -1<<p, -1<<p-1)
			}
		}
		// Tame columns mostly fit, so that both outcomes are common;
		// narrow ones keep to the edges of the 32-bit fast path.
		n := rapid.IntRange(1, 70).Draw(t, "rows")
		wild := rapid.OneOf(rapid.SampledFrom(near), rapid.Int64Range(-1000, 1000), rapid.Int64())
		operand, one := wild, -1
		switch rapid.IntRange(0, 3).Draw(t, "columns") {
		case 3: // tame but for one row
			one = rapid.SampledFrom([]int{0, n - 1, rapid.IntRange(0, n-1).Draw(t, "row")}).Draw(t, "wild row")
			fallthrough
		case 1:
			operand = rapid.OneOf(rapid.Int64Range(-1000, 1000), rapid.Int64Range(-3037000499, 3037000499))
		case 2:
			operand = rapid.OneOf(rapid.Int64Range(-1000, 1000), rapid.SampledFrom([]int64{1 << 31, 1<<31 - 1,
				-1 << 31, 1 << 32, 1<<32 - 1, 3 << 31, 3037000499}))
		}
		var rows [][]runtime.Value
		for i := range n {
			row := make([]runtime.Value, 2)
			for j := range row {
				if i == one {
					row[j] = runtime.IntValue(wild.Draw(t, "x"))
				} else {
					row[j] = runtime.IntValue(operand.Draw(t, "x"))
				}
				if rapid.IntRange(0, 9).Draw(t, "null") == 0 {
					row[j] = runtime.NullValue(runtime.BigInt)
				}
			}
			rows = append(rows, row)
		}
		// The exact results, and the first row that does not fit.
		exact := func(x, y int64) (*big.Int, bool) { // false: NULL
			bx, by := big.NewInt(x), big.NewInt(y)
			switch shape {
			case "-a":
				return bx.Neg(bx), true
			case "ABS(a)":
				return bx.Abs(bx), true
			case "k op a":
				bx, by = by, bx
			}
			switch o.op {
			case OpAdd:
				return bx.Add(bx, by), true
			case OpSub:
				return bx.Sub(bx, by), true
			case OpMul:
				return bx.Mul(bx, by), true
			}
			if y == 0 && shape != "k op a" || x == 0 && shape == "k op a" {
				return nil, false
			}
			return bx.Quo(bx, by), true
		}
		// The kernel alone (NULL or not) says whether any row overflowed.
		var as, bs []int64
		for _, r := range rows {
			as, bs = append(as, r[0].I), append(bs, r[1].I)
		}
		kernel := o.op != OpDiv || shape == "-a" || shape == "ABS(a)" || shape == "a op k" && k != 0
		if kernel {
			any := false
			for i := range as {
				y := k
				if shape == "a op b" {
					y = bs[i]
				}
				z, ok := exact(as[i], y)
				any = any || ok && !z.IsInt64()
			}
			out := make([]int64, len(as))
			var got bool
			switch {
			case shape == "-a" || shape == "ABS(a)":
				got = checkedNeg(as, out, shape == "ABS(a)")
			case shape == "a op b":
				got = checkedVV(o.op, as, bs, out)
			case shape == "k op a" && o.op == OpSub:
				got = checkedSubCV(k, as, out)
			default:
				got = checkedVC(o.op, as, k, out)
			}
			if got != any {
				t.Fatalf("%s over %v: kernel says overflow %v, want %v", e, as, got, any)
			}
		}
		c, err := Compile(e, s)
		if err != nil {
			t.Fatalf("%s: %v", e, err)
		}
		b := rttest.NewBatch(s, rows...)
		var out runtime.Vector
		c.Eval(b, &out)
		wantRow := -1
		for i, r := range rows {
			y := k
			if shape == "a op b" {
				y = r[1].I
			}
			if r[0].Null || shape == "a op b" && r[1].Null {
				if !out.IsNull(i) {
					t.Fatalf("%s row %d: got %d, want NULL", e, i, out.I64[i])
				}
				continue
			}
			z, ok := exact(r[0].I, y)
			if !ok {
				if !out.IsNull(i) {
					t.Fatalf("%s row %d (%d, %d): got %d, want NULL", e, i, r[0].I, y, out.I64[i])
				}
				continue
			}
			if !z.IsInt64() {
				if wantRow < 0 {
					wantRow = i
				}
				continue
			}
			if out.IsNull(i) || out.I64[i] != z.Int64() {
				t.Fatalf("%s row %d (%d, %d): got %v, want %s", e, i, r[0].I, y, out.Value(i), z)
			}
		}
		err = c.Err()
		if wantRow < 0 {
			if err != nil {
				t.Fatalf("%s: unexpected %v", e, err)
			}
			passed++
			return
		}
		var oe *OverflowError
		if !errors.As(err, &oe) || oe.Row != wantRow {
			t.Fatalf("%s: got %v, want an overflow at row %d (%v)", e, err, wantRow, fmt.Sprint(rows[wantRow]))
		}
		failed++
	})
	if failed == 0 || passed == 0 {
		t.Fatalf("%d columns overflowed and %d did not: want both", failed, passed)
	}
}

// TestCheckedKernelsFindALoneOverflow checks that each checked kernel sees
// one overflowing row wherever it is in columns of every length up to 20
// (the kernels work on the column in parts: halves, words, a tail), and
// reports none when that row is made to fit.
func TestCheckedKernelsFindALoneOverflow(t *testing.T) {
	const max, min = math.MaxInt64, math.MinInt64
	kernels := []struct {
		name   string
		x, y   int64 // the overflowing row's operands
		fit    int64 // an x that fits with y
		kernel func(a, b, out []int64) bool
	}{
		{"a + b", max, 1, max - 1, func(a, b, out []int64) bool { return checkedVV(OpAdd, a, b, out) }},
		{"a - b", min, 1, min + 1, func(a, b, out []int64) bool { return checkedVV(OpSub, a, b, out) }},
		{"a * b", 1 << 32, 1 << 31, 1 << 31, func(a, b, out []int64) bool { return checkedVV(OpMul, a, b, out) }},
		{"a + 5", max - 4, 5, max - 5, func(a, _, out []int64) bool { return checkedVC(OpAdd, a, 5, out) }},
		{"a - 5", min + 4, 5, min + 5, func(a, _, out []int64) bool { return checkedVC(OpSub, a, 5, out) }},
		{"a * 3", max/3 + 1, 3, max / 3, func(a, _, out []int64) bool { return checkedVC(OpMul, a, 3, out) }},
		{"a / -1", min, -1, min + 1, func(a, _, out []int64) bool { return checkedVC(OpDiv, a, -1, out) }},
		{"-2 - a", max, 0, max - 1, func(a, _, out []int64) bool { return checkedSubCV(-2, a, out) }},
		{"-a", min, 0, min + 1, func(a, _, out []int64) bool { return checkedNeg(a, out, false) }},
		{"ABS(a)", min, 0, min + 1, func(a, _, out []int64) bool { return checkedNeg(a, out, true) }},
	}
	for _, k := range kernels {
		for n := 1; n <= 20; n++ {
			for at := range n {
				a, b, out := make([]int64, n), make([]int64, n), make([]int64, n)
				for i := range a {
					a[i], b[i] = int64(i%7-3), int64(i%5-2)
				}
				a[at], b[at] = k.x, k.y
				if !k.kernel(a, b, out) {
					t.Fatalf("%s, %d rows: the overflow of row %d went unseen", k.name, n, at)
				}
				a[at] = k.fit
				if k.kernel(a, b, out) {
					t.Fatalf("%s, %d rows: overflow reported, but row %d fits", k.name, n, at)
				}
			}
		}
	}
}
