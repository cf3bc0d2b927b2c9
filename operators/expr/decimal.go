package expr

import (
	"math"
	"math/big"
	"math/bits"

	"github.com/sluicehq/sluice/runtime"
)

// DECIMAL(p, s) values are stored unscaled in Vector.I64 (see
// runtime.DecimalType); precision is at most runtime.MaxDecimalPrecision
// (18). The typing rules are Flink's (Calcite's), with 38 replaced by 18:
// see DecimalAddType, DecimalMulType, DecimalDivType, DecimalModType. An
// INT operand counts as DECIMAL(10, 0) and a BIGINT as DECIMAL(19, 0); a
// DOUBLE operand makes the operation DOUBLE. A result that does not fit its
// precision is an *OverflowError (Compiled.Err) naming the subexpression,
// never a wrapped value; division and MOD by zero are NULL. Results are
// rounded half away from zero to the result scale.

// DecimalLit is a DECIMAL literal typed by its digits, as Flink types a
// numeric literal with a decimal point: 0.908 is DECIMAL(4, 3), 12.50 is
// DECIMAL(4, 2), 5.0 is DECIMAL(2, 1). A literal of more than 18 digits, or
// one with an exponent (a DOUBLE in SQL), is an error.
func DecimalLit(text string) (Expr, error) {
	x, p, s, err := runtime.DecimalLiteral(text)
	if err != nil {
		return nil, err
	}
	return Lit(runtime.DecimalValue(x, p, s)), nil
}

// Decimal is the DECIMAL(p, s) constant whose unscaled value is x.
func Decimal(x int64, p, s int) Expr { return Lit(runtime.DecimalValue(x, p, s)) }

// AsDecimal is the DECIMAL type an exact numeric operand counts as in
// decimal arithmetic: t itself for a DECIMAL, DECIMAL(10, 0) for INT,
// DECIMAL(19, 0) for BIGINT (whose precision the result rules then clamp).
// ok is false for other types. The returned precision may exceed 18, so it
// is returned as numbers, not as a runtime.Type.
func AsDecimal(t runtime.Type) (p, s int, ok bool) {
	switch {
	case t.IsDecimal():
		return t.Precision(), t.Scale(), true
	case t == runtime.Int:
		return 10, 0, true
	case t == runtime.BigInt:
		return 19, 0, true
	}
	return 0, 0, false
}

// DecimalAdjust fits a result of precision p and scale s into
// runtime.MaxDecimalPrecision digits as Flink fits one into 38: integer
// digits are kept and the scale shrinks, but not below min(s, 6).
func DecimalAdjust(p, s int) runtime.Type {
	const maxP = runtime.MaxDecimalPrecision
	if p <= maxP {
		return runtime.DecimalType(max(p, 1), s)
	}
	intDigits := p - s
	s = max(maxP-intDigits, min(s, 6))
	return runtime.DecimalType(maxP, min(s, maxP))
}

// DecimalAddType is the type of a + b and a - b for exact numeric operands
// of decimal shapes (p1, s1) and (p2, s2) (see AsDecimal):
// DECIMAL(max(s1, s2) + max(p1-s1, p2-s2) + 1, max(s1, s2)), clamped.
func DecimalAddType(p1, s1, p2, s2 int) runtime.Type {
	s := max(s1, s2)
	return DecimalAdjust(max(p1-s1, p2-s2)+s+1, s)
}

// DecimalMulType is the type of a * b: DECIMAL(p1 + p2, s1 + s2), clamped.
func DecimalMulType(p1, s1, p2, s2 int) runtime.Type {
	return DecimalAdjust(p1+p2, s1+s2)
}

// DecimalDivType is the type of a / b, as Flink: scale max(6, s1 + p2 + 1),
// precision p1 - s1 + s2 + scale, clamped.
func DecimalDivType(p1, s1, p2, s2 int) runtime.Type {
	s := max(6, s1+p2+1)
	return DecimalAdjust(p1-s1+s2+s, s)
}

// DecimalModType is the type of a % b (MOD): scale max(s1, s2), precision
// min(p1-s1, p2-s2) + scale, clamped.
func DecimalModType(p1, s1, p2, s2 int) runtime.Type {
	s := max(s1, s2)
	return DecimalAdjust(min(p1-s1, p2-s2)+s, s)
}

// DecimalUnify is the type a DECIMAL and another exact numeric type are
// both converted to where either may appear (CASE arms, COALESCE, UNION):
// enough integer and fraction digits for both, clamped.
func DecimalUnify(p1, s1, p2, s2 int) runtime.Type {
	s := max(s1, s2)
	return DecimalAdjust(max(p1-s1, p2-s2)+s, s)
}

// decimalResult is the type of l op r where one side is a DECIMAL and the
// other an exact numeric (ok false otherwise).
func decimalResult(op Op, lt, rt runtime.Type) (runtime.Type, bool) {
	p1, s1, ok1 := AsDecimal(lt)
	p2, s2, ok2 := AsDecimal(rt)
	if !ok1 || !ok2 {
		return runtime.Invalid, false
	}
	switch op {
	case OpAdd, OpSub:
		return DecimalAddType(p1, s1, p2, s2), true
	case OpMul:
		return DecimalMulType(p1, s1, p2, s2), true
	case OpDiv:
		return DecimalDivType(p1, s1, p2, s2), true
	}
	return DecimalModType(p1, s1, p2, s2), true
}

// decStatus is the outcome of one decimal operation on a row.
type decStatus uint8

const (
	decOK decStatus = iota
	decNull
	decOverflow
)

// decimalArith compiles l op r where one operand is a DECIMAL (and
// neither a DOUBLE nor a NULL constant).
func (c *compiler) decimalArith(op Op, l, r *node, e Expr, name string) (*node, error) {
	typ, ok := decimalResult(op, l.typ, r.typ)
	if !ok {
		return nil, errorf(e, "cannot apply %s to %s and %s", name, l.typ, r.typ)
	}
	sl, sr, s := l.typ.Scale(), r.typ.Scale(), typ.Scale()
	p := typ.Precision()
	var f func(a, b int64) (int64, decStatus)
	switch op {
	case OpAdd, OpSub:
		// Exact at the larger operand scale, then rounded to the result
		// scale (smaller when the type was clamped).
		sx := max(sl, sr)
		f = func(a, b int64) (int64, decStatus) {
			x, ok1 := runtime.RescaleDecimal(a, sl, sx)
			y, ok2 := runtime.RescaleDecimal(b, sr, sx)
			if op == OpSub {
				y = -y
			}
			z := x + y // |x|, |y| < 10^18: no int64 overflow
			if !ok1 || !ok2 {
				bx := new(big.Int).Mul(big.NewInt(a), pow10Big(sx-sl))
				by := new(big.Int).Mul(big.NewInt(b), pow10Big(sx-sr))
				if op == OpSub {
					by.Neg(by)
				}
				return bigRound(bx.Add(bx, by), sx-s, p)
			}
			if sx > s {
				z, _ = runtime.RescaleDecimal(z, sx, s)
			}
			if !runtime.DecimalFits(z, p) {
				return 0, decOverflow
			}
			return z, decOK
		}
	case OpMul:
		f = func(a, b int64) (int64, decStatus) { return decMul(a, b, sl+sr-s, p) }
	case OpDiv:
		f = func(a, b int64) (int64, decStatus) {
			if b == 0 {
				return 0, decNull
			}
			return decDiv(a, b, s-sl+sr, p)
		}
	default:
		f = func(a, b int64) (int64, decStatus) {
			if b == 0 {
				return 0, decNull
			}
			x, ok1 := runtime.RescaleDecimal(a, sl, s)
			y, ok2 := runtime.RescaleDecimal(b, sr, s)
			if !ok2 { // |b| above 10^18 at scale s: larger than any |a|
				return x, decOK
			}
			if !ok1 {
				return decModBig(a, sl, b, sr, s, p)
			}
			return x % y, decOK
		}
	}
	n := &node{typ: typ, col: -1, nullable: l.nullable || r.nullable || op == OpDiv || op == OpMod, faults: c.f}
	n.eval = decimalEval(typ, l, r, f, c.f, e.String())
	if op == OpMul && sl+sr == s {
		// By a constant, without rounding (q1's 0.908 * price): one
		// multiply and one range check per row.
		if l.konst != nil && r.konst == nil {
			n.eval = decimalMulConst(typ, r, l.konst.I, c.f, e.String())
		} else if r.konst != nil && l.konst == nil {
			n.eval = decimalMulConst(typ, l, r.konst.I, c.f, e.String())
		}
	}
	return fold(n, l, r), nil
}

// decimalMulConst computes x * k for a DECIMAL result whose scale is the
// sum of the operands' (no rounding): |x| <= lim keeps the product within
// the result's precision.
func decimalMulConst(typ runtime.Type, x *node, k int64, fl *faults, text string) evalFunc {
	var xs vec
	lim := int64(math.MaxInt64)
	if k != 0 {
		lim = (runtime.Pow10(typ.Precision()) - 1) / int64(uabs(k))
	}
	return func(b *runtime.Batch, dst *vec) *runtime.Vector {
		n := b.Len()
		a := x.eval(b, &xs)
		out := dst.reset(typ, n)
		dst.setNulls(n, a.Null, nil)
		av, ov := a.I64[:n], out.I64[:n]
		over := false
		for i, v := range av {
			ov[i] = v * k
			over = over || v > lim || v < -lim
		}
		if over {
			fl.record(b, out, n, text, func(i int) bool { return av[i] > lim || av[i] < -lim })
		}
		return out
	}
}

// decimalEval applies f to every row where both operands are non-NULL.
func decimalEval(typ runtime.Type, l, r *node, f func(a, b int64) (int64, decStatus), fl *faults, text string) evalFunc {
	var ls, rs vec
	var bad []bool
	return func(b *runtime.Batch, dst *vec) *runtime.Vector {
		n := b.Len()
		a, c := l.eval(b, &ls), r.eval(b, &rs)
		out := dst.reset(typ, n)
		dst.setNulls(n, a.Null, c.Null)
		av, cv, ov := a.I64[:n], c.I64[:n], out.I64[:n]
		over := false
		for i := range ov {
			if out.Null != nil && out.Null[i] {
				ov[i] = 0
				continue
			}
			z, st := f(av[i], cv[i])
			ov[i] = z
			switch st {
			case decNull:
				dst.nulls(n)[i] = true
			case decOverflow:
				if !over {
					bad = grow(bad, n)
					clear(bad)
					over = true
				}
				bad[i] = true
			}
		}
		if over {
			fl.record(b, out, n, text, func(i int) bool { return bad[i] })
		}
		return out
	}
}

// decMul is round(a * b / 10^drop) checked against p digits.
func decMul(a, b int64, drop, p int) (int64, decStatus) {
	hi, lo := bits.Mul64(uabs(a), uabs(b))
	if hi == 0 && lo <= 1<<62 && drop == 0 {
		z := int64(lo)
		if (a < 0) != (b < 0) {
			z = -z
		}
		if !runtime.DecimalFits(z, p) {
			return 0, decOverflow
		}
		return z, decOK
	}
	x := new(big.Int).Mul(big.NewInt(a), big.NewInt(b))
	return bigRound(x, drop, p)
}

// decDiv is round(a * 10^shift / b) checked against p digits (b != 0).
func decDiv(a, b int64, shift, p int) (int64, decStatus) {
	if shift >= 0 && shift <= 18 {
		// 128-bit: |a| * 10^shift / |b|, when the quotient fits 64 bits.
		ub := uabs(b)
		hi, lo := bits.Mul64(uabs(a), uint64(runtime.Pow10(shift)))
		if hi < ub {
			q, r := bits.Div64(hi, lo, ub)
			if q >= 1<<62 { // more than 18 digits
				return 0, decOverflow
			}
			if r >= ub-r { // 2r >= |b|: round half away from zero
				q++
			}
			z := int64(q)
			if (a < 0) != (b < 0) {
				z = -z
			}
			if !runtime.DecimalFits(z, p) {
				return 0, decOverflow
			}
			return z, decOK
		}
	}
	x := big.NewInt(a)
	y := big.NewInt(b)
	if shift >= 0 {
		x.Mul(x, pow10Big(shift))
	} else {
		y.Mul(y, pow10Big(-shift))
	}
	return bigQuoRound(x, y, p)
}

// decModBig is a % b at scale s when a does not fit 18 digits at that
// scale (only possible when the result type was clamped).
func decModBig(a int64, sa int, b int64, sb, s, p int) (int64, decStatus) {
	x := new(big.Int).Mul(big.NewInt(a), pow10Big(s-sa))
	y := new(big.Int).Mul(big.NewInt(b), pow10Big(s-sb))
	x.Rem(x, y)
	if !x.IsInt64() || !runtime.DecimalFits(x.Int64(), p) {
		return 0, decOverflow
	}
	return x.Int64(), decOK
}

func uabs(x int64) uint64 {
	if x < 0 {
		return -uint64(x)
	}
	return uint64(x)
}

func pow10Big(n int) *big.Int {
	return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
}

// bigRound is x / 10^drop rounded half away from zero (x * 10^-drop when
// drop < 0), checked against p digits.
func bigRound(x *big.Int, drop, p int) (int64, decStatus) {
	if drop <= 0 {
		x.Mul(x, pow10Big(-drop))
		if !x.IsInt64() || !runtime.DecimalFits(x.Int64(), p) {
			return 0, decOverflow
		}
		return x.Int64(), decOK
	}
	return bigQuoRound(x, pow10Big(drop), p)
}

// bigQuoRound is x / y rounded half away from zero, checked against p
// digits.
func bigQuoRound(x, y *big.Int, p int) (int64, decStatus) {
	var q, r big.Int
	q.QuoRem(x, y, &r)
	r.Abs(&r)
	r.Lsh(&r, 1)
	if r.CmpAbs(y) >= 0 {
		if (x.Sign() < 0) != (y.Sign() < 0) {
			q.Sub(&q, big.NewInt(1))
		} else {
			q.Add(&q, big.NewInt(1))
		}
	}
	if !q.IsInt64() || !runtime.DecimalFits(q.Int64(), p) {
		return 0, decOverflow
	}
	return q.Int64(), decOK
}

// decimalCompare compiles l op r where one side is a DECIMAL and the other
// an exact numeric. Values of the same scale compare as integers; others
// by exact value.
func (c *compiler) decimalCompare(op Op, l, r *node) *node {
	sl, sr := l.typ.Scale(), r.typ.Scale()
	if sl == sr {
		return cmpNode(op, retype(l, runtime.BigInt), retype(r, runtime.BigInt), i64)
	}
	n := &node{typ: runtime.Boolean, nullable: l.nullable || r.nullable, col: -1}
	var ls, rs vec
	n.eval = func(b *runtime.Batch, dst *vec) *runtime.Vector {
		nn := b.Len()
		a, cc := l.eval(b, &ls), r.eval(b, &rs)
		out := dst.reset(runtime.Boolean, nn)
		ov := out.I64[:nn]
		for i, x := range a.I64[:nn] {
			ov[i] = b2i(cmpHolds(op, compareDecimal(x, sl, cc.I64[i], sr)))
		}
		dst.setNulls(nn, a.Null, cc.Null)
		return out
	}
	return n
}

// retype views n's int64 values as type t (no conversion).
func retype(n *node, t runtime.Type) *node {
	if n.typ == t {
		return n
	}
	m := *n
	m.typ = t
	if n.konst != nil {
		k := *n.konst
		k.Type = t
		m.konst = &k
	}
	inner := n.eval
	var view runtime.Vector
	m.eval = func(b *runtime.Batch, dst *vec) *runtime.Vector {
		view = *inner(b, dst)
		view.Type = t
		return &view
	}
	return &m
}

// compareDecimal compares a (scale sa) with b (scale sb) exactly: -1, 0 or
// +1.
func compareDecimal(a int64, sa int, b int64, sb int) int {
	if sa > sb {
		return -compareDecimal(b, sb, a, sa)
	}
	// Bring a up to b's scale; if that leaves the int64 range, a's
	// magnitude exceeds any int64 and its sign decides.
	x, ok := runtime.RescaleDecimal(a, sa, sb)
	if !ok {
		if a < 0 {
			return -1
		}
		return 1
	}
	switch {
	case x < b:
		return -1
	case x > b:
		return 1
	}
	return 0
}

func cmpHolds(op Op, c int) bool {
	switch op {
	case OpEq:
		return c == 0
	case OpNe:
		return c != 0
	case OpLt:
		return c < 0
	case OpLe:
		return c <= 0
	case OpGt:
		return c > 0
	}
	return c >= 0
}

// decimalCast returns the conversion of x from type from to type to where
// one of them is a DECIMAL, or ok false when there is none. A value that
// does not fit the target (precision, INT range) or a VARCHAR that is not
// a number converts to NULL, as CAST does for the other types.
func decimalCast(from, to runtime.Type, x *node) (evalFunc, bool) {
	sf, st := from.Scale(), to.Scale()
	switch {
	case to.IsDecimal() && (from.IsDecimal() || intLike(from) || from == runtime.Boolean):
		p := to.Precision()
		return convert(to, x, i64, i64, func(v int64) (int64, bool) {
			r, ok := runtime.RescaleDecimal(v, sf, st)
			return r, ok && runtime.DecimalFits(r, p)
		}), true
	case to.IsDecimal() && from == runtime.Double:
		p := to.Precision()
		return convert(to, x, f64, i64, func(v float64) (int64, bool) { return runtime.FloatToDecimal(v, p, st) }), true
	case to.IsDecimal() && from == runtime.Varchar:
		p := to.Precision()
		return convert(to, x, str, i64, func(v string) (int64, bool) {
			r, err := runtime.ParseDecimal(v, p, st)
			return r, err == nil
		}), true
	case !from.IsDecimal():
		return nil, false
	case to == runtime.Int || to == runtime.BigInt:
		m := runtime.Pow10(sf)
		return convert(to, x, i64, i64, func(v int64) (int64, bool) {
			r := v / m // truncates toward zero, as Flink
			return r, to == runtime.BigInt || r >= -1<<31 && r < 1<<31
		}), true
	case to == runtime.Boolean:
		return convert(to, x, i64, i64, func(v int64) (int64, bool) { return b2i(v != 0), true }), true
	case to == runtime.Double:
		return convert(to, x, i64, f64, func(v int64) (float64, bool) { return runtime.DecimalToFloat(v, sf), true }), true
	case to == runtime.Varchar:
		return convert(to, x, i64, str, func(v int64) (string, bool) { return runtime.FormatDecimal(v, sf), true }), true
	}
	return nil, false
}

// decimalCall compiles ABS, FLOOR, CEIL and ROUND of a DECIMAL, with
// Flink's result types: ABS keeps the type; FLOOR and CEIL give
// DECIMAL(p - s + 1, 0) (the type itself when s is 0); ROUND(x, d) with a
// constant d < s gives DECIMAL(p - s + max(d, 0) + 1, max(d, 0)) — a
// negative d rounds to a multiple of 10^-d — and is x itself when d >= s.
// handled is false when the call is not one of these on a DECIMAL.
func (c *compiler) decimalCall(e *callExpr) (n *node, handled bool, err error) {
	switch e.name {
	case "ABS", "FLOOR", "CEIL", "CEILING", "ROUND":
	default:
		return nil, false, nil
	}
	if len(e.args) < 1 || len(e.args) > 2 || (len(e.args) == 2) != (e.name == "ROUND") {
		return nil, false, nil
	}
	x, err := c.compile(e.args[0])
	if err != nil || !x.typ.IsDecimal() {
		return nil, false, nil // let the function registry compile (and report) it
	}
	p, s := x.typ.Precision(), x.typ.Scale()
	var typ runtime.Type
	var f func(v int64) (int64, bool)
	switch e.name {
	case "ABS":
		typ = x.typ
		f = func(v int64) (int64, bool) { return int64(uabs(v)), true }
	case "FLOOR", "CEIL", "CEILING":
		if s == 0 {
			return x, true, nil
		}
		typ = runtime.DecimalType(min(p-s+1, runtime.MaxDecimalPrecision), 0)
		m := runtime.Pow10(s)
		up := e.name != "FLOOR"
		f = func(v int64) (int64, bool) {
			q, r := v/m, v%m
			if r > 0 && up {
				q++
			} else if r < 0 && !up {
				q--
			}
			return q, true
		}
	default:
		d := int64(0)
		if len(e.args) == 2 {
			dn, err := c.compile(e.args[1])
			if err != nil {
				return nil, true, err
			}
			if dn.konst == nil || dn.konst.Null || !intLike(dn.typ) {
				return nil, true, errorf(e, "ROUND of a DECIMAL takes a constant INT number of digits")
			}
			d = dn.konst.I
		}
		if d >= int64(s) {
			return x, true, nil
		}
		keep := int(max(d, 0))
		typ = runtime.DecimalType(min(p-s+keep+1, runtime.MaxDecimalPrecision), keep)
		drop := s - int(d) // digits to round away (d may be negative)
		f = func(v int64) (int64, bool) {
			if drop > 18 {
				return 0, true
			}
			r, _ := runtime.RescaleDecimal(v, drop, 0) // rounds away drop digits
			if d < 0 {
				if -d > 18 {
					return 0, r == 0
				}
				r2, ok := runtime.RescaleDecimal(r, 0, int(-d))
				return r2, ok && runtime.DecimalFits(r2, typ.Precision())
			}
			return r, runtime.DecimalFits(r, typ.Precision())
		}
	}
	nd := &node{typ: typ, nullable: x.nullable, col: -1, faults: c.f}
	var xs vec
	var bad []bool
	text := e.String()
	nd.eval = func(b *runtime.Batch, dst *vec) *runtime.Vector {
		nn := b.Len()
		a := x.eval(b, &xs)
		out := dst.reset(typ, nn)
		dst.setNulls(nn, a.Null, nil)
		ov := out.I64[:nn]
		over := false
		for i, v := range a.I64[:nn] {
			r, ok := f(v)
			ov[i] = r
			if !ok {
				if !over {
					bad = grow(bad, nn)
					clear(bad)
					over = true
				}
				bad[i] = true
			}
		}
		if over {
			c.f.record(b, out, nn, text, func(i int) bool { return bad[i] })
		}
		return out
	}
	return fold(nd, x), true, nil
}
