package parser

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseScriptSplits(t *testing.T) {
	f := func(src string, want ...string) {
		t.Helper()
		stmts, err := ParseScript(src)
		if err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		var got []string
		for _, s := range stmts {
			if src[s.Offset:s.Offset+len(s.Text)] != s.Text {
				t.Fatalf("%q: Offset %d does not point at %q", src, s.Offset, s.Text)
			}
			got = append(got, fmt.Sprintf("%s@%d:%d %s", s.Kind, s.Line, s.Col, s.Text))
		}
		if g, w := strings.Join(got, " | "), strings.Join(want, " | "); g != w {
			t.Fatalf("%q:\ngot  %s\nwant %s", src, g, w)
		}
	}
	f("")
	f(" ;; ; -- nothing\n/* at all; */ ;")
	f("SHOW TABLES", "SHOW TABLES@1:1 SHOW TABLES")
	f("show tables;;\n\n  Describe t ; desc `x y`",
		"SHOW TABLES@1:1 show tables", "DESCRIBE@3:3 Describe t", "DESCRIBE@3:16 desc `x y`")
	// ';' inside strings, quoted names, double quotes and comments does not split.
	f("SELECT 'a;b', `c;d`, \"e;f\" -- g;h\nFROM t /* i;j */ WHERE x = 1; SELECT 2",
		"QUERY@1:1 SELECT 'a;b', `c;d`, \"e;f\" -- g;h\nFROM t /* i;j */ WHERE x = 1", "QUERY@2:31 SELECT 2")
	// Leading and trailing comments are not part of the text.
	f("-- job\n/* one */ INSERT INTO o SELECT * FROM i -- done\n;", "QUERY@2:11 INSERT INTO o SELECT * FROM i")
	f("WITH x AS (SELECT 1) SELECT * FROM x", "QUERY@1:1 WITH x AS (SELECT 1) SELECT * FROM x")
	f("-- é\n  drop table if exists `Über`;DROP TABLE if",
		"DROP TABLE@2:3 drop table if exists `Über`", "DROP TABLE@2:31 DROP TABLE if")
	f("CREATE TABLE o WITH ('connector' = 'print'); SELECT 1",
		"CREATE TABLE@1:1 CREATE TABLE o WITH ('connector' = 'print')", "QUERY@1:46 SELECT 1")
}

func TestPosition(t *testing.T) {
	src := "SHOW TABLES;\n  SELECT 'é',\n\tx\nFROM t"
	stmts, err := ParseScript(src)
	if err != nil {
		t.Fatal(err)
	}
	s := stmts[1]
	f := func(offset, line, col int) {
		t.Helper()
		if l, c := s.Position(offset); l != line || c != col {
			t.Fatalf("Position(%d) = %d:%d, want %d:%d", offset, l, c, line, col)
		}
	}
	f(0, 2, 3)   // S
	f(7, 2, 10)  // '
	f(8, 2, 11)  // é
	f(9, 2, 11)  // inside é
	f(10, 2, 12) // '
	f(12, 2, 14) // the line break
	f(13, 3, 1)  // tab
	f(14, 3, 2)  // x
	f(16, 4, 1)  // F
	f(100, 4, 7) // clamped: just past the end
	f(-5, 2, 3)  // clamped
	f(len(s.Text), 4, 7)
}

func TestStatementNodes(t *testing.T) {
	stmts, err := ParseScript("DROP TABLE `t`; drop table IF EXISTS u; SHOW TABLES; DESC v; DESCRIBE `w x`; insert into a select 1; Select 1; with a as (select 1) select 2")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"&{Name:t IfExists:false Pos:1:1}",
		"&{Name:u IfExists:true Pos:1:17}",
		"&{Pos:1:41}",
		"&{Name:v Pos:1:54}",
		"&{Name:w x Pos:1:62}",
		"&{Verb:INSERT Pos:1:78}",
		"&{Verb:SELECT Pos:1:102}",
		"&{Verb:WITH Pos:1:112}",
	}
	if len(stmts) != len(want) {
		t.Fatalf("got %d statements, want %d", len(stmts), len(want))
	}
	for i, s := range stmts {
		if got := fmt.Sprintf("%+v", s.Node); got != want[i] {
			t.Fatalf("statement %d: got %s, want %s", i, got, want[i])
		}
	}
}

// TestParseSetStatement checks Flink's SET 'key' = 'value' and that its
// mistakes are errors at the place of the key or value.
func TestParseSetStatement(t *testing.T) {
	stmts, err := ParseScript("-- options\nSET 'table.exec.state.ttl' = '1 h';\n  set 'sluice.state.max-keys'='10'")
	if err != nil {
		t.Fatal(err)
	}
	if len(stmts) != 2 || stmts[0].Kind != KindSet {
		t.Fatalf("got %+v", stmts)
	}
	s0, s1 := stmts[0].Node.(*Set), stmts[1].Node.(*Set)
	if *s0 != (Set{Key: "table.exec.state.ttl", Value: "1 h", Pos: Pos{2, 1}, KeyPos: Pos{2, 5}, ValuePos: Pos{2, 30}}) {
		t.Fatalf("got %+v", *s0)
	}
	if s1.Key != "sluice.state.max-keys" || s1.Value != "10" || s1.ValuePos != (Pos{3, 31}) {
		t.Fatalf("got %+v", *s1)
	}
	f := func(src, want string) {
		t.Helper()
		_, err := ParseScript(src)
		if err == nil || err.Error() != want {
			t.Fatalf("%q:\ngot  %v\nwant %s", src, err, want)
		}
	}
	f("SET table.exec.state.ttl = '1 h'", `line 1:5: option keys are quoted strings near "table"; write SET 'table.exec.state.ttl' = '…'`)
	f("SET 'sluice.state.max-keys' = 10", `line 1:31: option values are quoted strings near "10"; write '10'`)
	f("SET 'a' 'b'", `line 1:9: expected '=' near "'b'"`)
	f("SET", `line 1:4: expected an option key at end of input; write SET 'key' = 'value'`)
	f("SET 'a' = 'b' 'c'", `line 1:15: expected end of statement near "'c'"`)
	f("SET '' = 'b'", `line 1:5: empty option key near "''"`)
}
