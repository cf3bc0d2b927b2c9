package expr

import (
	"slices"

	"github.com/sluicehq/sluice/runtime"
)

// compareType is the type values of types a and b are compared in.
func compareType(a, b runtime.Type) (runtime.Type, bool) {
	switch {
	case a.IsDecimal() && b == runtime.Double, a == runtime.Double && b.IsDecimal():
		return runtime.Double, true
	case a.IsDecimal() || b.IsDecimal():
		// IN: both sides are converted to one DECIMAL holding either.
		p1, s1, ok1 := AsDecimal(a)
		p2, s2, ok2 := AsDecimal(b)
		if ok1 && ok2 {
			return DecimalUnify(p1, s1, p2, s2), true
		}
		return runtime.Invalid, false
	case a.Numeric() && b.Numeric():
		return numericCommon(a, b), true
	case a == b && a != runtime.Invalid:
		return a, true
	}
	return runtime.Invalid, false
}

// compare compiles l op r for the comparison operators.
func (c *compiler) compare(op Op, l, r *node, e Expr, name string) (*node, error) {
	if lt, rt := adoptNull(l, r), adoptNull(r, l); (lt.IsDecimal() || rt.IsDecimal()) && !isNullConst(l) && !isNullConst(r) {
		_, _, okl := AsDecimal(lt)
		_, _, okr := AsDecimal(rt)
		if okl && okr {
			if l.konst != nil && r.konst == nil {
				l, r, op = r, l, op.flip()
			}
			return fold(c.decimalCompare(op, l, r), l, r), nil
		}
	}
	typ, ok := compareType(adoptNull(l, r), adoptNull(r, l))
	if isNullConst(l) || isNullConst(r) {
		typ, ok = runtime.Boolean, true
	}
	if !ok {
		return nil, errorf(e, "cannot apply %s to %s and %s", name, l.typ, r.typ)
	}
	if isNullConst(l) || isNullConst(r) {
		return constNode(runtime.NullValue(runtime.Boolean)), nil
	}
	l, r = c.coerce(l, typ), c.coerce(r, typ)
	if l.konst != nil && r.konst == nil {
		l, r, op = r, l, op.flip()
	}
	var n *node
	switch typ.Physical() {
	case runtime.PhysFloat:
		n = cmpNode(op, l, r, f64)
	case runtime.PhysString:
		n = cmpNode(op, l, r, str)
	default:
		n = cmpNode(op, l, r, i64)
	}
	return fold(n, l, r), nil
}

func cmpNode[T ordered](op Op, l, r *node, get func(*runtime.Vector) []T) *node {
	n := &node{typ: runtime.Boolean, nullable: l.nullable || r.nullable, col: -1}
	var ls, rs, own vec
	if r.konst == nil {
		n.eval = func(b *runtime.Batch, dst *vec) *runtime.Vector {
			nn := b.Len()
			a, c := l.eval(b, &ls), r.eval(b, &rs)
			out := dst.reset(runtime.Boolean, nn)
			cmpVV(op, get(a)[:nn], get(c)[:nn], out.I64)
			dst.setNulls(nn, a.Null, c.Null)
			return out
		}
		return n
	}
	// Column (or any expression) against a constant: the hot path of
	// filters, one loop over the column.
	k := constOf(*r.konst, get)
	finish := func(a *runtime.Vector, nn int, dst *vec) *runtime.Vector {
		out := dst.reset(runtime.Boolean, nn)
		cmpVC(op, get(a)[:nn], k, out.I64)
		dst.setNulls(nn, a.Null, nil)
		return out
	}
	n.eval = func(b *runtime.Batch, dst *vec) *runtime.Vector {
		return finish(l.eval(b, &ls), b.Len(), dst)
	}
	n.sel = func(b *runtime.Batch, dst []int32) []int32 {
		a := l.eval(b, &ls)
		if a.Null != nil {
			return selectTrue(finish(a, b.Len(), &own), b.Sel, dst)
		}
		return selVC(op, get(a)[:b.Len()], k, b.Sel, dst)
	}
	return n
}

// cmpVV computes out = a op b as 0/1.
func cmpVV[T ordered](op Op, a, b []T, out []int64) {
	b, out = b[:len(a)], out[:len(a)]
	switch op {
	case OpEq:
		for i := range a {
			out[i] = b2i(a[i] == b[i])
		}
	case OpNe:
		for i := range a {
			out[i] = b2i(a[i] != b[i])
		}
	case OpLt:
		for i := range a {
			out[i] = b2i(a[i] < b[i])
		}
	case OpLe:
		for i := range a {
			out[i] = b2i(a[i] <= b[i])
		}
	case OpGt:
		for i := range a {
			out[i] = b2i(a[i] > b[i])
		}
	case OpGe:
		for i := range a {
			out[i] = b2i(a[i] >= b[i])
		}
	}
}

// cmpVC computes out = a op k as 0/1.
func cmpVC[T ordered](op Op, a []T, k T, out []int64) {
	out = out[:len(a)]
	switch op {
	case OpEq:
		for i, x := range a {
			out[i] = b2i(x == k)
		}
	case OpNe:
		for i, x := range a {
			out[i] = b2i(x != k)
		}
	case OpLt:
		for i, x := range a {
			out[i] = b2i(x < k)
		}
	case OpLe:
		for i, x := range a {
			out[i] = b2i(x <= k)
		}
	case OpGt:
		for i, x := range a {
			out[i] = b2i(x > k)
		}
	case OpGe:
		for i, x := range a {
			out[i] = b2i(x >= k)
		}
	}
}

// selVC appends to dst the physical rows (bsel[i], or i without selection)
// where a[i] op k. It stores every candidate and advances only on a match,
// which keeps the loop free of unpredictable branches.
func selVC[T ordered](op Op, a []T, k T, bsel []int32, dst []int32) []int32 {
	j := len(dst)
	dst = slices.Grow(dst, len(a))[:j+len(a)]
	if bsel == nil {
		switch op {
		case OpEq:
			for i, x := range a {
				dst[j] = int32(i)
				j += int(b2i(x == k))
			}
		case OpNe:
			for i, x := range a {
				dst[j] = int32(i)
				j += int(b2i(x != k))
			}
		case OpLt:
			for i, x := range a {
				dst[j] = int32(i)
				j += int(b2i(x < k))
			}
		case OpLe:
			for i, x := range a {
				dst[j] = int32(i)
				j += int(b2i(x <= k))
			}
		case OpGt:
			for i, x := range a {
				dst[j] = int32(i)
				j += int(b2i(x > k))
			}
		case OpGe:
			for i, x := range a {
				dst[j] = int32(i)
				j += int(b2i(x >= k))
			}
		}
		return dst[:j]
	}
	bsel = bsel[:len(a)]
	switch op {
	case OpEq:
		for i, x := range a {
			dst[j] = bsel[i]
			j += int(b2i(x == k))
		}
	case OpNe:
		for i, x := range a {
			dst[j] = bsel[i]
			j += int(b2i(x != k))
		}
	case OpLt:
		for i, x := range a {
			dst[j] = bsel[i]
			j += int(b2i(x < k))
		}
	case OpLe:
		for i, x := range a {
			dst[j] = bsel[i]
			j += int(b2i(x <= k))
		}
	case OpGt:
		for i, x := range a {
			dst[j] = bsel[i]
			j += int(b2i(x > k))
		}
	case OpGe:
		for i, x := range a {
			dst[j] = bsel[i]
			j += int(b2i(x >= k))
		}
	}
	return dst[:j]
}
