package sql

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/runtime"
)

func sourceNodes(g *runtime.Graph) int {
	n := 0
	for _, node := range g.Nodes {
		if node.NewSource != nil {
			n++
		}
	}
	return n
}

// TestTableReadTwiceIsOneSource: a job that reads a table in two
// UNION ALL branches and on both sides of a join plans one source for it,
// and every reader still gets every row, at parallelism 1 and 4.
func TestTableReadTwiceIsOneSource(t *testing.T) {
	job := src + `
CREATE VIEW evens AS SELECT v FROM src WHERE MOD(v, 2) = 0;
CREATE TABLE out WITH ('connector' = 'collect');
INSERT INTO out SELECT v FROM evens UNION ALL SELECT v FROM src WHERE MOD(v, 2) = 1;
CREATE TABLE pairs WITH ('connector' = 'collect');
INSERT INTO pairs SELECT a.v, b.v FROM src AS a JOIN (SELECT v + 500 AS w, v FROM src) AS b ON a.v = b.w;
`
	plan, err := Compile(job, Options{File: "job.sql", Parallelism: 2})
	if err != nil {
		t.Fatal(err)
	}
	if n := sourceNodes(plan.Graph); n != 1 {
		t.Fatalf("%d source nodes, want 1", n)
	}
	var all, pairs []string
	for v := range 1000 {
		all = append(all, fmt.Sprint(v))
		if v >= 500 {
			pairs = append(pairs, fmt.Sprintf("%d,%d", v, v-500))
		}
	}
	slices.Sort(all)
	slices.Sort(pairs)
	for _, par := range []int{1, 4} {
		run(t, job, par)
		if got := collected("out").Sorted(); !slices.Equal(got, all) {
			t.Fatalf("parallelism %d: UNION ALL of both halves: %d rows, want the 1000 values", par, len(got))
		}
		if got := collected("pairs").Sorted(); !slices.Equal(got, pairs) {
			t.Fatalf("parallelism %d: self-join: %d rows, want 500:\n%s", par, len(got), strings.Join(got, "\n"))
		}
	}
}

// TestTableRedefinedIsReadAnew: a table dropped and created again between
// two INSERTs is another source: each INSERT reads its own definition.
func TestTableRedefinedIsReadAnew(t *testing.T) {
	job := src + `
CREATE TABLE a WITH ('connector' = 'collect');
INSERT INTO a SELECT v FROM src;
DROP TABLE src;
CREATE TABLE src (k BIGINT, v BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'datagen', 'number-of-rows' = '10',
      'fields.v.kind' = 'sequence', 'fields.v.start' = '0', 'fields.v.end' = '9');
CREATE TABLE b WITH ('connector' = 'collect');
INSERT INTO b SELECT v FROM src;
`
	plan, err := Compile(job, Options{File: "job.sql", Parallelism: 2})
	if err != nil {
		t.Fatal(err)
	}
	if n := sourceNodes(plan.Graph); n != 2 {
		t.Fatalf("%d source nodes, want 2", n)
	}
	run(t, job, 2)
	if a, b := len(collected("a").Sorted()), len(collected("b").Sorted()); a != 1000 || b != 10 {
		t.Fatalf("%d and %d rows, want 1000 and 10", a, b)
	}
}
