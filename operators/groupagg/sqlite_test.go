package groupagg

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/runtime"
)

// needSQLite returns the path of sqlite3, or skips the test when it is not
// installed — unless SLUICE_REQUIRE_TOOLS=1 (as in CI), which fails it.
func needSQLite(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("sqlite3")
	if err != nil {
		const msg = "sqlite3 not installed: apt-get install -y sqlite3"
		if os.Getenv("SLUICE_REQUIRE_TOOLS") == "1" {
			t.Fatalf("%s (SLUICE_REQUIRE_TOOLS=1 requires it)", msg)
		}
		t.Skip("SKIPPING THE DIFFERENTIAL TEST AGAINST SQLITE: " + msg)
	}
	return path
}

// sqliteAggs are the aggregates SQLite computes too, in the order of
// sqliteQuery's columns.
var sqliteAggs = []agg.Spec{
	{Func: agg.Count, Col: -1, Name: "n"},
	{Func: agg.Count, Col: 1, Name: "nv"},
	{Func: agg.Sum, Col: 1, Name: "sum"},
	{Func: agg.Avg, Col: 1, Name: "avg"},
	{Func: agg.Min, Col: 1, Name: "min"},
	{Func: agg.Max, Col: 1, Name: "max"},
	{Func: agg.Min, Col: 3, Name: "mins"},
	{Func: agg.Max, Col: 3, Name: "maxs"},
	{Func: agg.Max, Col: 2, Name: "maxd"},
	{Func: agg.Sum, Col: 2, Name: "sumd"},
	{Func: agg.CountDistinct, Col: 1, Name: "ndv"},
	{Func: agg.SumDistinct, Col: 1, Name: "sumdv"},
	{Func: agg.CountDistinct, Col: 3, Name: "nds"},
	{Func: agg.Count, Col: -1, Name: "nf", Filter: 4, HasFilter: true},
	{Func: agg.Sum, Col: 1, Name: "sumf", Filter: 4, HasFilter: true},
	{Func: agg.CountDistinct, Col: 3, Name: "ndsf", Filter: 4, HasFilter: true},
	{Func: agg.Min, Col: 1, Name: "minf", Filter: 4, HasFilter: true},
	{Func: agg.Avg, Col: 2, Name: "avgdf", Filter: 4, HasFilter: true},
}

// sqliteQuery is sqliteAggs in sqlite3's words. AVG(v) of a BIGINT is a
// BIGINT truncated toward zero, as Flink's: sqlite3's AVG is REAL, but its
// integer division truncates toward zero as Java's does.
const sqliteQuery = `SELECT k, COUNT(*), COUNT(v), SUM(v), SUM(v) / COUNT(v), MIN(v), MAX(v), MIN(s), MAX(s), MAX(d), SUM(d),
  COUNT(DISTINCT v), SUM(DISTINCT v), COUNT(DISTINCT s),
  COUNT(*) FILTER (WHERE f), SUM(v) FILTER (WHERE f), COUNT(DISTINCT s) FILTER (WHERE f), MIN(v) FILTER (WHERE f),
  AVG(d) FILTER (WHERE f)
FROM t GROUP BY k ORDER BY k;
`

const sqliteNull = "<NULL>"

func sqlLit[T any](p *T) string {
	if p == nil {
		return "NULL"
	}
	switch x := any(*p).(type) {
	case string:
		return "'" + strings.ReplaceAll(x, "'", "''") + "'"
	case bool:
		if x {
			return "1"
		}
		return "0"
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	default:
		return fmt.Sprint(x)
	}
}

// TestRetractDifferentialSQLite applies random changelogs of inserts and
// retractions to a retracting GROUP BY (parallelism 1 and 3) and compares
// its final state with SQLite's GROUP BY over the rows left live:
// COUNT, SUM, AVG, MIN and MAX over each type, COUNT/SUM(DISTINCT), and
// FILTER (WHERE …).
func TestRetractDifferentialSQLite(t *testing.T) {
	sqlite := needSQLite(t)
	for seed := uint64(1); seed <= 4; seed++ {
		r := rand.New(rand.NewPCG(seed, 14))
		log := makeChangelog(func(lo, hi int, _ string) int { return lo + r.IntN(hi-lo+1) }, true, 20, 3000)
		// The live rows, and SQLite's answer over them.
		var live []rrow
		for _, c := range log {
			if c.kind == runtime.Insert || c.kind == runtime.UpdateAfter {
				live = append(live, c.row)
			} else {
				i := slices.IndexFunc(live, func(x rrow) bool { return sameRow(x, c.row) })
				live = slices.Delete(live, i, i+1)
			}
		}
		var script strings.Builder
		script.WriteString("CREATE TABLE t (k INTEGER, v INTEGER, d REAL, s TEXT, f INTEGER);\nBEGIN;\n")
		for _, x := range live {
			fmt.Fprintf(&script, "INSERT INTO t VALUES (%d, %s, %s, %s, %s);\n", x.k, sqlLit(x.v), sqlLit(x.d), sqlLit(x.s), sqlLit(x.f))
		}
		script.WriteString("COMMIT;\n" + sqliteQuery)
		cmd := exec.Command(sqlite, "-batch", "-separator", "\t", "-nullvalue", sqliteNull, ":memory:")
		cmd.Stdin = strings.NewReader(script.String())
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		outp, err := cmd.Output()
		if err != nil {
			t.Fatalf("sqlite3: %v: %s", err, stderr.String())
		}
		want := map[int64][]string{}
		for _, line := range strings.Split(strings.TrimSpace(string(outp)), "\n") {
			if line == "" {
				continue
			}
			f := strings.Split(line, "\t")
			k, _ := strconv.ParseInt(f[0], 10, 64)
			want[k] = f
		}
		if len(want) == 0 {
			t.Fatalf("seed %d: SQLite returned no groups (the generator is broken)", seed)
		}
		aggs := make([]refAgg, len(sqliteAggs))
		for i, s := range sqliteAggs {
			aggs[i] = refAgg{spec: s}
		}
		for _, par := range []int{1, 3} {
			got := runRetract(t, aggs, log, []int{1, 7, 64, 300}, par, true)
			if len(got) != len(want) {
				t.Fatalf("seed %d, parallelism %d: %d groups, SQLite has %d", seed, par, len(got), len(want))
			}
			for k, w := range want {
				g := got[k]
				if g == nil {
					t.Fatalf("seed %d, parallelism %d: no group %d", seed, par, k)
				}
				for i := 1; i < len(w); i++ {
					if !sqliteSame(g[i], w[i]) {
						t.Fatalf("seed %d, parallelism %d, k=%d, %s: got %s, SQLite %s", seed, par, k, sqliteAggs[i-1].Name, g[i], w[i])
					}
				}
			}
		}
	}
}

// sqliteSame compares a value to SQLite's text of it.
func sqliteSame(v runtime.Value, s string) bool {
	if v.Null || s == sqliteNull {
		return v.Null && s == sqliteNull
	}
	switch v.Type {
	case runtime.Double:
		x, err := strconv.ParseFloat(s, 64)
		return err == nil && math.Abs(x-v.F) <= 1e-12*max(1, math.Abs(x))
	case runtime.Varchar:
		return v.S == s
	default:
		return strconv.FormatInt(v.I, 10) == s
	}
}
