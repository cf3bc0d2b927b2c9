package parser

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// refPos is the reference for positions: the line and column of the byte
// at offset in src, walking characters one by one (a leading byte order
// mark takes no column).
func refPos(src string, offset int) Pos {
	p := Pos{1, 1}
	i := 0
	if strings.HasPrefix(src, "\uFEFF") {
		i = len("\uFEFF")
	}
	for i < offset && i < len(src) {
		r, w := utf8.DecodeRuneInString(src[i:])
		if i+w > offset {
			break
		}
		i += w
		if r == '\n' {
			p = Pos{p.Line + 1, 1}
		} else {
			p.Col++
		}
	}
	return p
}

// checkErrorPosition checks that a syntax error is inside src, and that
// the text it is near is at its position.
func checkErrorPosition(t *testing.T, src string, e *SyntaxError) {
	t.Helper()
	end := refPos(src, len(src))
	if e.Line < 1 || e.Col < 1 || e.Line > end.Line || e.Line == end.Line && e.Col > end.Col {
		t.Fatalf("%q: %v: position outside the input (which ends at %s)", src, e, end)
	}
	if e.Near == "" {
		return
	}
	off := -1
	for i := len(src) - len(strings.TrimPrefix(src, "\uFEFF")); i <= len(src); i++ {
		if refPos(src, i) == (Pos{e.Line, e.Col}) {
			off = i
			break
		}
	}
	if off < 0 || !strings.HasPrefix(src[off:], strings.TrimSuffix(e.Near, "…")) {
		t.Fatalf("%q: %v: %q is not at %d:%d", src, e, e.Near, e.Line, e.Col)
	}
}

// columnsWithoutPos returns a copy of cols, and of their ROW fields, with
// every position zeroed.
func columnsWithoutPos(cols []Column) []Column {
	if cols == nil {
		return nil
	}
	out := append([]Column(nil), cols...)
	for i := range out {
		out[i].Pos = Pos{}
		out[i].Fields = columnsWithoutPos(out[i].Fields)
	}
	return out
}

// withoutPos returns a copy of c with every position zeroed.
func withoutPos(c *CreateTable) *CreateTable {
	out := *c
	out.Pos = Pos{}
	out.Columns = columnsWithoutPos(c.Columns)
	out.Options = append([]Option(nil), c.Options...)
	for i := range out.Options {
		out.Options[i].Pos = Pos{}
	}
	if c.Watermark != nil {
		w := *c.Watermark
		w.Pos = Pos{}
		out.Watermark = &w
	}
	if c.PrimaryKey != nil {
		k := *c.PrimaryKey
		k.Pos = Pos{}
		out.PrimaryKey = &k
	}
	clearPos(&out) // and those of expressions, in place
	return &out
}

func FuzzParseScript(f *testing.F) {
	for _, seed := range []string{
		"",
		"SHOW TABLES; DESCRIBE clicks; DESC `x y`; DROP TABLE IF EXISTS t",
		"-- job\nCREATE TABLE IF NOT EXISTS clicks (\n  page VARCHAR(100),\n  `user` BIGINT NOT NULL,\n  ms INT NULL,\n" +
			"  ts TIMESTAMP(3),\n  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND\n) WITH (\n  'connector' = 'datagen',\n" +
			"  'number-of-rows' = '1000'\n);\nINSERT INTO out SELECT page, COUNT(*) FROM clicks\nGROUP BY page, TUMBLE(ts, INTERVAL '1' MINUTE);",
		"CREATE TABLE out WITH ('connector' = 'print', 'path' = 'it''s')",
		"CREATE TABLE t (id BIGINT PRIMARY KEY NOT ENFORCED, v DOUBLE PRECISION, b BOOLEAN, s STRING)",
		"CREATE TABLE t (a INT, b VARCHAR, CONSTRAINT pk PRIMARY KEY (b, a) NOT ENFORCED, ts TIMESTAMP WITHOUT TIME ZONE, WATERMARK FOR ts AS ts)",
		"CREATE TABLE `a``b` (`c d` FLOAT, WATERMARK FOR e AS e - INTERVAL 2 HOURS, e TIMESTAMP)",
		"SELECT 'a;b', \"c;d\", `e;f` /* g;h */ FROM t -- i;j\n; WITH x AS (SELECT 1) SELECT * FROM x",
		"select 'é', ü, `日本`\n\tfrom t;\r\n\uFEFFselect 1",
		"SELCT 1",
		"CREATE TABLE t (a BIGNT)",
		"CREATE TABLE n (e INT, p ROW<id BIGINT NOT NULL, `dateTime` TIMESTAMP(3)>, b ROW(x ROW<y DOUBLE>, z STRING) NOT NULL)",
		"CREATE TABLE n (p ROW<>, q ROW(a INT b INT), r ROW<a INT, a INT>)",
		"CREATE TABLE t (ts TIMESTAMP(6))",
		"CREATE TABLE t (a INT WITH ('x' = 'y')",
		"CREATE TABLE t WITH ('a' = 'b', 'a' = 'c')",
		"CREATE TABLE t (ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '9999999999' DAY)",
		"SELECT 'unterminated",
		"/* unterminated",
		"DROP TABLE a.b",
		"SET 'table.exec.state.ttl' = '1 h'; set 'sluice.state.max-keys'='10'; SET x = 1; SET 'a' 'b'; SET",
		"\uFEFF",
		"'\xff' \xfe `\xc3`",
		"CREATE TEMPORARY VIEW IF NOT EXISTS v (a, b) AS SELECT x, COUNT(*) FROM t GROUP BY x; DROP TEMPORARY VIEW IF EXISTS v",
		"CREATE VIEW B AS SELECT *, PROCTIME() as p_time FROM bid; CREATE VIEW w AS WITH a AS (SELECT 1) SELECT * FROM a",
		"CREATE FUNCTION count_char AS 'com.github.nexmark.flink.udf.CountChar'; CREATE TEMPORARY SYSTEM FUNCTION f AS 'go:f' LANGUAGE GO",
		"CREATE TABLE t (a INT COMMENT 'x', ts TIMESTAMP(3), b AS a + 1, p AS PROCTIME(), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND * 2) PARTITIONED BY (a) WITH ('connector' = 'filesystem')",
		"CREATE TABLE t (a INT METADATA, dt AS CASE WHEN a = 0 THEN 'x' END)",
		"CREATE VIEW v AS SELECT * FROM ${NEXMARK_TABLE}",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, src string) {
		stmts, err := ParseScript(src)
		if err != nil {
			var e *SyntaxError
			if !errors.As(err, &e) {
				t.Fatalf("%q: %T is not a *SyntaxError: %v", src, err, err)
			}
			checkErrorPosition(t, src, e)
			return
		}
		end := 0
		var texts []string
		for _, s := range stmts {
			if s.Offset < end || s.Offset+len(s.Text) > len(src) || src[s.Offset:s.Offset+len(s.Text)] != s.Text {
				t.Fatalf("%q: statement %q at offset %d is not in the input", src, s.Text, s.Offset)
			}
			end = s.Offset + len(s.Text)
			if s.Text == "" || strings.TrimFunc(s.Text, unicode.IsSpace) != s.Text {
				t.Fatalf("%q: statement text %q is empty or has white space around it", src, s.Text)
			}
			if s.Node == nil || kindOf(s.Node) != s.Kind || s.Kind.String() == "INVALID" {
				t.Fatalf("%q: statement %q: kind %v, node %T", src, s.Text, s.Kind, s.Node)
			}
			if p := refPos(src, s.Offset); p != (Pos{s.Line, s.Col}) {
				t.Fatalf("%q: statement %q starts at %s, not %d:%d", src, s.Text, p, s.Line, s.Col)
			}
			step := max(1, len(s.Text)/16)
			for k := 0; k <= len(s.Text); k += step {
				if line, col := s.Position(k); refPos(src, s.Offset+k) != (Pos{line, col}) {
					t.Fatalf("%q: statement %q: Position(%d) = %d:%d, want %s", src, s.Text, k, line, col, refPos(src, s.Offset+k))
				}
			}
			texts = append(texts, s.Text)
			// A view printed canonically parses back to the same view.
			if v, ok := s.Node.(*CreateView); ok {
				again, err := ParseScript(v.String())
				if err != nil {
					t.Fatalf("%q: canonical form does not parse: %v\n%s", src, err, v)
				}
				v2, ok := again[0].Node.(*CreateView)
				clearPos(v2)
				cp := *v
				clearPos(&cp)
				if len(again) != 1 || !ok || !reflect.DeepEqual(v2, &cp) {
					t.Fatalf("%q: canonical form parses to another view:\n%s", src, v)
				}
			}
			// A table printed canonically parses back to the same table.
			if ct, ok := s.Node.(*CreateTable); ok {
				again, err := ParseScript(ct.String())
				if err != nil {
					t.Fatalf("%q: canonical form does not parse: %v\n%s", src, err, ct)
				}
				if len(again) != 1 || !reflect.DeepEqual(withoutPos(again[0].Node.(*CreateTable)), withoutPos(ct)) {
					t.Fatalf("%q: canonical form parses to another table:\n%s", src, ct)
				}
			}
		}
		// The statements joined again give the same statements.
		again, err := ParseScript(strings.Join(texts, ";\n"))
		if err != nil || len(again) != len(stmts) {
			t.Fatalf("%q: rejoined statements: %d statements, %v", src, len(again), err)
		}
		for i := range again {
			if again[i].Text != stmts[i].Text || again[i].Kind != stmts[i].Kind {
				t.Fatalf("%q: rejoined statement %d is %q, was %q", src, i, again[i].Text, stmts[i].Text)
			}
		}
	})
}

// FuzzQuoting checks that any name, key and value, quoted as the canonical
// form quotes them, parses back to itself.
func FuzzQuoting(f *testing.F) {
	f.Add("clicks", "user id", "connector", "it's")
	f.Add("a`b", "``", "fields.x.kind", "")
	f.Add("日本", "\n", "'", "\xff;--/*")
	f.Fuzz(func(t *testing.T, table, column, key, value string) {
		if table == "" || column == "" || key == "" {
			return
		}
		src := "CREATE TABLE " + QuoteIdent(table) + " (" + QuoteIdent(column) + " BIGINT) WITH (" +
			QuoteString(key) + " = " + QuoteString(value) + ")"
		stmts, err := ParseScript(src)
		if err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		ct := stmts[0].Node.(*CreateTable)
		if ct.Name != table || ct.Columns[0].Name != column || ct.Options[0].Key != key || ct.Options[0].Value != value {
			t.Fatalf("%q parsed to %+v", src, ct)
		}
	})
}
