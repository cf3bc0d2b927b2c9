package sql

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var overQueries = []rankQuery{
	{"rows",
		"SELECT id, k, SUM(v) OVER (PARTITION BY k ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS s, COUNT(*) OVER (PARTITION BY k ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS c FROM r",
		""},
	{"range",
		"SELECT id, MIN(v) OVER (PARTITION BY k ORDER BY ts RANGE BETWEEN INTERVAL '1' SECOND PRECEDING AND CURRENT ROW) AS lo, MAX(v) OVER (PARTITION BY k ORDER BY ts RANGE BETWEEN INTERVAL '1' SECOND PRECEDING AND CURRENT ROW) + 1 AS hi FROM r WHERE v > -50",
		"SELECT id, MIN(v) OVER (PARTITION BY k ORDER BY ts RANGE BETWEEN 1000 PRECEDING AND CURRENT ROW) AS lo, MAX(v) OVER (PARTITION BY k ORDER BY ts RANGE BETWEEN 1000 PRECEDING AND CURRENT ROW) + 1 AS hi FROM r WHERE v > -50"},
	{"unbounded",
		"SELECT id, MAX(v) OVER (PARTITION BY k ORDER BY ts) AS m FROM r",
		""},
	{"global_rows",
		"SELECT r.id, COUNT(v) OVER (ORDER BY ts ROWS BETWEEN 5 PRECEDING AND CURRENT ROW) AS c, SUM(v) OVER (ORDER BY ts ROWS BETWEEN 5 PRECEDING AND CURRENT ROW) AS s FROM r",
		""},
}

// TestOverAggregatesAgainstSQLite runs OVER aggregates (ROWS and RANGE
// frames, bounded and unbounded, with and without PARTITION BY, several
// calls over one window, an OVER call inside an expression, WHERE before
// them) over out-of-order rows at parallelism 1 and 3, and checks each
// row's aggregates against SQLite's window functions.
func TestOverAggregatesAgainstSQLite(t *testing.T) {
	sqlite := needSQLite(t)
	for seed := uint64(1); seed <= 3; seed++ {
		dir := t.TempDir()
		db := filepath.Join(dir, "r.db")
		writeRankRows(t, sqlite, dir, db, genRankRows(seed, 300))
		job := rankDDL(dir)
		for _, oq := range overQueries {
			job += fmt.Sprintf("CREATE TABLE over_%s WITH ('connector' = 'append');\nINSERT INTO over_%s %s;\n", oq.name, oq.name, oq.sluice)
		}
		for _, par := range []int{1, 3} {
			run(t, job, par)
			for _, oq := range overQueries {
				what := fmt.Sprintf("seed %d, parallelism %d, %s", seed, par, oq.name)
				got := collected("over_" + oq.name).Sorted()
				sq := oq.sqlite
				if sq == "" {
					sq = oq.sluice
				}
				out, err := sqlite3(sqlite, strings.NewReader(sq+";\n"), "-separator", ",", "-nullvalue", "NULL", db)
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				want := strings.Fields(string(out))
				slices.Sort(want)
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Fatalf("%s: got %d rows\n%s\nwant %d\n%s", what, len(got), strings.Join(got, "\n"), len(want), strings.Join(want, "\n"))
				}
			}
		}
	}
}

// TestOverAggregateOfUpdatingInput checks an OVER aggregate over an
// updating input (a GROUP BY's changelog, ordered by its key): the result
// is updating, and its final state is SQLite's answer, at parallelism 1
// and 3.
func TestOverAggregateOfUpdatingInput(t *testing.T) {
	sqlite := needSQLite(t)
	const q = "SELECT k, n, SUM(n) OVER (ORDER BY k ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS s FROM (SELECT k, COUNT(*) AS n FROM r WHERE k IS NOT NULL GROUP BY k)"
	for seed := uint64(1); seed <= 3; seed++ {
		dir := t.TempDir()
		db := filepath.Join(dir, "r.db")
		writeRankRows(t, sqlite, dir, db, genRankRows(seed, 300))
		job := rankDDL(dir) + "CREATE TABLE over_updating WITH ('connector' = 'collect');\nINSERT INTO over_updating " + q + ";\n"
		if _, err := Compile(strings.Replace(job, "'collect'", "'append'", 1), Options{Parallelism: 1}); err == nil || !strings.Contains(err.Error(), "is updating") {
			t.Fatalf("into an append-only sink: got %v, want the updating-result error", err)
		}
		for _, par := range []int{1, 3} {
			run(t, job, par)
			what := fmt.Sprintf("seed %d, parallelism %d", seed, par)
			c := collected("over_updating")
			got := finalState(t, what, c.Kinds(), c.Strings())
			out, err := sqlite3(sqlite, strings.NewReader(q+";\n"), "-separator", ",", db)
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
