package query

import (
	"reflect"

	"github.com/xwb1989/sqlparser"
)

// sqlparser's AST has no positions. The locator finds a node in the text by
// matching the tokens of its printed form (sqlparser.String) against the
// statement's tokens, both in canonical form (see canon): case-insensitive,
// whatever the quoting and spacing, on the rewritten text so that the
// rewrites match too.
//
// A node is looked for inside the span of its parent, after the spans of
// the siblings before it, so that a repeated sub-expression is found where
// this occurrence stands (the first occurrence not yet claimed by an
// earlier sibling). A node that cannot be found starts where the longest
// prefix of its printed form does, else where its parent does; its text is
// then its printed form.

// Locating states.
const (
	unlocated uint8 = iota
	found
	fallback
)

// locNode is a node of the AST with its place in the text.
type locNode struct {
	node   sqlparser.SQLNode
	parent *locNode
	kids   []*locNode
	idx    int // among parent.kids

	state  uint8
	lo, hi int // canonical token range [lo, hi)

	placed int // kids placed so far, in order
	cursor int // token index after the last kid found
}

type locator struct {
	toks  []token // canonical tokens of the rewritten text
	nodes map[sqlparser.SQLNode]*locNode
}

// newLocator indexes the tree under root. Only pointer nodes are indexed
// (value nodes such as ColIdent or BoolVal have no identity); their
// children hang from the nearest pointer ancestor.
func newLocator(toks []token, root sqlparser.SQLNode) *locator {
	l := &locator{toks: toks, nodes: map[sqlparser.SQLNode]*locNode{}}
	l.add(root, nil)
	return l
}

func (l *locator) add(n sqlparser.SQLNode, parent *locNode) {
	self := parent
	if isPtr(n) {
		ln := &locNode{node: n, parent: parent}
		if parent != nil {
			ln.idx = len(parent.kids)
			parent.kids = append(parent.kids, ln)
		}
		l.nodes[n] = ln
		self = ln
	}
	for _, c := range children(n) {
		l.add(c, self)
	}
}

// isPtr reports whether n is a non-nil pointer (and so usable as a map key).
func isPtr(n sqlparser.SQLNode) bool {
	if n == nil {
		return false
	}
	v := reflect.ValueOf(n)
	return v.Kind() == reflect.Pointer && !v.IsNil()
}

// isNil reports whether n is nil or holds a nil pointer, slice or map.
func isNil(n sqlparser.SQLNode) bool {
	if n == nil {
		return true
	}
	switch v := reflect.ValueOf(n); v.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
		return v.IsNil()
	}
	return false
}

// children returns the direct children of n in sqlparser's walking order,
// which is their order in the text.
func children(n sqlparser.SQLNode) []sqlparser.SQLNode {
	var out []sqlparser.SQLNode
	first := true
	_ = sqlparser.Walk(func(c sqlparser.SQLNode) (bool, error) {
		if first {
			first = false
			return true, nil
		}
		if !isNil(c) {
			out = append(out, c)
		}
		return false, nil
	}, n)
	return out
}

// pattern returns the canonical tokens of n's printed form, or nil.
func pattern(n sqlparser.SQLNode) (toks []token) {
	defer func() {
		if recover() != nil { // sqlparser cannot print some nodes
			toks = nil
		}
	}()
	t, _ := lex(sqlparser.String(n), mysqlMode)
	return canon(t)
}

// find returns the first index in [lo, hi) where pat occurs whole, or -1.
func (l *locator) find(pat []token, lo, hi int) int {
	if len(pat) == 0 {
		return -1
	}
	for i := lo; i+len(pat) <= hi; i++ {
		if !same(l.toks[i], pat[0]) {
			continue
		}
		j := 1
		for j < len(pat) && same(l.toks[i+j], pat[j]) {
			j++
		}
		if j == len(pat) {
			return i
		}
	}
	return -1
}

// span returns the canonical token range of n and whether n was found
// there (false: the range is that of an ancestor).
func (l *locator) span(n sqlparser.SQLNode) (lo, hi int, ok bool) {
	if isPtr(n) {
		if ln := l.nodes[n]; ln != nil {
			l.locate(ln)
			return ln.lo, ln.hi, ln.state == found
		}
	}
	// A value node, or one from elsewhere: its first occurrence.
	pat := pattern(n)
	if i := l.find(pat, 0, len(l.toks)); i >= 0 {
		return i, i + len(pat), true
	}
	return 0, len(l.toks), false
}

func (l *locator) locate(ln *locNode) {
	if ln.state != unlocated {
		return
	}
	p := ln.parent
	if p == nil { // the statement
		ln.lo, ln.hi, ln.state = 0, len(l.toks), found
		return
	}
	l.locate(p)
	if p.placed == 0 {
		p.cursor = p.lo
	}
	for p.placed <= ln.idx {
		k := p.kids[p.placed]
		l.place(k, p)
		if k.state == found {
			p.cursor = k.hi
		}
		p.placed++
	}
}

// place looks for k in its parent p, first after the siblings before it,
// then anywhere in p. A node sqlparser prints otherwise than it is written
// (CURRENT_TIMESTAMP as current_timestamp(), a SELECT without FROM with
// "from dual") starts where the longest prefix of its printed form does.
func (l *locator) place(k, p *locNode) {
	pat := pattern(k.node)
	i := l.find(pat, p.cursor, p.hi)
	if i < 0 {
		i = l.find(pat, p.lo, p.hi)
	}
	if i >= 0 {
		k.lo, k.hi, k.state = i, i+len(pat), found
		return
	}
	k.lo, k.hi, k.state = p.lo, p.hi, fallback
	if i, _ := l.prefix(pat, p.cursor, p.hi); i >= 0 {
		k.lo = i
	}
}

// prefix returns the first index in [lo, hi) where the longest prefix of
// pat occurs, and its length; -1 when not even pat[0] occurs.
func (l *locator) prefix(pat []token, lo, hi int) (at, n int) {
	at = -1
	if len(pat) == 0 {
		return at, 0
	}
	for i := lo; i < hi; i++ {
		j := 0
		for j < len(pat) && i+j < hi && same(l.toks[i+j], pat[j]) {
			j++
		}
		if j > n {
			at, n = i, j
		}
	}
	return at, n
}
