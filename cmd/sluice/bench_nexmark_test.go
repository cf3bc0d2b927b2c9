package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/bench/nexmark"
	gen "github.com/sluicehq/sluice/connectors/nexmark"
)

// q2Rewrite is Nexmark's q2 over the nexmark table's ROW fields instead of
// the bid view: a query the planner compiles today. In a file named
// q2.sql, `sluice bench nexmark` compares it with Flink's q2.
const q2Rewrite = `CREATE TABLE nexmark_q2 (auction BIGINT, price BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO nexmark_q2 SELECT bid.auction, bid.price FROM nexmark WHERE event_type = 2 AND MOD(bid.auction, 123) = 0;
`

func q2File(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "q2.sql")
	if err := os.WriteFile(path, []byte(q2Rewrite), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func flinkFigure(t *testing.T, query string) nexmark.FlinkFigure {
	t.Helper()
	figures, err := nexmark.FlinkFigures()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range figures {
		if f.Query == query {
			return f
		}
	}
	t.Fatalf("flink.tsv has no %s", query)
	return nexmark.FlinkFigure{}
}

var nexmarkHeader = []string{"query", "events", "rows", "out", "time", "events/s", "CPU-s", "events/s/core", "Flink", "v1/core", "ours/v1", "Flink", "v2/core", "ours/v2", "state", "keys", "B/key"}

// q2Rows is the number of rows of q2Rewrite over the first n events.
func q2Rows(n int64) int64 {
	g := gen.NewGenerator(gen.DefaultConfig())
	var rows int64
	for i := range n {
		if e := g.Event(i); e.Type == gen.BidEvent && e.Bid.Auction%123 == 0 {
			rows++
		}
	}
	return rows
}

// TestBenchNexmarkPrintsATableAgainstFlink runs q0, q1 and a q2 rewrite
// on few events: the generator's row comes first, every row that ran
// counted exactly --events, used CPU, and its ratios are its events per
// CPU-second over Flink's figures of flink.tsv; q0 and q1 run, or (while
// the planner has no CREATE VIEW) their rows say "not supported" and name
// the VIEW; none keeps state (its columns say -); Flink's hardware is in
// the footer.
func TestBenchNexmarkPrintsATableAgainstFlink(t *testing.T) {
	out, errOut, code := sluiceExit(t, "bench", "nexmark", "--queries", "q0,q1,"+q2File(t), "--events", "30000", "--runs", "2", "--parallelism", "2")
	if code != 0 {
		t.Fatalf("exit %d:\n%s\n%s", code, out, errOut)
	}
	lines := strings.Split(out, "\n")
	if !strings.HasPrefix(lines[0], "Nexmark: 30000 events per run, parallelism 2,") || !strings.Contains(lines[0], "median of 2 interleaved runs") {
		t.Fatalf("first line %q", lines[0])
	}
	if got := strings.Fields(lines[2]); strings.Join(got, " ") != strings.Join(nexmarkHeader, " ") {
		t.Fatalf("header %q", lines[2])
	}
	rows := map[string][]string{}
	var order []string
	for _, l := range lines[3:] {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		if len(f) > 1 && (f[1] == "not" || len(f) == 13) {
			rows[f[0]] = f
			order = append(order, f[0])
		}
	}
	if len(order) == 0 || order[0] != "generator" {
		t.Fatalf("the generator is not the first row:\n%s", out)
	}
	check := func(name, flinkQuery string) {
		f := rows[name]
		if len(f) != 13 {
			t.Fatalf("%s: row %q", name, f)
		}
		if strings.Join(f[11:], " ") != "- -" {
			t.Fatalf("%s keeps no state: state columns %q", name, f[11:])
		}
		num := func(i int) float64 {
			v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSuffix(f[i], "s"), "×"), 64)
			if err != nil {
				t.Fatalf("%s: column %d %q: %v", name, i, f[i], err)
			}
			return v
		}
		if f[1] != "30000" {
			t.Fatalf("%s counted %s events, want 30000", name, f[1])
		}
		if rows, want := num(2), map[string]float64{"generator": 30000, "q2.sql": float64(q2Rows(30000))}[name]; want > 0 && rows != want {
			t.Fatalf("%s: %v rows out, want %v", name, rows, want)
		}
		secs, perSec, cpu, perCore := num(3), num(4), num(5), num(6)
		if secs <= 0 || cpu <= 0 || math.Abs(perSec*secs-30000) > 30000*0.01+perSec*0.0005 {
			t.Fatalf("%s: time %v s, %v events/s, CPU %v s", name, secs, perSec, cpu)
		}
		if math.Abs(perCore*cpu-30000) > perCore*0.0005+1 {
			t.Fatalf("%s: %v events/s/core × %v CPU-s is not 30000", name, perCore, cpu)
		}
		if flinkQuery == "" {
			if strings.Join(f[7:11], " ") != "- - - -" {
				t.Fatalf("%s: Flink columns %q, want none", name, f[7:11])
			}
			return
		}
		want := flinkFigure(t, flinkQuery)
		if num(7) != math.Round(want.V1PerCore) || num(9) != math.Round(want.V2PerCore) {
			t.Fatalf("%s: Flink figures %s and %s, want %v and %v", name, f[7], f[9], want.V1PerCore, want.V2PerCore)
		}
		for _, c := range []struct{ col, flink float64 }{{num(8), want.V1PerCore}, {num(10), want.V2PerCore}} {
			if math.Abs(c.col-perCore/c.flink) > 0.0051 {
				t.Fatalf("%s: ratio %v, want %v/%v", name, c.col, perCore, c.flink)
			}
		}
	}
	check("generator", "")
	check("q2.sql", "q2")
	for _, q := range []string{"q0", "q1"} {
		f := rows[q]
		switch {
		case len(f) > 3 && f[1] == "not" && f[2] == "supported:":
			if q == "q0" && !regexp.MustCompile(`^ddl\.sql:\d+:\d+: .*VIEW`).MatchString(strings.Join(f[3:], " ")) {
				t.Fatalf("q0 not supported for %q, want the VIEW at its place in ddl.sql", strings.Join(f[3:], " "))
			}
		case len(f) == 13:
			check(q, q)
		default:
			t.Fatalf("no row for %s:\n%s", q, out)
		}
	}
	// The runs are interleaved: generator q0 q1 q2.sql, then again those
	// that compiled.
	var order2 []string
	for _, q := range []string{"generator", "q0", "q1", "q2.sql"} {
		if f := rows[q]; len(f) == 13 && f[1] != "not" {
			order2 = append(order2, "2:"+q)
		}
	}
	var ran []string
	for _, m := range regexp.MustCompile(`nexmark run (\d) of 2: (\S+) \(30000 events, parallelism 2\)`).FindAllStringSubmatch(errOut, -1) {
		ran = append(ran, m[1]+":"+m[2])
	}
	if want := append([]string{"1:generator", "1:q0", "1:q1", "1:q2.sql"}, order2...); strings.Join(ran, " ") != strings.Join(want, " ") {
		t.Fatalf("runs %v, want %v:\n%s", ran, want, errOut)
	}
	for _, want := range []string{"\nFlink: v1: GUIDE_V1.md", "3 workers of 8 cores", "4 workers of 16 cores", "events/s/core: events per CPU-second"} {
		if !strings.Contains(out, want) {
			t.Fatalf("no %q in:\n%s", want, out)
		}
	}
}

// TestBenchNexmarkJSON: --json prints one object per query, the generator
// first, with the measurements and ratios of the table, and the state of
// the queries that keep some (q19's Top-N).
func TestBenchNexmarkJSON(t *testing.T) {
	out, errOut, code := sluiceExit(t, "bench", "nexmark", "--json", "--queries", q2File(t)+",q0,q19", "--events", "20000", "--runs", "1", "--parallelism", "1")
	if code != 0 {
		t.Fatalf("exit %d:\n%s\n%s", code, out, errOut)
	}
	var rows []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		rows = append(rows, m)
	}
	if len(rows) != 4 || rows[0]["query"] != "generator" || rows[1]["query"] != "q2.sql" || rows[2]["query"] != "q0" || rows[3]["query"] != "q19" {
		t.Fatalf("rows:\n%s", out)
	}
	flink := flinkFigure(t, "q2")
	for _, r := range rows[:2] {
		ev, _ := r["events"].(float64)
		secs, _ := r["seconds"].(float64)
		cpu, _ := r["cpu_seconds"].(float64)
		perSec, _ := r["events_per_s"].(float64)
		perCore, _ := r["events_per_cpu_s"].(float64)
		if rows, _ := r["rows_out"].(float64); (r["query"] == "generator" && rows != 20000) || (r["query"] == "q2.sql" && rows != float64(q2Rows(20000))) {
			t.Fatalf("rows out: %v", r)
		}
		if ev != 20000 || secs <= 0 || cpu <= 0 || math.Abs(perSec-ev/secs) > 1e-6*perSec || math.Abs(perCore-ev/cpu) > 1e-6*perCore {
			t.Fatalf("%v", r)
		}
		if _, ok := r["state"]; ok {
			t.Fatalf("%s keeps no state: %v", r["query"], r)
		}
		if r["query"] == "generator" {
			if _, ok := r["flink_v1_events_per_s_per_core"]; ok {
				t.Fatalf("the generator has a Flink figure: %v", r)
			}
			continue
		}
		if r["flink_v1_events_per_s_per_core"] != flink.V1PerCore || r["flink_v2_events_per_s_per_core"] != flink.V2PerCore {
			t.Fatalf("Flink figures %v, want %+v", r, flink)
		}
		if r1, _ := r["ours_per_flink_v1"].(float64); math.Abs(r1-perCore/flink.V1PerCore) > 1e-9*r1 {
			t.Fatalf("ours/v1 %v, want %v", r1, perCore/flink.V1PerCore)
		}
	}
	if _, ran := rows[2]["events"]; !ran {
		if ns, _ := rows[2]["not_supported"].(string); !strings.Contains(ns, "VIEW") {
			t.Fatalf("q0: %v", rows[2])
		}
	}
	// q19's Top-N keeps its partitions: their keys, bytes and bytes per key,
	// in total and for the operator.
	q19 := rows[3]
	keys, _ := q19["state_keys"].(float64)
	bytes, _ := q19["state_bytes"].(float64)
	perKey, _ := q19["state_bytes_per_key"].(float64)
	ops, _ := q19["state"].([]any)
	if keys <= 0 || bytes <= 0 || math.Abs(perKey-bytes/keys) > 1e-9*perKey || len(ops) != 1 {
		t.Fatalf("q19's state: %v", q19)
	}
	if op, _ := ops[0].(map[string]any); !strings.HasPrefix(op["operator"].(string), "Top-N") || op["keys"] != keys || op["bytes"] != bytes {
		t.Fatalf("q19's state: %v", ops[0])
	}
}

// TestBenchNexmarkFailsWhenNoQueryRuns: the rows are printed, and the
// exit status is 1 when every query was not supported.
func TestBenchNexmarkFailsWhenNoQueryRuns(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.sql")
	os.WriteFile(bad, []byte("CREATE TABLE out (x BIGINT) WITH ('connector' = 'blackhole');\nINSERT INTO out SELECT nope FROM nexmark;\n"), 0o644)
	out, errOut, code := sluiceExit(t, "bench", "nexmark", "--queries", bad, "--events", "1000", "--runs", "1")
	if code != 1 || !regexp.MustCompile(`(?m)^bad\.sql +not supported: bad\.sql:2:\d+: .*nope`).MatchString(out) ||
		!strings.Contains(errOut, "no query ran") {
		t.Fatalf("exit %d:\n%s\n%s", code, out, errOut)
	}
}

// TestBenchNexmarkRejectsBadFlags: exit status 2 and a message naming the
// flag; an unknown query gets "did you mean".
func TestBenchNexmarkRejectsBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--queries", "q0,q99"}, `no Nexmark query "q99" (did you mean "q9"?)`},
		{[]string{"--queries", "q1,,q2"}, "--queries \"q1,,q2\": an empty name"},
		{[]string{"--queries", "/no/such/q5.sql"}, "no such file"},
		{[]string{"--events", "0"}, "--events 0: want 1 or more"},
		{[]string{"--runs", "0"}, "--runs 0: want 1 or more"},
		{[]string{"--parallelism", "-1"}, "--parallelism -1"},
		{[]string{"--querys", "q1"}, "unknown flag --querys (did you mean --queries?)"},
		{[]string{"q1"}, `unexpected argument "q1"`},
	} {
		out, errOut, code := sluiceExit(t, append([]string{"bench", "nexmark"}, c.args...)...)
		if code != 2 || out != "" || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %q", c.args, code, out, errOut, c.want)
		}
	}
}

// TestBenchNexmarkStopsOnSIGINT: Ctrl-C mid-run stops within seconds with
// status 130.
func TestBenchNexmarkStopsOnSIGINT(t *testing.T) {
	cmd, stderr := startUntil(t, "nexmark run 1 of 1: generator",
		"bench", "nexmark", "--queries", q2File(t), "--events", "1000000000", "--runs", "1")
	if code := interruptWithin(t, cmd, stderr, 5e9); code != 130 {
		t.Fatalf("exit status %d, want 130:\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "sluice: bench interrupted") {
		t.Fatalf("stderr does not say it was interrupted:\n%s", stderr.String())
	}
}

// TestBenchNexmarkMarkdownListsWhatRan: --markdown prints the README's
// table: the generator and the queries that ran, with their ratios to
// Flink, then the queries that did not, then the state of the operators
// that held some.
func TestBenchNexmarkMarkdownListsWhatRan(t *testing.T) {
	out, errOut, code := sluiceExit(t, "bench", "nexmark", "--markdown", "--queries", q2File(t)+",q0,q19", "--events", "20000", "--runs", "1")
	if code != 0 {
		t.Fatalf("exit %d:\n%s\n%s", code, out, errOut)
	}
	lines := strings.Split(out, "\n")
	if lines[0] != nexmarkMarkdownHeader || lines[1] != "| --- | --- | --- | --- | --- |" {
		t.Fatalf("header:\n%s", out)
	}
	gen := regexp.MustCompile(`^\| generator alone \(the ceiling\) \| \d+\.\d\d M \| \d+\.\d\d M \| - \| - \|$`)
	q2 := regexp.MustCompile(`^\| q2\.sql \| \d+\.\d\d M \| (\d+\.\d\d) M \| (\d+\.\d\d)× \| (\d+\.\d\d)× \|$`)
	if !gen.MatchString(lines[2]) || !q2.MatchString(lines[3]) {
		t.Fatalf("rows:\n%s", out)
	}
	m := q2.FindStringSubmatch(lines[3])
	perCore, _ := strconv.ParseFloat(m[1], 64)
	v1, _ := strconv.ParseFloat(m[2], 64)
	if f := flinkFigure(t, "q2"); math.Abs(v1-perCore*1e6/f.V1PerCore) > 0.005+0.005e6/f.V1PerCore {
		t.Fatalf("×v1 %v, want %v M / %v", v1, perCore, f.V1PerCore)
	}
	if !strings.Contains(out, "20000 events per run, parallelism ") {
		t.Fatalf("no run line:\n%s", out)
	}
	if lines[4] == "| q0 |" || (!strings.HasPrefix(lines[4], "| q0 | ") && !strings.Contains(out, "Not supported yet: q0.")) {
		t.Fatalf("q0 neither ran nor is listed as not supported:\n%s", out)
	}
	// Then the state: q19's Top-N, the only operator that held some.
	_, state, ok := strings.Cut(out, "\n"+nexmarkStateHeader+"\n| --- | --- | --- | --- | --- |\n")
	if !ok || !regexp.MustCompile(`^\| q19 \| Top-N rows 1\.\.10 \| \d+ \| \d+\.\d (KiB|MiB) \| \d+ \|\n$`).MatchString(state) {
		t.Fatalf("no state table of q19 alone after the run line:\n%s", out)
	}
	if _, _, code := sluiceExit(t, "bench", "nexmark", "--markdown", "--json"); code != 2 {
		t.Fatalf("--markdown --json: exit %d, want 2", code)
	}
}

// TestReadmeNexmarkTableHasTheColumnsOfMarkdown: the README's Nexmark
// table is the output of --markdown: same header, rows of five cells
// naming the generator or a query.
func TestReadmeNexmarkTableHasTheColumnsOfMarkdown(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(b), "<!-- nexmark: ./sluice bench nexmark --markdown -->\n")
	if ok {
		block, _, ok = strings.Cut(block, "<!-- end nexmark -->")
	}
	if !ok {
		t.Fatal("README.md has no <!-- nexmark: ./sluice bench nexmark --markdown --> … <!-- end nexmark --> block")
	}
	lines := strings.Split(strings.TrimSpace(block), "\n")
	if len(lines) < 4 || lines[0] != nexmarkMarkdownHeader || lines[1] != "| --- | --- | --- | --- | --- |" {
		t.Fatalf("the README's Nexmark table does not start with --markdown's header:\n%s", block)
	}
	row := regexp.MustCompile(`^\| (generator alone \(the ceiling\)|q\d+) \| \d+\.\d\d M \| \d+\.\d\d M \| (-|\d+\.\d\d×) \| (-|\d+\.\d\d×) \|$`)
	i := 2
	for ; i < len(lines) && lines[i] != ""; i++ {
		if !row.MatchString(lines[i]) {
			t.Errorf("README's Nexmark table: row %q is not one of --markdown's", lines[i])
		}
	}
	if i+1 >= len(lines) || !regexp.MustCompile(`^\d+ events per run, parallelism \d+, GOMAXPROCS \d+, median of \d+ runs\.`).MatchString(lines[i+1]) {
		t.Errorf("README's Nexmark table has no line saying how it was run after it:\n%s", block)
	}
}
