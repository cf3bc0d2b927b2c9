package alarm

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
	rtstate "github.com/sluicehq/sluice/runtime/state"
)

func TestParse(t *testing.T) {
	for c := GreaterThanThreshold; c <= LessThanOrEqualToThreshold; c++ {
		got, err := ParseComparison(c.String())
		if err != nil || got != c {
			t.Errorf("ParseComparison(%q) = %v, %v", c.String(), got, err)
		}
	}
	for m := Missing; m <= Ignore; m++ {
		got, err := ParseTreatMissing(m.String())
		if err != nil || got != m {
			t.Errorf("ParseTreatMissing(%q) = %v, %v", m.String(), got, err)
		}
	}
	if s := (NotBreaching).String(); s != "notBreaching" {
		t.Errorf("NotBreaching is %q", s)
	}
	if _, err := ParseComparison("GreaterThan"); err == nil || !strings.Contains(err.Error(), "comparison-operator") {
		t.Errorf("ParseComparison(GreaterThan): %v", err)
	}
	if _, err := ParseTreatMissing("NotBreaching"); err == nil || !strings.Contains(err.Error(), "treat-missing-data") {
		t.Errorf("ParseTreatMissing(NotBreaching): %v", err)
	}
}

func TestValidate(t *testing.T) {
	f := func(change func(*Config), want string) {
		t.Helper()
		c := testConfig()
		change(&c)
		err := c.Validate()
		if want == "" {
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			return
		}
		if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, ErrConfig) {
			t.Fatalf("Validate: %v, want an error naming %q", err, want)
		}
	}
	f(func(c *Config) {}, "")
	f(func(c *Config) { c.DatapointsToAlarm = 0 }, "")
	f(func(c *Config) { c.Period = 0 }, "")
	f(func(c *Config) { c.Name = "" }, "alarm-name")
	f(func(c *Config) { c.EvaluationPeriods = 0 }, "evaluation-periods")
	f(func(c *Config) { c.DatapointsToAlarm = 4 }, "datapoints-to-alarm")
	f(func(c *Config) { c.DatapointsToAlarm = -1 }, "datapoints-to-alarm")
	f(func(c *Config) { c.Period = -time.Second }, "period")
	f(func(c *Config) { c.Period = time.Microsecond }, "period")
	f(func(c *Config) { c.Comparison = 9 }, "comparison-operator")
	f(func(c *Config) { c.TreatMissing = 9 }, "treat-missing-data")
	f(func(c *Config) { c.Dimensions = nil }, "dimensions")
	f(func(c *Config) { c.Dimensions[0] = "" }, "dimensions")
	f(func(c *Config) { c.DimCols[0] = -1 }, "dimensions")
}

func TestOpenChecks(t *testing.T) {
	bad := testConfig()
	bad.EvaluationPeriods = 0
	if err := New(bad, &recorder{})().Open(rttest.NewContext("alarm", 0, 1)); err == nil {
		t.Error("Open accepted an invalid alarm")
	}
	if err := New(testConfig(), &recorder{})().Open(rttest.NewContext("alarm", 0, 2)); err == nil {
		t.Error("Open accepted parallelism 2")
	}
	h := newHarness(t, testConfig())
	wrong := runtime.NewSchema(runtime.Field{Name: "host", Type: runtime.Varchar}, runtime.Field{Name: "v", Type: runtime.Double})
	b := rttest.NewBatch(wrong, []runtime.Value{runtime.StringValue("a"), runtime.FloatValue(1)})
	if err := h.op.ProcessBatch(0, b, &rttest.Discard{}); err == nil || !strings.Contains(err.Error(), "cpu-high") {
		t.Errorf("ProcessBatch of a batch without the columns: %v", err)
	}
}

func TestPublishError(t *testing.T) {
	h := newHarness(t, testConfig())
	h.rec.err = errors.New("topic gone")
	h.rows(row{"web-1", t0, "95"})
	err := h.op.ProcessWatermark(t0, &rttest.Discard{})
	if err == nil || !strings.Contains(err.Error(), "topic gone") || !strings.Contains(err.Error(), "cpu-high") {
		t.Fatalf("ProcessWatermark: %v", err)
	}
}

// TestMaxInstances: more distinct dimension values than MaxInstances fail
// the operator with the state-limit error, naming the alarm.
func TestMaxInstances(t *testing.T) {
	cfg := Config{Name: "HighCPU", MetricName: "cpu", Dimensions: []string{"host"}, DimCols: []int{0}, PeriodCol: 1, MetricCol: 2,
		Period: 10 * time.Second, Comparison: GreaterThanThreshold, Threshold: 90, EvaluationPeriods: 1, MaxInstances: 2}
	op := New(cfg, &recorder{})()
	if err := op.Open(rttest.NewContext("alarm", 0, 1)); err != nil {
		t.Fatal(err)
	}
	schema := runtime.NewSchema(runtime.Field{Name: "host", Type: runtime.Varchar}, runtime.Field{Name: "p", Type: runtime.Timestamp},
		runtime.Field{Name: "v", Type: runtime.Double})
	var rows [][]runtime.Value
	for _, h := range []string{"a", "b", "c"} {
		rows = append(rows, []runtime.Value{runtime.StringValue(h), runtime.TimeValue(10_000), runtime.FloatValue(1)})
	}
	err := op.ProcessBatch(0, rttest.NewBatch(schema, rows...), nil)
	if !errors.Is(err, rtstate.ErrStateLimit) || !strings.Contains(err.Error(), `alarm "HighCPU" has more than 2 instances`) {
		t.Fatalf("err = %v", err)
	}
}
