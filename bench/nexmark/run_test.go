package nexmark

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	gen "github.com/sluicehq/sluice/connectors/nexmark"
)

// q2Rewrite is Nexmark's q2 over the nexmark table's ROW fields instead
// of the bid view, which the planner compiles today.
const q2Rewrite = `CREATE TABLE nexmark_q2 (auction BIGINT, price BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO nexmark_q2 SELECT bid.auction, bid.price FROM nexmark WHERE event_type = 2 AND MOD(bid.auction, 123) = 0;
`

// TestRunSQLCountsTheEventsItGenerated: a run reads exactly the events
// asked for, counted from the source's metrics, at parallelism 1 and 3,
// counts the rows its sink received, and measures time and CPU.
func TestRunSQLCountsTheEventsItGenerated(t *testing.T) {
	if q2Rows(12345) == 0 {
		t.Fatal("q2 has no rows in 12,345 events: pick more")
	}
	for _, par := range []int{1, 3} {
		for _, events := range []int64{1, 12345} {
			r, err := RunSQL(context.Background(), "q2.sql", q2Rewrite, events, par)
			if err != nil {
				t.Fatal(err)
			}
			if r.Query != "q2.sql" || r.Events != events || r.Elapsed <= 0 || r.CPU <= 0 {
				t.Fatalf("parallelism %d, %d events: %+v", par, events, r)
			}
			if r.Rows != q2Rows(events) {
				t.Fatalf("parallelism %d, %d events: %d rows into the sink, want %d", par, events, r.Rows, q2Rows(events))
			}
			if got, want := r.EventsPerCPUSec(), float64(events)/r.CPU.Seconds(); got != want {
				t.Fatalf("events per CPU-second %v, want %v", got, want)
			}
		}
	}
}

// TestRunSQLReportsTheStateJoinsTopNAndDedupKeep: a run reports the state
// its operators held when it ended, at parallelism 1 and 2: q18's
// deduplication one key per bidder and auction, q19's Top-N one per
// auction (counted from the generator), q3's regular join and q16's
// GROUP BY some, each with its bytes; q0 none.
func TestRunSQLReportsTheStateJoinsTopNAndDedupKeep(t *testing.T) {
	const events = 20000
	type pair struct{ bidder, auction int64 }
	pairs, auctions := map[pair]bool{}, map[int64]bool{}
	g := gen.NewGenerator(gen.DefaultConfig())
	for i := range int64(events) {
		if e := g.Event(i); e.Type == gen.BidEvent {
			pairs[pair{e.Bid.Bidder, e.Bid.Auction}] = true
			auctions[e.Bid.Auction] = true
		}
	}
	for _, c := range []struct {
		query, operator string
		keys            int64 // 0: some
	}{
		{"q18", "deduplicate", int64(len(pairs))},
		{"q19", "Top-N", int64(len(auctions))},
		{"q3", "regular join", 0},
		{"q16", "group aggregate", 0},
	} {
		for _, par := range []int{1, 2} {
			r, err := RunQuery(context.Background(), c.query, events, par)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.State) != 1 || !strings.HasPrefix(r.State[0].Operator, c.operator) {
				t.Fatalf("%s at parallelism %d: state %+v, want that of one %s", c.query, par, r.State, c.operator)
			}
			s := r.State[0]
			if c.keys > 0 && s.Keys != c.keys || s.Keys <= 0 || s.Bytes <= 0 {
				t.Errorf("%s at parallelism %d: %d keys and %d bytes, want %d keys and their bytes", c.query, par, s.Keys, s.Bytes, c.keys)
			}
			if bytes, keys := r.StateBytes(); r.StateKeys() != s.Keys || keys != s.Keys || bytes != s.Bytes ||
				r.StateBytesPerKey() != float64(s.Bytes)/float64(s.Keys) {
				t.Errorf("%s at parallelism %d: totals %d keys, %d bytes of %d keys, %v per key; want the operator's", c.query, par,
					r.StateKeys(), bytes, keys, r.StateBytesPerKey())
			}
		}
	}
	r, err := RunQuery(context.Background(), "q0", events, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.State) != 0 || r.StateKeys() != 0 || r.StateBytesPerKey() != 0 {
		t.Errorf("q0 keeps no state, but reports %+v", r.State)
	}
}

// q2Rows is the number of rows of q2Rewrite over the first n events,
// from the generator itself.
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

// TestGeneratorRunsEveryColumnIntoABlackhole: the baseline reads every
// column of the nexmark table, and counts its events.
func TestGeneratorRunsEveryColumnIntoABlackhole(t *testing.T) {
	src, err := job(Generator, "", 5000, t.TempDir(), true)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"'events.num' = '5000'", "CREATE TABLE nexmark_generator (event_type int,\n    person ROW<",
		"    `dateTime` TIMESTAMP(3)) WITH ('connector' = 'blackhole');", "INSERT INTO nexmark_generator SELECT * FROM nexmark;"} {
		if !strings.Contains(src, want) {
			t.Fatalf("the generator's job has no %q:\n%s", want, src)
		}
	}
	if strings.Contains(src, "CREATE VIEW") {
		t.Fatalf("the generator's job has the views:\n%s", src)
	}
	r, err := RunQuery(context.Background(), Generator, 5000, 2)
	if err != nil {
		t.Fatal(err)
	}
	if r.Events != 5000 || r.CPU <= 0 || r.Rows != 5000 {
		t.Fatalf("%+v", r)
	}
}

// TestUnsupportedQueryErrorIsPlacedInTheQueryFile: a query the planner
// rejects is an *UnsupportedError whose position is in the query's own
// lines (not the job's, which start with ddl.sql).
func TestUnsupportedQueryErrorIsPlacedInTheQueryFile(t *testing.T) {
	query := "CREATE TABLE out (x BIGINT) WITH ('connector' = 'blackhole');\n" +
		"INSERT INTO out SELECT no_such_column FROM nexmark;\n"
	_, err := RunSQL(context.Background(), "bad", query, 100, 1)
	var u *UnsupportedError
	if !errors.As(err, &u) {
		t.Fatalf("%v (%T), want an *UnsupportedError", err, err)
	}
	if !strings.HasPrefix(u.Reason(), "bad.sql:2:") || !strings.Contains(u.Reason(), "no_such_column") || strings.Contains(u.Reason(), "\n") {
		t.Fatalf("reason %q, want the first line, at bad.sql:2 and naming no_such_column", u.Reason())
	}
	if !strings.HasPrefix(err.Error(), "bad: not supported: ") {
		t.Fatalf("error %q", err)
	}
}

// TestNexmarkQueryWithViewsIsRunOrNamesWhatIsMissing: q0 reads the bid
// view: it runs, or (while the planner has no CREATE VIEW) its error
// names the VIEW at its place in ddl.sql.
func TestNexmarkQueryWithViewsIsRunOrNamesWhatIsMissing(t *testing.T) {
	r, err := RunQuery(context.Background(), "q0", 2000, 2)
	var u *UnsupportedError
	switch {
	case errors.As(err, &u):
		if !strings.HasPrefix(u.Reason(), "ddl.sql:") || !strings.Contains(u.Reason(), "VIEW") {
			t.Fatalf("q0 not supported for %q, want the VIEW in ddl.sql", u.Reason())
		}
	case err != nil:
		t.Fatal(err)
	case r.Events != 2000:
		t.Fatalf("q0 read %d events, want 2000", r.Events)
	}
	if _, err := RunQuery(context.Background(), "q23", 10, 1); err == nil || !strings.Contains(err.Error(), "no Nexmark query") {
		t.Fatalf("q23: %v", err)
	}
}

// TestRunStopsWhenCancelled: a run ends soon after its context, with
// the context's error.
func TestRunStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := RunSQL(ctx, "q2.sql", q2Rewrite, 1_000_000_000, 2)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%v, want the context's error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("stopped after %v", d)
	}
}

// TestJobKeepsTheLinesOfDDLWithoutViews: without the views the job has
// as many lines, so positions in the query stay where they are.
func TestJobKeepsTheLinesOfDDLWithoutViews(t *testing.T) {
	with, err := job("x", q2Rewrite, 7, t.TempDir(), true)
	if err != nil {
		t.Fatal(err)
	}
	without, err := job("x", q2Rewrite, 7, t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(with, "\n") != strings.Count(without, "\n") || strings.Contains(without, "CREATE VIEW") || !strings.Contains(with, "CREATE VIEW bid") {
		t.Fatalf("with views:\n%s\nwithout:\n%s", with, without)
	}
	if _, err := job("x", q2Rewrite, 0, t.TempDir(), true); err == nil {
		t.Fatal("0 events: no error")
	}
}

// TestJobPutsQ13SideInputAndQ10OutputInTheRunsFolder.
func TestJobPutsQ13SideInputAndQ10OutputInTheRunsFolder(t *testing.T) {
	dir := t.TempDir()
	for name, want := range map[string]string{"q10": "file://" + dir + "/q10", "q13": dir + "/side_input.txt"} {
		q, err := Query(name)
		if err != nil {
			t.Fatal(err)
		}
		src, err := job(name, q, 10, dir, true)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(src, want) || strings.Contains(src, "/tmp/sluice-nexmark/") || strings.Contains(src, "'bench/nexmark/data") {
			t.Fatalf("%s's job has no %q:\n%s", name, want, src)
		}
	}
}

// TestMedianTakesTheMiddleTimeAndCPU.
func TestMedianTakesTheMiddleTimeAndCPU(t *testing.T) {
	runs := []Result{
		{Query: "q", Events: 10, Elapsed: 3 * time.Second, CPU: 1 * time.Second},
		{Query: "q", Events: 10, Elapsed: 1 * time.Second, CPU: 5 * time.Second},
		{Query: "q", Events: 10, Elapsed: 2 * time.Second, CPU: 4 * time.Second},
	}
	m := Median(runs)
	if m.Elapsed != 2*time.Second || m.CPU != 4*time.Second || m.Events != 10 || m.Query != "q" {
		t.Fatalf("%+v", m)
	}
	if m.EventsPerSec() != 5 || m.EventsPerCPUSec() != 2.5 {
		t.Fatalf("%v events/s, %v per CPU-second", m.EventsPerSec(), m.EventsPerCPUSec())
	}
	if !reflect.DeepEqual(Median(nil), Result{}) || (Result{Events: 5}).EventsPerSec() != 0 {
		t.Fatal("no runs, no time: not zero")
	}
}

// BenchmarkGeneratorIntoBlackhole measures the ceiling: every column of
// every event generated into a blackhole, at parallelism 2.
func BenchmarkGeneratorIntoBlackhole(b *testing.B) {
	benchmarkRun(b, Generator, "")
}

// BenchmarkQ2Rewrite measures q2 over the ROW fields, at parallelism 2.
func BenchmarkQ2Rewrite(b *testing.B) {
	benchmarkRun(b, "q2.sql", q2Rewrite)
}

func benchmarkRun(b *testing.B, name, query string) {
	const events = 1_000_000
	var wall, cpu time.Duration
	for b.Loop() {
		r, err := RunSQL(context.Background(), name, query, events, 2)
		if err != nil {
			b.Fatal(err)
		}
		wall, cpu = wall+r.Elapsed, cpu+r.CPU
	}
	b.ReportMetric(float64(events)*float64(b.N)/wall.Seconds(), "rows/s")
	b.ReportMetric(float64(events)*float64(b.N)/cpu.Seconds(), "rows/cpu-s")
}

// TestSelfJoinCountsEachEventOnce: a query that reads the nexmark table
// twice is planned with one source, whose events both sides of the join
// get, and counts each generated event once.
func TestSelfJoinCountsEachEventOnce(t *testing.T) {
	const query = `CREATE TABLE out (a BIGINT, b BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO out SELECT B.bid.auction, A.auction.id FROM nexmark AS A JOIN nexmark AS B
  ON A.auction.id = B.bid.auction AND B.dateTime BETWEEN A.dateTime AND A.dateTime + INTERVAL '1' SECOND
  WHERE A.event_type = 1 AND B.event_type = 2;
`
	plan, err := compile("self", query, 10000, t.TempDir(), 2, metrics.NewSet())
	if err != nil {
		t.Fatal(err)
	}
	sources := 0
	for _, n := range plan.Graph.Nodes {
		if n.NewSource != nil {
			sources++
		}
	}
	if sources != 1 {
		t.Fatalf("%d source nodes, want 1: the table is read once", sources)
	}
	for _, par := range []int{1, 2} {
		r, err := RunSQL(context.Background(), "self", query, 10000, par)
		if err != nil {
			t.Fatal(err)
		}
		if r.Events != 10000 {
			t.Fatalf("parallelism %d: %d events, want 10000", par, r.Events)
		}
	}
}

// BenchmarkQ3 measures q3 (a regular join of auctions and people) as
// written, at parallelism 2.
func BenchmarkQ3(b *testing.B) { benchmarkQuery(b, "q3") }

// BenchmarkQ4 measures q4 (a regular join of auctions and bids with a
// residual time bound, MAX per auction, AVG of the maxima per category)
// as written, at parallelism 2.
func BenchmarkQ4(b *testing.B) { benchmarkQuery(b, "q4") }

// BenchmarkQ5 measures q5 (two hopping-window aggregations of bid and a
// join) as written, at parallelism 2.
func BenchmarkQ5(b *testing.B) { benchmarkQuery(b, "q5") }

// BenchmarkQ16 measures q16 (COUNT DISTINCT with FILTER per channel and
// day) as written, at parallelism 2.
func BenchmarkQ16(b *testing.B) { benchmarkQuery(b, "q16") }

// BenchmarkQ21 measures q21 (REGEXP_EXTRACT and CASE per bid) as
// written, at parallelism 2.
func BenchmarkQ21(b *testing.B) { benchmarkQuery(b, "q21") }

func benchmarkQuery(b *testing.B, name string) {
	query, err := Query(name)
	if err != nil {
		b.Fatal(err)
	}
	benchmarkRun(b, name+".sql", query)
}
