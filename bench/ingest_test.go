package bench

import (
	"flag"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"
)

var ingestRows = flag.Int64("ingest-rows", 0, "rows of BenchmarkFileIngest's file (0: 10,000,000)")

// BenchmarkFileIngest writes the workload as one JSON-lines file and reads
// it back per iteration with the hand-written parser and with the SQL job
// (file source at GOMAXPROCS subtasks), interleaved, reporting each one's
// events/s and Sluice's ratio (medians of the iterations), the same per
// second of the process's CPU time (what one core does), and the cores
// Sluice kept busy (its CPU time over its wall time: below 2 on this
// 2-core machine when other processes take a core, and x-hand falls
// towards x-hand-per-cpu then):
//
//	go test -run '^$' -bench FileIngest -benchtime 5x ./bench
//	go test ./bench -run '^$' -bench FileIngest -benchtime 3x -ingest-rows 2000000
func BenchmarkFileIngest(b *testing.B) {
	w := Default
	w.Events = 10_000_000
	if *ingestRows > 0 {
		w.Events = *ingestRows
	}
	path := filepath.Join(b.TempDir(), "events.jsonl")
	if err := WriteJSONLines(path, w); err != nil {
		b.Fatal(err)
	}
	want := w.Expected()
	par := runtime.GOMAXPROCS(0)
	var sl, hand, slCPU, handCPU, cores []float64
	for b.Loop() {
		h, err := RunHandParser(b.Context(), path, w)
		if err != nil {
			b.Fatal(err)
		}
		s, err := RunFileSQL(b.Context(), path, w, par)
		if err != nil {
			b.Fatal(err)
		}
		if h.Check != want || s.Check != want {
			b.Fatalf("results differ: sluice %v, hand parser %v, loop %v", s.Check, h.Check, want)
		}
		sl = append(sl, s.EventsPerSec())
		hand = append(hand, h.EventsPerSec())
		slCPU = append(slCPU, s.EventsPerCPUSec())
		handCPU = append(handCPU, h.EventsPerCPUSec())
		cores = append(cores, s.CPU.Seconds()/s.Elapsed.Seconds())
	}
	var ratios, cpuRatios []float64
	for i := range sl {
		ratios = append(ratios, sl[i]/hand[i])
		cpuRatios = append(cpuRatios, slCPU[i]/handCPU[i])
	}
	b.ReportMetric(median(sl)/1e6, "sluice-Mevents/s")
	b.ReportMetric(median(hand)/1e6, "hand-Mevents/s")
	b.ReportMetric(median(ratios), "x-hand")
	b.ReportMetric(median(slCPU)/1e6, "sluice-Mevents/cpu-s")
	b.ReportMetric(median(handCPU)/1e6, "hand-Mevents/cpu-s")
	b.ReportMetric(median(cpuRatios), "x-hand-per-cpu")
	b.ReportMetric(median(cores), "sluice-cores")
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// TestFileIngestMatchesLoop writes a small workload as JSON lines and reads
// it back with the hand parser and with the SQL job at parallelism 1 and
// 3, the file read whole and split into ranges of 64 KiB: every run gives
// RunLoop's exact checksum — with the file split, no row is late (dropped)
// although each subtask reads ranges far apart in event time.
func TestFileIngestMatchesLoop(t *testing.T) {
	w := Workload{Events: 100_000, Keys: 1_000, Window: Default.Window}
	path := filepath.Join(t.TempDir(), "events.jsonl")
	if err := WriteJSONLines(path, w); err != nil {
		t.Fatal(err)
	}
	want := w.Expected()
	h, err := RunHandParser(t.Context(), path, w)
	if err != nil {
		t.Fatal(err)
	}
	if h.Check != want || h.Events != w.Events {
		t.Fatalf("hand parser: %d events, %v; want %d, %v", h.Events, h.Check, w.Events, want)
	}
	for _, par := range []int{1, 3} {
		for _, split := range []string{"", "64kb"} {
			s, err := runFileSQL(t.Context(), path, w, par, split)
			if err != nil {
				t.Fatal(err)
			}
			if s.Check != want {
				t.Fatalf("parallelism %d, split size %q: sluice %v, loop %v", par, split, s.Check, want)
			}
		}
	}
}

// TestTimestampTextRoundTrips: the file's time text parses back (by the
// hand parser) to the event's milliseconds, and is what time.Time prints.
func TestTimestampTextRoundTrips(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ms := rapid.Int64Range(0, 253_402_300_799_999).Draw(t, "ms") // 1970 … 9999
		text := appendTimestamp(nil, ms)
		if want := time.UnixMilli(ms).UTC().Format("2006-01-02 15:04:05.000"); string(text) != want {
			t.Fatalf("%d: %s, want %s", ms, text, want)
		}
		got, end, ok := scanTimestamp([]byte(`"`+string(text)+`"`), 0)
		if !ok || got != ms || end != len(text)+2 {
			t.Fatalf("%s: %d %d %v, want %d", text, got, end, ok, ms)
		}
	})
}

// TestParseEventLine: the hand parser reads any order of the fields and
// rejects lines that are not events.
func TestParseEventLine(t *testing.T) {
	line := appendEventJSON(nil, 42, 1_700_000_000_123, 7)
	if k, ts, v, ok := parseEventLine(line); !ok || k != 42 || ts != 1_700_000_000_123 || v != 7 {
		t.Fatalf("%s: %d %d %d %v", line, k, ts, v, ok)
	}
	if k, ts, v, ok := parseEventLine([]byte(`{ "ts" : "2023-11-14 22:13:20.123", "v":-3,"k":5}` + "\r\n")); !ok || k != 5 || ts != 1_700_000_000_123 || v != -3 {
		t.Fatalf("reordered: %d %d %d %v", k, ts, v, ok)
	}
	for _, bad := range []string{``, `{}`, `{"k":1,"v":2}`, `{"k":1,"v":2,"ts":"2023-13-14 22:13:20.123"}`,
		`{"k":x,"v":2,"ts":"2023-11-14 22:13:20.123"}`, `{"k":1,"v":2,"ts":"2023-11-14 22:13:20.123","z":1}`} {
		if _, _, _, ok := parseEventLine([]byte(bad)); ok {
			t.Errorf("%s: parsed", bad)
		}
	}
}
