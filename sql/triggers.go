package sql

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/connectors/sns"
	storeconn "github.com/sluicehq/sluice/connectors/store"
	"github.com/sluicehq/sluice/internal/suggest"
	"github.com/sluicehq/sluice/sql/parser"
	"github.com/sluicehq/sluice/store/client"
	"github.com/sluicehq/sluice/triggers"
)

// Function triggers (CREATE FUNCTION TRIGGER) are planned into configs of
// package triggers, which the job's process runs beside the job.

func (p *planner) createTrigger(n *parser.CreateTrigger) error {
	if p.session {
		return fmt.Errorf("CREATE FUNCTION TRIGGER runs under `sluice run FILE.sql`, not in the shell")
	}
	if _, ok := p.triggers[n.Name]; ok {
		if n.IfNotExists {
			return nil
		}
		return fmt.Errorf("function trigger %s already exists", n.Name)
	}
	o, err := parseOptions("CREATE FUNCTION TRIGGER", "function trigger "+n.Name, n.Options, triggers.OptionSpecs)
	if err != nil {
		return err
	}
	if n.OnQueue {
		return p.createQueueTrigger(n, o)
	}
	c := triggers.Config{Name: n.Name, BatchSize: int(o.Int("batch.size")), BatchWindow: o.Duration("batch.window"),
		StartingPosition: o.Enum("starting-position"), MaxRetryAttempts: int(o.Int("max-retry-attempts")),
		BisectOnError: o.Bool("bisect-on-error"), ReportBatchItemFailures: o.Bool("report-batch-item-failures"),
		Timeout: o.Duration("timeout"), PositionsDir: o.String("positions.dir"), Region: o.String("region")}
	if o.Has("concurrency") {
		c.Concurrency = int(o.Int("concurrency"))
	}
	if o.Has("max-record-age") {
		c.MaxRecordAge = o.Duration("max-record-age")
	}
	cl, err := p.triggerClient(n, o, &c)
	if err != nil {
		return err
	}
	c.Source = &triggers.StreamSource{Client: cl, Stream: n.Source}
	if o.Has("on-failure") {
		kind, name, err := triggers.ParseDestination(o.String("on-failure"))
		if err != nil {
			return optionAt(n.Options, "on-failure", fmt.Errorf("function trigger %s: option \"on-failure\": %w", n.Name, err))
		}
		if kind == "topic" {
			t, ok := p.topics[name]
			if !ok {
				msg := fmt.Sprintf("function trigger %s: option \"on-failure\": unknown topic %q", n.Name, name)
				msg += suggest.Hint(name, slices.Collect(maps.Keys(p.topics)))
				return optionAt(n.Options, "on-failure", fmt.Errorf("%s; create it first with CREATE TOPIC", msg))
			}
			subject := "Function trigger " + n.Name + " failure"
			c.OnFailure = triggers.FuncDestination(func(_ context.Context, _ string, failure []byte) error {
				m := sns.Message{Subject: subject, Body: string(failure)}
				if t.FIFO() {
					m.GroupID = sns.GroupFor(n.Name)
				}
				_, err := t.Publish(m)
				return err
			})
		} else {
			c.OnFailure = &triggers.StreamDestination{Client: cl, Stream: name}
		}
	}
	p.addTrigger(c)
	return nil
}

// createQueueTrigger plans CREATE FUNCTION TRIGGER … ON QUEUE: the options
// of stream triggers are refused; batch.size defaults to 10, timeout to
// the queue's visibility timeout (up to a minute).
func (p *planner) createQueueTrigger(n *parser.CreateTrigger, o *connectors.Values) error {
	for _, k := range slices.Sorted(maps.Keys(triggers.StreamOnly)) {
		if o.Has(k) {
			return optionAt(n.Options, k, fmt.Errorf("function trigger %s ON QUEUE %s: option %q is for triggers on streams: %s", n.Name, n.Source, k, triggers.StreamOnly[k]))
		}
	}
	c := triggers.Config{Name: n.Name, BatchSize: 10, BatchWindow: o.Duration("batch.window"),
		ReportBatchItemFailures: o.Bool("report-batch-item-failures"), Region: o.String("region")}
	if o.Has("batch.size") {
		c.BatchSize = int(o.Int("batch.size"))
	}
	if o.Has("timeout") {
		c.Timeout = o.Duration("timeout")
	}
	if o.Has("concurrency") {
		c.Concurrency = int(o.Int("concurrency"))
	}
	cl, err := p.triggerClient(n, o, &c)
	if err != nil {
		return err
	}
	c.Queue = &triggers.QueueSource{Client: cl, Queue: n.Source}
	if err := triggers.CheckQueue(c); err != nil {
		var oe *triggers.OptionError
		if errors.As(err, &oe) {
			return optionAt(n.Options, oe.Option, err)
		}
		return err
	}
	p.addTrigger(c)
	return nil
}

// triggerClient sets c's invoker and returns the client of its store.
func (p *planner) triggerClient(n *parser.CreateTrigger, o *connectors.Values, c *triggers.Config) (*client.Client, error) {
	switch {
	case o.Has("endpoint") && o.Has("command"):
		return nil, optionAt(n.Options, "command", fmt.Errorf("function trigger %s: give 'endpoint' or 'command', not both", n.Name))
	case o.Has("endpoint"):
		c.Invoker = &triggers.HTTPInvoker{URL: o.String("endpoint")}
	case o.Has("command"):
		if o.String("command") == "" {
			return nil, optionAt(n.Options, "command", fmt.Errorf("function trigger %s: option \"command\" is empty", n.Name))
		}
		c.Invoker = &triggers.CommandInvoker{Command: o.String("command")}
	default:
		return nil, fmt.Errorf("function trigger %s needs option 'endpoint' (an HTTP function) or 'command' (a local one)", n.Name)
	}
	cl, err := storeconn.NewClient(o.String("store.endpoint"))
	if err != nil {
		if o.String("store.endpoint") == "" {
			err = fmt.Errorf("function trigger %s: the job has no embedded store: give 'store.endpoint' = 'URL', or run the job with --store-dir DIR", n.Name)
		}
		return nil, optionAt(n.Options, "store.endpoint", err)
	}
	return cl, nil
}

func (p *planner) addTrigger(c triggers.Config) {
	if p.triggers == nil {
		p.triggers = map[string]triggers.Config{}
	}
	p.triggers[c.Name] = c
}

func (p *planner) dropTrigger(n *parser.DropTrigger) error {
	if _, ok := p.triggers[n.Name]; !ok {
		if n.IfExists {
			return nil
		}
		return fmt.Errorf("function trigger %s does not exist", n.Name)
	}
	delete(p.triggers, n.Name)
	return nil
}
