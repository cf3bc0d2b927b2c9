package sql

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/operators/expr"
	"github.com/sluicehq/sluice/runtime"
)

// bigSrc holds values near BIGINT's maximum: k 0..3, v from MAX-7 to MAX.
const bigSrc = `
CREATE TABLE big (k BIGINT, v BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
WITH ('connector' = 'datagen', 'number-of-rows' = '8',
      'fields.k.kind' = 'sequence', 'fields.k.start' = '0', 'fields.k.end' = '3',
      'fields.v.kind' = 'sequence', 'fields.v.start' = '9223372036854775800', 'fields.v.end' = '9223372036854775807',
      'fields.ts.kind' = 'sequence', 'fields.ts.step' = '10ms');
CREATE TABLE out WITH ('connector' = 'collect');
`

// runErr runs a job that must fail and returns its error.
func runErr(t *testing.T, src string) error {
	t.Helper()
	plan, err := Compile(src, Options{File: "job.sql", Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	err = runtime.Run(context.Background(), plan.Graph, runtime.Options{Parallelism: 1})
	if err == nil {
		t.Fatalf("the job succeeded; rows:\n%s", strings.Join(collected("out").Sorted(), "\n"))
	}
	return err
}

// TestBigintOverflowFailsTheJob checks that integer arithmetic and SUM out
// of BIGINT's range fail the job with an error naming the operator, the
// column and the row or group, instead of emitting wrapped values
// (2×MAX+2 used to sum to 0).
func TestBigintOverflowFailsTheJob(t *testing.T) {
	f := func(query string, wantType any, want ...string) {
		t.Helper()
		err := runErr(t, bigSrc+query)
		switch wantType.(type) {
		case *expr.OverflowError:
			var oe *expr.OverflowError
			if !errors.As(err, &oe) {
				t.Fatalf("%v: not an *expr.OverflowError", err)
			}
		case *agg.OverflowError:
			var oe *agg.OverflowError
			if !errors.As(err, &oe) {
				t.Fatalf("%v: not an *agg.OverflowError", err)
			}
		}
		for _, w := range append(want, "BIGINT out of range") {
			if !strings.Contains(err.Error(), w) {
				t.Fatalf("error %q does not say %q", err, w)
			}
		}
	}
	f(`INSERT INTO out SELECT k, v + 8 AS later FROM big;`, (*expr.OverflowError)(nil),
		`column later = v + 8`, "k=0, v=9223372036854775800")
	f(`INSERT INTO out SELECT k, v * 2 AS twice FROM big WHERE v > 0;`, (*expr.OverflowError)(nil), "column twice = v * 2")
	f(`INSERT INTO out SELECT k FROM big WHERE -v - 10 < 0;`, (*expr.OverflowError)(nil), "WHERE")
	f(`INSERT INTO out SELECT k, SUM(v) AS total FROM big GROUP BY k;`, (*agg.OverflowError)(nil),
		`operator "group aggregate"`, "SUM(v)", "for the group (k=0)")
	f(`INSERT INTO out SELECT SUM(v) AS total FROM big;`, (*agg.OverflowError)(nil), "SUM(v)", "(global)")
	f(`INSERT INTO out SELECT k, SUM(v) AS total FROM big GROUP BY k, TUMBLE(ts, INTERVAL '1' MINUTE);`, (*agg.OverflowError)(nil),
		`operator "window TUMBLE`, "SUM(v)", "of the group (k=0)")

	// Sums that fit still work.
	run(t, bigSrc+`INSERT INTO out SELECT k, SUM(v - 9223372036854775800) AS s, SUM(v / 4) AS q FROM big GROUP BY k;`, 1)
	final := map[int64][]runtime.Value{}
	kinds := collected("out").Kinds()
	for i, r := range collected("out").Rows() {
		if kinds[i] != runtime.UpdateBefore {
			final[r[0].I] = r
		}
	}
	if r := final[0]; len(r) != 3 || r[1].I != 4 || r[2].I != (9223372036854775800/4+9223372036854775804/4) {
		t.Fatalf("group 0: %v", r)
	}
}
