package parser

import (
	"fmt"
	"strings"
)

// reserved are the words that cannot be a bare column name or an alias
// written without AS: the words the query grammar needs to tell where an
// expression or a table reference ends. Every other keyword (key, value,
// day, time, …) is a name where a name is expected. A reserved word is a
// name in `backticks` or "double quotes".
var reserved = setOf(
	"ALL", "AND", "AS", "BETWEEN", "BY", "CASE", "CROSS", "DISTINCT", "ELSE", "END", "ESCAPE",
	"EXCEPT", "EXISTS", "FALSE", "FETCH", "FOR", "FROM", "FULL", "GROUP", "HAVING", "IN", "INNER",
	"INTERSECT", "INTERVAL", "IS", "JOIN", "LATERAL", "LEFT", "LIKE", "LIMIT", "MATCH_RECOGNIZE",
	"MINUS", "NATURAL", "NOT", "NULL", "OFFSET", "ON", "OR", "ORDER", "OUTER", "OVER", "RIGHT",
	"SELECT", "SIMILAR", "TABLE", "TABLESAMPLE", "THEN", "TRUE", "UNION", "UNKNOWN", "USING",
	"VALUES", "WHEN", "WHERE", "WINDOW", "WITH", "QUALIFY",
)

// specialCalls are the functions with a grammar of their own, read
// specially when a '(' follows them.
var specialCalls = setOf("CAST", "TRY_CAST", "EXTRACT", "POSITION", "SUBSTRING", "TRIM", "OVERLAY", "EXISTS")

// bareCalls are the functions called without parentheses.
var bareCalls = setOf("CURRENT_TIMESTAMP", "LOCALTIMESTAMP", "CURRENT_DATE", "CURRENT_TIME", "LOCALTIME")

// specialWords are the names a call must quote to be read as a plain call.
var specialWords = func() map[string]bool {
	m := map[string]bool{}
	for _, s := range []map[string]bool{reserved, specialCalls, bareCalls} {
		for k := range s {
			m[k] = true
		}
	}
	return m
}()

func setOf(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// ParseQuery parses a query statement: INSERT INTO t [(cols)] query, or a
// bare query (SELECT …, WITH …, (…) UNION …). text starts at the position
// at of the job file (Pos{1, 1} for a text of its own; a Statement's Line
// and Col for a statement of a script), so that every position in the
// AST and in errors is a position in the file. A ';' may end the text.
// Every error is a *SyntaxError.
func ParseQuery(text string, at Pos) (*QueryStatement, error) {
	p, err := newParser(text, at)
	if err != nil {
		return nil, err
	}
	s, err := p.queryStatement()
	if err != nil {
		return nil, err
	}
	return s, p.queryEnd()
}

// ParseExpr parses one expression, starting at the position at.
func ParseExpr(text string, at Pos) (Expr, error) {
	p, err := newParser(text, at)
	if err != nil {
		return nil, err
	}
	e, err := p.expr()
	if err != nil {
		return nil, err
	}
	return e, p.queryEnd()
}

// ParseQuery parses the statement as a query statement (see ParseQuery),
// with positions in its script.
func (s Statement) ParseQuery() (*QueryStatement, error) {
	return ParseQuery(s.Text, Pos{s.Line, s.Col})
}

// newParser lexes text for one statement, which a ';' may end.
func newParser(text string, at Pos) (*parser, error) {
	at = Pos{max(at.Line, 1), max(at.Col, 1)}
	toks, err := lexAt(text, at)
	if err != nil {
		return nil, err
	}
	end := token{kind: tEOF, off: len(text), end: len(text), pos: at}
	if len(toks) > 0 {
		last := toks[len(toks)-1]
		s := Statement{Text: text[last.off:], Line: last.pos.Line, Col: last.pos.Col}
		line, col := s.Position(len(s.Text))
		end.pos = Pos{line, col}
	}
	for i, t := range toks {
		if t.isPunct(";") {
			if i == len(toks)-1 {
				end = t
				end.kind = tEOF
				toks = toks[:i]
			}
			break
		}
	}
	return &parser{toks: append(toks, end)}, nil
}

// found describes a token for "…, found X".
func found(t token) string {
	switch {
	case t.kind == tEOF && t.text == "":
		return "end of input"
	case t.kind == tEOF:
		return "end of statement"
	case t.kind == tString:
		return "string " + nearText(t.text)
	}
	return "'" + nearText(t.text) + "'"
}

// failAt returns an error at t: msg, then what was found there.
func (p *parser) failAt(t token, msg string) *SyntaxError {
	return &SyntaxError{Line: t.pos.Line, Col: t.pos.Col, Msg: msg + ", found " + found(t)}
}

// want fails at the next token, which is not what was expected.
func (p *parser) want(what string) *SyntaxError { return p.failAt(p.peek(), "expected "+what) }

// unsupported returns "what is not supported" at t.
func (p *parser) unsupported(t token, what string) *SyntaxError {
	return &SyntaxError{Line: t.pos.Line, Col: t.pos.Col, Msg: what + " is not supported"}
}

// closeParen moves past the ')' that closes the '(' at open.
func (p *parser) closeParen(open token, of string) error {
	if p.acceptPunct(")") {
		return nil
	}
	return p.misspeltClause(p.want(fmt.Sprintf("')' to close %s at %s", of, open.pos)))
}

// wantKeyword moves past the keyword kw, or fails saying what it is for.
func (p *parser) wantKeyword(kw, context string) error {
	if p.accept(kw) {
		return nil
	}
	msg := kw
	if context != "" {
		msg += " " + context
	}
	return p.want(msg)
}

// queryEnd fails unless the text ends here.
func (p *parser) queryEnd() error {
	if t := p.peek(); t.kind != tEOF {
		return p.misspeltClause(p.failAt(t, "expected end of statement"))
	}
	return nil
}

// clauseWords are the keywords a misspelling of which is read as an
// alias: SELECT a FORM t.
var clauseWords = []string{"FROM", "WHERE", "GROUP", "HAVING", "ORDER", "LIMIT", "UNION", "JOIN", "LEFT", "RIGHT",
	"INNER", "FULL", "CROSS", "ON", "SELECT"}

// misspeltClause adds a hint to e when the word before the current token looks
// like a misspelt clause keyword that the parser took for an alias.
func (p *parser) misspeltClause(e *SyntaxError) *SyntaxError {
	if p.i == 0 {
		return e
	}
	prev := p.toks[p.i-1]
	if prev.kind == tIdent && !reserved[strings.ToUpper(prev.text)] {
		if near := nearestKeyword(prev.text, clauseWords); near != "" {
			e.Hint = fmt.Sprintf("is %s at %s a misspelt %s?", prev.text, prev.pos, near)
		}
	}
	return e
}

// endOf returns the position just past the token before the current one.
func (p *parser) endOf() Pos {
	if p.i == 0 {
		return p.toks[0].pos
	}
	t := p.toks[p.i-1]
	s := Statement{Text: t.text, Line: t.pos.Line, Col: t.pos.Col}
	line, col := s.Position(len(t.text))
	return Pos{line, col}
}

// isName reports whether t can be a name where an alias or a column may
// stand: a word that is not reserved, or a quoted name.
func isName(t token) bool {
	switch t.kind {
	case tIdent:
		return !reserved[strings.ToUpper(t.text)]
	case tQuotedIdent, tDQuoted:
		return true
	}
	return false
}

// placeholder fails on ${NAME}, which is not SQL.
func (p *parser) placeholder() error {
	t := p.peek()
	if t.isPunct("$") && p.peekAt(1).isPunct("{") {
		name := "${" + p.peekAt(2).text + "}"
		e := &SyntaxError{Line: t.pos.Line, Col: t.pos.Col, Msg: "the placeholder " + nearText(name) + " is not SQL"}
		e.Hint = "replace it with a name before running the job"
		return e
	}
	return nil
}

// nameTok reads one part of a name.
func (p *parser) namePart(what string) (string, token, error) {
	t := p.peek()
	switch t.kind {
	case tIdent:
		p.i++
		return t.text, t, nil
	case tQuotedIdent, tDQuoted:
		if t.val == "" {
			return "", t, &SyntaxError{Line: t.pos.Line, Col: t.pos.Col, Msg: "empty " + what}
		}
		p.i++
		return t.val, t, nil
	}
	if err := p.placeholder(); err != nil {
		return "", t, err
	}
	return "", t, p.want(what)
}

// ident reads a name: part[.part…]. The first part must not be a
// reserved word unless quoted.
func (p *parser) ident(what string) (*Ident, error) {
	t := p.peek()
	if t.kind == tIdent && reserved[strings.ToUpper(t.text)] {
		return nil, p.want(what)
	}
	name, first, err := p.namePart(what)
	if err != nil {
		return nil, err
	}
	id := &Ident{Parts: []string{name}, Pos: first.pos}
	for p.peek().isPunct(".") && p.peekAt(1).kind != tPunct {
		p.i++
		part, _, err := p.namePart("a name after '.'")
		if err != nil {
			return nil, err
		}
		id.Parts = append(id.Parts, part)
	}
	id.End = p.endOf()
	return id, nil
}

// queryStatement reads INSERT INTO … query, or a query.
func (p *parser) queryStatement() (*QueryStatement, error) {
	s := &QueryStatement{Pos: p.peek().pos}
	if t := p.peek(); t.is("INSERT") {
		p.i++
		if p.peek().is("OVERWRITE") {
			return nil, p.unsupported(p.peek(), "INSERT OVERWRITE")
		}
		if err := p.wantKeyword("INTO", "after INSERT"); err != nil {
			return nil, err
		}
		ins := &Insert{Pos: t.pos}
		var err error
		if ins.Table, err = p.ident("a table name"); err != nil {
			return nil, err
		}
		if p.peek().is("PARTITION") {
			return nil, p.unsupported(p.peek(), "INSERT … PARTITION")
		}
		if open := p.peek(); open.isPunct("(") && !p.subqueryAhead() {
			p.i++
			ins.Columns = []*Ident{}
			for {
				c, err := p.ident("a column name")
				if err != nil {
					return nil, err
				}
				ins.Columns = append(ins.Columns, c)
				if !p.acceptPunct(",") {
					break
				}
			}
			if err := p.closeParen(open, "the column list"); err != nil {
				return nil, err
			}
		}
		s.Insert = ins
	}
	var err error
	if s.Query, err = p.query(); err != nil {
		return nil, err
	}
	s.End = p.endOf()
	return s, nil
}

// startsQuery reports whether a query starts at token i: SELECT, WITH,
// VALUES, or a '(' whose group holds a query and is followed by what may
// follow a query in parentheses (a set operation, ORDER BY, LIMIT, ')' or
// the end). So ((SELECT 1) UNION SELECT 2) is a query and
// ((SELECT 1) + 1) an expression.
func (p *parser) startsQuery(i, depth int) bool {
	if i >= len(p.toks) || depth > maxDepth {
		return false
	}
	t := p.toks[i]
	if !t.isPunct("(") {
		return t.is("SELECT") || t.is("WITH") || t.is("VALUES")
	}
	if !p.startsQuery(i+1, depth+1) {
		return false
	}
	m := p.closing(i)
	if m+1 >= len(p.toks) {
		return true
	}
	n := p.toks[m+1]
	for _, kw := range []string{"UNION", "EXCEPT", "INTERSECT", "MINUS", "ORDER", "LIMIT", "OFFSET", "FETCH"} {
		if n.is(kw) {
			return true
		}
	}
	return n.kind == tEOF || n.isPunct(")")
}

// closing returns the index of the ')' that closes the '(' at i, or the
// index of the final token when none does.
func (p *parser) closing(i int) int {
	if p.match == nil {
		p.match = make([]int, len(p.toks))
		var open []int
		for j, t := range p.toks {
			p.match[j] = len(p.toks) - 1
			switch {
			case t.isPunct("("):
				open = append(open, j)
			case t.isPunct(")") && len(open) > 0:
				p.match[open[len(open)-1]] = j
				open = open[:len(open)-1]
			}
		}
	}
	return p.match[i]
}

// subqueryAhead reports whether the '(' at the current token opens a
// subquery; queryAhead whether a query starts at the current token.
func (p *parser) subqueryAhead() bool { return p.startsQuery(p.i+1, 0) }
func (p *parser) queryAhead() bool    { return p.startsQuery(p.i, 0) }

// query reads [WITH …] set-expression [ORDER BY …] [LIMIT n] [OFFSET n].
func (p *parser) query() (QueryExpr, error) {
	if err := p.enter(p.peek()); err != nil {
		return nil, err
	}
	defer p.leave()
	if t := p.peek(); t.is("WITH") {
		p.i++
		w := &With{Pos: t.pos}
		for {
			c, err := p.cte()
			if err != nil {
				return nil, err
			}
			w.CTEs = append(w.CTEs, c)
			if !p.acceptPunct(",") {
				break
			}
		}
		if p.peek().is("WITH") {
			return nil, p.want("SELECT after the WITH list")
		}
		body, err := p.query()
		if err != nil {
			return nil, err
		}
		w.Body = body
		return w, nil
	}
	q, err := p.setExpr()
	if err != nil {
		return nil, err
	}
	o := &Ordered{Query: q}
	if p.peek().is("ORDER") {
		p.i++
		if err := p.wantKeyword("BY", "after ORDER"); err != nil {
			return nil, err
		}
		if o.OrderBy, err = p.orderItems(); err != nil {
			return nil, err
		}
	}
	if p.accept("LIMIT") {
		if o.Limit, err = p.addExpr(); err != nil {
			return nil, err
		}
	}
	if p.accept("OFFSET") {
		if o.Offset, err = p.addExpr(); err != nil {
			return nil, err
		}
		_ = p.accept("ROWS") || p.accept("ROW")
	}
	if t := p.peek(); t.is("FETCH") {
		return nil, p.unsupported(t, "FETCH")
	}
	if o.OrderBy == nil && o.Limit == nil && o.Offset == nil {
		return q, nil
	}
	return o, nil
}

// cte reads name [(cols)] AS (query).
func (p *parser) cte() (CTE, error) {
	name, t, err := p.aliasName("a name for the WITH query")
	if err != nil {
		return CTE{}, err
	}
	c := CTE{Name: name, Pos: t.pos}
	if p.peek().isPunct("(") {
		if c.Columns, err = p.nameList("the column list"); err != nil {
			return c, err
		}
	}
	if err := p.wantKeyword("AS", "after the name of the WITH query "+name); err != nil {
		return c, err
	}
	open := p.peek()
	if !p.acceptPunct("(") {
		return c, p.want("'(' before the WITH query " + name)
	}
	if c.Query, err = p.query(); err != nil {
		return c, err
	}
	return c, p.closeParen(open, "the WITH query "+name)
}

// nameList reads (name, …).
func (p *parser) nameList(of string) ([]string, error) {
	open := p.next()
	var names []string
	for {
		n, _, err := p.namePart("a name")
		if err != nil {
			return nil, err
		}
		names = append(names, n)
		if !p.acceptPunct(",") {
			break
		}
	}
	return names, p.closeParen(open, of)
}

// aliasName reads a name that may be a keyword unless reserved.
func (p *parser) aliasName(what string) (string, token, error) {
	t := p.peek()
	if t.kind == tIdent && reserved[strings.ToUpper(t.text)] {
		return "", t, p.want(what)
	}
	return p.namePart(what)
}

// setExpr reads queries joined by UNION and EXCEPT.
func (p *parser) setExpr() (QueryExpr, error) {
	l, err := p.intersectExpr()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		var op string
		switch {
		case t.is("UNION"):
			op = "UNION"
		case t.is("EXCEPT"):
			op = "EXCEPT"
		case t.is("MINUS"):
			return nil, p.unsupported(t, "MINUS")
		default:
			return l, nil
		}
		p.i++
		all := p.accept("ALL")
		if !all {
			p.accept("DISTINCT")
		}
		r, err := p.intersectExpr()
		if err != nil {
			return nil, err
		}
		l = &SetOp{Op: op, All: all, L: l, R: r, OpPos: t.pos}
	}
}

func (p *parser) intersectExpr() (QueryExpr, error) {
	l, err := p.queryPrimary()
	if err != nil {
		return nil, err
	}
	for p.peek().is("INTERSECT") {
		t := p.next()
		all := p.accept("ALL")
		if !all {
			p.accept("DISTINCT")
		}
		r, err := p.queryPrimary()
		if err != nil {
			return nil, err
		}
		l = &SetOp{Op: "INTERSECT", All: all, L: l, R: r, OpPos: t.pos}
	}
	return l, nil
}

// queryPrimary reads a SELECT or a query in parentheses.
func (p *parser) queryPrimary() (QueryExpr, error) {
	t := p.peek()
	switch {
	case t.is("SELECT"):
		return p.selectQuery()
	case t.isPunct("("):
		p.i++
		q, err := p.query()
		if err != nil {
			return nil, err
		}
		return q, p.closeParen(t, "the query")
	case t.is("VALUES"):
		return p.values()
	}
	return nil, p.want("SELECT, VALUES or '('")
}

// values reads VALUES (expr, …), ….
func (p *parser) values() (*Values, error) {
	v := &Values{Pos: p.next().pos}
	for {
		open := p.peek()
		if !p.acceptPunct("(") {
			return nil, p.want("'(' to start a row of VALUES")
		}
		var row []Expr
		for {
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			row = append(row, e)
			if !p.acceptPunct(",") {
				break
			}
		}
		if err := p.closeParen(open, "the row"); err != nil {
			return nil, err
		}
		if len(v.Rows) > 0 && len(row) != len(v.Rows[0]) {
			return nil, &SyntaxError{Line: open.pos.Line, Col: open.pos.Col,
				Msg: fmt.Sprintf("a row of %d values where the first row has %d", len(row), len(v.Rows[0]))}
		}
		v.Rows = append(v.Rows, row)
		if !p.acceptPunct(",") {
			return v, nil
		}
	}
}

// selectQuery reads SELECT … [FROM …] [WHERE …] [GROUP BY …] [HAVING …].
func (p *parser) selectQuery() (*Select, error) {
	s := &Select{Pos: p.next().pos}
	if p.accept("DISTINCT") {
		s.Distinct = true
	} else {
		p.accept("ALL")
	}
	for {
		it, err := p.selectItem()
		if err != nil {
			return nil, err
		}
		s.Items = append(s.Items, it)
		if !p.acceptPunct(",") {
			break
		}
	}
	var err error
	if p.accept("FROM") {
		if s.From, err = p.tableRefs(); err != nil {
			return nil, err
		}
	}
	if p.accept("WHERE") {
		if s.Where, err = p.expr(); err != nil {
			return nil, err
		}
	}
	if t := p.peek(); t.is("GROUP") {
		p.i++
		if err := p.wantKeyword("BY", "after GROUP"); err != nil {
			return nil, err
		}
		for {
			t := p.peek()
			switch {
			case t.is("GROUPING") && p.peekAt(1).is("SETS"):
				return nil, p.unsupported(t, "GROUPING SETS")
			case (t.is("ROLLUP") || t.is("CUBE")) && p.peekAt(1).isPunct("("):
				return nil, p.unsupported(t, strings.ToUpper(t.text))
			}
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			s.GroupBy = append(s.GroupBy, e)
			if !p.acceptPunct(",") {
				break
			}
		}
	}
	if p.accept("HAVING") {
		if s.Having, err = p.expr(); err != nil {
			return nil, err
		}
	}
	if t := p.peek(); t.is("WINDOW") || t.is("QUALIFY") {
		return nil, p.unsupported(t, "the "+strings.ToUpper(t.text)+" clause")
	}
	return s, nil
}

// starAhead returns the number of tokens of a * or name.….* at the
// current token, or 0.
func (p *parser) starAhead() int {
	if p.peek().isPunct("*") {
		return 1
	}
	k := 0
	for {
		t := p.peekAt(k)
		if t.kind != tIdent && t.kind != tQuotedIdent && t.kind != tDQuoted || !p.peekAt(k+1).isPunct(".") {
			return 0
		}
		if p.peekAt(k + 2).isPunct("*") {
			return k + 3
		}
		k += 2
	}
}

// selectItem reads *, t.*, or expr [[AS] alias].
func (p *parser) selectItem() (SelectItem, error) {
	if n := p.starAhead(); n > 0 {
		t := p.peek()
		st := &Star{Pos: t.pos}
		if n > 1 {
			q, err := p.ident("a table name")
			if err != nil {
				return SelectItem{}, err
			}
			st.Qualifier = q
		}
		if n > 1 {
			p.i++ // the '.'
		}
		p.i++ // the '*'
		return SelectItem{Expr: st}, nil
	}
	e, err := p.expr()
	if err != nil {
		return SelectItem{}, err
	}
	it := SelectItem{Expr: e}
	if p.accept("AS") {
		name, t, err := p.namePart("an alias after AS")
		if err != nil {
			return it, err
		}
		it.Alias, it.AliasPos = name, t.pos
	} else if t := p.peek(); isName(t) {
		name, _, _ := p.namePart("")
		it.Alias, it.AliasPos = name, t.pos
	}
	return it, nil
}

// alias reads [AS] name [(cols)] after a table reference, or nothing.
func (p *parser) alias() (*Alias, error) {
	t := p.peek()
	if t.is("MATCH_RECOGNIZE") || t.is("TABLESAMPLE") {
		return nil, p.unsupported(t, strings.ToUpper(t.text))
	}
	if !p.accept("AS") && !isName(t) {
		return nil, nil
	}
	name, nt, err := p.namePart("an alias after AS")
	if err != nil {
		return nil, err
	}
	a := &Alias{Name: name, Pos: nt.pos}
	if p.peek().isPunct("(") {
		if a.Columns, err = p.nameList("the column aliases"); err != nil {
			return nil, err
		}
	}
	if t := p.peek(); t.is("MATCH_RECOGNIZE") || t.is("TABLESAMPLE") {
		return nil, p.unsupported(t, strings.ToUpper(t.text))
	}
	return a, nil
}

// tableRefs reads the table references of FROM, joined.
func (p *parser) tableRefs() (TableRef, error) {
	l, err := p.tablePrimary()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		j := &Join{L: l, KindPos: t.pos}
		switch {
		case t.isPunct(","):
			p.i++
			j.Kind = JoinComma
		case t.is("CROSS"):
			p.i++
			if p.peek().is("APPLY") {
				return nil, p.unsupported(t, "CROSS APPLY")
			}
			if err := p.wantKeyword("JOIN", "after CROSS"); err != nil {
				return nil, err
			}
			j.Kind = JoinCross
		case t.is("JOIN") || t.is("INNER"):
			p.i++
			if t.is("INNER") {
				if err := p.wantKeyword("JOIN", "after INNER"); err != nil {
					return nil, err
				}
			}
			j.Kind = JoinInner
		case t.is("LEFT") || t.is("RIGHT") || t.is("FULL"):
			p.i++
			if u := p.peek(); u.is("SEMI") || u.is("ANTI") {
				return nil, p.unsupported(t, "LEFT "+strings.ToUpper(u.text)+" JOIN")
			}
			p.accept("OUTER")
			if err := p.wantKeyword("JOIN", "after "+strings.ToUpper(t.text)); err != nil {
				return nil, err
			}
			j.Kind = map[string]JoinKind{"LEFT": JoinLeft, "RIGHT": JoinRight, "FULL": JoinFull}[strings.ToUpper(t.text)]
		case t.is("NATURAL"):
			return nil, p.unsupported(t, "NATURAL JOIN")
		default:
			return l, nil
		}
		if j.R, err = p.tablePrimary(); err != nil {
			return nil, err
		}
		if j.Kind != JoinComma && j.Kind != JoinCross {
			switch {
			case p.accept("ON"):
				if j.On, err = p.expr(); err != nil {
					return nil, err
				}
			case p.peek().is("USING"):
				p.i++
				if !p.peek().isPunct("(") {
					return nil, p.want("'(' after USING")
				}
				if j.Using, err = p.nameList("the USING columns"); err != nil {
					return nil, err
				}
			default:
				return nil, p.want(fmt.Sprintf("ON or USING after the %s at %s", j.Kind, t.pos))
			}
		}
		l = j
	}
}

// tablePrimary reads one table reference: a table, (query), TABLE(call)
// or (joins), with its alias.
func (p *parser) tablePrimary() (TableRef, error) {
	t := p.peek()
	switch {
	case t.is("LATERAL"):
		return nil, p.unsupported(t, "LATERAL")
	case t.is("UNNEST") && p.peekAt(1).isPunct("("):
		return nil, p.unsupported(t, "UNNEST")
	case t.is("TABLE") && p.peekAt(1).isPunct("("):
		p.i++
		open := p.next()
		c, err := p.tableCall()
		if err != nil {
			return nil, err
		}
		if err := p.closeParen(open, "TABLE("); err != nil {
			return nil, err
		}
		tf := &TableFunc{Call: c, Pos: t.pos}
		tf.Alias, err = p.alias()
		return tf, err
	case t.isPunct("("):
		if p.subqueryAhead() {
			p.i++
			q, err := p.query()
			if err != nil {
				return nil, err
			}
			if err := p.closeParen(t, "the subquery"); err != nil {
				return nil, err
			}
			d := &Derived{Query: q, Pos: t.pos}
			d.Alias, err = p.alias()
			return d, err
		}
		p.i++
		if err := p.enter(t); err != nil {
			return nil, err
		}
		defer p.leave()
		r, err := p.tableRefs()
		if err != nil {
			return nil, err
		}
		return r, p.closeParen(t, "the table reference")
	}
	if err := p.placeholder(); err != nil {
		return nil, err
	}
	name, err := p.ident("a table name")
	if err != nil {
		return nil, err
	}
	tn := &TableName{Name: name}
	if p.peek().is("FOR") {
		p.i++
		for _, kw := range []string{"SYSTEM_TIME", "AS", "OF"} {
			if err := p.wantKeyword(kw, "in FOR SYSTEM_TIME AS OF"); err != nil {
				return nil, err
			}
		}
		if tn.SystemTime, err = p.addExpr(); err != nil {
			return nil, err
		}
	}
	tn.Alias, err = p.alias()
	return tn, err
}

// tableCall reads the call of TABLE(…): name(args), whose arguments may
// be TABLE t [PARTITION BY …], DESCRIPTOR(…) and name => value.
func (p *parser) tableCall() (*Call, error) {
	name, nt, err := p.namePart("a table function")
	if err != nil {
		return nil, err
	}
	c := &Call{Name: name, Pos: nt.pos}
	open := p.peek()
	if !p.acceptPunct("(") {
		return nil, p.want("'(' after " + name)
	}
	if !p.peek().isPunct(")") {
		for {
			a, err := p.tableArg()
			if err != nil {
				return nil, err
			}
			c.Args = append(c.Args, a)
			if !p.acceptPunct(",") {
				break
			}
		}
	}
	if err := p.closeParen(open, "the call of "+name); err != nil {
		return nil, err
	}
	c.End = p.endOf()
	return c, nil
}

func (p *parser) tableArg() (Expr, error) {
	t := p.peek()
	if (t.kind == tIdent || t.kind == tQuotedIdent || t.kind == tDQuoted) && p.peekAt(1).isPunct("=>") {
		name, _, err := p.namePart("an argument name")
		if err != nil {
			return nil, err
		}
		p.i++
		v, err := p.tableArg()
		if err != nil {
			return nil, err
		}
		if _, ok := v.(*NamedArg); ok {
			return nil, &SyntaxError{Line: v.Position().Line, Col: v.Position().Col, Msg: "an argument has one name"}
		}
		return &NamedArg{Name: name, Value: v, Pos: t.pos}, nil
	}
	switch {
	case t.is("TABLE"):
		p.i++
		name, err := p.ident("a table name after TABLE")
		if err != nil {
			return nil, err
		}
		a := &TableArg{Name: name, Pos: t.pos}
		if p.peek().is("PARTITION") {
			p.i++
			if err := p.wantKeyword("BY", "after PARTITION"); err != nil {
				return nil, err
			}
			if open := p.peek(); p.acceptPunct("(") {
				for {
					c, err := p.ident("a column name")
					if err != nil {
						return nil, err
					}
					a.PartitionBy = append(a.PartitionBy, c)
					if !p.acceptPunct(",") {
						break
					}
				}
				if err := p.closeParen(open, "PARTITION BY"); err != nil {
					return nil, err
				}
			} else {
				c, err := p.ident("a column name")
				if err != nil {
					return nil, err
				}
				a.PartitionBy = []*Ident{c}
			}
		}
		return a, nil
	case t.is("DESCRIPTOR") && p.peekAt(1).isPunct("("):
		p.i++
		open := p.next()
		d := &Descriptor{Pos: t.pos}
		for {
			c, err := p.ident("a column name")
			if err != nil {
				return nil, err
			}
			d.Columns = append(d.Columns, c)
			if !p.acceptPunct(",") {
				break
			}
		}
		return d, p.closeParen(open, "DESCRIPTOR")
	}
	return p.expr()
}

// orderItems reads expr [ASC|DESC] [NULLS FIRST|LAST], ….
func (p *parser) orderItems() ([]OrderItem, error) {
	var items []OrderItem
	for {
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		o := OrderItem{X: e}
		if p.accept("DESC") {
			o.Desc = true
		} else {
			p.accept("ASC")
		}
		if p.accept("NULLS") {
			switch {
			case p.accept("FIRST"):
				o.Nulls = "FIRST"
			case p.accept("LAST"):
				o.Nulls = "LAST"
			default:
				return nil, p.want("FIRST or LAST after NULLS")
			}
		}
		items = append(items, o)
		if !p.acceptPunct(",") {
			return items, nil
		}
	}
}
