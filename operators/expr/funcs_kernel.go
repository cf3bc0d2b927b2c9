package expr

import (
	"github.com/sluicehq/sluice/runtime"
)

// Argument kinds of checkArgs.
const (
	argStr  = 's' // VARCHAR
	argInt  = 'i' // INT or BIGINT
	argNum  = 'n' // INT, BIGINT or DOUBLE
	argReal = 'd' // INT, BIGINT, DOUBLE or DECIMAL, computed as DOUBLE
	argTime = 't' // TIMESTAMP
	argTS   = 'T' // TIMESTAMP or VARCHAR
)

var argKindNames = map[byte]string{
	argStr: "VARCHAR", argInt: "INT or BIGINT", argNum: "numeric", argReal: "numeric", argTime: "TIMESTAMP(3)",
	argTS: "TIMESTAMP(3) or VARCHAR",
}

func argKindOK(k byte, t runtime.Type) bool {
	switch k {
	case argStr:
		return t == runtime.Varchar
	case argInt:
		return intLike(t)
	case argNum:
		return t.Numeric()
	case argReal:
		return t.Numeric() || t.IsDecimal()
	case argTime:
		return t == runtime.Timestamp
	case argTS:
		return t == runtime.Timestamp || t == runtime.Varchar
	}
	return false
}

// checkArgs checks args against kinds, one byte per argument (the last
// repeats for variadic functions): "DATE_FORMAT's 2nd argument is BIGINT,
// not VARCHAR".
func checkArgs(e *callExpr, args []*node, kinds string) error {
	for i, a := range args {
		k := kinds[min(i, len(kinds)-1)]
		if isNullConst(a) || argKindOK(k, a.typ) {
			continue
		}
		if k == argNum && a.typ.IsDecimal() {
			return errorf(e, "%s's %s argument is %s: %s does not take a DECIMAL yet; CAST it AS DOUBLE", e.name, ordinal(i+1), a.typ, e.name)
		}
		return errorf(e, "%s's %s argument is %s, not %s", e.name, ordinal(i+1), a.typ, argKindNames[k])
	}
	return nil
}

// anyNullable reports whether some of args can be NULL.
func anyNullable(args []*node) bool {
	for _, a := range args {
		if a.nullable {
			return true
		}
	}
	return false
}

// rowKernel compiles a function of args computed row by row: a row with a
// NULL argument is NULL; otherwise f writes row i of out from the argument
// vectors p and returns false for a NULL result. mayNull says whether f
// can return NULL. The node folds when every argument is constant.
func rowKernel(typ runtime.Type, mayNull bool, args []*node, f func(p []*runtime.Vector, i int, out *runtime.Vector) bool) *node {
	n := &node{typ: typ, nullable: mayNull || anyNullable(args), col: -1}
	vs := make([]vec, len(args))
	parts := make([]*runtime.Vector, len(args))
	phys := typ.Physical()
	n.eval = func(b *runtime.Batch, dst *vec) *runtime.Vector {
		nn := b.Len()
		out := dst.reset(typ, nn)
		someNull := false
		for k, a := range args {
			parts[k] = a.eval(b, &vs[k])
			someNull = someNull || parts[k].Null != nil
		}
		for i := 0; i < nn; i++ {
			if someNull && rowHasNull(parts, i) || !f(parts, i, out) {
				dst.nulls(nn)[i] = true
				switch phys {
				case runtime.PhysString:
					out.Str[i] = ""
				case runtime.PhysFloat:
					out.F64[i] = 0
				default:
					out.I64[i] = 0
				}
			}
		}
		return out
	}
	return fold(n, args...)
}

func rowHasNull(parts []*runtime.Vector, i int) bool {
	for _, p := range parts {
		if p.Null != nil && p.Null[i] {
			return true
		}
	}
	return false
}

// constString returns the value of n when it is a non-NULL VARCHAR
// constant.
func constString(n *node) (string, bool) {
	if n.konst == nil || n.konst.Null || n.typ != runtime.Varchar {
		return "", false
	}
	return n.konst.S, true
}

// cache memoizes a compilation of strings (a pattern given by a column, not
// a constant) per compiled node: bounded, emptied when full.
type cache[T any] struct {
	m       map[string]cached[T]
	compile func(string) (T, error)
}

type cached[T any] struct {
	v   T
	err error
}

const cacheSize = 64

func newCache[T any](compile func(string) (T, error)) *cache[T] {
	return &cache[T]{m: map[string]cached[T]{}, compile: compile}
}

func (c *cache[T]) get(s string) (T, error) {
	if e, ok := c.m[s]; ok {
		return e.v, e.err
	}
	if len(c.m) >= cacheSize {
		clear(c.m)
	}
	v, err := c.compile(s)
	c.m[s] = cached[T]{v, err}
	return v, err
}
