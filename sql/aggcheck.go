package sql

import (
	"strings"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/operators/expr"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sql/parser"
	"github.com/sluicehq/sluice/sql/query"
)

// checkAggregates checks each aggregate of specs (aggs[i] is the call of
// specs[i]) against in, the pre-projection they read, so that a type error
// (SUM of a VARCHAR, LISTAGG of a BIGINT) is reported at its call.
func checkAggregates(q *query.Query, in *runtime.Schema, specs []agg.Spec, aggs []*aggCall, retract bool) error {
	for i, s := range specs {
		if s.Col >= 0 && aggs[i].arg != nil { // name the argument as the query writes it
			fields := append([]runtime.Field(nil), in.Fields...)
			fields[s.Col].Name = q.TextOf(aggs[i].arg)
			in = runtime.NewSchema(fields...)
		}
		var err error
		if retract {
			_, err = agg.NewRetractLayout(in, []agg.Spec{s})
		} else {
			_, err = agg.NewLayout(in, []agg.Spec{s})
		}
		if err != nil {
			return q.Errorf(aggs[i].node, "%v", err)
		}
	}
	return nil
}

// timeAttrError says why column idx of in, written name, is not a time
// attribute where what (TUMBLE(bid.dateTime, …)) needs one: what dropped
// it, or that it is a ROW's field (naming the rows' time attributes when
// they have one), or how to declare one.
func timeAttrError(q *query.Query, at query.Node, what, name string, in *stream, idx int) error {
	ta := in.attr(idx)
	fields := in.schema.Fields
	if ta.why != "" || !strings.Contains(fields[idx].Name, ".") {
		return notTimeAttribute(q, at, what, name, ta)
	}
	switch {
	case in.timeCol >= 0:
		return q.Errorf(at, "%s: %s is a ROW's field, not the event time of the rows, which is %s", what, name, fields[in.timeCol].Name)
	case in.procCol >= 0:
		return q.Errorf(at, "%s: %s is a ROW's field, not a time attribute (the rows' processing time is %s)", what, name, fields[in.procCol].Name)
	}
	return q.Errorf(at, "%s: %s is a ROW's field, not a time attribute (declare a computed column over it, ts AS %s, with WATERMARK FOR ts AS …)", what, name, name)
}

// samePre returns the index in pre of an earlier column that computes e,
// the translation of src, so that an aggregation reads a repeated argument
// or FILTER condition (q15's price < 10000, bidder) once. Only expressions
// without function calls are shared: a call may be volatile (PROCTIME(), a
// user-defined function).
func samePre(pre []expr.Expr, e expr.Expr, src parser.Expr, in *runtime.Schema) (int, bool) {
	calls := false
	query.Walk(src, func(x parser.Expr) bool {
		if _, ok := x.(*parser.Call); ok {
			calls = true
		}
		return !calls
	})
	if calls {
		return -1, false
	}
	s, col := e.String(), column(e, in)
	for i, p := range pre {
		if p.String() == s || col >= 0 && column(p, in) == col {
			return i, true
		}
	}
	return -1, false
}

// column returns the column of in that e is a bare reference to, else -1.
func column(e expr.Expr, in *runtime.Schema) int {
	c, err := expr.Compile(e, in)
	if err != nil {
		return -1
	}
	if i, ok := c.Column(); ok {
		return i
	}
	return -1
}
