package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"text/tabwriter"

	"github.com/sluicehq/sluice/bench"
)

func runBench(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	events := fs.Int64("events", bench.Default.Events, "events per run")
	keys := fs.Int64("keys", bench.Default.Keys, "distinct keys")
	par := fs.Int("parallelism", runtime.GOMAXPROCS(0), "Sluice subtasks per operator")
	stateKeys := fs.Int("state-keys", 1_000_000, "keys for the state-size measurement (0: skip)")
	runs := fs.Int("runs", 3, "runs of each; the median is reported")
	if err := fs.Parse(args); err != nil {
		return err
	}
	w := bench.Workload{Events: *events, Keys: *keys, Window: bench.Default.Window}
	fmt.Printf("workload: keyed event-time tumbling COUNT+SUM, %s windows, %d keys, %d events, GOMAXPROCS %d, median of %d runs\n\n",
		w.Window, w.Keys, w.Events, runtime.GOMAXPROCS(0), max(*runs, 1))
	// Interleave the runs so that machine noise hits all three alike.
	var loops, gss, sls []bench.Result
	for i := 0; i < max(*runs, 1); i++ {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		loops = append(loops, bench.RunLoop(w))
		gss = append(gss, bench.RunGoStreams(w))
		sl, err := bench.RunSluice(w, *par)
		if err != nil {
			return err
		}
		sls = append(sls, sl)
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
	if *stateKeys > 0 {
		b, err := bench.StateBytesPerKey(*stateKeys)
		if err != nil {
			return err
		}
		fmt.Printf("window state: %.1f bytes per (key, window) for COUNT+SUM with %d keys (target ≤ 64)\n", b, *stateKeys)
	}
	return nil
}

func median(rs []bench.Result) bench.Result {
	sort.Slice(rs, func(i, j int) bool { return rs[i].Elapsed < rs[j].Elapsed })
	return rs[len(rs)/2]
}
