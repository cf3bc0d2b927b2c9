package query

import (
	"errors"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/sql/parser"
)

// FuzzParse checks that Parse, locating nodes and translating expressions
// never panic, and that every position they report lies within the text.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"INSERT INTO out SELECT page, COUNT(*) AS n FROM clicks WHERE ms > 10 GROUP BY page, TUMBLE(ts, INTERVAL '1' MINUTE)",
		"SELECT TUMBLE_START(ts, INTERVAL '10' SECOND) AS ws, COUNT(DISTINCT user) FROM clicks\nGROUP BY HOP(ts, INTERVAL '5' SECOND, INTERVAL '10' SECOND)\nHAVING COUNT(*) > 1",
		"SELECT s.id FROM shipments s JOIN orders o ON s.order_id = o.id AND s.ts BETWEEN o.ts AND o.ts + INTERVAL '10' MINUTE",
		"SELECT a FROM t UNION ALL SELECT b FROM u UNION ALL (SELECT c FROM v)",
		"SELECT CAST(a AS DOUBLE), CAST(b AS TIMESTAMP(3)), TIMESTAMP '2026-01-01 00:00:00', SUBSTRING(UPPER(a) FROM 2 FOR 3) FROM t",
		"SELECT \"a b\", 'C:\\x', `c``d`, -5, - -5, 1e3, .5, 0x1F, NULL, TRUE FROM t -- comment\n",
		"SELECT CASE page WHEN 'a' THEN 1 ELSE 2 END, IF(ok, 1, 2), COALESCE(ms, 0) FROM clicks /* c */",
		"SELECT page FROM clicks WHERE page LIKE '/h%' AND user NOT IN (1, 2) AND ms IS NOT NULL OR NOT ok",
		"SELECT a\nFORM t",
		"SELECT 'unterminated",
		"SELECT CAST(a AS",
		"SELECT CAST(x AS TIMESTAMP(6)) FROM t",
		"SELECT é FROM t",
		"select (((((((a))))))) from t where ((b))",
		"SELECT SUBSTRING(a FROM (SELECT 1)) FROM t",
		"SELECT a FROM t WHERE b IN (SELECT c FROM d) ORDER BY a LIMIT 1",
		"",
		";",
		"SELECT * FROM t;",
	} {
		f.Add(s, 1, 1)
	}
	f.Fuzz(checkParse)
}

// checkParse is the body of FuzzParse.
func checkParse(t *testing.T, text string, line, col int) {
	{
		if len(text) > 4096 {
			return
		}
		base := Pos{Line: 1 + abs(line)%1000, Col: 1 + abs(col)%1000}
		end := position(text, base, len(text))
		within := func(what string, p Pos) {
			if p.Line < base.Line || p.Line == base.Line && p.Col < base.Col ||
				p.Line > end.Line || p.Line == end.Line && p.Col > end.Col {
				t.Fatalf("%s at %v, outside %v–%v of %q", what, p, base, end, text)
			}
		}
		q, err := Parse(text, base)
		if err != nil {
			var e *Error
			var se *parser.SyntaxError
			switch {
			case errors.As(err, &e):
				within("error "+err.Error(), e.Pos)
			case errors.As(err, &se):
			default:
				t.Fatalf("Parse(%q) error %T %v", text, err, err)
			}
			return
		}
		visit := func(n parser.Expr) bool {
			within("node "+n.String(), q.Pos(n))
			if s := q.TextOf(n); strings.ContainsAny(s, "\n\t") {
				t.Fatalf("TextOf(%s) = %q", n, s)
			}
			return true
		}
		scope, err := NewScope(Relation{Name: "clicks", Alias: "c", Schema: clicks})
		if err != nil {
			t.Fatal(err)
		}
		check := func(e parser.Expr) {
			if e == nil {
				return
			}
			Walk(e, visit)
			if _, err := q.Scalar(scope, e, Options{Clause: "WHERE"}); err != nil {
				var pe *Error
				if !errors.As(err, &pe) {
					t.Fatalf("Scalar(%s) error %T %v", e, err, err)
				}
				within("error "+err.Error(), pe.Pos)
			}
			AggregateCall(e)
			WindowCall(e)
			WindowBoundCall(e)
		}
		for _, s := range q.Selects {
			for _, it := range s.Items {
				within("item", q.Pos(it))
				check(it.Expr)
			}
			check(s.Where)
			check(s.Having)
			for _, g := range s.GroupBy {
				check(g)
			}
			if s.From != nil {
				check(s.From.On)
			}
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -(x + 1)
	}
	return x
}
