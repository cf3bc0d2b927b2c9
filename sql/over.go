package sql

import (
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/operators/expr"
	"github.com/sluicehq/sluice/operators/over"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sql/parser"
	"github.com/sluicehq/sluice/sql/query"
)

// overCalls returns the OVER aggregate calls of a select list, in order.
func overCalls(sel *query.Select) []*parser.Call {
	var out []*parser.Call
	for _, it := range sel.Items {
		if it.Star {
			continue
		}
		query.Walk(it.Expr, func(e parser.Expr) bool {
			if c, ok := e.(*parser.Call); ok && (c.Over != nil || c.OverName != "") {
				out = append(out, c)
				return false
			}
			return true
		})
	}
	return out
}

// overSelect plans a select list with OVER aggregates (and no GROUP BY)
// as operators/over: agg(x) OVER (PARTITION BY … ORDER BY t ROWS|RANGE
// BETWEEN … PRECEDING AND CURRENT ROW). Every call must have the same
// window; t is the event-time attribute (any column over an updating
// input, whose result is then updating). Each input row comes out once
// with its aggregates; the result has no time attribute.
func (p *planner) overSelect(q *query.Query, sel *query.Select, scope *query.Scope, in *stream, whereTerms []parser.Expr, calls []*parser.Call) (*stream, error) {
	first := calls[0]
	for _, c := range calls {
		if c.OverName != "" {
			return nil, q.Errorf(c, "OVER %s: named windows are not supported, write OVER (PARTITION BY … ORDER BY …)", c.OverName)
		}
		if !strings.EqualFold(c.Over.String(), first.Over.String()) {
			return nil, q.Errorf(c, "the OVER aggregates of a select list must share one window: %s is not %s", c.Over, first.Over)
		}
	}
	w := first.Over
	if len(w.OrderBy) != 1 || w.OrderBy[0].Desc {
		return nil, q.Errorf(first, "OVER (…) must be ordered by one time attribute, ascending (ORDER BY ts)")
	}
	oid, ok := w.OrderBy[0].X.(*parser.Ident)
	if !ok {
		return nil, q.Errorf(w.OrderBy[0].X, "OVER (…) must be ordered by a time attribute column")
	}
	timeCol, err := q.Column(scope, oid)
	if err != nil {
		return nil, err
	}
	if ta := in.attr(timeCol); !in.updating && ta.kind != attrRowtime {
		if ta.why != "" { // it was one upstream: say what dropped it
			return nil, notTimeAttribute(q, oid, "OVER (ORDER BY "+q.TextOf(oid)+")", q.TextOf(oid), ta)
		}
		return nil, q.Errorf(oid, "OVER (ORDER BY %s): %s is not the event-time attribute of the input (declare it with WATERMARK FOR)", q.TextOf(oid), q.TextOf(oid))
	}
	frame := over.Frame{Unbounded: true} // the default: RANGE UNBOUNDED PRECEDING
	if f := w.Frame; f != nil {
		frame.Rows = strings.EqualFold(f.Unit, "ROWS")
		if f.End.Kind != parser.CurrentRow {
			return nil, q.Errorf(first, "OVER (…) frames must end at CURRENT ROW")
		}
		switch f.Start.Kind {
		case parser.UnboundedPreceding:
		case parser.Preceding:
			frame.Unbounded = false
			if frame.Rows {
				n, ok := intLit(f.Start.Offset)
				if !ok || n < 0 {
					return nil, q.Errorf(f.Start.Offset, "ROWS n PRECEDING needs a non-negative integer")
				}
				frame.Preceding = n
			} else {
				iv, ok := f.Start.Offset.(*parser.Interval)
				if !ok {
					return nil, q.Errorf(f.Start.Offset, "RANGE … PRECEDING needs an INTERVAL (e.g. INTERVAL '1' MINUTE)")
				}
				ms, err := query.IntervalMillis(iv)
				if err != nil {
					return nil, q.Errorf(iv, "%v", err)
				}
				frame.Preceding = ms
			}
		default:
			return nil, q.Errorf(first, "OVER (…) frames must start at UNBOUNDED PRECEDING or n PRECEDING")
		}
	}

	// Before the operator: the input's columns, the PARTITION BY
	// expressions, the aggregates' arguments.
	where, err := whereOf(q, whereTerms, scope)
	if err != nil {
		return nil, err
	}
	n := scope.Schema().Len()
	var pre []expr.Expr
	var names []string
	for i, f := range scope.Schema().Fields {
		pre, names = append(pre, expr.ColIndex(i)), append(names, f.Name)
	}
	partCols := make([]int, len(w.PartitionBy))
	for i, x := range w.PartitionBy {
		sc, err := q.Scalar(scope, x, query.Options{Clause: "PARTITION BY"})
		if err != nil {
			return nil, err
		}
		partCols[i] = len(pre)
		pre, names = append(pre, sc.Expr), append(names, "$partition"+strconv.Itoa(i))
	}
	specs := make([]agg.Spec, len(calls))
	for i, c := range calls {
		fn, arg, distinct, star, ok := query.AggregateCall(&parser.Call{Name: c.Name, Distinct: c.Distinct, Star: c.Star, Args: c.Args, Pos: c.Pos, End: c.End})
		if !ok {
			return nil, q.Errorf(c, "%s(…) OVER (…) is not supported: OVER takes COUNT, SUM, AVG, MIN and MAX", strings.ToUpper(c.Name))
		}
		f, ok := agg.ParseFunc(fn, distinct)
		if !ok || distinct {
			return nil, q.Errorf(c, "%s(DISTINCT …) OVER (…) is not supported", fn)
		}
		specs[i] = agg.Spec{Func: f, Col: -1, Name: q.TextOf(c)}
		if star {
			continue
		}
		sc, err := q.Scalar(scope, arg, query.Options{Clause: "an aggregate's argument"})
		if err != nil {
			return nil, err
		}
		specs[i].Col = len(pre)
		pre, names = append(pre, sc.Expr), append(names, "$arg"+strconv.Itoa(i))
	}
	pc, err := p.calcOn(in, "calc", where, pre, names)
	if err != nil {
		return nil, q.Errorf(sel.Node, "%v", err)
	}
	ttl := p.stateTTL
	if p.o.StateTTL > 0 {
		ttl = p.o.StateTTL
	}
	newOp, out, err := over.New(over.Spec{In: pc.schema, PartitionCols: partCols, TimeCol: timeCol, Updating: in.updating,
		Frame: frame, Aggs: specs, MaxGroups: p.maxStateKeys, TTL: ttl})
	if err != nil {
		return nil, q.Errorf(first, "%v", err)
	}
	par, part := p.o.Parallelism, runtime.Keyed
	if len(partCols) == 0 {
		par, part = 1, runtime.Global
	}
	id := p.g.AddOperator("over "+frame.String(), out, par, 1, newOp)
	if part == runtime.Keyed {
		p.connectKeyed(pc, id, 0, partCols)
	} else {
		p.g.Connect(pc.id, id, part)
	}
	overed := &stream{id: id, schema: out, par: par, timeCol: -1, procCol: -1, updating: in.updating}

	// The select list over the operator's output: the input's columns keep
	// their places, each OVER call is its aggregate's column.
	aggFirst := pc.schema.Len()
	subst := func(e parser.Expr) (expr.Expr, bool) {
		c, ok := e.(*parser.Call)
		if !ok || c.Over == nil {
			return nil, false
		}
		for i, d := range calls {
			if d == c {
				return expr.ColIndex(aggFirst + i), true
			}
		}
		return nil, false
	}
	post, err := query.NewScope(append(scope.Relations(), query.Relation{Name: "$over", Schema: runtime.NewSchema(out.Fields[n:]...)})...)
	if err != nil {
		return nil, q.Errorf(sel.Node, "%v", err)
	}
	var exprs []expr.Expr
	var outNames []string
	for i, it := range sel.Items {
		if it.Star {
			for c := 0; c < n; c++ {
				exprs, outNames = append(exprs, expr.ColIndex(c)), append(outNames, scope.Schema().Fields[c].Name)
			}
			continue
		}
		sc, err := q.Scalar(post, it.Expr, query.Options{Clause: "the select list", Subst: subst})
		if err != nil {
			return nil, err
		}
		exprs, outNames = append(exprs, sc.Expr), append(outNames, it.Name(i))
	}
	s, err := p.calcOn(overed, "calc", nil, exprs, uniqueNames(outNames))
	if err != nil {
		return nil, q.Errorf(sel.Node, "%v", err)
	}
	return s, nil
}
