package parser

import (
	"reflect"
	"testing"
)

// TestParseForms checks the canonical form of each construct: what the
// planner gets is what the text says.
func TestParseForms(t *testing.T) {
	f := func(src, want string) {
		t.Helper()
		s := mustParse(t, src)
		if got := s.String(); got != want {
			t.Fatalf("%s:\ngot  %s\nwant %s", src, got, want)
		}
	}
	// Literals keep their exact text.
	f("SELECT 0.908 * price, 1e3, 1.5E-3, .5, 42, 'it''s', 'a\\b', '', TRUE, false, Unknown, NULL",
		"SELECT 0.908 * `price`, 1e3, 1.5E-3, .5, 42, 'it''s', 'a\\b', '', TRUE, FALSE, UNKNOWN, NULL")
	f("SELECT INTERVAL '10' SECOND, INTERVAL 10 SECOND, INTERVAL '5' MINUTES, INTERVAL '2:30' MINUTE TO SECOND, interval '1' day",
		"SELECT INTERVAL '10' SECOND, INTERVAL '10' SECOND, INTERVAL '5' MINUTE, INTERVAL '2:30' MINUTE TO SECOND, INTERVAL '1' DAY")
	f("SELECT TIMESTAMP '2020-01-01 00:00:00', DATE '2020-01-01', TIME '10:00:00'",
		"SELECT TIMESTAMP '2020-01-01 00:00:00', DATE '2020-01-01', TIME '10:00:00'")
	// Names: quoted in backticks or double quotes, case kept, keywords as names.
	f("SELECT `dateTime`, \"Mixed Case\", key, value, `day`, `value`, t.a.b, `a``b` FROM t",
		"SELECT `dateTime`, `Mixed Case`, `key`, `value`, `day`, `value`, `t`.`a`.`b`, `a``b` FROM `t`")
	f("SELECT date, time, timestamp, year, hour, minute, second, window_start, rank, `from` FROM t",
		"SELECT `date`, `time`, `timestamp`, `year`, `hour`, `minute`, `second`, `window_start`, `rank`, `from` FROM `t`")
	// Calls: DISTINCT, *, FILTER, OVER.
	f("SELECT count(*), COUNT(DISTINCT a), count(ALL a), count(*) filter (where price < 10000), count(distinct bidder) FILTER (WHERE x) FROM t",
		"SELECT count(*), COUNT(DISTINCT `a`), count(`a`), count(*) FILTER (WHERE `price` < 10000), count(DISTINCT `bidder`) FILTER (WHERE `x`) FROM `t`")
	f("SELECT ROW_NUMBER() OVER (PARTITION BY a, b ORDER BY ts DESC NULLS LAST, c ASC) AS rn FROM t",
		"SELECT ROW_NUMBER() OVER (PARTITION BY `a`, `b` ORDER BY `ts` DESC NULLS LAST, `c`) AS `rn` FROM `t`")
	f("SELECT SUM(a) OVER (ORDER BY ts ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW), "+
		"AVG(a) OVER (PARTITION BY k ORDER BY ts RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW), "+
		"MAX(a) OVER (ORDER BY ts ROWS 5 PRECEDING), MIN(a) OVER (ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING), "+
		"COUNT(*) OVER w, COUNT(*) OVER () FROM t",
		"SELECT SUM(`a`) OVER (ORDER BY `ts` ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW), "+
			"AVG(`a`) OVER (PARTITION BY `k` ORDER BY `ts` RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW), "+
			"MAX(`a`) OVER (ORDER BY `ts` ROWS BETWEEN 5 PRECEDING AND CURRENT ROW), MIN(`a`) OVER (ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING), "+
			"COUNT(*) OVER `w`, COUNT(*) OVER () FROM `t`")
	// Special forms.
	f("SELECT CAST(a AS BIGINT), TRY_CAST(b AS DECIMAL(23, 3)), CAST(c AS DOUBLE PRECISION), CAST(d AS VARCHAR(10)), "+
		"CAST(e AS TIMESTAMP(3)), CAST(f AS TIMESTAMP(3) WITH LOCAL TIME ZONE), CAST(g AS TIMESTAMP_LTZ(3)), CAST(h AS INTEGER NOT NULL)",
		"SELECT CAST(`a` AS BIGINT), TRY_CAST(`b` AS DECIMAL(23, 3)), CAST(`c` AS DOUBLE), CAST(`d` AS VARCHAR(10)), "+
			"CAST(`e` AS TIMESTAMP(3)), CAST(`f` AS TIMESTAMP_LTZ(3)), CAST(`g` AS TIMESTAMP_LTZ(3)), CAST(`h` AS INTEGER NOT NULL)")
	f("SELECT CAST(r AS ROW<a INT, `b c` ARRAY<STRING>>), CAST(r AS ROW(a INT)), CAST(m AS MAP<STRING, ARRAY<ROW<x BIGINT>>>), CAST(x AS BOOLEAN), CAST(x AS BYTES)",
		"SELECT CAST(`r` AS ROW<`a` INT, `b c` ARRAY<STRING>>), CAST(`r` AS ROW<`a` INT>), CAST(`m` AS MAP<STRING, ARRAY<ROW<`x` BIGINT>>>), CAST(`x` AS BOOLEAN), CAST(`x` AS BYTES)")
	f("SELECT CASE WHEN a = 0 THEN 'x' WHEN a = 1 THEN 'y' ELSE 'z' END, CASE a WHEN 1 THEN 2 END",
		"SELECT CASE WHEN `a` = 0 THEN 'x' WHEN `a` = 1 THEN 'y' ELSE 'z' END, CASE `a` WHEN 1 THEN 2 END")
	f("SELECT EXTRACT(hour FROM ts), POSITION('a' IN s), SUBSTRING(s FROM 2 FOR 3), SUBSTRING(s, 2), substring(s FROM 1)",
		"SELECT EXTRACT(HOUR FROM `ts`), POSITION('a' IN `s`), SUBSTRING(`s` FROM 2 FOR 3), SUBSTRING(`s` FROM 2), SUBSTRING(`s` FROM 1)")
	f("SELECT TRIM(s), TRIM(BOTH FROM s), TRIM(LEADING 'x' FROM s), TRIM('x' FROM s), OVERLAY(s PLACING 'ab' FROM 2 FOR 1)",
		"SELECT TRIM(`s`), TRIM(BOTH FROM `s`), TRIM(LEADING 'x' FROM `s`), TRIM('x' FROM `s`), OVERLAY(`s` PLACING 'ab' FROM 2 FOR 1)")
	f("SELECT CURRENT_TIMESTAMP, LOCALTIMESTAMP, current_date, PROCTIME(), ROW(a, b), arr[1], m['k'], `cast`(x)",
		"SELECT CURRENT_TIMESTAMP, LOCALTIMESTAMP, CURRENT_DATE, PROCTIME(), ROW(`a`, `b`), `arr`[1], `m`['k'], `cast`(`x`)")
	f("SELECT (SELECT MAX(a) FROM t) AS m, a IN (SELECT b FROM u), NOT EXISTS (SELECT 1 FROM v WHERE v.a = t.a) FROM t",
		"SELECT (SELECT MAX(`a`) FROM `t`) AS `m`, `a` IN (SELECT `b` FROM `u`), NOT EXISTS (SELECT 1 FROM `v` WHERE `v`.`a` = `t`.`a`) FROM `t`")
	// FROM: aliases, joins, temporal joins, TVFs with named arguments.
	f("SELECT * FROM a x, b AS y (c, d) CROSS JOIN c LEFT OUTER JOIN d ON x.k = d.k RIGHT JOIN e USING (k, j) FULL JOIN f ON TRUE INNER JOIN g ON 1 = 1",
		"SELECT * FROM `a` AS `x`, `b` AS `y` (`c`, `d`) CROSS JOIN `c` LEFT JOIN `d` ON `x`.`k` = `d`.`k` RIGHT JOIN `e` USING (`k`, `j`) FULL JOIN `f` ON TRUE JOIN `g` ON 1 = 1")
	f("SELECT * FROM a JOIN (b JOIN c ON b.k = c.k) ON a.k = b.k",
		"SELECT * FROM `a` JOIN (`b` JOIN `c` ON `b`.`k` = `c`.`k`) ON `a`.`k` = `b`.`k`")
	f("SELECT * FROM o JOIN r FOR SYSTEM_TIME AS OF o.ts AS r2 ON o.c = r2.c",
		"SELECT * FROM `o` JOIN `r` FOR SYSTEM_TIME AS OF `o`.`ts` AS `r2` ON `o`.`c` = `r2`.`c`")
	f("SELECT * FROM TABLE(TUMBLE(DATA => TABLE bid, TIMECOL => DESCRIPTOR(ts), SIZE => INTERVAL '10' MINUTES))",
		"SELECT * FROM TABLE(TUMBLE(`DATA` => TABLE `bid`, `TIMECOL` => DESCRIPTOR(`ts`), `SIZE` => INTERVAL '10' MINUTE))")
	f("SELECT * FROM TABLE(SESSION(TABLE bid PARTITION BY bidder, DESCRIPTOR(ts), INTERVAL '5' MINUTE)), "+
		"TABLE(SESSION(TABLE bid PARTITION BY (a, b), DESCRIPTOR(ts), INTERVAL '5' MINUTE)) s, "+
		"TABLE(CUMULATE(TABLE bid, DESCRIPTOR(ts), INTERVAL '2' MINUTE, INTERVAL '10' MINUTE, INTERVAL '1' MINUTE))",
		"SELECT * FROM TABLE(SESSION(TABLE `bid` PARTITION BY (`bidder`), DESCRIPTOR(`ts`), INTERVAL '5' MINUTE)), "+
			"TABLE(SESSION(TABLE `bid` PARTITION BY (`a`, `b`), DESCRIPTOR(`ts`), INTERVAL '5' MINUTE)) AS `s`, "+
			"TABLE(CUMULATE(TABLE `bid`, DESCRIPTOR(`ts`), INTERVAL '2' MINUTE, INTERVAL '10' MINUTE, INTERVAL '1' MINUTE))")
	// Queries: WITH, set operations, ORDER BY, LIMIT, INSERT forms.
	f("WITH a AS (SELECT 1 AS x), b (y) AS (SELECT x FROM a) SELECT y FROM b",
		"WITH `a` AS (SELECT 1 AS `x`), `b` (`y`) AS (SELECT `x` FROM `a`) SELECT `y` FROM `b`")
	f("INSERT INTO o WITH a AS (SELECT 1) SELECT * FROM a", "INSERT INTO `o` WITH `a` AS (SELECT 1) SELECT * FROM `a`")
	f("INSERT INTO o (a, b) SELECT 1, 2", "INSERT INTO `o` (`a`, `b`) SELECT 1, 2")
	f("INSERT INTO o (SELECT 1)", "INSERT INTO `o` SELECT 1")
	f("SELECT a FROM t UNION ALL SELECT b FROM u UNION SELECT c FROM v",
		"SELECT `a` FROM `t` UNION ALL SELECT `b` FROM `u` UNION SELECT `c` FROM `v`")
	f("SELECT a FROM t UNION ALL (SELECT b FROM u UNION SELECT c FROM v)",
		"SELECT `a` FROM `t` UNION ALL (SELECT `b` FROM `u` UNION SELECT `c` FROM `v`)")
	f("SELECT 1 UNION SELECT 2 INTERSECT SELECT 3 EXCEPT ALL SELECT 4",
		"SELECT 1 UNION SELECT 2 INTERSECT SELECT 3 EXCEPT ALL SELECT 4")
	f("(SELECT 1 UNION SELECT 2) INTERSECT SELECT 3", "(SELECT 1 UNION SELECT 2) INTERSECT SELECT 3")
	f("SELECT DISTINCT a FROM t WHERE b GROUP BY a, TUMBLE(ts, INTERVAL '1' MINUTE) HAVING COUNT(*) > 1 ORDER BY a DESC LIMIT 10 OFFSET 5",
		"SELECT DISTINCT `a` FROM `t` WHERE `b` GROUP BY `a`, TUMBLE(`ts`, INTERVAL '1' MINUTE) HAVING COUNT(*) > 1 ORDER BY `a` DESC LIMIT 10 OFFSET 5")
	f("(SELECT a FROM t ORDER BY a LIMIT 1) UNION ALL SELECT 2", "(SELECT `a` FROM `t` ORDER BY `a` LIMIT 1) UNION ALL SELECT 2")
	f("SELECT * FROM (SELECT * FROM t) WHERE x", "SELECT * FROM (SELECT * FROM `t`) WHERE `x`")
	f("SELECT * FROM ((SELECT 1) UNION (SELECT 2)) AS u", "SELECT * FROM (SELECT 1 UNION SELECT 2) AS `u`")
	f("INSERT INTO t VALUES (1, 'a'), (-2, NULL)", "INSERT INTO `t` VALUES (1, 'a'), (-2, NULL)")
	f("SELECT * FROM (VALUES (1), (2)) AS v (x) UNION ALL VALUES (3)", "SELECT * FROM (VALUES (1), (2)) AS `v` (`x`) UNION ALL VALUES (3)")
	// '(' '(' SELECT: a subquery or an expression, by what follows the inner group.
	f("SELECT ((SELECT 1) + 1), ((SELECT 1) UNION SELECT 2), ((SELECT 1)), x IN ((SELECT 1) UNION (SELECT 2))",
		"SELECT (SELECT 1) + 1, (SELECT 1 UNION SELECT 2), (SELECT 1), `x` IN (SELECT 1 UNION SELECT 2)")
	f("SELECT * FROM ((SELECT 1) AS x JOIN y ON TRUE), ((SELECT 2) UNION ALL (SELECT 3)) AS u",
		"SELECT * FROM (SELECT 1) AS `x` JOIN `y` ON TRUE, (SELECT 2 UNION ALL SELECT 3) AS `u`")
	f("(SELECT 1 ORDER BY a) ORDER BY b", "(SELECT 1 ORDER BY `a`) ORDER BY `b`")
	f("WITH a AS (SELECT 1) (WITH b AS (SELECT 2) SELECT * FROM b)", "WITH `a` AS (SELECT 1) (WITH `b` AS (SELECT 2) SELECT * FROM `b`)")
	f("(WITH b AS (SELECT 2) SELECT * FROM b) LIMIT 1", "(WITH `b` AS (SELECT 2) SELECT * FROM `b`) LIMIT 1")
	f("SELECT `position`(a, b), `POSITION`(a, b), `substring`(s, 1), \"trim\"(s)", "SELECT `position`(`a`, `b`), POSITION(`a` IN `b`), `substring`(`s`, 1), `trim`(`s`)")
	f("SELECT t.*, a b, c AS \"d\" FROM cat.db.t", "SELECT `t`.*, `a` AS `b`, `c` AS `d` FROM `cat`.`db`.`t`")
}

// TestParseFormsAST checks the nodes behind forms whose printing alone
// would not show them.
func TestParseFormsAST(t *testing.T) {
	e := exprOf(t, "COUNT(DISTINCT a) FILTER (WHERE p > 1) OVER (PARTITION BY k ORDER BY ts ROWS 2 PRECEDING)")
	c := e.(*Call)
	if !c.Distinct || c.Filter == nil || c.Over == nil || len(c.Over.PartitionBy) != 1 || c.Over.Frame.Start.Kind != Preceding ||
		c.Over.Frame.End.Kind != CurrentRow || c.Over.Frame.Start.Offset.(*Literal).Text != "2" {
		t.Fatalf("%#v", c)
	}
	if l := exprOf(t, "0.908").(*Literal); l.Kind != LitNumber || l.Text != "0.908" {
		t.Fatalf("%#v", l)
	}
	if l := exprOf(t, "'a''b\\c'").(*Literal); l.Kind != LitString || l.Text != "a'b\\c" {
		t.Fatalf("%#v", l)
	}
	if iv := exprOf(t, "INTERVAL '2:30' MINUTE TO SECOND").(*Interval); iv.Value != "2:30" || iv.Unit != "MINUTE" || iv.ToUnit != "SECOND" {
		t.Fatalf("%#v", iv)
	}
	if id := exprOf(t, "\"Tab\".`col`.f").(*Ident); !reflect.DeepEqual(id.Parts, []string{"Tab", "col", "f"}) {
		t.Fatalf("%#v", id)
	}
	cast := exprOf(t, "CAST(x AS ROW<a DECIMAL(10, 2), b ARRAY<INT>>)").(*Cast)
	if r := cast.To; r.Name != "ROW" || len(r.Fields) != 2 || r.Fields[0].Type.Name != "DECIMAL" ||
		!reflect.DeepEqual(r.Fields[0].Type.Params, []int{10, 2}) || r.Fields[1].Type.Elems[0].Name != "INT" {
		t.Fatalf("%#v", r)
	}
	s := mustParse(t, "SELECT * FROM TABLE(HOP(DATA => TABLE bid, TIMECOL => DESCRIPTOR(ts), SLIDE => INTERVAL '2' SECOND, SIZE => INTERVAL '10' SECOND)) AS w")
	tf := s.Query.(*Select).From.(*TableFunc)
	if tf.Call.Name != "HOP" || len(tf.Call.Args) != 4 || tf.Alias.Name != "w" {
		t.Fatalf("%#v", tf)
	}
	if a := tf.Call.Args[0].(*NamedArg); a.Name != "DATA" || a.Value.(*TableArg).Name.Parts[0] != "bid" {
		t.Fatalf("%#v", a)
	}
	if d := tf.Call.Args[1].(*NamedArg).Value.(*Descriptor); d.Columns[0].Parts[0] != "ts" {
		t.Fatalf("%#v", d)
	}
	s = mustParse(t, "SELECT a FROM t UNION SELECT b FROM u INTERSECT SELECT c FROM v")
	if u := s.Query.(*SetOp); u.Op != "UNION" || u.All || u.R.(*SetOp).Op != "INTERSECT" {
		t.Fatalf("%s", s)
	}
	s = mustParse(t, "SELECT * FROM a, b JOIN c ON b.k = c.k")
	if j := s.Query.(*Select).From.(*Join); j.Kind != JoinInner || j.L.(*Join).Kind != JoinComma {
		t.Fatalf("joins are left associative: %s", s)
	}
	s = mustParse(t, "SELECT * FROM o JOIN r FOR SYSTEM_TIME AS OF o.ts ON o.c = r.c")
	if tn := s.Query.(*Select).From.(*Join).R.(*TableName); tn.SystemTime.String() != "`o`.`ts`" || tn.Alias != nil {
		t.Fatalf("%s", s)
	}
	s = mustParse(t, "SELECT * FROM (SELECT a FROM t)")
	if d := s.Query.(*Select).From.(*Derived); d.Alias != nil {
		t.Fatalf("%s", s)
	}
}
