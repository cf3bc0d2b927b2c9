package sql

import (
	"strings"

	"github.com/sluicehq/sluice/operators/expr"
	"github.com/sluicehq/sluice/sql/parser"
	"github.com/sluicehq/sluice/sql/query"
)

// Processing time. PROCTIME() in a select list (Flink's, e.g. Nexmark
// q12's CREATE VIEW B AS SELECT *, PROCTIME() AS p_time FROM bid) makes its
// column a processing-time attribute of the stream (stream.procCol): the
// calc stamps each batch with the wall clock (expr.ProcTime), and the
// attribute survives SELECT *, a column reference, a rename, a view and a
// subquery. A group window (GROUP BY TUMBLE(p_time, …)) or a window table
// function (TUMBLE(TABLE B, DESCRIPTOR(p_time), …)) aggregated over it
// plans a processing-time window (window.Spec.ProcTime): windows fire on
// the clock, no row is late, and every open window fires at the end of a
// bounded input.

// isProcTimeCall reports whether e is a call of PROCTIME().
func isProcTimeCall(e parser.Expr) bool {
	c, ok := e.(*parser.Call)
	return ok && strings.EqualFold(c.Name, "PROCTIME") && len(c.Args) == 0 && c.Over == nil
}

// withProcTime adds a table's computed column name AS PROCTIME() after its
// source s: a calc appending the processing time, the stream's
// processing-time attribute.
func (p *planner) withProcTime(q *query.Query, ft *query.Table, s *stream, name string) (*stream, error) {
	n := s.schema.Len()
	exprs := make([]expr.Expr, 0, n+1)
	names := make([]string, 0, n+1)
	for i, f := range s.schema.Fields {
		exprs, names = append(exprs, expr.ColIndex(i)), append(names, f.Name)
	}
	exprs, names = append(exprs, expr.ProcTime()), append(names, name)
	out, err := p.calcOn(s, "calc", nil, exprs, names)
	if err != nil {
		return nil, q.Errorf(ft, "%v", err)
	}
	out.timeCol, out.procCol = s.timeCol, n
	return out, nil
}
