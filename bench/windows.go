package bench

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/internal/suggest"
	"github.com/sluicehq/sluice/operators/window"
)

// The windows suite measures the windows where a stream processor's speed
// tends to collapse — sliding windows with many windows per row, sessions
// and tumbling windows at a million keys or more, one large file read by
// every core — each against a baseline run interleaved with it in the same
// process: a 10 s tumbling window over the same rows (TUMBLE at many keys:
// over as many rows with 1,000 keys; the file: a hand-written
// single-threaded parser and map over the same file). Every run but the
// hand parser is a SQL job, datagen → GROUP BY k, <window> with COUNT(*)
// and SUM(v) → blackhole, compiled and run as RunSQL does, or, for the
// file, RunFileSQL.

// WindowsRow is one row of the windows suite: a window job, its baseline,
// the data both read and the target for their ratio.
type WindowsRow struct {
	// Name is the row's short name (--rows): hop1m, hop1m-1mkeys, hop10s,
	// session, tumble-10mkeys, tumble-10mkeys-full, file.
	Name string
	// Title says what the row is, e.g. "HOP 1 min / 1 s, 10k keys".
	Title string
	// Window is the row's window; the baseline's is a 10 s tumble.
	Window window.Assigner
	// Events, Keys and PerMs describe the datagen rows: Events rows, keys
	// drawn uniformly at random from Keys, PerMs rows per millisecond of
	// event time (up to 50 ms out of order, watermark bound 100 ms).
	Events, Keys, PerMs int64
	// BaseKeys is the baseline's number of keys (TUMBLE at many keys: 1,000
	// keys over as many rows); otherwise Keys.
	BaseKeys int64
	// BaseTitle names the baseline run.
	BaseTitle string
	// Target is the target for the row's events/s over the baseline's
	// (0: none), and TargetText says it in words.
	Target     float64
	TargetText string
	// File marks the file row: Workload.Event's rows (Events of them, Keys
	// keys, ten per ms) written to a JSON-lines file by WriteJSONLines,
	// read by RunFileSQL against RunHandParser over the same file.
	File bool
}

// WindowsRowNames lists the rows of the windows suite in their order.
var WindowsRowNames = []string{"hop1m", "hop1m-1mkeys", "hop10s", "session", "tumble-10mkeys", "tumble-10mkeys-full", "file"}

// baseWindow is the baseline's window.
var baseWindow = window.Tumble(10 * time.Second)

// WindowsRows returns the rows of the windows suite at their default
// sizes scaled: each row's events multiplied by eventsScale and its keys
// (and its baseline's) by keysScale, at least 1 of each. Event time
// advances by the same PerMs rows per millisecond whatever the scale.
//
// The default sizes make each row mean what it says: a 10 s window of the
// 1M-key rows holds 2.5M rows (~92% of the keys, ~2.5 rows per key), and
// tumble-10mkeys-full's 20M rows (~86% of its keys); the 10k-key rows and
// tumble-10mkeys run 10 rows per ms as `sluice bench` does, over 200–2,000
// s of event time, so windows fire all along (tumble-10mkeys: a window
// holds ~100,000 of the 10M keys, and 86% of the keys appear in the run).
func WindowsRows(eventsScale, keysScale float64) []WindowsRow {
	hop1m := window.Hop(time.Second, time.Minute)
	rows := []WindowsRow{
		{Name: "hop1m", Title: "HOP 1 min / 1 s (60 windows per row), 10k keys", Window: hop1m,
			Events: 2_000_000, Keys: 10_000, PerMs: 10,
			Target: 0.5, TargetText: "≥ 50% of the tumble's events/s"},
		{Name: "hop1m-1mkeys", Title: "HOP 1 min / 1 s, 1M keys", Window: hop1m,
			Events: 2_500_000, Keys: 1_000_000, PerMs: 250,
			TargetText: "none for speed; state per key ≤ 2× the tumble's (see the memory figures)"},
		{Name: "hop10s", Title: "HOP 10 s / 1 s (10 windows per row), 10k keys", Window: window.Hop(time.Second, 10*time.Second),
			Events: 5_000_000, Keys: 10_000, PerMs: 10,
			TargetText: "none of its own"},
		{Name: "session", Title: "SESSION 5 s gap, 1M keys", Window: window.SessionGap(5 * time.Second),
			Events: 2_500_000, Keys: 1_000_000, PerMs: 250,
			Target: 0.4, TargetText: "≥ 40% of the tumble's events/s"},
		{Name: "tumble-10mkeys", Title: "TUMBLE 10 s, 10M keys", Window: baseWindow,
			Events: 20_000_000, Keys: 10_000_000, PerMs: 10, BaseKeys: 1000,
			BaseTitle: "TUMBLE 10 s, 1k keys (baseline)",
			Target:    0.3, TargetText: "≥ 30% of 1k keys' events/s"},
		{Name: "tumble-10mkeys-full", Title: "TUMBLE 10 s, 10M keys, one window holding 8.6M of them", Window: baseWindow,
			Events: 20_000_000, Keys: 10_000_000, PerMs: 2000, BaseKeys: 1000,
			BaseTitle:  "TUMBLE 10 s, 1k keys (baseline)",
			TargetText: "none of its own (the state memory figure: ≤ 40 bytes per (key, window))"},
		{Name: "file", Title: "one JSON-lines file → TUMBLE 10 s COUNT+SUM, 10k keys (SQL, file connector)", Window: baseWindow,
			Events: 10_000_000, Keys: 10_000, PerMs: 10, File: true,
			BaseTitle: "hand-written parser + map, one goroutine (baseline)",
			Target:    1.5, TargetText: "≥ 1.5× the hand-written parser"},
	}
	for i := range rows {
		r := &rows[i]
		if r.BaseKeys == 0 {
			r.BaseKeys = r.Keys
		}
		if r.BaseTitle == "" {
			r.BaseTitle = "TUMBLE 10 s, same rows (baseline)"
		}
		r.Events = scale(r.Events, eventsScale)
		r.Keys = scale(r.Keys, keysScale)
		r.BaseKeys = scale(r.BaseKeys, keysScale)
	}
	return rows
}

func scale(n int64, f float64) int64 { return max(1, int64(float64(n)*f+0.5)) }

// SelectWindowsRows returns the rows of rows named in the comma-separated
// list names ("" or "all": every row), in the suite's order; an unknown
// name is an error naming the rows there are.
func SelectWindowsRows(rows []WindowsRow, names string) ([]WindowsRow, error) {
	if names == "" || names == "all" {
		return rows, nil
	}
	want := map[string]bool{}
	for _, n := range strings.Split(names, ",") {
		n = strings.TrimSpace(n)
		if !slices.ContainsFunc(rows, func(r WindowsRow) bool { return r.Name == n }) {
			return nil, fmt.Errorf("no row %q%s; want all or some of %s, comma-separated", n, suggest.Hint(n, rowNames(rows)), strings.Join(rowNames(rows), ", "))
		}
		want[n] = true
	}
	var out []WindowsRow
	for _, r := range rows {
		if want[r.Name] {
			out = append(out, r)
		}
	}
	return out, nil
}

func rowNames(rows []WindowsRow) []string {
	var names []string
	for _, r := range rows {
		names = append(names, r.Name)
	}
	return names
}

// Describe says what the row's data is: events, keys, rows per ms of
// event time and the event time they span.
func (r WindowsRow) Describe() string {
	span := time.Duration(r.Events/r.PerMs) * time.Millisecond
	keys := fmt.Sprintf("%d random keys", r.Keys)
	if r.BaseKeys != r.Keys {
		keys += fmt.Sprintf(" (baseline: %d)", r.BaseKeys)
	}
	if r.File {
		return fmt.Sprintf("%d events of %d keys in one JSON-lines file (`sluice bench`'s workload: %d per ms of event time, %s; "+
			"the file's writing is not timed)", r.Events, r.Keys, r.PerMs, span)
	}
	return fmt.Sprintf("%d events, %s, %d per ms of event time (%s)", r.Events, keys, r.PerMs, span)
}

// datagenOptions returns the WITH options of a datagen table of the rows
// of r with keys keys.
func (r WindowsRow) datagenOptions(keys int64) map[string]string {
	opts := Workload{Events: r.Events, Keys: keys}.datagenOptions()
	opts["fields.ts.step"] = fmt.Sprintf("%dns", time.Millisecond.Nanoseconds()/r.PerMs)
	return opts
}

// SQLJob returns the row's job file (baseline: its baseline's) writing to
// a table of connector sink.
func (r WindowsRow) SQLJob(baseline bool, sink string) string {
	if baseline {
		return windowSQLJob(r.datagenOptions(r.BaseKeys), baseWindow, sink)
	}
	return windowSQLJob(r.datagenOptions(r.Keys), r.Window, sink)
}

// Run runs the row's job (baseline: its baseline) once at the given
// parallelism into a blackhole and returns its Result, with the rows the
// sink received and the rows the window aggregated from the job's metrics
// (CountsOnly, as RunSQL). The time includes compiling the job.
func (r WindowsRow) Run(ctx context.Context, baseline bool, parallelism int) (Result, error) {
	set := metrics.NewSet()
	wall, cpu, err := runSQLJob(ctx, r.SQLJob(baseline, "blackhole"), parallelism, set)
	if err != nil {
		return Result{}, err
	}
	name := r.Title
	if baseline {
		name = r.BaseTitle
	}
	return sqlResult(name, r.Events, set, wall, cpu), nil
}

// Check checks one run of the row and one of its baseline: each
// aggregated every row (none late: the rows are at most 50 ms out of
// order, the watermark bound is 100 ms) and emitted at least one result,
// no more than it could, and a HOP at least as many as the tumble over the
// same rows (each (key, 10 s window) of the tumble lies inside the
// (key, HOP window) starting with it).
func (r WindowsRow) Check(row, base Result) error {
	for _, x := range []Result{row, base} {
		if x.Check.Count != r.Events {
			return fmt.Errorf("%s: the window aggregated %d rows, want all %d (%s)", x.Name, x.Check.Count, r.Events, x.CheckString())
		}
		if x.Check.Results <= 0 {
			return fmt.Errorf("%s: no results", x.Name)
		}
	}
	perRow := int64(1)
	if r.Window.Kind == window.Hopping {
		perRow = r.Window.Size / r.Window.Slide
		if row.Check.Results < base.Check.Results {
			return fmt.Errorf("%s: %d results, fewer than the %d of %s over the same rows", row.Name, row.Check.Results, base.Check.Results, base.Name)
		}
	}
	if row.Check.Results > r.Events*perRow || base.Check.Results > r.Events {
		return fmt.Errorf("more results than rows allow: %s %d, %s %d, %d rows", row.Name, row.Check.Results, base.Name, base.Check.Results, r.Events)
	}
	return nil
}

// WindowsResult is a row's median runs: the row's and its baseline's.
type WindowsResult struct {
	Row       WindowsRow
	Run, Base Result
}

// Ratio is the row's events/s over its baseline's.
func (w WindowsResult) Ratio() float64 { return w.Run.EventsPerSec() / w.Base.EventsPerSec() }

// CPURatio is the row's events per CPU-second over its baseline's (0 when
// either used too little CPU to measure): steadier than Ratio on a busy
// machine, and what each core does — not the target's measure.
func (w WindowsResult) CPURatio() float64 {
	if w.Run.EventsPerCPUSec() == 0 || w.Base.EventsPerCPUSec() == 0 {
		return 0
	}
	return w.Run.EventsPerCPUSec() / w.Base.EventsPerCPUSec()
}

// Met reports whether the row meets its target (false when it has none).
func (w WindowsResult) Met() bool { return w.Row.Target > 0 && w.Ratio() >= w.Row.Target }

// RunWindowsRow runs the row and its baseline runs times each, interleaved
// (baseline, row, baseline, row, …), checks every pair (Check) and that
// every run of each gave the same results, and returns the medians by wall
// time. It first collects the garbage earlier rows left and returns it to
// the operating system (freshHeap). progress, when not nil, is told which
// run starts. It returns ctx.Err() when ctx ends first.
func RunWindowsRow(ctx context.Context, r WindowsRow, parallelism, runs int, progress func(string)) (WindowsResult, error) {
	freshHeap()
	if r.File {
		return runFileRow(ctx, r, parallelism, runs, progress)
	}
	var rs, bs []Result
	for i := 0; i < runs; i++ {
		if progress != nil {
			progress(fmt.Sprintf("%s, run %d of %d: %s", r.Name, i+1, runs, r.BaseTitle))
		}
		b, err := withOthers(func() (Result, error) { return r.Run(ctx, true, parallelism) })
		if err != nil {
			return WindowsResult{}, err
		}
		if progress != nil {
			progress(fmt.Sprintf("%s, run %d of %d: %s", r.Name, i+1, runs, r.Title))
		}
		x, err := withOthers(func() (Result, error) { return r.Run(ctx, false, parallelism) })
		if err != nil {
			return WindowsResult{}, err
		}
		if err := r.Check(x, b); err != nil {
			return WindowsResult{}, fmt.Errorf("%s: %w", r.Name, err)
		}
		rs, bs = append(rs, x), append(bs, b)
	}
	for _, set := range [][]Result{rs, bs} {
		for _, x := range set[1:] {
			if x.Check != set[0].Check {
				return WindowsResult{}, fmt.Errorf("%s: runs of %s differ: %s, then %s", r.Name, x.Name, set[0].CheckString(), x.CheckString())
			}
		}
	}
	return WindowsResult{Row: r, Run: medianResult(rs), Base: medianResult(bs)}, nil
}

// runFileRow is RunWindowsRow for the file row: it writes the file in a
// temporary folder (removed after), then runs RunHandParser and
// RunFileSQL over it, interleaved; every run must give RunLoop's results
// over the same events.
func runFileRow(ctx context.Context, r WindowsRow, parallelism, runs int, progress func(string)) (WindowsResult, error) {
	w := Workload{Events: r.Events, Keys: r.Keys, Window: time.Duration(baseWindow.Size) * time.Millisecond}
	dir, err := os.MkdirTemp("", "sluice-bench-")
	if err != nil {
		return WindowsResult{}, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "events.jsonl")
	if progress != nil {
		progress(fmt.Sprintf("%s: writing %d events to %s", r.Name, w.Events, path))
	}
	if err := WriteJSONLines(path, w); err != nil {
		return WindowsResult{}, err
	}
	want := w.Expected()
	var rs, bs []Result
	for i := 0; i < runs; i++ {
		if progress != nil {
			progress(fmt.Sprintf("%s, run %d of %d: %s", r.Name, i+1, runs, r.BaseTitle))
		}
		b, err := withOthers(func() (Result, error) { return RunHandParser(ctx, path, w) })
		if err != nil {
			return WindowsResult{}, err
		}
		b.Name = r.BaseTitle
		if progress != nil {
			progress(fmt.Sprintf("%s, run %d of %d: %s", r.Name, i+1, runs, r.Title))
		}
		x, err := withOthers(func() (Result, error) { return RunFileSQL(ctx, path, w, parallelism) })
		if err != nil {
			return WindowsResult{}, err
		}
		x.Name = r.Title
		for _, y := range []Result{x, b} {
			if y.Check != want || y.Events != w.Events {
				return WindowsResult{}, fmt.Errorf("%s: %s read %d events, %v; want %d, %v (the loop's)", r.Name, y.Name, y.Events, y.Check, w.Events, want)
			}
		}
		rs, bs = append(rs, x), append(bs, b)
	}
	return WindowsResult{Row: r, Run: medianResult(rs), Base: medianResult(bs)}, nil
}

// freshHeap collects the garbage of earlier rows and returns the freed
// memory to the operating system, so that a row starts in the state it
// would start in when run alone (a 10M-key row leaves a heap of a few GB
// behind it, and the collector's and the kernel's work on it otherwise
// lands in the next row's runs).
func freshHeap() {
	runtime.GC()
	debug.FreeOSMemory()
}

// medianResult returns the run of median wall time.
func medianResult(rs []Result) Result {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b Result) int { return cmp.Compare(a.Elapsed, b.Elapsed) })
	return rs[len(rs)/2]
}
