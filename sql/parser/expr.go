package parser

import (
	"strconv"
	"strings"
)

// Expr is an expression of a query. Every expression knows where it
// starts in the job file (Position) and prints itself back as canonical
// SQL (String): upper-case keywords, every column and alias in backticks,
// parentheses where precedence needs them. Parsing String() gives an equal
// expression (positions aside).
type Expr interface {
	Position() Pos
	String() string
	exprNode()
}

// Ident is a name: a column `a`, a qualified column `t.a` or a field
// `t.a.f`. Parts are kept as written (without quotes, case kept); which
// part is a table, a column or a field is for the planner to decide.
type Ident struct {
	Parts []string
	Pos   Pos // of the first part
	End   Pos // just past the last part
}

// LitKind is the kind of a Literal.
type LitKind uint8

// The kinds of literals.
const (
	LitNumber  LitKind = iota + 1 // Text is the number exactly as written: 0.908, 1e3, 42
	LitString                     // Text is the string's value, '' unescaped
	LitTrue                       // TRUE
	LitFalse                      // FALSE
	LitUnknown                    // UNKNOWN
	LitNull                       // NULL
)

// Literal is a number, a string, TRUE, FALSE, UNKNOWN or NULL.
type Literal struct {
	Kind LitKind
	Text string
	Pos  Pos
	End  Pos
}

// Interval is INTERVAL 'Value' Unit [TO ToUnit]: INTERVAL '10' SECOND,
// INTERVAL '2:30' MINUTE TO SECOND. The MySQL form INTERVAL 10 SECOND
// parses to the same node. Units are upper case and singular (SECONDS is
// read as SECOND).
type Interval struct {
	Value  string // as written inside the quotes, or the bare number
	Unit   string
	ToUnit string // empty without TO
	Pos    Pos    // of INTERVAL
}

// TypedLit is DATE '…', TIME '…' or TIMESTAMP '…'.
type TypedLit struct {
	Type  string // DATE, TIME or TIMESTAMP
	Value string
	Pos   Pos
}

// Unary is -X, +X or NOT X.
type Unary struct {
	Op  string // "-", "+" or "NOT"
	X   Expr
	Pos Pos // of the operator
}

// Binary is L Op R, Op one of OR, AND, =, <>, <, <=, >, >=, +, -, *, /,
// %, ||. != is read as <>.
type Binary struct {
	Op    string
	L, R  Expr
	OpPos Pos
}

// Is is X IS [NOT] NULL|TRUE|FALSE|UNKNOWN, or X IS [NOT] DISTINCT FROM
// From.
type Is struct {
	X     Expr
	Not   bool
	What  string // NULL, TRUE, FALSE, UNKNOWN or DISTINCT FROM
	From  Expr   // the right side of DISTINCT FROM, else nil
	OpPos Pos    // of IS
}

// Between is X [NOT] BETWEEN [SYMMETRIC] Lo AND Hi.
type Between struct {
	X, Lo, Hi Expr
	Not       bool
	Symmetric bool
	OpPos     Pos // of BETWEEN (or of NOT before it)
}

// In is X [NOT] IN (List) or X [NOT] IN (Query).
type In struct {
	X     Expr
	Not   bool
	List  []Expr    // nil when Query is set
	Query QueryExpr // nil for a list
	OpPos Pos
}

// Like is X [NOT] LIKE Pattern [ESCAPE Escape], or SIMILAR TO.
type Like struct {
	X, Pattern Expr
	Escape     Expr // nil without ESCAPE
	Not        bool
	Similar    bool // SIMILAR TO rather than LIKE
	OpPos      Pos
}

// Exists is EXISTS (Query).
type Exists struct {
	Query QueryExpr
	Pos   Pos
}

// Subquery is a query in an expression: a scalar subquery (SELECT …).
type Subquery struct {
	Query QueryExpr
	Pos   Pos // of '('
	End   Pos // just past ')'
}

// Call is a function call: name(args), with [DISTINCT], * (COUNT(*)),
// FILTER (WHERE …) and OVER. Special forms are calls too:
// SUBSTRING(s FROM i FOR n) is SUBSTRING with the arguments s, i, n;
// POSITION(a IN b) is POSITION(a, b); OVERLAY(s PLACING r FROM i FOR n) is
// OVERLAY(s, r, i, n); ROW(a, b) is ROW; CURRENT_TIMESTAMP, LOCALTIMESTAMP,
// CURRENT_DATE, CURRENT_TIME and LOCALTIME written without parentheses are
// calls with Bare set. Name is as written; compare it case-insensitively.
type Call struct {
	Name     string
	Distinct bool
	Star     bool // COUNT(*)
	Args     []Expr
	Bare     bool    // written without parentheses
	Filter   Expr    // FILTER (WHERE Filter), or nil
	Over     *Window // OVER (…), or nil
	OverName string  // OVER name, or ""
	Pos      Pos     // of the name
	End      Pos     // just past the ')' of the arguments
}

// Window is the (…) of OVER: PARTITION BY, ORDER BY and a frame.
type Window struct {
	PartitionBy []Expr
	OrderBy     []OrderItem
	Frame       *Frame // nil: the default frame
	Pos         Pos    // of '('
}

// Frame is ROWS|RANGE BETWEEN Start AND End. A frame written with one
// bound (ROWS 10 PRECEDING) has End CURRENT ROW, as SQL defines it.
type Frame struct {
	Unit       string // ROWS or RANGE
	Start, End Bound
	Pos        Pos
}

// BoundKind is the kind of a frame bound.
type BoundKind uint8

// The kinds of frame bounds.
const (
	UnboundedPreceding BoundKind = iota + 1
	Preceding                    // Offset PRECEDING
	CurrentRow
	Following // Offset FOLLOWING
	UnboundedFollowing
)

// Bound is one end of a frame.
type Bound struct {
	Kind   BoundKind
	Offset Expr // for Preceding and Following: a number or an INTERVAL
	Pos    Pos
}

// OrderItem is an expression of ORDER BY with its direction.
type OrderItem struct {
	X     Expr
	Desc  bool
	Nulls string // "", FIRST or LAST
}

// Cast is CAST(X AS Type) or TRY_CAST.
type Cast struct {
	X   Expr
	To  *TypeName
	Try bool
	Pos Pos
}

// TypeName is a type as written in CAST or a ROW/ARRAY type: the planner
// maps it to a runtime type. Name is upper case; synonyms are kept
// (INTEGER, NUMERIC) except the multi-word ones: DOUBLE PRECISION is
// DOUBLE, TIMESTAMP WITH LOCAL TIME ZONE is TIMESTAMP_LTZ.
type TypeName struct {
	Name    string
	Params  []int       // VARCHAR(n), DECIMAL(p, s), TIMESTAMP(p)
	Fields  []RowField  // ROW<name type, …>
	Elems   []*TypeName // ARRAY<t>, MULTISET<t>, MAP<k, v>
	NotNull bool
	Pos     Pos
}

// RowField is a field of a ROW type.
type RowField struct {
	Name string
	Type *TypeName
	Pos  Pos
}

// Case is CASE [Operand] WHEN … THEN … [ELSE …] END.
type Case struct {
	Operand Expr // nil for a searched CASE
	Whens   []When
	Else    Expr // nil without ELSE
	Pos     Pos
	End     Pos // just past END
}

// When is one WHEN Cond THEN Result of a CASE.
type When struct {
	Cond, Result Expr
	Pos          Pos
}

// Extract is EXTRACT(Unit FROM X).
type Extract struct {
	Unit string // upper case: YEAR, MONTH, DAY, HOUR, MINUTE, SECOND, …
	X    Expr
	Pos  Pos
}

// Trim is TRIM([BOTH|LEADING|TRAILING] [Chars] FROM X) or TRIM(X).
type Trim struct {
	Mode  string // BOTH, LEADING, TRAILING, or "" when not written
	Chars Expr   // nil: spaces
	X     Expr
	Pos   Pos
}

// Item is X[Index]: an array element or a map value.
type Item struct {
	X, Index Expr
}

// Star is * or t.* in a select list.
type Star struct {
	Qualifier *Ident // nil for *
	Pos       Pos
}

// NamedArg is Name => Value, an argument of a table function.
type NamedArg struct {
	Name  string
	Value Expr
	Pos   Pos
}

// TableArg is TABLE name [PARTITION BY cols], an argument of a table
// function.
type TableArg struct {
	Name        *Ident
	PartitionBy []*Ident
	Pos         Pos
}

// Descriptor is DESCRIPTOR(col, …), an argument of a table function.
type Descriptor struct {
	Columns []*Ident
	Pos     Pos
}

func (e *Ident) Position() Pos      { return e.Pos }
func (e *Literal) Position() Pos    { return e.Pos }
func (e *Interval) Position() Pos   { return e.Pos }
func (e *TypedLit) Position() Pos   { return e.Pos }
func (e *Unary) Position() Pos      { return e.Pos }
func (e *Binary) Position() Pos     { return e.L.Position() }
func (e *Is) Position() Pos         { return e.X.Position() }
func (e *Between) Position() Pos    { return e.X.Position() }
func (e *In) Position() Pos         { return e.X.Position() }
func (e *Like) Position() Pos       { return e.X.Position() }
func (e *Exists) Position() Pos     { return e.Pos }
func (e *Subquery) Position() Pos   { return e.Pos }
func (e *Call) Position() Pos       { return e.Pos }
func (e *Cast) Position() Pos       { return e.Pos }
func (e *Case) Position() Pos       { return e.Pos }
func (e *Extract) Position() Pos    { return e.Pos }
func (e *Trim) Position() Pos       { return e.Pos }
func (e *Item) Position() Pos       { return e.X.Position() }
func (e *Star) Position() Pos       { return e.Pos }
func (e *NamedArg) Position() Pos   { return e.Pos }
func (e *TableArg) Position() Pos   { return e.Pos }
func (e *Descriptor) Position() Pos { return e.Pos }

func (*Ident) exprNode()      {}
func (*Literal) exprNode()    {}
func (*Interval) exprNode()   {}
func (*TypedLit) exprNode()   {}
func (*Unary) exprNode()      {}
func (*Binary) exprNode()     {}
func (*Is) exprNode()         {}
func (*Between) exprNode()    {}
func (*In) exprNode()         {}
func (*Like) exprNode()       {}
func (*Exists) exprNode()     {}
func (*Subquery) exprNode()   {}
func (*Call) exprNode()       {}
func (*Cast) exprNode()       {}
func (*Case) exprNode()       {}
func (*Extract) exprNode()    {}
func (*Trim) exprNode()       {}
func (*Item) exprNode()       {}
func (*Star) exprNode()       {}
func (*NamedArg) exprNode()   {}
func (*TableArg) exprNode()   {}
func (*Descriptor) exprNode() {}

// Precedence levels, lowest first: how tightly an operator binds.
const (
	precOr = iota + 1
	precAnd
	precNot
	precCmp // = <> < <= > >= IS BETWEEN IN LIKE
	precAdd // + -
	precMul // * / % ||
	precUnary
	precPrimary
)

// binaryPrec is the precedence of each binary operator.
var binaryPrec = map[string]int{
	"OR": precOr, "AND": precAnd,
	"=": precCmp, "<>": precCmp, "<": precCmp, "<=": precCmp, ">": precCmp, ">=": precCmp,
	"+": precAdd, "-": precAdd,
	"*": precMul, "/": precMul, "%": precMul, "||": precMul,
}

// prec returns how tightly e binds when printed.
func prec(e Expr) int {
	switch e := e.(type) {
	case *Binary:
		return binaryPrec[e.Op]
	case *Unary:
		if e.Op == "NOT" {
			return precNot
		}
		return precUnary
	case *Is, *Between, *In, *Like:
		return precCmp
	}
	return precPrimary
}

// paren prints e, in parentheses when it binds less tightly than min.
func paren(b *strings.Builder, e Expr, min int) {
	if prec(e) < min {
		b.WriteByte('(')
		b.WriteString(e.String())
		b.WriteByte(')')
		return
	}
	b.WriteString(e.String())
}

func (e *Ident) String() string {
	parts := make([]string, len(e.Parts))
	for i, p := range e.Parts {
		parts[i] = QuoteIdent(p)
	}
	return strings.Join(parts, ".")
}

func (e *Literal) String() string {
	switch e.Kind {
	case LitNumber:
		return e.Text
	case LitString:
		return QuoteString(e.Text)
	case LitTrue:
		return "TRUE"
	case LitFalse:
		return "FALSE"
	case LitUnknown:
		return "UNKNOWN"
	}
	return "NULL"
}

func (e *Interval) String() string {
	s := "INTERVAL " + QuoteString(e.Value) + " " + e.Unit
	if e.ToUnit != "" {
		s += " TO " + e.ToUnit
	}
	return s
}

func (e *TypedLit) String() string { return e.Type + " " + QuoteString(e.Value) }

func (e *Unary) String() string {
	var b strings.Builder
	if e.Op == "NOT" {
		b.WriteString("NOT ")
		paren(&b, e.X, precNot)
		return b.String()
	}
	b.WriteString(e.Op)
	// -(-x), not --x, which would be a comment.
	paren(&b, e.X, precPrimary)
	return b.String()
}

func (e *Binary) String() string {
	var b strings.Builder
	p := binaryPrec[e.Op]
	lmin, rmin := p, p+1
	if p == precCmp { // comparisons of comparisons read better in parentheses
		lmin = p + 1
	}
	paren(&b, e.L, lmin)
	b.WriteString(" " + e.Op + " ")
	paren(&b, e.R, rmin)
	return b.String()
}

func (e *Is) String() string {
	var b strings.Builder
	paren(&b, e.X, precCmp+1)
	b.WriteString(" IS ")
	if e.Not {
		b.WriteString("NOT ")
	}
	b.WriteString(e.What)
	if e.From != nil {
		b.WriteByte(' ')
		paren(&b, e.From, precCmp+1)
	}
	return b.String()
}

func (e *Between) String() string {
	var b strings.Builder
	paren(&b, e.X, precCmp+1)
	if e.Not {
		b.WriteString(" NOT")
	}
	b.WriteString(" BETWEEN ")
	if e.Symmetric {
		b.WriteString("SYMMETRIC ")
	}
	paren(&b, e.Lo, precAdd)
	b.WriteString(" AND ")
	paren(&b, e.Hi, precAdd)
	return b.String()
}

func (e *In) String() string {
	var b strings.Builder
	paren(&b, e.X, precCmp+1)
	if e.Not {
		b.WriteString(" NOT")
	}
	b.WriteString(" IN (")
	if e.Query != nil {
		b.WriteString(e.Query.String())
	} else {
		writeExprs(&b, e.List)
	}
	b.WriteByte(')')
	return b.String()
}

func (e *Like) String() string {
	var b strings.Builder
	paren(&b, e.X, precCmp+1)
	if e.Not {
		b.WriteString(" NOT")
	}
	if e.Similar {
		b.WriteString(" SIMILAR TO ")
	} else {
		b.WriteString(" LIKE ")
	}
	paren(&b, e.Pattern, precAdd)
	if e.Escape != nil {
		b.WriteString(" ESCAPE ")
		paren(&b, e.Escape, precAdd)
	}
	return b.String()
}

func (e *Exists) String() string   { return "EXISTS (" + e.Query.String() + ")" }
func (e *Subquery) String() string { return "(" + e.Query.String() + ")" }

func writeExprs(b *strings.Builder, es []Expr) {
	for i, x := range es {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(x.String())
	}
}

// funcName prints the name of a function: plain when it reads back as
// the same plain call, else in backticks.
func funcName(name string) string {
	if isPlainName(name) && !specialWords[strings.ToUpper(name)] {
		return name
	}
	return QuoteIdent(name)
}

// isPlainName reports whether name lexes as one plain identifier.
func isPlainName(name string) bool {
	for i, r := range name {
		if i == 0 && !isIdentStart(r) || i > 0 && !isIdentPart(r) {
			return false
		}
	}
	return name != ""
}

func (e *Call) String() string {
	var b strings.Builder
	// The special forms print as such only under the names their parsing
	// gives (upper case); `position`(a, b) stays a plain call.
	upper := e.Name
	switch {
	case e.Bare:
		b.WriteString(strings.ToUpper(e.Name))
	case upper == "POSITION" && len(e.Args) == 2 && !e.Distinct && !e.Star:
		b.WriteString("POSITION(")
		paren(&b, e.Args[0], precAdd)
		b.WriteString(" IN ")
		b.WriteString(e.Args[1].String())
		b.WriteByte(')')
	case upper == "SUBSTRING" && (len(e.Args) == 2 || len(e.Args) == 3) && !e.Distinct && !e.Star:
		b.WriteString("SUBSTRING(")
		b.WriteString(e.Args[0].String())
		b.WriteString(" FROM ")
		b.WriteString(e.Args[1].String())
		if len(e.Args) == 3 {
			b.WriteString(" FOR ")
			b.WriteString(e.Args[2].String())
		}
		b.WriteByte(')')
	case upper == "OVERLAY" && (len(e.Args) == 3 || len(e.Args) == 4) && !e.Distinct && !e.Star:
		b.WriteString("OVERLAY(")
		b.WriteString(e.Args[0].String())
		b.WriteString(" PLACING ")
		b.WriteString(e.Args[1].String())
		b.WriteString(" FROM ")
		b.WriteString(e.Args[2].String())
		if len(e.Args) == 4 {
			b.WriteString(" FOR ")
			b.WriteString(e.Args[3].String())
		}
		b.WriteByte(')')
	default:
		b.WriteString(funcName(e.Name))
		b.WriteByte('(')
		if e.Distinct {
			b.WriteString("DISTINCT ")
		}
		if e.Star {
			b.WriteByte('*')
		}
		writeExprs(&b, e.Args)
		b.WriteByte(')')
	}
	if e.Filter != nil {
		b.WriteString(" FILTER (WHERE ")
		b.WriteString(e.Filter.String())
		b.WriteByte(')')
	}
	if e.Over != nil {
		b.WriteString(" OVER ")
		b.WriteString(e.Over.String())
	} else if e.OverName != "" {
		b.WriteString(" OVER ")
		b.WriteString(QuoteIdent(e.OverName))
	}
	return b.String()
}

func (w *Window) String() string {
	var b strings.Builder
	b.WriteByte('(')
	sep := ""
	if len(w.PartitionBy) > 0 {
		b.WriteString("PARTITION BY ")
		writeExprs(&b, w.PartitionBy)
		sep = " "
	}
	if len(w.OrderBy) > 0 {
		b.WriteString(sep)
		b.WriteString("ORDER BY ")
		writeOrder(&b, w.OrderBy)
		sep = " "
	}
	if w.Frame != nil {
		b.WriteString(sep)
		b.WriteString(w.Frame.String())
	}
	b.WriteByte(')')
	return b.String()
}

func (f *Frame) String() string {
	return f.Unit + " BETWEEN " + f.Start.String() + " AND " + f.End.String()
}

func (bd Bound) String() string {
	switch bd.Kind {
	case UnboundedPreceding:
		return "UNBOUNDED PRECEDING"
	case UnboundedFollowing:
		return "UNBOUNDED FOLLOWING"
	case CurrentRow:
		return "CURRENT ROW"
	case Preceding:
		return parenString(bd.Offset, precAdd) + " PRECEDING"
	}
	return parenString(bd.Offset, precAdd) + " FOLLOWING"
}

func parenString(e Expr, min int) string {
	var b strings.Builder
	paren(&b, e, min)
	return b.String()
}

func writeOrder(b *strings.Builder, items []OrderItem) {
	for i, o := range items {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(o.String())
	}
}

func (o OrderItem) String() string {
	s := o.X.String()
	if o.Desc {
		s += " DESC"
	}
	if o.Nulls != "" {
		s += " NULLS " + o.Nulls
	}
	return s
}

func (e *Cast) String() string {
	name := "CAST"
	if e.Try {
		name = "TRY_CAST"
	}
	return name + "(" + e.X.String() + " AS " + e.To.String() + ")"
}

func (t *TypeName) String() string {
	var b strings.Builder
	switch {
	case t.Name == "TIMESTAMP_LTZ" || len(t.Fields) == 0 && len(t.Elems) == 0 && t.Name != "ROW":
		b.WriteString(t.Name)
		if len(t.Params) > 0 {
			b.WriteByte('(')
			for i, p := range t.Params {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(strconv.Itoa(p))
			}
			b.WriteByte(')')
		}
	case t.Name == "ROW":
		b.WriteString("ROW<")
		for i, f := range t.Fields {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(QuoteIdent(f.Name))
			b.WriteByte(' ')
			b.WriteString(f.Type.String())
		}
		b.WriteByte('>')
	default:
		b.WriteString(t.Name)
		b.WriteByte('<')
		for i, e := range t.Elems {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(e.String())
		}
		b.WriteByte('>')
	}
	if t.NotNull {
		b.WriteString(" NOT NULL")
	}
	return b.String()
}

func (e *Case) String() string {
	var b strings.Builder
	b.WriteString("CASE")
	if e.Operand != nil {
		b.WriteByte(' ')
		b.WriteString(e.Operand.String())
	}
	for _, w := range e.Whens {
		b.WriteString(" WHEN ")
		b.WriteString(w.Cond.String())
		b.WriteString(" THEN ")
		b.WriteString(w.Result.String())
	}
	if e.Else != nil {
		b.WriteString(" ELSE ")
		b.WriteString(e.Else.String())
	}
	b.WriteString(" END")
	return b.String()
}

func (e *Extract) String() string { return "EXTRACT(" + e.Unit + " FROM " + e.X.String() + ")" }

func (e *Trim) String() string {
	var b strings.Builder
	b.WriteString("TRIM(")
	if e.Mode != "" || e.Chars != nil {
		if e.Mode != "" {
			b.WriteString(e.Mode)
			b.WriteByte(' ')
		}
		if e.Chars != nil {
			paren(&b, e.Chars, precAdd)
			b.WriteByte(' ')
		}
		b.WriteString("FROM ")
	}
	b.WriteString(e.X.String())
	b.WriteByte(')')
	return b.String()
}

func (e *Item) String() string {
	var b strings.Builder
	paren(&b, e.X, precPrimary)
	b.WriteByte('[')
	b.WriteString(e.Index.String())
	b.WriteByte(']')
	return b.String()
}

func (e *Star) String() string {
	if e.Qualifier != nil {
		return e.Qualifier.String() + ".*"
	}
	return "*"
}

func (e *NamedArg) String() string { return QuoteIdent(e.Name) + " => " + e.Value.String() }

func (e *TableArg) String() string {
	s := "TABLE " + e.Name.String()
	if len(e.PartitionBy) > 0 {
		parts := make([]string, len(e.PartitionBy))
		for i, c := range e.PartitionBy {
			parts[i] = c.String()
		}
		s += " PARTITION BY (" + strings.Join(parts, ", ") + ")"
	}
	return s
}

func (e *Descriptor) String() string {
	parts := make([]string, len(e.Columns))
	for i, c := range e.Columns {
		parts[i] = c.String()
	}
	return "DESCRIPTOR(" + strings.Join(parts, ", ") + ")"
}
