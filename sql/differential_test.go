package sql

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/sluicehq/sluice/connectors/file"
	"github.com/sluicehq/sluice/runtime"
)

// The differential test runs windowed queries over generated out-of-order
// events twice — as a Sluice job reading JSON lines through the 'file'
// connector, and as plain GROUP BY queries in the sqlite3 command-line
// program, with window starts computed by integer arithmetic on epoch
// milliseconds — and compares the results as multisets.

var diffSeeds = flag.Int("diff.seeds", 6, "differential test: run seeds 1..N (more to explore, e.g. -diff.seeds 300)")

// nullText is what sqlite3 prints for NULL (-nullvalue); no generated
// string is equal to it.
const nullText = "<NULL>"

// TestDifferentialSQLite checks tumbling and hopping windows (keys BIGINT,
// VARCHAR, both, or none; COUNT(*), COUNT(x), COUNT(DISTINCT x), SUM, MIN,
// MAX, AVG over BIGINT, DOUBLE, VARCHAR and TIMESTAMP; WHERE; HAVING) at
// parallelism 1 and 3 against SQLite on the same rows.
func TestDifferentialSQLite(t *testing.T) {
	sqlite := needSQLite(t)
	for seed := uint64(1); seed <= uint64(*diffSeeds); seed++ {
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
			// SQLite answers the queries while Sluice runs them.
			qs := diffQueries(d)
			job := d.ddl(filepath.Join(dir, "events"))
			want, errs := make([][]diffRow, len(qs)), make([]error, len(qs))
			var wg sync.WaitGroup
			defer wg.Wait()
			for i, q := range qs {
				job += q.sluiceSQL()
				wg.Go(func() { want[i], errs[i] = q.runSQLite(sqlite, db) })
			}
			pars := []int{1, 3}
			got := make([][][]diffRow, len(pars))
			for p, par := range pars {
				run(t, job, par)
				for _, q := range qs {
					rows, err := q.sluiceRows(collected(q.sink()).Rows())
					if err != nil {
						t.Fatalf("parallelism %d, query %s: %v", par, q.name, err)
					}
					got[p] = append(got[p], rows)
				}
			}
			wg.Wait()
			for i, q := range qs {
				if errs[i] != nil {
					t.Fatalf("query %s: %v\n%s", q.name, errs[i], q.sqliteSQL())
				}
				if len(want[i]) == 0 && q.where[0] == "" && q.having[0] == "" {
					t.Fatalf("query %s: no rows from SQLite (the data generator is broken)", q.name)
				}
			}
			for p, par := range pars {
				for i, q := range qs {
					if diff := diffRows(q.columns(), q.kinds(), len(q.keys)+2, got[p][i], want[i]); diff != "" {
						t.Errorf("%s, parallelism %d, query %s: Sluice and SQLite differ "+
							"(rerun: go test ./sql -run 'TestDifferentialSQLite/seed=%d$' -diff.seeds %d)\n%s\n"+
							"data: %s\nSluice:\n%s\nSQLite:\n%s",
							t.Name(), par, q.name, seed, seed, diff, d.describe(), q.sluiceSQL(), q.sqliteSQL())
					}
				}
			}
		})
	}
}

// needSQLite returns the path of sqlite3, or skips the test when it is not
// installed — unless SLUICE_REQUIRE_TOOLS=1 (as in CI), which fails it.
func needSQLite(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("sqlite3")
	if err != nil {
		const msg = "sqlite3 not installed: apt-get install -y sqlite3"
		if os.Getenv("SLUICE_REQUIRE_TOOLS") == "1" {
			t.Fatalf("%s (SLUICE_REQUIRE_TOOLS=1 requires it)", msg)
		}
		t.Skip("SKIPPING THE DIFFERENTIAL TEST AGAINST SQLITE: " + msg)
	}
	return path
}

// Generated data.

// diffEvent is one row of table ev; nil is NULL.
type diffEvent struct {
	kb *int64
	ks *string
	vi *int64
	vd *float64
	ts int64 // epoch milliseconds, never NULL

	omitNulls bool  // write NULL fields by leaving them out of the JSON object
	tsForm    int   // how ts is written: see writeJSON
	order     []int // the order of the fields in the JSON object
	file      int   // the file the row is written to (files keep the order of rows)
}

// diffData is one seed's events.
//
// The disorder invariant: row i has time ts_i = clock_i - u_i with a
// non-decreasing clock and 0 ≤ u_i ≤ disorder, so ts_i ≥ ts_j - disorder for
// every earlier row j — in the whole sequence, and so in each file, whose
// rows keep that order. A file's watermark is its largest time so far minus
// delay minus 1 ms, with delay ≥ disorder, hence below the time of every row
// still to come from that file: no window fires before all its rows have
// arrived and no row is late, however the source interleaves the files. So
// the results equal a plain GROUP BY over all rows.
type diffData struct {
	seed      uint64
	rows      []diffEvent
	files     int
	disorder  int64 // ms
	delay     int64 // watermark delay, ms: ≥ disorder
	tumble    int64 // window sizes for the queries, ms
	slide     int64
	hopSize   int64
	threshold int64 // a constant for WHERE and HAVING
}

// Strings for the VARCHAR key: separators, quotes, escapes, non-ASCII, the
// text "null", the empty string.
var diffStrings = []string{"a", "b", "c", "", "x,y", `say "hi"`, "it's", "ünïcødé", "日本語", " lead", "trail ",
	"null", "NULL", "line\nbreak", "tab\there", `back\slash`, "emoji 🎉", "A", "aa", "üa", "日a", "%_"}

// genEvents generates the events of a seed (the same on every run).
func genEvents(seed uint64) *diffData {
	r := rand.New(rand.NewPCG(seed, 0x5ee1ce))
	d := &diffData{seed: seed, files: 1 + r.IntN(6)}
	d.disorder = []int64{0, 1, 7, 50, 400}[r.IntN(5)]
	d.delay = d.disorder + []int64{0, 0, 1, 30}[r.IntN(4)]
	d.tumble = []int64{1, 7, 100, 250, 1000}[r.IntN(5)]
	d.slide = []int64{5, 50, 100, 300}[r.IntN(4)]
	d.hopSize = d.slide * []int64{1, 2, 3, 4, 10}[r.IntN(5)]
	d.threshold = int64(r.IntN(40)) - 20

	// Keys: a few per seed, some used much more than others, including
	// the extremes of BIGINT; or (one seed in three) thousands of them.
	kbs := []int64{0, 1, 2, 3, -1, -7, 42, 1 << 40, -(1 << 40) + 3, math.MinInt64, math.MaxInt64}
	r.Shuffle(len(kbs), func(i, j int) { kbs[i], kbs[j] = kbs[j], kbs[i] })
	kbs = kbs[:1+r.IntN(len(kbs))]
	kss := slices.Clone(diffStrings)
	r.Shuffle(len(kss), func(i, j int) { kss[i], kss[j] = kss[j], kss[i] })
	kss = kss[:1+r.IntN(len(kss))]
	if r.IntN(3) == 0 {
		for range 100 + r.IntN(5000) {
			kbs = append(kbs, r.Int64N(20_000)-10_000)
		}
		for i := range 100 + r.IntN(3000) {
			kss = append(kss, fmt.Sprintf("s%d", i))
		}
		kss = append(kss, strings.Repeat("long ", 300))
	}
	skewed := func(n int) int { return r.IntN(r.IntN(n) + 1) }

	// Event times start at a random time of 2026-01-01, or just before the
	// epoch (windows before 1970, times crossing zero), or in 1901 or 2999.
	var clock int64
	switch x := r.IntN(10); {
	case x < 6:
		clock = 1767225600000 + r.Int64N(86_400_000)
	case x < 8:
		clock = -1500 - r.Int64N(1000)
	case x < 9:
		clock = -2177452800000 + r.Int64N(86_400_000)
	default:
		clock = 32472144000000 + r.Int64N(86_400_000)
	}
	maxStep := int64(r.IntN(4))
	// Files of more than runtime.DefaultBatchRows rows, so that
	// watermarks pass between the batches of each file.
	n := 2000 + r.IntN(22000)
	fileWeights := make([]int, d.files)
	for i := range fileWeights {
		fileWeights[i] = 1 + r.IntN(5)
	}
	if d.files > 1 && r.IntN(3) == 0 {
		fileWeights[r.IntN(d.files)] = 0 // an empty file
	}
	for range n {
		if r.IntN(500) == 0 {
			clock += 1000 + r.Int64N(3000) // a gap: empty windows
		} else {
			clock += r.Int64N(maxStep + 1)
		}
		e := diffEvent{ts: clock - r.Int64N(d.disorder+1), omitNulls: r.IntN(3) == 0, tsForm: max(0, r.IntN(10)-4)}
		if r.IntN(30) != 0 {
			e.kb = ptr(kbs[skewed(len(kbs))])
		}
		if r.IntN(30) != 0 {
			e.ks = ptr(kss[skewed(len(kss))])
		}
		// BIGINT values: small, or up to 1e11 (above 32 bits; sums of
		// 24,000 of them stay below 2^53, so even a float64 sum is exact).
		switch x := r.IntN(100); {
		case x < 12:
		case x < 20:
			e.vi = ptr(r.Int64N(200_000_000_001) - 100_000_000_000)
		default:
			e.vi = ptr(r.Int64N(201) - 100)
		}
		// DOUBLE: mostly multiples of 1/8 (sums are exact in any order),
		// some with a full mantissa, and zeros of both signs.
		switch x := r.IntN(100); {
		case x < 12:
		case x < 17:
			e.vd = ptr(r.NormFloat64() * 3)
		case x < 19:
			e.vd = ptr(math.Copysign(0, float64(r.IntN(2)*2-1)))
		default:
			e.vd = ptr(float64(r.IntN(160_001)-80_000) / 8)
		}
		e.order = r.Perm(5)
		w := r.IntN(sum(fileWeights))
		for e.file = 0; w >= fileWeights[e.file]; e.file++ {
			w -= fileWeights[e.file]
		}
		d.rows = append(d.rows, e)
	}
	return d
}

func ptr[T any](v T) *T { return &v }

func sum(xs []int) int {
	s := 0
	for _, x := range xs {
		s += x
	}
	return s
}

func (d *diffData) describe() string {
	return fmt.Sprintf("%d rows in %d files, disorder %d ms, watermark delay %d ms, TUMBLE %d ms, HOP slide %d ms size %d ms",
		len(d.rows), d.files, d.disorder, d.delay, d.tumble, d.slide, d.hopSize)
}

// writeJSON writes the rows as JSON lines into files part-N.json of dir,
// each row into its file in order.
func (d *diffData) writeJSON(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	bufs := make([]bytes.Buffer, d.files)
	for _, e := range d.rows {
		b := &bufs[e.file]
		b.WriteByte('{')
		first := true
		field := func(name, value string) {
			if !first {
				b.WriteByte(',')
			}
			first = false
			fmt.Fprintf(b, "%q:%s", name, value)
		}
		for _, f := range e.order {
			switch f {
			case 0:
				if v, ok := jsonValue(e.kb, e.omitNulls); ok {
					field("kb", v)
				}
			case 1:
				if v, ok := jsonValue(e.ks, e.omitNulls); ok {
					field("ks", v)
				}
			case 2:
				if v, ok := jsonValue(e.vi, e.omitNulls); ok {
					field("vi", v)
				}
			case 3:
				if v, ok := jsonValue(e.vd, e.omitNulls); ok {
					field("vd", v)
				}
			case 4:
				// Epoch milliseconds, as a number or (Flink's leniency) a
				// string of digits, or RFC 3339 with or without fraction,
				// in UTC or at an offset, or with a space and no zone.
				tm := time.UnixMilli(e.ts).UTC()
				switch e.tsForm {
				case 0:
					field("ts", strconv.FormatInt(e.ts, 10))
				case 1:
					field("ts", `"`+tm.Format("2006-01-02T15:04:05.000Z07:00")+`"`)
				case 2:
					field("ts", `"`+tm.In(time.FixedZone("", -(5*3600+30*60))).Format("2006-01-02T15:04:05.000-07:00")+`"`)
				case 3:
					field("ts", `"`+tm.In(time.FixedZone("", 9*3600)).Format(time.RFC3339Nano)+`"`)
				case 4:
					field("ts", `"`+tm.Format("2006-01-02 15:04:05.000")+`"`)
				default:
					if e.ts >= 0 {
						field("ts", `"`+strconv.FormatInt(e.ts, 10)+`"`)
					} else {
						field("ts", strconv.FormatInt(e.ts, 10))
					}
				}
			}
		}
		b.WriteString("}\n")
	}
	for i := range bufs {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("part-%d.json", i)), bufs[i].Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// jsonValue renders v as JSON: null, or nothing (ok false) when omitNull.
func jsonValue[T int64 | float64 | string](v *T, omitNull bool) (string, bool) {
	if v == nil {
		return "null", !omitNull
	}
	switch x := any(*v).(type) {
	case int64:
		return strconv.FormatInt(x, 10), true
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), true
	default:
		b, _ := json.Marshal(x)
		return string(b), true
	}
}

// sqlValue renders v as an SQL literal.
func sqlValue[T int64 | float64 | string](v *T) string {
	if v == nil {
		return "NULL"
	}
	switch x := any(*v).(type) {
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	default:
		return "'" + strings.ReplaceAll(x.(string), "'", "''") + "'"
	}
}

// loadSQLite writes the rows as an SQL script and loads it into a new
// database file.
func (d *diffData) loadSQLite(sqlite, db, script string) error {
	var b strings.Builder
	b.WriteString("CREATE TABLE ev (kb INTEGER, ks TEXT, vi INTEGER, vd REAL, ts INTEGER NOT NULL);\nBEGIN;\n")
	for _, e := range d.rows {
		fmt.Fprintf(&b, "INSERT INTO ev VALUES (%s, %s, %s, %s, %d);\n", sqlValue(e.kb), sqlValue(e.ks), sqlValue(e.vi), sqlValue(e.vd), e.ts)
	}
	b.WriteString("COMMIT;\n")
	if err := os.WriteFile(script, []byte(b.String()), 0o644); err != nil {
		return err
	}
	_, err := sqlite3(sqlite, strings.NewReader(b.String()), "-bail", db)
	return err
}

// sqlite3 runs the sqlite3 program and returns its standard output; any
// output on standard error is an error.
func sqlite3(path string, stdin *strings.Reader, args ...string) ([]byte, error) {
	cmd := exec.Command(path, append([]string{"-batch"}, args...)...)
	if stdin != nil {
		cmd.Stdin = stdin
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil || errb.Len() > 0 {
		return nil, fmt.Errorf("sqlite3: %v: %s", err, strings.TrimSpace(errb.String()))
	}
	return out.Bytes(), nil
}

// ddl defines table ev over the JSON files of dir; a record that does not
// decode fails the job.
func (d *diffData) ddl(dir string) string {
	return fmt.Sprintf(`
CREATE TABLE ev (kb BIGINT, ks VARCHAR, vi BIGINT, vd DOUBLE, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '%d' MILLISECOND)
WITH ('connector' = 'file', 'path' = '%s', 'format' = 'json', 'format.fail-on-error' = 'true',
  'scan.watermark.max-future' = 'off');
`, d.delay, strings.ReplaceAll(dir, "'", "''"))
}

// Queries.

// colKind is the type of a result column: what Sluice must return, and how
// sqlite3's text is read.
type colKind int

const (
	kInt colKind = iota
	kFloat
	kStr
	kTime // TIMESTAMP in Sluice, epoch ms in SQLite
)

// diffCol is one output column, written for each side.
type diffCol struct {
	sluice, sqlite string
	kind           colKind
}

// same is a column written the same way for both.
func same(e string, k colKind) diffCol { return diffCol{e, e, k} }

// avgInt is AVG of the integer column c: a BIGINT truncated toward zero,
// as Flink's; sqlite3's AVG is REAL, but its integer division truncates
// toward zero too (as Java's).
func avgInt(c string) diffCol {
	return diffCol{"AVG(" + c + ")", "SUM(" + c + ") / COUNT(" + c + ")", kInt}
}

// diffQuery is a windowed GROUP BY. Tumbling windows are hopping windows
// whose slide is their size.
type diffQuery struct {
	name        string
	keys        []diffCol // GROUP BY columns, selected first
	hop         bool
	slide, size int64
	aggs        []diffCol
	where       [2]string // Sluice, SQLite; "" for none
	having      [2]string
	// wrap reads ev through a subquery in FROM (with the WHERE inside it)
	// or a query of WITH, for Sluice only: "", "subquery" or "with".
	wrap string
}

func diffQueries(d *diffData) []*diffQuery {
	th := strconv.FormatInt(d.threshold, 10)
	return []*diffQuery{
		{
			name: "tumble_bigint_key", keys: []diffCol{same("kb", kInt)}, slide: d.tumble, size: d.tumble,
			aggs: []diffCol{
				same("COUNT(*)", kInt), same("COUNT(vi)", kInt), same("COUNT(DISTINCT vi)", kInt),
				same("SUM(vi)", kInt), same("MIN(vi)", kInt), same("MAX(vi)", kInt), avgInt("vi"),
				{"AVG(CAST(vi AS DOUBLE))", "AVG(vi)", kFloat}, same("COUNT(vd)", kInt), same("COUNT(DISTINCT vd)", kInt), same("SUM(vd)", kFloat),
				same("MIN(vd)", kFloat), same("MAX(vd)", kFloat), same("AVG(vd)", kFloat),
				same("COUNT(DISTINCT ks)", kInt), same("MIN(ks)", kStr), same("MAX(ks)", kStr),
				same("MIN(ts)", kTime), same("MAX(ts)", kTime),
				same("MAX(vi) - MIN(vi)", kInt), same("COUNT(*) * 2 + COUNT(vd)", kInt),
			},
		},
		{
			name: "hop_varchar_key_where_having", keys: []diffCol{same("ks", kStr)}, hop: true, slide: d.slide, size: d.hopSize,
			aggs: []diffCol{
				same("COUNT(*)", kInt), same("COUNT(DISTINCT kb)", kInt), same("SUM(vi)", kInt), avgInt("vi"),
				same("SUM(vd)", kFloat), same("MIN(vd)", kFloat), same("MAX(vi)", kInt), same("COUNT(vd)", kInt),
			},
			where:  [2]string{"(vi IS NULL OR vi > " + th + ") AND (vd IS NULL OR vd < 5000) OR kb IN (0, 1, 42, -7)", ""},
			having: [2]string{"COUNT(*) >= 2 AND (SUM(vd) IS NULL OR SUM(vd) > " + th + ")", ""},
			wrap:   "subquery",
		},
		{
			name: "tumble_two_keys_expressions", keys: []diffCol{same("kb", kInt), same("ks", kStr)}, slide: d.tumble, size: d.tumble,
			aggs: []diffCol{
				same("COUNT(*)", kInt), {"SUM(vi + MOD(kb, 1000))", "SUM(vi + kb % 1000)", kInt}, same("MAX(vd - vi)", kFloat),
				same("SUM(CASE WHEN vd > 0 THEN 1 ELSE 0 END)", kInt), same("AVG(vd * 2 + 1)", kFloat),
				same("COUNT(COALESCE(vi, kb))", kInt), same("SUM(CASE WHEN vd > 0 THEN vi END)", kInt),
			},
			where:  [2]string{"MOD(vi, 3) <> 0 OR vd IS NULL", "vi % 3 <> 0 OR vd IS NULL"},
			having: [2]string{"SUM(vi) IS NOT NULL OR MIN(vd) < 0", ""},
			wrap:   "with",
		},
		{
			name: "hop_global", hop: true, slide: d.slide, size: d.hopSize,
			aggs: []diffCol{
				same("COUNT(*)", kInt), same("COUNT(DISTINCT ks)", kInt), same("COUNT(DISTINCT kb)", kInt),
				same("SUM(vd)", kFloat), same("AVG(vd)", kFloat), same("MIN(vi)", kInt), same("MAX(ts)", kTime),
				same("COUNT(ks)", kInt), same("MIN(kb)", kInt), same("MAX(kb)", kInt),
			},
		},
		{
			// LIKE is case-sensitive in both (SQLite: PRAGMA case_sensitive_like).
			name: "tumble_having_only_nulls", keys: []diffCol{same("kb", kInt)}, slide: d.tumble, size: d.tumble,
			aggs: []diffCol{
				same("COUNT(*)", kInt), same("SUM(vi)", kInt), same("SUM(vd)", kFloat), same("MIN(vd)", kFloat),
				avgInt("vi"), same("MAX(ks)", kStr),
			},
			where:  [2]string{"(vi IS NULL OR vd IS NULL) AND (ks IS NULL OR (ks NOT LIKE '_a%' AND ks NOT LIKE 'A%'))", ""},
			having: [2]string{"COUNT(vi) = 0 OR COUNT(vd) = 0", ""},
		},
	}
}

func (q *diffQuery) sink() string { return "diff_" + q.name }

// kinds lists the output columns: keys, window start, window end,
// aggregates.
func (q *diffQuery) kinds() []colKind {
	var ks []colKind
	for _, k := range q.keys {
		ks = append(ks, k.kind)
	}
	ks = append(ks, kTime, kTime)
	for _, a := range q.aggs {
		ks = append(ks, a.kind)
	}
	return ks
}

func (q *diffQuery) sluiceSQL() string {
	win := fmt.Sprintf("TUMBLE(ts, INTERVAL '%d' MILLISECOND)", q.size)
	start, end := "TUMBLE_START"+win[len("TUMBLE"):], "TUMBLE_END"+win[len("TUMBLE"):]
	if q.hop {
		win = fmt.Sprintf("HOP(ts, INTERVAL '%d' MILLISECOND, INTERVAL '%d' MILLISECOND)", q.slide, q.size)
		start, end = "HOP_START"+win[len("HOP"):], "HOP_END"+win[len("HOP"):]
	}
	var sel, group []string
	for _, k := range q.keys {
		sel = append(sel, k.sluice)
		group = append(group, k.sluice)
	}
	sel = append(sel, start, end)
	group = append(group, win)
	for _, a := range q.aggs {
		sel = append(sel, a.sluice)
	}
	for i := range sel {
		sel[i] += fmt.Sprintf(" AS c%d", i)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE %s WITH ('connector' = 'collect');\nINSERT INTO %s\n", q.sink(), q.sink())
	from, where := "ev", q.where[0]
	switch q.wrap {
	case "subquery":
		from = "(SELECT kb, ks, vi, vd, ts FROM ev"
		if where != "" {
			from += " WHERE " + where
		}
		from, where = from+") AS ev", ""
	case "with":
		b.WriteString("WITH e1 AS (SELECT * FROM ev), e2 AS (SELECT ts, kb, ks, vi, vd FROM e1)\n")
		from = "e2"
	}
	fmt.Fprintf(&b, "SELECT %s\nFROM %s\n", strings.Join(sel, ", "), from)
	if where != "" {
		fmt.Fprintf(&b, "WHERE %s\n", where)
	}
	fmt.Fprintf(&b, "GROUP BY %s\n", strings.Join(group, ", "))
	if q.having[0] != "" {
		fmt.Fprintf(&b, "HAVING %s\n", q.having[0])
	}
	b.WriteString(";\n")
	return b.String()
}

// sqliteSQL is the query for SQLite: each row joined with the offsets
// 0..size/slide-1 of the windows it is in, the window start computed on
// epoch milliseconds (floor, so also before 1970), then a plain GROUP BY.
// DOUBLE results are printed with 17 significant digits.
func (q *diffQuery) sqliteSQL() string {
	or := func(p [2]string) string {
		if p[1] != "" {
			return p[1]
		}
		return p[0]
	}
	var offs []string
	for k := int64(0); k < q.size/q.slide; k++ {
		offs = append(offs, fmt.Sprintf("(%d)", k))
	}
	s := q.slide
	var sel, group []string
	for _, k := range q.keys {
		sel = append(sel, k.sqlite)
		group = append(group, k.sqlite)
	}
	sel = append(sel, "ws", fmt.Sprintf("ws + %d", q.size))
	group = append(group, "ws")
	for _, a := range q.aggs {
		e := a.sqlite
		if a.kind == kFloat {
			e = fmt.Sprintf("CASE WHEN %s IS NULL THEN NULL ELSE printf('%%!.17g', %s) END", e, e)
		}
		sel = append(sel, e)
	}
	var b strings.Builder
	b.WriteString("PRAGMA case_sensitive_like = ON;\n")
	fmt.Fprintf(&b, "WITH o(k) AS (VALUES %s),\nw AS (SELECT ev.*, ts - ((ts %% %d) + %d) %% %d - o.k * %d AS ws FROM ev CROSS JOIN o",
		strings.Join(offs, ", "), s, s, s, s)
	if q.where[0] != "" {
		fmt.Fprintf(&b, " WHERE %s", or(q.where))
	}
	fmt.Fprintf(&b, ")\nSELECT %s\nFROM w\nGROUP BY %s\n", strings.Join(sel, ", "), strings.Join(group, ", "))
	if q.having[0] != "" {
		fmt.Fprintf(&b, "HAVING %s\n", or(q.having))
	}
	b.WriteString(";\n")
	return b.String()
}

// diffCell is one result value; only the field of its kind is used.
type diffCell struct {
	null bool
	i    int64
	f    float64
	s    string
}

type diffRow []diffCell

func (q *diffQuery) runSQLite(sqlite, db string) ([]diffRow, error) {
	return sqliteRows(sqlite, db, q.sqliteSQL(), q.kinds())
}

// sqliteRows runs query in sqlite3 over db and reads its rows, whose
// columns are of kinds.
func sqliteRows(sqlite, db, query string, kinds []colKind) ([]diffRow, error) {
	out, err := sqlite3(sqlite, nil, "-readonly", "-bail", "-csv", "-nullvalue", nullText, db, query)
	if err != nil {
		return nil, err
	}
	r := csv.NewReader(bytes.NewReader(out))
	recs, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("reading sqlite3's CSV: %v", err)
	}
	rows := make([]diffRow, 0, len(recs))
	for _, rec := range recs {
		if len(rec) != len(kinds) {
			return nil, fmt.Errorf("sqlite3 row %q has %d columns, want %d", rec, len(rec), len(kinds))
		}
		row := make(diffRow, len(kinds))
		for c, text := range rec {
			cell := &row[c]
			if text == nullText {
				cell.null = true
				continue
			}
			var err error
			switch kinds[c] {
			case kInt, kTime:
				cell.i, err = strconv.ParseInt(text, 10, 64)
			case kFloat:
				cell.f, err = strconv.ParseFloat(text, 64)
			case kStr:
				cell.s = text
			}
			if err != nil {
				return nil, fmt.Errorf("sqlite3 row %q, column %d: %v", rec, c+1, err)
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// sluiceRows converts collected rows, checking each value's type.
func (q *diffQuery) sluiceRows(rows [][]runtime.Value) ([]diffRow, error) {
	return valueRows(rows, q.kinds())
}

// valueRows converts collected rows, whose columns are of kinds,
// checking each value's type.
func valueRows(rows [][]runtime.Value, kinds []colKind) ([]diffRow, error) {
	want := map[colKind]runtime.Type{kInt: runtime.BigInt, kFloat: runtime.Double, kStr: runtime.Varchar, kTime: runtime.Timestamp}
	out := make([]diffRow, len(rows))
	for i, r := range rows {
		if len(r) != len(kinds) {
			return nil, fmt.Errorf("row %v has %d columns, want %d", r, len(r), len(kinds))
		}
		out[i] = make(diffRow, len(kinds))
		for c, v := range r {
			if v.Type != want[kinds[c]] {
				return nil, fmt.Errorf("row %v: column %d is %s, want %s", r, c+1, v.Type, want[kinds[c]])
			}
			out[i][c] = diffCell{null: v.Null, i: v.I, f: v.F, s: v.S}
		}
	}
	return out, nil
}

// floatsEqual: DOUBLE results agree to a relative 1e-9; near zero (a sum
// whose terms cancel) to 1e-6 absolute, far below the data's steps of 1/8
// and above the rounding of summing its values in another order.
func floatsEqual(a, b float64) bool {
	d := math.Abs(a - b)
	return a == b || d <= 1e-9*math.Max(math.Abs(a), math.Abs(b)) || d <= 1e-6
}

func cellsEqual(k colKind, a, b diffCell) bool {
	if a.null || b.null {
		return a.null == b.null
	}
	switch k {
	case kFloat:
		return floatsEqual(a.f, b.f)
	case kStr:
		return a.s == b.s
	}
	return a.i == b.i
}

func formatCell(k colKind, c diffCell) string {
	switch {
	case c.null:
		return "NULL"
	case k == kFloat:
		return strconv.FormatFloat(c.f, 'g', -1, 64)
	case k == kStr:
		return strconv.Quote(c.s)
	case k == kTime:
		return fmt.Sprintf("%d (%s)", c.i, runtime.FormatTimestamp(c.i))
	}
	return strconv.FormatInt(c.i, 10)
}

func formatRow(kinds []colKind, r diffRow) string {
	parts := make([]string, len(r))
	for c, cell := range r {
		parts[c] = formatCell(kinds[c], cell)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// columns returns the labels of the output columns: keys, window_start,
// window_end, aggregates.
func (q *diffQuery) columns() []string {
	var names []string
	for _, k := range q.keys {
		names = append(names, k.sluice)
	}
	names = append(names, "window_start", "window_end")
	for _, a := range q.aggs {
		names = append(names, a.sluice)
	}
	return names
}

// diffRows compares two multisets of result rows, whose first nGroup
// columns (keys, window start and end) identify a group, and returns ""
// when they are equal, or else the differences: per group, the columns
// that differ, and the rows found on one side only.
func diffRows(names []string, kinds []colKind, nGroup int, got, want []diffRow) string {
	byGroup := func(rows []diffRow) map[string][]diffRow {
		m := map[string][]diffRow{}
		for _, r := range rows {
			k := formatRow(kinds[:nGroup], r[:nGroup])
			m[k] = append(m[k], r)
		}
		for _, rs := range m { // several rows per group only when wrong: pair them in a fixed order
			slices.SortFunc(rs, func(a, b diffRow) int { return strings.Compare(formatRow(kinds, a), formatRow(kinds, b)) })
		}
		return m
	}
	g, w := byGroup(got), byGroup(want)
	var groups []string
	for k := range g {
		groups = append(groups, k)
	}
	for k := range w {
		if _, ok := g[k]; !ok {
			groups = append(groups, k)
		}
	}
	slices.Sort(groups)
	var lines []string
	for _, k := range groups {
		gs, ws := g[k], w[k]
		n := min(len(gs), len(ws))
		for i := range n {
			var cols []string
			for c := nGroup; c < len(kinds); c++ {
				if !cellsEqual(kinds[c], gs[i][c], ws[i][c]) {
					cols = append(cols, fmt.Sprintf("%s: Sluice %s, SQLite %s", names[c], formatCell(kinds[c], gs[i][c]), formatCell(kinds[c], ws[i][c])))
				}
			}
			if len(cols) > 0 {
				lines = append(lines, "  group "+k+": "+strings.Join(cols, "; "))
			}
		}
		for _, r := range gs[n:] {
			lines = append(lines, "  only in Sluice: "+formatRow(kinds, r))
		}
		for _, r := range ws[n:] {
			lines = append(lines, "  only in SQLite: "+formatRow(kinds, r))
		}
	}
	if len(lines) == 0 {
		return ""
	}
	const maxLines = 30
	head := fmt.Sprintf("%d rows from Sluice, %d from SQLite; %d differences (columns: %s):",
		len(got), len(want), len(lines), strings.Join(names, ", "))
	if len(lines) > maxLines {
		lines = append(lines[:maxLines], fmt.Sprintf("  … and %d more", len(lines)-maxLines))
	}
	return head + "\n" + strings.Join(lines, "\n")
}
