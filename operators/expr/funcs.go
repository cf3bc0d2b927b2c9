package expr

import (
	"bytes"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sluicehq/sluice/internal/suggest"
	"github.com/sluicehq/sluice/runtime"
)

// function is an entry of the function registry.
type function struct {
	min, max int // argument counts; max < 0: any number from min
	compile  func(c *compiler, e *callExpr, args []*node) (*node, error)
}

// functions are the built-in functions by upper-case name; the funcs_*.go
// files add theirs in their init.
var functions = map[string]function{}

func init() {
	builtins := map[string]function{
		"UPPER":       {1, 1, recentStrFunc(strings.ToUpper)},
		"LOWER":       {1, 1, recentStrFunc(strings.ToLower)},
		"TRIM":        {1, 1, strFunc(func(s string) string { return strings.Trim(s, " ") })},
		"CHAR_LENGTH": {1, 1, charLength},
		"CONCAT":      {1, -1, concat},
		"SUBSTRING":   {2, 3, substring},
		"ABS":         {1, 1, abs},
		"FLOOR":       {1, 2, floorCeil(math.Floor)},
		"CEIL":        {1, 2, floorCeil(math.Ceil)},
		"ROUND":       {1, 2, round},
		"MOD": {2, 2, func(c *compiler, e *callExpr, a []*node) (*node, error) {
			return c.arith(OpMod, a[0], a[1], e, "MOD")
		}},
		"COALESCE": {1, -1, func(c *compiler, e *callExpr, a []*node) (*node, error) {
			return c.coalesce(a, e)
		}},
		"IF": {3, 3, func(c *compiler, e *callExpr, a []*node) (*node, error) {
			if !isBool(a[0]) {
				return nil, errorf(e, "IF condition is %s, not BOOLEAN", a[0].typ)
			}
			return c.choose([]*node{c.coerce(a[0], runtime.Boolean)}, a[1:2], a[2], e, "IF branches")
		}},
	}
	for name, f := range builtins {
		functions[name] = f
	}
}

func (c *compiler) call(e *callExpr) (*node, error) {
	f, ok := functions[e.name]
	if !ok {
		if u := lookupUDF(e.name); u != nil {
			f = function{len(u.Params), len(u.Params), u.compile}
			ok = true
		}
	}
	if !ok {
		hint := ""
		if n := suggest.Nearest(e.name, FunctionNames()); n != "" {
			hint = " (did you mean " + n + "?)"
		}
		return nil, errorf(e, "unknown function %s%s", e.name, hint)
	}
	if n := len(e.args); n < f.min || f.max >= 0 && n > f.max {
		var want string
		switch {
		case f.max < 0:
			want = "at least " + strconv.Itoa(f.min)
		case f.min == f.max:
			want = strconv.Itoa(f.min)
		default:
			want = strconv.Itoa(f.min) + " to " + strconv.Itoa(f.max)
		}
		plural := "s"
		if f.max == 1 || f.max < 0 && f.min == 1 {
			plural = ""
		}
		return nil, errorf(e, "%s takes %s argument%s, got %d", e.name, want, plural, n)
	}
	args := make([]*node, len(e.args))
	for i, a := range e.args {
		n, err := c.compile(a)
		if err != nil {
			return nil, err
		}
		args[i] = n
	}
	return f.compile(c, e, args)
}

// IsFunction reports whether name (case-insensitive) is a scalar function
// Compile knows: a built-in or a function registered with RegisterFunction.
func IsFunction(name string) bool {
	name = strings.ToUpper(name)
	if _, ok := functions[name]; ok {
		return true
	}
	return lookupUDF(name) != nil
}

// FunctionNames lists the scalar functions Compile knows, built-in and
// registered, in upper case and sorted (for "did you mean" hints).
func FunctionNames() []string {
	names := make([]string, 0, len(functions))
	for n := range functions {
		names = append(names, n)
	}
	udfMu.RLock()
	for n := range udfs {
		names = append(names, n)
	}
	udfMu.RUnlock()
	sort.Strings(names)
	return names
}

// wantArg checks that args[i] has a type accepted by ok, naming what in the
// error; a NULL constant is accepted.
func wantArg(e *callExpr, args []*node, i int, what string, ok func(runtime.Type) bool) error {
	if isNullConst(args[i]) || ok(args[i].typ) {
		return nil
	}
	return errorf(e, "%s's %s argument is %s, not %s", e.name, ordinal(i+1), args[i].typ, what)
}

// ordinal spells n as 1st, 2nd, 3rd, 4th, ….
func ordinal(n int) string {
	suffix := "th"
	switch {
	case n%100 >= 11 && n%100 <= 13:
	case n%10 == 1:
		suffix = "st"
	case n%10 == 2:
		suffix = "nd"
	case n%10 == 3:
		suffix = "rd"
	}
	return strconv.Itoa(n) + suffix
}

func isVarchar(t runtime.Type) bool { return t == runtime.Varchar }

// anyNullConst returns a NULL constant of type t when one of args is a NULL
// constant (a NULL argument makes these functions NULL).
func anyNullConst(t runtime.Type, args []*node) *node {
	for _, a := range args {
		if isNullConst(a) {
			return constNode(runtime.NullValue(t))
		}
	}
	return nil
}

// strFunc is a VARCHAR → VARCHAR function applied row by row.
func strFunc(f func(string) string) func(*compiler, *callExpr, []*node) (*node, error) {
	return func(c *compiler, e *callExpr, args []*node) (*node, error) {
		if err := wantArg(e, args, 0, "VARCHAR", isVarchar); err != nil {
			return nil, err
		}
		if n := anyNullConst(runtime.Varchar, args); n != nil {
			return n, nil
		}
		x := args[0]
		n := &node{typ: runtime.Varchar, nullable: x.nullable, col: -1}
		n.eval = convert(runtime.Varchar, x, str, str, func(s string) (string, bool) { return f(s), true })
		return fold(n, x), nil
	}
}

// recentStrFunc is strFunc for an f that allocates its result (UPPER,
// LOWER): each call site keeps its recent results, so that a column of few
// distinct values (a channel, a state) is mapped without allocating per
// row.
func recentStrFunc(f func(string) string) func(*compiler, *callExpr, []*node) (*node, error) {
	return func(c *compiler, e *callExpr, args []*node) (*node, error) {
		var r recent
		return strFunc(func(s string) string { return r.get(s, f) })(c, e, args)
	}
}

// recent remembers the last results of a function of strings that
// changed them, one in each of its slots, chosen by the string's length
// and end bytes.
type recent [16]struct {
	in, out string
	set     bool
}

func (r *recent) get(s string, f func(string) string) string {
	k := len(s)
	if k > 0 {
		k = k*7 + int(s[0]) + int(s[k-1])*3
	}
	slot := &r[k&(len(r)-1)]
	if slot.set && slot.in == s {
		return slot.out
	}
	out := f(s)
	if out != s { // a string f leaves as it is costs no allocation: keep the slot
		slot.in, slot.out, slot.set = s, out, true
	}
	return out
}

func charLength(c *compiler, e *callExpr, args []*node) (*node, error) {
	if err := wantArg(e, args, 0, "VARCHAR", isVarchar); err != nil {
		return nil, err
	}
	if n := anyNullConst(runtime.Int, args); n != nil {
		return n, nil
	}
	x := args[0]
	n := &node{typ: runtime.Int, nullable: x.nullable, col: -1}
	n.eval = convert(runtime.Int, x, str, i64, func(s string) (int64, bool) {
		return int64(utf8.RuneCountInString(s)), true
	})
	return fold(n, x), nil
}

// concat compiles CONCAT: its arguments as VARCHAR, NULL if any is NULL.
func concat(c *compiler, e *callExpr, args []*node) (*node, error) {
	if n := anyNullConst(runtime.Varchar, args); n != nil {
		return n, nil
	}
	n := &node{typ: runtime.Varchar, col: -1}
	for i, a := range args {
		s, err := c.cast(a, runtime.Varchar, e)
		if err != nil {
			return nil, err
		}
		args[i] = s
		n.nullable = n.nullable || s.nullable
	}
	vs := make([]vec, len(args))
	parts := make([]*runtime.Vector, len(args))
	var buf []byte
	n.eval = func(b *runtime.Batch, dst *vec) *runtime.Vector {
		nn := b.Len()
		out := dst.reset(runtime.Varchar, nn)
		for k, a := range args {
			parts[k] = a.eval(b, &vs[k])
		}
		for i := range out.Str[:nn] {
			buf = buf[:0]
			null := false
			for _, p := range parts {
				if p.Null != nil && p.Null[i] {
					null = true
					break
				}
				buf = append(buf, p.Str[i]...)
			}
			if null {
				out.Str[i] = ""
				dst.nulls(nn)[i] = true
				continue
			}
			out.Str[i] = string(buf)
		}
		return out
	}
	return fold(n, args...), nil
}

// substring compiles SUBSTRING(s, start[, length]) with Flink's rules.
func substring(c *compiler, e *callExpr, args []*node) (*node, error) {
	if err := wantArg(e, args, 0, "VARCHAR", isVarchar); err != nil {
		return nil, err
	}
	for i := 1; i < len(args); i++ {
		if err := wantArg(e, args, i, "INT or BIGINT", intLike); err != nil {
			return nil, err
		}
	}
	if n := anyNullConst(runtime.Varchar, args); n != nil {
		return n, nil
	}
	// NULL also for a negative length.
	n := &node{typ: runtime.Varchar, nullable: true, col: -1}
	if len(args) == 2 {
		n.nullable = args[0].nullable || args[1].nullable
	}
	vs := make([]vec, len(args))
	n.eval = func(b *runtime.Batch, dst *vec) *runtime.Vector {
		nn := b.Len()
		s, start := args[0].eval(b, &vs[0]), args[1].eval(b, &vs[1])
		var length *runtime.Vector
		if len(args) == 3 {
			length = args[2].eval(b, &vs[2])
		}
		out := dst.reset(runtime.Varchar, nn)
		for i := range out.Str[:nn] {
			null := s.IsNull(i) || start.IsNull(i)
			l := int64(math.MaxInt64)
			if length != nil {
				null = null || length.IsNull(i)
				l = length.I64[i]
			}
			var r string
			if !null {
				r, null = substr(s.Str[i], start.I64[i], l)
			}
			out.Str[i] = r
			if null {
				dst.nulls(nn)[i] = true
			}
		}
		return out
	}
	return fold(n, args...), nil
}

// substr returns the characters of s from 1-based position pos, at most
// length of them; a position of 0 means 1 and a negative one counts from
// the end. It reports true (NULL) for a negative length.
func substr(s string, pos, length int64) (string, bool) {
	if length < 0 {
		return "", true
	}
	chars := int64(utf8.RuneCountInString(s))
	var start int64
	switch {
	case pos > 0:
		start = pos - 1
		if start >= chars {
			return "", false
		}
	case pos < 0:
		start = chars + pos
		if start < 0 {
			return "", false
		}
	}
	end := chars
	if chars-start > length {
		end = start + length
	}
	if chars == int64(len(s)) { // ASCII
		return s[start:end], false
	}
	var from, to int
	k := int64(0)
	for i := range s {
		if k == start {
			from = i
		}
		if k == end {
			to = i
			return s[from:to], false
		}
		k++
	}
	if k == start {
		from = len(s)
	}
	return s[from:], false
}

func abs(c *compiler, e *callExpr, args []*node) (*node, error) {
	x := args[0]
	if err := wantArg(e, args, 0, "numeric", runtime.Type.Numeric); err != nil {
		return nil, err
	}
	if isNullConst(x) {
		return x, nil
	}
	n := &node{typ: x.typ, nullable: x.nullable, col: -1}
	if x.typ == runtime.Double {
		n.eval = convert(x.typ, x, f64, f64, func(v float64) (float64, bool) { return math.Abs(v), true })
	} else {
		n.faults = c.f
		n.eval = negEvalInt(x, x.typ, true, c.f, e.String())
	}
	return fold(n, x), nil
}

func floorCeil(f func(float64) float64) func(*compiler, *callExpr, []*node) (*node, error) {
	return func(c *compiler, e *callExpr, args []*node) (*node, error) {
		x := args[0]
		if len(args) == 2 || x.typ == runtime.Timestamp {
			return floorCeilTime(e, args, f(0.5) == 0)
		}
		if err := wantArg(e, args, 0, "numeric", runtime.Type.Numeric); err != nil {
			return nil, err
		}
		if x.typ != runtime.Double { // integers are whole already
			return x, nil
		}
		n := &node{typ: x.typ, nullable: x.nullable, col: -1}
		n.eval = convert(x.typ, x, f64, f64, func(v float64) (float64, bool) { return f(v), true })
		return fold(n, x), nil
	}
}

// round compiles ROUND(x[, digits]).
func round(c *compiler, e *callExpr, args []*node) (*node, error) {
	if err := wantArg(e, args, 0, "numeric", runtime.Type.Numeric); err != nil {
		return nil, err
	}
	if len(args) == 1 {
		args = append(args, constNode(runtime.IntValue(0)))
	} else if err := wantArg(e, args, 1, "INT or BIGINT", intLike); err != nil {
		return nil, err
	}
	x := args[0]
	if n := anyNullConst(x.typ, args); n != nil {
		return n, nil
	}
	n := &node{typ: x.typ, nullable: x.nullable || args[1].nullable, col: -1}
	var xs, ds vec
	var buf []byte
	text := e.String()
	n.eval = func(b *runtime.Batch, dst *vec) *runtime.Vector {
		nn := b.Len()
		a, d := x.eval(b, &xs), args[1].eval(b, &ds)
		out := dst.reset(n.typ, nn)
		dst.setNulls(nn, a.Null, d.Null)
		digits := d.I64[:nn]
		if n.typ == runtime.Double {
			o := out.F64[:nn]
			for i, v := range a.F64[:nn] {
				o[i], buf = roundFloat(v, digits[i], buf)
			}
		} else {
			o := out.I64[:nn]
			over := false
			for i, v := range a.I64[:nn] {
				var ok bool
				o[i], ok = roundInt(v, digits[i])
				over = over || !ok
			}
			if over {
				av := a.I64[:nn]
				c.f.record(b, out, nn, text, func(i int) bool { _, ok := roundInt(av[i], digits[i]); return !ok })
			}
		}
		return out
	}
	if n.typ != runtime.Double {
		n.faults = c.f
	}
	return fold(n, args...), nil
}

// roundInt rounds x to a multiple of 10^-d, half away from zero (x itself
// when d >= 0); ok is false when the result does not fit in 64 bits.
func roundInt(x, d int64) (_ int64, ok bool) {
	if d >= 0 {
		return x, true
	}
	if d < -19 {
		return 0, true
	}
	if d == -19 { // to a multiple of 10^19: 0, or out of range
		return 0, x > -5e18 && x < 5e18
	}
	p := int64(1)
	for range -d {
		p *= 10
	}
	q, r := x/p, x%p
	if r < 0 {
		r = -r
	}
	if 2*r >= p {
		if x < 0 {
			q--
		} else {
			q++
		}
	}
	return q * p, !mulOverflows(q, p)
}

// roundFloat rounds x to d decimal places, half away from zero, on the
// shortest decimal that reads back as x (as Flink rounds through
// BigDecimal): ROUND(2.675, 2) is 2.68 although the nearest double to 2.675
// is a little below it. buf is scratch, returned for reuse.
func roundFloat(x float64, d int64, buf []byte) (float64, []byte) {
	if math.IsNaN(x) || math.IsInf(x, 0) || x == 0 || d > 400 {
		return x, buf
	}
	if d < -400 {
		return math.Copysign(0, x), buf
	}
	// x = 0.D1D2...Dk × 10^point
	buf = strconv.AppendFloat(buf[:0], math.Abs(x), 'e', -1, 64)
	ePos := bytes.IndexByte(buf, 'e')
	exp := 0
	for _, c := range buf[ePos+2:] {
		exp = exp*10 + int(c-'0')
	}
	if buf[ePos+1] == '-' {
		exp = -exp
	}
	var dbuf [24]byte
	digits := append(dbuf[:0], buf[0])
	if ePos > 1 {
		digits = append(digits, buf[2:ePos]...)
	}
	point := int64(exp + 1)
	keep := point + d // digits kept
	if keep >= int64(len(digits)) {
		return x, buf
	}
	if keep < 0 {
		return math.Copysign(0, x), buf
	}
	var m uint64
	for _, c := range digits[:keep] {
		m = m*10 + uint64(c-'0')
	}
	if digits[keep] >= '5' {
		m++
	}
	// m × 10^e, in one correctly rounded operation on exact operands when
	// they are small enough, else by the parser.
	var r float64
	switch e := point - keep; {
	case m < 1<<53 && e >= 0 && e < int64(len(pow10)):
		r = float64(m) * pow10[e]
	case m < 1<<53 && e < 0 && -e < int64(len(pow10)):
		r = float64(m) / pow10[-e]
	default:
		buf = strconv.AppendUint(buf[:0], m, 10)
		buf = append(buf, 'e')
		buf = strconv.AppendInt(buf, e, 10)
		r, _ = strconv.ParseFloat(string(buf), 64)
	}
	return math.Copysign(r, x), buf
}

// pow10 holds the powers of ten a float64 represents exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}
