package filter

import (
	"errors"
	"reflect"
	"testing"
)

// FuzzPolicy checks that Compile never panics and gives only *PolicyError,
// and that a compiled policy's Match never panics, whatever the message.
// The seed corpus is every policy and message of the conformance tests.
func FuzzPolicy(f *testing.F) {
	for _, tc := range conformance {
		for _, m := range tc.msgs {
			f.Add(tc.policy, tc.scope == MessageBody, m.body, `["rugby", 1, null, true, {"a": 1}, [2]]`)
		}
	}
	f.Add(`{"$or": [{"a": {"b": ["x"]}}, {"$or": [{"c": [1]}, {"d": [{"exists": false}]}]}]}`, true,
		`{"a": [{"b": ["x", [1, {"c": 2}]]}], "d": null}`, "1e400")
	f.Add(`{"a": [{"numeric": [">", -1e9, "<=", 1e9]}, {"anything-but": {"suffix": ""}}]}`, false, ``, "-0")
	f.Fuzz(func(t *testing.T, policy string, body bool, msg, attr string) {
		scope := MessageAttributes
		if body {
			scope = MessageBody
		}
		p, err := Compile(policy, scope)
		if err != nil {
			var pe *PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("Compile(%q): error %v is not a *PolicyError", policy, err)
			}
			return
		}
		attrs := map[string]Attribute{}
		for _, k := range []string{"a", "b", "c", "d", "store", "price_usd", "customer_interests", "$or"} {
			attrs[k] = Attribute{Type: "String", Value: attr}
		}
		attrs["n"] = Attribute{Type: "Number", Value: attr}
		attrs["s"] = Attribute{Type: "String.Array", Value: attr}
		attrs["x"] = Attribute{Type: "String.Array", Value: msg}
		got := p.Match(attrs, []byte(msg))
		p.Match(nil, nil)
		if scope == MessageBody {
			obj, ok := parseBody([]byte(msg))
			if want := p.root.empty() || (ok && p.root.matchBody(obj)); got != want {
				t.Fatalf("policy %s, body %q: Match = %v, with the whole body decoded %v", policy, msg, got, want)
			}
		}
	})
}

// FuzzBodyDecode checks decodeBody, reading all of a body, against
// encoding/json.
func FuzzBodyDecode(f *testing.F) {
	for _, tc := range conformance {
		for _, m := range tc.msgs {
			f.Add([]byte(m.body))
		}
	}
	f.Add([]byte(`{"a\u00e9\"": ["\ud83d\ude00", "\xff", 1.5e-3, -0, true, false, null, {}, []], "a": 1, "a": {"b": "x"}}`))
	f.Add([]byte("{\"\xff\": \"\xfe\"} \n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		got, gotOK := decodeBody(body, &need{full: true})
		want, wantOK := parseBody(body)
		if gotOK != wantOK || !reflect.DeepEqual(got, want) {
			t.Fatalf("body %q: decodeBody = %v, %v; encoding/json = %v, %v", body, got, gotOK, want, wantOK)
		}
	})
}
