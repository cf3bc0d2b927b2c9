// Package query is the front end of the SQL planner for queries: it parses
// one INSERT INTO … SELECT, SELECT or … UNION ALL … statement with
// github.com/xwb1989/sqlparser, exposes its shape (Query, Select, Item,
// From, Table), resolves column names against the tables of FROM (Scope)
// and translates scalar expressions into Sluice's expression AST
// (operators/expr), type-checked, so that the planner works with resolved,
// typed expressions.
//
// Every error is an *Error that names the line:column in the job file and
// the offending text. sqlparser's AST has no positions: a node is found in
// the text by matching its printed form against the statement's tokens (see
// Query.Pos).
//
// sqlparser reads MySQL's dialect; Parse rewrites what Flink's dialect
// writes differently before parsing (CAST targets, TIMESTAMP '…' literals,
// SUBSTRING with any first argument, "quoted" names, backslashes in strings,
// names such as key that MySQL reserves) and keeps a map so that positions
// still point into the user's text.
//
// The planner's use, for each query statement of a script:
//
//	q, err := query.Parse(stmt.Text, query.Pos{Line: stmt.Line, Col: stmt.Col})
//	for _, sel := range q.Selects {
//		scope, err := sel.From.Scope(schemasOf(sel.From.Tables)...) // catalog lookups, errors via q.Errorf(table.Node, …)
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
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/xwb1989/sqlparser"

	"github.com/sluicehq/sluice/internal/suggest"
)

// Query is one parsed query statement.
//
// The nodes it exposes are sqlparser's; pass any of them (or any node
// below them) to Pos, TextOf and Errorf to place it in the file. A Query is
// not safe for concurrent use: locating nodes fills caches.
type Query struct {
	Text string // the statement as given to Parse
	Base Pos    // where Text starts in its file

	Stmt sqlparser.Statement // *sqlparser.Insert or a SELECT statement

	// Target is the table of INSERT INTO; nil for a bare SELECT.
	Target *Target
	// Selects are the SELECTs of the query in order: one, or one per branch
	// of a UNION ALL.
	Selects []*Select

	rw  *rewritten
	raw []token // tokens of the rewritten text
	loc *locator
}

// Target is the table an INSERT writes to.
type Target struct {
	Name    string
	Columns []string // INSERT INTO t (a, b) …: the column list; nil when absent
	Pos     Pos      // of the name
}

// Select is one SELECT: the whole query, or one branch of a UNION ALL.
type Select struct {
	Node    *sqlparser.Select
	Items   []*Item          // the select list, in order
	From    *From            // nil when there is no FROM (FROM dual counts as none)
	Where   sqlparser.Expr   // nil when absent
	GroupBy []sqlparser.Expr // in order; window calls (TUMBLE …) included
	Having  sqlparser.Expr   // nil when absent
}

// Item is one element of a select list: an expression with an optional
// alias, or * / t.*.
type Item struct {
	Node   sqlparser.SelectExpr // *sqlparser.AliasedExpr or *sqlparser.StarExpr
	Expr   sqlparser.Expr       // nil for a star
	Alias  string               // AS name; "" when absent
	Star   bool
	StarOf string // t for t.*; "" for *
}

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
	if c, ok := it.Expr.(*sqlparser.ColName); ok {
		return c.Name.String()
	}
	return "EXPR$" + strconv.Itoa(i)
}

// From is the FROM clause of a SELECT: one table, or an inner JOIN of two
// tables with its ON condition.
type From struct {
	Tables []*Table                 // one, or the left and right table of the JOIN
	On     sqlparser.Expr           // the JOIN's ON condition; nil without a JOIN
	Join   *sqlparser.JoinTableExpr // nil without a JOIN
}

// Table is a table named in FROM.
type Table struct {
	Node  *sqlparser.AliasedTableExpr
	Name  string
	Alias string // "" when absent
}

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
// byte is at base in its file. Errors are *Error; constructs the planner
// does not support (ORDER BY, LIMIT, DISTINCT, UNION without ALL, subqueries
// in FROM, outer joins, joins of more than two tables, INSERT … VALUES, …)
// are errors here too.
func Parse(text string, base Pos) (*Query, error) {
	q := &Query{Text: text, Base: base}
	rw, lerr := rewrite(text)
	if lerr != nil {
		return nil, &Error{Pos: position(text, base, lerr.off), Msg: lerr.msg,
			Near: nearText(text[lerr.off:lerr.end]), Syntax: true}
	}
	q.rw = rw
	q.raw, _ = lex(rw.text, mysqlMode)
	if len(q.raw) == 0 {
		return nil, &Error{Pos: base, Msg: "empty statement", Syntax: true}
	}
	if first := q.raw[0]; first.is("with") {
		return nil, q.rawError(0, "WITH is not supported: write the query into INSERT INTO … SELECT")
	}
	if err := q.subqueryInFrom(); err != nil {
		return nil, err
	}
	stmt, err := parseSQL(rw.text)
	if err != nil {
		return nil, q.syntaxError(err)
	}
	if stmt == nil {
		return nil, &Error{Pos: base, Msg: "empty statement", Syntax: true}
	}
	q.Stmt = stmt
	q.loc = newLocator(canon(q.raw), stmt)
	if err := q.shape(); err != nil {
		return nil, err
	}
	return q, nil
}

// subqueryInFromMsg says that FROM (SELECT …) is not supported and what is.
const subqueryInFromMsg = "subqueries in FROM are not supported (FROM names a table, or two tables joined with JOIN … ON; " +
	"filter and compute in the outer SELECT)"

// subqueryInFrom reports FROM (SELECT …) or JOIN (SELECT …), with or without
// an alias, before sqlparser, which would call a missing alias a syntax
// error at the end of the statement.
func (q *Query) subqueryInFrom() error {
	toks := q.raw
	for i, t := range toks {
		if !t.is("from") && !t.is("join") {
			continue
		}
		j := i + 1
		for j < len(toks) && toks[j].is("(") {
			j++
		}
		if j == i+1 || j >= len(toks) || !toks[j].is("select") {
			continue
		}
		// The subquery's text: from its "(" to the matching ")".
		depth, end := 0, len(toks)-1
		for k := i + 1; k < len(toks); k++ {
			if toks[k].is("(") {
				depth++
			} else if toks[k].is(")") {
				if depth--; depth == 0 {
					end = k
					break
				}
			}
		}
		start, stop := q.rw.origStart(toks[i+1].start), q.rw.origEnd(toks[end].end)
		return &Error{Pos: position(q.Text, q.Base, start), Msg: subqueryInFromMsg,
			Near: nearText(q.Text[start:max(start, stop)])}
	}
	return nil
}

// parseSQL calls sqlparser, turning a panic inside it into an error.
func parseSQL(text string) (stmt sqlparser.Statement, err error) {
	defer func() {
		if r := recover(); r != nil {
			stmt, err = nil, fmt.Errorf("syntax error at position %d", len(text))
		}
	}()
	return sqlparser.ParseStrictDDL(text)
}

var posRe = regexp.MustCompile(`^(.*?) at position (\d+)`)

// syntaxError places an error of sqlparser, which names the byte position
// just after the token it could not take.
func (q *Query) syntaxError(err error) *Error {
	m := posRe.FindStringSubmatch(err.Error())
	if m == nil {
		return &Error{Pos: q.Base, Msg: err.Error(), Syntax: true}
	}
	msg := m[1]
	p, _ := strconv.Atoi(m[2])
	end := p - 1 // the offending token ends here, in the rewritten text
	for i, t := range q.raw {
		if t.end != end {
			continue
		}
		if hint := keywordHint(q.raw, i); hint != "" {
			return q.rawError(i-1, msg+" (did you mean "+hint+"?)")
		}
		return q.rawError(i, msg)
	}
	last := q.raw[len(q.raw)-1]
	if end >= last.end {
		off := q.rw.origEnd(last.end)
		return &Error{Pos: position(q.Text, q.Base, off), Msg: msg + " at end of statement", Syntax: true}
	}
	off := q.rw.origStart(end)
	return &Error{Pos: position(q.Text, q.Base, off), Msg: msg, Syntax: true}
}

// rawError is a syntax error at token i of the rewritten text.
func (q *Query) rawError(i int, msg string) *Error {
	t := q.raw[i]
	start, end := q.rw.origStart(t.start), q.rw.origEnd(t.end)
	return &Error{Pos: position(q.Text, q.Base, start), Msg: msg,
		Near: nearText(q.Text[start:max(start, end)]), Syntax: true}
}

// clauseWords are the keywords a misspelt word before a syntax error is
// compared with.
var clauseWords = []string{"SELECT", "FROM", "WHERE", "GROUP", "HAVING", "UNION", "JOIN", "INSERT",
	"INTO", "BETWEEN", "INTERVAL", "CASE", "WHEN", "THEN", "ELSE", "DISTINCT"}

// keywordHint returns the keyword that the word before token i was
// probably meant to be (SELECT a FORM t fails at t, FORM read as an alias),
// or "".
func keywordHint(toks []token, i int) string {
	if i == 0 || toks[i-1].kind != tkWord || len(toks[i-1].val) < 4 {
		return ""
	}
	w := toks[i-1].val
	k := suggest.Nearest(w, clauseWords)
	if k == "" || strings.EqualFold(k, w) || !strings.EqualFold(k[:1], w[:1]) {
		return ""
	}
	return k
}

// shape checks the statement's form and fills Target and Selects.
func (q *Query) shape() error {
	var rows sqlparser.SQLNode
	switch s := q.Stmt.(type) {
	case *sqlparser.Insert:
		if s.Action != sqlparser.InsertStr || s.Ignore != "" {
			return q.Errorf(s, "only INSERT INTO … SELECT is supported")
		}
		if len(s.Partitions) > 0 || len(s.OnDup) > 0 {
			return q.Errorf(s, "only INSERT INTO … SELECT is supported")
		}
		if !s.Table.Qualifier.IsEmpty() {
			return q.Errorf(s, "qualified table names are not supported")
		}
		q.Target = &Target{Name: s.Table.Name.String(), Pos: q.afterWord(s, "into")}
		for _, c := range s.Columns {
			q.Target.Columns = append(q.Target.Columns, c.String())
		}
		if _, ok := s.Rows.(sqlparser.Values); ok {
			return q.Errorf(s, "INSERT … VALUES is not supported: write INSERT INTO %s SELECT …", q.Target.Name)
		}
		rows = s.Rows
	case sqlparser.SelectStatement:
		rows = s
	default:
		return q.Errorf(s, "expected INSERT INTO … SELECT or SELECT")
	}
	return q.selects(rows)
}

// selects flattens a SELECT or a tree of UNION ALL into q.Selects.
func (q *Query) selects(n sqlparser.SQLNode) error {
	switch s := n.(type) {
	case *sqlparser.ParenSelect:
		return q.selects(s.Select)
	case *sqlparser.Union:
		if s.Type != sqlparser.UnionAllStr {
			return q.errorAtWords(s, s.Left, "UNION without ALL is not supported: use UNION ALL", "union")
		}
		if len(s.OrderBy) > 0 {
			return q.errorAtWords(s, s.Right, "ORDER BY is not supported", "order", "by")
		}
		if s.Limit != nil {
			return q.errorAtWords(s, s.Right, "LIMIT is not supported", "limit")
		}
		if s.Lock != "" {
			return q.Errorf(s, "locking clauses are not supported")
		}
		if err := q.selects(s.Left); err != nil {
			return err
		}
		return q.selects(s.Right)
	case *sqlparser.Select:
		sel, err := q.selectShape(s)
		if err != nil {
			return err
		}
		q.Selects = append(q.Selects, sel)
		return nil
	}
	return q.Errorf(n, "expected a SELECT")
}

func (q *Query) selectShape(s *sqlparser.Select) (*Select, error) {
	switch {
	case s.Distinct != "":
		return nil, q.errorAtWords(s, nil, "SELECT DISTINCT is not supported: use GROUP BY", "distinct")
	case len(s.OrderBy) > 0:
		return nil, q.errorAtWords(s, nil, "ORDER BY is not supported", "order", "by")
	case s.Limit != nil:
		return nil, q.errorAtWords(s, nil, "LIMIT is not supported", "limit")
	case s.Lock != "":
		return nil, q.Errorf(s, "locking clauses are not supported")
	case s.Cache != "" || s.Hints != "":
		return nil, q.Errorf(s, "query hints are not supported")
	}
	sel := &Select{Node: s}
	for _, se := range s.SelectExprs {
		switch e := se.(type) {
		case *sqlparser.StarExpr:
			if !e.TableName.Qualifier.IsEmpty() {
				return nil, q.Errorf(e, "qualified table names are not supported")
			}
			sel.Items = append(sel.Items, &Item{Node: e, Star: true, StarOf: e.TableName.Name.String()})
		case *sqlparser.AliasedExpr:
			sel.Items = append(sel.Items, &Item{Node: e, Expr: e.Expr, Alias: e.As.String()})
		default:
			return nil, q.Errorf(s, "unsupported select item %s", sqlparser.String(se))
		}
	}
	from, err := q.from(s)
	if err != nil {
		return nil, err
	}
	sel.From = from
	if s.Where != nil {
		sel.Where = s.Where.Expr
	}
	sel.GroupBy = s.GroupBy
	if s.Having != nil {
		sel.Having = s.Having.Expr
	}
	return sel, nil
}

func (q *Query) from(s *sqlparser.Select) (*From, error) {
	if len(s.From) == 0 {
		return nil, nil
	}
	if len(s.From) > 1 {
		return nil, q.Errorf(s.From[1], "FROM a, b is not supported: join tables with JOIN … ON")
	}
	switch t := s.From[0].(type) {
	case *sqlparser.AliasedTableExpr:
		tab, err := q.table(t)
		if err != nil || tab == nil {
			return nil, err
		}
		return &From{Tables: []*Table{tab}}, nil
	case *sqlparser.JoinTableExpr:
		if t.Join != sqlparser.JoinStr {
			return nil, q.Errorf(t, "%s is not supported: only inner joins (JOIN … ON)", strings.ToUpper(t.Join))
		}
		if t.Condition.Using != nil {
			return nil, q.Errorf(t, "JOIN … USING is not supported: write JOIN … ON")
		}
		if t.Condition.On == nil {
			return nil, q.Errorf(t, "JOIN needs an ON condition")
		}
		f := &From{On: t.Condition.On, Join: t}
		for _, side := range []sqlparser.TableExpr{t.LeftExpr, t.RightExpr} {
			a, ok := side.(*sqlparser.AliasedTableExpr)
			if !ok {
				return nil, q.Errorf(side, "only two tables can be joined")
			}
			tab, err := q.table(a)
			if err != nil {
				return nil, err
			}
			if tab == nil {
				return nil, q.Errorf(a, "unknown table dual")
			}
			f.Tables = append(f.Tables, tab)
		}
		if l, r := f.Tables[0], f.Tables[1]; strings.EqualFold(l.Ref(), r.Ref()) {
			return nil, q.Errorf(r.Node, "table name %q is used twice: give one of them an alias", r.Ref())
		}
		return f, nil
	}
	return nil, q.Errorf(s.From[0], "unsupported FROM clause")
}

// table reads one table of FROM; it returns nil for dual, MySQL's table
// of no columns, which sqlparser puts in place of a missing FROM.
func (q *Query) table(t *sqlparser.AliasedTableExpr) (*Table, error) {
	name, ok := t.Expr.(sqlparser.TableName)
	if !ok {
		return nil, q.Errorf(t, "%s", subqueryInFromMsg)
	}
	if len(t.Partitions) > 0 || t.Hints != nil {
		return nil, q.Errorf(t, "partitions and index hints are not supported")
	}
	if !name.Qualifier.IsEmpty() {
		return nil, q.Errorf(t, "qualified table names are not supported")
	}
	if name.Name.String() == "dual" && t.As.IsEmpty() {
		return nil, nil
	}
	return &Table{Node: t, Name: name.Name.String(), Alias: t.As.String()}, nil
}

// Pos returns where node starts in the file. node is a node of q.Stmt; one
// that cannot be found in the text is placed at the nearest ancestor that
// can (at worst the start of the statement).
func (q *Query) Pos(node sqlparser.SQLNode) Pos {
	start, _, _ := q.origSpan(node)
	return position(q.Text, q.Base, start)
}

// TextOf returns node's text as the user wrote it, with whitespace runs
// shown as one space; for a node that cannot be found in the text, its
// printed form.
func (q *Query) TextOf(node sqlparser.SQLNode) string {
	start, end, ok := q.origSpan(node)
	if !ok {
		return strings.Join(strings.Fields(printed(node)), " ")
	}
	return strings.Join(strings.Fields(q.Text[start:end]), " ")
}

// Errorf returns an *Error at node, with node's text (shortened) as Near.
func (q *Query) Errorf(node sqlparser.SQLNode, format string, args ...any) *Error {
	return &Error{Pos: q.Pos(node), Msg: fmt.Sprintf(format, args...), Near: nearText(q.TextOf(node))}
}

// errorAt is Errorf without Near, for messages that name the text.
func (q *Query) errorAt(node sqlparser.SQLNode, format string, args ...any) *Error {
	return &Error{Pos: q.Pos(node), Msg: fmt.Sprintf(format, args...)}
}

// origSpan returns the byte span of node in q.Text and whether node itself
// was found (else the span is an ancestor's).
func (q *Query) origSpan(node sqlparser.SQLNode) (start, end int, ok bool) {
	if q.loc == nil || isNil(node) {
		return 0, 0, false
	}
	lo, hi, ok := q.loc.span(node)
	return q.tokSpan(lo, hi, ok)
}

func (q *Query) tokSpan(lo, hi int, ok bool) (int, int, bool) {
	toks := q.loc.toks
	if lo >= hi || hi > len(toks) {
		return 0, 0, false
	}
	start, end := q.rw.origStart(toks[lo].start), q.rw.origEnd(toks[hi-1].end)
	if end < start {
		end = start
	}
	return start, end, ok
}

// printed is sqlparser's text for n, or "" where it cannot print n.
func printed(n sqlparser.SQLNode) (s string) {
	defer func() {
		if recover() != nil {
			s = ""
		}
	}()
	return sqlparser.String(n)
}

// errorAtWords returns an *Error at the first occurrence of the keywords
// words inside node, after the node after when it is not nil (at node when
// they are not found); msg names them.
func (q *Query) errorAtWords(node, after sqlparser.SQLNode, msg string, words ...string) *Error {
	lo, hi, _ := q.loc.span(node)
	if after != nil {
		if _, ahi, ok := q.loc.span(after); ok && ahi > lo && ahi <= hi {
			lo = ahi
		}
	}
	if i := q.loc.find(wordTokens(words), lo, hi); i >= 0 {
		if start, _, ok := q.tokSpan(i, i+len(words), true); ok {
			return &Error{Pos: position(q.Text, q.Base, start), Msg: msg}
		}
	}
	return q.errorAt(node, "%s", msg)
}

// afterWord returns the position of the token after the keyword word in
// node (INTO for the target of an INSERT).
func (q *Query) afterWord(node sqlparser.SQLNode, word string) Pos {
	lo, hi, _ := q.loc.span(node)
	if i := q.loc.find(wordTokens([]string{word}), lo, hi); i >= 0 && i+1 < hi {
		if start, _, ok := q.tokSpan(i+1, i+2, true); ok {
			return position(q.Text, q.Base, start)
		}
	}
	return q.Pos(node)
}

func wordTokens(words []string) []token {
	toks := make([]token, len(words))
	for i, w := range words {
		toks[i] = token{kind: tkWord, val: w}
	}
	return toks
}
