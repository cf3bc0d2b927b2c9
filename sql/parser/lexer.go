package parser

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

type tokKind uint8

const (
	tEOF         tokKind = iota // end of a statement: ';' or the end of the input
	tIdent                      // a plain identifier or keyword
	tQuotedIdent                // `quoted name`
	tNumber                     // 12, 1.5, .5, 1e3
	tString                     // 'text'
	tDQuoted                    // "text": lexed so a ';' inside does not split, refused by the DDL
	tPunct                      // operators and punctuation
)

// token is one lexical token. text is the token as written in the source;
// val is the name of an identifier or the value of a string, unescaped.
type token struct {
	kind     tokKind
	text     string
	val      string
	off, end int // byte offsets of text in the source
	pos      Pos
}

// is reports whether t is the plain (unquoted) keyword kw.
func (t token) is(kw string) bool { return t.kind == tIdent && strings.EqualFold(t.text, kw) }

// isPunct reports whether t is the punctuation p.
func (t token) isPunct(p string) bool { return t.kind == tPunct && t.text == p }

// twoCharOps are the operators of two characters; every other punctuation
// character is a token of its own.
var twoCharOps = []string{"<=", ">=", "<>", "!=", "||", "::", "=>"}

// lexer turns a script into tokens. It tracks the line and column of its
// offset as it goes.
type lexer struct {
	src       string
	off       int
	line, col int
}

// lex returns the tokens of src, without comments and white space. An
// unterminated string, quoted name or comment is an error at its start.
func lex(src string) ([]token, error) { return lexAt(src, Pos{1, 1}) }

// lexAt is lex for a text that starts at the position at of a script.
func lexAt(src string, at Pos) ([]token, error) {
	l := &lexer{src: src, line: max(at.Line, 1), col: max(at.Col, 1)}
	if strings.HasPrefix(src, "\uFEFF") { // a byte order mark is not a character of the first line
		l.off = len("\uFEFF")
	}
	toks := make([]token, 0, len(src)/6+8) // about one token in six bytes of SQL
	for {
		t, err := l.next()
		if err != nil {
			return nil, err
		}
		if t.kind == tEOF {
			return toks, nil
		}
		toks = append(toks, t)
	}
}

// peek returns the character at the offset and its width (0 at the end).
func (l *lexer) peek() (rune, int) {
	if l.off >= len(l.src) {
		return 0, 0
	}
	return utf8.DecodeRuneInString(l.src[l.off:])
}

// peekByte returns the byte i bytes past the offset, or 0.
func (l *lexer) peekByte(i int) byte {
	if l.off+i < len(l.src) {
		return l.src[l.off+i]
	}
	return 0
}

// bump moves past one character.
func (l *lexer) bump() {
	r, w := l.peek()
	if w == 0 {
		return
	}
	l.off += w
	if r == '\n' {
		l.line++
		l.col = 1
	} else {
		l.col++
	}
}

func (l *lexer) pos() Pos { return Pos{l.line, l.col} }

func (l *lexer) errAt(p Pos, off int, msg string) *SyntaxError {
	return &SyntaxError{Line: p.Line, Col: p.Col, Msg: msg, Near: nearText(firstLine(l.src[off:]))}
}

// firstLine returns s up to its first line break.
func firstLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}

func (l *lexer) next() (token, error) {
	if err := l.skipSpaceAndComments(); err != nil {
		return token{}, err
	}
	start, p := l.off, l.pos()
	r, w := l.peek()
	tok := func(k tokKind) token {
		return token{kind: k, text: l.src[start:l.off], val: l.src[start:l.off], off: start, end: l.off, pos: p}
	}
	switch {
	case w == 0:
		return token{kind: tEOF, off: start, end: start, pos: p}, nil
	case isIdentStart(r):
		for r, w := l.peek(); w > 0 && isIdentPart(r); r, w = l.peek() {
			l.bump()
		}
		return tok(tIdent), nil
	case r >= '0' && r <= '9' || r == '.' && isDigit(l.peekByte(1)):
		l.number()
		return tok(tNumber), nil
	case r == '\'' || r == '"' || r == '`':
		kind, what := tString, "string"
		if r == '"' {
			kind, what = tDQuoted, "double-quoted text"
		} else if r == '`' {
			kind, what = tQuotedIdent, "quoted name"
		}
		val, ok := l.quoted(byte(r))
		if !ok {
			return token{}, l.errAt(p, start, "unterminated "+what)
		}
		t := tok(kind)
		t.val = val
		return t, nil
	}
	for _, op := range twoCharOps {
		if strings.HasPrefix(l.src[l.off:], op) {
			l.bump()
			l.bump()
			return tok(tPunct), nil
		}
	}
	l.bump()
	return tok(tPunct), nil
}

func (l *lexer) skipSpaceAndComments() error {
	for {
		r, w := l.peek()
		switch {
		case w == 0:
			return nil
		case unicode.IsSpace(r):
			l.bump()
		case r == '-' && l.peekByte(1) == '-':
			for r, w := l.peek(); w > 0 && r != '\n'; r, w = l.peek() {
				l.bump()
			}
		case r == '/' && l.peekByte(1) == '*':
			start, p := l.off, l.pos()
			l.bump()
			l.bump()
			for {
				if l.off >= len(l.src) {
					return l.errAt(p, start, "unterminated comment")
				}
				if l.src[l.off] == '*' && l.peekByte(1) == '/' {
					l.bump()
					l.bump()
					break
				}
				l.bump()
			}
		default:
			return nil
		}
	}
}

// number moves past digits, an optional fraction and an optional exponent.
func (l *lexer) number() {
	for isDigit(l.peekByte(0)) {
		l.bump()
	}
	if l.peekByte(0) == '.' {
		l.bump()
		for isDigit(l.peekByte(0)) {
			l.bump()
		}
	}
	if c := l.peekByte(0); c == 'e' || c == 'E' {
		i := 1
		if s := l.peekByte(1); s == '+' || s == '-' {
			i = 2
		}
		if isDigit(l.peekByte(i)) {
			for range i {
				l.bump()
			}
			for isDigit(l.peekByte(0)) {
				l.bump()
			}
		}
	}
}

// quoted moves past text between two q characters, where a doubled q
// stands for one, and returns the text between them, unescaped.
func (l *lexer) quoted(q byte) (string, bool) {
	l.bump()
	var b strings.Builder
	for {
		if l.off >= len(l.src) {
			return "", false
		}
		if l.src[l.off] == q {
			l.bump()
			if l.peekByte(0) != q {
				return b.String(), true
			}
		}
		_, w := l.peek()
		b.WriteString(l.src[l.off : l.off+w])
		l.bump()
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isIdentStart(r rune) bool { return r == '_' || unicode.IsLetter(r) }

func isIdentPart(r rune) bool {
	return r == '_' || r == '$' || unicode.IsLetter(r) || unicode.IsDigit(r)
}
