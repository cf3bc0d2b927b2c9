package sns

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors"
)

// TestOptionSpecDefaultsAreTheSubscriptionDefaults: the defaults the docs
// show for subscriptions and topics are the ones Subscribe and NewTopic
// take for zero values.
func TestOptionSpecDefaultsAreTheSubscriptionDefaults(t *testing.T) {
	v, err := connectors.ParseOptions("subscription s", SubscriptionOptionSpecs, map[string]string{"protocol": "stdout"})
	if err != nil {
		t.Fatal(err)
	}
	if d := v.Duration("attempt-timeout"); d != DefaultAttemptTimeout {
		t.Errorf("attempt-timeout %v, want %v", d, DefaultAttemptTimeout)
	}
	if n := v.Size("queue-bytes"); n != DefaultQueueBytes {
		t.Errorf("queue-bytes %d, want %d", n, DefaultQueueBytes)
	}
	tv, err := connectors.ParseOptions("topic t", TopicOptionSpecs, map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if r, a, d := tv.String("region"), tv.String("account"), tv.Duration("drain-timeout"); r != DefaultRegion || a != DefaultAccount || d != time.Duration(0) {
		t.Errorf("topic defaults %q %q %v", r, a, d)
	}
}
