package parser

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Pos is a position in a script: 1-based line and column, the column
// counted in characters.
type Pos struct {
	Line, Col int
}

func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

// SyntaxError is an error in a script, at Line:Col.
//
// Near is the offending text as written (empty at the end of the input);
// Hint, when set, suggests a fix (the nearest keyword or name, the
// supported forms).
type SyntaxError struct {
	Line, Col int
	Msg       string
	Near      string
	Hint      string
}

// Error reads like `line 3:17: expected ')' near "WITH"`, followed by
// "; " and the hint when there is one.
func (e *SyntaxError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "line %d:%d: %s", e.Line, e.Col, e.Msg)
	if e.Near != "" {
		fmt.Fprintf(&b, " near %q", e.Near)
	}
	if e.Hint != "" {
		b.WriteString("; ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// maxNear bounds the text quoted by an error, in characters.
const maxNear = 32

// nearText shortens s for an error message.
func nearText(s string) string {
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
