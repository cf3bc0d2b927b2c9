package print

import (
	"os"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/runtime"
)

func init() { connectors.Register(factory{}) }

var (
	stdout = NewWriter(os.Stdout)
	stderr = NewWriter(os.Stderr)
)

// factory is the 'print' connector (a sink).
type factory struct{}

func (factory) Name() string { return "print" }

var options = []connectors.Option{
	{Key: "print-identifier", Doc: "a prefix for every printed line"},
	{Key: "standard-error", Type: connectors.Bool, Default: "false", Doc: "print to standard error instead of standard output"},
}

func (factory) Options() []connectors.Option { return options }

func (factory) NewSink(t connectors.Table) (func() runtime.Operator, int, error) {
	o, err := connectors.Parse(factory{}, t)
	if err != nil {
		return nil, 0, err
	}
	toErr := o.Bool("standard-error")
	w := stdout
	if toErr {
		w = stderr
	}
	return New(w, o.String("print-identifier")), 0, nil
}

// AcceptsUpdates: print shows every row with its kind.
func (factory) AcceptsUpdates(connectors.Table) bool { return true }
