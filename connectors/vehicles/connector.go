// Package vehicles is the 'vehicles' connector: a source of simulated
// vehicle positions for trials and tests of location analytics.
//
//	CREATE TABLE v (id VARCHAR, lat DOUBLE, lon DOUBLE, speed DOUBLE, ts TIMESTAMP(3),
//	  WATERMARK FOR ts AS ts
//	) WITH ('connector' = 'vehicles', 'vehicles' = '500', 'duration' = '10 min');
//
// N vehicles (option vehicles) drive inside a bounding box (bbox, default
// Berlin) from one random waypoint to the next, each leg along two
// street-like straight segments (first east–west then north–south, or the
// other way round), at a speed that eases towards a target drawn for each
// leg in [speed.min, speed.max]; on reaching a waypoint a vehicle parks,
// with chance stop.probability, for up to stop.max. Every vehicle reports a
// row every interval of event time: tick t has the rows of vehicles 0 … N−1
// at start + t·interval. A row's speed is the one the vehicle drives at
// until the next report (0 while parked), so consecutive positions are at
// most speed × interval apart.
//
// A vehicle's path depends only on the seed and its number, so the rows are
// the same whatever the number of subtasks: vehicle v goes to subtask
// v mod p, and each subtask emits its vehicles tick after tick, so every
// subtask's event time (one watermark partition each) advances together.
//
// Checkpoints: a subtask's position is the tick and the vehicle it emits
// next. A restored subtask replays its vehicles' moves up to there without
// emitting them (a vehicle's state is the sum of its moves), then goes on
// exactly as an undisturbed one. A job restored with another number of
// subtasks is refused.
package vehicles

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/internal/suggest"
	"github.com/sluicehq/sluice/runtime"
)

func init() { connectors.Register(factory{}) }

const (
	// defaultBBox is Berlin (inside the ring of its city limits):
	// minLon,minLat,maxLon,maxLat.
	defaultBBox  = "13.088,52.338,13.761,52.675"
	defaultStart = "2026-01-01T00:00:00Z"
	// easing is the time constant with which a vehicle's speed approaches
	// its leg's target speed.
	easing = 10 * time.Second
)

var options = []connectors.Option{
	{Key: "vehicles", Type: connectors.Int, Default: "1000", Min: "1", Max: "1000000",
		Doc: "number of vehicles; each reports one row per interval"},
	{Key: "bbox", Type: connectors.String, Default: defaultBBox, Parse: parseBBox,
		Doc: "`minLon,minLat,maxLon,maxLat` (degrees) the vehicles stay in; the default is Berlin"},
	{Key: "interval", Type: connectors.Duration, Default: "1 s", Min: "1ms", Max: "1 d",
		Doc: "event time between two reports of a vehicle (whole milliseconds)"},
	{Key: "speed.min", Type: connectors.Float, Default: "10", Min: "0", Max: "1000",
		Doc: "slowest driving speed, km/h (a parked vehicle reports 0)"},
	{Key: "speed.max", Type: connectors.Float, Default: "50", Min: "0", Max: "1000",
		Doc: "fastest driving speed, km/h"},
	{Key: "stop.probability", Type: connectors.Float, Default: "0.2", Min: "0", Max: "1",
		Doc: "chance that a vehicle parks on reaching a waypoint"},
	{Key: "stop.max", Type: connectors.Duration, Default: "2 min", Min: "0",
		Doc: "longest stay of a parked vehicle (uniform up to this)"},
	{Key: "start", Type: connectors.String, Default: defaultStart,
		Doc: "event time of the first reports (RFC 3339, or `now`: the wall clock when the job starts)"},
	{Key: "number-of-rows", Type: connectors.Int, Min: "0", DefaultDoc: "unbounded",
		Doc: "rows to generate (tick by tick, vehicle by vehicle); not with `duration`"},
	{Key: "duration", Type: connectors.Duration, Min: "0", DefaultDoc: "unbounded",
		Doc: "event time to cover: duration/interval reports per vehicle; not with `number-of-rows`"},
	{Key: "rows-per-second", Type: connectors.Float, DefaultDoc: "unlimited",
		Doc: "limit for the whole source, shared by its subtasks (vehicles × 1/interval keeps up with the wall clock)"},
	{Key: "seed", Type: connectors.Int, Default: "0", Doc: "a vehicle's path depends only on (seed, vehicle number)"},
}

// bbox is a bounding box in degrees.
type bbox struct{ minLon, minLat, maxLon, maxLat float64 }

func parseBBox(s string) (any, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 4 {
		return nil, fmt.Errorf("%q is not minLon,minLat,maxLon,maxLat (e.g. %s)", s, defaultBBox)
	}
	var v [4]float64
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%q: %q is not a number (want minLon,minLat,maxLon,maxLat, e.g. %s)", s, strings.TrimSpace(p), defaultBBox)
		}
		v[i] = f
	}
	b := bbox{v[0], v[1], v[2], v[3]}
	switch {
	case b.minLon < -180 || b.maxLon > 180:
		return nil, fmt.Errorf("%q: longitudes must be in [-180, 180]", s)
	case b.minLat < -85 || b.maxLat > 85:
		return nil, fmt.Errorf("%q: latitudes must be in [-85, 85]", s)
	case b.minLon >= b.maxLon:
		return nil, fmt.Errorf("%q: minLon %v is not less than maxLon %v", s, b.minLon, b.maxLon)
	case b.minLat >= b.maxLat:
		return nil, fmt.Errorf("%q: minLat %v is not less than maxLat %v", s, b.minLat, b.maxLat)
	}
	return b, nil
}

// The columns a table may declare, any subset in any order.
const (
	colID = iota
	colLat
	colLon
	colSpeed
	colHeading
	colTS
)

var known = []struct {
	name  string
	types []runtime.Type
}{
	{"id", []runtime.Type{runtime.Varchar, runtime.BigInt}},
	{"lat", []runtime.Type{runtime.Double}},
	{"lon", []runtime.Type{runtime.Double}},
	{"speed", []runtime.Type{runtime.Double}},
	{"heading", []runtime.Type{runtime.Double}},
	{"ts", []runtime.Type{runtime.Timestamp}},
}

const knownDoc = "id VARCHAR or BIGINT, lat DOUBLE, lon DOUBLE, speed DOUBLE, heading DOUBLE, ts TIMESTAMP(3)"

type factory struct{}

func (factory) Name() string                 { return "vehicles" }
func (factory) Options() []connectors.Option { return options }

func (factory) NewSource(t connectors.Table) (func() runtime.Source, int, error) {
	cfg, err := parse(t)
	if err != nil {
		return nil, 0, err
	}
	return func() runtime.Source { return &Source{cfg: cfg} }, 0, nil
}

// config is a parsed vehicles table, shared read-only by its subtasks.
type config struct {
	table      string
	schema     *runtime.Schema
	cols       []int // per table column, its known column
	n          int64 // vehicles
	box        bbox
	intervalMs int64
	smin, smax float64 // km/h
	stopP      float64
	stopTicks  int64 // longest stop, in ticks
	start      int64 // ms
	rows       int64 // -1: unbounded
	rate       float64
	seed       uint64
	idWidth    int
}

func parse(t connectors.Table) (*config, error) {
	o, err := connectors.Parse(factory{}, t)
	if err != nil {
		return nil, err
	}
	if t.Schema == nil || t.Schema.Len() == 0 {
		return nil, fmt.Errorf("table %s: a vehicles table needs at least one of the columns %s", t.Name, knownDoc)
	}
	cfg := &config{table: t.Name, schema: t.Schema, n: o.Int("vehicles"), box: o.Value("bbox").(bbox),
		smin: o.Float("speed.min"), smax: o.Float("speed.max"), stopP: o.Float("stop.probability"),
		rows: -1, rate: o.Float("rows-per-second"), seed: uint64(o.Int("seed"))}
	seen := map[int]string{}
	for _, f := range t.Schema.Fields {
		c := -1
		for i, k := range known {
			if strings.EqualFold(f.Name, k.name) {
				c = i
			}
		}
		if c < 0 {
			names := make([]string, len(known))
			for i, k := range known {
				names[i] = k.name
			}
			return nil, fmt.Errorf("table %s: column %s: the vehicles connector has no such column%s; its columns are %s",
				t.Name, f.Name, suggest.Hint(strings.ToLower(f.Name), names), knownDoc)
		}
		if prev, dup := seen[c]; dup {
			return nil, fmt.Errorf("table %s: columns %s and %s are the same column", t.Name, prev, f.Name)
		}
		seen[c] = f.Name
		ok := false
		for _, typ := range known[c].types {
			ok = ok || typ == f.Type
		}
		if !ok {
			return nil, fmt.Errorf("table %s: column %s is %v; the vehicles connector's columns are %s", t.Name, f.Name, f.Type, knownDoc)
		}
		cfg.cols = append(cfg.cols, c)
	}
	interval := o.Duration("interval")
	if interval%time.Millisecond != 0 {
		return nil, o.Errorf("interval", "want whole milliseconds, got %s", o.Raw("interval"))
	}
	cfg.intervalMs = interval.Milliseconds()
	if cfg.smin > cfg.smax {
		return nil, o.Errorf("speed.min", "speed.min %v is greater than speed.max %v", cfg.smin, cfg.smax)
	}
	if cfg.smax <= 0 {
		return nil, o.Errorf("speed.max", "want a speed above 0 km/h, got %s", o.Raw("speed.max"))
	}
	cfg.stopTicks = int64(o.Duration("stop.max") / interval)
	cfg.start, err = connectors.ParseStartTime(o.String("start"))
	if err != nil {
		return nil, o.Errorf("start", "%v", err)
	}
	if o.Has("rows-per-second") && !(cfg.rate > 0) {
		return nil, o.Errorf("rows-per-second", "want a positive number of rows, got %s (leave it out for no limit)", o.Raw("rows-per-second"))
	}
	switch {
	case o.Has("number-of-rows") && o.Has("duration"):
		return nil, o.Errorf("duration", "set either number-of-rows or duration, not both")
	case o.Has("number-of-rows"):
		cfg.rows = o.Int("number-of-rows")
	case o.Has("duration"):
		ticks := int64(o.Duration("duration") / interval)
		if ticks > math.MaxInt64/cfg.n {
			return nil, o.Errorf("duration", "%s of %d vehicles is too many rows", o.Raw("duration"), cfg.n)
		}
		cfg.rows = ticks * cfg.n
	}
	cfg.idWidth = max(4, len(strconv.FormatInt(cfg.n-1, 10)))
	return cfg, nil
}
