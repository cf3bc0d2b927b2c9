package expr

import (
	"math"

	"github.com/sluicehq/sluice/runtime"
)

type number interface{ int64 | float64 }

type ordered interface{ int64 | float64 | string }

// Accessors of a vector's storage, passed to the generic kernels.
func i64(v *runtime.Vector) []int64   { return v.I64 }
func f64(v *runtime.Vector) []float64 { return v.F64 }
func str(v *runtime.Vector) []string  { return v.Str }

// constOf returns constant v as it is stored in a vector of its type.
func constOf[T any](v runtime.Value, get func(*runtime.Vector) []T) T {
	t := runtime.Vector{Type: v.Type}
	t.AppendValue(v)
	return get(&t)[0]
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func intLike(t runtime.Type) bool { return t == runtime.Int || t == runtime.BigInt }

// arith compiles l op r for +, -, *, / and % (name is the operator as the
// user wrote it, for errors).
func (c *compiler) arith(op Op, l, r *node, e Expr, name string) (*node, error) {
	lt, rt := adoptNull(l, r), adoptNull(r, l)
	var typ runtime.Type
	switch {
	case (lt.IsDecimal() || rt.IsDecimal()) && (lt == runtime.Double || rt == runtime.Double):
		typ = runtime.Double
	case lt.IsDecimal() || rt.IsDecimal():
		t, ok := decimalResult(op, lt, rt)
		if !ok {
			return nil, errorf(e, "cannot apply %s to %s and %s", name, l.typ, r.typ)
		}
		if isNullConst(l) || isNullConst(r) {
			return constNode(runtime.NullValue(t)), nil
		}
		return c.decimalArith(op, l, r, e, name)
	case lt.Numeric() && rt.Numeric():
		typ = numericCommon(lt, rt)
	case lt == runtime.Timestamp && intLike(rt) && (op == OpAdd || op == OpSub):
		typ = runtime.Timestamp
	case intLike(lt) && rt == runtime.Timestamp && op == OpAdd:
		typ = runtime.Timestamp
	case lt == runtime.Timestamp && rt == runtime.Timestamp && op == OpSub:
		typ = runtime.BigInt
	default:
		return nil, errorf(e, "cannot apply %s to %s and %s", name, l.typ, r.typ)
	}
	if isNullConst(l) || isNullConst(r) {
		return constNode(runtime.NullValue(typ)), nil
	}
	if typ == runtime.Double {
		l, r = c.coerce(l, typ), c.coerce(r, typ)
	}
	n := &node{typ: typ, col: -1, nullable: l.nullable || r.nullable}
	if op == OpDiv || op == OpMod {
		if r.konst != nil {
			if k := *r.konst; k.I == 0 && k.F == 0 {
				return constNode(runtime.NullValue(typ)), nil
			}
		} else {
			n.nullable = true
		}
	}
	if typ == runtime.Double {
		n.eval = arithEval(op, typ, l, r, f64)
	} else {
		n.faults = c.f
		n.eval = arithEvalInt(op, typ, l, r, c.f, e.String())
	}
	return fold(n, l, r), nil
}

// adoptNull is the type n is taken to have next to other: its own, unless n
// is a NULL constant, which takes other's type (BIGINT next to a TIMESTAMP,
// as an interval).
func adoptNull(n, other *node) runtime.Type {
	if !isNullConst(n) || isNullConst(other) {
		return n.typ
	}
	if other.typ == runtime.Timestamp {
		return runtime.BigInt
	}
	return other.typ
}

func arithEval[T number](op Op, typ runtime.Type, l, r *node, get func(*runtime.Vector) []T) evalFunc {
	var ls, rs vec
	switch {
	case r.konst != nil:
		k := constOf(*r.konst, get)
		return func(b *runtime.Batch, dst *vec) *runtime.Vector {
			n := b.Len()
			a := l.eval(b, &ls)
			out := dst.reset(typ, n)
			if op == OpMod {
				modVC(get(a)[:n], k, get(out))
			} else {
				arithVC(op, get(a)[:n], k, get(out))
			}
			dst.setNulls(n, a.Null, nil)
			return out
		}
	case l.konst != nil && op != OpDiv && op != OpMod:
		k := constOf(*l.konst, get)
		return func(b *runtime.Batch, dst *vec) *runtime.Vector {
			n := b.Len()
			a := r.eval(b, &rs)
			out := dst.reset(typ, n)
			if op == OpSub {
				subCV(k, get(a)[:n], get(out))
			} else {
				arithVC(op, get(a)[:n], k, get(out))
			}
			dst.setNulls(n, a.Null, nil)
			return out
		}
	}
	return func(b *runtime.Batch, dst *vec) *runtime.Vector {
		n := b.Len()
		a, c := l.eval(b, &ls), r.eval(b, &rs)
		out := dst.reset(typ, n)
		dst.setNulls(n, a.Null, c.Null)
		switch op {
		case OpDiv:
			divVV(get(a)[:n], get(c)[:n], get(out), dst)
		case OpMod:
			modVV(get(a)[:n], get(c)[:n], get(out), dst)
		default:
			arithVV(op, get(a)[:n], get(c)[:n], get(out))
		}
		return out
	}
}

// arithEvalInt is arithEval for integer types, with every result checked
// for overflow (see faults).
func arithEvalInt(op Op, typ runtime.Type, l, r *node, f *faults, text string) evalFunc {
	var ls, rs vec
	bad := opOverflows(op)
	switch {
	case r.konst != nil:
		k := r.konst.I
		return func(b *runtime.Batch, dst *vec) *runtime.Vector {
			n := b.Len()
			a := l.eval(b, &ls)
			out := dst.reset(typ, n)
			av := a.I64[:n]
			over := false
			if op == OpMod {
				modVC(av, k, out.I64)
			} else {
				over = checkedVC(op, av, k, out.I64)
			}
			dst.setNulls(n, a.Null, nil)
			if over {
				f.record(b, out, n, text, func(i int) bool { return bad(av[i], k) })
			}
			return out
		}
	case l.konst != nil && op != OpDiv && op != OpMod:
		k := l.konst.I
		return func(b *runtime.Batch, dst *vec) *runtime.Vector {
			n := b.Len()
			a := r.eval(b, &rs)
			out := dst.reset(typ, n)
			av := a.I64[:n]
			var over bool
			if op == OpSub {
				over = checkedSubCV(k, av, out.I64)
			} else {
				over = checkedVC(op, av, k, out.I64)
			}
			dst.setNulls(n, a.Null, nil)
			if over {
				f.record(b, out, n, text, func(i int) bool { return bad(k, av[i]) })
			}
			return out
		}
	}
	return func(b *runtime.Batch, dst *vec) *runtime.Vector {
		n := b.Len()
		a, c := l.eval(b, &ls), r.eval(b, &rs)
		out := dst.reset(typ, n)
		dst.setNulls(n, a.Null, c.Null)
		av, cv := a.I64[:n], c.I64[:n]
		over := false
		switch op {
		case OpDiv:
			divVV(av, cv, out.I64, dst)
			for i, y := range cv {
				over = over || y == -1 && av[i] == math.MinInt64
			}
		case OpMod:
			modVV(av, cv, out.I64, dst)
		default:
			over = checkedVV(op, av, cv, out.I64)
		}
		if over {
			f.record(b, out, n, text, func(i int) bool { return bad(av[i], cv[i]) })
		}
		return out
	}
}

// arithVV computes out = a op b for +, - and *.
func arithVV[T number](op Op, a, b, out []T) {
	b, out = b[:len(a)], out[:len(a)]
	switch op {
	case OpAdd:
		for i := range a {
			out[i] = a[i] + b[i]
		}
	case OpSub:
		for i := range a {
			out[i] = a[i] - b[i]
		}
	case OpMul:
		for i := range a {
			out[i] = a[i] * b[i]
		}
	}
}

// arithVC computes out = a op k for +, -, * and / (k is not zero).
func arithVC[T number](op Op, a []T, k T, out []T) {
	out = out[:len(a)]
	switch op {
	case OpAdd:
		for i, x := range a {
			out[i] = x + k
		}
	case OpSub:
		for i, x := range a {
			out[i] = x - k
		}
	case OpMul:
		for i, x := range a {
			out[i] = x * k
		}
	case OpDiv:
		for i, x := range a {
			out[i] = x / k
		}
	}
}

// subCV computes out = k - a.
func subCV[T number](k T, a, out []T) {
	out = out[:len(a)]
	for i, x := range a {
		out[i] = k - x
	}
}

// divVV computes out = a / b, NULL where b is zero.
func divVV[T number](a, b, out []T, dst *vec) {
	b, out = b[:len(a)], out[:len(a)]
	for i, y := range b {
		if y == 0 {
			out[i] = 0
			dst.nulls(len(out))[i] = true
			continue
		}
		out[i] = a[i] / y
	}
}

// modVC computes out = a % k (k is not zero); the sign follows a.
func modVC[T number](a []T, k T, out []T) {
	switch a := any(a).(type) {
	case []int64:
		k, out := any(k).(int64), any(out).([]int64)[:len(a)]
		for i, x := range a {
			out[i] = x % k
		}
	case []float64:
		k, out := any(k).(float64), any(out).([]float64)[:len(a)]
		for i, x := range a {
			out[i] = math.Mod(x, k)
		}
	}
}

// modVV computes out = a % b, NULL where b is zero.
func modVV[T number](a, b, out []T, dst *vec) {
	switch a := any(a).(type) {
	case []int64:
		b, out := any(b).([]int64)[:len(a)], any(out).([]int64)[:len(a)]
		for i, y := range b {
			if y == 0 {
				out[i] = 0
				dst.nulls(len(out))[i] = true
				continue
			}
			out[i] = a[i] % y
		}
	case []float64:
		b, out := any(b).([]float64)[:len(a)], any(out).([]float64)[:len(a)]
		for i, y := range b {
			if y == 0 {
				out[i] = 0
				dst.nulls(len(out))[i] = true
				continue
			}
			out[i] = math.Mod(a[i], y)
		}
	}
}

// neg compiles -x.
func (c *compiler) neg(x *node, e Expr) (*node, error) {
	if x.typ.IsDecimal() { // |x| < 10^18: negation cannot overflow
		n := &node{typ: x.typ, nullable: x.nullable, col: -1}
		var xs vec
		n.eval = func(b *runtime.Batch, dst *vec) *runtime.Vector {
			nn := b.Len()
			a := x.eval(b, &xs)
			out := dst.reset(n.typ, nn)
			negate(a.I64[:nn], out.I64)
			dst.setNulls(nn, a.Null, nil)
			return out
		}
		return fold(n, x), nil
	}
	if !x.typ.Numeric() {
		return nil, errorf(e, "cannot apply - to %s", x.typ)
	}
	n := &node{typ: x.typ, nullable: x.nullable, col: -1}
	if n.typ != runtime.Double {
		n.faults = c.f
		n.eval = negEvalInt(x, n.typ, false, c.f, e.String())
		return fold(n, x), nil
	}
	var xs vec
	n.eval = func(b *runtime.Batch, dst *vec) *runtime.Vector {
		nn := b.Len()
		a := x.eval(b, &xs)
		out := dst.reset(n.typ, nn)
		negate(a.F64[:nn], out.F64)
		dst.setNulls(nn, a.Null, nil)
		return out
	}
	return fold(n, x), nil
}

// negEvalInt computes -x (abs: ABS(x)) over integers, checked for
// overflow.
func negEvalInt(x *node, typ runtime.Type, abs bool, f *faults, text string) evalFunc {
	var xs vec
	return func(b *runtime.Batch, dst *vec) *runtime.Vector {
		n := b.Len()
		a := x.eval(b, &xs)
		out := dst.reset(typ, n)
		av := a.I64[:n]
		over := checkedNeg(av, out.I64, abs)
		dst.setNulls(n, a.Null, nil)
		if over {
			f.record(b, out, n, text, func(i int) bool { return av[i] == math.MinInt64 })
		}
		return out
	}
}

func negate[T number](a, out []T) {
	out = out[:len(a)]
	for i, x := range a {
		out[i] = -x
	}
}
