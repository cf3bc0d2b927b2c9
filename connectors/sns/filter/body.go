package filter

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// need is which parts of a message body a policy looks at: everything
// below a leaf key (full), or, for an object level, some of its keys.
// Arrays are transparent: their elements are read with the same need.
type need struct {
	full bool
	keys map[string]*need
}

// needOf is what node n looks at, across its fields and every alternative
// of its "$or"s.
func needOf(n *node) *need {
	nd := &need{keys: map[string]*need{}}
	for _, f := range n.fields {
		sub := &need{full: true}
		if f.child != nil {
			sub = needOf(f.child)
		}
		nd.keys[f.name] = mergeNeed(nd.keys[f.name], sub)
	}
	for _, alts := range n.ors {
		for _, alt := range alts {
			nd = mergeNeed(nd, needOf(alt))
		}
	}
	return nd
}

func mergeNeed(a, b *need) *need {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case a.full || b.full:
		return &need{full: true}
	}
	out := &need{keys: make(map[string]*need, len(a.keys)+len(b.keys))}
	for k, v := range a.keys {
		out.keys[k] = v
	}
	for k, v := range b.keys {
		out.keys[k] = mergeNeed(out.keys[k], v)
	}
	return out
}

// decodeBody decodes the parts of body that nd looks at, as
// encoding/json decodes into an any with UseNumber (map[string]any,
// []any, string, json.Number, bool, nil); keys nobody looks at are
// skipped. It reports false unless body is one valid JSON object.
func decodeBody(body []byte, nd *need) (map[string]any, bool) {
	if !json.Valid(body) {
		return nil, false
	}
	d := bodyDecoder{data: body}
	d.space()
	if d.pos >= len(d.data) || d.data[d.pos] != '{' {
		return nil, false
	}
	obj, _ := d.value(nd).(map[string]any)
	return obj, obj != nil
}

// bodyDecoder reads JSON already checked by json.Valid, so it does not
// check syntax again.
type bodyDecoder struct {
	data []byte
	pos  int
}

func (d *bodyDecoder) space() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// value decodes the value at pos with need nd (nil: skip it).
func (d *bodyDecoder) value(nd *need) any {
	d.space()
	switch c := d.data[d.pos]; c {
	case '{':
		return d.object(nd)
	case '[':
		return d.array(nd)
	case '"':
		raw := d.str()
		if nd == nil {
			return nil
		}
		return unquote(raw)
	case 't':
		d.pos += 4
		return true
	case 'f':
		d.pos += 5
		return false
	case 'n':
		d.pos += 4
		return nil
	default:
		start := d.pos
		for d.pos < len(d.data) {
			c := d.data[d.pos]
			if (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
				d.pos++
				continue
			}
			break
		}
		if nd == nil {
			return nil
		}
		return json.Number(d.data[start:d.pos])
	}
}

func (d *bodyDecoder) object(nd *need) any {
	d.pos++ // {
	var obj map[string]any
	if nd != nil {
		obj = map[string]any{}
	}
	for {
		d.space()
		if d.data[d.pos] == '}' {
			d.pos++
			return obj
		}
		if d.data[d.pos] == ',' {
			d.pos++
			d.space()
		}
		raw := d.str()
		d.space()
		d.pos++ // :
		var sub *need
		var key string
		if nd != nil {
			key = unquote(raw)
			if nd.full {
				sub = nd
			} else {
				sub = nd.keys[key]
			}
		}
		v := d.value(sub)
		if sub != nil {
			obj[key] = v
		}
	}
}

func (d *bodyDecoder) array(nd *need) any {
	d.pos++ // [
	var arr []any
	if nd != nil {
		arr = []any{}
	}
	for {
		d.space()
		if d.data[d.pos] == ']' {
			d.pos++
			return arr
		}
		if d.data[d.pos] == ',' {
			d.pos++
		}
		v := d.value(nd)
		if nd != nil {
			arr = append(arr, v)
		}
	}
}

// str returns the string at pos, quotes included, and moves past it.
func (d *bodyDecoder) str() []byte {
	start := d.pos
	d.pos++ // "
	for {
		i := bytes.IndexAny(d.data[d.pos:], `"\`)
		d.pos += i
		if d.data[d.pos] == '\\' {
			d.pos += 2
			continue
		}
		d.pos++
		return d.data[start:d.pos]
	}
}

// unquote decodes a JSON string, quotes included, as encoding/json does.
func unquote(raw []byte) string {
	in := raw[1 : len(raw)-1]
	if bytes.IndexByte(in, '\\') < 0 && utf8.Valid(in) {
		return string(in)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return ""
	}
	return s
}
