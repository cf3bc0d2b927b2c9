package sql

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/state"
)

// TestWindowJoinsMatchSQLite runs window joins — of two window
// aggregations (TUMBLE and HOP) as INNER, LEFT, RIGHT and FULL joins, of a
// window table function's rows with a window aggregation with a residual
// condition, and a window aggregation cascading on a window join's
// window_time — into 'append' sinks (the results must be append-only) at
// parallelism 1 and 3, over the out-of-order events of the differential
// test, and compares each with SQLite's join of the same windows.
func TestWindowJoinsMatchSQLite(t *testing.T) {
	sqlite := needSQLite(t)
	for _, seed := range taSeeds(1, 2, 5, 7) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			dir := t.TempDir()
			d := genEvents(seed)
			if err := d.writeJSON(filepath.Join(dir, "events")); err != nil {
				t.Fatal(err)
			}
			db := filepath.Join(dir, "events.db")
			if err := d.loadSQLite(sqlite, db, filepath.Join(dir, "events.sql")); err != nil {
				t.Fatal(err)
			}
			T, S, H, th := d.tumble, d.slide, d.hopSize, d.threshold
			ms := func(n int64) string { return fmt.Sprintf("INTERVAL '%d' MILLISECOND", n) }
			tumble := fmt.Sprintf("TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), %s))", ms(T))
			hop := fmt.Sprintf("TABLE(HOP(TABLE ev, DESCRIPTOR(ts), %s, %s))", ms(S), ms(H))
			ddl := d.ddl(filepath.Join(dir, "events")) + fmt.Sprintf(`
CREATE VIEW ta AS SELECT kb, window_start, window_end, window_time, COUNT(*) AS n FROM %[1]s WHERE vi > %[3]d GROUP BY kb, window_start, window_end, window_time;
CREATE VIEW tb AS SELECT kb, window_start AS ws, window_end AS we, SUM(vi) AS s FROM %[1]s WHERE vi <= %[3]d OR vi IS NULL GROUP BY kb, window_start, window_end;
CREATE VIEW tj AS SELECT a.window_time AS rt, a.n, b.s FROM ta a JOIN tb b ON a.window_start = b.ws AND a.window_end = b.we AND a.kb = b.kb;
CREATE VIEW ha AS SELECT kb, window_start, window_end, COUNT(*) AS n FROM %[2]s WHERE vi > %[3]d GROUP BY kb, window_start, window_end;
CREATE VIEW hb AS SELECT kb, window_start, window_end, SUM(vi) AS s FROM %[2]s WHERE vi <= %[3]d OR vi IS NULL GROUP BY kb, window_start, window_end;
`, tumble, hop, th)
			tumbled := fmt.Sprintf("(SELECT ev.*, %s AS ws FROM ev)", floor("ts", T))
			var offs []string
			for k := int64(0); k < H/S; k++ {
				offs = append(offs, fmt.Sprintf("(%d)", k))
			}
			hopped := fmt.Sprintf("(WITH o(k) AS (VALUES %s) SELECT ev.*, %s - o.k * %d AS ws FROM ev CROSS JOIN o)",
				strings.Join(offs, ", "), floor("ts", S), S)
			// SQLite: the four window aggregations as indexed tables.
			prep := fmt.Sprintf(`CREATE TABLE ta AS SELECT kb, ws, COUNT(*) AS n FROM %[1]s WHERE vi > %[3]d GROUP BY kb, ws;
CREATE TABLE tb AS SELECT kb, ws, SUM(vi) AS s FROM %[1]s WHERE vi <= %[3]d OR vi IS NULL GROUP BY kb, ws;
CREATE TABLE ha AS SELECT kb, ws, COUNT(*) AS n FROM %[2]s WHERE vi > %[3]d GROUP BY kb, ws;
CREATE TABLE hb AS SELECT kb, ws, SUM(vi) AS s FROM %[2]s WHERE vi <= %[3]d OR vi IS NULL GROUP BY kb, ws;
CREATE INDEX ta_i ON ta (ws, kb); CREATE INDEX tb_i ON tb (ws, kb); CREATE INDEX ha_i ON ha (ws, kb); CREATE INDEX hb_i ON hb (ws, kb);
`, tumbled, hopped, th)
			if _, err := sqlite3(sqlite, strings.NewReader(prep), "-bail", db); err != nil {
				t.Fatal(err)
			}
			with := ""
			qs := []taQuery{
				{
					name:   "tumble_inner",
					sluice: "SELECT a.kb, a.window_start, a.window_end, a.n, b.s FROM ta a JOIN tb b ON a.window_start = b.ws AND a.window_end = b.we AND a.kb = b.kb",
					sqlite: with + fmt.Sprintf("SELECT a.kb, a.ws, a.ws + %d, a.n, b.s FROM ta a JOIN tb b ON a.ws = b.ws AND a.kb = b.kb", T),
					kinds:  []colKind{kInt, kTime, kTime, kInt, kInt}, nGroup: 3,
				},
				{
					name:   "tumble_left",
					sluice: "SELECT a.kb, a.window_start, a.n, b.s, b.we FROM ta a LEFT JOIN tb b ON b.we = a.window_end AND a.kb = b.kb AND b.ws = a.window_start",
					sqlite: with + fmt.Sprintf("SELECT a.kb, a.ws, a.n, b.s, b.ws + %d FROM ta a LEFT JOIN tb b ON a.ws = b.ws AND a.kb = b.kb", T),
					kinds:  []colKind{kInt, kTime, kInt, kInt, kTime}, nGroup: 2,
				},
				{
					name:   "hop_right",
					sluice: "SELECT b.kb, b.window_start, b.window_end, a.n, b.s FROM ha a RIGHT JOIN hb b ON a.window_start = b.window_start AND a.window_end = b.window_end AND a.kb = b.kb",
					sqlite: with + fmt.Sprintf("SELECT b.kb, b.ws, b.ws + %d, a.n, b.s FROM ha a RIGHT JOIN hb b ON a.ws = b.ws AND a.kb = b.kb", H),
					kinds:  []colKind{kInt, kTime, kTime, kInt, kInt}, nGroup: 3,
				},
				{
					name: "hop_full_residual",
					sluice: "SELECT COALESCE(a.kb, b.kb), COALESCE(a.window_start, b.window_start), a.n, b.s FROM ha a FULL JOIN hb b " +
						"ON a.window_start = b.window_start AND a.window_end = b.window_end AND a.kb = b.kb AND a.n > 1",
					sqlite: with + "SELECT COALESCE(a.kb, b.kb), COALESCE(a.ws, b.ws), a.n, b.s FROM ha a FULL JOIN hb b ON a.ws = b.ws AND a.kb = b.kb AND a.n > 1",
					kinds:  []colKind{kInt, kTime, kInt, kInt}, nGroup: 2,
				},
				{
					name: "tumble_rows_with_aggregation",
					sluice: fmt.Sprintf("SELECT r.kb, r.vi, r.window_start, b.lo FROM (SELECT * FROM %[1]s WHERE vi > %[2]d) r "+
						"JOIN (SELECT kb, window_start, window_end, MIN(vi) AS lo FROM %[1]s GROUP BY kb, window_start, window_end) b "+
						"ON r.window_start = b.window_start AND r.window_end = b.window_end AND r.kb = b.kb AND r.vi < b.lo + 10", tumble, th),
					sqlite: fmt.Sprintf("SELECT r.kb, r.vi, r.ws, b.lo FROM %[1]s r JOIN (SELECT kb, ws, MIN(vi) AS lo FROM %[1]s GROUP BY kb, ws) b "+
						"ON r.ws = b.ws AND r.kb = b.kb AND r.vi < b.lo + 10 WHERE r.vi > %[2]d", tumbled, th),
					kinds: []colKind{kInt, kInt, kTime, kInt}, nGroup: 3,
				},
				{
					name: "cascade_on_window_time",
					sluice: fmt.Sprintf("SELECT window_start, window_end, COUNT(*), SUM(n), SUM(s) FROM TABLE(TUMBLE(TABLE "+
						"tj, DESCRIPTOR(rt), %s)) "+
						"GROUP BY window_start, window_end", ms(4*T)),
					sqlite: with + fmt.Sprintf("SELECT %[1]s AS w4, %[1]s + %[2]d, COUNT(*), SUM(n), SUM(s) FROM (SELECT a.ws + %[3]d - 1 AS rt, a.n, b.s FROM ta a JOIN tb b ON a.ws = b.ws AND a.kb = b.kb) GROUP BY w4",
						floor("rt", 4*T), 4*T, T),
					kinds: []colKind{kTime, kTime, kInt, kInt, kInt}, nGroup: 2,
				},
			}
			runTADifferential(t, sqlite, db, ddl, d.describe(), qs)
		})
	}
}

// TestWindowJoinFreesEachWindowsState runs a self-join of a window table
// function's rows on (k, window_start, window_end) under a key limit of
// 40: as a window join it keeps only the windows the watermark has not
// passed (at most a few windows of 10 keys) and emits every pair, while the
// same join with the window columns computed (so a regular join, keeping
// every (k, window) of the run: 100) fails with the state limit.
func TestWindowJoinFreesEachWindowsState(t *testing.T) {
	const tvf = "TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND))"
	const limit = "SET 'sluice.state.max-keys' = '40';\nCREATE TABLE out WITH ('connector' = 'collect');\n"
	windowed := "INSERT INTO out SELECT a.k, a.v, b.v FROM " + tvf + " a JOIN " + tvf + " b ON a.window_start = b.window_start AND a.window_end = b.window_end AND a.k = b.k;"
	// Throttled, the source emits blocks of 10 ms of rows, each followed
	// by a watermark.
	paced := strings.Replace(src, "'number-of-rows' = '1000',", "'number-of-rows' = '1000', 'rows-per-second' = '4000',", 1)
	plan, err := runPlan(t, paced+limit+windowed, Options{})
	if err != nil {
		t.Fatalf("window join under the key limit: %v", err)
	}
	if x := plan.Explain(); !strings.Contains(x, "window join TUMBLE(1s)") {
		t.Fatalf("not a window join:\n%s", x)
	}
	// 1000 rows, 10 keys, 100 rows per 1 s window: 10 rows per key and
	// window, so 10 windows × 10 keys × 10 × 10 pairs.
	if n := len(collected("out").Rows()); n != 10000 {
		t.Fatalf("%d rows, want 10000", n)
	}
	regular := "INSERT INTO out SELECT a.k, a.v, b.v FROM (SELECT k, v, window_start + INTERVAL '0' SECOND AS ws, window_end + INTERVAL '0' SECOND AS we FROM " + tvf +
		") a JOIN (SELECT k, v, window_start + INTERVAL '0' SECOND AS ws, window_end + INTERVAL '0' SECOND AS we FROM " + tvf + ") b ON a.ws = b.ws AND a.we = b.we AND a.k = b.k;"
	if _, err := runPlan(t, paced+limit+regular, Options{}); !errors.Is(err, state.ErrStateLimit) {
		t.Fatalf("the regular join: got %v, want the state limit", err)
	}
}

// TestWindowJoinDropsLateRows runs window joins (INNER and LEFT, of two
// window table functions over one paced source, TUMBLE and HOP) whose
// input has rows 5 s behind their neighbours — late: their windows ended
// seconds before the watermark — at parallelism 1 and 3, and checks the
// result equals the join of the on-time rows alone (computed here), that
// it is append-only, and that the late rows were counted.
func TestWindowJoinDropsLateRows(t *testing.T) {
	const table = `
CREATE TABLE ev (k BIGINT, v BIGINT, ts0 TIMESTAMP(3),
  ts AS CASE WHEN v % 50 = 0 AND v >= 500 THEN ts0 - INTERVAL '5' SECOND ELSE ts0 END,
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'datagen', 'number-of-rows' = '1000', 'rows-per-second' = '4000',
      'fields.k.kind' = 'sequence', 'fields.k.start' = '0', 'fields.k.end' = '9',
      'fields.v.kind' = 'sequence', 'fields.v.start' = '0', 'fields.v.end' = '999',
      'fields.ts0.kind' = 'sequence', 'fields.ts0.step' = '10ms');
CREATE TABLE out WITH ('connector' = 'append');
`
	// Row i: k = i % 10, v = i, ts0 = start + 10 i ms (start the
	// datagen's first time); the late rows are dropped by the join.
	type row struct{ k, v, ws int64 }
	windows := func(ts int64, hop bool) []int64 {
		if !hop {
			return []int64{ts - ts%1000}
		}
		var ws []int64
		for s := ts - ts%500; s > ts-1000; s -= 500 {
			ws = append(ws, s)
		}
		return ws
	}
	for _, c := range []struct {
		name, fn  string
		hop, left bool
	}{
		{"tumble inner", "TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' SECOND)", false, false},
		{"hop left", "HOP(TABLE ev, DESCRIPTOR(ts), INTERVAL '500' MILLISECOND, INTERVAL '1' SECOND)", true, true},
	} {
		var l, r []row
		for i := int64(0); i < 1000; i++ {
			if i%50 == 0 && i >= 500 {
				continue
			}
			for _, ws := range windows(i*10, c.hop) {
				switch i % 3 {
				case 0:
					l = append(l, row{i % 10, i, ws})
				case 1:
					r = append(r, row{i % 10, i, ws})
				}
			}
		}
		var want []string
		for _, a := range l {
			n := 0
			for _, b := range r {
				if a.k == b.k && a.ws == b.ws {
					want = append(want, fmt.Sprintf("%d,%d,%d", a.k, a.v, b.v))
					n++
				}
			}
			if n == 0 && c.left {
				want = append(want, fmt.Sprintf("%d,%d,NULL", a.k, a.v))
			}
		}
		slices.Sort(want)
		join := "JOIN"
		if c.left {
			join = "LEFT JOIN"
		}
		q := fmt.Sprintf("INSERT INTO out SELECT a.k, a.v, b.v FROM (SELECT * FROM TABLE(%[1]s) WHERE v %% 3 = 0) a %[2]s (SELECT * FROM TABLE(%[1]s) WHERE v %% 3 = 1) b "+
			"ON a.window_start = b.window_start AND a.window_end = b.window_end AND a.k = b.k;", c.fn, join)
		for _, par := range []int{1, 3} {
			plan, err := Compile(table+q, Options{File: "job.sql", Parallelism: par})
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			set := metrics.NewSet()
			if err := runtime.Run(context.Background(), plan.Graph, runtime.Options{Parallelism: par, Metrics: set}); err != nil {
				t.Fatalf("%s at parallelism %d: %v", c.name, par, err)
			}
			late := runtime.Stats(set).Total().LateRowsDropped
			got := collected("out").Strings()
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("%s at parallelism %d: %d rows, want %d; %s", c.name, par, len(got), len(want), firstDiff(got, want))
			}
			if late == 0 {
				t.Fatalf("%s at parallelism %d: no late row counted", c.name, par)
			}
		}
	}
}
