package parser

import (
	"strings"
	"unicode/utf8"
)

// Kind is the kind of a statement.
type Kind uint8

// The statement kinds.
const (
	KindCreateTable Kind = iota + 1
	KindDropTable
	KindShowTables
	KindDescribe
	KindQuery
	KindCreateTopic
	KindCreateSubscription
	KindSet
	KindCreateView
	KindDropView
	KindCreateFunction
	KindCreateTrigger
	KindDropTrigger
)

var kindNames = [...]string{"", "CREATE TABLE", "DROP TABLE", "SHOW TABLES", "DESCRIBE", "QUERY", "CREATE TOPIC",
	"CREATE SUBSCRIPTION", "SET", "CREATE VIEW", "DROP VIEW", "CREATE FUNCTION",
	"CREATE FUNCTION TRIGGER", "DROP FUNCTION TRIGGER"}

func (k Kind) String() string {
	if int(k) < len(kindNames) && k != 0 {
		return kindNames[k]
	}
	return "INVALID"
}

// Statement is one statement of a script.
type Statement struct {
	Kind Kind
	// Text is the statement exactly as written, from its first token to its
	// last, comments inside included, without the ';' that ends it.
	Text string
	// Offset is the byte offset of Text in the script; Line and Col are
	// where Text starts.
	Offset    int
	Line, Col int
	// Node is the parsed statement; for a query it holds only the verb,
	// Text is for the query parser.
	Node Node
}

// Position returns the line and column in the script of the byte at offset
// in Text, e.g. to place an error of a parser that reads Text alone. An
// offset inside a multi-byte character is that character; offsets are
// clamped to [0, len(Text)].
func (s Statement) Position(offset int) (line, col int) {
	offset = max(0, min(offset, len(s.Text)))
	line, col = s.Line, s.Col
	for i := 0; i < len(s.Text); {
		r, w := utf8.DecodeRuneInString(s.Text[i:])
		if i+w > offset {
			break
		}
		i += w
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

// ParseScript splits src into statements at each ';' outside strings,
// quoted names and comments, skips empty statements, and parses each one.
// The first error is returned, as a *SyntaxError.
func ParseScript(src string) ([]Statement, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	var out []Statement
	var eof Pos // just past the last token
	if len(toks) > 0 {
		eof = endPos(src, toks[len(toks)-1])
	}
	for len(toks) > 0 {
		n := 0
		for n < len(toks) && !toks[n].isPunct(";") {
			n++
		}
		stmt := toks[:n]
		// The end of the statement: its ';', or the end of the input.
		end := token{kind: tEOF, off: len(src), end: len(src), pos: eof}
		if n < len(toks) {
			end = toks[n]
			end.kind = tEOF
			toks = toks[n+1:]
		} else {
			toks = nil
		}
		if len(stmt) == 0 {
			continue
		}
		first, last := stmt[0], stmt[len(stmt)-1]
		s := Statement{
			Text:   src[first.off:last.end],
			Offset: first.off,
			Line:   first.pos.Line,
			Col:    first.pos.Col,
		}
		p := &parser{toks: append(stmt[:n:n], end)}
		if s.Node, err = p.statement(); err != nil {
			return nil, err
		}
		s.Kind = kindOf(s.Node)
		out = append(out, s)
	}
	return out, nil
}

// endPos returns the position just past the end of src, counting from its
// last token.
func endPos(src string, last token) Pos {
	s := Statement{Text: src[last.off:], Line: last.pos.Line, Col: last.pos.Col}
	line, col := s.Position(len(s.Text))
	return Pos{line, col}
}

func kindOf(n Node) Kind {
	switch n.(type) {
	case *CreateTable:
		return KindCreateTable
	case *DropTable:
		return KindDropTable
	case *ShowTables:
		return KindShowTables
	case *Describe:
		return KindDescribe
	case *Query:
		return KindQuery
	case *CreateTopic:
		return KindCreateTopic
	case *CreateSubscription:
		return KindCreateSubscription
	case *Set:
		return KindSet
	case *CreateView:
		return KindCreateView
	case *DropView:
		return KindDropView
	case *CreateFunction:
		return KindCreateFunction
	case *CreateTrigger:
		return KindCreateTrigger
	case *DropTrigger:
		return KindDropTrigger
	}
	return 0
}

// statementVerbs are the words that start a statement, for suggestions.
var statementVerbs = []string{"CREATE", "DROP", "SHOW", "DESCRIBE", "DESC", "INSERT", "SELECT", "WITH", "SET"}

// statement parses one statement from its tokens.
func (p *parser) statement() (Node, error) {
	t := p.next()
	switch {
	case t.is("CREATE"):
		return p.create(t)
	case t.is("DROP"):
		return p.dropTable(t)
	case t.is("SHOW"):
		if err := p.expectKeyword("TABLES"); err != nil {
			return nil, err
		}
		return &ShowTables{Pos: t.pos}, p.expectEnd()
	case t.is("DESCRIBE") || t.is("DESC"):
		name, err := p.tableName()
		if err != nil {
			return nil, err
		}
		return &Describe{Name: name, Pos: t.pos}, p.expectEnd()
	case t.is("SET"):
		return p.set(t)
	case t.is("INSERT") || t.is("SELECT") || t.is("WITH"):
		return &Query{Verb: strings.ToUpper(t.text), Pos: t.pos}, nil
	}
	e := p.errAt(t, "unknown statement")
	e.Hint = "expected CREATE TABLE, CREATE VIEW, CREATE FUNCTION, DROP TABLE, DROP VIEW, SHOW TABLES, DESCRIBE, SET, INSERT, SELECT or WITH"
	if t.kind == tIdent {
		if near := nearestKeyword(t.text, statementVerbs); near != "" {
			e.Hint = "did you mean " + near + "?"
		}
	}
	return nil, e
}

// set parses SET 'key' = 'value'.
func (p *parser) set(start token) (Node, error) {
	kt, err := p.optionKey("SET ", " = '…'")
	if err != nil {
		return nil, err
	}
	p.i++
	if err := p.expectPunct("="); err != nil {
		return nil, err
	}
	vt, err := p.optionValue()
	if err != nil {
		return nil, err
	}
	return &Set{Key: kt.val, Value: vt.val, Pos: start.pos, KeyPos: kt.pos, ValuePos: vt.pos}, p.expectEnd()
}
