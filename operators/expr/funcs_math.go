package expr

import (
	"math"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/runtime"
)

// Math functions. Their DOUBLE results are NULL rather than NaN or ±Inf
// where the mathematical function is undefined (SQRT(-1), LN(0), LOG(1,
// x)), as division by zero is NULL: one bad row never poisons a sum.

func init() {
	for name, f := range map[string]function{
		"POWER":    {2, 2, doubleFunc(func(v []float64) float64 { return math.Pow(v[0], v[1]) })},
		"POW":      {2, 2, doubleFunc(func(v []float64) float64 { return math.Pow(v[0], v[1]) })},
		"SQRT":     {1, 1, doubleFunc(func(v []float64) float64 { return math.Sqrt(v[0]) })},
		"LN":       {1, 1, doubleFunc(func(v []float64) float64 { return math.Log(v[0]) })},
		"LOG10":    {1, 1, doubleFunc(func(v []float64) float64 { return math.Log10(v[0]) })},
		"LOG2":     {1, 1, doubleFunc(func(v []float64) float64 { return math.Log2(v[0]) })},
		"LOG":      {1, 2, logFunc},
		"EXP":      {1, 1, doubleFunc(func(v []float64) float64 { return math.Exp(v[0]) })},
		"SIN":      {1, 1, doubleFunc(func(v []float64) float64 { return math.Sin(v[0]) })},
		"COS":      {1, 1, doubleFunc(func(v []float64) float64 { return math.Cos(v[0]) })},
		"TAN":      {1, 1, doubleFunc(func(v []float64) float64 { return math.Tan(v[0]) })},
		"ASIN":     {1, 1, doubleFunc(func(v []float64) float64 { return math.Asin(v[0]) })},
		"ACOS":     {1, 1, doubleFunc(func(v []float64) float64 { return math.Acos(v[0]) })},
		"ATAN":     {1, 1, doubleFunc(func(v []float64) float64 { return math.Atan(v[0]) })},
		"ATAN2":    {2, 2, doubleFunc(func(v []float64) float64 { return math.Atan2(v[0], v[1]) })},
		"DEGREES":  {1, 1, doubleFunc(func(v []float64) float64 { return v[0] * 180 / math.Pi })},
		"RADIANS":  {1, 1, doubleFunc(func(v []float64) float64 { return v[0] * math.Pi / 180 })},
		"PI":       {0, 0, func(*compiler, *callExpr, []*node) (*node, error) { return constNode(runtime.FloatValue(math.Pi)), nil }},
		"E":        {0, 0, func(*compiler, *callExpr, []*node) (*node, error) { return constNode(runtime.FloatValue(math.E)), nil }},
		"SIGN":     {1, 1, sign},
		"GREATEST": {1, -1, greatestLeast(true)},
		"LEAST":    {1, -1, greatestLeast(false)},
		"TRUNCATE": {1, 2, truncate},
	} {
		functions[name] = f
	}
}

// doubleFunc compiles a function of numeric arguments (DECIMAL ones too, as
// the literal 2.5) computed in DOUBLE: NULL if an argument is NULL or the
// result is NaN or infinite (while the arguments are finite).
func doubleFunc(f func([]float64) float64) func(*compiler, *callExpr, []*node) (*node, error) {
	return func(c *compiler, e *callExpr, args []*node) (*node, error) {
		if err := checkArgs(e, args, "d"); err != nil {
			return nil, err
		}
		if n := anyNullConst(runtime.Double, args); n != nil {
			return n, nil
		}
		for i, a := range args {
			args[i] = c.coerce(a, runtime.Double)
		}
		v := make([]float64, len(args))
		return rowKernel(runtime.Double, true, args, func(p []*runtime.Vector, i int, out *runtime.Vector) bool {
			finite := true
			for k, x := range p {
				v[k] = x.F64[i]
				finite = finite && !math.IsInf(v[k], 0) && !math.IsNaN(v[k])
			}
			r := f(v)
			out.F64[i] = r
			return !math.IsNaN(r) && (!finite || !math.IsInf(r, 0))
		}), nil
	}
}

// logFunc compiles LOG(x), the natural logarithm, and LOG(b, x), the
// logarithm of x to base b.
func logFunc(c *compiler, e *callExpr, args []*node) (*node, error) {
	if len(args) == 1 {
		return doubleFunc(func(v []float64) float64 { return math.Log(v[0]) })(c, e, args)
	}
	return doubleFunc(func(v []float64) float64 { return math.Log(v[1]) / math.Log(v[0]) })(c, e, args)
}

// sign compiles SIGN(x): -1, 0 or 1 in x's type.
func sign(c *compiler, e *callExpr, args []*node) (*node, error) {
	if err := checkArgs(e, args, "n"); err != nil {
		return nil, err
	}
	x := args[0]
	if isNullConst(x) {
		return x, nil
	}
	n := &node{typ: x.typ, nullable: x.nullable, col: -1}
	if x.typ == runtime.Double {
		n.eval = convert(x.typ, x, f64, f64, func(v float64) (float64, bool) {
			switch {
			case v > 0:
				return 1, true
			case v < 0:
				return -1, true
			}
			return v, true // 0, -0 and NaN
		})
	} else {
		n.eval = convert(x.typ, x, i64, i64, func(v int64) (int64, bool) { return int64(b2i(v > 0)) - int64(b2i(v < 0)), true })
	}
	return fold(n, x), nil
}

// greatestLeast compiles GREATEST and LEAST(a, ...): the largest or
// smallest argument, NULL if any is NULL (as Flink). Numbers promote to
// their common type; VARCHARs, TIMESTAMPs and BOOLEANs compare with their
// own type.
func greatestLeast(greatest bool) func(*compiler, *callExpr, []*node) (*node, error) {
	return func(c *compiler, e *callExpr, args []*node) (*node, error) {
		typ, err := commonType(args, e, e.name+" arguments")
		if err != nil {
			return nil, err
		}
		if n := anyNullConst(typ, args); n != nil {
			return n, nil
		}
		for i, a := range args {
			args[i] = c.coerce(a, typ)
		}
		better := func(a, b int) bool { return a > b }
		if !greatest {
			better = func(a, b int) bool { return a < b }
		}
		switch typ.Physical() {
		case runtime.PhysFloat:
			return rowKernel(typ, false, args, func(p []*runtime.Vector, i int, out *runtime.Vector) bool {
				m := p[0].F64[i]
				for _, x := range p[1:] {
					v := x.F64[i]
					if better(cmpFloat(v, m), 0) {
						m = v
					}
				}
				out.F64[i] = m
				return true
			}), nil
		case runtime.PhysString:
			return rowKernel(typ, false, args, func(p []*runtime.Vector, i int, out *runtime.Vector) bool {
				m := p[0].Str[i]
				for _, x := range p[1:] {
					if v := x.Str[i]; better(cmpString(v, m), 0) {
						m = v
					}
				}
				out.Str[i] = m
				return true
			}), nil
		}
		return rowKernel(typ, false, args, func(p []*runtime.Vector, i int, out *runtime.Vector) bool {
			m := p[0].I64[i]
			for _, x := range p[1:] {
				if v := x.I64[i]; better(cmpInt(v, m), 0) {
					m = v
				}
			}
			out.I64[i] = m
			return true
		}), nil
	}
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// cmpFloat orders NaN above every number, as Java's Double.compare.
func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	case a == b:
		return 0
	case math.IsNaN(a) && math.IsNaN(b):
		return 0
	case math.IsNaN(a):
		return 1
	}
	return -1
}

// truncate compiles TRUNCATE(x[, d]): x cut toward zero to d decimal
// places (d < 0 zeroes digits left of the point); x's type.
func truncate(c *compiler, e *callExpr, args []*node) (*node, error) {
	if err := checkArgs(e, args, "ni"); err != nil {
		return nil, err
	}
	if len(args) == 1 {
		args = append(args, constNode(runtime.IntValue(0)))
	}
	x := args[0]
	if n := anyNullConst(x.typ, args); n != nil {
		return n, nil
	}
	if x.typ == runtime.Double {
		return rowKernel(x.typ, false, args, func(p []*runtime.Vector, i int, out *runtime.Vector) bool {
			out.F64[i] = truncFloat(p[0].F64[i], p[1].I64[i])
			return true
		}), nil
	}
	return rowKernel(x.typ, false, args, func(p []*runtime.Vector, i int, out *runtime.Vector) bool {
		v, d := p[0].I64[i], p[1].I64[i]
		if d < 0 {
			if d < -18 {
				v = 0
			} else {
				q := int64(1)
				for range -d {
					q *= 10
				}
				v = v / q * q
			}
		}
		out.I64[i] = v
		return true
	}), nil
}

// truncFloat cuts x toward zero to d decimal places, on the shortest
// decimal form of x (TRUNCATE(0.29, 2) is 0.29 although the double is a
// little below it).
func truncFloat(x float64, d int64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) || x == 0 {
		return x
	}
	s := strconv.FormatFloat(math.Abs(x), 'f', -1, 64)
	whole, frac, _ := strings.Cut(s, ".")
	if d >= 0 {
		if int64(len(frac)) > d {
			frac = frac[:d]
		}
	} else {
		frac = ""
		if k := -d; k >= int64(len(whole)) {
			whole = "0"
		} else {
			whole = whole[:int64(len(whole))-k] + strings.Repeat("0", int(k))
		}
	}
	r, _ := strconv.ParseFloat(whole+"."+frac+"0", 64)
	return math.Copysign(r, x)
}
