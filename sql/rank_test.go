package sql

import (
	"errors"
	"fmt"
	"github.com/sluicehq/sluice/runtime/state"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/runtime"
)

// rankData is one seed's rows of table r (k BIGINT, v BIGINT, id BIGINT,
// ts TIMESTAMP(3)): k has a few values and NULL, v and ts are distinct (so
// every ORDER BY of the queries is a total order, as SQLite needs to agree),
// ts is out of order by less than the watermark delay.
type rankRow struct {
	k     *int64
	v, id int64
	ts    int64
	file  int
}

func genRankRows(seed uint64, n int) []rankRow {
	rng := rand.New(rand.NewPCG(seed, 7))
	keys := 1 + rng.IntN(6)
	perm := rng.Perm(n)
	rows := make([]rankRow, n)
	for i := range rows {
		r := rankRow{v: int64(perm[i]) - int64(n/3), id: int64(i), ts: 1767225600000 + int64(i)*100 + rng.Int64N(80), file: rng.IntN(2)}
		if rng.IntN(10) > 0 {
			k := int64(rng.IntN(keys))
			r.k = &k
		}
		rows[i] = r
	}
	return rows
}

// writeRankRows writes the rows as JSON lines in two files of dir and loads
// them into SQLite database db (ts as epoch milliseconds).
func writeRankRows(t *testing.T, sqlite, dir, db string, rows []rankRow) {
	t.Helper()
	var files [2]strings.Builder
	var load strings.Builder
	load.WriteString("CREATE TABLE r (k INTEGER, v INTEGER, id INTEGER, ts INTEGER);\nBEGIN;\n")
	for _, r := range rows {
		k, kj := "NULL", "null"
		if r.k != nil {
			k = fmt.Sprint(*r.k)
			kj = k
		}
		fmt.Fprintf(&files[r.file], `{"k":%s,"v":%d,"id":%d,"ts":%d}`+"\n", kj, r.v, r.id, r.ts)
		fmt.Fprintf(&load, "INSERT INTO r VALUES (%s, %d, %d, %d);\n", k, r.v, r.id, r.ts)
	}
	load.WriteString("COMMIT;\n")
	if err := os.MkdirAll(filepath.Join(dir, "r"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range files {
		if err := os.WriteFile(filepath.Join(dir, "r", fmt.Sprintf("part-%d.json", i)), []byte(files[i].String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := sqlite3(sqlite, strings.NewReader(load.String()), "-bail", db); err != nil {
		t.Fatal(err)
	}
}

func rankDDL(dir string) string {
	return fmt.Sprintf(`
CREATE TABLE r (k BIGINT, v BIGINT, id BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '100' MILLISECOND)
WITH ('connector' = 'file', 'path' = '%s', 'format' = 'json', 'format.fail-on-error' = 'true', 'scan.watermark.max-future' = 'off');
`, filepath.Join(dir, "r"))
}

// finalState applies a changelog to a multiset and returns its rows,
// sorted; a retraction of a row not held fails the test.
func finalState(t *testing.T, what string, kinds []runtime.RowKind, rows []string) []string {
	t.Helper()
	held := map[string]int{}
	for i, r := range rows {
		switch kinds[i] {
		case runtime.Insert, runtime.UpdateAfter:
			held[r]++
		default:
			if held[r] == 0 {
				t.Fatalf("%s: row %d retracts %s, which is not held", what, i, r)
			}
			held[r]--
		}
	}
	var out []string
	for r, n := range held {
		for range n {
			out = append(out, r)
		}
	}
	slices.Sort(out)
	return out
}

// rankQuery is a query written for Sluice and for SQLite (ts in epoch ms).
type rankQuery struct {
	name           string
	sluice, sqlite string
}

var rankQueries = []rankQuery{
	{"top3_rn",
		"SELECT k, v, id, rn FROM (SELECT k, v, id, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC) AS rn FROM r) WHERE rn <= 3",
		""},
	{"top2_star_no_rn",
		"SELECT k, id FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v) AS rn FROM r) t WHERE rn < 3 AND id >= 0",
		""},
	{"global_between",
		"SELECT * FROM (SELECT id, v, ROW_NUMBER() OVER (ORDER BY v DESC) AS rn FROM r) WHERE rn BETWEEN 2 AND 4",
		""},
	{"rank_equals",
		"SELECT x.k, x.id, x.rn FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v) AS rn, k FROM r WHERE v > 0) AS x WHERE 2 = x.rn",
		""},
	{"dedup_first",
		"SELECT k, id FROM (SELECT k, id, ts, ROW_NUMBER() OVER (PARTITION BY k ORDER BY ts) AS rn FROM r) WHERE rn = 1",
		""},
	{"dedup_last_rn",
		"SELECT k, id, rn FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY ts DESC) AS rn FROM r) WHERE rn <= 1",
		""},
	{"with_query",
		"WITH t AS (SELECT k, id, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC) AS rn FROM r) SELECT x.k, x.id FROM t AS x WHERE x.rn <= 2",
		""},
	{"top_of_group_by",
		"SELECT m, c, rn FROM (SELECT m, c, ROW_NUMBER() OVER (ORDER BY c DESC, m) AS rn FROM (SELECT MOD(id, 7) AS m, COUNT(*) AS c FROM r WHERE v > 0 GROUP BY MOD(id, 7))) WHERE rn <= 3",
		"SELECT m, c, rn FROM (SELECT m, c, ROW_NUMBER() OVER (ORDER BY c DESC, m) AS rn FROM (SELECT id % 7 AS m, COUNT(*) AS c FROM r WHERE v > 0 GROUP BY id % 7)) WHERE rn <= 3"},
	// WHERE on the ROW_NUMBER() alias of its own select list (Nexmark q6):
	// the other WHERE terms filter before numbering.
	{"rn_in_own_where",
		"SELECT k, v, id, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC) AS rn FROM r WHERE rn <= 2 AND v > 0",
		"SELECT k, v, id, rn FROM (SELECT k, v, id, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC) AS rn FROM r WHERE v > 0) WHERE rn <= 2"},
	{"rn_in_own_where_star_of_unaliased_subquery",
		"SELECT s.k, s.id, s.rn FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY R.k ORDER BY R.v) AS rn FROM (SELECT R.k, R.v, R.id FROM r AS R) WHERE 1 >= rn) AS s",
		"SELECT k, id, rn FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v) AS rn FROM r) WHERE rn <= 1"},
	{"over_of_top1_in_own_where",
		"SELECT k, id, SUM(v) OVER (PARTITION BY k ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS s FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY MOD(id, 20) ORDER BY v DESC) AS rn FROM r WHERE rn <= 1)",
		"SELECT k, id, SUM(v) OVER (PARTITION BY k ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS s FROM (SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY id % 20 ORDER BY v DESC) AS rn FROM r) WHERE rn <= 1)"},
}

// TestTopNAndDedupAgainstSQLite runs ROW_NUMBER() Top-N and deduplication
// queries (with and without the rank column, PARTITION BY or not, <, <=,
// =, BETWEEN, a query of WITH, a Top-N over an updating GROUP BY, a WHERE
// on the ROW_NUMBER() alias of its own select list, an OVER aggregate over
// such a Top-1) at parallelism 1 and 3
// and checks the final state of each changelog against SQLite's window
// functions over the same rows.
func TestTopNAndDedupAgainstSQLite(t *testing.T) {
	sqlite := needSQLite(t)
	for seed := uint64(1); seed <= 3; seed++ {
		dir := t.TempDir()
		db := filepath.Join(dir, "r.db")
		writeRankRows(t, sqlite, dir, db, genRankRows(seed, 400))
		job := rankDDL(dir)
		for _, rq := range rankQueries {
			job += fmt.Sprintf("CREATE TABLE rank_%s WITH ('connector' = 'collect');\nINSERT INTO rank_%s %s;\n", rq.name, rq.name, rq.sluice)
		}
		for _, par := range []int{1, 3} {
			run(t, job, par)
			for _, rq := range rankQueries {
				what := fmt.Sprintf("seed %d, parallelism %d, %s", seed, par, rq.name)
				c := collected("rank_" + rq.name)
				got := finalState(t, what, c.Kinds(), c.Strings())
				sq := rq.sqlite
				if sq == "" {
					sq = rq.sluice
				}
				out, err := sqlite3(sqlite, strings.NewReader(sq+";\n"), "-separator", ",", "-nullvalue", "NULL", db)
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				want := strings.Fields(string(out))
				slices.Sort(want)
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Fatalf("%s: got\n%s\nwant\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			}
		}
	}
}

// TestTopNTakesStateSettings checks that SET 'sluice.state.max-keys' and
// 'table.exec.state.ttl' reach the Top-N and deduplication operators: 20
// partitions over a limit of 8 fail the job with the state-limit error
// naming the operator, and a TTL shorter than the gap between rows keeps
// them under it.
func TestTopNTakesStateSettings(t *testing.T) {
	src := strings.Replace(keysSrc, ", 'rows-per-second' = '10'", "", 1) + "SET 'sluice.state.max-keys' = '8';\n"
	topN := "INSERT INTO out SELECT k, v FROM (SELECT k, v, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC) AS rn FROM keys) WHERE rn <= 2;"
	_, err := runPlan(t, src+topN, Options{})
	if !errors.Is(err, state.ErrStateLimit) || !strings.Contains(err.Error(), `operator "Top-N rows 1..2"`) {
		t.Fatalf("got %v, want the state-limit error of the Top-N", err)
	}
	plan, err := runPlan(t, keysSrc+"SET 'sluice.state.max-keys' = '8';\nSET 'table.exec.state.ttl' = '100 ms';\n"+topN, Options{})
	if err != nil {
		t.Fatalf("with a TTL: %v", err)
	}
	if got := collected("out").Rows(); len(got) != 20 {
		t.Fatalf("%d rows, want 20", len(got))
	}
	if !strings.Contains(plan.Explain(), "Top-N rows 1..2") {
		t.Fatalf("explain:\n%s", plan.Explain())
	}
}

// TestWhereMayUseTimeUnitsNamedLikeSelectAliases checks that the error for
// a select alias read in WHERE (golden select_alias_in_where) is given only
// for a column reference that fails: time units such as HOUR and DAY in
// WHERE, with select aliases called hour and day, still compile.
func TestWhereMayUseTimeUnitsNamedLikeSelectAliases(t *testing.T) {
	src := keysSrc + "CREATE TABLE times (k BIGINT, ts TIMESTAMP(3)) WITH ('connector' = 'datagen', 'number-of-rows' = '5');\n" +
		"INSERT INTO out SELECT HOUR(ts) AS `hour`, EXTRACT(DAY FROM ts) AS `day` FROM times " +
		"WHERE TIMESTAMPADD(HOUR, 1, ts) > ts AND EXTRACT(DAY FROM ts) > 0 AND FLOOR(ts TO DAY) <= ts;\n"
	if _, err := Compile(src, Options{File: "job.sql", Parallelism: 1}); err != nil {
		t.Fatal(err)
	}
	_, err := Compile(src+"INSERT INTO out SELECT k, ts AS t0 FROM times WHERE t0 > TIMESTAMP '2026-01-01 00:00:00';\n", Options{File: "job.sql", Parallelism: 1})
	if err == nil || !strings.Contains(err.Error(), "job.sql:9:53: WHERE cannot read t0, an alias of the select list") {
		t.Fatalf("got %v, want the alias error", err)
	}
}
