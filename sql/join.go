package sql

import (
	"strconv"
	"strings"
	"time"

	"github.com/xwb1989/sqlparser"

	"github.com/sluicehq/sluice/operators/expr"
	"github.com/sluicehq/sluice/operators/join"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sql/query"
)

// joinFrom plans FROM a JOIN b ON …: an event-time interval join. The ON
// condition must equate at least one column of a with one of b and bound
// the time of one side by the other's (b.ts BETWEEN a.ts - x AND a.ts + y,
// or the same with >=, <=, >, <); other conditions filter the joined rows.
func (p *planner) joinFrom(q *query.Query, sel *query.Select) (*stream, *query.Scope, error) {
	ft := sel.From.Tables
	l, err := p.source(q, ft[0])
	if err != nil {
		return nil, nil, err
	}
	r, err := p.source(q, ft[1])
	if err != nil {
		return nil, nil, err
	}
	scope, err := query.NewScope(
		query.Relation{Name: ft[0].Name, Alias: ft[0].Alias, Schema: l.schema},
		query.Relation{Name: ft[1].Name, Alias: ft[1].Alias, Schema: r.schema})
	if err != nil {
		return nil, nil, q.Errorf(sel.From.Join, "%v", err)
	}
	nl := l.schema.Len()
	if l.timeCol < 0 || r.timeCol < 0 {
		return nil, nil, q.Errorf(sel.From.Join, "an interval join needs event time on both tables (WATERMARK FOR … in their CREATE TABLE)")
	}
	if err := onColumns(q, scope, sel.From.On); err != nil {
		return nil, nil, err
	}
	var lk, rk []int
	var lower, upper int64
	bounded := false
	var rest []sqlparser.Expr
	for _, term := range conjuncts(sel.From.On) {
		if a, b, ok := p.equiPair(q, scope, term, nl); ok {
			lk, rk = append(lk, a), append(rk, b-nl)
			continue
		}
		lo, hi, ok, err := p.timeBound(q, scope, term, nl, l.timeCol, r.timeCol)
		if err != nil {
			return nil, nil, err
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
		return nil, nil, q.Errorf(sel.From.On, "the join condition must equate a column of %s with a column of %s", ft[0].Ref(), ft[1].Ref())
	}
	if !bounded || lower == minBound || upper == maxBound {
		return nil, nil, q.Errorf(sel.From.On, "an interval join needs both time bounds, e.g. %s.ts BETWEEN %s.ts - INTERVAL '5' MINUTE AND %s.ts + INTERVAL '5' MINUTE", ft[1].Ref(), ft[0].Ref(), ft[0].Ref())
	}
	if lower > upper {
		return nil, nil, q.Errorf(sel.From.On, "the join's time bounds are empty (lower %v > upper %v)", time.Duration(lower)*time.Millisecond, time.Duration(upper)*time.Millisecond)
	}
	newOp, out, err := join.New(join.Spec{Left: l.schema, Right: r.schema, LeftKeys: lk, RightKeys: rk,
		LeftTime: l.timeCol, RightTime: r.timeCol, Lower: lower, Upper: upper})
	if err != nil {
		return nil, nil, q.Errorf(sel.From.On, "%v", err)
	}
	id := p.g.AddOperator("interval join", out, p.o.Parallelism, 2, newOp)
	p.g.ConnectPort(l.id, 0, id, 0, runtime.Keyed, lk...)
	p.g.ConnectPort(r.id, 0, id, 1, runtime.Keyed, rk...)
	joined := &stream{id: id, schema: out, par: p.o.Parallelism, timeCol: l.timeCol}
	if len(rest) > 0 {
		var preds []expr.Expr
		for _, term := range rest {
			sc, err := q.Predicate(scope, term, query.Options{Clause: "ON"})
			if err != nil {
				return nil, nil, err
			}
			preds = append(preds, sc.Expr)
		}
		f, err := p.calcOn(joined, "join filter", expr.And(preds...), nil, nil)
		if err != nil {
			return nil, nil, q.Errorf(sel.From.On, "%v", err)
		}
		f.timeCol = joined.timeCol
		joined = f
	}
	return joined, scope, nil
}

// onColumns checks that every column the ON condition names is a column
// of the joined tables, so that a misspelt one is reported as such
// ("unknown column … did you mean"), not as a condition of the wrong form.
func onColumns(q *query.Query, s *query.Scope, on sqlparser.Expr) error {
	var err error
	_ = sqlparser.Walk(func(node sqlparser.SQLNode) (bool, error) {
		if c, ok := node.(*sqlparser.ColName); ok && err == nil {
			_, err = q.Column(s, c)
		}
		return err == nil, nil
	}, on)
	return err
}

const (
	minBound = -1 << 62
	maxBound = 1 << 62
)

func conjuncts(e sqlparser.Expr) []sqlparser.Expr {
	switch x := e.(type) {
	case *sqlparser.AndExpr:
		return append(conjuncts(x.Left), conjuncts(x.Right)...)
	case *sqlparser.ParenExpr:
		return conjuncts(x.Expr)
	}
	return []sqlparser.Expr{e}
}

// equiPair recognises left.col = right.col (either order); it returns the
// scope indexes, left first.
func (p *planner) equiPair(q *query.Query, s *query.Scope, e sqlparser.Expr, nl int) (int, int, bool) {
	c, ok := e.(*sqlparser.ComparisonExpr)
	if !ok || c.Operator != sqlparser.EqualStr {
		return 0, 0, false
	}
	a, aok := c.Left.(*sqlparser.ColName)
	b, bok := c.Right.(*sqlparser.ColName)
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
func (p *planner) timeBound(q *query.Query, s *query.Scope, e sqlparser.Expr, nl, lt, rt int) (lower, upper int64, ok bool, err error) {
	side := func(x sqlparser.Expr) (col int, off int64, ok bool) {
		return p.timeOffset(q, s, x)
	}
	// normalise: subject (a time column) compared with other ± offset.
	rel := func(subj, other sqlparser.Expr) (sub int, off int64, good bool) {
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
	case *sqlparser.RangeCond:
		if x.Operator != sqlparser.BetweenStr {
			return 0, 0, false, nil
		}
		s1, lo, g1 := rel(x.Left, x.From)
		s2, hi, g2 := rel(x.Left, x.To)
		if !g1 || !g2 || s1 != s2 {
			return 0, 0, false, nil
		}
		if s1 == 1 {
			return lo, hi, true, nil
		}
		return -hi, -lo, true, nil
	case *sqlparser.ComparisonExpr:
		dir := 0
		switch x.Operator {
		case sqlparser.GreaterEqualStr, sqlparser.GreaterThanStr:
			dir = 1 // subject >= other + off: lower bound
		case sqlparser.LessEqualStr, sqlparser.LessThanStr:
			dir = -1
		default:
			return 0, 0, false, nil
		}
		strict := int64(0)
		if x.Operator == sqlparser.GreaterThanStr || x.Operator == sqlparser.LessThanStr {
			strict = 1 // millisecond times: a < b ⇔ a <= b - 1
		}
		sgn, off, good := rel(x.Left, x.Right)
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
func (p *planner) timeOffset(q *query.Query, s *query.Scope, e sqlparser.Expr) (int, int64, bool) {
	switch x := e.(type) {
	case *sqlparser.ColName:
		i, err := q.Column(s, x)
		return i, 0, err == nil
	case *sqlparser.ParenExpr:
		return p.timeOffset(q, s, x.Expr)
	case *sqlparser.BinaryExpr:
		if x.Operator != sqlparser.PlusStr && x.Operator != sqlparser.MinusStr {
			return 0, 0, false
		}
		col, ok := x.Left.(*sqlparser.ColName)
		iv, ok2 := x.Right.(*sqlparser.IntervalExpr)
		if !ok || !ok2 {
			return 0, 0, false
		}
		i, err := q.Column(s, col)
		ms, ok3 := intervalMillis(iv)
		if err != nil || !ok3 {
			return 0, 0, false
		}
		if x.Operator == sqlparser.MinusStr {
			ms = -ms
		}
		return i, ms, true
	}
	return 0, 0, false
}

// intervalMillis reads INTERVAL 'n' UNIT (or INTERVAL n UNIT).
func intervalMillis(iv *sqlparser.IntervalExpr) (int64, bool) {
	v, ok := iv.Expr.(*sqlparser.SQLVal)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(v.Val)), 10, 64)
	if err != nil {
		return 0, false
	}
	unit := strings.TrimSuffix(strings.ToUpper(iv.Unit), "S")
	per := map[string]int64{"MILLISECOND": 1, "SECOND": 1000, "MINUTE": 60_000, "HOUR": 3_600_000, "DAY": 86_400_000}[unit]
	if per == 0 {
		return 0, false
	}
	return n * per, true
}
