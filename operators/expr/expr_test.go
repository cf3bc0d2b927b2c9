package expr

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

var testSchema = runtime.NewSchema(
	runtime.Field{Name: "i", Type: runtime.Int, Nullable: true},
	runtime.Field{Name: "b", Type: runtime.BigInt, Nullable: true},
	runtime.Field{Name: "d", Type: runtime.Double, Nullable: true},
	runtime.Field{Name: "s", Type: runtime.Varchar, Nullable: true},
	runtime.Field{Name: "t", Type: runtime.Timestamp, Nullable: true},
	runtime.Field{Name: "ok", Type: runtime.Boolean, Nullable: true},
	runtime.Field{Name: "n", Type: runtime.BigInt},
)

var (
	null    = runtime.NullValue
	iv      = runtime.IntValue
	fv      = runtime.FloatValue
	sv      = runtime.StringValue
	tv      = runtime.TimeValue
	bv      = runtime.BoolValue
	intv    = func(x int64) runtime.Value { return runtime.Value{Type: runtime.Int, I: x} }
	testRow = [][]runtime.Value{
		{intv(1), iv(10), fv(1.5), sv("abc"), tv(1000), bv(true), iv(0)},
		{null(runtime.Int), iv(-3), null(runtime.Double), sv("Hello"), null(runtime.Timestamp), bv(false), iv(1)},
		{intv(3), null(runtime.BigInt), fv(-2.25), null(runtime.Varchar), tv(60000), null(runtime.Boolean), iv(2)},
		{intv(0), iv(7), fv(0), sv(""), tv(0), bv(true), iv(3)},
	}
	// junk fills the rows a selection vector skips; evaluating it by
	// mistake changes results (or divides by zero).
	junkRow = []runtime.Value{intv(-99), iv(0), fv(math.NaN()), sv("junk"), tv(-1), bv(true), iv(0)}
)

// makeSelBatch stores rows at odd physical positions between junk rows and
// selects them.
func makeSelBatch(s *runtime.Schema, rows [][]runtime.Value, junk []runtime.Value) *runtime.Batch {
	var all [][]runtime.Value
	var sel []int32
	for _, r := range rows {
		all = append(all, junk, r)
		sel = append(sel, int32(len(all)-1))
	}
	b := rttest.NewBatch(s, append(all, junk)...)
	b.Sel = sel
	return b
}

// evalStrings evaluates c over b and prints each result.
func evalStrings(t *testing.T, c *Compiled, b *runtime.Batch) []string {
	t.Helper()
	var out runtime.Vector
	out.Null = []bool{true, true} // stale state must not leak
	c.Eval(b, &out)
	if out.Type != c.Type() || out.Len() != b.Len() {
		t.Fatalf("%s: got %d rows of %s, want %d of %s", c, out.Len(), out.Type, b.Len(), c.Type())
	}
	got := make([]string, b.Len())
	anyNull := false
	for i := range got {
		got[i] = out.Value(i).String()
		anyNull = anyNull || out.IsNull(i)
	}
	if out.Null != nil && !anyNull {
		t.Fatalf("%s: out.Null is set without any NULL", c)
	}
	if anyNull && !c.Nullable() {
		t.Fatalf("%s: NULL result from an expression typed NOT NULL", c)
	}
	return got
}

// check compiles e against testSchema and evaluates it over the test rows,
// plainly and through a selection vector, twice each (scratch reuse), and
// for a BOOLEAN also checks Select against Eval.
func check(t *testing.T, e Expr, typ runtime.Type, want ...string) {
	t.Helper()
	c, err := Compile(e, testSchema)
	if err != nil {
		t.Fatalf("%s: %v", e, err)
	}
	if c.Type() != typ {
		t.Fatalf("%s: type %s, want %s", e, c.Type(), typ)
	}
	for _, b := range []*runtime.Batch{rttest.NewBatch(testSchema, testRow...), makeSelBatch(testSchema, testRow, junkRow)} {
		for range 2 {
			got := evalStrings(t, c, b)
			if !slices.Equal(got, want) {
				t.Fatalf("%s (sel %v): got %q, want %q", e, b.Sel, got, want)
			}
			if typ != runtime.Boolean {
				continue
			}
			var wantSel []int32
			for i, w := range want {
				if w == "TRUE" {
					wantSel = append(wantSel, int32(b.Row(i)))
				}
			}
			gotSel := c.Select(b, []int32{42})
			if !slices.Equal(gotSel, wantSel) && len(gotSel)+len(wantSel) > 0 {
				t.Fatalf("%s (sel %v): Select = %v, want %v", e, b.Sel, gotSel, wantSel)
			}
		}
	}
}

// one evaluates a constant expression.
func one(t *testing.T, e Expr) (string, runtime.Type) {
	t.Helper()
	c, err := Compile(e, testSchema)
	if err != nil {
		t.Fatalf("%s: %v", e, err)
	}
	got := evalStrings(t, c, rttest.NewBatch(testSchema, testRow[:1]...))
	return got[0], c.Type()
}

func TestArithmetic(t *testing.T) {
	i, b, d, tm, n := Col("i"), Col("b"), Col("d"), Col("t"), Col("n")
	check(t, Add(i, Int(1)), runtime.BigInt, "2", "NULL", "4", "1")
	check(t, Add(i, i), runtime.Int, "2", "NULL", "6", "0")
	check(t, Add(i, b), runtime.BigInt, "11", "NULL", "NULL", "7")
	check(t, Sub(Int(100), b), runtime.BigInt, "90", "103", "NULL", "93")
	check(t, Add(Int(100), b), runtime.BigInt, "110", "97", "NULL", "107")
	check(t, Sub(b, n), runtime.BigInt, "10", "-4", "NULL", "4")
	check(t, Mul(b, Float(0.5)), runtime.Double, "5.0", "-1.5", "NULL", "3.5")
	check(t, Mul(Int(2), b), runtime.BigInt, "20", "-6", "NULL", "14")
	check(t, Add(i, d), runtime.Double, "2.5", "NULL", "0.75", "0.0")
	check(t, Sub(d, Int(1)), runtime.Double, "0.5", "NULL", "-3.25", "-1.0")
	check(t, Neg(d), runtime.Double, "-1.5", "NULL", "2.25", "-0.0")
	check(t, Neg(b), runtime.BigInt, "-10", "3", "NULL", "-7")

	// Integer division truncates; division and MOD by zero are NULL.
	check(t, Div(b, Int(2)), runtime.BigInt, "5", "-1", "NULL", "3")
	check(t, Div(b, n), runtime.BigInt, "NULL", "-3", "NULL", "2")
	check(t, Div(Int(21), n), runtime.BigInt, "NULL", "21", "10", "7")
	check(t, Div(b, Int(0)), runtime.BigInt, "NULL", "NULL", "NULL", "NULL")
	check(t, Div(d, Float(0)), runtime.Double, "NULL", "NULL", "NULL", "NULL")
	check(t, Div(d, d), runtime.Double, "1.0", "NULL", "1.0", "NULL")
	check(t, Div(d, Int(2)), runtime.Double, "0.75", "NULL", "-1.125", "0.0")
	check(t, Mod(b, n), runtime.BigInt, "NULL", "0", "NULL", "1")
	check(t, Mod(b, Int(4)), runtime.BigInt, "2", "-3", "NULL", "3")
	check(t, Call("mod", b, Int(4)), runtime.BigInt, "2", "-3", "NULL", "3")
	check(t, Mod(d, Float(1)), runtime.Double, "0.5", "NULL", "-0.25", "0.0")
	check(t, Mod(d, Add(d, Float(1))), runtime.Double, "1.5", "NULL", "-1.0", "0.0")
	check(t, Mod(Add(d, Float(1)), d), runtime.Double, "1.0", "NULL", "-1.25", "NULL")

	// TIMESTAMP arithmetic in milliseconds.
	check(t, Add(tm, Int(500)), runtime.Timestamp,
		"1970-01-01 00:00:01.500", "NULL", "1970-01-01 00:01:00.500", "1970-01-01 00:00:00.500")
	check(t, Add(Int(-1000), tm), runtime.Timestamp,
		"1970-01-01 00:00:00.000", "NULL", "1970-01-01 00:00:59.000", "1969-12-31 23:59:59.000")
	check(t, Sub(tm, Timestamp(500)), runtime.BigInt, "500", "NULL", "59500", "-500")
	check(t, Sub(tm, i), runtime.Timestamp,
		"1970-01-01 00:00:00.999", "NULL", "1970-01-01 00:00:59.997", "1970-01-01 00:00:00.000")

	// NULL constants take the type of the other side.
	check(t, Add(b, Null(runtime.Varchar)), runtime.BigInt, "NULL", "NULL", "NULL", "NULL")
	check(t, Sub(tm, Null(runtime.BigInt)), runtime.Timestamp, "NULL", "NULL", "NULL", "NULL")

	// Overflow is an error (see TestIntegerOverflowFailsTheRow), never a
	// panic; MOD cannot overflow.
	if _, err := Compile(Div(Int(math.MinInt64), Int(-1)), nil); err == nil {
		t.Fatal("MinInt64 / -1 compiled")
	}
	got, _ := one(t, Mod(Int(math.MinInt64), Sub(Int(0), Int(1))))
	if got != "0" {
		t.Fatalf("MinInt64 %% -1 = %s", got)
	}
}

func TestComparison(t *testing.T) {
	i, b, d, s, tm, ok := Col("i"), Col("b"), Col("d"), Col("s"), Col("t"), Col("ok")
	B := runtime.Boolean
	check(t, Gt(b, Int(5)), B, "TRUE", "FALSE", "NULL", "TRUE")
	check(t, Ge(b, Int(7)), B, "TRUE", "FALSE", "NULL", "TRUE")
	check(t, Lt(b, Int(7)), B, "FALSE", "TRUE", "NULL", "FALSE")
	check(t, Le(b, Int(7)), B, "FALSE", "TRUE", "NULL", "TRUE")
	check(t, Eq(b, Int(7)), B, "FALSE", "FALSE", "NULL", "TRUE")
	check(t, Ne(b, Int(7)), B, "TRUE", "TRUE", "NULL", "FALSE")
	check(t, Gt(Int(5), b), B, "FALSE", "TRUE", "NULL", "FALSE")
	check(t, Le(Int(7), b), B, "TRUE", "FALSE", "NULL", "TRUE")
	check(t, Le(i, b), B, "TRUE", "NULL", "NULL", "TRUE")
	check(t, Eq(i, Col("n")), B, "FALSE", "NULL", "FALSE", "FALSE")
	check(t, Ne(b, Col("n")), B, "TRUE", "TRUE", "NULL", "TRUE")
	check(t, Lt(Col("n"), i), B, "TRUE", "NULL", "TRUE", "FALSE")
	check(t, Ge(Col("n"), b), B, "FALSE", "TRUE", "NULL", "FALSE")
	check(t, Gt(Col("n"), b), B, "FALSE", "TRUE", "NULL", "FALSE")
	check(t, Ge(d, i), B, "TRUE", "NULL", "FALSE", "TRUE")
	check(t, Gt(b, Float(6.5)), B, "TRUE", "FALSE", "NULL", "TRUE")
	check(t, Lt(d, Int(0)), B, "FALSE", "NULL", "TRUE", "FALSE")
	check(t, Eq(s, Str("abc")), B, "TRUE", "FALSE", "NULL", "FALSE")
	check(t, Lt(s, Str("b")), B, "TRUE", "TRUE", "NULL", "TRUE")
	check(t, Ge(s, Str("abc")), B, "TRUE", "FALSE", "NULL", "FALSE")
	check(t, Ne(s, Col("s")), B, "FALSE", "FALSE", "NULL", "FALSE")
	check(t, Gt(tm, Timestamp(500)), B, "TRUE", "NULL", "TRUE", "FALSE")
	check(t, Ne(ok, Bool(true)), B, "FALSE", "TRUE", "NULL", "FALSE")
	check(t, Lt(ok, Bool(true)), B, "FALSE", "TRUE", "NULL", "FALSE")
	check(t, Eq(b, Null(runtime.BigInt)), B, "NULL", "NULL", "NULL", "NULL")
	check(t, Eq(Null(runtime.Varchar), b), B, "NULL", "NULL", "NULL", "NULL")
	check(t, Gt(Add(b, Int(1)), Int(5)), B, "TRUE", "FALSE", "NULL", "TRUE")
	check(t, Gt(Add(Col("n"), Int(1)), Int(2)), B, "FALSE", "FALSE", "TRUE", "TRUE")
	check(t, Gt(Float(1), Int(2)), B, "FALSE", "FALSE", "FALSE", "FALSE")
	// A column without NULLs: the select kernels' own loops.
	n := Col("n")
	check(t, Eq(n, Int(2)), B, "FALSE", "FALSE", "TRUE", "FALSE")
	check(t, Ne(n, Int(2)), B, "TRUE", "TRUE", "FALSE", "TRUE")
	check(t, Lt(n, Int(2)), B, "TRUE", "TRUE", "FALSE", "FALSE")
	check(t, Le(n, Int(2)), B, "TRUE", "TRUE", "TRUE", "FALSE")
	check(t, Gt(n, Int(2)), B, "FALSE", "FALSE", "FALSE", "TRUE")
	check(t, Ge(n, Int(2)), B, "FALSE", "FALSE", "TRUE", "TRUE")
	check(t, Gt(n, Float(1.5)), B, "FALSE", "FALSE", "TRUE", "TRUE")
	check(t, Lt(Cast(n, runtime.Varchar), Str("2")), B, "TRUE", "TRUE", "FALSE", "FALSE")
}

// TestThreeValuedLogic checks AND, OR and NOT on every pair of TRUE, FALSE
// and NULL.
func TestThreeValuedLogic(t *testing.T) {
	s := runtime.NewSchema(runtime.Field{Name: "x", Type: runtime.Boolean, Nullable: true}, runtime.Field{Name: "y", Type: runtime.Boolean, Nullable: true})
	vals := []runtime.Value{bv(true), bv(false), null(runtime.Boolean)}
	var rows [][]runtime.Value
	for _, x := range vals {
		for _, y := range vals {
			rows = append(rows, []runtime.Value{x, y})
		}
	}
	f := func(e Expr, want ...string) {
		t.Helper()
		c, err := Compile(e, s)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range []*runtime.Batch{rttest.NewBatch(s, rows...), makeSelBatch(s, rows, []runtime.Value{bv(true), bv(true)})} {
			if got := evalStrings(t, c, b); !slices.Equal(got, want) {
				t.Fatalf("%s: got %q, want %q", e, got, want)
			}
			var sel []int32
			for i, w := range want {
				if w == "TRUE" {
					sel = append(sel, int32(b.Row(i)))
				}
			}
			if got := c.Select(b, nil); !slices.Equal(got, sel) {
				t.Fatalf("%s: Select = %v, want %v", e, got, sel)
			}
		}
	}
	x, y := Col("x"), Col("y")
	//  x:     T  T  T  F  F  F  N  N  N
	//  y:     T  F  N  T  F  N  T  F  N
	f(And(x, y), "TRUE", "FALSE", "NULL", "FALSE", "FALSE", "FALSE", "NULL", "FALSE", "NULL")
	f(Or(x, y), "TRUE", "TRUE", "TRUE", "TRUE", "FALSE", "NULL", "TRUE", "NULL", "NULL")
	f(Not(x), "FALSE", "FALSE", "FALSE", "TRUE", "TRUE", "TRUE", "NULL", "NULL", "NULL")
	f(Not(And(x, y)), "FALSE", "TRUE", "NULL", "TRUE", "TRUE", "TRUE", "NULL", "TRUE", "NULL")
	f(IsNull(y), "FALSE", "FALSE", "TRUE", "FALSE", "FALSE", "TRUE", "FALSE", "FALSE", "TRUE")
	f(IsNotNull(x), "TRUE", "TRUE", "TRUE", "TRUE", "TRUE", "TRUE", "FALSE", "FALSE", "FALSE")
	f(And(x, Bool(true)), "TRUE", "TRUE", "TRUE", "FALSE", "FALSE", "FALSE", "NULL", "NULL", "NULL")
	f(And(Bool(false), y), "FALSE", "FALSE", "FALSE", "FALSE", "FALSE", "FALSE", "FALSE", "FALSE", "FALSE")
	f(Or(x, Bool(true)), "TRUE", "TRUE", "TRUE", "TRUE", "TRUE", "TRUE", "TRUE", "TRUE", "TRUE")
	f(And(x, Null(runtime.Boolean)), "NULL", "NULL", "NULL", "FALSE", "FALSE", "FALSE", "NULL", "NULL", "NULL")
	f(Or(Null(runtime.Boolean), y), "TRUE", "NULL", "NULL", "TRUE", "NULL", "NULL", "TRUE", "NULL", "NULL")
	f(And(x, y, Not(y)), "FALSE", "FALSE", "NULL", "FALSE", "FALSE", "FALSE", "FALSE", "FALSE", "NULL")
	f(And(), "TRUE", "TRUE", "TRUE", "TRUE", "TRUE", "TRUE", "TRUE", "TRUE", "TRUE")
	f(Or(), "FALSE", "FALSE", "FALSE", "FALSE", "FALSE", "FALSE", "FALSE", "FALSE", "FALSE")
	f(Eq(x, y), "TRUE", "FALSE", "NULL", "FALSE", "TRUE", "NULL", "NULL", "NULL", "NULL")
}

func TestLogicOnColumns(t *testing.T) {
	b, ok := Col("b"), Col("ok")
	B := runtime.Boolean
	check(t, And(ok, Gt(b, Int(0))), B, "TRUE", "FALSE", "NULL", "TRUE")
	check(t, And(Gt(b, Int(0)), Lt(b, Int(8))), B, "FALSE", "FALSE", "NULL", "TRUE")
	check(t, And(Gt(b, Int(-5)), Ne(Col("s"), Str("")), Lt(Col("i"), Int(3))), B, "TRUE", "NULL", "FALSE", "FALSE")
	check(t, Or(ok, IsNull(b)), B, "TRUE", "FALSE", "TRUE", "TRUE")
	check(t, Or(Gt(b, Int(8)), Lt(b, Int(0))), B, "TRUE", "TRUE", "NULL", "FALSE")
	check(t, Not(Gt(b, Int(5))), B, "FALSE", "TRUE", "NULL", "FALSE")
	check(t, IsNull(Col("i")), B, "FALSE", "TRUE", "FALSE", "FALSE")
	check(t, IsNotNull(Col("s")), B, "TRUE", "TRUE", "FALSE", "TRUE")
	check(t, IsNull(Col("n")), B, "FALSE", "FALSE", "FALSE", "FALSE")
	check(t, IsNull(Div(b, Col("n"))), B, "TRUE", "FALSE", "TRUE", "FALSE")
	check(t, IsNull(Null(runtime.BigInt)), B, "TRUE", "TRUE", "TRUE", "TRUE")
	check(t, Between(b, Int(0), Int(9)), B, "FALSE", "FALSE", "NULL", "TRUE")
	check(t, Between(Col("d"), Col("i"), Float(2)), B, "TRUE", "NULL", "FALSE", "TRUE")
	check(t, Not(Between(b, Int(0), Int(9))), B, "TRUE", "TRUE", "NULL", "FALSE")
}

func TestCaseCoalesceIf(t *testing.T) {
	b, i, d, s, ok := Col("b"), Col("i"), Col("d"), Col("s"), Col("ok")
	check(t, Case([]When{{Gt(b, Int(5)), Str("big")}, {Lt(b, Int(0)), Str("neg")}}, Str("other")),
		runtime.Varchar, "big", "neg", "other", "big")
	check(t, Case([]When{{Gt(b, Int(0)), Int(1)}, {Gt(b, Int(5)), Int(2)}}, Int(3)),
		runtime.BigInt, "1", "3", "3", "1")
	check(t, Case([]When{{ok, i}}, nil), runtime.Int, "1", "NULL", "NULL", "0")
	check(t, Case([]When{{ok, i}}, d), runtime.Double, "1.0", "NULL", "-2.25", "0.0")
	check(t, Case([]When{{ok, Null(runtime.Varchar)}}, s), runtime.Varchar, "NULL", "Hello", "NULL", "NULL")
	check(t, Case([]When{{Bool(false), s}, {Null(runtime.Boolean), s}}, Str("x")), runtime.Varchar, "x", "x", "x", "x")
	check(t, Case([]When{{Bool(true), b}}, Int(0)), runtime.BigInt, "10", "-3", "NULL", "7")
	check(t, Case([]When{{IsNull(b), Float(0.5)}}, b), runtime.Double, "10.0", "-3.0", "0.5", "7.0")

	check(t, Call("COALESCE", i, b, Int(-1)), runtime.BigInt, "1", "-3", "3", "0")
	check(t, Call("coalesce", s, Str("?")), runtime.Varchar, "abc", "Hello", "?", "")
	check(t, Call("COALESCE", Null(runtime.Double), d), runtime.Double, "1.5", "NULL", "-2.25", "0.0")
	check(t, Call("COALESCE", d, i), runtime.Double, "1.5", "NULL", "-2.25", "0.0")
	check(t, Call("COALESCE", Col("n"), b), runtime.BigInt, "0", "1", "2", "3")
	check(t, Call("COALESCE", Null(runtime.BigInt)), runtime.BigInt, "NULL", "NULL", "NULL", "NULL")

	check(t, Call("IF", ok, Str("y"), Str("n")), runtime.Varchar, "y", "n", "n", "y")
	check(t, Call("IF", Gt(b, Int(0)), b, Neg(b)), runtime.BigInt, "10", "3", "NULL", "7")
}

func TestIn(t *testing.T) {
	b, s, d := Col("b"), Col("s"), Col("d")
	B := runtime.Boolean
	check(t, In(b, Int(10), Int(7)), B, "TRUE", "FALSE", "NULL", "TRUE")
	check(t, In(b, Int(10), Null(runtime.BigInt)), B, "TRUE", "NULL", "NULL", "NULL")
	check(t, In(s, Str("abc"), Str("")), B, "TRUE", "FALSE", "NULL", "TRUE")
	check(t, In(b, Col("n"), Int(10)), B, "TRUE", "FALSE", "NULL", "FALSE")
	check(t, In(b, Col("n"), Null(runtime.BigInt), Int(7)), B, "NULL", "NULL", "NULL", "TRUE")
	check(t, In(d, Int(0), Float(1.5)), B, "TRUE", "NULL", "FALSE", "TRUE")
	check(t, In(Col("i"), Float(3), Int(1)), B, "TRUE", "NULL", "TRUE", "FALSE")
	var many []Expr
	for k := range 20 {
		many = append(many, Int(int64(k)))
	}
	check(t, In(b, many...), B, "TRUE", "FALSE", "NULL", "TRUE")
	check(t, In(Null(runtime.BigInt), Int(1)), B, "NULL", "NULL", "NULL", "NULL")
	check(t, Not(In(b, Int(10), Int(7))), B, "FALSE", "TRUE", "NULL", "FALSE")
}

func TestLikeExpr(t *testing.T) {
	s := Col("s")
	B := runtime.Boolean
	check(t, Like(s, Str("a%")), B, "TRUE", "FALSE", "NULL", "FALSE")
	check(t, Like(s, Str("_ello")), B, "FALSE", "TRUE", "NULL", "FALSE")
	check(t, Like(s, Str("%l%")), B, "FALSE", "TRUE", "NULL", "FALSE")
	check(t, Like(s, Str("%")), B, "TRUE", "TRUE", "NULL", "TRUE")
	check(t, Like(s, Str("")), B, "FALSE", "FALSE", "NULL", "TRUE")
	check(t, Like(s, s), B, "TRUE", "TRUE", "NULL", "TRUE")
	check(t, Like(s, Call("CONCAT", Call("SUBSTRING", s, Int(1), Int(1)), Str("%"))), B, "TRUE", "TRUE", "NULL", "TRUE")
	check(t, Like(s, Null(runtime.Varchar)), B, "NULL", "NULL", "NULL", "NULL")
	check(t, Not(Like(s, Str("%c"))), B, "FALSE", "TRUE", "NULL", "TRUE")
}

func TestCast(t *testing.T) {
	i, b, d, tm, ok := Col("i"), Col("b"), Col("d"), Col("t"), Col("ok")
	check(t, Cast(i, runtime.Double), runtime.Double, "1.0", "NULL", "3.0", "0.0")
	check(t, Cast(i, runtime.BigInt), runtime.BigInt, "1", "NULL", "3", "0")
	check(t, Cast(d, runtime.BigInt), runtime.BigInt, "1", "NULL", "-2", "0")
	check(t, Cast(d, runtime.Int), runtime.Int, "1", "NULL", "-2", "0")
	check(t, Cast(d, runtime.Varchar), runtime.Varchar, "1.5", "NULL", "-2.25", "0.0")
	check(t, Cast(d, runtime.Boolean), runtime.Boolean, "TRUE", "NULL", "TRUE", "FALSE")
	check(t, Cast(d, runtime.Timestamp), runtime.Timestamp, "1970-01-01 00:00:00.001", "NULL", "1969-12-31 23:59:59.998", "1970-01-01 00:00:00.000")
	check(t, Cast(tm, runtime.BigInt), runtime.BigInt, "1000", "NULL", "60000", "0")
	check(t, Cast(tm, runtime.Varchar), runtime.Varchar, "1970-01-01 00:00:01.000", "NULL", "1970-01-01 00:01:00.000", "1970-01-01 00:00:00.000")
	check(t, Cast(tm, runtime.Double), runtime.Double, "1000.0", "NULL", "60000.0", "0.0")
	check(t, Cast(b, runtime.Timestamp), runtime.Timestamp, "1970-01-01 00:00:00.010", "1969-12-31 23:59:59.997", "NULL", "1970-01-01 00:00:00.007")
	check(t, Cast(ok, runtime.Int), runtime.Int, "1", "0", "NULL", "1")
	check(t, Cast(ok, runtime.Double), runtime.Double, "1.0", "0.0", "NULL", "1.0")
	check(t, Cast(ok, runtime.Varchar), runtime.Varchar, "TRUE", "FALSE", "NULL", "TRUE")
	check(t, Cast(b, runtime.Boolean), runtime.Boolean, "TRUE", "TRUE", "NULL", "TRUE")
	check(t, Cast(b, runtime.Varchar), runtime.Varchar, "10", "-3", "NULL", "7")
	check(t, Cast(Col("s"), runtime.BigInt), runtime.BigInt, "NULL", "NULL", "NULL", "NULL")
	check(t, Cast(Cast(b, runtime.Varchar), runtime.BigInt), runtime.BigInt, "10", "-3", "NULL", "7")
	check(t, Cast(Null(runtime.Varchar), runtime.Double), runtime.Double, "NULL", "NULL", "NULL", "NULL")

	f := func(e Expr, typ runtime.Type, want string) {
		t.Helper()
		got, gt := one(t, e)
		if got != want || gt != typ {
			t.Fatalf("%s = %s %s, want %s %s", e, got, gt, want, typ)
		}
	}
	f(Cast(Str(" 42 "), runtime.BigInt), runtime.BigInt, "42")
	f(Cast(Str("-7"), runtime.Int), runtime.Int, "-7")
	f(Cast(Str("3000000000"), runtime.Int), runtime.Int, "NULL")
	f(Cast(Str("3000000000"), runtime.BigInt), runtime.BigInt, "3000000000")
	f(Cast(Str("4.5"), runtime.BigInt), runtime.BigInt, "NULL")
	f(Cast(Str("1e3"), runtime.Double), runtime.Double, "1000.0")
	f(Cast(Str("x"), runtime.Double), runtime.Double, "NULL")
	f(Cast(Str("Yes"), runtime.Boolean), runtime.Boolean, "TRUE")
	f(Cast(Str("false"), runtime.Boolean), runtime.Boolean, "FALSE")
	f(Cast(Str("maybe"), runtime.Boolean), runtime.Boolean, "NULL")
	f(Cast(Str("2024-01-02 03:04:05.678"), runtime.Timestamp), runtime.Timestamp, "2024-01-02 03:04:05.678")
	f(Cast(Str("2024-01-02T03:04:05"), runtime.Timestamp), runtime.Timestamp, "2024-01-02 03:04:05.000")
	f(Cast(Str("2024-01-02T03:04:05.5+01:00"), runtime.Timestamp), runtime.Timestamp, "2024-01-02 02:04:05.500")
	f(Cast(Str("2024-01-02"), runtime.Timestamp), runtime.Timestamp, "2024-01-02 00:00:00.000")
	f(Cast(Str("yesterday"), runtime.Timestamp), runtime.Timestamp, "NULL")
	f(Cast(Float(1e300), runtime.BigInt), runtime.BigInt, "NULL")
	f(Cast(Float(math.NaN()), runtime.BigInt), runtime.BigInt, "NULL")
	f(Cast(Float(-2.9), runtime.BigInt), runtime.BigInt, "-2")
	f(Cast(Float(3e9), runtime.Int), runtime.Int, "NULL")
	f(Cast(Int(1<<40), runtime.Int), runtime.Int, "NULL")
	f(Cast(Int(-5), runtime.Int), runtime.Int, "-5")
	f(Cast(Bool(true), runtime.BigInt), runtime.BigInt, "1")
	f(Cast(Int(0), runtime.Boolean), runtime.Boolean, "FALSE")
	f(Cast(Float(0.1), runtime.Varchar), runtime.Varchar, "0.1")
	f(Cast(Int(5), runtime.Double), runtime.Double, "5.0")
	f(Cast(Timestamp(0), runtime.Varchar), runtime.Varchar, "1970-01-01 00:00:00.000")
	f(Cast(Int(86400000), runtime.Timestamp), runtime.Timestamp, "1970-01-02 00:00:00.000")
	f(Cast(Str("abc"), runtime.Varchar), runtime.Varchar, "abc")
}

func TestFunctions(t *testing.T) {
	s, i, d := Col("s"), Col("i"), Col("d")
	check(t, Call("UPPER", s), runtime.Varchar, "ABC", "HELLO", "NULL", "")
	check(t, Call("lower", s), runtime.Varchar, "abc", "hello", "NULL", "")
	check(t, Call("CONCAT", s, Str("-"), i), runtime.Varchar, "abc-1", "NULL", "NULL", "-0")
	check(t, Call("CONCAT", s, Col("ok"), Col("d")), runtime.Varchar, "abcTRUE1.5", "NULL", "NULL", "TRUE0.0")
	check(t, Call("CHAR_LENGTH", s), runtime.Int, "3", "5", "NULL", "0")
	check(t, Call("SUBSTRING", s, Int(2)), runtime.Varchar, "bc", "ello", "NULL", "")
	check(t, Call("SUBSTRING", s, Col("n"), i), runtime.Varchar, "a", "NULL", "NULL", "")
	check(t, Call("ABS", Col("b")), runtime.BigInt, "10", "3", "NULL", "7")
	check(t, Call("ABS", d), runtime.Double, "1.5", "NULL", "2.25", "0.0")
	check(t, Call("ROUND", d, Int(1)), runtime.Double, "1.5", "NULL", "-2.3", "0.0")
	check(t, Call("ROUND", d), runtime.Double, "2.0", "NULL", "-2.0", "0.0")
	check(t, Call("ROUND", Col("b"), Sub(Int(0), Col("n"))), runtime.BigInt, "10", "0", "NULL", "0")
	check(t, Call("FLOOR", d), runtime.Double, "1.0", "NULL", "-3.0", "0.0")
	check(t, Call("CEIL", d), runtime.Double, "2.0", "NULL", "-2.0", "0.0")
	check(t, Call("CEIL", i), runtime.Int, "1", "NULL", "3", "0")

	f := func(e Expr, typ runtime.Type, want string) {
		t.Helper()
		got, gt := one(t, e)
		if got != want || gt != typ {
			t.Fatalf("%s = %q %s, want %q %s", e, got, gt, want, typ)
		}
	}
	V := runtime.Varchar
	spark := Str("Spark SQL")
	f(Call("SUBSTRING", spark, Int(5)), V, "k SQL")
	f(Call("SUBSTRING", spark, Int(-3)), V, "SQL")
	f(Call("SUBSTRING", spark, Int(5), Int(1)), V, "k")
	f(Call("SUBSTRING", spark, Int(0), Int(2)), V, "Sp")
	f(Call("SUBSTRING", spark, Int(3), Int(100)), V, "ark SQL")
	f(Call("SUBSTRING", spark, Int(9)), V, "L")
	f(Call("SUBSTRING", spark, Int(10)), V, "")
	f(Call("SUBSTRING", spark, Int(100)), V, "")
	f(Call("SUBSTRING", spark, Int(-100)), V, "")
	f(Call("SUBSTRING", spark, Int(-100), Int(2)), V, "")
	f(Call("SUBSTRING", spark, Int(2), Int(0)), V, "")
	f(Call("SUBSTRING", spark, Int(2), Int(-1)), V, "NULL")
	f(Call("SUBSTRING", spark, Int(math.MaxInt64), Int(math.MaxInt64)), V, "")
	f(Call("SUBSTRING", spark, Int(math.MinInt64), Int(math.MaxInt64)), V, "")
	f(Call("SUBSTRING", spark, Int(1), Int(math.MaxInt64)), V, "Spark SQL")
	f(Call("SUBSTRING", Str("héllo wörld"), Int(2), Int(3)), V, "éll")
	f(Call("SUBSTRING", Str("héllo wörld"), Int(-5)), V, "wörld")
	f(Call("SUBSTRING", Str("héllo"), Int(5)), V, "o")
	f(Call("SUBSTRING", Str(""), Int(1)), V, "")
	f(Call("SUBSTRING", Str("abc"), Null(runtime.BigInt)), V, "NULL")
	f(Call("CHAR_LENGTH", Str("héllo")), runtime.Int, "5")
	f(Call("TRIM", Str("  a b  ")), V, "a b")
	f(Call("UPPER", Str("héllo")), V, "HÉLLO")
	f(Call("LOWER", Str("MiXed")), V, "mixed")
	f(Call("CONCAT", Str("a")), V, "a")
	f(Call("CONCAT", Str("a"), Null(runtime.Varchar)), V, "NULL")
	f(Call("CONCAT", Str("t="), Timestamp(0)), V, "t=1970-01-01 00:00:00.000")
	f(Call("ABS", Int(-5)), runtime.BigInt, "5")
	f(Call("ABS", Float(-1.5)), runtime.Double, "1.5")
	f(Call("ROUND", Float(2.675), Int(2)), runtime.Double, "2.68")
	f(Call("ROUND", Float(-2.5)), runtime.Double, "-3.0")
	f(Call("ROUND", Float(2.4)), runtime.Double, "2.0")
	f(Call("ROUND", Float(1234.5678), Int(-2)), runtime.Double, "1200.0")
	f(Call("ROUND", Float(0.05), Int(1)), runtime.Double, "0.1")
	f(Call("ROUND", Float(1e-30), Int(2)), runtime.Double, "0.0")
	f(Call("ROUND", Float(123.456), Int(10)), runtime.Double, "123.456")
	f(Call("ROUND", Float(9.995), Int(2)), runtime.Double, "10.0")
	f(Call("ROUND", Float(5e-324), Int(400)), runtime.Double, "5e-324")
	f(Call("ROUND", Float(1.5e300), Int(-300)), runtime.Double, "2e+300")
	f(Call("ROUND", Float(math.Inf(1)), Int(2)), runtime.Double, "+Inf")
	f(Call("ROUND", Int(1250), Int(-2)), runtime.BigInt, "1300")
	f(Call("ROUND", Int(-1250), Int(-2)), runtime.BigInt, "-1300")
	f(Call("ROUND", Int(1249), Int(-2)), runtime.BigInt, "1200")
	f(Call("ROUND", Int(1249), Int(-30)), runtime.BigInt, "0")
	f(Call("ROUND", Int(1249), Int(3)), runtime.BigInt, "1249")
	f(Call("FLOOR", Float(-1.5)), runtime.Double, "-2.0")
	f(Call("CEIL", Float(1.2)), runtime.Double, "2.0")
	f(Call("FLOOR", Int(3)), runtime.BigInt, "3")
	f(Call("MOD", Int(7), Int(0)), runtime.BigInt, "NULL")
	f(Call("IF", Null(runtime.Boolean), Int(1), Int(2)), runtime.BigInt, "2")
}

func TestCompileErrors(t *testing.T) {
	f := func(s *runtime.Schema, e Expr, want string) {
		t.Helper()
		_, err := Compile(e, s)
		if err == nil {
			t.Fatalf("%s: compiled, want error %q", e, want)
		}
		if err.Error() != want {
			t.Fatalf("%s: error\n%s\nwant\n%s", e, err, want)
		}
		var ce *Error
		if !errors.As(err, &ce) {
			t.Fatalf("%s: error %T is not *Error", e, err)
		}
	}
	named := runtime.NewSchema(runtime.Field{Name: "name", Type: runtime.Varchar}, runtime.Field{Name: "v", Type: runtime.BigInt})
	f(named, Gt(Col("name"), Int(3)), `cannot apply > to VARCHAR and BIGINT in "name > 3"`)
	f(named, Col("foo"), `unknown column "foo" (have: name, v)`)
	f(named, Add(Col("v"), Col("foo")), `unknown column "foo" (have: name, v)`)
	ts := testSchema
	f(ts, ColIndex(99), `column $99 out of range (the input has 7 columns)`)
	f(ts, ColIndex(-1), `column $-1 out of range (the input has 7 columns)`)
	f(ts, Call("no_such_function", Int(1)), `unknown function NO_SUCH_FUNCTION in "NO_SUCH_FUNCTION(1)"`)
	f(ts, Call("date_fromat", Col("t"), Str("yyyy")), `unknown function DATE_FROMAT (did you mean DATE_FORMAT?) in "DATE_FROMAT(t, 'yyyy')"`)
	f(ts, Call("SUBSTRING", Str("a")), `SUBSTRING takes 2 to 3 arguments, got 1 in "SUBSTRING('a')"`)
	f(ts, Call("UPPER"), `UPPER takes 1 argument, got 0 in "UPPER()"`)
	f(ts, Call("IF", Col("ok"), Int(1)), `IF takes 3 arguments, got 2 in "IF(ok, 1)"`)
	f(ts, Call("COALESCE"), `COALESCE takes at least 1 argument, got 0 in "COALESCE()"`)
	f(ts, Call("UPPER", Int(1)), `UPPER's 1st argument is BIGINT, not VARCHAR in "UPPER(1)"`)
	f(ts, Call("SUBSTRING", Col("s"), Col("d")), `SUBSTRING's 2nd argument is DOUBLE, not INT or BIGINT in "SUBSTRING(s, d)"`)
	f(ts, Call("ABS", Col("s")), `ABS's 1st argument is VARCHAR, not numeric in "ABS(s)"`)
	f(ts, Call("ROUND", Col("d"), Float(1)), `ROUND's 2nd argument is DOUBLE, not INT or BIGINT in "ROUND(d, 1.0)"`)
	f(ts, Call("MOD", Col("s"), Int(2)), `cannot apply MOD to VARCHAR and BIGINT in "MOD(s, 2)"`)
	f(ts, Call("IF", Col("b"), Int(1), Int(2)), `IF condition is BIGINT, not BOOLEAN in "IF(b, 1, 2)"`)
	f(ts, Call("IF", Col("ok"), Int(1), Str("x")), `IF branches have incompatible types BIGINT and VARCHAR in "IF(ok, 1, 'x')"`)
	f(ts, Call("COALESCE", Col("s"), Col("b")), `COALESCE arguments have incompatible types VARCHAR and BIGINT in "COALESCE(s, b)"`)
	f(ts, And(Col("b"), Col("ok")), `cannot apply AND to BIGINT and BOOLEAN in "b AND ok"`)
	f(ts, Or(Col("ok"), Col("s")), `cannot apply OR to BOOLEAN and VARCHAR in "ok OR s"`)
	f(ts, Not(Col("b")), `cannot apply NOT to BIGINT in "NOT b"`)
	f(ts, Neg(Col("s")), `cannot apply - to VARCHAR in "-s"`)
	f(ts, Add(Col("t"), Col("t")), `cannot apply + to TIMESTAMP(3) and TIMESTAMP(3) in "t + t"`)
	f(ts, Mul(Col("t"), Int(2)), `cannot apply * to TIMESTAMP(3) and BIGINT in "t * 2"`)
	f(ts, Sub(Int(1), Col("t")), `cannot apply - to BIGINT and TIMESTAMP(3) in "1 - t"`)
	f(ts, Add(Col("ok"), Int(1)), `cannot apply + to BOOLEAN and BIGINT in "ok + 1"`)
	f(ts, Eq(Col("t"), Col("b")), `cannot apply = to TIMESTAMP(3) and BIGINT in "t = b"`)
	f(ts, Lt(Col("ok"), Int(1)), `cannot apply < to BOOLEAN and BIGINT in "ok < 1"`)
	f(ts, Case([]When{{Col("ok"), Str("a")}}, Int(1)), `CASE branches have incompatible types VARCHAR and BIGINT in "CASE WHEN ok THEN 'a' ELSE 1 END"`)
	f(ts, Case([]When{{Col("b"), Str("a")}}, nil), `CASE condition b is BIGINT, not BOOLEAN in "CASE WHEN b THEN 'a' END"`)
	f(ts, Case(nil, Int(1)), `CASE needs at least one WHEN in "CASE ELSE 1 END"`)
	f(ts, Like(Col("b"), Str("x")), `cannot apply LIKE to BIGINT and VARCHAR in "b LIKE 'x'"`)
	f(ts, Cast(Col("ok"), runtime.Timestamp), `cannot cast BOOLEAN to TIMESTAMP(3) in "CAST(ok AS TIMESTAMP(3))"`)
	f(ts, Cast(Col("t"), runtime.Boolean), `cannot cast TIMESTAMP(3) to BOOLEAN in "CAST(t AS BOOLEAN)"`)
	f(ts, Cast(Col("b"), runtime.Invalid), `cannot cast to INVALID in "CAST(b AS INVALID)"`)
	f(ts, In(Col("s"), Int(1)), `cannot apply IN to VARCHAR and BIGINT in "s IN (1)"`)
	f(ts, In(Col("s")), `IN needs at least one value in "s IN ()"`)
	f(ts, Between(Col("s"), Int(1), Int(2)), `cannot apply BETWEEN to VARCHAR and BIGINT in "s BETWEEN 1 AND 2"`)
	f(ts, Lit(runtime.Value{}), `constant of invalid type INVALID in "0"`)
	f(ts, Add(Col("b"), nil), `missing expression`)
	// The failing subexpression is the one quoted.
	f(ts, And(Col("ok"), Gt(Col("s"), Add(Col("b"), Int(1)))), `cannot apply > to VARCHAR and BIGINT in "s > b + 1"`)
}

func TestString(t *testing.T) {
	a, b, c := Col("a"), Col("b"), Col("c")
	f := func(e Expr, want string) {
		t.Helper()
		if got := e.String(); got != want {
			t.Fatalf("got %s, want %s", got, want)
		}
	}
	f(Mul(Add(a, b), c), "(a + b) * c")
	f(Add(Mul(a, b), c), "a * b + c")
	f(Sub(a, Sub(b, c)), "a - (b - c)")
	f(Sub(Sub(a, b), c), "a - b - c")
	f(And(Or(a, b), c), "(a OR b) AND c")
	f(Or(And(a, b), c), "a AND b OR c")
	f(And(a, And(b, c)), "a AND b AND c")
	f(Not(Eq(a, b)), "NOT a = b")
	f(Eq(Not(a), b), "(NOT a) = b")
	f(Eq(Eq(a, b), c), "(a = b) = c")
	f(Neg(Int(-1)), "-(-1)")
	f(Neg(Add(a, b)), "-(a + b)")
	f(Sub(a, Int(-1)), "a - -1")
	f(Str("it's"), "'it''s'")
	f(Col("my col"), "`my col`")
	f(ColIndex(2), "$2")
	f(Float(2), "2.0")
	f(Bool(false), "FALSE")
	f(Null(runtime.BigInt), "NULL")
	f(Timestamp(0), "TIMESTAMP '1970-01-01 00:00:00.000'")
	f(IsNull(Add(a, b)), "a + b IS NULL")
	f(IsNotNull(a), "a IS NOT NULL")
	f(In(a, Int(1), Str("x")), "a IN (1, 'x')")
	f(Between(a, Int(1), Int(2)), "a BETWEEN 1 AND 2")
	f(Like(a, Str("x%")), "a LIKE 'x%'")
	f(Cast(a, runtime.Double), "CAST(a AS DOUBLE)")
	f(Call("substring", a, Int(1)), "SUBSTRING(a, 1)")
	f(Case([]When{{a, Int(1)}}, Int(2)), "CASE WHEN a THEN 1 ELSE 2 END")
	f(Binary(Op(99), a, b), "a Op(99) b")
}

func TestColumnAndConst(t *testing.T) {
	c, err := Compile(Col("D"), testSchema)
	if err != nil {
		t.Fatal(err)
	}
	if col, ok := c.Column(); !ok || col != 2 {
		t.Fatalf("Column() = %d, %v", col, ok)
	}
	if c.Type() != runtime.Double || !c.Nullable() {
		t.Fatalf("type %s nullable %v", c.Type(), c.Nullable())
	}
	c, _ = Compile(ColIndex(6), testSchema)
	if col, ok := c.Column(); !ok || col != 6 || c.Nullable() {
		t.Fatalf("Column() = %d, %v, nullable %v", col, ok, c.Nullable())
	}
	c, _ = Compile(Add(Mul(Int(2), Int(3)), Call("CHAR_LENGTH", Str("ab"))), testSchema)
	if v, ok := c.Const(); !ok || v.String() != "8" || v.Type != runtime.BigInt {
		t.Fatalf("Const() = %v, %v", v, ok)
	}
	if _, ok := c.Column(); ok {
		t.Fatal("a constant is not a column")
	}
	c, _ = Compile(Add(Col("b"), Int(1)), testSchema)
	if _, ok := c.Const(); ok {
		t.Fatal("b + 1 is not constant")
	}
	// Nullability.
	f := func(e Expr, want bool) {
		t.Helper()
		c, err := Compile(e, testSchema)
		if err != nil {
			t.Fatal(err)
		}
		if c.Nullable() != want {
			t.Fatalf("%s: nullable %v, want %v", e, c.Nullable(), want)
		}
	}
	n := Col("n")
	f(Add(n, Int(1)), false)
	f(Div(n, Int(2)), false)
	f(Div(n, n), true)
	f(Div(n, Int(0)), true)
	f(Gt(n, Int(1)), false)
	f(IsNull(Col("b")), false)
	f(Call("COALESCE", Col("b"), n), false)
	f(Case([]When{{Gt(n, Int(1)), n}}, Int(0)), false)
	f(Case([]When{{Gt(n, Int(1)), n}}, nil), true)
	f(Cast(n, runtime.Varchar), false)
	f(Cast(Cast(n, runtime.Varchar), runtime.BigInt), true)
	f(Call("SUBSTRING", Cast(n, runtime.Varchar), Int(1)), false)
	f(Call("SUBSTRING", Cast(n, runtime.Varchar), Int(1), n), true)
}

// TestSelectStages checks a staged AND filter, Select and Eval on an empty
// batch, and Select of a non-BOOLEAN.
func TestSelectStages(t *testing.T) {
	c, err := Compile(And(Gt(Col("n"), Int(0)), Gt(Div(Int(6), Col("n")), Int(2))), testSchema)
	if err != nil {
		t.Fatal(err)
	}
	b := rttest.NewBatch(testSchema, testRow...)
	if got := c.Select(b, nil); !slices.Equal(got, []int32{1, 2}) {
		t.Fatalf("Select = %v", got)
	}
	empty := rttest.NewBatch(testSchema)
	if got := c.Select(empty, make([]int32, 3)); len(got) != 0 {
		t.Fatalf("Select on empty = %v", got)
	}
	var out runtime.Vector
	c.Eval(empty, &out)
	if out.Len() != 0 || out.Null != nil {
		t.Fatalf("Eval on empty: %+v", out)
	}
	c, _ = Compile(Add(Col("b"), Int(1)), testSchema)
	if got := c.Select(b, nil); len(got) != 0 {
		t.Fatalf("Select of a BIGINT = %v", got)
	}
}

// TestNoAllocs checks that evaluation reuses its memory, with and without
// NULLs and selection vectors.
func TestNoAllocs(t *testing.T) {
	rows := make([][]runtime.Value, 512)
	for i := range rows {
		rows[i] = slices.Clone(testRow[i%len(testRow)])
	}
	batches := []*runtime.Batch{
		rttest.NewBatch(testSchema, rows...),
		makeSelBatch(testSchema, rows, junkRow),
		rttest.NewBatch(testSchema, []runtime.Value{intv(1), iv(2), fv(3), sv("x"), tv(4), bv(true), iv(5)}),
	}
	exprs := []Expr{
		Gt(Col("b"), Int(5)),
		Add(Mul(Col("b"), Int(2)), Col("i")),
		Div(Col("d"), Col("d")),
		And(Gt(Col("b"), Int(0)), Or(Col("ok"), IsNull(Col("s")))),
		Case([]When{{Gt(Col("b"), Int(5)), Col("d")}}, Float(0)),
		Call("COALESCE", Col("i"), Col("b")),
		In(Col("b"), Int(1), Int(7), Int(10)),
		Like(Col("s"), Str("%ll%")),
		Call("ROUND", Col("d"), Int(1)),
		Cast(Col("i"), runtime.Double),
		Between(Col("t"), Timestamp(0), Timestamp(5000)),
	}
	for _, e := range exprs {
		c, err := Compile(e, testSchema)
		if err != nil {
			t.Fatal(err)
		}
		var out runtime.Vector
		var sel []int32
		run := func() {
			for _, b := range batches {
				c.Eval(b, &out)
				if c.Type() == runtime.Boolean {
					sel = c.Select(b, sel)
				}
			}
		}
		run()
		if n := testing.AllocsPerRun(20, run); n != 0 {
			t.Fatalf("%s: %v allocations per run", e, n)
		}
	}
}

func TestEvalIntoDifferentTypes(t *testing.T) {
	// out is reused across expressions of other types.
	var out runtime.Vector
	b := rttest.NewBatch(testSchema, testRow...)
	for _, e := range []Expr{Col("s"), Add(Col("b"), Int(1)), Col("d"), Call("UPPER", Col("s"))} {
		c, err := Compile(e, testSchema)
		if err != nil {
			t.Fatal(err)
		}
		c.Eval(b, &out)
		var got []string
		for i := 0; i < out.Len(); i++ {
			got = append(got, out.Value(i).String())
		}
		want := evalStrings(t, c, b)
		if !slices.Equal(got, want) {
			t.Fatalf("%s: %q, want %q", e, got, want)
		}
	}
	// The input is never modified.
	if got := strings.Join(b.Cols[3].Str, ","); got != "abc,Hello,,"+"" {
		t.Fatalf("input changed: %q", got)
	}
}
