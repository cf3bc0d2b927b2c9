package bench

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"

	_ "github.com/sluicehq/sluice/connectors/blackhole" // registers 'blackhole'
	_ "github.com/sluicehq/sluice/connectors/datagen"   // registers 'datagen'
	rt "github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sql"
)

// sqlJobFile names the SQL job in errors and metrics (job "bench_sql").
const sqlJobFile = "bench_sql.sql"

// RunSQL runs the SQL workload as a SQL job — w.SQLJob("blackhole"),
// compiled with sql.Compile and run by the runtime as `sluice run` does —
// at the given parallelism. The time includes compiling the job.
//
// A blackhole keeps no results, so the Result's checksum comes from the
// job's metrics and is partial (CountsOnly): Check.Results is the number of
// rows the sink received, Check.Count the number of rows the window
// aggregated (rows in minus late rows, which is the sum of the COUNT(*)
// results once every window has fired), and Check.Sum is not known. The
// exact results are compared with the Go API's by a test that runs the
// same job text into a collecting sink.
//
// It returns ctx.Err() when ctx ends first.
func RunSQL(ctx context.Context, w Workload, parallelism int) (Result, error) {
	set := metrics.NewSet()
	elapsed, cpu, err := runSQLJob(ctx, w.SQLJob("blackhole"), parallelism, set)
	if err != nil {
		return Result{}, err
	}
	return sqlResult("sluice SQL", w.Events, set, elapsed, cpu), nil
}

// sqlResult is the Result of a SQL job into a blackhole that read events
// rows, from its metrics in set (see RunSQL).
func sqlResult(name string, events int64, set *metrics.Set, wall, cpu time.Duration) Result {
	return Result{Name: name, Events: events, Elapsed: wall, CPU: cpu, CountsOnly: true,
		Check: Checksum{
			Results: sumCounters(set, "sluice_operator_rows_in_total", "sink "),
			Count: sumCounters(set, "sluice_operator_rows_in_total", "window ") -
				sumCounters(set, "sluice_operator_late_rows_dropped_total", "window "),
		}}
}

// runSQLJob compiles and runs a job file, returning the wall and CPU time
// both took.
func runSQLJob(ctx context.Context, src string, parallelism int, set *metrics.Set) (wall, cpu time.Duration, err error) {
	m := startMeter()
	plan, err := sql.Compile(src, sql.Options{File: sqlJobFile, Parallelism: parallelism})
	if err != nil {
		return 0, 0, err
	}
	if plan.Graph == nil {
		return 0, 0, fmt.Errorf("bench: the SQL job has no INSERT")
	}
	if err := rt.Run(ctx, plan.Graph, rt.Options{Parallelism: parallelism, Metrics: set}); err != nil {
		return 0, 0, err
	}
	wall, cpu = m.stop()
	return wall, cpu, nil
}

// sumCounters adds up the counters called metric over the subtasks of the
// operators whose names start with op.
func sumCounters(set *metrics.Set, metric, op string) int64 {
	var n uint64
	for _, name := range set.ListMetricNames() {
		if strings.HasPrefix(name, metric+"{") && strings.Contains(name, `operator="`+op) {
			n += set.GetOrCreateCounter(name).Get()
		}
	}
	return int64(n)
}
