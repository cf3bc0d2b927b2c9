package oracle

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"

	benchmark "github.com/sluicehq/sluice/bench/nexmark"
	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
	"github.com/sluicehq/sluice/sql"
)

// collect is a sink connector that keeps the rows in memory.
type collect struct{}

var (
	mu        sync.Mutex
	collected = map[string]*rttest.Collector{}
)

func (collect) Name() string                         { return "collect" }
func (collect) Options() []connectors.Option         { return nil }
func (collect) AcceptsUpdates(connectors.Table) bool { return true }
func (collect) NewSink(t connectors.Table) (func() runtime.Operator, int, error) {
	c, newOp := rttest.NewCollector(t.Schema)
	mu.Lock()
	collected[t.Name] = c
	mu.Unlock()
	return newOp, 0, nil
}

func init() { connectors.Register(collect{}) }

// table is bench/nexmark/ddl.sql's table with the oracle's options.
func table(t *testing.T, n int) string {
	t.Helper()
	ddl, _, _ := strings.Cut(benchmark.DDL(), "CREATE VIEW")
	head, _, ok := strings.Cut(ddl, ") WITH (")
	if !ok {
		t.Fatal("ddl.sql: no WITH options")
	}
	var opts []string
	for k, v := range TableOptions(n) {
		opts = append(opts, "'"+k+"' = '"+v+"'")
	}
	return head + ") WITH (" + strings.Join(opts, ", ") + ");\n"
}

// TestSluiceAgreesWithTheOracle runs the queries the current planner can
// run — q0, q2 and q11 over the ROW fields instead of the bid view — and
// compares their results with the oracle's, at parallelism 1, 2 and 4.
func TestSluiceAgreesWithTheOracle(t *testing.T) {
	sqlite, db := loaded(t)
	for _, c := range []struct {
		name, query string
	}{
		{"q0", "SELECT bid.auction, bid.bidder, bid.price, dateTime, bid.extra FROM nexmark WHERE event_type = 2"},
		{"q2", "SELECT bid.auction, bid.price FROM nexmark WHERE event_type = 2 AND MOD(bid.auction, 123) = 0"},
		{"q11", `SELECT bid.bidder, COUNT(*) AS bid_count,
  SESSION_START(dateTime, INTERVAL '10' SECOND) AS starttime, SESSION_END(dateTime, INTERVAL '10' SECOND) AS endtime
FROM nexmark WHERE event_type = 2 GROUP BY bid.bidder, SESSION(dateTime, INTERVAL '10' SECOND)`},
	} {
		want := runQ(t, sqlite, db, c.name)
		for _, par := range []int{1, 2, 4} {
			src := table(t, events) + "CREATE TABLE out WITH ('connector' = 'collect');\nINSERT INTO out " + c.query + ";\n"
			plan, err := sql.Compile(src, sql.Options{Parallelism: par})
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if err := runtime.Run(context.Background(), plan.Graph, runtime.Options{Parallelism: par}); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			mu.Lock()
			out := collected["out"]
			mu.Unlock()
			var rows []string
			for _, r := range out.Rows() {
				rows = append(rows, Format(c.name, r))
			}
			got, err := Apply(rows, out.Kinds())
			if err != nil {
				t.Fatalf("%s at parallelism %d: %v", c.name, par, err)
			}
			same(t, c.name+" at parallelism "+strconv.Itoa(par), got, append([]string(nil), want...))
		}
	}
}
