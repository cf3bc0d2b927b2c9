package sql

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/operators/expr"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
	"github.com/sluicehq/sluice/sql/query"
)

// sqliteFuncs pair a Sluice expression with sqlite's for the same value,
// over columns s (VARCHAR), ts (TIMESTAMP, epoch milliseconds in sqlite)
// and n (BIGINT), s and n with NULLs.
var sqliteFuncs = [][2]string{
	{"REPLACE(s, 'a', '#')", "replace(s, 'a', '#')"},
	{"POSITION('ab' IN s)", "instr(s, 'ab')"},
	{"LOCATE('b', s)", "instr(s, 'b')"},
	{"LEFT(s, 2)", "substr(s, 1, 2)"},
	{"RIGHT(s, 2)", "substr(s, -2, 2)"},
	{"LTRIM(s)", "ltrim(s, ' ')"},
	{"RTRIM(s)", "rtrim(s, ' ')"},
	{"CHAR_LENGTH(CONCAT_WS('-', s, 'x'))", "length(CASE WHEN s IS NULL THEN 'x' ELSE s || '-x' END)"},
	{"UPPER(SPLIT_INDEX(s, 'c', 0))", "CASE WHEN s = '' THEN NULL ELSE upper(substr(s, 1, instr(s || 'c', 'c') - 1)) END"},
	{"DATE_FORMAT(ts, 'yyyy-MM-dd HH:mm:ss')", "strftime('%Y-%m-%d %H:%M:%S', ts / 1000, 'unixepoch')"},
	{"DATE_FORMAT(ts, 'yyyyMMdd.HHmmss.SSS')", "strftime('%Y%m%d.%H%M%S.', ts / 1000, 'unixepoch') || substr('00' || (ts % 1000), -3, 3)"},
	{"YEAR(ts)", "CAST(strftime('%Y', ts / 1000, 'unixepoch') AS INTEGER)"},
	{"MONTH(ts)", "CAST(strftime('%m', ts / 1000, 'unixepoch') AS INTEGER)"},
	{"DAYOFMONTH(ts)", "CAST(strftime('%d', ts / 1000, 'unixepoch') AS INTEGER)"},
	{"HOUR(ts)", "CAST(strftime('%H', ts / 1000, 'unixepoch') AS INTEGER)"},
	{"MINUTE(ts)", "CAST(strftime('%M', ts / 1000, 'unixepoch') AS INTEGER)"},
	{"SECOND(ts)", "CAST(strftime('%S', ts / 1000, 'unixepoch') AS INTEGER)"},
	{"DAYOFWEEK(ts)", "CAST(strftime('%w', ts / 1000, 'unixepoch') AS INTEGER) + 1"},
	{"DAYOFYEAR(ts)", "CAST(strftime('%j', ts / 1000, 'unixepoch') AS INTEGER)"},
	{"EXTRACT(EPOCH FROM ts)", "ts / 1000"},
	{"UNIX_TIMESTAMP(DATE_FORMAT(ts, 'yyyy-MM-dd HH:mm:ss'))", "CAST(strftime('%s', ts / 1000, 'unixepoch') AS INTEGER)"},
	{"FROM_UNIXTIME(n)", "datetime(n, 'unixepoch')"},
	{"TIMESTAMPDIFF(DAY, TIMESTAMP '2020-01-01 00:00:00', ts)", "(ts - 1577836800000) / 86400000"},
	{"DATE_FORMAT(TIMESTAMPADD(HOUR, MOD(n, 100000), ts), 'yyyy-MM-dd HH:mm:ss')", "strftime('%Y-%m-%d %H:%M:%S', ts / 1000 + n % 100000 * 3600, 'unixepoch')"},
	{"DATE_FORMAT(FLOOR(ts TO MONTH), 'yyyy-MM-dd HH:mm:ss')", "strftime('%Y-%m-%d %H:%M:%S', ts / 1000, 'unixepoch', 'start of month')"},
	{"GREATEST(n, 500000000)", "max(n, 500000000)"},
	{"LEAST(n, 500000000)", "min(n, 500000000)"},
}

// TestFunctionsMatchSQLite evaluates the functions through the SQL
// translator on random rows and compares every value with sqlite3's
// equivalent expression on the same rows.
func TestFunctionsMatchSQLite(t *testing.T) {
	sqlite := needSQLite(t)
	schema := runtime.NewSchema(
		runtime.Field{Name: "s", Type: runtime.Varchar, Nullable: true},
		runtime.Field{Name: "ts", Type: runtime.Timestamp},
		runtime.Field{Name: "n", Type: runtime.BigInt, Nullable: true},
	)
	scope, err := query.NewScope(query.Relation{Name: "t", Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	for seed := range uint64(8) {
		r := rand.New(rand.NewPCG(seed, 14))
		var rows [][]runtime.Value
		var values []string
		for range 60 {
			s, sv := runtime.NullValue(runtime.Varchar), "NULL"
			if r.IntN(6) != 0 {
				var b strings.Builder
				for range r.IntN(7) {
					b.WriteByte(" abcx"[r.IntN(5)])
				}
				s, sv = runtime.StringValue(b.String()), "'"+b.String()+"'"
			}
			ts := r.Int64N(4_102_444_800_000) // 1970 to 2100
			n, nv := runtime.NullValue(runtime.BigInt), "NULL"
			if r.IntN(6) != 0 {
				x := r.Int64N(2_000_000_000)
				n, nv = runtime.IntValue(x), fmt.Sprint(x)
			}
			rows = append(rows, []runtime.Value{s, runtime.TimeValue(ts), n})
			values = append(values, fmt.Sprintf("(%d, %s, %d, %s)", len(values), sv, ts, nv))
		}
		b := rttest.NewBatch(schema, rows...)
		var cols []string
		for _, f := range sqliteFuncs {
			cols = append(cols, f[1])
		}
		script := "WITH t(i, s, ts, n) AS (VALUES " + strings.Join(values, ", ") + ") SELECT " +
			strings.Join(cols, ", ") + " FROM t ORDER BY i;\n"
		out, err := sqlite3(sqlite, strings.NewReader(script), "-separator", "|", "-nullvalue", "NULL")
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
		if len(lines) != len(rows) {
			t.Fatalf("sqlite3 gave %d rows for %d", len(lines), len(rows))
		}
		for k, f := range sqliteFuncs {
			q, err := query.Parse("SELECT "+f[0]+" FROM t", query.Pos{Line: 1, Col: 1})
			if err != nil {
				t.Fatalf("%s: %v", f[0], err)
			}
			sc, err := q.Scalar(scope, q.Selects[0].Items[0].Expr, query.Options{})
			if err != nil {
				t.Fatalf("%s: %v", f[0], err)
			}
			c, err := expr.Compile(sc.Expr, schema)
			if err != nil {
				t.Fatal(err)
			}
			var v runtime.Vector
			c.Eval(b, &v)
			for i, line := range lines {
				want := strings.Split(line, "|")[k]
				if got := v.Value(i).String(); got != want {
					t.Fatalf("seed %d: %s with s=%v ts=%d n=%v: got %q, sqlite3's %s gives %q",
						seed, f[0], rows[i][0], rows[i][1].I, rows[i][2], got, f[1], want)
				}
			}
		}
	}
}
