package bench

import (
	"context"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/operators/window"
	rt "github.com/sluicehq/sluice/runtime"
)

// BenchmarkWindowsSuite runs each row of the windows suite at its default
// size against its baseline, interleaved, and reports both events/s, their
// ratio and the ratio of their events per CPU-second (the table of
// `sluice bench --suite windows`):
//
//	go test -run '^$' -bench WindowsSuite -benchtime 1x ./bench
func BenchmarkWindowsSuite(b *testing.B) {
	for _, r := range WindowsRows(1, 1) {
		b.Run(r.Name, func(b *testing.B) {
			par := runtime.GOMAXPROCS(0)
			var row, base, rowCPU, baseCPU float64
			for i := 0; i < b.N; i++ {
				res, err := RunWindowsRow(b.Context(), r, par, 1, nil)
				if err != nil {
					b.Fatal(err)
				}
				row += res.Run.EventsPerSec()
				base += res.Base.EventsPerSec()
				rowCPU += res.Run.EventsPerCPUSec()
				baseCPU += res.Base.EventsPerCPUSec()
			}
			n := float64(b.N)
			b.ReportMetric(row/n/1e6, "Mevents/s")
			b.ReportMetric(base/n/1e6, "baseline-Mevents/s")
			b.ReportMetric(row/base, "x-baseline")
			if baseCPU > 0 {
				b.ReportMetric(rowCPU/baseCPU, "x-baseline-cpu")
			}
		})
	}
}

// BenchmarkStateBytesPerKeyFor reports the heap growth per key, one row
// each, of a 10 s tumble, HOP 1 min / 1 s and SESSION 5 s gap at 1M keys,
// and the HOP's and the session's over the tumble's:
//
//	go test -run '^$' -bench StateBytes -benchtime 1x ./bench
func BenchmarkStateBytesPerKeyFor(b *testing.B) {
	const keys = 1_000_000
	tumble, err := StateBytesPerKeyFor(b.Context(), baseWindow, keys)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		a    window.Assigner
	}{
		{"tumble", baseWindow},
		{"hop1m", window.Hop(time.Second, time.Minute)},
		{"session", window.SessionGap(5 * time.Second)},
	} {
		b.Run(c.name, func(b *testing.B) {
			var total float64
			for i := 0; i < b.N; i++ {
				v, err := StateBytesPerKeyFor(b.Context(), c.a, keys)
				if err != nil {
					b.Fatal(err)
				}
				total += v
			}
			v := total / float64(b.N)
			b.ReportMetric(v, "bytes/key")
			b.ReportMetric(v/tumble, "x-tumble")
		})
	}
}

// TestWindowsJobsMatchReference runs every row's job and its baseline's,
// small, into a collecting sink and compares their results with a
// reference computed from the same datagen rows in plain Go (windows
// assigned row by row, sessions by sorting each key's times); and checks
// that the metrics RunWindowsRow checks give the same number of results
// and rows.
func TestWindowsJobsMatchReference(t *testing.T) {
	rows := WindowsRows(0.001, 0.001)
	// And sessions that end: a key's rows ~5 s apart over 30 s.
	rows = append(rows, WindowsRow{Name: "sessions-that-end", Title: "SESSION", Window: window.SessionGap(5 * time.Second),
		Events: 30_000, Keys: 5_000, PerMs: 1, BaseKeys: 5_000, BaseTitle: "TUMBLE"})
	for _, r := range rows {
		if r.File { // TestRunWindowsRowReadsTheFile
			continue
		}
		for _, baseline := range []bool{false, true} {
			a, keys := r.Window, r.Keys
			if baseline {
				a, keys = baseWindow, r.BaseKeys
			}
			collected.Lock()
			collected.rows = nil
			collected.Unlock()
			set := metrics.NewSet()
			if _, _, err := runSQLJob(t.Context(), r.SQLJob(baseline, "bench_collect"), 2, set); err != nil {
				t.Fatalf("%s (baseline %v): %v", r.Name, baseline, err)
			}
			collected.Lock()
			got := collected.rows
			collected.Unlock()
			want := referenceWindows(t, r.datagenOptions(keys), a)
			sortRows(got)
			if !slices.Equal(got, want) {
				t.Fatalf("%s (baseline %v, %v): %d result rows, the reference %d, not equal", r.Name, baseline, a, len(got), len(want))
			}
			m := sqlResult("", r.Events, set, 0, 0)
			if m.Check.Results != int64(len(want)) || m.Check.Count != r.Events {
				t.Fatalf("%s (baseline %v): metrics say %s, want %d results of %d rows", r.Name, baseline, m.CheckString(), len(want), r.Events)
			}
			t.Logf("%s (baseline %v): %d equal result rows", r.Name, baseline, len(got))
		}
	}
}

// referenceWindows returns the sorted results (k, window_start,
// window_end, COUNT(*), SUM(v)) of windows a over the rows of the datagen
// table of options opts, computed directly.
func referenceWindows(t *testing.T, opts map[string]string, a window.Assigner) []resultRow {
	t.Helper()
	type acc struct{ n, s int64 }
	type group struct{ k, start, end int64 }
	groups := map[group]acc{}
	add := func(g group, v int64) {
		x := groups[g]
		x.n++
		x.s += v
		groups[g] = x
	}
	times := map[int64][][2]int64{} // sessions: each key's (time, v)
	readDatagen(t, opts, func(k, v, ts int64) {
		switch a.Kind {
		case window.Session:
			times[k] = append(times[k], [2]int64{ts, v})
		default:
			for s := ts - ts%a.Slide; s > ts-a.Size; s -= a.Slide {
				add(group{k, s, s + a.Size}, v)
			}
		}
	})
	for k, tv := range times {
		slices.SortFunc(tv, func(x, y [2]int64) int { return int(x[0] - y[0]) })
		start, last, n, s := tv[0][0], tv[0][0], int64(0), int64(0)
		for _, x := range tv {
			if x[0]-last > a.Gap { // the sessions [t, t+gap] of two rows meet when their times are at most gap apart
				groups[group{k, start, last + a.Gap}] = acc{n, s}
				start, n, s = x[0], 0, 0
			}
			last = x[0]
			n++
			s += x[1]
		}
		groups[group{k, start, last + a.Gap}] = acc{n, s}
	}
	var rows []resultRow
	for g, x := range groups {
		rows = append(rows, resultRow{g.k, g.start, g.end, x.n, x.s})
	}
	sortRows(rows)
	return rows
}

// readDatagen passes every row (k, v, ts) of the datagen table of options
// opts to f.
func readDatagen(t *testing.T, opts map[string]string, f func(k, v, ts int64)) {
	t.Helper()
	newSrc, err := datagenSourceOf(opts)
	if err != nil {
		t.Fatal(err)
	}
	src := newSrc()
	if err := src.Open(&rt.Context{Parallelism: 1}); err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for {
		b, _, err := src.Poll(context.Background())
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if b == nil {
			continue
		}
		for i := 0; i < b.Len(); i++ {
			r := b.Row(i)
			f(b.Cols[0].I64[r], b.Cols[1].I64[r], b.Cols[2].I64[r])
		}
	}
}

// TestWindowsRowsMeanWhatTheySay checks the suite's data at its default
// size: a 10 s window of the 1M-key rows holds most of a million keys,
// tumble-10mkeys-full's most of ten million (tumble-10mkeys' run does), the
// 10k-key rows run over minutes of event time; and that the scale
// multiplies events and keys.
func TestWindowsRowsMeanWhatTheySay(t *testing.T) {
	rows := WindowsRows(1, 1)
	if got := rowNames(rows); !slices.Equal(got, WindowsRowNames) {
		t.Fatalf("rows %v, names %v", got, WindowsRowNames)
	}
	for _, r := range rows {
		perWindow := float64(min(r.Events, 10_000*r.PerMs)) // rows in a 10 s window
		if r.Name == "tumble-10mkeys" {
			// sluice bench's rate: ~100,000 keys a window, most of the keys
			// over the run.
			perWindow = float64(r.Events)
		}
		distinct := float64(r.Keys) * (1 - math.Exp(-perWindow/float64(r.Keys)))
		if distinct < 0.85*float64(r.Keys) {
			t.Errorf("%s: a 10 s window (tumble-10mkeys: the run) holds ~%.0f of %d keys", r.Name, distinct, r.Keys)
		}
		if r.Keys <= 10_000 && r.Events/r.PerMs < 120_000 {
			t.Errorf("%s: %d ms of event time, want minutes", r.Name, r.Events/r.PerMs)
		}
		if !strings.Contains(r.Describe(), "per ms of event time") || r.TargetText == "" {
			t.Errorf("%s: %q, target %q", r.Name, r.Describe(), r.TargetText)
		}
	}
	small := WindowsRows(0.1, 0.01)
	for i, r := range small {
		if r.Events != rows[i].Events/10 || r.Keys != rows[i].Keys/100 || r.BaseKeys != max(1, rows[i].BaseKeys/100) || r.PerMs != rows[i].PerMs {
			t.Errorf("%s scaled: %+v from %+v", r.Name, r, rows[i])
		}
	}
}

// TestSelectWindowsRowsNamesTheRows checks --rows: a subset in the suite's
// order, all, and an unknown name's error listing the rows.
func TestSelectWindowsRowsNamesTheRows(t *testing.T) {
	rows := WindowsRows(1, 1)
	got, err := SelectWindowsRows(rows, "session,hop1m")
	if err != nil || !slices.Equal(rowNames(got), []string{"hop1m", "session"}) {
		t.Fatalf("session,hop1m: %v, %v", rowNames(got), err)
	}
	if got, err := SelectWindowsRows(rows, "all"); err != nil || len(got) != len(rows) {
		t.Fatalf("all: %d rows, %v", len(got), err)
	}
	_, err = SelectWindowsRows(rows, "hop1m,sesion")
	if err == nil || !strings.Contains(err.Error(), `no row "sesion" (did you mean "session"?)`) || !strings.Contains(err.Error(), "tumble-10mkeys") {
		t.Fatalf("error %v", err)
	}
}

// TestRunWindowsRowChecksItsRuns runs two small rows through
// RunWindowsRow, and checks that Check refuses runs that lost rows or
// that give a HOP fewer results than its tumble.
func TestRunWindowsRowChecksItsRuns(t *testing.T) {
	rows, err := SelectWindowsRows(WindowsRows(0.02, 0.02), "hop1m,session")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		var seen []string
		res, err := RunWindowsRow(t.Context(), r, 2, 2, func(s string) { seen = append(seen, s) })
		if err != nil {
			t.Fatal(err)
		}
		if len(seen) != 4 || !strings.Contains(seen[0], r.BaseTitle) || !strings.Contains(seen[1], r.Title) {
			t.Errorf("%s: progress %q", r.Name, seen)
		}
		if res.Ratio() <= 0 || res.Run.Elapsed <= 0 || res.Base.Elapsed <= 0 || res.Run.Name != r.Title || res.Base.Name != r.BaseTitle {
			t.Errorf("%s: %+v", r.Name, res)
		}
		lost := res.Run
		lost.Check.Count--
		if err := r.Check(lost, res.Base); err == nil || !strings.Contains(err.Error(), "want all") {
			t.Errorf("%s: a run that lost a row passes: %v", r.Name, err)
		}
	}
	hop := rows[0]
	few := Result{Name: "hop", Check: Checksum{Results: 5, Count: hop.Events}}
	base := Result{Name: "tumble", Check: Checksum{Results: 6, Count: hop.Events}}
	if err := hop.Check(few, base); err == nil || !strings.Contains(err.Error(), "fewer than") {
		t.Errorf("a HOP with fewer results than its tumble passes: %v", err)
	}
}

// TestRunWindowsRowReadsTheFile runs the file row small: the file SQL job
// and the hand-written parser, each run checked against RunLoop, and the
// temporary file removed after.
func TestRunWindowsRowReadsTheFile(t *testing.T) {
	rows, err := SelectWindowsRows(WindowsRows(0.01, 0.1), "file")
	if err != nil {
		t.Fatal(err)
	}
	r := rows[0]
	var path string
	res, err := RunWindowsRow(t.Context(), r, 2, 2, func(s string) {
		if _, p, ok := strings.Cut(s, "events to "); ok {
			path = p
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	want := Workload{Events: r.Events, Keys: r.Keys, Window: Default.Window}.Expected()
	if res.Run.Check != want || res.Base.Check != want || res.Run.Name != r.Title || res.Base.Name != r.BaseTitle || !(res.Ratio() > 0) {
		t.Fatalf("%+v, want %v", res, want)
	}
	if path == "" {
		t.Fatal("no progress line naming the file")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("%s is still there: %v", path, err)
	}
}

// TestStateBytesPerKeyForEveryWindow measures each kind of window's state
// at a few keys: a positive, finite number of bytes.
func TestStateBytesPerKeyForEveryWindow(t *testing.T) {
	const keys = 5_000
	tumble, err := StateBytesPerKeyFor(t.Context(), baseWindow, keys)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []window.Assigner{window.Hop(time.Second, time.Minute), window.SessionGap(5 * time.Second)} {
		v, err := StateBytesPerKeyFor(t.Context(), a, keys)
		if err != nil {
			t.Fatal(err)
		}
		if !(v > 0) || math.IsInf(v, 0) {
			t.Fatalf("%v: %v bytes per key", a, v)
		}
		t.Logf("%v: %.1f bytes per key, tumble %.1f", a, v, tumble)
	}
	if !(tumble > 0) {
		t.Fatalf("tumble: %v bytes per key", tumble)
	}
}

// TestWindowsResultRatios checks the ratios and the target: events/s over
// the baseline's, events per CPU-second over the baseline's (0 when a run
// used no measurable CPU), met only with a target.
func TestWindowsResultRatios(t *testing.T) {
	run := Result{Events: 100, Elapsed: time.Second, CPU: 2 * time.Second}
	base := Result{Events: 100, Elapsed: 4 * time.Second, CPU: time.Second}
	w := WindowsResult{Row: WindowsRow{Target: 3}, Run: run, Base: base}
	if w.Ratio() != 4 || w.CPURatio() != 0.5 || !w.Met() {
		t.Errorf("ratio %v, cpu ratio %v, met %v; want 4, 0.5, true", w.Ratio(), w.CPURatio(), w.Met())
	}
	w.Row.Target = 0
	w.Base.CPU = 0
	if w.CPURatio() != 0 || w.Met() {
		t.Errorf("no baseline CPU: cpu ratio %v, met %v without a target; want 0, false", w.CPURatio(), w.Met())
	}
}
