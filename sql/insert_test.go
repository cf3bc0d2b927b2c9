package sql

import (
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/runtime"
)

// TestInsertWritesAnIntegerIntoAVarcharColumnAsItsText checks INSERT's
// implicit cast of an integer into a VARCHAR column (Nexmark q6 writes a
// BIGINT seller into one): the column holds the number's decimal text, at
// parallelism 1 and 3, with or without a column list; a DOUBLE into
// VARCHAR is still refused with the place and a hint to CAST.
func TestInsertWritesAnIntegerIntoAVarcharColumnAsItsText(t *testing.T) {
	src := strings.Replace(keysSrc, ", 'rows-per-second' = '10'", "", 1) +
		"CREATE TABLE texts (k VARCHAR, v BIGINT) WITH ('connector' = 'collect');\n" +
		"CREATE TABLE listed (v VARCHAR, k VARCHAR) WITH ('connector' = 'collect');\n" +
		"INSERT INTO texts SELECT k - 10, v FROM keys;\n" +
		"INSERT INTO listed (k, v) SELECT CAST(k AS INT), v FROM keys;\n"
	var want, wantListed []string
	for k := int64(0); k < 20; k++ {
		want = append(want, strings.Join([]string{itoa(k - 10), itoa(k + 1)}, ","))
		wantListed = append(wantListed, strings.Join([]string{itoa(k + 1), itoa(k)}, ","))
	}
	slices.Sort(want)
	slices.Sort(wantListed)
	for _, par := range []int{1, 3} {
		run(t, src, par)
		for _, c := range []struct {
			table string
			want  []string
		}{{"texts", want}, {"listed", wantListed}} {
			var got []string
			for _, r := range collected(c.table).Rows() {
				if r[0].Type != runtime.Varchar || (c.table == "listed" && r[1].Type != runtime.Varchar) {
					t.Fatalf("%s: row %v is not text", c.table, r)
				}
				got = append(got, r[0].String()+","+r[1].String())
			}
			slices.Sort(got)
			if !slices.Equal(got, c.want) {
				t.Fatalf("parallelism %d, %s: got %v, want %v", par, c.table, got, c.want)
			}
		}
	}
	_, err := Compile(keysSrc+"CREATE TABLE d (x VARCHAR) WITH ('connector' = 'collect');\nINSERT INTO d SELECT v / 2.0E0 FROM keys;\n",
		Options{File: "job.sql", Parallelism: 1})
	if err == nil || !strings.Contains(err.Error(), "job.sql:8:13: INSERT INTO d: column 1 (EXPR$0) is DOUBLE but the table's column x is VARCHAR; CAST it") {
		t.Fatalf("got %v, want the DOUBLE into VARCHAR refused", err)
	}
}

func itoa(n int64) string { return runtime.IntValue(n).String() }
