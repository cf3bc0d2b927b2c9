package expr

import (
	"math"
	"strings"
	"time"

	"github.com/sluicehq/sluice/runtime"
)

// Date and time functions. TIMESTAMP values are milliseconds since the
// epoch and every function reads and writes them in UTC (Flink uses the
// session time zone; Sluice's is always UTC).

func init() {
	for name, f := range map[string]function{
		"DATE_FORMAT":       {2, 2, dateFormat},
		"EXTRACT":           {2, 2, extract},
		"YEAR":              {1, 1, timeField("YEAR")},
		"QUARTER":           {1, 1, timeField("QUARTER")},
		"MONTH":             {1, 1, timeField("MONTH")},
		"WEEK":              {1, 1, timeField("WEEK")},
		"DAYOFYEAR":         {1, 1, timeField("DOY")},
		"DAYOFMONTH":        {1, 1, timeField("DAY")},
		"DAYOFWEEK":         {1, 1, timeField("DOW")},
		"HOUR":              {1, 1, timeField("HOUR")},
		"MINUTE":            {1, 1, timeField("MINUTE")},
		"SECOND":            {1, 1, timeField("SECOND")},
		"TO_TIMESTAMP":      {1, 2, toTimestamp},
		"UNIX_TIMESTAMP":    {0, 2, unixTimestamp},
		"FROM_UNIXTIME":     {1, 2, fromUnixtime},
		"TO_TIMESTAMP_LTZ":  {2, 2, toTimestampLTZ},
		"TIMESTAMPADD":      {3, 3, timestampAdd},
		"TIMESTAMPDIFF":     {3, 3, timestampDiff},
		"CURRENT_TIMESTAMP": {0, 0, currentTimestamp},
		"NOW":               {0, 0, currentTimestamp},
	} {
		functions[name] = f
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }

func utc(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// extractUnits are EXTRACT's units, each a function of a TIMESTAMP.
var extractUnits = map[string]func(ms int64) int64{
	"YEAR":        func(ms int64) int64 { return int64(utc(ms).Year()) },
	"QUARTER":     func(ms int64) int64 { return int64(utc(ms).Month()+2) / 3 },
	"MONTH":       func(ms int64) int64 { return int64(utc(ms).Month()) },
	"WEEK":        func(ms int64) int64 { _, w := utc(ms).ISOWeek(); return int64(w) },
	"DAY":         func(ms int64) int64 { return int64(utc(ms).Day()) },
	"HOUR":        func(ms int64) int64 { return floorMod(ms, 86_400_000) / 3_600_000 },
	"MINUTE":      func(ms int64) int64 { return floorMod(ms, 3_600_000) / 60_000 },
	"SECOND":      func(ms int64) int64 { return floorMod(ms, 60_000) / 1000 },
	"MILLISECOND": func(ms int64) int64 { return floorMod(ms, 60_000) },
	"DOW":         func(ms int64) int64 { return int64(utc(ms).Weekday()) + 1 },
	"DOY":         func(ms int64) int64 { return int64(utc(ms).YearDay()) },
	"EPOCH":       func(ms int64) int64 { return floorDiv(ms, 1000) },
	"MICROSECOND": func(ms int64) int64 { return floorMod(ms, 60_000) * 1000 },
	"ISODOW":      func(ms int64) int64 { return (int64(utc(ms).Weekday())+6)%7 + 1 },
	"ISOYEAR":     func(ms int64) int64 { y, _ := utc(ms).ISOWeek(); return int64(y) },
	"DECADE":      func(ms int64) int64 { return floorDiv(int64(utc(ms).Year()), 10) },
	"CENTURY":     func(ms int64) int64 { return centuries(int64(utc(ms).Year()), 100) },
	"MILLENNIUM":  func(ms int64) int64 { return centuries(int64(utc(ms).Year()), 1000) },
}

// centuries numbers the span of n years holding year as PostgreSQL and
// Calcite do: 2000 is in the 20th century, 2001 in the 21st; years before 1
// count down from -1.
func centuries(year, n int64) int64 {
	if year > 0 {
		return (year + n - 1) / n
	}
	return -((-year + n) / n)
}

const extractUnitList = "YEAR, QUARTER, MONTH, WEEK, DAY, HOUR, MINUTE, SECOND, MILLISECOND, MICROSECOND, DOW, ISODOW, DOY, EPOCH, ISOYEAR, DECADE, CENTURY, MILLENNIUM"

// unitArg reads the constant unit argument i of a call.
func unitArg(e *callExpr, args []*node, i int, known func(string) bool, list string) (string, error) {
	u, ok := constString(args[i])
	if !ok {
		return "", errorf(e, "%s's %s argument must be a constant unit (%s)", e.name, ordinal(i+1), list)
	}
	u = strings.ToUpper(strings.TrimSpace(u))
	if !known(u) {
		return "", errorf(e, "%s: unknown unit %s (units: %s)", e.name, u, list)
	}
	return u, nil
}

// extract compiles EXTRACT(unit, ts), the function form of EXTRACT(unit
// FROM ts).
func extract(c *compiler, e *callExpr, args []*node) (*node, error) {
	if err := checkArgs(e, args, "st"); err != nil {
		return nil, err
	}
	u, err := unitArg(e, args, 0, func(u string) bool { return extractUnits[u] != nil }, extractUnitList)
	if err != nil {
		return nil, err
	}
	return timeUnitNode(extractUnits[u], args[1]), nil
}

func timeUnitNode(f func(int64) int64, x *node) *node {
	if isNullConst(x) {
		return constNode(runtime.NullValue(runtime.BigInt))
	}
	n := &node{typ: runtime.BigInt, nullable: x.nullable, col: -1}
	n.eval = convert(runtime.BigInt, x, i64, i64, func(v int64) (int64, bool) { return f(v), true })
	return fold(n, x)
}

// timeField compiles YEAR(ts), HOUR(ts) and the like: EXTRACT of unit.
func timeField(unit string) func(*compiler, *callExpr, []*node) (*node, error) {
	f := extractUnits[unit]
	return func(c *compiler, e *callExpr, args []*node) (*node, error) {
		if err := checkArgs(e, args, "t"); err != nil {
			return nil, err
		}
		return timeUnitNode(f, args[0]), nil
	}
}

// patternArg returns the date pattern of each row from argument a: a
// constant is translated once (an invalid one is a compile error), a
// column per distinct value (an invalid one gives nil, a NULL result).
func patternArg(e *callExpr, a *node) (func(string) *datePattern, error) {
	if p, ok := constString(a); ok {
		dp, err := parseDatePattern(p)
		if err != nil {
			return nil, errorf(e, "%s: invalid format '%s': %v", e.name, p, err)
		}
		return func(string) *datePattern { return dp }, nil
	}
	cc := newCache(parseDatePattern)
	return func(s string) *datePattern {
		dp, err := cc.get(s)
		if err != nil {
			return nil
		}
		return dp
	}, nil
}

var defaultPattern, _ = parseDatePattern(defaultDatePattern)

// dateFormat compiles DATE_FORMAT(ts, fmt) and DATE_FORMAT(str, fmt) (str
// read as CAST(str AS TIMESTAMP) does).
func dateFormat(c *compiler, e *callExpr, args []*node) (*node, error) {
	if err := checkArgs(e, args, "Ts"); err != nil {
		return nil, err
	}
	pat, err := patternArg(e, args[1])
	if err != nil {
		return nil, err
	}
	if n := anyNullConst(runtime.Varchar, args); n != nil {
		return n, nil
	}
	var buf []byte
	str := args[0].typ == runtime.Varchar
	return rowKernel(runtime.Varchar, true, args, func(p []*runtime.Vector, i int, out *runtime.Vector) bool {
		dp := pat(p[1].Str[i])
		if dp == nil {
			return false
		}
		var ms int64
		if str {
			var ok bool
			if ms, ok = parseTimestamp(p[0].Str[i]); !ok {
				return false
			}
		} else {
			ms = p[0].I64[i]
		}
		buf = dp.format(buf[:0], ms)
		out.Str[i] = string(buf)
		return true
	}), nil
}

// parseArgs compiles the string-parsing functions: their first argument a
// VARCHAR, the optional second its pattern. to maps the parsed time.
func parseArgs(e *callExpr, args []*node, typ runtime.Type, mayNull bool, to func(ms int64, ok bool) (int64, bool)) (*node, error) {
	if err := checkArgs(e, args, "ss"); err != nil {
		return nil, err
	}
	if n := anyNullConst(typ, args); n != nil {
		return n, nil
	}
	if len(args) == 1 {
		return rowKernel(typ, mayNull, args, func(p []*runtime.Vector, i int, out *runtime.Vector) bool {
			ms, ok := defaultPattern.parse(strings.TrimSpace(p[0].Str[i]))
			if !ok {
				ms, ok = parseTimestamp(p[0].Str[i])
			}
			out.I64[i], ok = to(ms, ok)
			return ok
		}), nil
	}
	pat, err := patternArg(e, args[1])
	if err != nil {
		return nil, err
	}
	return rowKernel(typ, mayNull, args, func(p []*runtime.Vector, i int, out *runtime.Vector) bool {
		var ms int64
		ok := false
		if dp := pat(p[1].Str[i]); dp != nil {
			ms, ok = dp.parse(p[0].Str[i])
		}
		out.I64[i], ok = to(ms, ok)
		return ok
	}), nil
}

// toTimestamp compiles TO_TIMESTAMP(str[, fmt]): NULL when str does not
// parse. Without fmt it reads 'yyyy-MM-dd HH:mm:ss' and also the forms
// CAST(str AS TIMESTAMP) reads (fractions of a second, a T, a date alone).
func toTimestamp(c *compiler, e *callExpr, args []*node) (*node, error) {
	return parseArgs(e, args, runtime.Timestamp, true, func(ms int64, ok bool) (int64, bool) { return ms, ok })
}

// unixTimestamp compiles UNIX_TIMESTAMP(): the processing time in seconds,
// read once per batch, and UNIX_TIMESTAMP(str[, fmt]): str's time in
// seconds, or Long.MIN_VALUE (-9223372036854775808) when it does not
// parse, as Flink.
func unixTimestamp(c *compiler, e *callExpr, args []*node) (*node, error) {
	if len(args) == 0 {
		n := &node{typ: runtime.BigInt, col: -1}
		n.eval = func(b *runtime.Batch, dst *vec) *runtime.Vector {
			nn := b.Len()
			out := dst.reset(runtime.BigInt, nn)
			now := time.Now().Unix()
			for i := range out.I64[:nn] {
				out.I64[i] = now
			}
			return out
		}
		return n, nil // not folded: it changes
	}
	return parseArgs(e, args, runtime.BigInt, false, func(ms int64, ok bool) (int64, bool) {
		if !ok {
			return math.MinInt64, true
		}
		return floorDiv(ms, 1000), true
	})
}

// currentTimestamp compiles CURRENT_TIMESTAMP and NOW(): the processing
// time, read once per batch.
func currentTimestamp(c *compiler, e *callExpr, args []*node) (*node, error) {
	n := &node{typ: runtime.Timestamp, col: -1}
	n.eval = func(b *runtime.Batch, dst *vec) *runtime.Vector {
		nn := b.Len()
		out := dst.reset(runtime.Timestamp, nn)
		now := time.Now().UnixMilli()
		for i := range out.I64[:nn] {
			out.I64[i] = now
		}
		return out
	}
	return n, nil // not folded: it changes
}

// fromUnixtime compiles FROM_UNIXTIME(seconds[, fmt]): VARCHAR, by
// default 'yyyy-MM-dd HH:mm:ss'.
func fromUnixtime(c *compiler, e *callExpr, args []*node) (*node, error) {
	if err := checkArgs(e, args, "is"); err != nil {
		return nil, err
	}
	if n := anyNullConst(runtime.Varchar, args); n != nil {
		return n, nil
	}
	pat := func(string) *datePattern { return defaultPattern }
	if len(args) == 2 {
		var err error
		if pat, err = patternArg(e, args[1]); err != nil {
			return nil, err
		}
	}
	var buf []byte
	return rowKernel(runtime.Varchar, true, args, func(p []*runtime.Vector, i int, out *runtime.Vector) bool {
		f := ""
		if len(p) == 2 {
			f = p[1].Str[i]
		}
		dp := pat(f)
		s := p[0].I64[i]
		if dp == nil || s > math.MaxInt64/1000 || s < math.MinInt64/1000 {
			return false
		}
		buf = dp.format(buf[:0], s*1000)
		out.Str[i] = string(buf)
		return true
	}), nil
}

// toTimestampLTZ compiles TO_TIMESTAMP_LTZ(n, precision): n seconds
// (precision 0) or milliseconds (3) since the epoch as a TIMESTAMP(3) in
// UTC. A DOUBLE n keeps its fraction down to the millisecond. NULL when
// the result is out of range.
func toTimestampLTZ(c *compiler, e *callExpr, args []*node) (*node, error) {
	if err := checkArgs(e, args, "ni"); err != nil {
		return nil, err
	}
	pk := args[1].konst
	if pk == nil || pk.Null || pk.I != 0 && pk.I != 3 {
		return nil, errorf(e, "%s's 2nd argument must be the constant precision 0 (seconds) or 3 (milliseconds)", e.name)
	}
	x := args[0]
	if isNullConst(x) {
		return constNode(runtime.NullValue(runtime.Timestamp)), nil
	}
	scale := int64(1)
	if pk.I == 0 {
		scale = 1000
	}
	n := &node{typ: runtime.Timestamp, nullable: true, col: -1}
	if x.typ == runtime.Double {
		n.eval = convert(runtime.Timestamp, x, f64, i64, func(v float64) (int64, bool) {
			t := math.Trunc(v * float64(scale))
			return int64(t), t >= -(1<<63) && t < 1<<63
		})
	} else {
		n.nullable = x.nullable || scale != 1
		n.eval = convert(runtime.Timestamp, x, i64, i64, func(v int64) (int64, bool) {
			return v * scale, !mulOverflows(v, scale)
		})
	}
	return fold(n, x), nil
}

// timeUnitMillis are the fixed-length units of TIMESTAMPADD and
// TIMESTAMPDIFF; months measures the others in months.
var (
	timeUnitMillis = map[string]int64{"MILLISECOND": 1, "SECOND": 1000, "MINUTE": 60_000, "HOUR": 3_600_000,
		"DAY": 86_400_000, "WEEK": 7 * 86_400_000}
	timeUnitMonths = map[string]int64{"MONTH": 1, "QUARTER": 3, "YEAR": 12}
)

const timeUnitList = "MILLISECOND, SECOND, MINUTE, HOUR, DAY, WEEK, MONTH, QUARTER, YEAR"

func knownTimeUnit(u string) bool { return timeUnitMillis[u] != 0 || timeUnitMonths[u] != 0 }

// addMonths adds k months to ms, keeping the time of day and clamping the
// day to the length of the month (Jan 31 + 1 month = Feb 28), as Flink.
func addMonths(ms, k int64) (int64, bool) {
	// Within ±285,000 years of 1970 (2^53 ms): the result fits in 64 bits.
	if k > 12*1_000_000 || k < -12*1_000_000 || ms > 1<<53 || ms < -(1<<53) {
		return 0, false
	}
	t := utc(ms)
	y, m, d := t.Date()
	total := int64(y)*12 + int64(m-1) + k
	ny, nm := int(floorDiv(total, 12)), time.Month(floorMod(total, 12)+1)
	if d > daysIn(ny, nm) {
		d = daysIn(ny, nm)
	}
	day := floorDiv(ms, 86_400_000)
	tod := ms - day*86_400_000
	r := time.Date(ny, nm, d, 0, 0, 0, 0, time.UTC).UnixMilli()
	return r + tod, true
}

// timestampAdd compiles TIMESTAMPADD(unit, n, ts): ts plus n units, NULL
// when out of range.
func timestampAdd(c *compiler, e *callExpr, args []*node) (*node, error) {
	if err := checkArgs(e, args, "sit"); err != nil {
		return nil, err
	}
	u, err := unitArg(e, args, 0, knownTimeUnit, timeUnitList)
	if err != nil {
		return nil, err
	}
	args = args[1:]
	if n := anyNullConst(runtime.Timestamp, args); n != nil {
		return n, nil
	}
	if months := timeUnitMonths[u]; months != 0 {
		return rowKernel(runtime.Timestamp, true, args, func(p []*runtime.Vector, i int, out *runtime.Vector) bool {
			k := p[0].I64[i]
			if mulOverflows(k, months) {
				return false
			}
			var ok bool
			out.I64[i], ok = addMonths(p[1].I64[i], k*months)
			return ok
		}), nil
	}
	unit := timeUnitMillis[u]
	return rowKernel(runtime.Timestamp, true, args, func(p []*runtime.Vector, i int, out *runtime.Vector) bool {
		k, ts := p[0].I64[i], p[1].I64[i]
		if mulOverflows(k, unit) || addOverflows(ts, k*unit) {
			return false
		}
		out.I64[i] = ts + k*unit
		return true
	}), nil
}

// timestampDiff compiles TIMESTAMPDIFF(unit, a, b): the whole number of
// units from a to b (negative when b is earlier), as Flink.
func timestampDiff(c *compiler, e *callExpr, args []*node) (*node, error) {
	if err := checkArgs(e, args, "stt"); err != nil {
		return nil, err
	}
	u, err := unitArg(e, args, 0, knownTimeUnit, timeUnitList)
	if err != nil {
		return nil, err
	}
	args = args[1:]
	if n := anyNullConst(runtime.BigInt, args); n != nil {
		return n, nil
	}
	if months := timeUnitMonths[u]; months != 0 {
		return rowKernel(runtime.BigInt, false, args, func(p []*runtime.Vector, i int, out *runtime.Vector) bool {
			out.I64[i] = monthsBetween(p[0].I64[i], p[1].I64[i]) / months
			return true
		}), nil
	}
	unit := timeUnitMillis[u]
	return rowKernel(runtime.BigInt, true, args, func(p []*runtime.Vector, i int, out *runtime.Vector) bool {
		a, b := p[0].I64[i], p[1].I64[i]
		if subOverflows(b, a) {
			return false
		}
		out.I64[i] = (b - a) / unit
		return true
	}), nil
}

// monthsBetween counts the whole months from a to b: a month is complete
// when b's day and time of the month reach a's.
func monthsBetween(a, b int64) int64 {
	ta, tb := utc(a), utc(b)
	m := (int64(tb.Year())-int64(ta.Year()))*12 + int64(tb.Month()) - int64(ta.Month())
	restA := a - time.Date(ta.Year(), ta.Month(), 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	restB := b - time.Date(tb.Year(), tb.Month(), 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	switch {
	case m > 0 && restB < restA:
		m--
	case m < 0 && restB > restA:
		m++
	}
	return m
}

// floorUnits are the units of FLOOR and CEIL(ts TO unit).
var floorUnits = map[string]bool{"YEAR": true, "QUARTER": true, "MONTH": true, "DAY": true, "HOUR": true,
	"MINUTE": true, "SECOND": true, "MILLISECOND": true}

const floorUnitList = "YEAR, QUARTER, MONTH, DAY, HOUR, MINUTE, SECOND, MILLISECOND"

// floorCeilTime compiles FLOOR(ts, unit) and CEIL(ts, unit), the function
// forms of FLOOR(ts TO unit): ts rounded down (or up) to a whole unit.
func floorCeilTime(e *callExpr, args []*node, floor bool) (*node, error) {
	if len(args) != 2 {
		return nil, errorf(e, "%s of a TIMESTAMP takes a unit, as %s(ts TO HOUR)", e.name, e.name)
	}
	if err := checkArgs(e, args, "ts"); err != nil {
		return nil, err
	}
	u, err := unitArg(e, args, 1, func(u string) bool { return floorUnits[u] }, floorUnitList)
	if err != nil {
		return nil, err
	}
	x := args[0]
	if isNullConst(x) {
		return constNode(runtime.NullValue(runtime.Timestamp)), nil
	}
	down := func(ms int64) int64 {
		if unit := timeUnitMillis[u]; unit != 0 {
			return ms - floorMod(ms, unit)
		}
		t := utc(ms)
		m := t.Month()
		if u == "QUARTER" {
			m -= (m - 1) % 3
		} else if u == "YEAR" {
			m = 1
		}
		return time.Date(t.Year(), m, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	}
	n := &node{typ: runtime.Timestamp, nullable: x.nullable, col: -1}
	n.eval = convert(runtime.Timestamp, x, i64, i64, func(v int64) (int64, bool) {
		d := down(v)
		if floor || d == v {
			return d, true
		}
		if unit := timeUnitMillis[u]; unit != 0 {
			return d + unit, !addOverflows(d, unit)
		}
		months := timeUnitMonths[u]
		return addMonths(d, months)
	})
	if !floor {
		n.nullable = true
	}
	return fold(n, x), nil
}
