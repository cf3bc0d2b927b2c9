package nexmark

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/VictoriaMetrics/metrics"

	_ "github.com/sluicehq/sluice/connectors/blackhole" // registers 'blackhole'
	_ "github.com/sluicehq/sluice/connectors/file"      // registers 'file'
	_ "github.com/sluicehq/sluice/connectors/nexmark"   // registers 'nexmark'
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sql"
)

// Generator names the baseline run of RunQuery: the source alone, every
// column of ddl.sql's nexmark table generated into a blackhole, with no
// query. Its events/s is the ceiling of every query's.
const Generator = "generator"

// Result is one run of a query.
type Result struct {
	Query string
	// Events is the number of events the source emitted (counted by the
	// runtime's metrics, not taken from the configuration).
	Events int64
	// Elapsed is the run's wall time, from the start of runtime.Run to its
	// end (compiling the job is not included).
	Elapsed time.Duration
	// CPU is the user+system CPU time of the process during the run
	// (getrusage); runs are sequential, so it is the job's.
	CPU time.Duration
	// Rows is the number of rows the job's sinks received (its nodes
	// without outputs; changelog rows count one each).
	Rows int64
	// State is the state the job's operators held when the run ended —
	// what joins, Top-N and deduplication keep for good; windows and
	// interval joins have released theirs by then — one entry per
	// operator that held keys, in the order of runtime.Stats.
	State []OperatorState
}

// OperatorState is the state of one operator of a job when it ended,
// summed over its subtasks (from runtime.Stats).
type OperatorState struct {
	Operator string
	// Keys are the keys (groups, join keys, partitions) it held.
	Keys int64
	// Bytes is its estimate of the memory they took (runtime.StateSizer),
	// 0 for operators that make none.
	Bytes int64
}

// StateKeys is the number of keys the job's operators held when the run
// ended.
func (r Result) StateKeys() int64 {
	var n int64
	for _, s := range r.State {
		n += s.Keys
	}
	return n
}

// StateBytes returns the bytes of state the job's operators estimated
// when the run ended, and the keys of those operators: operators that
// make no estimate count in neither.
func (r Result) StateBytes() (bytes, keys int64) {
	for _, s := range r.State {
		if s.Bytes > 0 {
			bytes += s.Bytes
			keys += s.Keys
		}
	}
	return bytes, keys
}

// StateBytesPerKey is StateBytes' bytes per key, 0 without an estimate.
func (r Result) StateBytesPerKey() float64 {
	bytes, keys := r.StateBytes()
	if keys == 0 {
		return 0
	}
	return float64(bytes) / float64(keys)
}

// EventsPerSec is the events per second of wall time.
func (r Result) EventsPerSec() float64 { return perSec(r.Events, r.Elapsed) }

// EventsPerCPUSec is the events per CPU-second: throughput per core, the
// measure of Flink's published figures (FlinkFigure).
func (r Result) EventsPerCPUSec() float64 { return perSec(r.Events, r.CPU) }

func perSec(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// UnsupportedError is a query the SQL planner cannot compile (yet): Err is
// the planner's error.
type UnsupportedError struct {
	Query string
	Err   error
}

func (e *UnsupportedError) Error() string { return e.Query + ": not supported: " + e.Err.Error() }
func (e *UnsupportedError) Unwrap() error { return e.Err }

// Reason is the planner's error, first line.
func (e *UnsupportedError) Reason() string {
	first, _, _ := strings.Cut(e.Err.Error(), "\n")
	return first
}

// jobFile names the job in sql.Compile's errors; RunSQL rewrites its
// positions to ones in ddl.sql or in the query.
const jobFile = "nexmark-job.sql"

var jobPos = regexp.MustCompile(regexp.QuoteMeta(jobFile) + `:(\d+):`)

// job returns the SQL job of query name over events generated events:
// ddl.sql with 'events.num' set (without its views unless views), then
// query (the query's sink table and INSERT, as queries/qN.sql); for name
// Generator, the baseline job and query is not used. dir is where q10's
// sink writes its files and q13's side input is put (a folder the caller
// owns; see RunSQL).
func job(name, query string, events int64, dir string, views bool) (string, error) {
	if events < 1 {
		return "", fmt.Errorf("events: %d, want 1 or more", events)
	}
	ddl := DDL()
	const num = "'events.num' = '100000000'"
	if !strings.Contains(ddl, num) {
		return "", fmt.Errorf("ddl.sql: no %s option to set", num)
	}
	ddl = strings.Replace(ddl, num, "'events.num' = '"+strconv.FormatInt(events, 10)+"'", 1)
	if name == Generator {
		return generatorJob(ddl)
	}
	if !views {
		table, _, _ := strings.Cut(ddl, "CREATE VIEW")
		ddl = table + strings.Repeat("\n", strings.Count(ddl, "\n")-strings.Count(table, "\n")) // same lines
	}
	// q10's output folder and q13's side input, in dir.
	query = strings.Replace(query, "file:///tmp/sluice-nexmark/q10/bid/", "file://"+filepath.ToSlash(filepath.Join(dir, "q10")), 1)
	if strings.Contains(query, "bench/nexmark/data/side_input.txt") {
		side := filepath.Join(dir, "side_input.txt")
		if err := os.WriteFile(side, SideInput(), 0o644); err != nil {
			return "", err
		}
		query = strings.Replace(query, "bench/nexmark/data/side_input.txt", side, 1)
	}
	return ddl + "\n" + query + "\n", nil
}

// RunQuery runs query name — q0 … q22 as shipped in queries/, or
// Generator — with RunSQL.
func RunQuery(ctx context.Context, name string, events int64, parallelism int) (Result, error) {
	var query string
	if name != Generator {
		var err error
		if query, err = Query(name); err != nil {
			return Result{}, err
		}
	}
	return RunSQL(ctx, name, query, events, parallelism)
}

// RunSQL compiles query (its sink table and INSERT, over ddl.sql's table
// and views) after ddl.sql over events generated events with sql.Compile
// (without the views when it reads none and only that compiles; see
// compile),
// and runs it on the embedded runtime at the given parallelism into its
// sink (a blackhole for Nexmark's queries but q10, whose files go to a
// temporary folder removed after the run). A query the planner cannot
// compile returns an *UnsupportedError whose positions are in ddl.sql or
// in name.sql (the query). It returns ctx.Err() when ctx ends first.
//
// The Result's events are counted by the job's source metrics; its time
// and CPU are those of runtime.Run, without compiling.
func RunSQL(ctx context.Context, name, query string, events int64, parallelism int) (Result, error) {
	if parallelism < 1 {
		return Result{}, fmt.Errorf("parallelism: %d, want 1 or more", parallelism)
	}
	dir, err := os.MkdirTemp("", "sluice-nexmark-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(dir)
	set := metrics.NewSet()
	plan, err := compile(name, query, events, dir, parallelism, set)
	if err != nil {
		return Result{}, err
	}
	defer plan.Close(context.Background())
	if plan.Graph == nil {
		return Result{}, &UnsupportedError{Query: name, Err: errors.New("the job has no INSERT")}
	}
	goruntime.GC() // the garbage of earlier runs is not this run's work
	cpu0 := cpuTime()
	start := time.Now()
	err = runtime.Run(ctx, plan.Graph, runtime.Options{Parallelism: parallelism, Metrics: set})
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	if err != nil {
		if ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		return Result{}, fmt.Errorf("%s: %w", name, err)
	}
	return Result{Query: name, Events: sourceEvents(plan.Graph, set), Elapsed: elapsed, CPU: cpu, Rows: sinkRows(plan.Graph, set),
		State: jobState(set)}, nil
}

// jobState is the state of the operators of the job whose metrics are in
// set, when it ended: those that held keys or estimated bytes.
func jobState(set *metrics.Set) []OperatorState {
	var out []OperatorState
	for _, o := range runtime.Stats(set) {
		if o.StateKeys > 0 || o.StateBytes > 0 {
			out = append(out, OperatorState{Operator: o.Operator, Keys: o.StateKeys, Bytes: o.StateBytes})
		}
	}
	return out
}

// readsView tells a query that reads one of ddl.sql's views.
var readsView = regexp.MustCompile("(?i)\\b(FROM|JOIN|TABLE)\\s+`?(person|auction|bid)\\b")

// compile compiles the job of RunSQL. Where the planner cannot compile
// ddl.sql's views, a query over the nexmark table alone still compiles:
// when the job with the views fails in ddl.sql and query reads none of
// them, the job without them is compiled, and its error is the one
// returned.
func compile(name, query string, events int64, dir string, parallelism int, set *metrics.Set) (*sql.Plan, error) {
	var msg string
	for _, views := range []bool{true, false} {
		src, err := job(name, query, events, dir, views)
		if err != nil {
			return nil, err
		}
		plan, err := sql.Compile(src, sql.Options{File: jobFile, Parallelism: parallelism, Metrics: set})
		if err == nil {
			return plan, nil
		}
		msg = positions(err.Error(), name)
		if !strings.HasPrefix(msg, "ddl.sql:") || readsView.MatchString(query) {
			break
		}
	}
	return nil, &UnsupportedError{Query: name, Err: errors.New(msg)}
}

// positions rewrites the job's positions in msg (nexmark-job.sql:L:) to
// ddl.sql:L: or name.sql:L: (name: when it does not end in .sql
// already), where the statement is.
func positions(msg, name string) string {
	ddlLines := strings.Count(DDL(), "\n") + 1 // Job adds a line break after ddl.sql
	return jobPos.ReplaceAllStringFunc(msg, func(m string) string {
		line, err := strconv.Atoi(jobPos.FindStringSubmatch(m)[1])
		switch {
		case err != nil:
			return m
		case line <= ddlLines:
			return "ddl.sql:" + strconv.Itoa(line) + ":"
		}
		return strings.TrimSuffix(name, ".sql") + ".sql:" + strconv.Itoa(line-ddlLines) + ":"
	})
}

// sourceEvents is the number of events the job read: the rows out of its
// source nodes, per source (the largest: a planner may read the nexmark
// table through more than one source node, and q13 also reads its side
// input). Source nodes of the same name share their metrics, so their
// rows are divided among them.
func sourceEvents(g *runtime.Graph, set *metrics.Set) int64 {
	nodes := map[string]int{} // source nodes by name
	for _, n := range g.Nodes {
		if n.NewSource != nil {
			nodes[n.Name]++
		}
	}
	rows := map[string]uint64{}
	for _, name := range set.ListMetricNames() {
		rest, ok := strings.CutPrefix(name, "sluice_operator_rows_out_total{")
		if !ok {
			continue
		}
		for op := range nodes {
			if strings.Contains(rest, "operator="+strconv.Quote(op)+",") {
				rows[op] += set.GetOrCreateCounter(name).Get()
			}
		}
	}
	var most int64
	for op, n := range rows {
		most = max(most, int64(n)/int64(nodes[op]))
	}
	return most
}

// sinkRows is the number of rows into the graph's nodes that have no
// outputs: its sinks.
func sinkRows(g *runtime.Graph, set *metrics.Set) int64 {
	from := map[runtime.NodeID]bool{}
	for _, e := range g.Edges {
		from[e.From] = true
	}
	sinks := map[string]bool{}
	for _, n := range g.Nodes {
		if !from[n.ID] && n.NewSource == nil {
			sinks[n.Name] = true
		}
	}
	var rows uint64
	for _, name := range set.ListMetricNames() {
		rest, ok := strings.CutPrefix(name, "sluice_operator_rows_in_total{")
		if !ok {
			continue
		}
		for op := range sinks {
			if strings.Contains(rest, "operator="+strconv.Quote(op)+",") {
				rows += set.GetOrCreateCounter(name).Get()
			}
		}
	}
	return int64(rows)
}

// cpuTime is the user+system CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// generatorJob is the baseline: ddl's nexmark table, and a blackhole with
// the same columns that receives every column of every event (the
// computed dateTime too).
func generatorJob(ddl string) (string, error) {
	table, _, _ := strings.Cut(ddl, "CREATE VIEW")
	_, cols, ok := strings.Cut(table, "CREATE TABLE nexmark (")
	if ok {
		cols, _, ok = strings.Cut(cols, "WATERMARK FOR")
	}
	if !ok {
		return "", errors.New("ddl.sql: no CREATE TABLE nexmark (… WATERMARK FOR …)")
	}
	cols = strings.TrimRight(strings.TrimSpace(cols), ",")
	// A sink's columns are physical: the computed `dateTime` (Nexmark's
	// CASE) is a TIMESTAMP(3) column of the blackhole.
	if phys, _, ok := strings.Cut(cols, "`dateTime` AS"); ok {
		cols = phys + "`dateTime` TIMESTAMP(3)"
	}
	return table + "\nCREATE TABLE nexmark_generator (" + cols + ") WITH ('connector' = 'blackhole');\n" +
		"INSERT INTO nexmark_generator SELECT * FROM nexmark;\n", nil
}

// Median combines runs of one query: the median wall time and the median
// CPU time, each over the runs, with the events and rows of the first run
// and state (every run of a query reads the same events). It returns the zero
// Result for no runs.
func Median(runs []Result) Result {
	if len(runs) == 0 {
		return Result{}
	}
	wall, cpu := make([]time.Duration, len(runs)), make([]time.Duration, len(runs))
	for i, r := range runs {
		wall[i], cpu[i] = r.Elapsed, r.CPU
	}
	slices.Sort(wall)
	slices.Sort(cpu)
	m := runs[0]
	m.Elapsed, m.CPU = wall[len(wall)/2], cpu[len(cpu)/2]
	return m
}
