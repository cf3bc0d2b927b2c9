package oracle

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	benchmark "github.com/sluicehq/sluice/bench/nexmark"
	_ "github.com/sluicehq/sluice/connectors/file"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sql"
)

// TestNexmarkQ12AsWrittenCountsEveryBidOnce runs q12 exactly as
// bench/nexmark/queries writes it (a view adding PROCTIME(), a TUMBLE
// window table function over it): its processing-time windows cannot be
// known in advance, so the oracle's per-bidder total must equal the sum
// of a bidder's counts over the windows, at parallelism 1 and 4, and
// every window must be 10 s long and aligned.
func TestNexmarkQ12AsWrittenCountsEveryBidOnce(t *testing.T) {
	sqlite, db := loaded(t)
	_, views, ok := strings.Cut(benchmark.DDL(), "CREATE VIEW")
	if !ok {
		t.Fatal("ddl.sql: no views")
	}
	q, err := benchmark.Query("q12")
	if err != nil {
		t.Fatal(err)
	}
	q = strings.Replace(q, "'blackhole'", "'collect'", 1)
	want := runQ(t, sqlite, db, "q12")
	for _, par := range []int{1, 4} {
		plan, err := sql.Compile(table(t, events)+"CREATE VIEW"+views+q, sql.Options{Parallelism: par})
		if err != nil {
			t.Fatalf("q12: %v", err)
		}
		if err := runtime.Run(context.Background(), plan.Graph, runtime.Options{Parallelism: par}); err != nil {
			t.Fatalf("q12: %v", err)
		}
		mu.Lock()
		out := collected["nexmark_q12"]
		mu.Unlock()
		totals := map[int64]int64{}
		for i, r := range out.Rows() {
			if k := out.Kinds(); k != nil && k[i] != runtime.Insert {
				t.Fatalf("q12 at parallelism %d: row %d is %v, want only +I", par, i, k[i])
			}
			if r[2].Null || r[3].Null || r[3].I-r[2].I != 10_000 || r[2].I%10_000 != 0 {
				t.Fatalf("q12 at parallelism %d: window [%v, %v) is not an aligned 10 s window", par, r[2], r[3])
			}
			totals[r[0].I] += r[1].I
		}
		var got []string
		for b, n := range totals {
			got = append(got, fmt.Sprintf("%d,%d,%s,%s", b, n, Null, Null))
		}
		sort.Strings(got)
		same(t, "q12 at parallelism "+strconv.Itoa(par), got, append([]string(nil), want...))
	}
}

// TestNexmarkQ13AsWrittenJoinsTheSideInput runs q13's query as
// bench/nexmark/queries writes it (a processing-time temporal join of the
// bids with a side table, on MOD(B.auction, 10000) = S.key) and compares
// it with the oracle at parallelism 1 and 4. The side table's DDL (a
// source DDL, Sluice's file connector in q13.sql where Nexmark writes
// Flink's legacy keys) reads a copy of data/side_input.txt; the side table
// is bounded, so the join reads it to its end first and the result is
// deterministic.
func TestNexmarkQ13AsWrittenJoinsTheSideInput(t *testing.T) {
	sqlite, db := loaded(t)
	_, views, ok := strings.Cut(benchmark.DDL(), "CREATE VIEW")
	if !ok {
		t.Fatal("ddl.sql: no views")
	}
	q, err := benchmark.Query("q13")
	if err != nil {
		t.Fatal(err)
	}
	start := strings.Index(q, "CREATE TABLE side_input")
	end := strings.Index(q, "CREATE TABLE nexmark_q13")
	if start < 0 || end < start {
		t.Fatal("q13.sql: no side_input table before nexmark_q13")
	}
	side := benchmark.SideInput()
	path := filepath.Join(t.TempDir(), "side_input.txt")
	if err := os.WriteFile(path, side, 0o644); err != nil {
		t.Fatal(err)
	}
	q = q[:start] + "CREATE TABLE side_input (key BIGINT, `value` VARCHAR) WITH ('connector' = 'file', 'path' = '" + path +
		"', 'format' = 'csv');\n\n" + q[end:]
	q = strings.Replace(q, "'blackhole'", "'collect'", 1)
	want := runQ(t, sqlite, db, "q13")
	for _, par := range []int{1, 4} {
		plan, err := sql.Compile(table(t, events)+"CREATE VIEW"+views+q, sql.Options{Parallelism: par})
		if err != nil {
			t.Fatalf("q13: %v", err)
		}
		if err := runtime.Run(context.Background(), plan.Graph, runtime.Options{Parallelism: par}); err != nil {
			t.Fatalf("q13: %v", err)
		}
		mu.Lock()
		out := collected["nexmark_q13"]
		mu.Unlock()
		var rows []string
		for _, r := range out.Rows() {
			rows = append(rows, Format("q13", r))
		}
		got, err := Apply(rows, out.Kinds())
		if err != nil {
			t.Fatalf("q13 at parallelism %d: %v", par, err)
		}
		same(t, "q13 at parallelism "+strconv.Itoa(par), got, append([]string(nil), want...))
	}
}
