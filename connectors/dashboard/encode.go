package dashboard

import (
	"encoding/json"
	"math"
	"strconv"

	"github.com/sluicehq/sluice/runtime"
)

// maxSafe is the largest integer a JSON reader (JavaScript) holds exactly.
const maxSafe = 1 << 53

// appendValue appends a value as JSON: numbers as numbers (an integer
// beyond ±2^53 as a string, which JavaScript would round), TIMESTAMP as
// epoch milliseconds, DECIMAL as a string, NaN and infinities as strings,
// NULL as null. It writes what encoding/json writes for jsonValue(v).
func appendValue(b []byte, v runtime.Value) []byte {
	if v.Null {
		return append(b, "null"...)
	}
	switch v.Type.Kind() {
	case runtime.Boolean:
		return strconv.AppendBool(b, v.I != 0)
	case runtime.Double:
		return appendFloat(b, v.F)
	case runtime.Varchar:
		return appendString(b, v.S)
	case runtime.Decimal:
		b = append(b, '"')
		b = append(b, runtime.FormatDecimal(v.I, v.Type.Scale())...)
		return append(b, '"')
	default:
		if v.I > maxSafe || v.I < -maxSafe {
			b = append(b, '"')
			b = strconv.AppendInt(b, v.I, 10)
			return append(b, '"')
		}
		return strconv.AppendInt(b, v.I, 10)
	}
}

// appendFloat writes f as encoding/json does; NaN and infinities, which
// JSON lacks, as strings.
func appendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		b = append(b, '"')
		b = strconv.AppendFloat(b, f, 'g', -1, 64)
		return append(b, '"')
	}
	format := byte('f')
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 → e-9, as encoding/json writes it.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendString writes s as a JSON string: plain printable ASCII directly,
// anything else through encoding/json.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// jsonValue is the Go value of a row's value in a Snapshot: what
// appendValue writes, decoded.
func jsonValue(v runtime.Value) any {
	if v.Null {
		return nil
	}
	switch v.Type.Kind() {
	case runtime.Boolean:
		return v.I != 0
	case runtime.Double:
		if math.IsNaN(v.F) || math.IsInf(v.F, 0) {
			return strconv.FormatFloat(v.F, 'g', -1, 64)
		}
		return v.F
	case runtime.Varchar:
		return v.S
	case runtime.Decimal:
		return runtime.FormatDecimal(v.I, v.Type.Scale())
	default:
		if v.I > maxSafe || v.I < -maxSafe {
			return strconv.FormatInt(v.I, 10)
		}
		return v.I
	}
}

// decodeRow turns an encoded row back into the Go values jsonValue gives:
// integers as int64, DOUBLE as float64, strings as strings.
func decodeRow(row string, types []runtime.Type) []any {
	var raw []json.RawMessage
	if err := json.Unmarshal([]byte(row), &raw); err != nil || len(raw) != len(types) {
		return nil
	}
	out := make([]any, len(raw))
	for i, r := range raw {
		var v any
		if len(r) > 0 && r[0] != '"' && string(r) != "null" && string(r) != "true" && string(r) != "false" {
			if types[i].Kind() == runtime.Double {
				v, _ = strconv.ParseFloat(string(r), 64)
			} else {
				v, _ = strconv.ParseInt(string(r), 10, 64)
			}
		} else {
			_ = json.Unmarshal(r, &v)
		}
		out[i] = v
	}
	return out
}
