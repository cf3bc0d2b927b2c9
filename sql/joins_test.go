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
)

// writeJoinTables writes tables a (k, x, id) and b (k, y, id) — keys with
// NULLs and repeats, so that a key matches several rows or none — as JSON
// lines (two files each) and into SQLite database db.
func writeJoinTables(t *testing.T, sqlite, dir, db string, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 11))
	keys := 2 + rng.IntN(8)
	var load strings.Builder
	load.WriteString("CREATE TABLE a (k INTEGER, x INTEGER, id INTEGER);\nCREATE TABLE b (k INTEGER, y INTEGER, id INTEGER);\nBEGIN;\n")
	for _, tab := range []string{"a", "b"} {
		var files [2]strings.Builder
		col := map[string]string{"a": "x", "b": "y"}[tab]
		for i := range 60 + rng.IntN(60) {
			k, kj := "NULL", "null"
			if rng.IntN(8) > 0 {
				k = fmt.Sprint(rng.IntN(keys))
				kj = k
			}
			v := rng.IntN(100)
			fmt.Fprintf(&files[rng.IntN(2)], `{"k":%s,"%s":%d,"id":%d}`+"\n", kj, col, v, i)
			fmt.Fprintf(&load, "INSERT INTO %s VALUES (%s, %d, %d);\n", tab, k, v, i)
		}
		if err := os.MkdirAll(filepath.Join(dir, tab), 0o755); err != nil {
			t.Fatal(err)
		}
		for i := range files {
			if err := os.WriteFile(filepath.Join(dir, tab, fmt.Sprintf("part-%d.json", i)), []byte(files[i].String()), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	load.WriteString("COMMIT;\n")
	if _, err := sqlite3(sqlite, strings.NewReader(load.String()), "-bail", db); err != nil {
		t.Fatal(err)
	}
}

var joinQueries = []rankQuery{
	{"inner_residual", "SELECT a.id, b.id, a.x, b.y FROM a JOIN b ON a.k = b.k AND a.x < b.y", ""},
	{"inner_where", "SELECT a.id, b.id FROM a, b WHERE b.k = a.k AND a.x + b.y > 100", ""},
	{"left", "SELECT a.id, b.id, b.y FROM a LEFT JOIN b ON a.k = b.k AND b.y BETWEEN a.x AND a.x + 30", ""},
	{"right", "SELECT a.id, b.id FROM a RIGHT OUTER JOIN b ON a.k = b.k AND a.x > b.y", ""},
	{"full", "SELECT a.id, b.id, a.k, b.k FROM a FULL JOIN b ON b.k = a.k AND a.x >= 50", ""},
	{"left_where", "SELECT a.id, b.id FROM a LEFT JOIN b ON a.k = b.k WHERE b.id IS NULL OR b.y > 90", ""},
	// An updating input: the counts per key of b, joined with a.
	{"updating_left", "SELECT a.id, c.n FROM a LEFT JOIN (SELECT k, COUNT(*) AS n FROM b GROUP BY k) c ON a.k = c.k", ""},
	{"updating_both", "SELECT c.k, c.n, d.s FROM (SELECT k, COUNT(*) AS n FROM a GROUP BY k) c JOIN (SELECT k, SUM(y) AS s FROM b GROUP BY k) d ON c.k = d.k", ""},
}

// TestRegularJoinsAgainstSQLite runs inner (with a residual condition, and
// as a comma join), LEFT, RIGHT and FULL outer joins, and joins of updating
// GROUP BY results, at parallelism 1 and 3, and checks the final state of
// each result against SQLite's answer over the same rows.
func TestRegularJoinsAgainstSQLite(t *testing.T) {
	sqlite := needSQLite(t)
	for seed := uint64(1); seed <= 3; seed++ {
		dir := t.TempDir()
		db := filepath.Join(dir, "j.db")
		writeJoinTables(t, sqlite, dir, db, seed)
		job := ""
		for _, tab := range []string{"a (k BIGINT, x BIGINT, id BIGINT)", "b (k BIGINT, y BIGINT, id BIGINT)"} {
			job += fmt.Sprintf("CREATE TABLE %s WITH ('connector' = 'file', 'path' = '%s', 'format' = 'json', 'format.fail-on-error' = 'true');\n",
				tab, filepath.Join(dir, tab[:1]))
		}
		for _, jq := range joinQueries {
			job += fmt.Sprintf("CREATE TABLE join_%s WITH ('connector' = 'collect');\nINSERT INTO join_%s %s;\n", jq.name, jq.name, jq.sluice)
		}
		for _, par := range []int{1, 3} {
			run(t, job, par)
			for _, jq := range joinQueries {
				what := fmt.Sprintf("seed %d, parallelism %d, %s", seed, par, jq.name)
				c := collected("join_" + jq.name)
				got := finalState(t, what, c.Kinds(), c.Strings())
				out, err := sqlite3(sqlite, strings.NewReader(jq.sluice+";\n"), "-separator", ",", "-nullvalue", "NULL", db)
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				want := strings.Fields(string(out))
				slices.Sort(want)
				if len(want) == 0 {
					t.Fatalf("%s: SQLite returns no rows: the data does not exercise the join", what)
				}
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Fatalf("%s: got %d rows\n%s\nwant %d\n%s", what, len(got), strings.Join(got, "\n"), len(want), strings.Join(want, "\n"))
				}
			}
		}
	}
}

// TestRegularJoinOutputModeAndStateSettings checks that an inner regular
// join of append-only tables appends (an append-only sink takes it), and
// that SET 'sluice.state.max-keys' and 'table.exec.state.ttl' reach the
// join: 20 keys over a limit of 8 fail the job naming the operator, and a
// TTL shorter than the gap between rows keeps them under it.
func TestRegularJoinOutputModeAndStateSettings(t *testing.T) {
	q := "INSERT INTO out SELECT a.k, b.v FROM keys a JOIN keys b ON a.k = b.k;"
	if _, err := Compile(keysSrc+"CREATE TABLE log WITH ('connector' = 'append');\n"+strings.Replace(q, "INTO out", "INTO log", 1), Options{Parallelism: 2}); err != nil {
		t.Fatalf("an inner join of append-only tables into an append-only sink: %v", err)
	}
	_, err := runPlan(t, strings.Replace(keysSrc, ", 'rows-per-second' = '10'", "", 1)+"SET 'sluice.state.max-keys' = '8';\n"+q, Options{})
	if !errors.Is(err, state.ErrStateLimit) || !strings.Contains(err.Error(), `operator "regular join INNER"`) {
		t.Fatalf("got %v, want the state-limit error of the join", err)
	}
	if _, err := runPlan(t, keysSrc+"SET 'sluice.state.max-keys' = '8';\nSET 'table.exec.state.ttl' = '100 ms';\n"+q, Options{}); err != nil {
		t.Fatalf("with a TTL: %v", err)
	}
	if got := collected("out").Rows(); len(got) != 20 {
		t.Fatalf("%d rows, want 20", len(got))
	}
}
