package query

import (
	"testing"

	"github.com/sluicehq/sluice/operators/expr"
	"github.com/sluicehq/sluice/runtime"
)

// TestFunctionSyntax translates the Flink spellings of the date, string
// and math functions (EXTRACT(unit FROM ts), POSITION(a IN b), FLOOR(ts TO
// unit), TIMESTAMPADD(DAY, …), REGEXP(…)) and evaluates them on clickRows:
// want is "TYPE: row0 | row1".
func TestFunctionSyntax(t *testing.T) {
	scope := clickScope(t)
	b := clickRows()
	f := func(sql, want string) {
		t.Helper()
		q, err := Parse("SELECT "+sql+" FROM clicks", base)
		if err != nil {
			t.Errorf("%s: %v", sql, err)
			return
		}
		sc, err := q.Scalar(scope, q.Selects[0].Items[0].Expr, Options{Clause: "the select list"})
		if err != nil {
			t.Errorf("%s: %v", sql, err)
			return
		}
		c, err := expr.Compile(sc.Expr, scope.Schema())
		if err != nil {
			t.Errorf("%s: compile %s: %v", sql, sc.Expr, err)
			return
		}
		var out runtime.Vector
		c.Eval(b, &out)
		got := sc.Type.String() + ": " + out.Value(0).String() + " | " + out.Value(1).String()
		if got != want {
			t.Errorf("%s (as %s):\n got %s\nwant %s", sql, sc.Expr, got, want)
		}
	}
	f("DATE_FORMAT(ts, 'yyyy-MM-dd HH:mm')", "VARCHAR: 2026-01-01 00:00 | 2026-01-01 00:01")
	f("EXTRACT(SECOND FROM ts)", "BIGINT: 0 | 30")
	f("extract(dow from ts) + 1", "BIGINT: 6 | 6")
	f("EXTRACT(YEAR FROM ts + INTERVAL '1' DAY * 365)", "BIGINT: 2027 | 2027")
	f("MINUTE(ts) * 100 + SECOND(ts)", "BIGINT: 0 | 130")
	f("DAY(ts)", "BIGINT: 1 | 1")
	f("DAYOFWEEK(ts)", "BIGINT: 5 | 5")
	f("POSITION('a' IN page)", "INT: 0 | 3")
	f("LOCATE('/', page, 2)", "INT: 0 | 0")
	f("FLOOR(ts TO MINUTE)", "TIMESTAMP(3): 2026-01-01 00:00:00.000 | 2026-01-01 00:01:00.000")
	f("CEIL(ts TO MINUTE)", "TIMESTAMP(3): 2026-01-01 00:00:00.000 | 2026-01-01 00:02:00.000")
	f("CEILING(ts TO YEAR)", "TIMESTAMP(3): 2026-01-01 00:00:00.000 | 2027-01-01 00:00:00.000")
	f("TIMESTAMPADD(DAY, 1, ts)", "TIMESTAMP(3): 2026-01-02 00:00:00.000 | 2026-01-02 00:01:30.000")
	f("TIMESTAMPDIFF(SECOND, ts, TIMESTAMP '2026-01-01 00:10:00')", "BIGINT: 600 | 510")
	f("REGEXP(page, '^/h')", "BOOLEAN: TRUE | FALSE")
	f("REGEXP_EXTRACT(page, '/(\\w)', 1)", "VARCHAR: h | c")
	f("REGEXP_REPLACE(page, '[aeiou]', '_')", "VARCHAR: /h_m_ | /c_rt")
	f("SPLIT_INDEX(page, 'a', 1)", "VARCHAR: NULL | rt")
	f("REPLACE(page, '/', '#')", "VARCHAR: #home | #cart")
	f("LPAD(page, 7, '.')", "VARCHAR: ..\x2fhome | ..\x2fcart")
	f("CONCAT_WS('-', page, CAST(ms AS VARCHAR))", "VARCHAR: /home-120 | /cart")
	f("TO_TIMESTAMP('2026-01-01 00:00:00') = ts", "BOOLEAN: TRUE | FALSE")
	f("UNIX_TIMESTAMP(DATE_FORMAT(ts, 'yyyy-MM-dd HH:mm:ss'))", "BIGINT: 1767225600 | 1767225690")
	f("FROM_UNIXTIME(ms)", "VARCHAR: 1970-01-01 00:02:00 | NULL")
	f("TO_TIMESTAMP_LTZ(ms, 3)", "TIMESTAMP(3): 1970-01-01 00:00:00.120 | NULL")
	f("POWER(n, 2) + SQRT(16)", "DOUBLE: 13.0 | 8.0")
	f("GREATEST(user, ms, 10)", "BIGINT: 120 | NULL")
	f("TRUNCATE(score, 0)", "DOUBLE: 2.0 | NULL")
	f("ts <= CURRENT_TIMESTAMP", "BOOLEAN: TRUE | TRUE")
}
