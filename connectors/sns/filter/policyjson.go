package filter

import (
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
)

// maxDepth bounds the nesting of a policy's JSON.
const maxDepth = 64

type jkind uint8

const (
	jNull jkind = iota
	jBool
	jNumber
	jString
	jArray
	jObject
)

// jvalue is a policy's JSON as written, objects keeping the order of their
// keys so that errors name the first offending key.
type jvalue struct {
	kind jkind
	b    bool
	num  float64
	str  string // string value, or the number as written
	arr  []jvalue
	obj  []jmember
}

type jmember struct {
	key string
	val jvalue
}

func (k jkind) String() string {
	switch k {
	case jNull:
		return "null"
	case jBool:
		return "boolean"
	case jNumber:
		return "number"
	case jString:
		return "string"
	case jArray:
		return "array"
	default:
		return "object"
	}
}

func parsePolicyJSON(s string) (jvalue, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	v, err := readValue(dec, "", 0)
	if err != nil {
		return jvalue{}, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return jvalue{}, policyErr("", "invalid JSON: data after the policy object")
	}
	return v, nil
}

func jsonErr(err error) error {
	if errors.Is(err, io.EOF) {
		return policyErr("", "invalid JSON: unexpected end")
	}
	return policyErr("", "invalid JSON: %v", err)
}

// readValue reads one value; key is where it sits, for errors.
func readValue(dec *json.Decoder, key string, depth int) (jvalue, error) {
	if depth > maxDepth {
		return jvalue{}, policyErr(key, "nested more than %d levels", maxDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return jvalue{}, jsonErr(err)
	}
	switch t := tok.(type) {
	case nil:
		return jvalue{kind: jNull}, nil
	case bool:
		return jvalue{kind: jBool, b: t}, nil
	case string:
		return jvalue{kind: jString, str: t}, nil
	case json.Number:
		f, err := strconv.ParseFloat(string(t), 64)
		if err != nil {
			return jvalue{}, policyErr(key, "number %s out of range", t)
		}
		return jvalue{kind: jNumber, num: f, str: string(t)}, nil
	case json.Delim:
		switch t {
		case '[':
			v := jvalue{kind: jArray, arr: []jvalue{}}
			for dec.More() {
				e, err := readValue(dec, key, depth+1)
				if err != nil {
					return jvalue{}, err
				}
				v.arr = append(v.arr, e)
			}
			if _, err := dec.Token(); err != nil {
				return jvalue{}, jsonErr(err)
			}
			return v, nil
		case '{':
			v := jvalue{kind: jObject, obj: []jmember{}}
			seen := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return jvalue{}, jsonErr(err)
				}
				k, ok := kt.(string)
				if !ok {
					return jvalue{}, policyErr(key, "invalid JSON: object key is not a string")
				}
				path := joinKey(key, k)
				if seen[k] {
					return jvalue{}, policyErr(path, "duplicate key")
				}
				seen[k] = true
				e, err := readValue(dec, path, depth+1)
				if err != nil {
					return jvalue{}, err
				}
				v.obj = append(v.obj, jmember{key: k, val: e})
			}
			if _, err := dec.Token(); err != nil {
				return jvalue{}, jsonErr(err)
			}
			return v, nil
		}
	}
	return jvalue{}, policyErr(key, "invalid JSON")
}

func joinKey(parent, k string) string {
	if parent == "" {
		return k
	}
	return parent + "." + k
}
