package sql

import (
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/operators/expr"
	"github.com/sluicehq/sluice/sql/parser"
	"github.com/sluicehq/sluice/sql/query"
)

// Time attributes (Flink's). A column is an event-time attribute when rows
// carry watermarks for it — the column of a table's WATERMARK FOR — or a
// processing-time attribute — a PROCTIME() column; the planner tracks
// which columns of each stream are one (stream.attrs) and, for those that
// are not, why. An attribute stays one through column references and
// renames (SELECT ts, ts AS t2), filters, views, subqueries, queries of
// WITH and UNION ALL (when every branch's column is one); a window table
// function's window_time is one (its window_start and window_end are not,
// nor the DESCRIPTOR column after it), so is the window_time or
// TUMBLE_ROWTIME(…) of a window aggregation, and an interval join keeps
// the two time columns its condition bounds. It is lost — the column
// becomes a plain TIMESTAMP — through a regular join, a GROUP BY without a
// window, a Top-N, an OVER aggregation and any expression over it
// (ts + INTERVAL …, CAST). A group window, a window table function, a
// temporal join's FOR SYSTEM_TIME AS OF (and an interval join, which
// otherwise is a regular join) need a time attribute; the error names the
// column and the operation that made it plain.
//
// An interval join emits a pair when the later of its two rows arrives,
// and forwards the watermark of its inputs: the other row's time may be
// behind it, by at most the join's bound. Such a column has a lag
// (timeAttr.lag): a window over it fires that much later (its time is
// shifted forward by the lag, its bounds back), so that the joined rows
// are not late for it, and an interval join over it shifts both its times
// forward by the lag for the join and back after it (shiftTimes), so that
// it frees no row a lagging one may still meet. OVER, deduplication and
// temporal joins take the column as it is.

// attrKind is the kind of time attribute a column is.
type attrKind int8

const (
	attrNone     attrKind = iota // a plain column
	attrRowtime                  // an event-time attribute
	attrProctime                 // a processing-time attribute (PROCTIME())
)

// timeAttr is the time attribute of one column of a stream.
type timeAttr struct {
	kind attrKind
	// lag (attrRowtime): how far, in milliseconds, the column of an on-time
	// row may be behind the stream's watermark (see above).
	lag int64
	// why a column that is not a time attribute is not, when it was one
	// upstream: "the regular join at 3:7 drops time attributes".
	why string
}

// winCol marks a column as a window column of a window table function.
type winCol struct {
	w    *tvfWindow
	role int8 // windowStart, windowEnd or windowTime
}

// windowTime is the role of a window_time column in stream.wins.
const windowTime int8 = 3

// attr returns the time attribute of column c of s.
func (s *stream) attr(c int) timeAttr {
	if c < 0 || c >= s.schema.Len() {
		return timeAttr{}
	}
	if s.attrs != nil {
		return s.attrs[c]
	}
	switch c {
	case s.timeCol:
		return timeAttr{kind: attrRowtime}
	case s.procCol:
		return timeAttr{kind: attrProctime}
	}
	return timeAttr{}
}

// allAttrs returns the time attribute of every column of s.
func (s *stream) allAttrs() []timeAttr {
	out := make([]timeAttr, s.schema.Len())
	for i := range out {
		out[i] = s.attr(i)
	}
	return out
}

// setAttrs sets the time attributes of s's columns, and timeCol and
// procCol to the first column of each kind.
func (s *stream) setAttrs(attrs []timeAttr) {
	s.attrs, s.timeCol, s.procCol = attrs, -1, -1
	for i := len(attrs) - 1; i >= 0; i-- {
		switch attrs[i].kind {
		case attrRowtime:
			s.timeCol = i
		case attrProctime:
			s.procCol = i
		}
	}
}

// rowtimes returns the event-time attribute columns of s.
func (s *stream) rowtimes() []int {
	var out []int
	for i := range s.schema.Len() {
		if s.attr(i).kind == attrRowtime {
			out = append(out, i)
		}
	}
	return out
}

// winAt returns the window column mark of column c of s.
func (s *stream) winAt(c int) winCol {
	if c < 0 || c >= len(s.wins) {
		return winCol{}
	}
	return s.wins[c]
}

// fitWins returns wins, or nil when it marks nothing.
func fitWins(wins []winCol) []winCol {
	for _, w := range wins {
		if w.w != nil {
			return wins
		}
	}
	return nil
}

// dropped returns attrs with every time attribute made a plain column,
// for why.
func dropped(attrs []timeAttr, why string) []timeAttr {
	out := make([]timeAttr, len(attrs))
	for i, a := range attrs {
		out[i] = a
		if a.kind != attrNone {
			out[i] = timeAttr{why: why}
		}
	}
	return out
}

// at places node for a reason: "3:7".
func at(q *query.Query, node query.Node) string {
	p := q.Pos(node)
	return fmt.Sprintf("%d:%d", p.Line, p.Col)
}

// projectedAttr returns the time attribute of a column computing e over
// in (whose columns scope names): a column reference keeps its column's,
// PROCTIME() is one, and any other expression over a time attribute is a
// plain TIMESTAMP.
func projectedAttr(q *query.Query, scope *query.Scope, in *stream, e parser.Expr) timeAttr {
	if c, ok := e.(*parser.Ident); ok {
		if idx, err := q.Column(scope, c); err == nil {
			return in.attr(idx)
		}
	}
	if isProcTimeCall(e) {
		return timeAttr{kind: attrProctime}
	}
	var over *parser.Ident
	query.Walk(e, func(x parser.Expr) bool {
		if c, ok := x.(*parser.Ident); ok && over == nil {
			if idx, err := q.Column(scope, c); err == nil && in.attr(idx).kind != attrNone {
				over = c
			}
		}
		return over == nil
	})
	if over == nil {
		return timeAttr{}
	}
	return timeAttr{why: fmt.Sprintf("it is computed by %s at %s, and an expression over a time attribute (%s) is a plain TIMESTAMP",
		q.TextOf(e), at(q, e), q.TextOf(over))}
}

// projectedWin returns the window column mark of a column computing e
// over in: a column reference keeps its column's.
func projectedWin(q *query.Query, scope *query.Scope, in *stream, e parser.Expr) winCol {
	if c, ok := e.(*parser.Ident); ok {
		if idx, err := q.Column(scope, c); err == nil {
			return in.winAt(idx)
		}
	}
	return winCol{}
}

// lostThrough marks the columns of out, the result of sel over in, that
// copy a time attribute of in (a select item naming it) as plain
// columns, for why (an operation that drops time attributes); out's other
// columns keep what they are.
func lostThrough(q *query.Query, sel *query.Select, scope *query.Scope, in, out *stream, why string) {
	if len(sel.Items) != out.schema.Len() {
		return
	}
	attrs := out.allAttrs()
	for i, it := range sel.Items {
		if it.Star {
			return
		}
		if attrs[i].kind != attrNone || attrs[i].why != "" {
			continue
		}
		if a := projectedAttr(q, scope, in, it.Expr); a.kind != attrNone || a.why != "" {
			attrs[i] = timeAttr{why: why}
			if a.why != "" {
				attrs[i].why = a.why
			}
		}
	}
	out.setAttrs(attrs)
}

// notTimeAttribute is the error of an event-time operation (what, e.g.
// "TUMBLE(ts, …)", at node) on column name, whose attribute is a.
func notTimeAttribute(q *query.Query, node query.Node, what, name string, a timeAttr) error {
	if a.why != "" {
		return q.Errorf(node, "%s: %s is not a time attribute: %s", what, name, a.why)
	}
	col := name[strings.LastIndex(name, ".")+1:]
	return q.Errorf(node, "%s: %s is not a time attribute: declare it in its CREATE TABLE with WATERMARK FOR %s AS … (or as a column AS PROCTIME()); "+
		"a time attribute stays one through projections, filters, views, subqueries, UNION ALL and interval joins, not through regular joins, GROUP BY, Top-N, OVER or expressions",
		what, name, col)
}

// shifted returns e + by milliseconds (e when by is 0).
func shifted(e expr.Expr, by int64) expr.Expr {
	if by == 0 {
		return e
	}
	return expr.Binary(expr.OpAdd, e, expr.Int(by))
}

// unionAttrs returns the time attributes of a UNION ALL of outs: a column
// is one when it is one, of one kind, in every branch (its lag the
// largest).
func unionAttrs(outs []*stream) []timeAttr {
	attrs := outs[0].allAttrs()
	for bi, s := range outs[1:] {
		for i, a := range attrs {
			b := s.attr(i)
			switch {
			case a.kind == attrNone:
				if a.why == "" && b.kind != attrNone {
					attrs[i].why = "it is not one in branch 1 of the UNION ALL"
				}
			case b.kind == a.kind:
				attrs[i].lag = max(a.lag, b.lag)
			default:
				attrs[i] = timeAttr{why: fmt.Sprintf("it is not one in branch %d of the UNION ALL", bi+2)}
			}
		}
	}
	return attrs
}

// aggregatedAttr returns the time attribute of a column of an
// aggregation's result computing e (over from, whose columns scope
// names): with a window (win), its window_time or TUMBLE_ROWTIME(…) is
// one (rowtime); nothing else is.
func aggregatedAttr(q *query.Query, scope *query.Scope, from *stream, e parser.Expr, tvf *tvfWindow, win parser.Expr, rowtime timeAttr, sel *query.Select) timeAttr {
	var node query.Node = sel.Node
	if len(sel.GroupBy) > 0 {
		node = sel.GroupBy[0]
	}
	a := projectedAttr(q, scope, from, e)
	if win == nil {
		if a.kind != attrNone || a.why != "" {
			return timeAttr{why: fmt.Sprintf("the GROUP BY at %s has no window: its result is updating and has no time attribute", at(q, node))}
		}
		return timeAttr{}
	}
	if id, ok := e.(*parser.Ident); ok && tvf != nil {
		if idx, err := q.Column(scope, id); err == nil && from.winAt(idx).w == tvf {
			if from.winAt(idx).role == windowTime {
				return rowtime
			}
			return timeAttr{why: "a window aggregation's window_start and window_end are plain TIMESTAMPs (its window_time is the time attribute)"}
		}
	}
	if kind, bound, _, _, ok := query.WindowBoundCall(e); ok {
		if bound == "ROWTIME" {
			return rowtime
		}
		return timeAttr{why: fmt.Sprintf("%s_START and %s_END are plain TIMESTAMPs (%s_ROWTIME(…) is the time attribute)", kind, kind, kind)}
	}
	if a.kind != attrNone || a.why != "" {
		return timeAttr{why: fmt.Sprintf("the window aggregation at %s drops its input's time attributes (its window_time, or TUMBLE_ROWTIME(…), is the time attribute of its result)", at(q, node))}
	}
	return timeAttr{}
}

// intervalAttrs returns the time attributes of an interval join of l and
// r on lt and rt, lower <= r.rt - l.lt <= upper, at node: both stay time
// attributes, each with a lag grown by how far behind the other side's
// row it may be (a pair is emitted when its later row arrives); the
// sides' other event-time attributes become plain columns.
func intervalAttrs(q *query.Query, node query.Node, l, r *stream, lt, rt int, lower, upper int64) []timeAttr {
	la, ra := l.attr(lt).lag, r.attr(rt).lag
	attrs := append(l.allAttrs(), r.allAttrs()...)
	nl := l.schema.Len()
	for i, a := range attrs {
		switch {
		case i == lt:
			attrs[i].lag = max(la, ra+upper, 0)
		case i == nl+rt:
			attrs[i].lag = max(ra, la-lower, 0)
		case a.kind == attrRowtime:
			attrs[i] = timeAttr{why: fmt.Sprintf("the interval join at %s keeps only the time attributes its condition bounds (%s and %s)",
				at(q, node), l.schema.Fields[lt].Name, r.schema.Fields[rt].Name)}
		}
	}
	return attrs
}

// shiftTimes adds by milliseconds to the time columns cols of s (a calc
// after it): their lag shrinks by by (grows when by < 0).
func (p *planner) shiftTimes(s *stream, by int64, cols ...int) (*stream, error) {
	exprs := make([]expr.Expr, s.schema.Len())
	attrs := s.allAttrs()
	for i := range exprs {
		exprs[i] = expr.ColIndex(i)
	}
	for _, c := range cols {
		exprs[c] = shifted(exprs[c], by)
		attrs[c].lag = max(attrs[c].lag-by, 0)
	}
	out, err := p.calcOn(s, fmt.Sprintf("shift time %+dms", by), nil, exprs, s.schema.Names())
	if err != nil {
		return nil, err
	}
	out.setAttrs(attrs)
	return out, nil
}
