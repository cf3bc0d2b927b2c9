package query

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/internal/suggest"
	"github.com/sluicehq/sluice/operators/expr"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sql/parser"
)

// Options say where an expression stands and how to treat what is not
// scalar in it.
type Options struct {
	// Clause names the place of the expression as errors say it, e.g.
	// "WHERE", "HAVING", "ON", "GROUP BY" or "the select list":
	// `aggregate COUNT(*) is not allowed in WHERE`.
	Clause string
	// Subst, when not nil, is offered every sub-expression before it is
	// translated, outermost first; when it returns true, its expression
	// (over the scope's Schema) stands for that sub-expression. The planner
	// maps aggregate calls, window bounds and grouping keys to columns of an
	// aggregation's output this way.
	Subst func(parser.Expr) (expr.Expr, bool)
}

// Scalar is a translated, type-checked expression over a Scope's Schema.
// Compile Expr once per subtask (expr.Compiled is not safe for concurrent
// use).
type Scalar struct {
	Expr     expr.Expr
	Type     runtime.Type
	Nullable bool
}

// Scalar translates e into an expression over s.Schema() and type-checks
// it. Errors are *Error at the offending sub-expression: unknown or
// ambiguous columns, unknown functions, type mismatches, aggregate and
// window calls where a scalar is needed, constructs Sluice does not
// support. A nil s is the scope of a SELECT without FROM.
//
// Literals: integers are BIGINT, numbers with a point or an exponent
// DOUBLE, 'text' VARCHAR, TRUE/FALSE BOOLEAN, TIMESTAMP '…' TIMESTAMP(3),
// NULL a NULL that takes the type its context needs (VARCHAR when nothing
// decides), and INTERVAL 'n' unit a BIGINT of milliseconds (units DAY,
// HOUR, MINUTE, SECOND, MILLISECOND), so that ts + INTERVAL '10' MINUTE is a
// TIMESTAMP. x IS [NOT] TRUE/FALSE is never NULL; CASE x WHEN v compares
// x = v; SUBSTRING(s FROM i FOR n) is SUBSTRING(s, i, n). Column references
// become expr.Col(name) when the name is unique in the scope, else
// expr.ColIndex(i).
//
// Functions: every function of expr (expr.IsFunction: the built-ins and
// the functions registered with expr.RegisterFunction) by its name, and the
// aliases SUBSTR, CHARACTER_LENGTH, CEILING and DAY (DAYOFMONTH), with the
// semantics of expr.Compile; Flink's forms EXTRACT(unit FROM ts),
// POSITION(a IN b), FLOOR/CEIL(ts TO unit) and TIMESTAMPADD/TIMESTAMPDIFF
// with a bare unit; CAST(x AS BOOLEAN|INT|INTEGER|BIGINT|DOUBLE|FLOAT|
// VARCHAR[(n)]|STRING|TIMESTAMP[(3)]); a || b is CONCAT(a, b).
func (q *Query) Scalar(s *Scope, e parser.Expr, o Options) (*Scalar, error) {
	if s == nil {
		s, _ = NewScope()
	}
	t := &translator{q: q, s: s, o: o}
	x, err := t.expr(e)
	if err != nil {
		return nil, err
	}
	c, err := expr.Compile(x, s.Schema())
	if err != nil {
		return nil, t.compileError(e, err)
	}
	return &Scalar{Expr: x, Type: c.Type(), Nullable: c.Nullable()}, nil
}

// Predicate is Scalar for a condition (WHERE, HAVING, ON), which must be
// BOOLEAN.
func (q *Query) Predicate(s *Scope, e parser.Expr, o Options) (*Scalar, error) {
	sc, err := q.Scalar(s, e, o)
	if err != nil {
		return nil, err
	}
	if sc.Type != runtime.Boolean {
		what := "the condition"
		if o.Clause != "" {
			what = "the " + o.Clause + " condition"
		}
		return nil, q.Errorf(e, "%s must be BOOLEAN, not %s", what, sc.Type)
	}
	return sc, nil
}

// Column resolves a column reference (c or t.c) in s, with a positioned
// error.
func (q *Query) Column(s *Scope, c *parser.Ident) (int, error) {
	var i int
	var err error
	switch len(c.Parts) {
	case 1:
		i, err = s.Resolve("", c.Parts[0])
	case 2:
		i, err = s.Resolve(c.Parts[0], c.Parts[1])
	case 3: // t.row.field
		i, err = s.Resolve(c.Parts[0], c.Parts[1]+"."+c.Parts[2])
	default:
		return -1, q.Errorf(c, "%s: a name of more than three parts is not supported", c.String())
	}
	if err != nil {
		return -1, q.Errorf(c, "%s", err.Error())
	}
	return i, nil
}

// scalarFuncs maps the SQL names of scalar functions that differ from
// expr's; every other function expr knows (expr.IsFunction, user-defined
// ones included) is called by its own name.
var scalarFuncs = map[string]string{
	"CHARACTER_LENGTH": "CHAR_LENGTH", "CEILING": "CEIL", "SUBSTR": "SUBSTRING", "DAY": "DAYOFMONTH",
}

func init() {
	var aliases, aggs, windows []string
	for n := range scalarFuncs {
		aliases = append(aliases, n)
	}
	for n := range aggregates {
		aggs = append(aggs, n)
	}
	for n := range windowKinds {
		windows = append(windows, n, n+"_START", n+"_END")
	}
	expr.ReserveFunctionNames("a function name of SQL", aliases...)
	expr.ReserveFunctionNames("an aggregate function of SQL", aggs...)
	expr.ReserveFunctionNames("a window function of SQL", windows...)
}

// timeUnitWords are the units TIMESTAMPADD and TIMESTAMPDIFF take bare.
var timeUnitWords = map[string]bool{"MILLISECOND": true, "SECOND": true, "MINUTE": true, "HOUR": true, "DAY": true,
	"WEEK": true, "MONTH": true, "QUARTER": true, "YEAR": true}

// unitFuncs are the functions whose first argument is a time unit, which
// may be written bare: TIMESTAMPADD(DAY, 1, ts).
var unitFuncs = map[string]bool{"TIMESTAMPADD": true, "TIMESTAMPDIFF": true}

// knownFuncs lists every function name, for suggestions: expr's (with the
// functions registered so far) and the aggregate and window functions.
func knownFuncs() []string {
	names := expr.FunctionNames()
	for n := range scalarFuncs {
		names = append(names, n)
	}
	for n := range aggregates {
		names = append(names, n)
	}
	for n := range windowKinds {
		names = append(names, n, n+"_START", n+"_END")
	}
	sort.Strings(names)
	return names
}

type translator struct {
	q    *Query
	s    *Scope
	o    Options
	made []made // every translated node, in order of completion
}

// made links a translated expression to the node it came from, to place
// compile errors.
type made struct {
	x expr.Expr
	n Node
}

// where is the clause for messages: "in WHERE", or "here".
func (t *translator) where() string {
	if t.o.Clause == "" {
		return "here"
	}
	return "in " + t.o.Clause
}

func (t *translator) expr(e parser.Expr) (expr.Expr, error) {
	if t.o.Subst != nil && e != nil {
		if x, ok := t.o.Subst(e); ok {
			t.made = append(t.made, made{x, e})
			return x, nil
		}
	}
	x, err := t.translate(e)
	if err != nil {
		return nil, err
	}
	t.made = append(t.made, made{x, e})
	return x, nil
}

// binaryOps maps the parser's binary operators to expr's.
var binaryOps = map[string]expr.Op{
	"AND": expr.OpAnd, "OR": expr.OpOr,
	"=": expr.OpEq, "<>": expr.OpNe, "<": expr.OpLt, "<=": expr.OpLe, ">": expr.OpGt, ">=": expr.OpGe,
	"+": expr.OpAdd, "-": expr.OpSub, "*": expr.OpMul, "/": expr.OpDiv, "%": expr.OpMod,
}

func (t *translator) translate(e parser.Expr) (expr.Expr, error) {
	q := t.q
	switch e := e.(type) {
	case nil:
		return nil, &Error{Pos: q.Base, Msg: "missing expression"}
	case *parser.Ident:
		i, err := q.Column(t.s, e)
		if err != nil {
			return nil, err
		}
		return t.s.column(i), nil
	case *parser.Literal:
		return t.literal(e)
	case *parser.Unary:
		x, err := t.expr(e.X)
		if err != nil {
			return nil, err
		}
		switch e.Op {
		case "-":
			return expr.Neg(x), nil
		case "+":
			return x, nil
		case "NOT":
			return expr.Not(x), nil
		}
		return nil, q.Errorf(e, "operator %s is not supported", e.Op)
	case *parser.Binary:
		if e.Op == "||" {
			return t.callOf("CONCAT", []parser.Expr{e.L, e.R})
		}
		op, ok := binaryOps[e.Op]
		if !ok {
			return nil, q.Errorf(e, "operator %s is not supported", e.Op)
		}
		return t.binary(op, e.L, e.R)
	case *parser.Is:
		return t.is(e)
	case *parser.Between:
		if e.Symmetric {
			return nil, q.Errorf(e, "BETWEEN SYMMETRIC is not supported")
		}
		var xs [3]expr.Expr
		for i, n := range []parser.Expr{e.X, e.Lo, e.Hi} {
			x, err := t.expr(n)
			if err != nil {
				return nil, err
			}
			xs[i] = x
		}
		b := expr.Between(xs[0], xs[1], xs[2])
		if e.Not {
			return expr.Not(b), nil
		}
		return b, nil
	case *parser.In:
		return t.in(e)
	case *parser.Like:
		if e.Similar {
			return nil, q.Errorf(e, "SIMILAR TO is not supported: use LIKE")
		}
		if e.Escape != nil {
			return nil, q.Errorf(e.Escape, "LIKE … ESCAPE is not supported")
		}
		x, err := t.expr(e.X)
		if err != nil {
			return nil, err
		}
		p, err := t.expr(e.Pattern)
		if err != nil {
			return nil, err
		}
		if e.Not {
			return expr.Not(expr.Like(x, p)), nil
		}
		return expr.Like(x, p), nil
	case *parser.Interval:
		ms, err := intervalMillis(e)
		if err != nil {
			return nil, q.Errorf(e, "%s", err.Error())
		}
		return expr.Int(ms), nil
	case *parser.TypedLit:
		if e.Type != "TIMESTAMP" {
			return nil, q.Errorf(e, "%s literals are not supported", e.Type)
		}
		c, err := expr.Compile(expr.Cast(expr.Str(e.Value), runtime.Timestamp), nil)
		var v runtime.Value
		if err == nil {
			v, _ = c.Const()
		}
		if err != nil || v.Null {
			return nil, q.Errorf(e, "invalid TIMESTAMP literal: write TIMESTAMP 'yyyy-mm-dd hh:mm:ss[.fff]'")
		}
		return expr.Timestamp(v.I), nil
	case *parser.Case:
		return t.caseWhen(e)
	case *parser.Call:
		return t.call(e)
	case *parser.Cast:
		return t.cast(e)
	case *parser.Trim:
		if e.Chars != nil || e.Mode != "" && e.Mode != "BOTH" {
			return nil, q.Errorf(e, "TRIM takes one argument here: TRIM(s) removes the spaces at both ends")
		}
		return t.callOf("TRIM", []parser.Expr{e.X})
	case *parser.Extract:
		u := expr.Str(e.Unit)
		x, err := t.expr(e.X)
		if err != nil {
			return nil, err
		}
		return expr.Call("EXTRACT", u, x), nil
	case *parser.Subquery, *parser.Exists:
		return nil, q.Errorf(e, "subqueries are not supported")
	case *parser.Item:
		return nil, q.Errorf(e, "x[i] (arrays and maps) is not supported")
	case *parser.Star:
		return nil, q.Errorf(e, "* is only allowed in the select list and in COUNT(*)")
	}
	return nil, q.Errorf(e, "unsupported expression")
}

func (t *translator) binary(op expr.Op, l, r parser.Expr) (expr.Expr, error) {
	lx, err := t.expr(l)
	if err != nil {
		return nil, err
	}
	rx, err := t.expr(r)
	if err != nil {
		return nil, err
	}
	return expr.Binary(op, lx, rx), nil
}

func (t *translator) literal(v *parser.Literal) (expr.Expr, error) {
	switch v.Kind {
	case parser.LitString:
		return expr.Str(v.Text), nil
	case parser.LitTrue:
		return expr.Bool(true), nil
	case parser.LitFalse:
		return expr.Bool(false), nil
	case parser.LitUnknown:
		return expr.Null(runtime.Boolean), nil
	case parser.LitNull:
		return expr.Null(runtime.Varchar), nil
	}
	s := v.Text
	if !strings.ContainsAny(s, ".eE") {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, t.q.Errorf(v, "integer out of BIGINT range")
		}
		return expr.Int(n), nil
	}
	if !strings.ContainsAny(s, "eE") {
		// An exact literal, as Flink types it: 0.908 is DECIMAL(4, 3).
		// One with more digits than Sluice's decimals hold is a DOUBLE.
		if d, err := expr.DecimalLit(s); err == nil {
			return d, nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if errors.Is(err, strconv.ErrRange) || math.IsInf(f, 0) {
		return nil, t.q.Errorf(v, "number out of DOUBLE range")
	}
	if err != nil {
		return nil, t.q.Errorf(v, "invalid number")
	}
	return expr.Float(f), nil
}

func (t *translator) in(e *parser.In) (expr.Expr, error) {
	if e.Query != nil {
		_, end := t.q.span(e)
		open := t.q.tokenAt(t.q.after(t.q.end(e.X), 1))
		if e.Not {
			open = t.q.tokenAt(t.q.after(t.q.end(e.X), 2))
		}
		return nil, &Error{Pos: position(t.q.Text, t.q.Base, open.start), Msg: "subqueries are not supported",
			Near: t.q.nearSpan(open.start, end)}
	}
	x, err := t.expr(e.X)
	if err != nil {
		return nil, err
	}
	xs := make([]expr.Expr, len(e.List))
	for i, it := range e.List {
		if xs[i], err = t.expr(it); err != nil {
			return nil, err
		}
	}
	in := expr.In(x, xs...)
	if e.Not {
		return expr.Not(in), nil
	}
	return in, nil
}

func (t *translator) is(e *parser.Is) (expr.Expr, error) {
	if e.From != nil {
		return nil, t.q.Errorf(e, "IS DISTINCT FROM is not supported")
	}
	if x, ok := t.rowIsNull(e); ok {
		return x, nil
	}
	x, err := t.expr(e.X)
	if err != nil {
		return nil, err
	}
	// x IS [NOT] TRUE/FALSE is never NULL.
	truth := func(cond expr.Expr, v bool) expr.Expr {
		return expr.Case([]expr.When{{Cond: cond, Then: expr.Bool(v)}}, expr.Bool(!v))
	}
	switch {
	case e.What == "NULL" && !e.Not:
		return expr.IsNull(x), nil
	case e.What == "NULL":
		return expr.IsNotNull(x), nil
	case e.What == "TRUE" && !e.Not:
		return truth(x, true), nil
	case e.What == "TRUE":
		return truth(x, false), nil
	case e.What == "FALSE" && !e.Not:
		return truth(expr.Not(x), true), nil
	case e.What == "FALSE":
		return truth(expr.Not(x), false), nil
	case e.What == "UNKNOWN" && !e.Not:
		return expr.IsNull(x), nil
	case e.What == "UNKNOWN":
		return expr.IsNotNull(x), nil
	}
	return nil, t.q.Errorf(e, "unsupported expression")
}

// rowIsNull translates row IS [NOT] NULL, row a ROW column: a ROW is its
// fields, so it is NULL when every field is (and NOT NULL when one is
// not). ok is false when e is not of this form.
func (t *translator) rowIsNull(e *parser.Is) (x expr.Expr, ok bool) {
	c, isCol := e.X.(*parser.Ident)
	if !isCol || e.What != "NULL" || t.o.Subst != nil || len(c.Parts) > 2 {
		return nil, false
	}
	if _, err := t.q.Column(t.s, c); err == nil {
		return nil, false
	}
	var fields []string
	if len(c.Parts) == 1 {
		fields = t.s.rowFields(t.s.rels, c.Parts[0])
	} else {
		for _, r := range t.s.rels {
			if strings.EqualFold(r.Ref(), c.Parts[0]) {
				fields = t.s.rowFields([]Relation{r}, c.Parts[1])
			}
		}
	}
	var nulls []expr.Expr
	for _, f := range fields {
		parts := []string{f}
		if len(c.Parts) == 2 {
			parts = []string{c.Parts[0], f}
		}
		i, err := t.q.Column(t.s, &parser.Ident{Parts: parts, Pos: c.Pos, End: c.End})
		if err != nil {
			return nil, false
		}
		nulls = append(nulls, expr.IsNull(t.s.column(i)))
	}
	if len(nulls) == 0 {
		return nil, false
	}
	x = expr.And(nulls...)
	if e.Not {
		x = expr.Not(x)
	}
	return x, true
}

func (t *translator) caseWhen(e *parser.Case) (expr.Expr, error) {
	var subject expr.Expr
	if e.Operand != nil {
		x, err := t.expr(e.Operand)
		if err != nil {
			return nil, err
		}
		subject = x
	}
	whens := make([]expr.When, len(e.Whens))
	for i, w := range e.Whens {
		c, err := t.expr(w.Cond)
		if err != nil {
			return nil, err
		}
		if subject != nil { // CASE x WHEN v: x = v
			c = expr.Eq(subject, c)
			t.made = append(t.made, made{c, whenNode{w}})
		}
		v, err := t.expr(w.Result)
		if err != nil {
			return nil, err
		}
		whens[i] = expr.When{Cond: c, Then: v}
	}
	var els expr.Expr
	if e.Else != nil {
		x, err := t.expr(e.Else)
		if err != nil {
			return nil, err
		}
		els = x
	}
	return expr.Case(whens, els), nil
}

// whenNode places WHEN v THEN r of a CASE.
type whenNode struct {
	w parser.When
}

func (n whenNode) Position() Pos { return n.w.Pos }

// castTypes maps the types CAST takes to runtime types.
var castTypes = map[string]runtime.Type{
	"BOOLEAN": runtime.Boolean, "INT": runtime.Int, "INTEGER": runtime.Int, "BIGINT": runtime.BigInt,
	"DOUBLE": runtime.Double, "FLOAT": runtime.Double, "VARCHAR": runtime.Varchar, "STRING": runtime.Varchar,
	"TIMESTAMP": runtime.Timestamp,
}

// castTypeList names the types of CAST in errors.
const castTypeList = "BOOLEAN, INT, BIGINT, DOUBLE, FLOAT, DECIMAL(p, s), VARCHAR, STRING, TIMESTAMP(3)"

// decimalType is the type of DECIMAL[(p[, s])] as the DDL reads it:
// DECIMAL(10, 0) without (p), p up to 38 as in Flink, held as at most
// DECIMAL(18, s).
func decimalType(tn *parser.TypeName) (runtime.Type, error) {
	p, s := 10, 0
	if len(tn.Params) > 0 {
		p = tn.Params[0]
	}
	if len(tn.Params) > 1 {
		s = tn.Params[1]
	}
	if len(tn.Params) > 2 || p < 1 || p > 38 || s < 0 || s > p {
		return 0, &Error{Pos: tn.Pos, Msg: tn.String() + " is not a valid DECIMAL: write DECIMAL(p, s) with 1 <= p <= 38 and 0 <= s <= p",
			Near: tn.String(), Syntax: true}
	}
	if p > runtime.MaxDecimalPrecision {
		p, s = runtime.MaxDecimalPrecision, min(s, runtime.MaxDecimalPrecision)
	}
	return runtime.DecimalType(p, s), nil
}

// CastType returns the runtime type of a CAST target, with an error at the
// type naming what is not supported.
func (q *Query) CastType(tn *parser.TypeName) (runtime.Type, error) {
	if (tn.Name == "DECIMAL" || tn.Name == "NUMERIC" || tn.Name == "DEC") && len(tn.Fields) == 0 && len(tn.Elems) == 0 {
		return decimalType(tn)
	}
	typ, ok := castTypes[tn.Name]
	if !ok || len(tn.Fields) > 0 || len(tn.Elems) > 0 {
		return 0, &Error{Pos: tn.Pos, Msg: fmt.Sprintf("CAST to %s is not supported (types: %s)", tn.Name, castTypeList),
			Near: tn.String(), Syntax: true}
	}
	switch {
	case tn.Name == "TIMESTAMP" && len(tn.Params) == 1 && tn.Params[0] != 3:
		return 0, &Error{Pos: tn.Pos, Msg: tn.String() + " is not supported: timestamps have millisecond precision, TIMESTAMP(3)",
			Near: tn.String(), Syntax: true}
	case tn.Name == "VARCHAR" && len(tn.Params) <= 1, tn.Name == "TIMESTAMP" && len(tn.Params) <= 1:
	case len(tn.Params) > 0:
		return 0, &Error{Pos: tn.Pos, Msg: tn.Name + " takes no length", Near: tn.String(), Syntax: true}
	}
	return typ, nil
}

func (t *translator) cast(e *parser.Cast) (expr.Expr, error) {
	if e.Try {
		return nil, t.q.Errorf(e, "TRY_CAST is not supported: use CAST")
	}
	typ, err := t.q.CastType(e.To)
	if err != nil {
		return nil, err
	}
	x, err := t.expr(e.X)
	if err != nil {
		return nil, err
	}
	return expr.Cast(x, typ), nil
}

func (t *translator) call(f *parser.Call) (expr.Expr, error) {
	q := t.q
	name := strings.ToUpper(f.Name)
	if f.Over != nil || f.OverName != "" {
		if name == "ROW_NUMBER" || name == "RANK" || name == "DENSE_RANK" {
			return nil, q.Errorf(f, "%s() OVER (…) (Top-N, deduplication) is not supported yet", name)
		}
		return nil, q.Errorf(f, "OVER (…) is not supported: aggregate with GROUP BY and TUMBLE, HOP or SESSION")
	}
	if f.Filter != nil && !aggregates[name] {
		return nil, q.Errorf(f, "FILTER (WHERE …) applies only to aggregate functions, not to %s", f.Name)
	}
	if aggregates[name] {
		if _, _, _, _, ok := AggregateCall(f); ok {
			return nil, q.errorAt(f, "aggregate %s is not allowed %s", q.TextOf(f), t.where())
		}
		return nil, q.Errorf(f, "%s", aggregateMisuse(f, name))
	}
	if windowKinds[name] {
		if _, _, err := windowArgs(f, name); err != nil {
			return nil, t.windowError(f, err)
		}
		return nil, q.errorAt(f, "window function %s is only allowed in GROUP BY", q.TextOf(f))
	}
	if kind, _, ok := windowBound(f); ok {
		if _, _, err := windowArgs(f, kind); err != nil {
			return nil, t.windowError(f, err)
		}
		return nil, q.errorAt(f, "%s is only allowed in a query grouped by a %s window", q.TextOf(f), kind)
	}
	if target, ok := q.Functions[name]; ok {
		name = target
	}
	fn, ok := scalarFuncs[name]
	if !ok && expr.IsFunction(name) {
		fn, ok = name, true
	}
	if !ok {
		hint := ""
		if n := suggest.Nearest(name, knownFuncs()); n != "" {
			hint = " (did you mean " + n + "?)"
		}
		return nil, q.Errorf(f, "unknown function %s%s", name, hint)
	}
	if f.Distinct {
		return nil, q.Errorf(f, "DISTINCT is only allowed in aggregate calls")
	}
	if f.Star {
		return nil, q.Errorf(f, "* is only allowed in COUNT(*)")
	}
	args := f.Args
	if unitFuncs[fn] && len(args) > 0 {
		// A bare unit, as Flink writes it: TIMESTAMPADD(DAY, 1, ts).
		if c, ok := args[0].(*parser.Ident); ok && len(c.Parts) == 1 && timeUnitWords[strings.ToUpper(c.Parts[0])] {
			u := expr.Str(strings.ToUpper(c.Parts[0]))
			t.made = append(t.made, made{u, c})
			xs, err := t.exprs(args[1:])
			if err != nil {
				return nil, err
			}
			return expr.Call(fn, append([]expr.Expr{u}, xs...)...), nil
		}
	}
	return t.callOf(fn, args)
}

func (t *translator) callOf(fn string, args []parser.Expr) (expr.Expr, error) {
	xs, err := t.exprs(args)
	if err != nil {
		return nil, err
	}
	return expr.Call(fn, xs...), nil
}

func (t *translator) exprs(args []parser.Expr) ([]expr.Expr, error) {
	xs := make([]expr.Expr, len(args))
	for i, a := range args {
		x, err := t.expr(a)
		if err != nil {
			return nil, err
		}
		xs[i] = x
	}
	return xs, nil
}

// aggregateMisuse says what is wrong with a malformed aggregate call.
func aggregateMisuse(f *parser.Call, name string) string {
	switch {
	case f.Over != nil || f.OverName != "":
		return "OVER (…) is not supported: aggregate with GROUP BY and TUMBLE, HOP or SESSION"
	case f.Star && name == "COUNT" && f.Distinct:
		return "COUNT(DISTINCT *) is not valid: write COUNT(*) or COUNT(DISTINCT x)"
	case f.Star && name != "COUNT":
		return name + "(*) is not valid: only COUNT takes *"
	}
	if name == "LISTAGG" {
		return "LISTAGG takes a value and, optionally, a separator written as a string literal"
	}
	return name + " takes one argument"
}

func (t *translator) windowError(f *parser.Call, err error) error {
	var we *windowArgError
	if errors.As(err, &we) && we.node != nil {
		return t.q.Errorf(we.node, "%s", we.msg)
	}
	return t.q.Errorf(f, "%s", err.Error())
}

// compileError places an error of expr.Compile on the node whose
// translation the error names (e, the whole expression, when it names
// none).
func (t *translator) compileError(e parser.Expr, err error) error {
	var ee *expr.Error
	if !errors.As(err, &ee) {
		return t.q.Errorf(e, "%s", err.Error())
	}
	var node Node = e
	if ee.Expr != "" {
		for _, m := range t.made {
			if m.x.String() == ee.Expr {
				node = m.n
				break
			}
		}
	}
	return t.q.Errorf(node, "%s", ee.Msg)
}
