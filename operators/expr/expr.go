// Package expr holds Sluice's scalar expressions: an AST built with the
// constructors of this package, and a compiler that turns a tree, once, into
// closures evaluating a whole batch column at a time.
//
// Compiled code never walks the tree per row: each node evaluates its
// children into scratch vectors for the whole batch and then runs one tight
// typed loop. Comparisons and arithmetic between a column and a literal have
// their own loops, constant subtrees are folded at compile time, and a
// predicate can produce a selection vector directly (Compiled.Select).
//
// Semantics follow Flink SQL with SQL's three-valued logic: NULL in gives
// NULL out, except for AND/OR (FALSE AND NULL is FALSE, TRUE OR NULL is
// TRUE), IS [NOT] NULL, COALESCE, IF and CASE. Division or MOD by zero gives
// NULL rather than failing the job or producing ±Inf/NaN, so that one bad row
// never stops a stream. Integer results that do not fit in 64 bits are not
// wrapped: the evaluation reports an *OverflowError naming the subexpression
// and the row (Compiled.Err), as PostgreSQL raises "bigint out of range", and
// an overflowing constant is a compile error. Evaluation never panics.
package expr

import (
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/runtime"
)

// Expr is a node of an expression tree. String prints it as SQL-ish text,
// which compile errors quote and which calc uses as a default column name.
// Build trees with the constructors of this package and compile them with
// Compile.
type Expr interface{ String() string }

// Op is a binary operator.
type Op uint8

// Binary operators.
const (
	OpAdd Op = iota + 1
	OpSub
	OpMul
	OpDiv
	OpMod
	OpEq
	OpNe
	OpLt
	OpLe
	OpGt
	OpGe
	OpAnd
	OpOr
)

var opNames = [...]string{"", "+", "-", "*", "/", "%", "=", "<>", "<", "<=", ">", ">=", "AND", "OR"}

func (op Op) String() string {
	if int(op) < len(opNames) && op > 0 {
		return opNames[op]
	}
	return "Op(" + strconv.Itoa(int(op)) + ")"
}

func (op Op) arithmetic() bool { return op >= OpAdd && op <= OpMod }
func (op Op) comparison() bool { return op >= OpEq && op <= OpGe }

// flip returns the comparison with its operands swapped (a < b ⇔ b > a).
func (op Op) flip() Op {
	switch op {
	case OpLt:
		return OpGt
	case OpLe:
		return OpGe
	case OpGt:
		return OpLt
	case OpGe:
		return OpLe
	}
	return op
}

// Precedence levels for printing, loosest first.
const (
	precOr = iota + 1
	precAnd
	precNot
	precCmp
	precAdd
	precMul
	precNeg
	precAtom
)

func (op Op) prec() int {
	switch op {
	case OpOr:
		return precOr
	case OpAnd:
		return precAnd
	case OpAdd, OpSub:
		return precAdd
	case OpMul, OpDiv, OpMod:
		return precMul
	}
	return precCmp
}

type (
	colRef struct {
		name   string
		index  int
		byName bool
	}
	literal struct{ v runtime.Value }
	binary  struct {
		op   Op
		l, r Expr
	}
	unary struct {
		op unaryOp
		x  Expr
	}
	caseExpr struct {
		whens []When
		els   Expr
	}
	inExpr struct {
		x    Expr
		list []Expr
	}
	betweenExpr struct{ x, lo, hi Expr }
	likeExpr    struct{ x, pattern Expr }
	castExpr    struct {
		x  Expr
		to runtime.Type
	}
	callExpr struct {
		name string // upper case
		args []Expr
	}
)

type unaryOp uint8

const (
	opNot unaryOp = iota + 1
	opNeg
	opIsNull
	opIsNotNull
)

// When is one WHEN Cond THEN Then arm of a CASE expression.
type When struct {
	Cond, Then Expr
}

// Col refers to the input column called name (case-insensitive).
func Col(name string) Expr { return &colRef{name: name, byName: true} }

// ColIndex refers to input column i (0-based); it prints as $i.
func ColIndex(i int) Expr { return &colRef{index: i} }

// Lit is a constant.
func Lit(v runtime.Value) Expr { return &literal{v: v} }

// Int is a BIGINT constant.
func Int(x int64) Expr { return Lit(runtime.IntValue(x)) }

// Float is a DOUBLE constant.
func Float(x float64) Expr { return Lit(runtime.FloatValue(x)) }

// Str is a VARCHAR constant.
func Str(x string) Expr { return Lit(runtime.StringValue(x)) }

// Bool is a BOOLEAN constant.
func Bool(x bool) Expr { return Lit(runtime.BoolValue(x)) }

// Null is a NULL of type t. A NULL constant takes whatever type its context
// needs, so the type matters only where nothing else decides it (the result
// of CAST(NULL AS t) or a projected NULL column).
func Null(t runtime.Type) Expr { return Lit(runtime.NullValue(t)) }

// Timestamp is a TIMESTAMP constant, in milliseconds since the Unix epoch.
func Timestamp(ms int64) Expr { return Lit(runtime.TimeValue(ms)) }

// Binary applies op to l and r.
func Binary(op Op, l, r Expr) Expr { return &binary{op: op, l: l, r: r} }

// Arithmetic and comparison builders.
func Add(l, r Expr) Expr { return Binary(OpAdd, l, r) }
func Sub(l, r Expr) Expr { return Binary(OpSub, l, r) }
func Mul(l, r Expr) Expr { return Binary(OpMul, l, r) }
func Div(l, r Expr) Expr { return Binary(OpDiv, l, r) }
func Mod(l, r Expr) Expr { return Binary(OpMod, l, r) }
func Eq(l, r Expr) Expr  { return Binary(OpEq, l, r) }
func Ne(l, r Expr) Expr  { return Binary(OpNe, l, r) }
func Lt(l, r Expr) Expr  { return Binary(OpLt, l, r) }
func Le(l, r Expr) Expr  { return Binary(OpLe, l, r) }
func Gt(l, r Expr) Expr  { return Binary(OpGt, l, r) }
func Ge(l, r Expr) Expr  { return Binary(OpGe, l, r) }

// And is the conjunction of its arguments (TRUE when there are none).
func And(xs ...Expr) Expr { return chain(OpAnd, true, xs) }

// Or is the disjunction of its arguments (FALSE when there are none).
func Or(xs ...Expr) Expr { return chain(OpOr, false, xs) }

func chain(op Op, empty bool, xs []Expr) Expr {
	if len(xs) == 0 {
		return Bool(empty)
	}
	e := xs[0]
	for _, x := range xs[1:] {
		e = Binary(op, e, x)
	}
	return e
}

// Not is logical negation (NOT NULL is NULL).
func Not(x Expr) Expr { return &unary{op: opNot, x: x} }

// Neg is arithmetic negation.
func Neg(x Expr) Expr { return &unary{op: opNeg, x: x} }

// IsNull is TRUE when x is NULL; it is never NULL itself.
func IsNull(x Expr) Expr { return &unary{op: opIsNull, x: x} }

// IsNotNull is TRUE when x is not NULL; it is never NULL itself.
func IsNotNull(x Expr) Expr { return &unary{op: opIsNotNull, x: x} }

// Case is CASE WHEN c1 THEN v1 ... ELSE elseExpr END; a nil elseExpr means
// ELSE NULL.
func Case(whens []When, elseExpr Expr) Expr {
	return &caseExpr{whens: append([]When(nil), whens...), els: elseExpr}
}

// In is x IN (list...): TRUE when x equals an element, otherwise NULL when x
// or an element is NULL, otherwise FALSE.
func In(x Expr, list ...Expr) Expr { return &inExpr{x: x, list: append([]Expr(nil), list...)} }

// Between is x BETWEEN lo AND hi, that is x >= lo AND x <= hi.
func Between(x, lo, hi Expr) Expr { return &betweenExpr{x: x, lo: lo, hi: hi} }

// Like is x LIKE pattern, where % matches any run of characters and _ one
// character. There is no escape character.
func Like(x, pattern Expr) Expr { return &likeExpr{x: x, pattern: pattern} }

// Cast converts x to type t (see Compile for the conversions).
func Cast(x Expr, t runtime.Type) Expr { return &castExpr{x: x, to: t} }

// Call applies the function called name (case-insensitive) to args: a
// built-in (see Compile and the funcs_*.go files; FunctionNames lists them)
// or a function registered with RegisterFunction.
func Call(name string, args ...Expr) Expr {
	return &callExpr{name: strings.ToUpper(name), args: append([]Expr(nil), args...)}
}

// --- printing ---

func (e *colRef) String() string {
	if !e.byName {
		return "$" + strconv.Itoa(e.index)
	}
	return quoteIdent(e.name)
}

func quoteIdent(s string) string {
	ok := s != ""
	for i, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	return "`" + strings.ReplaceAll(s, "`", "``") + "`"
}

func (e *literal) String() string { return formatLiteral(e.v) }

func formatLiteral(v runtime.Value) string {
	if v.Null {
		return "NULL"
	}
	switch v.Type {
	case runtime.Varchar:
		return "'" + strings.ReplaceAll(v.S, "'", "''") + "'"
	case runtime.Timestamp:
		return "TIMESTAMP '" + v.String() + "'"
	}
	return v.String()
}

func (e *binary) String() string {
	p := e.op.prec()
	// Comparisons do not associate; arithmetic is printed left-associative.
	lp, rp := p, p+1
	if p == precCmp {
		lp = p + 1
	}
	if e.op == OpAnd || e.op == OpOr {
		rp = p
	}
	return paren(e.l, lp) + " " + e.op.String() + " " + paren(e.r, rp)
}

// paren prints x, in parentheses when it binds more loosely than min.
func paren(x Expr, min int) string {
	s := x.String()
	if precOf(x) < min {
		return "(" + s + ")"
	}
	return s
}

func precOf(x Expr) int {
	switch x := x.(type) {
	case *binary:
		return x.op.prec()
	case *unary:
		switch x.op {
		case opNot:
			return precNot
		case opNeg:
			return precNeg
		}
		return precCmp
	case *inExpr, *betweenExpr, *likeExpr:
		return precCmp
	case *literal:
		if s := x.String(); strings.HasPrefix(s, "-") {
			return precNeg
		}
	}
	return precAtom
}

func (e *unary) String() string {
	switch e.op {
	case opNot:
		return "NOT " + paren(e.x, precNot)
	case opNeg:
		s := paren(e.x, precAtom)
		if strings.HasPrefix(s, "-") {
			s = "(" + s + ")"
		}
		return "-" + s
	case opIsNull:
		return paren(e.x, precCmp+1) + " IS NULL"
	}
	return paren(e.x, precCmp+1) + " IS NOT NULL"
}

func (e *caseExpr) String() string {
	var b strings.Builder
	b.WriteString("CASE")
	for _, w := range e.whens {
		b.WriteString(" WHEN ")
		b.WriteString(w.Cond.String())
		b.WriteString(" THEN ")
		b.WriteString(w.Then.String())
	}
	if e.els != nil {
		b.WriteString(" ELSE ")
		b.WriteString(e.els.String())
	}
	b.WriteString(" END")
	return b.String()
}

func (e *inExpr) String() string {
	return paren(e.x, precCmp+1) + " IN (" + joinExprs(e.list) + ")"
}

func (e *betweenExpr) String() string {
	return paren(e.x, precCmp+1) + " BETWEEN " + paren(e.lo, precCmp+1) + " AND " + paren(e.hi, precCmp+1)
}

func (e *likeExpr) String() string {
	return paren(e.x, precCmp+1) + " LIKE " + paren(e.pattern, precCmp+1)
}

func (e *castExpr) String() string {
	return "CAST(" + e.x.String() + " AS " + e.to.String() + ")"
}

func (e *callExpr) String() string { return e.name + "(" + joinExprs(e.args) + ")" }

func joinExprs(xs []Expr) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = x.String()
	}
	return strings.Join(s, ", ")
}
