package query

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sluicehq/sluice/sql/parser"
)

// Pos is a position in a job file: 1-based line and column, the column
// counted in characters (as package sql/parser counts them).
type Pos = parser.Pos

// Error is an error in a query, at Pos in the job file. It reads like
// `line 4:12: unknown column "pgae" (did you mean "page"?) in "pgae"` or
// `line 2:1: syntax error near "FORM"`.
//
// Near is the offending text as the user wrote it (whitespace runs shown as
// one space, long text shortened with "…"); it is empty at the end of the
// statement and when Msg already names the offending text, as in
// `aggregate COUNT(*) is not allowed in WHERE`.
type Error struct {
	Pos    Pos
	Msg    string
	Near   string
	Syntax bool // a syntax error: Near is printed after "near" rather than "in"
}

func (e *Error) Error() string {
	s := "line " + e.Pos.String() + ": " + e.Msg
	switch {
	case e.Near == "":
	case e.Syntax:
		s += " near " + quoteText(e.Near)
	default:
		s += " in " + quoteText(e.Near)
	}
	return s
}

// quoteText quotes s for a message, keeping printable non-ASCII characters
// as they are.
func quoteText(s string) string { return strconv.Quote(s) }

// maxNear bounds the text quoted by an error, in characters.
const maxNear = 48

// nearText returns s as an error quotes it: whitespace runs (newlines
// included) as one space, at most maxNear characters.
func nearText(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= maxNear {
		return s
	}
	n := 0
	for i := range s {
		if n == maxNear {
			return s[:i] + "…"
		}
		n++
	}
	return s
}

// position returns the file position of byte offset off of text, which
// starts at base. An offset inside a multi-byte character is that
// character; offsets are clamped to [0, len(text)].
func position(text string, base Pos, off int) Pos {
	off = max(0, min(off, len(text)))
	p := base
	for i := 0; i < len(text); {
		r, w := utf8.DecodeRuneInString(text[i:])
		if i+w > off {
			break
		}
		i += w
		if r == '\n' {
			p.Line, p.Col = p.Line+1, 1
		} else {
			p.Col++
		}
	}
	return p
}
