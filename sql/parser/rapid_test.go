package parser

import (
	"reflect"
	"testing"

	"pgregory.net/rapid"
)

// genExpr draws a random expression of at most depth levels, built the
// way the parser builds it (so that printing and parsing it again must
// give it back).
func genExpr(t *rapid.T, depth int) Expr {
	leaf := func() Expr {
		switch rapid.IntRange(0, 6).Draw(t, "leaf") {
		case 0:
			return &Literal{Kind: LitNumber, Text: rapid.SampledFrom([]string{"0", "1", "42", "0.908", "1e3", ".5"}).Draw(t, "num")}
		case 1:
			return &Literal{Kind: LitString, Text: rapid.SampledFrom([]string{"", "a", "it's", "a\\b", "--", "/*"}).Draw(t, "str")}
		case 2:
			return &Literal{Kind: rapid.SampledFrom([]LitKind{LitTrue, LitFalse, LitUnknown, LitNull}).Draw(t, "kw")}
		case 3:
			return &Interval{Value: "5", Unit: rapid.SampledFrom([]string{"SECOND", "MINUTE", "DAY"}).Draw(t, "unit")}
		case 4:
			return &Call{Name: "CURRENT_TIMESTAMP", Bare: true}
		}
		parts := rapid.SliceOfN(rapid.SampledFrom([]string{"a", "b", "key", "value", "from", "x y", "`"}), 1, 3).Draw(t, "parts")
		return &Ident{Parts: parts}
	}
	if depth == 0 {
		return leaf()
	}
	sub := func() Expr { return genExpr(t, depth-1) }
	switch rapid.IntRange(0, 12).Draw(t, "kind") {
	case 0, 1, 2:
		op := rapid.SampledFrom([]string{"OR", "AND", "=", "<>", "<", "<=", ">", ">=", "+", "-", "*", "/", "%", "||"}).Draw(t, "op")
		return &Binary{Op: op, L: sub(), R: sub()}
	case 3:
		return &Unary{Op: rapid.SampledFrom([]string{"-", "+", "NOT"}).Draw(t, "unary"), X: sub()}
	case 4:
		is := &Is{X: sub(), Not: rapid.Bool().Draw(t, "not"), What: rapid.SampledFrom([]string{"NULL", "TRUE", "FALSE", "UNKNOWN", "DISTINCT FROM"}).Draw(t, "is")}
		if is.What == "DISTINCT FROM" {
			is.From = sub()
		}
		return is
	case 5:
		return &Between{X: sub(), Lo: sub(), Hi: sub(), Not: rapid.Bool().Draw(t, "not"), Symmetric: rapid.Bool().Draw(t, "sym")}
	case 6:
		return &In{X: sub(), Not: rapid.Bool().Draw(t, "not"), List: []Expr{sub(), sub()}}
	case 7:
		l := &Like{X: sub(), Pattern: sub(), Not: rapid.Bool().Draw(t, "not"), Similar: rapid.Bool().Draw(t, "similar")}
		if rapid.Bool().Draw(t, "escape") {
			l.Escape = sub()
		}
		return l
	case 8:
		c := &Call{Name: rapid.SampledFrom([]string{"f", "COUNT", "ROW", "POSITION", "SUBSTRING", "OVERLAY"}).Draw(t, "fn")}
		n := map[string]int{"POSITION": 2, "SUBSTRING": 3, "OVERLAY": 4}[c.Name]
		if n == 0 {
			n = rapid.IntRange(1, 3).Draw(t, "nargs")
			c.Distinct = c.Name == "COUNT" && rapid.Bool().Draw(t, "distinct")
		}
		for range n {
			c.Args = append(c.Args, sub())
		}
		if c.Name == "COUNT" && rapid.Bool().Draw(t, "filter") {
			c.Filter = sub()
		}
		if c.Name == "COUNT" && rapid.Bool().Draw(t, "over") {
			c.Over = &Window{PartitionBy: []Expr{sub()}, OrderBy: []OrderItem{{X: sub(), Desc: true}},
				Frame: &Frame{Unit: "ROWS", Start: Bound{Kind: Preceding, Offset: sub()}, End: Bound{Kind: CurrentRow}}}
		}
		return c
	case 9:
		c := &Case{Whens: []When{{Cond: sub(), Result: sub()}}}
		if rapid.Bool().Draw(t, "operand") {
			c.Operand = sub()
		}
		if rapid.Bool().Draw(t, "else") {
			c.Else = sub()
		}
		return c
	case 10:
		return &Cast{X: sub(), To: genType(t, 2), Try: rapid.Bool().Draw(t, "try")}
	case 11:
		return &Item{X: &Ident{Parts: []string{"arr"}}, Index: sub()}
	}
	return &Subquery{Query: &Select{Items: []SelectItem{{Expr: sub()}}}}
}

// TestPrintParseRandomExprs prints random expressions and parses them
// back: the printer's parentheses must keep every tree as it is, whatever
// the precedence of the operators inside.
func TestPrintParseRandomExprs(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		e := genExpr(t, rapid.IntRange(0, 4).Draw(t, "depth"))
		src := e.String()
		got, err := ParseExpr(src, Pos{1, 1})
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		clearPos(got)
		if !reflect.DeepEqual(got, e) {
			t.Fatalf("%s parses to\n%s", src, got)
		}
	})
}

// genQuery draws a random query of at most depth levels.
func genQuery(t *rapid.T, depth int) QueryExpr {
	sel := func() QueryExpr {
		s := &Select{Distinct: rapid.Bool().Draw(t, "distinct")}
		for range rapid.IntRange(1, 3).Draw(t, "items") {
			it := SelectItem{Expr: genExpr(t, 1)}
			switch rapid.IntRange(0, 3).Draw(t, "item") {
			case 0:
				it.Expr = &Star{}
			case 1:
				it.Expr = &Star{Qualifier: &Ident{Parts: []string{"t"}}}
			case 2:
				it.Alias = "al"
			}
			s.Items = append(s.Items, it)
		}
		if rapid.Bool().Draw(t, "from") {
			s.From = genTable(t, depth)
		}
		if rapid.Bool().Draw(t, "where") {
			s.Where = genExpr(t, 2)
		}
		if rapid.Bool().Draw(t, "group") {
			s.GroupBy = []Expr{genExpr(t, 1)}
			if rapid.Bool().Draw(t, "having") {
				s.Having = genExpr(t, 1)
			}
		}
		return s
	}
	if depth == 0 {
		return sel()
	}
	switch rapid.IntRange(0, 5).Draw(t, "query") {
	case 0:
		return &SetOp{Op: rapid.SampledFrom([]string{"UNION", "EXCEPT", "INTERSECT"}).Draw(t, "setop"), All: rapid.Bool().Draw(t, "all"),
			L: genQuery(t, depth-1), R: genQuery(t, depth-1)}
	case 1:
		return &With{CTEs: []CTE{{Name: "c", Query: genQuery(t, depth-1)}}, Body: genQuery(t, depth-1)}
	case 2:
		o := &Ordered{Query: genQuery(t, depth-1)}
		if rapid.Bool().Draw(t, "order") {
			o.OrderBy = []OrderItem{{X: genExpr(t, 1), Desc: rapid.Bool().Draw(t, "desc"), Nulls: rapid.SampledFrom([]string{"", "FIRST", "LAST"}).Draw(t, "nulls")}}
		} else {
			o.Limit = &Literal{Kind: LitNumber, Text: "10"}
		}
		return o
	case 3:
		return &Values{Rows: [][]Expr{{genExpr(t, 1)}, {genExpr(t, 1)}}}
	}
	return sel()
}

// genTable draws a random FROM clause.
func genTable(t *rapid.T, depth int) TableRef {
	alias := func() *Alias {
		if !rapid.Bool().Draw(t, "alias") {
			return nil
		}
		a := &Alias{Name: "x"}
		if rapid.Bool().Draw(t, "cols") {
			a.Columns = []string{"p", "q"}
		}
		return a
	}
	switch k := rapid.IntRange(0, 4).Draw(t, "table"); {
	case k == 0 && depth > 0:
		return &Derived{Query: genQuery(t, depth-1), Alias: alias()}
	case k == 1 && depth > 0:
		j := &Join{Kind: rapid.SampledFrom([]JoinKind{JoinComma, JoinCross, JoinInner, JoinLeft, JoinRight, JoinFull}).Draw(t, "join"),
			L: genTable(t, depth-1), R: genTable(t, depth-1)}
		if j.Kind != JoinComma && j.Kind != JoinCross {
			if rapid.Bool().Draw(t, "using") {
				j.Using = []string{"k"}
			} else {
				j.On = genExpr(t, 1)
			}
		}
		return j
	case k == 2:
		return &TableFunc{Call: &Call{Name: "TUMBLE", Args: []Expr{
			&NamedArg{Name: "DATA", Value: &TableArg{Name: &Ident{Parts: []string{"bid"}}}},
			&Descriptor{Columns: []*Ident{{Parts: []string{"ts"}}}},
			&Interval{Value: "10", Unit: "SECOND"}}}, Alias: alias()}
	case k == 3:
		return &TableName{Name: &Ident{Parts: []string{"r"}}, SystemTime: &Ident{Parts: []string{"o", "ts"}}, Alias: alias()}
	}
	return &TableName{Name: &Ident{Parts: []string{"t"}}, Alias: alias()}
}

// TestPrintParseRandomQueries prints random queries (set operations,
// WITH, ORDER BY, subqueries, joins) and parses them back.
func TestPrintParseRandomQueries(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		q := genQuery(t, rapid.IntRange(0, 3).Draw(t, "depth"))
		src := q.String()
		got, err := ParseQuery(src, Pos{1, 1})
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		clearPos(got)
		if !reflect.DeepEqual(got.Query, q) {
			t.Fatalf("%s parses to\n%s", src, got.Query)
		}
	})
}

// genType draws a random type of CAST.
func genType(t *rapid.T, depth int) *TypeName {
	tn := &TypeName{NotNull: rapid.Bool().Draw(t, "notnull")}
	k := rapid.IntRange(0, 6).Draw(t, "typekind")
	if depth == 0 {
		k = 0
	}
	switch k {
	case 0:
		tn.Name = rapid.SampledFrom([]string{"BIGINT", "STRING", "DOUBLE", "BOOLEAN", "INTEGER", "DATE", "BYTES", "TINYINT"}).Draw(t, "type")
	case 1:
		tn.Name, tn.Params = "DECIMAL", []int{10, 2}
	case 2:
		tn.Name, tn.Params = rapid.SampledFrom([]string{"TIMESTAMP", "TIMESTAMP_LTZ", "VARCHAR", "TIME"}).Draw(t, "ptype"), []int{3}
	case 3:
		tn.Name, tn.Elems = "ARRAY", []*TypeName{genType(t, depth-1)}
	case 4:
		tn.Name, tn.Elems = "MAP", []*TypeName{genType(t, depth-1), genType(t, depth-1)}
	default:
		tn.Name = "ROW"
		for i := range rapid.IntRange(1, 2).Draw(t, "fields") {
			tn.Fields = append(tn.Fields, RowField{Name: []string{"a", "b c"}[i], Type: genType(t, depth-1)})
		}
	}
	return tn
}
