package sql

import (
	"github.com/sluicehq/sluice/operators/calc"
	"github.com/sluicehq/sluice/operators/expr"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sql/parser"
	"github.com/sluicehq/sluice/sql/query"
)

// filterSides moves the WHERE terms of an inner join that read one side
// only (Nexmark q3's A.category = 10, P.state = …) below the join, as a
// filter of that side, so that the join neither keeps nor matches the
// rows they drop; the terms are taken out of where. scope is the join's
// (both sides): a term is moved only when it resolves there and in the
// side's relations alone, and is plain (columns, literals, operators,
// CASE, CAST — no function calls, which may be nondeterministic, and no
// subqueries). A side that is a window table function's output is left
// as it is.
func (p *planner) filterSides(q *query.Query, where *[]parser.Expr, scope *query.Scope, l, r *stream, lrels, rrels []query.Relation) (*stream, *stream, error) {
	if len(*where) == 0 {
		return l, r, nil
	}
	var err error
	if l, err = p.filterSide(q, where, scope, l, lrels); err != nil {
		return nil, nil, err
	}
	if r, err = p.filterSide(q, where, scope, r, rrels); err != nil {
		return nil, nil, err
	}
	return l, r, nil
}

func (p *planner) filterSide(q *query.Query, where *[]parser.Expr, scope *query.Scope, s *stream, rels []query.Relation) (*stream, error) {
	if s.win != nil {
		return s, nil
	}
	side, err := query.NewScope(rels...)
	if err != nil {
		return s, nil
	}
	var mine, rest []parser.Expr
	for _, t := range *where {
		if plainTerm(t) && resolves(q, scope, t) && resolves(q, side, t) {
			mine = append(mine, t)
		} else {
			rest = append(rest, t)
		}
	}
	if len(mine) == 0 {
		return s, nil
	}
	pred, err := whereOf(q, mine, side)
	if err != nil {
		return nil, err
	}
	project := make([]expr.Expr, s.schema.Len())
	for i := range project {
		project[i] = expr.ColIndex(i)
	}
	newOp, out, err := calc.New(s.schema, pred, project, s.schema.Names())
	if err != nil {
		return nil, q.Errorf(mine[0], "%v", err)
	}
	*where = rest
	f := *s
	f.schema = out
	f.id = p.g.AddOperator("filter", out, s.par, 1, newOp)
	p.g.Connect(s.id, f.id, runtime.Forward)
	return &f, nil
}

// plainTerm tells a term made of columns, literals, operators, CASE and
// CAST only.
func plainTerm(t parser.Expr) bool {
	ok := true
	query.Walk(t, func(x parser.Expr) bool {
		switch x := x.(type) {
		case *parser.Ident, *parser.Literal, *parser.Interval, *parser.TypedLit, *parser.Unary, *parser.Binary,
			*parser.Is, *parser.Between, *parser.Like, *parser.Cast, *parser.Case, *parser.Extract, *parser.Trim:
		case *parser.In:
			ok = x.Query == nil
		default:
			ok = false
		}
		return ok
	})
	return ok
}
