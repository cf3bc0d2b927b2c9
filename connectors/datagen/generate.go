package datagen

import (
	"math"
	"math/bits"

	"github.com/sluicehq/sluice/runtime"
)

// Every random value of row i of a column is runtime.HashInt64(key + i·gamma)
// — the splitmix64 generator indexed by row instead of stepped — with a key
// derived from the seed and the column name: a pure function of (seed,
// column, i) that costs a few multiplications and no state.
const (
	gamma    = 0x9E3779B97F4A7C15
	nullSalt = 0x5851F42D4C957F2D
	hexDigit = "0123456789abcdef"
	nsPerMs  = uint64(1e6)
)

// column generates the values of one column, a block of rows at a time.
type column struct {
	typ  runtime.Type
	kind kind
	key  uint64 // of the values
	// NULLs: row i is NULL when its null hash is below nullBelow, or always
	// when nullRate is 1.
	nullKey   uint64
	nullRate  float64
	nullBelow uint64

	min  int64  // random INT, BIGINT
	span uint64 // max-min+1; 0 stands for 2^64

	fmin, fmax float64 // random DOUBLE

	start   int64  // sequence: first value; TIMESTAMP: time of row 0
	seqLen  uint64 // sequence: end-start+1; 0 stands for 2^64
	bounded bool   // the sequence has an explicit end

	length int // random VARCHAR

	stepNs  uint64 // TIMESTAMP: clock advance per row
	maxPast uint64 // TIMESTAMP: largest random delay, ms
}

// fillNulls sets null[j] for rows first+j and reports whether any is NULL.
func (c *column) fillNulls(null []bool, first int64) bool {
	if c.nullRate >= 1 {
		for j := range null {
			null[j] = true
		}
		return len(null) > 0
	}
	x := c.nullKey + uint64(first)*gamma
	var any bool
	for j := range null {
		n := runtime.HashInt64(x) < c.nullBelow
		null[j] = n
		any = any || n
		x += gamma
	}
	return any
}

// fill sets v to the values of rows first … first+n-1. null, when not nil,
// marks the rows that are NULL: their values are zero ("" for strings,
// which are then not allocated). buf is scratch space for strings.
func (c *column) fill(v *runtime.Vector, first int64, n int, null []bool, buf *[]byte) {
	v.Resize(n)
	switch {
	case c.typ == runtime.Timestamp:
		c.fillTime(v.I64[:n], first)
	case c.kind == kindSequence:
		c.fillSequence(v.I64[:n], first)
	case c.typ == runtime.Double:
		c.fillDouble(v.F64[:n], first)
	case c.typ == runtime.Varchar:
		c.fillString(v.Str[:n], first, null, buf)
	case c.typ == runtime.Boolean:
		c.fillBool(v.I64[:n], first)
	default:
		c.fillInt(v.I64[:n], first)
	}
	if null == nil {
		return
	}
	switch c.typ.Physical() {
	case runtime.PhysInt:
		for j, isNull := range null {
			if isNull {
				v.I64[j] = 0
			}
		}
	case runtime.PhysFloat:
		for j, isNull := range null {
			if isNull {
				v.F64[j] = 0
			}
		}
	}
	v.Null = null
}

func (c *column) fillInt(out []int64, first int64) {
	x := c.key + uint64(first)*gamma
	if c.span == 0 {
		for j := range out {
			out[j] = int64(runtime.HashInt64(x))
			x += gamma
		}
		return
	}
	lo, span := c.min, c.span
	for j := range out {
		out[j] = lo + int64(mulHi(runtime.HashInt64(x), span))
		x += gamma
	}
}

func (c *column) fillBool(out []int64, first int64) {
	x := c.key + uint64(first)*gamma
	for j := range out {
		out[j] = int64(runtime.HashInt64(x) >> 63)
		x += gamma
	}
}

func (c *column) fillDouble(out []float64, first int64) {
	x := c.key + uint64(first)*gamma
	lo, hi := c.fmin, c.fmax
	span := hi - lo
	if math.IsInf(span, 0) {
		// [-MaxFloat64, MaxFloat64] and the like: interpolate instead.
		for j := range out {
			u := float64(runtime.HashInt64(x)>>11) * 0x1p-53
			out[j] = lo*(1-u) + hi*u
			x += gamma
		}
		return
	}
	for j := range out {
		u := float64(runtime.HashInt64(x)>>11) * 0x1p-53
		out[j] = min(lo+u*span, hi)
		x += gamma
	}
}

// fillSequence writes start + (i mod len): sequences that run out (with
// number-of-rows, or without end past the type's maximum) start again.
func (c *column) fillSequence(out []int64, first int64) {
	off := uint64(first)
	if c.seqLen != 0 {
		off %= c.seqLen
	}
	v := c.start + int64(off)
	left := c.seqLen - off // rows before the wrap; with seqLen 0 (2^64) it wraps as uint64 should
	for j := range out {
		if left == 0 {
			v, left = c.start, c.seqLen
		}
		out[j] = v
		v++
		left--
	}
}

// clock returns the row clock of row i, start + ⌊i·step⌋ in milliseconds,
// and the nanoseconds left over. It is exact for any step (128-bit product);
// past the range of int64 milliseconds it wraps.
func (c *column) clock(i int64) (ms int64, rem uint64) {
	hi, lo := bits.Mul64(uint64(i), c.stepNs)
	q, r := bits.Div64(hi%nsPerMs, lo, nsPerMs)
	return c.start + int64(q), r
}

func (c *column) fillTime(out []int64, first int64) {
	ms, rem := c.clock(first)
	whole, frac := int64(c.stepNs/nsPerMs), c.stepNs%nsPerMs
	if c.maxPast == 0 {
		for j := range out {
			out[j] = ms
			ms += whole
			if rem += frac; rem >= nsPerMs {
				rem -= nsPerMs
				ms++
			}
		}
		return
	}
	x, span := c.key+uint64(first)*gamma, c.maxPast+1
	for j := range out {
		out[j] = ms - int64(mulHi(runtime.HashInt64(x), span))
		x += gamma
		ms += whole
		if rem += frac; rem >= nsPerMs {
			rem -= nsPerMs
			ms++
		}
	}
}

// fillString writes random hexadecimal strings of c.length characters, one
// allocation each; a row's characters come from hashes of its own key.
func (c *column) fillString(out []string, first int64, null []bool, buf *[]byte) {
	if c.length == 0 {
		clear(out)
		return
	}
	if cap(*buf) < c.length {
		*buf = make([]byte, c.length)
	}
	b := (*buf)[:c.length]
	x := c.key + uint64(first)*gamma
	for j := range out {
		if null != nil && null[j] {
			out[j] = ""
			x += gamma
			continue
		}
		y := runtime.HashInt64(x)
		for p := 0; p < len(b); p += 16 {
			w := runtime.HashInt64(y)
			y += gamma
			chunk := b[p:min(p+16, len(b))]
			for q := range chunk {
				chunk[q] = hexDigit[w&15]
				w >>= 4
			}
		}
		out[j] = string(b)
		x += gamma
	}
}
