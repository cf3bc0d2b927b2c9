package sql

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluicehq/sluice/connectors"
	_ "github.com/sluicehq/sluice/connectors/blackhole"
	_ "github.com/sluicehq/sluice/connectors/datagen"
	_ "github.com/sluicehq/sluice/connectors/file"
	_ "github.com/sluicehq/sluice/connectors/print"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// collectors gathers the rows of the test sinks, by table name.
var collectors = struct {
	sync.Mutex
	m map[string]*rttest.Collector
}{m: map[string]*rttest.Collector{}}

// testSink is a sink connector keeping rows in memory: 'collect' accepts
// updates, 'append' only appends.
type testSink struct {
	name    string
	updates bool
}

func (s testSink) Name() string                         { return s.name }
func (testSink) Options() []connectors.Option           { return nil }
func (s testSink) AcceptsUpdates(connectors.Table) bool { return s.updates }
func (s testSink) NewSink(t connectors.Table) (func() runtime.Operator, int, error) {
	c, newOp := rttest.NewCollector(t.Schema)
	collectors.Lock()
	collectors.m[t.Name] = c
	collectors.Unlock()
	return newOp, 0, nil
}

func init() {
	connectors.Register(testSink{name: "collect", updates: true})
	connectors.Register(testSink{name: "append"})
}

func run(t *testing.T, src string, par int) {
	t.Helper()
	plan, err := Compile(src, Options{File: "job.sql", Parallelism: par})
	if err != nil {
		t.Fatal(err)
	}
	if err := runtime.Run(context.Background(), plan.Graph, runtime.Options{Parallelism: par}); err != nil {
		t.Fatal(err)
	}
}

func collected(name string) *rttest.Collector {
	collectors.Lock()
	defer collectors.Unlock()
	return collectors.m[name]
}

const src = `
CREATE TABLE src (k BIGINT, v BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'datagen', 'number-of-rows' = '1000',
      'fields.k.kind' = 'sequence', 'fields.k.start' = '0', 'fields.k.end' = '9',
      'fields.v.kind' = 'sequence', 'fields.v.start' = '0', 'fields.v.end' = '999',
      'fields.ts.kind' = 'sequence', 'fields.ts.step' = '10ms');
`

func TestTumblingWindowWithHaving(t *testing.T) {
	for _, par := range []int{1, 4} {
		run(t, src+`
CREATE TABLE out WITH ('connector' = 'collect');
INSERT INTO out
SELECT k, TUMBLE_START(ts, INTERVAL '1' SECOND) AS ws, TUMBLE_END(ts, INTERVAL '1' SECOND) AS we,
       COUNT(*) AS n, SUM(v) AS s, AVG(v) AS a, AVG(CAST(v AS DOUBLE)) AS af
FROM src WHERE v >= 0
GROUP BY k, TUMBLE(ts, INTERVAL '1' SECOND)
HAVING SUM(v) > 1000;`, par)
		var want []string
		for w := 0; w < 10; w++ {
			for k := 0; k < 10; k++ {
				sum := 0
				for i := 100 * w; i < 100*w+100; i++ {
					if i%10 == k {
						sum += i
					}
				}
				if sum <= 1000 {
					continue
				}
				// AVG of a BIGINT is a BIGINT, truncated; of a DOUBLE the mean.
				want = append(want, fmt.Sprintf("%d,%s,%s,10,%d,%d,%s", k,
					runtime.FormatTimestamp(1767225600000+int64(w)*1000), runtime.FormatTimestamp(1767225600000+int64(w+1)*1000),
					sum, sum/10, runtime.FormatFloat(float64(sum)/10)))
			}
		}
		sort.Strings(want)
		if got := collected("out").Sorted(); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("parallelism %d: got\n%s\nwant\n%s", par, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

func TestGroupByWithoutWindowIsAChangelog(t *testing.T) {
	run(t, src+`
CREATE TABLE out WITH ('connector' = 'collect');
INSERT INTO out SELECT MOD(k, 2) AS parity, COUNT(*) AS n FROM src GROUP BY MOD(k, 2);`, 2)
	final := map[string]string{}
	kinds := collected("out").Kinds()
	for i, r := range collected("out").Rows() {
		if kinds[i] == runtime.UpdateBefore {
			continue
		}
		final[r[0].String()] = r[1].String()
	}
	if final["0"] != "500" || final["1"] != "500" || len(final) != 2 {
		t.Fatalf("final results %v", final)
	}
}

func TestPlanningErrorsNameThePlace(t *testing.T) {
	f := func(query, want string) {
		t.Helper()
		_, err := Compile(src+"CREATE TABLE out WITH ('connector' = 'append');\n"+query, Options{File: "job.sql", Parallelism: 2})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s\ngot  %v\nwant %q", query, err, want)
		}
	}
	f("INSERT INTO out SELECT kk FROM src;", `job.sql:8:24: unknown column "kk" (did you mean "k"?) in "kk"`)
	f("INSERT INTO out SELECT k, COUNT(*) FROM src GROUP BY k;", `the query's result is updating`)
	f("INSERT INTO out SELECT v, COUNT(*) FROM src GROUP BY k;", `column v must appear in GROUP BY or be used inside an aggregate function`)
	f("INSERT INTO out SELECT k FROM srx;", `unknown table "srx" (did you mean "src"?)`)
	f("INSERT INTO out SELECT k, HOP_END(ts, INTERVAL '1' SECOND, INTERVAL '2' SECOND) FROM src GROUP BY k, TUMBLE(ts, INTERVAL '1' SECOND);", "HOP_END must name the window of GROUP BY")
	f("CREATE TABLE bad (a INT) WITH ('connector' = 'datagem');", `unknown connector "datagem" (did you mean "datagen"?)`)
	f("CREATE TABLE bad (a INT) WITH ('connector' = 'datagen', 'rows-per-sec' = '1');", `no option "rows-per-sec" (did you mean "rows-per-second"?)`)
}

func TestSyntaxErrorsNameLineAndColumn(t *testing.T) {
	_, err := Compile("CREATE TABLE t (a INT,\n  b FLOOT) WITH ('connector' = 'datagen');", Options{File: "j.sql", Parallelism: 1})
	if err == nil || !strings.HasPrefix(err.Error(), "j.sql:2:5: ") || !strings.Contains(err.Error(), "FLOOT") {
		t.Fatalf("got %v", err)
	}
}

const joinTables = `
CREATE TABLE orders (id BIGINT, amount BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'datagen', 'number-of-rows' = '100',
      'fields.id.kind' = 'sequence', 'fields.id.start' = '0', 'fields.id.end' = '99',
      'fields.amount.kind' = 'sequence', 'fields.amount.start' = '1000', 'fields.amount.end' = '1099',
      'fields.ts.kind' = 'sequence', 'fields.ts.step' = '100ms');
CREATE TABLE shipments (order_id BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'datagen', 'number-of-rows' = '100',
      'fields.order_id.kind' = 'sequence', 'fields.order_id.start' = '0', 'fields.order_id.end' = '99',
      'fields.ts.kind' = 'sequence', 'fields.ts.start' = '2026-01-01T00:00:02Z', 'fields.ts.step' = '100ms');
CREATE TABLE out WITH ('connector' = 'collect');
`

func TestIntervalJoin(t *testing.T) {
	f := func(on string, want int) {
		t.Helper()
		for _, par := range []int{1, 3} {
			run(t, joinTables+"INSERT INTO out SELECT o.id, o.amount, s.ts FROM orders o JOIN shipments s ON "+on+";", par)
			rows := collected("out").Rows()
			if len(rows) != want {
				t.Fatalf("ON %s, parallelism %d: %d rows, want %d", on, par, len(rows), want)
			}
			for _, r := range rows {
				if r[1].I != r[0].I+1000 {
					t.Fatalf("ON %s: row %v joins the wrong order", on, r)
				}
			}
		}
	}
	f("s.order_id = o.id AND s.ts BETWEEN o.ts AND o.ts + INTERVAL '3' SECOND", 100)
	f("o.id = s.order_id AND s.ts BETWEEN o.ts AND o.ts + INTERVAL '1' SECOND", 0)
	f("o.id = s.order_id AND s.ts >= o.ts + INTERVAL '2' SECOND AND s.ts <= o.ts + INTERVAL '2' SECOND", 100)
	f("o.id = s.order_id AND o.ts BETWEEN s.ts - INTERVAL '5' SECOND AND s.ts AND o.amount < 1050", 50)
	// Without time bounds it is a regular join.
	plan, err := Compile(joinTables+"INSERT INTO out SELECT o.id FROM orders o JOIN shipments s ON o.id = s.order_id;", Options{Parallelism: 1})
	if err != nil || !strings.Contains(plan.Explain(), "regular join INNER") || strings.Contains(plan.Explain(), "interval join") {
		t.Fatalf("got %v", err)
	}
}

func TestUnionAll(t *testing.T) {
	run(t, src+`
CREATE TABLE out WITH ('connector' = 'collect');
INSERT INTO out SELECT k, v FROM src WHERE v < 10 UNION ALL SELECT k, v FROM src WHERE v >= 990;`, 2)
	if n := len(collected("out").Rows()); n != 20 {
		t.Fatalf("%d rows, want 20", n)
	}
}

func TestInsertColumnList(t *testing.T) {
	run(t, src+`
CREATE TABLE out (v BIGINT, k BIGINT, note VARCHAR) WITH ('connector' = 'collect');
INSERT INTO out (k, v) SELECT k, v FROM src WHERE v >= 10 AND v < 13;`, 1)
	if got := strings.Join(collected("out").Sorted(), " "); got != "10,0,NULL 11,1,NULL 12,2,NULL" {
		t.Fatalf("got %s", got)
	}
	_, err := Compile(src+"CREATE TABLE out (v BIGINT, k BIGINT) WITH ('connector' = 'collect');\nINSERT INTO out (k, vv) SELECT k, v FROM src;", Options{Parallelism: 1})
	if err == nil || !strings.Contains(err.Error(), `table out has no column "vv" (did you mean "v"?)`) {
		t.Fatalf("got %v", err)
	}
}

func TestIdleTimeoutOption(t *testing.T) {
	ok := strings.Replace(src, "'number-of-rows' = '1000',", "'number-of-rows' = '1000', 'scan.watermark.idle-timeout' = '5 s',", 1)
	plan, err := Compile(ok+"CREATE TABLE out WITH ('connector' = 'blackhole');\nINSERT INTO out SELECT k FROM src;", Options{Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := plan.Graph.Nodes[0].Watermarks.IdleTimeout; got != 5*time.Second {
		t.Fatalf("idle timeout %v", got)
	}
	bad := strings.Replace(src, "'number-of-rows' = '1000',", "'number-of-rows' = '1000', 'scan.watermark.idle-timeout' = 'soon',", 1)
	if _, err := Compile(bad, Options{Parallelism: 1}); err == nil || !strings.Contains(err.Error(), `option "scan.watermark.idle-timeout": "soon" is not a duration`) {
		t.Fatalf("got %v", err)
	}
}

func TestRepeatedOutputNamesAreRenamed(t *testing.T) {
	plan, err := Compile(src+"CREATE TABLE out WITH ('connector' = 'collect');\nINSERT INTO out SELECT k, k, v AS k0 FROM src;", Options{Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	var sink *runtime.NodeSpec
	for _, n := range plan.Graph.Nodes {
		if n.Name == "sink out" {
			sink = n
		}
	}
	if got := strings.Join(sink.Schema.Names(), ","); got != "k,k0,k00" {
		t.Fatalf("names %s", got)
	}
}

func TestInsertsIntoOneTableShareItsSink(t *testing.T) {
	job := src + "CREATE TABLE out WITH ('connector' = 'collect');\nINSERT INTO out SELECT k, v FROM src;\nINSERT INTO out SELECT v, k FROM src WHERE v > 3;"
	plan, err := Compile(job, Options{Parallelism: 2})
	if err != nil {
		t.Fatal(err)
	}
	sinks, inputs := 0, 0
	for _, n := range plan.Graph.Nodes {
		if n.Name == "sink out" {
			sinks++
			for _, e := range plan.Graph.Edges {
				if e.To == n.ID {
					inputs++
				}
			}
		}
	}
	if sinks != 1 || inputs != 2 {
		t.Fatalf("%d sinks of table out with %d inputs; want 1 with 2", sinks, inputs)
	}
}

// A misspelt column of an aggregating query is unknown wherever it stands
// (select list, HAVING, WHERE, GROUP BY, a window's time argument, an
// aggregate's argument, a window bound), windowed or not, rather than "must
// appear in GROUP BY"; each error names its line:column.
func TestUnknownColumnsOfAggregatesAreReportedAsUnknown(t *testing.T) {
	const views = `CREATE TABLE views (page_id BIGINT, ms BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE out WITH ('connector' = 'collect');
`
	const win = "TUMBLE(ts, INTERVAL '1' MINUTE)"
	f := func(query, want string) {
		t.Helper()
		_, err := Compile(views+query, Options{File: "job.sql", Parallelism: 2})
		if err == nil || err.Error() != want {
			t.Fatalf("%s\ngot  %v\nwant %s", query, err, want)
		}
	}
	// The select list of a windowed GROUP BY (the example).
	f("INSERT INTO out SELECT pgae_id, COUNT(*) FROM views GROUP BY page_id, "+win+";",
		`job.sql:4:24: unknown column "pgae_id" (did you mean "page_id"?) in "pgae_id"`)
	// … inside an expression of the select list, on a later line.
	f("INSERT INTO out\nSELECT page_id, COUNT(*) + mss AS n FROM views GROUP BY page_id, "+win+";",
		`job.sql:5:28: unknown column "mss" (did you mean "ms"?) in "mss"`)
	// HAVING.
	f("INSERT INTO out SELECT page_id, COUNT(*) FROM views GROUP BY page_id, "+win+" HAVING pgae_id > 3;",
		`job.sql:4:110: unknown column "pgae_id" (did you mean "page_id"?) in "pgae_id"`)
	// WHERE, GROUP BY, an aggregate's argument.
	f("INSERT INTO out SELECT page_id, COUNT(*) FROM views WHERE pgae_id > 3 GROUP BY page_id, "+win+";",
		`job.sql:4:59: unknown column "pgae_id" (did you mean "page_id"?) in "pgae_id"`)
	f("INSERT INTO out SELECT COUNT(*) FROM views GROUP BY pgae_id, "+win+";",
		`job.sql:4:53: unknown column "pgae_id" (did you mean "page_id"?) in "pgae_id"`)
	f("INSERT INTO out SELECT page_id, SUM(mss) FROM views GROUP BY page_id, "+win+";",
		`job.sql:4:37: unknown column "mss" (did you mean "ms"?) in "mss"`)
	// The time argument of the window and of a window bound.
	f("INSERT INTO out SELECT page_id, COUNT(*) FROM views GROUP BY page_id, TUMBLE(tss, INTERVAL '1' MINUTE);",
		`job.sql:4:78: unknown column "tss" (did you mean "ts"?) in "tss"`)
	f("INSERT INTO out SELECT page_id, TUMBLE_END(tss, INTERVAL '1' MINUTE) AS we, COUNT(*) FROM views GROUP BY page_id, "+win+";",
		`job.sql:4:44: unknown column "tss" (did you mean "ts"?) in "tss"`)
	// Without a window, and without GROUP BY.
	f("INSERT INTO out SELECT pgae_id, COUNT(*) FROM views GROUP BY page_id;",
		`job.sql:4:24: unknown column "pgae_id" (did you mean "page_id"?) in "pgae_id"`)
	f("INSERT INTO out SELECT pgae_id, COUNT(*) FROM views;",
		`job.sql:4:24: unknown column "pgae_id" (did you mean "page_id"?) in "pgae_id"`)
	// The first unknown name in the order of the text is the one reported.
	f("INSERT INTO out SELECT pgae_id, COUNT(*) FROM views WHERE mss > 0 GROUP BY page_id;",
		`job.sql:4:24: unknown column "pgae_id" (did you mean "page_id"?) in "pgae_id"`)
	// A known column missing from GROUP BY still says so.
	f("INSERT INTO out SELECT ms, COUNT(*) FROM views GROUP BY page_id, "+win+";",
		`job.sql:4:24: column ms must appear in GROUP BY or be used inside an aggregate function in "ms"`)
}

// TestUnknownColumnInJoinConditionIsReportedAsUnknown: a misspelt column
// in a join's ON condition — in the key equality or in the time bound —
// is an unknown column (did you mean), not a condition of the wrong form.
func TestUnknownColumnInJoinConditionIsReportedAsUnknown(t *testing.T) {
	const tables = `CREATE TABLE c (page_id INT, user_id BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH ('connector' = 'datagen', 'number-of-rows' = '5');
CREATE TABLE u (user_id BIGINT, name VARCHAR, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH ('connector' = 'datagen', 'number-of-rows' = '5');
CREATE TABLE out WITH ('connector' = 'collect');
`
	f := func(on, want string) {
		t.Helper()
		query := "INSERT INTO out SELECT c.page_id, u.name FROM c JOIN u\n  ON " + on + ";"
		_, err := Compile(tables+query, Options{File: "job.sql", Parallelism: 2})
		if err == nil || err.Error() != want {
			t.Fatalf("%s\ngot  %v\nwant %s", on, err, want)
		}
	}
	f("c.usr_id = u.user_id AND u.ts BETWEEN c.ts - INTERVAL '1' SECOND AND c.ts",
		`job.sql:7:6: unknown column "c.usr_id" (did you mean "user_id"?) in "c.usr_id"`)
	f("c.user_id = u.user_id AND u.tss BETWEEN c.ts - INTERVAL '1' SECOND AND c.ts",
		`job.sql:7:32: unknown column "u.tss" (did you mean "ts"?) in "u.tss"`)
	// A condition of the wrong form over known columns still says so.
	f("c.page_id > 0 AND u.ts BETWEEN c.ts - INTERVAL '1' SECOND AND c.ts",
		`job.sql:7:6: the join condition must equate a column of c with a column of u in "c.page_id > 0 AND u.ts BETWEEN c.ts - INTERVAL '…"`)
}
