package parser

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime"
)

func parseCreate(t *testing.T, src string) *CreateTable {
	t.Helper()
	stmts, err := ParseScript(src)
	if err != nil {
		t.Fatalf("%q: %v", src, err)
	}
	if len(stmts) != 1 || stmts[0].Kind != KindCreateTable {
		t.Fatalf("%q: got %+v, want one CREATE TABLE", src, stmts)
	}
	return stmts[0].Node.(*CreateTable)
}

func TestCreateTable(t *testing.T) {
	src := `-- clicks
CREATE TABLE IF NOT EXISTS clicks (
  page     VARCHAR,
  ` + "`user`" + `   BIGINT NOT NULL,
  ms       INT NULL,
  ts       TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
) WITH (
  'connector' = 'datagen',
  'number-of-rows' = '1000',
  'fields.page.kind' = 'it''s'
)`
	got := parseCreate(t, src)
	if w := got.Watermark; w == nil || w.Expr == nil || w.Expr.String() != "`ts` - INTERVAL '5' SECOND" || w.Expr.Position() != (Pos{7, 23}) {
		t.Fatalf("watermark %+v", w)
	}
	got.Watermark.Expr = nil
	want := &CreateTable{
		Name:        "clicks",
		IfNotExists: true,
		Columns: []Column{
			{Name: "page", Type: runtime.Varchar, Nullable: true, Pos: Pos{3, 3}},
			{Name: "user", Type: runtime.BigInt, Nullable: false, Pos: Pos{4, 3}},
			{Name: "ms", Type: runtime.Int, Nullable: true, Pos: Pos{5, 3}},
			{Name: "ts", Type: runtime.Timestamp, Nullable: true, Pos: Pos{6, 3}},
		},
		Watermark: &Watermark{Column: "ts", Delay: 5 * time.Second, Pos: Pos{7, 3}},
		Options: []Option{
			{Key: "connector", Value: "datagen", Pos: Pos{9, 3}},
			{Key: "number-of-rows", Value: "1000", Pos: Pos{10, 3}},
			{Key: "fields.page.kind", Value: "it's", Pos: Pos{11, 3}},
		},
		Pos: Pos{2, 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got\n%#v\nwant\n%#v", got, want)
	}
	if s := got.Schema().String(); s != "(page VARCHAR, user BIGINT NOT NULL, ms INT, ts TIMESTAMP(3))" {
		t.Fatalf("schema %s", s)
	}
	if m := got.OptionsMap(); len(m) != 3 || m["connector"] != "datagen" || m["fields.page.kind"] != "it's" {
		t.Fatalf("options %v", m)
	}
	wantSQL := "CREATE TABLE IF NOT EXISTS `clicks` (\n  `page` VARCHAR,\n  `user` BIGINT NOT NULL,\n  `ms` INT,\n" +
		"  `ts` TIMESTAMP(3),\n  WATERMARK FOR `ts` AS `ts` - INTERVAL '5' SECOND\n) WITH (\n  'connector' = 'datagen',\n" +
		"  'number-of-rows' = '1000',\n  'fields.page.kind' = 'it''s'\n)"
	if s := got.String(); s != wantSQL {
		t.Fatalf("String:\n%s\nwant\n%s", s, wantSQL)
	}
}

func TestCreateTableForms(t *testing.T) {
	// f parses src and compares the table, printed canonically, with want.
	f := func(src, want string) {
		t.Helper()
		got := parseCreate(t, src).String()
		if got != want {
			t.Fatalf("%q:\ngot  %s\nwant %s", src, got, want)
		}
	}
	types := map[string]string{
		"BOOLEAN": "BOOLEAN", "int": "INT", "Integer": "INT", "BIGINT": "BIGINT", "DOUBLE": "DOUBLE",
		"double precision": "DOUBLE", "FLOAT": "DOUBLE", "VARCHAR": "VARCHAR", "VARCHAR(255)": "VARCHAR",
		"STRING": "VARCHAR", "TIMESTAMP": "TIMESTAMP(3)", "TIMESTAMP(3)": "TIMESTAMP(3)",
		"TIMESTAMP WITHOUT TIME ZONE": "TIMESTAMP(3)", "timestamp ( 3 ) without time zone": "TIMESTAMP(3)",
	}
	for typ, want := range types {
		f("create table t (c "+typ+")", "CREATE TABLE `t` (\n  `c` "+want+"\n)")
	}
	// A sink whose columns the query defines; no options at all.
	f("CREATE TABLE out WITH ('connector' = 'print')", "CREATE TABLE `out` WITH (\n  'connector' = 'print'\n)")
	f("CREATE TABLE out WITH ()", "CREATE TABLE `out`")
	f("CREATE TABLE out", "CREATE TABLE `out`")
	// Tables called IF, and names that are keywords elsewhere.
	f("CREATE TABLE if (a INT)", "CREATE TABLE `if` (\n  `a` INT\n)")
	f("CREATE TABLE IF NOT EXISTS if WITH ()", "CREATE TABLE IF NOT EXISTS `if`")
	f("CREATE TABLE t (watermark INT, primary BIGINT, constraint INT, `select` INT)",
		"CREATE TABLE `t` (\n  `watermark` INT,\n  `primary` BIGINT,\n  `constraint` INT,\n  `select` INT\n)")
	// Watermarks: zero delay, each unit, bare numbers, the column declared after, quoted names.
	f("CREATE TABLE t (ts TIMESTAMP, WATERMARK FOR ts AS ts)",
		"CREATE TABLE `t` (\n  `ts` TIMESTAMP(3),\n  WATERMARK FOR `ts` AS `ts`\n)")
	units := map[string]string{
		"'250' MILLISECOND": "INTERVAL '250' MILLISECOND", "1500 milliseconds": "INTERVAL '1500' MILLISECOND",
		"' 30 ' SECONDS": "INTERVAL '30' SECOND", "'120' SECOND": "INTERVAL '2' MINUTE", "'1' minute": "INTERVAL '1' MINUTE",
		"2 HOURS": "INTERVAL '2' HOUR", "'1' DAY": "INTERVAL '1' DAY", "'7' days": "INTERVAL '7' DAY",
		"'0' SECOND": "INTERVAL '0' DAY",
	}
	for in, want := range units {
		src := "CREATE TABLE t (WATERMARK FOR `Ts` AS ts - INTERVAL " + in + ", ts TIMESTAMP(3) NOT NULL)"
		ct := parseCreate(t, src)
		if ct.Watermark == nil || ct.Watermark.Column != "ts" {
			t.Fatalf("%s: watermark %+v", src, ct.Watermark)
		}
		if got := FormatInterval(ct.Watermark.Delay); got != want && !(in == "'0' SECOND" && ct.Watermark.Delay == 0) {
			t.Fatalf("%s: delay %v is %s, want %s", src, ct.Watermark.Delay, got, want)
		}
	}
	// Any other watermark expression is kept for the planner, with Delay -1.
	for in, want := range map[string]string{
		"t2":                           "`t2`",
		"ts - INTERVAL '5' SECOND + 1": "`ts` - INTERVAL '5' SECOND + 1",
		"ts + INTERVAL '1' SECOND":     "`ts` + INTERVAL '1' SECOND",
		"ts - 5":                       "`ts` - 5",
		"CAST(t2 AS TIMESTAMP(3)) - INTERVAL '2:30' MINUTE TO SECOND": "CAST(`t2` AS TIMESTAMP(3)) - INTERVAL '2:30' MINUTE TO SECOND",
	} {
		src := "CREATE TABLE t (ts TIMESTAMP, t2 TIMESTAMP, WATERMARK FOR ts AS " + in + ")"
		ct := parseCreate(t, src)
		if w := ct.Watermark; w.Delay != -1 || w.Expr.String() != want || w.Expr.Position() != (Pos{1, 65}) {
			t.Fatalf("%s: watermark %+v (%v)", src, w, w.Expr)
		}
		f(src, "CREATE TABLE `t` (\n  `ts` TIMESTAMP(3),\n  `t2` TIMESTAMP(3),\n  WATERMARK FOR `ts` AS "+want+"\n)")
	}
	// Primary keys, at a column or for the table; their columns become NOT NULL.
	f("CREATE TABLE t (id BIGINT PRIMARY KEY NOT ENFORCED, v INT)",
		"CREATE TABLE `t` (\n  `id` BIGINT NOT NULL,\n  `v` INT,\n  PRIMARY KEY (`id`) NOT ENFORCED\n)")
	f("CREATE TABLE t (a INT, b VARCHAR NOT NULL, CONSTRAINT pk PRIMARY KEY (B, a) NOT ENFORCED)",
		"CREATE TABLE `t` (\n  `a` INT NOT NULL,\n  `b` VARCHAR NOT NULL,\n  CONSTRAINT `pk` PRIMARY KEY (`b`, `a`) NOT ENFORCED\n)")
	f("CREATE TABLE t (PRIMARY KEY (a) NOT ENFORCED, a INT)",
		"CREATE TABLE `t` (\n  `a` INT NOT NULL,\n  PRIMARY KEY (`a`) NOT ENFORCED\n)")
	// Names with backticks, spaces and unicode; option values kept exactly.
	f("CREATE TABLE `my table` (`a``b` INT, größe DOUBLE) WITH ('Path' = '/tmp/x y', 'e' = '')",
		"CREATE TABLE `my table` (\n  `a``b` INT,\n  `größe` DOUBLE\n) WITH (\n  'Path' = '/tmp/x y',\n  'e' = ''\n)")
}

func TestErrors(t *testing.T) {
	f := func(src, want string) {
		t.Helper()
		_, err := ParseScript(src)
		if err == nil {
			t.Fatalf("%q: no error, want %s", src, want)
		}
		var e *SyntaxError
		if !errors.As(err, &e) {
			t.Fatalf("%q: %T is not a *SyntaxError", src, err)
		}
		checkErrorPosition(t, src, e)
		if err.Error() != want {
			t.Fatalf("%q:\ngot  %v\nwant %s", src, err, want)
		}
	}
	const types = "supported types: BOOLEAN, INT, INTEGER, BIGINT, DOUBLE, DOUBLE PRECISION, FLOAT, VARCHAR, VARCHAR(n), STRING, TIMESTAMP, TIMESTAMP(3)"
	ts := "CREATE TABLE t (ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL "

	// Lexical errors come first, wherever they are.
	f("SELECT 1;\nSELECT 'x", `line 2:8: unterminated string near "'x"`)
	// Statements.
	f("SELCT * FROM t", `line 1:1: unknown statement near "SELCT"; did you mean SELECT?`)
	f("SHOW TABLES;\n  UPDATE t SET a = 1", `line 2:3: unknown statement near "UPDATE"; expected CREATE TABLE, CREATE VIEW, CREATE FUNCTION, DROP TABLE, DROP VIEW, SHOW TABLES, DESCRIBE, SET, INSERT, SELECT or WITH`)
	f("(SELECT 1)", `line 1:1: unknown statement near "("; expected CREATE TABLE, CREATE VIEW, CREATE FUNCTION, DROP TABLE, DROP VIEW, SHOW TABLES, DESCRIBE, SET, INSERT, SELECT or WITH`)
	f("CREATE TABEL t (a INT)", `line 1:8: expected TABLE, VIEW, FUNCTION, TOPIC or SUBSCRIPTION after CREATE near "TABEL"; did you mean TABLE?`)
	f("CREATE VEIW v AS SELECT 1", `line 1:8: expected TABLE, VIEW, FUNCTION, TOPIC or SUBSCRIPTION after CREATE near "VEIW"; did you mean VIEW?`)
	f("CREATE", `line 1:7: expected TABLE, VIEW, FUNCTION, TOPIC or SUBSCRIPTION after CREATE at end of input`)
	f("drop subscription s", `line 1:6: DROP SUBSCRIPTION is not supported yet near "subscription"`)
	f("DROP TALBE t", `line 1:6: expected TABLE or VIEW after DROP near "TALBE"; did you mean TABLE?`)
	f("DROP TABLE;", `line 1:11: expected table name near ";"`)
	f("DROP TABLE IF EXIST t", `line 1:15: expected EXISTS near "EXIST"; did you mean EXISTS?`)
	f("DROP TABLE a b", `line 1:14: expected end of statement near "b"`)
	f("DROP TABLE db.t", `line 1:14: qualified table names are not supported near "."; name the table without a catalog or database`)
	f("SHOW TABLE", `line 1:6: expected TABLES near "TABLE"; did you mean TABLES?`)
	f("DESCRIBE", `line 1:9: expected table name at end of input`)
	f("DESCRIBE 'clicks'", "line 1:10: expected table name near \"'clicks'\"; write names plain or in `backticks`, not in quotes")
	f("DESC t\nSELECT 1", `line 2:1: expected end of statement near "SELECT"; is a ';' missing before it?`)
	// CREATE TABLE: the head.
	f("CREATE TABLE IF NOT EXIST t (a INT)", `line 1:21: expected EXISTS near "EXIST"; did you mean EXISTS?`)
	f("CREATE TABLE IF EXISTS t (a INT)", `line 1:17: expected NOT near "EXISTS"`)
	f("CREATE TABLE cat.db.t (a INT)", `line 1:17: qualified table names are not supported near "."; name the table without a catalog or database`)
	f("CREATE TABLE `` (a INT)", "line 1:14: empty table name near \"``\"")
	f("CREATE TABLE t (a INT) WTIH ('a' = 'b')", `line 1:24: expected WITH or end of statement near "WTIH"; did you mean WITH?`)
	f("CREATE TABLE t 'x'", `line 1:16: expected '(', WITH or end of statement near "'x'"`)
	f("CREATE TABLE t WITH ('a' = 'b') PARTITIONED BY (a)", `line 1:33: expected end of statement near "PARTITIONED"`)
	// The column list.
	f("CREATE TABLE t ()", `line 1:17: empty column list near ")"; omit the parentheses for a sink table whose columns the query defines`)
	f("CREATE TABLE t (a INT WITH ('x' = 'y')", `line 1:23: expected ',' or ')' near "WITH"`)
	f("CREATE TABLE t (\n  a INT,\n  b INT", `line 3:8: expected ',' or ')' at end of input`)
	f("CREATE TABLE t (a INT; SELECT 1", `line 1:22: expected ',' or ')' near ";"`)
	f("CREATE TABLE t (a INT,)", `line 1:23: expected a column, WATERMARK or PRIMARY KEY near ")"`)
	f("CREATE TABLE t (a INT,,", `line 1:23: expected a column, WATERMARK or PRIMARY KEY near ","`)
	f("CREATE TABLE t (a INT,\n", `line 2:1: expected a column, WATERMARK or PRIMARY KEY at end of input`)
	f("CREATE TABLE t (a", `line 1:18: expected a type at end of input; `+types)
	f("CREATE TABLE t (a;", `line 1:18: expected a type near ";"; `+types)
	f("DESC a.b", `line 1:7: qualified table names are not supported near "."; name the table without a catalog or database`)
	f("CREATE TABLE t (a INT, 'b' INT)", "line 1:24: expected column name near \"'b'\"; write names plain or in `backticks`, not in quotes")
	f("CREATE TABLE t (a INT, b INT, A BIGINT)", `line 1:31: duplicate column near "A"; first declared at line 1:17`)
	// Types.
	f("CREATE TABLE t (\n  a BIGNT)", `line 2:5: unknown type near "BIGNT"; did you mean BIGINT? `+types)
	f("CREATE TABLE t (a BLOB)", `line 1:19: unknown type near "BLOB"; `+types)
	f("CREATE TABLE t (a DECIMAL(39, 2))", `line 1:27: expected a DECIMAL precision from 1 to 38 near "39"; Sluice stores decimals in 64 bits: types wider than 18 digits hold values of at most 18 digits`)
	f("CREATE TABLE t (a DECIMAL(5, 6))", `line 1:30: expected a DECIMAL scale from 0 to the precision near "6"; write DECIMAL(p, s) with 0 <= s <= p`)
	f("CREATE TABLE t (d DATE)", `line 1:19: unsupported type near "DATE"; use TIMESTAMP(3); `+types)
	f("CREATE TABLE t (a)", `line 1:18: expected a type near ")"; `+types)
	f("CREATE TABLE t (a `INT`)", "line 1:19: unknown type near \"`INT`\"; "+types)
	f("CREATE TABLE t (a INT(11))", `line 1:22: INT takes no length or precision near "("`)
	f("CREATE TABLE t (a VARCHAR(0))", `line 1:27: expected a length near "0"; write VARCHAR(n) with n > 0, or VARCHAR`)
	f("CREATE TABLE t (a VARCHAR(n))", `line 1:27: expected a length near "n"; write VARCHAR(n) with n > 0, or VARCHAR`)
	f("CREATE TABLE t (a VARCHAR(10)", `line 1:30: expected ',' or ')' at end of input`)
	f("CREATE TABLE t (ts TIMESTAMP(6))", `line 1:30: unsupported TIMESTAMP precision near "6"; Sluice timestamps have millisecond precision: use TIMESTAMP(3)`)
	f("CREATE TABLE t (ts TIMESTAMP(x))", `line 1:30: expected a precision near "x"`)
	f("CREATE TABLE t (ts TIMESTAMP(3) WITH LOCAL TIME ZONE)", `line 1:33: TIMESTAMP WITH TIME ZONE is not supported near "WITH"; use TIMESTAMP(3): Sluice keeps times in UTC`)
	f("CREATE TABLE t (ts TIMESTAMP WITHOUT ZONE)", `line 1:38: expected TIME near "ZONE"`)
	// NULL and NOT NULL.
	f("CREATE TABLE t (a INT NOT NUL)", `line 1:27: expected NULL after NOT near "NUL"; did you mean NULL?`)
	f("CREATE TABLE t (a INT NOT NULL NULL)", `line 1:32: conflicting NULL and NOT NULL near "NULL"`)
	f("CREATE TABLE t (a INT NULL NOT NULL)", `line 1:28: conflicting NULL and NOT NULL near "NOT"`)
	// Watermarks.
	f("CREATE TABLE t (a INT, WATERMAK FOR a AS a)", `line 1:24: expected a column, WATERMARK or PRIMARY KEY near "WATERMAK"; did you mean WATERMARK?`)
	f("CREATE TABLE t (ts TIMESTAMP, WATERMARK FRO ts AS ts)", `line 1:41: unknown type near "FRO"; `+types)
	f("CREATE TABLE t (ts TIMESTAMP, WATERMARK FOR ts ts)", `line 1:48: expected AS near "ts"`)
	f("CREATE TABLE t (ts TIMESTAMP, WATERMARK FOR ts AS ts, WATERMARK FOR ts AS ts)", `line 1:55: a table has only one WATERMARK near "WATERMARK"`)
	f("CREATE TABLE t (ts TIMESTAMP,\n  WATERMARK FOR tss AS tss)", `line 2:17: unknown watermark column near "tss"; did you mean "ts"?`)
	f("CREATE TABLE t (a INT, b INT, WATERMARK FOR rowtime AS rowtime)", `line 1:45: unknown watermark column near "rowtime"; the columns are a, b`)
	f("CREATE TABLE t (WATERMARK FOR ts AS ts)", `line 1:31: unknown watermark column near "ts"; the table has no columns`)
	f("CREATE TABLE t (id BIGINT, WATERMARK FOR id AS id)", `line 1:42: the watermark column must be TIMESTAMP(3) near "id"; "id" is BIGINT`)
	f(ts+"'1.5' SECOND)", `line 1:68: the interval's count must be a whole number near "'1.5'"; e.g. INTERVAL '5' SECOND or INTERVAL '1500' MILLISECOND`)
	f(ts+"'5 seconds')", `line 1:68: the interval's count must be a whole number near "'5 seconds'"; e.g. INTERVAL '5' SECOND or INTERVAL '1500' MILLISECOND`)
	f(ts+"'-5' SECOND)", `line 1:68: the interval must not be negative near "'-5'"`)
	f(ts+"SECOND)", `line 1:68: expected the interval's count near "SECOND"; e.g. INTERVAL '5' SECOND`)
	f(ts+"'5' SECONDZ)", `line 1:72: expected an interval unit near "SECONDZ"; did you mean SECOND?`)
	f(ts+"'5' FORTNIGHT)", `line 1:72: expected an interval unit near "FORTNIGHT"; units: MILLISECOND, SECOND, MINUTE, HOUR, DAY`)
	f(ts+"'5')", `line 1:71: expected an interval unit near ")"; units: MILLISECOND, SECOND, MINUTE, HOUR, DAY`)
	f(ts+"'9999999999' DAY)", `line 1:68: the interval is too long near "'9999999999'"`)
	// Primary keys.
	f("CREATE TABLE t (id BIGINT PRIMARY KEY, v INT)", `line 1:38: expected NOT ENFORCED near ","; Sluice does not check that keys are unique: write PRIMARY KEY … NOT ENFORCED`)
	f("CREATE TABLE t (id BIGINT, PRIMARY KEY (id) ENFORCED)", `line 1:45: expected NOT ENFORCED near "ENFORCED"; Sluice does not check that keys are unique: write PRIMARY KEY … NOT ENFORCED`)
	f("CREATE TABLE t (id BIGINT, PRIMARY KEY (id) NOT ENFORCD)", `line 1:49: expected ENFORCED near "ENFORCD"; did you mean ENFORCED?`)
	f("CREATE TABLE t (id BIGINT, PRIMRY KEY (id) NOT ENFORCED)", `line 1:28: expected a column, WATERMARK or PRIMARY KEY near "PRIMRY"; did you mean PRIMARY?`)
	f("CREATE TABLE t (id BIGINT, CONSTRANT pk PRIMARY KEY (id) NOT ENFORCED)", `line 1:28: expected a column, WATERMARK or PRIMARY KEY near "CONSTRANT"; did you mean CONSTRAINT?`)
	f("CREATE TABLE t (id BIGINT PRIMARY KEY NOT ENFORCED, PRIMARY KEY (id) NOT ENFORCED)", `line 1:53: a table has only one PRIMARY KEY near "PRIMARY"`)
	f("CREATE TABLE t (PRIMARY KEY (id) NOT ENFORCED, id BIGINT PRIMARY KEY NOT ENFORCED)", `line 1:58: a table has only one PRIMARY KEY near "PRIMARY"`)
	f("CREATE TABLE t (id BIGINT, PRIMARY KEY (idd) NOT ENFORCED)", `line 1:41: unknown primary key column near "idd"; did you mean "id"?`)
	f("CREATE TABLE t (id BIGINT, PRIMARY KEY (id, ID) NOT ENFORCED)", `line 1:45: duplicate primary key column near "ID"`)
	f("CREATE TABLE t (id BIGINT, PRIMARY KEY id NOT ENFORCED)", `line 1:40: expected '(' near "id"`)
	f("CREATE TABLE t (id BIGINT, CONSTRAINT PRIMARY KEY (id) NOT ENFORCED)", `line 1:47: expected PRIMARY near "KEY"`)
	// Options.
	f("CREATE TABLE t WITH (connector = 'print')", `line 1:22: option keys are quoted strings near "connector"; write 'connector'`)
	f("CREATE TABLE t WITH (fields.id.kind = 'sequence')", `line 1:22: option keys are quoted strings near "fields"; write 'fields.id.kind'`)
	f(`CREATE TABLE t WITH ("connector" = 'print')`, `line 1:22: option keys are quoted strings near "\"connector\""; write 'connector'`)
	f("CREATE TABLE t WITH ('connector' = print)", `line 1:36: option values are quoted strings near "print"; write 'print'`)
	f("CREATE TABLE t WITH ('rows' = 10)", `line 1:31: option values are quoted strings near "10"; write '10'`)
	f("CREATE TABLE t WITH ('rows' = )", `line 1:31: expected an option value near ")"`)
	f("CREATE TABLE t WITH ('rows' '10')", `line 1:29: expected '=' near "'10'"`)
	f("CREATE TABLE t WITH ('' = 'x')", `line 1:22: empty option key near "''"`)
	f("CREATE TABLE t WITH (\n  'path' = '/a',\n  'path' = '/b'\n)", `line 3:3: duplicate option near "'path'"; first set at line 2:3`)
	f("CREATE TABLE t WITH ('a' = 'b',)", `line 1:32: expected an option key near ")"; write 'key' = 'value'`)
	f("CREATE TABLE t WITH ('a' = 'b' 'c' = 'd')", `line 1:32: expected ',' or ')' near "'c'"`)
	f("CREATE TABLE t WITH 'a' = 'b'", `line 1:21: expected '(' near "'a'"`)
	f("CREATE TABLE t WITH ('a' = 'b'", `line 1:31: expected ',' or ')' at end of input`)
}

func TestCreateTopicAndSubscription(t *testing.T) {
	stmts, err := ParseScript("CREATE TOPIC ops;\nCREATE TOPIC IF NOT EXISTS ops2 WITH ('region' = 'eu-west-1');\n" +
		"CREATE SUBSCRIPTION pager ON TOPIC ops WITH ('protocol' = 'http', 'endpoint' = 'http://127.0.0.1:9000/hook',\n  'filter-policy' = '{\"NewStateValue\": [\"ALARM\"]}');")
	if err != nil {
		t.Fatal(err)
	}
	if len(stmts) != 3 {
		t.Fatalf("%d statements", len(stmts))
	}
	a := stmts[0].Node.(*CreateTopic)
	b := stmts[1].Node.(*CreateTopic)
	c := stmts[2].Node.(*CreateSubscription)
	if a.Name != "ops" || a.IfNotExists || len(a.Options) != 0 || stmts[0].Kind != KindCreateTopic {
		t.Fatalf("%+v", a)
	}
	if b.Name != "ops2" || !b.IfNotExists || b.Options[0].Key != "region" || b.Options[0].Value != "eu-west-1" {
		t.Fatalf("%+v", b)
	}
	if c.Name != "pager" || c.Topic != "ops" || c.TopicPos.Line != 3 || c.TopicPos.Col != 36 || len(c.Options) != 3 ||
		c.Options[2].Value != `{"NewStateValue": ["ALARM"]}` || stmts[2].Kind != KindCreateSubscription {
		t.Fatalf("%+v", c)
	}
	for src, want := range map[string]string{
		"CREATE SUBSCRIPTION s TOPIC t WITH ('a' = 'b')": `line 1:23: expected ON`,
		"CREATE SUBSCRIPTION s ON TOPIC t":               `line 1:33: expected WITH`,
		"CREATE TOPIC t WITH ('a' = b)":                  `line 1:28: option values are quoted strings`,
		"CREATE TOPIC t extra":                           `line 1:16: expected WITH or end of statement`,
	} {
		_, err := ParseScript(src)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %s", src, err, want)
		}
	}
}
