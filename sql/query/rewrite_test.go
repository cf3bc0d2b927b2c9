package query

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/runtime"
)

// TestRewriteCast checks the rewrite of every CAST target: the text
// sqlparser gets, the type the code stands for, and that the replaced text
// maps back onto the type as written.
func TestRewriteCast(t *testing.T) {
	f := func(typ string, want runtime.Type) {
		t.Helper()
		text := "SELECT CAST(a AS " + typ + ") FROM t"
		rw, err := rewrite(text)
		if err != nil {
			t.Fatalf("%s: %s", typ, err.msg)
		}
		if want := "SELECT CAST(a AS DECIMAL(7300001)) FROM t "; rw.text != want {
			t.Errorf("%s: rewritten %q, want %q", typ, rw.text, want)
		}
		if got := rw.casts["7300001"]; got.typ != want || got.literal {
			t.Errorf("%s: code stands for %+v, want %s", typ, got, want)
		}
		// DECIMAL(7300001) spans [17, 33) of the rewritten text.
		start, end := rw.origStart(17), rw.origEnd(33)
		if text[start:end] != typ {
			t.Errorf("%s: maps back to %q", typ, text[start:end])
		}
		if rw.origStart(34) != len(text)-7 || rw.origEnd(5) != 5 {
			t.Errorf("%s: verbatim text maps to %d, %d", typ, rw.origStart(34), rw.origEnd(5))
		}
	}
	f("DOUBLE", runtime.Double)
	f("double precision", runtime.Double)
	f("FLOAT", runtime.Double)
	f("BIGINT", runtime.BigInt)
	f("INT", runtime.Int)
	f("INTEGER", runtime.Int)
	f("VARCHAR", runtime.Varchar)
	f("VARCHAR(255)", runtime.Varchar)
	f("STRING", runtime.Varchar)
	f("BOOLEAN", runtime.Boolean)
	f("TIMESTAMP", runtime.Timestamp)
	f("TIMESTAMP(3)", runtime.Timestamp)
	f("Timestamp ( 3 )", runtime.Timestamp)
}

func TestRewrite(t *testing.T) {
	f := func(text, want string) {
		t.Helper()
		rw, err := rewrite(text)
		if err != nil {
			t.Fatalf("%q: %s", text, err.msg)
		}
		if rw.text != want+" " {
			t.Errorf("rewrite(%q)\n got %q\nwant %q", text, rw.text, want+" ")
		}
	}
	// Codes avoid numbers the user wrote.
	f("SELECT CAST(7300001 AS INT)", "SELECT CAST(7300001 AS DECIMAL(7300002))")
	// Nested casts and parentheses; AS outside a CAST stays.
	f("SELECT CAST(CAST((a + (b)) AS INT) AS VARCHAR) AS x FROM t",
		"SELECT CAST(CAST((a + (b)) AS DECIMAL(7300001)) AS DECIMAL(7300002)) AS x FROM t")
	f("SELECT CAST(CASE WHEN a THEN 1 END AS BIGINT)", "SELECT CAST(CASE WHEN a THEN 1 END AS DECIMAL(7300001))")
	f("SELECT cast /* why */ (a as string)", "SELECT cast /* why */ (a as DECIMAL(7300001))")
	// Typed timestamp literals.
	f("SELECT TIMESTAMP '2026-01-01 00:00:00'", "SELECT CAST('2026-01-01 00:00:00' AS DECIMAL(7300001))")
	f("SELECT t.timestamp FROM t", "SELECT t.timestamp FROM t")
	// SUBSTRING with any first argument and the FROM … FOR form.
	f("SELECT SUBSTRING(UPPER(a) FROM 2 FOR (3)), substr(a, 1)",
		"SELECT sluice_substring(UPPER(a) , 2 , (3)), sluice_substring(a, 1)")
	f("SELECT SUBSTRING(a FROM 2) FROM t", "SELECT sluice_substring(a , 2) FROM t")
	// Quoted names and backslashes.
	f("SELECT \"a b\", \"x`y\", \"q\"\"q\" FROM `t`", "SELECT `a b`, `x``y`, `q\"q` FROM `t`")
	f(`SELECT 'a\b', '\\', 'it''s\'`, `SELECT 'a\\b', '\\\\', 'it''s\\'`)
	// Words sqlparser reserves for no use of ours name columns.
	f("SELECT key, t.Index, KEY(x) FROM t", "SELECT `key`, t.`Index`, KEY(x) FROM t")
	// Comments and strings are left alone.
	f("SELECT 'CAST(a AS DOUBLE)' -- CAST(a AS DOUBLE)\n FROM t", "SELECT 'CAST(a AS DOUBLE)' -- CAST(a AS DOUBLE)\n FROM t")
}

// TestRewriteMap checks the map from rewritten offsets back to the user's
// text around replacements of different lengths.
func TestRewriteMap(t *testing.T) {
	text := `SELECT "é", TIMESTAMP '2026-01-01 00:00:00', x`
	rw, err := rewrite(text)
	if err != nil {
		t.Fatal(err.msg)
	}
	toks, _ := lex(rw.text, mysqlMode)
	var got []string
	for _, tk := range toks {
		got = append(got, text[rw.origStart(tk.start):rw.origEnd(tk.end)])
	}
	want := "SELECT|\"é\"|,|TIMESTAMP '2026-01-01 00:00:00'|TIMESTAMP '2026-01-01 00:00:00'|TIMESTAMP '2026-01-01 00:00:00'|" +
		"TIMESTAMP '2026-01-01 00:00:00'|TIMESTAMP '2026-01-01 00:00:00'|TIMESTAMP '2026-01-01 00:00:00'|" +
		"TIMESTAMP '2026-01-01 00:00:00'|TIMESTAMP '2026-01-01 00:00:00'|TIMESTAMP '2026-01-01 00:00:00'|,|x"
	if strings.Join(got, "|") != want {
		t.Errorf("tokens map to\n%s\nwant\n%s", strings.Join(got, "|"), want)
	}
}
