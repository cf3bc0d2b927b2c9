package query

import "github.com/sluicehq/sluice/sql/parser"

// Walk calls fn for e and, while fn returns true, for each expression
// below it, depth first in the order written. Queries inside expressions
// (subqueries) are not entered.
func Walk(e parser.Expr, fn func(parser.Expr) bool) {
	if e == nil || !fn(e) {
		return
	}
	for _, c := range children(e) {
		Walk(c, fn)
	}
}

// children returns the expressions directly below e.
func children(e parser.Expr) []parser.Expr {
	switch e := e.(type) {
	case *parser.Unary:
		return []parser.Expr{e.X}
	case *parser.Binary:
		return []parser.Expr{e.L, e.R}
	case *parser.Is:
		return nonNil(e.X, e.From)
	case *parser.Between:
		return []parser.Expr{e.X, e.Lo, e.Hi}
	case *parser.In:
		return append([]parser.Expr{e.X}, e.List...)
	case *parser.Like:
		return nonNil(e.X, e.Pattern, e.Escape)
	case *parser.Call:
		out := append([]parser.Expr(nil), e.Args...)
		if e.Filter != nil {
			out = append(out, e.Filter)
		}
		if e.Over != nil {
			out = append(out, e.Over.PartitionBy...)
			for _, o := range e.Over.OrderBy {
				out = append(out, o.X)
			}
		}
		return out
	case *parser.Cast:
		return []parser.Expr{e.X}
	case *parser.Case:
		out := nonNil(e.Operand)
		for _, w := range e.Whens {
			out = append(out, w.Cond, w.Result)
		}
		return append(out, nonNil(e.Else)...)
	case *parser.Extract:
		return []parser.Expr{e.X}
	case *parser.Trim:
		return nonNil(e.Chars, e.X)
	case *parser.Item:
		return []parser.Expr{e.X, e.Index}
	case *parser.NamedArg:
		return []parser.Expr{e.Value}
	}
	return nil
}

func nonNil(es ...parser.Expr) []parser.Expr {
	out := es[:0]
	for _, e := range es {
		if e != nil {
			out = append(out, e)
		}
	}
	return out
}
