package expr

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sluicehq/sluice/runtime"
)

// maxStringBytes bounds the strings REPEAT, LPAD and RPAD build: a longer
// result is NULL rather than exhausting memory.
const maxStringBytes = 16 << 20

func init() {
	for name, f := range map[string]function{
		"REGEXP_EXTRACT": {2, 3, regexpExtract},
		"REGEXP_REPLACE": {3, 3, regexpReplace},
		"REGEXP":         {2, 2, regexpMatch},
		"SPLIT_INDEX":    {3, 3, splitIndex},
		"REPLACE": {3, 3, strArgs("sss", false, func(p []*runtime.Vector, i int) (string, bool) {
			return strings.ReplaceAll(p[0].Str[i], p[1].Str[i], p[2].Str[i]), true
		})},
		"POSITION": {2, 2, locate},
		"LOCATE":   {2, 3, locate},
		"LPAD":     {3, 3, pad(true)},
		"RPAD":     {3, 3, pad(false)},
		"LTRIM":    {1, 1, strFunc(func(s string) string { return strings.TrimLeft(s, " ") })},
		"RTRIM":    {1, 1, strFunc(func(s string) string { return strings.TrimRight(s, " ") })},
		"INITCAP":  {1, 1, strFunc(initcap)},
		"REVERSE":  {1, 1, strFunc(reverse)},
		"REPEAT":   {2, 2, strArgs("si", true, repeat)},
		"LEFT": {2, 2, strArgs("si", false, func(p []*runtime.Vector, i int) (string, bool) {
			return leftRight(p[0].Str[i], p[1].I64[i], true), true
		})},
		"RIGHT": {2, 2, strArgs("si", false, func(p []*runtime.Vector, i int) (string, bool) {
			return leftRight(p[0].Str[i], p[1].I64[i], false), true
		})},
		"CONCAT_WS": {2, -1, concatWS},
		"MD5":       {1, 1, strFunc(func(s string) string { h := md5.Sum([]byte(s)); return hex.EncodeToString(h[:]) })},
		"SHA1":      {1, 1, strFunc(func(s string) string { h := sha1.Sum([]byte(s)); return hex.EncodeToString(h[:]) })},
		"SHA256":    {1, 1, strFunc(func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) })},
	} {
		functions[name] = f
	}
}

// strArgs compiles a VARCHAR function of arguments of kinds, NULL if any
// argument is NULL; f returns false for a NULL result (mayNull).
func strArgs(kinds string, mayNull bool, f func(p []*runtime.Vector, i int) (string, bool)) func(*compiler, *callExpr, []*node) (*node, error) {
	return func(c *compiler, e *callExpr, args []*node) (*node, error) {
		if err := checkArgs(e, args, kinds); err != nil {
			return nil, err
		}
		if n := anyNullConst(runtime.Varchar, args); n != nil {
			return n, nil
		}
		return rowKernel(runtime.Varchar, mayNull, args, func(p []*runtime.Vector, i int, out *runtime.Vector) bool {
			s, ok := f(p, i)
			out.Str[i] = s
			return ok
		}), nil
	}
}

// regexArg returns the regular expression of each row from argument a
// (Go's RE2 syntax): a constant compiled once (an invalid one is a
// compile error naming the function and the pattern), a column per
// distinct value, cached (an invalid one gives nil, a NULL result).
func regexArg(e *callExpr, a *node) (func(string) *pattern, error) {
	if p, ok := constString(a); ok {
		re, err := compilePattern(p)
		if err != nil {
			return nil, errorf(e, "%s: invalid regular expression '%s': %v", e.name, p, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
		}
		return func(string) *pattern { return re }, nil
	}
	cc := newCache(compilePattern)
	return func(s string) *pattern {
		re, err := cc.get(s)
		if err != nil {
			return nil
		}
		return re
	}, nil
}

// regexpExtract compiles REGEXP_EXTRACT(s, re[, group]): the group (0,
// the default, for the whole match) of re's first match in s; NULL when
// re does not match or has no such group.
func regexpExtract(c *compiler, e *callExpr, args []*node) (*node, error) {
	if err := checkArgs(e, args, "ssi"); err != nil {
		return nil, err
	}
	re, err := regexArg(e, args[1])
	if err != nil {
		return nil, err
	}
	if n := anyNullConst(runtime.Varchar, args); n != nil {
		return n, nil
	}
	return rowKernel(runtime.Varchar, true, args, func(p []*runtime.Vector, i int, out *runtime.Vector) bool {
		r := re(p[1].Str[i])
		if r == nil {
			return false
		}
		g := int64(0)
		if len(p) == 3 {
			g = p[2].I64[i]
		}
		if g < 0 || g > int64(r.NumSubexp()) {
			return false
		}
		s := p[0].Str[i]
		start, end, ok := r.group(s, int(g))
		if !ok {
			return false
		}
		out.Str[i] = s[start:end]
		return true
	}), nil
}

// javaReplacement turns a replacement string of Java's replaceAll ($n is
// group n, the longest number not above the group count; \x is x) into
// one of Go's Expand (${n}, $$).
func javaReplacement(repl string, groups int) string {
	if !strings.ContainsAny(repl, `$\`) {
		return repl
	}
	var b strings.Builder
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		switch {
		case c == '\\' && i+1 < len(repl):
			i++
			if repl[i] == '$' {
				b.WriteString("$$")
			} else {
				b.WriteByte(repl[i])
			}
		case c == '$' && i+1 < len(repl) && repl[i+1] >= '0' && repl[i+1] <= '9':
			g := int(repl[i+1] - '0')
			i++
			for i+1 < len(repl) && repl[i+1] >= '0' && repl[i+1] <= '9' {
				ng := g*10 + int(repl[i+1]-'0')
				if ng > groups {
					break
				}
				g = ng
				i++
			}
			b.WriteString("${" + strconv.Itoa(g) + "}")
		case c == '$':
			b.WriteString("$$")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// regexpReplace compiles REGEXP_REPLACE(s, re, repl): every match of re
// in s replaced by repl, where $n stands for group n (Java's rules).
func regexpReplace(c *compiler, e *callExpr, args []*node) (*node, error) {
	if err := checkArgs(e, args, "sss"); err != nil {
		return nil, err
	}
	re, err := regexArg(e, args[1])
	if err != nil {
		return nil, err
	}
	if n := anyNullConst(runtime.Varchar, args); n != nil {
		return n, nil
	}
	constRepl, isConst := constString(args[2])
	var lastRe *pattern
	var lastRepl, lastTmpl string
	return rowKernel(runtime.Varchar, true, args, func(p []*runtime.Vector, i int, out *runtime.Vector) bool {
		r := re(p[1].Str[i])
		if r == nil {
			return false
		}
		repl := p[2].Str[i]
		if isConst {
			repl = constRepl
		}
		if r != lastRe || repl != lastRepl {
			lastRe, lastRepl, lastTmpl = r, repl, javaReplacement(repl, r.NumSubexp())
		}
		out.Str[i] = r.ReplaceAllString(p[0].Str[i], lastTmpl)
		return true
	}), nil
}

// regexpMatch compiles REGEXP(s, re): TRUE when some part of s matches re.
func regexpMatch(c *compiler, e *callExpr, args []*node) (*node, error) {
	if err := checkArgs(e, args, "ss"); err != nil {
		return nil, err
	}
	re, err := regexArg(e, args[1])
	if err != nil {
		return nil, err
	}
	if n := anyNullConst(runtime.Boolean, args); n != nil {
		return n, nil
	}
	_, isConst := constString(args[1])
	return rowKernel(runtime.Boolean, !isConst, args, func(p []*runtime.Vector, i int, out *runtime.Vector) bool {
		r := re(p[1].Str[i])
		if r == nil {
			return false
		}
		out.I64[i] = b2i(r.match(p[0].Str[i]))
		return true
	}), nil
}

// splitIndex compiles SPLIT_INDEX(s, sep, i): the i-th (from 0) piece of s
// split at every sep; NULL when there is none. An empty s has no pieces;
// an empty sep splits at whitespace.
func splitIndex(c *compiler, e *callExpr, args []*node) (*node, error) {
	return strArgs("ssi", true, func(p []*runtime.Vector, i int) (string, bool) {
		s, sep, k := p[0].Str[i], p[1].Str[i], p[2].I64[i]
		if k < 0 || s == "" {
			return "", false
		}
		if sep == "" {
			return nthField(s, k, func(s string) (int, int) {
				j := strings.IndexFunc(s, unicode.IsSpace)
				if j < 0 {
					return -1, 0
				}
				_, w := utf8.DecodeRuneInString(s[j:])
				return j, w
			})
		}
		return nthField(s, k, func(s string) (int, int) { return strings.Index(s, sep), len(sep) })
	})(c, e, args)
}

// nthField returns piece k of s cut where next finds a separator (its
// offset and length, -1 for none).
func nthField(s string, k int64, next func(string) (int, int)) (string, bool) {
	for ; k > 0; k-- {
		j, w := next(s)
		if j < 0 {
			return "", false
		}
		s = s[j+w:]
	}
	if j, _ := next(s); j >= 0 {
		return s[:j], true
	}
	return s, true
}

// locate compiles POSITION(needle, hay) and LOCATE(needle, hay[, from]):
// the 1-based character position of needle's first occurrence in hay (at
// or after from), 0 when there is none or from < 1.
func locate(c *compiler, e *callExpr, args []*node) (*node, error) {
	if err := checkArgs(e, args, "ssi"); err != nil {
		return nil, err
	}
	if n := anyNullConst(runtime.Int, args); n != nil {
		return n, nil
	}
	return rowKernel(runtime.Int, false, args, func(p []*runtime.Vector, i int, out *runtime.Vector) bool {
		needle, hay := p[0].Str[i], p[1].Str[i]
		from := int64(1)
		if len(p) == 3 {
			from = p[2].I64[i]
		}
		out.I64[i] = locateFrom(needle, hay, from)
		return true
	}), nil
}

func locateFrom(needle, hay string, from int64) int64 {
	if from < 1 {
		return 0
	}
	// Skip from-1 characters.
	off := 0
	for k := int64(1); k < from; k++ {
		if off >= len(hay) {
			return 0
		}
		_, w := utf8.DecodeRuneInString(hay[off:])
		off += w
	}
	j := strings.Index(hay[off:], needle)
	if j < 0 {
		return 0
	}
	return from + int64(utf8.RuneCountInString(hay[off:off+j]))
}

// pad compiles LPAD and RPAD(s, len, pad): s padded with pad (repeated)
// on the left or right to len characters, or cut to its first len
// characters; NULL when len is negative or pad empty, as Flink.
func pad(left bool) func(*compiler, *callExpr, []*node) (*node, error) {
	return strArgs("sis", true, func(p []*runtime.Vector, i int) (string, bool) {
		s, n, pd := p[0].Str[i], p[1].I64[i], p[2].Str[i]
		if n < 0 || pd == "" {
			return "", false
		}
		chars := int64(utf8.RuneCountInString(s))
		if n <= chars {
			r, _ := substr(s, 1, n)
			return r, true
		}
		if n > maxStringBytes {
			return "", false
		}
		need := n - chars
		var b strings.Builder
		fill := func() {
			for k := int64(0); k < need; {
				for _, r := range pd {
					if k == need {
						break
					}
					b.WriteRune(r)
					k++
				}
			}
		}
		if left {
			fill()
			b.WriteString(s)
		} else {
			b.WriteString(s)
			fill()
		}
		if b.Len() > maxStringBytes {
			return "", false
		}
		return b.String(), true
	})
}

// initcap upper-cases the first letter of every word (a run of letters
// and digits) and lower-cases the others.
func initcap(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	inWord := false
	for _, r := range s {
		word := unicode.IsLetter(r) || unicode.IsDigit(r)
		switch {
		case word && !inWord:
			b.WriteRune(unicode.ToUpper(r))
		case word:
			b.WriteRune(unicode.ToLower(r))
		default:
			b.WriteRune(r)
		}
		inWord = word
	}
	return b.String()
}

func reverse(s string) string {
	b := make([]byte, 0, len(s))
	for len(s) > 0 {
		_, w := utf8.DecodeLastRuneInString(s)
		b = append(b, s[len(s)-w:]...)
		s = s[:len(s)-w]
	}
	return string(b)
}

// repeat is REPEAT(s, n): s n times, empty for n <= 0.
func repeat(p []*runtime.Vector, i int) (string, bool) {
	s, n := p[0].Str[i], p[1].I64[i]
	if n <= 0 || s == "" {
		return "", true
	}
	if n > maxStringBytes/int64(len(s)) {
		return "", false
	}
	return strings.Repeat(s, int(n)), true
}

// leftRight is LEFT or RIGHT(s, n): the first or last n characters of s,
// empty for n < 0.
func leftRight(s string, n int64, left bool) string {
	if n <= 0 {
		return ""
	}
	if left {
		r, _ := substr(s, 1, n)
		return r
	}
	chars := int64(utf8.RuneCountInString(s))
	if n >= chars {
		return s
	}
	r, _ := substr(s, chars-n+1, n)
	return r
}

// concatWS compiles CONCAT_WS(sep, a, ...): the arguments (as VARCHAR)
// that are not NULL joined by sep; NULL only when sep is.
func concatWS(c *compiler, e *callExpr, args []*node) (*node, error) {
	for i, a := range args {
		s, err := c.cast(a, runtime.Varchar, e)
		if err != nil {
			return nil, err
		}
		args[i] = s
	}
	if isNullConst(args[0]) {
		return constNode(runtime.NullValue(runtime.Varchar)), nil
	}
	n := &node{typ: runtime.Varchar, nullable: args[0].nullable, col: -1}
	vs := make([]vec, len(args))
	parts := make([]*runtime.Vector, len(args))
	var buf []byte
	n.eval = func(b *runtime.Batch, dst *vec) *runtime.Vector {
		nn := b.Len()
		out := dst.reset(runtime.Varchar, nn)
		for k, a := range args {
			parts[k] = a.eval(b, &vs[k])
		}
		sep := parts[0]
		for i := range out.Str[:nn] {
			if sep.Null != nil && sep.Null[i] {
				out.Str[i] = ""
				dst.nulls(nn)[i] = true
				continue
			}
			buf = buf[:0]
			first := true
			for _, p := range parts[1:] {
				if p.Null != nil && p.Null[i] {
					continue
				}
				if !first {
					buf = append(buf, sep.Str[i]...)
				}
				first = false
				buf = append(buf, p.Str[i]...)
			}
			out.Str[i] = string(buf)
		}
		return out
	}
	return fold(n, args...), nil
}
