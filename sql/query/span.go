package query

import (
	"unicode/utf8"

	"github.com/sluicehq/sluice/sql/parser"
)

// Node is anything of a query with a position: a node of the parser's
// AST (an expression, a table reference, a query), an *Item or a *Table.
type Node interface {
	Position() parser.Pos
}

// off returns the byte offset in q.Text of the file position p, clamped
// to the text.
func (q *Query) off(p Pos) int {
	line, col := q.Base.Line, q.Base.Col
	if p.Line < line || p.Line == line && p.Col <= col {
		return 0
	}
	for i := 0; i < len(q.Text); {
		if line == p.Line && col >= p.Col || line > p.Line {
			return i
		}
		r, w := utf8.DecodeRuneInString(q.Text[i:])
		i += w
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return len(q.Text)
}

// token is a lexical token of the statement's text, found again to place
// the end of a node whose AST holds only its start.
type token struct {
	start, end int
	punct      byte // the character of a one-character punctuation, else 0
}

// tokenAt returns the token that starts at or after byte i, skipping
// white space and comments; at the end of the text its start is
// len(q.Text).
func (q *Query) tokenAt(i int) token {
	s := q.Text
	for i < len(s) {
		switch {
		case s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r':
			i++
		case s[i] == '-' && i+1 < len(s) && s[i+1] == '-':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case s[i] == '/' && i+1 < len(s) && s[i+1] == '*':
			j := indexFrom(s, "*/", i+2)
			if j < 0 {
				return token{start: len(s), end: len(s)}
			}
			i = j + 2
		default:
			return q.tokenFrom(i)
		}
	}
	return token{start: len(s), end: len(s)}
}

func indexFrom(s, sub string, i int) int {
	for j := i; j+len(sub) <= len(s); j++ {
		if s[j:j+len(sub)] == sub {
			return j
		}
	}
	return -1
}

func (q *Query) tokenFrom(i int) token {
	s := q.Text
	c := s[i]
	switch {
	case c == '\'' || c == '"' || c == '`':
		j := i + 1
		for j < len(s) {
			if s[j] == c {
				if j+1 < len(s) && s[j+1] == c {
					j += 2
					continue
				}
				return token{start: i, end: j + 1}
			}
			j++
		}
		return token{start: i, end: len(s)}
	case isWordByte(c):
		j := i
		for j < len(s) && (isWordByte(s[j]) || s[j] == '.' && j+1 < len(s) && s[j+1] >= '0' && s[j+1] <= '9' && s[i] >= '0' && s[i] <= '9') {
			j++
		}
		return token{start: i, end: j}
	}
	return token{start: i, end: i + 1, punct: c}
}

func isWordByte(c byte) bool {
	return c == '_' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// after returns the end of the n tokens from byte i.
func (q *Query) after(i, n int) int {
	for range n {
		t := q.tokenAt(i)
		i = t.end
	}
	return i
}

// closing returns the end of the bracketed group whose opening bracket
// (open) is the first one at or after byte i; i when there is none.
func (q *Query) closing(i int, open, close byte) int {
	depth := 0
	for {
		t := q.tokenAt(i)
		if t.start >= len(q.Text) {
			return len(q.Text)
		}
		switch t.punct {
		case open:
			depth++
		case close:
			depth--
			if depth == 0 {
				return t.end
			}
		}
		i = t.end
	}
}

// end returns the byte offset in q.Text just past node n.
func (q *Query) end(n Node) int {
	switch n := n.(type) {
	case nil:
		return 0
	case *parser.Ident:
		return q.off(n.End)
	case *parser.Literal:
		return q.off(n.End)
	case *parser.Call:
		e := q.off(n.End)
		if n.Filter != nil {
			e = q.closing(e, '(', ')')
		}
		if n.Over != nil {
			e = q.closing(e, '(', ')')
		} else if n.OverName != "" {
			e = q.after(e, 2)
		}
		return e
	case *parser.Case:
		return q.off(n.End)
	case *parser.Subquery:
		return q.off(n.End)
	case *parser.Binary:
		return q.end(n.R)
	case *parser.Unary:
		return q.end(n.X)
	case *parser.Is:
		if n.From != nil {
			return q.end(n.From)
		}
		k := 2
		if n.Not {
			k++
		}
		return q.after(q.end(n.X), k)
	case *parser.Between:
		return q.end(n.Hi)
	case *parser.In:
		return q.closing(q.end(n.X), '(', ')')
	case *parser.Like:
		if n.Escape != nil {
			return q.end(n.Escape)
		}
		return q.end(n.Pattern)
	case *parser.Exists, *parser.Cast, *parser.Extract, *parser.Trim, *parser.Descriptor:
		return q.closing(q.off(n.Position()), '(', ')')
	case *parser.Interval:
		k := 3
		if n.ToUnit != "" {
			k = 5
		}
		return q.after(q.off(n.Pos), k)
	case *parser.TypedLit:
		return q.after(q.off(n.Pos), 2)
	case *parser.Item:
		return q.closing(q.end(n.X), '[', ']')
	case *parser.Star:
		if n.Qualifier != nil {
			return q.after(q.off(n.Qualifier.End), 2)
		}
		return q.after(q.off(n.Pos), 1)
	case *parser.NamedArg:
		return q.end(n.Value)
	case *parser.TableArg:
		if len(n.PartitionBy) > 0 {
			return q.closing(q.end(n.PartitionBy[len(n.PartitionBy)-1]), '(', ')')
		}
		return q.end(n.Name)
	case *Item:
		if n.Alias != "" {
			return q.after(q.off(n.AliasPos), 1)
		}
		return q.end(n.Expr)
	case *Table:
		return q.end(n.Node)
	case *TVF:
		return q.end(n.Node)
	case *From:
		switch {
		case n.Table != nil:
			return q.end(n.Table)
		case n.Sub != nil:
			return q.end(n.Sub.Node)
		case n.TVF != nil:
			return q.end(n.TVF.Node)
		}
		return q.end(n.Join)
	case *Subquery:
		return q.end(n.Node)
	case *CTE:
		return q.after(q.off(n.Pos), 1)
	case whenNode:
		return q.end(n.w.Result)
	case *parser.TableName:
		if n.Alias != nil {
			return q.aliasEnd(n.Alias)
		}
		if n.SystemTime != nil {
			return q.end(n.SystemTime)
		}
		return q.end(n.Name)
	case *parser.Derived:
		if n.Alias != nil {
			return q.aliasEnd(n.Alias)
		}
		return q.closing(q.off(n.Pos), '(', ')')
	case *parser.TableFunc:
		if n.Alias != nil {
			return q.aliasEnd(n.Alias)
		}
		return q.closing(q.off(n.Pos), '(', ')')
	case *parser.Join:
		switch {
		case n.On != nil:
			return q.end(n.On)
		case n.Using != nil:
			return q.closing(q.end(n.R), '(', ')')
		}
		return q.end(n.R)
	case *parser.Select:
		switch {
		case n.Having != nil:
			return q.end(n.Having)
		case len(n.GroupBy) > 0:
			return q.end(n.GroupBy[len(n.GroupBy)-1])
		case n.Where != nil:
			return q.end(n.Where)
		case n.From != nil:
			return q.end(n.From)
		case len(n.Items) > 0:
			it := n.Items[len(n.Items)-1]
			return q.end(&Item{Expr: it.Expr, Alias: it.Alias, AliasPos: it.AliasPos})
		}
		return q.after(q.off(n.Pos), 1)
	case *parser.Values:
		e := q.off(n.Pos)
		for range n.Rows {
			e = q.closing(e, '(', ')')
		}
		return e
	case *parser.SetOp:
		return q.end(n.R)
	case *parser.With:
		return q.end(n.Body)
	case *parser.Ordered:
		switch {
		case n.Offset != nil:
			return q.end(n.Offset)
		case n.Limit != nil:
			return q.end(n.Limit)
		case len(n.OrderBy) > 0:
			o := n.OrderBy[len(n.OrderBy)-1]
			e := q.end(o.X)
			if o.Desc {
				e = q.after(e, 1)
			}
			if o.Nulls != "" {
				e = q.after(e, 2)
			}
			return e
		}
		return q.end(n.Query)
	}
	return q.after(q.off(n.Position()), 1)
}

// aliasEnd returns the end of an alias with its column list.
func (q *Query) aliasEnd(a *parser.Alias) int {
	e := q.after(q.off(a.Pos), 1)
	if a.Columns != nil {
		e = q.closing(e, '(', ')')
	}
	return e
}

// span returns the byte span of n in q.Text.
func (q *Query) span(n Node) (start, end int) {
	start = q.off(n.Position())
	end = max(start, q.end(n))
	// The AST keeps no parentheses: (a + b) * 2 starts at a, and a * (b +
	// c) ends at c. Take in the brackets that balance the span.
	opens, closes := 0, 0
	for i := start; ; {
		t := q.tokenAt(i)
		if t.start >= end {
			break
		}
		switch t.punct {
		case '(':
			opens++
		case ')':
			if opens > 0 {
				opens--
			} else {
				closes++
			}
		}
		i = t.end
	}
	for ; closes > 0; closes-- {
		j := start - 1
		for j >= 0 && (q.Text[j] == ' ' || q.Text[j] == '\t' || q.Text[j] == '\n' || q.Text[j] == '\r') {
			j--
		}
		if j < 0 || q.Text[j] != '(' {
			break
		}
		start = j
	}
	for ; opens > 0; opens-- {
		t := q.tokenAt(end)
		if t.punct != ')' {
			break
		}
		end = t.end
	}
	return start, end
}
