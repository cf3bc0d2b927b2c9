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
	"clickstream": "page views, distinct users and latency per page and 10-second event-time window, over generated clicks",
}

func appNames() string {
	var names []string
	for n := range apps {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// runDemo runs the main job: the clickstream app.
func runDemo(ctx context.Context, args []string) error {
	return runApp(ctx, "demo", "clickstream", args)
}

// runRun runs a ready-made job by name: sluice run NAME [flags].
func runRun(ctx context.Context, args []string) error {
	var name string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if name == "" {
		return fmt.Errorf("usage: sluice run FILE.sql|JOB [flags]; jobs: %s", appNames())
	}
	if isSQLFile(name) {
		return runSQL(ctx, name, args)
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
