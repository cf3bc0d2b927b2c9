package parser

import (
	"errors"
	goast "go/ast"
	goparser "go/parser"
	gotoken "go/token"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
)

// constString returns the value of a Go string constant expression made
// of literals and +, or false.
func constString(e goast.Expr) (string, bool) {
	switch e := e.(type) {
	case *goast.BasicLit:
		if e.Kind != gotoken.STRING {
			return "", false
		}
		s, err := strconv.Unquote(e.Value)
		return s, err == nil
	case *goast.BinaryExpr:
		if e.Op != gotoken.ADD {
			return "", false
		}
		l, ok := constString(e.X)
		if !ok {
			return "", false
		}
		r, ok := constString(e.Y)
		return l + r, ok
	case *goast.ParenExpr:
		return constString(e.X)
	}
	return "", false
}

// queryCorpus returns every query this package's tests parse: the string
// constants of its test files (inputs, canonical forms and mistakes
// alike) and the queries of the Nexmark files, the golden SQL tests and
// the README.
func queryCorpus(tb testing.TB) []string {
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	files, _ := filepath.Glob("*_test.go")
	fs := gotoken.NewFileSet()
	for _, f := range files {
		af, err := goparser.ParseFile(fs, f, nil, 0)
		if err != nil {
			tb.Fatal(err)
		}
		goast.Inspect(af, func(n goast.Node) bool {
			if e, ok := n.(goast.Expr); ok {
				if s, ok := constString(e); ok {
					add(s)
					return false
				}
			}
			return true
		})
	}
	for _, g := range []string{"testdata/nexmark/*.sql", nexmarkQueries, "../testdata/*.sql", "../testdata/errors/*.sql", "../../README.md"} {
		m, _ := filepath.Glob(g)
		for _, f := range m {
			src, err := os.ReadFile(f)
			if err != nil {
				tb.Fatal(err)
			}
			if toks, err := lex(string(src)); err == nil {
				start := 0
				for i := 0; i <= len(toks); i++ {
					if i == len(toks) || toks[i].isPunct(";") {
						if i > start {
							add(string(src[toks[start].off:toks[i-1].end]))
						}
						start = i + 1
					}
				}
			}
		}
	}
	return out
}

// checkPositions checks that every position in s lies inside src.
func checkPositions(t *testing.T, src string, s *QueryStatement) {
	end := refPos(src, len(src))
	var walk func(reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer, reflect.Interface:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Struct:
			if v.Type() == posType {
				p := v.Interface().(Pos)
				if p == (Pos{}) { // not written, e.g. the AliasPos of an item without an alias
					return
				}
				if p.Line < 1 || p.Col < 1 || p.Line > end.Line || p.Line == end.Line && p.Col > end.Col {
					t.Fatalf("%q: a position %s outside the input (which ends at %s)", src, p, end)
				}
				return
			}
			for i := range v.NumField() {
				walk(v.Field(i))
			}
		case reflect.Slice:
			for i := range v.Len() {
				walk(v.Index(i))
			}
		}
	}
	walk(reflect.ValueOf(s))
}

func FuzzParseQuery(f *testing.F) {
	for _, s := range queryCorpus(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		s, err := ParseQuery(src, Pos{1, 1})
		if err != nil {
			var e *SyntaxError
			if !errors.As(err, &e) {
				t.Fatalf("%q: %T is not a *SyntaxError: %v", src, err, err)
			}
			checkErrorPosition(t, src, e)
			return
		}
		checkPositions(t, src, s)
		checkRoundTrip(t, src, s)
	})
}

// TestQueryCorpus keeps the fuzz target's seed corpus honest: it holds
// the Nexmark queries and many more.
func TestQueryCorpus(t *testing.T) {
	c := queryCorpus(t)
	parsed := 0
	for _, s := range c {
		if _, err := ParseQuery(s, Pos{1, 1}); err == nil {
			parsed++
		}
	}
	if len(c) < 500 || parsed < 100 {
		t.Fatalf("corpus of %d texts, %d queries", len(c), parsed)
	}
}
