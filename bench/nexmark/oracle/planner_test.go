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
// bench/nexmark/queries writes them, over the table and views of
// ddl.sql, into a collecting sink, and compares the final state of their
// results with the oracle's at parallelism 1 and 3: q3 and q20 (regular joins),
// q9 (a regular join with a residual under a Top-1), q18 (deduplication,
// keep last) and q19 (Top-10 with the rank).
func TestNexmarkQueriesAgreeWithTheOracle(t *testing.T) {
	sqlite, db := loaded(t)
	_, views, ok := strings.Cut(benchmark.DDL(), "CREATE VIEW")
	if !ok {
		t.Fatal("ddl.sql: no views")
	}
	for _, name := range []string{"q3", "q9", "q18", "q19", "q20"} {
		q, err := benchmark.Query(name)
		if err != nil {
			t.Fatal(err)
		}
		q = strings.Replace(q, "'blackhole'", "'collect'", 1)
		want := runQ(t, sqlite, db, name)
		for _, par := range []int{1, 3} {
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
	}
}
