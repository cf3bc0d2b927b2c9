package format

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/sluicehq/sluice/runtime"
)

// DecodeError is a record that could not be decoded. Err is ErrIncomplete
// or describes the problem.
type DecodeError struct {
	Column string // the column concerned; "" for the record's syntax
	Offset int    // byte offset within the record (0-based)
	Err    error
}

func (e *DecodeError) Error() string {
	if e.Column != "" {
		return fmt.Sprintf("column %q at offset %d: %v", e.Column, e.Offset, e.Err)
	}
	return fmt.Sprintf("at offset %d: %v", e.Offset, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// ErrIncomplete is the error (wrapped in *DecodeError) of a CSV record that
// ends inside a quoted field: the record goes on on the next line.
var ErrIncomplete = errors.New("record ends inside a quoted field")

// errBatchSchema is returned when a decoder is given a batch of another
// schema (a bug in the caller).
func errBatchSchema(want, got *runtime.Schema) error {
	return fmt.Errorf("format: decoder for %v given a batch of %v", want, got)
}

// excerpt quotes at most 40 bytes of s for an error message.
func excerpt(s []byte) string {
	if len(s) > 40 {
		n := 40
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		return strconv.Quote(string(s[:n])) + "…"
	}
	return strconv.Quote(string(s))
}

// --- numbers ---

// scanNumber returns the end of the JSON number starting at s[i], and
// whether it is a plain integer (no fraction or exponent). ok is false when
// s[i:] does not start with a number.
func scanNumber(s []byte, i int) (end int, isInt, ok bool) {
	n := len(s)
	if i < n && s[i] == '-' {
		i++
	}
	if i >= n {
		return i, false, false
	}
	switch {
	case s[i] == '0':
		i++
	case s[i] >= '1' && s[i] <= '9':
		for i < n && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return i, false, false
	}
	isInt = true
	if i < n && s[i] == '.' {
		i++
		j := i
		for i < n && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == j {
			return i, false, false
		}
		isInt = false
	}
	if i < n && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < n && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := i
		for i < n && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == j {
			return i, false, false
		}
		isInt = false
	}
	return i, isInt, true
}

// parseDigits parses an optional sign and decimal digits (at least one)
// into an int64; ok is false on anything else, range is false on overflow.
func parseDigits(s []byte) (v int64, ok, inRange bool) {
	neg := false
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if len(s) == 0 {
		return 0, false, false
	}
	var u uint64
	inRange = true
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false, false
		}
		if u > (math.MaxUint64-9)/10 {
			inRange = false
			continue
		}
		u = u*10 + uint64(c-'0')
	}
	switch {
	case !inRange:
	case neg && u <= 1<<63:
		return -int64(u-1) - 1, true, true
	case !neg && u <= math.MaxInt64:
		return int64(u), true, true
	}
	return 0, true, false
}

var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseFloat parses a JSON number. Short decimals take an exact fast path
// (a mantissa below 2^53 scaled by a power of ten up to 1e22 is rounded
// correctly by one float operation); the rest go to strconv.
func parseFloat(s []byte) (float64, bool) {
	i, neg := 0, false
	if i < len(s) && s[i] == '-' {
		neg = true
		i++
	}
	var mant uint64
	digits, exp := 0, 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		mant = mant*10 + uint64(s[i]-'0')
		digits++
	}
	if i < len(s) && s[i] == '.' {
		for i++; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			mant = mant*10 + uint64(s[i]-'0')
			digits++
			exp--
		}
	}
	if i == len(s) && digits > 0 && digits <= 15 && exp >= -22 {
		f := float64(mant)
		if exp < 0 {
			f /= pow10[-exp]
		}
		if neg {
			f = -f
		}
		return f, true
	}
	f, err := strconv.ParseFloat(string(s), 64)
	return f, err == nil || errors.Is(err, strconv.ErrRange) && !math.IsInf(f, 0)
}

// parseIntText parses text as a value of the integer type t (see the package
// comment), or explains why it is not one.
func parseIntText(s []byte, t runtime.Type) (int64, error) {
	v, ok, inRange := parseDigits(s)
	if !ok {
		// A whole number written with a fraction or an exponent.
		if end, _, isNum := scanNumber(s, 0); !isNum || end != len(s) {
			return 0, fmt.Errorf("%s is not a number (want %s)", excerpt(s), t)
		}
		f, fok := parseFloat(s)
		if !fok || f != math.Trunc(f) {
			return 0, fmt.Errorf("%s is not a whole number (want %s)", excerpt(s), t)
		}
		if f < -0x1p63 || f >= 0x1p63 {
			return 0, fmt.Errorf("%s is out of range for %s", excerpt(s), t)
		}
		v, inRange = int64(f), true
	}
	if !inRange || t == runtime.Int && (v < math.MinInt32 || v > math.MaxInt32) {
		return 0, fmt.Errorf("%s is out of range for %s", excerpt(s), t)
	}
	return v, nil
}

// --- timestamps ---

// parseTimestamp parses the text forms of a TIMESTAMP(3) (see the package
// comment) into milliseconds since the epoch.
func parseTimestamp(s []byte) (int64, error) {
	if v, ok, inRange := parseDigits(s); ok {
		if !inRange {
			return 0, fmt.Errorf("%s is out of range for epoch milliseconds", excerpt(s))
		}
		return v, nil
	}
	ms, reason := parseDateTime(s)
	if reason != "" {
		return 0, fmt.Errorf("%s is not a TIMESTAMP (%s; want RFC 3339 like 2026-11-25T10:00:00.000Z, "+
			"2026-11-25 10:00:00.000 or epoch milliseconds)", excerpt(s), reason)
	}
	return ms, nil
}

func num(s []byte, i, n int) (int, bool) {
	if i+n > len(s) {
		return 0, false
	}
	v := 0
	for _, c := range s[i : i+n] {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// parseDateTime parses YYYY-MM-DD[(T|t| )HH:MM[:SS[.fff…]]][Z|±HH:MM|±HHMM].
func parseDateTime(s []byte) (int64, string) {
	ms, h, mi, i, reason := parseDateMinute(s)
	if reason != "" || h < 0 {
		return ms, reason
	}
	return parseTimeTail(s, i, ms, h, mi)
}

// parseDateMinute parses the date and, when there is a time, its hour and
// minute, which are not checked yet: the date's milliseconds, the hour
// and minute (h -1: a date alone, i == len(s)) and the offset after them.
// What it reads depends on s[:16] only.
func parseDateMinute(s []byte) (ms int64, h, mi, i int, reason string) {
	y, ok1 := num(s, 0, 4)
	mo, ok2 := num(s, 5, 2)
	d, ok3 := num(s, 8, 2)
	if !ok1 || !ok2 || !ok3 || s[4] != '-' || s[7] != '-' {
		return 0, 0, 0, 0, "bad date"
	}
	if mo < 1 || mo > 12 {
		return 0, 0, 0, 0, "month out of range"
	}
	if d < 1 || d > daysIn(y, mo) {
		return 0, 0, 0, 0, "day out of range"
	}
	ms = daysFromCivil(int64(y), mo, d) * 86_400_000
	i = 10
	if i == len(s) {
		return ms, -1, 0, i, ""
	}
	if c := s[i]; c != 'T' && c != 't' && c != ' ' {
		return 0, 0, 0, 0, "bad date"
	}
	h, ok1 = num(s, i+1, 2)
	mi, ok2 = num(s, i+4, 2)
	if !ok1 || !ok2 || s[i+3] != ':' {
		return 0, 0, 0, 0, "bad time"
	}
	return ms, h, mi, i + 6, ""
}

// timeCache remembers the date, hour and minute of the last TIMESTAMP
// text of the form YYYY-MM-DD(T|t| )HH:MM…: the times of consecutive
// records mostly share them, whose calendar arithmetic is then done once.
type timeCache struct {
	prefix [16]byte
	ms     int64 // the date's milliseconds
	h, mi  int
	ok     bool
	minute int64 // the minute's milliseconds, when h and mi are in range (else -1)
}

// parseTimestamp is parseTimestamp (the package function), with the
// cache.
func (c *timeCache) parseTimestamp(s []byte) (int64, error) {
	if len(s) < 16 || s[4] != '-' { // not of that form; nor epoch milliseconds when s[4] is '-'
		return parseTimestamp(s)
	}
	if !c.ok || [16]byte(s[:16]) != c.prefix {
		ms, h, mi, i, reason := parseDateMinute(s)
		if reason != "" || i != 16 {
			return parseTimestamp(s)
		}
		c.prefix, c.ms, c.h, c.mi, c.ok = [16]byte(s[:16]), ms, h, mi, true
		c.minute = -1
		if h <= 23 && mi <= 59 {
			c.minute = ms + int64(h)*3_600_000 + int64(mi)*60_000
		}
	}
	ms, reason := parseTimeTail(s, 16, c.ms, c.h, c.mi)
	if reason != "" {
		return parseTimestamp(s) // the error, worded as always
	}
	return ms, nil
}

// quoted parses the JSON string whose opening quote is s[i] as a TIMESTAMP
// text when it starts with the cached date and minute and the rest up to
// the closing quote is plain ASCII (so it needs no unescaping): the
// milliseconds and the offset after the closing quote. ok is false
// otherwise, or when the text is not a time, for the general path to take.
func (c *timeCache) quoted(s []byte, i int) (ms int64, end int, ok bool) {
	if !c.ok || i+17 > len(s) || [16]byte(s[i+1:i+17]) != c.prefix {
		return 0, 0, false
	}
	q := i + 17
	if q+8 <= len(s) && c.minute >= 0 {
		// The common tail, :SS.fff" (what parseTimeTail takes, written
		// out).
		t := s[q : q+8]
		s1, s0, f2, f1, f0 := t[1]-'0', t[2]-'0', t[4]-'0', t[5]-'0', t[6]-'0'
		if t[0] == ':' && t[3] == '.' && t[7] == '"' && s1 <= 5 && s0 <= 9 && f2 <= 9 && f1 <= 9 && f0 <= 9 {
			sec := int64(s1)*10 + int64(s0)
			return c.minute + sec*1000 + int64(f2)*100 + int64(f1)*10 + int64(f0), q + 8, true
		}
	}
	for q < len(s) && s[q] != '"' {
		if b := s[q]; b < 0x20 || b == '\\' || b >= 0x80 {
			return 0, 0, false
		}
		q++
	}
	if q == len(s) {
		return 0, 0, false
	}
	ms, reason := parseTimeTail(s[i+1:q], 16, c.ms, c.h, c.mi)
	if reason != "" {
		return 0, 0, false
	}
	return ms, q + 1, true
}

// parseTimeTail parses what follows the minute at s[i] — [:SS[.fff…]] and
// the zone — for a time whose date is ms, hour h and minute mi.
func parseTimeTail(s []byte, i int, ms int64, h, mi int) (int64, string) {
	sec := 0
	if i < len(s) && s[i] == ':' {
		var ok bool
		if sec, ok = num(s, i+1, 2); !ok {
			return 0, "bad seconds"
		}
		i += 3
	}
	if h > 23 || mi > 59 || sec > 59 {
		return 0, "time out of range"
	}
	ms += int64(h)*3_600_000 + int64(mi)*60_000 + int64(sec)*1000
	if i < len(s) && s[i] == '.' {
		i++
		j, frac := i, 0
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			if i-j < 3 {
				frac = frac*10 + int(s[i]-'0')
			}
		}
		if i == j {
			return 0, "bad fraction"
		}
		for k := i - j; k < 3; k++ {
			frac *= 10
		}
		ms += int64(frac)
	}
	if i == len(s) {
		return ms, ""
	}
	switch s[i] {
	case 'Z', 'z':
		i++
	case '+', '-':
		zh, ok1 := num(s, i+1, 2)
		j, zm, ok2 := i+3, 0, true
		if j < len(s) {
			if s[j] == ':' {
				j++
			}
			zm, ok2 = num(s, j, 2)
			j += 2
		}
		if !ok1 || !ok2 || zh > 23 || zm > 59 {
			return 0, "bad zone"
		}
		off := int64(zh)*3_600_000 + int64(zm)*60_000
		if s[i] == '+' {
			ms -= off
		} else {
			ms += off
		}
		i = j
	default:
		return 0, "bad zone"
	}
	if i != len(s) {
		return 0, "unexpected text after the time"
	}
	return ms, ""
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian
// date (H. Hinnant's algorithm).
func daysFromCivil(y int64, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := int64((153*mp+2)/5 + d - 1)
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// civilFromDays is the inverse of daysFromCivil.
func civilFromDays(z int64) (y int64, m, d int) {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	m = int(mp + 3)
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

// appendTimestamp writes ms as 2026-11-25T10:00:00.000Z (RFC 3339 UTC with
// milliseconds), or, outside the years 0000–9999, as epoch milliseconds.
// quote wraps the text form in double quotes (JSON).
func appendTimestamp(dst []byte, ms int64, quote bool) []byte {
	days, rem := ms/86_400_000, ms%86_400_000
	if rem < 0 {
		days--
		rem += 86_400_000
	}
	y, m, d := civilFromDays(days)
	if y < 0 || y > 9999 {
		return strconv.AppendInt(dst, ms, 10)
	}
	if quote {
		dst = append(dst, '"')
	}
	dst = append2(append2(dst, int(y/100)), int(y%100))
	dst = append2(append(dst, '-'), m)
	dst = append2(append(dst, '-'), d)
	dst = append2(append(dst, 'T'), int(rem/3_600_000))
	dst = append2(append(dst, ':'), int(rem/60_000%60))
	dst = append2(append(dst, ':'), int(rem/1000%60))
	f := int(rem % 1000)
	dst = append(dst, '.', byte('0'+f/100), byte('0'+f/10%10), byte('0'+f%10), 'Z')
	if quote {
		dst = append(dst, '"')
	}
	return dst
}

func append2(dst []byte, v int) []byte { return append(dst, byte('0'+v/10), byte('0'+v%10)) }

// appendDouble writes f as runtime.FormatFloat does, without allocating.
func appendDouble(dst []byte, f float64) []byte {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.AppendFloat(dst, f, 'f', 1, 64)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, 64)
}
