package sql

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/runtime"
)

// TestAggregateOfUpdatingMatchesReference runs a GROUP BY over a GROUP BY
// (the inner result updating, the outer aggregation retracting) over
// random rows, at parallelism 1 and 3, and checks the final state of its
// changelog — applied as a multiset that must never retract a row it does
// not hold — against the same computation in Go over the rows the job
// read.
func TestAggregateOfUpdatingMatchesReference(t *testing.T) {
	for seed := 1; seed <= 4; seed++ {
		for _, par := range []int{1, 3} {
			t.Run(fmt.Sprintf("seed%d/par%d", seed, par), func(t *testing.T) {
				job := fmt.Sprintf(`
CREATE TABLE ev (k BIGINT, v BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '3000', 'seed' = '%d',
  'fields.k.min' = '0', 'fields.k.max' = '40', 'fields.v.min' = '-50', 'fields.v.max' = '50');
CREATE TABLE raw WITH ('connector' = 'collect');
CREATE TABLE counts WITH ('connector' = 'collect');
INSERT INTO raw SELECT k, v FROM ev;
INSERT INTO counts
SELECT n, COUNT(*) AS keys, SUM(s) AS total, MIN(s) AS lo, MAX(s) AS hi
FROM (SELECT k, COUNT(*) AS n, SUM(v) AS s FROM ev WHERE v <> 0 GROUP BY k)
GROUP BY n;`, seed)
				run(t, job, par)
				// The reference, from the rows read.
				type acc struct{ n, s int64 }
				perKey := map[int64]*acc{}
				for _, r := range collected("raw").Rows() {
					if r[1].I == 0 {
						continue
					}
					a := perKey[r[0].I]
					if a == nil {
						a = &acc{}
						perKey[r[0].I] = a
					}
					a.n++
					a.s += r[1].I
				}
				type out struct{ keys, total, lo, hi int64 }
				perN := map[int64]*out{}
				for _, a := range perKey {
					o := perN[a.n]
					if o == nil {
						o = &out{lo: a.s, hi: a.s}
						perN[a.n] = o
					}
					o.keys++
					o.total += a.s
					o.lo, o.hi = min(o.lo, a.s), max(o.hi, a.s)
				}
				var want []string
				for n, o := range perN {
					want = append(want, fmt.Sprintf("%d,%d,%d,%d,%d", n, o.keys, o.total, o.lo, o.hi))
				}
				slices.Sort(want)
				// The final state of the changelog.
				c := collected("counts")
				rows, kinds := c.Strings(), c.Kinds()
				held := map[string]int{}
				for i, r := range rows {
					switch kinds[i] {
					case runtime.Insert, runtime.UpdateAfter:
						held[r]++
					default:
						if held[r] == 0 {
							t.Fatalf("row %d (%v %s) retracts a row not held", i, kinds[i], r)
						}
						held[r]--
					}
				}
				var got []string
				for r, n := range held {
					for range n {
						got = append(got, r)
					}
				}
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Fatalf("final result differs:\n got %v\nwant %v", got, want)
				}
			})
		}
	}
}

// TestChangelogSourceIsUpdating reads a changelog-json file: its rows are
// an updating stream that a GROUP BY aggregates in retract mode, and that
// an append-only sink refuses.
func TestChangelogSourceIsUpdating(t *testing.T) {
	dir := t.TempDir()
	data := `{"op":"+I","row":{"user":"ann","n":1}}
{"op":"+I","row":{"user":"bob","n":5}}
{"op":"-U","row":{"user":"ann","n":1}}
{"op":"+U","row":{"user":"ann","n":3}}
{"op":"-D","row":{"user":"bob","n":5}}
{"op":"+I","row":{"user":"cy","n":3}}
`
	if err := os.WriteFile(filepath.Join(dir, "in.json"), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	table := fmt.Sprintf(`CREATE TABLE users (user VARCHAR, n BIGINT, PRIMARY KEY (user) NOT ENFORCED)
WITH ('connector' = 'file', 'path' = '%s', 'format' = 'changelog-json');
`, filepath.Join(dir, "in.json"))
	for _, par := range []int{1, 3} {
		run(t, table+`CREATE TABLE by_n WITH ('connector' = 'collect');
INSERT INTO by_n SELECT n, COUNT(*) AS users FROM users GROUP BY n;`, par)
		c := collected("by_n")
		held := map[string]int{}
		for i, r := range c.Strings() {
			switch c.Kinds()[i] {
			case runtime.Insert, runtime.UpdateAfter:
				held[r]++
			default:
				if held[r] == 0 {
					t.Fatalf("par %d: %s retracts a row not held", par, r)
				}
				held[r]--
			}
		}
		var final []string
		for r, n := range held {
			for range n {
				final = append(final, r)
			}
		}
		if len(final) != 1 || final[0] != "3,2" {
			t.Errorf("par %d: final result %v, want only 3,2", par, held)
		}
	}
	_, err := Compile(table+`CREATE TABLE appends WITH ('connector' = 'append');
INSERT INTO appends SELECT user, n FROM users;`, Options{Parallelism: 1})
	if err == nil || !strings.Contains(err.Error(), "the query's result is updating") {
		t.Errorf("an updating source into an append-only sink: %v", err)
	}
}
