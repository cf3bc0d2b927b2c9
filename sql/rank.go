package sql

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/operators/expr"
	"github.com/sluicehq/sluice/operators/rank"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sql/parser"
	"github.com/sluicehq/sluice/sql/query"
)

// fromOf plans the FROM of a SELECT. A subquery numbering its rows with
// ROW_NUMBER() OVER (PARTITION BY … ORDER BY …) AS rn, filtered in the
// outer WHERE on rn (rn <= N, rn < N, rn = N, rn BETWEEN a AND b), is a
// Top-N (operators/rank.New) or, ordered by the event-time attribute and
// kept to rn = 1, a deduplication (rank.NewDedup); the rn terms of where
// are used up. Any other FROM is planned by relation.
func (p *planner) fromOf(q *query.Query, f *query.From, e *env, where *[]parser.Expr, sel *query.Select) (*stream, []query.Relation, error) {
	for _, it := range sel.Items {
		if c, ok := it.Expr.(*parser.Call); ok && (c.Over != nil || c.OverName != "") {
			switch name := strings.ToUpper(c.Name); name {
			case "ROW_NUMBER", "RANK", "DENSE_RANK":
				return nil, nil, q.Errorf(c, "%s() OVER (…) is planned only as a Top-N: filter on the number, SELECT …, ROW_NUMBER() OVER (…) AS rn "+
					"FROM … WHERE rn <= N, or SELECT … FROM (SELECT …, ROW_NUMBER() OVER (…) AS rn FROM …) WHERE rn <= N", name)
			}
		}
	}
	// The numbered query: a subquery, or a query of WITH named in FROM.
	var body *query.Body
	var columns []string
	var node query.Node
	var rel query.Relation
	benv := e
	switch {
	case f.Sub != nil:
		body, columns, node, rel = f.Sub.Body, f.Sub.Columns, f.Sub, query.Relation{Name: f.Sub.Name, Inner: f.Sub.InnerColumns()}
	case f.Table != nil:
		if cte, def := e.lookup(f.Table.Name); cte != nil {
			body, columns, node, benv = cte.Body, cte.Columns, cte, def
			rel = query.Relation{Name: cte.Name, Alias: f.Table.Alias}
		}
	}
	if body == nil || len(body.Selects) != 1 || len(body.CTEs) != 0 {
		return p.relation(q, f, e, where)
	}
	inner := body.Selects[0]
	if numbered, err := numberedSelect(q, inner); err != nil {
		return nil, nil, err
	} else if numbered != inner {
		return p.relation(q, f, e, where) // a Top-N of its own
	}
	ri := -1
	var call *parser.Call
	for i, it := range inner.Items {
		c, ok := it.Expr.(*parser.Call)
		if !ok || (c.Over == nil && c.OverName == "") {
			continue
		}
		name := strings.ToUpper(c.Name)
		switch name {
		case "ROW_NUMBER":
		case "RANK", "DENSE_RANK":
			return nil, nil, q.Errorf(c, "%s() OVER (…) is not supported: number the rows with ROW_NUMBER()", name)
		default:
			continue // an OVER aggregate: refused where it is translated
		}
		if ri >= 0 {
			return nil, nil, q.Errorf(c, "a query may number its rows with ROW_NUMBER() OVER (…) only once")
		}
		ri, call = i, c
	}
	if ri < 0 {
		return p.relation(q, f, e, where)
	}
	rnName := inner.Items[ri].Name(ri)
	if columns != nil && ri < len(columns) {
		rnName = columns[ri]
	}
	if call.OverName != "" || call.Over == nil {
		return nil, nil, q.Errorf(call, "ROW_NUMBER() OVER %s: a named window is not supported, write OVER (PARTITION BY … ORDER BY …)", call.OverName)
	}
	w := call.Over
	if len(call.Args) > 0 || call.Distinct || call.Star || call.Filter != nil {
		return nil, nil, q.Errorf(call, "ROW_NUMBER takes no arguments")
	}
	if w.Frame != nil {
		return nil, nil, q.Errorf(call, "ROW_NUMBER() OVER (…) takes no frame (ROWS/RANGE)")
	}
	if len(w.OrderBy) == 0 {
		return nil, nil, q.Errorf(call, "ROW_NUMBER() OVER (…) needs ORDER BY")
	}

	// The rank range, from the outer WHERE's terms on rn.
	isRn := func(x parser.Expr) bool {
		id, ok := x.(*parser.Ident)
		if !ok || !strings.EqualFold(id.Parts[len(id.Parts)-1], rnName) {
			return false
		}
		return len(id.Parts) == 1 || (len(id.Parts) == 2 && strings.EqualFold(id.Parts[0], rel.Ref()))
	}
	mentionsRn := func(x parser.Expr) bool {
		found := false
		query.Walk(x, func(y parser.Expr) bool {
			if isRn(y) {
				found = true
			}
			return !found
		})
		return found
	}
	start, end := int64(1), int64(math.MaxInt64)
	var rest []parser.Expr
	for _, t := range *where {
		if !mentionsRn(t) {
			rest = append(rest, t)
			continue
		}
		lo, hi, ok := rankBounds(t, isRn)
		if !ok {
			return nil, nil, q.Errorf(t, "a filter on %s (the ROW_NUMBER() of the subquery) must be %s <= N, %s < N, %s = N or %s BETWEEN a AND b, with integer literals", rnName, rnName, rnName, rnName, rnName)
		}
		start, end = max(start, lo), min(end, hi)
	}
	if end == math.MaxInt64 {
		return nil, nil, q.Errorf(call, "ROW_NUMBER() OVER (…) without a filter on it is not supported: keep the top rows with WHERE %s <= N outside the subquery (Top-N)", rnName)
	}
	if start > end || end < 1 {
		return nil, nil, q.Errorf(call, "the filter on %s keeps no rank (%d to %d)", rnName, start, end)
	}
	*where = rest
	usesRn := outerUses(sel, isRn, mentionsRn, rel.Ref())

	// The inner query without the ROW_NUMBER() item, with its PARTITION BY
	// and ORDER BY expressions as hidden columns after the visible ones.
	items := make([]*query.Item, 0, len(inner.Items)+len(w.PartitionBy)+len(w.OrderBy))
	for i, it := range inner.Items {
		if i != ri {
			items = append(items, it)
		}
	}
	nStar := 0
	for _, it := range inner.Items {
		if it.Star {
			nStar++
		}
	}
	if nStar > 1 {
		return nil, nil, q.Errorf(call, "ROW_NUMBER() OVER (…) in a select list with more than one * is not supported")
	}
	hidden := len(w.PartitionBy) + len(w.OrderBy)
	for i, x := range w.PartitionBy {
		items = append(items, &query.Item{Expr: x, Alias: "$partition" + strconv.Itoa(i)})
	}
	for i, o := range w.OrderBy {
		items = append(items, &query.Item{Expr: o.X, Alias: "$order" + strconv.Itoa(i)})
	}
	sub := *inner
	sub.Items = items
	in, err := p.selectStmt(q, &sub, benv)
	if err != nil {
		return nil, nil, err
	}
	visible := in.schema.Len() - hidden
	partCols := make([]int, len(w.PartitionBy))
	for i := range partCols {
		partCols[i] = visible + i
	}
	order := make([]rank.SortKey, len(w.OrderBy))
	for i, o := range w.OrderBy {
		order[i] = rank.SortKey{Col: visible + len(partCols) + i, Desc: o.Desc, NullsFirst: strings.EqualFold(o.Nulls, "FIRST")}
		if o.Nulls == "" {
			// Flink (Calcite) puts NULLs last in ASC and first in DESC.
			order[i].NullsFirst = o.Desc
		}
	}

	ttl := p.stateTTL
	if p.o.StateTTL > 0 {
		ttl = p.o.StateTTL
	}
	par, part := p.o.Parallelism, runtime.Keyed
	if len(partCols) == 0 {
		par, part = 1, runtime.Global
	}
	var newOp func() runtime.Operator
	var out *runtime.Schema
	var name string
	orderCol := order[0].Col
	dedup := start == 1 && end == 1 && len(order) == 1 && !in.updating && in.attr(orderCol).kind == attrRowtime
	ws, windowed := windowRankSpec(in, partCols)
	switch {
	case windowed:
		ws.Order, ws.Start, ws.End = order, start, end
		// Window deduplication keeping the last row: ORDER BY a time DESC.
		ws.LastFirst = start == 1 && end == 1 && len(order) == 1 && order[0].Desc && in.schema.Fields[orderCol].Type == runtime.Timestamp
		ws.RowNumber, ws.RowNumberName, ws.MaxGroups = usesRn, rnName, p.maxStateKeys
		newOp, out, err = rank.NewWindow(ws)
		name = fmt.Sprintf("window Top-N rows %d..%d", start, end)
	case dedup:
		newOp, out, err = rank.NewDedup(rank.DedupSpec{In: in.schema, KeyCols: partCols, TimeCol: orderCol, KeepLast: order[0].Desc,
			RowNumber: usesRn, RowNumberName: rnName, MaxGroups: p.maxStateKeys, TTL: ttl})
		name = "deduplicate"
		if order[0].Desc {
			name += " keep last"
		} else {
			name += " keep first"
		}
	default:
		newOp, out, err = rank.New(rank.Spec{In: in.schema, PartitionCols: partCols, Order: order, Start: start, End: end,
			RowNumber: usesRn, RowNumberName: rnName, UpdatingInput: in.updating, MaxGroups: p.maxStateKeys, TTL: ttl})
		name = fmt.Sprintf("Top-N rows %d..%d", start, end)
	}
	if err != nil {
		return nil, nil, q.Errorf(call, "%v", err)
	}
	id := p.g.AddOperator(name, out, par, 1, newOp)
	if part == runtime.Keyed {
		p.connectKeyed(in, id, 0, partCols)
	} else {
		p.g.Connect(in.id, id, part)
	}
	ranked := &stream{id: id, schema: out, par: par, timeCol: -1, procCol: -1, updating: !windowed}

	// The subquery's columns in their order: rn where ROW_NUMBER() was
	// (NULL when nothing reads it), the hidden columns dropped.
	exprs := make([]expr.Expr, 0, visible+1)
	names := make([]string, 0, visible+1)
	// rn goes after the columns of the items before it; a star item has
	// the columns the others do not.
	starWidth := visible - (len(inner.Items) - 1 - nStar)
	rnAt := 0
	for _, it := range inner.Items[:ri] {
		if it.Star {
			rnAt += starWidth
		} else {
			rnAt++
		}
	}
	for c := 0; c <= visible; c++ {
		if c == rnAt {
			if usesRn {
				exprs = append(exprs, expr.ColIndex(out.Len()-1))
			} else {
				exprs = append(exprs, expr.Null(runtime.BigInt))
			}
			names = append(names, rnName)
		}
		if c < visible {
			exprs = append(exprs, expr.ColIndex(c))
			names = append(names, in.schema.Fields[c].Name)
		}
	}
	s, err := p.calcOn(ranked, "calc", nil, exprs, names)
	if err != nil {
		return nil, nil, q.Errorf(call, "%v", err)
	}
	// The partition columns, when all are visible, are the stream's keys:
	// all changes of one partition come from one subtask.
	if part == runtime.Keyed {
		var keys []int
		for _, x := range w.PartitionBy {
			k := -1
			for c := 0; c < visible; c++ {
				if id, ok := x.(*parser.Ident); ok && strings.EqualFold(in.schema.Fields[c].Name, id.Parts[len(id.Parts)-1]) {
					k = c
					if c >= rnAt {
						k++
					}
				}
			}
			if k < 0 {
				keys = nil
				break
			}
			keys = append(keys, k)
		}
		s.keys = keys
	}
	if s, err = p.renamed(q, node, s, columns); err != nil {
		return nil, nil, err
	}
	rel.Schema = s.schema
	return s, []query.Relation{rel}, nil
}

// numberedName is the name of the subquery that numberedSelect makes.
const numberedName = "$numbered"

// numberedSelect reads SELECT …, ROW_NUMBER() OVER (…) AS rn FROM … WHERE
// … rn <= N …, a WHERE that filters on the ROW_NUMBER() alias of its own
// select list (Nexmark q6 writes it; standard SQL does not know rn in
// WHERE), as the Top-N SELECT * FROM (SELECT …, ROW_NUMBER() OVER (…) AS
// rn FROM … WHERE the other terms) WHERE the terms on rn. Only the terms
// on rn filter the numbered rows; the others filter the rows before they
// are numbered, as a WHERE does. It applies when the select list has one
// window function, ROW_NUMBER() with an alias, no GROUP BY or HAVING, and
// a WHERE term names the alias unqualified; any other select returns sel.
//
// whereAliases then checks, once the FROM of the numbering select is
// planned, that rn is not also a column of it (WHERE rn would mean that
// column in standard SQL).
func numberedSelect(q *query.Query, sel *query.Select) (*query.Select, error) {
	if sel.Where == nil {
		return sel, nil
	}
	var rn *query.Item
	for _, it := range sel.Items {
		if c, ok := it.Expr.(*parser.Call); ok && (c.Over != nil || c.OverName != "") && strings.EqualFold(c.Name, "ROW_NUMBER") && it.Alias != "" {
			rn = it
			break
		}
	}
	if rn == nil {
		return sel, nil
	}
	mentions := func(x parser.Expr) bool {
		found := false
		query.Walk(x, func(y parser.Expr) bool {
			if id, ok := y.(*parser.Ident); ok && len(id.Parts) == 1 && strings.EqualFold(id.Parts[0], rn.Alias) {
				found = true
			}
			return !found
		})
		return found
	}
	var on, rest []parser.Expr
	for _, t := range conjuncts(sel.Where) {
		if mentions(t) {
			on = append(on, t)
		} else {
			rest = append(rest, t)
		}
	}
	if len(on) == 0 {
		return sel, nil
	}
	if calls := overCalls(sel); len(calls) > 1 {
		for _, c := range calls {
			if c != rn.Expr {
				return nil, q.Errorf(c, "WHERE %s filters on the ROW_NUMBER() of its own select list only when that is the list's one window function: "+
					"compute %s in an outer query", q.TextOf(on[0]), q.TextOf(c))
			}
		}
	}
	if len(sel.GroupBy) > 0 || sel.Having != nil {
		return nil, q.Errorf(on[0], "WHERE %s filters on the ROW_NUMBER() of its own select list only without GROUP BY: "+
			"number the groups in a subquery and filter outside it, SELECT … FROM (SELECT …, ROW_NUMBER() OVER (…) AS %s FROM … GROUP BY …) WHERE %s",
			q.TextOf(on[0]), rn.Alias, q.TextOf(on[0]))
	}
	inner := *sel
	inner.Where, inner.Numbered = and(rest), rn.Alias
	sub := &query.Subquery{
		Node: &parser.Derived{Query: sel.Node, Alias: &parser.Alias{Name: numberedName, Pos: sel.Node.Pos}, Pos: sel.Node.Pos},
		Body: &query.Body{Node: sel.Node, Selects: []*query.Select{&inner}},
		Name: numberedName,
	}
	return &query.Select{
		Node:  sel.Node,
		Items: []*query.Item{{Expr: &parser.Star{Pos: sel.Node.Pos}, Star: true}},
		From:  &query.From{Sub: sub},
		Where: and(on),
	}, nil
}

// whereAliases checks the names of a select's WHERE against its select
// list once its FROM (scope) is planned: the numbering select of a
// numberedSelect must not have a column of FROM named as its ROW_NUMBER()
// alias (standard SQL's WHERE would mean that column), and a WHERE term
// that fails on an unknown column named as an alias of the select list is
// an error that says so.
func whereAliases(q *query.Query, sel *query.Select, where []parser.Expr, scope *query.Scope) error {
	if sel.Numbered != "" {
		if _, err := scope.Resolve("", sel.Numbered); err == nil {
			return q.Errorf(sel.Node, "%s names both a column of FROM and the ROW_NUMBER() of the select list, so WHERE %s is ambiguous: "+
				"give ROW_NUMBER() another alias", sel.Numbered, sel.Numbered)
		}
	}
	for _, t := range where {
		_, err := q.Predicate(scope, t, query.Options{Clause: "WHERE"})
		var qe *query.Error
		if err == nil || !errors.As(err, &qe) || !strings.HasPrefix(qe.Msg, "unknown column ") {
			continue // translated again, and any error reported, by the plan of the select
		}
		name := strings.Trim(qe.Near, "`")
		for _, it := range sel.Items {
			if it.Alias != "" && strings.EqualFold(it.Alias, name) {
				qe.Msg = fmt.Sprintf("WHERE cannot read %s, an alias of the select list: WHERE filters the rows of FROM before the "+
					"select list is computed (only a ROW_NUMBER() alias may be filtered there, as a Top-N); repeat the expression, %s",
					name, q.TextOf(it.Expr))
				return qe
			}
		}
	}
	return nil
}

// and is the conjunction of terms; nil for none.
func and(terms []parser.Expr) parser.Expr {
	if len(terms) == 0 {
		return nil
	}
	e := terms[0]
	for _, t := range terms[1:] {
		e = &parser.Binary{Op: "AND", L: e, R: t, OpPos: t.Position()}
	}
	return e
}

// rankBounds reads a WHERE term on rn as the ranks it keeps.
func rankBounds(t parser.Expr, isRn func(parser.Expr) bool) (lo, hi int64, ok bool) {
	lo, hi = 1, math.MaxInt64
	switch x := t.(type) {
	case *parser.Between:
		if x.Not || x.Symmetric || !isRn(x.X) {
			return 0, 0, false
		}
		a, ok1 := intLit(x.Lo)
		b, ok2 := intLit(x.Hi)
		return a, b, ok1 && ok2
	case *parser.Binary:
		op := x.Op
		n, ok := intLit(x.R)
		if !isRn(x.L) || !ok {
			if !isRn(x.R) {
				return 0, 0, false
			}
			if n, ok = intLit(x.L); !ok {
				return 0, 0, false
			}
			// N op rn is rn op' N.
			op = map[string]string{"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "="}[op]
		}
		switch op {
		case "<":
			return lo, n - 1, true
		case "<=":
			return lo, n, true
		case "=":
			return n, n, true
		case ">":
			return n + 1, hi, true
		case ">=":
			return n, hi, true
		}
	}
	return 0, 0, false
}

// intLit reads an integer literal (a leading minus included).
func intLit(e parser.Expr) (int64, bool) {
	neg := false
	if u, ok := e.(*parser.Unary); ok && u.Op == "-" {
		neg, e = true, u.X
	}
	l, ok := e.(*parser.Literal)
	if !ok || l.Kind != parser.LitNumber {
		return 0, false
	}
	n, err := strconv.ParseInt(l.Text, 10, 64)
	if err != nil || n > math.MaxInt32 {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}

// outerUses reports whether the outer query reads rn: a star over the
// subquery or a reference in its select list, GROUP BY, HAVING or what is
// left of WHERE.
func outerUses(sel *query.Select, isRn, mentions func(parser.Expr) bool, sub string) bool {
	for _, it := range sel.Items {
		if it.Star && (it.StarOf == "" || strings.EqualFold(it.StarOf, sub)) {
			return true
		}
		if !it.Star && mentions(it.Expr) {
			return true
		}
	}
	for _, g := range sel.GroupBy {
		if mentions(g) {
			return true
		}
	}
	if sel.Having != nil && mentions(sel.Having) {
		return true
	}
	// WHERE terms other than the rank filter read rn too.
	if sel.Where != nil {
		for _, t := range conjuncts(sel.Where) {
			if mentions(t) {
				if _, _, ok := rankBounds(t, isRn); !ok {
					return true
				}
			}
		}
	}
	return false
}

// changelogKeys are the columns to partition an updating stream by so that
// each row and its later retraction meet in one subtask: its upsert keys,
// else all its columns (equal rows hash alike).
func changelogKeys(s *stream) []int {
	if len(s.keys) > 0 {
		return s.keys
	}
	all := make([]int, s.schema.Len())
	for i := range all {
		all[i] = i
	}
	return all
}
