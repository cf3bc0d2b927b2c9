package parser

import (
	goast "go/ast"
	goparser "go/parser"
	gotoken "go/token"
	"path/filepath"
	"strconv"
	"testing"
)

// TestParseQueriesOfGoTests reads the queries written in the Go tests of
// the planner, the query rewriter and the API (string literals that hold
// a query statement), and checks that each one the parser accepts prints
// back to itself. Those it refuses are the tests' deliberate mistakes.
func TestParseQueriesOfGoTests(t *testing.T) {
	var files []string
	for _, g := range []string{"../*_test.go", "../query/*_test.go", "../../*_test.go"} {
		m, _ := filepath.Glob(g)
		files = append(files, m...)
	}
	fs := gotoken.NewFileSet()
	seen := map[string]bool{}
	parsed := 0
	for _, f := range files {
		af, err := goparser.ParseFile(fs, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		goast.Inspect(af, func(n goast.Node) bool {
			bl, ok := n.(*goast.BasicLit)
			if !ok || bl.Kind != gotoken.STRING {
				return true
			}
			s, err := strconv.Unquote(bl.Value)
			if err != nil {
				return true
			}
			if _, err := lex(s); err != nil {
				return true
			}
			texts, at := queriesOf(t, s)
			for i, q := range texts {
				if seen[q] {
					continue
				}
				seen[q] = true
				if st, err := ParseQuery(q, at[i]); err == nil {
					checkRoundTrip(t, q, st)
					parsed++
				}
			}
			return true
		})
	}
	if parsed < 100 {
		t.Fatalf("only %d of %d queries parsed", parsed, len(seen))
	}
	t.Logf("%d of %d queries parsed", parsed, len(seen))
}
