package sql

import (
	"strings"

	"github.com/sluicehq/sluice/sql/parser"
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
// bounded input. A table's computed column name AS PROCTIME() is one too
// (computed.go).

// isProcTimeCall reports whether e is a call of PROCTIME().
func isProcTimeCall(e parser.Expr) bool {
	c, ok := e.(*parser.Call)
	return ok && strings.EqualFold(c.Name, "PROCTIME") && len(c.Args) == 0 && c.Over == nil
}
