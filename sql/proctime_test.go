package sql

import (
	"strings"
	"testing"
)

// TestProcTimeAttributeSurvivesSubqueriesAndDrivesWindows checks that a
// PROCTIME() column stays a processing-time attribute through a view, a
// subquery and a rename, and that a group window and a window table
// function over it plan processing-time windows which, at the end of the
// bounded input, count every row exactly once per key (k has 10 values,
// 100 rows each), at parallelism 1 and 3.
func TestProcTimeAttributeSurvivesSubqueriesAndDrivesWindows(t *testing.T) {
	queries := map[string]string{
		"group window": `SELECT k, COUNT(*) AS n, SUM(v) AS s FROM (SELECT k, v, p_time FROM V) AS x(k, v, pt)
GROUP BY k, TUMBLE(pt, INTERVAL '1' HOUR)`,
		"window TVF": `SELECT k, COUNT(*) AS n, SUM(v) AS s
FROM TABLE(TUMBLE(TABLE V, DESCRIPTOR(p_time), INTERVAL '1' HOUR)) GROUP BY k, window_start, window_end`,
	}
	for name, q := range queries {
		for _, par := range []int{1, 3} {
			run(t, src+`
CREATE VIEW V AS SELECT *, PROCTIME() AS p_time FROM src;
CREATE TABLE out WITH ('connector' = 'collect');
INSERT INTO out `+q+`;`, par)
			totals := map[int64][2]int64{}
			for _, r := range collected("out").Rows() {
				c := totals[r[0].I]
				totals[r[0].I] = [2]int64{c[0] + r[1].I, c[1] + r[2].I}
			}
			if len(totals) != 10 {
				t.Fatalf("%s at parallelism %d: %d keys, want 10: %v", name, par, len(totals), totals)
			}
			for k, c := range totals {
				// Key k holds v = k, k+10, …, k+990: 100 rows summing to 100k + 49500.
				if c[0] != 100 || c[1] != 100*k+49500 {
					t.Errorf("%s at parallelism %d: key %d counted %d rows summing to %d, want 100 and %d", name, par, k, c[0], c[1], 100*k+49500)
				}
			}
		}
	}
}

// TestProcTimeWindowNamesItsOperator checks that the plan of a window over
// PROCTIME() says so, and that a window over a column that is neither an
// event-time nor a processing-time attribute is still refused.
func TestProcTimeWindowNamesItsOperator(t *testing.T) {
	plan, err := Compile(src+`
CREATE TABLE out WITH ('connector' = 'collect');
INSERT INTO out SELECT k, COUNT(*) FROM (SELECT k, PROCTIME() AS pt FROM src) GROUP BY k, TUMBLE(pt, INTERVAL '10' SECOND);`,
		Options{File: "job.sql", Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan.Explain(), "PROCTIME") {
		t.Errorf("plan has no processing-time window:\n%s", plan.Explain())
	}
	_, err = Compile(src+`
CREATE TABLE out WITH ('connector' = 'collect');
INSERT INTO out SELECT k, COUNT(*) FROM (SELECT k, v AS pt FROM src) GROUP BY k, TUMBLE(pt, INTERVAL '10' SECOND);`,
		Options{File: "job.sql", Parallelism: 1})
	if err == nil || !strings.Contains(err.Error(), "pt is not a time attribute") {
		t.Errorf("a window over a plain column: got %v, want an error saying pt is not a time attribute", err)
	}
}

// TestProcTimeComputedColumnOfATable checks that CREATE TABLE's column
// p AS PROCTIME(), wherever it is declared (here first), is a
// processing-time attribute of the table (its source's rows get the
// processing time), shown by DESCRIBE in its place, and that a group window
// over it counts every row once per key.
func TestProcTimeComputedColumnOfATable(t *testing.T) {
	const table = `
CREATE TABLE t (pt AS PROCTIME(), k BIGINT, v BIGINT)
WITH ('connector' = 'datagen', 'number-of-rows' = '1000',
      'fields.k.kind' = 'sequence', 'fields.k.start' = '0', 'fields.k.end' = '9',
      'fields.v.kind' = 'sequence', 'fields.v.start' = '0', 'fields.v.end' = '999');
`
	var out strings.Builder
	if _, err := Compile(table+"DESCRIBE t;", Options{File: "job.sql", Parallelism: 1, Out: &out}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "pt      TIMESTAMP(3)  NOT NULL  AS PROCTIME()\nk ") {
		t.Errorf("DESCRIBE does not show the PROCTIME() column first:\n%s", out.String())
	}
	for _, par := range []int{1, 3} {
		run(t, table+`CREATE TABLE out WITH ('connector' = 'collect');
INSERT INTO out SELECT k, COUNT(*), SUM(v) FROM t GROUP BY k, TUMBLE(pt, INTERVAL '1' HOUR);`, par)
		totals := map[int64][2]int64{}
		for _, r := range collected("out").Rows() {
			c := totals[r[0].I]
			totals[r[0].I] = [2]int64{c[0] + r[1].I, c[1] + r[2].I}
		}
		if len(totals) != 10 {
			t.Fatalf("parallelism %d: %d keys, want 10", par, len(totals))
		}
		for k, c := range totals {
			if c[0] != 100 || c[1] != 100*k+49500 {
				t.Errorf("parallelism %d: key %d counted %d rows summing to %d, want 100 and %d", par, k, c[0], c[1], 100*k+49500)
			}
		}
	}
}
