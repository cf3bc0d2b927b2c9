package expr

import (
	"errors"
	"math/big"
	"testing"

	"pgregory.net/rapid"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

func mustDec(t helperT, text string) Expr {
	t.Helper()
	e, err := DecimalLit(text)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

type helperT interface {
	Helper()
	Fatal(...any)
}

func evalOne(t helperT, e Expr, s *runtime.Schema, row ...runtime.Value) (runtime.Value, runtime.Type, error) {
	t.Helper()
	if s == nil {
		s, row = runtime.NewSchema(runtime.Field{Name: "unused", Type: runtime.BigInt}), []runtime.Value{runtime.IntValue(0)}
	}
	c, err := Compile(e, s)
	if err != nil {
		return runtime.Value{}, 0, err
	}
	var out runtime.Vector
	c.Eval(rttest.NewBatch(s, row), &out)
	if err := c.Err(); err != nil {
		return runtime.Value{}, c.Type(), err
	}
	return out.Value(0), c.Type(), nil
}

// TestDecimalLiteralTypes checks that literals are typed by their digits,
// as Flink types them.
func TestDecimalLiteralTypes(t *testing.T) {
	for _, c := range []struct {
		text string
		typ  runtime.Type
		out  string
	}{
		{"0.908", runtime.DecimalType(4, 3), "0.908"},
		{"12.50", runtime.DecimalType(4, 2), "12.50"},
		{"-0.05", runtime.DecimalType(3, 2), "-0.05"},
		{"5.", runtime.DecimalType(1, 0), "5"},
		{"123456789012345.678", runtime.DecimalType(18, 3), "123456789012345.678"},
	} {
		v, typ, err := evalOne(t, mustDec(t, c.text), nil)
		if err != nil || typ != c.typ || v.String() != c.out {
			t.Errorf("%s: %v %s %v, want %s %s", c.text, v, typ, err, c.out, c.typ)
		}
	}
	for _, bad := range []string{"1e5", "1234567890123456789.5", "abc", ""} {
		if _, err := DecimalLit(bad); err == nil {
			t.Errorf("DecimalLit(%q) succeeded", bad)
		}
	}
}

// TestDecimalQ1Product checks Nexmark q1's 0.908 * price: exact digits,
// Flink's DECIMAL(23, 3) clamped to 18.
func TestDecimalQ1Product(t *testing.T) {
	s := runtime.NewSchema(runtime.Field{Name: "price", Type: runtime.BigInt})
	for price, want := range map[int64]string{423000: "384084.000", 423004: "384087.632", 1: "0.908", -7: "-6.356"} {
		v, typ, err := evalOne(t, Mul(mustDec(t, "0.908"), Col("price")), s, runtime.IntValue(price))
		if err != nil || v.String() != want || typ != runtime.DecimalType(18, 3) {
			t.Errorf("0.908 * %d = %v %s %v, want %s DECIMAL(18, 3)", price, v, typ, err, want)
		}
	}
}

// TestDecimalResultTypes checks the typing rules against Flink's.
func TestDecimalResultTypes(t *testing.T) {
	d := runtime.DecimalType
	for _, c := range []struct {
		got, want runtime.Type
	}{
		{DecimalAddType(10, 2, 5, 3), d(12, 3)},
		{DecimalMulType(10, 2, 5, 3), d(15, 5)},
		{DecimalMulType(19, 0, 4, 3), d(18, 3)},
		{DecimalDivType(10, 2, 5, 3), d(18, 7)},
		{DecimalDivType(4, 2, 3, 1), d(9, 6)},
		{DecimalDivType(18, 2, 18, 2), d(18, 6)},
		{DecimalModType(10, 2, 5, 3), d(5, 3)},
	} {
		if c.got != c.want {
			t.Errorf("got %s, want %s", c.got, c.want)
		}
	}
}

// ratOf is the exact value of a decimal.
func ratOf(x int64, s int) *big.Rat {
	return new(big.Rat).SetFrac(big.NewInt(x), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(s)), nil))
}

// roundRat rounds r to scale s half away from zero; ok is false when it
// has more than p digits.
func roundRat(r *big.Rat, p, s int) (int64, bool) {
	m := new(big.Rat).Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(s)), nil)))
	num, den := new(big.Int).Set(m.Num()), m.Denom()
	neg := num.Sign() < 0
	num.Abs(num)
	q, rem := new(big.Int).QuoRem(num, den, new(big.Int))
	if rem.Lsh(rem, 1).Cmp(den) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	if neg {
		q.Neg(q)
	}
	if !q.IsInt64() || !runtime.DecimalFits(q.Int64(), p) {
		return 0, false
	}
	return q.Int64(), true
}

func drawDecimal(t *rapid.T, name string) (runtime.Type, int64) {
	p := rapid.IntRange(1, 18).Draw(t, name+"p")
	s := rapid.IntRange(0, p).Draw(t, name+"s")
	lim := runtime.Pow10(p) - 1
	x := rapid.OneOf(rapid.Int64Range(-lim, lim), rapid.SampledFrom([]int64{0, 1, -1, lim, -lim, 5, -5})).Draw(t, name+"x")
	return runtime.DecimalType(p, s), x
}

// TestDecimalArithMatchesBig checks + - * / % and comparisons of random
// DECIMALs (and BIGINTs) against exact math/big arithmetic: exact results
// rounded half away from zero to the result scale, an overflow error when
// the result has more digits than its type, never a wrapped value.
func TestDecimalArithMatchesBig(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ta, a := drawDecimal(t, "a")
		tb, b := drawDecimal(t, "b")
		if rapid.Bool().Draw(t, "bigint") {
			tb, b = runtime.BigInt, rapid.Int64Range(-1e12, 1e12).Draw(t, "bi")
		}
		s := runtime.NewSchema(runtime.Field{Name: "a", Type: ta}, runtime.Field{Name: "b", Type: tb})
		row := []runtime.Value{{Type: ta, I: a}, {Type: tb, I: b}}
		ra, rb := ratOf(a, ta.Scale()), ratOf(b, tb.Scale())
		op := rapid.SampledFrom([]Op{OpAdd, OpSub, OpMul, OpDiv, OpMod, OpLt, OpEq, OpGe}).Draw(t, "op")
		var e Expr = Binary(op, Col("a"), Col("b"))
		if rapid.Bool().Draw(t, "const") {
			e = Binary(op, Col("a"), Lit(row[1]))
		}
		v, typ, err := evalOne(t, e, s, row...)
		if op.comparison() {
			if err != nil {
				t.Fatal(err)
			}
			c := ra.Cmp(rb)
			if v.I != b2i(cmpHolds(op, c)) {
				t.Fatalf("%s: got %v for %s vs %s", e, v, ra.RatString(), rb.RatString())
			}
			return
		}
		if (op == OpDiv || op == OpMod) && b == 0 {
			if err != nil || !v.Null {
				t.Fatalf("%s by zero: %v %v", e, v, err)
			}
			return
		}
		var exact big.Rat
		switch op {
		case OpAdd:
			exact.Add(ra, rb)
		case OpSub:
			exact.Sub(ra, rb)
		case OpMul:
			exact.Mul(ra, rb)
		case OpDiv:
			exact.Quo(ra, rb)
		case OpMod: // truncated division's remainder
			q := new(big.Rat).Quo(ra, rb)
			qi := new(big.Int).Quo(q.Num(), q.Denom())
			exact.Sub(ra, new(big.Rat).Mul(rb, new(big.Rat).SetInt(qi)))
		}
		want, ok := roundRat(&exact, typ.Precision(), typ.Scale())
		if !ok {
			var oe *OverflowError
			if !errors.As(err, &oe) || oe.Type != typ {
				t.Fatalf("%s = %s overflows %s: want an overflow error, got %v, %v", e, exact.RatString(), typ, v, err)
			}
			return
		}
		if err != nil || v.I != want || v.Null {
			t.Fatalf("%s: got %v (%v) of %s, want %s", e, v, err, typ, runtime.FormatDecimal(want, typ.Scale()))
		}
	})
}

// TestDecimalCastMatchesBig checks CAST between DECIMALs, integers,
// DOUBLE and VARCHAR, and ROUND/FLOOR/CEIL/ABS, against math/big.
func TestDecimalCastMatchesBig(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ta, a := drawDecimal(t, "a")
		to, _ := drawDecimal(t, "to")
		s := runtime.NewSchema(runtime.Field{Name: "a", Type: ta})
		ra := ratOf(a, ta.Scale())
		v, _, err := evalOne(t, Cast(Col("a"), to), s, runtime.Value{Type: ta, I: a})
		if err != nil {
			t.Fatal(err)
		}
		if want, ok := roundRat(ra, to.Precision(), to.Scale()); !ok != v.Null || ok && v.I != want {
			t.Fatalf("CAST(%s AS %s) = %v, want %s (fits %v)", ra.FloatString(ta.Scale()), to, v, runtime.FormatDecimal(want, to.Scale()), ok)
		}
		// Through VARCHAR and back is exact.
		v, _, err = evalOne(t, Cast(Cast(Col("a"), runtime.Varchar), ta), s, runtime.Value{Type: ta, I: a})
		if err != nil || v.I != a || v.Null {
			t.Fatalf("VARCHAR round trip of %s: %v %v", ra.FloatString(ta.Scale()), v, err)
		}
		// To BIGINT truncates.
		v, _, _ = evalOne(t, Cast(Col("a"), runtime.BigInt), s, runtime.Value{Type: ta, I: a})
		if want := new(big.Int).Quo(ra.Num(), ra.Denom()).Int64(); v.I != want {
			t.Fatalf("CAST(%s AS BIGINT) = %v, want %d", ra.FloatString(ta.Scale()), v, want)
		}
		d := rapid.IntRange(-3, ta.Scale()).Draw(t, "digits")
		v, typ, err := evalOne(t, Call("ROUND", Col("a"), Int(int64(d))), s, runtime.Value{Type: ta, I: a})
		shift := new(big.Rat).SetFrac(big.NewInt(1), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(max(-d, 0))), nil))
		if d < 0 {
			scaled := new(big.Rat).Mul(ra, shift)
			w, _ := roundRat(scaled, 19, 0)
			want := new(big.Int).Mul(big.NewInt(w), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-d)), nil))
			if err == nil && (v.Null || v.I != want.Int64()) || err != nil && runtime.DecimalFits(want.Int64(), typ.Precision()) {
				t.Fatalf("ROUND(%s, %d) = %v %v, want %s", ra.FloatString(ta.Scale()), d, v, err, want)
			}
		} else if want, _ := roundRat(ra, 19, d); err != nil || v.I != want || typ.Scale() != min(d, ta.Scale()) {
			t.Fatalf("ROUND(%s, %d) = %v %s %v, want %d", ra.FloatString(ta.Scale()), d, v, typ, err, want)
		}
		fl, _, _ := evalOne(t, Call("FLOOR", Col("a")), s, runtime.Value{Type: ta, I: a})
		ce, _, _ := evalOne(t, Call("CEIL", Col("a")), s, runtime.Value{Type: ta, I: a})
		ab, _, _ := evalOne(t, Call("ABS", Col("a")), s, runtime.Value{Type: ta, I: a})
		q := new(big.Int).Quo(ra.Num(), ra.Denom()) // truncated
		wf, wc := new(big.Int).Set(q), new(big.Int).Set(q)
		if !ra.IsInt() {
			if ra.Sign() < 0 {
				wf.Sub(wf, big.NewInt(1))
			} else {
				wc.Add(wc, big.NewInt(1))
			}
		}
		if fl.I != wf.Int64() || ce.I != wc.Int64() || ab.I != max(a, -a) {
			t.Fatalf("FLOOR/CEIL/ABS(%s) = %v %v %v", ra.FloatString(ta.Scale()), fl, ce, ab)
		}
	})
}

// TestDecimalMixedTypes checks DECIMAL next to DOUBLE (a DOUBLE), CASE
// unification and negation.
func TestDecimalMixedTypes(t *testing.T) {
	s := runtime.NewSchema(runtime.Field{Name: "a", Type: runtime.DecimalType(10, 2)})
	row := runtime.Value{Type: runtime.DecimalType(10, 2), I: 1250}
	v, typ, err := evalOne(t, Mul(Col("a"), Float(2)), s, row)
	if err != nil || typ != runtime.Double || v.F != 25 {
		t.Fatalf("a * 2.0e0 = %v %s %v", v, typ, err)
	}
	v, typ, err = evalOne(t, Call("COALESCE", Col("a"), mustDec(t, "1.125")), s, row)
	if err != nil || typ != runtime.DecimalType(11, 3) || v.String() != "12.500" {
		t.Fatalf("COALESCE = %v %s %v", v, typ, err)
	}
	v, _, err = evalOne(t, Neg(Col("a")), s, row)
	if err != nil || v.String() != "-12.50" {
		t.Fatalf("-a = %v %v", v, err)
	}
	v, _, err = evalOne(t, Gt(Col("a"), Int(12)), s, row)
	if err != nil || v.I != 1 {
		t.Fatalf("a > 12 = %v %v", v, err)
	}
	for _, c := range []struct {
		e    Expr
		want string
	}{
		{In(Col("a"), Decimal(1250, 5, 3), Int(3)), "FALSE"},
		{In(Col("a"), Decimal(125, 3, 1), Int(3)), "TRUE"},
		{Between(Col("a"), Int(12), Decimal(12501, 5, 3)), "TRUE"},
		{Case([]When{{Gt(Col("a"), Int(100)), Int(1)}}, Col("a")), "12.50"},
		{In(Col("a"), Float(1), Decimal(125, 3, 1)), "TRUE"},
		{In(Cast(Col("a"), runtime.Double), Int(1), Decimal(125, 3, 1)), "TRUE"},
		{Mod(Col("a"), Int(5)), "2.50"},
		{Div(Col("a"), Int(0)), "NULL"},
		{Cast(Col("a"), runtime.DecimalType(3, 2)), "NULL"},
	} {
		v, _, err := evalOne(t, c.e, s, row)
		if err != nil || v.String() != c.want {
			t.Errorf("%s = %v %v, want %s", c.e, v, err, c.want)
		}
	}
	if _, err := Compile(Add(Col("a"), Str("x")), s); err == nil {
		t.Fatal("DECIMAL + VARCHAR compiled")
	}
	if _, err := Compile(Add(Col("a"), Timestamp(0)), s); err == nil {
		t.Fatal("DECIMAL + TIMESTAMP compiled")
	}
}

// BenchmarkEvalDecimalMul is Nexmark q1's 0.908 * price over a BIGINT
// column (DECIMAL(18, 3) results).
func BenchmarkEvalDecimalMul(b *testing.B) {
	benchEval(b, Mul(Decimal(908, 4, 3), Col("v")), false, false)
}

// BenchmarkEvalDecimalAddCompare is a DECIMAL sum compared with a DECIMAL
// constant of another scale.
func BenchmarkEvalDecimalAddCompare(b *testing.B) {
	benchEval(b, Gt(Add(Mul(Decimal(908, 4, 3), Col("v")), Decimal(125, 3, 2)), Decimal(5, 2, 1)), false, false)
}

// BenchmarkEvalDecimalDiv divides a DECIMAL(10, 2) by a DECIMAL constant
// (DECIMAL(18, 6) results, rounded).
func BenchmarkEvalDecimalDiv(b *testing.B) {
	benchEval(b, Div(Cast(Col("v"), runtime.DecimalType(10, 2)), Decimal(3, 1, 0)), false, false)
}
