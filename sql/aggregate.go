package sql

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/operators/expr"
	"github.com/sluicehq/sluice/operators/groupagg"
	"github.com/sluicehq/sluice/operators/window"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sql/parser"
	"github.com/sluicehq/sluice/sql/query"
)

// aggCall is one distinct aggregate call of a SELECT.
type aggCall struct {
	node     parser.Expr
	fn       string
	arg      parser.Expr
	distinct bool
	star     bool
	bound    string // the argument translated over the input scope, printed: calls with equal bound arguments are one
}

// collectAggregates finds the aggregate calls of the select list and
// HAVING, each once (calls of one function on structurally equal
// arguments are one).
func collectAggregates(q *query.Query, sel *query.Select, scope *query.Scope) []*aggCall {
	var out []*aggCall
	visit := func(e parser.Expr) bool {
		fn, arg, distinct, star, ok := query.AggregateCall(e)
		if !ok {
			return true
		}
		a := &aggCall{node: e, fn: fn, arg: arg, distinct: distinct, star: star, bound: aggBound(q, scope, e, arg)}
		for _, o := range out {
			if o.same(a) {
				return false
			}
		}
		out = append(out, a)
		return false
	}
	for _, it := range sel.Items {
		if !it.Star {
			query.Walk(it.Expr, visit)
		}
	}
	query.Walk(sel.Having, visit)
	return out
}

// same reports whether a and b compute the same aggregate.
func (a *aggCall) same(b *aggCall) bool {
	return a.fn == b.fn && a.distinct == b.distinct && a.star == b.star && a.bound == b.bound && a.bound != "!"
}

// aggBound is the structural form of the aggregate call e's argument
// arg, and of its LISTAGG separator.
func aggBound(q *query.Query, scope *query.Scope, e, arg parser.Expr) string {
	b := boundText(q, scope, arg)
	if sep, ok := query.ListAggSeparator(e); ok && b != "!" {
		b += " SEPARATOR " + strconv.Quote(sep)
	}
	if f := query.AggregateFilter(e); f != nil && b != "!" {
		fb := boundText(q, scope, f)
		if fb == "!" {
			return "!"
		}
		b += " FILTER " + fb
	}
	return b
}

// boundText is e translated over scope and printed, the structural form
// in which two expressions that compute the same are equal however they
// are written (c.page and page, CAST(x AS INTEGER) and cast(x as int));
// "" for nil and "!" when e does not translate.
func boundText(q *query.Query, scope *query.Scope, e parser.Expr) string {
	if e == nil {
		return ""
	}
	sc, err := q.Scalar(scope, e, query.Options{})
	if err != nil {
		return "!"
	}
	return sc.Expr.String() + " :: " + sc.Type.String()
}

// aggregate plans GROUP BY (with or without a group window) and global
// aggregates: a calc computing keys, time and aggregate arguments, a keyed
// exchange, the window or group aggregation, then a calc for HAVING and the
// select list over its output.
func (p *planner) aggregate(q *query.Query, sel *query.Select, scope *query.Scope, in *stream, aggs []*aggCall, whereTerms []parser.Expr) (*stream, error) {
	if err := resolveColumns(q, sel, scope); err != nil {
		return nil, err
	}

	where, err := whereOf(q, whereTerms, scope)
	if err != nil {
		return nil, err
	}
	// GROUP BY: keys and at most one window.
	var keys []parser.Expr
	var win parser.Expr
	var assigner window.Assigner
	var winKind string
	var winTime *parser.Ident
	var winCol int
	var winDur []time.Duration
	for _, g := range sel.GroupBy {
		if kind, tc, ds, ok := query.WindowCall(g); ok {
			if win != nil {
				return nil, q.Errorf(g, "GROUP BY has more than one group window")
			}
			win, winKind, winTime, winDur = g, kind, tc, ds
			switch kind {
			case "TUMBLE":
				assigner = window.Tumble(ds[0])
			case "HOP":
				assigner = window.Hop(ds[0], ds[1])
			case "SESSION":
				assigner = window.SessionGap(ds[0])
			}
			continue
		}
		keys = append(keys, g)
	}
	// GROUP BY window_start, window_end[, window_time], … over a window
	// table function: a window aggregation of the function's input
	// (Flink's), append-only.
	var tvf *tvfWindow
	if in.win != nil && win == nil {
		var hasStart, hasEnd bool
		var rest []parser.Expr
		for _, k := range keys {
			if id, ok := k.(*parser.Ident); ok {
				if idx, err := q.Column(scope, id); err == nil && (idx == in.win.start || idx == in.win.end || idx == in.win.time) {
					hasStart, hasEnd = hasStart || idx == in.win.start, hasEnd || idx == in.win.end
					continue
				}
			}
			rest = append(rest, k)
		}
		if hasStart && hasEnd {
			tvf, keys, assigner, win = in.win, rest, in.win.assigner, sel.GroupBy[0]
			var used []parser.Expr
			used = append(used, keys...)
			used = append(used, whereTerms...)
			for _, a := range aggs {
				if a.arg != nil {
					used = append(used, a.arg)
				}
			}
			for _, x := range used {
				if c := windowColumnIn(q, scope, x, tvf); c != nil {
					return nil, q.Errorf(c, "%s can only be grouped by here: a window aggregation groups by window_start and window_end, and computes its keys, WHERE and aggregates from the table's columns", q.TextOf(c))
				}
			}
			in = tvf.input
		}
	}
	if in.updating && win != nil {
		return nil, q.Errorf(win, "a group window over an updating input (the result of a GROUP BY without a window, or a changelog source) is not supported")
	}
	// Pre-projection: keys, [time], aggregate arguments. Internal columns
	// are named after the text they compute, so plans read like the query.
	var pre []expr.Expr
	var preNames []string
	used := map[string]bool{}
	uniq := func(name string) string {
		n := name
		for i := 2; used[strings.ToLower(n)]; i++ {
			n = fmt.Sprintf("%s#%d", name, i)
		}
		used[strings.ToLower(n)] = true
		return n
	}
	for _, k := range keys {
		sc, err := q.Scalar(scope, k, query.Options{Clause: "GROUP BY"})
		if err != nil {
			return nil, err
		}
		pre = append(pre, sc.Expr)
		preNames = append(preNames, uniq(q.TextOf(k)))
	}
	timeCol := -1
	procTime := false
	if tvf != nil {
		procTime = tvf.procTime
		timeCol = len(pre)
		pre = append(pre, expr.ColIndex(tvf.timeCol))
		preNames = append(preNames, uniq(scope.Schema().Fields[tvf.timeCol].Name))
	} else if win != nil {
		idx, err := q.Column(scope, winTime)
		if err != nil {
			return nil, err
		}
		procTime = idx == in.procCol && idx >= 0
		if !procTime && idx != in.timeCol && in.timeCol >= 0 && len(scope.Relations()) > 1 {
			return nil, q.Errorf(win, "%s(%s, …): %s is not the event time of the join's rows, which is %s (the left side's)", winKind, q.TextOf(winTime), q.TextOf(winTime), qualifiedName(scope, in.timeCol))
		}
		if !procTime && idx != in.timeCol {
			return nil, windowTimeError(q, win, winKind, winTime, idx, scope, in)
		}
		winCol = idx
		timeCol = len(pre)
		pre = append(pre, expr.ColIndex(idx))
		preNames = append(preNames, uniq(winTime.Parts[len(winTime.Parts)-1]))
	}
	specs := make([]agg.Spec, len(aggs))
	for i, a := range aggs {
		f, ok := agg.ParseFunc(a.fn, a.distinct)
		if !ok {
			return nil, q.Errorf(a.node, "%s(DISTINCT …) is not supported", a.fn)
		}
		specs[i] = agg.Spec{Func: f, Col: -1, Name: q.TextOf(a.node)}
		if sep, ok := query.ListAggSeparator(a.node); ok {
			specs[i].Sep = &sep
		}
		if f := query.AggregateFilter(a.node); f != nil {
			w, err := q.Predicate(scope, f, query.Options{Clause: "FILTER (WHERE …)"})
			if err != nil {
				return nil, err
			}
			specs[i].Filter, specs[i].HasFilter = len(pre), true
			if j, ok := samePre(pre, w.Expr, f, in.schema); ok {
				specs[i].Filter = j
			} else {
				pre = append(pre, w.Expr)
				preNames = append(preNames, uniq("FILTER "+q.TextOf(f)))
			}
		}
		if a.star {
			continue
		}
		sc, err := q.Scalar(scope, a.arg, query.Options{Clause: "an aggregate's argument"})
		if err != nil {
			return nil, err
		}
		specs[i].Col = len(pre)
		if j, ok := samePre(pre, sc.Expr, a.arg, in.schema); ok {
			specs[i].Col = j
			continue
		}
		pre = append(pre, sc.Expr)
		preNames = append(preNames, uniq(q.TextOf(a.arg)))
	}
	if len(pre) == 0 { // COUNT(*) alone: keep one column to carry rows
		pre, preNames = append(pre, expr.Int(0)), append(preNames, "one")
	}
	pc, err := p.calcOn(in, "calc", where, pre, preNames)
	if err != nil {
		return nil, q.Errorf(sel.Node, "%v", err)
	}
	keyCols := make([]int, len(keys))
	for i := range keys {
		keyCols[i] = i
	}
	par, part := p.o.Parallelism, runtime.Keyed
	if len(keys) == 0 {
		par, part = 1, runtime.Global
	}
	var newOp func() runtime.Operator
	var aggOut *runtime.Schema
	var name string
	aggFirst := len(keys) // first aggregate column of the output
	updating := false
	if err := checkAggregates(q, pc.schema, specs, aggs, in.updating); err != nil {
		return nil, err
	}
	if win != nil {
		newOp, aggOut, err = window.New(window.Spec{In: pc.schema, KeyCols: keyCols, TimeCol: timeCol, Window: assigner, Aggs: specs,
			StartName: "window_start", EndName: "window_end", MaxGroups: p.maxStateKeys, ProcTime: procTime})
		name = "window " + assigner.String()
		if procTime {
			name += " PROCTIME"
		}
		aggFirst += 2
	} else {
		ttl := p.stateTTL
		if p.o.StateTTL > 0 {
			ttl = p.o.StateTTL
		}
		// Over an updating input (a GROUP BY over a GROUP BY, a changelog
		// source) the aggregation retracts: -U and -D rows take back what
		// +I and +U rows added.
		newOp, aggOut, err = groupagg.New(groupagg.Spec{In: pc.schema, KeyCols: keyCols, Aggs: specs, TTL: ttl, MaxGroups: p.maxStateKeys,
			Retract: in.updating})
		if ttl == 0 && p.maxStateKeys == 0 && len(keys) > 0 { // nothing bounds the state
			p.plan.Warnings = append(p.plan.Warnings, fmt.Sprintf("%s:%d:%d: warning: GROUP BY without a window keeps the state of every key forever: "+
				"bound it with SET 'table.exec.state.ttl' = '1 h' (or --state-ttl), or cap it with SET 'sluice.state.max-keys'", p.o.File, p.cur.Line, p.cur.Col))
		}
		name = "group aggregate"
		updating = true
	}
	if err != nil {
		return nil, q.Errorf(sel.Node, "%v", err)
	}
	id := p.g.AddOperator(name, aggOut, par, 1, newOp)
	p.g.Connect(pc.id, id, part, keyCols...)
	agged := &stream{id: id, schema: aggOut, par: par, timeCol: -1, procCol: -1, updating: updating}

	// HAVING and the select list over the aggregation's output.
	post, err := query.NewScope(query.Relation{Name: "$agg", Schema: aggOut})
	if err != nil {
		return nil, err
	}
	var substErr error
	keyText := make([]string, len(keys))
	for i, k := range keys {
		keyText[i] = boundText(q, scope, k)
	}
	subst := func(e parser.Expr) (expr.Expr, bool) {
		if substErr != nil {
			return expr.Null(runtime.BigInt), true
		}
		if fn, arg, distinct, star, ok := query.AggregateCall(e); ok {
			a := &aggCall{fn: fn, distinct: distinct, star: star, bound: aggBound(q, scope, e, arg)}
			for i, b := range aggs {
				if b.same(a) {
					return expr.ColIndex(aggFirst + i), true
				}
			}
			return nil, false
		}
		if id, ok := e.(*parser.Ident); ok && tvf != nil {
			if idx, err := q.Column(scope, id); err == nil {
				switch idx {
				case tvf.start:
					return expr.ColIndex(len(keys)), true
				case tvf.end:
					return expr.ColIndex(len(keys) + 1), true
				case tvf.time:
					return expr.Binary(expr.OpSub, expr.ColIndex(len(keys)+1), expr.Int(1)), true
				}
			}
		}
		if kind, bound, tc, ds, ok := query.WindowBoundCall(e); ok {
			idx, err := q.Column(scope, tc)
			if err != nil {
				substErr = err
				return expr.Null(runtime.Timestamp), true
			}
			if win == nil || kind != winKind || idx != winCol || !slices.Equal(ds, winDur) {
				substErr = q.Errorf(e, "%s_%s must name the window of GROUP BY (%s)", kind, bound, groupWindowText(q, win))
				return expr.Null(runtime.Timestamp), true
			}
			if bound == "START" {
				return expr.ColIndex(len(keys)), true
			}
			return expr.ColIndex(len(keys) + 1), true
		}
		if text := boundText(q, scope, e); text != "!" {
			for i, k := range keyText {
				if text == k {
					return expr.ColIndex(i), true
				}
			}
		}
		if c, ok := e.(*parser.Ident); ok {
			substErr = q.Errorf(c, "column %s must appear in GROUP BY or be used inside an aggregate function", q.TextOf(c))
			return expr.Null(runtime.BigInt), true
		}
		return nil, false
	}
	var having expr.Expr
	if sel.Having != nil {
		h, err := q.Predicate(post, sel.Having, query.Options{Clause: "HAVING", Subst: subst})
		if substErr != nil {
			return nil, substErr
		}
		if err != nil {
			return nil, err
		}
		having = h.Expr
	}
	var exprs []expr.Expr
	var names []string
	for i, it := range sel.Items {
		if it.Star {
			return nil, q.Errorf(it, "SELECT * cannot be used with GROUP BY: list the columns")
		}
		sc, err := q.Scalar(post, it.Expr, query.Options{Clause: "the select list", Subst: subst})
		if substErr != nil {
			return nil, substErr
		}
		if err != nil {
			return nil, err
		}
		exprs = append(exprs, sc.Expr)
		names = append(names, it.Name(i))
	}
	out, err := p.calcOn(agged, "calc", having, exprs, uniqueNames(names))
	if err != nil {
		return nil, q.Errorf(sel.Node, "%v", err)
	}
	out.keys = keyCols
	if tvf != nil { // window_time selected is a time attribute: windows cascade
		for i, it := range sel.Items {
			if id, ok := it.Expr.(*parser.Ident); ok {
				if idx, err := q.Column(scope, id); err == nil && idx == tvf.time {
					out.timeCol = i
				}
				if idx, err := q.Column(scope, id); err == nil && (idx == tvf.start || idx == tvf.end) {
					if out.wcols == nil {
						out.wcols = make([]int8, out.schema.Len())
					}
					out.wcols[i] = windowStart
					if idx == tvf.end {
						out.wcols[i] = windowEnd
					}
				}
			}
		}
	}
	return out, nil
}

// windowColumnIn returns the first column reference of e to a window
// column of tvf (window_start, window_end, window_time), or nil.
func windowColumnIn(q *query.Query, scope *query.Scope, e parser.Expr, tvf *tvfWindow) *parser.Ident {
	var found *parser.Ident
	query.Walk(e, func(x parser.Expr) bool {
		if c, ok := x.(*parser.Ident); ok && found == nil {
			if idx, err := q.Column(scope, c); err == nil && idx >= tvf.start {
				found = c
			}
		}
		return found == nil
	})
	return found
}

// resolveColumns resolves every column reference of an aggregating sel
// against its input scope, clause by clause in the order they are written
// (select list, WHERE, GROUP BY with its window, HAVING), so that a
// misspelt name is reported as unknown (with the nearest known name)
// wherever it stands, before any rule about grouping: the select list and
// HAVING are translated over the aggregation's output, where an unknown
// name would otherwise read as a column missing from GROUP BY.
func resolveColumns(q *query.Query, sel *query.Select, scope *query.Scope) error {
	var first error
	visit := func(e parser.Expr) bool {
		if first != nil {
			return false
		}
		if c, ok := e.(*parser.Ident); ok {
			if _, err := q.Column(scope, c); err != nil {
				first = err
			}
			return false
		}
		return true
	}
	var exprs []parser.Expr
	for _, it := range sel.Items {
		if !it.Star {
			exprs = append(exprs, it.Expr)
		}
	}
	exprs = append(exprs, sel.Where)
	exprs = append(exprs, sel.GroupBy...)
	exprs = append(exprs, sel.Having)
	for _, e := range exprs {
		query.Walk(e, visit)
	}
	return first
}

func groupWindowText(q *query.Query, e parser.Expr) string {
	if e == nil {
		return "it has none"
	}
	return q.TextOf(e)
}
