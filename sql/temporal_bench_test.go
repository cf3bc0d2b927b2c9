package sql

import "testing"

// BenchmarkProcTimeTemporalJoinQuery measures Nexmark q13's shape: rows
// stamped with PROCTIME() joined with a bounded side table (read first) on
// an expression of the row.
func BenchmarkProcTimeTemporalJoinQuery(b *testing.B) {
	benchQuery(b, 200_000, "SELECT g.k, g.v, h.w FROM (SELECT *, PROCTIME() AS pt FROM g) AS g JOIN h FOR SYSTEM_TIME AS OF g.pt AS h ON MOD(g.v, 1000) = h.k")
}

// BenchmarkWindowTopNQuery measures the top 3 rows per key and 1 s
// tumbling window.
func BenchmarkWindowTopNQuery(b *testing.B) {
	benchQuery(b, 200_000, `SELECT k, v, rn FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end, k ORDER BY v DESC) AS rn
FROM TABLE(TUMBLE(TABLE g, DESCRIPTOR(ts), INTERVAL '1' SECOND))) WHERE rn <= 3`)
}

// BenchmarkProcTimeWindowQuery measures Nexmark q12's shape: a count per
// key over 10 s processing-time windows.
func BenchmarkProcTimeWindowQuery(b *testing.B) {
	benchQuery(b, 200_000, `WITH p AS (SELECT *, PROCTIME() AS pt FROM g)
SELECT k, COUNT(*) FROM TABLE(TUMBLE(TABLE p, DESCRIPTOR(pt), INTERVAL '10' SECOND)) GROUP BY k, window_start, window_end`)
}
