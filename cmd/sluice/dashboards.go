package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/sluicehq/sluice/apps/dashboards"
	"github.com/sluicehq/sluice/sql"
)

// sqlJob is what runSQL runs: a job file, or a ready-made job written in
// SQL, which runs as its job file would, with the same flags (and its own).
type sqlJob struct {
	path string  // the job file ("-": standard input)
	app  *sqlApp // or a ready-made job
	src  string  // the ready-made job's SQL, once its flags are parsed
}

// sqlApp is a ready-made job written in SQL. Its streams are in the
// embedded store: over --store-dir, or a temporary folder by default.
type sqlApp struct {
	name string
	// about tells what the job does, for its help.
	about string
	// flags adds the job's own flags to fs; sql checks them, once parsed,
	// and returns the job file.
	flags func(fs *flag.FlagSet) (sql func(since time.Time) (string, error))
	// dashboards are the ids of the job's dashboards.
	dashboards []string
}

// sqlApps are the ready-made jobs written in SQL, by name.
var sqlApps = map[string]*sqlApp{
	"clickstream-dashboard": {name: "clickstream-dashboard", flags: clickstreamDashboardFlags, dashboards: dashboards.ClickstreamDashboards,
		about: "Live clickstream dashboards: generated clicks go into stream \"clicks\" of the embedded store; the job reads\n" +
			"them back into page views per page per 10 s (line), the top 10 pages of the last minute (an updating\n" +
			"table), distinct users per 10 s (number) and latency by region (bar). Ctrl-C stops."},
	"location-dashboard": {name: "location-dashboard", flags: locationDashboardFlags, dashboards: dashboards.LocationDashboards,
		about: "Live location dashboards: simulated vehicles drive around Berlin and report their position every second\n" +
			"into stream \"positions\" of the embedded store; the job reads them back into vehicles and average speed\n" +
			"per geohash cell per 10 s (maps), and the vehicles entering a geofence (a table, and notifications of\n" +
			"the alarm Geofence, printed by a subscription of the topic \"geofence\"). Ctrl-C stops."},
}

func clickstreamDashboardFlags(fs *flag.FlagSet) func(time.Time) (string, error) {
	rate := fs.Float64("clicks-per-second", 2000, "clicks generated per second")
	speedup := fs.Float64("speedup", 1, "event time runs this many times as fast as the wall clock (10 s windows fire every 10 s / speedup)")
	return func(since time.Time) (string, error) {
		r := between("clicks-per-second", 1, 10_000_000)
		r.want = "from 1 to 10000000"
		if err := checkBounds(fs, r, between("speedup", 1, 1000)); err != nil {
			return "", err
		}
		return dashboards.Clickstream{Common: dashboards.Common{Speedup: *speedup, Since: since}, ClicksPerSecond: *rate}.SQL(), nil
	}
}

func locationDashboardFlags(fs *flag.FlagSet) func(time.Time) (string, error) {
	vehicles := fs.Int("vehicles", 1000, "vehicles driving; each reports its position every second")
	speedup := fs.Float64("speedup", 1, "event time runs this many times as fast as the wall clock (10 s windows fire every 10 s / speedup)")
	return func(since time.Time) (string, error) {
		n := between("vehicles", 1, 1_000_000)
		n.want = "from 1 to 1000000"
		if err := checkBounds(fs, n, between("speedup", 1, 1000)); err != nil {
			return "", err
		}
		return dashboards.Location{Common: dashboards.Common{Speedup: *speedup, Since: since}, Vehicles: *vehicles}.SQL(), nil
	}
}

// command is the job's usage.
func (j *sqlJob) command() command {
	if j.app == nil {
		return runSQLCmd
	}
	return command{Use: "run " + j.app.name + " [flags]", About: j.app.about, MaxArgs: 0}
}

// addFlags adds a ready-made job's own flags to fs (sqlFlags'), and
// returns what to do once they are parsed: check them and take the job's
// SQL, print it for --print-sql (then done), and run the embedded store
// over a temporary folder when --store-dir is not given (cleanup removes
// it, after the store is closed).
func (j *sqlJob) addFlags(fs *flag.FlagSet) (prepare func(o sqlOpts) (done bool, cleanup func(), err error)) {
	nothing := func() {}
	if j.app == nil {
		return func(sqlOpts) (bool, func(), error) { return false, nothing, nil }
	}
	src := j.app.flags(fs)
	printSQL := fs.Bool("print-sql", false, "print the job's SQL (as the flags make it) and exit: a job file to change and run with sluice run FILE.sql --store-dir DIR")
	fs.Lookup("store-dir").Usage = "the folder of the embedded stream store the job writes and reads (default: a temporary folder, removed at the end)"
	fs.Lookup("catalog").Usage = "not for a ready-made job, which defines its own tables (a job file's flag)"
	fs.Lookup("store-listen").Usage = "also serve the embedded store's Kinesis API at this loopback address, e.g. 127.0.0.1:4567"
	return func(o sqlOpts) (bool, func(), error) {
		if *o.catalogDir != "" {
			return false, nothing, usagef("--catalog is for job files (FILE.sql): a ready-made job defines its own tables (--print-sql prints them)")
		}
		// The job reads its streams from its start: not what an earlier
		// run left in a kept store. A printed job file reads the records
		// put after it starts, whenever it runs.
		since := time.Now()
		if *printSQL {
			since = time.Time{}
		}
		var err error
		if j.src, err = src(since); err != nil {
			return false, nothing, err
		}
		if *printSQL {
			fmt.Print(j.src)
			return true, nothing, nil
		}
		if *o.storeDir != "" {
			return false, nothing, nil
		}
		tmp, err := os.MkdirTemp("", "sluice-store-")
		if err != nil {
			return false, nothing, err
		}
		*o.storeDir = tmp
		return false, func() { os.RemoveAll(tmp) }, nil
	}
}

// compile plans the job.
func (j *sqlJob) compile(ctx context.Context, par int, catalogDir string, stateTTL time.Duration) (*sql.Plan, error) {
	if j.app == nil {
		return compileFile(ctx, j.path, par, catalogDir, stateTTL)
	}
	plan, err := compileSource(j.app.name+".sql", j.src, par, catalogDir, stateTTL)
	if err == nil {
		logf("%s: dashboards %s; Ctrl-C stops", j.app.name, strings.Join(j.app.dashboards, ", "))
	}
	return plan, err
}

// defaultSQL is a ready-made job's SQL with its flags' defaults.
func (a *sqlApp) defaultSQL() string {
	fs, _ := sqlFlags("run")
	src, err := a.flags(fs)(time.Time{})
	if err != nil {
		panic(err) // the defaults are within bounds
	}
	return src
}
