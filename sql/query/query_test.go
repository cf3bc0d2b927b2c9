package query

import (
	"errors"
	"strings"
	"testing"

	"github.com/xwb1989/sqlparser"
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
func at(q *Query, n sqlparser.SQLNode) string {
	return q.Pos(n).String() + " " + q.TextOf(n)
}

func TestParseShape(t *testing.T) {
	q := mustParse(t, `INSERT INTO page_views
SELECT c.page, COUNT(*) AS views, TUMBLE_START(ts, INTERVAL '1' MINUTE) wstart, *, c.*
FROM clicks AS c
WHERE c.page <> '/health'
GROUP BY c.page, TUMBLE(ts, INTERVAL '1' MINUTE)
HAVING COUNT(*) > 10`)
	if q.Target == nil || q.Target.Name != "page_views" || q.Target.Pos != (Pos{7, 15}) || q.Target.Columns != nil {
		t.Fatalf("target %+v", q.Target)
	}
	if len(q.Selects) != 1 {
		t.Fatalf("%d selects", len(q.Selects))
	}
	s := q.Selects[0]
	var items []string
	for i, it := range s.Items {
		items = append(items, it.Name(i)+"="+at(q, it.Node))
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
	if s.From == nil || len(s.From.Tables) != 1 || s.From.Join != nil || s.From.On != nil {
		t.Fatalf("from %+v", s.From)
	}
	if tab := s.From.Tables[0]; tab.Name != "clicks" || tab.Alias != "c" || tab.Ref() != "c" || at(q, tab.Node) != "9:6 clicks AS c" {
		t.Errorf("table %+v at %s", tab, at(q, tab.Node))
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
	if len(f.Tables) != 2 || f.Tables[0].Ref() != "s" || f.Tables[1].Name != "orders" || f.Join == nil {
		t.Fatalf("join %+v", f)
	}
	if got := at(q, f.On); got != "9:6 s.order_id = o.id AND s.ts BETWEEN o.ts AND o.ts + INTERVAL '10' MINUTE" {
		t.Errorf("on at %s", got)
	}
	if got := at(q, f.Tables[1].Node); got != "8:23 orders o" {
		t.Errorf("orders at %s", got)
	}
	if got := at(q, q.Selects[1].Node); got != "11:1 SELECT id, amount FROM refunds" {
		t.Errorf("second select at %s", got)
	}
	if got := at(q, q.Selects[2].Where); got != "12:42 id > 0" {
		t.Errorf("third where at %s", got)
	}
	if q.Selects[2].From.Tables[0].Name != "gifts" {
		t.Errorf("third from %+v", q.Selects[2].From.Tables[0])
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
		if !errors.As(err, &e) {
			t.Fatalf("Parse(%q) = %v, want an *Error", text, err)
		}
		if err.Error() != want {
			t.Errorf("Parse(%q):\n got %s\nwant %s", text, err, want)
		}
	}
	f("SELECT a\nFORM t", `line 8:1: syntax error (did you mean FROM?) near "FORM"`)
	f("SELECT a, b\n  FROM t\n  WHERE a = = 1", `line 9:13: syntax error near "="`)
	f("SELECT a FROM t WHERE", `line 7:24: syntax error at end of statement`)
	f("SELECT a FROM t\nWHERE (a > 1", `line 8:13: syntax error at end of statement`)
	f("SELECT 'it''s' AS x,\n  'oops FROM t", `line 8:3: unterminated string near "'oops FROM t"`)
	f("SELECT `a FROM t", "line 7:10: unterminated quoted name near \"`a FROM t\"")
	f("SELECT a /* FROM t", `line 7:12: unterminated comment near "/* FROM t"`)
	f("SELECT a FROM t\nWHERE b = $1", `line 8:11: unexpected character "$" near "$"`)
	f("SELECT a FROM t WHERE b = ?", `line 7:29: parameters are not supported near "?"`)
	f("SELECT COUNT(*) OVER (PARTITION BY a) FROM t", `line 7:19: OVER (…) is not supported: aggregate with GROUP BY and TUMBLE, HOP or SESSION near "OVER"`)
	f("SELECT * FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' MINUTE))", `line 7:17: window table functions are not supported: write GROUP BY TUMBLE(ts, INTERVAL …) near "TABLE"`)
	f("SELECT a || b FROM t", `line 7:12: || is not supported: use CONCAT(a, b) near "||"`)
	f("SELECT\n  CAST(a AS TINYINT) FROM t", `line 8:13: CAST to TINYINT is not supported (types: BOOLEAN, INT, BIGINT, DOUBLE, FLOAT, VARCHAR, STRING, TIMESTAMP(3)) near "TINYINT"`)
	f("SELECT CAST(a AS TIMESTAMP(6)) FROM t", `line 7:20: TIMESTAMP(6) is not supported: timestamps have millisecond precision, TIMESTAMP(3) near "TIMESTAMP(6)"`)
	f("SELECT CAST(a AS INT(4)) FROM t", `line 7:20: INT takes no length near "INT(4)"`)
	f("", `line 7:3: empty statement`)
	f("  -- nothing\n", `line 7:3: empty statement`)
	f("WITH x AS (SELECT 1) SELECT * FROM x", `line 7:3: WITH is not supported: write the query into INSERT INTO … SELECT near "WITH"`)
	f("SELECT a FROM t\nORDER BY a", `line 8:1: ORDER BY is not supported`)
	f("SELECT a FROM t LIMIT 3", `line 7:19: LIMIT is not supported`)
	f("SELECT DISTINCT a FROM t", `line 7:10: SELECT DISTINCT is not supported: use GROUP BY`)
	f("SELECT a FROM t UNION ALL SELECT a FROM u\nUNION SELECT a FROM v", `line 8:1: UNION without ALL is not supported: use UNION ALL`)
	f("SELECT a FROM t UNION ALL SELECT a FROM u ORDER BY a", `line 7:45: ORDER BY is not supported`)
	f("INSERT INTO t VALUES (1, 2)", `line 7:3: INSERT … VALUES is not supported: write INSERT INTO t SELECT … in "INSERT INTO t VALUES (1, 2)"`)
	f("UPDATE t SET a = 1", `line 7:3: expected INSERT INTO … SELECT or SELECT in "UPDATE t SET a = 1"`)
	f("SELECT a FROM t, u", `line 7:20: FROM a, b is not supported: join tables with JOIN … ON in "u"`)
	f("SELECT a FROM t LEFT JOIN u ON t.k = u.k", `line 7:17: LEFT JOIN is not supported: only inner joins (JOIN … ON) in "t LEFT JOIN u ON t.k = u.k"`)
	f("SELECT a FROM t JOIN u USING (k)", `line 7:17: JOIN … USING is not supported: write JOIN … ON in "t JOIN u USING (k)"`)
	f("SELECT a FROM t JOIN u ON t.k = u.k JOIN v ON v.k = t.k", `line 7:17: only two tables can be joined in "t JOIN u ON t.k = u.k"`)
	f("SELECT a FROM t JOIN t ON t.k = t.k", `line 7:24: table name "t" is used twice: give one of them an alias in "t"`)
	f("SELECT a FROM (SELECT a FROM t) AS s", `line 7:17: subqueries in FROM are not supported (FROM names a table, or two tables joined with JOIN … ON; filter and compute in the outer SELECT) in "(SELECT a FROM t)"`)
	// Without an alias (which sqlparser would call a syntax error at the end).
	f("SELECT a FROM (SELECT a FROM t)", `line 7:17: subqueries in FROM are not supported (FROM names a table, or two tables joined with JOIN … ON; filter and compute in the outer SELECT) in "(SELECT a FROM t)"`)
	f("SELECT a\nFROM t JOIN ((SELECT b FROM u WHERE (b > 1))) v ON t.a = v.b", `line 8:13: subqueries in FROM are not supported (FROM names a table, or two tables joined with JOIN … ON; filter and compute in the outer SELECT) in "((SELECT b FROM u WHERE (b > 1)))"`)
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
		if got := at(q, it.Node); got != want[i] {
			t.Errorf("item %d at %s, want %s", i, got, want[i])
		}
	}
	if got := at(q, s.From.Tables[0].Node); got != "10:6 t" {
		t.Errorf("table at %s", got)
	}
}
