package cpualarm

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/runtime"
)

// The 'fleet' connector: a simulated fleet of hosts reporting CPU and
// memory every interval, in real time, for demos and trials. Most hosts
// wander between 15% and 65% CPU; the 'spiking' ones run at 93–99% for a
// minute every three minutes, the first from about 5 s after the start and
// the others staggered by 40 s, so alarms fire and clear while one watches.
//
// Columns are taken by name, any subset of host VARCHAR, cpu DOUBLE,
// mem_used_pct DOUBLE, ts TIMESTAMP(3) (the wall clock at the sample).

func init() { connectors.Register(fleetFactory{}) }

var fleetColumns = map[string]runtime.Type{"host": runtime.Varchar, "cpu": runtime.Double, "mem_used_pct": runtime.Double, "ts": runtime.Timestamp}

type fleetFactory struct{}

func (fleetFactory) Name() string { return "fleet" }

var fleetOptions = []connectors.Option{
	{Key: "hosts", Type: connectors.Int, Default: "50", Min: "1", Max: "100000", Doc: "hosts in the fleet"},
	{Key: "spiking", Type: connectors.Int, Default: "3", Min: "0", Doc: "hosts whose CPU spikes for a minute every three minutes (at most the hosts)"},
	{Key: "interval", Type: connectors.Duration, Default: "1 s", Min: "1ms", Doc: "time between two reports of a host"},
	{Key: "seed", Type: connectors.Int, Default: "1", Doc: "seed of the random readings"},
}

func (fleetFactory) Options() []connectors.Option { return fleetOptions }

type fleetConfig struct {
	table    string
	schema   *runtime.Schema
	hosts    int
	spiking  int
	interval time.Duration
	seed     uint64
	cols     map[string]int
}

func (fleetFactory) NewSource(t connectors.Table) (func() runtime.Source, int, error) {
	o, err := connectors.Parse(fleetFactory{}, t)
	if err != nil {
		return nil, 0, err
	}
	c := &fleetConfig{table: t.Name, schema: t.Schema, cols: map[string]int{}, hosts: int(o.Int("hosts")), spiking: int(o.Int("spiking")),
		interval: o.Duration("interval"), seed: uint64(o.Int("seed"))}
	if c.spiking > c.hosts {
		return nil, 0, o.Errorf("spiking", "%d is more than the %d hosts", c.spiking, c.hosts)
	}
	if t.Schema == nil {
		return nil, 0, fmt.Errorf("table %s: declare the columns to read, among host, cpu, mem_used_pct, ts", t.Name)
	}
	for i, f := range t.Schema.Fields {
		typ, ok := fleetColumns[f.Name]
		if !ok || f.Type != typ {
			return nil, 0, fmt.Errorf("table %s: column %s %s: the fleet gives host VARCHAR, cpu DOUBLE, mem_used_pct DOUBLE, ts TIMESTAMP(3)", t.Name, f.Name, f.Type)
		}
		c.cols[f.Name] = i
	}
	return func() runtime.Source { return &fleet{cfg: c} }, 1, nil
}

// HostName is the name of host i of the fleet: web-01, db-02, cache-03, …
func HostName(i int) string {
	kinds := []string{"web", "db", "cache", "api", "queue"}
	return fmt.Sprintf("%s-%02d", kinds[i%len(kinds)], i+1)
}

type fleet struct {
	cfg   *fleetConfig
	rng   *rand.Rand
	cpu   []float64 // each host's wandering baseline
	start time.Time
	pace  connectors.Pacer
	b     *runtime.Batch
}

func (f *fleet) Open(*runtime.Context) error {
	f.rng = rand.New(rand.NewPCG(f.cfg.seed, f.cfg.seed^0x9e3779b97f4a7c15))
	f.cpu = make([]float64, f.cfg.hosts)
	for i := range f.cpu {
		f.cpu[i] = 20 + 40*f.rng.Float64()
	}
	f.b = runtime.NewBatch(f.cfg.schema)
	f.start = time.Now()
	f.pace = connectors.Pacer{Interval: f.cfg.interval}
	return nil
}

// spiking reports whether host i runs hot at time since the start: the
// spiking hosts are spread over the fleet (every hosts/spiking-th one).
func (f *fleet) spiking(i int, since time.Duration) bool {
	if f.cfg.spiking == 0 {
		return false
	}
	step := f.cfg.hosts / f.cfg.spiking
	if i%step != step/2 || i/step >= f.cfg.spiking {
		return false
	}
	k := i / step
	phase := since - 5*time.Second - time.Duration(k)*40*time.Second
	if phase < 0 {
		return false
	}
	return phase%(3*time.Minute) < time.Minute
}

func (f *fleet) Poll(ctx context.Context) (*runtime.Batch, int, error) {
	now, due, err := f.pace.Due(ctx)
	if !due {
		return nil, 0, err
	}
	since := now.Sub(f.start)
	f.b.Reset()
	vals := make([]runtime.Value, f.cfg.schema.Len())
	for i := range f.cpu {
		f.cpu[i] = math.Min(65, math.Max(15, f.cpu[i]+f.rng.NormFloat64()*3))
		cpu := f.cpu[i]
		if f.spiking(i, since) {
			cpu = 93 + 6*f.rng.Float64()
		}
		for name, c := range f.cfg.cols {
			switch name {
			case "host":
				vals[c] = runtime.StringValue(HostName(i))
			case "cpu":
				vals[c] = runtime.FloatValue(math.Round(cpu*10) / 10)
			case "mem_used_pct":
				vals[c] = runtime.FloatValue(math.Round((40+cpu/4)*10) / 10)
			case "ts":
				vals[c] = runtime.TimeValue(now.UnixMilli())
			}
		}
		f.b.AppendValues(vals...)
	}
	return f.b, 0, nil
}

func (f *fleet) Close() error {
	if f.b != nil {
		f.b.Release()
	}
	return nil
}
