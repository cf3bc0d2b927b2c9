package format

import (
	"math"
	"strconv"
	"unicode/utf8"

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

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 as U+FFFD.
func AppendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if plainByte[c] {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
