// Package alarm is the 'alarm' connector: a sink whose rows are the
// datapoints of threshold alarms with CloudWatch's semantics
// (operators/alarm), and which publishes every state change to a topic of
// the job (CREATE TOPIC), like CloudWatch alarm actions publish to SNS.
//
//	CREATE TABLE high_cpu (host VARCHAR, period_end TIMESTAMP(3), avg_cpu DOUBLE) WITH (
//	  'connector' = 'alarm', 'topic' = 'ops', 'alarm-name' = 'HighCPU',
//	  'metric' = 'avg_cpu', 'dimensions' = 'host', 'period' = 'period_end',
//	  'comparison' = 'GreaterThanThreshold', 'threshold' = '90',
//	  'evaluation-periods' = '3', 'datapoints-to-alarm' = '2', 'treat-missing-data' = 'missing');
//
// Each message has the subject CloudWatch gives it (`ALARM: "HighCPU" in
// US East (N. Virginia)`), the notification JSON as its body, and the
// attributes AlarmName, NewStateValue, OldStateValue and one per dimension
// (String), for subscriptions' filter policies. The sink runs as one
// subtask holding every alarm instance; its state is part of checkpoints.
// Instances per state are exported as sluice_alarm_instances{alarm,state}.
package alarm

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/connectors/sns"
	"github.com/sluicehq/sluice/operators/alarm"
	"github.com/sluicehq/sluice/runtime"
)

func init() { connectors.Register(factory{}) }

type factory struct{}

func (factory) Name() string { return "alarm" }

func (factory) Options() []connectors.Option {
	return []connectors.Option{
		{Key: "topic", Required: true, Doc: "the topic (CREATE TOPIC) that receives the state changes"},
		{Key: "alarm-name", Required: true, Doc: "the alarm's name"},
		{Key: "alarm-description", Doc: "its description"},
		{Key: "metric", Required: true, Doc: "the column holding each period's datapoint (DOUBLE, BIGINT or INT; NULL: no datapoint)"},
		{Key: "dimensions", Doc: "comma-separated columns: one alarm instance per distinct value (absent: one instance)"},
		{Key: "period", Required: true, Doc: "the column (TIMESTAMP) holding the end of each row's period"},
		{Key: "period.length", Doc: "the length of a period, e.g. '10 s' (absent: inferred from the data)"},
		{Key: "comparison", Required: true, Doc: "GreaterThanThreshold, GreaterThanOrEqualToThreshold, LessThanThreshold or LessThanOrEqualToThreshold"},
		{Key: "threshold", Required: true, Doc: "the threshold"},
		{Key: "evaluation-periods", Required: true, Doc: "N: the periods looked at"},
		{Key: "datapoints-to-alarm", Doc: "M: breaching datapoints among the N that make ALARM (default N)"},
		{Key: "treat-missing-data", Default: "missing", Doc: "missing, notBreaching, breaching or ignore"},
		{Key: "max-instances", Default: "1000000", Doc: "the most alarm instances (distinct dimension values) held; more fail the job"},
	}
}

// AcceptsUpdates: datapoints are appended rows.
func (factory) AcceptsUpdates(connectors.Table) bool { return false }

func (factory) NewSink(t connectors.Table) (func() runtime.Operator, int, error) {
	if err := connectors.CheckOptions(factory{}, t.Options); err != nil {
		return nil, 0, fmt.Errorf("table %s: %w", t.Name, err)
	}
	bad := func(key, format string, args ...any) error {
		return fmt.Errorf("table %s: option '%s': %s", t.Name, key, fmt.Sprintf(format, args...))
	}
	col := func(key string) (int, error) {
		name := strings.TrimSpace(t.Options[key])
		i := t.Schema.Index(name)
		if i < 0 {
			return 0, bad(key, "no column %q (columns: %s)", name, strings.Join(t.Schema.Names(), ", "))
		}
		return i, nil
	}
	if t.Schema == nil {
		return nil, 0, fmt.Errorf("table %s: declare its columns (the dimensions, the period end and the metric)", t.Name)
	}
	c := alarm.Config{Name: t.Options["alarm-name"], Description: t.Options["alarm-description"], MetricName: strings.TrimSpace(t.Options["metric"])}
	var err error
	if c.MetricCol, err = col("metric"); err != nil {
		return nil, 0, err
	}
	switch t.Schema.Fields[c.MetricCol].Type {
	case runtime.Double, runtime.BigInt, runtime.Int:
	default:
		return nil, 0, bad("metric", "column %s is %s; a datapoint is a number", c.MetricName, t.Schema.Fields[c.MetricCol].Type)
	}
	if c.PeriodCol, err = col("period"); err != nil {
		return nil, 0, err
	}
	if typ := t.Schema.Fields[c.PeriodCol].Type; typ != runtime.Timestamp {
		return nil, 0, bad("period", "column %s is %s; want the TIMESTAMP of each period's end (TUMBLE_END)", t.Options["period"], typ)
	}
	if dims := strings.TrimSpace(t.Options["dimensions"]); dims != "" {
		for _, d := range strings.Split(dims, ",") {
			d = strings.TrimSpace(d)
			i := t.Schema.Index(d)
			if i < 0 {
				return nil, 0, bad("dimensions", "no column %q (columns: %s)", d, strings.Join(t.Schema.Names(), ", "))
			}
			c.Dimensions, c.DimCols = append(c.Dimensions, d), append(c.DimCols, i)
		}
	}
	if v, ok := t.Options["period.length"]; ok {
		if c.Period, err = connectors.ParseDuration(v); err != nil || c.Period <= 0 {
			return nil, 0, bad("period.length", "%q is not a positive duration", v)
		}
	}
	if c.Comparison, err = alarm.ParseComparison(strings.TrimSpace(t.Options["comparison"])); err != nil {
		return nil, 0, bad("comparison", "%v", err)
	}
	if c.Threshold, err = strconv.ParseFloat(strings.TrimSpace(t.Options["threshold"]), 64); err != nil {
		return nil, 0, bad("threshold", "%q is not a number", t.Options["threshold"])
	}
	if c.EvaluationPeriods, err = strconv.Atoi(strings.TrimSpace(t.Options["evaluation-periods"])); err != nil {
		return nil, 0, bad("evaluation-periods", "%q is not a whole number", t.Options["evaluation-periods"])
	}
	if v, ok := t.Options["datapoints-to-alarm"]; ok {
		if c.DatapointsToAlarm, err = strconv.Atoi(strings.TrimSpace(v)); err != nil || c.DatapointsToAlarm < 1 {
			return nil, 0, bad("datapoints-to-alarm", "%q is not a whole number of at least 1", v)
		}
	}
	if c.TreatMissing, err = alarm.ParseTreatMissing(strings.TrimSpace(t.String("treat-missing-data", "missing"))); err != nil {
		return nil, 0, bad("treat-missing-data", "%v", err)
	}
	if v, ok := t.Options["max-instances"]; ok {
		if c.MaxInstances, err = strconv.Atoi(strings.TrimSpace(v)); err != nil || c.MaxInstances < 1 {
			return nil, 0, bad("max-instances", "%q is not a whole number of at least 1", v)
		}
	}
	if err := c.Validate(); err != nil {
		return nil, 0, fmt.Errorf("table %s: %w", t.Name, err)
	}
	topicName := strings.TrimSpace(t.Options["topic"])
	var topic *sns.Topic
	if t.Objects != nil {
		if o, ok := t.Objects("topic", topicName); ok {
			topic, _ = o.(*sns.Topic)
		}
	}
	if topic == nil {
		return nil, 0, bad("topic", "no topic %q in this job: create it first with CREATE TOPIC %s", topicName, topicName)
	}
	pub := newPublisher(topic, c.Name)
	return alarm.New(c, pub), 1, nil
}

// publisher turns notifications into topic messages and counts instances
// per state.
type publisher struct {
	topic *sns.Topic
	mu    sync.Mutex
	state map[string]string // instance → state
	count map[string]int    // state → instances
}

// publishers holds the latest publisher of each alarm name per metrics set:
// the gauges of an alarm, registered once in the set of its topic (the
// job's), read its counts, so a job planned again with the same set
// reports its own.
var publishers struct {
	mu    sync.Mutex
	byKey map[publisherKey]*publisher
}

type publisherKey struct {
	set  *metrics.Set
	name string
}

func newPublisher(t *sns.Topic, name string) *publisher {
	p := &publisher{topic: t, state: map[string]string{}, count: map[string]int{}}
	key := publisherKey{t.Metrics(), name}
	publishers.mu.Lock()
	if publishers.byKey == nil {
		publishers.byKey = map[publisherKey]*publisher{}
	}
	publishers.byKey[key] = p
	publishers.mu.Unlock()
	for _, st := range []string{"OK", "ALARM", "INSUFFICIENT_DATA"} {
		key.set.GetOrCreateGauge(fmt.Sprintf(`sluice_alarm_instances{alarm=%q,state=%q}`, name, st), func() float64 {
			publishers.mu.Lock()
			cur := publishers.byKey[key]
			publishers.mu.Unlock()
			cur.mu.Lock()
			defer cur.mu.Unlock()
			return float64(cur.count[st])
		})
	}
	return p
}

// Subject is CloudWatch's subject of an alarm notification.
func Subject(n alarm.Notification) string {
	return fmt.Sprintf("%s: %q in US East (N. Virginia)", n.NewState, n.AlarmName)
}

func (p *publisher) Publish(n alarm.Notification) error {
	attrs := map[string]sns.Attribute{
		"AlarmName":     {Type: "String", Value: n.AlarmName},
		"NewStateValue": {Type: "String", Value: n.NewState},
		"OldStateValue": {Type: "String", Value: n.OldState},
	}
	for d, v := range n.Dimensions {
		if _, clash := attrs[d]; !clash {
			attrs[d] = sns.Attribute{Type: "String", Value: v}
		}
	}
	p.mu.Lock()
	inst := keyOf(n.Dimensions)
	if old, ok := p.state[inst]; ok {
		p.count[old]--
	}
	p.state[inst] = n.NewState
	p.count[n.NewState]++
	p.mu.Unlock()
	_, err := p.topic.Publish(sns.Message{Subject: Subject(n), Body: n.Body, Attributes: attrs})
	return err
}

// keyOf names an instance by its dimensions, in a stable order.
func keyOf(dims map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(dims)) {
		b.WriteString(k + "=" + dims[k] + "\x00")
	}
	return b.String()
}
