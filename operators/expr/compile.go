package expr

import (
	endian "encoding/binary"
	"fmt"
	"strings"
	"unsafe"

	"github.com/sluicehq/sluice/runtime"
)

// Error is a compile error. Expr is the text of the offending
// subexpression, empty when the message already names what is wrong.
type Error struct {
	Expr string
	Msg  string
}

func (e *Error) Error() string {
	if e.Expr == "" {
		return e.Msg
	}
	return fmt.Sprintf("%s in %q", e.Msg, e.Expr)
}

func errorf(e Expr, format string, args ...any) error {
	err := &Error{Msg: fmt.Sprintf(format, args...)}
	if e != nil {
		err.Expr = e.String()
	}
	return err
}

// Compiled is an expression compiled against an input schema, ready to
// evaluate batches of that schema.
//
// A Compiled owns the scratch vectors of its evaluation, so it is not safe
// for concurrent use: compile one per subtask (compiling is cheap).
type Compiled struct {
	src  Expr
	root *node
	top  vec // takes over the caller's output vector during Eval
	bsel vec // scratch for Select on a node without its own select
	f    *faults
}

// Compile type-checks e against the columns of in and compiles it.
//
// Types: BOOLEAN is stored as 0/1 in Vector.I64; INT, BIGINT and TIMESTAMP
// in I64; DOUBLE in F64; VARCHAR in Str. Numbers promote INT < BIGINT <
// DOUBLE and integer arithmetic is computed in 64 bits, an INT result
// included; a result out of the 64-bit range is an error (see Err). TIMESTAMP ± INT/BIGINT milliseconds is a
// TIMESTAMP and TIMESTAMP - TIMESTAMP is BIGINT milliseconds. Numbers compare
// with numbers, and TIMESTAMPs, VARCHARs (by bytes, i.e. code points) and
// BOOLEANs (FALSE < TRUE) with their own type. Integer division truncates
// toward zero; division or MOD by zero is NULL for every numeric type.
//
// DECIMAL(p, s) is exact, stored unscaled in I64 (p <= 18): arithmetic
// with another DECIMAL or an integer is a DECIMAL typed by Flink's rules
// (DecimalAddType, DecimalMulType, DecimalDivType, DecimalModType; an INT
// counts as DECIMAL(10, 0), a BIGINT as DECIMAL(19, 0); results clamped to
// 18 digits), rounded half away from zero, and a result that does not fit
// its precision is an *OverflowError; with a DOUBLE it is a DOUBLE.
// DECIMALs compare by value across scales. CAST converts DECIMAL to and
// from INT, BIGINT (truncating), DOUBLE, VARCHAR and BOOLEAN, and between
// DECIMAL types (rounding); a value that does not fit the target is NULL.
// ABS, FLOOR, CEIL and ROUND(x, constant d) of a DECIMAL are exact, as
// Flink types them: ABS keeps the type, FLOOR and CEIL give DECIMAL(p-s+1,
// 0), ROUND gives DECIMAL(p-s+max(d, 0)+1, max(d, 0)) when d < s.
// DecimalLit types a literal by its digits.
//
// CAST converts between all types except BOOLEAN and TIMESTAMP. A conversion
// that cannot represent its input gives NULL: an unparsable VARCHAR, a DOUBLE
// that is NaN or out of range for an integer type, a BIGINT outside INT's
// range. VARCHAR to BOOLEAN accepts true/t/yes/y/1 and false/f/no/n/0 in any
// case; VARCHAR to TIMESTAMP accepts "2006-01-02 15:04:05[.fff]", the same
// with a T, an RFC 3339 time, or a date. Values convert to VARCHAR as
// runtime.Value.String prints them. DOUBLE to an integer truncates.
//
// Functions: UPPER, LOWER, TRIM (spaces) and CHAR_LENGTH (in characters) take
// a VARCHAR. CONCAT(a, ...) converts its arguments to VARCHAR and is NULL if
// any is. SUBSTRING(s, start[, len]) counts characters from 1, as Flink: a
// start of 0 means 1, a negative start counts from the end, a start past
// either end gives an empty string and a negative length gives NULL. ABS,
// FLOOR, CEIL and ROUND(x[, digits]) keep the numeric type of x; ROUND rounds
// half away from zero on the shortest decimal form of a DOUBLE
// (ROUND(2.675, 2) = 2.68). MOD(a, b) is a % b. COALESCE returns its first
// non-NULL argument and IF(c, a, b) is CASE WHEN c THEN a ELSE b END.
// PROCTIME() is the processing time, read once per batch (see ProcTime).
//
// More functions follow Flink's definitions, NULL in giving NULL out unless
// said otherwise: date and time functions in UTC (funcs_time.go:
// DATE_FORMAT with Java's pattern letters, EXTRACT(unit, ts) — the function
// form of EXTRACT(unit FROM ts) —, YEAR … SECOND, TO_TIMESTAMP,
// UNIX_TIMESTAMP, FROM_UNIXTIME, TO_TIMESTAMP_LTZ, TIMESTAMPADD,
// TIMESTAMPDIFF, FLOOR/CEIL(ts, unit), CURRENT_TIMESTAMP), string functions
// (funcs_string.go: REGEXP*, with Go's RE2 syntax, SPLIT_INDEX, REPLACE,
// POSITION, LOCATE, LPAD, RPAD, LTRIM, RTRIM, INITCAP, REVERSE, REPEAT,
// LEFT, RIGHT, CONCAT_WS, MD5, SHA1, SHA256) and math functions
// (funcs_math.go: POWER, SQRT, LN, LOG, EXP, trigonometry, SIGN, GREATEST,
// LEAST, TRUNCATE, PI), whose DOUBLE results are NULL where undefined. A
// constant pattern, regular expression or unit argument is checked and
// translated at compile time; an invalid one is a compile error. A call
// whose arguments are all constant folds, except for the functions of the
// processing time (UNIX_TIMESTAMP(), CURRENT_TIMESTAMP, NOW) and volatile
// registered functions. An argument of the wrong type is an error naming
// the function and the argument: "DATE_FORMAT's 2nd argument is BIGINT,
// not VARCHAR".
//
// Unknown columns or functions, wrong argument counts and type mismatches are
// errors of type *Error naming the expression.
func Compile(e Expr, in *runtime.Schema) (*Compiled, error) {
	if in == nil {
		in = runtime.NewSchema() // constants only
	}
	c := &compiler{schema: in, f: &faults{}}
	n, err := c.compile(e)
	if err != nil {
		return nil, err
	}
	if c.f.konst != "" {
		return nil, &Error{Msg: c.f.konst}
	}
	return &Compiled{src: e, root: n, f: c.f}, nil
}

// Err returns the error of the last Eval or Select: an *OverflowError when
// an integer result of a row did not fit in 64 bits (the values written
// for that row are then meaningless), else nil. Rows whose result is NULL,
// and CASE, IF and COALESCE arms not taken for a row, never fail.
func (c *Compiled) Err() error { return c.f.err() }

// Type is the type of the expression's values.
func (c *Compiled) Type() runtime.Type { return c.root.typ }

// Nullable reports whether the expression can be NULL.
func (c *Compiled) Nullable() bool { return c.root.nullable }

// String returns the text of the source expression.
func (c *Compiled) String() string { return c.src.String() }

// Column returns the input column the expression is, when it is nothing but
// a column reference.
func (c *Compiled) Column() (int, bool) { return c.root.col, c.root.isCol }

// Const returns the expression's value when it folded to a constant.
func (c *Compiled) Const() (runtime.Value, bool) {
	if c.root.konst != nil {
		return *c.root.konst, true
	}
	return runtime.Value{}, false
}

// Eval evaluates the expression for every present row of b (honouring b.Sel)
// and writes a compact vector of b.Len() rows to out, with out.Type set to
// c.Type(). out.Null is nil unless some result is NULL. Eval reuses the
// memory of out's slices, so out must not share memory with b or with a
// vector another caller still reads; in steady state it does not allocate
// (except for VARCHAR results that build new strings).
func (c *Compiled) Eval(b *runtime.Batch, out *runtime.Vector) {
	c.f.reset()
	c.top.Vector = *out
	r := c.root.eval(b, &c.top)
	if r != &c.top.Vector {
		c.top.copyFrom(r, b.Len())
	}
	c.top.trimNulls()
	c.top.Type = c.root.typ
	*out = c.top.Vector
	c.top.Vector = runtime.Vector{}
}

// Select appends to dst[:0] the physical row numbers of the present rows of
// b for which the expression is TRUE (not FALSE, not NULL), in order, and
// returns it: the selection vector of a filter. The expression must be
// BOOLEAN; any other selects no row.
func (c *Compiled) Select(b *runtime.Batch, dst []int32) []int32 {
	c.f.reset()
	if c.root.typ != runtime.Boolean {
		return dst[:0]
	}
	return c.root.selectRows(b, dst[:0], &c.bsel)
}

// node is one compiled expression node.
type node struct {
	typ      runtime.Type
	nullable bool
	konst    *runtime.Value // the node's value when it is a constant
	isCol    bool           // the node is a bare reference to column col
	col      int
	eval     evalFunc
	sel      selectFunc // nil: select from eval's result
	faults   *faults    // set on nodes that check for overflow
}

// evalFunc computes a node for each present row of b. The result has
// exactly b.Len() rows (its Null is nil or has that length). It is either
// dst's vector, written in place, or a vector owned by the node or by b (a
// column read without selection, a constant); the caller only reads it, and
// only until it calls the function again. dst belongs to the caller, which
// must not use it for anything else while it reads the result.
type evalFunc func(b *runtime.Batch, dst *vec) *runtime.Vector

// selectFunc appends to dst the physical rows of b where a BOOLEAN node is
// TRUE.
type selectFunc func(b *runtime.Batch, dst []int32) []int32

func (n *node) selectRows(b *runtime.Batch, dst []int32, scratch *vec) []int32 {
	if n.sel != nil {
		return n.sel(b, dst)
	}
	return selectTrue(n.eval(b, scratch), b.Sel, dst)
}

// selectTrue appends the physical rows whose BOOLEAN value in v is TRUE.
func selectTrue(v *runtime.Vector, bsel []int32, dst []int32) []int32 {
	vals := v.I64
	switch {
	case v.Null == nil && bsel == nil:
		for i, x := range vals {
			if x != 0 {
				dst = append(dst, int32(i))
			}
		}
	case v.Null == nil:
		for i, x := range vals {
			if x != 0 {
				dst = append(dst, bsel[i])
			}
		}
	default:
		nulls := v.Null[:len(vals)]
		for i, x := range vals {
			if x != 0 && !nulls[i] {
				if bsel == nil {
					dst = append(dst, int32(i))
				} else {
					dst = append(dst, bsel[i])
				}
			}
		}
	}
	return dst
}

// vec is a vector owned by a compiled node (or, during Eval, the caller's
// output) plus a spare null slice kept between batches, so that batches with
// NULLs do not allocate in steady state.
type vec struct {
	runtime.Vector
	spare []bool
}

// reset makes v hold n rows of type t, without nulls, and returns it.
func (v *vec) reset(t runtime.Type, n int) *runtime.Vector {
	v.Type = t
	if v.Null != nil {
		v.spare, v.Null = v.Null, nil
	}
	switch t.Physical() {
	case runtime.PhysFloat:
		v.F64 = grow(v.F64, n)
	case runtime.PhysString:
		v.Str = grow(v.Str, n)
	default:
		v.I64 = grow(v.I64, n)
	}
	return &v.Vector
}

// nulls returns v's null flags for n rows, creating them all false first.
func (v *vec) nulls(n int) []bool {
	if v.Null == nil {
		if cap(v.spare) >= n {
			v.Null = v.spare[:n]
			clear(v.Null)
		} else {
			v.Null = make([]bool, n)
		}
		v.spare = nil
	}
	return v.Null
}

// setNulls makes v's nulls the union of a and b (each nil or of n rows).
func (v *vec) setNulls(n int, a, b []bool) {
	switch {
	case a == nil && b == nil:
	case b == nil:
		copy(v.nulls(n), a[:n])
	case a == nil:
		copy(v.nulls(n), b[:n])
	default:
		orBools(v.nulls(n), a[:n], b[:n])
	}
}

// orBools sets dst[i] = a[i] || b[i] (len(a), len(b) >= len(dst)), eight
// flags at a time: a bool is one byte, 0 or 1, so the bytes' OR is the
// flags' OR. A loop of || branches on every flag, and NULLs are seldom
// predictable.
func orBools(dst, a, b []bool) {
	z, x, y := bytesOf(dst), bytesOf(a[:len(dst)]), bytesOf(b[:len(dst)])
	i := 0
	for ; i+8 <= len(z); i += 8 {
		endian.LittleEndian.PutUint64(z[i:], endian.LittleEndian.Uint64(x[i:])|endian.LittleEndian.Uint64(y[i:]))
	}
	for ; i < len(z); i++ {
		z[i] = x[i] | y[i]
	}
}

// bytesOf returns the memory of b as bytes.
func bytesOf(b []bool) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(b))), len(b))
}

// trimNulls drops v's null flags when none is set.
func (v *vec) trimNulls() {
	if v.Null == nil {
		return
	}
	for _, x := range v.Null {
		if x {
			return
		}
	}
	v.spare, v.Null = v.Null, nil
}

// copyFrom makes v a copy of the first n rows of src.
func (v *vec) copyFrom(src *runtime.Vector, n int) {
	v.reset(src.Type, n)
	switch src.Type.Physical() {
	case runtime.PhysFloat:
		copy(v.F64, src.F64[:n])
	case runtime.PhysString:
		copy(v.Str, src.Str[:n])
	default:
		copy(v.I64, src.I64[:n])
	}
	if src.Null != nil {
		copy(v.nulls(n), src.Null[:n])
	}
}

func grow[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]T, n, max(n, 2*cap(s)))
}

// compiler turns an AST into nodes.
type compiler struct {
	schema *runtime.Schema
	f      *faults // shared by the nodes of one Compiled
}

func (c *compiler) compile(e Expr) (*node, error) {
	switch e := e.(type) {
	case nil:
		return nil, &Error{Msg: "missing expression"}
	case *colRef:
		return c.column(e)
	case *literal:
		if !e.v.Type.Valid() {
			return nil, errorf(e, "constant of invalid type %s", e.v.Type)
		}
		return constNode(e.v), nil
	case *binary:
		l, err := c.compile(e.l)
		if err != nil {
			return nil, err
		}
		r, err := c.compile(e.r)
		if err != nil {
			return nil, err
		}
		return c.binary(e.op, l, r, e)
	case *unary:
		x, err := c.compile(e.x)
		if err != nil {
			return nil, err
		}
		switch e.op {
		case opNot:
			return c.not(x, e)
		case opNeg:
			return c.neg(x, e)
		case opIsNull:
			return c.isNull(x, false), nil
		default:
			return c.isNull(x, true), nil
		}
	case *caseExpr:
		return c.caseWhen(e)
	case *inExpr:
		return c.in(e)
	case *betweenExpr:
		// x is compiled twice: compiled nodes own their scratch state and
		// are never shared between parents.
		var ns [4]*node
		for i, x := range []Expr{e.x, e.lo, e.x, e.hi} {
			n, err := c.compile(x)
			if err != nil {
				return nil, err
			}
			ns[i] = n
		}
		ge, err := c.compare(OpGe, ns[0], ns[1], e, "BETWEEN")
		if err != nil {
			return nil, err
		}
		le, err := c.compare(OpLe, ns[2], ns[3], e, "BETWEEN")
		if err != nil {
			return nil, err
		}
		return c.logic(OpAnd, ge, le, e)
	case *likeExpr:
		return c.like(e)
	case *castExpr:
		x, err := c.compile(e.x)
		if err != nil {
			return nil, err
		}
		return c.cast(x, e.to, e)
	case *callExpr:
		if n, ok, err := c.decimalCall(e); ok {
			return n, err
		}
		return c.call(e)
	}
	return nil, &Error{Msg: fmt.Sprintf("unsupported expression %T", e)}
}

func (c *compiler) column(e *colRef) (*node, error) {
	i := e.index
	if e.byName {
		i = c.schema.Index(e.name)
		if i < 0 {
			return nil, &Error{Msg: fmt.Sprintf("unknown column %q (have: %s)", e.name, strings.Join(c.schema.Names(), ", "))}
		}
	} else if i < 0 || i >= c.schema.Len() {
		return nil, &Error{Msg: fmt.Sprintf("column %s out of range (the input has %d columns)", e, c.schema.Len())}
	}
	f := c.schema.Fields[i]
	var view runtime.Vector
	return &node{typ: f.Type, nullable: f.Nullable, isCol: true, col: i,
		eval: func(b *runtime.Batch, dst *vec) *runtime.Vector {
			src := &b.Cols[i]
			n := b.Len()
			if b.Sel == nil {
				view = runtime.Vector{Type: f.Type}
				switch f.Type.Physical() {
				case runtime.PhysFloat:
					view.F64 = src.F64[:n]
				case runtime.PhysString:
					view.Str = src.Str[:n]
				default:
					view.I64 = src.I64[:n]
				}
				if src.Null != nil {
					view.Null = src.Null[:n]
				}
				return &view
			}
			out := dst.reset(f.Type, n)
			switch f.Type.Physical() {
			case runtime.PhysFloat:
				gatherInto(out.F64, src.F64, b.Sel)
			case runtime.PhysString:
				gatherInto(out.Str, src.Str, b.Sel)
			default:
				gatherInto(out.I64, src.I64, b.Sel)
			}
			if src.Null != nil {
				for i, r := range b.Sel {
					if src.Null[r] {
						dst.nulls(n)[i] = true
					}
				}
			}
			return out
		}}, nil
}

func gatherInto[T any](dst, src []T, sel []int32) {
	dst = dst[:len(sel)]
	for i, r := range sel {
		dst[i] = src[r]
	}
}

// constNode is a node always evaluating to v.
func constNode(v runtime.Value) *node {
	if v.Null {
		v = runtime.NullValue(v.Type) // drop payloads
	}
	var full, view runtime.Vector
	full.Type = v.Type
	return &node{typ: v.Type, nullable: v.Null, konst: &v, col: -1,
		eval: func(b *runtime.Batch, _ *vec) *runtime.Vector {
			n := b.Len()
			if full.Len() < n {
				full.Reset()
				for range max(n, 64) {
					full.AppendValue(v)
				}
			}
			view = runtime.Vector{Type: v.Type}
			switch v.Type.Physical() {
			case runtime.PhysFloat:
				view.F64 = full.F64[:n]
			case runtime.PhysString:
				view.Str = full.Str[:n]
			default:
				view.I64 = full.I64[:n]
			}
			if full.Null != nil {
				view.Null = full.Null[:n]
			}
			return &view
		}}
}

var oneRow = &runtime.Batch{N: 1}

// fold replaces n by its value when every one of kids is constant (and
// there is at least one).
func fold(n *node, kids ...*node) *node {
	if len(kids) == 0 {
		return n
	}
	for _, k := range kids {
		if k.konst == nil {
			return n
		}
	}
	var scratch vec
	var mark int
	if n.faults != nil {
		mark = len(n.faults.list)
	}
	v := n.eval(oneRow, &scratch).Value(0)
	if n.faults != nil && len(n.faults.list) > mark {
		// A constant that overflows: a compile error, as in PostgreSQL.
		if n.faults.konst == "" {
			n.faults.konst = n.faults.list[mark].error()
		}
		n.faults.list = n.faults.list[:mark]
		return n
	}
	v.Type = n.typ
	return constNode(v)
}

// isNullConst reports whether n is a NULL constant, which adapts to any type.
func isNullConst(n *node) bool { return n.konst != nil && n.konst.Null }

// numericCommon is the type two numeric types promote to.
func numericCommon(a, b runtime.Type) runtime.Type {
	switch {
	case a == runtime.Double || b == runtime.Double:
		return runtime.Double
	case a == runtime.BigInt || b == runtime.BigInt:
		return runtime.BigInt
	}
	return runtime.Int
}

// unify returns the type values of types a and b are both converted to
// where a value of either is expected (CASE arms, COALESCE).
func unify(a, b runtime.Type) (runtime.Type, bool) {
	switch {
	case a == b:
		return a, true
	case a.Numeric() && b.Numeric():
		return numericCommon(a, b), true
	case a.IsDecimal() && b == runtime.Double, a == runtime.Double && b.IsDecimal():
		return runtime.Double, true
	case a.IsDecimal() || b.IsDecimal():
		p1, s1, ok1 := AsDecimal(a)
		p2, s2, ok2 := AsDecimal(b)
		if ok1 && ok2 {
			return DecimalUnify(p1, s1, p2, s2), true
		}
	}
	return runtime.Invalid, false
}

// commonType unifies the types of ns, leaving NULL constants out (they take
// any type) unless all are NULL constants.
func commonType(ns []*node, e Expr, what string) (runtime.Type, error) {
	typ := runtime.Invalid
	for _, n := range ns {
		if isNullConst(n) {
			continue
		}
		if typ == runtime.Invalid {
			typ = n.typ
			continue
		}
		t, ok := unify(typ, n.typ)
		if !ok {
			return typ, errorf(e, "%s have incompatible types %s and %s", what, typ, n.typ)
		}
		typ = t
	}
	if typ == runtime.Invalid {
		typ = ns[0].typ
	}
	return typ, nil
}

// coerce converts n to type t, which the typing rules chose.
// Types with the same storage need no conversion.
func (c *compiler) coerce(n *node, t runtime.Type) *node {
	switch {
	case n.typ == t:
		return n
	case isNullConst(n):
		return constNode(runtime.NullValue(t))
	case n.typ.Physical() == t.Physical() && (n.typ.Numeric() || n.typ == runtime.Timestamp) && (t.Numeric() || t == runtime.Timestamp):
		return n
	}
	m, err := c.cast(n, t, nil)
	if err != nil { // unify only picks convertible types
		return n
	}
	return m
}
