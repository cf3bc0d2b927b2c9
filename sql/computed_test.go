package sql

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sql/catalog"
)

// computedRow is a row of the CSV files of the computed-column tests; nil
// is NULL.
type computedRow struct {
	kind   *int64
	ax, by *int64
	at, bt int64 // epoch ms
	s      *string
	file   int
}

// computedDDL declares table t over the CSV files of dir: physical columns
// kind, a ROW<x, t>, b ROW<y, t>, s, and computed columns among them —
// Nexmark's CASE over ROW fields for the event time et, with a watermark
// of delay ms on it.
func computedDDL(dir string, delay int64) string {
	return fmt.Sprintf(`
CREATE TABLE t (
  kind INT,
  c1 AS CASE WHEN kind = 0 THEN a.x WHEN kind = 1 THEN b.y ELSE a.x + b.y END,
  a ROW<x BIGINT, t TIMESTAMP(3)>,
  b ROW<y BIGINT, t TIMESTAMP(3)>,
  et AS CASE WHEN kind = 0 THEN a.t ELSE b.t END,
  s VARCHAR,
  c2 AS UPPER(s) || '-' || CAST(kind AS VARCHAR),
  c3 AS a.x IS NULL OR b.y > 10,
  WATERMARK FOR et AS et - INTERVAL '%d' MILLISECOND
) WITH ('connector' = 'file', 'path' = '%s', 'format' = 'csv', 'scan.watermark.max-future' = 'off');
`, delay, dir)
}

// computedSQLite is the same table for sqlite3: the physical columns and
// a view computing the computed ones.
const computedSQLite = `CREATE TABLE p (kind INTEGER, ax INTEGER, at INTEGER, by INTEGER, bt INTEGER, s TEXT);
CREATE VIEW t AS SELECT kind,
  CASE WHEN kind = 0 THEN ax WHEN kind = 1 THEN by ELSE ax + by END AS c1,
  CASE WHEN kind = 0 THEN at ELSE bt END AS et,
  s, UPPER(s) || '-' || CAST(kind AS TEXT) AS c2,
  ax IS NULL OR by > 10 AS c3
FROM p;
`

// writeComputedRows writes rows as CSV files part-N.csv of dir (each file
// keeps the order of its rows) and loads them into sqlite3 database db.
func writeComputedRows(t testing.TB, sqlite, dir, db string, rows []computedRow, files int) {
	t.Helper()
	cell := func(v *int64) (csv, sql string) {
		if v == nil {
			return "", "NULL"
		}
		return strconv.FormatInt(*v, 10), strconv.FormatInt(*v, 10)
	}
	bufs := make([]strings.Builder, files)
	var load strings.Builder
	load.WriteString(computedSQLite + "BEGIN;\n")
	for _, r := range rows {
		kc, ks := cell(r.kind)
		xc, xs := cell(r.ax)
		yc, ys := cell(r.by)
		sc, ss := "", "NULL"
		if r.s != nil {
			sc, ss = *r.s, "'"+*r.s+"'"
		}
		fmt.Fprintf(&bufs[r.file], "%s,%s,%d,%s,%d,%s\n", kc, xc, r.at, yc, r.bt, sc)
		fmt.Fprintf(&load, "INSERT INTO p VALUES (%s, %s, %d, %s, %d, %s);\n", ks, xs, r.at, ys, r.bt, ss)
	}
	load.WriteString("COMMIT;\n")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range bufs {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("part-%d.csv", i)), []byte(bufs[i].String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if sqlite != "" {
		if _, err := sqlite3(sqlite, strings.NewReader(load.String()), "-bail", db); err != nil {
			t.Fatal(err)
		}
	}
}

// valueText is v as sqlite3 prints it (-nullvalue NULL): timestamps as
// epoch ms, booleans as 1 and 0.
func valueText(v runtime.Value) string {
	switch {
	case v.Null:
		return "NULL"
	case v.Type == runtime.Varchar:
		return v.S
	}
	return strconv.FormatInt(v.I, 10)
}

func rowTexts(rows [][]runtime.Value) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		cells := make([]string, len(r))
		for j, v := range r {
			cells[j] = valueText(v)
		}
		out[i] = strings.Join(cells, "|")
	}
	slices.Sort(out)
	return out
}

// TestComputedColumnsAgainstSQLite generates rows (NULLs in every nullable
// column, 1–3 files read as partitions, event times out of order within
// the watermark's delay) and checks, at parallelism 1 and 3, every
// computed column's value (a CASE over ROW fields, string functions, a
// three-valued BOOLEAN) and a window aggregation over the computed event
// time, against sqlite3 computing the same expressions.
func TestComputedColumnsAgainstSQLite(t *testing.T) {
	sqlite := needSQLite(t)
	strs := []string{"a", "b", "xy", "Hello"}
	runs := 0
	rapid.Check(t, func(rt *rapid.T) {
		runs++
		if runs > 12 { // each check runs two jobs: keep the test short
			return
		}
		files := rapid.IntRange(1, 3).Draw(rt, "files")
		n := rapid.IntRange(1, 200).Draw(rt, "rows")
		disorder := rapid.Int64Range(0, 3000).Draw(rt, "disorder")
		window := rapid.Int64Range(1, 5).Draw(rt, "window seconds")
		nullable := func(label string, lo, hi int64) *int64 {
			if rapid.IntRange(0, 5).Draw(rt, label+" null") == 0 {
				return nil
			}
			v := rapid.Int64Range(lo, hi).Draw(rt, label)
			return &v
		}
		rows := make([]computedRow, n)
		clock := int64(1767225600000)
		for i := range rows {
			clock += rapid.Int64Range(0, 700).Draw(rt, "step")
			r := computedRow{kind: nullable("kind", 0, 2), ax: nullable("a.x", -20, 20), by: nullable("b.y", -20, 20),
				at: clock - rapid.Int64Range(0, disorder).Draw(rt, "a.t behind"), bt: clock - rapid.Int64Range(0, disorder).Draw(rt, "b.t behind"),
				file: rapid.IntRange(0, files-1).Draw(rt, "file")}
			if k := rapid.IntRange(0, len(strs)).Draw(rt, "s"); k < len(strs) {
				r.s = &strs[k]
			}
			rows[i] = r
		}
		dir := t.TempDir()
		db := filepath.Join(dir, "c.db")
		writeComputedRows(t, sqlite, filepath.Join(dir, "t"), db, rows, files)
		const flags = "CASE WHEN c3 THEN 1 WHEN NOT c3 THEN 0 END"
		queries := []struct{ name, sluice, sqlite string }{
			{"values", "SELECT kind, c1, et, s, c2, " + flags + " FROM t", "SELECT kind, c1, et, s, c2, c3 FROM t"},
			{"window", fmt.Sprintf("SELECT TUMBLE_START(et, INTERVAL '%d' SECOND), kind, COUNT(*), COUNT(c1), SUM(c1), MAX(c2) FROM t GROUP BY TUMBLE(et, INTERVAL '%d' SECOND), kind", window, window),
				fmt.Sprintf("SELECT et / %d * %d, kind, COUNT(*), COUNT(c1), SUM(c1), MAX(c2) FROM t GROUP BY 1, 2", window*1000, window*1000)},
		}
		job := computedDDL(filepath.Join(dir, "t"), disorder)
		for _, q := range queries {
			job += fmt.Sprintf("CREATE TABLE computed_%s WITH ('connector' = 'append');\nINSERT INTO computed_%s %s;\n", q.name, q.name, q.sluice)
		}
		for _, par := range []int{1, 3} {
			run(t, job, par)
			for _, q := range queries {
				out, err := sqlite3(sqlite, strings.NewReader(q.sqlite+";\n"), "-nullvalue", "NULL", db)
				if err != nil {
					rt.Fatalf("%s: %v", q.name, err)
				}
				want := strings.Split(strings.TrimSpace(string(out)), "\n")
				slices.Sort(want)
				got := rowTexts(collected("computed_" + q.name).Rows())
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					rt.Fatalf("%s at parallelism %d: got %d rows\n%s\nwant %d\n%s", q.name, par, len(got), strings.Join(got, "\n"), len(want), strings.Join(want, "\n"))
				}
			}
		}
	})
}

// TestWatermarkOnComputedColumnDropsLateRows checks that the watermark of
// a computed event time advances with the source's batches and that rows
// behind it are dropped as late: one file, its first batch (2048 rows) a
// second apart, then rows far behind the watermark, which no window
// counts, and rows ahead, which their windows count. At parallelism 1 only:
// with more, the subtasks that read no file hold the watermark back until
// they end, so which rows are late depends on timing.
func TestWatermarkOnComputedColumnDropsLateRows(t *testing.T) {
	dir := t.TempDir()
	var rows []computedRow
	one := int64(1)
	base := int64(1767225600000)
	for i := range int64(runtime.DefaultBatchRows + 100) {
		ts := base + i*1000
		if i >= runtime.DefaultBatchRows && i%10 == 0 {
			ts = base + (i%50)*1000 // late: the first minute is long closed
		}
		// kind 1: et is b.t; a.t is far ahead and must not drive the watermark.
		rows = append(rows, computedRow{kind: &one, at: ts + 3_600_000, bt: ts})
	}
	writeComputedRows(t, "", filepath.Join(dir, "t"), "", rows, 1)
	for _, par := range []int{1} {
		run(t, computedDDL(filepath.Join(dir, "t"), 0)+`
CREATE TABLE out WITH ('connector' = 'append');
INSERT INTO out SELECT TUMBLE_START(et, INTERVAL '1' MINUTE), COUNT(*) FROM t GROUP BY TUMBLE(et, INTERVAL '1' MINUTE);`, par)
		counts := map[int64]int64{}
		total := int64(0)
		for _, r := range collected("out").Rows() {
			counts[(r[0].I-base)/60000] += r[1].I
			total += r[1].I
		}
		late := int64(100 / 10)
		if want := int64(runtime.DefaultBatchRows + 100 - late); total != want {
			t.Errorf("parallelism %d: %d rows counted, want %d (the %d late rows dropped)", par, total, want, late)
		}
		if counts[0] != 60 {
			t.Errorf("parallelism %d: the first minute counted %d rows, want its 60 on-time rows only", par, counts[0])
		}
	}
}

// TestWatermarkOnComputedColumnIsPerFile checks that the watermark of a
// computed event time is kept per partition of the source: of two files
// read by one subtask, one races an hour ahead while the other creeps, and
// no row of the slow one is dropped as late (with one watermark for the
// whole subtask, the slow file's later rows would be).
func TestWatermarkOnComputedColumnIsPerFile(t *testing.T) {
	dir := t.TempDir()
	var rows []computedRow
	two := int64(2)
	base := int64(1767225600000)
	const n = 3 * runtime.DefaultBatchRows
	for i := range int64(n) {
		rows = append(rows, computedRow{kind: &two, at: 0, bt: base + i*60_000, file: 0})
		rows = append(rows, computedRow{kind: &two, at: 0, bt: base + i*10, file: 1})
	}
	writeComputedRows(t, "", filepath.Join(dir, "t"), "", rows, 2)
	for _, par := range []int{1, 3} {
		run(t, computedDDL(filepath.Join(dir, "t"), 0)+`
CREATE TABLE out WITH ('connector' = 'append');
INSERT INTO out SELECT COUNT(*) FROM t GROUP BY TUMBLE(et, INTERVAL '1' HOUR);`, par)
		total := int64(0)
		for _, r := range collected("out").Rows() {
			total += r[0].I
		}
		if total != 2*n {
			t.Errorf("parallelism %d: %d rows counted, want all %d", par, total, 2*n)
		}
	}
}

// TestInsertIntoTableWithComputedColumns checks that INSERT INTO a table
// with computed columns writes its physical columns only (the query gives
// those), and that reading the files back computes them again, from a
// folder catalog in a later job, with DESCRIBE showing each in its place
// with its type and expression.
func TestInsertIntoTableWithComputedColumns(t *testing.T) {
	dir := t.TempDir()
	cat, err := catalog.Open(filepath.Join(dir, "catalog"))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	job := fmt.Sprintf(`
CREATE TABLE src (k BIGINT, v BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '5',
  'fields.k.kind' = 'sequence', 'fields.k.start' = '1', 'fields.k.end' = '5',
  'fields.v.kind' = 'sequence', 'fields.v.start' = '10', 'fields.v.end' = '14');
CREATE TABLE kept (k BIGINT, twice AS k * 2, v BIGINT, label AS 'k' || CAST(k AS VARCHAR))
WITH ('connector' = 'file', 'path' = '%s', 'format' = 'json');
INSERT INTO kept SELECT k, v FROM src;
`, out)
	plan, err := Compile(job, Options{File: "job.sql", Parallelism: 2, Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	if err := runtime.Run(t.Context(), plan.Graph, runtime.Options{Parallelism: 2}); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(out, "*"))
	var lines []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, strings.Fields(string(data))...)
	}
	slices.Sort(lines)
	if want := `{"k":1,"v":10} {"k":2,"v":11} {"k":3,"v":12} {"k":4,"v":13} {"k":5,"v":14}`; strings.Join(lines, " ") != want {
		t.Fatalf("written: %s\nwant %s", strings.Join(lines, " "), want)
	}

	var desc strings.Builder
	if _, err := Compile("DESCRIBE kept;", Options{File: "later.sql", Parallelism: 1, Catalog: cat, Out: &desc}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for l := range strings.Lines(desc.String()) {
		got = append(got, strings.Join(strings.Fields(l), " "))
	}
	if want := "k BIGINT NULL\ntwice BIGINT NULL AS `k` * 2\nv BIGINT NULL\nlabel VARCHAR NULL AS 'k' || CAST(`k` AS VARCHAR)"; !strings.Contains(strings.Join(got, "\n"), want) {
		t.Errorf("DESCRIBE kept:\n%s\nwant the lines\n%s", desc.String(), want)
	}
	for _, par := range []int{1, 2} {
		plan, err := Compile(`CREATE TABLE back WITH ('connector' = 'append');
INSERT INTO back SELECT * FROM kept;`, Options{File: "later.sql", Parallelism: par, Catalog: cat})
		if err != nil {
			t.Fatal(err)
		}
		if err := runtime.Run(t.Context(), plan.Graph, runtime.Options{Parallelism: par}); err != nil {
			t.Fatal(err)
		}
		if err := cat.Drop("back", false); err != nil {
			t.Fatal(err)
		}
		got := rowTexts(collected("back").Rows())
		want := []string{"1|2|10|k1", "2|4|11|k2", "3|6|12|k3", "4|8|13|k4", "5|10|14|k5"}
		if !slices.Equal(got, want) {
			t.Errorf("parallelism %d: read back %v, want %v", par, got, want)
		}
	}
}

// TestComputedColumnSourceRestoresFromASavepoint checks that a source with
// computed columns keeps its connector's checkpointed position: a nexmark
// table with Nexmark's computed dateTime, stopped with a savepoint part of
// the way and restored from it, emits every event exactly once across the
// two runs, each with the dateTime of its ROW, at parallelism 2.
func TestComputedColumnSourceRestoresFromASavepoint(t *testing.T) {
	const n = 6000
	job := fmt.Sprintf(`
CREATE TABLE nexmark (event_type INT, person ROW<id BIGINT, dateTime TIMESTAMP(3)>,
  auction ROW<id BIGINT, dateTime TIMESTAMP(3)>, bid ROW<price BIGINT, dateTime TIMESTAMP(3)>,
  dateTime AS CASE WHEN event_type = 0 THEN person.dateTime WHEN event_type = 1 THEN auction.dateTime ELSE bid.dateTime END,
  WATERMARK FOR dateTime AS dateTime - INTERVAL '4' SECOND)
WITH ('connector' = 'nexmark', 'events.num' = '%d', 'rate.limited' = 'true', 'first-event.rate' = '10000');
CREATE TABLE out WITH ('connector' = 'append');
INSERT INTO out SELECT event_type, dateTime FROM nexmark;`, n)
	dir := t.TempDir()
	var got []string
	var restore *runtime.Checkpoint
	for round := range 2 {
		plan, err := Compile(job, Options{File: "job.sql", Parallelism: 2})
		if err != nil {
			t.Fatal(err)
		}
		out := collected("out")
		cp := &runtime.CheckpointOptions{Dir: dir, Restore: restore}
		if round == 0 {
			stop := make(chan struct{})
			cp.StopWithSavepoint = stop
			go func() {
				defer close(stop)
				for deadline := time.Now().Add(10 * time.Second); out.Len() < 500 && time.Now().Before(deadline); {
					time.Sleep(time.Millisecond)
				}
			}()
		}
		err = runtime.Run(t.Context(), plan.Graph, runtime.Options{Parallelism: 2, Checkpoints: cp})
		got = append(got, rowTexts(out.Rows())...)
		if round == 1 {
			if err != nil {
				t.Fatal(err)
			}
			break
		}
		var se *runtime.SavepointError
		if !errors.As(err, &se) {
			t.Fatalf("first run: %v, want it stopped with a savepoint", err)
		}
		if out.Len() >= n {
			t.Fatalf("first run: %d rows before the savepoint, want part of the %d", out.Len(), n)
		}
		if restore, err = runtime.LoadCheckpoint(se.Path); err != nil {
			t.Fatal(err)
		}
	}
	var want []string
	for _, e := range nexmarkEvents(n) {
		want = append(want, fmt.Sprintf("%d|%d", e.Type, e.Time))
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("%d rows over the two runs, want the %d events once each", len(got), len(want))
	}
}

// TestComputedColumnsOverDatagen checks computed columns of a datagen
// table — one over a physical column, and the event time computed from a
// BIGINT with the watermark on it — through a window aggregation at
// parallelism 1 and 3: every row counted once, in its window, with its
// computed value.
func TestComputedColumnsOverDatagen(t *testing.T) {
	const job = `
CREATE TABLE g (
  k BIGINT,
  sq AS k * k,
  et AS CAST(k * 1000 AS TIMESTAMP(3)),
  WATERMARK FOR et AS et - INTERVAL '5' SECOND
) WITH ('connector' = 'datagen', 'number-of-rows' = '1000',
        'fields.k.kind' = 'sequence', 'fields.k.start' = '0', 'fields.k.end' = '999');
CREATE TABLE out WITH ('connector' = 'append');
INSERT INTO out SELECT TUMBLE_START(et, INTERVAL '10' SECOND), COUNT(*), SUM(sq) FROM g GROUP BY TUMBLE(et, INTERVAL '10' SECOND);`
	for _, par := range []int{1, 3} {
		run(t, job, par)
		rows := collected("out").Rows()
		if len(rows) != 100 {
			t.Fatalf("parallelism %d: %d windows, want 100", par, len(rows))
		}
		for _, r := range rows {
			w := r[0].I / 10000 // window w holds k = 10w … 10w+9
			want := int64(0)
			for k := 10 * w; k < 10*w+10; k++ {
				want += k * k
			}
			if r[1].I != 10 || r[2].I != want {
				t.Errorf("parallelism %d: window %d counted %d rows summing to %d, want 10 and %d", par, w, r[1].I, r[2].I, want)
			}
		}
	}
}

// TestComputedColumnErrorWhereTheTableIsRead checks that a computed column
// of a folder catalog that no longer types (its file edited to call an
// unknown function) is an error at the table's use, naming the table, the
// column and the reason.
func TestComputedColumnErrorWhereTheTableIsRead(t *testing.T) {
	dir := t.TempDir()
	cat, err := catalog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Compile("CREATE TABLE t (k BIGINT, d AS k + 1) WITH ('connector' = 'datagen', 'number-of-rows' = '2');",
		Options{File: "create.sql", Parallelism: 1, Catalog: cat}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "t.json")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(strings.Replace(string(data), "`k` + 1", "FOO(`k`)", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Compile("CREATE TABLE out WITH ('connector' = 'append');\nINSERT INTO out SELECT d FROM t;", Options{File: "use.sql", Parallelism: 1, Catalog: cat})
	want := "use.sql:2:31: table t: computed column d AS FOO(`k`): unknown function FOO"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("got %v, want %s…", err, want)
	}
}
