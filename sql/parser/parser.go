package parser

import (
	"strings"

	"github.com/sluicehq/sluice/internal/suggest"
)

// parser reads the tokens of one statement. The last token is always a
// tEOF: the statement's ';' or the end of the input, so that errors at
// the end have a position.
type parser struct {
	toks  []token
	i     int
	depth int   // nesting of expressions and queries
	match []int // the index of the ')' closing each '(', computed when needed
}

func (p *parser) peek() token { return p.toks[p.i] }

// peekAt returns the token k places ahead (the final tEOF past the end).
func (p *parser) peekAt(k int) token {
	if p.i+k < len(p.toks) {
		return p.toks[p.i+k]
	}
	return p.toks[len(p.toks)-1]
}

// next returns the current token and moves past it (never past the end).
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

// accept moves past the keyword kw if it comes next.
func (p *parser) accept(kw string) bool {
	if p.peek().is(kw) {
		p.i++
		return true
	}
	return false
}

// acceptPunct moves past the punctuation s if it comes next.
func (p *parser) acceptPunct(s string) bool {
	if p.peek().isPunct(s) {
		p.i++
		return true
	}
	return false
}

// errAt returns an error at t.
func (p *parser) errAt(t token, msg string) *SyntaxError {
	e := &SyntaxError{Line: t.pos.Line, Col: t.pos.Col, Msg: msg, Near: nearText(t.text)}
	if t.kind == tEOF && t.text == "" {
		e.Msg += " at end of input"
	}
	return e
}

// expected returns "expected what" at the next token, suggesting the
// nearest of the keywords kws when the token looks like a misspelling.
func (p *parser) expected(what string, kws ...string) *SyntaxError {
	t := p.peek()
	e := p.errAt(t, "expected "+what)
	if t.kind == tIdent {
		if near := nearestKeyword(t.text, kws); near != "" {
			e.Hint = "did you mean " + near + "?"
		}
	}
	return e
}

// expectKeyword moves past kw, or fails.
func (p *parser) expectKeyword(kw string) error {
	if p.accept(kw) {
		return nil
	}
	return p.expected(kw, kw)
}

// expectPunct moves past the punctuation s, or fails.
func (p *parser) expectPunct(s string) error {
	if p.acceptPunct(s) {
		return nil
	}
	return p.expected("'" + s + "'")
}

// expectEnd fails unless the statement ends here.
func (p *parser) expectEnd() error {
	t := p.peek()
	if t.kind == tEOF {
		return nil
	}
	e := p.errAt(t, "expected end of statement")
	for _, v := range statementVerbs {
		if t.is(v) {
			e.Hint = "is a ';' missing before it?"
		}
	}
	return e
}

// name reads a name: a plain identifier or a `quoted` one.
func (p *parser) name(what string) (string, token, error) {
	t := p.peek()
	switch t.kind {
	case tIdent:
		p.i++
		return t.val, t, nil
	case tQuotedIdent:
		if t.val == "" {
			return "", t, p.errAt(t, "empty "+what)
		}
		p.i++
		return t.val, t, nil
	}
	if err := p.placeholder(); err != nil {
		return "", t, err
	}
	e := p.errAt(t, "expected "+what)
	if t.kind == tString || t.kind == tDQuoted {
		e.Hint = "write names plain or in `backticks`, not in quotes"
	}
	return "", t, e
}

// nearestKeyword returns the keyword of kws closest to a misspelt word,
// or "" (also when word is one of them: then it is misplaced, not misspelt).
// It is stricter than suggest.Nearest, which is made for long option
// names: a keyword of n letters is suggested within (n-1)/2 edits, at most
// two (a swap of neighbours is one edit), so that UPDATE does not suggest
// CREATE nor ts AS.
func nearestKeyword(word string, kws []string) string {
	near := suggest.Nearest(word, kws)
	if near == "" || strings.EqualFold(near, word) {
		return ""
	}
	if d := suggest.EditDistance(strings.ToUpper(word), strings.ToUpper(near)); d > min(2, (len(near)-1)/2) {
		return ""
	}
	return near
}
