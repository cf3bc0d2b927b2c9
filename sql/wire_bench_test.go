package sql

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime"
)

// benchQuery compiles and runs a job over n datagen rows per iteration and
// reports rows/s.
func benchQuery(b *testing.B, n int, query string) {
	src := `CREATE TABLE g (k BIGINT, v BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
WITH ('connector' = 'datagen', 'number-of-rows' = '` + strconv.Itoa(n) + `',
      'fields.k.kind' = 'random', 'fields.k.min' = '0', 'fields.k.max' = '999',
      'fields.v.kind' = 'random', 'fields.v.min' = '0', 'fields.v.max' = '1000000',
      'fields.ts.kind' = 'sequence', 'fields.ts.step' = '1ms');
CREATE TABLE h (k BIGINT, w BIGINT)
WITH ('connector' = 'datagen', 'number-of-rows' = '1000', 'fields.k.kind' = 'sequence', 'fields.k.start' = '0', 'fields.k.end' = '999');
CREATE TABLE out WITH ('connector' = 'collect');
INSERT INTO out ` + query + ";"
	start := time.Now()
	for b.Loop() {
		plan, err := Compile(src, Options{Parallelism: 2})
		if err != nil {
			b.Fatal(err)
		}
		if err := runtime.Run(context.Background(), plan.Graph, runtime.Options{Parallelism: 2}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/time.Since(start).Seconds(), "rows/s")
}

// BenchmarkTopNQuery measures a Top-3 per key with the rank, through the
// planner and the runtime at parallelism 2.
func BenchmarkTopNQuery(b *testing.B) {
	benchQuery(b, 200_000, "SELECT k, v, rn FROM (SELECT k, v, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC) AS rn FROM g) WHERE rn <= 3")
}

// BenchmarkRegularJoinQuery measures a LEFT regular join of a stream with
// a small table.
func BenchmarkRegularJoinQuery(b *testing.B) {
	benchQuery(b, 200_000, "SELECT g.k, g.v, h.w FROM g LEFT JOIN h ON g.k = h.k")
}

// BenchmarkOverQuery measures a ROWS OVER aggregate per key.
func BenchmarkOverQuery(b *testing.B) {
	benchQuery(b, 200_000, "SELECT k, SUM(v) OVER (PARTITION BY k ORDER BY ts ROWS BETWEEN 10 PRECEDING AND CURRENT ROW) AS s FROM g")
}
