package alarm

import (
	"testing"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/connectors/sns"
	"github.com/sluicehq/sluice/operators/alarm"
)

// TestInstancesCountsStatesOfTheLatestJob: Instances reads the count of an
// alarm's instances per state from the publisher planned last.
func TestInstancesCountsStatesOfTheLatestJob(t *testing.T) {
	set := metrics.NewSet()
	topic, err := sns.NewTopic("instances", sns.TopicOptions{Metrics: set})
	if err != nil {
		t.Fatal(err)
	}
	defer topic.Close(t.Context())
	if n := Instances(set, "CountedAlarm", "ALARM"); n != 0 {
		t.Fatalf("before any job: %d in ALARM", n)
	}
	first := newPublisher(topic, "CountedAlarm")
	publish := func(p *publisher, host, from, to string) {
		t.Helper()
		if err := p.Publish(alarm.Notification{AlarmName: "CountedAlarm", NewState: to, OldState: from,
			Dimensions: map[string]string{"host": host}, Body: "{}"}); err != nil {
			t.Fatal(err)
		}
	}
	publish(first, "a", "INSUFFICIENT_DATA", "ALARM")
	publish(first, "b", "INSUFFICIENT_DATA", "ALARM")
	publish(first, "b", "ALARM", "OK")
	if a, ok := Instances(set, "CountedAlarm", "ALARM"), Instances(set, "CountedAlarm", "OK"); a != 1 || ok != 1 {
		t.Fatalf("%d in ALARM, %d OK: want 1 and 1", a, ok)
	}
	second := newPublisher(topic, "CountedAlarm")
	publish(second, "c", "INSUFFICIENT_DATA", "OK")
	if a, ok := Instances(set, "CountedAlarm", "ALARM"), Instances(set, "CountedAlarm", "OK"); a != 0 || ok != 1 {
		t.Fatalf("after a new job: %d in ALARM, %d OK: want 0 and 1", a, ok)
	}
}
