package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/sluicehq/sluice/bench/nexmark"
	"github.com/sluicehq/sluice/internal/suggest"
)

// defaultNexmarkEvents is --events of `sluice bench nexmark`: about 8–10 s
// of wall time for a query as light as q0 on a 2-core machine (and the
// events Nexmark's GUIDE_V2 measures).
const defaultNexmarkEvents = 50_000_000

// nexmarkQuery is one query of a `sluice bench nexmark` run: one of
// Nexmark's (q0 … q22) or a file.
type nexmarkQuery struct {
	name, sql string
	flink     nexmark.FlinkFigure // zero for a file or q6
}

// nexmarkRow is a printed row: the median of a query's runs, or why it
// did not run.
type nexmarkRow struct {
	q           nexmarkQuery
	res         nexmark.Result
	unsupported string // the planner's error, first line
	failed      error  // a run that failed
}

// runBenchNexmark runs `sluice bench nexmark`.
func runBenchNexmark(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench nexmark", flag.ContinueOnError)
	queries := fs.String("queries", "all", "the queries, comma-separated: q0 … q22, all, or FILE.sql: a sink table and INSERT over the\n"+
		"nexmark table and its views (ddl.sql), compared with Flink's qN when named qN.sql")
	events := fs.Int64("events", defaultNexmarkEvents, "events generated for each run")
	par := fs.Int("parallelism", 0, "Sluice subtasks per operator (0: number of CPUs)")
	runs := fs.Int("runs", 3, "runs of each query, interleaved; the medians are reported")
	asJSON := fs.Bool("json", false, "print one JSON object per query (the generator first) instead of the table")
	markdown := fs.Bool("markdown", false, "print the README's Markdown table (the queries that ran) instead of the table")
	if _, err := parseFlags(fs, command{Use: "bench nexmark [flags]",
		About: "Runs Nexmark's queries as written (bench/nexmark/queries) over the nexmark connector's events, each\n" +
			"compiled with the SQL planner and run in this process into its blackhole sink, after a run of the\n" +
			"generator alone (the ceiling). For each query: the events read and rows out, events/s, CPU-seconds\n" +
			"of the process, events per CPU-second (per core), Flink's published per-core figure with\n" +
			"ours/Flink (Flink's hardware is named below the table), and the state its operators held when the\n" +
			"run ended (keys, bytes per key). A query the planner cannot compile yet\n" +
			"gets a \"not supported\" row; the others still run (Ctrl-C stops).",
		MaxArgs: 0}, args); err != nil {
		return err
	}
	if err := checkBounds(fs, atLeast("events", 1), parallelismBound(), atLeast("runs", 1)); err != nil {
		return err
	}
	if *asJSON && *markdown {
		return usagef("--json and --markdown: pick one")
	}
	if *par == 0 {
		*par = defaultParallelism()
	}
	qs, err := nexmarkQueries(*queries)
	if err != nil {
		return err
	}
	rows, err := benchNexmark(ctx, qs, *events, *par, *runs)
	if err != nil {
		return interrupted(err)
	}
	switch {
	case *asJSON:
		err = writeNexmarkJSON(os.Stdout, rows)
	case *markdown:
		err = writeNexmarkMarkdown(os.Stdout, rows, *events, *par, *runs)
	default:
		err = writeNexmarkTable(os.Stdout, rows, *events, *par, *runs)
	}
	if err != nil {
		return err
	}
	ran := 0
	var failed []string
	for _, r := range rows[1:] {
		switch {
		case r.failed != nil:
			failed = append(failed, r.q.name)
		case r.unsupported == "":
			ran++
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("bench nexmark: %s failed", strings.Join(failed, ", "))
	}
	if ran == 0 {
		return errors.New("bench nexmark: no query ran (see the rows above)")
	}
	return nil
}

// nexmarkQueries parses --queries.
func nexmarkQueries(list string) ([]nexmarkQuery, error) {
	figures, err := nexmark.FlinkFigures()
	if err != nil {
		return nil, err
	}
	flink := map[string]nexmark.FlinkFigure{}
	for _, f := range figures {
		flink[f.Query] = f
	}
	names := nexmark.Queries()
	var out []nexmarkQuery
	seen := map[string]bool{}
	add := func(q nexmarkQuery) {
		if !seen[q.name] {
			seen[q.name] = true
			out = append(out, q)
		}
	}
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		switch {
		case item == "":
			return nil, usagef("--queries %q: an empty name; want q0 … q22, all or FILE.sql, comma-separated", list)
		case strings.EqualFold(item, "all"):
			for _, n := range names {
				text, err := nexmark.Query(n)
				if err != nil {
					return nil, err
				}
				add(nexmarkQuery{name: n, sql: text, flink: flink[n]})
			}
		case strings.HasSuffix(item, ".sql"):
			text, err := os.ReadFile(item)
			if err != nil {
				return nil, usagef("--queries: %v", err)
			}
			// A rewrite of query qN in a file qN.sql is compared with Flink's qN.
			base := filepath.Base(item)
			add(nexmarkQuery{name: base, sql: string(text), flink: flink[strings.ToLower(strings.TrimSuffix(base, ".sql"))]})
		default:
			n := strings.ToLower(item)
			text, err := nexmark.Query(n)
			if err != nil {
				return nil, usagef("--queries: no Nexmark query %q%s; want q0 … q22, all or FILE.sql", item, suggest.Hint(item, names))
			}
			add(nexmarkQuery{name: n, sql: text, flink: flink[n]})
		}
	}
	return out, nil
}

// benchNexmark runs the generator and then each query, runs times,
// interleaved (generator q0 q1 … generator q0 q1 …) so that machine noise
// hits all alike. A query the planner cannot compile is tried once. The
// first row is the generator's.
func benchNexmark(ctx context.Context, qs []nexmarkQuery, events int64, par, runs int) ([]nexmarkRow, error) {
	all := append([]nexmarkQuery{{name: nexmark.Generator}}, qs...)
	results := make([][]nexmark.Result, len(all))
	rows := make([]nexmarkRow, len(all))
	for i := range rows {
		rows[i].q = all[i]
	}
	for run := 1; run <= runs; run++ {
		for i, q := range all {
			r := &rows[i]
			if r.unsupported != "" || r.failed != nil {
				continue
			}
			progress("nexmark run %d of %d: %s (%d events, parallelism %d)", run, runs, q.name, events, par)
			var res nexmark.Result
			var err error
			if q.name == nexmark.Generator {
				res, err = nexmark.RunQuery(ctx, q.name, events, par)
			} else {
				res, err = nexmark.RunSQL(ctx, q.name, q.sql, events, par)
			}
			var unsup *nexmark.UnsupportedError
			switch {
			case ctx.Err() != nil:
				return nil, ctx.Err()
			case errors.As(err, &unsup):
				r.unsupported = unsup.Reason()
			case err != nil:
				r.failed = err
				progress("%v", err)
			default:
				results[i] = append(results[i], res)
			}
		}
	}
	for i := range rows {
		rows[i].res = nexmark.Median(results[i])
	}
	if rows[0].unsupported != "" || rows[0].failed != nil {
		return nil, fmt.Errorf("bench nexmark: the generator's run: %s%v", rows[0].unsupported, rows[0].failed)
	}
	return rows, nil
}

// ratio is ours/flink, 0 without a Flink figure.
func ratio(ours, flink float64) float64 {
	if flink <= 0 {
		return 0
	}
	return ours / flink
}

// writeNexmarkTable prints the rows as a table, with Flink's hardware in
// a footer.
func writeNexmarkTable(w io.Writer, rows []nexmarkRow, events int64, par, runs int) error {
	fmt.Fprintf(w, "Nexmark: %d events per run, parallelism %d, GOMAXPROCS %d, median of %d interleaved runs\n\n",
		events, par, runtime.GOMAXPROCS(0), runs)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "query\tevents\trows out\ttime\tevents/s\tCPU-s\tevents/s/core\tFlink v1/core\tours/v1\tFlink v2/core\tours/v2\tstate keys\tB/key")
	var others []nexmarkRow // not run: listed after the table
	for _, r := range rows {
		if r.unsupported != "" || r.failed != nil {
			others = append(others, r)
			continue
		}
		res, f := r.res, r.q.flink
		keys := "-"
		if n := res.StateKeys(); n > 0 {
			keys = strconv.FormatInt(n, 10)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.3fs\t%.0f\t%.3f\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\n", r.q.name, res.Events, res.Rows, res.Elapsed.Seconds(),
			res.EventsPerSec(), res.CPU.Seconds(), res.EventsPerCPUSec(),
			figure(f.V1PerCore), times(ratio(res.EventsPerCPUSec(), f.V1PerCore)),
			figure(f.V2PerCore), times(ratio(res.EventsPerCPUSec(), f.V2PerCore)), keys, figure(res.StateBytesPerKey()))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(others) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, r := range others {
			if r.unsupported != "" {
				fmt.Fprintf(tw, "%s\tnot supported: %s\n", r.q.name, r.unsupported)
			} else {
				fmt.Fprintf(tw, "%s\tfailed: %s\n", r.q.name, firstLine(r.failed.Error()))
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintln(w, "\nevents/s/core: events per CPU-second of this process (user+system) during the run.")
	fmt.Fprintln(w, stateNote)
	for _, line := range strings.Split(strings.TrimSpace(nexmark.FlinkHardware()), "\n") {
		fmt.Fprintln(w, "Flink: "+line)
	}
	return nil
}

func figure(v float64) string {
	if v <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", v)
}

func times(v float64) string {
	if v <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f×", v)
}

func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}

// nexmarkJSON is a row of --json. Figures absent (no Flink figure, a
// query that did not run) are left out.
type nexmarkJSON struct {
	Query           string  `json:"query"`
	Events          int64   `json:"events,omitempty"`
	Rows            *int64  `json:"rows_out,omitempty"`
	Seconds         float64 `json:"seconds,omitempty"`
	EventsPerSec    float64 `json:"events_per_s,omitempty"`
	CPUSeconds      float64 `json:"cpu_seconds,omitempty"`
	EventsPerCPUSec float64 `json:"events_per_cpu_s,omitempty"`
	FlinkV1PerCore  float64 `json:"flink_v1_events_per_s_per_core,omitempty"`
	FlinkV2PerCore  float64 `json:"flink_v2_events_per_s_per_core,omitempty"`
	RatioV1         float64 `json:"ours_per_flink_v1,omitempty"`
	RatioV2         float64 `json:"ours_per_flink_v2,omitempty"`
	// The state the operators held when the run ended (see stateNote).
	StateKeys        int64           `json:"state_keys,omitempty"`
	StateBytes       int64           `json:"state_bytes,omitempty"`
	StateBytesPerKey float64         `json:"state_bytes_per_key,omitempty"`
	State            []operatorState `json:"state,omitempty"`
	NotSupported     string          `json:"not_supported,omitempty"`
	Failed           string          `json:"failed,omitempty"`
}

// operatorState is the state of one operator in --json: its keys, and
// its estimate of their bytes (absent when it makes none).
type operatorState struct {
	Operator string `json:"operator"`
	Keys     int64  `json:"keys"`
	Bytes    int64  `json:"bytes,omitempty"`
}

// stateNote says what the state figures are, under the table.
const stateNote = "state keys: the keys (groups, join keys, partitions) the operators held when the run ended — what joins,\n" +
	"Top-N, deduplication and GROUP BY keep; windows have released theirs by then. B/key: the bytes of state per key,\n" +
	"as the operators that estimate theirs (joins, Top-N, deduplication, GROUP BY) do."

func writeNexmarkJSON(w io.Writer, rows []nexmarkRow) error {
	enc := json.NewEncoder(w)
	for _, r := range rows {
		j := nexmarkJSON{Query: r.q.name, NotSupported: r.unsupported}
		switch {
		case r.failed != nil:
			j.Failed = firstLine(r.failed.Error())
		case r.unsupported == "":
			res, f := r.res, r.q.flink
			j.Events, j.Rows, j.Seconds, j.EventsPerSec = res.Events, &res.Rows, res.Elapsed.Seconds(), res.EventsPerSec()
			j.CPUSeconds, j.EventsPerCPUSec = res.CPU.Seconds(), res.EventsPerCPUSec()
			j.FlinkV1PerCore, j.FlinkV2PerCore = f.V1PerCore, f.V2PerCore
			j.RatioV1, j.RatioV2 = ratio(j.EventsPerCPUSec, f.V1PerCore), ratio(j.EventsPerCPUSec, f.V2PerCore)
			j.StateKeys, j.StateBytesPerKey = res.StateKeys(), res.StateBytesPerKey()
			j.StateBytes, _ = res.StateBytes()
			for _, o := range res.State {
				j.State = append(j.State, operatorState{Operator: o.Operator, Keys: o.Keys, Bytes: o.Bytes})
			}
		}
		if err := enc.Encode(j); err != nil {
			return err
		}
	}
	return nil
}

// nexmarkMarkdownHeader is the header of --markdown's table, which the
// README's Nexmark table is (a test keeps them alike).
const nexmarkMarkdownHeader = "| query | events/s | events/s per core | × Flink v1 per core | × Flink v2 per core |"

// writeNexmarkMarkdown prints the rows that ran as the README's table,
// then the queries that did not.
func writeNexmarkMarkdown(w io.Writer, rows []nexmarkRow, events int64, par, runs int) error {
	fmt.Fprintf(w, "%s\n| --- | --- | --- | --- | --- |\n", nexmarkMarkdownHeader)
	var not []string
	for _, r := range rows {
		if r.unsupported != "" || r.failed != nil {
			not = append(not, r.q.name)
			continue
		}
		name := r.q.name
		if name == nexmark.Generator {
			name = "generator alone (the ceiling)"
		}
		res, f := r.res, r.q.flink
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", name, millions(res.EventsPerSec()), millions(res.EventsPerCPUSec()),
			times(ratio(res.EventsPerCPUSec(), f.V1PerCore)), times(ratio(res.EventsPerCPUSec(), f.V2PerCore)))
	}
	fmt.Fprintf(w, "\n%d events per run, parallelism %d, GOMAXPROCS %d, median of %d runs.", events, par, runtime.GOMAXPROCS(0), runs)
	if len(not) > 0 {
		fmt.Fprintf(w, " Not supported yet: %s.", strings.Join(not, ", "))
	}
	fmt.Fprintln(w)
	return writeNexmarkStateMarkdown(w, rows)
}

// nexmarkStateHeader is the header of --markdown's second table: the state
// each query's operators held when its run ended.
const nexmarkStateHeader = "| query | operator | state keys | state bytes | bytes per key |"

// writeNexmarkStateMarkdown prints, after the README's table, the state
// of the queries that held some when their runs ended, per operator
// (nothing when none did).
func writeNexmarkStateMarkdown(w io.Writer, rows []nexmarkRow) error {
	var lines []string
	for _, r := range rows {
		if r.unsupported != "" || r.failed != nil {
			continue
		}
		for _, o := range r.res.State {
			bytes, perKey := "-", "-"
			if o.Bytes > 0 {
				bytes = byteSize(o.Bytes)
				if o.Keys > 0 {
					perKey = fmt.Sprintf("%.0f", float64(o.Bytes)/float64(o.Keys))
				}
			}
			lines = append(lines, fmt.Sprintf("| %s | %s | %d | %s | %s |", r.q.name, o.Operator, o.Keys, bytes, perKey))
		}
	}
	if len(lines) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\nState when each run ended, per operator (bytes as the operator estimates them; - where it makes no estimate):\n\n")
	fmt.Fprintf(w, "%s\n| --- | --- | --- | --- | --- |\n", nexmarkStateHeader)
	_, err := fmt.Fprintln(w, strings.Join(lines, "\n"))
	return err
}

// byteSize writes n bytes in B, KiB or MiB.
func byteSize(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

func millions(v float64) string { return fmt.Sprintf("%.2f M", v/1e6) }
