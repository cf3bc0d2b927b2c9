package expr

import (
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"
)

// pattern is a compiled regular expression of the REGEXP functions: Go's
// regexp, and for the patterns of one simple shape a hand matcher that
// finds the same first match without the regexp engine (see
// simpleRegex).
type pattern struct {
	*regexp.Regexp
	fast *simpleRegex
}

func compilePattern(p string) (*pattern, error) {
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, err
	}
	return &pattern{Regexp: re, fast: newSimpleRegex(p)}, nil
}

// group returns where group g (0: the whole match) of the first match of
// the pattern in s is, ok false when there is no match or g took no part
// in it; g is at most NumSubexp.
func (p *pattern) group(s string, g int) (start, end int, ok bool) {
	if p.fast != nil {
		return p.fast.group(s, g)
	}
	m := p.FindStringSubmatchIndex(s)
	if m == nil || m[2*g] < 0 {
		return 0, 0, false
	}
	return m[2*g], m[2*g+1], true
}

// match tells whether some part of s matches the pattern.
func (p *pattern) match(s string) bool {
	if p.fast != nil {
		_, _, ok := p.fast.group(s, 0)
		return ok
	}
	return p.MatchString(s)
}

// simpleRegex matches the regular expressions made of, in order:
//
//   - optionally a lead: ^, a literal, an ASCII character class, or an
//     alternation of these (`&|^`), captured or not;
//   - a literal of one or more characters (not case-folded);
//   - optionally a tail: a greedy x* or x+ of one character class (or .),
//     captured or not, ending the expression;
//
// as Nexmark q21's `(&|^)channel_id=([^&]*)`. Such an expression's first
// match (leftmost, the first alternative that matches there) is found by
// trying each start in turn: the lead's alternatives in their order, then
// the literal, then the longest run of the tail's characters. The result
// is that of regexp's FindStringSubmatchIndex, also over invalid UTF-8
// (each bad byte is U+FFFD, as regexp reads it), which
// TestSimpleRegexMatchesLikeRegexp checks with random patterns and inputs.
type simpleRegex struct {
	alts     []leadAlt // none: no lead
	hasBegin bool      // some alternative is ^
	leadCap  int       // the lead's group, 0 if not captured
	lit      string
	tail     []rune // the tail's class (ranges lo, hi); nil: no tail
	tailMin  int    // 0 for *, 1 for +
	tailCap  int
	groups   int
	first    [256]bool // the bytes a match can start with (but at 0: ^)
	oneFirst int       // the only such byte, or -1
}

// leadAlt is one alternative of the lead: ^ (begin), a literal (lit), or
// one ASCII character of class.
type leadAlt struct {
	begin bool
	lit   string
	class []rune
}

// newSimpleRegex returns the hand matcher of expression p (Go's syntax,
// as regexp.Compile reads it), or nil when p is not of its shape.
func newSimpleRegex(p string) *simpleRegex {
	re, err := syntax.Parse(p, syntax.Perl)
	if err != nil {
		return nil
	}
	parts := []*syntax.Regexp{re}
	if re.Op == syntax.OpConcat {
		parts = re.Sub
	}
	m := &simpleRegex{groups: re.MaxCap(), oneFirst: -1}
	// The literal is the first part that is a literal after at most one
	// lead part.
	i := 0
	if len(parts) > 1 && !isPlainLiteral(parts[0]) {
		if !m.setLead(parts[0]) {
			return nil
		}
		i = 1
	}
	if i >= len(parts) || !isPlainLiteral(parts[i]) {
		return nil
	}
	m.lit = string(parts[i].Rune)
	i++
	if i < len(parts) {
		if i != len(parts)-1 || !m.setTail(parts[i]) {
			return nil
		}
	}
	if len(m.alts) == 0 {
		m.alts = []leadAlt{{}}
	}
	for _, a := range m.alts {
		switch {
		case a.begin:
			m.hasBegin = true
		case a.class != nil:
			for k := 0; k < len(a.class); k += 2 {
				for c := a.class[k]; c <= a.class[k+1]; c++ {
					m.first[c] = true
				}
			}
		case a.lit != "":
			m.first[a.lit[0]] = true
		default:
			m.first[m.lit[0]] = true
		}
	}
	for c, ok := range m.first {
		if !ok {
			continue
		}
		if m.oneFirst >= 0 {
			m.oneFirst = -2
			break
		}
		m.oneFirst = c
	}
	if m.oneFirst == -2 {
		m.oneFirst = -1
	}
	return m
}

// isPlainLiteral tells a literal matched exactly, of valid runes other
// than U+FFFD (which regexp also matches on an invalid byte).
func isPlainLiteral(r *syntax.Regexp) bool {
	if r.Op != syntax.OpLiteral || r.Flags&syntax.FoldCase != 0 || len(r.Rune) == 0 {
		return false
	}
	for _, c := range r.Rune {
		if c == utf8.RuneError || !utf8.ValidRune(c) {
			return false
		}
	}
	return true
}

func (m *simpleRegex) setLead(r *syntax.Regexp) bool {
	if r.Op == syntax.OpCapture {
		m.leadCap = r.Cap
		r = r.Sub[0]
	}
	alts := []*syntax.Regexp{r}
	if r.Op == syntax.OpAlternate {
		alts = r.Sub
	}
	for _, a := range alts {
		switch {
		case a.Op == syntax.OpBeginText:
			m.alts = append(m.alts, leadAlt{begin: true})
		case isPlainLiteral(a):
			m.alts = append(m.alts, leadAlt{lit: string(a.Rune)})
		case a.Op == syntax.OpCharClass && isASCIIClass(a.Rune):
			m.alts = append(m.alts, leadAlt{class: a.Rune})
		default:
			return false
		}
	}
	return true
}

func isASCIIClass(class []rune) bool {
	if len(class) == 0 {
		return false
	}
	for _, c := range class {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func (m *simpleRegex) setTail(r *syntax.Regexp) bool {
	if r.Op == syntax.OpCapture {
		m.tailCap = r.Cap
		r = r.Sub[0]
	}
	switch {
	case r.Op == syntax.OpStar:
	case r.Op == syntax.OpPlus:
		m.tailMin = 1
	default:
		return false
	}
	if r.Flags&syntax.NonGreedy != 0 {
		return false
	}
	switch x := r.Sub[0]; x.Op {
	case syntax.OpCharClass:
		if len(x.Rune) == 0 {
			return false
		}
		m.tail = x.Rune
	case syntax.OpAnyChar:
		m.tail = []rune{0, utf8.MaxRune}
	case syntax.OpAnyCharNotNL:
		m.tail = []rune{0, '\n' - 1, '\n' + 1, utf8.MaxRune}
	default:
		return false
	}
	return true
}

func inClass(class []rune, c rune) bool {
	for k := 0; k < len(class); k += 2 {
		if c < class[k] {
			return false
		}
		if c <= class[k+1] {
			return true
		}
	}
	return false
}

// group is pattern.group for the expressions of simpleRegex's shape.
func (m *simpleRegex) group(s string, g int) (start, end int, ok bool) {
	for p := 0; p < len(s); p++ {
		if p > 0 || !m.hasBegin {
			if m.oneFirst >= 0 {
				k := strings.IndexByte(s[p:], byte(m.oneFirst))
				if k < 0 {
					return 0, 0, false
				}
				p += k
			} else if !m.first[s[p]] {
				continue
			}
		}
		for _, a := range m.alts {
			q := p
			switch {
			case a.begin:
				if p != 0 {
					continue
				}
			case a.class != nil:
				if !inClass(a.class, rune(s[p])) {
					continue
				}
				q++
			default:
				if !strings.HasPrefix(s[p:], a.lit) {
					continue
				}
				q += len(a.lit)
			}
			if !strings.HasPrefix(s[q:], m.lit) {
				continue
			}
			r := q + len(m.lit)
			e := r
			if m.tail != nil {
				n := 0
				for e < len(s) {
					c, w := rune(s[e]), 1
					if c >= utf8.RuneSelf {
						c, w = utf8.DecodeRuneInString(s[e:])
					}
					if !inClass(m.tail, c) {
						break
					}
					e += w
					n++
				}
				if n < m.tailMin {
					continue
				}
			}
			switch {
			case g == 0:
				return p, e, true
			case g == m.leadCap:
				return p, q, true
			case g == m.tailCap:
				return r, e, true
			}
			return 0, 0, false
		}
	}
	return 0, 0, false
}
