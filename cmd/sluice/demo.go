package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/apps/clickstream"
)

// apps are the ready-made jobs `sluice run` knows by name.
var apps = map[string]string{
	"clickstream":       "page views, distinct users and latency per page and 10-second event-time window, over generated clicks",
	"clickstream-store": "the clickstream job over the embedded stream store: generated clicks are written to a stream and read back",
	"cpualarm":          "per-host average CPU per 10 s and a 2-of-3 CloudWatch-style alarm over the store stream 'metrics', notifications to a topic",
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
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: sluice run clickstream-store [flags]\n\nGenerated clicks go into stream %q of the embedded store; the clickstream job reads them\nback and prints %s.\n\n", clickstream.Stream, apps["clickstream"])
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *shards < 1 {
		return fmt.Errorf("--shards %d: want at least 1", *shards)
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

	return clickstream.RunStore(ctx, clickstream.StoreConfig{Events: *events, RowsPerSecond: *rate, Parallelism: *par, Shards: *shards, Log: os.Stderr})
}

// runRun runs a ready-made job by name: sluice run NAME [flags].
func runRun(ctx context.Context, args []string) error {
	var name string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if name == "" {
		if isHelp(args) {
			return sqlHelp("run", "run every INSERT INTO … SELECT of a SQL job file as one job")
		}
		return fmt.Errorf("usage: sluice run FILE.sql|JOB [flags]; jobs: %s", appNames())
	}
	if isSQLFile(name) {
		return runSQL(ctx, name, args)
	}
	switch name {
	case "clickstream-store":
		return runClickstreamStore(ctx, args)
	case "cpualarm":
		return runCPUAlarm(ctx, args)
	}
	if _, ok := apps[name]; !ok {
		return fmt.Errorf("unknown job %q; jobs: %s", name, appNames())
	}
	return runApp(ctx, "run "+name, name, args)
}

func runApp(ctx context.Context, cmdName, app string, args []string) error {
	fs := flag.NewFlagSet(cmdName, flag.ContinueOnError)
	events := fs.Int64("events", 2_000_000, "clicks to generate (-1: no end; stop with Ctrl-C or SIGTERM)")
	rate := fs.Float64("rows-per-second", 0, "throttle the generator (0: as fast as possible)")
	par := fs.Int("parallelism", 0, "subtasks per operator (0: number of CPUs)")
	metricsAddr := fs.String("metrics-addr", "", "serve Prometheus metrics at http://ADDR/metrics, e.g. 127.0.0.1:9249")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: sluice %s [flags]\n\n%s.\n\n", cmdName, apps[app])
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	stop, err := serveMetrics(ctx, *metricsAddr)
	if err != nil {
		return err
	}
	defer stop()
	env := sluice.NewEnv(sluice.WithParallelism(*par), sluice.WithName(app))
	res := clickstream.Build(env, clickstream.Config{Events: *events, RowsPerSecond: *rate})
	fmt.Fprintf(os.Stderr, "sluice %s: %s clicks, parallelism %d; results: %s\n", cmdName, count(*events), env.Parallelism(), res.Schema())
	res.Print()
	start := time.Now()
	err = env.Execute(ctx)
	el := time.Since(start)
	if err != nil {
		return err
	}
	if *events > 0 {
		fmt.Fprintf(os.Stderr, "sluice %s: %s clicks in %v (%.1fM clicks/s)\n", cmdName, count(*events), el.Round(time.Millisecond), float64(*events)/el.Seconds()/1e6)
	}
	return nil
}

func count(n int64) string {
	if n < 0 {
		return "unbounded"
	}
	return fmt.Sprint(n)
}
