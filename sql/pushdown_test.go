package sql

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func filterNodes(t *testing.T, job string) int {
	t.Helper()
	plan, err := Compile(job, Options{File: "job.sql", Parallelism: 2})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, node := range plan.Graph.Nodes {
		if node.Name == "filter" {
			n++
		}
	}
	return n
}

// TestInnerJoinFiltersEachSideFirst: the WHERE terms of an inner join
// that read one side (as Nexmark q3's) filter that side before the join,
// and the result is the join's with the WHERE after it, at parallelism 1
// and 4.
func TestInnerJoinFiltersEachSideFirst(t *testing.T) {
	job := src + `
CREATE TABLE out WITH ('connector' = 'collect');
INSERT INTO out SELECT a.v, b.v FROM src AS a JOIN (SELECT k AS bk, v FROM src) AS b ON a.k = b.bk
WHERE a.v < 30 AND b.v >= 990 AND a.v + b.v > 1000;
`
	if n := filterNodes(t, job); n != 2 {
		t.Fatalf("%d filters before the join, want 2", n)
	}
	var want []string
	for a := range 30 {
		for b := 990; b < 1000; b++ {
			if a%10 == b%10 && a+b > 1000 {
				want = append(want, fmt.Sprintf("%d,%d", a, b))
			}
		}
	}
	slices.Sort(want)
	for _, par := range []int{1, 4} {
		run(t, job, par)
		if got := collected("out").Sorted(); !slices.Equal(got, want) {
			t.Fatalf("parallelism %d: got\n%s\nwant\n%s", par, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

// TestOuterJoinWhereStaysAfterTheJoin: a LEFT JOIN's WHERE on its right
// side (here IS NULL: the rows without a match) is not moved below the
// join, where it would keep the wrong rows; nor is a term with a function
// call or one naming an ambiguous column, whose error stays.
func TestOuterJoinWhereStaysAfterTheJoin(t *testing.T) {
	job := src + `
CREATE TABLE out WITH ('connector' = 'collect');
INSERT INTO out SELECT a.v FROM src AS a LEFT JOIN (SELECT v + 5 AS w FROM src WHERE v < 100) AS b ON a.v = b.w
WHERE b.w IS NULL AND a.v < 110;
`
	if n := filterNodes(t, job); n != 0 {
		t.Fatalf("%d filters before the LEFT JOIN, want 0", n)
	}
	var want []string
	for v := range 110 {
		if v < 5 || v >= 105 {
			want = append(want, fmt.Sprint(v))
		}
	}
	slices.Sort(want)
	run(t, job, 2)
	c := collected("out")
	if got := finalState(t, "out", c.Kinds(), c.Strings()); !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	calls := src + `
CREATE TABLE out2 WITH ('connector' = 'collect');
INSERT INTO out2 SELECT a.v FROM src AS a JOIN src AS b ON a.k = b.k WHERE MOD(a.v, 2) = 0;
`
	if n := filterNodes(t, calls); n != 0 {
		t.Fatalf("%d filters for a term with a call, want 0", n)
	}
	_, err := Compile(src+`
CREATE TABLE out3 WITH ('connector' = 'collect');
INSERT INTO out3 SELECT a.v FROM src AS a JOIN src AS b ON a.k = b.k WHERE v < 3;
`, Options{File: "job.sql", Parallelism: 1})
	if err == nil || !strings.Contains(err.Error(), `column "v" is ambiguous`) {
		t.Fatalf("an ambiguous column: %v", err)
	}
}
