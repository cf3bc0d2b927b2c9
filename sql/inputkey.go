package sql

import (
	"slices"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/operators/expr"
	"github.com/sluicehq/sluice/runtime"
)

// Keyed by input. When several processes share a job's Kafka input, each
// runs the job over some of its partitions, and a keyed exchange must move
// a row to the process of its key: through a repartition topic, unless all
// rows of one key already come from one input partition. A source whose
// records are partitioned by some of its columns (connectors.KeyedSource:
// a kafka table's 'key.fields', an upsert-kafka table's PRIMARY KEY)
// gives its stream an inputKey; the columns that carry the key's values
// unchanged carry it on (projections, renamed or reordered, filters,
// calcs, views, WITH queries and subqueries, window table functions);
// everything else drops it (aggregations, joins, UNION ALL of several
// branches, expressions over the key). A keyed edge whose key columns
// hold every column of its input's inputKey is marked
// runtime.EdgeSpec.KeyedByInput: rows of one key share the partition of
// their input key.

// inputKey is where the partition key of a stream's input sits in the
// stream: inputKey[j] are the columns that hold the value of the key's
// j-th column (several when a projection repeats it). Nil: the stream's
// rows are not known to be partitioned by any of its columns.
type inputKey [][]int

// inputKeyOf returns the inputKey of a source's stream whose columns are
// schema and whose input is partitioned by the columns names (nil when it
// has none, or one is not in schema).
func inputKeyOf(schema *runtime.Schema, names []string) inputKey {
	if len(names) == 0 {
		return nil
	}
	k := make(inputKey, len(names))
	for j, n := range names {
		c := schema.Index(n)
		if c < 0 {
			return nil
		}
		k[j] = []int{c}
	}
	return k
}

// through returns k in the output of a projection whose column i is input
// column from[i] unchanged (-1: computed): nil when a column of the key is
// not passed through.
func (k inputKey) through(from []int) inputKey {
	if k == nil {
		return nil
	}
	out := make(inputKey, len(k))
	for j, cols := range k {
		for i, f := range from {
			if f >= 0 && slices.Contains(cols, f) {
				out[j] = append(out[j], i)
			}
		}
		if out[j] == nil {
			return nil
		}
	}
	return out
}

// projected returns the inputKey of the output of a calc over in that
// computes project (nil: in's columns as they are).
func (k inputKey) projected(in *runtime.Schema, project []expr.Expr) inputKey {
	if k == nil || project == nil {
		return k
	}
	from := make([]int, len(project))
	for i, e := range project {
		from[i] = column(e, in)
	}
	return k.through(from)
}

// keyedBy reports whether every column of k is among keys: rows with
// equal keys then have equal input keys, so one input partition holds
// them all.
func (k inputKey) keyedBy(keys []int) bool {
	if len(k) == 0 {
		return false
	}
	for _, cols := range k {
		found := false
		for _, c := range cols {
			found = found || slices.Contains(keys, c)
		}
		if !found {
			return false
		}
	}
	return true
}

// joinKeyedByInput reports whether the two inputs of a join on lk = rk
// (left key i equals right key i) are partitioned alike: both have an
// input key of the same length whose j-th columns are equated by the same
// pair of join keys, so a row of either side is in the partition of its
// join key's values (the topics keyed by the same join columns).
func joinKeyedByInput(l, r inputKey, lk, rk []int) bool {
	if len(l) == 0 || len(l) != len(r) || len(lk) != len(rk) {
		return false
	}
	for j := range l {
		found := false
		for i := range lk {
			found = found || slices.Contains(l[j], lk[i]) && slices.Contains(r[j], rk[i])
		}
		if !found {
			return false
		}
	}
	return true
}

// connectKeyed connects from to input of to, keyed by keys, marking the
// edge KeyedByInput when from's input key is among keys; it returns the
// edge.
func (p *planner) connectKeyed(from *stream, to runtime.NodeID, input int, keys []int) *runtime.EdgeSpec {
	p.g.ConnectPort(from.id, 0, to, input, runtime.Keyed, keys...)
	e := p.g.Edges[len(p.g.Edges)-1]
	e.KeyedByInput = from.inKey.keyedBy(keys)
	return e
}

// connectJoin connects the two inputs of a join, l to input 0 keyed by lk
// and r to input 1 keyed by rk, marking both edges KeyedByInput when the
// two are partitioned alike by the join keys (joinKeyedByInput).
func (p *planner) connectJoin(l, r *stream, to runtime.NodeID, lk, rk []int) {
	p.g.ConnectPort(l.id, 0, to, 0, runtime.Keyed, lk...)
	p.g.ConnectPort(r.id, 0, to, 1, runtime.Keyed, rk...)
	alike := joinKeyedByInput(l.inKey, r.inKey, lk, rk)
	p.g.Edges[len(p.g.Edges)-2].KeyedByInput = alike
	p.g.Edges[len(p.g.Edges)-1].KeyedByInput = alike
}

// sourceKey returns the input key of the stream of a source of table ct
// whose columns are schema (see connectors.PartitionKey).
func sourceKey(ct connectors.Table, schema *runtime.Schema) (inputKey, error) {
	names, err := connectors.PartitionKey(ct)
	if err != nil {
		return nil, err
	}
	return inputKeyOf(schema, names), nil
}
