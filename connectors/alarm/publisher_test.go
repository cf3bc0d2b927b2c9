package alarm

import (
	"strings"
	"testing"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/connectors/sns"
	"github.com/sluicehq/sluice/operators/alarm"
)

// TestInstanceGaugesFollowTheLatestJob: the process-wide gauges of an alarm
// report the publisher of the job planned last, not the first one.
func TestInstanceGaugesFollowTheLatestJob(t *testing.T) {
	topic, err := sns.NewTopic("gauges", sns.TopicOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer topic.Close(t.Context())
	first := newPublisher(topic, "GaugeAlarm")
	if err := first.Publish(alarm.Notification{AlarmName: "GaugeAlarm", NewState: "ALARM", OldState: "INSUFFICIENT_DATA",
		Dimensions: map[string]string{"host": "a"}, Body: "{}"}); err != nil {
		t.Fatal(err)
	}
	second := newPublisher(topic, "GaugeAlarm")
	for _, h := range []string{"b", "c"} {
		if err := second.Publish(alarm.Notification{AlarmName: "GaugeAlarm", NewState: "OK", OldState: "INSUFFICIENT_DATA",
			Dimensions: map[string]string{"host": h}, Body: "{}"}); err != nil {
			t.Fatal(err)
		}
	}
	var b strings.Builder
	metrics.WritePrometheus(&b, false)
	text := b.String()
	for _, want := range []string{`sluice_alarm_instances{alarm="GaugeAlarm",state="OK"} 2`, `sluice_alarm_instances{alarm="GaugeAlarm",state="ALARM"} 0`} {
		if !strings.Contains(text, want) {
			t.Fatalf("no %s in:\n%s", want, text)
		}
	}
}
