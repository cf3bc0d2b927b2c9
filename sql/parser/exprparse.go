package parser

import (
	"strconv"
	"strings"
)

// maxDepth bounds the nesting of expressions and queries, so that a
// hostile input fails with an error rather than exhausting the stack.
const maxDepth = 200

// enter counts one level of nesting at t; leave undoes it.
func (p *parser) enter(t token) error {
	p.depth++
	if p.depth > maxDepth {
		return &SyntaxError{Line: t.pos.Line, Col: t.pos.Col, Msg: "the expression is nested too deeply"}
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

// expr reads an expression: OR binds least, then AND, NOT, the
// comparisons (= <> < <= > >= IS BETWEEN IN LIKE, left to right), + -,
// * / % ||, unary - +, and the primaries.
func (p *parser) expr() (Expr, error) {
	if err := p.enter(p.peek()); err != nil {
		return nil, err
	}
	defer p.leave()
	l, err := p.andExpr()
	if err != nil {
		return nil, err
	}
	for p.peek().is("OR") {
		op := p.next()
		r, err := p.andExpr()
		if err != nil {
			return nil, err
		}
		l = &Binary{Op: "OR", L: l, R: r, OpPos: op.pos}
	}
	return l, nil
}

func (p *parser) andExpr() (Expr, error) {
	l, err := p.notExpr()
	if err != nil {
		return nil, err
	}
	for p.peek().is("AND") {
		op := p.next()
		r, err := p.notExpr()
		if err != nil {
			return nil, err
		}
		l = &Binary{Op: "AND", L: l, R: r, OpPos: op.pos}
	}
	return l, nil
}

func (p *parser) notExpr() (Expr, error) {
	if t := p.peek(); t.is("NOT") {
		p.i++
		if err := p.enter(t); err != nil {
			return nil, err
		}
		defer p.leave()
		x, err := p.notExpr()
		if err != nil {
			return nil, err
		}
		return &Unary{Op: "NOT", X: x, Pos: t.pos}, nil
	}
	return p.cmpExpr()
}

var cmpOps = setOf("=", "<>", "!=", "<", "<=", ">", ">=")

func (p *parser) cmpExpr() (Expr, error) {
	l, err := p.addExpr()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind == tPunct && cmpOps[t.text] {
			p.i++
			r, err := p.addExpr()
			if err != nil {
				return nil, err
			}
			op := t.text
			if op == "!=" {
				op = "<>"
			}
			l = &Binary{Op: op, L: l, R: r, OpPos: t.pos}
			continue
		}
		if t.is("IS") {
			p.i++
			is := &Is{X: l, OpPos: t.pos, Not: p.accept("NOT")}
			w := p.peek()
			switch {
			case w.is("NULL") || w.is("TRUE") || w.is("FALSE") || w.is("UNKNOWN"):
				p.i++
				is.What = strings.ToUpper(w.text)
			case w.is("DISTINCT"):
				p.i++
				if err := p.wantKeyword("FROM", "after IS DISTINCT"); err != nil {
					return nil, err
				}
				is.What = "DISTINCT FROM"
				if is.From, err = p.addExpr(); err != nil {
					return nil, err
				}
			default:
				return nil, p.want("NULL, TRUE, FALSE, UNKNOWN or DISTINCT FROM after IS")
			}
			l = is
			continue
		}
		not := false
		if t.is("NOT") {
			n := p.peekAt(1)
			if !(n.is("BETWEEN") || n.is("IN") || n.is("LIKE") || n.is("SIMILAR")) {
				return l, nil
			}
			p.i++
			not = true
		}
		k := p.peek()
		switch {
		case k.is("BETWEEN"):
			p.i++
			b := &Between{X: l, Not: not, OpPos: t.pos}
			if p.accept("SYMMETRIC") {
				b.Symmetric = true
			} else {
				p.accept("ASYMMETRIC")
			}
			if b.Lo, err = p.addExpr(); err != nil {
				return nil, err
			}
			if err := p.wantKeyword("AND", "of the BETWEEN at "+k.pos.String()); err != nil {
				return nil, err
			}
			if b.Hi, err = p.addExpr(); err != nil {
				return nil, err
			}
			l = b
		case k.is("IN"):
			p.i++
			in := &In{X: l, Not: not, OpPos: t.pos}
			open := p.peek()
			if !p.acceptPunct("(") {
				return nil, p.want("'(' after IN")
			}
			if p.queryAhead() {
				if in.Query, err = p.query(); err != nil {
					return nil, err
				}
			} else {
				for {
					e, err := p.expr()
					if err != nil {
						return nil, err
					}
					in.List = append(in.List, e)
					if !p.acceptPunct(",") {
						break
					}
				}
			}
			if err := p.closeParen(open, "the IN list"); err != nil {
				return nil, err
			}
			l = in
		case k.is("LIKE") || k.is("SIMILAR"):
			p.i++
			lk := &Like{X: l, Not: not, OpPos: t.pos}
			if k.is("SIMILAR") {
				lk.Similar = true
				if err := p.wantKeyword("TO", "after SIMILAR"); err != nil {
					return nil, err
				}
			}
			if lk.Pattern, err = p.addExpr(); err != nil {
				return nil, err
			}
			if p.accept("ESCAPE") {
				if lk.Escape, err = p.addExpr(); err != nil {
					return nil, err
				}
			}
			l = lk
		default:
			return l, nil
		}
	}
}

func (p *parser) addExpr() (Expr, error) {
	l, err := p.mulExpr()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if !t.isPunct("+") && !t.isPunct("-") {
			return l, nil
		}
		p.i++
		r, err := p.mulExpr()
		if err != nil {
			return nil, err
		}
		l = &Binary{Op: t.text, L: l, R: r, OpPos: t.pos}
	}
}

func (p *parser) mulExpr() (Expr, error) {
	l, err := p.unaryExpr()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if !t.isPunct("*") && !t.isPunct("/") && !t.isPunct("%") && !t.isPunct("||") {
			return l, nil
		}
		p.i++
		r, err := p.unaryExpr()
		if err != nil {
			return nil, err
		}
		l = &Binary{Op: t.text, L: l, R: r, OpPos: t.pos}
	}
}

func (p *parser) unaryExpr() (Expr, error) {
	t := p.peek()
	if t.isPunct("-") || t.isPunct("+") {
		p.i++
		if err := p.enter(t); err != nil {
			return nil, err
		}
		defer p.leave()
		x, err := p.unaryExpr()
		if err != nil {
			return nil, err
		}
		return &Unary{Op: t.text, X: x, Pos: t.pos}, nil
	}
	x, err := p.primary()
	if err != nil {
		return nil, err
	}
	for {
		open := p.peek()
		if !p.acceptPunct("[") {
			return x, nil
		}
		i, err := p.expr()
		if err != nil {
			return nil, err
		}
		if !p.acceptPunct("]") {
			return nil, p.want("']' to close the '[' at " + open.pos.String())
		}
		x = &Item{X: x, Index: i}
	}
}

// primary reads a literal, a name, a call, a special form or an
// expression in parentheses.
func (p *parser) primary() (Expr, error) {
	t := p.peek()
	switch t.kind {
	case tNumber:
		p.i++
		return &Literal{Kind: LitNumber, Text: t.text, Pos: t.pos, End: p.endOf()}, nil
	case tString:
		p.i++
		return &Literal{Kind: LitString, Text: t.val, Pos: t.pos, End: p.endOf()}, nil
	case tQuotedIdent, tDQuoted:
		return p.nameOrCall()
	case tPunct:
		switch {
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
				return &Subquery{Query: q, Pos: t.pos, End: p.endOf()}, nil
			}
			p.i++
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			return e, p.closeParen(t, "the '('")
		case t.isPunct("?"):
			return nil, p.unsupported(t, "a ? parameter")
		}
		if err := p.placeholder(); err != nil {
			return nil, err
		}
		return nil, p.wantExpr()
	case tEOF:
		return nil, p.wantExpr()
	}
	// A word.
	upper := strings.ToUpper(t.text)
	next := p.peekAt(1)
	call := next.isPunct("(")
	switch {
	case upper == "NULL":
		p.i++
		return &Literal{Kind: LitNull, Pos: t.pos, End: p.endOf()}, nil
	case upper == "TRUE" || upper == "FALSE" || upper == "UNKNOWN":
		p.i++
		k := map[string]LitKind{"TRUE": LitTrue, "FALSE": LitFalse, "UNKNOWN": LitUnknown}[upper]
		return &Literal{Kind: k, Pos: t.pos, End: p.endOf()}, nil
	case upper == "INTERVAL":
		return p.interval2()
	case upper == "CASE":
		return p.caseExpr()
	case (upper == "DATE" || upper == "TIME" || upper == "TIMESTAMP") && next.kind == tString:
		p.i += 2
		return &TypedLit{Type: upper, Value: next.val, Pos: t.pos}, nil
	case upper == "EXISTS" && call:
		p.i += 2
		if !p.queryAhead() {
			return nil, p.want("a query after EXISTS (")
		}
		q, err := p.query()
		if err != nil {
			return nil, err
		}
		return &Exists{Query: q, Pos: t.pos}, p.closeParen(next, "EXISTS")
	case specialCalls[upper] && call:
		return p.specialCall(t, upper)
	case bareCalls[upper] && !call:
		p.i++
		return &Call{Name: upper, Bare: true, Pos: t.pos, End: p.endOf()}, nil
	case (upper == "UNNEST" || upper == "MATCH_RECOGNIZE") && call:
		return nil, p.unsupported(t, upper)
	case upper == "GROUPING" && next.is("SETS"):
		return nil, p.unsupported(t, "GROUPING SETS")
	case upper == "SELECT":
		e := p.failAt(t, "expected an expression")
		e.Hint = "write a subquery in parentheses"
		return nil, e
	case (upper == "LEFT" || upper == "RIGHT") && call:
		// LEFT(s, n) and RIGHT(s, n) are functions, though the words are
		// reserved for joins.
		return p.nameOrCall()
	case reserved[upper]:
		return nil, p.wantExpr()
	}
	return p.nameOrCall()
}

// wantExpr fails where an expression is missing, with a hint when a
// comma before it is one too many: SELECT a, FROM t.
func (p *parser) wantExpr() *SyntaxError {
	e := p.want("an expression")
	if p.i > 0 {
		if prev := p.toks[p.i-1]; prev.isPunct(",") {
			e.Hint = "is the ',' at " + prev.pos.String() + " one too many?"
		}
	}
	return e
}

// nameOrCall reads a name, or a call when a '(' follows a one-part name.
func (p *parser) nameOrCall() (Expr, error) {
	t := p.peek()
	if p.peekAt(1).isPunct("(") {
		name, _, err := p.namePart("a function name")
		if err != nil {
			return nil, err
		}
		return p.call(name, t)
	}
	id, err := p.ident("a name")
	if err != nil {
		return nil, err
	}
	if n := p.peek(); n.isPunct("(") {
		e := &SyntaxError{Line: id.Pos.Line, Col: id.Pos.Col, Msg: "qualified function names are not supported"}
		return nil, e
	}
	if n := p.peek(); n.isPunct(".") && p.peekAt(1).isPunct("*") {
		return nil, &SyntaxError{Line: n.pos.Line, Col: n.pos.Col, Msg: "t.* is only allowed in a select list"}
	}
	return id, nil
}

// call reads (args) [FILTER (WHERE …)] [OVER …] after a function name.
func (p *parser) call(name string, nt token) (Expr, error) {
	p.i++ // (
	c := &Call{Name: name, Pos: nt.pos}
	of := "the call of " + nearText(name)
	switch {
	case p.peek().isPunct("*"):
		p.i++
		c.Star = true
	case p.peek().isPunct(")"):
	default:
		if p.accept("DISTINCT") {
			c.Distinct = true
		} else if p.peek().is("ALL") && !p.peekAt(1).isPunct(")") && !p.peekAt(1).isPunct(",") {
			p.i++
		}
		for {
			a, err := p.expr()
			if err != nil {
				return nil, err
			}
			c.Args = append(c.Args, a)
			if u := strings.ToUpper(name); len(c.Args) == 1 && (u == "FLOOR" || u == "CEIL" || u == "CEILING") && p.peek().is("TO") {
				// FLOOR(ts TO unit) is FLOOR(ts, 'UNIT').
				p.i++
				ut := p.peek()
				if ut.kind != tIdent {
					return nil, p.want("a time unit after TO")
				}
				p.i++
				c.Args = append(c.Args, &Literal{Kind: LitString, Text: strings.ToUpper(ut.text), Pos: ut.pos, End: p.endOf()})
				break
			}
			if !p.acceptPunct(",") {
				break
			}
		}
	}
	if !p.acceptPunct(")") {
		return nil, p.want("')' to close " + of + " at " + nt.pos.String())
	}
	c.End = p.endOf()
	if f := p.peek(); f.is("FILTER") && p.peekAt(1).is("WHERE") {
		e := p.errAt(p.peekAt(1), "FILTER takes its condition in parentheses")
		e.Hint = "write FILTER (WHERE condition)"
		return nil, e
	}
	if f := p.peek(); f.is("FILTER") && p.peekAt(1).isPunct("(") {
		p.i++
		fo := p.next()
		if !p.peek().is("WHERE") {
			e := p.want("WHERE after FILTER (")
			e.Hint = "write FILTER (WHERE condition)"
			return nil, e
		}
		p.i++
		var err error
		if c.Filter, err = p.expr(); err != nil {
			return nil, err
		}
		if err := p.closeParen(fo, "FILTER"); err != nil {
			return nil, err
		}
	}
	if p.accept("OVER") {
		if o := p.peek(); o.isPunct("(") {
			w, err := p.window()
			if err != nil {
				return nil, err
			}
			c.Over = w
		} else {
			name, _, err := p.aliasName("'(' or a window name after OVER")
			if err != nil {
				return nil, err
			}
			c.OverName = name
		}
	}
	return c, nil
}

// window reads (PARTITION BY … ORDER BY … frame) after OVER.
func (p *parser) window() (*Window, error) {
	open := p.next()
	w := &Window{Pos: open.pos}
	var err error
	if t := p.peek(); isName(t) && !t.is("PARTITION") && !t.is("ORDER") && !t.is("ROWS") && !t.is("RANGE") {
		return nil, p.unsupported(t, "a window based on a named window")
	}
	if p.accept("PARTITION") {
		if err := p.wantKeyword("BY", "after PARTITION"); err != nil {
			return nil, err
		}
		for {
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			w.PartitionBy = append(w.PartitionBy, e)
			if !p.acceptPunct(",") {
				break
			}
		}
	}
	if p.accept("ORDER") {
		if err := p.wantKeyword("BY", "after ORDER"); err != nil {
			return nil, err
		}
		if w.OrderBy, err = p.orderItems(); err != nil {
			return nil, err
		}
	}
	if t := p.peek(); t.is("ROWS") || t.is("RANGE") {
		p.i++
		f := &Frame{Unit: strings.ToUpper(t.text), Pos: t.pos}
		if p.accept("BETWEEN") {
			if f.Start, err = p.bound(); err != nil {
				return nil, err
			}
			if err := p.wantKeyword("AND", "between the bounds of the frame"); err != nil {
				return nil, err
			}
			if f.End, err = p.bound(); err != nil {
				return nil, err
			}
		} else {
			if f.Start, err = p.bound(); err != nil {
				return nil, err
			}
			f.End = Bound{Kind: CurrentRow, Pos: f.Start.Pos}
		}
		w.Frame = f
	}
	if err := p.closeParen(open, "OVER"); err != nil {
		return nil, err
	}
	return w, nil
}

// bound reads a frame bound.
func (p *parser) bound() (Bound, error) {
	t := p.peek()
	b := Bound{Pos: t.pos}
	switch {
	case t.is("UNBOUNDED"):
		p.i++
		switch {
		case p.accept("PRECEDING"):
			b.Kind = UnboundedPreceding
		case p.accept("FOLLOWING"):
			b.Kind = UnboundedFollowing
		default:
			return b, p.want("PRECEDING or FOLLOWING after UNBOUNDED")
		}
		return b, nil
	case t.is("CURRENT"):
		p.i++
		if err := p.wantKeyword("ROW", "after CURRENT"); err != nil {
			return b, err
		}
		b.Kind = CurrentRow
		return b, nil
	}
	var err error
	if b.Offset, err = p.addExpr(); err != nil {
		return b, err
	}
	switch {
	case p.accept("PRECEDING"):
		b.Kind = Preceding
	case p.accept("FOLLOWING"):
		b.Kind = Following
	default:
		return b, p.want("PRECEDING or FOLLOWING")
	}
	return b, nil
}

// specialCall reads CAST, TRY_CAST, EXTRACT, POSITION, SUBSTRING, TRIM and
// OVERLAY, whose arguments have a grammar of their own.
func (p *parser) specialCall(t token, upper string) (Expr, error) {
	p.i += 2 // the name and '('
	of := "the call of " + upper + " at " + t.pos.String()
	closeIt := func() error {
		if p.acceptPunct(")") {
			return nil
		}
		return p.want("')' to close " + of)
	}
	switch upper {
	case "CAST", "TRY_CAST":
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		if err := p.wantKeyword("AS", "in "+upper+"(x AS type)"); err != nil {
			return nil, err
		}
		typ, err := p.typeName()
		if err != nil {
			return nil, err
		}
		return &Cast{X: x, To: typ, Try: upper == "TRY_CAST", Pos: t.pos}, closeIt()
	case "EXTRACT":
		u := p.peek()
		if u.kind != tIdent {
			return nil, p.want("a time unit in EXTRACT(unit FROM x)")
		}
		p.i++
		if err := p.wantKeyword("FROM", "in EXTRACT(unit FROM x)"); err != nil {
			return nil, err
		}
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		return &Extract{Unit: strings.ToUpper(u.text), X: x, Pos: t.pos}, closeIt()
	case "POSITION":
		a, err := p.addExpr()
		if err != nil {
			return nil, err
		}
		if err := p.wantKeyword("IN", "in POSITION(a IN b)"); err != nil {
			return nil, err
		}
		b, err := p.expr()
		if err != nil {
			return nil, err
		}
		if err := closeIt(); err != nil {
			return nil, err
		}
		return &Call{Name: "POSITION", Args: []Expr{a, b}, Pos: t.pos, End: p.endOf()}, nil
	case "SUBSTRING", "OVERLAY":
		c := &Call{Name: upper, Pos: t.pos}
		s, err := p.expr()
		if err != nil {
			return nil, err
		}
		c.Args = []Expr{s}
		words := []string{"FROM", "FOR"}
		if upper == "OVERLAY" {
			words = []string{"PLACING", "FROM", "FOR"}
		}
		if upper == "SUBSTRING" && p.acceptPunct(",") {
			for {
				a, err := p.expr()
				if err != nil {
					return nil, err
				}
				c.Args = append(c.Args, a)
				if !p.acceptPunct(",") {
					break
				}
			}
			words = nil
		}
		for i, w := range words {
			if !p.accept(w) {
				if i < len(words)-1 {
					return nil, p.want(w + " in " + upper + "(…)")
				}
				break
			}
			a, err := p.expr()
			if err != nil {
				return nil, err
			}
			c.Args = append(c.Args, a)
		}
		if err := closeIt(); err != nil {
			return nil, err
		}
		c.End = p.endOf()
		return c, nil
	}
	// TRIM([BOTH|LEADING|TRAILING] [chars] FROM s) or TRIM(s).
	tr := &Trim{Pos: t.pos}
	if m := p.peek(); m.is("BOTH") || m.is("LEADING") || m.is("TRAILING") {
		p.i++
		tr.Mode = strings.ToUpper(m.text)
	}
	if !p.peek().is("FROM") {
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		if !p.accept("FROM") {
			if tr.Mode != "" {
				return nil, p.want("FROM in TRIM(" + tr.Mode + " … FROM s)")
			}
			tr.X = x
			return tr, closeIt()
		}
		tr.Chars = x
	} else {
		p.i++
	}
	x, err := p.expr()
	if err != nil {
		return nil, err
	}
	tr.X = x
	return tr, closeIt()
}

// intervalUnitSet are the units of an INTERVAL literal in a query.
var intervalUnitSet = setOf("YEAR", "QUARTER", "MONTH", "WEEK", "DAY", "HOUR", "MINUTE", "SECOND", "MILLISECOND")

// intervalUnit reads a unit, singular or plural, and returns it singular.
func (p *parser) intervalUnit() (string, bool) {
	u := strings.ToUpper(p.peek().text)
	if p.peek().kind != tIdent {
		return "", false
	}
	if intervalUnitSet[u] {
		p.i++
		return u, true
	}
	if s := strings.TrimSuffix(u, "S"); s != u && intervalUnitSet[s] {
		p.i++
		return s, true
	}
	return "", false
}

// interval2 reads INTERVAL 'value' unit [TO unit] in a query.
func (p *parser) interval2() (Expr, error) {
	t := p.next()
	iv := &Interval{Pos: t.pos}
	v := p.peek()
	switch v.kind {
	case tString:
		iv.Value = v.val
	case tNumber:
		iv.Value = v.text
	default:
		e := p.want("the interval's value")
		e.Hint = "e.g. INTERVAL '5' SECOND"
		return nil, e
	}
	p.i++
	var ok bool
	if iv.Unit, ok = p.intervalUnit(); !ok {
		e := p.want("an interval unit")
		e.Hint = "units: YEAR, MONTH, WEEK, DAY, HOUR, MINUTE, SECOND, MILLISECOND"
		return nil, e
	}
	if p.accept("TO") {
		if iv.ToUnit, ok = p.intervalUnit(); !ok {
			return nil, p.want("an interval unit after TO")
		}
	}
	return iv, nil
}

// caseExpr reads CASE [x] WHEN … THEN … [ELSE …] END.
func (p *parser) caseExpr() (Expr, error) {
	t := p.next()
	c := &Case{Pos: t.pos}
	var err error
	if !p.peek().is("WHEN") {
		if c.Operand, err = p.expr(); err != nil {
			return nil, err
		}
	}
	for p.peek().is("WHEN") {
		w := When{Pos: p.next().pos}
		if w.Cond, err = p.expr(); err != nil {
			return nil, err
		}
		if err := p.wantKeyword("THEN", "after WHEN … of the CASE at "+t.pos.String()); err != nil {
			return nil, err
		}
		if w.Result, err = p.expr(); err != nil {
			return nil, err
		}
		c.Whens = append(c.Whens, w)
	}
	if len(c.Whens) == 0 {
		return nil, p.want("WHEN in the CASE at " + t.pos.String())
	}
	if p.accept("ELSE") {
		if c.Else, err = p.expr(); err != nil {
			return nil, err
		}
	}
	if err := p.wantKeyword("END", "to close the CASE at "+t.pos.String()); err != nil {
		return nil, err
	}
	c.End = p.endOf()
	return c, nil
}

// typeNameWords are the types a CAST and a ROW type may name.
var typeNameWords = setOf("BOOLEAN", "TINYINT", "SMALLINT", "INT", "INTEGER", "BIGINT", "FLOAT", "REAL",
	"DOUBLE", "DECIMAL", "DEC", "NUMERIC", "CHAR", "CHARACTER", "VARCHAR", "STRING", "BINARY", "VARBINARY",
	"BYTES", "DATE", "TIME", "TIMESTAMP", "TIMESTAMP_LTZ", "ROW", "ARRAY", "MAP", "MULTISET")

const typeNameList = "BOOLEAN, TINYINT, SMALLINT, INT, BIGINT, FLOAT, REAL, DOUBLE, DECIMAL(p, s), CHAR(n), VARCHAR(n), STRING, BYTES, DATE, TIME, TIMESTAMP(p), TIMESTAMP_LTZ(p), ROW<…>, ARRAY<…>, MAP<…>"

// typeName reads a type of CAST or of a ROW field.
func (p *parser) typeName() (*TypeName, error) {
	t := p.peek()
	upper := strings.ToUpper(t.text)
	if t.kind != tIdent || !typeNameWords[upper] {
		e := p.want("a type")
		e.Hint = "types: " + typeNameList
		return nil, e
	}
	if err := p.enter(t); err != nil {
		return nil, err
	}
	defer p.leave()
	p.i++
	tn := &TypeName{Name: upper, Pos: t.pos}
	switch upper {
	case "DOUBLE":
		p.accept("PRECISION")
	case "ROW":
		if err := p.rowFields(tn); err != nil {
			return nil, err
		}
	case "ARRAY", "MULTISET", "MAP":
		open := p.peek()
		if !p.acceptPunct("<") {
			return nil, p.want("'<' after " + upper)
		}
		for {
			e, err := p.typeName()
			if err != nil {
				return nil, err
			}
			tn.Elems = append(tn.Elems, e)
			if upper != "MAP" || len(tn.Elems) == 2 || !p.acceptPunct(",") {
				break
			}
		}
		if upper == "MAP" && len(tn.Elems) != 2 {
			return nil, p.want("',' and the value type of the MAP")
		}
		if !p.acceptPunct(">") {
			return nil, p.want("'>' to close the '<' at " + open.pos.String())
		}
	}
	if open := p.peek(); upper != "ROW" && len(tn.Elems) == 0 && p.acceptPunct("(") {
		for {
			n := p.peek()
			v, err := strconv.Atoi(n.text)
			if n.kind != tNumber || err != nil || v < 0 {
				return nil, p.want("a length or precision")
			}
			p.i++
			tn.Params = append(tn.Params, v)
			if len(tn.Params) == 2 || !p.acceptPunct(",") {
				break
			}
		}
		if err := p.closeParen(open, upper+"("); err != nil {
			return nil, err
		}
	}
	if upper == "TIMESTAMP" || upper == "TIME" {
		if w := p.peek(); w.is("WITHOUT") {
			p.i++
			for _, kw := range []string{"TIME", "ZONE"} {
				if err := p.wantKeyword(kw, "in WITHOUT TIME ZONE"); err != nil {
					return nil, err
				}
			}
		} else if w.is("WITH") && p.peekAt(1).is("LOCAL") && upper == "TIMESTAMP" {
			p.i++
			for _, kw := range []string{"LOCAL", "TIME", "ZONE"} {
				if err := p.wantKeyword(kw, "in WITH LOCAL TIME ZONE"); err != nil {
					return nil, err
				}
			}
			tn.Name = "TIMESTAMP_LTZ"
		}
	}
	if p.peek().is("NOT") && p.peekAt(1).is("NULL") {
		p.i += 2
		tn.NotNull = true
	}
	return tn, nil
}

// rowFields reads <name type, …> or (name type, …) after ROW.
func (p *parser) rowFields(tn *TypeName) error {
	open := p.peek()
	closer := ">"
	switch {
	case p.acceptPunct("<"):
	case p.acceptPunct("("):
		closer = ")"
	case open.isPunct("<>"):
		return &SyntaxError{Line: open.pos.Line, Col: open.pos.Col, Msg: "a ROW type needs at least one field"}
	default:
		return p.want("'<' or '(' after ROW")
	}
	if t := p.peek(); t.isPunct(closer) || t.isPunct("<>") {
		return &SyntaxError{Line: open.pos.Line, Col: open.pos.Col, Msg: "a ROW type needs at least one field"}
	}
	for {
		name, nt, err := p.namePart("a field name")
		if err != nil {
			return err
		}
		typ, err := p.typeName()
		if err != nil {
			return err
		}
		tn.Fields = append(tn.Fields, RowField{Name: name, Type: typ, Pos: nt.pos})
		if !p.acceptPunct(",") {
			break
		}
	}
	if !p.acceptPunct(closer) {
		return p.want("'" + closer + "' to close the ROW type at " + open.pos.String())
	}
	return nil
}
