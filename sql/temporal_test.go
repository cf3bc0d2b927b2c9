package sql

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/runtime"
)

// versioned is a table of versions of the rate of each key k (0…9): 200
// rows, 37 ms apart, so each key gets a new version every 370 ms, from the
// same start as src's rows (10 ms apart).
const versioned = `
CREATE TABLE rates (k BIGINT, r BIGINT, ts TIMESTAMP(3), PRIMARY KEY (k) NOT ENFORCED, WATERMARK FOR ts AS ts)
WITH ('connector' = 'datagen', 'number-of-rows' = '200',
      'fields.k.kind' = 'sequence', 'fields.k.start' = '0', 'fields.k.end' = '9',
      'fields.r.kind' = 'sequence', 'fields.r.start' = '0', 'fields.r.end' = '199',
      'fields.ts.kind' = 'sequence', 'fields.ts.step' = '37ms');
`

// rowsOf runs SELECT * FROM table and returns its rows.
func rowsOf(t *testing.T, ddl, table string) [][]runtime.Value {
	t.Helper()
	run(t, ddl+`CREATE TABLE dump WITH ('connector' = 'collect');
INSERT INTO dump SELECT * FROM `+table+`;`, 1)
	return collected("dump").Rows()
}

// TestEventTimeTemporalJoinMatchesTheVersionValidAtEachRow joins src with
// the versions of rates FOR SYSTEM_TIME AS OF src.ts (INNER and LEFT, with
// a residual) and checks every output row against a plain Go computation
// from the two tables' rows: the version of k with the latest time <= the
// row's time, at parallelism 1 and 3; and that the probe's time stays a
// time attribute (a tumbling window over the result counts every row).
func TestEventTimeTemporalJoinMatchesTheVersionValidAtEachRow(t *testing.T) {
	probe := rowsOf(t, src, "src")
	vers := rowsOf(t, versioned, "rates")
	// want: for each probe row, the rate valid at its time (or none).
	ref := func(left bool, residual func(v, r int64) bool) []string {
		var out []string
		for _, p := range probe {
			var best []runtime.Value
			for _, v := range vers {
				if v[0].I == p[0].I && v[2].I <= p[2].I && (best == nil || v[2].I >= best[2].I) {
					best = v
				}
			}
			switch {
			case best != nil && residual(p[1].I, best[1].I):
				out = append(out, fmt.Sprintf("%d|%d|%d|%d", p[0].I, p[1].I, p[2].I, best[1].I))
			case left:
				out = append(out, fmt.Sprintf("%d|%d|%d|NULL", p[0].I, p[1].I, p[2].I))
			}
		}
		slices.Sort(out)
		return out
	}
	cases := []struct {
		name, query string
		want        []string
	}{
		{"inner", `SELECT s.k, s.v, s.ts, x.r FROM src AS s JOIN rates FOR SYSTEM_TIME AS OF s.ts AS x ON s.k = x.k`,
			ref(false, func(int64, int64) bool { return true })},
		{"left with a residual", `SELECT s.k, s.v, s.ts, x.r FROM src AS s LEFT JOIN rates FOR SYSTEM_TIME AS OF s.ts AS x ON x.k = s.k AND x.r % 3 <> 0`,
			ref(true, func(_, r int64) bool { return r%3 != 0 })},
	}
	for _, c := range cases {
		if len(c.want) < 500 {
			t.Fatalf("%s: the reference has only %d rows", c.name, len(c.want))
		}
		for _, par := range []int{1, 3} {
			run(t, src+versioned+`CREATE TABLE out WITH ('connector' = 'collect');
INSERT INTO out `+c.query+`;`, par)
			got := collected("out").Rows()
			var rows []string
			for _, r := range got {
				s := fmt.Sprintf("%d|%d|%d|", r[0].I, r[1].I, r[2].I)
				if r[3].Null {
					s += "NULL"
				} else {
					s += fmt.Sprint(r[3].I)
				}
				rows = append(rows, s)
			}
			slices.Sort(rows)
			if !slices.Equal(rows, c.want) {
				t.Errorf("%s at parallelism %d: %d rows, want %d; first difference near %v",
					c.name, par, len(rows), len(c.want), firstDiff(rows, c.want))
			}
		}
	}
	// The probe's time is the result's time attribute: a window follows.
	run(t, src+versioned+`CREATE TABLE out WITH ('connector' = 'collect');
INSERT INTO out SELECT COUNT(*) FROM (SELECT s.ts, x.r FROM src AS s LEFT JOIN rates FOR SYSTEM_TIME AS OF s.ts AS x ON s.k = x.k)
GROUP BY TUMBLE(ts, INTERVAL '1' HOUR);`, 2)
	if rows := collected("out").Rows(); len(rows) != 1 || rows[0][0].I != int64(len(probe)) {
		t.Errorf("window over the join: %v, want one window of %d rows", rows, len(probe))
	}
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("got %s, want %s", a[i], b[i])
		}
	}
	return "the end of the shorter"
}

// TestProcTimeTemporalJoinReadsABoundedSideFirst joins src, stamped with
// PROCTIME(), with a bounded table keyed by an expression over src (as
// Nexmark q13): the side table is read to its end first, so every row
// finds the side table's last row of its key, at parallelism 1 and 3.
func TestProcTimeTemporalJoinReadsABoundedSideFirst(t *testing.T) {
	for _, par := range []int{1, 3} {
		plan, err := Compile(src+versioned+`CREATE TABLE out WITH ('connector' = 'collect');
INSERT INTO out SELECT B.v, S.r FROM (SELECT *, PROCTIME() AS pt FROM src) B
JOIN rates FOR SYSTEM_TIME AS OF B.pt AS S ON MOD(B.v, 10) = S.k;`, Options{File: "job.sql", Parallelism: par})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(plan.Explain(), "build side first") {
			t.Errorf("the plan does not read the bounded side first:\n%s", plan.Explain())
		}
		run(t, src+versioned+`CREATE TABLE out WITH ('connector' = 'collect');
INSERT INTO out SELECT B.v, S.r FROM (SELECT *, PROCTIME() AS pt FROM src) B
JOIN rates FOR SYSTEM_TIME AS OF B.pt AS S ON MOD(B.v, 10) = S.k;`, par)
		rows := collected("out").Rows()
		if len(rows) != 1000 {
			t.Fatalf("parallelism %d: %d rows, want 1000", par, len(rows))
		}
		for _, r := range rows {
			// rates' last row of key k is r = 190 + k.
			if r[1].I != 190+r[0].I%10 {
				t.Fatalf("parallelism %d: v = %d joined r = %d, want %d", par, r[0].I, r[1].I, 190+r[0].I%10)
			}
		}
	}
}

// TestTemporalJoinErrorsSayWhatIsWrong checks the refusals: a time that is
// not a time attribute, a condition missing the primary key, FULL, and FOR
// SYSTEM_TIME AS OF outside a join.
func TestTemporalJoinErrorsSayWhatIsWrong(t *testing.T) {
	for _, c := range []struct{ query, want string }{
		{`SELECT * FROM src AS s JOIN rates FOR SYSTEM_TIME AS OF s.v AS x ON s.k = x.k`, "s.v is not a time attribute"},
		{`SELECT * FROM src AS s JOIN rates FOR SYSTEM_TIME AS OF s.ts AS x ON s.k = x.r`, "primary key of x (k)"},
		{`SELECT * FROM src AS s FULL JOIN rates FOR SYSTEM_TIME AS OF s.ts AS x ON s.k = x.k`, "INNER or LEFT"},
		{`SELECT * FROM rates FOR SYSTEM_TIME AS OF ts`, "right side of a temporal join"},
	} {
		_, err := Compile(src+versioned+`CREATE TABLE out WITH ('connector' = 'collect');
INSERT INTO out `+c.query+`;`, Options{File: "job.sql", Parallelism: 1})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.query, err, c.want)
		}
	}
}
