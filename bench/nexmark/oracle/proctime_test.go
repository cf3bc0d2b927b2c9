package oracle

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"

	benchmark "github.com/sluicehq/sluice/bench/nexmark"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sql"
)

// TestNexmarkQ12AsWrittenCountsEveryBidOnce runs q12 exactly as
// bench/nexmark/queries writes it (a view adding PROCTIME(), a TUMBLE
// window table function over it): its processing-time windows cannot be
// known in advance, so the oracle's per-bidder total must equal the sum
// of a bidder's counts over the windows, at parallelism 1 and 3, and
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
	for _, par := range []int{1, 3} {
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
