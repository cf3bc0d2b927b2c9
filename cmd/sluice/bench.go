package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/sluicehq/sluice/bench"
	"github.com/sluicehq/sluice/internal/suggest"
)

func runBench(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "nexmark" {
		return runBenchNexmark(ctx, args[1:])
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	suite := fs.String("suite", "tumble", "the benchmarks: tumble (a keyed tumbling COUNT+SUM against go-streams and a hand-written loop)\n"+
		"or windows (HOP, SESSION, many keys: each a SQL job against a 10 s tumble in the same run; one file against a hand-written parser)")
	events := fs.Int64("events", bench.Default.Events, "events per run (--suite windows: scales every row's events by N/5000000)")
	keys := fs.Int64("keys", bench.Default.Keys, "distinct keys (--suite windows: scales every row's keys by K/10000)")
	par := fs.Int("parallelism", 0, "Sluice subtasks per operator (0: number of CPUs)")
	stateKeys := fs.Int("state-keys", 1_000_000, "keys for the state-size measurement (0: skip; --suite windows: the tumble's, HOP's and SESSION's\n"+
		"bytes per key at K keys, the tumble's at 10×K for the tumble-10mkeys rows)")
	runs := fs.Int("runs", 3, "runs of each; the median is reported")
	sqlTable := fs.Bool("sql", true, "also run the SQL workload (datagen → tumbling COUNT+SUM → blackhole) against the Go API and go-streams")
	rowList := fs.String("rows", "all", "--suite windows: the rows to run, comma-separated: "+strings.Join(bench.WindowsRowNames, ", ")+", or all")
	asJSON := fs.Bool("json", false, "print one JSON document (every row, its CPU time and the ratios) instead of the tables")
	if _, err := parseFlags(fs, command{Use: "bench [flags]",
		About: "Runs the benchmarks against their peers in the same run and prints the ratios (Ctrl-C stops).\n" +
			"Each row shows wall time and the process's CPU time during the run (user+system, GC included).\n" +
			"\"sluice bench --suite windows\" runs the windows where speed collapses, each against its baseline.\n" +
			"\"sluice bench nexmark\" runs the Nexmark queries instead (\"sluice bench nexmark -h\").", MaxArgs: 0}, args); err != nil {
		return err
	}
	if err := checkBounds(fs, atLeast("events", 1), atLeast("keys", 1), parallelismBound(),
		atLeast("state-keys", 0), atLeast("runs", 1)); err != nil {
		return err
	}
	if *suite != "tumble" && *suite != "windows" {
		return usagef("--suite %q: want tumble or windows%s", *suite, suggest.Hint(*suite, []string{"tumble", "windows"}))
	}
	if err := needs(fs, "suite windows", *suite == "windows", "rows"); err != nil {
		return err
	}
	if err := needs(fs, "suite tumble", *suite == "tumble", "sql"); err != nil {
		return err
	}
	if *par == 0 {
		*par = defaultParallelism()
	}
	if *suite == "windows" {
		rows, err := bench.SelectWindowsRows(bench.WindowsRows(float64(*events)/float64(bench.Default.Events),
			float64(*keys)/float64(bench.Default.Keys)), *rowList)
		if err != nil {
			return usagef("--rows: %v", err)
		}
		return benchWindows(ctx, rows, windowsOptions{events: *events, keys: *keys, par: *par, runs: *runs,
			stateKeys: *stateKeys, asJSON: *asJSON})
	}
	w := bench.Workload{Events: *events, Keys: *keys, Window: bench.Default.Window}
	rep := benchReport{Suite: "tumble", Workload: benchWorkload{Events: w.Events, Keys: w.Keys, WindowSeconds: w.Window.Seconds(),
		GOMAXPROCS: runtime.GOMAXPROCS(0), Parallelism: *par, Runs: *runs}, CPU: cpuNote}
	if !*asJSON {
		fmt.Printf("workload: keyed event-time tumbling COUNT+SUM, %s windows, %d keys, %d events, GOMAXPROCS %d, median of %d runs\n"+
			"cpu: %s\n\n", w.Window, w.Keys, w.Events, runtime.GOMAXPROCS(0), *runs, cpuNote)
	}
	err := benchAPI(ctx, w, *par, *runs, &rep, *asJSON)
	if err == nil && *sqlTable {
		err = benchSQL(ctx, w, *par, *runs, &rep, *asJSON)
	}
	if err == nil && *stateKeys > 0 {
		progress("window state of %d keys", *stateKeys)
		b, serr := bench.StateBytesPerKey(ctx, *stateKeys)
		if serr != nil {
			return interrupted(serr)
		}
		rep.StateKeys, rep.StateBytesPerKeyWindow = *stateKeys, b
		if !*asJSON {
			fmt.Printf("window state: %.1f bytes per (key, window) for COUNT+SUM with %d keys (target ≤ 64)\n", b, *stateKeys)
		}
	}
	if errors.Is(err, errInterrupted) {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(rep); jerr != nil {
			return jerr
		}
	}
	return err
}

// cpuNote says what the cpu column measures.
const cpuNote = "the process's user+system CPU time during the run (every run is in this process; GC included)"

// benchReport is the document --json prints.
type benchReport struct {
	Suite                  string             `json:"suite"` // tumble or windows
	Workload               benchWorkload      `json:"workload"`
	CPU                    string             `json:"cpu"`
	Rows                   []benchRow         `json:"rows"`
	Ratios                 map[string]float64 `json:"ratios"`
	StateKeys              int                `json:"state_keys,omitempty"`
	StateBytesPerKeyWindow float64            `json:"state_bytes_per_key_window,omitempty"`
	// The windows suite's: each row's target and the memory figures.
	Targets []benchTarget `json:"targets,omitempty"`
	State   []benchState  `json:"state,omitempty"`
}

type benchWorkload struct {
	Events        int64   `json:"events"`
	Keys          int64   `json:"keys"`
	WindowSeconds float64 `json:"window_seconds"`
	GOMAXPROCS    int     `json:"gomaxprocs"`
	Parallelism   int     `json:"parallelism"`
	Runs          int     `json:"runs"`
}

// benchRow is one row of a table: the median run of one way of running a
// workload ("api": the in-memory generator, "sql": the datagen rows; the
// windows suite: the row's name, e.g. "hop1m", for the row and its
// baseline).
type benchRow struct {
	Table           string  `json:"table"`
	Name            string  `json:"name"`
	Events          int64   `json:"events"`
	WallSeconds     float64 `json:"wall_seconds"`
	CPUSeconds      float64 `json:"cpu_seconds"`
	EventsPerSec    float64 `json:"events_per_s"`
	EventsPerCPUSec float64 `json:"events_per_cpu_s"`
	Results         int64   `json:"results"`
	Count           int64   `json:"count"`
	Sum             *int64  `json:"sum,omitempty"` // absent where the run keeps no sum (blackhole)
	Check           string  `json:"check"`
	Agrees          bool    `json:"agrees"` // the results match the reference run's
	// The windows suite's: the data's keys and rows per ms of event time,
	// and whether the run is the row's baseline.
	Keys        int64 `json:"keys,omitempty"`
	EventsPerMs int64 `json:"events_per_ms,omitempty"`
	Baseline    bool  `json:"baseline,omitempty"`
	// OtherCores is the cores' worth of CPU the rest of the machine used
	// during the run (other processes, the hypervisor's steal), where
	// known.
	OtherCores *float64 `json:"other_cores,omitempty"`
}

func (rep *benchReport) add(table string, r bench.Result, agrees bool) *benchRow {
	row := benchRow{Table: table, Name: r.Name, Events: r.Events, WallSeconds: r.Elapsed.Seconds(), CPUSeconds: r.CPU.Seconds(),
		EventsPerSec: r.EventsPerSec(), EventsPerCPUSec: r.EventsPerCPUSec(),
		Results: r.Check.Results, Count: r.Check.Count, Check: r.CheckString(), Agrees: agrees}
	if !r.CountsOnly {
		row.Sum = &r.Check.Sum
	}
	if r.OthersKnown {
		v := r.OtherCores()
		row.OtherCores = &v
	}
	rep.Rows = append(rep.Rows, row)
	return &rep.Rows[len(rep.Rows)-1]
}

func (rep *benchReport) ratio(name string, v float64) {
	if rep.Ratios == nil {
		rep.Ratios = map[string]float64{}
	}
	rep.Ratios[name] = v
}

// printRows prints a table of median runs with their wall and CPU time,
// and the CPU the rest of the machine used meanwhile where it is known.
func printRows(rs []bench.Result) {
	others := slices.ContainsFunc(rs, func(r bench.Result) bool { return r.OthersKnown })
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	head := "run\tevents/s\ttime\tcpu\tevents/cpu-s\t"
	if others {
		head += "others\t"
	}
	fmt.Fprintln(tw, head+"results")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%.2fM\t%v\t%v\t%.2fM\t", r.Name, r.EventsPerSec()/1e6, r.Elapsed.Round(1e6), r.CPU.Round(1e6),
			r.EventsPerCPUSec()/1e6)
		if others {
			fmt.Fprintf(tw, "%s\t", otherCoresText(r))
		}
		fmt.Fprintf(tw, "%s\n", r.CheckString())
	}
	tw.Flush()
}

// otherCoresText says how many cores' worth of CPU the rest of the
// machine used during a run, or "?" when it is not known.
func otherCoresText(r bench.Result) string {
	if !r.OthersKnown {
		return "?"
	}
	return fmt.Sprintf("%.2f cores", r.OtherCores())
}

// benchAPI runs the first table: the workload through Sluice's Go API at
// par and at parallelism 1 (the per-core figure; one run serves both when
// par is 1), go-streams and the hand-written loop, interleaved so that
// machine noise hits all alike.
func benchAPI(ctx context.Context, w bench.Workload, par, runs int, rep *benchReport, asJSON bool) error {
	var loops, gss, sls, sl1s []bench.Result
	for i := 0; i < runs; i++ {
		progress("run %d of %d: hand-written loop", i+1, runs)
		loop, err := bench.RunLoop(ctx, w)
		if err != nil {
			return interrupted(err)
		}
		progress("run %d of %d: go-streams", i+1, runs)
		gs, err := bench.RunGoStreams(ctx, w)
		if err != nil {
			return interrupted(err)
		}
		progress("run %d of %d: sluice (Go API), parallelism %d", i+1, runs, par)
		sl, err := bench.RunSluice(ctx, w, par)
		if err != nil {
			return interrupted(err)
		}
		sl.Name += fmt.Sprintf(", parallelism %d", par)
		loops, gss, sls = append(loops, loop), append(gss, gs), append(sls, sl)
		if par != 1 {
			progress("run %d of %d: sluice (Go API), parallelism 1", i+1, runs)
			sl1, err := bench.RunSluice(ctx, w, 1)
			if err != nil {
				return interrupted(err)
			}
			sl1.Name = "sluice (Go API), parallelism 1"
			sl1s = append(sl1s, sl1)
		}
	}
	loop, gs, sl := median(loops), median(gss), median(sls)
	sl1 := sl
	rows := []bench.Result{sl}
	if par != 1 {
		sl1 = median(sl1s)
		rows = append(rows, sl1)
	}
	rows = append(rows, gs, loop)
	for _, r := range rows {
		rep.add("api", r, r.Check == loop.Check)
	}
	rep.ratio("sluice_per_gostreams", sl.EventsPerSec()/gs.EventsPerSec())
	rep.ratio("sluice_per_loop", sl.EventsPerSec()/loop.EventsPerSec())
	rep.ratio("sluice_parallelism_1_per_loop", sl1.EventsPerSec()/loop.EventsPerSec())
	if !asJSON {
		printRows(rows)
		fmt.Printf("\nsluice / go-streams:        %.1f×   (target ≥ 5×)\n", sl.EventsPerSec()/gs.EventsPerSec())
		fmt.Printf("sluice / hand-written loop: %.0f%%   (target ≥ 25%%; parallelism %d, %.1f cores' CPU against the loop's %.1f)\n",
			100*sl.EventsPerSec()/loop.EventsPerSec(), par, sl.CPU.Seconds()/sl.Elapsed.Seconds(), loop.CPU.Seconds()/loop.Elapsed.Seconds())
		fmt.Printf("sluice at parallelism 1 / hand-written loop: %.0f%%   (per core)\n", 100*sl1.EventsPerSec()/loop.EventsPerSec())
	}
	for _, r := range rows {
		if r.Check != loop.Check {
			return fmt.Errorf("results differ: %s %v, loop %v", r.Name, r.Check, loop.Check)
		}
	}
	return nil
}

// benchSQL runs the second table: the workload read from the datagen
// connector, as a SQL job (compiled and run in this process, into a
// blackhole) and as the same job with the Go API and with go-streams, all
// three over the same rows.
func benchSQL(ctx context.Context, w bench.Workload, par, runs int, rep *benchReport, asJSON bool) error {
	if !asJSON {
		fmt.Printf("\nSQL workload: the same count over datagen rows (%d events, %d random keys, v = i mod 1000, ten per ms, up to 50 ms out of order),\n"+
			"datagen → keyed tumbling COUNT+SUM → blackhole as a SQL job (time includes sql.Compile), the same job with the Go API, go-streams\n\n",
			w.Events, w.Keys)
	}
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
	for _, r := range []bench.Result{sq, api, gs} {
		rep.add("sql", r, r.Agrees(api.Check))
	}
	rep.ratio("sql_per_gostreams", sq.EventsPerSec()/gs.EventsPerSec())
	rep.ratio("sql_per_api", sq.EventsPerSec()/api.EventsPerSec())
	if !asJSON {
		printRows([]bench.Result{sq, api, gs})
		fmt.Printf("\nSQL / go-streams: %.1f×   (target ≥ 3×)\n", sq.EventsPerSec()/gs.EventsPerSec())
		fmt.Printf("SQL / Go API:     %.0f%%   (target ≥ 70%%)\n", 100*sq.EventsPerSec()/api.EventsPerSec())
	}
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
