package sql

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/sluicehq/sluice/connectors"
	_ "github.com/sluicehq/sluice/connectors/kafka"
	"github.com/sluicehq/sluice/runtime"
)

// keyedTables are Kafka tables whose topics are keyed by user_id (clicks,
// orders), by page (pages), by nothing declared (plain), an upsert-kafka
// table (users, keyed by its PRIMARY KEY), two topics keyed by two
// columns in opposite orders (ab, ba), and a datagen and a file table.
const keyedTables = `
CREATE TABLE clicks (user_id BIGINT, page VARCHAR, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH ('connector' = 'kafka', 'topic' = 'clicks', 'properties.bootstrap.servers' = '127.0.0.1:9092', 'key.fields' = 'user_id');
CREATE TABLE orders (user_id BIGINT, amount BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH ('connector' = 'kafka', 'topic' = 'orders', 'properties.bootstrap.servers' = '127.0.0.1:9092', 'key.fields' = 'user_id');
CREATE TABLE pages (user_id BIGINT, page VARCHAR, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH ('connector' = 'kafka', 'topic' = 'pages', 'properties.bootstrap.servers' = '127.0.0.1:9092', 'key.fields' = 'page');
CREATE TABLE plain (user_id BIGINT, page VARCHAR, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH ('connector' = 'kafka', 'topic' = 'plain', 'properties.bootstrap.servers' = '127.0.0.1:9092');
CREATE TABLE users (user_id BIGINT, city VARCHAR, ts TIMESTAMP(3), PRIMARY KEY (user_id) NOT ENFORCED, WATERMARK FOR ts AS ts)
  WITH ('connector' = 'upsert-kafka', 'topic' = 'users', 'properties.bootstrap.servers' = '127.0.0.1:9092',
        'key.format' = 'json', 'value.format' = 'json');
CREATE TABLE ab (a BIGINT, b BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
  WITH ('connector' = 'kafka', 'topic' = 'ab', 'properties.bootstrap.servers' = '127.0.0.1:9092', 'key.fields' = 'a, b');
CREATE TABLE ba (a BIGINT, b BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
  WITH ('connector' = 'kafka', 'topic' = 'ba', 'properties.bootstrap.servers' = '127.0.0.1:9092', 'key.fields' = 'b, a');
CREATE TABLE gen (user_id BIGINT, page VARCHAR, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
  WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE files (user_id BIGINT, page VARCHAR, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
  WITH ('connector' = 'file', 'path' = '%s', 'format' = 'json');
CREATE TABLE out WITH ('connector' = 'collect');
`

// keyedEdges compiles the tables and job and returns the keyed edges of
// its graph as "from -> to: KeyedByInput", in the order they were added.
func keyedEdges(t *testing.T, job string) []string {
	t.Helper()
	plan := compileKeyed(t, job)
	var out []string
	for _, e := range plan.Graph.Edges {
		if e.Part == runtime.Keyed {
			out = append(out, fmt.Sprintf("%s -> %s: %v", plan.Graph.Node(e.From).Name, plan.Graph.Node(e.To).Name, e.KeyedByInput))
		}
	}
	return out
}

func compileKeyed(t *testing.T, job string) *Plan {
	t.Helper()
	plan, err := Compile(fmt.Sprintf(keyedTables, t.TempDir())+job, Options{File: "job.sql", Parallelism: 2})
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

// TestKeyedEdgesKnowWhenTheInputIsKeyedAlike: a keyed exchange is marked
// keyed by input exactly when its key holds every column the input topic
// is keyed by ('key.fields', an upsert-kafka PRIMARY KEY), carried through
// projections, renames, filters, views, WITH queries, subqueries and window
// table functions; not through expressions, aggregations or UNION ALL;
// never over sources of no declared key (a kafka topic without
// 'key.fields', datagen, files). A join is marked on both sides only when
// both topics are keyed by the same join columns.
func TestKeyedEdgesKnowWhenTheInputIsKeyedAlike(t *testing.T) {
	const agg = "calc -> group aggregate: "
	const win = "calc -> window TUMBLE(1m0s): "
	cases := []struct {
		name, job string
		want      []string
	}{
		{"group by the key", `INSERT INTO out SELECT user_id, COUNT(*) FROM clicks GROUP BY user_id;`,
			[]string{agg + "true"}},
		{"group by the key and another column", `INSERT INTO out SELECT page, user_id, COUNT(*) FROM clicks GROUP BY page, user_id;`,
			[]string{agg + "true"}},
		{"group by another column", `INSERT INTO out SELECT page, COUNT(*) FROM clicks GROUP BY page;`,
			[]string{agg + "false"}},
		{"group by the key of a topic keyed by another column", `INSERT INTO out SELECT user_id, COUNT(*) FROM pages GROUP BY user_id;`,
			[]string{agg + "false"}},
		{"key renamed through a view", `CREATE VIEW v AS SELECT page AS p, user_id AS u FROM clicks WHERE page <> 'x';
INSERT INTO out SELECT u, COUNT(*) FROM v GROUP BY u;`, []string{agg + "true"}},
		{"key renamed through a subquery", `INSERT INTO out SELECT uid, COUNT(*) FROM (SELECT page, user_id AS uid FROM clicks) GROUP BY uid;`,
			[]string{agg + "true"}},
		{"key renamed through a WITH query's column list", `INSERT INTO out WITH w (x, y) AS (SELECT user_id, page FROM clicks) SELECT x, COUNT(*) FROM w GROUP BY x;`,
			[]string{agg + "true"}},
		{"key through an expression", `INSERT INTO out SELECT u, COUNT(*) FROM (SELECT user_id + 1 AS u FROM clicks) GROUP BY u;`,
			[]string{agg + "false"}},
		{"grouped by an expression of the key", `INSERT INTO out SELECT user_id % 10, COUNT(*) FROM clicks GROUP BY user_id % 10;`,
			[]string{agg + "false"}},
		{"windowed group by the key (TUMBLE)", `INSERT INTO out SELECT user_id, window_start, COUNT(*)
FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY user_id, window_start, window_end;`,
			[]string{win + "true"}},
		{"group window by the key", `INSERT INTO out SELECT user_id, COUNT(*) FROM clicks GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE), user_id;`,
			[]string{win + "true"}},
		{"windowed group by another column", `INSERT INTO out SELECT page, window_start, COUNT(*)
FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY page, window_start, window_end;`,
			[]string{win + "false"}},
		{"group by the key of an aggregation", `INSERT INTO out SELECT user_id, COUNT(*) FROM (SELECT user_id, COUNT(*) AS n FROM clicks GROUP BY user_id) GROUP BY user_id;`,
			[]string{agg + "true", agg + "false"}},
		{"union of two keyed topics", `INSERT INTO out SELECT user_id, COUNT(*) FROM (SELECT user_id FROM clicks UNION ALL SELECT user_id FROM orders) GROUP BY user_id;`,
			[]string{agg + "false"}},
		{"interval join of topics keyed by the join column", `INSERT INTO out SELECT c.user_id, c.page, o.amount FROM clicks c JOIN orders o
ON c.user_id = o.user_id AND o.ts BETWEEN c.ts - INTERVAL '1' MINUTE AND c.ts + INTERVAL '1' MINUTE;`,
			[]string{"clicks -> interval join: true", "orders -> interval join: true"}},
		{"interval join of topics keyed by different columns", `INSERT INTO out SELECT p.user_id, p.page, o.amount FROM pages p JOIN orders o
ON p.user_id = o.user_id AND o.ts BETWEEN p.ts - INTERVAL '1' MINUTE AND p.ts + INTERVAL '1' MINUTE;`,
			[]string{"pages -> interval join: false", "orders -> interval join: false"}},
		{"interval join where one side is keyed", `INSERT INTO out SELECT c.user_id, c.page, o.amount FROM plain c JOIN orders o
ON c.user_id = o.user_id AND o.ts BETWEEN c.ts - INTERVAL '1' MINUTE AND c.ts + INTERVAL '1' MINUTE;`,
			[]string{"plain -> interval join: false", "orders -> interval join: false"}},
		{"interval join on both keys, which are different columns", `INSERT INTO out SELECT c.user_id, p.page FROM clicks c JOIN pages p
ON c.user_id = p.user_id AND c.page = p.page AND p.ts BETWEEN c.ts - INTERVAL '1' MINUTE AND c.ts + INTERVAL '1' MINUTE;`,
			[]string{"clicks -> interval join: false", "pages -> interval join: false"}},
		{"regular join of topics keyed by the join column", `INSERT INTO out SELECT c.user_id, c.page, o.amount FROM clicks c JOIN orders o ON c.user_id = o.user_id;`,
			[]string{"clicks -> regular join INNER: true", "orders -> regular join INNER: true"}},
		{"regular join on columns that are not both keys", `INSERT INTO out SELECT c.user_id, o.amount FROM clicks c JOIN orders o ON c.user_id = o.amount;`,
			[]string{"clicks -> regular join INNER: false", "orders -> regular join INNER: false"}},
		{"join of topics keyed by two columns, in the same order", `INSERT INTO out SELECT x.a, y.b FROM ab x JOIN ab y ON x.b = y.b AND x.a = y.a;`,
			[]string{"ab -> regular join INNER: true", "ab -> regular join INNER: true"}},
		{"join of topics keyed by two columns, in opposite orders", `INSERT INTO out SELECT x.a, y.b FROM ab x JOIN ba y ON x.a = y.a AND x.b = y.b;`,
			[]string{"ab -> regular join INNER: false", "ba -> regular join INNER: false"}},
		{"join of topics keyed by two columns, crossed to match", `INSERT INTO out SELECT x.a, y.b FROM ab x JOIN ba y ON x.a = y.b AND x.b = y.a;`,
			[]string{"ab -> regular join INNER: true", "ba -> regular join INNER: true"}},
		{"window join of topics keyed by the join column", `INSERT INTO out SELECT c.user_id, c.window_start, o.amount
FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) c
JOIN TABLE(TUMBLE(TABLE orders, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) o
ON c.window_start = o.window_start AND c.window_end = o.window_end AND c.user_id = o.user_id;`,
			[]string{"window assign TUMBLE(1m0s) -> window join TUMBLE(1m0s): true", "window assign TUMBLE(1m0s) -> window join TUMBLE(1m0s): true"}},
		{"upsert-kafka normalized and grouped by its key", `INSERT INTO out SELECT user_id, COUNT(*) FROM users GROUP BY user_id;`,
			[]string{"users -> changelog normalize: true", agg + "true"}},
		{"temporal join with an upsert-kafka table on its key", `INSERT INTO out SELECT o.user_id, o.amount, u.city
FROM orders o JOIN users FOR SYSTEM_TIME AS OF o.ts AS u ON o.user_id = u.user_id;`,
			[]string{"users -> changelog normalize: true", "orders -> temporal join: true", "changelog normalize -> temporal join: true"}},
		{"Top-N per key", `INSERT INTO out SELECT user_id, page FROM (
  SELECT user_id, page, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY page) AS rn FROM clicks) WHERE rn <= 2;`,
			[]string{"calc -> Top-N rows 1..2: true"}},
		{"Top-N per another column", `INSERT INTO out SELECT user_id, page FROM (
  SELECT user_id, page, ROW_NUMBER() OVER (PARTITION BY page ORDER BY user_id) AS rn FROM clicks) WHERE rn <= 2;`,
			[]string{"calc -> Top-N rows 1..2: false"}},
		{"OVER per key", `INSERT INTO out SELECT user_id, COUNT(*) OVER (PARTITION BY user_id ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM clicks;`,
			[]string{"calc -> over ROWS BETWEEN 2 PRECEDING AND CURRENT ROW: true"}},
		{"datagen", `INSERT INTO out SELECT user_id, COUNT(*) FROM gen GROUP BY user_id;`, []string{agg + "false"}},
		{"file", `INSERT INTO out SELECT user_id, COUNT(*) FROM files GROUP BY user_id;`, []string{agg + "false"}},
		{"kafka without key.fields", `INSERT INTO out SELECT user_id, COUNT(*) FROM plain GROUP BY user_id;`, []string{agg + "false"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := keyedEdges(t, c.job); !slices.Equal(got, c.want) {
				t.Errorf("keyed edges\n got %q\nwant %q", got, c.want)
			}
		})
	}
}

// TestExplainShowsKeyedByInput: explain marks a keyed exchange whose rows
// are already in the partition of their key, in its text and its JSON.
func TestExplainShowsKeyedByInput(t *testing.T) {
	plan := compileKeyed(t, `INSERT INTO out SELECT user_id, COUNT(*) FROM clicks GROUP BY user_id;
INSERT INTO out SELECT page, COUNT(*) FROM clicks GROUP BY page;`)
	text := plan.Explain()
	for _, want := range []string{`from "calc": HASH(user_id) over 128 key groups (keyed by input)`, `from "calc": HASH(page) over 128 key groups` + "\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("explain has no line %q:\n%s", want, text)
		}
	}
	js, err := json.Marshal(plan.Graph.Physical(2))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(js), `"keyed_by_input":true`); n != 1 {
		t.Errorf("JSON plan marks %d inputs keyed by input, want 1: %s", n, js)
	}
}

// TestSourcesAndSinksCarryTheirTable: the graph's source and sink nodes
// hold the connectors.Table they were built from (NodeSpec.Info), so that
// what runs the graph can read their connector and options; other nodes
// hold nothing.
func TestSourcesAndSinksCarryTheirTable(t *testing.T) {
	plan := compileKeyed(t, `INSERT INTO out SELECT c.user_id, COUNT(*) FROM clicks c JOIN gen g ON c.user_id = g.user_id GROUP BY c.user_id;`)
	tables := map[string]string{}
	for _, n := range plan.Graph.Nodes {
		if n.Info == nil {
			continue
		}
		ct, ok := n.Info.(connectors.Table)
		if !ok {
			t.Fatalf("node %q: Info is %T, want connectors.Table", n.Name, n.Info)
		}
		tables[n.Name] = ct.Name + " " + ct.Options["connector"] + " " + ct.Options["topic"]
	}
	want := map[string]string{"clicks": "clicks kafka clicks", "gen": "gen datagen ", "sink out": "out collect "}
	if fmt.Sprint(tables) != fmt.Sprint(want) {
		t.Fatalf("tables of the nodes: %v, want %v", tables, want)
	}
}

// TestInputKeyOfJoinSides: two inputs are keyed alike only when each
// column of their input keys, in order, is equated by one pair of join
// keys.
func TestInputKeyOfJoinSides(t *testing.T) {
	ab := inputKey{{0}, {1}}
	cases := []struct {
		l, r   inputKey
		lk, rk []int
		want   bool
	}{
		{ab, ab, []int{0, 1}, []int{0, 1}, true},
		{ab, ab, []int{1, 0}, []int{1, 0}, true},
		{ab, ab, []int{0, 1}, []int{1, 0}, false},
		{ab, ab, []int{0}, []int{0}, false},
		{ab, inputKey{{3, 5}, {4}}, []int{0, 2, 1}, []int{5, 9, 4}, true},
		{ab, inputKey{{1}}, []int{0}, []int{1}, false},
		{nil, nil, []int{0}, []int{0}, false},
		{ab, nil, []int{0, 1}, []int{0, 1}, false},
	}
	for _, c := range cases {
		if got := joinKeyedByInput(c.l, c.r, c.lk, c.rk); got != c.want {
			t.Errorf("%v ⋈ %v on %v = %v: %v, want %v", c.l, c.r, c.lk, c.rk, got, c.want)
		}
	}
}

// TestInputKeyThroughProjectionsMatchesColumnOrigins: over any chain of
// projections (each output column a column of the previous step, or
// computed), an edge keyed by some of the last step's columns is keyed
// by input exactly when, following every column back to the source, the
// key reaches each column of the source's partition key.
func TestInputKeyThroughProjectionsMatchesColumnOrigins(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		width := rapid.IntRange(1, 6).Draw(t, "width")
		cols := rapid.SliceOfNDistinct(rapid.IntRange(0, width-1), 1, width, rapid.ID[int]).Draw(t, "partition key")
		names := make([]string, len(cols))
		fields := make([]runtime.Field, width)
		for i := range fields {
			fields[i] = runtime.Field{Name: fmt.Sprint("c", i), Type: runtime.BigInt}
		}
		for j, c := range cols {
			names[j] = fields[c].Name
		}
		k := inputKeyOf(runtime.NewSchema(fields...), names)
		origin := make([]int, width) // the source column each column holds, -1: computed
		for i := range origin {
			origin[i] = i
		}
		for step := range rapid.IntRange(0, 4).Draw(t, "steps") {
			from := rapid.SliceOfN(rapid.IntRange(-1, len(origin)-1), 1, 6).Draw(t, fmt.Sprint("projection ", step))
			next := make([]int, len(from))
			for i, f := range from {
				next[i] = -1
				if f >= 0 {
					next[i] = origin[f]
				}
			}
			k, origin = k.through(from), next
		}
		keys := rapid.SliceOfNDistinct(rapid.IntRange(0, len(origin)-1), 0, len(origin), rapid.ID[int]).Draw(t, "edge key")
		want := true
		for _, c := range cols {
			reached := false
			for _, x := range keys {
				reached = reached || origin[x] == c
			}
			want = want && reached
		}
		if got := k.keyedBy(keys); got != want {
			t.Fatalf("keyed by input: %v, want %v (input key %v, origins %v, edge key %v)", got, want, k, origin, keys)
		}
	})
}

// TestUnknownKeyFieldsColumnIsAnErrorAtTheOption: a source table whose
// 'key.fields' names a column it does not have fails at the option.
func TestUnknownKeyFieldsColumnIsAnErrorAtTheOption(t *testing.T) {
	_, err := Compile("CREATE TABLE k (a BIGINT) WITH ('connector' = 'kafka', 'topic' = 't',\n"+
		"  'properties.bootstrap.servers' = '127.0.0.1:9', 'key.fields' = 'a, nope');\n"+
		"CREATE TABLE o WITH ('connector' = 'print');\nINSERT INTO o SELECT a FROM k;\n", Options{Parallelism: 1})
	const want = `job.sql:2:51: table k: option "key.fields": "nope" is not a column of table k`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
}
