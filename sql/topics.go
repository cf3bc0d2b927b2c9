package sql

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/connectors/sns"
	"github.com/sluicehq/sluice/internal/suggest"
	"github.com/sluicehq/sluice/sql/parser"
)

// Topics (CREATE TOPIC) and their subscriptions (CREATE SUBSCRIPTION) live
// with the plan: alarms and other sinks publish to them by name (the
// 'topic' option), every subscription receives its own copy. Close delivers
// what is queued before the job's process exits.

// optionAt places an error at an option of a statement.
func optionAt(opts []parser.Option, key string, err error) error {
	for _, o := range opts {
		if o.Key == key {
			return &parser.SyntaxError{Line: o.Pos.Line, Col: o.Pos.Col, Msg: err.Error()}
		}
	}
	return err
}

// parseOptions checks the options of a statement against specs (the
// keys, then the values), placing an error at its option; what names the
// statement in errors ("CREATE TOPIC") and object what it creates ("topic
// ops").
func parseOptions(what, object string, opts []parser.Option, specs []connectors.Option) (*connectors.Values, error) {
	known := make([]string, len(specs))
	for i, o := range specs {
		known[i] = o.Key
	}
	if err := checkKeys(what, opts, known); err != nil {
		return nil, err
	}
	v, err := connectors.ParseOptions(object, specs, optionMap(opts))
	if oe := (interface{ OptionKey() string })(nil); errors.As(err, &oe) {
		return nil, optionAt(opts, oe.OptionKey(), err)
	}
	return v, err
}

// checkKeys refuses options not in known, naming the nearest.
func checkKeys(what string, opts []parser.Option, known []string) error {
	for _, o := range opts {
		if slices.Contains(known, o.Key) {
			continue
		}
		msg := fmt.Sprintf("%s has no option %q", what, o.Key)
		msg += suggest.Hint(o.Key, known)
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
	o, err := parseOptions("CREATE TOPIC", "topic "+n.Name, n.Options, sns.TopicOptionSpecs)
	if err != nil {
		return err
	}
	t, err := sns.NewTopic(n.Name, sns.TopicOptions{Region: o.String("region"), Account: o.String("account"), DrainTimeout: o.Duration("drain-timeout"),
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
		msg += suggest.Hint(n.Topic, slices.Collect(maps.Keys(p.topics)))
		return &parser.SyntaxError{Line: n.TopicPos.Line, Col: n.TopicPos.Col, Msg: msg + "; create it first with CREATE TOPIC"}
	}
	o, err := parseOptions("CREATE SUBSCRIPTION", "topic "+n.Topic+": subscription "+n.Name, n.Options, sns.SubscriptionOptionSpecs)
	if err != nil {
		return err
	}
	_, err = t.Subscribe(sns.SubscriptionConfig{
		Name: n.Name, Protocol: o.Enum("protocol"), Endpoint: o.String("endpoint"),
		FilterPolicy: o.String("filter-policy"), FilterPolicyScope: o.Enum("filter-policy-scope"), RawMessageDelivery: o.Bool("raw-message-delivery"),
		DeliveryPolicy: o.String("delivery-policy"), DeadLetter: o.String("dead-letter"), StoreEndpoint: o.String("store.endpoint"),
		AttemptTimeout: o.Duration("attempt-timeout"), QueueBytes: int(o.Size("queue-bytes")),
	})
	if err != nil {
		// Name the option as the job file writes it, and place the error
		// there.
		msg := err.Error()
		for field, key := range subscriptionFields {
			if strings.Contains(msg, "option "+field+":") {
				return optionAt(n.Options, key, errors.New(strings.Replace(msg, "option "+field+":", fmt.Sprintf("option %q:", key), 1)))
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
