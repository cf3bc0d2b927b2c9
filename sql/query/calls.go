package query

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/sluicehq/sluice/sql/parser"
)

// IntervalMillis returns the length of an INTERVAL literal in
// milliseconds, with an error naming what is wrong with it.
func IntervalMillis(iv *parser.Interval) (int64, error) { return intervalMillis(iv) }

// Aggregate functions, window functions and window bounds are not scalar:
// the planner recognises them with AggregateCall, WindowCall and
// WindowBoundCall, and Query.Scalar rejects them where a scalar is needed
// (or, for a malformed call, says what is wrong with it).

var aggregates = map[string]bool{"COUNT": true, "SUM": true, "MIN": true, "MAX": true, "AVG": true,
	"FIRST_VALUE": true, "LAST_VALUE": true, "LISTAGG": true, "STDDEV_POP": true, "STDDEV_SAMP": true, "STDDEV": true,
	"VAR_POP": true, "VAR_SAMP": true, "VARIANCE": true, "BOOL_AND": true, "BOOL_OR": true}

var windowKinds = map[string]bool{"TUMBLE": true, "HOP": true, "SESSION": true}

// AggregateCall recognises a call of an aggregate function: fn is COUNT,
// SUM, MIN, MAX, AVG, FIRST_VALUE, LAST_VALUE, LISTAGG, STDDEV_POP,
// STDDEV_SAMP, STDDEV, VAR_POP, VAR_SAMP, VARIANCE, BOOL_AND or BOOL_OR
// (upper case) and arg its argument; star is true, and arg nil, for
// COUNT(*); distinct for COUNT(DISTINCT x) and the like. LISTAGG may have
// a second argument, a string literal (ListAggSeparator). ok is false for
// anything else, including a malformed call such as SUM(*) or SUM(a, b)
// and a call with OVER, which Query.Scalar reports. A FILTER (WHERE …)
// clause is AggregateFilter's.
func AggregateCall(e parser.Expr) (fn string, arg parser.Expr, distinct, star, ok bool) {
	f, isFunc := e.(*parser.Call)
	if !isFunc || f.Bare || f.Over != nil || f.OverName != "" {
		return "", nil, false, false, false
	}
	fn = strings.ToUpper(f.Name)
	if !aggregates[fn] {
		return "", nil, false, false, false
	}
	if f.Star {
		if fn != "COUNT" || f.Distinct || len(f.Args) != 0 {
			return "", nil, false, false, false
		}
		return fn, nil, false, true, true
	}
	if len(f.Args) != 1 && !(fn == "LISTAGG" && len(f.Args) == 2 && stringLiteral(f.Args[1]) != nil) {
		return "", nil, false, false, false
	}
	return fn, f.Args[0], f.Distinct, false, true
}

// AggregateFilter returns the condition of FILTER (WHERE cond) of an
// aggregate call, or nil.
func AggregateFilter(e parser.Expr) parser.Expr {
	if f, ok := e.(*parser.Call); ok && f.Filter != nil {
		return f.Filter
	}
	return nil
}

// ListAggSeparator returns the separator of a call LISTAGG(x, 'sep')
// that AggregateCall recognises, and false for LISTAGG(x) or any other
// call.
func ListAggSeparator(e parser.Expr) (string, bool) {
	f, isFunc := e.(*parser.Call)
	if !isFunc || !strings.EqualFold(f.Name, "LISTAGG") || len(f.Args) != 2 {
		return "", false
	}
	if v := stringLiteral(f.Args[1]); v != nil {
		return v.Text, true
	}
	return "", false
}

// stringLiteral returns the string literal an argument is, or nil.
func stringLiteral(e parser.Expr) *parser.Literal {
	if v, ok := e.(*parser.Literal); ok && v.Kind == parser.LitString {
		return v
	}
	return nil
}

// WindowCall recognises a group window function of GROUP BY:
// TUMBLE(ts, size), HOP(ts, slide, size) or SESSION(ts, gap), where ts is a
// column (timeCol, possibly qualified: resolve it in the query's scope)
// and the durations are positive INTERVAL literals, in the order written.
// kind is TUMBLE, HOP or SESSION. ok is false for anything else, including
// a malformed window call, which Query.Scalar reports.
func WindowCall(e parser.Expr) (kind string, timeCol *parser.Ident, durations []time.Duration, ok bool) {
	f, isFunc := e.(*parser.Call)
	if !isFunc {
		return "", nil, nil, false
	}
	kind = strings.ToUpper(f.Name)
	if !windowKinds[kind] {
		return "", nil, nil, false
	}
	col, ds, err := windowArgs(f, kind)
	if err != nil {
		return "", nil, nil, false
	}
	return kind, col, ds, true
}

// WindowBoundCall recognises TUMBLE_START, TUMBLE_END, TUMBLE_ROWTIME,
// HOP_START, HOP_END, HOP_ROWTIME, SESSION_START, SESSION_END and
// SESSION_ROWTIME: kind is TUMBLE, HOP or SESSION, bound START, END or
// ROWTIME (the window's time attribute, its end - 1 ms), and timeCol and durations are the arguments of the window
// they name, as WindowCall returns them. ok is false for anything else,
// including a malformed call, which Query.Scalar reports.
func WindowBoundCall(e parser.Expr) (kind, bound string, timeCol *parser.Ident, durations []time.Duration, ok bool) {
	f, isFunc := e.(*parser.Call)
	if !isFunc {
		return "", "", nil, nil, false
	}
	kind, bound, isBound := windowBound(f)
	if !isBound {
		return "", "", nil, nil, false
	}
	col, ds, err := windowArgs(f, kind)
	if err != nil {
		return "", "", nil, nil, false
	}
	return kind, bound, col, ds, true
}

// windowBound splits the name of a window bound function.
func windowBound(f *parser.Call) (kind, bound string, ok bool) {
	kind, bound, ok = strings.Cut(strings.ToUpper(f.Name), "_")
	if !ok || !windowKinds[kind] || bound != "START" && bound != "END" && bound != "ROWTIME" {
		return "", "", false
	}
	return kind, bound, true
}

// windowUsage says how each window function is called.
var windowUsage = map[string]string{
	"TUMBLE":  "a time column and one INTERVAL (the size), as TUMBLE(ts, INTERVAL '1' MINUTE)",
	"HOP":     "a time column and two INTERVALs (the slide, then the size), as HOP(ts, INTERVAL '1' MINUTE, INTERVAL '5' MINUTE)",
	"SESSION": "a time column and one INTERVAL (the gap), as SESSION(ts, INTERVAL '10' MINUTE)",
}

// windowArgError is an error about an argument (nil: the call) of a window
// function.
type windowArgError struct {
	node parser.Expr
	msg  string
}

func (e *windowArgError) Error() string { return e.msg }

// windowArgs checks the arguments of f, a call of the window function kind
// (or of one of its bounds).
func windowArgs(f *parser.Call, kind string) (*parser.Ident, []time.Duration, error) {
	name := strings.ToUpper(f.Name)
	want := 2
	if kind == "HOP" {
		want = 3
	}
	if len(f.Args) != want || f.Distinct || f.Star || f.Bare || f.Filter != nil || f.Over != nil || f.OverName != "" {
		return nil, nil, &windowArgError{nil, name + " takes " + windowUsage[kind]}
	}
	col, ok := f.Args[0].(*parser.Ident)
	if !ok || len(col.Parts) > 3 { // ts, t.ts, row.ts or t.row.ts
		return nil, nil, &windowArgError{f.Args[0], "the first argument of " + name + " must be a time column"}
	}
	var ds []time.Duration
	for _, a := range f.Args[1:] {
		iv, ok := a.(*parser.Interval)
		if !ok {
			return nil, nil, &windowArgError{a, name + " takes " + windowUsage[kind]}
		}
		ms, err := intervalMillis(iv)
		if err != nil {
			return nil, nil, &windowArgError{a, err.Error()}
		}
		if ms <= 0 {
			return nil, nil, &windowArgError{a, "the INTERVALs of " + name + " must be positive"}
		}
		if ms > math.MaxInt64/int64(time.Millisecond) {
			return nil, nil, &windowArgError{a, "INTERVAL too large"}
		}
		ds = append(ds, time.Duration(ms)*time.Millisecond)
	}
	return col, ds, nil
}

// intervalUnits are the units of INTERVAL literals, in milliseconds.
var intervalUnits = map[string]int64{
	"MILLISECOND": 1, "SECOND": 1000, "MINUTE": 60_000, "HOUR": 3_600_000, "DAY": 86_400_000,
}

// intervalMillis returns the length of an INTERVAL literal in milliseconds:
// INTERVAL '10' MINUTE, INTERVAL 10 MINUTE, INTERVAL '1.5' SECOND.
func intervalMillis(iv *parser.Interval) (int64, error) {
	if iv.ToUnit != "" {
		return 0, fmt.Errorf("INTERVAL … %s TO %s is not supported: write one unit, as INTERVAL '90' SECOND", iv.Unit, iv.ToUnit)
	}
	unit := strings.ToUpper(iv.Unit)
	mult, ok := intervalUnits[unit]
	if !ok {
		mult, ok = intervalUnits[strings.TrimSuffix(unit, "S")]
	}
	if !ok {
		if u := strings.TrimSuffix(unit, "S"); u == "YEAR" || u == "MONTH" || u == "QUARTER" || u == "WEEK" {
			return 0, fmt.Errorf("INTERVAL … %s is not supported: use DAY, HOUR, MINUTE or SECOND", unit)
		}
		return 0, fmt.Errorf("unknown INTERVAL unit %s (units: DAY, HOUR, MINUTE, SECOND, MILLISECOND)", unit)
	}
	ms, err := scaleDecimal(strings.TrimSpace(iv.Value), mult)
	if err != nil {
		return 0, fmt.Errorf("bad INTERVAL value %q: %v", iv.Value, err)
	}
	return ms, nil
}

// scaleDecimal returns the decimal number s (an optional sign, digits, an
// optional fraction) times mult, which must come out whole.
func scaleDecimal(s string, mult int64) (int64, error) {
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" && frac == "" {
		return 0, fmt.Errorf("not a number")
	}
	var n int64
	for _, c := range whole + frac {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("not a number")
		}
		if n > (math.MaxInt64-9)/10 {
			return 0, fmt.Errorf("too large")
		}
		n = n*10 + int64(c-'0')
	}
	// n / 10^len(frac) * mult
	den := int64(1)
	for range frac {
		if den > math.MaxInt64/10 {
			return 0, fmt.Errorf("too many digits")
		}
		den *= 10
	}
	if n != 0 && mult > math.MaxInt64/n {
		// Reduce first: both are exact only when the fraction cancels.
		if n%den != 0 {
			return 0, fmt.Errorf("too large")
		}
		n, den = n/den, 1
		if n != 0 && mult > math.MaxInt64/n {
			return 0, fmt.Errorf("too large")
		}
	}
	p := n * mult
	if p%den != 0 {
		return 0, fmt.Errorf("finer than a millisecond")
	}
	p /= den
	if neg {
		p = -p
	}
	return p, nil
}
