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

var options = []connectors.Option{
	{Key: "topic", Required: true, Doc: "the topic (CREATE TOPIC) that receives the state changes"},
	{Key: "alarm-name", Required: true, Doc: "the alarm's name"},
	{Key: "alarm-description", Doc: "its description"},
	{Key: "metric", Type: connectors.Column, Required: true, Doc: "the column holding each period's datapoint (DOUBLE, BIGINT or INT; NULL: no datapoint)"},
	{Key: "dimensions", Type: connectors.Columns, Doc: "comma-separated columns: one alarm instance per distinct value (absent: one instance)"},
	{Key: "period", Type: connectors.Column, Required: true, Doc: "the column (TIMESTAMP) holding the end of each row's period"},
	{Key: "period.length", Type: connectors.Duration, Min: "1ms", DefaultDoc: "inferred from the data", Doc: "the length of a period, e.g. `10 s`"},
	{Key: "comparison", Type: connectors.Enum, Required: true,
		Values: []string{"GreaterThanThreshold", "GreaterThanOrEqualToThreshold", "LessThanThreshold", "LessThanOrEqualToThreshold"},
		Doc:    "`GreaterThanThreshold`, `GreaterThanOrEqualToThreshold`, `LessThanThreshold` or `LessThanOrEqualToThreshold`"},
	{Key: "threshold", Type: connectors.Float, Required: true, Doc: "the threshold"},
	{Key: "evaluation-periods", Type: connectors.Int, Required: true, Min: "1", Doc: "N: the periods looked at"},
	{Key: "datapoints-to-alarm", Type: connectors.Int, Min: "1", DefaultDoc: "N", Doc: "M: breaching datapoints among the N that make ALARM"},
	{Key: "treat-missing-data", Type: connectors.Enum, Default: "missing", Values: []string{"missing", "notBreaching", "breaching", "ignore"},
		Doc: "`missing`, `notBreaching`, `breaching` or `ignore`"},
	{Key: "max-instances", Type: connectors.Int, Default: "1000000", Min: "1", Doc: "the most alarm instances (distinct dimension values) held; more fail the job"},
}

func (factory) Options() []connectors.Option { return options }

// AcceptsUpdates: datapoints are appended rows.
func (factory) AcceptsUpdates(connectors.Table) bool { return false }

func (factory) NewSink(t connectors.Table) (func() runtime.Operator, int, error) {
	if t.Schema == nil {
		return nil, 0, fmt.Errorf("table %s: declare its columns (the dimensions, the period end and the metric)", t.Name)
	}
	o, err := connectors.Parse(factory{}, t)
	if err != nil {
		return nil, 0, err
	}
	c := alarm.Config{Name: o.String("alarm-name"), Description: o.String("alarm-description"), MetricName: strings.TrimSpace(o.String("metric")),
		MetricCol: o.Column("metric"), PeriodCol: o.Column("period"), DimCols: o.Columns("dimensions"), Period: o.Duration("period.length"),
		Threshold: o.Float("threshold"), EvaluationPeriods: int(o.Int("evaluation-periods")), DatapointsToAlarm: int(o.Int("datapoints-to-alarm")),
		MaxInstances: int(o.Int("max-instances"))}
	if typ := t.Schema.Fields[c.MetricCol].Type; !typ.Numeric() {
		return nil, 0, o.Errorf("metric", "column %s is %s; a datapoint is a number", c.MetricName, typ)
	}
	if typ := t.Schema.Fields[c.PeriodCol].Type; typ != runtime.Timestamp {
		return nil, 0, o.Errorf("period", "column %s is %s; want the TIMESTAMP of each period's end (TUMBLE_END)", o.String("period"), typ)
	}
	for _, i := range c.DimCols {
		c.Dimensions = append(c.Dimensions, t.Schema.Fields[i].Name)
	}
	if c.Comparison, err = alarm.ParseComparison(o.Enum("comparison")); err != nil {
		return nil, 0, o.Errorf("comparison", "%v", err)
	}
	if c.TreatMissing, err = alarm.ParseTreatMissing(o.Enum("treat-missing-data")); err != nil {
		return nil, 0, o.Errorf("treat-missing-data", "%v", err)
	}
	if m, n := c.DatapointsToAlarm, c.EvaluationPeriods; m > n {
		return nil, 0, o.Errorf("datapoints-to-alarm", "%d is more than 'evaluation-periods' (%d): M breaching datapoints are looked for among the last N periods", m, n)
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
		return nil, 0, o.Errorf("topic", "no topic %q in this job: create it first with CREATE TOPIC %s", topicName, topicName)
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
	m := sns.Message{Subject: Subject(n), Body: n.Body, Attributes: attrs}
	if p.topic.FIFO() {
		m.GroupID = sns.GroupFor(n.AlarmName) // an alarm's state changes stay in order
	}
	_, err := p.topic.Publish(m)
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
