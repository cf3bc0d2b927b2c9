package main

import (
	"context"
	"flag"
	"fmt"
	"github.com/VictoriaMetrics/metrics"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/apps/clickstream"
	"github.com/sluicehq/sluice/connectors"
	rt "github.com/sluicehq/sluice/runtime"
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

// runClickstreamStore runs the clickstream job on the embedded store:
// generated clicks go into a stream of the embedded store, and the
// clickstream dashboard job reads them back from it.
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
		fmt.Fprintf(fs.Output(), "Usage: sluice run clickstream-store [flags]\n\nGenerated clicks go into stream %q of the embedded store; the clickstream job reads them\nback and prints %s.\n\n", demoStream, apps["clickstream"])
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

	// One producer writes the clicks, in event-time order (several
	// independent producers would interleave their clicks in the stream by
	// how fast each runs, and the job's 500 ms watermark bound would make
	// some of them late); its sink sends on several lanes at once.
	cfg := clickstream.Config{Events: *events, RowsPerSecond: *rate, Parallelism: 1}
	start := time.Now()
	sinkOpts := map[string]string{"stream": demoStream, "partition-key": "user_id", "stream.create-shards": fmt.Sprint(*shards),
		"sink.requests.max-inflight": "8"}
	// Read what this run writes (a kept --store-dir may hold older clicks).
	srcOpts := map[string]string{"stream": demoStream, "stream.create-shards": fmt.Sprint(*shards),
		"scan.startup.mode": "at-timestamp", "scan.startup.timestamp-millis": fmt.Sprint(start.UnixMilli())}
	read := func(env *sluice.Env, opts map[string]string) error {
		newSrc, err := storeTableSource(opts)
		if err != nil {
			return err
		}
		clicks := env.FromSource("clicks", clickstream.Schema, newSrc, sluice.Watermark("ts", 500*time.Millisecond), sluice.IdleTimeout(time.Second))
		res := clickstream.Aggregate(clicks)
		fmt.Fprintf(os.Stderr, "sluice clickstream-store: the clickstream job reads stream %q, parallelism %d; results: %s\n", demoStream, env.Parallelism(), res.Schema())
		res.Print()
		return nil
	}
	write := func(env *sluice.Env) error {
		newSink, err := storeTableSink(sinkOpts)
		if err != nil {
			return err
		}
		clickstream.Generate(env, cfg).To("store", newSink)
		return nil
	}
	if *events < 0 {
		// Live: the generator writes and the job reads, at the same time.
		env := sluice.NewEnv(sluice.WithParallelism(*par), sluice.WithName("demo"))
		if err := write(env); err != nil {
			return err
		}
		if err := read(env, srcOpts); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "sluice clickstream-store: generating clicks into stream %q of the embedded store; Ctrl-C stops\n", demoStream)
		return env.Execute(ctx)
	}
	// Bounded: load the clicks, then run the job over what the stream holds.
	env := sluice.NewEnv(sluice.WithParallelism(*par), sluice.WithName("demo-load"))
	if err := write(env); err != nil {
		return err
	}
	if err := env.Execute(ctx); err != nil {
		return err
	}
	loaded := time.Since(start)
	fmt.Fprintf(os.Stderr, "sluice clickstream-store: %d clicks written to stream %q of the embedded store in %v (%.0fk records/s, acknowledged after fsync)\n",
		*events, demoStream, loaded.Round(time.Millisecond), float64(*events)/loaded.Seconds()/1e3)
	srcOpts["scan.bounded.mode"] = "latest"
	set := metrics.NewSet()
	metrics.RegisterSet(set)
	defer metrics.UnregisterSet(set, true)
	env = sluice.NewEnv(sluice.WithParallelism(*par), sluice.WithName("demo"), sluice.WithMetrics(set))
	if err := read(env, srcOpts); err != nil {
		return err
	}
	t := time.Now()
	if err := env.Execute(ctx); err != nil {
		return err
	}
	el := time.Since(t)
	fmt.Fprintf(os.Stderr, "sluice clickstream-store: %d clicks read back and aggregated in %v (%.0fk records/s); %d late rows dropped, %d bad records\n",
		*events, el.Round(time.Millisecond), float64(*events)/el.Seconds()/1e3,
		int64(seriesSum(set, "sluice_operator_late_rows_dropped_total", "")), int64(seriesSum(set, "sluice_operator_bad_records_total", "")))
	return nil
}

// demoStream is the stream of the demo's clicks.
const demoStream = "clicks"

func storeTable(opts map[string]string) connectors.Table {
	return connectors.Table{Name: "clicks", Schema: clickstream.Schema, Options: opts}
}

func storeTableSource(opts map[string]string) (func() rt.Source, error) {
	f, _ := connectors.Lookup("store")
	newSrc, _, err := f.(connectors.Source).NewSource(storeTable(opts))
	return newSrc, err
}

func storeTableSink(opts map[string]string) (func() rt.Operator, error) {
	f, _ := connectors.Lookup("store")
	newSink, _, err := f.(connectors.Sink).NewSink(storeTable(opts))
	return newSink, err
}

// runRun runs a ready-made job by name: sluice run NAME [flags].
func runRun(ctx context.Context, args []string) error {
	var name string
	if len(args) > 0 && (args[0] == "-" || !strings.HasPrefix(args[0], "-")) {
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
