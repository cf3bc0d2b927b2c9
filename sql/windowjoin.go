package sql

import (
	"fmt"

	"github.com/sluicehq/sluice/operators/expr"
	"github.com/sluicehq/sluice/operators/join"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sql/parser"
	"github.com/sluicehq/sluice/sql/query"
)

// Window joins (Flink's). A join of two inputs that both carry a
// window_start and a window_end of an event-time window table function
// (stream.wcols: its output, or a window aggregation, through projections,
// renames, views and subqueries) whose condition equates the two sides'
// window_start and their window_end is planned as join.NewWindow, for
// INNER, LEFT, RIGHT and FULL joins: the rows of each window are buffered
// and joined when the watermark passes the window's end, then freed; the
// result is append-only. The other equalities between a column of each
// side are its keys (both inputs keyed by them; without any, one subtask
// joins everything), the other terms its residual condition. Both sides
// must use the same window (kind, size, slide, offset), and a condition
// that equates only one of the window columns is an error; a join where a
// side is not windowed is a regular join. The output keeps the window
// columns of the sides that are never NULL-padded (both for INNER, the
// left ones for LEFT, the right ones for RIGHT) and their window_time
// time attributes, so that a Top-N or a window function may follow.

// windowJoinCols finds the window equalities of a window join of l and r:
// the window_start and window_end columns of each side that terms equate,
// and the indexes of those terms. ok is false when the join is not a
// window join; err is set when it looks like one but cannot be.
func (p *planner) windowJoinCols(q *query.Query, cond query.Node, terms []parser.Expr, l, r *stream, scope *query.Scope) (ls, le, rs, re int, used map[int]bool, ok bool, err error) {
	if l.wcols == nil || r.wcols == nil || l.updating || r.updating {
		return 0, 0, 0, 0, nil, false, nil
	}
	nl := l.schema.Len()
	ls, le, rs, re = -1, -1, -1, -1
	used = map[int]bool{}
	for i, t := range terms {
		a, b, ok := p.equiPair(q, scope, t, nl)
		if !ok {
			continue
		}
		b -= nl
		var lw, rw int8
		if a < len(l.wcols) && b < len(r.wcols) {
			lw, rw = l.wcols[a], r.wcols[b]
		}
		switch {
		case lw == windowStart && rw == windowStart && ls < 0:
			ls, rs, used[i] = a, b, true
		case lw == windowEnd && rw == windowEnd && le < 0:
			le, re, used[i] = a, b, true
		}
	}
	if ls < 0 && le < 0 {
		return 0, 0, 0, 0, nil, false, nil
	}
	if ls < 0 || le < 0 {
		return 0, 0, 0, 0, nil, false, q.Errorf(cond, "a window join must equate both the window_start and the window_end columns of its two sides")
	}
	if l.wwin != r.wwin {
		return 0, 0, 0, 0, nil, false, q.Errorf(cond, "the windows of the two sides of a window join must be the same: the left one is %s, the right one %s", l.wwin, r.wwin)
	}
	return ls, le, rs, re, used, true, nil
}

// windowJoin plans a window join (see above) of l and r, whose window
// columns are ls, le (of l) and rs, re (of r), equated by the terms used.
func (p *planner) windowJoin(q *query.Query, node *query.From, cond query.Node, terms []parser.Expr, l, r *stream, scope *query.Scope, ls, le, rs, re int, used map[int]bool) (*stream, error) {
	for _, t := range terms {
		if err := onColumns(q, scope, t); err != nil {
			return nil, err
		}
	}
	nl := l.schema.Len()
	var lk, rk []int
	var residual []expr.Expr
	for i, t := range terms {
		if used[i] {
			continue
		}
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
	var res expr.Expr
	switch len(residual) {
	case 0:
	case 1:
		res = residual[0]
	default:
		res = expr.And(residual...)
	}
	kind := node.Join.Kind
	lOuter := kind == parser.JoinLeft || kind == parser.JoinFull
	rOuter := kind == parser.JoinRight || kind == parser.JoinFull
	newOp, out, err := join.NewWindow(join.WindowSpec{Left: l.schema, Right: r.schema, LeftKeys: lk, RightKeys: rk,
		LeftWindowStart: ls, LeftWindowEnd: le, RightWindowStart: rs, RightWindowEnd: re,
		LeftOuter: lOuter, RightOuter: rOuter, Residual: res, MaxGroups: p.maxStateKeys})
	if err != nil {
		return nil, q.Errorf(cond, "%v", err)
	}
	name := "window join"
	switch {
	case lOuter && rOuter:
		name = "window full join"
	case lOuter:
		name = "window left join"
	case rOuter:
		name = "window right join"
	}
	par, part := p.o.Parallelism, runtime.Keyed
	if len(lk) == 0 {
		par, part = 1, runtime.Rebalance
	}
	id := p.g.AddOperator(fmt.Sprintf("%s %s", name, l.wwin), out, par, 2, newOp)
	if part == runtime.Keyed {
		p.connectJoin(l, r, id, lk, rk)
	} else {
		p.g.ConnectPort(l.id, 0, id, 0, part)
		p.g.ConnectPort(r.id, 0, id, 1, part)
	}
	s := &stream{id: id, schema: out, par: par}
	// The window columns and window_time attributes of a side that is
	// never padded with NULLs stay so: the rows of a window reach the next
	// operator before the watermark that passes its end.
	why := fmt.Sprintf("the window join at %s pads this side with NULLs", at(q, node))
	attrs := make([]timeAttr, 0, out.Len())
	wcols := make([]int8, out.Len())
	side := func(in *stream, padded bool, off int) {
		for c := range in.schema.Len() {
			a := in.attr(c)
			switch {
			case padded && a.kind != attrNone:
				a = timeAttr{why: why}
			case a.kind == attrProctime:
				a = timeAttr{why: fmt.Sprintf("the window join at %s drops processing-time attributes", at(q, node))}
			}
			attrs = append(attrs, a)
			if !padded && c < len(in.wcols) {
				wcols[off+c] = in.wcols[c]
			}
		}
	}
	side(l, rOuter, 0)
	side(r, lOuter, nl)
	s.setAttrs(attrs)
	s.wcols = fitWindowCols(wcols, out.Len())
	s.wwin = l.wwin
	if lOuter && rOuter {
		s.wcols = nil
	}
	return s, nil
}
