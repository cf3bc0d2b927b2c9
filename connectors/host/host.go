// Package host is the 'host' connector: a source of the machine's own
// metrics, read from /proc like the CloudWatch and Kinesis agents do — CPU
// busy percentage (the whole machine and, with 'per-core', each core) and
// memory in use — one row per sample every 'interval'.
//
// Columns are taken by name from the table, any subset of:
//
//	host         VARCHAR    the host name ('host.name', default os.Hostname)
//	core         VARCHAR    "all" for the machine, "cpu0", "cpu1", … per core
//	cpu          DOUBLE     % of the interval the CPU (or core) was busy
//	mem_used_pct DOUBLE     % of memory in use (MemTotal − MemAvailable)
//	ts           TIMESTAMP  when the sample was taken
//
// The first sample is a baseline: rows start one interval after the job
// does. CPU busy time is everything but idle and iowait, as top counts it.
// The source runs as one subtask and never ends; it keeps no position (a
// restored job samples the present).
package host

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/runtime"
)

func init() { connectors.Register(factory{}) }

// Columns the source can fill.
var columns = map[string]runtime.Type{
	"host": runtime.Varchar, "core": runtime.Varchar, "cpu": runtime.Double, "mem_used_pct": runtime.Double, "ts": runtime.Timestamp,
}

type factory struct{}

func (factory) Name() string { return "host" }

var options = []connectors.Option{
	{Key: "interval", Type: connectors.Duration, Default: "1 s", Min: "10ms", Doc: "time between samples"},
	{Key: "per-core", Type: connectors.Bool, Default: "false", Doc: "also a row per core (core = cpu0, cpu1, …)"},
	{Key: "host.name", DefaultDoc: "the machine's host name", Doc: "the host column's value"},
	{Key: "proc", Default: "/proc", Doc: "where to read stat and meminfo (tests point it elsewhere)"},
}

func (factory) Options() []connectors.Option { return options }

type config struct {
	table    string
	schema   *runtime.Schema
	interval time.Duration
	perCore  bool
	host     string
	proc     string
	cols     map[string]int // column name → index in the schema
}

func (factory) NewSource(t connectors.Table) (func() runtime.Source, int, error) {
	o, err := connectors.Parse(factory{}, t)
	if err != nil {
		return nil, 0, err
	}
	c := &config{table: t.Name, schema: t.Schema, cols: map[string]int{}, interval: o.Duration("interval"), perCore: o.Bool("per-core"),
		proc: o.String("proc"), host: o.String("host.name")}
	if c.host == "" {
		if c.host, err = os.Hostname(); err != nil {
			c.host = "localhost"
		}
	}
	if t.Schema == nil {
		return nil, 0, fmt.Errorf("table %s: declare the columns to read, among host, core, cpu, mem_used_pct, ts", t.Name)
	}
	for i, f := range t.Schema.Fields {
		typ, ok := columns[f.Name]
		if !ok {
			return nil, 0, fmt.Errorf("table %s: column %s: the host source has no such column (it has host, core, cpu, mem_used_pct, ts)", t.Name, f.Name)
		}
		if f.Type != typ {
			return nil, 0, fmt.Errorf("table %s: column %s is %s; the host source gives %s", t.Name, f.Name, f.Type, typ)
		}
		c.cols[f.Name] = i
	}
	if _, err := readStat(c.proc); err != nil {
		return nil, 0, fmt.Errorf("table %s: %v", t.Name, err)
	}
	return func() runtime.Source { return &source{cfg: c} }, 1, nil
}

// cpuTimes are the jiffies of one line of /proc/stat.
type cpuTimes struct {
	name       string
	busy, idle uint64
}

// readStat reads the cpu lines of proc/stat.
func readStat(proc string) ([]cpuTimes, error) {
	data, err := os.ReadFile(proc + "/stat")
	if err != nil {
		return nil, fmt.Errorf("cannot read CPU times: %w", err)
	}
	var out []cpuTimes
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 5 || !strings.HasPrefix(f[0], "cpu") {
			continue
		}
		var t cpuTimes
		t.name = f[0]
		for i, v := range f[1:] {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%s/stat: line %q: %v", proc, sc.Text(), err)
			}
			if i == 3 || i == 4 { // idle, iowait
				t.idle += n
			} else if i < 8 { // user nice system (idle iowait) irq softirq steal; guest is inside user
				t.busy += n
			}
		}
		out = append(out, t)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s/stat has no cpu lines", proc)
	}
	return out, nil
}

// memUsedPct reads proc/meminfo.
func memUsedPct(proc string) (float64, error) {
	data, err := os.ReadFile(proc + "/meminfo")
	if err != nil {
		return 0, fmt.Errorf("cannot read memory use: %w", err)
	}
	var total, avail float64
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "MemTotal:":
			total = v
		case "MemAvailable:":
			avail = v
		}
	}
	if total <= 0 {
		return 0, fmt.Errorf("%s/meminfo has no MemTotal", proc)
	}
	return 100 * (total - avail) / total, nil
}

type source struct {
	cfg     *config
	sampler Sampler
	pace    connectors.Pacer
	b       *runtime.Batch
}

func (s *source) Open(*runtime.Context) error {
	s.b = runtime.NewBatch(s.cfg.schema)
	s.pace = connectors.Pacer{Interval: s.cfg.interval}
	s.sampler = Sampler{Proc: s.cfg.proc, Host: s.cfg.host, PerCore: s.cfg.perCore}
	return nil
}

// Poll takes a sample when it is due, waiting at most 50 ms for it.
func (s *source) Poll(ctx context.Context) (*runtime.Batch, int, error) {
	now, due, err := s.pace.Due(ctx)
	if !due {
		return nil, 0, err
	}
	readings, err := s.sampler.Sample(now)
	if err != nil {
		return nil, 0, fmt.Errorf("table %s: %w", s.cfg.table, err)
	}
	if len(readings) == 0 {
		return nil, 0, nil // the baseline
	}
	s.b.Reset()
	for _, r := range readings {
		s.row(r.Core, r.CPU, r.MemUsedPct, r.TS)
	}
	return s.b, 0, nil
}

func (s *source) row(core string, cpu, mem float64, ts int64) {
	vals := make([]runtime.Value, s.cfg.schema.Len())
	for name, i := range s.cfg.cols {
		switch name {
		case "host":
			vals[i] = runtime.StringValue(s.cfg.host)
		case "core":
			vals[i] = runtime.StringValue(core)
		case "cpu":
			vals[i] = runtime.FloatValue(cpu)
		case "mem_used_pct":
			vals[i] = runtime.FloatValue(mem)
		case "ts":
			vals[i] = runtime.TimeValue(ts)
		}
	}
	s.b.AppendValues(vals...)
}

func (s *source) Close() error {
	if s.b != nil {
		s.b.Release()
	}
	return nil
}

// Reading is one sample of the machine (Core "all") or of one core.
type Reading struct {
	Host       string  `json:"host"`
	Core       string  `json:"core"`
	CPU        float64 `json:"cpu"`
	MemUsedPct float64 `json:"mem_used_pct"`
	TS         int64   `json:"ts"` // epoch milliseconds
}

// Sampler takes readings of this machine, as the host source does, for
// other producers (`sluice agent --host-metrics`).
type Sampler struct {
	Proc    string // default /proc
	Host    string // default os.Hostname
	PerCore bool
	prev    []cpuTimes
}

// Sample returns the readings since the previous call; the first call
// returns none (it is the baseline).
func (s *Sampler) Sample(now time.Time) ([]Reading, error) {
	if s.Proc == "" {
		s.Proc = "/proc"
	}
	if s.Host == "" {
		if h, err := os.Hostname(); err == nil {
			s.Host = h
		} else {
			s.Host = "localhost"
		}
	}
	cur, err := readStat(s.Proc)
	if err != nil {
		return nil, err
	}
	prev := s.prev
	s.prev = cur
	if prev == nil {
		return nil, nil
	}
	mem, err := memUsedPct(s.Proc)
	if err != nil {
		return nil, err
	}
	var out []Reading
	for i, c := range cur {
		if i > 0 && !s.PerCore {
			break
		}
		if i >= len(prev) || prev[i].name != c.name {
			continue
		}
		busy, idle := c.busy-prev[i].busy, c.idle-prev[i].idle
		pct := 0.0
		if busy+idle > 0 {
			pct = 100 * float64(busy) / float64(busy+idle)
		}
		core := c.name
		if core == "cpu" {
			core = "all"
		}
		out = append(out, Reading{Host: s.Host, Core: core, CPU: pct, MemUsedPct: mem, TS: now.UnixMilli()})
	}
	return out, nil
}
