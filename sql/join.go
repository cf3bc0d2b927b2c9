package sql

import (
	"strings"
	"time"

	"github.com/sluicehq/sluice/operators/expr"
	"github.com/sluicehq/sluice/operators/join"
	"github.com/sluicehq/sluice/sql/parser"
	"github.com/sluicehq/sluice/sql/query"
)

// sideName names one side of a join in errors: its table, or its tables.
func sideName(rels []query.Relation) string {
	if len(rels) == 1 {
		return rels[0].Ref()
	}
	refs := make([]string, len(rels))
	for i, r := range rels {
		refs[i] = r.Ref()
	}
	return "(" + strings.Join(refs, ", ") + ")"
}

// join plans a join of l and r: a window join (windowjoin.go) when both
// are windowed and ON equates their windows, else, for an inner join, an
// event-time interval join when it qualifies, else a regular join. An
// interval join's condition (terms, the conjuncts of ON or the WHERE
// terms of a comma join; cond places errors about it) must equate at
// least one column of l with one of r and bound the time of one side by
// the other's (r.ts BETWEEN l.ts - x AND l.ts + y, or the same with >=,
// <=, >, <); other terms filter the joined rows.
func (p *planner) join(q *query.Query, node *query.From, cond query.Node, terms []parser.Expr, l, r *stream, lrels, rrels []query.Relation, scope *query.Scope) (*stream, error) {
	if ls, le, rs, re, used, ok, err := p.windowJoinCols(q, cond, terms, l, r, scope); err != nil {
		return nil, err
	} else if ok {
		return p.windowJoin(q, node, cond, terms, l, r, scope, ls, le, rs, re, used)
	}
	if !p.isIntervalJoin(q, node, terms, l, r, scope) {
		return p.regularJoin(q, node, cond, terms, l, r, lrels, rrels, scope)
	}
	nl := l.schema.Len()
	ln, rn := sideName(lrels), sideName(rrels)
	if l.updating || r.updating {
		return nil, q.Errorf(node, "a join of an updating input (the result of a GROUP BY without a window) is not supported yet")
	}
	lt, rt, _ := p.intervalTimes(q, scope, terms, l, r)
	for _, t := range terms {
		if err := onColumns(q, scope, t); err != nil {
			return nil, err
		}
	}
	var lk, rk []int
	var lower, upper int64
	bounded := false
	var rest []parser.Expr
	for _, term := range terms {
		if a, b, ok := p.equiPair(q, scope, term, nl); ok {
			lk, rk = append(lk, a), append(rk, b-nl)
			continue
		}
		lo, hi, ok, err := p.timeBound(q, scope, term, nl, lt, rt)
		if err != nil {
			return nil, err
		}
		if ok {
			if bounded {
				lower, upper = max(lower, lo), min(upper, hi)
			} else {
				lower, upper, bounded = lo, hi, true
			}
			continue
		}
		rest = append(rest, term)
	}
	// Two one-sided bounds (b.ts >= a.ts - x AND b.ts <= a.ts + y) arrive
	// as two terms; timeBound returns open ends as math limits.
	if len(lk) == 0 {
		return nil, q.Errorf(cond, "the join condition must equate a column of %s with a column of %s", ln, rn)
	}
	if !bounded || lower == minBound || upper == maxBound {
		return nil, q.Errorf(cond, "an interval join needs both time bounds, e.g. %s.ts BETWEEN %s.ts - INTERVAL '5' MINUTE AND %s.ts + INTERVAL '5' MINUTE", rn, ln, ln)
	}
	if lower > upper {
		return nil, q.Errorf(cond, "the join's time bounds are empty (lower %v > upper %v)", time.Duration(lower)*time.Millisecond, time.Duration(upper)*time.Millisecond)
	}
	// An input whose time lags its watermark (the output of another
	// interval join) would find its partners freed: both times are shifted
	// forward by the larger lag for the join (their difference, which the
	// bounds test, is kept), and back after it.
	shift := max(l.attr(lt).lag, r.attr(rt).lag)
	if shift > 0 {
		var err error
		if l, err = p.shiftTimes(l, shift, lt); err != nil {
			return nil, q.Errorf(cond, "%v", err)
		}
		if r, err = p.shiftTimes(r, shift, rt); err != nil {
			return nil, q.Errorf(cond, "%v", err)
		}
	}
	newOp, out, err := join.New(join.Spec{Left: l.schema, Right: r.schema, LeftKeys: lk, RightKeys: rk,
		LeftTime: lt, RightTime: rt, Lower: lower, Upper: upper})
	if err != nil {
		return nil, q.Errorf(cond, "%v", err)
	}
	id := p.g.AddOperator("interval join", out, p.o.Parallelism, 2, newOp)
	p.connectJoin(l, r, id, lk, rk)
	joined := &stream{id: id, schema: out, par: p.o.Parallelism}
	joined.setAttrs(intervalAttrs(q, node, l, r, lt, rt, lower, upper))
	if shift > 0 {
		if joined, err = p.shiftTimes(joined, -shift, lt, nl+rt); err != nil {
			return nil, q.Errorf(cond, "%v", err)
		}
	}
	if len(rest) > 0 {
		var preds []expr.Expr
		for _, term := range rest {
			sc, err := q.Predicate(scope, term, query.Options{Clause: "ON"})
			if err != nil {
				return nil, err
			}
			preds = append(preds, sc.Expr)
		}
		f, err := p.calcOn(joined, "join filter", expr.And(preds...), nil, nil)
		if err != nil {
			return nil, q.Errorf(cond, "%v", err)
		}
		f.setAttrs(joined.attrs)
		joined = f
	}
	return joined, nil
}

// onColumns checks that every column the ON condition names is a column
// of the joined tables, so that a misspelt one is reported as such
// ("unknown column … did you mean"), not as a condition of the wrong form.
func onColumns(q *query.Query, s *query.Scope, on parser.Expr) error {
	var err error
	query.Walk(on, func(e parser.Expr) bool {
		if c, ok := e.(*parser.Ident); ok && err == nil {
			_, err = q.Column(s, c)
		}
		return err == nil
	})
	return err
}

const (
	minBound = -1 << 62
	maxBound = 1 << 62
)

func conjuncts(e parser.Expr) []parser.Expr {
	if x, ok := e.(*parser.Binary); ok && x.Op == "AND" {
		return append(conjuncts(x.L), conjuncts(x.R)...)
	}
	return []parser.Expr{e}
}

// equiPair recognises left.col = right.col (either order); it returns the
// scope indexes, left first.
func (p *planner) equiPair(q *query.Query, s *query.Scope, e parser.Expr, nl int) (int, int, bool) {
	c, ok := e.(*parser.Binary)
	if !ok || c.Op != "=" {
		return 0, 0, false
	}
	a, aok := c.L.(*parser.Ident)
	b, bok := c.R.(*parser.Ident)
	if !aok || !bok {
		return 0, 0, false
	}
	i, err1 := q.Column(s, a)
	j, err2 := q.Column(s, b)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	switch {
	case i < nl && j >= nl:
		return i, j, true
	case j < nl && i >= nl:
		return j, i, true
	}
	return 0, 0, false
}

// timeBound recognises a bound of one time column by the other's, and
// returns it as lower <= right.ts - left.ts <= upper (an open end is
// minBound or maxBound).
func (p *planner) timeBound(q *query.Query, s *query.Scope, e parser.Expr, nl, lt, rt int) (lower, upper int64, ok bool, err error) {
	side := func(x parser.Expr) (col int, off int64, ok bool) {
		return p.timeOffset(q, s, x)
	}
	// normalise: subject (a time column) compared with other ± offset.
	rel := func(subj, other parser.Expr) (sub int, off int64, good bool) {
		sc, so, ok1 := side(subj)
		oc, oo, ok2 := side(other)
		if !ok1 || !ok2 || so != 0 {
			return 0, 0, false
		}
		if sc == rt+nl && oc == lt { // right.ts ? left.ts + off
			return 1, oo, true
		}
		if sc == lt && oc == rt+nl { // left.ts ? right.ts + off  ⇒ right.ts - left.ts ? -off
			return -1, oo, true
		}
		return 0, 0, false
	}
	switch x := e.(type) {
	case *parser.Between:
		if x.Not || x.Symmetric {
			return 0, 0, false, nil
		}
		s1, lo, g1 := rel(x.X, x.Lo)
		s2, hi, g2 := rel(x.X, x.Hi)
		if !g1 || !g2 || s1 != s2 {
			return 0, 0, false, nil
		}
		if s1 == 1 {
			return lo, hi, true, nil
		}
		return -hi, -lo, true, nil
	case *parser.Binary:
		dir := 0
		switch x.Op {
		case ">=", ">":
			dir = 1 // subject >= other + off: lower bound
		case "<=", "<":
			dir = -1
		default:
			return 0, 0, false, nil
		}
		strict := int64(0)
		if x.Op == ">" || x.Op == "<" {
			strict = 1 // millisecond times: a < b ⇔ a <= b - 1
		}
		sgn, off, good := rel(x.L, x.R)
		if !good {
			return 0, 0, false, nil
		}
		// right.ts - left.ts compared with ±off
		if sgn == -1 {
			dir, off = -dir, -off
		}
		if dir == 1 {
			return off + strict, maxBound, true, nil
		}
		return minBound, off - strict, true, nil
	}
	return 0, 0, false, nil
}

// timeOffset recognises col, col + INTERVAL …, col - INTERVAL …; it
// returns the column's scope index and the offset in milliseconds.
func (p *planner) timeOffset(q *query.Query, s *query.Scope, e parser.Expr) (int, int64, bool) {
	switch x := e.(type) {
	case *parser.Ident:
		i, err := q.Column(s, x)
		return i, 0, err == nil
	case *parser.Binary:
		if x.Op != "+" && x.Op != "-" {
			return 0, 0, false
		}
		col, ok := x.L.(*parser.Ident)
		iv, ok2 := x.R.(*parser.Interval)
		if !ok || !ok2 {
			return 0, 0, false
		}
		i, err := q.Column(s, col)
		ms, err2 := query.IntervalMillis(iv)
		if err != nil || err2 != nil {
			return 0, 0, false
		}
		if x.Op == "-" {
			ms = -ms
		}
		return i, ms, true
	}
	return 0, 0, false
}
