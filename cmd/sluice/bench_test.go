package main

import (
	"encoding/json"
	"strings"
	"testing"
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
