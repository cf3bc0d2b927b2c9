package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"text/tabwriter"

	"github.com/sluicehq/sluice/bench"
)

func runBench(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "nexmark" {
		return runBenchNexmark(ctx, args[1:])
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	events := fs.Int64("events", bench.Default.Events, "events per run")
	keys := fs.Int64("keys", bench.Default.Keys, "distinct keys")
	par := fs.Int("parallelism", 0, "Sluice subtasks per operator (0: number of CPUs)")
	stateKeys := fs.Int("state-keys", 1_000_000, "keys for the state-size measurement (0: skip)")
	runs := fs.Int("runs", 3, "runs of each; the median is reported")
	sqlTable := fs.Bool("sql", true, "also run the SQL workload (datagen → tumbling COUNT+SUM → blackhole) against the Go API and go-streams")
	if _, err := parseFlags(fs, command{Use: "bench [flags]",
		About: "Runs the benchmarks against their peers in the same run and prints the ratios (Ctrl-C stops).\n" +
			"\"sluice bench nexmark\" runs the Nexmark queries instead (\"sluice bench nexmark -h\").", MaxArgs: 0}, args); err != nil {
		return err
	}
	if err := checkBounds(fs, atLeast("events", 1), atLeast("keys", 1), parallelismBound(),
		atLeast("state-keys", 0), atLeast("runs", 1)); err != nil {
		return err
	}
	if *par == 0 {
		*par = defaultParallelism()
	}
	w := bench.Workload{Events: *events, Keys: *keys, Window: bench.Default.Window}
	fmt.Printf("workload: keyed event-time tumbling COUNT+SUM, %s windows, %d keys, %d events, GOMAXPROCS %d, median of %d runs\n\n",
		w.Window, w.Keys, w.Events, runtime.GOMAXPROCS(0), *runs)
	// Interleave the runs so that machine noise hits all three alike.
	var loops, gss, sls []bench.Result
	for i := 0; i < *runs; i++ {
		progress("run %d of %d: hand-written loop", i+1, *runs)
		loop, err := bench.RunLoop(ctx, w)
		if err != nil {
			return interrupted(err)
		}
		progress("run %d of %d: go-streams", i+1, *runs)
		gs, err := bench.RunGoStreams(ctx, w)
		if err != nil {
			return interrupted(err)
		}
		progress("run %d of %d: sluice (Go API)", i+1, *runs)
		sl, err := bench.RunSluice(ctx, w, *par)
		if err != nil {
			return interrupted(err)
		}
		loops, gss, sls = append(loops, loop), append(gss, gs), append(sls, sl)
	}
	loop, gs, sl := median(loops), median(gss), median(sls)
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "run\tevents/s\ttime\tresults")
	for _, r := range []bench.Result{sl, gs, loop} {
		fmt.Fprintf(tw, "%s\t%.2fM\t%v\t%v\n", r.Name, r.EventsPerSec()/1e6, r.Elapsed.Round(1e6), r.Check)
	}
	tw.Flush()
	fmt.Printf("\nsluice / go-streams:        %.1f×   (target ≥ 5×)\n", sl.EventsPerSec()/gs.EventsPerSec())
	fmt.Printf("sluice / hand-written loop: %.0f%%   (target ≥ 25%%)\n", 100*sl.EventsPerSec()/loop.EventsPerSec())
	if sl.Check != loop.Check || gs.Check != loop.Check {
		return fmt.Errorf("results differ: sluice %v, go-streams %v, loop %v", sl.Check, gs.Check, loop.Check)
	}
	if *sqlTable {
		if err := benchSQL(ctx, w, *par, *runs); err != nil {
			return err
		}
	}
	if *stateKeys > 0 {
		progress("window state of %d keys", *stateKeys)
		b, err := bench.StateBytesPerKey(ctx, *stateKeys)
		if err != nil {
			return interrupted(err)
		}
		fmt.Printf("window state: %.1f bytes per (key, window) for COUNT+SUM with %d keys (target ≤ 64)\n", b, *stateKeys)
	}
	return nil
}

// benchSQL prints the second table: the workload read from the datagen
// connector, as a SQL job (compiled and run in this process, into a
// blackhole) and as the same job with the Go API and with go-streams, all
// three over the same rows.
func benchSQL(ctx context.Context, w bench.Workload, par, runs int) error {
	fmt.Printf("\nSQL workload: the same count over datagen rows (%d events, %d random keys, v = i mod 1000, ten per ms, up to 50 ms out of order),\n"+
		"datagen → keyed tumbling COUNT+SUM → blackhole as a SQL job (time includes sql.Compile), the same job with the Go API, go-streams\n\n",
		w.Events, w.Keys)
	var sqls, apis, gss []bench.Result
	for i := 0; i < runs; i++ {
		progress("SQL workload, run %d of %d: go-streams", i+1, runs)
		gs, err := bench.RunGoStreamsDatagen(ctx, w)
		if err != nil {
			return interrupted(err)
		}
		gss = append(gss, gs)
		progress("SQL workload, run %d of %d: sluice (Go API)", i+1, runs)
		api, err := bench.RunSluiceDatagen(ctx, w, par)
		if err != nil {
			return interrupted(err)
		}
		apis = append(apis, api)
		progress("SQL workload, run %d of %d: sluice SQL", i+1, runs)
		sq, err := bench.RunSQL(ctx, w, par)
		if err != nil {
			return interrupted(err)
		}
		sqls = append(sqls, sq)
	}
	sq, api, gs := median(sqls), median(apis), median(gss)
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "run\tevents/s\ttime\tresults")
	for _, r := range []bench.Result{sq, api, gs} {
		fmt.Fprintf(tw, "%s\t%.2fM\t%v\t%s\n", r.Name, r.EventsPerSec()/1e6, r.Elapsed.Round(1e6), r.CheckString())
	}
	tw.Flush()
	fmt.Printf("\nSQL / go-streams: %.1f×   (target ≥ 3×)\n", sq.EventsPerSec()/gs.EventsPerSec())
	fmt.Printf("SQL / Go API:     %.0f%%   (target ≥ 70%%)\n", 100*sq.EventsPerSec()/api.EventsPerSec())
	for _, r := range sqls {
		if !r.Agrees(api.Check) {
			return fmt.Errorf("SQL results differ: SQL %s, Go API %v", r.CheckString(), api.Check)
		}
	}
	for _, r := range append(apis, gss...) {
		if r.Check != api.Check {
			return fmt.Errorf("results differ: %s %v, %s %v", r.Name, r.Check, api.Name, api.Check)
		}
	}
	return nil
}

// progress says on standard error which run is under way.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "sluice bench: "+format+"\n", args...)
}

// interrupted marks a run stopped by a signal as errInterrupted (exit
// status 130, like a shell's for SIGINT); other errors pass unchanged.
func interrupted(err error) error {
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("bench %w: no results", errInterrupted)
	}
	return err
}

func median(rs []bench.Result) bench.Result {
	sort.Slice(rs, func(i, j int) bool { return rs[i].Elapsed < rs[j].Elapsed })
	return rs[len(rs)/2]
}
