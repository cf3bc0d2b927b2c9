package expr

import (
	"github.com/sluicehq/sluice/runtime"
)

func (c *compiler) binary(op Op, l, r *node, e Expr) (*node, error) {
	switch {
	case op.arithmetic():
		return c.arith(op, l, r, e, op.String())
	case op.comparison():
		return c.compare(op, l, r, e, op.String())
	case op == OpAnd || op == OpOr:
		return c.logic(op, l, r, e)
	}
	return nil, errorf(e, "unknown operator %s", op)
}

func isBool(n *node) bool { return n.typ == runtime.Boolean || isNullConst(n) }

// isConstBool reports whether n is the non-NULL BOOLEAN constant v.
func isConstBool(n *node, v bool) bool {
	return n.konst != nil && !n.konst.Null && n.typ == runtime.Boolean && (n.konst.I != 0) == v
}

// logic compiles l AND r and l OR r with SQL's three-valued logic.
func (c *compiler) logic(op Op, l, r *node, e Expr) (*node, error) {
	if !isBool(l) || !isBool(r) {
		return nil, errorf(e, "cannot apply %s to %s and %s", op, l.typ, r.typ)
	}
	l, r = c.coerce(l, runtime.Boolean), c.coerce(r, runtime.Boolean)
	// FALSE AND x is FALSE and TRUE AND x is x, whatever x; OR dually.
	absorb := op == OpOr
	for _, p := range [][2]*node{{l, r}, {r, l}} {
		if isConstBool(p[0], absorb) {
			return p[0], nil
		}
		if isConstBool(p[0], !absorb) {
			return p[1], nil
		}
	}
	n := &node{typ: runtime.Boolean, nullable: l.nullable || r.nullable, col: -1}
	var ls, rs vec
	n.eval = func(b *runtime.Batch, dst *vec) *runtime.Vector {
		nn := b.Len()
		a, c := l.eval(b, &ls), r.eval(b, &rs)
		out := dst.reset(runtime.Boolean, nn)
		av, cv, o := a.I64[:nn], c.I64[:nn], out.I64[:nn]
		if op == OpAnd {
			for i := range o {
				o[i] = av[i] & cv[i]
			}
		} else {
			for i := range o {
				o[i] = av[i] | cv[i]
			}
		}
		if a.Null == nil && c.Null == nil {
			return out
		}
		// With NULLs: the absorbing value (FALSE for AND, TRUE for OR)
		// of a non-NULL side decides; otherwise a NULL side makes NULL.
		abs := b2i(absorb)
		nl := dst.nulls(nn)
		for i := range o {
			an := a.Null != nil && a.Null[i]
			cn := c.Null != nil && c.Null[i]
			switch {
			case !an && av[i] == abs, !cn && cv[i] == abs:
				o[i], nl[i] = abs, false
			case an || cn:
				o[i], nl[i] = 0, true
			}
		}
		return out
	}
	if op == OpAnd {
		// Filter in stages: r is evaluated only on the rows l keeps.
		var view runtime.Batch
		var tmp []int32
		n.sel = func(b *runtime.Batch, dst []int32) []int32 {
			start := len(dst)
			dst = l.selectRows(b, dst, &ls)
			if len(dst) == start {
				return dst
			}
			view = *b
			view.Sel = dst[start:]
			tmp = r.selectRows(&view, tmp[:0], &rs)
			view = runtime.Batch{}
			return append(dst[:start], tmp...)
		}
	}
	return fold(n, l, r), nil
}

// not compiles NOT x.
func (c *compiler) not(x *node, e Expr) (*node, error) {
	if !isBool(x) {
		return nil, errorf(e, "cannot apply NOT to %s", x.typ)
	}
	x = c.coerce(x, runtime.Boolean)
	n := &node{typ: runtime.Boolean, nullable: x.nullable, col: -1}
	var xs vec
	n.eval = func(b *runtime.Batch, dst *vec) *runtime.Vector {
		nn := b.Len()
		a := x.eval(b, &xs)
		out := dst.reset(runtime.Boolean, nn)
		o := out.I64[:nn]
		for i, v := range a.I64[:nn] {
			o[i] = v ^ 1
		}
		dst.setNulls(nn, a.Null, nil)
		return out
	}
	return fold(n, x), nil
}

// isNull compiles x IS NULL, or x IS NOT NULL when not is set.
func (c *compiler) isNull(x *node, not bool) *node {
	n := &node{typ: runtime.Boolean, col: -1}
	var xs vec
	want := !not
	n.eval = func(b *runtime.Batch, dst *vec) *runtime.Vector {
		nn := b.Len()
		a := x.eval(b, &xs)
		out := dst.reset(runtime.Boolean, nn)
		o := out.I64[:nn]
		if a.Null == nil {
			v := b2i(!want)
			for i := range o {
				o[i] = v
			}
			return out
		}
		for i, null := range a.Null[:nn] {
			o[i] = b2i(null == want)
		}
		return out
	}
	return fold(n, x)
}

// caseWhen compiles CASE; IF(c, a, b) is compiled through it.
func (c *compiler) caseWhen(e *caseExpr) (*node, error) {
	if len(e.whens) == 0 {
		return nil, errorf(e, "CASE needs at least one WHEN")
	}
	var conds, vals []*node
	for _, w := range e.whens {
		cond, err := c.compile(w.Cond)
		if err != nil {
			return nil, err
		}
		if !isBool(cond) {
			return nil, errorf(e, "CASE condition %s is %s, not BOOLEAN", w.Cond, cond.typ)
		}
		val, err := c.compile(w.Then)
		if err != nil {
			return nil, err
		}
		conds, vals = append(conds, c.coerce(cond, runtime.Boolean)), append(vals, val)
	}
	var els *node
	if e.els != nil {
		var err error
		if els, err = c.compile(e.els); err != nil {
			return nil, err
		}
	}
	return c.choose(conds, vals, els, e, "CASE branches")
}

// choose returns, for each row, the value of the first of vals whose
// condition is TRUE, or els (NULL when nil).
func (c *compiler) choose(conds, vals []*node, els *node, e Expr, what string) (*node, error) {
	all := append([]*node(nil), vals...)
	if els != nil {
		all = append(all, els)
	}
	typ, err := commonType(all, e, what)
	if err != nil {
		return nil, err
	}
	if els == nil {
		els = constNode(runtime.NullValue(typ))
	}
	els = c.coerce(els, typ)
	nullable := els.nullable
	for i := range vals {
		vals[i] = c.coerce(vals[i], typ)
		nullable = nullable || vals[i].nullable
	}
	// Drop arms that can never be taken; an arm always taken ends the list.
	var kc, kv []*node
	for i, cond := range conds {
		if cond.konst != nil && (cond.konst.Null || cond.konst.I == 0) {
			continue
		}
		if isConstBool(cond, true) {
			els = vals[i]
			break
		}
		kc, kv = append(kc, cond), append(kv, vals[i])
	}
	if len(kc) == 0 {
		return els, nil
	}
	n := &node{typ: typ, nullable: nullable, col: -1}
	switch typ.Physical() {
	case runtime.PhysFloat:
		n.eval = chooseEval(typ, kc, kv, els, f64, c.f)
	case runtime.PhysString:
		n.eval = chooseEval(typ, kc, kv, els, str, c.f)
	default:
		n.eval = chooseEval(typ, kc, kv, els, i64, c.f)
	}
	return fold(n, append(append(kc, kv...), els)...), nil
}

func chooseEval[T any](typ runtime.Type, conds, vals []*node, els *node, get func(*runtime.Vector) []T, f *faults) evalFunc {
	cs, vs := make([]vec, len(conds)), make([]vec, len(vals))
	var es vec
	var nulls []bool
	// Overflows of an arm count only for the rows that take it: the marks
	// delimit each part's faults, cvs keep the conditions to decide.
	marks := make([]int, 2*len(conds)+1)
	cvs := make([]*runtime.Vector, len(conds))
	return func(b *runtime.Batch, dst *vec) *runtime.Vector {
		n := b.Len()
		out := dst.reset(typ, n)
		o := get(out)[:n]
		start := len(f.list)
		e := els.eval(b, &es)
		marks[0] = len(f.list)
		copy(o, get(e)[:n])
		nulls = grow(nulls, n)
		anyNull := e.Null != nil
		if anyNull {
			copy(nulls, e.Null[:n])
		} else {
			clear(nulls)
		}
		// Later arms first, so that the first TRUE condition is written last.
		for k := len(conds) - 1; k >= 0; k-- {
			cv := conds[k].eval(b, &cs[k])
			marks[2*(len(conds)-k)-1] = len(f.list)
			vv := vals[k].eval(b, &vs[k])
			marks[2*(len(conds)-k)] = len(f.list)
			cvs[k] = cv
			cvals, vals := cv.I64[:n], get(vv)[:n]
			for i, x := range cvals {
				if x != 0 && (cv.Null == nil || !cv.Null[i]) {
					o[i] = vals[i]
					nulls[i] = vv.Null != nil && vv.Null[i]
				}
			}
			anyNull = anyNull || vv.Null != nil
		}
		if anyNull {
			copy(dst.nulls(n), nulls)
		}
		if len(f.list) > start {
			keepTakenArms(f, start, marks, cvs, b)
		}
		return out
	}
}

// keepTakenArms drops the overflows of CASE parts a row does not reach:
// faults[start:marks[0]] are the ELSE arm's, then for k from the last arm
// to the first, its condition's and its value's.
func keepTakenArms(f *faults, start int, marks []int, cvs []*runtime.Vector, b *runtime.Batch) {
	taken := func(i int) int { // the arm row i takes, len(cvs) for ELSE
		for k, cv := range cvs {
			if cv.I64[i] != 0 && (cv.Null == nil || !cv.Null[i]) {
				return k
			}
		}
		return len(cvs)
	}
	list := f.list
	f.list = f.list[:start]
	for j := start; j < len(list); j++ {
		part := 0 // index into marks of the part's end
		for marks[part] <= j {
			part++
		}
		arm, isCond := len(cvs), false // the ELSE arm
		if part > 0 {
			arm, isCond = len(cvs)-(part+1)/2, part%2 == 1
		}
		f.list = append(f.list, list[j])
		f.keep(len(f.list)-1, b, func(i int) bool {
			t := taken(i)
			if isCond {
				return t >= arm // no earlier arm was taken
			}
			return t == arm
		})
	}
}

// coalesce compiles COALESCE(args...).
func (c *compiler) coalesce(args []*node, e Expr) (*node, error) {
	typ, err := commonType(args, e, "COALESCE arguments")
	if err != nil {
		return nil, err
	}
	// Arguments after the first that is never NULL are never used; NULL
	// constants never are.
	var keep []*node
	for _, a := range args {
		if isNullConst(a) {
			continue
		}
		keep = append(keep, c.coerce(a, typ))
		if !a.nullable {
			break
		}
	}
	switch len(keep) {
	case 0:
		return constNode(runtime.NullValue(typ)), nil
	case 1:
		return keep[0], nil
	}
	n := &node{typ: typ, nullable: keep[len(keep)-1].nullable, col: -1}
	switch typ.Physical() {
	case runtime.PhysFloat:
		n.eval = coalesceEval(typ, keep, f64, c.f)
	case runtime.PhysString:
		n.eval = coalesceEval(typ, keep, str, c.f)
	default:
		n.eval = coalesceEval(typ, keep, i64, c.f)
	}
	return fold(n, keep...), nil
}

func coalesceEval[T any](typ runtime.Type, args []*node, get func(*runtime.Vector) []T, f *faults) evalFunc {
	vs := make([]vec, len(args))
	return func(b *runtime.Batch, dst *vec) *runtime.Vector {
		n := b.Len()
		out := dst.reset(typ, n)
		o := get(out)[:n]
		first := args[0].eval(b, &vs[0])
		copy(o, get(first)[:n])
		if first.Null == nil {
			return out
		}
		nl := dst.nulls(n)
		left := 0
		for i, null := range first.Null[:n] {
			nl[i] = null
			if null {
				left++
			}
		}
		// Later arguments are evaluated only while some row is still NULL.
		for k := 1; k < len(args) && left > 0; k++ {
			mark := len(f.list)
			v := args[k].eval(b, &vs[k])
			f.keep(mark, b, func(i int) bool { return nl[i] }) // rows still NULL use it
			vals := get(v)[:n]
			for i, null := range nl {
				if null && (v.Null == nil || !v.Null[i]) {
					o[i], nl[i] = vals[i], false
					left--
				}
			}
		}
		return out
	}
}

// in compiles x IN (list...).
func (c *compiler) in(e *inExpr) (*node, error) {
	if len(e.list) == 0 {
		return nil, errorf(e, "IN needs at least one value")
	}
	x, err := c.compile(e.x)
	if err != nil {
		return nil, err
	}
	typ := x.typ
	var items []*node
	hasNull := false
	allConst := true
	for _, le := range e.list {
		it, err := c.compile(le)
		if err != nil {
			return nil, err
		}
		if isNullConst(it) {
			hasNull = true
			continue
		}
		t, ok := compareType(typ, it.typ)
		if isNullConst(x) {
			t, ok = it.typ, true
		}
		if !ok {
			return nil, errorf(e, "cannot apply IN to %s and %s", x.typ, it.typ)
		}
		typ = t
		items = append(items, it)
		allConst = allConst && it.konst != nil
	}
	if isNullConst(x) || len(items) == 0 {
		return constNode(runtime.NullValue(runtime.Boolean)), nil
	}
	if !allConst {
		// x = i1 OR x = i2 OR ... has exactly IN's semantics; x is compiled
		// once per item as compiled nodes are not shared.
		var or *node
		for i, it := range items {
			xi := x
			if i > 0 {
				if xi, err = c.compile(e.x); err != nil {
					return nil, err
				}
			}
			eq, err := c.compare(OpEq, xi, it, e, "IN")
			if err != nil {
				return nil, err
			}
			if or == nil {
				or = eq
			} else if or, err = c.logic(OpOr, or, eq, e); err != nil {
				return nil, err
			}
		}
		if hasNull {
			return c.logic(OpOr, or, constNode(runtime.NullValue(runtime.Boolean)), e)
		}
		return or, nil
	}
	x = c.coerce(x, typ)
	n := &node{typ: runtime.Boolean, nullable: x.nullable || hasNull, col: -1}
	switch typ.Physical() {
	case runtime.PhysFloat:
		n.eval = inEval(x, newSet(items, typ, f64), hasNull, f64)
	case runtime.PhysString:
		n.eval = inEval(x, newSet(items, typ, str), hasNull, str)
	default:
		n.eval = inEval(x, newSet(items, typ, i64), hasNull, i64)
	}
	return fold(n, x), nil
}

// set is a set of constants: a short list is scanned, a long one hashed.
type set[T comparable] struct {
	list []T
	m    map[T]struct{}
}

func newSet[T comparable](items []*node, typ runtime.Type, get func(*runtime.Vector) []T) *set[T] {
	s := &set[T]{}
	for _, it := range items {
		v := *it.konst
		if v.Type != typ && (typ.IsDecimal() || v.Type.Physical() != typ.Physical()) {
			// An integer or DECIMAL in a DOUBLE list, or an item of a
			// DECIMAL list at the list's scale.
			t := runtime.Vector{Type: typ}
			t.AppendValue(v)
			v = t.Value(0)
		}
		s.list = append(s.list, constOf(v, get))
	}
	if len(s.list) > 8 {
		s.m = make(map[T]struct{}, len(s.list))
		for _, x := range s.list {
			s.m[x] = struct{}{}
		}
	}
	return s
}

func (s *set[T]) has(x T) bool {
	if s.m != nil {
		_, ok := s.m[x]
		return ok
	}
	for _, y := range s.list {
		if x == y {
			return true
		}
	}
	return false
}

func inEval[T comparable](x *node, s *set[T], hasNull bool, get func(*runtime.Vector) []T) evalFunc {
	var xs vec
	return func(b *runtime.Batch, dst *vec) *runtime.Vector {
		n := b.Len()
		a := x.eval(b, &xs)
		out := dst.reset(runtime.Boolean, n)
		o := out.I64[:n]
		for i, v := range get(a)[:n] {
			o[i] = b2i(s.has(v))
		}
		dst.setNulls(n, a.Null, nil)
		if hasNull {
			// Not found in a list holding NULL: unknown.
			nl := dst.nulls(n)
			for i, v := range o {
				if v == 0 {
					nl[i] = true
				}
			}
		}
		return out
	}
}
