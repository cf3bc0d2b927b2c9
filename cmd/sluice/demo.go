package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/apps/clickstream"
	"github.com/sluicehq/sluice/runtime"
)

// apps are the ready-made jobs `sluice run` knows by name.
var apps = map[string]string{
	"clickstream":       "page views, distinct users and latency per page and 10-second event-time window, over generated clicks",
	"clickstream-store": "the clickstream job over the embedded stream store: generated clicks are written to a stream and read back",
	"cpualarm":          "per-host average CPU per 10 s and a 2-of-3 CloudWatch-style alarm over the store stream 'metrics', notifications to a topic",

	"clickstream-dashboard": "live dashboards of generated clicks through the embedded store: page views, top 10 pages, distinct users, latency by region",
	"location-dashboard":    "live dashboards of simulated vehicles through the embedded store: vehicles and speed per geohash cell on maps, geofence entries",
}

func appNames() string {
	var names []string
	for n := range apps {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// runClickstreamStore runs the clickstream job on the embedded store (see
// clickstream.RunStore): generated clicks go into a stream of the embedded
// store, and the clickstream dashboard job reads them back from it.
func runClickstreamStore(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run clickstream-store", flag.ContinueOnError)
	events := fs.Int64("events", 2_000_000, "clicks to generate (-1: no end; stop with Ctrl-C or SIGTERM)")
	rate := fs.Float64("rows-per-second", 0, "throttle the generator (0: as fast as possible)")
	par := fs.Int("parallelism", 0, "subtasks per operator (0: number of CPUs)")
	metricsAddr := fs.String("metrics-addr", "", "serve Prometheus metrics at http://ADDR/metrics, e.g. 127.0.0.1:9249")
	storeDir := fs.String("store-dir", "", "folder of the embedded store (default: a temporary folder, removed at the end)")
	storeListen := fs.String("store-listen", "", "also serve the embedded store's Kinesis API at this loopback address, e.g. 127.0.0.1:4567")
	shards := fs.Int("shards", 4, "shards of the clicks stream, when the demo creates it")
	uiF := addUIFlags(fs)
	if _, err := parseFlags(fs, command{Use: "run clickstream-store [flags]", MaxArgs: 0,
		About: fmt.Sprintf("Generated clicks go into stream %q of the embedded store; the clickstream job reads them\nback and prints %s.", clickstream.Stream, apps["clickstream"])}, args); err != nil {
		return err
	}
	if err := checkClickFlags(fs, *metricsAddr); err != nil {
		return err
	}
	if err := checkBounds(fs, atLeast("shards", 1)); err != nil {
		return err
	}
	if err := checkAddr("store-listen", *storeListen); err != nil {
		return err
	}
	ui, err := uiF.start(fs)
	if err != nil {
		return err
	}
	defer ui.close()
	if *par <= 0 {
		*par = defaultParallelism()
	}
	closeStore, err := openEmbeddedOrTemp(*storeDir, *storeListen)
	if err != nil {
		return err
	}
	defer closeStore()
	stop, err := serveMetrics(ctx, *metricsAddr)
	if err != nil {
		return err
	}
	defer stop()

	return clickstream.RunStore(ctx, clickstream.StoreConfig{Events: *events, RowsPerSecond: *rate, Parallelism: *par, Shards: *shards, Log: os.Stderr,
		Started: func(g *runtime.Graph, set *metrics.Set) func(error) { return ui.job(g, *par, set) }})
}

func runApp(ctx context.Context, cmdName, app string, args []string) error {
	fs := flag.NewFlagSet(cmdName, flag.ContinueOnError)
	events := fs.Int64("events", 2_000_000, "clicks to generate (-1: no end; stop with Ctrl-C or SIGTERM)")
	rate := fs.Float64("rows-per-second", 0, "throttle the generator (0: as fast as possible)")
	par := fs.Int("parallelism", 0, "subtasks per operator (0: number of CPUs)")
	metricsAddr := fs.String("metrics-addr", "", "serve Prometheus metrics at http://ADDR/metrics, e.g. 127.0.0.1:9249")
	uiF := addUIFlags(fs)
	if _, err := parseFlags(fs, command{Use: cmdName + " [flags]", About: strings.ToUpper(apps[app][:1]) + apps[app][1:] + ".", MaxArgs: 0}, args); err != nil {
		return err
	}
	if err := checkClickFlags(fs, *metricsAddr); err != nil {
		return err
	}
	ui, err := uiF.start(fs)
	if err != nil {
		return err
	}
	defer ui.close()
	stop, err := serveMetrics(ctx, *metricsAddr)
	if err != nil {
		return err
	}
	defer stop()
	set, unregister := jobMetrics()
	defer unregister()
	env := sluice.NewEnv(sluice.WithParallelism(*par), sluice.WithName(app), sluice.WithMetrics(set))
	res := clickstream.Build(env, clickstream.Config{Events: *events, RowsPerSecond: *rate})
	fmt.Fprintf(os.Stderr, "sluice %s: %s clicks, parallelism %d; results: %s\n", cmdName, count(*events), env.Parallelism(), res.Schema())
	res.Print()
	ended := ui.job(env.Graph(), env.Parallelism(), set)
	start := time.Now()
	err = env.Execute(ctx)
	ended(err)
	el := time.Since(start)
	if err != nil {
		return err
	}
	if *events > 0 {
		fmt.Fprintf(os.Stderr, "sluice %s: %s clicks in %v (%.1fM clicks/s)\n", cmdName, count(*events), el.Round(time.Millisecond), float64(*events)/el.Seconds()/1e6)
	}
	return nil
}

// checkClickFlags checks the flags of the clickstream jobs.
func checkClickFlags(fs *flag.FlagSet, metricsAddr string) error {
	if err := checkBounds(fs, atLeast("events", 1).or(-1, "no end"), atLeast("rows-per-second", 0), parallelismBound()); err != nil {
		return err
	}
	return checkAddr("metrics-addr", metricsAddr)
}

func count(n int64) string {
	if n < 0 {
		return "unbounded"
	}
	return fmt.Sprint(n)
}
