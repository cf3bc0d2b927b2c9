package expr

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/runtime"
)

// TestIntegerOverflowFailsTheRow checks that BIGINT arithmetic whose result
// does not fit in 64 bits is an error naming the expression and the row,
// never a wrapped value, and that rows which do not compute the overflowing
// part (NULL inputs, CASE/IF/COALESCE arms not taken) do not fail.
func TestIntegerOverflowFailsTheRow(t *testing.T) {
	s := runtime.NewSchema(
		runtime.Field{Name: "a", Type: runtime.BigInt, Nullable: true},
		runtime.Field{Name: "b", Type: runtime.BigInt, Nullable: true},
	)
	const max, min = math.MaxInt64, math.MinInt64
	iv := runtime.IntValue
	null := runtime.NullValue(runtime.BigInt)
	rows := [][]runtime.Value{{iv(1), iv(2)}, {iv(max), iv(max)}, {null, iv(max)}, {iv(min), iv(-1)}}
	f := func(e Expr, rows [][]runtime.Value, wantRow int, wantExpr string) {
		t.Helper()
		c, err := Compile(e, s)
		if err != nil {
			t.Fatalf("%s: %v", e, err)
		}
		b := makeSelBatch(s, rows, []runtime.Value{iv(max), iv(max)})
		var out runtime.Vector
		for _, run := range []string{"Eval", "Select"} {
			if run == "Eval" {
				c.Eval(b, &out)
			} else if c.Type() == runtime.Boolean {
				c.Select(b, nil)
			} else {
				continue
			}
			err = c.Err()
			if wantRow < 0 {
				if err != nil {
					t.Fatalf("%s %s: unexpected error %v", run, e, err)
				}
				continue
			}
			var oe *OverflowError
			if !errors.As(err, &oe) {
				t.Fatalf("%s %s: got %v, want an overflow", run, e, err)
			}
			if oe.Row != b.Row(wantRow) || oe.Expr != wantExpr || !strings.Contains(err.Error(), "BIGINT out of range") {
				t.Fatalf("%s %s: got %q at physical row %d, want %q at row %d", run, e, err, oe.Row, wantExpr, b.Row(wantRow))
			}
		}
	}
	a, bb := Col("a"), Col("b")
	f(Add(a, bb), rows, 1, "a + b")
	f(Add(a, Int(1)), rows[1:2], 0, "a + 1")
	f(Add(Int(1), a), rows[1:2], 0, "1 + a")
	f(Sub(Int(-2), a), rows[1:2], 0, "-2 - a")
	f(Add(a, bb), rows[3:], 0, "a + b")
	f(Sub(a, Neg(bb)), rows[1:2], 0, "a - -b")
	f(Mul(a, bb), rows, 1, "a * b")
	f(Mul(a, Int(2)), rows[1:2], 0, "a * 2")
	f(Mul(a, bb), rows[3:], 0, "a * b") // MIN * -1
	f(Mul(a, Int(-1)), rows[3:], 0, "a * -1")
	f(Div(a, bb), rows[3:], 0, "a / b")
	f(Div(a, Int(-1)), rows[3:], 0, "a / -1")
	f(Neg(a), rows[3:], 0, "-a")
	f(Call("ABS", a), rows[3:], 0, "ABS(a)")
	f(Gt(Add(a, bb), Int(0)), rows, 1, "a + b")
	f(Call("ROUND", a, Int(-1)), rows[1:2], 0, "ROUND(a, -1)")
	f(Call("ROUND", a, Int(-19)), rows[1:2], 0, "ROUND(a, -19)")
	f(Call("ROUND", a, Int(-1)), rows[3:], 0, "ROUND(a, -1)")
	f(Call("ROUND", bb, Int(-2)), rows[:1], -1, "")
	f(Call("ROUND", a, Int(-20)), rows[1:2], -1, "")
	// Results that fit, and NULL rows, do not fail.
	f(Add(a, bb), [][]runtime.Value{rows[0], rows[2]}, -1, "")
	f(Mul(Int(3037000499), Int(3037000499)), rows, -1, "")
	f(Sub(a, Int(1)), rows[3:], 0, "a - 1")
	f(Add(a, Int(-1)), rows[1:2], -1, "")
	// Arms not taken do not fail; the arm taken does.
	f(Case([]When{{Lt(a, Int(100)), Add(a, bb)}}, Int(0)), rows[:3], -1, "")
	f(Case([]When{{Gt(a, Int(100)), Int(0)}}, Add(a, bb)), rows[:3], -1, "")
	f(Case([]When{{Lt(a, Int(100)), Int(0)}, {Gt(a, Int(0)), Add(a, bb)}}, Int(1)), rows, 1, "a + b")
	f(Call("IF", Lt(a, Int(100)), Add(a, bb), Int(0)), rows[:3], -1, "")
	f(Call("COALESCE", a, Add(bb, bb)), rows[:2], -1, "")
	f(Call("COALESCE", a, Add(bb, bb)), rows[2:3], 0, "b + b")
	// A constant that overflows is a compile error.
	if _, err := Compile(Add(Int(max), Int(1)), s); err == nil || !strings.Contains(err.Error(), "BIGINT out of range") {
		t.Fatalf("constant overflow compiled: %v", err)
	}
}
