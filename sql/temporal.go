package sql

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/operators/calc"
	"github.com/sluicehq/sluice/operators/expr"
	"github.com/sluicehq/sluice/operators/join"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sql/parser"
	"github.com/sluicehq/sluice/sql/query"
)

// Temporal joins: FROM s [INNER | LEFT] JOIN v FOR SYSTEM_TIME AS OF s.t
// [AS alias] ON s.k = v.k [AND …] (Flink's). v is a table or view of the
// catalog or a query of WITH; s.t is a time attribute of the left side:
//
//   - its event time: an event-time temporal join (join.NewTemporal). Each
//     row of s joins the version of its key valid at s.t. v needs a
//     PRIMARY KEY, which the equalities of ON must cover exactly, and a
//     watermark; v may be append-only (each row a new version of its key)
//     or a changelog. s's event time stays the output's time attribute.
//   - a processing-time attribute (PROCTIME()): a processing-time temporal
//     join (join.NewProcTemporal): each row of s joins the current row of
//     its key in v, the key being v's columns equated in ON (the latest row
//     of a key wins). When v is a bounded table — the file connector
//     without 'source.monitor-interval', or datagen with 'number-of-rows' —
//     v is read to its end before any row of s is joined (BuildFirst), so
//     the result does not depend on timing (Nexmark q13). The output keeps
//     s's processing-time attribute and has no event time.
//
// An equality of ON may compare an expression over s's columns with a
// column of v (Nexmark q13's MOD(B.auction, 10000) = S.key): the planner
// computes it in a calc before the join and drops it after. Every other
// term of ON is the residual condition (for LEFT, a row of s whose match
// fails it is padded with NULLs). Both sides are keyed by the join key.

// isTemporal reports whether f is a join whose right side is FOR
// SYSTEM_TIME AS OF.
func isTemporal(f *query.From) bool {
	return f.R != nil && f.R.Table != nil && f.R.Table.Node.SystemTime != nil
}

// temporalJoin plans a temporal join (see above).
func (p *planner) temporalJoin(q *query.Query, f *query.From, e *env, where *[]parser.Expr) (*stream, []query.Relation, error) {
	vt := f.R.Table
	if f.Comma() {
		return nil, nil, q.Errorf(vt.Node, "FOR SYSTEM_TIME AS OF needs JOIN … ON, not a comma join")
	}
	if k := f.Join.Kind; k != parser.JoinInner && k != parser.JoinLeft {
		return nil, nil, q.Errorf(f, "a temporal join (FOR SYSTEM_TIME AS OF) is INNER or LEFT")
	}
	l, lrels, err := p.relation(q, f.L, e, where)
	if err != nil {
		return nil, nil, err
	}
	r, rrel, err := p.named(q, vt, e)
	if err != nil {
		return nil, nil, err
	}
	if l.updating {
		return nil, nil, q.Errorf(f.L, "the left side of a temporal join must be append-only, not the result of a GROUP BY without a window or a changelog")
	}
	lscope, err := query.NewScope(lrels...)
	if err != nil {
		return nil, nil, q.Errorf(f, "%v", err)
	}
	st := vt.Node.SystemTime
	id, ok := st.(*parser.Ident)
	if !ok {
		return nil, nil, q.Errorf(st, "FOR SYSTEM_TIME AS OF takes a time attribute of the left side (its event time or a PROCTIME() column), not an expression")
	}
	tcol, err := q.Column(lscope, id)
	if err != nil {
		return nil, nil, err
	}
	proc := l.attr(tcol).kind == attrProctime
	if l.attr(tcol).kind == attrNone {
		return nil, nil, notTimeAttribute(q, st, "FOR SYSTEM_TIME AS OF "+q.TextOf(st), q.TextOf(st), l.attr(tcol))
	}
	rels := append(append([]query.Relation(nil), lrels...), rrel)
	scope, err := query.NewScope(rels...)
	if err != nil {
		return nil, nil, q.Errorf(f, "%v", err)
	}
	nl, nr := l.schema.Len(), r.schema.Len()
	terms := conjuncts(f.On)
	for _, t := range terms {
		if err := onColumns(q, scope, t); err != nil {
			return nil, nil, err
		}
	}
	// Keys: equalities of an expression over the left side with a column
	// of v. A left expression that is not a column is computed before the
	// join, appended to the left side's columns.
	var lk, rk []int
	var extra []expr.Expr
	var rest []parser.Expr
	for _, t := range terms {
		if a, b, ok := p.equiPair(q, scope, t, nl); ok {
			lk, rk = append(lk, a), append(rk, b-nl)
			continue
		}
		if lx, rc, ok := p.probeKeyTerm(q, scope, t, nl); ok {
			sc, err := q.Scalar(lscope, lx, query.Options{Clause: "ON"})
			if err != nil {
				return nil, nil, err
			}
			lk, rk = append(lk, nl+len(extra)), append(rk, rc-nl)
			extra = append(extra, sc.Expr)
			continue
		}
		rest = append(rest, t)
	}
	if len(lk) == 0 {
		return nil, nil, q.Errorf(f.On, "a temporal join's condition must equate %s's key with an expression over %s", rrel.Ref(), sideName(lrels))
	}
	probe := l
	keyRel := query.Relation{}
	if len(extra) > 0 {
		exprs := make([]expr.Expr, 0, nl+len(extra))
		names := make([]string, 0, nl+len(extra))
		for i, fl := range l.schema.Fields {
			exprs, names = append(exprs, expr.ColIndex(i)), append(names, fl.Name)
		}
		for i, x := range extra {
			exprs, names = append(exprs, x), append(names, fmt.Sprintf("$key%d", i+1))
		}
		if probe, err = p.calcOn(l, "calc", nil, exprs, uniqueNames(names)); err != nil {
			return nil, nil, q.Errorf(f.On, "%v", err)
		}
		probe.timeCol, probe.procCol = l.timeCol, l.procCol
		keyRel = query.Relation{Name: "$key", Schema: runtime.NewSchema(probe.schema.Fields[nl:]...)}
	}
	// The residual, over the join's output: left columns, the keys
	// computed, then v's.
	rscope := scope
	if len(extra) > 0 {
		if rscope, err = query.NewScope(append(append(append([]query.Relation(nil), lrels...), keyRel), rrel)...); err != nil {
			return nil, nil, q.Errorf(f, "%v", err)
		}
	}
	var residual []expr.Expr
	for _, t := range rest {
		sc, err := q.Predicate(rscope, t, query.Options{Clause: "ON"})
		if err != nil {
			return nil, nil, err
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
	ttl := p.stateTTL
	if p.o.StateTTL > 0 {
		ttl = p.o.StateTTL
	}
	left := f.Join.Kind == parser.JoinLeft
	var newOp func() runtime.Operator
	var out *runtime.Schema
	var name string
	joined := &stream{par: p.o.Parallelism, timeCol: -1, procCol: -1}
	if proc {
		first := p.boundedTable(vt, e)
		newOp, out, err = join.NewProcTemporal(join.ProcTemporalSpec{Probe: probe.schema, Build: r.schema, ProbeKeys: lk, BuildKeys: rk,
			LeftOuter: left, Residual: res, BuildFirst: first, MaxGroups: p.maxStateKeys, TTL: ttl})
		name = "processing-time temporal join"
		if first {
			name += " (build side first)"
		}
		joined.procCol = tcol
	} else {
		if r.timeCol < 0 {
			return nil, nil, q.Errorf(vt.Node, "an event-time temporal join needs a watermark on %s (WATERMARK FOR …): it gives each version its time", rrel.Ref())
		}
		if err := p.coversPrimaryKey(q, vt, e, r, rk); err != nil {
			return nil, nil, err
		}
		newOp, out, err = join.NewTemporal(join.TemporalSpec{Probe: probe.schema, Versioned: r.schema, ProbeKeys: lk, VersionKeys: rk,
			ProbeTime: tcol, VersionTime: r.timeCol, LeftOuter: left, Residual: res, MaxGroups: p.maxStateKeys, TTL: ttl})
		name = "temporal join"
		joined.timeCol = tcol
	}
	if err != nil {
		return nil, nil, q.Errorf(f, "%v", err)
	}
	if left {
		name = "left " + name
	}
	joined.id = p.g.AddOperator(name, out, joined.par, 2, newOp)
	joined.schema = out
	p.connectJoin(probe, r, joined.id, lk, rk)
	if len(extra) > 0 { // drop the computed keys
		var exprs []expr.Expr
		var names []string
		for i, fl := range out.Fields {
			if i >= nl && i < nl+len(extra) {
				continue
			}
			exprs, names = append(exprs, expr.ColIndex(i)), append(names, fl.Name)
		}
		newOp, o2, err := calc.New(out, nil, exprs, names)
		if err != nil {
			return nil, nil, q.Errorf(f, "%v", err)
		}
		id := p.g.AddOperator("calc", o2, joined.par, 1, newOp)
		p.g.Connect(joined.id, id, runtime.Forward)
		joined.id, joined.schema = id, o2
	}
	if joined.schema.Len() != nl+nr {
		return nil, nil, q.Errorf(f, "temporal join: %d output columns, want %d", joined.schema.Len(), nl+nr)
	}
	return joined, rels, nil
}

// probeKeyTerm recognises x = v.c (or v.c = x) where x is an expression
// over the left side's columns only (at least one) and v.c a column of the
// right side: it returns x and c's index in scope.
func (p *planner) probeKeyTerm(q *query.Query, scope *query.Scope, t parser.Expr, nl int) (parser.Expr, int, bool) {
	b, ok := t.(*parser.Binary)
	if !ok || b.Op != "=" {
		return nil, 0, false
	}
	leftOnly := func(x parser.Expr) bool {
		n, ok := 0, true
		query.Walk(x, func(y parser.Expr) bool {
			if c, isCol := y.(*parser.Ident); isCol {
				i, err := q.Column(scope, c)
				if err != nil || i >= nl {
					ok = false
				}
				n++
			}
			return ok
		})
		return ok && n > 0
	}
	rightCol := func(x parser.Expr) (int, bool) {
		c, ok := x.(*parser.Ident)
		if !ok {
			return 0, false
		}
		i, err := q.Column(scope, c)
		return i, err == nil && i >= nl
	}
	if c, ok := rightCol(b.R); ok && leftOnly(b.L) {
		return b.L, c, true
	}
	if c, ok := rightCol(b.L); ok && leftOnly(b.R) {
		return b.R, c, true
	}
	return nil, 0, false
}

// catalogTable returns the catalog table t names, or nil when t is a
// query of WITH, a view or unknown.
func (p *planner) catalogTable(t *query.Table, e *env) map[string]string {
	if cte, _ := e.lookup(t.Name); cte != nil {
		return nil
	}
	ct, err := p.o.Catalog.Get(t.Name)
	if err != nil || ct.IsView() {
		return nil
	}
	return ct.Options
}

// boundedTable reports whether t is a table whose source ends: the file
// connector without 'source.monitor-interval', or datagen with
// 'number-of-rows'. (Connectors do not say whether they are bounded; this
// is the planner's rule.)
func (p *planner) boundedTable(t *query.Table, e *env) bool {
	opts := p.catalogTable(t, e)
	if opts == nil {
		return false
	}
	switch strings.ToLower(opts["connector"]) {
	case "file", "filesystem":
		_, monitored := opts["source.monitor-interval"]
		return !monitored
	case "datagen":
		_, n := opts["number-of-rows"]
		return n
	}
	return false
}

// coversPrimaryKey checks that the versioned side's columns rk are its
// primary key: the table's PRIMARY KEY, or the keys of an updating query.
func (p *planner) coversPrimaryKey(q *query.Query, t *query.Table, e *env, r *stream, rk []int) error {
	var pk []int
	if cte, _ := e.lookup(t.Name); cte == nil {
		if ct, err := p.o.Catalog.Get(t.Name); err == nil && !ct.IsView() {
			for _, c := range ct.PrimaryKey {
				if i := r.schema.Index(c); i >= 0 {
					pk = append(pk, i)
				}
			}
		}
	}
	if pk == nil {
		pk = r.keys
	}
	if len(pk) == 0 {
		return q.Errorf(t.Node, "an event-time temporal join needs a PRIMARY KEY on %s (the key of its versions)", t.Ref())
	}
	a, b := slices.Clone(pk), slices.Clone(rk)
	slices.Sort(a)
	slices.Sort(b)
	if !slices.Equal(slices.Compact(a), slices.Compact(b)) {
		var names []string
		for _, i := range pk {
			names = append(names, r.schema.Fields[i].Name)
		}
		return q.Errorf(t.Node, "a temporal join's condition must equate the primary key of %s (%s), all of it and nothing more, with the left side", t.Ref(), strings.Join(names, ", "))
	}
	return nil
}
