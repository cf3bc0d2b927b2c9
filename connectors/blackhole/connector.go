package blackhole

import (
	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/runtime"
)

func init() { connectors.Register(factory{}) }

// factory is the 'blackhole' connector: a sink that discards rows.
type factory struct{}

func (factory) Name() string                         { return "blackhole" }
func (factory) Options() []connectors.Option         { return nil }
func (factory) AcceptsUpdates(connectors.Table) bool { return true }

func (factory) NewSink(connectors.Table) (func() runtime.Operator, int, error) {
	return New(nil), 0, nil
}
