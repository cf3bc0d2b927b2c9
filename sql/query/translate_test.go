package query

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/sql/parser"

	"github.com/sluicehq/sluice/operators/expr"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

var clicks = runtime.NewSchema(
	runtime.Field{Name: "page", Type: runtime.Varchar},
	runtime.Field{Name: "user", Type: runtime.BigInt},
	runtime.Field{Name: "ms", Type: runtime.BigInt, Nullable: true},
	runtime.Field{Name: "ts", Type: runtime.Timestamp},
	runtime.Field{Name: "score", Type: runtime.Double, Nullable: true},
	runtime.Field{Name: "ok", Type: runtime.Boolean},
	runtime.Field{Name: "n", Type: runtime.Int},
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()

// clickRows are two rows of clicks: the second has NULLs and negatives.
func clickRows() *runtime.Batch {
	return rttest.NewBatch(clicks,
		[]runtime.Value{runtime.StringValue("/home"), runtime.IntValue(7), runtime.IntValue(120),
			runtime.TimeValue(t0), runtime.FloatValue(2.5), runtime.BoolValue(true), {Type: runtime.Int, I: 3}},
		[]runtime.Value{runtime.StringValue("/cart"), runtime.IntValue(-4), runtime.NullValue(runtime.BigInt),
			runtime.TimeValue(t0 + 90_000), runtime.NullValue(runtime.Double), runtime.BoolValue(false), {Type: runtime.Int, I: -2}},
	)
}

func clickScope(t *testing.T) *Scope {
	t.Helper()
	s, err := NewScope(Relation{Name: "clicks", Schema: clicks})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestScalarEval translates every expression form, compiles it and
// evaluates it on clickRows: want is "TYPE: row0 | row1".
func TestScalarEval(t *testing.T) {
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
		if c.Type() != sc.Type || c.Nullable() != sc.Nullable {
			t.Errorf("%s: Scalar says %s (nullable %v), compiled %s (%v)", sql, sc.Type, sc.Nullable, c.Type(), c.Nullable())
		}
		var out runtime.Vector
		c.Eval(b, &out)
		got := sc.Type.String() + ": " + out.Value(0).String() + " | " + out.Value(1).String()
		if got != want {
			t.Errorf("%s (as %s):\n got %s\nwant %s", sql, sc.Expr, got, want)
		}
	}
	// Columns and literals.
	f("page", "VARCHAR: /home | /cart")
	f("clicks.user", "BIGINT: 7 | -4")
	f(`"page"`, "VARCHAR: /home | /cart")
	f("`user`", "BIGINT: 7 | -4")
	f("42", "BIGINT: 42 | 42")
	f("-42", "BIGINT: -42 | -42")
	f("2.5", "DOUBLE: 2.5 | 2.5")
	f("1e3", "DOUBLE: 1000.0 | 1000.0")
	f("'it''s'", "VARCHAR: it's | it's")
	f(`'C:\dir'`, `VARCHAR: C:\dir | C:\dir`)
	f("TRUE", "BOOLEAN: TRUE | TRUE")
	f("false", "BOOLEAN: FALSE | FALSE")
	f("NULL", "VARCHAR: NULL | NULL")
	// Arithmetic.
	f("user * 2 + 1", "BIGINT: 15 | -7")
	f("(user + 1) * 2", "BIGINT: 16 | -6")
	f("ms / 7", "BIGINT: 17 | NULL")
	f("user % 3", "BIGINT: 1 | -1")
	f("user || page", "VARCHAR: 7/home | -4/cart")
	f("score * 2", "DOUBLE: 5.0 | NULL")
	f("user / 2.0", "DOUBLE: 3.5 | -2.0")
	f("-user", "BIGINT: -7 | 4")
	f("- (user - 1)", "BIGINT: -6 | 5")
	f("+user", "BIGINT: 7 | -4")
	f("n + 1", "BIGINT: 4 | -1")
	f("n", "INT: 3 | -2")
	// Comparison and logic.
	f("user > 0", "BOOLEAN: TRUE | FALSE")
	f("page = '/home'", "BOOLEAN: TRUE | FALSE")
	f("page <> '/home'", "BOOLEAN: FALSE | TRUE")
	f("page != '/home'", "BOOLEAN: FALSE | TRUE")
	f("ms >= 120", "BOOLEAN: TRUE | NULL")
	f("user <= -4", "BOOLEAN: FALSE | TRUE")
	f("user < 7", "BOOLEAN: FALSE | TRUE")
	f("ok AND user > 0", "BOOLEAN: TRUE | FALSE")
	f("ok OR ms IS NULL", "BOOLEAN: TRUE | TRUE")
	f("NOT ok", "BOOLEAN: FALSE | TRUE")
	f("ms > 100 AND ok", "BOOLEAN: TRUE | FALSE")
	f("ms > 100 OR ok", "BOOLEAN: TRUE | NULL")
	// CASE, IN, BETWEEN, LIKE, IS.
	f("CASE WHEN user > 0 THEN 'pos' WHEN user < 0 THEN 'neg' ELSE 'zero' END", "VARCHAR: pos | neg")
	f("CASE page WHEN '/home' THEN 1 WHEN '/x' THEN 2 ELSE 0 END", "BIGINT: 1 | 0")
	f("CASE WHEN ms > 0 THEN ms END", "BIGINT: 120 | NULL")
	f("page IN ('/home', '/x')", "BOOLEAN: TRUE | FALSE")
	f("user NOT IN (1, 2, -4)", "BOOLEAN: TRUE | FALSE")
	f("user BETWEEN 0 AND 10", "BOOLEAN: TRUE | FALSE")
	f("user NOT BETWEEN 0 AND 10", "BOOLEAN: FALSE | TRUE")
	f("page LIKE '/h%'", "BOOLEAN: TRUE | FALSE")
	f("page NOT LIKE '%a%'", "BOOLEAN: TRUE | FALSE")
	f("page LIKE '/_art'", "BOOLEAN: FALSE | TRUE")
	f("ms IS NULL", "BOOLEAN: FALSE | TRUE")
	f("score IS NOT NULL", "BOOLEAN: TRUE | FALSE")
	f("ok IS TRUE", "BOOLEAN: TRUE | FALSE")
	f("(ms > 100) IS NOT TRUE", "BOOLEAN: FALSE | TRUE")
	f("(ms > 100) IS FALSE", "BOOLEAN: FALSE | FALSE")
	f("(ms > 100) IS NOT FALSE", "BOOLEAN: TRUE | TRUE")
	// Functions.
	f("UPPER(page)", "VARCHAR: /HOME | /CART")
	f("lower('AbC')", "VARCHAR: abc | abc")
	f("CONCAT(page, '#', user)", "VARCHAR: /home#7 | /cart#-4")
	f("SUBSTRING(page, 2, 3)", "VARCHAR: hom | car")
	f("SUBSTRING(page, 2)", "VARCHAR: home | cart")
	f("SUBSTRING(page FROM 2 FOR 2)", "VARCHAR: ho | ca")
	f("SUBSTRING(UPPER(page) FROM 3)", "VARCHAR: OME | ART")
	f("SUBSTR(CONCAT(page, page), 5, 3)", "VARCHAR: e/h | t/c")
	f("CHAR_LENGTH(page)", "INT: 5 | 5")
	f(`CHAR_LENGTH('a\b')`, "INT: 3 | 3")
	f("TRIM('  a b  ')", "VARCHAR: a b | a b")
	f("ABS(user)", "BIGINT: 7 | 4")
	f("ROUND(score)", "DOUBLE: 3.0 | NULL")
	f("ROUND(2.675, 2)", "DOUBLE: 2.68 | 2.68")
	f("FLOOR(score)", "DOUBLE: 2.0 | NULL")
	f("CEIL(score)", "DOUBLE: 3.0 | NULL")
	f("MOD(user, 3)", "BIGINT: 1 | -1")
	f("COALESCE(ms, 0)", "BIGINT: 120 | 0")
	f("IF(ok, 'y', 'n')", "VARCHAR: y | n")
	// CAST to every type, and typed literals.
	f("CAST(user AS DOUBLE)", "DOUBLE: 7.0 | -4.0")
	f("CAST(n AS FLOAT)", "DOUBLE: 3.0 | -2.0")
	f("CAST(score AS BIGINT)", "BIGINT: 2 | NULL")
	f("CAST(user AS INT)", "INT: 7 | -4")
	f("CAST(user AS INTEGER)", "INT: 7 | -4")
	f("CAST(user AS VARCHAR)", "VARCHAR: 7 | -4")
	f("CAST(user AS VARCHAR(10))", "VARCHAR: 7 | -4")
	f("cast(user as string)", "VARCHAR: 7 | -4")
	f("CAST('yes' AS BOOLEAN)", "BOOLEAN: TRUE | TRUE")
	f("CAST('2026-01-01 00:00:01' AS TIMESTAMP)", "TIMESTAMP(3): 2026-01-01 00:00:01.000 | 2026-01-01 00:00:01.000")
	f("CAST(page AS TIMESTAMP(3))", "TIMESTAMP(3): NULL | NULL")
	f("CAST(CAST(user AS DOUBLE) / 2 AS BIGINT)", "BIGINT: 3 | -2")
	f("TIMESTAMP '2026-01-01 00:01:00'", "TIMESTAMP(3): 2026-01-01 00:01:00.000 | 2026-01-01 00:01:00.000")
	f("ts >= TIMESTAMP '2026-01-01 00:01:00'", "BOOLEAN: FALSE | TRUE")
	// INTERVAL literals are BIGINT milliseconds.
	f("ts + INTERVAL '10' MINUTE", "TIMESTAMP(3): 2026-01-01 00:10:00.000 | 2026-01-01 00:11:30.000")
	f("ts - INTERVAL 1 DAY", "TIMESTAMP(3): 2025-12-31 00:00:00.000 | 2025-12-31 00:01:30.000")
	f("INTERVAL '1.5' SECOND", "BIGINT: 1500 | 1500")
	f("INTERVAL '2' HOURS", "BIGINT: 7200000 | 7200000")
	f("ts - TIMESTAMP '2026-01-01 00:00:00' > INTERVAL '1' MINUTE", "BOOLEAN: FALSE | TRUE")
}

// TestScalarErrors checks the errors of translation, placed at the
// offending sub-expression.
func TestScalarErrors(t *testing.T) {
	scope := clickScope(t)
	f := func(where, want string) {
		t.Helper()
		q, err := Parse("SELECT page\nFROM clicks\nWHERE "+where, base)
		if err == nil {
			_, err = q.Predicate(scope, q.Selects[0].Where, Options{Clause: "WHERE"})
		}
		var e *Error
		var se *parser.SyntaxError
		if !errors.As(err, &e) && !errors.As(err, &se) {
			t.Errorf("%s: error %v, want an *Error or a *parser.SyntaxError", where, err)
			return
		}
		if err.Error() != want {
			t.Errorf("%s:\n got %s\nwant %s", where, err, want)
		}
	}
	f("pgae = 'x'", `line 9:7: unknown column "pgae" (did you mean "page"?) in "pgae"`)
	f("page = 'x' AND\n  zzzzzz > 1", `line 10:3: unknown column "zzzzzz" (columns: page, user, ms, ts, score, ok, n) in "zzzzzz"`)
	f("c.page = 'x'", `line 9:7: unknown table "c" (tables: clicks) in "c.page"`)
	f("page + 1 > 0", `line 9:7: cannot apply + to VARCHAR and BIGINT in "page + 1"`)
	f("UPPER(user) = 'X'", `line 9:7: UPPER's 1st argument is BIGINT, not VARCHAR in "UPPER(user)"`)
	f("UPPER(page, 1) = 'X'", `line 9:7: UPPER takes 1 argument, got 2 in "UPPER(page, 1)"`)
	f("ts > CURRENT_TIMESTMP()", `line 9:12: unknown function CURRENT_TIMESTMP (did you mean CURRENT_TIMESTAMP?) in "CURRENT_TIMESTMP()"`)
	f("UPPR(page) = 'X'", `line 9:7: unknown function UPPR (did you mean UPPER?) in "UPPR(page)"`)
	f("CASE WHEN user THEN TRUE END", `line 9:7: CASE condition user is BIGINT, not BOOLEAN in "CASE WHEN user THEN TRUE END"`)
	f("CASE page WHEN 1 THEN TRUE END", `line 9:17: cannot apply = to VARCHAR and BIGINT in "WHEN 1 THEN TRUE"`)
	f("user + 1", `line 9:7: the WHERE condition must be BOOLEAN, not BIGINT in "user + 1"`)
	f("ok AND COUNT(*) > 1", `line 9:14: aggregate COUNT(*) is not allowed in WHERE`)
	f("SUM(DISTINCT ms) > 1", `line 9:7: aggregate SUM(DISTINCT ms) is not allowed in WHERE`)
	f("SUM(*) > 1", `line 9:7: SUM(*) is not valid: only COUNT takes * in "SUM(*)"`)
	f("COUNT(DISTINCT *) > 1", `line 9:22: expected an expression, found '*'`)
	f("MAX(ms, user) > 1", `line 9:7: MAX takes one argument in "MAX(ms, user)"`)
	f("TUMBLE(ts, INTERVAL '1' MINUTE) IS NULL", `line 9:7: window function TUMBLE(ts, INTERVAL '1' MINUTE) is only allowed in GROUP BY`)
	f("HOP_END(ts, INTERVAL '1' MINUTE, INTERVAL '5' MINUTE) > ts", `line 9:7: HOP_END(ts, INTERVAL '1' MINUTE, INTERVAL '5' MINUTE) is only allowed in a query grouped by a HOP window`)
	f("TUMBLE(ts) IS NULL", `line 9:7: TUMBLE takes a time column and one INTERVAL (the size), as TUMBLE(ts, INTERVAL '1' MINUTE) in "TUMBLE(ts)"`)
	f("HOP(ts, INTERVAL '1' MINUTE) IS NULL", `line 9:7: HOP takes a time column and two INTERVALs (the slide, then the size), as HOP(ts, INTERVAL '1' MINUTE, INTERVAL '5' MINUTE) in "HOP(ts, INTERVAL '1' MINUTE)"`)
	f("SESSION(1, INTERVAL '1' MINUTE) IS NULL", `line 9:15: the first argument of SESSION must be a time column in "1"`)
	f("TUMBLE(ts, INTERVAL '0' MINUTE) IS NULL", `line 9:18: the INTERVALs of TUMBLE must be positive in "INTERVAL '0' MINUTE"`)
	f("TUMBLE_START(ts, INTERVAL '1' MONTH) IS NULL", `line 9:24: INTERVAL … MONTH is not supported: use DAY, HOUR, MINUTE or SECOND in "INTERVAL '1' MONTH"`)
	f("ts > ts + INTERVAL '1' FORTNIGHT", `line 9:30: expected an interval unit, found 'FORTNIGHT'; units: YEAR, MONTH, WEEK, DAY, HOUR, MINUTE, SECOND, MILLISECOND`)
	f("ms > INTERVAL 'x' SECOND", `line 9:12: bad INTERVAL value "x": not a number in "INTERVAL 'x' SECOND"`)
	f("ms > INTERVAL '0.0001' SECOND", `line 9:12: bad INTERVAL value "0.0001": finer than a millisecond in "INTERVAL '0.0001' SECOND"`)
	f("page IN (SELECT page FROM clicks)", `line 9:15: subqueries are not supported in "(SELECT page FROM clicks)"`)
	f("EXISTS (SELECT page FROM clicks)", `line 9:7: subqueries are not supported in "EXISTS (SELECT page FROM clicks)"`)
	f("page LIKE 'a!%' ESCAPE '!'", `line 9:30: LIKE … ESCAPE is not supported in "'!'"`)
	f("page REGEXP 'a+'", `line 9:12: expected end of statement, found 'REGEXP'`)
	f("ms <=> user", `line 9:12: expected an expression, found '>'`)
	f("user DIV 2 > 1", `line 9:12: expected end of statement, found 'DIV'`)
	f("user & 2 > 1", `line 9:12: expected end of statement, found '&'`)
	f("user > 99999999999999999999", `line 9:14: integer out of BIGINT range in "99999999999999999999"`)
	f("ts > TIMESTAMP 'yesterday'", `line 9:12: invalid TIMESTAMP literal: write TIMESTAMP 'yyyy-mm-dd hh:mm:ss[.fff]' in "TIMESTAMP 'yesterday'"`)
	f("CONVERT(user, CHAR) = '1'", `line 9:7: unknown function CONVERT (did you mean CONCAT?) in "CONVERT(user, CHAR)"`)
	f("CAST(ok AS TIMESTAMP) IS NULL", `line 9:7: cannot cast BOOLEAN to TIMESTAMP(3) in "CAST(ok AS TIMESTAMP)"`)
	f("UPPER(page AS p) = 'x'", `line 9:18: expected ')' to close the call of UPPER at 9:7, found 'AS'`)
	f("UPPER(DISTINCT page) = 'x'", `line 9:7: DISTINCT is only allowed in aggregate calls in "UPPER(DISTINCT page)"`)
	f("COUNT(*) OVER (PARTITION BY page) > 1", `line 9:7: OVER (…) is not supported: aggregate with GROUP BY and TUMBLE, HOP or SESSION in "COUNT(*) OVER (PARTITION BY page)"`)
	f("SUM(ms) FILTER (WHERE ok) > 1", `line 9:7: FILTER (WHERE …) is not supported in "SUM(ms) FILTER (WHERE ok)"`)
	f("(user + 1) * 2 > page", `line 9:7: cannot apply > to BIGINT and VARCHAR in "(user + 1) * 2 > page"`)
	f("ms > (user + page)", `line 9:13: cannot apply + to BIGINT and VARCHAR in "user + page"`)
	f("CAST(user AS TINYINT) = 1", `line 9:20: CAST to TINYINT is not supported (types: BOOLEAN, INT, BIGINT, DOUBLE, FLOAT, VARCHAR, STRING, TIMESTAMP(3)) near "TINYINT"`)
	f("CAST(ts AS TIMESTAMP(6)) IS NULL", `line 9:18: TIMESTAMP(6) is not supported: timestamps have millisecond precision, TIMESTAMP(3) near "TIMESTAMP(6)"`)
	f("CAST(user AS INT(4)) = 1", `line 9:20: INT takes no length near "INT(4)"`)
	f("(user, ms) = (1, 2)", `line 9:12: expected ')' to close the '(' at 9:7, found ','`)
}

// TestLocateRepeated checks that errors in a sub-expression that appears
// several times point at the occurrence that is wrong.
func TestLocateRepeated(t *testing.T) {
	scope := clickScope(t)
	f := func(sql string, item int, clause, want string) {
		t.Helper()
		q := mustParse(t, sql)
		s := q.Selects[0]
		var err error
		switch clause {
		case "WHERE":
			_, err = q.Predicate(scope, s.Where, Options{Clause: clause})
		default:
			_, err = q.Scalar(scope, s.Items[item].Expr, Options{Clause: clause})
		}
		if err == nil || err.Error() != want {
			t.Errorf("%s:\n got %v\nwant %s", sql, err, want)
		}
	}
	f("SELECT UPPER(page), UPPER(user) FROM clicks", 1, "the select list",
		`line 7:23: UPPER's 1st argument is BIGINT, not VARCHAR in "UPPER(user)"`)
	f("SELECT UPPER(user), UPPER(page) FROM clicks WHERE UPPER(user) = 'x'", 0, "WHERE",
		`line 7:53: UPPER's 1st argument is BIGINT, not VARCHAR in "UPPER(user)"`)
	f("SELECT CONCAT(UPPER(page), UPPER(user)) FROM clicks", 0, "the select list",
		`line 7:30: UPPER's 1st argument is BIGINT, not VARCHAR in "UPPER(user)"`)
	f("SELECT CASE WHEN ok THEN UPPER(page) ELSE UPPER(user) END FROM clicks", 0, "the select list",
		`line 7:45: UPPER's 1st argument is BIGINT, not VARCHAR in "UPPER(user)"`)
	f("SELECT page FROM clicks WHERE pgae = 'a' OR\n   pgae = 'b'", 0, "WHERE",
		`line 7:33: unknown column "pgae" (did you mean "page"?) in "pgae"`)
	f("SELECT page FROM clicks WHERE user + 1 > 0 AND page + 1 > 0", 0, "WHERE",
		`line 7:50: cannot apply + to VARCHAR and BIGINT in "page + 1"`)
	f("SELECT page + 1 AS a FROM clicks WHERE page + 1 > 0", 0, "WHERE",
		`line 7:42: cannot apply + to VARCHAR and BIGINT in "page + 1"`)
	f("SELECT user + 1, user+1, page+1 FROM clicks", 2, "the select list",
		`line 7:28: cannot apply + to VARCHAR and BIGINT in "page+1"`)

	// Equal items are told apart by their order.
	q := mustParse(t, "SELECT user + 1 AS a,\n  user  +  1 AS b, `user`+1 FROM clicks")
	var got []string
	for _, it := range q.Selects[0].Items {
		got = append(got, at(q, it.Expr))
	}
	if want := "7:10 user + 1|8:3 user + 1|8:20 `user`+1"; strings.Join(got, "|") != want {
		t.Errorf("items at %s, want %s", strings.Join(got, "|"), want)
	}
}

// TestSubst checks that the planner can stand in for aggregate calls and
// window bounds, as it does over an aggregation's output.
func TestSubst(t *testing.T) {
	out := runtime.NewSchema(
		runtime.Field{Name: "page", Type: runtime.Varchar},
		runtime.Field{Name: "window_start", Type: runtime.Timestamp},
		runtime.Field{Name: "agg0", Type: runtime.BigInt},
	)
	scope, err := NewScope(Relation{Name: "agg", Schema: out})
	if err != nil {
		t.Fatal(err)
	}
	q := mustParse(t, "SELECT page, COUNT(*) * 2, TUMBLE_START(ts, INTERVAL '1' MINUTE) FROM clicks GROUP BY page, TUMBLE(ts, INTERVAL '1' MINUTE) HAVING COUNT(*) > 1")
	subst := func(e parser.Expr) (expr.Expr, bool) {
		if _, _, _, _, ok := AggregateCall(e); ok {
			return expr.Col("agg0"), true
		}
		if _, _, _, _, ok := WindowBoundCall(e); ok {
			return expr.Col("window_start"), true
		}
		return nil, false
	}
	var got []string
	for _, it := range q.Selects[0].Items {
		sc, err := q.Scalar(scope, it.Expr, Options{Clause: "the select list", Subst: subst})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, sc.Expr.String()+" "+sc.Type.String())
	}
	h, err := q.Predicate(scope, q.Selects[0].Having, Options{Clause: "HAVING", Subst: subst})
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, h.Expr.String())
	if want := "page VARCHAR|agg0 * 2 BIGINT|window_start TIMESTAMP(3)|agg0 > 1"; strings.Join(got, "|") != want {
		t.Errorf("got %s, want %s", strings.Join(got, "|"), want)
	}
	// Without Subst, HAVING's aggregate is refused.
	_, err = q.Predicate(scope, q.Selects[0].Having, Options{Clause: "HAVING"})
	if want := "line 7:134: aggregate COUNT(*) is not allowed in HAVING"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

// TestReservedNames checks that columns may have names other dialects
// reserve (key, index) and the names of types and windows.
func TestReservedNames(t *testing.T) {
	kv := runtime.NewSchema(
		runtime.Field{Name: "key", Type: runtime.Varchar},
		runtime.Field{Name: "index", Type: runtime.BigInt},
		runtime.Field{Name: "timestamp", Type: runtime.Timestamp},
		runtime.Field{Name: "session", Type: runtime.Varchar},
	)
	scope, err := NewScope(Relation{Name: "kv", Schema: kv})
	if err != nil {
		t.Fatal(err)
	}
	q := mustParse(t, "SELECT UPPER(key), kv.index + 1, `timestamp`, session FROM kv WHERE key <> 'x'")
	var got []string
	for _, it := range q.Selects[0].Items {
		sc, err := q.Scalar(scope, it.Expr, Options{})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, sc.Expr.String())
	}
	if _, err := q.Predicate(scope, q.Selects[0].Where, Options{Clause: "WHERE"}); err != nil {
		t.Fatal(err)
	}
	if want := "UPPER(key)|index + 1|timestamp|session"; strings.Join(got, "|") != want {
		t.Errorf("got %s, want %s", strings.Join(got, "|"), want)
	}
}
