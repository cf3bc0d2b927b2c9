package query

import (
	"errors"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/sql/parser"
)

// base is where the statements of these tests start in their file.
var base = Pos{Line: 7, Col: 3}

func mustParse(t *testing.T, text string) *Query {
	t.Helper()
	q, err := Parse(text, base)
	if err != nil {
		t.Fatalf("Parse(%q): %v", text, err)
	}
	return q
}

// at is the position of a node and its text, as "line:col text".
func at(q *Query, n Node) string {
	return q.Pos(n).String() + " " + q.TextOf(n)
}

func TestParseShape(t *testing.T) {
	q := mustParse(t, `INSERT INTO page_views
SELECT c.page, COUNT(*) AS views, TUMBLE_START(ts, INTERVAL '1' MINUTE) wstart, *, c.*
FROM clicks AS c
WHERE c.page <> '/health'
GROUP BY c.page, TUMBLE(ts, INTERVAL '1' MINUTE)
HAVING COUNT(*) > 10`)
	if q.Target == nil || q.Target.Name != "page_views" || q.Target.Pos != (Pos{Line: 7, Col: 15}) || q.Target.Columns != nil {
		t.Fatalf("target %+v", q.Target)
	}
	if len(q.Selects) != 1 {
		t.Fatalf("%d selects", len(q.Selects))
	}
	s := q.Selects[0]
	var items []string
	for i, it := range s.Items {
		items = append(items, it.Name(i)+"="+at(q, it))
	}
	want := []string{
		"page=8:8 c.page",
		"views=8:16 COUNT(*) AS views",
		"wstart=8:35 TUMBLE_START(ts, INTERVAL '1' MINUTE) wstart",
		"*=8:81 *",
		"*=8:84 c.*",
	}
	if strings.Join(items, "\n") != strings.Join(want, "\n") {
		t.Errorf("items:\n%s\nwant:\n%s", strings.Join(items, "\n"), strings.Join(want, "\n"))
	}
	if !s.Items[3].Star || s.Items[3].StarOf != "" || !s.Items[4].Star || s.Items[4].StarOf != "c" {
		t.Errorf("stars: %+v %+v", s.Items[3], s.Items[4])
	}
	if s.From == nil || len(s.From.Tables()) != 1 || s.From.Join != nil || s.From.On != nil {
		t.Fatalf("from %+v", s.From)
	}
	if tab := s.From.Tables()[0]; tab.Name != "clicks" || tab.Alias != "c" || tab.Ref() != "c" || at(q, tab) != "9:6 clicks AS c" {
		t.Errorf("table %+v at %s", tab, at(q, tab))
	}
	if got := at(q, s.Where); got != "10:7 c.page <> '/health'" {
		t.Errorf("where at %s", got)
	}
	if len(s.GroupBy) != 2 || at(q, s.GroupBy[0]) != "11:10 c.page" ||
		at(q, s.GroupBy[1]) != "11:18 TUMBLE(ts, INTERVAL '1' MINUTE)" {
		t.Errorf("group by %d items at %s, %s", len(s.GroupBy), at(q, s.GroupBy[0]), at(q, s.GroupBy[1]))
	}
	if got := at(q, s.Having); got != "12:8 COUNT(*) > 10" {
		t.Errorf("having at %s", got)
	}
}

func TestParseJoinAndUnion(t *testing.T) {
	q := mustParse(t, `SELECT s.id, o.amount
FROM shipments s JOIN orders o
  ON s.order_id = o.id AND s.ts BETWEEN o.ts AND o.ts + INTERVAL '10' MINUTE
UNION ALL
SELECT id, amount FROM refunds
UNION ALL (SELECT id, 0 FROM gifts WHERE id > 0)`)
	if q.Target != nil {
		t.Errorf("target %+v for a SELECT", q.Target)
	}
	if len(q.Selects) != 3 {
		t.Fatalf("%d selects", len(q.Selects))
	}
	f := q.Selects[0].From
	if len(f.Tables()) != 2 || f.Tables()[0].Ref() != "s" || f.Tables()[1].Name != "orders" || f.Join == nil {
		t.Fatalf("join %+v", f)
	}
	if got := at(q, f.On); got != "9:6 s.order_id = o.id AND s.ts BETWEEN o.ts AND o.ts + INTERVAL '10' MINUTE" {
		t.Errorf("on at %s", got)
	}
	if got := at(q, f.Tables()[1]); got != "8:23 orders o" {
		t.Errorf("orders at %s", got)
	}
	if got := at(q, q.Selects[1].Node); got != "11:1 SELECT id, amount FROM refunds" {
		t.Errorf("second select at %s", got)
	}
	if got := at(q, q.Selects[2].Where); got != "12:42 id > 0" {
		t.Errorf("third where at %s", got)
	}
	if q.Selects[2].From.Tables()[0].Name != "gifts" {
		t.Errorf("third from %+v", q.Selects[2].From.Tables()[0])
	}

	q = mustParse(t, "SELECT 1 + 1 AS two")
	if q.Selects[0].From != nil {
		t.Errorf("FROM of a SELECT without FROM: %+v", q.Selects[0].From)
	}
	q = mustParse(t, "INSERT INTO out (a, b) SELECT x, y FROM t")
	if strings.Join(q.Target.Columns, ",") != "a,b" {
		t.Errorf("target columns %q", q.Target.Columns)
	}
}

// TestParseErrors checks syntax and dialect errors, placed in the file
// although the statement starts at line 7, column 3.
func TestParseErrors(t *testing.T) {
	f := func(text, want string) {
		t.Helper()
		_, err := Parse(text, base)
		var e *Error
		var se *parser.SyntaxError
		if !errors.As(err, &e) && !errors.As(err, &se) {
			t.Fatalf("Parse(%q) = %v, want an *Error or a *parser.SyntaxError", text, err)
		}
		if err.Error() != want {
			t.Errorf("Parse(%q):\n got %s\nwant %s", text, err, want)
		}
	}
	f("SELECT a\nFORM t", `line 8:6: expected end of statement, found 't'; is FORM at 8:1 a misspelt FROM?`)
	f("SELECT a, b\n  FROM t\n  WHERE a = = 1", `line 9:13: expected an expression, found '='`)
	f("SELECT a FROM t WHERE", `line 7:24: expected an expression, found end of statement`)
	f("SELECT a FROM t\nWHERE (a > 1", `line 8:13: expected ')' to close the '(' at 8:7, found end of statement`)
	f("SELECT 'it''s' AS x,\n  'oops FROM t", `line 8:3: unterminated string near "'oops FROM t"`)
	f("SELECT `a FROM t", "line 7:10: unterminated quoted name near \"`a FROM t\"")
	f("SELECT a /* FROM t", `line 7:12: unterminated comment near "/* FROM t"`)
	f("SELECT a FROM t\nWHERE b = $1", `line 8:11: expected an expression, found '$'`)
	f("SELECT a FROM t WHERE b = ?", `line 7:29: a ? parameter is not supported`)
	f("SELECT * FROM TABLE(SESSION(TABLE t, DESCRIPTOR(ts), INTERVAL '1' MINUTE))", `line 7:17: unknown table function SESSION: the window functions are TUMBLE, HOP and CUMULATE in "TABLE(SESSION(TABLE t, DESCRIPTOR(ts), INTERVAL …"`)
	f("SELECT * FROM TABLE(TUMBLE(TABLE t, ts, INTERVAL '1' MINUTE))", `line 7:39: the second argument of TUMBLE must be DESCRIPTOR(time column), as TUMBLE(TABLE t, DESCRIPTOR(ts), size [, offset]) in "ts"`)
	f("SELECT * FROM TABLE(CUMULATE(TABLE t, DESCRIPTOR(ts), INTERVAL '0' MINUTE, INTERVAL '1' HOUR))", `line 7:57: the INTERVALs of CUMULATE must be positive in "INTERVAL '0' MINUTE"`)
	f("", `line 7:3: empty statement`)
	f("  -- nothing\n", `line 7:3: empty statement`)
	f("SELECT a FROM t UNION ALL (WITH x AS (SELECT 1) SELECT * FROM x)", `line 7:30: WITH must start the query (or a subquery): write (WITH … SELECT …) in FROM`)
	f("WITH x AS (SELECT 1), X AS (SELECT 2) SELECT * FROM x", `line 7:25: WITH defines X twice in "X"`)
	f("SELECT a FROM t CROSS JOIN u", `line 7:19: CROSS JOIN is not supported: join on a condition (JOIN … ON) in "t CROSS JOIN u"`)
	f("SELECT a FROM t\nORDER BY a", `line 8:1: ORDER BY is not supported`)
	f("SELECT a FROM t LIMIT 3", `line 7:19: LIMIT is not supported`)
	f("SELECT DISTINCT a FROM t", `line 7:10: SELECT DISTINCT is not supported: use GROUP BY`)
	f("SELECT a FROM t UNION ALL SELECT a FROM u\nUNION SELECT a FROM v", `line 8:1: UNION without ALL is not supported: use UNION ALL`)
	f("SELECT a FROM t UNION ALL SELECT a FROM u ORDER BY a", `line 7:45: ORDER BY is not supported`)
	f("INSERT INTO t VALUES (1, 2)", `line 7:3: INSERT … VALUES is not supported: write INSERT INTO t SELECT … in "INSERT INTO t VALUES (1, 2)"`)
	f("UPDATE t SET a = 1", `line 7:3: expected SELECT, VALUES or '(', found 'UPDATE'`)
	f("SELECT a FROM t JOIN u USING (k)", `line 7:17: JOIN … USING is not supported: write JOIN … ON in "t JOIN u USING (k)"`)
	f("SELECT a FROM t JOIN u ON t.k = u.k JOIN (SELECT 1 AS k FROM w) AS t ON 1 = 1", `line 7:44: table name "t" is used twice: give one of them an alias in "(SELECT 1 AS k FROM w) AS t"`)
	f("SELECT a FROM t JOIN t ON t.k = t.k", `line 7:24: table name "t" is used twice: give one of them an alias in "t"`)
	f("SELECT a FROM db.t", `line 7:17: qualified table names are not supported in "db.t"`)
}

// TestErrorsOnLaterLines checks that positions count lines and characters
// (not bytes) from the statement's start, in the rewritten parts too.
func TestErrorsOnLaterLines(t *testing.T) {
	q := mustParse(t, "SELECT 'é', \"naïve col\",\n\tCAST(x AS STRING) AS s,\n\tTIMESTAMP '2026-01-01 00:00:00' AS t0, 'C:\\dir' AS d\nFROM t")
	s := q.Selects[0]
	want := []string{
		`7:10 'é'`,
		`7:15 "naïve col"`,
		`8:2 CAST(x AS STRING) AS s`,
		`9:2 TIMESTAMP '2026-01-01 00:00:00' AS t0`,
		`9:41 'C:\dir' AS d`,
	}
	for i, it := range s.Items {
		if got := at(q, it); got != want[i] {
			t.Errorf("item %d at %s, want %s", i, got, want[i])
		}
	}
	if got := at(q, s.From.Tables()[0]); got != "10:6 t" {
		t.Errorf("table at %s", got)
	}
}

// TestParseAccepts checks that the forms the planner supports parse, with
// their SELECTs, FROM tables and clauses where the planner looks for them.
func TestParseAccepts(t *testing.T) {
	for _, c := range []struct {
		text                string
		selects, tables     int
		where, group, havin bool
	}{
		{"SELECT page FROM clicks", 1, 1, false, false, false},
		{"SELECT * FROM clicks WHERE ms > 100", 1, 1, true, false, false},
		{"SELECT c.* FROM clicks AS c", 1, 1, false, false, false},
		{"SELECT c.page AS p, ms * 2 AS ms2 FROM clicks c WHERE c.page <> '/x'", 1, 1, true, false, false},
		{"SELECT UPPER(page), LOWER(page), CHAR_LENGTH(page) FROM clicks", 1, 1, false, false, false},
		{"SELECT SUBSTRING(page FROM 2 FOR 3), SUBSTR(page, 2) FROM clicks", 1, 1, false, false, false},
		{"SELECT CAST(ms AS DOUBLE) / 1000 AS secs FROM clicks", 1, 1, false, false, false},
		{"SELECT page || '!' FROM clicks", 1, 1, false, false, false},
		{"SELECT CASE WHEN ms > 10 THEN 'slow' ELSE 'fast' END AS speed FROM clicks", 1, 1, false, false, false},
		{"SELECT page FROM clicks WHERE page IN ('/a', '/b') AND ms BETWEEN 1 AND 10", 1, 1, true, false, false},
		{"SELECT page FROM clicks WHERE page LIKE '/h%' OR ms IS NULL", 1, 1, true, false, false},
		{"SELECT page, COUNT(*) AS n FROM clicks GROUP BY page", 1, 1, false, true, false},
		{"SELECT page, COUNT(*) AS n FROM clicks GROUP BY page HAVING COUNT(*) > 1", 1, 1, false, true, true},
		{"SELECT page, SUM(ms), MIN(ms), MAX(ms), AVG(ms) FROM clicks WHERE ms > 0 GROUP BY page", 1, 1, true, true, false},
		{"SELECT COUNT(DISTINCT page) FROM clicks", 1, 1, false, false, false},
		{"SELECT page, TUMBLE_START(ts, INTERVAL '1' MINUTE) AS ws, COUNT(*) FROM clicks GROUP BY page, TUMBLE(ts, INTERVAL '1' MINUTE)", 1, 1, false, true, false},
		{"SELECT HOP_END(ts, INTERVAL '10' SECOND, INTERVAL '1' MINUTE), COUNT(*) FROM clicks GROUP BY HOP(ts, INTERVAL '10' SECOND, INTERVAL '1' MINUTE)", 1, 1, false, true, false},
		{"SELECT page, SESSION_END(ts, INTERVAL '5' MINUTE), COUNT(*) FROM clicks GROUP BY page, SESSION(ts, INTERVAL '5' MINUTE)", 1, 1, false, true, false},
		{"SELECT CAST(ms AS VARCHAR) AS m, COUNT(*) FROM clicks GROUP BY CAST(ms AS VARCHAR)", 1, 1, false, true, false},
		{"SELECT s.id, o.amount FROM shipments s JOIN orders o ON s.oid = o.id AND s.ts BETWEEN o.ts AND o.ts + INTERVAL '1' HOUR", 1, 2, false, false, false},
		{"SELECT P.id, COUNT(*) FROM person P JOIN auction A ON P.id = A.seller AND A.ts BETWEEN P.ts AND P.ts + INTERVAL '10' SECOND GROUP BY P.id, TUMBLE(P.ts, INTERVAL '10' SECOND)", 1, 2, false, true, false},
		{"SELECT a FROM t UNION ALL SELECT b FROM u", 2, 1, false, false, false},
		{"SELECT a FROM t UNION ALL SELECT b FROM u UNION ALL SELECT c FROM v", 3, 1, false, false, false},
		{"INSERT INTO out SELECT page, ms FROM clicks", 1, 1, false, false, false},
		{"INSERT INTO out (a, b) SELECT page, ms FROM clicks WHERE ms > 1", 1, 1, true, false, false},
		{"INSERT INTO out SELECT page, COUNT(*) FROM clicks GROUP BY page HAVING SUM(ms) > 10", 1, 1, false, true, true},
		{"SELECT TIMESTAMP '2026-01-01 00:00:00' AS t0, ts + INTERVAL '1' DAY FROM clicks", 1, 1, false, false, false},
		{"SELECT COALESCE(ms, 0), IF(ms > 0, 'p', 'n'), MOD(ms, 7), ABS(ms), ROUND(1.5), FLOOR(1.5), CEIL(1.5) FROM clicks", 1, 1, false, false, false},
	} {
		q := mustParse(t, c.text)
		if len(q.Selects) != c.selects {
			t.Errorf("%s: %d selects, want %d", c.text, len(q.Selects), c.selects)
			continue
		}
		s := q.Selects[0]
		if len(s.From.Tables()) != c.tables || (s.Where != nil) != c.where || (len(s.GroupBy) > 0) != c.group || (s.Having != nil) != c.havin {
			t.Errorf("%s: shape %d tables, where %v, group %v, having %v", c.text, len(s.From.Tables()), s.Where != nil, len(s.GroupBy) > 0, s.Having != nil)
		}
	}
}
