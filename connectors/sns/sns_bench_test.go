package sns

import (
	"context"
	"fmt"
	"io"
	"testing"
)

// BenchmarkPublishFanOut publishes alarm-sized JSON messages to a topic with
// four subscriptions writing readable text (stdout protocol) to io.Discard:
// the cost of Publish, the queues and the formatting.
func BenchmarkPublishFanOut(b *testing.B) {
	tp, err := NewTopic(fmt.Sprintf("bench-%d", topicSeq.Add(1)), TopicOptions{})
	if err != nil {
		b.Fatal(err)
	}
	for range 4 {
		if _, err := tp.Subscribe(SubscriptionConfig{Protocol: "stdout", Out: io.Discard}); err != nil {
			b.Fatal(err)
		}
	}
	m := Message{
		Subject:    `ALARM: "HighCPU" in US East (N. Virginia)`,
		Body:       `{"AlarmName":"HighCPU","NewStateValue":"ALARM","OldStateValue":"OK","NewStateReason":"Threshold Crossed: 3 out of the last 3 datapoints were greater than the threshold (80.0)."}`,
		Attributes: map[string]Attribute{"severity": {Type: "String", Value: "high"}},
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := tp.Publish(m); err != nil {
			b.Fatal(err)
		}
	}
	if err := tp.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	if err := tp.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
}
