package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/sluicehq/sluice/bench"
	"github.com/sluicehq/sluice/operators/window"
)

// windowsOptions are the flags of `sluice bench --suite windows`.
type windowsOptions struct {
	events, keys int64 // the scale (--events, --keys)
	par, runs    int
	stateKeys    int
	asJSON       bool
}

// benchTarget is a row's ratio against its baseline and the target for
// it.
type benchTarget struct {
	Table  string  `json:"table"`
	Ratio  string  `json:"ratio"` // its name in ratios
	Value  float64 `json:"value"`
	Target float64 `json:"target,omitempty"` // the ratio wanted at least (absent: none)
	Text   string  `json:"text"`
	Met    bool    `json:"met"`
}

// benchState is a memory figure: the heap growth per key of a window
// operator holding keys keys, one row each (bench.StateBytesPerKeyFor).
type benchState struct {
	Name        string  `json:"name"`
	Window      string  `json:"window"`
	Keys        int     `json:"keys"`
	BytesPerKey float64 `json:"bytes_per_key"`
	// PerTumble is BytesPerKey over the 10 s tumble's at as many keys.
	PerTumble float64 `json:"per_tumble,omitempty"`
	Target    string  `json:"target,omitempty"`
	Met       *bool   `json:"met,omitempty"`
}

// stateFigure is a memory figure the suite measures when one of rows runs.
type stateFigure struct {
	name   string
	window window.Assigner
	keys   int // times --state-keys
	rows   []string
	// maxPerTumble and maxBytes are its target, if any: at most that many
	// times the tumble's bytes per key, or bytes per (key, window).
	maxPerTumble, maxBytes float64
}

var stateFigures = []stateFigure{
	{name: "tumble", window: window.Tumble(10 * time.Second), keys: 1, rows: []string{"hop1m-1mkeys", "session"}},
	{name: "hop1m", window: window.Hop(time.Second, time.Minute), keys: 1, rows: []string{"hop1m-1mkeys"}, maxPerTumble: 2},
	{name: "session", window: window.SessionGap(5 * time.Second), keys: 1, rows: []string{"session"}},
	{name: "tumble-10x", window: window.Tumble(10 * time.Second), keys: 10, rows: []string{"tumble-10mkeys", "tumble-10mkeys-full"}, maxBytes: 40},
}

// benchWindows runs the windows suite: each row interleaved with its
// baseline, then the memory figures of the rows that have one.
func benchWindows(ctx context.Context, rows []bench.WindowsRow, o windowsOptions) error {
	rep := benchReport{Suite: "windows", CPU: cpuNote, Workload: benchWorkload{Events: o.events, Keys: o.keys,
		WindowSeconds: 10, GOMAXPROCS: runtime.GOMAXPROCS(0), Parallelism: o.par, Runs: o.runs}}
	if !o.asJSON {
		fmt.Printf("windows suite: each row a SQL job, datagen → GROUP BY k, <window> with COUNT(*), SUM(v) → blackhole (time includes\n"+
			"sql.Compile), run interleaved with its baseline over the same rows (rows up to 50 ms out of order, watermark bound 100 ms);\n"+
			"parallelism %d, GOMAXPROCS %d, median of %d runs\ncpu: %s\n"+
			"others: the CPU time the rest of the machine used during the run (/proc/stat: other processes, and the hypervisor's\n"+
			"steal), in cores; where others held a core, the run is not this machine's figure\n", o.par, runtime.GOMAXPROCS(0), o.runs, cpuNote)
	}
	var done []bench.WindowsResult
	err := func() error {
		for _, r := range rows {
			if !o.asJSON {
				fmt.Printf("\n%s: %s\n  %s\n\n", r.Name, r.Title, r.Describe())
			}
			res, err := bench.RunWindowsRow(ctx, r, o.par, o.runs, func(s string) { progress("%s", s) })
			if err != nil {
				return interrupted(err)
			}
			done = append(done, res)
			addWindowsRow(&rep, res)
			if !o.asJSON {
				printRows([]bench.Result{res.Run, res.Base})
				fmt.Printf("\n%s / baseline: %s   (target: %s%s)\nper CPU-second: %.1f%%\n", r.Name, ratioText(res.Ratio()), r.TargetText,
					metText(r.Target > 0, res.Met()), 100*res.CPURatio())
			}
		}
		return nil
	}()
	if err == nil && !o.asJSON && len(done) > 0 {
		printWindowsSummary(done)
	}
	if err == nil && o.stateKeys > 0 {
		err = windowsState(ctx, rows, o, &rep)
	}
	if errors.Is(err, errInterrupted) {
		return err
	}
	if o.asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(rep); jerr != nil {
			return jerr
		}
	}
	return err
}

// addWindowsRow adds a row's median runs, its ratio and target to rep.
func addWindowsRow(rep *benchReport, res bench.WindowsResult) {
	r := res.Row
	x := rep.add(r.Name, res.Run, true)
	x.Keys, x.EventsPerMs = r.Keys, r.PerMs
	b := rep.add(r.Name, res.Base, true)
	b.Keys, b.EventsPerMs, b.Baseline = r.BaseKeys, r.PerMs, true
	name := r.Name + "_per_baseline"
	rep.ratio(name, res.Ratio())
	rep.ratio(name+"_cpu", res.CPURatio())
	rep.Targets = append(rep.Targets, benchTarget{Table: r.Name, Ratio: name, Value: res.Ratio(), Target: r.Target,
		Text: r.TargetText, Met: res.Met()})
}

// ratioText writes a ratio of events/s as a percentage, and as "× slower"
// when below 1.
func ratioText(v float64) string {
	if v < 1 {
		return fmt.Sprintf("%.1f%% (%.1f× slower)", 100*v, 1/v)
	}
	return fmt.Sprintf("%.0f%% (%.2f×)", 100*v, v)
}

// metText says whether a target is met, when there is one.
func metText(has, met bool) string {
	switch {
	case !has:
		return ""
	case met:
		return ": met"
	}
	return ": not met"
}

// printWindowsSummary prints one line per row: its events/s, its
// baseline's, the ratio and the target.
func printWindowsSummary(done []bench.WindowsResult) {
	fmt.Printf("\nsummary (each ratio from its own interleaved runs):\n")
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "row\tevents/s\tbaseline events/s\tratio\tper CPU-second\tothers (row, baseline)\ttarget")
	for _, res := range done {
		fmt.Fprintf(tw, "%s\t%.2fM\t%.2fM\t%s\t%.1f%%\t%s, %s\t%s%s\n", res.Row.Name, res.Run.EventsPerSec()/1e6, res.Base.EventsPerSec()/1e6,
			ratioText(res.Ratio()), 100*res.CPURatio(), otherCoresText(res.Run), otherCoresText(res.Base), res.Row.TargetText,
			metText(res.Row.Target > 0, res.Met()))
	}
	tw.Flush()
}

// windowsState measures the memory figures of the rows that ran.
func windowsState(ctx context.Context, rows []bench.WindowsRow, o windowsOptions, rep *benchReport) error {
	var tumble float64 // bytes per key of the 10 s tumble at --state-keys
	printed := false
	for _, f := range stateFigures {
		if !slices.ContainsFunc(rows, func(r bench.WindowsRow) bool { return slices.Contains(f.rows, r.Name) }) {
			continue
		}
		keys := f.keys * o.stateKeys
		progress("window state of %d keys: %s", keys, f.window)
		v, err := bench.StateBytesPerKeyFor(ctx, f.window, keys)
		if err != nil {
			return interrupted(err)
		}
		s := benchState{Name: f.name, Window: f.window.String(), Keys: keys, BytesPerKey: v}
		if f.name == "tumble" {
			tumble = v
		} else if f.keys == 1 && tumble > 0 {
			s.PerTumble = v / tumble
		}
		switch {
		case f.maxPerTumble > 0 && s.PerTumble > 0:
			met := s.PerTumble <= f.maxPerTumble
			s.Target, s.Met = fmt.Sprintf("≤ %g× the tumble's bytes per key", f.maxPerTumble), &met
		case f.maxBytes > 0:
			met := v <= f.maxBytes
			s.Target, s.Met = fmt.Sprintf("≤ %g bytes per (key, window)", f.maxBytes), &met
		}
		rep.State = append(rep.State, s)
		if o.asJSON {
			continue
		}
		if !printed {
			fmt.Printf("\nwindow state, COUNT+SUM: heap growth per key, each key one row, no window fired (rows spread over one\n" +
				"window's length; sessions: over a minute):\n")
			printed = true
		}
		line := fmt.Sprintf("  %-28s %d keys: %7.1f bytes per key", s.Window, keys, v)
		if s.PerTumble > 0 {
			line += fmt.Sprintf(" (%.2f× the tumble's)", s.PerTumble)
		}
		if s.Target != "" {
			line += fmt.Sprintf("   (target %s%s)", s.Target, metText(true, *s.Met))
		}
		fmt.Println(line)
	}
	return nil
}
