package filter

import "testing"

func benchMatch(b *testing.B, policy string, scope Scope, attrs map[string]Attribute, body []byte) {
	p, err := Compile(policy, scope)
	if err != nil {
		b.Fatal(err)
	}
	if !p.Match(attrs, body) {
		b.Fatal("benchmark message does not match")
	}
	b.ReportAllocs()
	for b.Loop() {
		p.Match(attrs, body)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

const benchPolicy = `{
	"store": ["example_corp"],
	"event": [{"anything-but": "order_cancelled"}],
	"customer_interests": ["rugby", "football", "baseball"],
	"price_usd": [{"numeric": [">=", 100]}]}`

// BenchmarkMatchAttributes is the documentation's example policy on its
// example message, by attributes.
func BenchmarkMatchAttributes(b *testing.B) {
	benchMatch(b, benchPolicy, MessageAttributes, docAttrs, nil)
}

// BenchmarkMatchBody is the same on the message body.
func BenchmarkMatchBody(b *testing.B) {
	benchMatch(b, benchPolicy, MessageBody, nil, []byte(docBody))
}

// BenchmarkMatchBodyNested is a nested body policy on an event with more
// fields than the policy looks at.
func BenchmarkMatchBodyNested(b *testing.B) {
	body := []byte(`{"version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718", "source": "aws.cloudwatch",
		"detail": {"alarmName": "cpu-high", "state": {"value": "ALARM", "reason": "Threshold Crossed"},
		"previousState": {"value": "OK"}, "configuration": {"metrics": [{"id": "m1", "value": 93.5}]}}}`)
	benchMatch(b, `{"source": ["aws.cloudwatch"], "detail": {"state": {"value": ["ALARM"]}}}`, MessageBody, nil, body)
}
