package filter

import (
	"bytes"
	"encoding/json"
	"io"
)

// parseBody decodes a whole message body that must be one JSON object
// with encoding/json: the reference decodeBody is checked against.
func parseBody(body []byte) (map[string]any, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false
	}
	return obj, true
}
