package sql

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/runtime"
)

// TestAvgOfIntegersHasTheirTypeInSQL checks Flink's result types of AVG
// through the planner: AVG of a BIGINT fills a BIGINT sink column and AVG
// of an INT an INT one, each the sum divided by the count truncated
// toward zero (negative averages too); AVG(CAST(x AS DOUBLE)) is the
// fractional mean, a DOUBLE, which a BIGINT column refuses.
func TestAvgOfIntegersHasTheirTypeInSQL(t *testing.T) {
	const job = `
CREATE TABLE nums (k BIGINT, v BIGINT, i INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'datagen', 'number-of-rows' = '1000',
      'fields.k.kind' = 'sequence', 'fields.k.start' = '0', 'fields.k.end' = '6',
      'fields.v.kind' = 'sequence', 'fields.v.start' = '-600', 'fields.v.end' = '399',
      'fields.i.kind' = 'sequence', 'fields.i.start' = '-50', 'fields.i.end' = '2',
      'fields.ts.kind' = 'sequence', 'fields.ts.step' = '1ms');
CREATE TABLE avgs (k BIGINT, a BIGINT, ai INT, ad DOUBLE, am BIGINT) WITH ('connector' = 'collect');
INSERT INTO avgs
SELECT k, AVG(v), AVG(i), AVG(CAST(v AS DOUBLE)), AVG(MOD(v * v, 13) * 3 - 20)
FROM nums GROUP BY k, TUMBLE(ts, INTERVAL '1' MINUTE);`
	sum, sumI, sumM, n := map[int64]int64{}, map[int64]int64{}, map[int64]int64{}, map[int64]int64{}
	for r := int64(0); r < 1000; r++ {
		k, v := r%7, -600+r
		sum[k] += v
		sumI[k] += -50 + r%53
		sumM[k] += v*v%13*3 - 20
		n[k]++
	}
	var want []string
	for k := range n {
		want = append(want, fmt.Sprintf("%d,%d,%d,%s,%d", k, sum[k]/n[k], sumI[k]/n[k], runtime.FormatFloat(float64(sum[k])/float64(n[k])), sumM[k]/n[k]))
	}
	sort.Strings(want)
	for _, par := range []int{1, 4} {
		run(t, job, par)
		if got := collected("avgs").Sorted(); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("parallelism %d: got\n%s\nwant\n%s", par, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	bad := strings.Replace(job, "ad DOUBLE", "ad BIGINT", 1)
	if _, err := Compile(bad, Options{File: "job.sql", Parallelism: 1}); err == nil || !strings.Contains(err.Error(), "DOUBLE") {
		t.Fatalf("AVG(CAST(v AS DOUBLE)) into a BIGINT column: %v", err)
	}
}
