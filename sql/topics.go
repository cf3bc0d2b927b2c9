package sql

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/connectors/sns"
	"github.com/sluicehq/sluice/internal/suggest"
	"github.com/sluicehq/sluice/sql/parser"
)

// Topics (CREATE TOPIC) and their subscriptions (CREATE SUBSCRIPTION) live
// with the plan: alarms and other sinks publish to them by name (the
// 'topic' option), every subscription receives its own copy. Close delivers
// what is queued before the job's process exits.

// topicOptions are the WITH options of CREATE TOPIC.
var topicOptions = []string{"region", "account", "drain-timeout"}

// subscriptionOptions are the WITH options of CREATE SUBSCRIPTION.
var subscriptionOptions = []string{"protocol", "endpoint", "filter-policy", "filter-policy-scope", "raw-message-delivery",
	"delivery-policy", "dead-letter", "store.endpoint", "attempt-timeout", "queue-bytes"}

// optionAt places an error at an option of a statement.
func optionAt(opts []parser.Option, key string, err error) error {
	for _, o := range opts {
		if o.Key == key {
			return &parser.SyntaxError{Line: o.Pos.Line, Col: o.Pos.Col, Msg: err.Error()}
		}
	}
	return err
}

// checkKeys refuses options not in known, naming the nearest.
func checkKeys(what string, opts []parser.Option, known []string) error {
	for _, o := range opts {
		if slices.Contains(known, o.Key) {
			continue
		}
		msg := fmt.Sprintf("%s has no option %q", what, o.Key)
		if near := suggest.Nearest(o.Key, known); near != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", near)
		}
		return &parser.SyntaxError{Line: o.Pos.Line, Col: o.Pos.Col, Msg: msg + "; its options: " + strings.Join(known, ", ")}
	}
	return nil
}

func optionMap(opts []parser.Option) map[string]string {
	m := map[string]string{}
	for _, o := range opts {
		m[o.Key] = o.Value
	}
	return m
}

func (p *planner) createTopic(n *parser.CreateTopic) error {
	if _, ok := p.topics[n.Name]; ok {
		if n.IfNotExists {
			return nil
		}
		return fmt.Errorf("topic %s already exists", n.Name)
	}
	if err := checkKeys("CREATE TOPIC", n.Options, topicOptions); err != nil {
		return err
	}
	o := optionMap(n.Options)
	var drain time.Duration
	if v, ok := o["drain-timeout"]; ok {
		d, err := connectors.ParseDuration(v)
		if err != nil || d <= 0 {
			return optionAt(n.Options, "drain-timeout", fmt.Errorf("topic %s: option 'drain-timeout': %q is not a positive duration (e.g. 10 s)", n.Name, v))
		}
		drain = d
	}
	t, err := sns.NewTopic(n.Name, sns.TopicOptions{Region: o["region"], Account: o["account"], DrainTimeout: drain,
		Logger: p.o.Logger, Metrics: p.o.Metrics})
	if err != nil {
		return err
	}
	if p.topics == nil {
		p.topics = map[string]*sns.Topic{}
	}
	p.topics[n.Name] = t
	return nil
}

func (p *planner) createSubscription(n *parser.CreateSubscription) error {
	t, ok := p.topics[n.Topic]
	if !ok {
		msg := fmt.Sprintf("unknown topic %q", n.Topic)
		if near := suggest.Nearest(n.Topic, slices.Collect(maps.Keys(p.topics))); near != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", near)
		}
		return &parser.SyntaxError{Line: n.TopicPos.Line, Col: n.TopicPos.Col, Msg: msg + "; create it first with CREATE TOPIC"}
	}
	if err := checkKeys("CREATE SUBSCRIPTION", n.Options, subscriptionOptions); err != nil {
		return err
	}
	o := optionMap(n.Options)
	if o["protocol"] == "" {
		return fmt.Errorf("subscription %s: option 'protocol' is required (http, https, file, stdout or store)", n.Name)
	}
	raw := false
	if v, ok := o["raw-message-delivery"]; ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return optionAt(n.Options, "raw-message-delivery", fmt.Errorf("subscription %s: option 'raw-message-delivery': %q is not true or false", n.Name, v))
		}
		raw = b
	}
	var timeout time.Duration
	if v, ok := o["attempt-timeout"]; ok {
		d, err := connectors.ParseDuration(v)
		if err != nil || d <= 0 {
			return optionAt(n.Options, "attempt-timeout", fmt.Errorf("subscription %s: option 'attempt-timeout': %q is not a positive duration (e.g. 15 s)", n.Name, v))
		}
		timeout = d
	}
	queueBytes := 0
	if v, ok := o["queue-bytes"]; ok {
		b, err := connectors.ParseSize(v)
		if err != nil || b > math.MaxInt32 {
			return optionAt(n.Options, "queue-bytes", fmt.Errorf("subscription %s: option 'queue-bytes': %q is not a size from 1 byte to 2 GiB (e.g. 8 MiB, 65536)", n.Name, v))
		}
		queueBytes = int(b)
	}
	_, err := t.Subscribe(sns.SubscriptionConfig{
		Name: n.Name, Protocol: o["protocol"], Endpoint: o["endpoint"],
		FilterPolicy: o["filter-policy"], FilterPolicyScope: o["filter-policy-scope"], RawMessageDelivery: raw,
		DeliveryPolicy: o["delivery-policy"], DeadLetter: o["dead-letter"], StoreEndpoint: o["store.endpoint"],
		AttemptTimeout: timeout, QueueBytes: queueBytes,
	})
	if err != nil {
		// Name the option as the job file writes it, and place the error
		// there.
		msg := err.Error()
		for field, key := range subscriptionFields {
			if strings.Contains(msg, "option "+field+":") {
				return optionAt(n.Options, key, errors.New(strings.Replace(msg, "option "+field+":", "option '"+key+"':", 1)))
			}
		}
		return err
	}
	return nil
}

// subscriptionFields maps sns.SubscriptionConfig's fields to options.
var subscriptionFields = map[string]string{
	"Protocol": "protocol", "Endpoint": "endpoint", "FilterPolicy": "filter-policy", "FilterPolicyScope": "filter-policy-scope",
	"RawMessageDelivery": "raw-message-delivery", "DeliveryPolicy": "delivery-policy", "DeadLetter": "dead-letter", "StoreEndpoint": "store.endpoint",
}

// object resolves the plan's objects for connectors (connectors.Table's
// Objects): "topic" → *sns.Topic.
func (p *planner) object(kind, name string) (any, bool) {
	if kind == "topic" {
		t, ok := p.topics[name]
		return t, ok
	}
	return nil, false
}

// Close delivers what the plan's topics still hold, until ctx ends, and
// stops their deliveries. A job's process calls it after the job.
func (p *Plan) Close(ctx context.Context) error {
	var errs []error
	for _, t := range p.Topics {
		errs = append(errs, t.Close(ctx))
	}
	return errors.Join(errs...)
}
