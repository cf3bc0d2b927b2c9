package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestBenchJSONHasEveryRow runs a small `sluice bench --json` and checks
// that the document has every row with positive wall and CPU figures, and
// ratios that follow from the rows.
func TestBenchJSONHasEveryRow(t *testing.T) {
	out, errOut, code := sluiceExit(t, "bench", "--json", "--events", "100000", "--keys", "500", "--runs", "1", "--parallelism", "2", "--state-keys", "0")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "sluice bench: run 1 of 1: sluice (Go API), parallelism 1") {
		t.Fatalf("no progress line for the parallelism-1 run on stderr:\n%s", errOut)
	}
	var rep benchReport
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, out)
	}
	if dec.More() {
		t.Fatalf("stdout has more than one JSON document:\n%s", out)
	}
	want := []string{
		"api/sluice (Go API), parallelism 2", "api/sluice (Go API), parallelism 1", "api/go-streams v0.13.0", "api/hand-written loop",
		"sql/sluice SQL", "sql/sluice (Go API)", "sql/go-streams v0.13.0",
	}
	rows := map[string]benchRow{}
	for _, r := range rep.Rows {
		rows[r.Table+"/"+r.Name] = r
	}
	if len(rep.Rows) != len(want) {
		t.Fatalf("%d rows, want %d: %+v", len(rep.Rows), len(want), rep.Rows)
	}
	for _, name := range want {
		r, ok := rows[name]
		if !ok {
			t.Fatalf("no row %q in %+v", name, rep.Rows)
		}
		if r.Events != 100000 || r.WallSeconds <= 0 || r.CPUSeconds <= 0 || !r.Agrees || r.Results <= 0 || r.Count != 100000 {
			t.Errorf("row %q: %+v", name, r)
		}
		if !near(r.EventsPerSec, float64(r.Events)/r.WallSeconds) || !near(r.EventsPerCPUSec, float64(r.Events)/r.CPUSeconds) {
			t.Errorf("row %q: rates do not follow from events, wall and cpu: %+v", name, r)
		}
		if (r.Sum == nil) != (name == "sql/sluice SQL") {
			t.Errorf("row %q: sum %v", name, r.Sum)
		}
	}
	rate := func(name string) float64 { return rows[name].EventsPerSec }
	f := func(ratio string, want float64) {
		t.Helper()
		if got, ok := rep.Ratios[ratio]; !ok || !near(got, want) {
			t.Errorf("ratio %s = %v (present %v), want %v from the rows", ratio, got, ok, want)
		}
	}
	f("sluice_per_gostreams", rate(want[0])/rate(want[2]))
	f("sluice_per_loop", rate(want[0])/rate(want[3]))
	f("sluice_parallelism_1_per_loop", rate(want[1])/rate(want[3]))
	f("sql_per_gostreams", rate(want[4])/rate(want[6]))
	f("sql_per_api", rate(want[4])/rate(want[5]))
	if len(rep.Ratios) != 5 {
		t.Errorf("ratios %v, want 5", rep.Ratios)
	}
	if rep.Workload.Events != 100000 || rep.Workload.Parallelism != 2 || rep.CPU == "" {
		t.Errorf("workload %+v, cpu %q", rep.Workload, rep.CPU)
	}
}

// TestBenchTextShowsCPU checks the text output's CPU columns and the
// per-core ratio line.
func TestBenchTextShowsCPU(t *testing.T) {
	out, errOut, code := sluiceExit(t, "bench", "--events", "100000", "--keys", "500", "--runs", "1", "--parallelism", "2", "--state-keys", "0", "--sql=false")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, s := range []string{
		"cpu: the process's user+system CPU time during the run",
		"run  ", "events/s", "time", "cpu  ", "events/cpu-s", "results",
		"sluice (Go API), parallelism 2", "sluice (Go API), parallelism 1", "hand-written loop",
		"sluice / hand-written loop:", "cores' CPU against the loop's",
		"sluice at parallelism 1 / hand-written loop:",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
	if strings.Contains(out, "sluice bench:") {
		t.Errorf("progress lines on stdout:\n%s", out)
	}
}

// smallWindows is a windows suite small enough for a test: every row at
// a few thousand events.
var smallWindows = []string{"bench", "--suite", "windows", "--events", "20000", "--keys", "20", "--runs", "1", "--state-keys", "2000", "--parallelism", "2"}

// TestBenchWindowsSuitePrintsEveryRow runs a small `sluice bench --suite
// windows` and checks that it prints every row with its data, a ratio
// against its baseline and its target, the summary and the memory
// figures.
func TestBenchWindowsSuitePrintsEveryRow(t *testing.T) {
	out, errOut, code := sluiceExit(t, smallWindows...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, s := range []string{
		"hop1m: HOP 1 min / 1 s (60 windows per row), 10k keys\n  8000 events, 20 random keys, 10 per ms of event time",
		"hop1m-1mkeys: HOP 1 min / 1 s, 1M keys\n  10000 events, 2000 random keys, 250 per ms of event time",
		"hop10s: HOP 10 s / 1 s (10 windows per row), 10k keys",
		"session: SESSION 5 s gap, 1M keys",
		"tumble-10mkeys: TUMBLE 10 s, 10M keys\n  80000 events, 20000 random keys (baseline: 2), 10 per ms of event time",
		"tumble-10mkeys-full: TUMBLE 10 s, 10M keys, one window holding 8.6M of them\n  80000 events, 20000 random keys (baseline: 2), 2000 per ms of event time",
		"TUMBLE 10 s, same rows (baseline)", "TUMBLE 10 s, 1k keys (baseline)",
		"hop1m / baseline: ", "(target: ≥ 50% of the tumble's events/s: ", "\nper CPU-second: ",
		"hop1m-1mkeys / baseline: ", "hop10s / baseline: ",
		"session / baseline: ", "(target: ≥ 40% of the tumble's events/s: ",
		"tumble-10mkeys / baseline: ", "(target: ≥ 30% of 1k keys' events/s: ", "tumble-10mkeys-full / baseline: ",
		"file: one JSON-lines file → TUMBLE 10 s COUNT+SUM, 10k keys (SQL, file connector)\n  40000 events of 20 keys in one JSON-lines file",
		"hand-written parser + map, one goroutine (baseline)", "file / baseline: ", "(target: ≥ 1.5× the hand-written parser: ",
		"summary (each ratio from its own interleaved runs):",
		"window state, COUNT+SUM: heap growth per key",
		"TUMBLE(10s)                  2000 keys:", "HOP(slide 1s, size 1m0s)     2000 keys:", "× the tumble's)   (target ≤ 2× the tumble's bytes per key: ",
		"SESSION(gap 5s)              2000 keys:", "TUMBLE(10s)                  20000 keys:", "(target ≤ 40 bytes per (key, window): ",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
	var summary []string
	_, after, _ := strings.Cut(out, "summary (each ratio from its own interleaved runs):\n")
	for _, line := range strings.Split(after, "\n")[1:] {
		if line == "" {
			break
		}
		summary = append(summary, strings.Fields(line)[0])
	}
	if want := []string{"hop1m", "hop1m-1mkeys", "hop10s", "session", "tumble-10mkeys", "tumble-10mkeys-full", "file"}; !slices.Equal(summary, want) {
		t.Errorf("summary rows %v, want %v:\n%s", summary, want, out)
	}
	if !regexp.MustCompile(`\nrow +events/s  baseline events/s  ratio +per CPU-second  others \(row, baseline\)  target\n`).MatchString(out) {
		t.Errorf("no summary header:\n%s", out)
	}
	if !strings.Contains(errOut, "sluice bench: session, run 1 of 1: SESSION 5 s gap, 1M keys") {
		t.Errorf("no progress line on stderr:\n%s", errOut)
	}
}

// TestBenchWindowsJSONHasEveryRow checks `sluice bench --suite windows
// --json`: the rows chosen by --rows, each with its baseline, ratio and
// target, and the memory figures of those rows, all in one document.
func TestBenchWindowsJSONHasEveryRow(t *testing.T) {
	out, errOut, code := sluiceExit(t, append(smallWindows, "--json", "--rows", "session,hop1m")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep benchReport
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, out)
	}
	if rep.Suite != "windows" || rep.Workload.Parallelism != 2 || rep.Workload.Events != 20000 {
		t.Errorf("suite %q, workload %+v", rep.Suite, rep.Workload)
	}
	var got []string
	for _, r := range rep.Rows {
		got = append(got, fmt.Sprintf("%s/%s/%v", r.Table, r.Name, r.Baseline))
		if r.WallSeconds <= 0 || r.Results <= 0 || r.Count != r.Events || r.Keys <= 0 || r.EventsPerMs <= 0 || !r.Agrees {
			t.Errorf("row %+v", r)
		}
	}
	want := []string{
		"hop1m/HOP 1 min / 1 s (60 windows per row), 10k keys/false", "hop1m/TUMBLE 10 s, same rows (baseline)/true",
		"session/SESSION 5 s gap, 1M keys/false", "session/TUMBLE 10 s, same rows (baseline)/true",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("rows %q, want %q", got, want)
	}
	for i, name := range []string{"hop1m", "session"} {
		ratio := rep.Rows[2*i].EventsPerSec / rep.Rows[2*i+1].EventsPerSec
		if v := rep.Ratios[name+"_per_baseline"]; !near(v, ratio) {
			t.Errorf("ratio %s_per_baseline %v, want %v", name, v, ratio)
		}
		tg := rep.Targets[i]
		if tg.Table != name || !near(tg.Value, ratio) || tg.Met != (ratio >= tg.Target) || tg.Text == "" {
			t.Errorf("target %+v", tg)
		}
	}
	for i, name := range []string{"hop1m", "session"} {
		ratio := rep.Rows[2*i].EventsPerCPUSec / rep.Rows[2*i+1].EventsPerCPUSec
		if v := rep.Ratios[name+"_per_baseline_cpu"]; !near(v, ratio) {
			t.Errorf("ratio %s_per_baseline_cpu %v, want %v", name, v, ratio)
		}
	}
	if len(rep.Ratios) != 4 || len(rep.Targets) != 2 || rep.Targets[0].Target != 0.5 || rep.Targets[1].Target != 0.4 {
		t.Errorf("ratios %v, targets %+v", rep.Ratios, rep.Targets)
	}
	var states []string
	for _, s := range rep.State {
		states = append(states, s.Name)
		if s.Keys != 2000 || !(s.BytesPerKey > 0) {
			t.Errorf("state %+v", s)
		}
	}
	if !slices.Equal(states, []string{"tumble", "session"}) || !(rep.State[1].PerTumble > 0) {
		t.Errorf("state %+v, want the tumble's and the session's", rep.State)
	}
}

// TestBenchSuiteFlagErrors: a bad --suite or --rows, or a flag of the other
// suite, is an error naming the flag, with exit status 2.
func TestBenchSuiteFlagErrors(t *testing.T) {
	f := func(want string, args ...string) {
		t.Helper()
		out, errOut, code := sluiceExit(t, append([]string{"bench"}, args...)...)
		if code != 2 || !strings.Contains(errOut, want) || out != "" {
			t.Errorf("sluice bench %v: exit %d, stdout %q, stderr %q; want status 2 and %q", args, code, out, errOut, want)
		}
	}
	f(`--suite "nope": want tumble or windows`, "--suite", "nope")
	f(`--suite "window": want tumble or windows (did you mean "windows"?)`, "--suite", "window")
	f(`--rows: no row "zzz"; want all or some of hop1m, hop1m-1mkeys, hop10s, session, tumble-10mkeys, tumble-10mkeys-full, file, comma-separated`,
		"--suite", "windows", "--rows", "zzz")
	f("--rows needs --suite windows", "--rows", "hop1m")
	f("--sql needs --suite tumble", "--suite", "windows", "--sql=false")
}

// TestBenchWindowsStopsOnSIGINTMidRun: SIGINT during a row's run stops the
// windows suite at once, with status 130.
func TestBenchWindowsStopsOnSIGINTMidRun(t *testing.T) {
	cmd, stderr := startUntil(t, "run 1 of 1: TUMBLE 10 s, 10M keys, one window",
		"bench", "--suite", "windows", "--rows", "tumble-10mkeys-full", "--runs", "1", "--state-keys", "0")
	time.Sleep(200 * time.Millisecond)
	if code := interruptWithin(t, cmd, stderr, 3*time.Second); code != 130 {
		t.Fatalf("exit status %d, want 130:\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "sluice: bench interrupted") {
		t.Fatalf("stderr does not say it was interrupted:\n%s", stderr.String())
	}
}
