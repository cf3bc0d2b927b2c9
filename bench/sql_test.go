package bench

import (
	"cmp"
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/connectors"
	rt "github.com/sluicehq/sluice/runtime"
)

// BenchmarkSQLTumblingCountSum runs the SQL workload three ways per
// iteration — the SQL job into a blackhole, the same job with the Go API,
// go-streams — and reports each one's events/s and SQL's ratios:
//
//	go test -run '^$' -bench SQLTumblingCountSum ./bench
func BenchmarkSQLTumblingCountSum(b *testing.B) {
	w := Default
	par := runtime.GOMAXPROCS(0)
	var sq, api, gs float64
	for i := 0; i < b.N; i++ {
		g, err := RunGoStreamsDatagen(b.Context(), w)
		if err != nil {
			b.Fatal(err)
		}
		a, err := RunSluiceDatagen(b.Context(), w, par)
		if err != nil {
			b.Fatal(err)
		}
		s, err := RunSQL(b.Context(), w, par)
		if err != nil {
			b.Fatal(err)
		}
		if a.Check != g.Check || !s.Agrees(a.Check) {
			b.Fatalf("results differ: SQL %s, Go API %v, go-streams %v", s.CheckString(), a.Check, g.Check)
		}
		sq += s.EventsPerSec()
		api += a.EventsPerSec()
		gs += g.EventsPerSec()
	}
	n := float64(b.N)
	b.ReportMetric(sq/n/1e6, "sql-Mevents/s")
	b.ReportMetric(api/n/1e6, "goapi-Mevents/s")
	b.ReportMetric(gs/n/1e6, "gostreams-Mevents/s")
	b.ReportMetric(sq/gs, "x-gostreams")
	b.ReportMetric(sq/api, "x-goapi")
}

// collected receives the rows of 'bench_collect' sinks: tables written by
// a SQL job in a test. Tests using it do not run in parallel.
var collected struct {
	sync.Mutex
	rows []resultRow
}

// resultRow is one window result: k, window_start, window_end, n, s.
type resultRow [5]int64

func init() { connectors.Register(collectFactory{}) }

// collectFactory is the 'bench_collect' connector, registered by the tests
// only: a sink that appends every row (five BIGINT or TIMESTAMP columns) to
// collected.
type collectFactory struct{}

func (collectFactory) Name() string                         { return "bench_collect" }
func (collectFactory) Options() []connectors.Option         { return nil }
func (collectFactory) AcceptsUpdates(connectors.Table) bool { return false }

func (collectFactory) NewSink(connectors.Table) (func() rt.Operator, int, error) {
	return func() rt.Operator { return &collectSink{} }, 0, nil
}

type collectSink struct{ rt.Base }

func (collectSink) ProcessBatch(_ int, b *rt.Batch, _ rt.Output) error {
	rows := make([]resultRow, b.Len())
	for i := range rows {
		r := b.Row(i)
		for c := range rows[i] {
			if b.Cols[c].IsNull(r) {
				panic("bench_collect: a NULL result")
			}
			rows[i][c] = b.Cols[c].I64[r]
		}
	}
	collected.Lock()
	collected.rows = append(collected.rows, rows...)
	collected.Unlock()
	return nil
}

func sortRows(rows []resultRow) {
	slices.SortFunc(rows, func(a, b resultRow) int {
		for c := range a {
			if d := cmp.Compare(a[c], b[c]); d != 0 {
				return d
			}
		}
		return 0
	})
}

// TestSQLMatchesGoAPI runs the SQL workload's job text into a collecting
// sink and the same job with the Go API, and compares every result row.
func TestSQLMatchesGoAPI(t *testing.T) {
	w := Workload{Events: 300_000, Keys: 2_000, Window: Default.Window}
	for _, par := range []int{1, 3} {
		collected.Lock()
		collected.rows = nil
		collected.Unlock()
		if _, _, err := runSQLJob(t.Context(), w.SQLJob("bench_collect"), par, metrics.NewSet()); err != nil {
			t.Fatal(err)
		}
		collected.Lock()
		sqlRows := collected.rows
		collected.Unlock()

		var mu sync.Mutex
		var apiRows []resultRow
		env, err := w.goAPIDatagenJob(par, func() rt.Operator {
			return &funcSink{f: func(r resultRow) { mu.Lock(); apiRows = append(apiRows, r); mu.Unlock() }}
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := env.Execute(t.Context()); err != nil {
			t.Fatal(err)
		}
		sortRows(sqlRows)
		sortRows(apiRows)
		if len(sqlRows) == 0 || !slices.Equal(sqlRows, apiRows) {
			t.Fatalf("parallelism %d: SQL %d rows, Go API %d rows, not equal", par, len(sqlRows), len(apiRows))
		}
		var check Checksum
		for _, r := range sqlRows {
			check.add(r[3], r[4])
		}
		if want := w.datagenInvariants(); check.Count != want.Count || check.Sum != want.Sum {
			t.Fatalf("parallelism %d: SQL results %v, want count %d, sum %d", par, check, want.Count, want.Sum)
		}
		t.Logf("parallelism %d: %d equal rows, %v", par, len(sqlRows), check)
	}
}

// TestSQLRunsAgree checks the benchmark's own runs on a small workload: the
// Go API and go-streams reading datagen agree exactly, and RunSQL's counts
// from its metrics agree with them.
func TestSQLRunsAgree(t *testing.T) {
	w := Workload{Events: 200_000, Keys: 1_000, Window: Default.Window}
	g, err := RunGoStreamsDatagen(t.Context(), w)
	if err != nil {
		t.Fatal(err)
	}
	if want := w.datagenInvariants(); g.Check.Count != want.Count || g.Check.Sum != want.Sum {
		t.Fatalf("go-streams %v, want count %d, sum %d", g.Check, want.Count, want.Sum)
	}
	for _, par := range []int{1, 2} {
		a, err := RunSluiceDatagen(t.Context(), w, par)
		if err != nil {
			t.Fatal(err)
		}
		s, err := RunSQL(t.Context(), w, par)
		if err != nil {
			t.Fatal(err)
		}
		if a.Check != g.Check || !s.Agrees(g.Check) {
			t.Fatalf("parallelism %d: SQL %s, Go API %v, go-streams %v", par, s.CheckString(), a.Check, g.Check)
		}
	}
}

// datagenInvariants returns the total count and sum of the SQL workload's
// results: every event once, v = i mod 1000.
func (w Workload) datagenInvariants() Checksum {
	var sum int64
	for i := int64(0); i < w.Events; i++ {
		sum += i % 1000
	}
	return Checksum{Count: w.Events, Sum: sum}
}

// funcSink passes every result row to f.
type funcSink struct {
	rt.Base
	f func(resultRow)
}

func (s *funcSink) ProcessBatch(_ int, b *rt.Batch, _ rt.Output) error {
	for i := 0; i < b.Len(); i++ {
		r := b.Row(i)
		var row resultRow
		for c := range row {
			row[c] = b.Cols[c].I64[r]
		}
		s.f(row)
	}
	return nil
}
