package sql

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/runtime"
)

// TestWindowTopNOverAWindowTVFAndAWindowAggregation plans ROW_NUMBER()
// partitioned by window_start and window_end onto the window Top-N:
// over a window table function directly (top 3 v per k and window, and a
// window deduplication keeping each k's last row of a window), and over a
// window aggregation selecting the window columns (the 2 keys of largest
// sum per window). Each result is append-only (+I only) and equals a
// plain Go computation over src's rows, at parallelism 1 and 3.
func TestWindowTopNOverAWindowTVFAndAWindowAggregation(t *testing.T) {
	rows := rowsOf(t, src, "src")
	const size = int64(1000) // TUMBLE 1 s, in ms
	type row struct{ k, v, ts int64 }
	groups := map[[2]int64][]row{} // (window start, k) → rows
	for _, r := range rows {
		ws := r[2].I - r[2].I%size
		groups[[2]int64{ws, r[0].I}] = append(groups[[2]int64{ws, r[0].I}], row{r[0].I, r[1].I, r[2].I})
	}
	var top3, last []string
	sums := map[int64][][2]int64{} // window start → (k, sum)
	for g, rs := range groups {
		sort.Slice(rs, func(i, j int) bool { return rs[i].v > rs[j].v })
		for i := range min(3, len(rs)) {
			top3 = append(top3, fmt.Sprintf("%d|%d|%d|%d", g[1], rs[i].v, g[0], i+1))
		}
		best, s := rs[0], int64(0)
		for _, r := range rs {
			if r.ts > best.ts {
				best = r
			}
			s += r.v
		}
		last = append(last, fmt.Sprintf("%d|%d|%d", g[1], best.v, g[0]))
		sums[g[0]] = append(sums[g[0]], [2]int64{g[1], s})
	}
	var top2 []string
	for ws, ks := range sums {
		sort.Slice(ks, func(i, j int) bool { return ks[i][1] > ks[j][1] })
		for i := range min(2, len(ks)) {
			top2 = append(top2, fmt.Sprintf("%d|%d|%d|%d", ks[i][0], ks[i][1], ws, i+1))
		}
	}
	const tvf = `TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND))`
	cases := []struct {
		name, query string
		want        []string
	}{
		{"top 3 over a TVF", `SELECT k, v, window_start, rn FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end, k ORDER BY v DESC) AS rn
FROM ` + tvf + `) WHERE rn <= 3`, top3},
		{"dedup keep last", `SELECT k, v, window_start FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end, k ORDER BY ts DESC) AS rn
FROM ` + tvf + `) WHERE rn = 1`, last},
		{"top 2 over a window aggregation", `SELECT k, s, window_start, rn FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY s DESC) AS rn
FROM (SELECT window_start, window_end, k, SUM(v) AS s FROM ` + tvf + ` GROUP BY window_start, window_end, k)) WHERE rn <= 2`, top2},
	}
	for _, c := range cases {
		slices.Sort(c.want)
		for _, par := range []int{1, 3} {
			plan, err := Compile(src+`CREATE TABLE out WITH ('connector' = 'collect');
INSERT INTO out `+c.query+`;`, Options{File: "job.sql", Parallelism: par})
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if !strings.Contains(plan.Explain(), "window Top-N") {
				t.Fatalf("%s: not a window Top-N:\n%s", c.name, plan.Explain())
			}
			run(t, src+`CREATE TABLE out WITH ('connector' = 'collect');
INSERT INTO out `+c.query+`;`, par)
			out := collected("out")
			for _, k := range out.Kinds() {
				if k != runtime.Insert {
					t.Fatalf("%s at parallelism %d: a %v row, want only +I", c.name, par, k)
				}
			}
			var got []string
			for _, r := range out.Rows() {
				var parts []string
				for _, v := range r {
					parts = append(parts, fmt.Sprint(v.I))
				}
				got = append(got, strings.Join(parts, "|"))
			}
			slices.Sort(got)
			if !slices.Equal(got, c.want) {
				t.Errorf("%s at parallelism %d: %d rows, want %d; %s", c.name, par, len(got), len(c.want), firstDiff(got, c.want))
			}
		}
	}
}

// TestTopNOverAProcessingTimeWindowIsNotAWindowTopN checks that a Top-N
// partitioned by the windows of a processing-time window table function,
// which has no watermarks to fire on, stays a Top-N (updating).
func TestTopNOverAProcessingTimeWindowIsNotAWindowTopN(t *testing.T) {
	plan, err := Compile(src+`CREATE TABLE out WITH ('connector' = 'collect');
INSERT INTO out WITH p AS (SELECT *, PROCTIME() AS pt FROM src)
SELECT k, v, rn FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end, k ORDER BY v DESC) AS rn
FROM TABLE(TUMBLE(TABLE p, DESCRIPTOR(pt), INTERVAL '1' SECOND))) WHERE rn <= 3;`, Options{File: "job.sql", Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(plan.Explain(), "window Top-N") {
		t.Errorf("a Top-N over processing-time windows planned as a window Top-N:\n%s", plan.Explain())
	}
}
