package expr

import (
	"strings"
	"unicode/utf8"

	"github.com/sluicehq/sluice/runtime"
)

// like compiles x LIKE pattern.
func (c *compiler) like(e *likeExpr) (*node, error) {
	x, err := c.compile(e.x)
	if err != nil {
		return nil, err
	}
	p, err := c.compile(e.pattern)
	if err != nil {
		return nil, err
	}
	isStr := func(n *node) bool { return n.typ == runtime.Varchar || isNullConst(n) }
	if !isStr(x) || !isStr(p) {
		return nil, errorf(e, "cannot apply LIKE to %s and %s", x.typ, p.typ)
	}
	if isNullConst(x) || isNullConst(p) {
		return constNode(runtime.NullValue(runtime.Boolean)), nil
	}
	n := &node{typ: runtime.Boolean, nullable: x.nullable || p.nullable, col: -1}
	var xs, ps vec
	if p.konst != nil {
		m := compileLike(p.konst.S)
		n.eval = func(b *runtime.Batch, dst *vec) *runtime.Vector {
			nn := b.Len()
			a := x.eval(b, &xs)
			out := dst.reset(runtime.Boolean, nn)
			o := out.I64[:nn]
			for i, s := range a.Str[:nn] {
				o[i] = b2i(m.match(s))
			}
			dst.setNulls(nn, a.Null, nil)
			return out
		}
		return fold(n, x), nil
	}
	// A pattern computed per row: recompile only when it changes.
	var last *likePattern
	n.eval = func(b *runtime.Batch, dst *vec) *runtime.Vector {
		nn := b.Len()
		a, pv := x.eval(b, &xs), p.eval(b, &ps)
		out := dst.reset(runtime.Boolean, nn)
		o := out.I64[:nn]
		pats := pv.Str[:nn]
		for i, s := range a.Str[:nn] {
			if last == nil || last.src != pats[i] {
				last = compileLike(pats[i])
			}
			o[i] = b2i(last.match(s))
		}
		dst.setNulls(nn, a.Null, pv.Null)
		return out
	}
	return fold(n, x, p), nil
}

type likeKind uint8

const (
	likeGeneral  likeKind = iota
	likeExact             // no wildcard
	likeAny               // only %
	likePrefix            // lit%
	likeSuffix            // %lit
	likeContains          // %lit%
)

// likePattern is a compiled LIKE pattern. A string is a sequence of
// characters as utf8.DecodeRuneInString splits it (a byte of invalid UTF-8
// is a character of its own); % matches any run of characters, _ exactly
// one, and any other pattern character a character with the same bytes.
type likePattern struct {
	src  string
	kind likeKind
	lit  string
	// General patterns: the pattern split at %, empty runs dropped. A
	// pattern not starting (ending) with % anchors its first (last) segment
	// at the start (end) of the string.
	segs           []string
	percent        bool
	anchorStart    bool
	anchorEnd      bool
	literalSegment []bool // segment has no _ and is valid UTF-8: use strings.Index
}

func compileLike(p string) *likePattern {
	m := &likePattern{src: p}
	parts := strings.Split(p, "%")
	m.percent = len(parts) > 1
	valid := utf8.ValidString(p)
	if valid && !strings.Contains(p, "_") {
		first, last := parts[0], parts[len(parts)-1]
		switch {
		case len(parts) == 1:
			m.kind, m.lit = likeExact, p
			return m
		case strings.Trim(p, "%") == "":
			m.kind = likeAny
			return m
		case len(parts) == 2 && last == "":
			m.kind, m.lit = likePrefix, first
			return m
		case len(parts) == 2 && first == "":
			m.kind, m.lit = likeSuffix, last
			return m
		case len(parts) == 3 && first == "" && last == "":
			m.kind, m.lit = likeContains, parts[1]
			return m
		}
	}
	m.anchorStart = parts[0] != ""
	m.anchorEnd = parts[len(parts)-1] != ""
	for _, s := range parts {
		if s != "" {
			m.segs = append(m.segs, s)
			m.literalSegment = append(m.literalSegment, !strings.Contains(s, "_") && utf8.ValidString(s))
		}
	}
	return m
}

func (m *likePattern) match(s string) bool {
	switch m.kind {
	case likeExact:
		return s == m.lit
	case likeAny:
		return true
	case likePrefix:
		return strings.HasPrefix(s, m.lit)
	case likeSuffix:
		return strings.HasSuffix(s, m.lit)
	case likeContains:
		return strings.Contains(s, m.lit)
	}
	if !m.percent {
		end, ok := matchAt(s, 0, m.segs[0])
		return ok && end == len(s)
	}
	segs, pos := m.segs, 0
	lit := m.literalSegment
	if m.anchorStart {
		end, ok := matchAt(s, 0, segs[0])
		if !ok {
			return false
		}
		segs, lit, pos = segs[1:], lit[1:], end
	}
	var tail string
	if m.anchorEnd {
		tail, segs = segs[len(segs)-1], segs[:len(segs)-1]
	}
	// Each floating segment at its leftmost place: if the pattern matches
	// at all, it also matches with every segment as far left as it goes.
	for k, seg := range segs {
		found := false
		if lit[k] {
			if i := strings.Index(s[pos:], seg); i >= 0 {
				pos, found = pos+i+len(seg), true
			}
		} else {
			for start := pos; ; {
				if end, ok := matchAt(s, start, seg); ok {
					pos, found = end, true
					break
				}
				if start >= len(s) {
					break
				}
				_, w := utf8.DecodeRuneInString(s[start:])
				start += w
			}
		}
		if !found {
			return false
		}
	}
	if !m.anchorEnd {
		return true
	}
	// The tail covers exactly the last characters of s.
	start := len(s)
	for w := 0; w < len(tail); {
		if start <= pos {
			return false
		}
		_, pw := utf8.DecodeRuneInString(tail[w:])
		_, sw := utf8.DecodeLastRuneInString(s[:start])
		w += pw
		start -= sw
	}
	end, ok := matchAt(s, start, tail)
	return ok && end == len(s)
}

// matchAt matches seg (no %) against s from byte i and returns where the
// match ends.
func matchAt(s string, i int, seg string) (int, bool) {
	for j := 0; j < len(seg); {
		if i >= len(s) {
			return 0, false
		}
		_, sw := utf8.DecodeRuneInString(s[i:])
		if seg[j] == '_' {
			i, j = i+sw, j+1
			continue
		}
		_, pw := utf8.DecodeRuneInString(seg[j:])
		if pw != sw || s[i:i+sw] != seg[j:j+pw] {
			return 0, false
		}
		i, j = i+sw, j+pw
	}
	return i, true
}
