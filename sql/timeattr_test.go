package sql

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// taQuery is a query of the time-attribute differential tests: Sluice's
// text and SQLite's, with the kinds of the result columns, the first
// nGroup of which identify a group.
type taQuery struct {
	name           string
	sluice, sqlite string
	kinds          []colKind
	nGroup         int
}

// taSeeds returns the seeds of a time-attribute differential test: the
// given ones (quick), or 1..N when -diff.seeds asks for more than its
// default.
func taSeeds(quick ...uint64) []uint64 {
	if *diffSeeds <= 6 {
		return quick
	}
	var all []uint64
	for s := uint64(1); s <= uint64(*diffSeeds); s++ {
		all = append(all, s)
	}
	return all
}

// floor is SQLite's floor of x to a multiple of n (also before 1970).
func floor(x string, n int64) string {
	return fmt.Sprintf("(%s - ((%s %% %d) + %d) %% %d)", x, x, n, n, n)
}

// dbl prints a DOUBLE aggregate of SQLite as Sluice's differential test
// reads it.
func dbl(e string) string {
	return fmt.Sprintf("CASE WHEN %s IS NULL THEN NULL ELSE printf('%%!.17g', %s) END", e, e)
}

// runTADifferential runs ddl and qs as one Sluice job at parallelism 1
// and 3, each query into an 'append' sink (so its result must be
// append-only), and compares every result with SQLite's over db.
func runTADifferential(t *testing.T, sqlite, db, ddl, about string, qs []taQuery) {
	t.Helper()
	job := ddl
	want, errs := make([][]diffRow, len(qs)), make([]error, len(qs))
	var wg sync.WaitGroup
	defer wg.Wait()
	for i, q := range qs {
		job += fmt.Sprintf("CREATE TABLE ta_%s WITH ('connector' = 'append');\nINSERT INTO ta_%s\n%s;\n", q.name, q.name, q.sluice)
		wg.Go(func() { want[i], errs[i] = sqliteRows(sqlite, db, q.sqlite+";\n", q.kinds) })
	}
	pars := []int{1, 3}
	got := make([][][]diffRow, len(pars))
	for p, par := range pars {
		run(t, job, par)
		for _, q := range qs {
			rows, err := valueRows(collected("ta_"+q.name).Rows(), q.kinds)
			if err != nil {
				t.Fatalf("parallelism %d, query %s: %v", par, q.name, err)
			}
			got[p] = append(got[p], rows)
		}
	}
	wg.Wait()
	for i, q := range qs {
		if errs[i] != nil {
			t.Fatalf("query %s: %v\n%s", q.name, errs[i], q.sqlite)
		}
		if len(want[i]) == 0 {
			t.Fatalf("query %s: no rows from SQLite (the data generator is broken)", q.name)
		}
	}
	for p, par := range pars {
		for i, q := range qs {
			names := make([]string, len(q.kinds))
			for c := range names {
				names[c] = fmt.Sprintf("c%d", c)
			}
			if diff := diffRows(names, q.kinds, q.nGroup, got[p][i], want[i]); diff != "" {
				t.Errorf("parallelism %d, query %s: Sluice and SQLite differ\n%s\ndata: %s\nSluice:\n%s\nSQLite:\n%s",
					par, q.name, diff, about, q.sluice, q.sqlite)
			}
		}
	}
}

// TestWindowsThroughViewsSubqueriesAndCTEsMatchSQLite checks window
// aggregations whose time attribute or window columns come through a view,
// a subquery (filtered, the time renamed), queries of WITH, and cascaded
// windows (window_time and TUMBLE_ROWTIME feeding another window) — each an
// append-only window aggregation — against SQLite on the out-of-order
// events of the differential test, at parallelism 1 and 3.
func TestWindowsThroughViewsSubqueriesAndCTEsMatchSQLite(t *testing.T) {
	sqlite := needSQLite(t)
	for _, seed := range taSeeds(1, 3, 4, 8) {
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
			T, S, H := d.tumble, d.slide, d.hopSize
			th := d.threshold
			ms := func(n int64) string { return fmt.Sprintf("INTERVAL '%d' MILLISECOND", n) }
			ddl := d.ddl(filepath.Join(dir, "events")) + fmt.Sprintf(`
CREATE VIEW v_tumbled AS
  SELECT kb, vi, vd, window_start, window_end, window_time
  FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), %[1]s)) WHERE vi IS NOT NULL OR vd > 0;
CREATE VIEW v_hopped AS
  SELECT ks, vi, window_start AS ws, window_end AS we
  FROM TABLE(HOP(TABLE ev, DESCRIPTOR(ts), %[2]s, %[3]s)) WHERE vd IS NULL OR vd < 100;
CREATE VIEW v_plain AS SELECT kb, vi, ts AS t FROM ev WHERE vi IS NOT NULL;
`, ms(T), ms(S), ms(H))
			// SQLite: each row with the start of its tumbling window, and
			// with the starts of its hopping windows.
			tumbled := fmt.Sprintf("(SELECT ev.*, %s AS ws FROM ev)", floor("ts", T))
			var offs []string
			for k := int64(0); k < H/S; k++ {
				offs = append(offs, fmt.Sprintf("(%d)", k))
			}
			hopped := func(where string) string {
				return fmt.Sprintf("(WITH o(k) AS (VALUES %s) SELECT ev.*, %s - o.k * %d AS ws FROM ev CROSS JOIN o WHERE %s)",
					strings.Join(offs, ", "), floor("ts", S), S, where)
			}
			var steps []string
			for j := int64(1); j <= H/S; j++ {
				steps = append(steps, fmt.Sprintf("(%d)", j))
			}
			cumulated := fmt.Sprintf("(WITH j(j) AS (VALUES %s) SELECT ev.*, %s AS ws, %s + j.j * %d AS we FROM ev CROSS JOIN j WHERE %s + j.j * %d > ts AND kb IS NOT NULL)",
				strings.Join(steps, ", "), floor("ts", H), floor("ts", H), S, floor("ts", H), S)
			qs := []taQuery{
				{
					name:   "tvf_through_view",
					sluice: "SELECT kb, window_start, window_end, COUNT(*), SUM(vi), MAX(vd) FROM v_tumbled GROUP BY kb, window_start, window_end",
					sqlite: fmt.Sprintf("SELECT kb, ws, ws + %d, COUNT(*), SUM(vi), %s FROM %s WHERE vi IS NOT NULL OR vd > 0 GROUP BY kb, ws", T, dbl("MAX(vd)"), tumbled),
					kinds:  []colKind{kInt, kTime, kTime, kInt, kInt, kFloat}, nGroup: 3,
				},
				{
					name:   "hop_through_view",
					sluice: "SELECT ws, we, COUNT(*), SUM(vi), MIN(ks) FROM v_hopped GROUP BY ws, we",
					sqlite: fmt.Sprintf("SELECT ws, ws + %d, COUNT(*), SUM(vi), MIN(ks) FROM %s GROUP BY ws", H, hopped("vd IS NULL OR vd < 100")),
					kinds:  []colKind{kTime, kTime, kInt, kInt, kStr}, nGroup: 2,
				},
				{
					name: "hop_group_window_over_view",
					sluice: fmt.Sprintf("SELECT HOP_START(t, %[1]s, %[2]s), HOP_END(t, %[1]s, %[2]s), COUNT(*), SUM(vi) FROM v_plain GROUP BY HOP(t, %[1]s, %[2]s)",
						ms(S), ms(H)),
					sqlite: fmt.Sprintf("SELECT ws, ws + %d, COUNT(*), SUM(vi) FROM %s GROUP BY ws", H, hopped("vi IS NOT NULL")),
					kinds:  []colKind{kTime, kTime, kInt, kInt}, nGroup: 2,
				},
				{
					name: "tumble_over_filtered_subquery_renamed_time",
					sluice: fmt.Sprintf("SELECT ks, TUMBLE_START(t, %[1]s), TUMBLE_END(t, %[1]s), COUNT(*), SUM(vd) FROM (SELECT ks, vd, ts AS t FROM ev WHERE vi > %[2]d) AS s GROUP BY ks, TUMBLE(t, %[1]s)",
						ms(T), th),
					sqlite: fmt.Sprintf("SELECT ks, ws, ws + %d, COUNT(*), %s FROM %s WHERE vi > %d GROUP BY ks, ws", T, dbl("SUM(vd)"), tumbled, th),
					kinds:  []colKind{kStr, kTime, kTime, kInt, kFloat}, nGroup: 3,
				},
				{
					name: "cumulate_through_ctes",
					sluice: fmt.Sprintf("WITH e AS (SELECT kb, vi, ts FROM ev WHERE kb IS NOT NULL), w AS (SELECT * FROM TABLE(CUMULATE(TABLE e, DESCRIPTOR(ts), %s, %s))) "+
						"SELECT kb, window_start, window_end, COUNT(*), SUM(vi) FROM w GROUP BY kb, window_start, window_end", ms(S), ms(H)),
					sqlite: fmt.Sprintf("SELECT kb, ws, we, COUNT(*), SUM(vi) FROM %s GROUP BY kb, ws, we", cumulated),
					kinds:  []colKind{kInt, kTime, kTime, kInt, kInt}, nGroup: 3,
				},
				{
					name: "cascade_on_window_time",
					sluice: fmt.Sprintf("WITH per AS (SELECT kb, window_time AS rt, COUNT(*) AS n, SUM(vi) AS s FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), %[1]s)) GROUP BY kb, window_start, window_end, window_time) "+
						"SELECT kb, TUMBLE_START(rt, %[2]s), TUMBLE_END(rt, %[2]s), COUNT(*), SUM(n), SUM(s) FROM per GROUP BY kb, TUMBLE(rt, %[2]s)", ms(T), ms(4*T)),
					sqlite: fmt.Sprintf("SELECT kb, %[1]s AS w4, %[1]s + %[2]d, COUNT(*), SUM(n), SUM(s) FROM (SELECT kb, ws + %[3]d - 1 AS rt, COUNT(*) AS n, SUM(vi) AS s FROM %[4]s GROUP BY kb, ws) GROUP BY kb, w4",
						floor("rt", 4*T), 4*T, T, tumbled),
					kinds: []colKind{kInt, kTime, kTime, kInt, kInt, kInt}, nGroup: 3,
				},
				{
					name: "cascade_on_tumble_rowtime",
					sluice: fmt.Sprintf("WITH per AS (SELECT TUMBLE_ROWTIME(ts, %[1]s) AS rt, COUNT(*) AS n FROM ev GROUP BY TUMBLE(ts, %[1]s)), again AS (SELECT rt, n FROM per WHERE n > 0) "+
						"SELECT window_start, window_end, COUNT(*), SUM(n) FROM TABLE(TUMBLE(TABLE again, DESCRIPTOR(rt), %[2]s)) GROUP BY window_start, window_end", ms(T), ms(3*T)),
					sqlite: fmt.Sprintf("SELECT %[1]s AS w3, %[1]s + %[2]d, COUNT(*), SUM(n) FROM (SELECT ws + %[3]d - 1 AS rt, COUNT(*) AS n FROM %[4]s GROUP BY ws) GROUP BY w3",
						floor("rt", 3*T), 3*T, T, tumbled),
					kinds: []colKind{kTime, kTime, kInt, kInt}, nGroup: 2,
				},
			}
			runTADifferential(t, sqlite, db, ddl, d.describe(), qs)
		})
	}
}

// joinData is the two tables of the interval-join differential test,
// l (k, v, ts) and r (k, w, ts), each written to several files with times
// out of order by at most disorder, and the watermark delay (>= disorder,
// so no row is late at the join).
type joinData struct {
	l, r            [][3]int64 // k, v or w, ts
	files           int
	disorder, delay int64
	lower, upper    int64 // r.ts BETWEEN l.ts + lower AND l.ts + upper
	tumble          int64
}

func genJoinData(seed uint64) *joinData {
	rng := rand.New(rand.NewPCG(seed, 0x701a))
	d := &joinData{files: 1 + rng.IntN(4)}
	d.disorder = []int64{0, 5, 40}[rng.IntN(3)]
	d.delay = d.disorder + int64(rng.IntN(3))
	d.lower = -[]int64{0, 20, 300}[rng.IntN(3)]
	d.upper = []int64{0, 50, 400}[rng.IntN(3)]
	d.tumble = []int64{10, 100, 250}[rng.IntN(3)]
	keys := 10 + rng.IntN(40)
	gen := func(n int) [][3]int64 {
		var rows [][3]int64
		clock := int64(1767225600000) + rng.Int64N(1000)
		for range n {
			clock += rng.Int64N(12)
			rows = append(rows, [3]int64{rng.Int64N(int64(keys)), rng.Int64N(1000) - 500, clock - rng.Int64N(d.disorder+1)})
		}
		return rows
	}
	// More rows than a batch per file, so that watermarks pass between a
	// file's batches.
	d.l, d.r = gen(d.files*2500+rng.IntN(3000)), gen(d.files*2500+rng.IntN(3000))
	return d
}

func (d *joinData) describe() string {
	return fmt.Sprintf("%d left and %d right rows in %d files each, disorder %d ms, watermark delay %d ms, r.ts - l.ts in [%d, %d] ms, TUMBLE %d ms",
		len(d.l), len(d.r), d.files, d.disorder, d.delay, d.lower, d.upper, d.tumble)
}

// write writes both tables as JSON lines (rows dealt to the files in
// turn, so each file keeps the disorder bound) and into the SQLite
// database db, and returns their DDL.
func (d *joinData) write(t *testing.T, sqlite, dir, db string) string {
	t.Helper()
	var script strings.Builder
	script.WriteString("CREATE TABLE l (k INTEGER, v INTEGER, ts INTEGER);\nCREATE TABLE r (k INTEGER, w INTEGER, ts INTEGER);\nBEGIN;\n")
	ddl := ""
	for _, tb := range []struct {
		name, val string
		rows      [][3]int64
	}{{"l", "v", d.l}, {"r", "w", d.r}} {
		path := filepath.Join(dir, tb.name)
		if err := os.MkdirAll(path, 0o755); err != nil {
			t.Fatal(err)
		}
		bufs := make([]strings.Builder, d.files)
		for i, row := range tb.rows {
			fmt.Fprintf(&bufs[i%d.files], "{\"k\":%d,\"%s\":%d,\"ts\":%d}\n", row[0], tb.val, row[1], row[2])
			fmt.Fprintf(&script, "INSERT INTO %s VALUES (%d, %d, %d);\n", tb.name, row[0], row[1], row[2])
		}
		for i := range bufs {
			if err := os.WriteFile(filepath.Join(path, fmt.Sprintf("part-%d.json", i)), []byte(bufs[i].String()), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		ddl += fmt.Sprintf(`
CREATE TABLE %s (k BIGINT, %s BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '%d' MILLISECOND)
WITH ('connector' = 'file', 'path' = '%s', 'format' = 'json', 'format.fail-on-error' = 'true', 'scan.watermark.max-future' = 'off');
`, tb.name, tb.val, d.delay, path)
	}
	script.WriteString("COMMIT;\nCREATE INDEX r_k ON r (k, ts);\n")
	if _, err := sqlite3(sqlite, strings.NewReader(script.String()), "-bail", db); err != nil {
		t.Fatal(err)
	}
	return ddl
}

// TestWindowsOverAnIntervalJoinMatchSQLite checks windows over an interval
// join's output — a group window on either side's time, a window table
// function over a query of WITH on the join, and a window over a second
// interval join on the first one's output — against SQLite. Both sides'
// times stay time attributes; a pair is emitted when its later row
// arrives, so a window over the other side's time fires later by the join's
// bound: no joined row may be late, whatever the interleaving of files and
// subtasks.
func TestWindowsOverAnIntervalJoinMatchSQLite(t *testing.T) {
	sqlite := needSQLite(t)
	for _, seed := range taSeeds(1, 3, 4, 8) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			dir := t.TempDir()
			d := genJoinData(seed)
			db := filepath.Join(dir, "join.db")
			ddl := d.write(t, sqlite, dir, db)
			T := d.tumble
			ms := func(n int64) string { return fmt.Sprintf("INTERVAL '%d' MILLISECOND", n) }
			on := fmt.Sprintf("l.k = r.k AND r.ts BETWEEN l.ts + %s AND l.ts + %s", ms(d.lower), ms(d.upper))
			sqlOn := fmt.Sprintf("l.k = r.k AND r.ts BETWEEN l.ts + %d AND l.ts + %d", d.lower, d.upper)
			lagging := "l" // the side whose time lags the join's watermark more
			if -d.lower > d.upper {
				lagging = "r"
			}
			qs := []taQuery{
				{
					name: "tumble_on_right_time",
					sluice: fmt.Sprintf("SELECT TUMBLE_START(r.ts, %[1]s), TUMBLE_END(r.ts, %[1]s), COUNT(*), SUM(l.v), SUM(r.w) FROM l JOIN r ON %[2]s GROUP BY TUMBLE(r.ts, %[1]s)",
						ms(T), on),
					sqlite: fmt.Sprintf("SELECT %[1]s AS ws, %[1]s + %[2]d, COUNT(*), SUM(l.v), SUM(r.w) FROM l JOIN r ON %[3]s GROUP BY ws", floor("r.ts", T), T, sqlOn),
					kinds:  []colKind{kTime, kTime, kInt, kInt, kInt}, nGroup: 2,
				},
				{
					name: "tumble_on_left_time_per_key",
					sluice: fmt.Sprintf("SELECT l.k, TUMBLE_START(l.ts, %[1]s), TUMBLE_END(l.ts, %[1]s), COUNT(*), MAX(r.w) FROM l JOIN r ON %[2]s GROUP BY l.k, TUMBLE(l.ts, %[1]s)",
						ms(T), on),
					sqlite: fmt.Sprintf("SELECT l.k, %[1]s AS ws, %[1]s + %[2]d, COUNT(*), MAX(r.w) FROM l JOIN r ON %[3]s GROUP BY l.k, ws", floor("l.ts", T), T, sqlOn),
					kinds:  []colKind{kInt, kTime, kTime, kInt, kInt}, nGroup: 3,
				},
				{
					name: "window_function_over_join_in_with",
					sluice: fmt.Sprintf("WITH j AS (SELECT l.k, l.v, r.ts AS rts FROM l JOIN r ON %[2]s) "+
						"SELECT window_start, window_end, COUNT(*), SUM(v) FROM TABLE(HOP(TABLE j, DESCRIPTOR(rts), %[1]s, %[3]s)) GROUP BY window_start, window_end",
						ms(T), on, ms(2*T)),
					sqlite: fmt.Sprintf("SELECT ws, ws + %[2]d, COUNT(*), SUM(v) FROM (WITH o(o) AS (VALUES (0), (1)) SELECT l.v, %[1]s - o.o * %[3]d AS ws FROM l JOIN r ON %[4]s CROSS JOIN o) GROUP BY ws",
						floor("r.ts", T), 2*T, T, sqlOn),
					kinds: []colKind{kTime, kTime, kInt, kInt}, nGroup: 2,
				},
				{
					// The second join's left time (the first join's side
					// with the larger bound) lags the first join's watermark
					// by up to that bound.
					name: "cascaded_interval_joins",
					sluice: fmt.Sprintf("SELECT TUMBLE_START(r2.ts, %[1]s), TUMBLE_END(r2.ts, %[1]s), COUNT(*), SUM(r2.w), SUM(r.w) FROM l JOIN r ON %[2]s "+
						"JOIN r AS r2 ON r2.k = %[3]s.k AND r2.ts BETWEEN %[3]s.ts AND %[3]s.ts + INTERVAL '20' MILLISECOND GROUP BY TUMBLE(r2.ts, %[1]s)", ms(T), on, lagging),
					sqlite: fmt.Sprintf("SELECT %[1]s AS ws, %[1]s + %[2]d, COUNT(*), SUM(r2.w), SUM(r.w) FROM l JOIN r ON %[3]s "+
						"JOIN r AS r2 ON r2.k = %[4]s.k AND r2.ts BETWEEN %[4]s.ts AND %[4]s.ts + 20 GROUP BY ws", floor("r2.ts", T), T, sqlOn, lagging),
					kinds: []colKind{kTime, kTime, kInt, kInt, kInt}, nGroup: 2,
				},
			}
			runTADifferential(t, sqlite, db, ddl, d.describe(), qs)
		})
	}
}

// TestWindowAggregationsThroughViewsExplainAsWindows checks the plans: a
// window aggregation over a view, subquery, query of WITH or interval join
// is a window operator (append-only), never a group aggregation; over rows
// a window function assigned upstream it aggregates them by window_start,
// and over the side of an interval join whose rows lag the watermark it
// fires later by the join's bound.
func TestWindowAggregationsThroughViewsExplainAsWindows(t *testing.T) {
	const tables = `
CREATE TABLE bids (auction BIGINT, price BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE auctions (id BIGINT, seller BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE VIEW tumbled AS SELECT auction, price, window_start, window_end FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND));
CREATE VIEW plain AS SELECT price, ts AS t FROM bids WHERE price > 0;
CREATE VIEW proc AS SELECT price, PROCTIME() AS p FROM bids;
CREATE TABLE out WITH ('connector' = 'append');
`
	f := func(query string, want ...string) {
		t.Helper()
		plan, err := Compile(tables+"INSERT INTO out "+query+";", Options{File: "job.sql", Parallelism: 2})
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		ex := plan.Explain()
		if strings.Contains(ex, "group aggregate") {
			t.Errorf("%s: planned as a group aggregation:\n%s", query, ex)
		}
		for _, w := range append(want, `operator "window `) {
			if !strings.Contains(ex, w) {
				t.Errorf("%s: the plan does not say %q:\n%s", query, w, ex)
			}
		}
	}
	f("SELECT window_start, window_end, COUNT(*) FROM tumbled GROUP BY window_start, window_end",
		`operator "window TUMBLE(10s) of rows assigned upstream"`)
	f("SELECT window_start, COUNT(*) FROM (SELECT * FROM TABLE(HOP(TABLE bids, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '10' SECOND))) GROUP BY window_start, window_end",
		`operator "window HOP(slide 5s, size 10s) of rows assigned upstream"`, "keys window_start")
	f("SELECT window_start, COUNT(*) FROM (SELECT price, window_start, window_end FROM TABLE(TUMBLE(TABLE proc, DESCRIPTOR(p), INTERVAL '10' SECOND))) GROUP BY window_start, window_end",
		`operator "window TUMBLE(10s) of rows assigned upstream PROCTIME"`)
	f("SELECT TUMBLE_START(t, INTERVAL '10' SECOND), COUNT(*) FROM plain GROUP BY TUMBLE(t, INTERVAL '10' SECOND)",
		`operator "window TUMBLE(10s)"`)
	f("WITH p AS (SELECT * FROM plain) SELECT window_start, COUNT(*) FROM TABLE(TUMBLE(TABLE p, DESCRIPTOR(t), INTERVAL '10' SECOND)) GROUP BY window_start, window_end",
		`operator "window TUMBLE(10s)"`)
	f("SELECT COUNT(*) FROM bids b JOIN auctions a ON b.auction = a.id AND a.ts BETWEEN b.ts AND b.ts + INTERVAL '1' MINUTE GROUP BY TUMBLE(a.ts, INTERVAL '10' SECOND)",
		`operator "window TUMBLE(10s)", parallelism 1`)
	f("SELECT COUNT(*) FROM bids b JOIN auctions a ON b.auction = a.id AND a.ts BETWEEN b.ts AND b.ts + INTERVAL '1' MINUTE GROUP BY TUMBLE(b.ts, INTERVAL '10' SECOND)",
		`fired 1m0s after its end`)
}

// TestProcessingTimeWindowThroughASubqueryCountsEveryRow checks a window
// table function over a PROCTIME() column, read through a subquery and
// grouped outside it: an append-only processing-time window aggregation
// of the assigned rows that, with the end of the bounded input, counts
// every row once.
func TestProcessingTimeWindowThroughASubqueryCountsEveryRow(t *testing.T) {
	for _, par := range []int{1, 3} {
		run(t, src+`
CREATE VIEW proc AS SELECT k, v, PROCTIME() AS p FROM src;
CREATE TABLE counted WITH ('connector' = 'append');
INSERT INTO counted
SELECT k, window_start, COUNT(*) AS n, SUM(v) AS total
FROM (SELECT k, v, window_start, window_end FROM TABLE(TUMBLE(TABLE proc, DESCRIPTOR(p), INTERVAL '1' HOUR)) WHERE v >= 0)
GROUP BY k, window_start, window_end;`, par)
		var n, total int64
		for _, r := range collected("counted").Rows() {
			n, total = n+r[2].I, total+r[3].I
		}
		if n != 1000 || total != 999*1000/2 {
			t.Errorf("parallelism %d: counted %d rows summing to %d, want 1000 summing to %d", par, n, total, 999*1000/2)
		}
	}
}
