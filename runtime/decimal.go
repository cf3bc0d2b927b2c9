package runtime

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// MaxDecimalPrecision is the largest DECIMAL precision Sluice stores: the
// unscaled value of a DECIMAL(p, s) lives in an int64, so p <= 18. Flink
// allows 38; the typing rules (package operators/expr, operators/agg) clamp
// a wider result to 18 digits, and a value that does not fit its precision
// is reported as an overflow error, never wrapped.
const MaxDecimalPrecision = 18

// DecimalType returns the type DECIMAL(p, s). It does not check its
// arguments: call Valid on the result (a precision above
// MaxDecimalPrecision, a negative scale or s > p make an invalid type).
func DecimalType(p, s int) Type {
	if p < 0 || p > 255 || s < 0 || s > 255 {
		return Decimal | 0xff<<24 // never Valid
	}
	return Decimal | Type(p)<<8 | Type(s)<<16
}

// Kind is the type without its parameters: Decimal for every DECIMAL(p, s),
// t itself for the other types.
func (t Type) Kind() Type { return t & 0xff }

// IsDecimal reports whether t is a DECIMAL(p, s).
func (t Type) IsDecimal() bool { return t.Kind() == Decimal }

// Precision is the number of digits of a DECIMAL (0 for other types).
func (t Type) Precision() int {
	if !t.IsDecimal() {
		return 0
	}
	return int(t >> 8 & 0xff)
}

// Scale is the number of fraction digits of a DECIMAL (0 for other types).
func (t Type) Scale() int {
	if !t.IsDecimal() {
		return 0
	}
	return int(t >> 16 & 0xff)
}

// Pow10 returns 10^n for 0 <= n <= 18.
func Pow10(n int) int64 { return pow10[n] }

var pow10 = func() (p [19]int64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return
}()

// DecimalFits reports whether unscaled value x has at most p digits.
func DecimalFits(x int64, p int) bool {
	if p >= 19 {
		return true
	}
	return x < pow10[p] && x > -pow10[p]
}

// DecimalValue is a DECIMAL(p, s) Value whose unscaled value is x (so
// 384087.632 is DecimalValue(384087632, 9, 3)).
func DecimalValue(x int64, p, s int) Value { return Value{Type: DecimalType(p, s), I: x} }

// FormatDecimal prints unscaled value x with scale s as plain decimal text
// with exactly s fraction digits ("384087.632", "-0.05", "12").
func FormatDecimal(x int64, s int) string {
	var buf [24]byte
	return string(AppendDecimal(buf[:0], x, s))
}

// AppendDecimal appends FormatDecimal(x, s) to dst.
func AppendDecimal(dst []byte, x int64, s int) []byte {
	if x < 0 {
		dst = append(dst, '-')
	}
	u := uint64(x)
	if x < 0 {
		u = -u
	}
	var digits [20]byte
	d := strconv.AppendUint(digits[:0], u, 10)
	if s <= 0 {
		return append(dst, d...)
	}
	if len(d) <= s {
		dst = append(dst, '0', '.')
		for range s - len(d) {
			dst = append(dst, '0')
		}
		return append(dst, d...)
	}
	dst = append(dst, d[:len(d)-s]...)
	dst = append(dst, '.')
	return append(dst, d[len(d)-s:]...)
}

// ErrDecimalOverflow is wrapped by errors of values that do not fit their
// DECIMAL precision.
var ErrDecimalOverflow = errors.New("decimal overflow")

// ParseDecimal reads text as a DECIMAL(p, s) and returns its unscaled
// value. It accepts an optional sign, digits with an optional fraction and
// an optional exponent ("1.5", "-.25", "12e-3"), surrounding spaces
// allowed. Extra fraction digits are rounded half away from zero, as
// Flink's CAST; a value with more than p-s integer digits is an error
// wrapping ErrDecimalOverflow. The conversion is exact: no float is
// involved.
func ParseDecimal(text string, p, s int) (int64, error) {
	if v, ok := parseDecimalFast(text, p, s); ok {
		return v, nil
	}
	neg, digits, exp, err := splitDecimal(text)
	if err != nil {
		return 0, err
	}
	// value = digits * 10^exp; want round(value * 10^s).
	shift := exp + s
	var x big.Int
	x.SetString(digits, 10)
	if shift >= 0 {
		if len(digits)+shift > 40 && strings.Trim(digits, "0") != "" {
			return 0, fmt.Errorf("%q does not fit DECIMAL(%d, %d): %w", text, p, s, ErrDecimalOverflow)
		}
		x.Mul(&x, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(shift)), nil))
	} else {
		if -shift > len(digits) {
			x.SetInt64(0) // below half of the last digit
		} else {
			div := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-shift)), nil)
			var rem big.Int
			x.QuoRem(&x, div, &rem)
			if rem.Lsh(&rem, 1).Cmp(div) >= 0 {
				x.Add(&x, big.NewInt(1))
			}
		}
	}
	if !x.IsInt64() || !DecimalFits(x.Int64(), p) {
		return 0, fmt.Errorf("%q does not fit DECIMAL(%d, %d): %w", text, p, s, ErrDecimalOverflow)
	}
	v := x.Int64()
	if neg {
		v = -v
	}
	return v, nil
}

// splitDecimal parses decimal text into a sign, its digits without the
// point (leading zeros dropped) and the power of ten they are scaled by.
func splitDecimal(text string) (neg bool, digits string, exp int, err error) {
	t := strings.TrimSpace(text)
	bad := func() (bool, string, int, error) {
		return false, "", 0, fmt.Errorf("%q is not a decimal number", text)
	}
	if t != "" && (t[0] == '-' || t[0] == '+') {
		neg = t[0] == '-'
		t = t[1:]
	}
	mant := t
	if i := strings.IndexAny(t, "eE"); i >= 0 {
		mant = t[:i]
		e, perr := strconv.Atoi(t[i+1:])
		if perr != nil || e > 1000 || e < -1000 {
			return bad()
		}
		exp = e
	}
	intPart, frac := mant, ""
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		intPart, frac = mant[:i], mant[i+1:]
	}
	if intPart == "" && frac == "" {
		return bad()
	}
	for _, part := range []string{intPart, frac} {
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return bad()
			}
		}
	}
	digits = strings.TrimLeft(intPart+frac, "0")
	if digits == "" {
		digits = "0"
	}
	return neg, digits, exp - len(frac), nil
}

// DecimalLiteral types decimal text by its digits, as Flink types a
// numeric literal with a point: the scale is the number of fraction digits
// and the precision the number of significant digits, but at least scale
// + 1 (0.908 is DECIMAL(4, 3), 12.50 is DECIMAL(4, 2), 5. is DECIMAL(1, 0)). It
// returns the unscaled value, the precision and the scale; an exponent is
// not accepted (that is a DOUBLE literal), nor more than 18 digits.
func DecimalLiteral(text string) (x int64, p, s int, err error) {
	t := strings.TrimSpace(text)
	if strings.ContainsAny(t, "eE") {
		return 0, 0, 0, fmt.Errorf("%q is not a decimal literal (an exponent makes a DOUBLE)", text)
	}
	neg, digits, exp, err := splitDecimal(t)
	if err != nil {
		return 0, 0, 0, err
	}
	s = -exp
	p = max(len(digits), s+1)
	if p > MaxDecimalPrecision {
		return 0, 0, 0, fmt.Errorf("decimal literal %s has %d digits, more than the %d Sluice supports: %w", text, p, MaxDecimalPrecision, ErrDecimalOverflow)
	}
	v, perr := strconv.ParseInt(digits, 10, 64)
	if perr != nil {
		return 0, 0, 0, fmt.Errorf("decimal literal %s: %w", text, ErrDecimalOverflow)
	}
	if neg {
		v = -v
	}
	return v, p, s, nil
}

// RescaleDecimal changes the scale of unscaled value x from scale from to
// scale to, rounding half away from zero when digits are dropped. ok is
// false when the result does not fit in 18 digits (the caller checks its
// own precision with DecimalFits).
func RescaleDecimal(x int64, from, to int) (int64, bool) {
	switch {
	case to == from:
		return x, true
	case to > from:
		d := to - from
		if d > 18 {
			return 0, x == 0
		}
		m := pow10[d]
		if x > math.MaxInt64/m || x < math.MinInt64/m {
			return 0, false
		}
		r := x * m
		return r, DecimalFits(r, 18)
	}
	d := from - to
	if d > 18 {
		return 0, true
	}
	m := pow10[d]
	q, r := x/m, x%m
	if r >= 0 && r*2 >= m && r > 0 {
		q++
	} else if r < 0 && -r*2 >= m {
		q--
	}
	return q, true
}

// DecimalToFloat converts unscaled value x of scale s to the nearest
// DOUBLE.
func DecimalToFloat(x int64, s int) float64 {
	if s == 0 {
		return float64(x)
	}
	if x > -1<<53 && x < 1<<53 {
		return float64(x) / float64(pow10[s]) // both exact: one rounding
	}
	f, _ := strconv.ParseFloat(FormatDecimal(x, s), 64)
	return f
}

// FloatToDecimal converts f to an unscaled value of scale s, rounding half
// away from zero on the shortest decimal form of f (so 0.1 is exactly
// 0.1). ok is false for NaN, infinities and values that do not fit p
// digits.
func FloatToDecimal(f float64, p, s int) (int64, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	x, err := ParseDecimal(strconv.FormatFloat(f, 'g', -1, 64), p, s)
	return x, err == nil
}

// convertToDecimalClass converts x for a vector of type to where one of
// them is a DECIMAL (Vector.AppendValue): rescaled, rounded half away from
// zero; a value that does not convert becomes 0.
func convertToDecimalClass(x Value, to Type) int64 {
	from := 0
	if x.Type.IsDecimal() {
		from = x.Type.Scale()
	}
	if x.Type.Physical() == PhysFloat {
		if !to.IsDecimal() {
			return int64(x.F)
		}
		r, _ := FloatToDecimal(x.F, MaxDecimalPrecision, to.Scale())
		return r
	}
	r, ok := RescaleDecimal(x.I, from, to.Scale())
	if !ok {
		return 0
	}
	if !to.IsDecimal() && from > 0 {
		return x.I / pow10[from] // to an integer type: truncate, as CAST
	}
	return r
}

// ParseDecimalBytes is ParseDecimal of text held in bytes; the common case
// (plain digits, at most s fraction digits, no exponent) does not
// allocate.
func ParseDecimalBytes(text []byte, p, s int) (int64, error) {
	if v, ok := parseDecimalFast(text, p, s); ok {
		return v, nil
	}
	return ParseDecimal(string(text), p, s)
}

// parseDecimalFast parses [-+]digits[.digits] with at most s fraction
// digits and at most 18 digits in all; ok is false for anything else
// (which the exact path then handles or rejects).
func parseDecimalFast[T string | []byte](t T, p, s int) (int64, bool) {
	i, neg := 0, false
	if len(t) > 0 && (t[0] == '-' || t[0] == '+') {
		neg = t[0] == '-'
		i++
	}
	var v int64
	digits, frac, seenPoint, seen := 0, 0, false, false
	for ; i < len(t); i++ {
		c := t[i]
		switch {
		case c >= '0' && c <= '9':
			seen = true
			if v != 0 || c != '0' {
				digits++
			}
			if seenPoint {
				frac++
			}
			v = v*10 + int64(c-'0')
		case c == '.' && !seenPoint:
			seenPoint = true
		default:
			return 0, false
		}
		if digits > 18 || frac > s {
			return 0, false
		}
	}
	if !seen {
		return 0, false
	}
	for ; frac < s; frac++ {
		if v > math.MaxInt64/10 {
			return 0, false
		}
		v *= 10
	}
	if !DecimalFits(v, p) {
		return 0, false
	}
	if neg {
		v = -v
	}
	return v, true
}
