package query

import (
	"strings"
)

// tokKind is the class of a token.
type tokKind uint8

const (
	tkWord   tokKind = iota + 1 // identifier or keyword; val lower case
	tkQuoted                    // `name` or "name"; val is the name
	tkString                    // 'text'; val is the decoded text
	tkNumber                    // val as written
	tkOp                        // punctuation and operators
)

// token is one token of a statement. start and end are byte offsets in the
// text that was lexed.
type token struct {
	kind       tokKind
	val        string
	start, end int
}

// name reports whether t names something (an identifier or a keyword).
func (t token) name() bool { return t.kind == tkWord || t.kind == tkQuoted }

// is reports whether t is the unquoted keyword or operator s (lower case).
func (t token) is(s string) bool { return (t.kind == tkWord || t.kind == tkOp) && t.val == s }

// lexError is a lexical error at byte offset off of the lexed text.
type lexError struct {
	off, end int
	msg      string
}

// lexMode says how strings are written in the text being lexed.
type lexMode uint8

const (
	// flinkMode is the user's dialect: a backslash in a string is an
	// ordinary character.
	flinkMode lexMode = iota
	// mysqlMode is sqlparser's: a backslash escapes the next character.
	mysqlMode
)

// mysqlDecode maps the character after a backslash to what it stands for
// in sqlparser's strings; characters not listed stand for themselves.
var mysqlDecode = map[byte]byte{'0': 0, 'b': '\b', 'n': '\n', 'r': '\r', 't': '\t', 'Z': 26}

// lex splits s into tokens the way sqlparser's tokenizer does, skipping
// whitespace and comments. Both quoted forms of names, `x` and "x", are
// names (sqlparser reads "x" as a string, which is why the rewrite turns
// them into `x`). It stops at the first lexical error.
func lex(s string, mode lexMode) ([]token, *lexError) {
	var toks []token
	i := 0
	for i < len(s) {
		c := s[i]
		start := i
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
			continue
		case c == '-' && i+1 < len(s) && s[i+1] == '-', c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
			continue
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			if i+2 < len(s) && s[i+2] == '!' {
				return toks, &lexError{start, start + 3, "MySQL-specific comments /*! … */ are not supported"}
			}
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return toks, &lexError{start, len(s), "unterminated comment"}
			}
			i += 2 + end + 2
			continue
		case isLetter(c):
			for i < len(s) && (isLetter(s[i]) || isDigit(s[i])) {
				i++
			}
			toks = append(toks, token{tkWord, strings.ToLower(s[start:i]), start, i})
		case isDigit(c) || c == '.' && i+1 < len(s) && isDigit(s[i+1]):
			i = scanNumber(s, i)
			toks = append(toks, token{tkNumber, s[start:i], start, i})
		case c == '\'':
			val, end, ok := scanString(s, i, mode)
			if !ok {
				return toks, &lexError{start, len(s), "unterminated string"}
			}
			i = end
			toks = append(toks, token{tkString, val, start, i})
		case c == '`' || c == '"':
			val, end, ok := scanQuoted(s, i)
			if !ok {
				return toks, &lexError{start, len(s), "unterminated quoted name"}
			}
			if val == "" {
				return toks, &lexError{start, end, "empty quoted name"}
			}
			i = end
			toks = append(toks, token{tkQuoted, val, start, i})
		default:
			op := scanOp(s[i:])
			if op == "" {
				r := s[i:]
				n := 1
				for n < len(r) && r[n]&0xC0 == 0x80 { // the whole UTF-8 character
					n++
				}
				return toks, &lexError{start, start + n, "unexpected character " + quoteText(r[:n])}
			}
			i += len(op)
			toks = append(toks, token{tkOp, op, start, i})
		}
	}
	return toks, nil
}

func isLetter(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c == '@'
}
func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// scanNumber returns the end of the number starting at s[i], as sqlparser
// reads numbers (123, 1.5, .5, 1e-3, 0x1F).
func scanNumber(s string, i int) int {
	digits := func(i int, hex bool) int {
		for i < len(s) && (isDigit(s[i]) || hex && strings.IndexByte("abcdefABCDEF", s[i]) >= 0) {
			i++
		}
		return i
	}
	if s[i] == '0' && i+1 < len(s) && (s[i+1] == 'x' || s[i+1] == 'X') {
		return digits(i+2, true)
	}
	i = digits(i, false)
	if i < len(s) && s[i] == '.' {
		i = digits(i+1, false)
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		i = digits(i, false)
	}
	return i
}

// scanString reads the string starting at the quote s[i]: a doubled quote
// is a quote and, in mysqlMode, a backslash escapes the next character. It
// returns the decoded value and the end offset.
func scanString(s string, i int, mode lexMode) (string, int, bool) {
	var b strings.Builder
	for j := i + 1; j < len(s); j++ {
		c := s[j]
		switch {
		case c == '\\' && mode == mysqlMode:
			if j+1 >= len(s) {
				return "", 0, false
			}
			j++
			if d, ok := mysqlDecode[s[j]]; ok {
				b.WriteByte(d)
			} else {
				b.WriteByte(s[j])
			}
		case c == '\'':
			if j+1 < len(s) && s[j+1] == '\'' {
				b.WriteByte('\'')
				j++
				continue
			}
			return b.String(), j + 1, true
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, false
}

// scanQuoted reads the quoted name starting at s[i] (` or "); a doubled
// quote character stands for itself.
func scanQuoted(s string, i int) (string, int, bool) {
	q := s[i]
	var b strings.Builder
	for j := i + 1; j < len(s); j++ {
		if s[j] != q {
			b.WriteByte(s[j])
			continue
		}
		if j+1 < len(s) && s[j+1] == q {
			b.WriteByte(q)
			j++
			continue
		}
		return b.String(), j + 1, true
	}
	return "", 0, false
}

// ops lists the operators sqlparser knows, longest first.
var ops = []string{"<=>", "->>", "<=", ">=", "<>", "!=", "<<", ">>", "&&", "||", "->",
	"=", ",", ";", "(", ")", "+", "-", "*", "/", "%", "^", "~", "&", "|", "?", ".", "<", ">", "!", ":"}

func scanOp(s string) string {
	for _, op := range ops {
		if strings.HasPrefix(s, op) {
			return op
		}
	}
	return ""
}

// canon returns toks in the form used to match a node's printed text
// against the statement: CAST(x AS t) reads as convert(x, t) (as sqlparser
// prints it), <> as !=, && and || as and and or, and the words sqlparser
// leaves out or adds freely when printing (AS, INNER, OUTER, CROSS) are
// dropped.
func canon(toks []token) []token {
	out := make([]token, 0, len(toks))
	var casts []int // paren depths of the open CAST( … )
	depth := 0
	for i, t := range toks {
		switch {
		case t.is("("):
			depth++
			if i > 0 && toks[i-1].is("cast") {
				casts = append(casts, depth)
			}
		case t.is(")"):
			if n := len(casts); n > 0 && casts[n-1] == depth {
				casts = casts[:n-1]
			}
			depth--
		case t.is("cast") && i+1 < len(toks) && toks[i+1].is("("):
			t.val = "convert"
		case t.is("as"):
			if n := len(casts); n > 0 && casts[n-1] == depth {
				t.kind, t.val = tkOp, ","
				break
			}
			continue
		case t.is("inner"), t.is("outer"), t.is("cross"):
			continue
		case t.is("<>"):
			t.val = "!="
		case t.is("&&"):
			t.kind, t.val = tkWord, "and"
		case t.is("||"):
			t.kind, t.val = tkWord, "or"
		}
		out = append(out, t)
	}
	return out
}

// same reports whether two canonical tokens match: names case-insensitively
// whether quoted or not, everything else by kind and value.
func same(a, b token) bool {
	if a.name() && b.name() {
		return strings.EqualFold(a.val, b.val)
	}
	return a.kind == b.kind && a.val == b.val
}
