package format

import (
	"math"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/sluicehq/sluice/internal/jsontext"
	"github.com/sluicehq/sluice/runtime"
)

// AppendJSON appends present row i of b (physical row b.Row(i)) to dst as a
// JSON object keyed by column name, without a line break, and returns the
// extended buffer: NULL as null, BOOLEAN as true/false, TIMESTAMP as
// "2026-11-25T10:00:00.000Z", DOUBLE as runtime.FormatFloat prints it (NaN
// and infinities as null), strings escaped (invalid UTF-8 as U+FFFD).
// The fields of a ROW column, flattened into columns named row.field, are
// written as one nested object "row":{"field":…} where the first of them
// stands.
func AppendJSON(dst []byte, b *runtime.Batch, i int) []byte {
	r := b.Row(i)
	if flatSchema.Load() != b.Schema {
		for _, f := range b.Schema.Fields {
			if strings.IndexByte(f.Name, '.') > 0 {
				return appendJSONMembers(dst, b, r, nil, 0)
			}
		}
		flatSchema.Store(b.Schema)
	}
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

// flatSchema is the last schema AppendJSON found without ROW fields, so
// that writing its rows skips looking for them.
var flatSchema atomic.Pointer[runtime.Schema]

// appendJSONMembers appends the columns cols (nil: all) as a JSON object,
// the columns' names less their first skip bytes as keys; columns whose
// keys so far share a prefix up to a dot (the fields of a ROW) are grouped
// into one nested object under that prefix.
func appendJSONMembers(dst []byte, b *runtime.Batch, r int, cols []int, skip int) []byte {
	if cols == nil {
		cols = make([]int, len(b.Schema.Fields))
		for c := range cols {
			cols[c] = c
		}
	}
	fields := b.Schema.Fields
	done := make([]bool, len(cols))
	dst = append(dst, '{')
	first := true
	for j, c := range cols {
		if done[j] {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		name := fields[c].Name[skip:]
		dot := strings.IndexByte(name, '.')
		if dot <= 0 {
			dst = AppendJSONString(dst, name)
			dst = append(dst, ':')
			dst = appendJSONValue(dst, &b.Cols[c], r)
			continue
		}
		prefix := name[:dot+1]
		var group []int
		for k := j; k < len(cols); k++ {
			if !done[k] && strings.HasPrefix(fields[cols[k]].Name[skip:], prefix) {
				done[k] = true
				group = append(group, cols[k])
			}
		}
		dst = AppendJSONString(dst, name[:dot])
		dst = append(dst, ':')
		dst = appendJSONMembers(dst, b, r, group, skip+dot+1)
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
