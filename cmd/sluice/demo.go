package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/apps/clickstream"
)

func runDemo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	events := fs.Int64("events", 2_000_000, "clicks to generate (-1: no end; stop with Ctrl-C)")
	rate := fs.Float64("rows-per-second", 0, "throttle the generator (0: as fast as possible)")
	par := fs.Int("parallelism", 0, "subtasks per operator (0: number of CPUs)")
	metricsAddr := fs.String("metrics-addr", "", "serve Prometheus metrics at this address, e.g. 127.0.0.1:9249")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: sluice demo [flags]\n\nPage views per page in 10-second event-time windows over generated clicks.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	stop, err := serveMetrics(ctx, *metricsAddr)
	if err != nil {
		return err
	}
	defer stop()
	env := sluice.NewEnv(sluice.WithParallelism(*par), sluice.WithName("clickstream"))
	res := clickstream.Build(env, clickstream.Config{Events: *events, RowsPerSecond: *rate})
	fmt.Fprintf(os.Stderr, "sluice demo: %s clicks, parallelism %d; results: %s\n", count(*events), env.Parallelism(), res.Schema())
	res.Print()
	start := time.Now()
	err = env.Execute(ctx)
	el := time.Since(start)
	if err != nil {
		return err
	}
	if *events > 0 {
		fmt.Fprintf(os.Stderr, "sluice demo: %s clicks in %v (%.1fM clicks/s)\n", count(*events), el.Round(time.Millisecond), float64(*events)/el.Seconds()/1e6)
	}
	return nil
}

func count(n int64) string {
	if n < 0 {
		return "unbounded"
	}
	return fmt.Sprint(n)
}
