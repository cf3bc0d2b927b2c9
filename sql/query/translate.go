package query

import (
	"errors"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/xwb1989/sqlparser"

	"github.com/sluicehq/sluice/internal/suggest"
	"github.com/sluicehq/sluice/operators/expr"
	"github.com/sluicehq/sluice/runtime"
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
	Subst func(sqlparser.Expr) (expr.Expr, bool)
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
// VARCHAR[(n)]|STRING|TIMESTAMP[(3)]).
func (q *Query) Scalar(s *Scope, e sqlparser.Expr, o Options) (*Scalar, error) {
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
func (q *Query) Predicate(s *Scope, e sqlparser.Expr, o Options) (*Scalar, error) {
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

// Column resolves a column reference in s, with a positioned error.
func (q *Query) Column(s *Scope, c *sqlparser.ColName) (int, error) {
	qualifier, name := c.Qualifier.Name.String(), c.Name.String()
	if !c.Qualifier.Qualifier.IsEmpty() { // t.row.field
		qualifier, name = c.Qualifier.Qualifier.String(), qualifier+"."+name
	}
	i, err := s.Resolve(qualifier, name)
	if err != nil {
		return -1, q.Errorf(c, "%s", err.Error())
	}
	return i, nil
}

// scalarFuncs maps the SQL names of scalar functions that differ from
// expr's; every other function expr knows (expr.IsFunction, user-defined
// ones included) is called by its own name.
var scalarFuncs = map[string]string{
	"CHARACTER_LENGTH": "CHAR_LENGTH", "CEILING": "CEIL", strings.ToUpper(substringFunc): "SUBSTRING",
	strings.ToUpper(regexpFunc): "REGEXP", strings.ToUpper(extractFunc): "EXTRACT",
	"SUBSTR": "SUBSTRING", "DAY": "DAYOFMONTH",
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
		if !strings.HasPrefix(n, "SLUICE_") {
			names = append(names, n)
		}
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
	n sqlparser.SQLNode
}

// where is the clause for messages: "in WHERE", or "here".
func (t *translator) where() string {
	if t.o.Clause == "" {
		return "here"
	}
	return "in " + t.o.Clause
}

func (t *translator) expr(e sqlparser.Expr) (expr.Expr, error) {
	if t.o.Subst != nil {
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

func (t *translator) translate(e sqlparser.Expr) (expr.Expr, error) {
	q := t.q
	switch e := e.(type) {
	case nil:
		return nil, &Error{Pos: q.Base, Msg: "missing expression"}
	case *sqlparser.ColName:
		i, err := q.Column(t.s, e)
		if err != nil {
			return nil, err
		}
		return t.s.column(i), nil
	case *sqlparser.SQLVal:
		return t.literal(e)
	case *sqlparser.NullVal:
		return expr.Null(runtime.Varchar), nil
	case sqlparser.BoolVal:
		return expr.Bool(bool(e)), nil
	case *sqlparser.ParenExpr:
		return t.expr(e.Expr)
	case *sqlparser.AndExpr:
		return t.binary(expr.OpAnd, e.Left, e.Right)
	case *sqlparser.OrExpr:
		return t.binary(expr.OpOr, e.Left, e.Right)
	case *sqlparser.NotExpr:
		x, err := t.expr(e.Expr)
		if err != nil {
			return nil, err
		}
		return expr.Not(x), nil
	case *sqlparser.ComparisonExpr:
		return t.comparison(e)
	case *sqlparser.RangeCond:
		return t.between(e)
	case *sqlparser.IsExpr:
		return t.is(e)
	case *sqlparser.BinaryExpr:
		op, ok := map[string]expr.Op{
			sqlparser.PlusStr: expr.OpAdd, sqlparser.MinusStr: expr.OpSub, sqlparser.MultStr: expr.OpMul,
			sqlparser.DivStr: expr.OpDiv, sqlparser.ModStr: expr.OpMod,
		}[e.Operator]
		if !ok {
			return nil, q.Errorf(e, "operator %s is not supported", strings.ToUpper(e.Operator))
		}
		return t.binary(op, e.Left, e.Right)
	case *sqlparser.UnaryExpr:
		x, err := t.expr(e.Expr)
		if err != nil {
			return nil, err
		}
		switch e.Operator {
		case sqlparser.UMinusStr:
			return expr.Neg(x), nil
		case sqlparser.UPlusStr:
			return x, nil
		}
		return nil, q.Errorf(e, "operator %s is not supported", strings.ToUpper(strings.TrimSpace(e.Operator)))
	case *sqlparser.IntervalExpr:
		ms, err := intervalMillis(e)
		if err != nil {
			return nil, q.Errorf(e, "%s", err.Error())
		}
		return expr.Int(ms), nil
	case *sqlparser.CaseExpr:
		return t.caseWhen(e)
	case *sqlparser.FuncExpr:
		return t.call(e)
	case *sqlparser.SubstrExpr:
		args := []sqlparser.Expr{e.Name, e.From}
		if e.To != nil {
			args = append(args, e.To)
		}
		return t.callOf("SUBSTRING", args)
	case *sqlparser.ConvertExpr:
		return t.cast(e)
	case *sqlparser.ConvertUsingExpr:
		return nil, q.Errorf(e, "CONVERT is not supported: write CAST(x AS type)")
	case *sqlparser.Subquery, *sqlparser.ExistsExpr:
		return nil, q.Errorf(e, "subqueries are not supported")
	case sqlparser.ValTuple:
		return nil, q.Errorf(e, "row values are not supported")
	}
	return nil, q.Errorf(e, "unsupported expression")
}

func (t *translator) binary(op expr.Op, l, r sqlparser.Expr) (expr.Expr, error) {
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

func (t *translator) literal(v *sqlparser.SQLVal) (expr.Expr, error) {
	s := string(v.Val)
	switch v.Type {
	case sqlparser.StrVal:
		return expr.Str(s), nil
	case sqlparser.IntVal, sqlparser.HexNum:
		n, err := strconv.ParseInt(s, 0, 64)
		if err != nil {
			return nil, t.q.Errorf(v, "integer out of BIGINT range")
		}
		return expr.Int(n), nil
	case sqlparser.FloatVal:
		f, err := strconv.ParseFloat(s, 64)
		if errors.Is(err, strconv.ErrRange) || math.IsInf(f, 0) {
			return nil, t.q.Errorf(v, "number out of DOUBLE range")
		}
		if err != nil {
			return nil, t.q.Errorf(v, "invalid number")
		}
		return expr.Float(f), nil
	case sqlparser.ValArg:
		return nil, t.q.Errorf(v, "parameters are not supported")
	}
	return nil, t.q.Errorf(v, "binary and hexadecimal strings are not supported")
}

func (t *translator) comparison(e *sqlparser.ComparisonExpr) (expr.Expr, error) {
	q := t.q
	switch e.Operator {
	case sqlparser.InStr, sqlparser.NotInStr:
		list, ok := e.Right.(sqlparser.ValTuple)
		if !ok {
			if _, sub := e.Right.(*sqlparser.Subquery); sub {
				return nil, q.Errorf(e.Right, "subqueries are not supported")
			}
			return nil, q.Errorf(e.Right, "IN takes a list of values")
		}
		x, err := t.expr(e.Left)
		if err != nil {
			return nil, err
		}
		xs := make([]expr.Expr, len(list))
		for i, it := range list {
			if xs[i], err = t.expr(it); err != nil {
				return nil, err
			}
		}
		in := expr.In(x, xs...)
		if e.Operator == sqlparser.NotInStr {
			return expr.Not(in), nil
		}
		return in, nil
	case sqlparser.LikeStr, sqlparser.NotLikeStr:
		if e.Escape != nil {
			return nil, q.Errorf(e.Escape, "LIKE … ESCAPE is not supported")
		}
		x, err := t.expr(e.Left)
		if err != nil {
			return nil, err
		}
		p, err := t.expr(e.Right)
		if err != nil {
			return nil, err
		}
		if e.Operator == sqlparser.NotLikeStr {
			return expr.Not(expr.Like(x, p)), nil
		}
		return expr.Like(x, p), nil
	}
	op, ok := map[string]expr.Op{
		sqlparser.EqualStr: expr.OpEq, sqlparser.NotEqualStr: expr.OpNe, sqlparser.LessThanStr: expr.OpLt,
		sqlparser.LessEqualStr: expr.OpLe, sqlparser.GreaterThanStr: expr.OpGt, sqlparser.GreaterEqualStr: expr.OpGe,
	}[e.Operator]
	if !ok {
		return nil, q.Errorf(e, "operator %s is not supported", strings.ToUpper(e.Operator))
	}
	return t.binary(op, e.Left, e.Right)
}

func (t *translator) between(e *sqlparser.RangeCond) (expr.Expr, error) {
	var xs [3]expr.Expr
	for i, n := range []sqlparser.Expr{e.Left, e.From, e.To} {
		x, err := t.expr(n)
		if err != nil {
			return nil, err
		}
		xs[i] = x
	}
	b := expr.Between(xs[0], xs[1], xs[2])
	if e.Operator == sqlparser.NotBetweenStr {
		return expr.Not(b), nil
	}
	return b, nil
}

func (t *translator) is(e *sqlparser.IsExpr) (expr.Expr, error) {
	x, err := t.expr(e.Expr)
	if err != nil {
		return nil, err
	}
	// x IS [NOT] TRUE/FALSE is never NULL.
	truth := func(cond expr.Expr, v bool) expr.Expr {
		return expr.Case([]expr.When{{Cond: cond, Then: expr.Bool(v)}}, expr.Bool(!v))
	}
	switch e.Operator {
	case sqlparser.IsNullStr:
		return expr.IsNull(x), nil
	case sqlparser.IsNotNullStr:
		return expr.IsNotNull(x), nil
	case sqlparser.IsTrueStr:
		return truth(x, true), nil
	case sqlparser.IsNotTrueStr:
		return truth(x, false), nil
	case sqlparser.IsFalseStr:
		return truth(expr.Not(x), true), nil
	case sqlparser.IsNotFalseStr:
		return truth(expr.Not(x), false), nil
	}
	return nil, t.q.Errorf(e, "unsupported expression")
}

func (t *translator) caseWhen(e *sqlparser.CaseExpr) (expr.Expr, error) {
	var subject expr.Expr
	if e.Expr != nil {
		x, err := t.expr(e.Expr)
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
			t.made = append(t.made, made{c, w})
		}
		v, err := t.expr(w.Val)
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

func (t *translator) cast(e *sqlparser.ConvertExpr) (expr.Expr, error) {
	q := t.q
	var target castTarget
	ok := e.Type != nil && strings.EqualFold(e.Type.Type, "decimal") && e.Type.Length != nil && e.Type.Scale == nil
	if ok {
		target, ok = q.rw.casts[string(e.Type.Length.Val)]
	}
	if !ok {
		return nil, q.Errorf(e, "CONVERT is not supported: write CAST(x AS type) with a type of %s", castTypeList)
	}
	if target.literal {
		s, isStr := e.Expr.(*sqlparser.SQLVal)
		if !isStr || s.Type != sqlparser.StrVal {
			return nil, q.Errorf(e, "TIMESTAMP takes a string, as TIMESTAMP '2026-01-01 00:00:00'")
		}
		c, err := expr.Compile(expr.Cast(expr.Str(string(s.Val)), runtime.Timestamp), nil)
		var v runtime.Value
		if err == nil {
			v, _ = c.Const()
		}
		if err != nil || v.Null {
			return nil, q.Errorf(e, "invalid TIMESTAMP literal: write TIMESTAMP 'yyyy-mm-dd hh:mm:ss[.fff]'")
		}
		return expr.Timestamp(v.I), nil
	}
	x, err := t.expr(e.Expr)
	if err != nil {
		return nil, err
	}
	return expr.Cast(x, target.typ), nil
}

func (t *translator) call(f *sqlparser.FuncExpr) (expr.Expr, error) {
	q := t.q
	name := strings.ToUpper(f.Name.String())
	if !f.Qualifier.IsEmpty() {
		return nil, q.Errorf(f, "unknown function %s.%s", f.Qualifier.String(), f.Name.String())
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
	args := make([]sqlparser.Expr, len(f.Exprs))
	for i, se := range f.Exprs {
		a, ok := se.(*sqlparser.AliasedExpr)
		if !ok {
			return nil, q.Errorf(f, "* is only allowed in COUNT(*)")
		}
		if !a.As.IsEmpty() {
			return nil, q.Errorf(se, "a function argument cannot have an alias")
		}
		args[i] = a.Expr
	}
	if unitFuncs[fn] && len(args) > 0 {
		// A bare unit, as Flink writes it: TIMESTAMPADD(DAY, 1, ts).
		if c, ok := args[0].(*sqlparser.ColName); ok && c.Qualifier.IsEmpty() && timeUnitWords[strings.ToUpper(c.Name.String())] {
			u := expr.Str(strings.ToUpper(c.Name.String()))
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

func (t *translator) callOf(fn string, args []sqlparser.Expr) (expr.Expr, error) {
	xs, err := t.exprs(args)
	if err != nil {
		return nil, err
	}
	return expr.Call(fn, xs...), nil
}

func (t *translator) exprs(args []sqlparser.Expr) ([]expr.Expr, error) {
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
func aggregateMisuse(f *sqlparser.FuncExpr, name string) string {
	for _, se := range f.Exprs {
		if _, star := se.(*sqlparser.StarExpr); star {
			if name == "COUNT" && f.Distinct {
				return "COUNT(DISTINCT *) is not valid: write COUNT(*) or COUNT(DISTINCT x)"
			}
			if name != "COUNT" {
				return name + "(*) is not valid: only COUNT takes *"
			}
		}
		if a, ok := se.(*sqlparser.AliasedExpr); ok && !a.As.IsEmpty() {
			return "a function argument cannot have an alias"
		}
	}
	if name == "LISTAGG" {
		return "LISTAGG takes a value and, optionally, a separator written as a string literal"
	}
	return name + " takes one argument"
}

func (t *translator) windowError(f *sqlparser.FuncExpr, err error) error {
	var we *windowArgError
	if errors.As(err, &we) && we.node != nil {
		return t.q.Errorf(we.node, "%s", we.msg)
	}
	return t.q.Errorf(f, "%s", err.Error())
}

// compileError places an error of expr.Compile on the node whose
// translation the error names (e, the whole expression, when it names
// none).
func (t *translator) compileError(e sqlparser.Expr, err error) error {
	var ee *expr.Error
	if !errors.As(err, &ee) {
		return t.q.Errorf(e, "%s", err.Error())
	}
	var node sqlparser.SQLNode = e
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
