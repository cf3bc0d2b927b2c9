package filter

import (
	"errors"
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
		p.Match(attrs, []byte(msg))
		p.Match(nil, nil)
	})
}
