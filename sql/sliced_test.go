package sql

import (
	"strings"
	"testing"
)

// TestHopAndCumulateWindowsAreSliced: a HOP group window and a GROUP BY
// window_start, window_end right over a HOP or CUMULATE table function
// plan a window operator that keeps slices (one per slide or step), not
// one pane per window; FIRST_VALUE keeps panes.
func TestHopAndCumulateWindowsAreSliced(t *testing.T) {
	const tables = `
CREATE TABLE bids (auction BIGINT, price BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE out WITH ('connector' = 'append');
`
	f := func(query, want string) {
		t.Helper()
		plan, err := Compile(tables+"INSERT INTO out "+query+";", Options{File: "job.sql", Parallelism: 2})
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		if ex := plan.Explain(); !strings.Contains(ex, want) {
			t.Errorf("%s: the plan does not say %q:\n%s", query, want, ex)
		}
	}
	slide := "state: one slice per slide of event time"
	f("SELECT auction, HOP_START(ts, INTERVAL '1' SECOND, INTERVAL '1' MINUTE), COUNT(*), MAX(price) FROM bids GROUP BY auction, HOP(ts, INTERVAL '1' SECOND, INTERVAL '1' MINUTE)", slide)
	f("SELECT auction, window_start, window_end, SUM(price) FROM TABLE(HOP(TABLE bids, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '10' SECOND)) GROUP BY auction, window_start, window_end", slide)
	f("SELECT auction, window_start, window_end, SUM(price) FROM TABLE(CUMULATE(TABLE bids, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '10' SECOND)) GROUP BY auction, window_start, window_end", "state: one slice per step of event time")
	f("SELECT auction, window_start, window_end, FIRST_VALUE(price) FROM TABLE(HOP(TABLE bids, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '10' SECOND)) GROUP BY auction, window_start, window_end", "state: one pane per open window")
}
