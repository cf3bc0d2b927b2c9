package sql

import (
	"fmt"

	"github.com/sluicehq/sluice/operators/expr"
	"github.com/sluicehq/sluice/operators/join"
	"github.com/sluicehq/sluice/sql/parser"
	"github.com/sluicehq/sluice/sql/query"
)

// isIntervalJoin reports whether a join is an event-time interval join:
// inner, over append-only inputs with event time, whose condition equates
// columns of both sides and bounds one side's time by the other's with
// constant offsets on both ends. Every other join is a regular join.
func (p *planner) isIntervalJoin(q *query.Query, node *query.From, terms []parser.Expr, l, r *stream, scope *query.Scope) bool {
	if k := node.Join.Kind; k != parser.JoinInner && k != parser.JoinComma {
		return false
	}
	if l.updating || r.updating {
		return false
	}
	nl := l.schema.Len()
	equi := false
	for _, t := range terms {
		if _, _, ok := p.equiPair(q, scope, t, nl); ok {
			equi = true
		}
	}
	_, _, ok := p.intervalTimes(q, scope, terms, l, r)
	return equi && ok
}

// intervalTimes finds the time attributes of an interval join, lt of l and
// rt of r (an event-time attribute each, see timeattr.go), that terms
// bound one by the other on both ends; ok is false when there are none.
func (p *planner) intervalTimes(q *query.Query, scope *query.Scope, terms []parser.Expr, l, r *stream) (lt, rt int, ok bool) {
	nl := l.schema.Len()
	for _, lt := range l.rowtimes() {
		for _, rt := range r.rowtimes() {
			bounded := false
			lower, upper := int64(minBound), int64(maxBound)
			for _, t := range terms {
				lo, hi, ok, err := p.timeBound(q, scope, t, nl, lt, rt)
				if err != nil || !ok {
					continue
				}
				bounded = true
				lower, upper = max(lower, lo), min(upper, hi)
			}
			if bounded && lower != minBound && upper != maxBound {
				return lt, rt, true
			}
		}
	}
	return -1, -1, false
}

// regularJoin plans a join that is not an interval join as a regular
// (unbounded) join, operators/join.NewRegular: the equalities between a
// column of each side are its keys (both inputs keyed by them), every other
// term of the condition is its residual. The result is updating when an
// input is or the join is outer; an inner join of append-only inputs
// appends. The result has no time attribute. State TTL and the key cap
// apply to each side's rows.
func (p *planner) regularJoin(q *query.Query, node *query.From, cond query.Node, terms []parser.Expr, l, r *stream, lrels, rrels []query.Relation, scope *query.Scope) (*stream, error) {
	nl := l.schema.Len()
	for _, t := range terms {
		if err := onColumns(q, scope, t); err != nil {
			return nil, err
		}
	}
	var lk, rk []int
	var residual []expr.Expr
	for _, t := range terms {
		if a, b, ok := p.equiPair(q, scope, t, nl); ok {
			lk, rk = append(lk, a), append(rk, b-nl)
			continue
		}
		sc, err := q.Predicate(scope, t, query.Options{Clause: "ON"})
		if err != nil {
			return nil, err
		}
		residual = append(residual, sc.Expr)
	}
	if len(lk) == 0 {
		return nil, q.Errorf(cond, "the join condition must equate a column of %s with a column of %s", sideName(lrels), sideName(rrels))
	}
	typ := join.RegularInner
	switch node.Join.Kind {
	case parser.JoinLeft:
		typ = join.RegularLeft
	case parser.JoinRight:
		typ = join.RegularRight
	case parser.JoinFull:
		typ = join.RegularFull
	}
	var res expr.Expr
	switch len(residual) {
	case 0:
	case 1:
		res = residual[0]
	default:
		res = expr.And(residual...)
	}
	ttl := p.stateTTL
	if p.o.StateTTL > 0 {
		ttl = p.o.StateTTL
	}
	newOp, out, err := join.NewRegular(join.RegularSpec{Left: l.schema, Right: r.schema, LeftKeys: lk, RightKeys: rk,
		Type: typ, Residual: res, TTL: ttl, MaxGroups: p.maxStateKeys})
	if err != nil {
		return nil, q.Errorf(cond, "%v", err)
	}
	id := p.g.AddOperator(fmt.Sprintf("regular join %s", typ), out, p.o.Parallelism, 2, newOp)
	p.connectJoin(l, r, id, lk, rk)
	updating := l.updating || r.updating || typ != join.RegularInner
	s := &stream{id: id, schema: out, par: p.o.Parallelism, updating: updating}
	s.setAttrs(dropped(append(l.allAttrs(), r.allAttrs()...), fmt.Sprintf("the regular join at %s drops time attributes", at(q, node))))
	return s, nil
}
