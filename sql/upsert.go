package sql

import "github.com/sluicehq/sluice/operators/normalize"

// normalizeUpserts follows an upsert source (connectors.UpsertSource, such
// as upsert-kafka) with a normalization keyed by its PRIMARY KEY, s.keys:
// the source's +U (upsert) and -D (delete of a key) rows become a
// retract-mode changelog, as Flink's ChangelogNormalize. The event-time
// column and watermarks pass through.
func (p *planner) normalizeUpserts(s *stream) (*stream, error) {
	ttl := p.stateTTL
	if p.o.StateTTL > 0 {
		ttl = p.o.StateTTL
	}
	newOp, out, err := normalize.New(normalize.Spec{In: s.schema, KeyCols: s.keys, MaxKeys: p.maxStateKeys, TTL: ttl})
	if err != nil {
		return nil, err
	}
	par := p.o.Parallelism
	id := p.g.AddOperator("changelog normalize", out, par, 1, newOp)
	e := p.connectKeyed(s, id, 0, s.keys)
	n := *s
	n.id, n.schema, n.par = id, out, par
	if !e.KeyedByInput { // repartitioned: no longer where the input put them
		n.inKey = nil
	}
	return &n, nil
}
