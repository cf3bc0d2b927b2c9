package filter

import (
	"errors"
	"strings"
	"testing"
)

func str(v string) Attribute { return Attribute{Type: "String", Value: v} }
func num(v string) Attribute { return Attribute{Type: "Number", Value: v} }
func arr(v string) Attribute { return Attribute{Type: "String.Array", Value: v} }

type attrs = map[string]Attribute

// msg is one message of a conformance case and whether the policy passes it.
type msg struct {
	attrs attrs  // MessageAttributes scope
	body  string // MessageBody scope
	want  bool
}

type conformanceCase struct {
	name   string
	scope  Scope
	policy string
	msgs   []msg
}

// The example message of the SNS documentation, as attributes and as body.
var (
	docAttrs = attrs{
		"customer_interests": arr(`["soccer", "rugby", "hockey"]`),
		"store":              str("example_corp"),
		"event":              str("order_placed"),
		"price_usd":          num("210.75"),
	}
	docBody = `{"customer_interests": ["soccer", "rugby", "hockey"], "store": "example_corp",
		"event": "order_placed", "price_usd": 210.75}`
)

var conformance = []conformanceCase{
	// The documentation's examples: one message, policies that pass it
	// and policies that do not, in both scopes.
	{name: "doc accepting policy", policy: `{
		"store": ["example_corp"],
		"event": [{"anything-but": "order_cancelled"}],
		"customer_interests": ["rugby", "football", "baseball"],
		"price_usd": [{"numeric": [">=", 100]}]}`,
		msgs: []msg{{attrs: docAttrs, want: true}}},
	{name: "doc accepting policy body", scope: MessageBody, policy: `{
		"store": ["example_corp"],
		"event": [{"anything-but": "order_cancelled"}],
		"customer_interests": ["rugby", "football", "baseball"],
		"price_usd": [{"numeric": [">=", 100]}]}`,
		msgs: []msg{{body: docBody, want: true}}},
	{name: "doc rejecting policy", policy: `{
		"store": ["example_corp"],
		"event": ["order_cancelled"],
		"encrypted": [false],
		"customer_interests": ["basketball", "baseball"]}`,
		msgs: []msg{{attrs: docAttrs, want: false}}},
	{name: "doc key matching exists true", policy: `{"store": [{"exists": true}]}`,
		msgs: []msg{
			{attrs: attrs{"store": str("fans"), "customer_interests": arr(`["baseball", "basketball"]`)}, want: true},
			{attrs: attrs{"customer_interests": arr(`["baseball", "basketball"]`)}, want: false},
		}},
	{name: "doc key matching exists false body", scope: MessageBody, policy: `{"store": [{"exists": false}]}`,
		msgs: []msg{
			{body: `{"store": "fans", "customer_interests": ["baseball", "basketball"]}`, want: false},
			{body: `{"customer_interests": ["baseball", "basketball"]}`, want: true},
		}},
	{name: "doc rejecting: store", policy: `{"store": ["other_corp"], "event": ["order_placed"]}`,
		msgs: []msg{{attrs: docAttrs, want: false}}},
	{name: "doc rejecting: missing key", policy: `{"store": ["example_corp"], "encrypted": [false]}`,
		msgs: []msg{{attrs: docAttrs, want: false}}},
	{name: "doc rejecting: price range", policy: `{"price_usd": [{"numeric": [">", 0, "<", 200]}]}`,
		msgs: []msg{{attrs: docAttrs, want: false}}},
	{name: "doc rejecting: interests", policy: `{"customer_interests": ["basketball"]}`,
		msgs: []msg{{attrs: docAttrs, want: false}}},
	{name: "doc rejecting body", scope: MessageBody,
		policy: `{"store": ["example_corp"], "event": [{"anything-but": ["order_placed", "order_cancelled"]}]}`,
		msgs:   []msg{{body: docBody, want: false}}},
	{name: "doc AND logic", policy: `{"customer_interests": ["rugby"], "price_usd": [{"numeric": [">", 100]}]}`,
		msgs: []msg{
			{attrs: attrs{"customer_interests": str("rugby"), "price_usd": num("100.1")}, want: true},
			{attrs: attrs{"customer_interests": str("rugby"), "price_usd": num("100")}, want: false},
			{attrs: attrs{"customer_interests": str("rugby")}, want: false},
		}},
	{name: "doc OR within a key", policy: `{"customer_interests": ["rugby", "football", "baseball"]}`,
		msgs: []msg{
			{attrs: attrs{"customer_interests": str("football")}, want: true},
			{attrs: attrs{"customer_interests": str("baseball")}, want: true},
			{attrs: attrs{"customer_interests": str("soccer")}, want: false},
			{attrs: attrs{"customer_interests": str("Rugby")}, want: false},
		}},

	// Exact strings and numbers, and their types.
	{name: "exact string", policy: `{"store": ["example_corp"]}`,
		msgs: []msg{
			{attrs: attrs{"store": str("example_corp")}, want: true},
			{attrs: attrs{"store": str("example_corp ")}, want: false},
			{attrs: attrs{"store": {Type: "String.custom", Value: "example_corp"}}, want: true},
			{attrs: attrs{"other": str("example_corp")}, want: false},
			{attrs: nil, want: false},
		}},
	{name: "exact number", policy: `{"price_usd": [300]}`,
		msgs: []msg{
			{attrs: attrs{"price_usd": num("300")}, want: true},
			{attrs: attrs{"price_usd": num("3e2")}, want: true},
			{attrs: attrs{"price_usd": num("300.000000")}, want: true},
			{attrs: attrs{"price_usd": {Type: "Number.float", Value: "300.0"}}, want: true},
			{attrs: attrs{"price_usd": num("300.01")}, want: false},
			{attrs: attrs{"price_usd": str("300")}, want: false},
			{attrs: attrs{"price_usd": num("abc")}, want: false},
		}},
	{name: "doc numeric equality", policy: `{"price_usd": [{"numeric": ["=", 301.5]}]}`,
		msgs: []msg{
			{attrs: attrs{"price_usd": num("301.5")}, want: true},
			{attrs: attrs{"price_usd": num("3.015e2")}, want: true},
			{attrs: attrs{"price_usd": num("301.50001")}, want: false},
			{attrs: attrs{"price_usd": str("301.5")}, want: false},
		}},
	{name: "doc numeric equality body", scope: MessageBody, policy: `{"price_usd": [{"numeric": ["=", 301.5]}]}`,
		msgs: []msg{
			{body: `{"price_usd": 301.5}`, want: true},
			{body: `{"price_usd": 3.015e2}`, want: true},
			{body: `{"price_usd": "301.5"}`, want: false},
		}},
	{name: "string does not match number", policy: `{"code": ["5"]}`,
		msgs: []msg{
			{attrs: attrs{"code": str("5")}, want: true},
			{attrs: attrs{"code": num("5")}, want: false},
		}},
	{name: "number precision five decimals", policy: `{"x": [0.3]}`,
		msgs: []msg{
			{attrs: attrs{"x": num("0.30000000000000004")}, want: true},
			{attrs: attrs{"x": num("0.300001")}, want: true},
			{attrs: attrs{"x": num("0.30001")}, want: false},
		}},
	{name: "binary attribute is not compared", policy: `{"b": ["abc"]}`,
		msgs: []msg{{attrs: attrs{"b": {Type: "Binary", Value: "abc"}}, want: false}}},

	// prefix, suffix, equals-ignore-case.
	{name: "prefix", policy: `{"customer_interests": [{"prefix": "bas"}]}`,
		msgs: []msg{
			{attrs: attrs{"customer_interests": str("baseball")}, want: true},
			{attrs: attrs{"customer_interests": str("basketball")}, want: true},
			{attrs: attrs{"customer_interests": str("rugby")}, want: false},
			{attrs: attrs{"customer_interests": num("123")}, want: false},
		}},
	{name: "suffix", policy: `{"customer_interests": [{"suffix": "ball"}]}`,
		msgs: []msg{
			{attrs: attrs{"customer_interests": str("baseball")}, want: true},
			{attrs: attrs{"customer_interests": str("rugby")}, want: false},
			{attrs: attrs{"customer_interests": str("BALL")}, want: false},
		}},
	{name: "equals-ignore-case", policy: `{"customer_interests": [{"equals-ignore-case": "tennis"}]}`,
		msgs: []msg{
			{attrs: attrs{"customer_interests": str("TENNIS")}, want: true},
			{attrs: attrs{"customer_interests": str("Tennis")}, want: true},
			{attrs: attrs{"customer_interests": str("tennis ball")}, want: false},
		}},
	{name: "prefix and exact in one list", scope: MessageBody,
		policy: `{"region": ["eu-west-1", {"prefix": "us-"}]}`,
		msgs: []msg{
			{body: `{"region": "eu-west-1"}`, want: true},
			{body: `{"region": "us-east-2"}`, want: true},
			{body: `{"region": "eu-west-2"}`, want: false},
			{body: `{"region": ["ap-south-1", "us-west-2"]}`, want: true},
		}},

	{name: "doc cidr", policy: `{"source_ip": [{"cidr": "10.0.0.0/24"}]}`,
		msgs: []msg{
			{attrs: attrs{"source_ip": str("10.0.0.0")}, want: true},
			{attrs: attrs{"source_ip": str("10.0.0.255")}, want: true},
			{attrs: attrs{"source_ip": str("10.1.1.0")}, want: false},
			{attrs: attrs{"source_ip": str("not an address")}, want: false},
			{attrs: attrs{"source_ip": str("::ffff:10.0.0.7")}, want: true},
		}},
	{name: "cidr IPv6 body", scope: MessageBody, policy: `{"ip": [{"cidr": "2001:db8::/32"}]}`,
		msgs: []msg{
			{body: `{"ip": "2001:db8::1"}`, want: true},
			{body: `{"ip": "2001:db9::1"}`, want: false},
		}},

	// anything-but.
	{name: "anything-but list of strings", policy: `{"customer_interests": [{"anything-but": ["rugby", "tennis"]}]}`,
		msgs: []msg{
			{attrs: attrs{"customer_interests": str("baseball")}, want: true},
			{attrs: attrs{"customer_interests": str("rugby")}, want: false},
			{attrs: attrs{"customer_interests": arr(`["rugby", "baseball"]`)}, want: true},
			{attrs: attrs{"customer_interests": arr(`["rugby", "tennis"]`)}, want: false},
			{attrs: attrs{}, want: false},
		}},
	{name: "anything-but one string", policy: `{"event": [{"anything-but": "order_cancelled"}]}`,
		msgs: []msg{
			{attrs: attrs{"event": str("order_placed")}, want: true},
			{attrs: attrs{"event": str("order_cancelled")}, want: false},
			{attrs: attrs{"event": num("1")}, want: false},
		}},
	{name: "doc anything-but numbers", policy: `{"price": [{"anything-but": [100, 500]}]}`,
		msgs: []msg{
			{attrs: attrs{"price": num("101")}, want: true},
			{attrs: attrs{"price": num("100.1")}, want: true},
			{attrs: attrs{"price": num("100")}, want: false},
			{attrs: attrs{"price": num("5e2")}, want: false},
			{attrs: attrs{"price": arr(`[100, 50]`)}, want: true},
			{attrs: attrs{"price": arr(`[100, 500]`)}, want: false},
		}},
	{name: "anything-but one number body", scope: MessageBody, policy: `{"price": [{"anything-but": 100}]}`,
		msgs: []msg{
			{body: `{"price": 101}`, want: true},
			{body: `{"price": 100}`, want: false},
			{body: `{"other": 1}`, want: false},
		}},
	{name: "anything-but prefix", policy: `{"event": [{"anything-but": {"prefix": "order-"}}]}`,
		msgs: []msg{
			{attrs: attrs{"event": str("data-entry")}, want: true},
			{attrs: attrs{"event": str("order-cancelled")}, want: false},
			{attrs: attrs{}, want: false},
		}},
	{name: "anything-but suffix", policy: `{"file": [{"anything-but": {"suffix": ".tmp"}}]}`,
		msgs: []msg{
			{attrs: attrs{"file": str("a.txt")}, want: true},
			{attrs: attrs{"file": str("a.tmp")}, want: false},
		}},
	{name: "anything-but equals-ignore-case", policy: `{"state": [{"anything-but": {"equals-ignore-case": "ok"}}]}`,
		msgs: []msg{
			{attrs: attrs{"state": str("ALARM")}, want: true},
			{attrs: attrs{"state": str("OK")}, want: false},
		}},

	// numeric.
	{name: "numeric range", policy: `{"price_usd": [{"numeric": [">", 0, "<=", 150]}]}`,
		msgs: []msg{
			{attrs: attrs{"price_usd": num("0")}, want: false},
			{attrs: attrs{"price_usd": num("0.00001")}, want: true},
			{attrs: attrs{"price_usd": num("150")}, want: true},
			{attrs: attrs{"price_usd": num("150.00001")}, want: false},
			{attrs: attrs{"price_usd": num("-1")}, want: false},
			{attrs: attrs{"price_usd": str("100")}, want: false},
		}},
	{name: "numeric closed range", policy: `{"n": [{"numeric": [">=", -10.5, "<", -2]}]}`,
		msgs: []msg{
			{attrs: attrs{"n": num("-10.5")}, want: true},
			{attrs: attrs{"n": num("-10.50001")}, want: false},
			{attrs: attrs{"n": num("-2")}, want: false},
			{attrs: attrs{"n": num("-2.00001")}, want: true},
		}},
	{name: "numeric single operators", policy: `{"a": [{"numeric": ["<", 0]}], "b": [{"numeric": [">=", 1e3]}], "c": [{"numeric": ["<=", 2.5]}]}`,
		msgs: []msg{
			{attrs: attrs{"a": num("-0.5"), "b": num("1000"), "c": num("2.5")}, want: true},
			{attrs: attrs{"a": num("0"), "b": num("1000"), "c": num("2.5")}, want: false},
			{attrs: attrs{"a": num("-1"), "b": num("999.99999"), "c": num("2.5")}, want: false},
			{attrs: attrs{"a": num("-1"), "b": num("1e3"), "c": num("2.50001")}, want: false},
		}},
	{name: "numeric equality negative and decimal", policy: `{"t": [{"numeric": ["=", -273.15]}]}`,
		msgs: []msg{
			{attrs: attrs{"t": num("-273.15")}, want: true},
			{attrs: attrs{"t": num("-27315e-2")}, want: true},
			{attrs: attrs{"t": num("273.15")}, want: false},
		}},
	{name: "numeric ors within key", policy: `{"n": [{"numeric": ["<", 0]}, {"numeric": [">", 100]}, 50]}`,
		msgs: []msg{
			{attrs: attrs{"n": num("-1")}, want: true},
			{attrs: attrs{"n": num("101")}, want: true},
			{attrs: attrs{"n": num("50")}, want: true},
			{attrs: attrs{"n": num("49")}, want: false},
		}},
	{name: "numeric on String.Array numbers", policy: `{"n": [{"numeric": [">", 10]}]}`,
		msgs: []msg{
			{attrs: attrs{"n": arr(`[1, 2, 30]`)}, want: true},
			{attrs: attrs{"n": arr(`[1, "30"]`)}, want: false},
		}},
	{name: "numeric huge message value", policy: `{"n": [{"numeric": [">", 1e9]}]}`,
		msgs: []msg{
			{attrs: attrs{"n": num("1e300")}, want: true},
			{attrs: attrs{"n": num("1e999")}, want: true},
			{attrs: attrs{"n": num("NaN")}, want: false},
		}},

	// exists.
	{name: "exists true", policy: `{"store": [{"exists": true}]}`,
		msgs: []msg{
			{attrs: attrs{"store": str("anything")}, want: true},
			{attrs: attrs{"store": num("1")}, want: true},
			{attrs: attrs{"other": str("x")}, want: false},
		}},
	{name: "exists false", policy: `{"store": [{"exists": false}]}`,
		msgs: []msg{
			{attrs: attrs{"store": str("anything")}, want: false},
			{attrs: attrs{"other": str("x")}, want: true},
			{attrs: nil, want: true},
		}},
	{name: "exists false or value", policy: `{"store": [{"exists": false}, "example_corp"]}`,
		msgs: []msg{
			{attrs: attrs{}, want: true},
			{attrs: attrs{"store": str("example_corp")}, want: true},
			{attrs: attrs{"store": str("other")}, want: false},
		}},
	{name: "exists body leaves", scope: MessageBody, policy: `{"a": [{"exists": true}], "b": [{"exists": false}]}`,
		msgs: []msg{
			{body: `{"a": 1}`, want: true},
			{body: `{"a": null}`, want: true},
			{body: `{"a": "x", "b": 2}`, want: false},
			{body: `{"a": {"c": 1}}`, want: false}, // an object is not a leaf
			{body: `{"a": []}`, want: false},
			{body: `{"a": [1]}`, want: true},
			{body: `{}`, want: false},
		}},

	// String.Array.
	{name: "String.Array any element", policy: `{"customer_interests": ["rugby"]}`,
		msgs: []msg{
			{attrs: attrs{"customer_interests": arr(`["soccer", "rugby", "hockey"]`)}, want: true},
			{attrs: attrs{"customer_interests": arr(`["soccer"]`)}, want: false},
			{attrs: attrs{"customer_interests": arr(`[]`)}, want: false},
			{attrs: attrs{"customer_interests": arr(`not json`)}, want: false},
			{attrs: attrs{"customer_interests": str(`["rugby"]`)}, want: false},
		}},
	{name: "String.Array prefix and literals", policy: `{"tags": [{"prefix": "env:"}, true, null]}`,
		msgs: []msg{
			{attrs: attrs{"tags": arr(`["team:a", "env:prod"]`)}, want: true},
			{attrs: attrs{"tags": arr(`["team:a", true]`)}, want: true},
			{attrs: attrs{"tags": arr(`["team:a", null]`)}, want: true},
			{attrs: attrs{"tags": arr(`["team:a", false]`)}, want: false},
		}},

	// $or.
	{name: "doc $or across keys", policy: `{"source": ["aws.cloudwatch"], "$or": [
		{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}]}`,
		msgs: []msg{
			{attrs: attrs{"source": str("aws.cloudwatch"), "metricName": str("CPUUtilization")}, want: true},
			{attrs: attrs{"source": str("aws.cloudwatch"), "namespace": str("AWS/EC2")}, want: true},
			{attrs: attrs{"source": str("aws.cloudwatch"), "namespace": str("AWS/RDS")}, want: false},
			{attrs: attrs{"source": str("aws.events"), "metricName": str("CPUUtilization")}, want: false},
		}},
	{name: "nested $or", scope: MessageBody, policy: `{"source": ["aws.cloudwatch"], "$or": [
		{"metricName": ["CPUUtilization", "ReadLatency"]},
		{"metricType": ["MetricType"], "$or": [{"metricId": [1234, 4321]}, {"spaceId": [1000, 2000, 3000]}]}]}`,
		msgs: []msg{
			{body: `{"source": "aws.cloudwatch", "metricName": "ReadLatency"}`, want: true},
			{body: `{"source": "aws.cloudwatch", "metricType": "MetricType", "spaceId": 2000}`, want: true},
			{body: `{"source": "aws.cloudwatch", "metricType": "MetricType", "metricId": 4321}`, want: true},
			{body: `{"source": "aws.cloudwatch", "metricType": "MetricType", "metricId": 1}`, want: false},
			{body: `{"source": "aws.cloudwatch", "metricType": "Other", "spaceId": 2000}`, want: false},
		}},
	{name: "$or inside nested object", scope: MessageBody, policy: `{"detail": {"$or": [
		{"state": ["ALARM"]}, {"severity": [{"numeric": [">=", 3]}]}]}}`,
		msgs: []msg{
			{body: `{"detail": {"state": "ALARM"}}`, want: true},
			{body: `{"detail": {"state": "OK", "severity": 4}}`, want: true},
			{body: `{"detail": {"state": "OK", "severity": 2}}`, want: false},
			{body: `{"state": "ALARM"}`, want: false},
		}},
	{name: "$or key both leaf and nested", scope: MessageBody, policy: `{"$or": [{"a": ["x"]}, {"a": {"b": ["y"]}}]}`,
		msgs: []msg{
			{body: `{"a": "x"}`, want: true},
			{body: `{"a": {"b": "y", "c": [1, {"d": null}]}}`, want: true},
			{body: `{"a": [{"b": "z"}, {"b": "y"}]}`, want: true},
			{body: `{"a": {"b": "z"}}`, want: false},
			{body: `{"z": {"a": "x"}}`, want: false},
		}},
	{name: "body escaped keys and strings", scope: MessageBody, policy: `{"caf\u00e9": ["a\"b"]}`,
		msgs: []msg{
			{body: `{"café": "a\"b"}`, want: true},
			{body: `{"caf\u00e9": "a\u0022b", "skipped": {"x": ["\\", "}"]}}`, want: true},
			{body: `{"café": "ab"}`, want: false},
		}},
	{name: "$or with one alternative is a key", policy: `{"$or": ["a", "b"]}`,
		msgs: []msg{
			{attrs: attrs{"$or": str("a")}, want: true},
			{attrs: attrs{"$or": str("c")}, want: false},
		}},

	// Body scope: nesting and arrays.
	{name: "body nested", scope: MessageBody, policy: `{"detail": {"state": ["ALARM"]}}`,
		msgs: []msg{
			{body: `{"detail": {"state": "ALARM", "previous": "OK"}}`, want: true},
			{body: `{"detail": {"state": "OK"}}`, want: false},
			{body: `{"state": "ALARM"}`, want: false},
			{body: `{"detail": "ALARM"}`, want: false},
			{body: `not json`, want: false},
			{body: `["ALARM"]`, want: false},
			{body: `{"detail": {"state": "ALARM"}} trailing`, want: false},
		}},
	{name: "doc body nested payload", scope: MessageBody, policy: `{
		"payload": {"store": ["example_corp"], "price_usd": [{"numeric": [">", 100]}]}}`,
		msgs: []msg{
			{body: `{"payload": {"store": "example_corp", "event": "order_placed", "price_usd": 210.75}}`, want: true},
			{body: `{"payload": {"store": "example_corp", "price_usd": 99}}`, want: false},
		}},
	{name: "body deep nesting and arrays", scope: MessageBody, policy: `{"Records": {"s3": {"object": {"key": [{"suffix": ".jpg"}]}}}}`,
		msgs: []msg{
			{body: `{"Records": [{"s3": {"object": {"key": "a.png"}}}, {"s3": {"object": {"key": "b.jpg"}}}]}`, want: true},
			{body: `{"Records": [{"s3": {"object": {"key": "a.png"}}}]}`, want: false},
			{body: `{"Records": []}`, want: false},
		}},
	{name: "body array keeps keys of one element together", scope: MessageBody,
		policy: `{"items": {"sku": ["A"], "qty": [{"numeric": [">", 5]}]}}`,
		msgs: []msg{
			{body: `{"items": [{"sku": "A", "qty": 10}]}`, want: true},
			{body: `{"items": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 10}]}`, want: false},
		}},
	{name: "body array leaves and nested arrays", scope: MessageBody, policy: `{"ids": [42]}`,
		msgs: []msg{
			{body: `{"ids": [1, [2, 42]]}`, want: true},
			{body: `{"ids": [1, 2]}`, want: false},
			{body: `{"ids": [{"id": 42}]}`, want: false},
		}},
	{name: "body literals", scope: MessageBody, policy: `{"ok": [true], "err": [null]}`,
		msgs: []msg{
			{body: `{"ok": true, "err": null}`, want: true},
			{body: `{"ok": "true", "err": null}`, want: false},
			{body: `{"ok": true}`, want: false},
		}},
	{name: "body scope ignores attributes", scope: MessageBody, policy: `{"store": ["example_corp"]}`,
		msgs: []msg{{attrs: attrs{"store": str("example_corp")}, body: `{}`, want: false}}},
	{name: "attribute scope ignores body", policy: `{"store": ["example_corp"]}`,
		msgs: []msg{{body: `{"store": "example_corp"}`, want: false}}},
	{name: "empty policy", policy: `{}`,
		msgs: []msg{{attrs: nil, want: true}, {attrs: docAttrs, want: true}}},
	{name: "empty policy body", scope: MessageBody, policy: `{}`,
		msgs: []msg{{body: `not json`, want: true}}},
	{name: "five keys", policy: `{"a": ["1"], "b": ["1"], "c": ["1"], "d": ["1"], "e": ["1"]}`,
		msgs: []msg{
			{attrs: attrs{"a": str("1"), "b": str("1"), "c": str("1"), "d": str("1"), "e": str("1")}, want: true},
			{attrs: attrs{"a": str("1"), "b": str("1"), "c": str("1"), "d": str("1")}, want: false},
		}},
}

func TestConformance(t *testing.T) {
	n := 0
	for _, tc := range conformance {
		p, err := Compile(tc.policy, tc.scope)
		if err != nil {
			t.Errorf("%s: Compile: %v", tc.name, err)
			continue
		}
		for i, m := range tc.msgs {
			n++
			if got := p.Match(m.attrs, []byte(m.body)); got != m.want {
				t.Errorf("%s: message %d (%v %s): Match = %v, want %v", tc.name, i, m.attrs, m.body, got, m.want)
			}
		}
	}
	t.Logf("%d policies, %d messages", len(conformance), n)
}

func TestNilPolicyMatchesEverything(t *testing.T) {
	var p *Policy
	if !p.Match(nil, nil) || !p.Match(docAttrs, []byte("x")) {
		t.Fatal("nil policy does not match")
	}
}

func TestInvalidPolicies(t *testing.T) {
	tests := []struct {
		name   string
		scope  Scope
		policy string
		key    string // "" when the error names no key
		reason string // part of the error
	}{
		{"not JSON", MessageAttributes, `{"a": [`, "", "invalid JSON"},
		{"not an object", MessageAttributes, `["a"]`, "", "must be a JSON object"},
		{"a string", MessageAttributes, `"a"`, "", "must be a JSON object"},
		{"trailing data", MessageAttributes, `{"a": ["x"]} {}`, "", "after the policy"},
		{"empty list", MessageAttributes, `{"store": []}`, "store", "empty list"},
		{"scalar value", MessageAttributes, `{"store": "example_corp"}`, "store", "must be an array"},
		{"unknown operator", MessageAttributes, `{"NewStateValue": [{"prefixx": "AL"}]}`, "NewStateValue", `unknown operator "prefixx"`},
		{"two operators", MessageAttributes, `{"a": [{"prefix": "x", "suffix": "y"}]}`, "a", "exactly one operator"},
		{"empty operator object", MessageAttributes, `{"a": [{}]}`, "a", "exactly one operator"},
		{"nested array", MessageAttributes, `{"a": [["x"]]}`, "a", "cannot be an array"},
		{"prefix number", MessageAttributes, `{"a": [{"prefix": 5}]}`, "a", `"prefix" takes a string`},
		{"suffix list", MessageAttributes, `{"a": [{"suffix": ["x"]}]}`, "a", `"suffix" takes a string`},
		{"equals-ignore-case number", MessageAttributes, `{"a": [{"equals-ignore-case": 1}]}`, "a", "takes a string"},
		{"cidr bad prefix", MessageAttributes, `{"ip": [{"cidr": "10.0.0.0/33"}]}`, "ip", "not an IP prefix"},
		{"cidr number", MessageAttributes, `{"ip": [{"cidr": 10}]}`, "ip", `"cidr" takes a string`},
		{"exists string", MessageAttributes, `{"a": [{"exists": "true"}]}`, "a", `"exists" takes true or false`},
		{"numeric not a list", MessageAttributes, `{"a": [{"numeric": 5}]}`, "a", `"numeric" takes`},
		{"numeric odd length", MessageAttributes, `{"a": [{"numeric": [">", 1, "<"]}]}`, "a", `"numeric" takes`},
		{"numeric string operand", MessageAttributes, `{"a": [{"numeric": [">", "1"]}]}`, "a", "must be a number"},
		{"numeric unknown operator", MessageAttributes, `{"a": [{"numeric": ["!=", 1]}]}`, "a", `unknown numeric operator "!="`},
		{"numeric operator not string", MessageAttributes, `{"a": [{"numeric": [1, 1]}]}`, "a", "operator must be a string"},
		{"numeric range reversed", MessageAttributes, `{"a": [{"numeric": ["<", 10, ">", 0]}]}`, "a", "numeric range is"},
		{"numeric range out of order", MessageAttributes, `{"a": [{"numeric": [">", 10, "<", 0]}]}`, "a", "not below the high bound"},
		{"numeric range empty", MessageAttributes, `{"a": [{"numeric": [">=", 5, "<=", 5]}]}`, "a", "not below the high bound"},
		{"numeric range with =", MessageAttributes, `{"a": [{"numeric": ["=", 1, "<", 5]}]}`, "a", "numeric range is"},
		{"numeric too big", MessageAttributes, `{"a": [{"numeric": [">", 1e10]}]}`, "a", "outside the range"},
		{"exact number too small", MessageAttributes, `{"a": [-1000000001]}`, "a", "outside the range"},
		{"number overflow", MessageAttributes, `{"a": [1e999]}`, "a", "out of range"},
		{"anything-but empty", MessageAttributes, `{"a": [{"anything-but": []}]}`, "a", "list is empty"},
		{"anything-but mixed", MessageAttributes, `{"a": [{"anything-but": ["x", 1]}]}`, "a", "mixes a string with a number"},
		{"anything-but bool", MessageAttributes, `{"a": [{"anything-but": true}]}`, "a", `"anything-but" takes`},
		{"anything-but list of bools", MessageAttributes, `{"a": [{"anything-but": [true]}]}`, "a", "holds strings or numbers"},
		{"anything-but unknown", MessageAttributes, `{"a": [{"anything-but": {"numeric": [">", 1]}}]}`, "a", `unknown operator "numeric" inside`},
		{"anything-but prefix number", MessageAttributes, `{"a": [{"anything-but": {"prefix": 1}}]}`, "a", "takes a string"},
		{"nested in attributes", MessageAttributes, `{"detail": {"state": ["ALARM"]}}`, "detail", "nested policies are not allowed"},
		{"nested leaf in body", MessageBody, `{"detail": {"state": [{"prefixx": "A"}]}}`, "detail.state", `unknown operator "prefixx"`},
		{"empty nested object", MessageBody, `{"detail": {}}`, "detail", "empty object"},
		{"body scalar", MessageBody, `{"detail": {"state": "ALARM"}}`, "detail.state", "must be an array"},
		{"duplicate key", MessageAttributes, `{"a": ["x"], "a": ["y"]}`, "a", "duplicate key"},
		{"six keys", MessageAttributes, `{"a": ["1"], "b": ["1"], "c": ["1"], "d": ["1"], "e": ["1"], "f": ["1"]}`, "f", "more than 5 keys"},
		{"six leaf keys nested", MessageBody, `{"a": ["1"], "b": ["1"], "c": ["1"], "d": ["1"], "n": {"e": ["1"], "f": ["1"]}}`, "n", "more than 5 keys"},
		{"too many combinations", MessageAttributes,
			`{"a": ["1","2","3","4","5"], "b": ["1","2","3","4","5"], "c": ["1","2","3","4","5","6","7"]}`, "c", "more than 150 combinations"},
		{"too many combinations with $or", MessageAttributes,
			`{"s": ["1","2","3","4","5","6","7","8","9","10"], "$or": [{"a": ["1","2","3","4","5","6","7","8"]}, {"b": ["1","2","3","4","5","6","7","8"]}]}`,
			"$or", "more than 150 combinations"},
		{"$or too many keys in a branch", MessageAttributes,
			`{"a": ["1"], "b": ["1"], "c": ["1"], "$or": [{"d": ["1"], "e": ["1"], "f": ["1"]}, {"g": ["1"]}]}`, "$or", "more than 5 keys"},
		{"$or empty alternative", MessageAttributes, `{"$or": [{}, {"a": ["1"]}]}`, "$or", "empty object"},
		{"$or bad alternative", MessageAttributes, `{"$or": [{"a": ["1"]}, {"b": [{"prefixx": "x"}]}]}`, "b", `unknown operator "prefixx"`},
		{"$or single object", MessageAttributes, `{"$or": [{"a": ["1"]}]}`, "$or", `unknown operator "a"`},
		{"too deep", MessageBody, strings.Repeat(`{"a":`, 70) + `["x"]` + strings.Repeat(`}`, 70), "a.a.a", "nested more than"},
		{"too big", MessageAttributes, `{"a": ["` + strings.Repeat("x", MaxPolicySize) + `"]}`, "", "bytes"},
		{"unknown scope", Scope(7), `{}`, "", "unknown scope"},
	}
	for _, tt := range tests {
		p, err := Compile(tt.policy, tt.scope)
		if err == nil {
			t.Errorf("%s: Compile = %v, want an error", tt.name, p)
			continue
		}
		var pe *PolicyError
		if !errors.As(err, &pe) || !errors.Is(err, ErrInvalidPolicy) {
			t.Errorf("%s: error %v is not a *PolicyError wrapping ErrInvalidPolicy", tt.name, err)
			continue
		}
		if tt.key != "" && !strings.HasPrefix(pe.Key, tt.key) {
			t.Errorf("%s: error %q names key %q, want %q", tt.name, err, pe.Key, tt.key)
		}
		if tt.key == "" && pe.Key != "" {
			t.Errorf("%s: error %q names key %q, want none", tt.name, err, pe.Key)
		}
		if !strings.Contains(err.Error(), tt.reason) {
			t.Errorf("%s: error %q does not say %q", tt.name, err, tt.reason)
		}
	}
}

func TestErrorText(t *testing.T) {
	_, err := Compile(`{"NewStateValue": [{"prefixx": "ALARM"}]}`, MessageAttributes)
	want := `filter policy: key "NewStateValue": unknown operator "prefixx"`
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %s", err, want)
	}
}

func TestLimitsAccepted(t *testing.T) {
	for _, policy := range []string{
		// 5*5*6 = 150 combinations, the most SNS allows.
		`{"a": ["1","2","3","4","5"], "b": ["1","2","3","4","5"], "c": ["1","2","3","4","5","6"]}`,
		// The documentation's $or example: 5*2 + 5*1*2 + 5*1*3 = 35.
		`{"source": ["aws.cloudwatch", "aws.events", "aws.test", "aws.example", "aws.sns"], "$or": [
			{"metricName": ["CPUUtilization", "ReadLatency"]},
			{"metricType": ["MetricType"], "$or": [{"metricId": [1234, 4321]}, {"spaceId": [1000, 2000, 3000]}]}]}`,
		// Five keys in each $or alternative.
		`{"a": ["1"], "b": ["1"], "c": ["1"], "$or": [{"d": ["1"], "e": ["1"]}, {"f": ["1"], "g": ["1"]}]}`,
		`{"n": [{"numeric": [">=", -1e9, "<=", 1e9]}]}`,
	} {
		if _, err := Compile(policy, MessageBody); err != nil {
			t.Errorf("Compile(%s): %v", policy, err)
		}
	}
}
