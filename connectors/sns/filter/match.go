package filter

import (
	"encoding/json"
	"math"
	"net/netip"
	"strconv"
	"strings"
)

type vkind uint8

const (
	vString vkind = iota
	vNumber
	vNull
	vTrue
	vFalse
)

// value is one scalar of a message: an attribute's value, an element of a
// String.Array, or a leaf of the body.
type value struct {
	kind vkind
	s    string
	n    float64 // scaled, see scale
}

// match reports whether the values found at a key pass its conditions.
// No values at all means the key is missing.
func (lf *leaf) match(vals []value) bool {
	if len(vals) == 0 {
		return lf.existsFalse
	}
	if lf.existsTrue {
		return true
	}
	for i := range vals {
		if lf.matchValue(&vals[i]) {
			return true
		}
	}
	return false
}

func (lf *leaf) matchValue(v *value) bool {
	switch v.kind {
	case vString:
		for _, s := range lf.strs {
			if s == v.s {
				return true
			}
		}
	case vNumber:
		for _, n := range lf.nums {
			if n == v.n {
				return true
			}
		}
	case vNull:
		if lf.null {
			return true
		}
	case vTrue:
		if lf.boolTrue {
			return true
		}
	case vFalse:
		if lf.boolFalse {
			return true
		}
	}
	for i := range lf.conds {
		if lf.conds[i].match(v) {
			return true
		}
	}
	return false
}

func (c *cond) match(v *value) bool {
	switch c.kind {
	case condPrefix:
		return v.kind == vString && strings.HasPrefix(v.s, c.s)
	case condSuffix:
		return v.kind == vString && strings.HasSuffix(v.s, c.s)
	case condEqualsIgnoreCase:
		return v.kind == vString && strings.EqualFold(v.s, c.s)
	case condNumeric:
		if v.kind != vNumber {
			return false
		}
		if v.n < c.lo || (v.n == c.lo && !c.loIncl) {
			return false
		}
		return v.n < c.hi || (v.n == c.hi && c.hiIncl)
	case condButStrings:
		if v.kind != vString {
			return false
		}
		for _, s := range c.strs {
			if s == v.s {
				return false
			}
		}
		return true
	case condButNumbers:
		if v.kind != vNumber {
			return false
		}
		for _, n := range c.nums {
			if n == v.n {
				return false
			}
		}
		return true
	case condButPrefix:
		return v.kind == vString && !strings.HasPrefix(v.s, c.s)
	case condButSuffix:
		return v.kind == vString && !strings.HasSuffix(v.s, c.s)
	case condButEqualsIgnoreCase:
		return v.kind == vString && !strings.EqualFold(v.s, c.s)
	case condCIDR:
		if v.kind != vString {
			return false
		}
		ip, err := netip.ParseAddr(v.s)
		return err == nil && c.prefix.Contains(ip.Unmap())
	}
	return false
}

// matchAttrs matches a flat policy against message attributes.
func (n *node) matchAttrs(attrs map[string]Attribute) bool {
	var buf [8]value
	for i := range n.fields {
		f := &n.fields[i]
		var vals []value
		if a, ok := attrs[f.name]; ok {
			vals = attrValues(a, buf[:0])
		}
		if !f.leaf.match(vals) {
			return false
		}
	}
	for _, alts := range n.ors {
		ok := false
		for _, alt := range alts {
			if alt.matchAttrs(attrs) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// attrValues appends the values of an attribute to dst. Types other than
// String, Number and String.Array (Binary) have none, as if missing;
// custom type labels ("Number.float", "String.id") count as their base
// type.
func attrValues(a Attribute, dst []value) []value {
	switch {
	case a.Type == "String.Array":
		dec := json.NewDecoder(strings.NewReader(a.Value))
		dec.UseNumber()
		var arr []any
		if err := dec.Decode(&arr); err != nil {
			return dst
		}
		for _, e := range arr {
			dst = appendLeaf(dst, e)
		}
		return dst
	case strings.HasPrefix(a.Type, "Number"):
		if v, ok := parseNumber(strings.TrimSpace(a.Value)); ok {
			dst = append(dst, value{kind: vNumber, n: v})
		}
		return dst
	case strings.HasPrefix(a.Type, "String"):
		return append(dst, value{kind: vString, s: a.Value})
	}
	return dst
}

func parseNumber(s string) (float64, bool) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !isRangeErr(err) {
		return 0, false
	}
	if math.IsNaN(f) {
		return 0, false
	}
	return scale(f), true
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// appendLeaf appends the scalars of a decoded JSON value: itself, or the
// elements of an array, flattened. Objects have no scalars.
func appendLeaf(dst []value, v any) []value {
	switch t := v.(type) {
	case string:
		return append(dst, value{kind: vString, s: t})
	case json.Number:
		if f, ok := parseNumber(string(t)); ok {
			return append(dst, value{kind: vNumber, n: f})
		}
	case bool:
		if t {
			return append(dst, value{kind: vTrue})
		}
		return append(dst, value{kind: vFalse})
	case nil:
		return append(dst, value{kind: vNull})
	case []any:
		for _, e := range t {
			dst = appendLeaf(dst, e)
		}
	}
	return dst
}

// matchBody matches one object level of a policy against the body's value
// at that level. An array matches when one of its elements matches the
// whole level, so that keys of one level are tested on the same element.
func (n *node) matchBody(v any) bool {
	switch t := v.(type) {
	case map[string]any:
		return n.matchObject(t)
	case []any:
		for _, e := range t {
			if n.matchBody(e) {
				return true
			}
		}
		if len(t) > 0 {
			return false
		}
	}
	return n.matchObject(nil)
}

func (n *node) matchObject(obj map[string]any) bool {
	var buf [8]value
	for i := range n.fields {
		f := &n.fields[i]
		v, ok := obj[f.name]
		if f.child != nil {
			if !f.child.matchBody(v) {
				return false
			}
			continue
		}
		var vals []value
		if ok {
			vals = appendLeaf(buf[:0], v)
		}
		if !f.leaf.match(vals) {
			return false
		}
	}
	for _, alts := range n.ors {
		ok := false
		for _, alt := range alts {
			if alt.matchObject(obj) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}
