package sql

import (
	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/runtime"
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
