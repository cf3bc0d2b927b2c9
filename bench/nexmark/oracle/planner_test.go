package oracle

import (
	"context"
	"strconv"
	"strings"
	"testing"

	benchmark "github.com/sluicehq/sluice/bench/nexmark"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sql"
)

// TestNexmarkQueriesAgreeWithTheOracle runs Nexmark queries exactly as
// bench/nexmark/queries writes them, over the table and views of ddl.sql,
// into a collecting sink, and compares the final state of their results
// with the oracle's at parallelism 1 and 4: every query that Sluice plans
// today except q10 (it writes partition folders, checked by the file
// connector's tests). The others are planned in the next steps: q4 and q17
// (AVG of BIGINT is BIGINT in Flink), q6 (OVER over a Top-1 in one
// SELECT), q12 and q13 (processing time).
func TestNexmarkQueriesAgreeWithTheOracle(t *testing.T) {
	sqlite, db := loaded(t)
	_, views, ok := strings.Cut(benchmark.DDL(), "CREATE VIEW")
	if !ok {
		t.Fatal("ddl.sql: no views")
	}
	for _, name := range []string{"q0", "q1", "q2", "q3", "q5", "q7", "q8", "q9", "q11", "q14", "q15", "q16", "q18", "q19", "q20", "q21", "q22"} {
		name := name
		t.Run(name, func(t *testing.T) {
			q, err := benchmark.Query(name)
			if err != nil {
				t.Fatal(err)
			}
			q = strings.Replace(q, "'blackhole'", "'collect'", 1)
			want := runQ(t, sqlite, db, name)
			for _, par := range []int{1, 4} {
				plan, err := sql.Compile(table(t, events)+"CREATE VIEW"+views+q, sql.Options{Parallelism: par})
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if err := runtime.Run(context.Background(), plan.Graph, runtime.Options{Parallelism: par}); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				mu.Lock()
				out := collected["nexmark_"+name]
				mu.Unlock()
				var rows []string
				for _, r := range out.Rows() {
					rows = append(rows, Format(name, r))
				}
				got, err := Apply(rows, out.Kinds())
				if err != nil {
					t.Fatalf("%s at parallelism %d: %v", name, par, err)
				}
				same(t, name+" at parallelism "+strconv.Itoa(par), got, append([]string(nil), want...))
			}
		})
	}
}
