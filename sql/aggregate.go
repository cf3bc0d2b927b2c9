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
	// table function: a window aggregation (Flink's), append-only. Right
	// over the function, it aggregates the function's input; over rows
	// that carry their windows through projections, filters, views or
	// subqueries (attached), it aggregates them by window_start and fires
	// each window at its window_end (see attachedWindow).
	var tvf *tvfWindow
	from := in // the rows of FROM, which scope names
	attached := false
	endCol := -1 // attached: the window_end grouped by
	if win == nil && in.wins != nil {
		if w, rest, sk, ec := groupedWindow(q, scope, in, keys); w != nil && w == in.win {
			tvf, keys, assigner, win = w, rest, w.assigner, sel.GroupBy[0]
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
		} else if w != nil {
			tvf, win, attached, endCol = w, sel.GroupBy[0], true, ec
			// Grouped by window_start too: the windows that end together
			// (of a HOP or CUMULATE) stay apart.
			keys = append(rest, parser.Expr(sk))
		}
	}
	if in.updating && win != nil && winTime != nil {
		// A time attribute first: an updating input has none.
		if idx, err := q.Column(scope, winTime); err == nil && in.attr(idx).kind == attrNone {
			name := q.TextOf(winTime)
			return nil, notTimeAttribute(q, win, fmt.Sprintf("%s(%s, …)", winKind, name), name, in.attr(idx))
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
	// The time column, shifted forward by its lag (see timeattr.go): the
	// windows fire that much later, their bounds are shifted back.
	timeCol := -1
	procTime := false
	var lag int64
	switch {
	case attached:
		procTime, lag = tvf.procTime, tvf.lag
		assigner = attachedWindow(tvf.assigner, lag)
		timeCol = len(pre)
		pre = append(pre, shifted(expr.ColIndex(endCol), lag-1))
		preNames = append(preNames, uniq("window_time"))
	case tvf != nil:
		procTime, lag = tvf.procTime, tvf.lag
		assigner.Offset += lag
		timeCol = len(pre)
		pre = append(pre, shifted(expr.ColIndex(tvf.timeCol), lag))
		preNames = append(preNames, uniq(scope.Schema().Fields[tvf.timeCol].Name))
	case win != nil:
		idx, err := q.Column(scope, winTime)
		if err != nil {
			return nil, err
		}
		ta := in.attr(idx)
		if ta.kind == attrNone {
			name := q.TextOf(winTime)
			return nil, timeAttrError(q, win, fmt.Sprintf("%s(%s, …)", winKind, name), name, in, idx)
		}
		procTime, lag = ta.kind == attrProctime, ta.lag
		assigner.Offset += lag
		winCol = idx
		timeCol = len(pre)
		pre = append(pre, shifted(expr.ColIndex(idx), lag))
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
		startName := "window_start"
		if attached { // the window_start key is the window's start
			startName = "slice_start"
		}
		newOp, aggOut, err = window.New(window.Spec{In: pc.schema, KeyCols: keyCols, TimeCol: timeCol, Window: assigner, Aggs: specs,
			StartName: startName, EndName: "window_end", MaxGroups: p.maxStateKeys, ProcTime: procTime})
		name = "window " + assigner.String()
		if attached {
			name = "window " + tvf.assigner.String() + " of rows assigned upstream"
		}
		if procTime {
			name += " PROCTIME"
		}
		if lag > 0 {
			name += fmt.Sprintf(", fired %s after its end (an interval join's rows lag its watermark by up to that)", time.Duration(lag)*time.Millisecond)
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
	if part == runtime.Keyed {
		p.connectKeyed(pc, id, 0, keyCols)
	} else {
		p.g.Connect(pc.id, id, part)
	}
	agged := &stream{id: id, schema: aggOut, par: par, timeCol: -1, procCol: -1, updating: updating}
	// The window's bounds in the output, shifted back by the lag.
	startOut, endOut := shifted(expr.ColIndex(len(keys)), -lag), shifted(expr.ColIndex(len(keys)+1), -lag)
	if attached {
		startOut = expr.ColIndex(len(keys) - 1) // the window_start key
	}
	timeOut := shifted(expr.ColIndex(len(keys)+1), -lag-1)

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
			if idx, err := q.Column(scope, id); err == nil && from.winAt(idx).w == tvf {
				switch from.winAt(idx).role {
				case windowStart:
					return startOut, true
				case windowEnd:
					return endOut, true
				case windowTime:
					return timeOut, true
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
			switch bound {
			case "START":
				return startOut, true
			case "END":
				return endOut, true
			}
			return timeOut, true // ROWTIME
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
	// window_time and TUMBLE_ROWTIME(…) selected are time attributes:
	// windows cascade. Window Top-N follows window_start and window_end.
	rowtime := timeAttr{kind: attrRowtime, lag: lag}
	if procTime {
		rowtime = timeAttr{kind: attrProctime}
	}
	attrs := make([]timeAttr, len(sel.Items))
	for i, it := range sel.Items {
		attrs[i] = aggregatedAttr(q, scope, from, it.Expr, tvf, win, rowtime, sel)
		if id, ok := it.Expr.(*parser.Ident); ok && tvf != nil {
			if idx, err := q.Column(scope, id); err == nil && from.winAt(idx).w == tvf {
				if r := from.winAt(idx).role; r == windowStart || r == windowEnd {
					if out.wcols == nil {
						out.wcols = make([]int8, out.schema.Len())
					}
					out.wcols[i], out.wwin = r, tvf.assigner
				}
			}
		}
	}
	out.setAttrs(attrs)
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

// groupedWindow finds, among the GROUP BY keys, the window_start and
// window_end of one window table function w whose window columns in
// carries (see stream.wins); rest are the other keys (window_time of w
// dropped too), startKey the window_start key and endCol the scope index
// of the window_end key. w is nil when the keys name no such pair.
func groupedWindow(q *query.Query, scope *query.Scope, in *stream, keys []parser.Expr) (w *tvfWindow, rest []parser.Expr, startKey *parser.Ident, endCol int) {
	winOf := func(k parser.Expr) (winCol, *parser.Ident, int) {
		if id, ok := k.(*parser.Ident); ok {
			if idx, err := q.Column(scope, id); err == nil {
				return in.winAt(idx), id, idx
			}
		}
		return winCol{}, nil, -1
	}
	for _, k := range keys {
		wc, _, _ := winOf(k)
		if wc.w == nil || w != nil {
			continue
		}
		var start *parser.Ident
		end := -1
		for _, k2 := range keys {
			if wc2, id, idx := winOf(k2); wc2.w == wc.w {
				switch wc2.role {
				case windowStart:
					start = id
				case windowEnd:
					end = idx
				}
			}
		}
		if start != nil && end >= 0 {
			w, startKey, endCol = wc.w, start, end
		}
	}
	if w == nil {
		return nil, keys, nil, -1
	}
	for _, k := range keys {
		if wc, _, _ := winOf(k); wc.w != w {
			rest = append(rest, k)
		}
	}
	return w, rest, startKey, endCol
}

// attachedWindow returns the windows that aggregate rows assigned to the
// windows of a upstream, by their window_end - 1 (shifted by lag): a
// tumbling window as long as a's slide (its size for TUMBLE, its step for
// CUMULATE), aligned so that each of a's windows ends where one of its
// ends. Grouped by window_start too, each of a's windows is one group of
// it, and fires when a's would.
func attachedWindow(a window.Assigner, lag int64) window.Assigner {
	g := a.Slide
	if a.Kind == window.Tumbling || g <= 0 {
		g = a.Size
	}
	off := (a.Offset + lag) % g
	if off < 0 {
		off += g
	}
	return window.Assigner{Kind: window.Tumbling, Size: g, Slide: g, Offset: off}
}
