// Package query is the front end of the SQL planner for queries: it parses
// one INSERT INTO … query or bare query statement with Sluice's own parser
// (sql/parser), exposes its shape (Query, Select, Item, From, Table),
// resolves column names against the relations of FROM (Scope) and
// translates scalar expressions of the parser's AST into Sluice's
// expression AST (operators/expr), type-checked, so that the planner works
// with resolved, typed expressions.
//
// Every error is an *Error that names the line:column in the job file,
// taken from the AST's positions, and the offending text as the user wrote
// it (the span of the node in the statement's text).
//
// The planner's use, for each query statement of a script:
//
//	q, err := query.Parse(stmt.Text, query.Pos{Line: stmt.Line, Col: stmt.Col})
//	for _, sel := range q.Selects {
//		scope, err := sel.From.Scope(schemasOf(sel.From.Tables)...) // catalog lookups, errors via q.Errorf(table, …)
//		where, err := q.Predicate(scope, sel.Where, query.Options{Clause: "WHERE"})
//		for _, g := range sel.GroupBy {
//			if kind, ts, sizes, ok := query.WindowCall(g); ok { … } else { key, err := q.Scalar(scope, g, …) }
//		}
//		// aggregates in the select list and HAVING: query.AggregateCall; then translate
//		// the items over the aggregation's output with Options.Subst standing in for
//		// the aggregate calls, window bounds and keys.
//	}
package query

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/sql/parser"
)

// Query is one parsed query statement.
//
// The nodes it exposes are the parser's; pass any of them (or any node
// below them) to Pos, TextOf and Errorf to place it in the file.
type Query struct {
	Text string // the statement as given to Parse
	Base Pos    // where Text starts in its file

	Stmt *parser.QueryStatement

	// Target is the table of INSERT INTO; nil for a bare SELECT.
	Target *Target
	// Body is the query.
	Body *Body
	// Selects are Body.Selects: the SELECTs of the query in order, one, or
	// one per branch of a UNION ALL.
	Selects []*Select

	// Functions are the job's CREATE FUNCTION names, upper case, each to
	// the name of the function it calls (set by the planner before
	// translating).
	Functions map[string]string

	subqueries int // subqueries in FROM without an alias so far, to name them
}

// Body is a query: the queries of its WITH, then one SELECT or the SELECTs
// of a UNION ALL.
type Body struct {
	Node    parser.QueryExpr
	CTEs    []*CTE    // in order; each sees the ones before it
	Selects []*Select // one, or one per branch of a UNION ALL
}

// CTE is a query of WITH: name [(Columns)] AS (Body).
type CTE struct {
	Name    string
	Columns []string // nil when not written
	Body    *Body
	Pos     Pos // of the name
}

// Position is where the CTE's name is.
func (c *CTE) Position() Pos { return c.Pos }

// Target is the table an INSERT writes to.
type Target struct {
	Name    string
	Columns []string // INSERT INTO t (a, b) …: the column list; nil when absent
	Pos     Pos      // of the name
}

// Select is one SELECT: the whole query, or one branch of a UNION ALL.
type Select struct {
	Node    *parser.Select
	Items   []*Item       // the select list, in order
	From    *From         // nil when there is no FROM
	Where   parser.Expr   // nil when absent
	GroupBy []parser.Expr // in order; window calls (TUMBLE …) included
	Having  parser.Expr   // nil when absent
	// Numbered is the alias of the ROW_NUMBER() of a select whose WHERE
	// filters on it, once the planner has split the filter off into an
	// outer select (sql/rank.go); "" otherwise.
	Numbered string
}

// Item is one element of a select list: an expression with an optional
// alias, or * / t.*.
type Item struct {
	Expr     parser.Expr // *parser.Star for a star
	Alias    string      // AS name; "" when absent
	AliasPos Pos
	Star     bool
	StarOf   string // t for t.*; "" for *
}

// Position is where the item starts.
func (it *Item) Position() Pos { return it.Expr.Position() }

// Name is the name of the column the item defines, as Flink names it: the
// alias, else the name of a bare column reference, else EXPR$i where i is
// the item's index in the select list.
func (it *Item) Name(i int) string {
	switch {
	case it.Alias != "":
		return it.Alias
	case it.Star:
		return "*"
	}
	if c, ok := it.Expr.(*parser.Ident); ok {
		return c.Parts[len(c.Parts)-1]
	}
	return "EXPR$" + strconv.Itoa(i)
}

// From is a relation of FROM: a name (a table, a view or a query of
// WITH: Table), a subquery (Sub), or an inner join of two relations (Join
// with L and R).
type From struct {
	Table *Table
	Sub   *Subquery
	TVF   *TVF // TABLE(TUMBLE|HOP|CUMULATE(TABLE t, DESCRIPTOR(ts), …))
	Join  *parser.Join
	L, R  *From
	On    parser.Expr // the ON condition of Join; nil for a comma join (FROM a, b)
}

// Position is where the relation starts.
func (f *From) Position() Pos {
	switch {
	case f.Table != nil:
		return f.Table.Position()
	case f.Sub != nil:
		return f.Sub.Node.Pos
	case f.TVF != nil:
		return f.TVF.Node.Pos
	}
	return f.Join.Position()
}

// Comma reports whether f is a comma join, whose condition is in WHERE.
func (f *From) Comma() bool { return f.Join != nil && f.Join.Kind == parser.JoinComma }

// Leaves returns the tables and subqueries of f, left to right.
func (f *From) Leaves() []*From {
	if f.Join != nil {
		return append(f.L.Leaves(), f.R.Leaves()...)
	}
	return []*From{f}
}

// Ref is the name that qualifies the columns of a table or subquery.
func (f *From) Ref() string {
	if f.Table != nil {
		return f.Table.Ref()
	}
	if f.Sub != nil {
		return f.Sub.Name
	}
	if f.TVF != nil {
		return f.TVF.Name
	}
	return ""
}

// TVF is a window table-valued function in FROM:
// TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), size [, offset])), HOP(…, slide,
// size [, offset]) or CUMULATE(…, step, size [, offset]) [AS alias].
type TVF struct {
	Node    *parser.TableFunc
	Kind    string // TUMBLE, HOP or CUMULATE
	Table   *Table // the table, view or query of WITH it reads
	TimeCol *parser.Ident
	// Durations are the INTERVAL arguments in order: size (TUMBLE), slide
	// and size (HOP), step and size (CUMULATE).
	Durations []time.Duration
	Offset    time.Duration
	Name      string // its alias, else the table's name
}

// Position is where TABLE( is.
func (t *TVF) Position() Pos { return t.Node.Pos }

// Subquery is a query in FROM: (Body) [AS] Name [(Columns)].
type Subquery struct {
	Node    *parser.Derived
	Body    *Body
	Name    string   // its alias, or a generated name ($subquery1, …) without one
	Columns []string // the alias's column list; nil when not written
}

// InnerColumns returns the Inner names of a subquery without an alias
// (see Relation.Inner): for each item of its one SELECT that is a plain
// t.c reference, unaliased or aliased c, "t.c" (lower case) → the item's
// column. Items after a * are left out (their columns are not known
// here). Nil for a subquery with an alias or a UNION ALL.
func (s *Subquery) InnerColumns() map[string]int {
	if s.Node == nil || s.Node.Alias != nil || len(s.Body.Selects) != 1 {
		return nil
	}
	var out map[string]int
	for i, it := range s.Body.Selects[0].Items {
		if it.Star {
			break
		}
		id, ok := it.Expr.(*parser.Ident)
		if !ok || len(id.Parts) != 2 || (it.Alias != "" && !strings.EqualFold(it.Alias, id.Parts[1])) {
			continue
		}
		if out == nil {
			out = map[string]int{}
		}
		out[strings.ToLower(id.Parts[0]+"."+id.Parts[1])] = i
	}
	return out
}

// Position is where the subquery's '(' is.
func (s *Subquery) Position() Pos { return s.Node.Pos }

// Table is a table named in FROM.
type Table struct {
	Node  *parser.TableName
	Name  string
	Alias string // "" when absent
}

// Position is where the table's name starts.
func (t *Table) Position() Pos { return t.Node.Position() }

// Ref is the name that qualifies the table's columns in the query: its
// alias when it has one, else its name.
func (t *Table) Ref() string {
	if t.Alias != "" {
		return t.Alias
	}
	return t.Name
}

// Parse parses text, one statement's text (INSERT INTO t SELECT …, SELECT
// …, or SELECTs joined by UNION ALL, without the ending ';'), whose first
// byte is at base in its file. Errors are *Error (constructs the planner
// does not support: ORDER BY, LIMIT, DISTINCT, UNION without ALL,
// subqueries in FROM, outer joins, joins of more than two tables, INSERT …
// VALUES, …) or the parser's *parser.SyntaxError.
func Parse(text string, base Pos) (*Query, error) {
	q := &Query{Text: text, Base: base}
	if strings.TrimSpace(stripComments(text)) == "" {
		return nil, &Error{Pos: base, Msg: "empty statement", Syntax: true}
	}
	// The statement's ";" (cut off by the script splitter) ends it, so that
	// errors at the end say "end of statement".
	stmt, err := parser.ParseQuery(text+";", base)
	if err != nil {
		var se *parser.SyntaxError
		if errors.As(err, &se) && strings.HasSuffix(se.Near, ";") && strings.HasSuffix(text+";", se.Near) {
			se.Near = strings.TrimSuffix(se.Near, ";") // an unterminated string or comment
		}
		return nil, err
	}
	q.Stmt = stmt
	if err := q.shape(); err != nil {
		return nil, err
	}
	return q, nil
}

// stripComments returns text without its -- comments (enough to tell an
// empty statement).
func stripComments(text string) string {
	var b strings.Builder
	for _, line := range strings.Split(text, "\n") {
		if i := strings.Index(line, "--"); i >= 0 {
			line = line[:i]
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}

// shape checks the statement's form and fills Target and Selects.
func (q *Query) shape() error {
	s := q.Stmt
	if ins := s.Insert; ins != nil {
		if len(ins.Table.Parts) > 1 {
			return q.Errorf(ins.Table, "qualified table names are not supported")
		}
		q.Target = &Target{Name: ins.Table.Parts[0], Pos: ins.Table.Pos}
		for _, c := range ins.Columns {
			if len(c.Parts) > 1 {
				return q.Errorf(c, "a column of INSERT INTO must be a plain name")
			}
			q.Target.Columns = append(q.Target.Columns, c.Parts[0])
		}
		if _, ok := s.Query.(*parser.Values); ok {
			return &Error{Pos: ins.Pos, Msg: fmt.Sprintf("INSERT … VALUES is not supported: write INSERT INTO %s SELECT …", q.Target.Name),
				Near: q.nearSpan(q.off(ins.Pos), len(q.Text))}
		}
	}
	b, err := q.body(s.Query)
	if err != nil {
		return err
	}
	q.Body, q.Selects = b, b.Selects
	return nil
}

// body reads a query: [WITH …] SELECT or UNION ALL.
func (q *Query) body(n parser.QueryExpr) (*Body, error) {
	b := &Body{Node: n}
	if w, ok := n.(*parser.With); ok {
		for _, c := range w.CTEs {
			for _, o := range b.CTEs {
				if strings.EqualFold(o.Name, c.Name) {
					return nil, &Error{Pos: c.Pos, Msg: fmt.Sprintf("WITH defines %s twice", c.Name), Near: c.Name}
				}
			}
			cb, err := q.body(c.Query)
			if err != nil {
				return nil, err
			}
			b.CTEs = append(b.CTEs, &CTE{Name: c.Name, Columns: c.Columns, Body: cb, Pos: c.Pos})
		}
		n = w.Body
	}
	if err := q.selects(b, n); err != nil {
		return nil, err
	}
	return b, nil
}

// selects flattens a SELECT or a tree of UNION ALL into b.Selects.
func (q *Query) selects(b *Body, n parser.QueryExpr) error {
	switch s := n.(type) {
	case *parser.SetOp:
		if s.Op != "UNION" || !s.All {
			op := s.Op
			if s.All {
				op += " ALL"
			}
			msg := op + " is not supported"
			if s.Op == "UNION" {
				msg = "UNION without ALL is not supported: use UNION ALL"
			}
			return &Error{Pos: s.OpPos, Msg: msg}
		}
		if err := q.selects(b, s.L); err != nil {
			return err
		}
		return q.selects(b, s.R)
	case *parser.Ordered:
		switch {
		case len(s.OrderBy) > 0:
			return &Error{Pos: q.keywordBefore(s.OrderBy[0].X, "ORDER"), Msg: "ORDER BY is not supported"}
		case s.Limit != nil:
			return &Error{Pos: q.keywordBefore(s.Limit, "LIMIT"), Msg: "LIMIT is not supported"}
		}
		return &Error{Pos: q.keywordBefore(s.Offset, "OFFSET"), Msg: "OFFSET is not supported"}
	case *parser.With:
		return &Error{Pos: s.Pos, Msg: "WITH must start the query (or a subquery): write (WITH … SELECT …) in FROM"}
	case *parser.Values:
		return q.Errorf(s, "VALUES is not supported: a query reads tables")
	case *parser.Select:
		sel, err := q.selectShape(s)
		if err != nil {
			return err
		}
		b.Selects = append(b.Selects, sel)
		return nil
	}
	return q.Errorf(n, "expected a SELECT")
}

// keywordBefore returns the position of the last keyword kw before node.
func (q *Query) keywordBefore(node Node, kw string) Pos {
	stop := q.off(node.Position())
	at := -1
	for i := 0; ; {
		t := q.tokenAt(i)
		if t.start >= stop {
			break
		}
		if strings.EqualFold(q.Text[t.start:t.end], kw) {
			at = t.start
		}
		i = t.end
	}
	if at < 0 {
		return node.Position()
	}
	return position(q.Text, q.Base, at)
}

func (q *Query) selectShape(s *parser.Select) (*Select, error) {
	if s.Distinct {
		t := q.tokenAt(q.after(q.off(s.Pos), 1))
		return nil, &Error{Pos: position(q.Text, q.Base, t.start), Msg: "SELECT DISTINCT is not supported: use GROUP BY"}
	}
	sel := &Select{Node: s, Where: s.Where, GroupBy: s.GroupBy, Having: s.Having}
	for _, it := range s.Items {
		item := &Item{Expr: it.Expr, Alias: it.Alias, AliasPos: it.AliasPos}
		if st, ok := it.Expr.(*parser.Star); ok {
			item.Star = true
			if st.Qualifier != nil {
				if len(st.Qualifier.Parts) > 1 {
					return nil, q.Errorf(st, "qualified table names are not supported")
				}
				item.StarOf = st.Qualifier.Parts[0]
			}
		}
		sel.Items = append(sel.Items, item)
	}
	from, err := q.from(s.From)
	if err != nil {
		return nil, err
	}
	sel.From = from
	return sel, nil
}

func (q *Query) from(ref parser.TableRef) (*From, error) {
	if ref == nil {
		return nil, nil
	}
	f, err := q.relation(ref)
	if err != nil {
		return nil, err
	}
	leaves := f.Leaves()
	for i, l := range leaves {
		for _, o := range leaves[:i] {
			if strings.EqualFold(l.Ref(), o.Ref()) {
				return nil, q.Errorf(l, "table name %q is used twice: give one of them an alias", l.Ref())
			}
		}
	}
	return f, nil
}

// relation reads one relation of FROM.
func (q *Query) relation(ref parser.TableRef) (*From, error) {
	switch t := ref.(type) {
	case *parser.Join:
		switch t.Kind {
		case parser.JoinComma, parser.JoinInner, parser.JoinLeft, parser.JoinRight, parser.JoinFull:
		case parser.JoinCross:
			return nil, &Error{Pos: t.KindPos, Msg: "CROSS JOIN is not supported: join on a condition (JOIN … ON)", Near: q.TextOf(t)}
		default:
			return nil, &Error{Pos: t.KindPos, Msg: fmt.Sprintf("%s is not supported: only inner joins (JOIN … ON)", t.Kind),
				Near: q.TextOf(t)}
		}
		if t.Using != nil {
			return nil, q.Errorf(t, "JOIN … USING is not supported: write JOIN … ON")
		}
		if t.On == nil && t.Kind != parser.JoinComma {
			return nil, q.Errorf(t, "JOIN needs an ON condition")
		}
		l, err := q.relation(t.L)
		if err != nil {
			return nil, err
		}
		r, err := q.relation(t.R)
		if err != nil {
			return nil, err
		}
		return &From{Join: t, L: l, R: r, On: t.On}, nil
	case *parser.Derived:
		b, err := q.body(t.Query)
		if err != nil {
			return nil, err
		}
		sub := &Subquery{Node: t, Body: b}
		if t.Alias != nil {
			sub.Name, sub.Columns = t.Alias.Name, t.Alias.Columns
		} else {
			q.subqueries++
			sub.Name = "$subquery" + strconv.Itoa(q.subqueries)
		}
		return &From{Sub: sub}, nil
	}
	if tf, ok := ref.(*parser.TableFunc); ok {
		tvf, err := q.tvf(tf)
		if err != nil {
			return nil, err
		}
		return &From{TVF: tvf}, nil
	}
	tab, err := q.table(ref)
	if err != nil {
		return nil, err
	}
	return &From{Table: tab}, nil
}

// tvfUsage says how each window table function is called.
var tvfUsage = map[string]string{
	"TUMBLE":   "TUMBLE(TABLE t, DESCRIPTOR(ts), size [, offset])",
	"HOP":      "HOP(TABLE t, DESCRIPTOR(ts), slide, size [, offset])",
	"CUMULATE": "CUMULATE(TABLE t, DESCRIPTOR(ts), step, size [, offset])",
}

// tvf reads a window table function of FROM.
func (q *Query) tvf(tf *parser.TableFunc) (*TVF, error) {
	c := tf.Call
	kind := strings.ToUpper(c.Name)
	usage, ok := tvfUsage[kind]
	if !ok {
		return nil, q.Errorf(tf, "unknown table function %s: the window functions are TUMBLE, HOP and CUMULATE", c.Name)
	}
	want := 3
	if kind != "TUMBLE" {
		want = 4
	}
	if len(c.Args) != want && len(c.Args) != want+1 || c.Distinct || c.Star {
		return nil, q.Errorf(tf, "%s takes %s", kind, usage)
	}
	for _, a := range c.Args {
		if _, named := a.(*parser.NamedArg); named {
			return nil, q.Errorf(a, "named arguments of %s are not supported: write %s", kind, usage)
		}
	}
	ta, ok := c.Args[0].(*parser.TableArg)
	if !ok || len(ta.Name.Parts) != 1 {
		return nil, q.Errorf(c.Args[0], "the first argument of %s must be TABLE name, as %s", kind, usage)
	}
	if len(ta.PartitionBy) > 0 {
		return nil, q.Errorf(ta, "TABLE … PARTITION BY is not supported")
	}
	d, ok := c.Args[1].(*parser.Descriptor)
	if !ok || len(d.Columns) != 1 || len(d.Columns[0].Parts) > 2 { // ts, or a ROW's field row.ts
		return nil, q.Errorf(c.Args[1], "the second argument of %s must be DESCRIPTOR(time column), as %s", kind, usage)
	}
	t := &TVF{Node: tf, Kind: kind, Table: &Table{Node: &parser.TableName{Name: ta.Name}, Name: ta.Name.Parts[0]},
		TimeCol: d.Columns[0], Name: ta.Name.Parts[0]}
	for i, a := range c.Args[2:] {
		iv, ok := a.(*parser.Interval)
		if !ok {
			return nil, q.Errorf(a, "%s takes INTERVAL durations, as %s", kind, usage)
		}
		ms, err := intervalMillis(iv)
		if err != nil {
			return nil, q.Errorf(a, "%s", err.Error())
		}
		if i < want-2 && ms <= 0 {
			return nil, q.Errorf(a, "the INTERVALs of %s must be positive", kind)
		}
		if ms > math.MaxInt64/int64(time.Millisecond) || ms < -math.MaxInt64/int64(time.Millisecond) {
			return nil, q.Errorf(a, "INTERVAL too large")
		}
		if i == want-2 {
			t.Offset = time.Duration(ms) * time.Millisecond
		} else {
			t.Durations = append(t.Durations, time.Duration(ms)*time.Millisecond)
		}
	}
	if tf.Alias != nil {
		if tf.Alias.Columns != nil {
			return nil, q.Errorf(tf, "a table alias with a column list is not supported")
		}
		t.Name = tf.Alias.Name
	}
	return t, nil
}

// table reads one table of FROM.
func (q *Query) table(ref parser.TableRef) (*Table, error) {
	switch t := ref.(type) {
	case *parser.TableName:
		if len(t.Name.Parts) > 1 {
			return nil, q.Errorf(t, "qualified table names are not supported")
		}
		// FOR SYSTEM_TIME AS OF (Node.SystemTime) is the planner's: the
		// versioned side of a temporal join.
		tab := &Table{Node: t, Name: t.Name.Parts[0]}
		if t.Alias != nil {
			if t.Alias.Columns != nil {
				return nil, q.Errorf(t, "a table alias with a column list is not supported")
			}
			tab.Alias = t.Alias.Name
		}
		return tab, nil
	}
	return nil, q.Errorf(ref, "unsupported FROM clause")
}

// Pos returns where node starts in the file.
func (q *Query) Pos(node Node) Pos {
	start, _ := q.span(node)
	return position(q.Text, q.Base, start)
}

// TextOf returns node's text as the user wrote it, with whitespace runs
// shown as one space.
func (q *Query) TextOf(node Node) string {
	start, end := q.span(node)
	return strings.Join(strings.Fields(q.Text[start:end]), " ")
}

// nearSpan is the text of a byte span as an error quotes it.
func (q *Query) nearSpan(start, end int) string {
	return nearText(q.Text[start:max(start, end)])
}

// Errorf returns an *Error at node, with node's text (shortened) as Near.
func (q *Query) Errorf(node Node, format string, args ...any) *Error {
	start, end := q.span(node)
	return &Error{Pos: position(q.Text, q.Base, start), Msg: fmt.Sprintf(format, args...), Near: q.nearSpan(start, end)}
}

// errorAt is Errorf without Near, for messages that name the text.
func (q *Query) errorAt(node Node, format string, args ...any) *Error {
	return &Error{Pos: q.Pos(node), Msg: fmt.Sprintf(format, args...)}
}

// Tables returns the tables of f's leaves, left to right (nil for a
// subquery).
func (f *From) Tables() []*Table {
	var out []*Table
	for _, l := range f.Leaves() {
		out = append(out, l.Table)
	}
	return out
}
