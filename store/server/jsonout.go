package server

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
)

// jsonBody is an answer already encoded as JSON, byte for byte what
// json.Encoder would write for the same value (with its trailing newline).
// It lives in a pooled buffer: ServeHTTP writes it and hands the buffer back.
type jsonBody []byte

// appendJSONString appends s as a JSON string, escaped exactly as
// encoding/json escapes it (HTML characters included).
func appendJSONString[S string | []byte](b []byte, s S) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			m, _ := json.Marshal(string(s)) // rare: let encoding/json escape it
			return append(b, m...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendJSONFloat appends f as encoding/json writes a float64.
func appendJSONFloat(b []byte, f float64) []byte {
	if abs := math.Abs(f); math.IsNaN(f) || math.IsInf(f, 0) || (abs != 0 && (abs < 1e-6 || abs >= 1e21)) {
		m, _ := json.Marshal(f) // exponent form (or an error, written as nothing)
		return append(b, m...)
	}
	return strconv.AppendFloat(b, f, 'f', -1, 64)
}

// appendJSONBytes appends data as encoding/json writes a []byte: base64, or
// null for nil.
func appendJSONBytes(b []byte, data []byte) []byte {
	if data == nil {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, data)
	return append(b, '"')
}

// appendJSON appends v marshalled by encoding/json, for the rare parts of an
// answer not worth encoding by hand.
func appendJSON(b []byte, v any) ([]byte, error) {
	m, err := json.Marshal(v)
	if err != nil {
		return b, err
	}
	return append(b, m...), nil
}
