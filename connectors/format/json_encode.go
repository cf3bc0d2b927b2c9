package format

import (
	"math"
	"strconv"

	"github.com/sluicehq/sluice/internal/jsontext"
	"github.com/sluicehq/sluice/runtime"
)

// AppendJSON appends present row i of b (physical row b.Row(i)) to dst as a
// JSON object keyed by column name, without a line break, and returns the
// extended buffer: NULL as null, BOOLEAN as true/false, TIMESTAMP as
// "2026-11-25T10:00:00.000Z", DOUBLE as runtime.FormatFloat prints it (NaN
// and infinities as null), strings escaped (invalid UTF-8 as U+FFFD).
func AppendJSON(dst []byte, b *runtime.Batch, i int) []byte {
	r := b.Row(i)
	dst = append(dst, '{')
	for c, f := range b.Schema.Fields {
		if c > 0 {
			dst = append(dst, ',')
		}
		dst = AppendJSONString(dst, f.Name)
		dst = append(dst, ':')
		dst = appendJSONValue(dst, &b.Cols[c], r)
	}
	return append(dst, '}')
}

func appendJSONValue(dst []byte, v *runtime.Vector, r int) []byte {
	if v.IsNull(r) {
		return append(dst, "null"...)
	}
	if v.Type.IsDecimal() { // a JSON number with exactly s fraction digits
		return runtime.AppendDecimal(dst, v.I64[r], v.Type.Scale())
	}
	switch v.Type {
	case runtime.Varchar:
		return AppendJSONString(dst, v.Str[r])
	case runtime.Double:
		f := v.F64[r]
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return append(dst, "null"...)
		}
		return appendDouble(dst, f)
	case runtime.Boolean:
		if v.I64[r] != 0 {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case runtime.Timestamp:
		return appendTimestamp(dst, v.I64[r], true)
	}
	return strconv.AppendInt(dst, v.I64[r], 10)
}

// AppendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 as U+FFFD.
func AppendJSONString(dst []byte, s string) []byte { return jsontext.AppendString(dst, s) }
