package expr

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/runtime"
)

// cast compiles CAST(x AS to); e is nil for the implicit conversions of
// numeric promotion.
func (c *compiler) cast(x *node, to runtime.Type, e Expr) (*node, error) {
	if !to.Valid() {
		return nil, errorf(e, "cannot cast to %s", to)
	}
	from := x.typ
	switch {
	case isNullConst(x):
		return constNode(runtime.NullValue(to)), nil
	case from == to:
		return x, nil
	case from == runtime.Boolean && to == runtime.Timestamp, from == runtime.Timestamp && to == runtime.Boolean:
		return nil, errorf(e, "cannot cast %s to %s", from, to)
	}
	if from.IsDecimal() || to.IsDecimal() {
		ev, ok := decimalCast(from, to, x)
		if !ok {
			return nil, errorf(e, "cannot cast %s to %s", from, to)
		}
		mayFail := to != runtime.Double && to != runtime.Varchar && to != runtime.Boolean
		n := &node{typ: to, nullable: x.nullable || mayFail, col: -1, eval: ev}
		return fold(n, x), nil
	}
	n := &node{typ: to, nullable: x.nullable || castMayFail(from, to), col: -1}
	n.eval = castEval(from, to, x)
	return fold(n, x), nil
}

// castMayFail reports whether converting a value of from to can give NULL.
func castMayFail(from, to runtime.Type) bool {
	switch {
	case from == runtime.Varchar:
		return true
	case from == runtime.Double:
		return to == runtime.Int || to == runtime.BigInt || to == runtime.Timestamp
	case to == runtime.Int:
		return from == runtime.BigInt || from == runtime.Timestamp
	}
	return false
}

func castEval(from, to runtime.Type, x *node) evalFunc {
	toPhys := to.Physical()
	switch from.Physical() {
	case runtime.PhysInt:
		switch {
		case to == runtime.Int:
			return convert(to, x, i64, i64, func(v int64) (int64, bool) {
				return v, v >= math.MinInt32 && v <= math.MaxInt32
			})
		case to == runtime.Boolean:
			return convert(to, x, i64, i64, func(v int64) (int64, bool) { return b2i(v != 0), true })
		case toPhys == runtime.PhysInt: // same values, another type
			var xs vec
			var view runtime.Vector
			return func(b *runtime.Batch, _ *vec) *runtime.Vector {
				view = *x.eval(b, &xs)
				view.Type = to
				return &view
			}
		case toPhys == runtime.PhysFloat:
			return intToFloat(x)
		}
		return convert(to, x, i64, str, func(v int64) (string, bool) {
			return runtime.Value{Type: from, I: v}.String(), true
		})
	case runtime.PhysFloat:
		switch to {
		case runtime.Boolean:
			return convert(to, x, f64, i64, func(v float64) (int64, bool) { return b2i(v != 0), true })
		case runtime.Int:
			return convert(to, x, f64, i64, func(v float64) (int64, bool) {
				t := math.Trunc(v)
				return int64(t), t >= math.MinInt32 && t <= math.MaxInt32
			})
		case runtime.Varchar:
			return convert(to, x, f64, str, func(v float64) (string, bool) { return runtime.FormatFloat(v), true })
		}
		return convert(to, x, f64, i64, func(v float64) (int64, bool) {
			t := math.Trunc(v)
			if !(t >= -(1<<63) && t < 1<<63) { // also NaN
				return 0, false
			}
			return int64(t), true
		})
	}
	switch to {
	case runtime.Boolean:
		return convert(to, x, str, i64, parseBool)
	case runtime.Int:
		return convert(to, x, str, i64, func(s string) (int64, bool) {
			v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
			return v, err == nil
		})
	case runtime.BigInt:
		return convert(to, x, str, i64, func(s string) (int64, bool) {
			v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			return v, err == nil
		})
	case runtime.Double:
		return convert(to, x, str, f64, func(s string) (float64, bool) {
			v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			return v, err == nil
		})
	}
	return convert(to, x, str, i64, parseTimestamp)
}

// convert maps every non-NULL row of x through f; f reports false for a
// value it cannot convert, which becomes NULL.
func convert[S, T any](to runtime.Type, x *node, in func(*runtime.Vector) []S, out func(*runtime.Vector) []T, f func(S) (T, bool)) evalFunc {
	var xs vec
	return func(b *runtime.Batch, dst *vec) *runtime.Vector {
		n := b.Len()
		a := x.eval(b, &xs)
		o := dst.reset(to, n)
		dst.setNulls(n, a.Null, nil)
		ov := out(o)[:n]
		var zero T
		for i, v := range in(a)[:n] {
			if a.Null != nil && a.Null[i] {
				ov[i] = zero
				continue
			}
			r, ok := f(v)
			ov[i] = r
			if !ok {
				dst.nulls(n)[i] = true
			}
		}
		return o
	}
}

func intToFloat(x *node) evalFunc {
	var xs vec
	return func(b *runtime.Batch, dst *vec) *runtime.Vector {
		n := b.Len()
		a := x.eval(b, &xs)
		o := dst.reset(runtime.Double, n)
		ov := o.F64[:n]
		for i, v := range a.I64[:n] {
			ov[i] = float64(v)
		}
		dst.setNulls(n, a.Null, nil)
		return o
	}
}

func parseBool(s string) (int64, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "t", "yes", "y", "1":
		return 1, true
	case "false", "f", "no", "n", "0":
		return 0, true
	}
	return 0, false
}

var timestampLayouts = []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05", time.RFC3339Nano, "2006-01-02"}

// parseTimestamp reads a timestamp in UTC (fractional seconds allowed).
func parseTimestamp(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	for _, l := range timestampLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UnixMilli(), true
		}
	}
	return 0, false
}
