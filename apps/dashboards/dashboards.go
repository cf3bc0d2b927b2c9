// Package dashboards holds the ready-made dashboard jobs, as SQL job files
// embedded in the binary: `sluice run clickstream-dashboard` (clicks through
// the embedded stream store into page views, a top-10, distinct users and
// latency by region) and `sluice run location-dashboard` (simulated vehicles
// through the store onto maps, and a geofence whose entries go to a table
// and, as alarm notifications, to a topic). Their results go to 'dashboard'
// sinks, which the console draws.
//
// The files are templates: the flags of the jobs (rates, vehicles, the
// speed of event time, where the stream is read from) fill them in.
package dashboards

import (
	_ "embed"
	"fmt"
	"math"
	"strings"
	"text/template"
	"time"

	_ "github.com/sluicehq/sluice/connectors/alarm"     // 'alarm'
	_ "github.com/sluicehq/sluice/connectors/dashboard" // 'dashboard'
	_ "github.com/sluicehq/sluice/connectors/datagen"   // 'datagen'
	_ "github.com/sluicehq/sluice/connectors/store"     // 'store'
	_ "github.com/sluicehq/sluice/connectors/vehicles"  // 'vehicles'
)

var (
	//go:embed clickstream.sql
	clickstreamSQL string
	//go:embed location.sql
	locationSQL string

	clickstreamTmpl = template.Must(template.New("clickstream.sql").Parse(clickstreamSQL))
	locationTmpl    = template.Must(template.New("location.sql").Parse(locationSQL))
)

// Streams of the embedded store the jobs write and read.
const (
	ClicksStream    = "clicks"
	PositionsStream = "positions"
)

// The location job's area and geofence.
const (
	// BBox is where the vehicles drive (Berlin): minLon, minLat, maxLon, maxLat.
	BBox = "13.088,52.338,13.761,52.675"
	// Fence is the geofence, a polygon in well-known text (longitude first):
	// about the centre of Berlin inside its Ringbahn.
	Fence = "POLYGON((13.28 52.5, 13.33 52.475, 13.43 52.47, 13.47 52.5, 13.45 52.545, 13.38 52.555, 13.3 52.54, 13.28 52.5))"
)

// Dashboard ids (the sink tables' names) of the jobs.
var (
	ClickstreamDashboards = []string{"views_per_page", "top_pages", "distinct_users", "latency_by_region"}
	LocationDashboards    = []string{"vehicles_map", "speed_map", "geofence_entries"}
)

// Common are the settings both jobs share.
type Common struct {
	// Speedup: event time runs this many times as fast as the wall clock
	// (default 1: live). Windows of 10 s of event time then fire every
	// 10 s / Speedup, for trials and tests.
	Speedup float64
	// Since: the job reads its stream from this arrival time (zero: from
	// the records put after it starts), so that a kept store's older
	// records are not read again.
	Since time.Time
}

func (c Common) speedup() float64 {
	if c.Speedup <= 0 {
		return 1
	}
	return c.Speedup
}

// fill is what the templates take.
type fill struct {
	Rate, Step, Lag, Startup, MaxFuture, Fence string
	Vehicles                                   int
}

func (c Common) fill(rowsPerSecond float64) fill {
	s := c.speedup()
	f := fill{Rate: fmt.Sprint(rowsPerSecond), Fence: Fence,
		// The watermark waits for 2 s of the wall clock (rows of the
		// stream's shards come in a little out of order).
		Lag:     fmt.Sprint(int64(math.Ceil(2 * s))),
		Startup: "'scan.startup.mode' = 'latest'"}
	if !c.Since.IsZero() {
		f.Startup = fmt.Sprintf("'scan.startup.mode' = 'at-timestamp', 'scan.startup.timestamp-millis' = '%d'", c.Since.UnixMilli())
	}
	if s > 1 {
		// Event time runs ahead of the wall clock.
		f.MaxFuture = ",\n    'scan.watermark.max-future' = 'off'"
	}
	return f
}

func render(t *template.Template, f fill) string {
	var b strings.Builder
	if err := t.Execute(&b, f); err != nil {
		panic(err) // the templates are fixed and their fields always there
	}
	return b.String()
}

// Clickstream configures the clickstream dashboards job.
type Clickstream struct {
	Common
	// ClicksPerSecond: clicks generated per second of the wall clock
	// (default 2000).
	ClicksPerSecond float64
}

// SQL returns the job file.
func (c Clickstream) SQL() string {
	if c.ClicksPerSecond <= 0 {
		c.ClicksPerSecond = 2000
	}
	f := c.fill(c.ClicksPerSecond)
	// Click i happens at start + i × step of event time.
	f.Step = fmt.Sprintf("%dns", max(int64(math.Round(1e9*c.speedup()/c.ClicksPerSecond)), 1))
	return render(clickstreamTmpl, f)
}

// Location configures the location dashboards job.
type Location struct {
	Common
	// Vehicles: how many drive (default 1000); each reports every second
	// of event time.
	Vehicles int
}

// SQL returns the job file.
func (c Location) SQL() string {
	if c.Vehicles <= 0 {
		c.Vehicles = 1000
	}
	f := c.fill(float64(c.Vehicles) * c.speedup())
	f.Vehicles = c.Vehicles
	return render(locationTmpl, f)
}
